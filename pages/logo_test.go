package pages

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
)

func pngOf(w, h int, noise bool) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = 0x80
		if noise {
			img.Pix[i] = byte(r.Uint32())
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func jpegOf(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	return b.Bytes()
}

func gifOf(w, h int) []byte {
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	gif.Encode(&b, img, nil)
	return b.Bytes()
}

// webpOf writes the head of a lossless WebP (RFC 9649 §3.7.1): enough for
// its dimensions to be read, which is all the checks read. Go has no WebP
// encoder.
func webpOf(w, h int) []byte {
	bits := uint32(w-1) | uint32(h-1)<<14
	data := append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, bits)...)
	data = append(data, 0, 0, 0) // pad to an even chunk with room to spare
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}

func TestLogoChecks(t *testing.T) {
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	tests := []struct {
		name    string
		data    []byte
		wantTyp string
		wantErr string
	}{
		{"png", readLogo(t), "image/png", ""},
		{"jpeg", jpegOf(120, 40), "image/jpeg", ""},
		{"webp", webpOf(300, 100), "image/webp", ""},
		{"smallest", pngOf(16, 16, false), "image/png", ""},
		{"largest", pngOf(4096, 16, false), "image/png", ""},
		{"svg", svg, "", "SVG is not accepted"},
		{"svg without xml prolog", []byte(`<svg onload="alert(1)"/>`), "", "SVG is not accepted"},
		{"gif", gifOf(64, 64), "", "not a PNG, JPEG or WebP image (the content looks like image/gif)"},
		{"html", []byte("<html><script>x</script></html>"), "", "not a PNG, JPEG or WebP image"},
		{"empty", nil, "", "empty file"},
		{"too big", pngOf(400, 400, true), "", "larger than the 200 KB limit"},
		{"too small", pngOf(8, 64, false), "", "8×64 pixels: each side must be between 16 and 4096"},
		{"too wide", pngOf(5000, 20, false), "", "5000×20 pixels"},
		{"webp too tall", webpOf(100, 9000), "", "100×9000 pixels"},
		{"truncated png", readLogo(t)[:20], "", "unreadable image/png"},
		{"png signature only", []byte("\x89PNG\r\n\x1a\n"), "", "unreadable image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, _, err := checkLogo(tt.data)
			if tt.wantErr == "" {
				if err != nil || typ != tt.wantTyp {
					t.Errorf("checkLogo = %q, %v; want %s", typ, err, tt.wantTyp)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkLogo error = %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLogoPathNamesContent(t *testing.T) {
	a, err := newLogo("shop", readLogo(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newLogo("shop", jpegOf(100, 50))
	c, _ := newLogo("other", readLogo(t))
	if a.Path == b.Path || !strings.HasSuffix(b.Path, ".jpg") || !strings.HasPrefix(c.Path, LogoPathPrefix+"other-") {
		t.Errorf("paths %s, %s, %s: want one per site and content, with the type's extension", a.Path, b.Path, c.Path)
	}
	if a.Width != 512 || a.Height != 112 {
		t.Errorf("size %d×%d; want 512×112", a.Width, a.Height)
	}
}

// FuzzLogo feeds arbitrary bytes to the logo checks, which will see
// uploads through the admin API: no panic, and anything accepted is one of
// the three types within the size and dimension limits.
func FuzzLogo(f *testing.F) {
	f.Add(pngOf(16, 16, false))
	f.Add(jpegOf(20, 20))
	f.Add(webpOf(300, 100))
	f.Add(gifOf(16, 16))
	f.Add([]byte(`<svg onload="x"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, cfg, err := checkLogo(data)
		if err != nil {
			return
		}
		switch {
		case typ != "image/png" && typ != "image/jpeg" && typ != "image/webp":
			t.Fatalf("accepted type %q", typ)
		case len(data) > MaxLogoBytes:
			t.Fatalf("accepted %d bytes", len(data))
		case cfg.Width < MinLogoSide || cfg.Height < MinLogoSide || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide:
			t.Fatalf("accepted %d×%d", cfg.Width, cfg.Height)
		}
	})
}
