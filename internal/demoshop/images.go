package demoshop

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strconv"
)

// productImage draws a simple loaf-shaped picture in the product's colour,
// so the demo has real images without shipping binary files.
func productImage(p Product) []byte {
	const w, h = 480, 360
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{0xfa, 0xf6, 0xf0, 0xff}
	fg := parseHex(p.Color)
	dark := color.RGBA{fg.R * 3 / 4, fg.G * 3 / 4, fg.B * 3 / 4, 0xff}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x-w/2)/170, float64(y-h/2-20)/95
			d := dx*dx + dy*dy
			switch {
			case d < 0.82:
				img.Set(x, y, fg)
			case d < 1:
				img.Set(x, y, dark)
			case y > h/2+70 && y < h/2+80 && x > 60 && x < w-60:
				img.Set(x, y, color.RGBA{0xe0, 0xd6, 0xc8, 0xff})
			default:
				img.Set(x, y, bg)
			}
		}
	}
	// Score marks across the top of the loaf.
	for i := 0; i < 3; i++ {
		cx := w/2 - 80 + i*80
		for t := -30; t < 30; t++ {
			img.Set(cx+t, h/2-20+t/2, dark)
			img.Set(cx+t, h/2-19+t/2, dark)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func parseHex(s string) color.RGBA {
	v, _ := strconv.ParseUint(s[1:], 16, 32)
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}
