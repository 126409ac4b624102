// Package xar writes and reads xar archives as macOS flat installer
// packages use them: a 28-byte header, a zlib-compressed XML table of
// contents (TOC), and a heap holding the TOC's SHA-1 checksum followed by
// each file's data, stored uncompressed with SHA-1 checksums, the choices
// Apple's tools make in ../shared/fixtures/macos-pkg/Sample.pkg.
//
// The reader takes untrusted input (the enroller verifies packages): it
// bounds every size, checks the TOC and file checksums and refuses names
// that escape the archive. It does not sign archives or verify signatures
// (productsign and rcodesign do, see docs/packages-macos.md) and extracts
// nothing to disk.
package xar

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

const (
	magic      = 0x78617221 // "xar!"
	headerSize = 28
	version    = 1
	cksumSHA1  = 1
	sha1Size   = 20
	// octetStream is the encoding of data stored as is.
	octetStream = "application/octet-stream"
)

// File is one member to write. Directories that hold members are written
// for them (mode 0755, the owner of the first member inside) unless given.
type File struct {
	Name        string // slash-separated, relative: "base.pkg/Payload"
	Dir         bool
	Mode        fs.FileMode // permission bits
	UID, GID    int
	User, Group string
	MTime       time.Time
	Data        []byte
}

type tocXML struct {
	XMLName xml.Name `xml:"xar"`
	TOC     struct {
		CreationTime string      `xml:"creation-time"`
		Checksum     checksumXML `xml:"checksum"`
		Files        []*fileXML  `xml:"file"`
	} `xml:"toc"`
}

type checksumXML struct {
	Style  string `xml:"style,attr"`
	Offset int64  `xml:"offset"`
	Size   int64  `xml:"size"`
}

type fileXML struct {
	ID    int        `xml:"id,attr"`
	Data  *dataXML   `xml:"data,omitempty"`
	CTime string     `xml:"ctime,omitempty"`
	MTime string     `xml:"mtime,omitempty"`
	ATime string     `xml:"atime,omitempty"`
	Group string     `xml:"group,omitempty"`
	GID   int        `xml:"gid"`
	User  string     `xml:"user,omitempty"`
	UID   int        `xml:"uid"`
	Mode  string     `xml:"mode"`
	Type  string     `xml:"type"`
	Name  string     `xml:"name"`
	Files []*fileXML `xml:"file"`
}

type dataXML struct {
	Length   int64 `xml:"length"`
	Encoding struct {
		Style string `xml:"style,attr"`
	} `xml:"encoding"`
	Offset    int64   `xml:"offset"`
	Size      int64   `xml:"size"`
	Extracted hashXML `xml:"extracted-checksum"`
	Archived  hashXML `xml:"archived-checksum"`
}

type hashXML struct {
	Style string `xml:"style,attr"`
	Value string `xml:",chardata"`
}

