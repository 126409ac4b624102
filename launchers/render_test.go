package launchers

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/windows"
	"github.com/kiwistack/endpoint/launchers/winreg"
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

// Render for Windows with a registry store writes into it exactly the
// values of the .reg file it wrote under the root, both from
// windows.RegistryValues; without a store it says the registry was not
// touched, and other OSes refuse a store.
func TestRenderWindowsRegistry(t *testing.T) {
	root := t.TempDir()
	var store winreg.MemStore
	var out bytes.Buffer
	o := RenderOptions{Source: Source{Tenant: "acme"}, OS: "windows", Root: root, Registry: &store}
	if _, err := Render(&out, o); err != nil {
		t.Fatal(err)
	}
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	vs, err := windows.RegistryValues(c, windows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := winreg.RegFile(vs)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(windows.RegFile)))
	if err != nil || !bytes.Equal(onDisk, reg) {
		t.Errorf("the .reg file under the root is not RegFile(RegistryValues): %v", err)
	}
	var want winreg.MemStore
	if err := winreg.Apply(&want, vs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(store.Values, want.Values) || len(store.Values) == 0 {
		t.Errorf("registry %v, want %v", store.Values, want.Values)
	}
	if !strings.Contains(out.String(), "The registry holds the") {
		t.Errorf("%s", out.String())
	}
	o.OS = "darwin"
	if _, err := Render(&out, o); err == nil {
		t.Errorf("a registry store accepted for darwin")
	}
}
