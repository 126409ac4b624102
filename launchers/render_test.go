package launchers

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
)

func TestSourceLoad(t *testing.T) {
	c, err := Source{Tenant: "acme"}.Load()
	if err != nil || c.Routing != catalog.Subdomain {
		t.Fatalf("default routing: %v %v", c, err)
	}
	if _, err := (Source{}).Load(); err == nil {
		t.Errorf("no tenant and no file accepted")
	}
	path, _ := catalog.Defaults("acme", catalog.Path)
	b, _ := json.Marshal(path)
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Source{CatalogFile: file, Routing: catalog.Subdomain}).Load(); err == nil || !strings.Contains(err.Error(), "not what the flags say") {
		t.Errorf("routing mismatch: %v", err)
	}
	if _, err := (Source{CatalogFile: file, Tenant: "other"}).Load(); err == nil {
		t.Errorf("tenant mismatch accepted")
	}
	if c, err := (Source{CatalogFile: file}).Load(); err != nil || c.Routing != catalog.Path {
		t.Errorf("%v %v", c, err)
	}
}

// With the browser looked up and none installed, Render says so with
// chromium.ErrNotFound; Explain still explains, and says the tenant URL
// would fall back to the previous browser.
func TestNoChromium(t *testing.T) {
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	_, err := Render(&bytes.Buffer{}, RenderOptions{Source: Source{Tenant: "acme"}, OS: "linux", Root: t.TempDir(), LookPath: none})
	if !errors.Is(err, chromium.ErrNotFound) {
		t.Errorf("render: %v", err)
	}
	var out bytes.Buffer
	err = Explain(&out, "https://mail.od.acme.kiwistack.io/", ExplainOptions{Source: Source{Tenant: "acme"}, LookPath: none, Previous: "/usr/bin/firefox"})
	if err != nil || !strings.Contains(out.String(), "[no-app-browser]") || !strings.Contains(out.String(), `"/usr/bin/firefox"`) {
		t.Errorf("explain: %v\n%s", err, out.String())
	}
	if err := Explain(&out, "https://x/", ExplainOptions{Source: Source{Tenant: "acme"}, Previous: "firefox"}); err == nil {
		t.Errorf("relative previous browser accepted")
	}
}
