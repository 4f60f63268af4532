package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

//go:embed assets texts
var files embed.FS

// Languages are the languages the console speaks, the default first.
var Languages = []string{"en", "nl"}

// languageNames are endonyms: a language is offered in its own name,
// whatever the console's language.
var languageNames = map[string]string{
	"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français", "es": "Español",
	"it": "Italiano", "sv": "Svenska", "da": "Dansk", "pl": "Polski",
}

// CSP is the console's Content-Security-Policy: its own script, style,
// images and frames (page previews from the admin API) only; data: images
// for a logo being chosen; and Trusted Types, so no script can write HTML.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Options build the console's handler.
type Options struct {
	// PageLanguages are the languages outage and maintenance pages can be
	// written in, offered for messages to every site. Required.
	PageLanguages []string
}

// asset is one embedded file served under a hashed name.
type asset struct {
	path, ctype string
	data        []byte
}

// Handler serves the console under /ui/. It is safe for concurrent use.
type Handler struct {
	index  map[string][]byte // by console language
	assets map[string]asset  // by path
}

// New renders the console's page in every console language and returns
// its handler.
func New(opt Options) (*Handler, error) {
	h := &Handler{index: map[string][]byte{}, assets: map[string]asset{}}
	add := func(name, ext, ctype string) (string, error) {
		data, err := files.ReadFile("assets/" + name + "." + ext)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		p := "/ui/" + name + "-" + hex.EncodeToString(sum[:6]) + "." + ext
		h.assets[p] = asset{path: p, ctype: ctype, data: data}
		return p, nil
	}
	script, err := add("app", "js", "text/javascript; charset=utf-8")
	if err != nil {
		return nil, err
	}
	style, err := add("style", "css", "text/css; charset=utf-8")
	if err != nil {
		return nil, err
	}
	icon, err := add("icon", "svg", "image/svg+xml")
	if err != nil {
		return nil, err
	}
	src, err := files.ReadFile("assets/index.html.tmpl")
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("index").Parse(string(src))
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, l := range append(slices.Clone(Languages), opt.PageLanguages...) {
		names[l] = languageNames[l]
		if names[l] == "" {
			names[l] = l
		}
	}
	for _, lang := range Languages {
		texts, err := Texts(lang)
		if err != nil {
			return nil, err
		}
		cfg := map[string]any{
			"lang": lang, "console_languages": Languages, "page_languages": opt.PageLanguages, "language_names": names,
		}
		var buf bytes.Buffer
		err = tmpl.Execute(&buf, map[string]any{
			"Lang": lang, "T": texts, "Texts": texts, "Config": cfg, "Script": script, "Style": style, "Icon": icon,
		})
		if err != nil {
			return nil, fmt.Errorf("console: render %s: %w", lang, err)
		}
		h.index[lang] = buf.Bytes()
	}
	return h, nil
}

// Texts returns the console's texts in lang.
func Texts(lang string) (map[string]string, error) {
	data, err := files.ReadFile("texts/" + lang + ".json")
	if err != nil {
		return nil, fmt.Errorf("console: no texts in %q", lang)
	}
	var t map[string]string
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("console: texts/%s.json: %w", lang, err)
	}
	return t, nil
}

// ServeHTTP serves the page at /ui/ (and any path under it that is not a
// file: the screens are in the fragment) and the hashed files.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if a, ok := h.assets[r.URL.Path]; ok {
		hd.Set("Content-Type", a.ctype)
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
		hd.Set("Content-Length", strconv.Itoa(len(a.data)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(a.data)
		}
		return
	}
	if r.URL.Path != "/ui/" {
		http.NotFound(w, r)
		return
	}
	lang := Pick(r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
	page := h.index[lang]
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Language", lang)
	hd.Set("Vary", "Accept-Language")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	hd.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(page)
	}
}

// Pick chooses the console's language: the one asked for by name, else
// the best of Accept-Language (by q-value, then order; "nl-BE" counts as
// "nl"), else English.
func Pick(asked, acceptLanguage string) string {
	if slices.Contains(Languages, asked) {
		return asked
	}
	best, bestQ := Languages[0], 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if slices.Contains(Languages, base) && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}
