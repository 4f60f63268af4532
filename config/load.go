package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a config file. Thousands of sites fit in far less; a
// bigger file is a mistake (or a hostile alias bomb) we refuse up front.
const maxFileSize = 16 << 20

// Load reads, decodes and checks the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, Errors{{File: path, Msg: "file is larger than 16MiB"}}
	}
	return Parse(path, data)
}

// Parse decodes and checks a configuration file's contents; name is used in
// error messages and to resolve relative paths. Decoding is strict: an
// unknown key, a duplicate key or a value of the wrong kind is an error. The
// error, when not nil, is an Errors listing every problem found.
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{syntaxError(name, err)}
	}
	lp := &lazyPositions{src: data, root: &root}
	defer func() { lp.root = nil }() // what Parse does not need, a later error parses again
	cfg := &Config{File: name, pos: lp}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, Errors{{File: name, Msg: "the file is empty; it needs at least one site"}}
	}
	if root.Content[0].Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: root.Content[0].Line, Column: root.Content[0].Column,
			Msg: "the file must be a mapping of keys such as listen: and sites:"}}
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, decodeErrors(cfg, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: name, Line: extra.Line, Msg: "the file holds more than one YAML document; keep one"}}
	}

	cfg.setDefaults()
	if errs := cfg.validate(); len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return cfg, nil
}

var (
	reSyntax    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	reLine      = regexp.MustCompile(`^line (\d+)(?: column (\d+))?: (.*)$`)
	reUnknown   = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	reWrongKind = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

func syntaxError(file string, err error) *Error {
	msg := err.Error()
	if m := reSyntax.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decodeErrors turns the decoder's line-numbered messages into positioned
// errors that name the key path and say what was expected in plain words.
func decodeErrors(cfg *Config, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Errors{syntaxError(cfg.File, err)}
	}
	var out Errors
	where := cfg.pos.get()
	for _, s := range te.Errors {
		e := &Error{File: cfg.File, Msg: s}
		m := reLine.FindStringSubmatch(s)
		if m == nil {
			out = append(out, e)
			continue
		}
		e.Line, _ = strconv.Atoi(m[1])
		e.Column, _ = strconv.Atoi(m[2])
		e.Msg = m[3]
		var key, value string
		if u := reUnknown.FindStringSubmatch(e.Msg); u != nil {
			key = u[1]
			e.Msg = fmt.Sprintf("unknown key %q", key)
			if s := suggest(key); s != "" {
				e.Msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
		} else if w := reWrongKind.FindStringSubmatch(e.Msg); w != nil {
			value = w[2]
			e.Msg = "want " + kindWords(w[3])
			if value == "" {
				e.Msg += ", got a " + nodeWords(w[1])
			}
		}
		if e.Column > 0 {
			for _, k := range where.byLine[e.Line] {
				if k.col == e.Column || where.byPath[k.path] == (pos{e.Line, e.Column}) {
					e.Path = k.path
				}
			}
		}
		if e.Path == "" {
			if k, ok := where.onLine(e.Line, key, value); ok {
				e.Path = k.path
				if value != "" {
					value = k.value // the decoder shortens long values; say what was written
				}
				if e.Column == 0 {
					e.Column = k.col // an unknown key: point at the key
					if key == "" {
						e.Column = where.byPath[k.path].col // a bad value: point at the value
					}
				}
			}
		}
		if value != "" {
			e.Msg += fmt.Sprintf(", got %q", value)
		}
		out = append(out, e)
	}
	out.sort()
	return out
}

// sort orders errors as they appear in the file.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}

func kindWords(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "bool", goType == "*bool":
		return "true or false"
	case goType == "string":
		return "a single value"
	case strings.HasPrefix(goType, "config."):
		return "a mapping"
	}
	return goType
}

func nodeWords(tag string) string {
	switch tag {
	case "seq":
		return "list"
	case "map":
		return "mapping"
	}
	return tag
}

// knownKeys is every key the file format has, for "did you mean" hints.
var knownKeys = func() []string {
	seen := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || seen[name] {
				continue
			}
			seen[name] = true
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Config{}))
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}()

// suggest returns the known key closest to name, if it is close enough to be
// a typo.
func suggest(name string) string {
	best, bestDist := "", 3
	for _, k := range knownKeys {
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
