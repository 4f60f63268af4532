package pages

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// texts is the default wording of the pages in one language. Merchants
// override the messages (Branding.Message, Window.Message); the rest is
// Awning's own and stays consistent across shops.
//
// The wording is written by people who speak the language, in the register
// shops in that market use with their customers (informal in Dutch,
// Spanish, Italian, Swedish, Danish and Polish; formal in German and
// French), and says honestly what is going on without blaming anyone.
type texts struct {
	OutageBadge, OutageTitle, OutageBody                string
	MaintenanceBadge, MaintenanceTitle, MaintenanceBody string
	ReadOnlyTitle, ReadOnlyBody                         string
	ExpectedBack                                        string // label before the expected end
	Updates                                             string // heading of the incident updates
	StatusPage, Contact                                 string // link labels
	AutoReturn                                          string // the page brings you back by itself

	dates dates
}

// dates formats times the way the language writes them.
type dates struct {
	weekdays [7]string  // Sunday first, as time.Weekday
	months   [12]string // as used after a day number (genitive in Polish)
	long     string     // weekday, date and time: {wd} {d} {mon} {time}
	short    string     // date and time, for updates
	timeSep  string     // between hours and minutes
	frenchH  bool       // "14 h 05"
	firstDay string     // how day 1 is written, when not "1" (French "1er")
	// at is the word before the time ({at}), and its form before one
	// o'clock, where Spanish and Italian elide the article ("a la 1:00",
	// "all’1:00").
	at [2]string
}

