package pages

import (
	"bytes"
	"html/template"
)

// bannerTexts are the default words of the notice on pages served stale.
var bannerTexts = map[string]string{
	"en": "Temporary disruption: you are seeing a saved copy of this page. Prices and stock may be out of date, and ordering is paused for a moment.",
	"nl": "Tijdelijke storing: je ziet een opgeslagen versie van deze pagina. Prijzen en voorraad kunnen verouderd zijn en bestellen is even niet mogelijk.",
	"de": "Vorübergehende Störung: Sie sehen eine gespeicherte Version dieser Seite. Preise und Verfügbarkeit können veraltet sein, Bestellungen sind kurz pausiert.",
	"fr": "Perturbation temporaire : vous voyez une copie enregistrée de cette page. Les prix et les stocks peuvent ne pas être à jour et les commandes sont momentanément suspendues.",
	"es": "Interrupción temporal: estás viendo una copia guardada de esta página. Los precios y el stock pueden no estar actualizados y los pedidos están en pausa por un momento.",
	"it": "Disservizio temporaneo: stai vedendo una copia salvata di questa pagina. Prezzi e disponibilità potrebbero non essere aggiornati e gli ordini sono sospesi per qualche istante.",
	"sv": "Tillfällig störning: du ser en sparad version av den här sidan. Priser och lagersaldo kan vara inaktuella och beställningar är pausade en stund.",
	"da": "Midlertidig driftsforstyrrelse: du ser en gemt udgave af denne side. Priser og lagerstatus kan være forældede, og bestilling er sat på pause et øjeblik.",
	"pl": "Chwilowe utrudnienia: widzisz zapisaną wersję tej strony. Ceny i dostępność mogą być nieaktualne, a składanie zamówień jest na chwilę wstrzymane.",
}

var bannerTmpl = template.Must(template.New("banner").Parse(
	`<div id="awning-stale-banner" role="status" style="position:sticky;top:0;left:0;right:0;z-index:2147483647;box-sizing:border-box;margin:0;padding:10px 16px;background:#fff4ce;color:#3a2c00;border-bottom:2px solid #d9b442;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;text-align:center">` +
		`{{range .}}<p lang="{{.Lang}}" style="margin:2px auto;max-width:60em;font:inherit;color:inherit">{{.Text}}</p>{{end}}</div>`))

// Banner renders the notice shown at the top of pages served from a copy,
// in the site's languages (main first). texts override the default words
// per language; languages with neither fall back to English. The result is
// inserted into copies once per copy, never per request.
func Banner(languages []string, texts map[string]string) []byte {
	type line struct{ Lang, Text string }
	var lines []line
	for _, l := range languages {
		t, ok := texts[l]
		if !ok {
			if t, ok = bannerTexts[l]; !ok {
				t = bannerTexts["en"]
			}
		}
		lines = append(lines, line{l, t})
	}
	var b bytes.Buffer
	if err := bannerTmpl.Execute(&b, lines); err != nil {
		panic(err) // fixed template, data of strings: a failure is a bug
	}
	return b.Bytes()
}
