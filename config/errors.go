package config

import (
	"fmt"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file, positioned at the value (or
// key) it is about.
type Error struct {
	File   string // path of the file, as given
	Line   int    // 1-based; 0 when the problem has no place in the file
	Column int    // 1-based; 0 when unknown
	Path   string // key path such as sites[0].origin.timeout; "" for the file as a whole
	Msg    string
}

// Error formats e as "file:line:column: path: message", the form editors and
// CI logs turn into links.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order. Load and Parse
// report all of them at once so a broken file is fixed in one round.
type Errors []*Error

// Error joins the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// lazyPositions builds a file's positions when an error first needs them:
// a file of 50,000 sites has a million key paths, and a loaded
// configuration that has no error never needs one. Until then it holds the
// file's bytes (and, while Parse runs, the node tree it already has).
type lazyPositions struct {
	once sync.Once
	src  []byte
	root *yaml.Node // set while Parse runs
	p    positions
}

func (l *lazyPositions) get() positions {
	if l == nil {
		return positions{}
	}
	l.once.Do(func() {
		root := l.root
		if root == nil {
			root = new(yaml.Node)
			if err := yaml.Unmarshal(l.src, root); err != nil {
				root = nil
			}
		}
		l.p = newPositions(root)
		l.src, l.root = nil, nil
	})
	return l.p
}

// pos is a place in the file.
type pos struct{ line, col int }

// positions maps each key path in the file to where its value starts, and
// each line to the keys written on it, so that errors from the YAML decoder
// (which only know a line) and from validation (which only know a path) can
// both be reported as file:line:column: path.
type positions struct {
	byPath map[string]pos
	byLine map[int][]lineKey
}

type lineKey struct {
	name   string // the key as written
	path   string // full key path
	value  string // the scalar value, if the value is a scalar
	col    int
	scalar bool // the value is a scalar
}

func newPositions(root *yaml.Node) positions {
	p := positions{byPath: map[string]pos{}, byLine: map[int][]lineKey{}}
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		p.walk(root.Content[0], "")
	}
	return p
}

func (p positions) walk(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	p.byPath[path] = pos{n.Line, n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			lk := lineKey{name: k.Value, path: child, col: k.Column, scalar: v.Kind == yaml.ScalarNode}
			if lk.scalar {
				lk.value = v.Value
			}
			p.byLine[k.Line] = append(p.byLine[k.Line], lk)
			p.walk(v, child)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			if item.Kind == yaml.ScalarNode {
				p.byLine[item.Line] = append(p.byLine[item.Line], lineKey{path: child, value: item.Value, col: item.Column, scalar: true})
			}
			p.walk(item, child)
		}
	}
}

// at returns the position of path, or of its nearest ancestor written in the
// file when path itself is absent (a missing required key is reported at the
// mapping that lacks it).
func (p positions) at(path string) pos {
	for {
		if ps, ok := p.byPath[path]; ok {
			return ps
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			if ps, ok := p.byPath[""]; ok && path != "" {
				return ps
			}
			return pos{}
		}
		path = path[:i]
	}
}

// onLine finds the key on line whose name or scalar value matches, for
// decoder errors that name a line and a key or a value but not a path.
func (p positions) onLine(line int, name, value string) (lineKey, bool) {
	keys := p.byLine[line]
	for _, k := range keys {
		if name != "" && k.name == name {
			return k, true
		}
	}
	if short, ok := strings.CutSuffix(value, "..."); ok {
		for _, k := range keys { // the decoder shortens long values
			if k.name != "" && strings.HasPrefix(k.value, short) {
				return k, true
			}
		}
	}
	for _, k := range keys {
		if value != "" && k.value == value {
			return k, true
		}
	}
	if value == "" && name == "" {
		for _, k := range keys { // a list or mapping where a scalar belongs
			if k.name != "" && !k.scalar {
				return k, true
			}
		}
	}
	if len(keys) == 1 {
		return keys[0], true
	}
	return lineKey{}, false
}

// valueError reports a bad scalar from an UnmarshalYAML method. yaml.v3
// collects *yaml.TypeError values and carries on decoding, so every bad value
// in a file is reported, not just the first.
func valueError(n *yaml.Node, err error) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d column %d: %s", n.Line, n.Column, err)}}
}

// Errorf returns an error positioned at the value of path in the file c was
// read from. Components built from c use it to report what only they can
// check (an unknown language, an unreadable logo) in the same form as
// Parse's own errors.
func (c *Config) Errorf(path, format string, args ...any) *Error {
	ps := c.pos.get().at(path)
	return &Error{File: c.File, Line: ps.line, Column: ps.col, Path: path, Msg: fmt.Sprintf(format, args...)}
}
