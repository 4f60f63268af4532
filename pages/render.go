package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
)

//go:embed assets/page.html.tmpl assets/style.css assets/return.js assets/banner.css assets/banner.js
var assets embed.FS

// The default design and the auto-return script. They are parsed and
// hashed once and never change: rendering only reads them.
var (
	defaultTemplate = template.Must(template.New("page.html.tmpl").ParseFS(assets, "assets/page.html.tmpl"))
	styleCSS        = mustAsset("assets/style.css")
	returnJS        = stripComments(mustAsset("assets/return.js"))
	returnJSHash    = cspHash(returnJS)
)

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: missing is a build bug
	}
	return strings.TrimSpace(string(b))
}

// stripComments drops the whole-line comments and indentation of the
// auto-return script: they are for its readers here, not for every shopper.
// The script has no multi-line strings, so lines can be trimmed freely.
func stripComments(js string) string {
	var out []string
	for _, line := range strings.Split(js, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "//") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// cspHash is the CSP source expression that allows exactly the inline
// element content s (CSP Level 3, "hash-source").
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// DefaultColor is the brand colour of a site that names none (and of stored
// branding whose colour no longer parses): the config file's default.
const DefaultColor = config.DefaultColor

// DefaultRetryAfter is how long outage answers tell clients to wait when the
// site sets no page.retry_after: the config file's default.
const DefaultRetryAfter = config.DefaultRetryAfter

// Site is what a site's pages render from that comes from the
// configuration; it changes only on reload. FromConfig builds it from a
// config file. A Site is read-only once built and may be shared.
type Site struct {
	// Name is the site's name, used in the logo's path.
	Name string
	// Languages are the page languages, the shop's main one first; each
	// must be Known. Required.
	Languages []string
	// Location is the zone times are shown in. Default UTC.
	Location *time.Location
	// RetryAfter is what outage answers, and maintenance answers without
	// an announced end, tell clients to wait. Default DefaultRetryAfter.
	RetryAfter time.Duration
	// Branding is the configured branding; State.Branding overrides it.
	Branding Branding
	// Template is a custom page template; nil renders the default design.
	Template *template.Template
}

// Options change how Render renders.
type Options struct {
	// InlineLogo writes the logo into the page as a data: URL instead of
	// linking Awning's logo path: for previews saved to a file.
	InlineLogo bool
	// NoScript leaves out the auto-return script and its <noscript>
	// refresh: for previews shown in a frame, which are looked at, never
	// run (a sandboxed frame would log the blocked script as an error).
	NoScript bool
}

// Set is one site's pages, rendered once per change of what they show. A
// Set is immutable and safe for concurrent use.
type Set struct {
	Outage, Maintenance, Unconfirmed *Page
	// Logo is the logo the pages link to; nil without one.
	Logo *Logo
}

// Render renders a site's outage and maintenance pages, in every language
// order, from its configuration and the current state. It is deterministic
// (the same inputs give the same bytes) and reads no clock: what depends on
// the time of a request (Retry-After counting down to the end of
// maintenance) is computed by the Page when serving.
//
// Merchant and ops data is escaped, never trusted: Render does not fail on
// it, and a logo that does not pass the checks is left out. It fails only
// when a custom template cannot render.
func Render(site *Site, st State, opt Options) (*Set, error) {
	set, err := render(site, st, opt)
	if err != nil {
		return nil, fmt.Errorf("pages: site %q: %w", site.Name, err)
	}
	return set, nil
}

func render(site *Site, st State, opt Options) (*Set, error) {
	if len(site.Languages) == 0 || len(site.Languages) > maxLanguages {
		return nil, fmt.Errorf("want 1 to %d languages, got %d", maxLanguages, len(site.Languages))
	}
	for _, l := range site.Languages {
		if !Known(l) {
			return nil, fmt.Errorf("unknown language %q", l)
		}
	}
	b := site.Branding
	if st.Branding != nil {
		b = st.Branding.Over(b)
	}
	r := &renderer{site: site, st: st, b: b, langs: site.Languages, loc: site.Location, tmpl: site.Template}
	if r.loc == nil {
		r.loc = time.UTC
	}
	r.merchantLocale()
	if r.tmpl == nil {
		r.tmpl = defaultTemplate
	}
	r.retryAfter = seconds(site.RetryAfter)
	if site.RetryAfter <= 0 {
		r.retryAfter = seconds(DefaultRetryAfter)
	}
	r.prepare(opt)

	set := &Set{Logo: r.logo}
	var err error
	if set.Outage, err = r.page(Outage); err != nil {
		return nil, err
	}
	if set.Maintenance, err = r.page(Maintenance); err != nil {
		return nil, err
	}
	if set.Unconfirmed, err = r.page(Unconfirmed); err != nil {
		return nil, err
	}
	return set, nil
}

// renderer holds what one Render call derived from its inputs.
type renderer struct {
	site       *Site
	st         State
	b          Branding
	langs      []string // the page languages: the merchant's, else the site's
	loc        *time.Location
	tmpl       *template.Template
	retryAfter int

	colors     Colors
	logo       *Logo
	logoData   *LogoData
	statusURL  string
	contactURL string
	updates    []Update
	style      template.HTML
	csp        string
	// heads are what each kind of page puts in its <head> (see head).
	headGet, headForm, headStill template.HTML
}

func (r *renderer) prepare(opt Options) {
	c, ok := parseHex(r.b.Color)
	if !ok {
		c, _ = parseHex(DefaultColor)
	}
	r.colors = newColors(c)

	if r.b.Logo != nil {
		if l, err := newLogo(r.site.Name, r.b.Logo); err == nil {
			r.logo = l
			r.logoData = &LogoData{URL: template.URL(l.Path), Width: l.Width, Height: l.Height}
			if opt.InlineLogo {
				r.logoData.URL = template.URL(l.DataURL())
			}
		}
	}
	// Links were checked when the branding was stored; check again so that
	// a page never links anywhere but https (html/template would neuter a
	// javascript: URL, but an http: one it would let through).
	if validHTTPS(r.b.StatusURL) {
		r.statusURL = r.b.StatusURL
	}
	switch {
	case strings.HasPrefix(r.b.Contact, "https://"):
		if validHTTPS(r.b.Contact) {
			r.contactURL = r.b.Contact
		}
	case isEmail(r.b.Contact):
		r.contactURL = "mailto:" + r.b.Contact
	}

	r.updates = slices.Clone(r.st.Updates)
	slices.SortStableFunc(r.updates, func(a, b Update) int { return b.Time.Compare(a.Time) })
	r.updates = r.updates[:min(len(r.updates), MaxUpdates)]

	css := r.colors.cssVars() + styleCSS
	r.style = template.HTML("<style>" + css + "</style>")
	refresh := min(max(r.retryAfter, 10), 300)
	robots := `<meta name="robots" content="noindex">`
	r.headGet = template.HTML(robots + "\n" +
		`<noscript><meta http-equiv="refresh" content="` + strconv.Itoa(refresh) + `"></noscript>` + "\n" +
		"<script>" + returnJS + "</script>")
	// After a form (a POST the shop could not take), going back must never
	// load the form's target with GET (a 404 at /cart/add, or worse): the
	// script returns to the page the shopper came from, and there is no
	// refresh for browsers without JavaScript, which would do just that.
	r.headForm = template.HTML(robots + "\n" + `<meta name="awning-return" content="form">` + "\n" +
		"<script>" + returnJS + "</script>")
	// The unconfirmed page must stay put until read: nothing reloads it
	// (a reload would send the order again).
	r.headStill = template.HTML(robots)
	if opt.NoScript {
		r.headGet, r.headForm = r.headStill, r.headStill
	}
	styleSrc := cspHash(css)
	if r.site.Template != nil {
		// A custom design brings its own inline CSS, in <style> elements and
		// attributes that cannot all be hashed; CSS cannot run script, so
		// inline styles are allowed there. Scripts stay Awning's own.
		styleSrc = "'unsafe-inline'"
	}
	r.csp = "default-src 'none'; script-src " + returnJSHash + "; style-src " + styleSrc +
		"; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// page renders one mode in every language order: for a browsed page, and
// (outage and maintenance) once more for the answer to a form.
func (r *renderer) page(mode Mode) (*Page, error) {
	langs := r.langs
	p := &Page{mode: mode, langs: langs, csp: r.csp, retryAfter: r.retryAfter}
	var w Window
	if mode == Maintenance && r.st.Window != nil {
		w = *r.st.Window
		p.end = w.End
	}
	blocks := make(map[string]Block, len(langs))
	for _, l := range langs {
		blocks[l] = r.block(l, mode, &w)
	}
	var err error
	if mode == Unconfirmed {
		p.variants, err = r.variants(mode, &w, blocks, r.headStill)
		p.formVariants = p.variants
	} else {
		if p.variants, err = r.variants(mode, &w, blocks, r.headGet); err == nil {
			p.formVariants, err = r.variants(mode, &w, blocks, r.headForm)
		}
	}
	if err != nil {
		return nil, err
	}
	p.jsonHead, p.jsonTail = r.json(mode, &w, blocks)
	return p, nil
}

// variants renders a page in every language order with head in <head>.
func (r *renderer) variants(mode Mode, w *Window, blocks map[string]Block, head template.HTML) ([]Variant, error) {
	langs := r.langs
	readOnly := mode == Maintenance && w.Mode == ReadOnly
	var out []Variant
	for i := range langs {
		order := append([]string{langs[i]}, slices.Delete(slices.Clone(langs), i, i+1)...)
		d := Data{
			Mode: string(mode), ReadOnly: readOnly, Lang: order[0], Brand: r.brand(),
			Colors: r.colors, Logo: r.logoData, StatusURL: r.statusURL,
			ContactURL: r.contactURL, Contact: r.b.Contact, Style: r.style, Head: head,
		}
		for j, l := range order {
			blk := blocks[l]
			blk.Primary = j == 0
			d.Blocks = append(d.Blocks, blk)
		}
		d.Title = d.Blocks[0].Title
		var buf bytes.Buffer
		if err := r.tmpl.Execute(&buf, &d); err != nil {
			return nil, fmt.Errorf("render the %s page: %w", mode, err)
		}
		if r.site.Template != nil && !bytes.Contains(buf.Bytes(), []byte(head)) {
			return nil, errors.New("the custom template must write {{.Head}} inside <head>")
		}
		out = append(out, Variant{
			Lang:            order[0],
			ContentLanguage: strings.Join(order, ", "),
			HTML:            buf.Bytes(),
		})
	}
	return out, nil
}

func (r *renderer) brand() string {
	if r.b.Brand != "" {
		return r.b.Brand
	}
	return r.site.Name
}

// block is the page's text in language l.
func (r *renderer) block(l string, mode Mode, w *Window) Block {
	t := translations[l]
	b := Block{
		Lang:   l,
		Labels: Labels{t.ExpectedBack, t.Updates, t.StatusPage, t.Contact, t.AutoReturn, t.BackToShop},
	}
	var msg string
	switch {
	case mode == Unconfirmed:
		// Awning's own words only: what happened, what not to do, where to
		// check. A merchant's outage message or reassurance ("your payment
		// is safe") would say something nobody knows here.
		b.Badge, b.Title = t.UnconfirmedBadge, t.UnconfirmedTitle
		b.Message = []string{t.UnconfirmedBody, t.UnconfirmedAdvice}
		b.Updates = r.updateViews(l, t)
		return b
	case mode == Outage:
		b.Badge, b.Title, msg = t.OutageBadge, t.OutageTitle, t.OutageBody
		if m := r.b.Message[l]; strings.TrimSpace(m) != "" {
			msg = m
		}
	case w.Mode == ReadOnly:
		b.Badge, b.Title, msg = t.MaintenanceBadge, t.ReadOnlyTitle, t.ReadOnlyBody
	default:
		b.Badge, b.Title, msg = t.MaintenanceBadge, t.MaintenanceTitle, t.MaintenanceBody
	}
	if mode == Maintenance {
		if m := w.Message[l]; strings.TrimSpace(m) != "" {
			msg = m
		}
		if !w.End.IsZero() {
			end := w.End.In(r.loc)
			b.Until = &When{Text: t.dates.formatLong(end), ISO: end.Format(time.RFC3339)}
		}
	}
	b.Message = paragraphs(msg)
	for _, line := range r.b.Reassurance[l] {
		if line = strings.TrimSpace(line); line != "" {
			b.Reassurance = append(b.Reassurance, line)
		}
	}
	b.Updates = r.updateViews(l, t)
	return b
}

// updateViews are the incident updates as block l shows them.
func (r *renderer) updateViews(l string, t *texts) []UpdateView {
	var out []UpdateView
	for _, u := range r.updates {
		ml, m := r.updateMessage(u, l)
		if m == "" {
			continue
		}
		at := u.Time.In(r.loc)
		v := UpdateView{When: When{Text: t.dates.formatShort(at), ISO: at.Format(time.RFC3339)}, Message: m}
		if ml != l {
			v.Lang = ml
		}
		out = append(out, v)
	}
	return out
}

// updateMessage picks an update's message for language l: its own, else the
// site's main language's, else the first in the site's order, else any.
func (r *renderer) updateMessage(u Update, l string) (lang, msg string) {
	try := append([]string{l}, r.langs...)
	try = append(try, sortedKeys(u.Message)...)
	for _, c := range try {
		if m := strings.TrimSpace(u.Message[c]); m != "" && Known(c) {
			return c, m
		}
	}
	return "", ""
}

// paragraphs splits a message at blank lines.
func paragraphs(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// json renders the API clients' answer around its retry_after, which the
// Page fills in when serving: {"error":…,"retry_after":N,"message":{…}}
// with the messages in the site's language order.
//
// The unconfirmed answer has no retry_after: retrying an order that may
// have gone through is what it warns against. AppendJSON then writes head
// and tail alone.
func (r *renderer) json(mode Mode, w *Window, blocks map[string]Block) (head, tail []byte) {
	head = append(head, `{"error":`...)
	head = appendJSONString(head, string(mode))
	if mode != Unconfirmed {
		head = append(head, `,"retry_after":`...)
	}
	tail = append(tail, `,"message":{`...)
	for i, l := range r.langs {
		if i > 0 {
			tail = append(tail, ',')
		}
		tail = appendJSONString(tail, l)
		tail = append(tail, ':')
		tail = appendJSONString(tail, strings.Join(blocks[l].Message, "\n\n"))
	}
	tail = append(tail, '}')
	if mode == Maintenance && !w.End.IsZero() {
		tail = append(tail, `,"until":`...)
		tail = appendJSONString(tail, w.End.In(r.loc).Format(time.RFC3339))
	}
	return head, append(tail, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// seconds rounds d up to whole seconds, at least 1: Retry-After counts in
// whole seconds (RFC 9110 §10.2.3) and 0 would invite a retry storm.
func seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// locale returns the languages and the zone a site's pages use in state
// st: the merchant's when set (see merchantLocale), else the
// configuration's.
func locale(site *Site, st State) ([]string, *time.Location) {
	r := &renderer{site: site, b: site.Branding, langs: site.Languages, loc: site.Location}
	if st.Branding != nil {
		r.b = st.Branding.Over(r.b)
	}
	if r.loc == nil {
		r.loc = time.UTC
	}
	r.merchantLocale()
	return r.langs, r.loc
}

// merchantLocale applies the merchant's languages and time zone, when they
// set them and they are valid (Validate refused anything else when it was
// stored; a page never fails to render on merchant data).
func (r *renderer) merchantLocale() {
	if ls := r.b.Languages; len(ls) > 0 && len(ls) <= maxLanguages && validLanguages(ls) {
		r.langs = ls
	}
	if tz := r.b.TimeZone; tz != "" {
		if loc, err := loadZone(tz); err == nil {
			r.loc = loc
		}
	}
}
