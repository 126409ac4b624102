// Package bomread reads the path list of a macOS bill of materials
// (BOMStore) for the tests of packaging/pkg. It is written from the
// published description of the format (bomutils' documentation and lsbom),
// not from package bom's writer, so that a test reading the writer's output
// with it checks the writer against an independent understanding of the
// format; its own tests prove it on a Bom made by Apple's tools.
//
// It is a test aid: it lists paths and their attributes, validates every
// offset it follows, and does not interpret hard-link, size or VIndex trees.
package bomread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Path is one path of the Paths tree, as lsbom prints it.
type Path struct {
	Path     string // "./Applications/hello.txt"
	Type     int    // 1 file, 2 directory, 3 symbolic link, 4 device
	Arch     uint16
	Mode     uint16 // st_mode, type bits included
	UID, GID uint32
	MTime    uint32
	Size     uint32
	Checksum uint32
	Link     string // a symbolic link's target (type 3), without its NUL
	// Record is the length of the path's attribute record in bytes.
	Record int
}

// Tree is a B-tree variable ("tree" record).
type Tree struct {
	Child, BlockSize, PathCount uint32
}

// Bom is what Read finds.
type Bom struct {
	Vars       map[string]uint32 // variable name to block number
	VarOrder   []string
	Blocks     int // entries in the block table, null ones included
	NonNull    uint32
	BlockLen   map[uint32]uint32 // block number to length
	InfoPaths  uint32            // BomInfo's path count (paths + 1)
	Trees      map[string]Tree   // Paths, HLIndex, Size64 and the VIndex tree ("VIndex")
	LeafCounts []int             // entries per leaf of the Paths tree, in order
	Paths      []Path            // in tree order
}

var errTrunc = errors.New("bom: truncated or out of range")

type rd struct{ b []byte }

func (r rd) u32(off uint64) (uint32, error) {
	if off+4 > uint64(len(r.b)) {
		return 0, errTrunc
	}
	return binary.BigEndian.Uint32(r.b[off:]), nil
}

func (r rd) u16(off uint64) (uint16, error) {
	if off+2 > uint64(len(r.b)) {
		return 0, errTrunc
	}
	return binary.BigEndian.Uint16(r.b[off:]), nil
}

