package bomread

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/kiwistack/endpoint/packaging/pkg/xar"
)

// appleBom returns the Bom of the package made by Apple's tools.
func appleBom(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open("../../testdata/apple/Sample.pkg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	x, err := xar.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.ReadFile("base.pkg/Bom")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppleBom proves the reader on Apple's ground truth: the paths, modes,
// owners and sizes the fixture's README lists, and the cksum of hello.txt.
func TestAppleBom(t *testing.T) {
	b, err := Read(appleBom(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []Path{
		{Path: ".", Type: 2, Mode: 0o40755, UID: 502, GID: 20},
		{Path: "./Applications", Type: 2, Mode: 0o40755, UID: 502, GID: 20},
		{Path: "./Applications/hello.txt", Type: 1, Mode: 0o100644, UID: 502, GID: 20, Size: 14, Checksum: 1051740612},
	}
	if len(b.Paths) != len(want) {
		t.Fatalf("paths = %+v, want %d", b.Paths, len(want))
	}
	for i, w := range want {
		g := b.Paths[i]
		if g.Path != w.Path || g.Type != w.Type || g.Mode != w.Mode || g.UID != w.UID || g.GID != w.GID ||
			(w.Type == 1 && (g.Size != w.Size || g.Checksum != w.Checksum)) {
			t.Errorf("path %d = %+v, want %+v", i, g, w)
		}
	}
	for _, v := range []string{"BomInfo", "Paths", "HLIndex", "VIndex", "Size64"} {
		if _, ok := b.Vars[v]; !ok {
			t.Errorf("variable %s missing", v)
		}
	}
	if b.InfoPaths != 4 {
		t.Errorf("BomInfo counts %d paths, want 4 (3 + 1)", b.InfoPaths)
	}
	if tr := b.Trees["Paths"]; tr.BlockSize != 4096 || tr.PathCount != 3 {
		t.Errorf("Paths tree = %+v", tr)
	}
	if tr := b.Trees["VIndex"]; tr.BlockSize != 128 {
		t.Errorf("VIndex tree = %+v", tr)
	}
}

// FuzzRead: the reader never panics and never loops on any input.
func FuzzRead(f *testing.F) {
	f.Add(appleBom(f))
	f.Add([]byte("BOMStore"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Read(b)
	})
}

// A symbolic link's record, laid out by hand from the format description
// (bomutils' BOMPathInfo2, as mkbom fills it from ls4mkbom): type 3, the
// target's length as size, the cksum of the target, then the target's
// length with its NUL and the target.
func TestParseLink(t *testing.T) {
	target := "/Applications/KiwiStack/KiwiStack.app/Contents/MacOS/kiwistack-agent"
	a := []byte{3, 1, 0x00, 0x0f, 0o120755 >> 8, 0o120755 & 0xff}
	a = binary.BigEndian.AppendUint32(a, 0)                   // user
	a = binary.BigEndian.AppendUint32(a, 0)                   // group
	a = binary.BigEndian.AppendUint32(a, 1795852800)          // mtime
	a = binary.BigEndian.AppendUint32(a, uint32(len(target))) // size
	a = append(a, 1)
	a = binary.BigEndian.AppendUint32(a, 123456789)             // checksum
	a = binary.BigEndian.AppendUint32(a, uint32(len(target)+1)) // link name length
	a = append(append(a, target...), 0)
	p, err := parseAttr(a)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != 3 || p.Mode != 0o120755 || p.Size != uint32(len(target)) || p.Checksum != 123456789 || p.Link != target || p.MTime != 1795852800 {
		t.Errorf("link record read as %+v", p)
	}
	if _, err := parseAttr(a[:len(a)-10]); err == nil {
		t.Error("a link name past the record was accepted")
	}
}
