// Package fileset applies a rendered set of files to a root directory and
// keeps track of what it owns. Each file is written atomically
// (internal/atomicfile) and only when its content or mode changed, so an
// unchanged catalog leaves every mtime alone. A manifest inside the root
// records what was written, with each file's hash; files that leave the set
// are removed only when the manifest lists them and their content is still
// what was written, so nothing the agent did not create, or that someone
// changed since, is ever deleted. It renders nothing itself.
package fileset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// File is one rendered file.
type File struct {
	// Path is slash-separated and relative to the root, e.g.
	// "usr/share/applications/kiwistack-mail.desktop".
	Path string
	// Data is the content.
	Data []byte
	// Mode is the permission bits (0644 for everything the launchers write).
	Mode fs.FileMode
}

// Set is a list of files with distinct paths.
type Set []File

// ValidPath checks a relative path: slash-separated, clean, no "..", no
// empty or dot segment, valid UTF-8 without control characters, backslashes
// or colons. Spaces are allowed inside a segment but not at either end
// ("Library/Managed Preferences", "Start Menu"), and beyond ASCII only
// letters, marks, digits and the middle dot '·' (launcher names), so that no
// bidi control or look-alike separator can reach a file name.
func ValidPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return fmt.Errorf("path %q: want a clean relative path", p)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("path %q: not valid UTF-8", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("path %q: no dot segments", p)
		}
		if strings.TrimSpace(seg) != seg {
			return fmt.Errorf("path %q: no space at either end of a segment", p)
		}
	}
	for _, r := range p {
		switch {
		case r == ' ':
		case r < ' ' || r == 0x7f || r == '\\' || r == ':':
			return fmt.Errorf("path %q: control characters, backslashes and colons are not allowed", p)
		case r < 0x80:
		case r == '·', unicode.IsLetter(r), unicode.IsMark(r), unicode.IsDigit(r):
		default:
			return fmt.Errorf("path %q: character %U is not allowed", p, r)
		}
	}
	return nil
}

// Result says what Apply did, with paths relative to the root, sorted.
type Result struct {
	Written   []string `json:"written"`
	Unchanged []string `json:"unchanged"`
	Removed   []string `json:"removed"`
	// Kept are files that left the set but were changed by someone else
	// since the agent wrote them, so they were left in place.
	Kept []string `json:"kept,omitempty"`
}

// Writer applies sets under Root.
type Writer struct {
	// Root is the directory everything is written under ("/" on a laptop,
	// a temporary directory in tests and for packaging).
	Root string
	// Manifest is the manifest's path relative to Root, e.g.
	// "var/lib/kiwistack/launchers/linux.json".
	Manifest string
	// Log receives one line per change; nil discards.
	Log *slog.Logger
	// Owned are directories, relative to Root, that the set's files live
	// in and that nobody else writes to (an .app bundle's folder, for
	// example). When a file under one of them is removed, the directories
	// between it and the owned directory that are left empty are removed
	// too, so that no empty bundle stays behind; the owned directory itself
	// stays. Elsewhere empty directories are left alone.
	Owned []string
}

// manifestVersion is the manifest's format version.
const manifestVersion = 1

type manifest struct {
	Version int             `json:"version"`
	Files   []manifestEntry `json:"files"`
}

type manifestEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

