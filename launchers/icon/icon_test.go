package icon

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func defaults(t testing.TB) *catalog.Catalog {
	c, err := catalog.Defaults("acme", catalog.Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func nrgbaAt(img image.Image, x, y int) color.NRGBA {
	return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
}

// The drawing itself: transparent corners, the launcher's colour in the
// square, white strokes where the glyph is, at every hicolor size.
func TestDrawPixels(t *testing.T) {
	mail := catalog.Icon{Color: "#1d4ed8", Glyph: "envelope"}
	bg := color.NRGBA{0x1d, 0x4e, 0xd8, 255}
	white := color.NRGBA{255, 255, 255, 255}
	for _, s := range HicolorSizes {
		img, err := Draw(mail, s)
		if err != nil {
			t.Fatal(err)
		}
		at := func(fx, fy float64) color.NRGBA { return nrgbaAt(img, int(fx*float64(s)), int(fy*float64(s))) }
		if c := at(0, 0); c.A != 0 {
			t.Errorf("size %d: corner is not transparent: %v", s, c)
		}
		if c := at(0.99, 0.99); c.A != 0 {
			t.Errorf("size %d: far corner is not transparent: %v", s, c)
		}
		if c := at(0.14, 0.5); c != bg {
			t.Errorf("size %d: square at its left middle is %v, want %v", s, c, bg)
		}
		if c := at(0.5, 0.1); c != bg {
			t.Errorf("size %d: square at its top middle is %v, want %v", s, c, bg)
		}
		if s >= 32 {
			// The envelope's left edge and the middle of its flap are strokes.
			if c := at(0.25, 0.5); c != white {
				t.Errorf("size %d: envelope edge is %v, want white", s, c)
			}
			if c := at(0.5, 0.53); c != white {
				t.Errorf("size %d: envelope flap is %v, want white", s, c)
			}
			// Inside the envelope, away from strokes, the colour shows.
			if c := at(0.5, 0.62); c != bg {
				t.Errorf("size %d: inside the envelope is %v, want %v", s, c, bg)
			}
		}
	}
}

func TestEveryGlyphIsDrawnAndDistinct(t *testing.T) {
	if len(glyphs) != len(catalog.Glyphs) {
		t.Fatalf("catalog names %d glyphs, the renderer draws %d", len(catalog.Glyphs), len(glyphs))
	}
	seen := map[string]string{}
	for _, g := range catalog.Glyphs {
		img, err := Draw(catalog.Icon{Color: "#000000", Glyph: g}, 64)
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		white := 0
		for _, idx := range img.Pix {
			if int(idx) == 2*levels {
				white++
			}
		}
		// A glyph covers a visible but modest part of the square.
		if frac := float64(white) / (64 * 64); frac < 0.03 || frac > 0.3 {
			t.Errorf("%s: %.1f %% of the pixels are white", g, 100*frac)
		}
		h := fmt.Sprintf("%x", sha256.Sum256(img.Pix))
		if other, dup := seen[h]; dup {
			t.Errorf("%s draws the same as %s", g, other)
		}
		seen[h] = g
	}
}

func TestDrawRejects(t *testing.T) {
	for _, tc := range []struct {
		spec catalog.Icon
		size int
	}{
		{catalog.Icon{Color: "#1d4ed8", Glyph: "envelope"}, 4},
		{catalog.Icon{Color: "#1d4ed8", Glyph: "envelope"}, MaxSize + 1},
		{catalog.Icon{Color: "blue", Glyph: "envelope"}, 32},
		{catalog.Icon{Color: "#1d4ed8", Glyph: "logo"}, 32},
		{catalog.Icon{Color: "#1d4eg8", Glyph: "envelope"}, 32},
	} {
		if _, err := Draw(tc.spec, tc.size); err == nil {
			t.Errorf("Draw(%+v, %d) accepted", tc.spec, tc.size)
		}
	}
}

func TestPNGDecodes(t *testing.T) {
	spec := catalog.Icon{Color: "#15803d", Glyph: "camera"}
	for _, s := range HicolorSizes {
		b, err := PNG(spec, s)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("size %d: %v", s, err)
		}
		if img.Bounds().Dx() != s || img.Bounds().Dy() != s {
			t.Errorf("size %d: decoded %v", s, img.Bounds())
		}
		again, _ := PNG(spec, s)
		if !bytes.Equal(b, again) {
			t.Errorf("size %d: two renders differ", s)
		}
	}
}

// parseICO is an independent reader of the .ico layout.
func parseICO(t *testing.T, b []byte) map[int]image.Image {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 6 || le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 1 {
		t.Fatalf("not an icon directory")
	}
	n := int(le.Uint16(b[4:]))
	out := map[int]image.Image{}
	end := 6 + 16*n
	for i := 0; i < n; i++ {
		e := b[6+16*i:]
		w, h := int(e[0]), int(e[1])
		if w == 0 {
			w = 256
		}
		if h == 0 {
			h = 256
		}
		if e[2] != 0 || e[3] != 0 || le.Uint16(e[4:]) != 1 || le.Uint16(e[6:]) != 32 {
			t.Errorf("entry %d: colours %d, reserved %d, planes %d, bpp %d", i, e[2], e[3], le.Uint16(e[4:]), le.Uint16(e[6:]))
		}
		size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if off != end {
			t.Errorf("entry %d at %d, want %d (images follow each other)", i, off, end)
		}
		end = off + size
		if end > len(b) {
			t.Fatalf("entry %d runs past the end", i)
		}
		img, err := png.Decode(bytes.NewReader(b[off:end]))
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if _, ok := img.(*image.NRGBA); !ok {
			t.Errorf("entry %d is %T, want 32-bit RGBA", i, img)
		}
		if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			t.Errorf("entry %d: directory says %dx%d, PNG is %v", i, w, h, img.Bounds())
		}
		out[w] = img
	}
	if end != len(b) {
		t.Errorf("%d trailing bytes", len(b)-end)
	}
	return out
}

