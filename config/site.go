package config

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

var reAtLine = regexp.MustCompile(` at line \d+`)

// ParseSite decodes and checks one site given as JSON, a sites: entry of
// the config file with the same keys (the admin API's PUT
// /v1/sites/{site} body), strictly: an unknown key, a duplicate key or a
// value of the wrong kind is an error. Defaults are filled in as for the
// file. name is the site's name: the body's "name" may be left out, and
// must equal it otherwise.
//
// Every problem is returned at once, each with its key path in the body
// ("origin.health.interval", "hosts[1]") and no file position. Checks
// only components can make (a host's syntax, a page language) are the
// caller's, as they are for the file.
func ParseSite(name string, body []byte) (*Site, Errors) {
	s, errs := InspectSite(name, body)
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// InspectSite is ParseSite for a caller that reports every problem at
// once, as check-config does for the file: alongside the problems it
// returns the site as far as it decoded (values refused left out, their
// defaults in place), for the components' checks to run on. Such a site
// is for checking only, never for serving. The site is nil when the body
// has no usable structure.
func InspectSite(name string, body []byte) (*Site, Errors) {
	if !json.Valid(body) {
		return nil, Errors{{Msg: "the body is not valid JSON"}}
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil, Errors{{Msg: "the body must be a JSON object: a sites: entry of the config file"}}
	}
	// JSON is YAML: the body goes through the file's own decoder and
	// checks, as the one element of a sites: list, one key a line (the
	// decoder names some problems by line only).
	var doc bytes.Buffer
	doc.WriteString("{\"sites\": [\n")
	json.Indent(&doc, body, "", "  ")
	doc.WriteString("\n]}")
	cfg, errs := parse("body", doc.Bytes())
	var out Errors
	for _, e := range errs {
		path, ok := strings.CutPrefix(e.Path, "sites[0]")
		if !ok {
			continue // a global default: not the body's
		}
		msg := reAtLine.ReplaceAllString(e.Msg, "") // lines of our layout, not the caller's
		out = append(out, &Error{Path: strings.TrimPrefix(path, "."), Msg: msg})
	}
	if cfg == nil || len(cfg.Sites) != 1 {
		if len(out) == 0 {
			out = Errors{{Msg: "the body must be a JSON object: a sites: entry of the config file"}}
		}
		return nil, out
	}
	s := &cfg.Sites[0]
	switch {
	case s.Name == "":
		out = dropPath(out, "name") // "required": the path names it
		s.Name = name
		s.setDefaults() // what defaults to the name
	case s.Name != name && !out.Covers("name"):
		out = append(out, &Error{Path: "name", Msg: "\"" + s.Name + "\" differs from the site in the path, \"" + name + "\"; leave it out or make them equal"})
	}
	if !reSiteName.MatchString(name) {
		out = append(out, &Error{Path: "name", Msg: "\"" + name + "\": use lower-case letters, digits and dashes (at most 63)"})
	}
	return s, out
}

func dropPath(es Errors, path string) Errors {
	out := es[:0]
	for _, e := range es {
		if e.Path != path {
			out = append(out, e)
		}
	}
	return out
}
