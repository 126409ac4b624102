// Package icon draws the launchers' icons (no third-party logos: a rounded
// square in the launcher's colour with a white line glyph) and encodes them
// as PNG, Windows .ico and macOS .icns. Everything here is a pure function
// from a catalog.Icon and a size to bytes: the same input gives the same
// bytes on a given architecture and Go release. It writes no file.
package icon

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"sync"

	"github.com/kiwistack/endpoint/launchers/catalog"
)

// HicolorSizes are the sizes the Linux hicolor theme gets
// (/usr/share/icons/hicolor/<size>x<size>/apps/).
var HicolorSizes = []int{16, 22, 24, 32, 48, 64, 128, 256, 512}

// ICOSizes are the sizes in a Windows .ico.
var ICOSizes = []int{16, 24, 32, 48, 64, 128, 256}

// MaxSize is the largest icon Draw renders (the .icns 512@2x entry).
const MaxSize = 1024

// levels is the number of anti-aliasing steps; the palette holds
// 2*levels+1 colours.
const levels = 32

// Draw renders the icon at size×size pixels as a paletted image: fully
// transparent outside the rounded square, the launcher's colour inside, the
// glyph in white, with anti-aliased edges.
func Draw(spec catalog.Icon, size int) (*image.Paletted, error) {
	if size < 8 || size > MaxSize {
		return nil, fmt.Errorf("icon size %d: want 8 to %d", size, MaxSize)
	}
	bg, err := parseColor(spec.Color)
	if err != nil {
		return nil, err
	}
	g, ok := glyphs[spec.Glyph]
	if !ok {
		return nil, fmt.Errorf("icon glyph %q: unknown", spec.Glyph)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), palette(bg))
	s := float64(size)
	px := 1 / s // one pixel in unit coordinates
	// The rounded square keeps a margin of 1/16 of the icon, as hicolor
	// icons do, so it does not touch its neighbours in a dock.
	m := 1.0 / 16
	if m < px {
		m = px
	}
	half := 0.5 - m
	radius := 0.22 * (1 - 2*m)
	hw := 0.0375 // half the stroke width: 7.5 % of the icon
	if min := 0.8 * px; hw < min {
		hw = min // keep strokes at least 1.6 px wide on small icons
	}
	x0, y0, x1, y1 := g.bounds(hw+2*px, size)
	parts := g.prepare(hw + 2*px)
	straight := half - radius // rows within this of the centre have no rounded corner
	for y := 0; y < size; y++ {
		py := (float64(y) + 0.5) * px
		row := img.Pix[y*img.Stride : y*img.Stride+size]
		// In rows clear of the corners, pixels more than a pixel inside the
		// square's sides are fully covered: no distance to compute.
		inner0, inner1 := size, 0
		if math.Abs(py-0.5) <= straight-px {
			inner0 = int(math.Ceil((0.5-half+px)*s - 0.5))
			inner1 = int(math.Floor((0.5+half-px)*s - 0.5))
		}
		for x := 0; x < size; x++ {
			if x >= inner0 && x <= inner1 {
				row[x] = uint8(levels)
				continue
			}
			d := sdRoundBox(vec{(float64(x) + 0.5) * px, py}, vec{0.5, 0.5}, vec{half, half}, radius)
			ka := min(quantize(coverage(d, px)), levels)
			row[x] = uint8(ka)
			// The distance is 1-Lipschitz and pixels are px apart: the next
			// k pixels are at least d-k*px outside (or inside), so while
			// that stays beyond half a pixel they are as clear (or as
			// covered) as this one, and need no distance of their own.
			if ka == 0 || ka == levels {
				k := int((math.Abs(d) - 0.5*px - 1e-9) / px)
				for ; k > 0 && x+1 < size && (x+1 < inner0 || x+1 > inner1); k-- {
					x++
					row[x] = uint8(ka)
				}
			}
		}
	}
	// The glyph, in tiles: the glyph's distance is 1-Lipschitz, so one
	// distance at a tile's centre tells whether the whole tile is clear of
	// the glyph, or wholly inside a stroke, and only tiles across a stroke's
	// edge are computed pixel by pixel. Tiles of 32 pixels go first, then
	// the 8-pixel tiles of those that are neither.
	const big, tile = 32, 8
	reachOf := func(n int) float64 { return math.Sqrt2*float64(n)/2*px + 0.5*px + 1e-9 }
	bigReach, reach := reachOf(big), reachOf(tile)
	// fill marks a tile's square pixels (not its rim) as wholly inside a
	// stroke: what the per-pixel coverage gives there.
	fill := func(tx, ty, n int) {
		for y := ty; y < ty+n && y < y1; y++ {
			row := img.Pix[y*img.Stride : y*img.Stride+size]
			for x := tx; x < tx+n && x < x1; x++ {
				if row[x] == levels {
					row[x] = 2 * levels
				}
			}
		}
	}
	for by := y0; by < y1; by += big {
		for bx := x0; bx < x1; bx += big {
			d := g.dist(vec{(float64(bx) + big/2) * px, (float64(by) + big/2) * px}, hw)
			switch {
			case d >= bigReach:
				continue
			case d <= -bigReach:
				fill(bx, by, big)
				continue
			}
			for ty := by; ty < by+big && ty < y1; ty += tile {
				for tx := bx; tx < bx+big && tx < x1; tx += tile {
					c := vec{(float64(tx) + tile/2) * px, (float64(ty) + tile/2) * px}
					d := g.dist(c, hw)
					switch {
					case d >= reach:
						continue
					case d <= -reach:
						fill(tx, ty, tile)
						continue
					}
					for y := ty; y < ty+tile && y < y1; y++ {
						py := (float64(y) + 0.5) * px
						row := img.Pix[y*img.Stride : y*img.Stride+size]
						for x := tx; x < tx+tile && x < x1; x++ {
							if row[x] != levels {
								continue // the square's rim: the glyph never reaches it
							}
							kg := quantize(coverage(parts.dist(vec{(float64(x) + 0.5) * px, py}, hw), px))
							row[x] = uint8(levels + kg)
						}
					}
				}
			}
		}
	}
	return img, nil
}

