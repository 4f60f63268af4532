package cache

import "strings"

// AllowInline returns a Content-Security-Policy header value (one policy
// or several, comma-separated) changed to allow also the inline script and
// style with the hash sources script and style: what a copy served stale
// needs for its banner, while every other rule of the shop's policy holds.
//
// Inline elements are governed by script-src-elem (style-src-elem), else
// script-src (style-src), else default-src (CSP Level 3, §6.1.1). The hash
// goes into that directive; when it is default-src, a script-src (style-src)
// is added with default-src's sources and the hash, so nothing else
// changes for the other kinds default-src covers. A list that allows inline
// already ('unsafe-inline' with no nonce or hash) is left alone: a hash
// would switch its 'unsafe-inline' off and break the shop's own inline
// code. A list of only 'none' becomes the hash.
func AllowInline(value, script, style string) string {
	policies := strings.Split(value, ",")
	for i, p := range policies {
		policies[i] = allowInline(p, script, style)
	}
	return strings.Join(policies, ",")
}

func allowInline(policy, script, style string) string {
	var dirs [][]string // each: name, sources...
	for _, d := range strings.Split(policy, ";") {
		if f := strings.Fields(d); len(f) > 0 {
			f[0] = strings.ToLower(f[0])
			dirs = append(dirs, f)
		}
	}
	find := func(name string) int {
		for i, d := range dirs {
			if d[0] == name {
				return i // the first occurrence counts; later ones are ignored
			}
		}
		return -1
	}
	for _, k := range [...]struct{ elem, src, hash string }{
		{"script-src-elem", "script-src", script},
		{"style-src-elem", "style-src", style},
	} {
		i := find(k.elem)
		if i < 0 {
			i = find(k.src)
		}
		if i < 0 {
			def := find("default-src")
			if def < 0 {
				continue // no rule for inline elements of this kind
			}
			dirs = append(dirs, append([]string{k.src}, dirs[def][1:]...))
			i = len(dirs) - 1
		}
		dirs[i] = withHash(dirs[i], k.hash)
	}
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = strings.Join(d, " ")
	}
	lead := ""
	if strings.HasPrefix(policy, " ") {
		lead = " "
	}
	return lead + strings.Join(out, "; ")
}

// withHash adds hash to directive d (name and sources) unless its sources
// already allow inline code.
func withHash(d []string, hash string) []string {
	inline, pinned := false, false
	for _, s := range d[1:] {
		switch ls := strings.ToLower(s); {
		case ls == "'unsafe-inline'":
			inline = true
		case strings.HasPrefix(ls, "'nonce-"), strings.HasPrefix(ls, "'sha256-"),
			strings.HasPrefix(ls, "'sha384-"), strings.HasPrefix(ls, "'sha512-"), ls == "'strict-dynamic'":
			pinned = true
		case ls == "'none'":
		}
	}
	if inline && !pinned {
		return d
	}
	if len(d) == 2 && strings.EqualFold(d[1], "'none'") {
		return []string{d[0], hash}
	}
	return append(d[:len(d):len(d)], hash)
}
