package pages

// maxLanguages bounds a site's languages, so that negotiation keeps its
// per-language scores in a fixed array on the stack. Config validation
// allows only languages with translations, and each once.
const maxLanguages = 16

// negotiate returns the index in langs (lower-case primary language
// subtags, the site's main language first) of the language an
// Accept-Language header (RFC 9110 §12.5.4) asks for most, or 0 when it asks
// for none of them, is missing or cannot be read.
//
// A range matches a site language when its primary subtag is that language
// ("en-GB" matches "en"): this is RFC 4647 §3.4 lookup truncated to the
// primary subtag, because a shop page in "en" is what an "en-GB" reader
// wants, whereas basic filtering (§3.3.1) would refuse it. A language's
// weight is the highest q of the ranges naming it; "*" gives its q to every
// language no range names. Among equal weights the one named earliest in
// the header wins (browsers list in preference order), then the site's
// order. A range with q=0 or a malformed q is not a wish for that language.
//
// negotiate does not allocate: the proxy calls it for every outage answer.
func negotiate(header []byte, langs []string) int {
	n := min(len(langs), maxLanguages)
	var q [maxLanguages]int16    // best weight per language, in thousandths; -1 none
	var pos [maxLanguages]int16  // index of the range that gave it
	var named [maxLanguages]bool // an explicit range names the language
	for i := range n {
		q[i], pos[i] = -1, -1
	}
	wild, wildPos := int16(-1), int16(0)

	var idx int16
	for len(header) > 0 {
		var item []byte
		item, header = cutByte(header, ',')
		tag, params := cutByte(item, ';')
		tag = trimOWS(tag)
		if len(tag) == 0 {
			continue
		}
		w, ok := weight(params)
		if !ok {
			continue
		}
		if idx < 1<<14 {
			idx++
		}
		if len(tag) == 1 && tag[0] == '*' {
			if w > wild {
				wild, wildPos = w, idx
			}
			continue
		}
		primary, _ := cutByte(tag, '-')
		if !validRange(tag) {
			continue
		}
		for i := range n {
			if !equalFoldASCII(primary, langs[i]) {
				continue
			}
			named[i] = true
			if w > q[i] {
				q[i], pos[i] = w, idx
			}
		}
	}

	best, bestQ, bestPos := 0, int16(0), int16(0)
	for i := range n {
		wq, wp := q[i], pos[i]
		if !named[i] {
			wq, wp = wild, wildPos
		}
		if wq > bestQ || (wq == bestQ && wq > 0 && wp < bestPos) {
			best, bestQ, bestPos = i, wq, wp
		}
	}
	return best
}

// weight parses a range's parameters and returns its q in thousandths (1000
// when there is no q). ok is false when q is present but not a valid qvalue
// (RFC 9110 §12.4.2): such a range is ignored.
func weight(params []byte) (w int16, ok bool) {
	w = 1000
	for len(params) > 0 {
		var p []byte
		p, params = cutByte(params, ';')
		p = trimOWS(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue // another parameter: not ours to judge
		}
		v := p[2:]
		switch {
		case len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1'):
			return 0, false
		case len(v) > 1 && v[1] != '.':
			return 0, false
		}
		w = int16(v[0]-'0') * 1000
		scale := int16(100)
		for _, c := range v[min(len(v), 2):] {
			if c < '0' || c > '9' {
				return 0, false
			}
			w += int16(c-'0') * scale
			scale /= 10
		}
		if w > 1000 {
			return 0, false
		}
	}
	return w, true
}

// validRange reports whether tag is a language range: 1 to 8 letters, then
// subtags of 1 to 8 letters or digits, separated by dashes.
func validRange(tag []byte) bool {
	run, first := 0, true
	for _, c := range tag {
		switch {
		case c == '-':
			if run == 0 {
				return false
			}
			run, first = 0, false
			continue
		case c|0x20 >= 'a' && c|0x20 <= 'z':
		case c >= '0' && c <= '9' && !first:
		default:
			return false
		}
		run++
		if run > 8 {
			return false
		}
	}
	return run > 0
}

func cutByte(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldASCII compares b with the lower-case ASCII string s, ignoring
// the case of b.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
