package pages

import "html/template"

// Data is what a page template renders. The default design and custom
// templates (page.template) see exactly these fields and nothing else;
// every string is escaped by html/template where it is used. README and
// docs/config.md list them for template authors.
type Data struct {
	// Mode is "outage", "maintenance" or "unconfirmed" (an order was sent
	// and never confirmed: no auto-return, a link back to the shop).
	Mode string
	// ReadOnly is true for maintenance that keeps browsing open.
	ReadOnly bool
	// Lang is the language shown first, for <html lang>.
	Lang string
	// Brand is the shop name.
	Brand string
	// Title is the headline in the first language, for <title>.
	Title string
	// Colors are the brand colour and the colours derived from it.
	Colors Colors
	// Logo is the merchant's logo; nil without one.
	Logo *LogoData
	// StatusURL is the status page (https), or "".
	StatusURL string
	// ContactURL is a mailto: or https: link, or ""; Contact is the address
	// or URL as configured.
	ContactURL, Contact string
	// Blocks hold the page's text, one per language, the best match first.
	Blocks []Block
	// Style is the default design's <style> element (custom templates may
	// use it or bring their own inline CSS).
	Style template.HTML
	// Head holds what every page needs in its <head>: the robots noindex
	// meta, a refresh for browsers without JavaScript, and the auto-return
	// script (for the unconfirmed page, only the meta: it never moves by
	// itself). Custom templates must include {{.Head}} inside <head>.
	Head template.HTML
}

// Colors are hex colours (#rrggbb) derived from the brand colour so that
// text is readable whatever the brand colour is (WCAG 2.2 contrast of at
// least 4.5 for text).
type Colors struct {
	// Brand is the brand colour as configured.
	Brand string
	// Button is the brand colour adjusted, only if needed, so that OnButton
	// text reads on it; OnButton is near-black or white.
	Button, OnButton string
	// Accent is for links and details on white; AccentDark on the dark
	// theme's card (#1d1d21).
	Accent, AccentDark string
	// Tint and TintDark are page backgrounds; Soft and SoftDark are badge
	// and box backgrounds, in the light and the dark theme.
	Tint, TintDark, Soft, SoftDark string
}

// LogoData says where the logo is and how big it is.
type LogoData struct {
	// URL is Awning's logo path, or a data: URL in previews (typed as
	// trusted so that html/template keeps the data: URL, which it would
	// otherwise neuter: Awning built it from a checked image).
	URL           template.URL
	Width, Height int
}

// Block is the page's text in one language.
type Block struct {
	// Lang is the block's language code, for its lang attribute.
	Lang string
	// Primary is true for the first block (the best-matching language):
	// the default design gives it the h1 and the badge.
	Primary bool
	// Badge is the short status ("Temporary disruption").
	Badge string
	// Title is the headline.
	Title string
	// Message is the merchant's or the default message, in paragraphs.
	Message []string
	// Until is the expected end of maintenance; nil when not announced.
	Until *When
	// Reassurance holds the merchant's reassurance lines; often none.
	Reassurance []string
	// Updates are the latest incident updates, newest first.
	Updates []UpdateView
	// Labels are the default texts around the merchant's.
	Labels Labels
}

// When is a time as shown (Text, in the block's language and the site's
// zone) and as machine-readable (ISO, RFC 3339, for <time datetime>).
type When struct {
	Text, ISO string
}

// UpdateView is one incident update in one block.
type UpdateView struct {
	When
	Message string
	// Lang is set when the message is not in the block's language (the
	// update was not written in it), for a lang attribute of its own.
	Lang string
}

// Labels are the default texts of one language.
type Labels struct {
	ExpectedBack, Updates, StatusPage, Contact, AutoReturn string
	// BackToShop links to the shop's home from the unconfirmed page.
	BackToShop string
}
