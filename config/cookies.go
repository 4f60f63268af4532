package config

import (
	"fmt"
	"path"
	"slices"

	"go.yaml.in/yaml/v3"
)

// DefaultAnonymousCookies are the cookies a request may carry and still be
// anonymous, unless cache.anonymous_cookies says otherwise: analytics and
// consent cookies, which browsers send on every visit and which no shop
// platform renders a page from. Patterns are deliberately narrow: "_ga*"
// would also match Rails' session cookie of an app whose name starts with
// "ga" ("_gallery_session"), so Google Analytics is "_ga" and "_ga_*".
var DefaultAnonymousCookies = []string{
	// Google Analytics and Ads.
	"_ga", "_ga_*", "_gid", "_gat", "_gat_*", "_gcl_*", "__utm?",
	// Meta (Facebook) pixel.
	"_fbp", "_fbc",
	// Hotjar.
	"_hj*",
	// Microsoft Clarity and Ads.
	"_clck", "_clsk", "_uetsid", "_uetvid",
	// Matomo.
	"_pk_id.*", "_pk_ses.*",
	// TikTok and Pinterest pixels.
	"_ttp", "_pin_unauth",
	// Consent managers: Cookiebot, OneTrust, IAB TCF, CookieYes and
	// CookieLawInfo, Complianz, Borlabs, Didomi, Axeptio, tarteaucitron.
	"CookieConsent", "OptanonConsent", "OptanonAlertBoxClosed",
	"euconsent-v2", "eupubconsent-v2", "cookieyes-consent", "CookieLawInfoConsent",
	"cookielawinfo-checkbox-*", "cmplz_*", "borlabs-cookie", "didomi_token",
	"axeptio_*", "tarteaucitron",
}

// KnownSessionCookies are session and login cookies of common platforms,
// with the platform, as a browser sends them (hashes made up). They are not
// what keeps personal pages out of copies (anything not on
// cache.anonymous_cookies does that); cache.anonymous_cookies is checked
// against them, so a pattern such as "*" or "sess*" is refused, and tests
// use them as canaries.
var KnownSessionCookies = []struct{ Name, Platform string }{
	{"PHPSESSID", "PHP (Magento 2, Shopware, WooCommerce and most PHP shops)"},
	{"JSESSIONID", "Java servlet containers"},
	{"connect.sid", "Node.js (Express)"},
	{"laravel_session", "Laravel"},
	{"XSRF-TOKEN", "Laravel"},
	{"sessionid", "Django"},
	{"csrftoken", "Django"},
	{"_shop_session", "Ruby on Rails (\"_<app>_session\")"},
	{"_session_id", "Ruby on Rails"},
	{"ASP.NET_SessionId", "ASP.NET"},
	{".AspNetCore.Session", "ASP.NET Core"},
	{".AspNetCore.Identity.Application", "ASP.NET Core"},
	{"frontend", "Magento 1"},
	{"session-1", "Shopware 5"},
	{"sw-context-token", "Shopware 6"},
	{"PrestaShop-9f2c1d0e8b7a", "PrestaShop"},
	{"OCSESSID", "OpenCart"},
	{"SESS4b1c7d2e", "Drupal"},
	{"ci_session", "CodeIgniter"},
	{"wordpress_logged_in_9f2c1d0e", "WordPress"},
	{"wp-postpass_9f2c1d0e", "WordPress (password-protected posts)"},
	{"comment_author_9f2c1d0e", "WordPress (comment authors)"},
	{"comment_author_email_9f2c1d0e", "WordPress (comment authors)"},
	{"wp_woocommerce_session_9f2c1d0e", "WooCommerce"},
	{"woocommerce_cart_hash", "WooCommerce"},
}

// CookieNames is a list of cookie name patterns (path.Match globs) that
// starts from a default. In a file it is either a list, which replaces
// the default, or {extend: [...]}, which adds to it. Names holds the list
// in force once the file is loaded.
type CookieNames struct {
	// Names are the patterns in force.
	Names []string

	written []string // as written in the file
	extend  bool     // written as {extend: [...]}
	set     bool     // written at all
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *CookieNames) UnmarshalYAML(n *yaml.Node) error {
	const want = "want a list of cookie names such as [_ga, _gid] (it replaces the default list), or {extend: [...]} to add to the default list"
	switch n.Kind {
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*c = CookieNames{written: list, set: true}
		if list == nil {
			c.written = []string{} // "[]": no cookie is anonymous
		}
		return nil
	case yaml.MappingNode:
		*c = CookieNames{extend: true, set: true}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != "extend" {
				return valueError(k, fmt.Errorf("unknown key %q: %s", k.Value, want))
			}
			if v.Kind != yaml.SequenceNode {
				return valueError(v, fmt.Errorf("want a list of cookie names to add to the default list"))
			}
			if err := v.Decode(&c.written); err != nil {
				return err
			}
		}
		return nil
	}
	return valueError(n, fmt.Errorf("%s", want))
}

// MarshalYAML implements yaml.Marshaler: the list in force.
func (c CookieNames) MarshalYAML() (any, error) { return c.Names, nil }

// setDefault fills Names from what was written and def.
func (c *CookieNames) setDefault(def []string) {
	switch {
	case !c.set:
		c.Names = slices.Clone(def)
	case c.extend:
		c.Names = append(slices.Clone(def), c.written...)
	default:
		c.Names = slices.Clone(c.written)
	}
}

// validateAnonymousCookies checks the patterns written for
// cache.anonymous_cookies: each must be a valid glob, and none may match a
// known session cookie, which would let a logged-in shopper's page become
// everyone's copy.
func (v *checker) validateAnonymousCookies(key string, c *CookieNames) {
	if c.extend {
		key += ".extend"
	}
	for i, g := range c.written {
		p := fmt.Sprintf("%s[%d]", key, i)
		if _, err := path.Match(g, ""); err != nil || g == "" {
			v.errorf(p, "invalid pattern %q", g)
			continue
		}
		for _, s := range KnownSessionCookies {
			if ok, _ := path.Match(g, s.Name); ok {
				v.errorf(p, "%q matches %q, a session cookie of %s: a request carrying it would be taken for anonymous and its page kept for everyone; list only cookies that cannot personalise a page", g, s.Name, s.Platform)
				break
			}
		}
	}
}