func digest(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// Apply writes every file of set that differs from what is on disk,
// removes the files the previous Apply wrote that are no longer in set, and
// updates the manifest. It is idempotent: a second Apply of the same set
// writes nothing.
func (w Writer) Apply(set Set) (Result, error) {
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var res Result
	if w.Root == "" {
		return res, errors.New("applying files: no root directory")
	}
	if err := ValidPath(w.Manifest); err != nil {
		return res, fmt.Errorf("manifest: %w", err)
	}
	want := map[string]File{}
	for _, f := range set {
		if err := ValidPath(f.Path); err != nil {
			return res, err
		}
		if f.Path == w.Manifest {
			return res, fmt.Errorf("path %q is the manifest's", f.Path)
		}
		if _, dup := want[f.Path]; dup {
			return res, fmt.Errorf("path %q appears twice in the set", f.Path)
		}
		want[f.Path] = f
	}
	old, err := w.readManifest()
	if err != nil {
		return res, err
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	next := manifest{Version: manifestVersion}
	for _, p := range paths {
		f := want[p]
		full := w.full(p)
		next.Files = append(next.Files, manifestEntry{Path: p, SHA256: digest(f.Data)})
		if same(full, f) {
			res.Unchanged = append(res.Unchanged, p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return res, fmt.Errorf("creating the directory of %s: %w", full, err)
		}
		if err := atomicfile.WriteFile(full, f.Data, f.Mode); err != nil {
			return res, err
		}
		log.Info("wrote", "path", p, "bytes", len(f.Data))
		res.Written = append(res.Written, p)
	}
	for _, e := range old.Files {
		if _, still := want[e.Path]; still {
			continue
		}
		if err := ValidPath(e.Path); err != nil || e.Path == w.Manifest {
			log.Warn("ignoring a manifest entry", "path", e.Path, "err", err)
			continue
		}
		full := w.full(e.Path)
		data, err := os.ReadFile(full)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return res, fmt.Errorf("reading %s before removing it: %w", full, err)
		case digest(data) != e.SHA256:
			log.Warn("left a file that was changed since the agent wrote it", "path", e.Path)
			res.Kept = append(res.Kept, e.Path)
			continue
		}
		if err := os.Remove(full); err != nil {
			return res, fmt.Errorf("removing %s: %w", full, err)
		}
		log.Info("removed", "path", e.Path)
		res.Removed = append(res.Removed, e.Path)
		w.prune(e.Path)
	}
	sort.Strings(res.Removed)
	sort.Strings(res.Kept)
	// Files that were kept stay in the manifest, so that they are removed
	// once someone restores them, and never forgotten.
	for _, p := range res.Kept {
		for _, e := range old.Files {
			if e.Path == p {
				next.Files = append(next.Files, e)
			}
		}
	}
	sort.Slice(next.Files, func(i, j int) bool { return next.Files[i].Path < next.Files[j].Path })
	mb, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return res, fmt.Errorf("encoding the manifest: %w", err)
	}
	mb = append(mb, '\n')
	mf := File{Path: w.Manifest, Data: mb, Mode: 0o644}
	if !same(w.full(w.Manifest), mf) {
		if err := os.MkdirAll(filepath.Dir(w.full(w.Manifest)), 0o755); err != nil {
			return res, fmt.Errorf("creating the manifest's directory: %w", err)
		}
		if err := atomicfile.WriteFile(w.full(w.Manifest), mb, 0o644); err != nil {
			return res, err
		}
	}
	return res, nil
}

// prune removes the empty directories between the removed file p and the
// owned directory it lies under, deepest first; os.Remove refuses a
// directory that is not empty, so nothing else can go.
func (w Writer) prune(p string) {
	for _, owned := range w.Owned {
		if ValidPath(owned) != nil || !strings.HasPrefix(p, owned+"/") {
			continue
		}
		for d := path.Dir(p); d != owned && strings.HasPrefix(d, owned+"/"); d = path.Dir(d) {
			if os.Remove(w.full(d)) != nil {
				return
			}
		}
		return
	}
}

func (w Writer) full(p string) string { return filepath.Join(w.Root, filepath.FromSlash(p)) }

// readManifest returns the previous manifest; none means an empty one.
func (w Writer) readManifest() (manifest, error) {
	var m manifest
	b, err := os.ReadFile(w.full(w.Manifest))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("reading the manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("reading the manifest %s: %w (move it away to start over; files it listed will then be left in place)", w.full(w.Manifest), err)
	}
	if m.Version != manifestVersion {
		return m, fmt.Errorf("manifest %s has version %d, want %d", w.full(w.Manifest), m.Version, manifestVersion)
	}
	return m, nil
}

// same reports whether the regular file at full already has f's content and
// mode.
func same(full string, f File) bool {
	st, err := os.Lstat(full)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != f.Mode.Perm() || st.Size() != int64(len(f.Data)) {
		return false
	}
	b, err := os.ReadFile(full)
	return err == nil && bytes.Equal(b, f.Data)
}
