// Package bom writes a macOS bill of materials: the BOMStore file (Bom)
// that a flat package's component carries beside its Payload, listing every
// path with its type, mode, owner, size and checksum. Installer records it
// as the package's receipt (pkgutil --files, lsbom).
//
// The format is Apple's and undocumented; this writer follows the published
// reverse-engineered description (bomutils' bom.h and mkbom) and the Bom of
// a package made by Apple's own tools (../shared/fixtures/macos-pkg): a
// 512-byte header "BOMStore", numbered blocks located by a block table, and
// the named variables BomInfo, Paths, HLIndex, VIndex and Size64, all
// big-endian. It writes only; it does not read Boms (tests do, with their own
// reader) and it does not know about cpio or xar.
package bom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Entry is one path of the bill of materials.
type Entry struct {
	Path     string    // "." for the install root, else "./usr/local/bin/x"
	Mode     uint32    // st_mode: type bits (0o040000, 0o100000, 0o120000) and permissions
	UID, GID uint32    // numeric owner
	MTime    time.Time // modification time
	Size     uint32    // bytes of a regular file
	Checksum uint32    // POSIX cksum CRC of a regular file's content ([Checksum])
	LinkName string    // target of a symbolic link
}

// Path record types.
const (
	typeFile = 1
	typeDir  = 2
	typeLink = 3
)

// architecture is the 16-bit field Apple's pkgbuild writes for every path
// in the fixture (0x000f); bomutils writes 3. Its meaning is not known.
const architecture = 0x000f

// Tree block sizes as in Apple's Boms: 4096 for Paths, HLIndex and Size64,
// 128 for the VIndex tree. Leaf blocks are padded to them.
const (
	pageSize  = 4096
	vPageSize = 128
	// leafMax is how many paths one leaf holds, as mkbom splits them.
	leafMax = 256
)

// Write writes the Bom of entries to w. entries must hold "." and every
// parent directory of every path; order does not matter.
func Write(w io.Writer, entries []Entry) error {
	nodes, err := order(entries)
	if err != nil {
		return err
	}
	var s store
	info := s.reserve()  // 1 BomInfo
	paths := s.reserve() // 2 Paths tree
	var total uint32
	for _, n := range nodes {
		if n.e.Mode&0o170000 == 0o100000 {
			total += n.e.Size
		}
	}
	// BomInfo: version 1, number of paths + 1, one entry whose third word
	// is the payload's total size (Apple's fixture: 14 for its one file).
	bi := be(uint32(1), uint32(len(nodes)+1), uint32(1), uint32(0), uint32(0), total, uint32(0))
	s.set(info, bi)

	// Paths: one leaf per leafMax paths, in breadth-first order, which is
	// the order of the key (parent id, name); several leaves hang from a
	// branch and are chained forward and backward.
	type leafRef struct{ block, lastFile uint32 }
	var leaves []leafRef
	var leafBlocks []uint32
	for start := 0; start < len(nodes); start += leafMax {
		end := min(start+leafMax, len(nodes))
		leaf := s.reserve()
		var ix bytes.Buffer
		var lastFile uint32
		for i := start; i < end; i++ {
			n := nodes[i]
			info2 := s.add(pathInfo(n.e))
			file := s.add(append(be(n.parent), append([]byte(n.name), 0)...))
			info1 := s.add(be(n.id, info2))
			ix.Write(be(info1, file))
			lastFile = file
		}
		leafBlocks = append(leafBlocks, leaf)
		leaves = append(leaves, leafRef{leaf, lastFile})
		s.set(leaf, ix.Bytes()) // header filled below, once neighbours are known
	}
	if len(leaves) == 0 {
		leaf := s.reserve()
		leafBlocks = append(leafBlocks, leaf)
		leaves = append(leaves, leafRef{leaf, 0})
	}
	for i, l := range leaves {
		var fwd, back uint32
		if i+1 < len(leaves) {
			fwd = leaves[i+1].block
		}
		if i > 0 {
			back = leaves[i-1].block
		}
		body := s.blocks[l.block]
		count := len(body) / 8
		s.set(l.block, pad(append(be16(1, uint16(count)), append(be(fwd, back), body...)...), pageSize))
	}
	root := leafBlocks[0]
	if len(leaves) > 1 {
		var ix bytes.Buffer
		for _, l := range leaves {
			ix.Write(be(l.block, l.lastFile))
		}
		root = s.add(pad(append(be16(0, uint16(len(leaves))), append(be(0, 0), ix.Bytes()...)...), pageSize))
	}
	s.set(paths, tree(root, pageSize, uint32(len(nodes))))

	// HLIndex (hard links), VIndex and Size64: empty trees, as in the fixture.
	hl := s.add(nil)
	s.set(hl, tree(s.add(emptyLeaf(pageSize)), pageSize, 0))
	vindex := s.add(nil)
	vtree := s.add(nil)
	s.set(vtree, tree(s.add(emptyLeaf(vPageSize)), vPageSize, 0))
	s.set(vindex, append(be(1, vtree, 0), 0))
	size64 := s.add(nil)
	s.set(size64, tree(s.add(emptyLeaf(pageSize)), pageSize, 0))

	vars := []struct {
		name  string
		block uint32
	}{{"BomInfo", info}, {"Paths", paths}, {"HLIndex", hl}, {"VIndex", vindex}, {"Size64", size64}}
	var vb bytes.Buffer
	vb.Write(be(uint32(len(vars))))
	for _, v := range vars {
		vb.Write(be(v.block))
		vb.WriteByte(byte(len(v.name)))
		vb.WriteString(v.name)
	}
	_, err = w.Write(s.encode(vb.Bytes()))
	if err != nil {
		return fmt.Errorf("writing bom: %w", err)
	}
	return nil
}