// Write writes an archive of files to w, members in the order given after
// their directories; created is the TOC's creation time.
func Write(w io.Writer, files []File, created time.Time) error {
	var toc tocXML
	toc.TOC.CreationTime = created.UTC().Format("2006-01-02T15:04:05")
	toc.TOC.Checksum = checksumXML{Style: "sha1", Offset: 0, Size: sha1Size}
	dirs := map[string]*fileXML{}
	var heap bytes.Buffer
	heap.Write(make([]byte, sha1Size)) // the TOC checksum, filled below
	id := 0
	attrs := func(f File, typ string) *fileXML {
		id++
		t := f.MTime.UTC().Format("2006-01-02T15:04:05Z")
		return &fileXML{ID: id, CTime: t, MTime: t, ATime: t, Group: f.Group, GID: f.GID,
			User: f.User, UID: f.UID, Mode: fmt.Sprintf("%04o", f.Mode.Perm()), Type: typ, Name: path.Base(f.Name)}
	}
	var parentOf func(dir string, like File) (*[]*fileXML, error)
	parentOf = func(dir string, like File) (*[]*fileXML, error) {
		if dir == "." {
			return &toc.TOC.Files, nil
		}
		if d, ok := dirs[dir]; ok {
			return &d.Files, nil
		}
		up, err := parentOf(path.Dir(dir), like)
		if err != nil {
			return nil, err
		}
		like.Name, like.Mode = dir, 0o755
		d := attrs(like, "directory")
		dirs[dir] = d
		*up = append(*up, d)
		return &d.Files, nil
	}
	for _, f := range files {
		if !fs.ValidPath(f.Name) || f.Name == "." {
			return fmt.Errorf("writing xar: bad member name %q", f.Name)
		}
		if _, dup := dirs[f.Name]; dup {
			return fmt.Errorf("writing xar: %s listed twice", f.Name)
		}
		up, err := parentOf(path.Dir(f.Name), f)
		if err != nil {
			return err
		}
		if f.Dir {
			d := attrs(f, "directory")
			dirs[f.Name] = d
			*up = append(*up, d)
			continue
		}
		x := attrs(f, "file")
		sum := sha1.Sum(f.Data)
		d := &dataXML{Length: int64(len(f.Data)), Offset: int64(heap.Len()), Size: int64(len(f.Data)),
			Extracted: hashXML{"sha1", hex.EncodeToString(sum[:])}, Archived: hashXML{"sha1", hex.EncodeToString(sum[:])}}
		d.Encoding.Style = octetStream
		x.Data = d
		heap.Write(f.Data)
		*up = append(*up, x)
	}
	plain, err := xml.MarshalIndent(toc, "", " ")
	if err != nil {
		return fmt.Errorf("writing xar: %w", err)
	}
	plain = append([]byte(xml.Header), plain...)
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return fmt.Errorf("writing xar: %w", err)
	}
	if _, err := zw.Write(plain); err != nil {
		return fmt.Errorf("writing xar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing xar: %w", err)
	}
	sum := sha1.Sum(z.Bytes())
	hb := heap.Bytes()
	copy(hb, sum[:])
	hdr := make([]byte, 0, headerSize)
	hdr = binary.BigEndian.AppendUint32(hdr, magic)
	hdr = binary.BigEndian.AppendUint16(hdr, headerSize)
	hdr = binary.BigEndian.AppendUint16(hdr, version)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(z.Len()))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(plain)))
	hdr = binary.BigEndian.AppendUint32(hdr, cksumSHA1)
	for _, b := range [][]byte{hdr, z.Bytes(), hb} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("writing xar: %w", err)
		}
	}
	return nil
}

// Limits of the reader.
const (
	maxTOC     = 4 << 20 // uncompressed TOC bytes
	maxMembers = 10000
	maxDepth   = 64
)

// Entry is a member listed by a Reader.
type Entry struct {
	Name     string // slash-separated path inside the archive
	Type     string // "file", "directory", "symlink"...
	Mode     fs.FileMode
	UID, GID int
	Size     int64 // extracted length of a file's data
	offset   int64 // of the data in the heap
	stored   int64
	encoding string
	sum      string // hex SHA-1 of the stored data
}

// Reader reads an archive held in an io.ReaderAt.
type Reader struct {
	r       io.ReaderAt
	size    int64
	heap    int64
	TOC     []byte  // the TOC's XML, uncompressed
	Entries []Entry // every member, sorted by name
}

