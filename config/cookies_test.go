package config

import (
	"path"
	"slices"
	"testing"
)

// TestAnonymousCookies: unset gives the default list, a list replaces it,
// {extend: [...]} adds to it, and [] leaves no cookie anonymous.
func TestAnonymousCookies(t *testing.T) {
	const site = "\nsites: [{name: s, hosts: [s.example], origin: {urls: [\"http://127.0.0.1:1\"]}}]\n"
	for _, tt := range []struct {
		name, yaml string
		want       []string
	}{
		{"default", "", DefaultAnonymousCookies},
		{"replace", "cache: {anonymous_cookies: [_ga, consent]}", []string{"_ga", "consent"}},
		{"extend", "cache: {anonymous_cookies: {extend: [ab_variant]}}", append(slices.Clone(DefaultAnonymousCookies), "ab_variant")},
		{"none", "cache: {anonymous_cookies: []}", []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("test.yaml", []byte(tt.yaml+site))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Cache.AnonymousCookies.Names; !slices.Equal(got, tt.want) || got == nil {
				t.Errorf("anonymous cookies = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestDefaultAnonymousCookiesMatchNoSessionCookie: the default list passes
// the check every configured list passes.
func TestDefaultAnonymousCookiesMatchNoSessionCookie(t *testing.T) {
	for _, g := range DefaultAnonymousCookies {
		for _, s := range KnownSessionCookies {
			if ok, err := path.Match(g, s.Name); ok || err != nil {
				t.Errorf("default pattern %q matches %s's session cookie %q (err %v)", g, s.Platform, s.Name, err)
			}
		}
	}
}
