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
	cfg, errs, err := Inspect(path)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// Inspect reads, decodes and checks the configuration file at path like
// Load, but returns the configuration as far as it could be decoded even
// when it has errors, with every error: so that check-config can run the
// checks of later stages on the rest of the file and report everything in
// one round. cfg is nil when the file could not be decoded at all (a YAML
// syntax error, an empty file); err is set only when it could not be read.
func Inspect(path string) (cfg *Config, errs Errors, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, Errors{{File: path, Msg: "file is larger than 16MiB"}}, nil
	}
	cfg, errs = parse(path, data)
	return cfg, errs, nil
}

// Parse decodes and checks a configuration file's contents; name is used in
// error messages and to resolve relative paths. Decoding is strict: an
// unknown key, a duplicate key or a value of the wrong kind is an error. The
// error, when not nil, is an Errors listing every problem found.
func Parse(name string, data []byte) (*Config, error) {
	cfg, errs := parse(name, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// parse decodes data into a Config and checks it. Values the decoder
// refused are left out (their defaults apply) and validation runs on the
// rest, so that one round finds every problem; a problem validation finds
// at (or under) a key the decoder already refused is not reported twice.
// The Config is nil when the file has no usable structure at all.
func parse(name string, data []byte) (*Config, Errors) {
	cfg := &Config{File: name, pos: &lazyPositions{src: data}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) || err != nil && !isMapping(data) {
		return nil, structureErrors(name, data, err)
	}
	var errs Errors
	if err != nil {
		errs = decodeErrors(cfg, err)
		realign(cfg, data)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs = append(errs, &Error{File: name, Line: extra.Line, Msg: "the file holds more than one YAML document; keep one"})
	}
	cfg.setDefaults()
	decoded := errs // only the decoder's errors hide validation's
	for _, e := range cfg.validate() {
		if !refused(decoded, e.Path) {
			errs = append(errs, e)
		}
	}
	errs.sort()
	return cfg, errs
}

// isMapping reports whether data's one document is a mapping.
func isMapping(data []byte) bool {
	var root yaml.Node
	return yaml.Unmarshal(data, &root) == nil && len(root.Content) > 0 && root.Content[0].Kind == yaml.MappingNode
}

// structureErrors explains a file the decoder could not use at all.
func structureErrors(name string, data []byte, err error) Errors {
	var root yaml.Node
	if perr := yaml.Unmarshal(data, &root); perr != nil {
		return Errors{syntaxError(name, perr)}
	}
	if errors.Is(err, io.EOF) || root.Kind == 0 || len(root.Content) == 0 {
		return Errors{{File: name, Msg: "the file is empty; it needs at least one site"}}
	}
	if n := root.Content[0]; n.Kind != yaml.MappingNode {
		return Errors{{File: name, Line: n.Line, Column: n.Column, Msg: "the file must be a mapping of keys such as listen: and sites:"}}
	}
	return Errors{syntaxError(name, err)}
}

// refused reports whether a validation problem at path is a consequence
// of a decoding error in errs: at or under the refused key, at one of its
// ancestors (a list that lost the element), or, when the decoder dropped a
// whole mapping for a duplicate key, anywhere in that mapping.
func refused(errs Errors, path string) bool {
	under := func(p, root string) bool {
		return p == root || root == "" || strings.HasPrefix(p, root+".") || strings.HasPrefix(p, root+"[")
	}
	for _, e := range errs {
		if e.Path == "" {
			continue
		}
		if under(path, e.Path) || under(e.Path, path) {
			return true
		}
		if strings.Contains(e.Msg, "already defined") && under(path, parentPath(e.Path)) {
			return true
		}
	}
	return false
}

// Covers reports whether a problem at path, found by a later stage (a
// component that checks what it alone understands), is already explained
// by es: at, under or above a key es names, so check-config reports each
// problem once.
func (es Errors) Covers(path string) bool {
	for _, e := range es {
		switch {
		case e.Path == "":
		case path == e.Path, strings.HasPrefix(path, e.Path+"."), strings.HasPrefix(path, e.Path+"["):
			return true
		case strings.Contains(e.Msg, "already defined") && strings.HasPrefix(path, parentPath(e.Path)+"."):
			return true
		}
	}
	return false
}

// parentPath is the path of the mapping or list holding path.
func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// realign decodes the sites and tokens of a file the strict decoder
// refused parts of again, one element at a time, so that cfg.Sites[i] is
// the file's sites[i] again: the decoder leaves out a list element it
// cannot decode at all (not a mapping, a duplicate key), and every later
// element would be validated, and reported, under the wrong index. An
// element left out becomes a zero value whose problems refused hides.
func realign(cfg *Config, data []byte) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return
	}
	top := root.Content[0]
	if n := child(top, "sites"); n != nil && n.Kind == yaml.SequenceNode && len(n.Content) != len(cfg.Sites) {
		cfg.Sites = decodeEach[Site](n)
	}
	if a := child(top, "admin"); a != nil {
		if n := child(a, "tokens"); n != nil && n.Kind == yaml.SequenceNode && len(n.Content) != len(cfg.Admin.Tokens) {
			cfg.Admin.Tokens = decodeEach[Token](n)
		}
	}
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// decodeEach decodes every element of sequence n as far as it goes; the
// strict decoder already reported what did not.
func decodeEach[T any](n *yaml.Node) []T {
	out := make([]T, len(n.Content))
	for i, el := range n.Content {
		if el.Kind == yaml.MappingNode {
			_ = el.Decode(&out[i])
		}
	}
	return out
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
func decodeErrors(cfg *Config, err error) Errors {
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
		if msg, ok := removedKeys[e.Path]; ok && key != "" {
			e.Msg = msg
		}
		out = append(out, e)
	}
	out.sort()
	return out
}

// Sort orders errors as they appear in the file.
func (es Errors) Sort() { es.sort() }

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

// removedKeys are keys older files may still set, with what to do
// instead: an unknown key, but one whose error should say more than "did
// you mean".
var removedKeys = map[string]string{
	"cache.private_cookies": "private_cookies was removed: a copy is now made only from requests whose cookies " +
		"are all on cache.anonymous_cookies (analytics and consent cookies by default), so no list of private " +
		"cookies is needed; delete private_cookies, and add to anonymous_cookies ({extend: [...]}) only cookies " +
		"that cannot personalise a page",
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
