package icon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/kiwistack/endpoint/launchers/catalog"
)

// ICO renders the icon as a Windows .ico holding one 32-bit RGBA PNG per
// size in ICOSizes (PNG entries are read by Windows since Vista).
//
// Layout (all little-endian): ICONDIR {reserved 0, type 1, count}, then one
// 16-byte ICONDIRENTRY per image {width, height (0 means 256), colour count
// 0, reserved 0, planes 1, bits per pixel 32, byte size, offset}, then the
// PNG images in the same order.
func ICO(spec catalog.Icon) ([]byte, error) {
	pngs := make([][]byte, len(ICOSizes))
	for i, s := range ICOSizes {
		b, err := pngRGBA(spec, s)
		if err != nil {
			return nil, err
		}
		pngs[i] = b
	}
	var buf bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&buf, le, v) } // writes to a bytes.Buffer cannot fail
	w(uint16(0))
	w(uint16(1))
	w(uint16(len(pngs)))
	offset := 6 + 16*len(pngs)
	for i, s := range ICOSizes {
		dim := uint8(s)
		if s == 256 {
			dim = 0
		}
		w(dim)
		w(dim)
		w(uint8(0))
		w(uint8(0))
		w(uint16(1))
		w(uint16(32))
		w(uint32(len(pngs[i])))
		w(uint32(offset))
		offset += len(pngs[i])
	}
	for _, b := range pngs {
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// icnsTypes are the .icns element types holding PNG data, with their pixel
// sizes: icp4 16×16 and icp5 32×32 (macOS 10.7+), ic07 128×128 (10.7+),
// ic08 256×256 and ic09 512×512 (10.5+), ic10 1024×1024 (512×512@2x,
// 10.7+).
var icnsTypes = []struct {
	typ  string
	size int
}{
	{"icp4", 16}, {"icp5", 32}, {"ic07", 128}, {"ic08", 256}, {"ic09", 512}, {"ic10", 1024},
}

// ICNS renders the icon as a macOS .icns: the magic "icns" and the file's
// total length (big-endian), then one element per entry of icnsTypes: its
// four-byte type, its length including this 8-byte header (big-endian), and
// the PNG data.
func ICNS(spec catalog.Icon) ([]byte, error) {
	var body bytes.Buffer
	for _, t := range icnsTypes {
		b, err := PNG(spec, t.size)
		if err != nil {
			return nil, err
		}
		body.WriteString(t.typ)
		_ = binary.Write(&body, binary.BigEndian, uint32(8+len(b)))
		body.Write(b)
	}
	if body.Len()+8 > 1<<31 {
		return nil, fmt.Errorf("icns too large: %d bytes", body.Len())
	}
	out := make([]byte, 0, 8+body.Len())
	out = append(out, "icns"...)
	out = binary.BigEndian.AppendUint32(out, uint32(8+body.Len()))
	return append(out, body.Bytes()...), nil
}

// Batch renders every spec with render (ICO or ICNS) on all cores and
// returns the files in the order of specs, or the first error. The icons
// are independent and drawing them is most of a macOS or Windows render's
// time.
func Batch(specs []catalog.Icon, render func(catalog.Icon) ([]byte, error)) ([][]byte, error) {
	out := make([][]byte, len(specs))
	errs := make([]error, len(specs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(specs)) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = render(specs[i])
			}
		})
	}
	for i := range specs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
