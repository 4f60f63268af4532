package pages

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"

	"golang.org/x/image/webp"
)

// Logo limits. The page budget (under 50 KB with the logo) fits a logo
// of up to about 35 KB; MaxLogoBytes is the hard limit the issue sets, so
// that a merchant's existing logo file is accepted.
const (
	MaxLogoBytes = 200 << 10
	MinLogoSide  = 16
	MaxLogoSide  = 4096
)

// LogoPathPrefix is where Awning serves merchants' logos on every shop host.
const LogoPathPrefix = "/.well-known/awning/logo/"

// Logo is a checked logo image, ready to be served by Awning itself (never
// from the origin, which may be what is down).
type Logo struct {
	// Data is the image file as uploaded.
	Data []byte
	// Type is its media type: image/png, image/jpeg or image/webp.
	Type string
	// Width and Height are its pixel dimensions, written into the page so
	// that nothing moves when the image arrives.
	Width, Height int
	// Path is where the proxy serves it: /.well-known/awning/logo/
	// {site}-{hash}.{ext}. The hash is of the content, so the path changes
	// with the logo and the file can be cached for a year as immutable.
	Path string
}

// DataURL returns the logo as a data: URL, for previews saved to a file.
func (l *Logo) DataURL() string {
	return "data:" + l.Type + ";base64," + base64.StdEncoding.EncodeToString(l.Data)
}

// logo sniffing errors; the message says what to do.
var (
	errLogoEmpty = errors.New("empty file")
	errLogoSVG   = errors.New("SVG is not accepted (it can carry scripts); export a PNG or WebP")
)

// checkLogo sniffs data by its content (never by a file name) and checks
// its size and dimensions.
func checkLogo(data []byte) (typ string, cfg image.Config, err error) {
	if len(data) == 0 {
		return "", cfg, errLogoEmpty
	}
	if len(data) > MaxLogoBytes {
		return "", cfg, fmt.Errorf("%d KB is larger than the %d KB limit", (len(data)+1023)>>10, MaxLogoBytes>>10)
	}
	typ = http.DetectContentType(data)
	switch typ {
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "image/webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
	default:
		if looksLikeSVG(data) {
			return "", cfg, errLogoSVG
		}
		return "", cfg, fmt.Errorf("not a PNG, JPEG or WebP image (the content looks like %s)", typ)
	}
	if err != nil {
		return "", cfg, fmt.Errorf("unreadable %s: %v", typ, err)
	}
	if cfg.Width < MinLogoSide || cfg.Height < MinLogoSide || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return "", cfg, fmt.Errorf("%d×%d pixels: each side must be between %d and %d", cfg.Width, cfg.Height, MinLogoSide, MaxLogoSide)
	}
	return typ, cfg, nil
}

func looksLikeSVG(data []byte) bool {
	head := data[:min(len(data), 1024)]
	return bytes.Contains(bytes.ToLower(head), []byte("<svg"))
}

// newLogo checks data and names it for site.
func newLogo(site string, data []byte) (*Logo, error) {
	typ, cfg, err := checkLogo(data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	ext := map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[typ]
	return &Logo{
		Data:   data,
		Type:   typ,
		Width:  cfg.Width,
		Height: cfg.Height,
		Path:   LogoPathPrefix + site + "-" + hex.EncodeToString(sum[:6]) + "." + ext,
	}, nil
}
