// Package atomicfile writes files that matter (keys, certificates, state,
// secrets) so that a reader sees the old content or the new, never a torn
// mix, even across a crash: a temporary file in the same directory, written
// with its final mode, fsynced, renamed over the target, and the directory
// fsynced. It owns nothing else.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrExists is returned by Create when the target already exists.
var ErrExists = errors.New("file exists")

// WriteFile atomically replaces path with data, with the given permissions.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, true)
}

// Create atomically writes path with data unless path already exists, in
// which case it returns an error wrapping ErrExists and changes nothing.
func Create(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm fs.FileMode, replace bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file beside %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600; set the final mode before any byte is
	// written so that secrets are never readable by others, even briefly.
	if err := tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("setting the mode of %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if replace {
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("renaming into %s: %w", path, err)
		}
	} else {
		// A hard link fails if the target exists, so two writers cannot both win.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", path, ErrExists)
			}
			return fmt.Errorf("creating %s: %w", path, err)
		}
		os.Remove(tmp.Name())
	}
	return syncDir(dir)
}

// SyncDir fsyncs directory dir, making a rename in it durable.
func SyncDir(dir string) error { return syncDir(dir) }

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync on Windows; NTFS journals the rename
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// Same reports whether path already holds exactly data with permissions
// perm (permissions are not compared on Windows, which has none of its
// own), so that a writer can skip a write that would change nothing.
func Same(path string, data []byte, perm fs.FileMode) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != int64(len(data)) {
		return false
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != perm.Perm() {
		return false
	}
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(b, data)
}

// Update writes data to path (WriteFile, its directory made with dirPerm
// when missing) unless path already holds it with perm (Same), and
// reports whether it wrote.
func Update(path string, data []byte, perm, dirPerm fs.FileMode) (bool, error) {
	if Same(path, data, perm) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := WriteFile(path, data, perm); err != nil {
		return false, err
	}
	return true, nil
}