// translations holds the default texts per language code. It is read-only:
// nothing writes to it after package initialisation.
var translations = map[string]*texts{
	"en": {
		OutageBadge:      "Temporary disruption",
		OutageTitle:      "We’ll be right back",
		OutageBody:       "Our shop is temporarily unavailable. We’re working on it and expect to be back shortly.",
		MaintenanceBadge: "Planned maintenance",
		MaintenanceTitle: "We’re doing some maintenance",
		MaintenanceBody:  "Our shop is closed for a short while for planned maintenance. We’ll be back soon.",
		ReadOnlyTitle:    "Ordering is paused for a moment",
		ReadOnlyBody:     "We’re doing planned maintenance. You can keep browsing, but orders and account changes will have to wait until we’re done.",
		ExpectedBack:     "Expected back",
		Updates:          "Latest updates",
		StatusPage:       "Status page",
		Contact:          "Contact us",
		AutoReturn:       "No need to refresh: this page takes you back by itself as soon as we’re open again.",
		dates: dates{
			weekdays: [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
			months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
			long:     "{wd} {d} {mon} at {time}",
			short:    "{d} {mon}, {time}",
			timeSep:  ":",
		},
	},
	"nl": {
		OutageBadge:      "Tijdelijke storing",
		OutageTitle:      "We zijn zo terug",
		OutageBody:       "Onze webwinkel is tijdelijk niet bereikbaar. We werken eraan en verwachten snel weer open te zijn.",
		MaintenanceBadge: "Gepland onderhoud",
		MaintenanceTitle: "We zijn even met onderhoud bezig",
		MaintenanceBody:  "Onze webwinkel is korte tijd gesloten voor gepland onderhoud. We zijn snel weer terug.",
		ReadOnlyTitle:    "Bestellen kan even niet",
		ReadOnlyBody:     "We voeren gepland onderhoud uit. Je kunt gewoon verder kijken, maar bestellen en wijzigingen in je account moeten even wachten tot we klaar zijn.",
		ExpectedBack:     "Verwacht terug",
		Updates:          "Laatste updates",
		StatusPage:       "Statuspagina",
		Contact:          "Neem contact op",
		AutoReturn:       "Je hoeft niet te verversen: deze pagina brengt je vanzelf terug zodra we weer open zijn.",
		dates: dates{
			weekdays: [7]string{"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
			months:   [12]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
			long:     "{wd} {d} {mon} om {time}",
			short:    "{d} {mon}, {time}",
			timeSep:  ":",
		},
	},
	"de": {
		OutageBadge:      "Vorübergehende Störung",
		OutageTitle:      "Wir sind gleich wieder da",
		OutageBody:       "Unser Shop ist vorübergehend nicht erreichbar. Wir arbeiten daran und sind bald wieder für Sie da.",
		MaintenanceBadge: "Geplante Wartung",
		MaintenanceTitle: "Wir führen gerade Wartungsarbeiten durch",
		MaintenanceBody:  "Unser Shop ist wegen geplanter Wartungsarbeiten kurz geschlossen. Wir sind bald wieder für Sie da.",
		ReadOnlyTitle:    "Bestellungen sind kurz pausiert",
		ReadOnlyBody:     "Wir führen geplante Wartungsarbeiten durch. Sie können weiter stöbern, Bestellungen und Änderungen an Ihrem Konto sind aber erst danach wieder möglich.",
		ExpectedBack:     "Voraussichtlich zurück",
		Updates:          "Aktuelle Meldungen",
		StatusPage:       "Statusseite",
		Contact:          "Kontakt",
		AutoReturn:       "Sie müssen nichts neu laden: Diese Seite bringt Sie automatisch zurück, sobald wir wieder geöffnet haben.",
		dates: dates{
			weekdays: [7]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
			months:   [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
			long:     "{wd}, {d}. {mon} um {time} Uhr",
			short:    "{d}. {mon}, {time} Uhr",
			timeSep:  ":",
		},
	},
	"fr": {
		OutageBadge:      "Interruption temporaire",
		OutageTitle:      "Nous revenons très vite",
		OutageBody:       "Notre boutique est momentanément indisponible. Nous y travaillons et serons de retour sous peu.",
		MaintenanceBadge: "Maintenance programmée",
		MaintenanceTitle: "Maintenance en cours",
		MaintenanceBody:  "Notre boutique est fermée quelques instants pour une maintenance programmée. Nous revenons bientôt.",
		ReadOnlyTitle:    "Les commandes sont suspendues un instant",
		ReadOnlyBody:     "Nous effectuons une maintenance programmée. Vous pouvez continuer à parcourir la boutique, mais les commandes et les modifications de compte devront attendre la fin de l’opération.",
		ExpectedBack:     "Retour prévu",
		Updates:          "Dernières informations",
		StatusPage:       "Page de statut",
		Contact:          "Nous contacter",
		AutoReturn:       "Inutile de recharger\u00a0: cette page vous ramènera automatiquement dès que nous serons de nouveau ouverts.",
		dates: dates{
			weekdays: [7]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
			months:   [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
			long:     "{wd} {d} {mon} à {time}",
			short:    "{d} {mon}, {time}",
			frenchH:  true,
			firstDay: "1er",
		},
	},
	"es": {
		OutageBadge:      "Interrupción temporal",
		OutageTitle:      "Volvemos enseguida",
		OutageBody:       "Nuestra tienda no está disponible en este momento. Estamos trabajando en ello y volveremos muy pronto.",
		MaintenanceBadge: "Mantenimiento programado",
		MaintenanceTitle: "Estamos haciendo mantenimiento",
		MaintenanceBody:  "Nuestra tienda está cerrada un momento por un mantenimiento programado. Volvemos pronto.",
		ReadOnlyTitle:    "Los pedidos están en pausa un momento",
		ReadOnlyBody:     "Estamos haciendo un mantenimiento programado. Puedes seguir navegando, pero los pedidos y los cambios en tu cuenta tendrán que esperar a que terminemos.",
		ExpectedBack:     "Vuelta prevista",
		Updates:          "Últimas novedades",
		StatusPage:       "Página de estado",
		Contact:          "Contáctanos",
		AutoReturn:       "No hace falta recargar: esta página te llevará de vuelta automáticamente en cuanto volvamos a abrir.",
		dates: dates{
			weekdays: [7]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
			months:   [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
			long:     "{wd} {d} de {mon} {at}{time}",
			at:       [2]string{"a las ", "a la "},
			short:    "{d} de {mon}, {time}",
			timeSep:  ":",
		},
	},
	"it": {
		OutageBadge:      "Interruzione temporanea",
		OutageTitle:      "Torniamo subito",
		OutageBody:       "Il nostro negozio non è raggiungibile al momento. Ci stiamo lavorando e torneremo presto online.",
		MaintenanceBadge: "Manutenzione programmata",
		MaintenanceTitle: "Lavori di manutenzione in corso",
		MaintenanceBody:  "Il nostro negozio è chiuso per poco tempo per una manutenzione programmata. Torniamo presto.",
		ReadOnlyTitle:    "Gli ordini sono sospesi per un momento",
		ReadOnlyBody:     "Stiamo eseguendo una manutenzione programmata. Puoi continuare a navigare, ma per ordini e modifiche al tuo account dovrai attendere la fine dei lavori.",
		ExpectedBack:     "Ritorno previsto",
		Updates:          "Ultimi aggiornamenti",
		StatusPage:       "Pagina di stato",
		Contact:          "Contattaci",
		AutoReturn:       "Non serve ricaricare: questa pagina ti riporterà indietro da sola appena saremo di nuovo aperti.",
		dates: dates{
			weekdays: [7]string{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
			months:   [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
			long:     "{wd} {d} {mon} {at}{time}",
			at:       [2]string{"alle ", "all’"},
			short:    "{d} {mon}, {time}",
			timeSep:  ":",
		},
	},
	"sv": {
		OutageBadge:      "Tillfällig störning",
		OutageTitle:      "Vi är snart tillbaka",
		OutageBody:       "Vår butik går inte att nå just nu. Vi arbetar på det och räknar med att vara tillbaka inom kort.",
		MaintenanceBadge: "Planerat underhåll",
		MaintenanceTitle: "Vi gör underhåll just nu",
		MaintenanceBody:  "Vår butik är stängd en kort stund för planerat underhåll. Vi är snart tillbaka.",
		ReadOnlyTitle:    "Beställningar är pausade en stund",
		ReadOnlyBody:     "Vi gör planerat underhåll. Du kan fortsätta titta runt, men beställningar och ändringar i ditt konto får vänta tills vi är klara.",
		ExpectedBack:     "Väntas tillbaka",
		Updates:          "Senaste uppdateringarna",
		StatusPage:       "Statussida",
		Contact:          "Kontakta oss",
		AutoReturn:       "Du behöver inte ladda om: sidan tar dig tillbaka automatiskt så fort vi har öppnat igen.",
		dates: dates{
			weekdays: [7]string{"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"},
			months:   [12]string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"},
			long:     "{wd} {d} {mon} kl. {time}",
			short:    "{d} {mon} kl. {time}",
			timeSep:  ".",
		},
	},
	"da": {
		OutageBadge:      "Midlertidig driftsforstyrrelse",
		OutageTitle:      "Vi er snart tilbage",
		OutageBody:       "Vores webshop er midlertidigt utilgængelig. Vi arbejder på det og regner med at være tilbage om kort tid.",
		MaintenanceBadge: "Planlagt vedligeholdelse",
		MaintenanceTitle: "Vi laver vedligeholdelse lige nu",
		MaintenanceBody:  "Vores webshop er lukket et øjeblik på grund af planlagt vedligeholdelse. Vi er snart tilbage.",
		ReadOnlyTitle:    "Bestillinger er sat på pause et øjeblik",
		ReadOnlyBody:     "Vi udfører planlagt vedligeholdelse. Du kan stadig kigge rundt, men bestillinger og ændringer på din konto må vente, til vi er færdige.",
		ExpectedBack:     "Forventes tilbage",
		Updates:          "Seneste opdateringer",
		StatusPage:       "Statusside",
		Contact:          "Kontakt os",
		AutoReturn:       "Du behøver ikke at genindlæse: siden sender dig automatisk tilbage, så snart vi har åbent igen.",
		dates: dates{
			weekdays: [7]string{"søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"},
			months:   [12]string{"januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"},
			long:     "{wd} den {d}. {mon} kl. {time}",
			short:    "{d}. {mon} kl. {time}",
			timeSep:  ".",
		},
	},
	"pl": {
		OutageBadge:      "Chwilowe utrudnienia",
		OutageTitle:      "Zaraz wracamy",
		OutageBody:       "Nasz sklep jest chwilowo niedostępny. Pracujemy nad tym i niedługo wrócimy.",
		MaintenanceBadge: "Planowana przerwa techniczna",
		MaintenanceTitle: "Trwa przerwa techniczna",
		MaintenanceBody:  "Nasz sklep jest na chwilę zamknięty z powodu planowanych prac. Niedługo wracamy.",
		ReadOnlyTitle:    "Składanie zamówień jest chwilowo wstrzymane",
		ReadOnlyBody:     "Trwają planowane prace techniczne. Możesz dalej przeglądać sklep, ale zamówienia i zmiany na koncie będą możliwe dopiero po ich zakończeniu.",
		ExpectedBack:     "Przewidywany powrót",
		Updates:          "Najnowsze informacje",
		StatusPage:       "Strona statusu",
		Contact:          "Kontakt",
		AutoReturn:       "Nie musisz odświeżać: ta strona sama przeniesie Cię z powrotem, gdy tylko sklep znów będzie otwarty.",
		dates: dates{
			weekdays: [7]string{"niedziela", "poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota"},
			months:   [12]string{"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"},
			long:     "{wd}, {d} {mon}, godz. {time}",
			short:    "{d} {mon}, godz. {time}",
			timeSep:  ":",
		},
	},
}

// Languages returns the language codes pages have translations for, sorted.
func Languages() []string {
	out := make([]string, 0, len(translations))
	for l := range translations {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Known reports whether pages speak the language code l.
func Known(l string) bool { return translations[l] != nil }

// formatLong writes t (already in the site's zone) as weekday, date and
// time, followed by the zone's abbreviation.
func (d *dates) formatLong(t time.Time) string {
	return d.format(d.long, t) + " (" + zoneName(t) + ")"
}

// formatShort writes t (already in the site's zone) as date and time.
func (d *dates) formatShort(t time.Time) string { return d.format(d.short, t) }

func (d *dates) format(pattern string, t time.Time) string {
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 && d.firstDay != "" {
		day = d.firstDay
	}
	at := d.at[0]
	if t.Hour() == 1 {
		at = d.at[1]
	}
	return strings.NewReplacer(
		"{wd}", d.weekdays[t.Weekday()],
		"{d}", day,
		"{mon}", d.months[t.Month()-1],
		"{at}", at,
		"{time}", d.clock(t),
	).Replace(pattern)
}

func (d *dates) clock(t time.Time) string {
	min := t.Format("04")
	if d.frenchH {
		return strconv.Itoa(t.Hour()) + "\u00a0h\u00a0" + min
	}
	return strconv.Itoa(t.Hour()) + d.timeSep + min
}

// zoneName is the zone's abbreviation (CET, BST), or its offset from UTC
// where the zone has no abbreviation (Go writes those as "+03").
func zoneName(t time.Time) string {
	name := t.Format("MST")
	if name != "" && (name[0] == '+' || name[0] == '-') {
		return "UTC" + name
	}
	return name
}
