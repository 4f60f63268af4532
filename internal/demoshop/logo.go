package demoshop

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Logo draws the bakery's logo as a PNG: a round badge with a loaf and the
// shop's name, at twice the size it is shown (for sharp high-density
// screens). The demo brands its outage page with it, and tests use it as a
// realistic merchant logo. Drawn in code, like the product images, so that
// the repository carries no binary files.
func Logo() []byte {
	const (
		h    = 112 // twice the 56 pixels it is shown at
		ss   = 4   // supersampling, for smooth edges
		name = "Bakkerij de Vries"
	)
	// The name, in Go Bold (BSD licensed, compiled in: no font files).
	f, err := opentype.Parse(gobold.TTF)
	if err != nil {
		panic(err) // the embedded font is fixed: failing is a build bug
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 46 * ss, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic(err)
	}
	defer face.Close()
	w := h + 22 + font.MeasureString(face, name).Ceil()/ss + 6
	big := image.NewRGBA(image.Rect(0, 0, w*ss, h*ss))
	brown := color.RGBA{0xb5, 0x65, 0x1d, 0xff}
	dark := color.RGBA{0x4a, 0x2a, 0x12, 0xff}
	crust := color.RGBA{0xf6, 0xe3, 0xc8, 0xff}

	// The badge: a brown disc with a light loaf and three score marks.
	cx, cy, r := float64(h*ss)/2, float64(h*ss)/2, float64(h*ss)/2-2*ss
	for y := 0; y < h*ss; y++ {
		for x := 0; x < h*ss; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			if dx*dx+dy*dy > r*r {
				continue
			}
			big.Set(x, y, brown)
			lx, ly := dx/(r*0.68), (dy-r*0.08)/(r*0.42)
			if lx*lx+ly*ly < 1 && !(dy > r*0.22) {
				big.Set(x, y, crust)
			}
		}
	}
	for i := -1; i <= 1; i++ {
		mx := cx + float64(i)*r*0.36
		for t := -r * 0.15; t < r*0.15; t++ {
			for k := -float64(ss) * 1.6; k < float64(ss)*1.6; k++ {
				x := int(math.Round(mx + t + k))
				y := int(math.Round(cy - r*0.12 + t*0.9))
				big.Set(x, y, brown)
			}
		}
	}

	d := font.Drawer{Dst: big, Src: image.NewUniform(dark), Face: face}
	d.Dot = fixed.P((h+22)*ss, (h/2+16)*ss)
	d.DrawString(name)

	small := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(small, small.Bounds(), big, big.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	png.Encode(&buf, small)
	return buf.Bytes()
}
