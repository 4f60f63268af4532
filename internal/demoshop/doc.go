// Package demoshop is the sample web shop `awning demo` puts behind Awning:
// a small bakery with product and category pages, generated product
// pictures, a cart and checkout that set session cookies (pages Awning must
// never keep copies of), a JSON API and a sitemap. It can be broken on
// purpose in the ways real shop platforms fail (refusing, hanging, slow,
// 5xx, resetting) through its control endpoints, so a newcomer can watch
// Awning keep the shop open.
package demoshop
