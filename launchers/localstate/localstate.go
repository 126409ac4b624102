// Package localstate makes the first app window of a fresh Work profile
// sign in with Kerberos on Linux. Chromium on Linux loads its GSSAPI
// library only once its "Local State" file (one per user-data directory,
// shared by every profile in it) records that a Negotiate challenge was
// seen (net.received_http_auth_negotiate_headers); until then the first
// Negotiate challenge only sets the flag and restarts the network service,
// and the window that met it shows the server's 401. This package sets the
// flag before the browser ever starts: Seed merges it into a Local State
// document without losing any other key, and SeedHome writes it into a
// user's user-data directories (atomically, owned by the user, never
// through a symbolic link, never under a running browser).
//
// The Chromium source this relies on: chrome/browser/net/
// system_network_context_manager.cc (CreateHttpAuthDynamicParams sets
// allow_gssapi_library_load from prefs::kReceivedHttpAuthNegotiateHeader
// in Local State; OnNewHttpAuthDynamicParams restarts the network service
// when it turns true), services/network/network_context.cc
// (NetworkContextHttpAuthPreferences::AllowGssapiLibraryLoad reports the
// attempt, which sets the pref) and chrome/common/pref_names.h (the pref's
// name). docs/kerberos-sso.md has the details.
//
// It decides no policy (package chromepolicy does) and starts no browser.
package localstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// FileName is the name of Chromium's Local State file in a user-data
// directory.
const FileName = "Local State"

// Pref is the Local State preference Seed sets, as a dotted path.
const Pref = "net.received_http_auth_negotiate_headers"

// MaxBytes bounds the Local State file Seed reads; Chromium's own is a few
// hundred kilobytes at most.
const MaxBytes = 8 << 20

// LinuxUserDataDirs are the default user-data directories, relative to
// the home directory, of the Linux browsers the launchers run
// (chromium.LinuxCandidates): Debian's chromium, Google Chrome, and the
// Ubuntu chromium snap.
var LinuxUserDataDirs = []string{
	".config/chromium",
	".config/google-chrome",
	"snap/chromium/common/chromium",
}

// ErrInvalid is wrapped by Seed's error when the existing Local State is
// not a JSON object whose "net" entry is an object with a boolean flag.
var ErrInvalid = errors.New("not a Chromium Local State")

// Seed returns the Local State document b with Pref set to true, and
// whether that changed anything. An empty b, or one of JSON white space only, gives a new document
// holding only the flag. Every other key of b is kept, with its value
// unchanged (re-encoded compactly, keys sorted). b that is not a JSON
// object, whose "net" is not an object, or whose flag is not a boolean is
// refused with ErrInvalid: Chromium itself would discard such a file, and
// the caller must not overwrite what it does not understand.
func Seed(b []byte) ([]byte, bool, error) {
	if len(b) > MaxBytes {
		return nil, false, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(b), MaxBytes)
	}
	top := map[string]json.RawMessage{}
	if len(bytes.Trim(b, jsonSpace)) > 0 {
		if err := strictObject(b, &top); err != nil {
			return nil, false, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	net := map[string]json.RawMessage{}
	if raw, ok := top["net"]; ok {
		if err := strictObject(raw, &net); err != nil {
			return nil, false, fmt.Errorf("%w: \"net\": %v", ErrInvalid, err)
		}
	}
	const key = "received_http_auth_negotiate_headers"
	if raw, ok := net[key]; ok {
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, false, fmt.Errorf("%w: %q is %.40s, not a boolean", ErrInvalid, Pref, raw)
		}
		if v {
			return b, false, nil
		}
	}
	net[key] = json.RawMessage("true")
	nb, err := json.Marshal(net)
	if err != nil {
		return nil, false, fmt.Errorf("encoding \"net\": %w", err)
	}
	top["net"] = nb
	out, err := json.Marshal(top)
	if err != nil {
		return nil, false, fmt.Errorf("encoding Local State: %w", err)
	}
	return out, true, nil
}

// jsonSpace is white space as JSON has it (RFC 8259), narrower than
// Unicode's.
const jsonSpace = " \t\r\n"

// strictObject decodes b, which must be exactly one JSON object, into m.
func strictObject(b []byte, m *map[string]json.RawMessage) error {
	if t := bytes.TrimLeft(b, jsonSpace); len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	// Unmarshal refuses anything after the object, unlike a Decoder.
	if err := json.Unmarshal(b, m); err != nil {
		return err
	}
	if *m == nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// Owner is the user a home directory belongs to: the files SeedHome
// creates get this owner, and the directories it walks must have it.
type Owner struct {
	UID, GID int
}

// Result says what SeedHome did for one user-data directory.
type Result struct {
	// Dir is the user-data directory, relative to the home directory.
	Dir string
	// Changed is true when Local State was written.
	Changed bool
	// Err, when set, says why this directory was left alone (a running
	// browser, a file that is not a Local State, a path that is not the
	// user's); the other directories are still seeded.
	Err error
}

// ErrBrowserRunning is a Result's Err when the user-data directory is in
// use by a running browser (its SingletonLock names a live process): the
// browser would overwrite the file on exit, and it must not see it change
// under it. The next seeding tries again.
var ErrBrowserRunning = errors.New("the browser is running with this user-data directory")

// ErrNotOwned is wrapped by a Result's Err when a directory or file on the
// way is not owned by the user, or is a symbolic link: SeedHome, which runs
// as root, never writes through a path the user could redirect.
var ErrNotOwned = errors.New("not the user's own")

// SeedHome seeds Local State in each of dirs (relative to home, e.g.
// LinuxUserDataDirs) of the user owner, creating missing directories
// (0700) and the file (0600) with that owner. Every path component from
// home down is opened without following symbolic links and must belong to
// the user. It returns one Result per directory; the error is only for a
// home that cannot be used at all. Only Linux gates GSSAPI on this flag:
// elsewhere it returns errors.ErrUnsupported.
func SeedHome(home string, owner Owner, dirs []string) ([]Result, error) {
	return seedHome(home, owner, dirs)
}