// pathInfo encodes a path's attributes (bomutils' BOMPathInfo2).
func pathInfo(e Entry) []byte {
	var typ byte
	switch e.Mode & 0o170000 {
	case 0o040000:
		typ = typeDir
	case 0o120000:
		typ = typeLink
	default:
		typ = typeFile
	}
	b := []byte{typ, 1}
	b = append(b, be16(architecture, uint16(e.Mode))...)
	b = append(b, be(e.UID, e.GID, uint32(e.MTime.Unix()), e.Size)...)
	b = append(b, 1)
	var link []byte
	if typ == typeLink {
		link = append([]byte(e.LinkName), 0)
	}
	b = append(b, be(e.Checksum, uint32(len(link)))...)
	b = append(b, link...)
	if typ == typeFile {
		// Apple's pkgbuild ends a regular file's record with four zero
		// bytes (35 bytes for hello.txt in the fixture); bomutils does not.
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

type node struct {
	e          Entry
	id, parent uint32
	name       string
}

// order checks entries and returns them breadth first, children sorted by
// name, numbered from 1; the root "." has parent 0.
func order(entries []Entry) ([]node, error) {
	byPath := map[string]Entry{}
	children := map[string][]string{}
	for _, e := range entries {
		p := e.Path
		rel, ok := strings.CutPrefix(p, "./")
		if p != "." && (!ok || rel == "" || path.Clean(rel) != rel || rel == "." || strings.HasPrefix(rel, "../") || rel == "..") {
			return nil, fmt.Errorf("writing bom: path %q is not . or ./clean/path", p)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("writing bom: %s listed twice", p)
		}
		byPath[p] = e
		if p != "." {
			children[parentOf(p)] = append(children[parentOf(p)], p)
		}
	}
	if _, ok := byPath["."]; !ok && len(entries) > 0 {
		return nil, fmt.Errorf("writing bom: no root entry \".\"")
	}
	for p := range byPath {
		if p == "." {
			continue
		}
		parent, ok := byPath[parentOf(p)]
		if !ok {
			return nil, fmt.Errorf("writing bom: %s has no parent entry", p)
		}
		if parent.Mode&0o170000 != 0o040000 {
			return nil, fmt.Errorf("writing bom: parent of %s is not a directory", p)
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	var out []node
	queue := []node{{e: byPath["."], id: 1, parent: 0, name: "."}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		out = append(out, n)
		kids := children[n.e.Path]
		sort.Strings(kids)
		for _, k := range kids {
			queue = append(queue, node{e: byPath[k], id: uint32(len(out) + len(queue) + 1), parent: n.id, name: path.Base(k)})
		}
	}
	return out, nil
}

// store collects numbered blocks; block 0 is the null block.
type store struct{ blocks [][]byte }

func (s *store) reserve() uint32 {
	if len(s.blocks) == 0 {
		s.blocks = append(s.blocks, nil)
	}
	s.blocks = append(s.blocks, nil)
	return uint32(len(s.blocks) - 1)
}

func (s *store) add(b []byte) uint32 {
	i := s.reserve()
	s.blocks[i] = b
	return i
}

func (s *store) set(i uint32, b []byte) { s.blocks[i] = b }

// encode lays the file out as mkbom does: the 512-byte header, the
// variables, the blocks, then the block table and an empty free list.
func (s *store) encode(vars []byte) []byte {
	const headerSize = 512
	var data bytes.Buffer
	addr := make([]uint32, len(s.blocks))
	base := uint32(headerSize + len(vars))
	nonNull := 0
	for i, b := range s.blocks {
		if i == 0 {
			continue
		}
		addr[i] = base + uint32(data.Len())
		data.Write(b)
		nonNull++
	}
	var index bytes.Buffer
	index.Write(be(uint32(len(s.blocks))))
	for i, b := range s.blocks {
		if i == 0 {
			index.Write(be(0, 0))
			continue
		}
		index.Write(be(addr[i], uint32(len(b))))
	}
	// Free list: no entries, then the two null pointers mkbom appends.
	index.Write(be(0, 0, 0, 0, 0))
	indexOffset := base + uint32(data.Len())
	hdr := make([]byte, headerSize)
	copy(hdr, "BOMStore")
	copy(hdr[8:], be(1, uint32(nonNull), indexOffset, uint32(index.Len()), headerSize, uint32(len(vars))))
	out := append(hdr, vars...)
	out = append(out, data.Bytes()...)
	return append(out, index.Bytes()...)
}

func tree(child, blockSize, count uint32) []byte {
	return append(append([]byte("tree"), be(1, child, blockSize, count)...), 0)
}

func emptyLeaf(size int) []byte { return pad(append(be16(1, 0), be(0, 0)...), size) }

func pad(b []byte, size int) []byte {
	if len(b) < size {
		b = append(b, make([]byte, size-len(b))...)
	}
	return b
}

func be(v ...uint32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

func be16(v ...uint16) []byte {
	b := make([]byte, 0, 2*len(v))
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, x)
	}
	return b
}

// parentOf returns the parent of "./a/b" ("./a") or of "./a" (".").
func parentOf(p string) string {
	d := path.Dir(strings.TrimPrefix(p, "./"))
	if d == "." {
		return "."
	}
	return "./" + d
}
