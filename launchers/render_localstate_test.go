package launchers

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/localstate"
)

// Rendering for Linux seeds Chromium's Local State: /etc/skel for homes to
// come, and the existing home of each human account under the root, owned
// by its user; a second render changes nothing.
func TestRenderSeedsLocalState(t *testing.T) {
	root := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 1000, 1000
	}
	if uid < 1000 {
		t.Skip("needs root, or a test user with a human uid, to own a home under the test root")
	}
	alice := filepath.Join(root, "home/alice")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(alice, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(alice, uid, gid); err != nil {
		t.Fatal(err)
	}
	passwd := "alice:x:" + strconv.Itoa(uid) + ":" + strconv.Itoa(gid) + "::/home/alice:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	o := RenderOptions{Source: Source{Tenant: "acme"}, OS: "linux", Root: root, Browser: "/usr/bin/chromium", LookPath: func(string) (string, error) { return "/usr/bin/chromium", nil }}
	var out bytes.Buffer
	if _, err := Render(&out, o); err != nil {
		t.Fatal(err)
	}
	want := `{"net":{"received_http_auth_negotiate_headers":true}}`
	for _, p := range []string{"etc/skel/.config/chromium/Local State", "home/alice/.config/chromium/Local State"} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if !strings.Contains(out.String(), "seeded    alice's .config/chromium/"+localstate.FileName) {
		t.Errorf("the output does not say alice's home was seeded:\n%s", out.String())
	}
	out.Reset()
	if _, err := Render(&out, o); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "seeded") {
		t.Errorf("a second render seeded again:\n%s", out.String())
	}
}
