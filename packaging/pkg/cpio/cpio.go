// Package cpio writes cpio archives in the portable "odc" format (POSIX.1
// octet-oriented headers, magic 070707), the format of the Payload and
// Scripts archives inside a macOS flat package.
//
// It writes only, and only regular files, directories and symbolic links; it
// does not compress (the caller wraps the writer in gzip) and does not read
// archives.
package cpio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Mode bits of the odc header's mode field: file type and permissions as in
// struct stat.
const (
	TypeReg     = 0o100000
	TypeDir     = 0o040000
	TypeSymlink = 0o120000
)

// Header describes one archive member.
type Header struct {
	Name     string    // "./usr/local/bin/x"; "." for the root
	Mode     uint32    // type (TypeReg, TypeDir, TypeSymlink) and permission bits
	UID, GID int       // numeric owner
	NLink    int       // link count; 0 means 1
	MTime    time.Time // modification time
	Size     int64     // bytes of data that follow; the link target's length for a symlink
}

// Writer writes an odc archive member by member.
type Writer struct {
	w       io.Writer
	ino     int
	left    int64
	written int64
	closed  bool
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// The largest values the odc header's octal fields hold.
const (
	max6  = 0o777777
	max11 = 0o77777777777
)

// ErrShortWrite is returned when a member's data is shorter than its Size.
var ErrShortWrite = errors.New("cpio: member data shorter than its header's size")

// WriteHeader starts a member; its Size bytes of data follow through Write.
func (w *Writer) WriteHeader(h *Header) error {
	if w.closed {
		return errors.New("cpio: write after close")
	}
	if w.left > 0 {
		return ErrShortWrite
	}
	if h.Name == "" || len(h.Name)+1 > max6 {
		return fmt.Errorf("cpio: bad name %q", h.Name)
	}
	typ := h.Mode &^ uint32(fs.ModePerm|0o7000)
	switch typ {
	case TypeReg, TypeDir, TypeSymlink:
	default:
		return fmt.Errorf("cpio: %s: unsupported mode %o", h.Name, h.Mode)
	}
	if typ == TypeDir && h.Size != 0 {
		return fmt.Errorf("cpio: %s: a directory has no data", h.Name)
	}
	if h.Size < 0 || h.Size > max11 {
		return fmt.Errorf("cpio: %s: size %d does not fit the odc header", h.Name, h.Size)
	}
	if h.UID < 0 || h.UID > max6 || h.GID < 0 || h.GID > max6 {
		return fmt.Errorf("cpio: %s: owner %d:%d does not fit the odc header", h.Name, h.UID, h.GID)
	}
	mtime := h.MTime.Unix()
	if mtime < 0 || mtime > max11 {
		return fmt.Errorf("cpio: %s: modification time %v does not fit the odc header", h.Name, h.MTime)
	}
	nlink := h.NLink
	if nlink <= 0 {
		nlink = 1
	}
	w.ino++
	// dev 0777777 for every member as Apple's tools write it; ino counts
	// members.
	hdr := fmt.Sprintf("070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o",
		max6, w.ino&max6, h.Mode, h.UID, h.GID, nlink&max6, 0, mtime, len(h.Name)+1, h.Size)
	if err := w.put([]byte(hdr + h.Name + "\x00")); err != nil {
		return err
	}
	w.left = h.Size
	return nil
}

// Write writes data of the current member.
func (w *Writer) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		return 0, fmt.Errorf("cpio: %d bytes written past the member's size", int64(len(p))-w.left)
	}
	if err := w.put(p); err != nil {
		return 0, err
	}
	w.left -= int64(len(p))
	return len(p), nil
}

// Close writes the trailer, padded with zeros to a multiple of 512 bytes as
// Apple's tools do. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if w.left > 0 {
		return ErrShortWrite
	}
	const name = "TRAILER!!!"
	hdr := fmt.Sprintf("070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o%s\x00",
		0, 0, 0, 0, 0, 1, 0, 0, len(name)+1, 0, name)
	if err := w.put([]byte(hdr)); err != nil {
		return err
	}
	if pad := (512 - w.written%512) % 512; pad > 0 {
		if err := w.put(make([]byte, pad)); err != nil {
			return err
		}
	}
	w.closed = true
	return nil
}

func (w *Writer) put(p []byte) error {
	n, err := w.w.Write(p)
	w.written += int64(n)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	return nil
}