// PNG renders the icon at size×size as a PNG (paletted, with transparency).
func PNG(spec catalog.Icon, size int) ([]byte, error) {
	img, err := Draw(spec, size)
	if err != nil {
		return nil, err
	}
	return encodePNG(img)
}

// pngRGBA renders the icon as a 32-bit RGBA PNG, the form Windows expects
// inside an .ico.
func pngRGBA(spec catalog.Icon, size int) ([]byte, error) {
	img, err := Draw(spec, size)
	if err != nil {
		return nil, err
	}
	rgba := image.NewNRGBA(img.Rect)
	pal := make([]color.NRGBA, len(img.Palette))
	for i, c := range img.Palette {
		pal[i] = c.(color.NRGBA)
	}
	for i, idx := range img.Pix {
		c := pal[idx]
		copy(rgba.Pix[4*i:4*i+4], []uint8{c.R, c.G, c.B, c.A})
	}
	return encodePNG(rgba)
}

// bufferPool lets PNG encodings reuse their zlib state, which is most of
// the cost of encoding a small image.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() *png.EncoderBuffer {
	e, _ := b.p.Get().(*png.EncoderBuffer)
	return e
}

func (b *bufferPool) Put(e *png.EncoderBuffer) { b.p.Put(e) }

var encoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &bufferPool{}}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := &encoder
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding png: %w", err)
	}
	return buf.Bytes(), nil
}

func parseColor(s string) (color.NRGBA, error) {
	var c color.NRGBA
	if len(s) != 7 || s[0] != '#' {
		return c, fmt.Errorf("icon colour %q: want #rrggbb", s)
	}
	var v [3]uint8
	for i := range v {
		hi, ok1 := hexVal(s[1+2*i])
		lo, ok2 := hexVal(s[2+2*i])
		if !ok1 || !ok2 {
			return c, fmt.Errorf("icon colour %q: want #rrggbb", s)
		}
		v[i] = hi<<4 | lo
	}
	return color.NRGBA{v[0], v[1], v[2], 255}, nil
}

func hexVal(c byte) (uint8, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// palette is: index 0 transparent; 1..levels the background colour with
// rising alpha (the square's anti-aliased rim); levels+1..2*levels the
// background blended towards white (the glyph's anti-aliased strokes).
func palette(bg color.NRGBA) color.Palette {
	p := make(color.Palette, 0, 2*levels+1)
	for k := 0; k <= levels; k++ {
		p = append(p, color.NRGBA{bg.R, bg.G, bg.B, uint8((255*k + levels/2) / levels)})
	}
	mix := func(c uint8, k int) uint8 { return uint8((int(c)*(levels-k) + 255*k + levels/2) / levels) }
	for k := 1; k <= levels; k++ {
		p = append(p, color.NRGBA{mix(bg.R, k), mix(bg.G, k), mix(bg.B, k), 255})
	}
	return p
}

// coverage turns a signed distance (negative inside) into the covered
// fraction of a pixel of width px.
func coverage(d, px float64) float64 {
	c := 0.5 - d/px
	if c < 0 {
		return 0
	}
	if c > 1 {
		return 1
	}
	return c
}

func quantize(c float64) int { return int(math.Floor(c*levels + 0.5)) }

type vec struct{ x, y float64 }

// The distance functions round every product explicitly (float64(…)) so
// that no architecture fuses them into FMA instructions: the bytes must not
// depend on the compiler's choices.

func length(x, y float64) float64 { return math.Sqrt(float64(x*x) + float64(y*y)) }

// sdRoundBox is the signed distance from p to a box centred at c with half
// extents h and corner radius r.
func sdRoundBox(p, c, h vec, r float64) float64 {
	qx := math.Abs(p.x-c.x) - (h.x - r)
	qy := math.Abs(p.y-c.y) - (h.y - r)
	return length(fmax(qx, 0), fmax(qy, 0)) + fmin(fmax(qx, qy), 0) - r
}

// sdSegment is the distance from p to the segment a-b.
func sdSegment(p, a, b vec) float64 {
	pax, pay := p.x-a.x, p.y-a.y
	bax, bay := b.x-a.x, b.y-a.y
	h := (float64(pax*bax) + float64(pay*bay)) / (float64(bax*bax) + float64(bay*bay))
	h = fmax(0, fmin(1, h))
	return length(pax-float64(bax*h), pay-float64(bay*h))
}

// fmin and fmax are math.Min and math.Max for the finite values used here,
// without their NaN and signed-zero handling, which is not inlined.
func fmin(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}

func fmax(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
