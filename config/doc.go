// Package config reads and checks Awning's one configuration file.
//
// The file is YAML, decoded strictly: an unknown key, a duplicate key or a
// value of the wrong kind is an error, and every error names the file, the
// line and column, and the key path (sites[0].origin.timeout), so that
// `awning check-config` and a failed SIGHUP reload say exactly what to fix.
// Durations and sizes are written as people write them ("3s", "7d",
// "256MiB").
//
// Parse fills in every default and checks every value that needs no other
// component. Components built from a Config (the site registry, the page
// renderer) check what only they know and report it through Config.Errorf in
// the same positioned form. A Config is never changed after Parse returns:
// a reload builds a new one and swaps it in whole.
package config