func TestICOHoldsEverySize(t *testing.T) {
	spec := catalog.Icon{Color: "#6d28d9", Glyph: "bubble"}
	b, err := ICO(spec)
	if err != nil {
		t.Fatal(err)
	}
	imgs := parseICO(t, b)
	for _, s := range ICOSizes {
		img, ok := imgs[s]
		if !ok {
			t.Errorf("no %dx%d image", s, s)
			continue
		}
		want, _ := Draw(spec, s)
		if nrgbaAt(img, s/2, s/10) != nrgbaAt(want, s/2, s/10) {
			t.Errorf("size %d: RGBA copy differs from the drawing", s)
		}
	}
	// The real reader: icotool lists every image with its size and depth.
	path := filepath.Join(t.TempDir(), "chat.ico")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := realtool.Run(t, "icotool", "icoutils", "-l", path)
	if err != nil {
		t.Fatalf("icotool -l: %v\n%s", err, out)
	}
	for _, s := range ICOSizes {
		if !regexp.MustCompile(fmt.Sprintf(`--width=%d --height=%d --bit-depth=32`, s, s)).MatchString(out) {
			t.Errorf("icotool does not list %dx%d:\n%s", s, s, out)
		}
	}
}

func TestICNS(t *testing.T) {
	spec := catalog.Icon{Color: "#c2410c", Glyph: "board"}
	b, err := ICNS(spec)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "icns" || int(binary.BigEndian.Uint32(b[4:])) != len(b) {
		t.Fatalf("bad header: %q %d (file is %d bytes)", b[:4], binary.BigEndian.Uint32(b[4:]), len(b))
	}
	off := 8
	for _, want := range icnsTypes {
		if off+8 > len(b) {
			t.Fatalf("missing %s", want.typ)
		}
		typ, n := string(b[off:off+4]), int(binary.BigEndian.Uint32(b[off+4:]))
		if typ != want.typ {
			t.Errorf("element %q, want %q", typ, want.typ)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b[off+8 : off+n]))
		if err != nil || cfg.Width != want.size || cfg.Height != want.size {
			t.Errorf("%s: %v %dx%d, want %dx%d", typ, err, cfg.Width, cfg.Height, want.size, want.size)
		}
		off += n
	}
	if off != len(b) {
		t.Errorf("%d trailing bytes", len(b)-off)
	}
	// The real reader: icns2png (libicns 0.8.1, Debian's) lists every
	// element with the size of its PNG data. It predates icp4, icp5 and
	// ic07 (it lists them as "0x0") and crashes extracting them, so only
	// the listing is asked of it.
	path := filepath.Join(t.TempDir(), "projects.icns")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := realtool.Run(t, "icns2png", "icnsutils", "-l", path)
	if err != nil {
		t.Fatalf("icns2png -l: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("Icon family size is %d bytes", len(b))) || !strings.Contains(out, "6 elements total") {
		t.Errorf("icns2png does not read the family:\n%s", out)
	}
	off = 8
	for _, want := range icnsTypes {
		n := int(binary.BigEndian.Uint32(b[off+4:]))
		re := regexp.MustCompile(fmt.Sprintf(`'%s' .*\b%d( bytes)?\)`, want.typ, n-8))
		if !re.MatchString(out) {
			t.Errorf("icns2png does not list %s with %d bytes:\n%s", want.typ, n-8, out)
		}
		off += n
	}
	for _, want := range []string{"'ic08' 256x256 32-bit", "'ic09' 512x512 32-bit", "'ic10' 1024x1024 32-bit"} {
		if !strings.Contains(out, want) {
			t.Errorf("icns2png does not decode %s:\n%s", want, out)
		}
	}
}

