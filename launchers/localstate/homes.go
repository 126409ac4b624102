package localstate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/fileset"
)

// UserDataDir returns the default user-data directory of browser c,
// relative to the home directory: one of LinuxUserDataDirs.
func UserDataDir(c chromium.Candidate) string {
	switch {
	case c.Flavor == "google-chrome":
		return LinuxUserDataDirs[1]
	case c.Command == "chromium-browser" || strings.HasPrefix(c.Command, "/snap/"):
		return LinuxUserDataDirs[2]
	}
	return LinuxUserDataDirs[0]
}

// SkelDir is where new home directories are copied from (adduser, and
// pam_mkhomedir for directory users at their first login), relative to the
// root.
const SkelDir = "etc/skel"

// SkelFile returns the Local State that every new home gets for browser c:
// the flag alone, under SkelDir, 0600 (the copy belongs to the new user).
func SkelFile(c chromium.Candidate) fileset.File {
	doc, _, _ := Seed(nil) // seeding nothing cannot fail
	return fileset.File{Path: path.Join(SkelDir, UserDataDir(c), FileName), Data: doc, Mode: 0o600}
}

// User is a local account whose home directory may be seeded.
type User struct {
	Name string
	Owner
	Home string
}

// Human account ids: Debian's UID_MIN and UID_MAX (login.defs). System
// accounts have no browser profile to seed.
const (
	minUID = 1000
	maxUID = 59999
)

// ParsePasswd returns the human accounts (uid 1000 to 59999) of a passwd(5)
// file whose home is an absolute path, in file order. Lines that are blank
// or comments are skipped; a malformed line is an error naming it, and no
// account is returned.
func ParsePasswd(b []byte) ([]User, error) {
	var users []User
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// NIS compat entries ("+", "-name") are not accounts of this file.
		if strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" {
			return nil, fmt.Errorf("passwd line %d: want 7 fields name:password:uid:gid:gecos:home:shell", n)
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 31)
		gid, err2 := strconv.ParseUint(f[3], 10, 31)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("passwd line %d (%s): uid and gid must be decimal numbers", n, f[0])
		}
		home := f[5]
		if uid < minUID || uid > maxUID || !path.IsAbs(home) || path.Clean(home) != home || home == "/" {
			continue
		}
		users = append(users, User{Name: f[0], Owner: Owner{UID: int(uid), GID: int(gid)}, Home: home})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading passwd: %w", err)
	}
	return users, nil
}

// HomeResult is what SeedHomes did for one account.
type HomeResult struct {
	User User
	Result
}

// SeedHomes seeds the Local State of browser c's user-data directory in the
// home directory (under root) of every human account of root's
// /etc/passwd whose home exists. Homes that do not exist yet get SkelFile
// when they are created. Directory (SSSD) users are not in /etc/passwd:
// their homes are made at first login from /etc/skel. The error is for an
// unreadable or malformed passwd file; each home's own outcome is in its
// HomeResult.
func SeedHomes(root string, c chromium.Candidate) ([]HomeResult, error) {
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the accounts: %w", err)
	}
	users, err := ParsePasswd(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, "etc/passwd"), err)
	}
	dir := UserDataDir(c)
	var out []HomeResult
	for _, u := range users {
		home := filepath.Join(root, filepath.FromSlash(u.Home))
		if _, err := os.Lstat(home); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		res, err := SeedHome(home, u.Owner, []string{dir})
		if err != nil {
			out = append(out, HomeResult{User: u, Result: Result{Dir: dir, Err: err}})
			continue
		}
		for _, r := range res {
			out = append(out, HomeResult{User: u, Result: r})
		}
	}
	return out, nil
}
