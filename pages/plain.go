package pages

import (
	"bytes"
	"encoding/json"
	"html/template"
)

// Rendered is a page rendered for one site, ready to be written as is.
type Rendered struct {
	HTML     []byte // the page, for browsers
	JSON     []byte // the same news, for API clients
	Language string // Content-Language: the site's languages, main first
}

// texts holds the default outage wording per language.
var texts = map[string]struct{ Title, Body string }{
	"en": {"We'll be right back", "Our shop is temporarily unavailable. Please try again in a few minutes."},
	"nl": {"We zijn zo terug", "Onze webwinkel is tijdelijk niet bereikbaar. Probeer het over een paar minuten opnieuw."},
	"de": {"Wir sind gleich zurück", "Unser Shop ist vorübergehend nicht erreichbar. Bitte versuchen Sie es in ein paar Minuten erneut."},
	"fr": {"Nous revenons vite", "Notre boutique est temporairement indisponible. Veuillez réessayer dans quelques minutes."},
}

var plainTmpl = template.Must(template.New("outage").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Brand}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}section+section{border-top:1px solid #ddd;margin-top:1.5rem}</style>
</head><body><main>
<p><strong>{{.Brand}}</strong></p>
{{range .Blocks}}<section lang="{{.Lang}}"><h1>{{.Title}}</h1><p>{{.Body}}</p></section>
{{end}}</main></body></html>
`))

// PlainOutage renders the plain outage page of a shop called brand, in its
// languages (main first; languages without a translation fall back to
// English).
func PlainOutage(brand string, languages []string) *Rendered {
	type block struct{ Lang, Title, Body string }
	var blocks []block
	msg := map[string]string{}
	for _, l := range languages {
		t, ok := texts[l]
		if !ok {
			t = texts["en"]
		}
		blocks = append(blocks, block{l, t.Title, t.Body})
		msg[l] = t.Body
	}
	var buf bytes.Buffer
	if err := plainTmpl.Execute(&buf, struct {
		Lang, Brand string
		Blocks      []block
	}{languages[0], brand, blocks}); err != nil {
		panic(err) // the template and its data are fixed: a failure is a bug
	}
	js, _ := json.Marshal(struct {
		Error      string            `json:"error"`
		RetryAfter int               `json:"retry_after"`
		Message    map[string]string `json:"message"`
	}{"outage", RetryAfterSeconds, msg})
	lang := languages[0]
	for _, l := range languages[1:] {
		lang += ", " + l
	}
	return &Rendered{HTML: buf.Bytes(), JSON: js, Language: lang}
}

// RetryAfterSeconds is what outage answers tell clients to wait.
const RetryAfterSeconds = 30