// Golden hashes of every icon the default catalog produces: a change in
// drawing or encoding shows up here, and the rendered bytes are stable
// across runs. Go's flate and float rounding make the hashes specific to
// the architecture; they are checked on amd64.
func TestGoldenHashes(t *testing.T) {
	var lines []string
	for _, l := range defaults(t).Launchers {
		for _, s := range HicolorSizes {
			b, err := PNG(l.Icon, s)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%s %s-%d.png", hash(b), l.ID, s))
		}
		ico, err := ICO(l.Icon)
		if err != nil {
			t.Fatal(err)
		}
		icns, err := ICNS(l.Icon)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %s.ico", hash(ico), l.ID), fmt.Sprintf("%s %s.icns", hash(icns), l.ID))
	}
	got := []byte(strings.Join(lines, "\n") + "\n")
	path := filepath.Join("testdata", "hashes.txt")
	if *update {
		if runtime.GOARCH != "amd64" {
			t.Fatalf("golden hashes are recorded on amd64")
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("golden hashes are recorded on amd64, this is %s", runtime.GOARCH)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("icon bytes changed (go test -update records the new hashes after a look at the images):\n%s", got)
	}
}

func hash(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:8]) }

func BenchmarkHicolorSet(b *testing.B) {
	spec := catalog.Icon{Color: "#1d4ed8", Glyph: "envelope"}
	for b.Loop() {
		for _, s := range HicolorSizes {
			if _, err := PNG(spec, s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Batch gives each spec's file, in order, as rendering them one by one
// does, and the error of a spec that cannot be drawn.
func TestBatch(t *testing.T) {
	var specs []catalog.Icon
	for _, l := range defaults(t).Launchers {
		specs = append(specs, l.Icon)
	}
	got, err := Batch(specs, ICO)
	if err != nil || len(got) != len(specs) {
		t.Fatalf("%d files, %v", len(got), err)
	}
	for i, s := range specs {
		if want, _ := ICO(s); !bytes.Equal(got[i], want) {
			t.Errorf("file %d is not ICO(%v)", i, s)
		}
	}
	if _, err := Batch(append(specs, catalog.Icon{Color: "#000000", Glyph: "nope"}), ICNS); err == nil {
		t.Errorf("an unknown glyph gave no error")
	}
}
