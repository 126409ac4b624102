package appcert

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// User is a desktop user whose browser gets an app certificate.
type User struct {
	// Name is the account name (protocol.CheckUser).
	Name string
	// UID and GID are the account's ids; the store's tools run with them.
	// -1 means "as the agent itself" (tests, and Windows).
	UID, GID int
	// Home is the home directory, where the user's stores live.
	Home string
}

// Desktop accounts in /etc/passwd: the uid range Debian and Ubuntu give to
// people (adduser's FIRST_UID..LAST_UID).
const (
	firstUID = 1000
	lastUID  = 59999
	// maxPasswd bounds the passwd file read.
	maxPasswd = 4 << 20
)

// ParsePasswd returns the desktop users of a passwd(5) file: accounts with
// a uid in [1000, 59999], an absolute home directory and a login shell
// (not nologin or false), whose name is a valid user name. Lines that are
// not seven fields, or whose ids do not parse, are an error naming the
// line: a damaged passwd file changes nothing.
func ParsePasswd(data []byte) ([]User, error) {
	if len(data) > maxPasswd {
		return nil, fmt.Errorf("passwd file larger than %d bytes", maxPasswd)
	}
	var out []User
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPasswd)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 {
			return nil, fmt.Errorf("passwd line %d: %d fields, want 7", n, len(f))
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			return nil, fmt.Errorf("passwd line %d: uid %q or gid %q is not a number", n, f[2], f[3])
		}
		if uid < firstUID || uid > lastUID || protocol.CheckUser(f[0]) != nil {
			continue
		}
		home, shell := f[5], f[6]
		if !path.IsAbs(home) || path.Clean(home) == "/" || strings.HasSuffix(shell, "/nologin") || strings.HasSuffix(shell, "/false") || shell == "" {
			continue
		}
		out = append(out, User{Name: f[0], UID: uid, GID: gid, Home: path.Clean(home)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading passwd: %w", err)
	}
	return out, nil
}

// ErrNoUsers reports that there is no desktop user to give a certificate.
var ErrNoUsers = errors.New("no desktop users")
