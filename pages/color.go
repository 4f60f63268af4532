package pages

import (
	"fmt"
	"math"
	"strconv"
)

// rgb is an sRGB colour with 8 bits per channel.
type rgb struct{ r, g, b uint8 }

// parseHex reads #rgb or #rrggbb.
func parseHex(s string) (rgb, bool) {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return rgb{}, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return rgb{}, false
	}
	if len(s) == 4 {
		r, g, b := uint8(v>>8&0xf), uint8(v>>4&0xf), uint8(v&0xf)
		return rgb{r * 17, g * 17, b * 17}, true
	}
	return rgb{uint8(v >> 16), uint8(v >> 8), uint8(v)}, true
}

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// luminance is the WCAG 2.2 relative luminance of c.
func (c rgb) luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrast is the WCAG 2.2 contrast ratio of a and b, from 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// mix returns c moved toward to by t (0 keeps c, 1 gives to).
func mix(c, to rgb, t float64) rgb {
	m := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*t)) }
	return rgb{m(c.r, to.r), m(c.g, to.g), m(c.b, to.b)}
}

var (
	white = rgb{0xff, 0xff, 0xff}
	black = rgb{0, 0, 0}
	ink   = rgb{0x1c, 0x1b, 0x1f} // body text on light backgrounds
)

// onColor returns the text colour that reads best on bg: near-black or
// white, whichever contrasts more.
func onColor(bg rgb) rgb {
	if contrast(bg, ink) >= contrast(bg, white) {
		return ink
	}
	return white
}

// readableOn returns c, darkened or lightened (toward black or white) just
// enough to reach ratio against bg: the brand's own hue wherever it can be
// kept, and readable always (WCAG 2.2 SC 1.4.3 asks 4.5 for text).
func readableOn(c, bg rgb, ratio float64) rgb {
	if contrast(c, bg) >= ratio {
		return c
	}
	to := black
	if bg.luminance() < 0.5 {
		to = white
	}
	for t := 0.05; t < 1; t += 0.05 {
		if m := mix(c, to, t); contrast(m, bg) >= ratio {
			return m
		}
	}
	return to
}

// newColors derives every colour a page uses from the brand colour, so that
// any brand colour gives a readable page.
func newColors(brand rgb) Colors {
	const textRatio = 4.5 // WCAG 2.2 SC 1.4.3, normal text
	card, darkCard := white, rgb{0x1d, 0x1d, 0x21}
	soft, softDark := mix(card, brand, 0.12), mix(darkCard, brand, 0.22)
	on := onColor(brand)
	return Colors{
		Brand: brand.String(),
		// Mid-tone brand colours reach 4.5 with neither black nor white:
		// the button then takes a shade of the brand colour that does.
		Button:   readableOn(brand, on, textRatio).String(),
		OnButton: on.String(),
		// Accents must read on the card and on the badge, which is the
		// darker (lighter, in dark mode) of the two: checking against it
		// covers both.
		Accent:     readableOn(brand, soft, textRatio).String(),
		AccentDark: readableOn(brand, softDark, textRatio).String(),
		Tint:       mix(rgb{0xf6, 0xf5, 0xf3}, brand, 0.10).String(),
		TintDark:   mix(rgb{0x14, 0x14, 0x17}, brand, 0.08).String(),
		Soft:       soft.String(),
		SoftDark:   softDark.String(),
	}
}

// cssVars writes c as the custom properties style.css uses.
func (c Colors) cssVars() string {
	return ":root{color-scheme:light dark;--brand:" + c.Brand + ";--button:" + c.Button + ";--on-button:" + c.OnButton +
		";--accent:" + c.Accent + ";--accent-dark:" + c.AccentDark + ";--tint:" + c.Tint + ";--tint-dark:" + c.TintDark +
		";--soft:" + c.Soft + ";--soft-dark:" + c.SoftDark + "}"
}

// Palette is what a page derives from a brand colour, with the WCAG 2.2
// contrast ratio of each text colour against what it is drawn on: for the
// console's colour check, so a merchant sees the accent their page will
// use rather than a second computation of it.
type Palette struct {
	Colors
	// ButtonContrast is OnButton on Button; AccentContrast is Accent on the
	// badge colour Soft (white cards contrast more); BrandOnWhite is the
	// brand colour itself as text on white, which is why Accent may differ.
	ButtonContrast, AccentContrast, BrandOnWhite float64
}

// PaletteOf returns the palette of a #rgb or #rrggbb brand colour; false
// when it is not one.
func PaletteOf(hex string) (Palette, bool) {
	c, ok := parseHex(hex)
	if !ok {
		return Palette{}, false
	}
	cs := newColors(c)
	p := Palette{Colors: cs, BrandOnWhite: contrast(c, white)}
	button, _ := parseHex(cs.Button)
	on, _ := parseHex(cs.OnButton)
	accent, _ := parseHex(cs.Accent)
	soft, _ := parseHex(cs.Soft)
	p.ButtonContrast, p.AccentContrast = contrast(on, button), contrast(accent, soft)
	return p, true
}