// NewReader reads and checks the header and the TOC of the size-byte
// archive r: magic, sizes, the TOC's SHA-1 against the heap's copy, and
// every member's name and data range.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	var h [headerSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("reading xar header: %w", err)
	}
	if binary.BigEndian.Uint32(h[0:]) != magic {
		return nil, fmt.Errorf("reading xar: not a xar archive")
	}
	hsize := int64(binary.BigEndian.Uint16(h[4:]))
	clen := binary.BigEndian.Uint64(h[8:])
	ulen := binary.BigEndian.Uint64(h[16:])
	alg := binary.BigEndian.Uint32(h[24:])
	if hsize < headerSize || hsize > size || clen > uint64(size) || ulen > maxTOC {
		return nil, fmt.Errorf("reading xar: bad header (header %d, TOC %d/%d bytes, archive %d)", hsize, clen, ulen, size)
	}
	if alg != cksumSHA1 {
		return nil, fmt.Errorf("reading xar: TOC checksum algorithm %d, want SHA-1 (1)", alg)
	}
	heap := hsize + int64(clen)
	if heap+sha1Size > size {
		return nil, fmt.Errorf("reading xar: truncated")
	}
	ztoc := make([]byte, clen)
	if _, err := r.ReadAt(ztoc, hsize); err != nil {
		return nil, fmt.Errorf("reading xar TOC: %w", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(ztoc))
	if err != nil {
		return nil, fmt.Errorf("reading xar TOC: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxTOC+1))
	if err != nil {
		return nil, fmt.Errorf("reading xar TOC: %w", err)
	}
	if uint64(len(plain)) != ulen {
		return nil, fmt.Errorf("reading xar TOC: %d bytes, header says %d", len(plain), ulen)
	}
	var toc tocXML
	if err := xml.Unmarshal(plain, &toc); err != nil {
		return nil, fmt.Errorf("reading xar TOC: %w", err)
	}
	c := toc.TOC.Checksum
	if c.Style != "sha1" || c.Size != sha1Size || c.Offset < 0 || heap+c.Offset+sha1Size > size {
		return nil, fmt.Errorf("reading xar TOC: checksum %q at %d+%d, want sha1", c.Style, c.Offset, c.Size)
	}
	stored := make([]byte, sha1Size)
	if _, err := r.ReadAt(stored, heap+c.Offset); err != nil {
		return nil, fmt.Errorf("reading xar TOC checksum: %w", err)
	}
	if sum := sha1.Sum(ztoc); !bytes.Equal(sum[:], stored) {
		return nil, fmt.Errorf("reading xar: the TOC's checksum does not match")
	}
	x := &Reader{r: r, size: size, heap: heap, TOC: plain}
	seen := map[string]bool{}
	var walk func(files []*fileXML, dir string, depth int) error
	walk = func(files []*fileXML, dir string, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("reading xar TOC: deeper than %d", maxDepth)
		}
		for _, f := range files {
			if strings.Contains(f.Name, "/") || f.Name == "" || f.Name == "." || f.Name == ".." {
				return fmt.Errorf("reading xar TOC: bad name %q", f.Name)
			}
			name := path.Join(dir, f.Name)
			if seen[name] {
				return fmt.Errorf("reading xar TOC: %s listed twice", name)
			}
			seen[name] = true
			if len(seen) > maxMembers {
				return fmt.Errorf("reading xar TOC: more than %d members", maxMembers)
			}
			var mode uint64
			if _, err := fmt.Sscanf(f.Mode, "%o", &mode); err != nil && f.Mode != "" {
				return fmt.Errorf("reading xar TOC: %s: bad mode %q", name, f.Mode)
			}
			e := Entry{Name: name, Type: f.Type, Mode: fs.FileMode(mode).Perm(), UID: f.UID, GID: f.GID}
			if d := f.Data; d != nil {
				if d.Offset < 0 || d.Size < 0 || d.Length < 0 || d.Offset > size || d.Size > size-heap-d.Offset {
					return fmt.Errorf("reading xar TOC: %s: data outside the archive", name)
				}
				if d.Archived.Style != "sha1" {
					return fmt.Errorf("reading xar TOC: %s: archived checksum %q, want sha1", name, d.Archived.Style)
				}
				e.Size, e.offset, e.stored, e.encoding, e.sum = d.Length, d.Offset, d.Size, d.Encoding.Style, strings.ToLower(d.Archived.Value)
			}
			x.Entries = append(x.Entries, e)
			if err := walk(f.Files, name, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(toc.TOC.Files, "", 0); err != nil {
		return nil, err
	}
	sort.Slice(x.Entries, func(i, j int) bool { return x.Entries[i].Name < x.Entries[j].Name })
	return x, nil
}

// ReadFile returns the data of the file member name after checking its
// SHA-1. Data stored with an encoding other than application/octet-stream
// is refused: flat packages store their members as is.
func (x *Reader) ReadFile(name string) ([]byte, error) {
	i := sort.Search(len(x.Entries), func(i int) bool { return x.Entries[i].Name >= name })
	if i == len(x.Entries) || x.Entries[i].Name != name {
		return nil, fmt.Errorf("reading xar member %s: %w", name, fs.ErrNotExist)
	}
	e := x.Entries[i]
	if e.Type != "file" {
		return nil, fmt.Errorf("reading xar member %s: a %s, not a file", name, e.Type)
	}
	if e.encoding != octetStream || e.stored != e.Size {
		return nil, fmt.Errorf("reading xar member %s: encoding %q is not supported", name, e.encoding)
	}
	b := make([]byte, e.stored)
	if _, err := x.r.ReadAt(b, x.heap+e.offset); err != nil && e.stored > 0 {
		return nil, fmt.Errorf("reading xar member %s: %w", name, err)
	}
	if sum := sha1.Sum(b); hex.EncodeToString(sum[:]) != e.sum {
		return nil, fmt.Errorf("reading xar member %s: checksum does not match", name)
	}
	return b, nil
}
