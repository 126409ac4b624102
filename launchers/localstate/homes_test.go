package localstate

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/chromium"
)

func TestUserDataDir(t *testing.T) {
	want := map[string]string{
		"chromium":             ".config/chromium",
		"chromium-browser":     "snap/chromium/common/chromium",
		"/snap/bin/chromium":   "snap/chromium/common/chromium",
		"google-chrome-stable": ".config/google-chrome",
		"google-chrome":        ".config/google-chrome",
	}
	for _, c := range chromium.LinuxCandidates {
		if got := UserDataDir(c); got != want[c.Command] {
			t.Errorf("%s: %s, want %s", c.Command, got, want[c.Command])
		}
	}
	f := SkelFile(chromium.LinuxCandidates[0])
	if f.Path != "etc/skel/.config/chromium/Local State" || f.Mode != 0o600 || string(f.Data) != `{"net":{"received_http_auth_negotiate_headers":true}}` {
		t.Errorf("SkelFile: %+v", f)
	}
}

func TestParsePasswd(t *testing.T) {
	users, err := ParsePasswd([]byte(`root:x:0:0:root:/root:/bin/bash
# a comment

www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
+@netgroup
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
bob:x:1001:100::relative:/bin/sh
carol:x:1002:1002::/home/carol:/bin/zsh
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0] != (User{"alice", Owner{1000, 1000}, "/home/alice"}) || users[1].Name != "carol" {
		t.Errorf("%+v", users)
	}
	for _, bad := range []string{"alice:x:1000:1000:/home/alice:/bin/sh", "alice:x:one:1000::/home/alice:/bin/sh", ":x:1000:1000::/h:/s", "a:x:-1:1::/h:/s"} {
		if u, err := ParsePasswd([]byte(bad + "\n")); err == nil || u != nil {
			t.Errorf("ParsePasswd(%q) = %v, %v", bad, u, err)
		}
	}
}

// FuzzParsePasswd: any input is refused or gives accounts with a human uid
// and a clean absolute home.
func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte("alice:x:1000:1000::/home/alice:/bin/sh\n"))
	f.Add([]byte("root:x:0:0::/root:/bin/sh\n#c\n\n+x\n"))
	f.Add([]byte("a:b:c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, err := ParsePasswd(b)
		if err != nil {
			if users != nil {
				t.Fatal("accounts with an error")
			}
			return
		}
		for _, u := range users {
			if u.UID < minUID || u.UID > maxUID || !strings.HasPrefix(u.Home, "/") || filepath.Clean(u.Home) != u.Home || u.Name == "" {
				t.Fatalf("bad account %+v", u)
			}
		}
	})
}

// SeedHomes seeds the existing homes of root's human accounts, with their
// owners, and leaves the rest alone.
func TestSeedHomes(t *testing.T) {
	root := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 1000, 1000
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0::/root:/bin/sh\n" +
		"alice:x:" + strconv.Itoa(uid) + ":" + strconv.Itoa(gid) + "::/home/alice:/bin/sh\n" +
		"bob:x:1001:1001::/home/bob:/bin/sh\n" // no home yet
	if uid < minUID {
		t.Skip("needs root, or a test user with a human uid")
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	alice := filepath.Join(root, "home/alice")
	if err := os.MkdirAll(alice, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(alice, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	res, err := SeedHomes(root, chromium.LinuxCandidates[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].User.Name != "alice" || !res[0].Changed || res[0].Err != nil {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(alice, ".config/chromium", FileName)); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(root, "home/bob")); !os.IsNotExist(err) {
		t.Errorf("bob's home was created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "root/.config")); !os.IsNotExist(err) {
		t.Errorf("root's home was seeded: %v", err)
	}
}