// Read parses b.
func Read(b []byte) (*Bom, error) {
	r := rd{b}
	if len(b) < 32 || string(b[:8]) != "BOMStore" {
		return nil, errors.New("bom: no BOMStore header")
	}
	// Header after the magic: version, non-null block count, index table
	// offset and length, variables offset and length.
	var h [6]uint32
	for i := range h {
		h[i], _ = r.u32(uint64(8 + 4*i))
	}
	if h[0] != 1 {
		return nil, fmt.Errorf("bom: version %d", h[0])
	}
	out := &Bom{Vars: map[string]uint32{}, BlockLen: map[uint32]uint32{}, Trees: map[string]Tree{}, NonNull: h[1]}
	idx := uint64(h[2])
	n, err := r.u32(idx)
	if err != nil {
		return nil, err
	}
	if uint64(n)*8 > uint64(len(b)) {
		return nil, errTrunc
	}
	out.Blocks = int(n)
	type ptr struct{ addr, length uint32 }
	table := make([]ptr, n)
	for i := range table {
		a, err := r.u32(idx + 4 + 8*uint64(i))
		if err != nil {
			return nil, err
		}
		l, err := r.u32(idx + 8 + 8*uint64(i))
		if err != nil {
			return nil, err
		}
		if uint64(a)+uint64(l) > uint64(len(b)) {
			return nil, fmt.Errorf("bom: block %d outside the file", i)
		}
		table[i] = ptr{a, l}
		if l > 0 {
			out.BlockLen[uint32(i)] = l
		}
	}
	block := func(i uint32) ([]byte, error) {
		if i == 0 || i >= uint32(len(table)) {
			return nil, fmt.Errorf("bom: block %d does not exist", i)
		}
		p := table[i]
		return b[p.addr : p.addr+p.length], nil
	}
	// Variables: count, then (block, name length, name).
	vo := uint64(h[4])
	count, err := r.u32(vo)
	if err != nil {
		return nil, err
	}
	off := vo + 4
	for range count {
		blk, err := r.u32(off)
		if err != nil {
			return nil, err
		}
		if off+5 > uint64(len(b)) {
			return nil, errTrunc
		}
		l := uint64(b[off+4])
		if off+5+l > uint64(len(b)) {
			return nil, errTrunc
		}
		name := string(b[off+5 : off+5+l])
		out.Vars[name] = blk
		out.VarOrder = append(out.VarOrder, name)
		off += 5 + l
	}
	if blk, ok := out.Vars["BomInfo"]; ok {
		bi, err := block(blk)
		if err != nil {
			return nil, err
		}
		out.InfoPaths, err = rd{bi}.u32(4)
		if err != nil {
			return nil, err
		}
	}
	readTree := func(blk uint32) (Tree, error) {
		t, err := block(blk)
		if err != nil {
			return Tree{}, err
		}
		if len(t) < 21 || string(t[:4]) != "tree" {
			return Tree{}, fmt.Errorf("bom: block %d is not a tree", blk)
		}
		tr := rd{t}
		c, _ := tr.u32(8)
		bs, _ := tr.u32(12)
		pc, _ := tr.u32(16)
		return Tree{c, bs, pc}, nil
	}
	for _, name := range []string{"Paths", "HLIndex", "Size64"} {
		if blk, ok := out.Vars[name]; ok {
			t, err := readTree(blk)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out.Trees[name] = t
		}
	}
	if blk, ok := out.Vars["VIndex"]; ok {
		v, err := block(blk)
		if err != nil {
			return nil, err
		}
		vt, err := rd{v}.u32(4)
		if err != nil {
			return nil, err
		}
		t, err := readTree(vt)
		if err != nil {
			return nil, fmt.Errorf("VIndex: %w", err)
		}
		out.Trees["VIndex"] = t
	}
	paths, ok := out.Trees["Paths"]
	if !ok {
		return nil, errors.New("bom: no Paths tree")
	}
	// Descend to the leftmost leaf, then follow the leaves' forward links.
	node := paths.Child
	for depth := 0; ; depth++ {
		if depth > 32 {
			return nil, errors.New("bom: Paths tree too deep")
		}
		nb, err := block(node)
		if err != nil {
			return nil, err
		}
		leaf, err := rd{nb}.u16(0)
		if err != nil {
			return nil, err
		}
		if leaf == 1 {
			break
		}
		node, err = rd{nb}.u32(12) // first index's child
		if err != nil {
			return nil, err
		}
	}
	type rec struct {
		id, parent uint32
		name       string
		p          Path
	}
	var recs []rec
	seen := map[uint32]bool{}
	for node != 0 {
		if seen[node] {
			return nil, errors.New("bom: leaves form a loop")
		}
		seen[node] = true
		nb, err := block(node)
		if err != nil {
			return nil, err
		}
		lr := rd{nb}
		cnt, err := lr.u16(2)
		if err != nil {
			return nil, err
		}
		fwd, err := lr.u32(4)
		if err != nil {
			return nil, err
		}
		out.LeafCounts = append(out.LeafCounts, int(cnt))
		for i := range uint64(cnt) {
			i1, err := lr.u32(12 + 8*i)
			if err != nil {
				return nil, err
			}
			f, err := lr.u32(16 + 8*i)
			if err != nil {
				return nil, err
			}
			// Key: parent id and NUL-terminated name.
			fb, err := block(f)
			if err != nil {
				return nil, err
			}
			parent, err := rd{fb}.u32(0)
			if err != nil {
				return nil, err
			}
			name := string(fb[4:])
			if k := indexNUL(name); k >= 0 {
				name = name[:k]
			}
			// Value: (id, attribute block).
			vb, err := block(i1)
			if err != nil {
				return nil, err
			}
			id, err := rd{vb}.u32(0)
			if err != nil {
				return nil, err
			}
			ab, err := rd{vb}.u32(4)
			if err != nil {
				return nil, err
			}
			attr, err := block(ab)
			if err != nil {
				return nil, err
			}
			p, err := parseAttr(attr)
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec{id, parent, name, p})
		}
		node = fwd
	}
	// Full paths from the parent ids.
	byID := map[uint32]int{}
	for i, r := range recs {
		byID[r.id] = i
	}
	for i := range recs {
		full := recs[i].name
		cur := recs[i].parent
		for hops := 0; cur != 0; hops++ {
			j, ok := byID[cur]
			if !ok || hops > len(recs) {
				return nil, fmt.Errorf("bom: %s has a broken parent chain", recs[i].name)
			}
			full = recs[j].name + "/" + full
			cur = recs[j].parent
		}
		recs[i].p.Path = full
		out.Paths = append(out.Paths, recs[i].p)
	}
	return out, nil
}

func indexNUL(s string) int {
	for i := range len(s) {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

// parseAttr reads a path's attributes: type, a byte, architecture, mode,
// user, group, mtime, size, a byte, checksum, link name length and name.
func parseAttr(a []byte) (Path, error) {
	if len(a) < 31 {
		return Path{}, fmt.Errorf("bom: attribute record of %d bytes", len(a))
	}
	r := rd{a}
	p := Path{Type: int(a[0]), Record: len(a)}
	p.Arch, _ = r.u16(2)
	p.Mode, _ = r.u16(4)
	p.UID, _ = r.u32(6)
	p.GID, _ = r.u32(10)
	p.MTime, _ = r.u32(14)
	p.Size, _ = r.u32(18)
	p.Checksum, _ = r.u32(23)
	ll, _ := r.u32(27)
	if uint64(ll) > uint64(len(a)-31) {
		return Path{}, errTrunc
	}
	if ll > 0 {
		p.Link = string(a[31 : 31+ll])
		if k := indexNUL(p.Link); k >= 0 {
			p.Link = p.Link[:k]
		}
	}
	return p, nil
}

// Sorted returns the paths sorted by name.
func (b *Bom) Sorted() []Path {
	ps := append([]Path(nil), b.Paths...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}
