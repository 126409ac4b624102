package bom_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/pkg/bom"
	"github.com/kiwistack/endpoint/packaging/pkg/internal/bomread"
	"github.com/kiwistack/endpoint/packaging/pkg/xar"
)

var mtime = time.Date(2017, 10, 13, 15, 31, 2, 0, time.UTC)

func appleBom(t *testing.T) *bomread.Bom {
	t.Helper()
	f, err := os.Open("../testdata/apple/Sample.pkg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	x, err := xar.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.ReadFile("base.pkg/Bom")
	if err != nil {
		t.Fatal(err)
	}
	r, err := bomread.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sample is the fixture's payload, described to the writer.
func sample() []bom.Entry {
	hello := []byte("Hello, World!\n")
	sum, _ := bom.Checksum(bytes.NewReader(hello))
	return []bom.Entry{
		{Path: "./Applications/hello.txt", Mode: 0o100644, UID: 502, GID: 20, MTime: mtime, Size: uint32(len(hello)), Checksum: sum},
		{Path: ".", Mode: 0o40755, UID: 502, GID: 20, MTime: mtime},
		{Path: "./Applications", Mode: 0o40755, UID: 502, GID: 20, MTime: mtime},
	}
}

// TestLikeApple writes the fixture's payload and compares what the
// independent reader finds with what it finds in Apple's Bom: paths and
// their attributes, record sizes, variables, trees and leaf layout.
func TestLikeApple(t *testing.T) {
	var buf bytes.Buffer
	if err := bom.Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	got, err := bomread.Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := appleBom(t)
	if len(got.Paths) != len(want.Paths) {
		t.Fatalf("paths %+v, Apple's %+v", got.Paths, want.Paths)
	}
	for i, w := range want.Paths {
		g := got.Paths[i]
		if w.Type == 2 {
			w.Size = g.Size // Apple records a directory's HFS size; we write 0
		}
		w.MTime = g.MTime // the fixture's own time
		if g != w {
			t.Errorf("path %d: %+v, Apple's %+v", i, g, w)
		}
	}
	if fmt.Sprint(got.VarOrder) != fmt.Sprint(want.VarOrder) {
		t.Errorf("variables %v, Apple's %v", got.VarOrder, want.VarOrder)
	}
	for name, w := range want.Trees {
		g := got.Trees[name]
		if g.BlockSize != w.BlockSize || g.PathCount != w.PathCount {
			t.Errorf("tree %s: %+v, Apple's %+v", name, g, w)
		}
		if got.BlockLen[g.Child] != want.BlockLen[w.Child] {
			t.Errorf("tree %s: leaf of %d bytes, Apple's %d", name, got.BlockLen[g.Child], want.BlockLen[w.Child])
		}
	}
	if got.InfoPaths != want.InfoPaths {
		t.Errorf("BomInfo: %d paths, Apple's %d", got.InfoPaths, want.InfoPaths)
	}
	if fmt.Sprint(got.LeafCounts) != fmt.Sprint(want.LeafCounts) {
		t.Errorf("leaves %v, Apple's %v", got.LeafCounts, want.LeafCounts)
	}
	if int(got.NonNull) != len(got.BlockLen) {
		t.Errorf("header counts %d blocks, the table has %d", got.NonNull, len(got.BlockLen))
	}
}

// TestManyPaths spreads paths over several leaves and reads them back.
func TestManyPaths(t *testing.T) {
	es := []bom.Entry{{Path: ".", Mode: 0o40755}, {Path: "./d", Mode: 0o40755}}
	for i := range 600 {
		es = append(es, bom.Entry{Path: fmt.Sprintf("./d/f%03d", i), Mode: 0o100644, Size: uint32(i), MTime: mtime})
	}
	es = append(es, bom.Entry{Path: "./d/link", Mode: 0o120755, LinkName: "f001", Size: 4, Checksum: 7})
	var buf bytes.Buffer
	if err := bom.Write(&buf, es); err != nil {
		t.Fatal(err)
	}
	got, err := bomread.Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Paths) != len(es) || len(got.LeafCounts) != 3 {
		t.Fatalf("%d paths in leaves %v, want %d in 3", len(got.Paths), got.LeafCounts, len(es))
	}
	for i, p := range got.Sorted() {
		if i >= 2 && i < 602 && p.Path != fmt.Sprintf("./d/f%03d", i-2) {
			t.Fatalf("path %d = %s", i, p.Path)
		}
	}
	if l := got.Sorted()[602]; l.Path != "./d/link" || l.Link != "f001" || l.Type != 3 || l.Size != 4 || l.Checksum != 7 || l.Record != 31+5 {
		t.Errorf("link = %+v", l)
	}
}

func TestWriteRefuses(t *testing.T) {
	for name, es := range map[string][]bom.Entry{
		"no root":       {{Path: "./a", Mode: 0o40755}},
		"no parent":     {{Path: ".", Mode: 0o40755}, {Path: "./a/b", Mode: 0o100644}},
		"parent a file": {{Path: ".", Mode: 0o40755}, {Path: "./a", Mode: 0o100644}, {Path: "./a/b", Mode: 0o100644}},
		"unclean":       {{Path: ".", Mode: 0o40755}, {Path: "./a/../b", Mode: 0o100644}},
		"twice":         {{Path: ".", Mode: 0o40755}, {Path: ".", Mode: 0o40755}},
	} {
		if err := bom.Write(&bytes.Buffer{}, es); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}

// TestChecksumIsCksum compares Checksum with POSIX cksum(1) (coreutils).
func TestChecksumIsCksum(t *testing.T) {
	for _, s := range []string{"", "Hello, World!\n", strings.Repeat("kiwi", 100000)} {
		cmd := exec.Command("cksum")
		cmd.Stdin = strings.NewReader(s)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cksum: %v", err)
		}
		got, err := bom.Checksum(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Fields(string(out))[0]; fmt.Sprint(got) != want {
			t.Errorf("Checksum of %d bytes = %d, cksum says %s", len(s), got, want)
		}
	}
}
