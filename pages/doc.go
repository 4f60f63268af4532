// Package pages renders what shoppers see when Awning answers for a shop:
// the outage page (no copy to show) and, later, the maintenance page.
//
// Pages are rendered once per change of what they show (site config,
// branding, an incident update) into byte slices; serving a page never runs
// a template. This file set holds the plain bilingual page the proxy serves
// until the branded design lands.
package pages
