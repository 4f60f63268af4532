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

	// The unconfirmed page: an order (any form) was sent and the shop
	// never confirmed it. It says it may have gone through, not to pay
	// again, and where to check.
	UnconfirmedBadge, UnconfirmedTitle, UnconfirmedBody, UnconfirmedAdvice string
	BackToShop                                                             string // link to the shop's home

	// The banner on pages served from a copy. Saved names the copy in the
	// banner's one-line summary; StaleAt and StaleOn say how old it is
	// ({time} is a time of day, {date} a date and time); BannerBody is the
	// default rest of it (cache.banner_text replaces it); Paused is shown
	// when a shopper tries to order from the copy.
	Saved, StaleAt, StaleOn, BannerBody, Paused string

	dates dates
}

// dates formats times the way the language writes them.
type dates struct {
	weekdays [7]string  // Sunday first, as time.Weekday
	months   [12]string // as used after a day number (genitive in Polish)
	long     string     // weekday, date and time: {wd} {d} {mon} {time}
	short    string     // date and time, for updates
	clockFmt string     // a time of day alone: {time}, or with the words around it ("{time} Uhr")
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
		OutageBadge:       "Temporary disruption",
		OutageTitle:       "We’ll be right back",
		OutageBody:        "Our shop is temporarily unavailable. We’re working on it and expect to be back shortly.",
		MaintenanceBadge:  "Planned maintenance",
		MaintenanceTitle:  "We’re doing some maintenance",
		MaintenanceBody:   "Our shop is closed for a short while for planned maintenance. We’ll be back soon.",
		ReadOnlyTitle:     "Ordering is paused for a moment",
		ReadOnlyBody:      "We’re doing planned maintenance. You can keep browsing, but orders and account changes will have to wait until we’re done.",
		ExpectedBack:      "Expected back",
		Updates:           "Latest updates",
		StatusPage:        "Status page",
		Contact:           "Contact us",
		AutoReturn:        "No need to refresh: this page takes you back by itself as soon as we’re open again.",
		UnconfirmedBadge:  "Not confirmed",
		UnconfirmedTitle:  "We couldn’t confirm your order",
		UnconfirmedBody:   "The shop didn’t send a confirmation, so we can’t tell whether your order or payment went through. It may well have.",
		UnconfirmedAdvice: "Please don’t order or pay again yet. First check your e-mail for a confirmation, or contact us.",
		BackToShop:        "Back to the shop",
		Saved:             "saved copy",
		StaleAt:           "You are seeing a saved copy of this page, as it was at {time}.",
		StaleOn:           "You are seeing a saved copy of this page, as it was on {date}.",
		BannerBody:        "Prices and stock may be out of date, and ordering is paused until the shop is back.",
		Paused:            "Ordering is paused until the shop is back. Please try again in a moment.",
		dates: dates{
			weekdays: [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
			months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
			long:     "{wd} {d} {mon} at {time}",
			short:    "{d} {mon}, {time}",
			clockFmt: "{time}",
			timeSep:  ":",
		},
	},
	"nl": {
		OutageBadge:       "Tijdelijke storing",
		OutageTitle:       "We zijn zo terug",
		OutageBody:        "Onze webwinkel is tijdelijk niet bereikbaar. We werken eraan en verwachten snel weer open te zijn.",
		MaintenanceBadge:  "Gepland onderhoud",
		MaintenanceTitle:  "We zijn even met onderhoud bezig",
		MaintenanceBody:   "Onze webwinkel is korte tijd gesloten voor gepland onderhoud. We zijn snel weer terug.",
		ReadOnlyTitle:     "Bestellen kan even niet",
		ReadOnlyBody:      "We voeren gepland onderhoud uit. Je kunt gewoon verder kijken, maar bestellen en wijzigingen in je account moeten even wachten tot we klaar zijn.",
		ExpectedBack:      "Verwacht terug",
		Updates:           "Laatste updates",
		StatusPage:        "Statuspagina",
		Contact:           "Neem contact op",
		AutoReturn:        "Je hoeft niet te verversen: deze pagina brengt je vanzelf terug zodra we weer open zijn.",
		UnconfirmedBadge:  "Niet bevestigd",
		UnconfirmedTitle:  "We konden je bestelling niet bevestigen",
		UnconfirmedBody:   "De webwinkel heeft niets bevestigd, dus we weten niet of je bestelling of betaling is gelukt. Dat kan goed zo zijn.",
		UnconfirmedAdvice: "Bestel of betaal nog niet opnieuw. Kijk eerst in je e-mail of je een bevestiging hebt gekregen, of neem contact met ons op.",
		BackToShop:        "Terug naar de winkel",
		Saved:             "opgeslagen versie",
		StaleAt:           "Je ziet een opgeslagen versie van deze pagina, zoals hij was om {time}.",
		StaleOn:           "Je ziet een opgeslagen versie van deze pagina, zoals hij was op {date}.",
		BannerBody:        "Prijzen en voorraad kunnen verouderd zijn, en bestellen kan pas weer als de winkel terug is.",
		Paused:            "Bestellen kan pas weer als de winkel terug is. Probeer het zo nog eens.",
		dates: dates{
			weekdays: [7]string{"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
			months:   [12]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
			long:     "{wd} {d} {mon} om {time}",
			short:    "{d} {mon}, {time}",
			clockFmt: "{time}",
			timeSep:  ":",
		},
	},
	"de": {
		OutageBadge:       "Vorübergehende Störung",
		OutageTitle:       "Wir sind gleich wieder da",
		OutageBody:        "Unser Shop ist vorübergehend nicht erreichbar. Wir arbeiten daran und sind bald wieder für Sie da.",
		MaintenanceBadge:  "Geplante Wartung",
		MaintenanceTitle:  "Wir führen gerade Wartungsarbeiten durch",
		MaintenanceBody:   "Unser Shop ist wegen geplanter Wartungsarbeiten kurz geschlossen. Wir sind bald wieder für Sie da.",
		ReadOnlyTitle:     "Bestellungen sind kurz pausiert",
		ReadOnlyBody:      "Wir führen geplante Wartungsarbeiten durch. Sie können weiter stöbern, Bestellungen und Änderungen an Ihrem Konto sind aber erst danach wieder möglich.",
		ExpectedBack:      "Voraussichtlich zurück",
		Updates:           "Aktuelle Meldungen",
		StatusPage:        "Statusseite",
		Contact:           "Kontakt",
		AutoReturn:        "Sie müssen nichts neu laden: Diese Seite bringt Sie automatisch zurück, sobald wir wieder geöffnet haben.",
		UnconfirmedBadge:  "Nicht bestätigt",
		UnconfirmedTitle:  "Wir konnten Ihre Bestellung nicht bestätigen",
		UnconfirmedBody:   "Der Shop hat keine Bestätigung geschickt. Daher wissen wir nicht, ob Ihre Bestellung oder Zahlung durchgegangen ist – das kann durchaus sein.",
		UnconfirmedAdvice: "Bitte bestellen oder bezahlen Sie noch nicht erneut. Prüfen Sie zuerst Ihre E-Mails auf eine Bestätigung, oder kontaktieren Sie uns.",
		BackToShop:        "Zurück zum Shop",
		Saved:             "gespeicherte Version",
		StaleAt:           "Sie sehen eine gespeicherte Version dieser Seite mit dem Stand von {time}.",
		StaleOn:           "Sie sehen eine gespeicherte Version dieser Seite mit dem Stand vom {date}.",
		BannerBody:        "Preise und Verfügbarkeit können veraltet sein, und Bestellungen sind pausiert, bis der Shop wieder da ist.",
		Paused:            "Bestellungen sind pausiert, bis der Shop wieder da ist. Bitte versuchen Sie es gleich noch einmal.",
		dates: dates{
			weekdays: [7]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
			months:   [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
			long:     "{wd}, {d}. {mon} um {time} Uhr",
			short:    "{d}. {mon}, {time} Uhr",
			clockFmt: "{time} Uhr",
			timeSep:  ":",
		},
	},
	"fr": {
		OutageBadge:       "Interruption temporaire",
		OutageTitle:       "Nous revenons très vite",
		OutageBody:        "Notre boutique est momentanément indisponible. Nous y travaillons et serons de retour sous peu.",
		MaintenanceBadge:  "Maintenance programmée",
		MaintenanceTitle:  "Maintenance en cours",
		MaintenanceBody:   "Notre boutique est fermée quelques instants pour une maintenance programmée. Nous revenons bientôt.",
		ReadOnlyTitle:     "Les commandes sont suspendues un instant",
		ReadOnlyBody:      "Nous effectuons une maintenance programmée. Vous pouvez continuer à parcourir la boutique, mais les commandes et les modifications de compte devront attendre la fin de l’opération.",
		ExpectedBack:      "Retour prévu",
		Updates:           "Dernières informations",
		StatusPage:        "Page de statut",
		Contact:           "Nous contacter",
		AutoReturn:        "Inutile de recharger\u00a0: cette page vous ramènera automatiquement dès que nous serons de nouveau ouverts.",
		UnconfirmedBadge:  "Non confirmé",
		UnconfirmedTitle:  "Nous n’avons pas pu confirmer votre commande",
		UnconfirmedBody:   "La boutique n’a pas envoyé de confirmation\u00a0: nous ne savons donc pas si votre commande ou votre paiement a abouti. C’est tout à fait possible.",
		UnconfirmedAdvice: "Merci de ne pas commander ni payer à nouveau pour l’instant. Vérifiez d’abord si vous avez reçu une confirmation par e-mail, ou contactez-nous.",
		BackToShop:        "Retour à la boutique",
		Saved:             "copie enregistrée",
		StaleAt:           "Vous voyez une copie enregistrée de cette page, telle qu’elle était à {time}.",
		StaleOn:           "Vous voyez une copie enregistrée de cette page, telle qu’elle était le {date}.",
		BannerBody:        "Les prix et les stocks peuvent ne pas être à jour, et les commandes sont suspendues jusqu’au retour de la boutique.",
		Paused:            "Les commandes sont suspendues jusqu’au retour de la boutique. Veuillez réessayer dans un instant.",
		dates: dates{
			weekdays: [7]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
			months:   [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
			long:     "{wd} {d} {mon} à {time}",
			short:    "{d} {mon}, {time}",
			clockFmt: "{time}",
			frenchH:  true,
			firstDay: "1er",
		},
	},
	"es": {
		OutageBadge:       "Interrupción temporal",
		OutageTitle:       "Volvemos enseguida",
		OutageBody:        "Nuestra tienda no está disponible en este momento. Estamos trabajando en ello y volveremos muy pronto.",
		MaintenanceBadge:  "Mantenimiento programado",
		MaintenanceTitle:  "Estamos haciendo mantenimiento",
		MaintenanceBody:   "Nuestra tienda está cerrada un momento por un mantenimiento programado. Volvemos pronto.",
		ReadOnlyTitle:     "Los pedidos están en pausa un momento",
		ReadOnlyBody:      "Estamos haciendo un mantenimiento programado. Puedes seguir navegando, pero los pedidos y los cambios en tu cuenta tendrán que esperar a que terminemos.",
		ExpectedBack:      "Vuelta prevista",
		Updates:           "Últimas novedades",
		StatusPage:        "Página de estado",
		Contact:           "Contáctanos",
		AutoReturn:        "No hace falta recargar: esta página te llevará de vuelta automáticamente en cuanto volvamos a abrir.",
		UnconfirmedBadge:  "Sin confirmar",
		UnconfirmedTitle:  "No hemos podido confirmar tu pedido",
		UnconfirmedBody:   "La tienda no envió ninguna confirmación, así que no sabemos si tu pedido o tu pago se ha completado. Es muy posible que sí.",
		UnconfirmedAdvice: "Por favor, no vuelvas a pedir ni a pagar todavía. Primero revisa tu correo por si tienes una confirmación, o contáctanos.",
		BackToShop:        "Volver a la tienda",
		Saved:             "copia guardada",
		StaleAt:           "Estás viendo una copia guardada de esta página, tal como estaba {time}.",
		StaleOn:           "Estás viendo una copia guardada de esta página, tal como estaba el {date}.",
		BannerBody:        "Los precios y el stock pueden no estar actualizados, y los pedidos están en pausa hasta que la tienda vuelva.",
		Paused:            "Los pedidos están en pausa hasta que la tienda vuelva. Inténtalo de nuevo en un momento.",
		dates: dates{
			weekdays: [7]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
			months:   [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
			long:     "{wd} {d} de {mon} {at}{time}",
			at:       [2]string{"a las ", "a la "},
			short:    "{d} de {mon}, {time}",
			clockFmt: "{at}{time}",
			timeSep:  ":",
		},
	},
	"it": {
		OutageBadge:       "Interruzione temporanea",
		OutageTitle:       "Torniamo subito",
		OutageBody:        "Il nostro negozio non è raggiungibile al momento. Ci stiamo lavorando e torneremo presto online.",
		MaintenanceBadge:  "Manutenzione programmata",
		MaintenanceTitle:  "Lavori di manutenzione in corso",
		MaintenanceBody:   "Il nostro negozio è chiuso per poco tempo per una manutenzione programmata. Torniamo presto.",
		ReadOnlyTitle:     "Gli ordini sono sospesi per un momento",
		ReadOnlyBody:      "Stiamo eseguendo una manutenzione programmata. Puoi continuare a navigare, ma per ordini e modifiche al tuo account dovrai attendere la fine dei lavori.",
		ExpectedBack:      "Ritorno previsto",
		Updates:           "Ultimi aggiornamenti",
		StatusPage:        "Pagina di stato",
		Contact:           "Contattaci",
		AutoReturn:        "Non serve ricaricare: questa pagina ti riporterà indietro da sola appena saremo di nuovo aperti.",
		UnconfirmedBadge:  "Non confermato",
		UnconfirmedTitle:  "Non siamo riusciti a confermare il tuo ordine",
		UnconfirmedBody:   "Il negozio non ha inviato alcuna conferma, quindi non sappiamo se il tuo ordine o il tuo pagamento è andato a buon fine: potrebbe essere così.",
		UnconfirmedAdvice: "Per favore non ordinare né pagare di nuovo per ora. Controlla prima la tua e-mail per una conferma, oppure contattaci.",
		BackToShop:        "Torna al negozio",
		Saved:             "copia salvata",
		StaleAt:           "Stai vedendo una copia salvata di questa pagina, com’era {time}.",
		StaleOn:           "Stai vedendo una copia salvata di questa pagina, com’era il {date}.",
		BannerBody:        "Prezzi e disponibilità potrebbero non essere aggiornati, e gli ordini sono sospesi finché il negozio non torna.",
		Paused:            "Gli ordini sono sospesi finché il negozio non torna. Riprova tra un momento.",
		dates: dates{
			weekdays: [7]string{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
			months:   [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
			long:     "{wd} {d} {mon} {at}{time}",
			at:       [2]string{"alle ", "all’"},
			short:    "{d} {mon}, {time}",
			clockFmt: "{at}{time}",
			timeSep:  ":",
		},
	},
	"sv": {
		OutageBadge:       "Tillfällig störning",
		OutageTitle:       "Vi är snart tillbaka",
		OutageBody:        "Vår butik går inte att nå just nu. Vi arbetar på det och räknar med att vara tillbaka inom kort.",
		MaintenanceBadge:  "Planerat underhåll",
		MaintenanceTitle:  "Vi gör underhåll just nu",
		MaintenanceBody:   "Vår butik är stängd en kort stund för planerat underhåll. Vi är snart tillbaka.",
		ReadOnlyTitle:     "Beställningar är pausade en stund",
		ReadOnlyBody:      "Vi gör planerat underhåll. Du kan fortsätta titta runt, men beställningar och ändringar i ditt konto får vänta tills vi är klara.",
		ExpectedBack:      "Väntas tillbaka",
		Updates:           "Senaste uppdateringarna",
		StatusPage:        "Statussida",
		Contact:           "Kontakta oss",
		AutoReturn:        "Du behöver inte ladda om: sidan tar dig tillbaka automatiskt så fort vi har öppnat igen.",
		UnconfirmedBadge:  "Inte bekräftad",
		UnconfirmedTitle:  "Vi kunde inte bekräfta din beställning",
		UnconfirmedBody:   "Butiken skickade ingen bekräftelse, så vi vet inte om din beställning eller betalning gick igenom. Det kan mycket väl ha gjort det.",
		UnconfirmedAdvice: "Beställ eller betala inte igen än. Kolla först din e-post efter en bekräftelse, eller kontakta oss.",
		BackToShop:        "Tillbaka till butiken",
		Saved:             "sparad version",
		StaleAt:           "Du ser en sparad version av den här sidan, som den såg ut {time}.",
		StaleOn:           "Du ser en sparad version av den här sidan, som den såg ut den {date}.",
		BannerBody:        "Priser och lagersaldo kan vara inaktuella, och beställningar är pausade tills butiken är tillbaka.",
		Paused:            "Beställningar är pausade tills butiken är tillbaka. Försök igen om en stund.",
		dates: dates{
			weekdays: [7]string{"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"},
			months:   [12]string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"},
			long:     "{wd} {d} {mon} kl. {time}",
			short:    "{d} {mon} kl. {time}",
			clockFmt: "kl. {time}",
			timeSep:  ".",
		},
	},
	"da": {
		OutageBadge:       "Midlertidig driftsforstyrrelse",
		OutageTitle:       "Vi er snart tilbage",
		OutageBody:        "Vores webshop er midlertidigt utilgængelig. Vi arbejder på det og regner med at være tilbage om kort tid.",
		MaintenanceBadge:  "Planlagt vedligeholdelse",
		MaintenanceTitle:  "Vi laver vedligeholdelse lige nu",
		MaintenanceBody:   "Vores webshop er lukket et øjeblik på grund af planlagt vedligeholdelse. Vi er snart tilbage.",
		ReadOnlyTitle:     "Bestillinger er sat på pause et øjeblik",
		ReadOnlyBody:      "Vi udfører planlagt vedligeholdelse. Du kan stadig kigge rundt, men bestillinger og ændringer på din konto må vente, til vi er færdige.",
		ExpectedBack:      "Forventes tilbage",
		Updates:           "Seneste opdateringer",
		StatusPage:        "Statusside",
		Contact:           "Kontakt os",
		AutoReturn:        "Du behøver ikke at genindlæse: siden sender dig automatisk tilbage, så snart vi har åbent igen.",
		UnconfirmedBadge:  "Ikke bekræftet",
		UnconfirmedTitle:  "Vi kunne ikke bekræfte din bestilling",
		UnconfirmedBody:   "Webshoppen sendte ingen bekræftelse, så vi ved ikke, om din bestilling eller betaling er gået igennem. Det kan sagtens være sket.",
		UnconfirmedAdvice: "Bestil eller betal ikke igen endnu. Tjek først din e-mail for en bekræftelse, eller kontakt os.",
		BackToShop:        "Tilbage til butikken",
		Saved:             "gemt udgave",
		StaleAt:           "Du ser en gemt udgave af denne side, som den så ud {time}.",
		StaleOn:           "Du ser en gemt udgave af denne side, som den så ud den {date}.",
		BannerBody:        "Priser og lagerstatus kan være forældede, og bestilling er sat på pause, til butikken er tilbage.",
		Paused:            "Bestilling er sat på pause, til butikken er tilbage. Prøv igen om lidt.",
		dates: dates{
			weekdays: [7]string{"søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"},
			months:   [12]string{"januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"},
			long:     "{wd} den {d}. {mon} kl. {time}",
			short:    "{d}. {mon} kl. {time}",
			clockFmt: "kl. {time}",
			timeSep:  ".",
		},
	},
	"pl": {
		OutageBadge:       "Chwilowe utrudnienia",
		OutageTitle:       "Zaraz wracamy",
		OutageBody:        "Nasz sklep jest chwilowo niedostępny. Pracujemy nad tym i niedługo wrócimy.",
		MaintenanceBadge:  "Planowana przerwa techniczna",
		MaintenanceTitle:  "Trwa przerwa techniczna",
		MaintenanceBody:   "Nasz sklep jest na chwilę zamknięty z powodu planowanych prac. Niedługo wracamy.",
		ReadOnlyTitle:     "Składanie zamówień jest chwilowo wstrzymane",
		ReadOnlyBody:      "Trwają planowane prace techniczne. Możesz dalej przeglądać sklep, ale zamówienia i zmiany na koncie będą możliwe dopiero po ich zakończeniu.",
		ExpectedBack:      "Przewidywany powrót",
		Updates:           "Najnowsze informacje",
		StatusPage:        "Strona statusu",
		Contact:           "Kontakt",
		AutoReturn:        "Nie musisz odświeżać: ta strona sama przeniesie Cię z powrotem, gdy tylko sklep znów będzie otwarty.",
		UnconfirmedBadge:  "Niepotwierdzone",
		UnconfirmedTitle:  "Nie mogliśmy potwierdzić Twojego zamówienia",
		UnconfirmedBody:   "Sklep nie przysłał potwierdzenia, więc nie wiemy, czy Twoje zamówienie lub płatność zostały przyjęte. Bardzo możliwe, że tak.",
		UnconfirmedAdvice: "Prosimy, nie zamawiaj ani nie płać jeszcze raz. Najpierw sprawdź, czy w skrzynce e-mail jest potwierdzenie, albo skontaktuj się z nami.",
		BackToShop:        "Wróć do sklepu",
		Saved:             "zapisana wersja",
		StaleAt:           "Widzisz zapisaną wersję tej strony z {time}.",
		StaleOn:           "Widzisz zapisaną wersję tej strony z dnia {date}.",
		BannerBody:        "Ceny i dostępność mogą być nieaktualne, a składanie zamówień jest wstrzymane do czasu powrotu sklepu.",
		Paused:            "Składanie zamówień jest wstrzymane do czasu powrotu sklepu. Spróbuj ponownie za chwilę.",
		dates: dates{
			weekdays: [7]string{"niedziela", "poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota"},
			months:   [12]string{"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"},
			long:     "{wd}, {d} {mon}, godz. {time}",
			short:    "{d} {mon}, godz. {time}",
			clockFmt: "godz. {time}",
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

// formatClock writes t (already in the site's zone) as a time of day,
// with the words the language puts around one ("14:05 Uhr", "kl. 14.05").
func (d *dates) formatClock(t time.Time) string { return d.format(d.clockFmt, t) }

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
