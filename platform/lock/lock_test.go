package lock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestTenantUsers(t *testing.T) {
	passwd := `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
svc:x:1001:1001::/var/lib/svc:/usr/sbin/nologin
bob:x:1002:1002:Bob:/home/bob:/usr/bin/zsh
ftp:x:1003:1003::/srv/ftp:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
-evil:x:1004:1004::/home/evil:/bin/sh
broken line
`
	if got, want := TenantUsers([]byte(passwd)), []string{"alice", "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TenantUsers = %v, want %v", got, want)
	}
	dscl := "_www 70\nroot 0\nalice 501\nbob 502\nnobody -2\n"
	if got, want := DarwinUsers([]byte(dscl)), []string{"alice", "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DarwinUsers = %v, want %v", got, want)
	}
	if got, want := WindowsUsers([]byte("alice\r\n\r\nbob\r\n/add\r\n")), []string{"alice", "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("WindowsUsers = %v, want %v", got, want)
	}
}

func TestCommands(t *testing.T) {
	for _, c := range []struct {
		name string
		got  [][]string
		want [][]string
	}{
		{"linux", LinuxCommands("", []string{"alice"}), [][]string{{"usermod", "--lock", "--expiredate", "1", "--", "alice"}}},
		{"linux under a root", LinuxCommands("/mnt", []string{"alice"}),
			[][]string{{"usermod", "--root", "/mnt", "--lock", "--expiredate", "1", "--", "alice"}}},
		{"darwin", DarwinCommands([]string{"alice"}), [][]string{{"/usr/bin/pwpolicy", "-u", "alice", "-disableuser"}}},
		{"windows", WindowsCommands([]string{"alice"}), [][]string{{`C:\Windows\System32\net.exe`, "user", "alice", "/active:no"}}},
		{"none", LinuxCommands("", nil), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
}

// TestLockLinux runs the Linux lock on a sandbox root with a recording
// runner: /etc/nologin is written and each tenant user is locked.
func TestLockLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux lock runs on Linux only")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	var ran [][]string
	run := func(_ context.Context, argv []string) error { ran = append(ran, argv); return nil }
	if err := Lock(context.Background(), Options{Root: root, Message: "locked by acme", Run: run}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "etc", "nologin"))
	if err != nil || string(b) != "locked by acme\n" {
		t.Errorf("nologin %q %v", b, err)
	}
	if want := LinuxCommands(root, []string{"alice"}); !reflect.DeepEqual(ran, want) {
		t.Errorf("ran %q, want %q", ran, want)
	}
	// A failing usermod is reported; no tenant user is ErrNoUsers.
	failing := func(context.Context, []string) error { return errors.New("usermod failed") }
	if err := Lock(context.Background(), Options{Root: root, Run: failing}); err == nil {
		t.Error("a failing usermod was not reported")
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Lock(context.Background(), Options{Root: root, Run: run}); !errors.Is(err, ErrNoUsers) {
		t.Errorf("no users: %v", err)
	}
}

// TestLockLinuxUsermod locks a user of a sandbox root with the real
// usermod (--root): the shadow entry's password is locked ("!") and the
// account expired (day 1).
func TestLockLinuxUsermod(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux lock runs on Linux only")
	}
	if os.Geteuid() != 0 {
		t.Skip("usermod --root chroots: needs root (make test runs as root)")
	}
	if _, err := exec.LookPath("usermod"); err != nil {
		t.Skip("usermod is missing: install passwd (scripts/install-test-deps)")
	}
	root := t.TempDir()
	for name, body := range map[string]string{
		"passwd": "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
		"shadow": "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:99999:7:::\n",
		"group":  "root:x:0:\nalice:x:1000:\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Lock(context.Background(), Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "etc", "shadow"))
	if err != nil || !strings.Contains(string(b), "alice:!$6$salt$hash:19000:0:99999:7::1:") || !strings.Contains(string(b), "root:*:19000:0:99999:7:::") {
		t.Errorf("shadow after the lock:\n%s (%v)", b, err)
	}
}
