//go:build linux

package localstate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func seedHome(home string, owner Owner, dirs []string) ([]Result, error) {
	hfd, err := unix.Open(home, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening home directory %s: %w", home, err)
	}
	defer unix.Close(hfd)
	if err := owned(hfd, owner, unix.S_IFDIR); err != nil {
		return nil, fmt.Errorf("home directory %s: %w", home, err)
	}
	var out []Result
	for _, d := range dirs {
		changed, err := seedDir(hfd, d, owner)
		if err != nil {
			err = fmt.Errorf("%s: %w", path.Join(home, d, FileName), err)
		}
		out = append(out, Result{Dir: d, Changed: changed, Err: err})
	}
	return out, nil
}

// owned checks that fd is of type kind (unix.S_IFDIR, unix.S_IFREG) and
// owned by the user, and a regular file has no other hard link.
func owned(fd int, owner Owner, kind uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != kind {
		return fmt.Errorf("%w: of type %o, want %o", ErrNotOwned, st.Mode&unix.S_IFMT, kind)
	}
	if int(st.Uid) != owner.UID {
		return fmt.Errorf("%w: owned by uid %d, not %d", ErrNotOwned, st.Uid, owner.UID)
	}
	if kind == unix.S_IFREG && st.Nlink != 1 {
		return fmt.Errorf("%w: %d hard links", ErrNotOwned, st.Nlink)
	}
	return nil
}

// seedDir walks rel under the home directory hfd, creating what is
// missing, and seeds Local State there.
func seedDir(hfd int, rel string, owner Owner) (bool, error) {
	clean := path.Clean(rel)
	if rel == "" || path.IsAbs(rel) || clean != rel || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
		return false, fmt.Errorf("user-data directory %q: want a clean path relative to the home directory", rel)
	}
	dfd, err := unix.Dup(hfd)
	if err != nil {
		return false, err
	}
	defer func() { unix.Close(dfd) }()
	for _, name := range strings.Split(clean, "/") {
		next, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(dfd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
				return false, fmt.Errorf("creating %s: %w", name, err)
			}
			next, err = unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				// Just created by us (root): hand it to the user.
				var st unix.Stat_t
				if err := unix.Fstat(next, &st); err == nil && int(st.Uid) != owner.UID && st.Uid == uint32(os.Geteuid()) {
					if err := unix.Fchown(next, owner.UID, owner.GID); err != nil {
						unix.Close(next)
						return false, fmt.Errorf("giving %s to uid %d: %w", name, owner.UID, err)
					}
				}
			}
		}
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return false, fmt.Errorf("%s: %w: a symbolic link or not a directory", name, ErrNotOwned)
			}
			return false, fmt.Errorf("opening %s: %w", name, err)
		}
		unix.Close(dfd)
		dfd = next
		if err := owned(dfd, owner, unix.S_IFDIR); err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
	}
	if running(dfd) {
		return false, ErrBrowserRunning
	}
	old, err := readLocalState(dfd, owner)
	if err != nil {
		return false, err
	}
	data, changed, err := Seed(old)
	if err != nil || !changed {
		return false, err
	}
	return true, replace(dfd, data, owner)
}

// running reports whether the user-data directory dfd has a SingletonLock
// naming a live process ("host-pid"). A lock whose process is gone is what
// a crashed browser leaves; the next browser replaces it.
func running(dfd int) bool {
	buf := make([]byte, 256)
	n, err := unix.Readlinkat(dfd, "SingletonLock", buf)
	if err != nil {
		return false
	}
	target := string(buf[:n])
	i := strings.LastIndexByte(target, '-')
	if i < 0 {
		return true // a lock we cannot read: assume the browser runs
	}
	pid, err := strconv.Atoi(target[i+1:])
	if err != nil || pid <= 0 {
		return true // a lock we cannot read: assume the browser runs
	}
	host, _ := os.Hostname()
	if target[:i] != host {
		return true // another machine's browser on a shared home
	}
	err = unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// readLocalState returns the Local State in dfd, nil when there is none.
func readLocalState(dfd int, owner Owner) ([]byte, error) {
	fd, err := unix.Openat(dfd, FileName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w: a symbolic link", ErrNotOwned)
	}
	if err != nil {
		return nil, fmt.Errorf("opening: %w", err)
	}
	f := os.NewFile(uintptr(fd), FileName)
	defer f.Close()
	if err := owned(fd, owner, unix.S_IFREG); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return b, nil
}

// replace writes data to a new file in dfd (0600, the user's), fsyncs it,
// renames it over Local State and fsyncs the directory.
func replace(dfd int, data []byte, owner Owner) (err error) {
	tmp := "." + FileName + ".kiwistack-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating a temporary file: %w", err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		f.Close()
		if err != nil {
			unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	if os.Geteuid() == 0 {
		if err := unix.Fchown(fd, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("giving the file to uid %d: %w", owner.UID, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, FileName); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	if err := unix.Fsync(dfd); err != nil {
		return fmt.Errorf("syncing the directory: %w", err)
	}
	return nil
}
