//go:build !darwin

package launchers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch"
)

// The agent started as the dispatcher app without a URL off macOS says that
// Apple Events are unsupported and opens nothing when started as the dispatcher app without a URL here;
// with a URL in argv it opens it as the Linux dispatcher would.
func TestAppleEventsCommand(t *testing.T) {
	agent := builtAgent(t)
	bin := t.TempDir()
	chromium, prev := filepath.Join(bin, "chromium"), filepath.Join(bin, "previous")
	recorder(t, chromium)
	recorder(t, prev)
	c, _ := catalog.Defaults("acme", catalog.Path)
	b, err := (&dispatch.State{Catalog: c, Browser: chromium, Previous: []string{prev}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "dispatch.json")
	writeFile(t, state, string(b))
	run := func(args ...string) (string, error) {
		cmd := exec.Command(agent, append([]string{"dispatch", "--apple-events", "--state", state}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.Dir = bin
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("https://od.acme.kiwistack.io/notes/pad"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, _ := os.ReadFile(chromium + ".argv"); string(got) != "--app=https://od.acme.kiwistack.io/notes/pad\n--profile-directory=Work\n" {
		t.Errorf("chromium got %q", got)
	}
	hostile := "https://example.com/$(touch PWNED)`touch PWNED`"
	if out, err := run(hostile); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, _ := os.ReadFile(prev + ".argv"); string(got) != hostile+"\n" {
		t.Errorf("previous browser got %q", got)
	}
	if _, err := os.Stat(filepath.Join(bin, "PWNED")); !os.IsNotExist(err) {
		t.Errorf("a URL ran a command")
	}
	out, err := run()
	if err == nil || !strings.Contains(out, "unsupported") {
		t.Errorf("no URL off macOS: %v: %s", err, out)
	}
	cmd := exec.Command(agent, "dispatch", "--apple-events", "--explain", "https://example.com/")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--apple-events goes only with --state") {
		t.Errorf("--apple-events --explain: %v: %s", err, out)
	}
}
