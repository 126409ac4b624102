package launchers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"github.com/kiwistack/endpoint/launchers/xdg"
)

// agentBuild is one build of kiwistack-agent for the tests.
type agentBuild struct {
	once sync.Once
	path string
	err  error
}

// agentBuilds are the default build (cgo as `make build` has it, so libc
// is linked dynamically: cobra's flag package imports net) and the static
// one (CGO_ENABLED=0, as scripts/cross builds the release binaries).
var agentBuilds = map[string]*agentBuild{"cgo": {}, "static": {}}

// TestMain removes the agent binaries the tests below build.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range agentBuilds {
		if b.path != "" {
			os.RemoveAll(filepath.Dir(b.path))
		}
	}
	os.Exit(code)
}

// builtAgent builds kiwistack-agent, whose `dispatch` subcommand is the
// installed dispatcher, once per test binary, into a directory without
// spaces (xdg-open splits Exec lines on spaces).
func builtAgent(t testing.TB) string { return buildAgent(t, "cgo") }

func buildAgent(t testing.TB, kind string) string {
	t.Helper()
	b := agentBuilds[kind]
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build the agent: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "kiwistack-agent-"+kind+"-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "kiwistack-agent")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", b.path, "github.com/kiwistack/endpoint/cmd/kiwistack-agent")
		cmd.Env = os.Environ()
		if kind == "static" {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build (%s): %v\n%s", kind, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// recorder writes an executable sh script at path that writes its
// arguments, one per line, to path + ".argv".
func recorder(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.argv\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A real xdg-open (Debian's xdg-utils, generic desktop) under a test HOME
// and XDG directories pointing at a rendered root: the system
// mimeapps.list the render wrote makes the dispatcher's desktop entry the
// https handler; a tenant URL reaches the stand-in Chromium as
// --app=URL --profile-directory=Work, any other URL reaches the stand-in
// previous browser (the default the render found in the root) as its one
// argument, unchanged; nothing in the URLs ($(...), backticks, ';', quotes)
// runs. Rendering again keeps the previous browser, though the root's
// default is now the dispatcher.
func TestXDGOpenRoutesThroughTheDispatcher(t *testing.T) {
	xdgOpen := realtool.Require(t, "xdg-open", "xdg-utils")
	agent := builtAgent(t)
	root, bin, home := t.TempDir(), t.TempDir(), t.TempDir()
	chromiumStandIn := filepath.Join(bin, "chromium")
	previousStandIn := filepath.Join(bin, "previous-browser")
	recorder(t, chromiumStandIn)
	recorder(t, previousStandIn)
	writeFile(t, filepath.Join(root, "usr/share/applications/standin-browser.desktop"),
		"[Desktop Entry]\nType=Application\nName=Stand-in browser\nExec="+previousStandIn+" %u\nMimeType=x-scheme-handler/https;\n")
	writeFile(t, filepath.Join(root, "etc/xdg/mimeapps.list"),
		"[Default Applications]\nx-scheme-handler/https=standin-browser.desktop;\nx-scheme-handler/http=standin-browser.desktop;\ntext/plain=editor.desktop;\n")
	state := filepath.Join(root, xdg.DispatchState)
	o := RenderOptions{Source: Source{Tenant: "acme"}, OS: "linux", Root: root, Browser: chromiumStandIn, Agent: agent, DispatchState: state}
	var out bytes.Buffer
	if _, err := Render(&out, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "links that are not the tenant's go to "+previousStandIn) {
		t.Fatalf("render did not find the previous browser:\n%s", out.String())
	}
	out.Reset()
	if res, err := Render(&out, o); err != nil || !strings.Contains(out.String(), "go to "+previousStandIn) || len(res.Written) != 0 {
		t.Fatalf("second render: %v\n%s", err, out.String())
	}
	if list, err := os.ReadFile(filepath.Join(root, "etc/xdg/mimeapps.list")); err != nil || !bytes.Contains(list, []byte("\ntext/plain=editor.desktop;\n")) {
		t.Errorf("the admin's other default is gone from mimeapps.list: %v\n%s", err, list)
	}

	pwned := filepath.Join(t.TempDir(), "pwned")
	inject := "$(touch " + pwned + ");`touch " + pwned + "`;'\"&x=1|y"
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"XDG_CONFIG_DIRS=" + filepath.Join(root, "etc/xdg"), "XDG_DATA_DIRS=" + filepath.Join(root, "usr/share"),
		"XDG_CURRENT_DESKTOP=X-Generic", "DISPLAY=:99", "PATH=/usr/bin:/bin"}
	open := func(url string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, xdgOpen, url)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xdg-open %q: %v\n%s", url, err, out)
		}
	}
	argv := func(standIn string) []string {
		t.Helper()
		b, err := os.ReadFile(standIn + ".argv")
		if err != nil {
			t.Fatalf("%s was not run: %v", filepath.Base(standIn), err)
		}
		os.Remove(standIn + ".argv")
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	c, _ := catalog.Defaults("acme", catalog.Subdomain)

	tenant := "https://Mail.od.acme.kiwistack.io/appsuite/?q=" + inject
	open(tenant)
	d := dispatch.Decide(tenant, dispatch.Config{Catalog: c, Browser: chromiumStandIn})
	want := []string{"--app=" + d.URL, "--profile-directory=Work"}
	got := argv(chromiumStandIn)
	t.Logf("Chromium stand-in argv: %q", got)
	if !slices.Equal(got, want) || !strings.HasPrefix(d.URL, "https://mail.od.acme.kiwistack.io/appsuite/?q=$(touch%20") {
		t.Errorf("Chromium got %q, want %q", got, want)
	}

	for _, other := range []string{
		"https://example.com/a?b=" + inject,
		"https://mail.od.acme.kiwistack.io.evil.com/" + inject,
		"http://chat.od.acme.kiwistack.io/#/room/" + inject,
	} {
		open(other)
		if got := argv(previousStandIn); !slices.Equal(got, []string{other}) {
			t.Errorf("the previous browser got %q, want %q", got, other)
		}
	}
	if _, err := os.Stat(chromiumStandIn + ".argv"); !os.IsNotExist(err) {
		t.Errorf("Chromium was run for a URL that is not the tenant's")
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("a URL ran a command")
	}
}

// The dispatcher refuses to hand a URL back to a previous browser that
// handed it over (the loop marker), and never execs itself.
func TestDispatchLoops(t *testing.T) {
	agent := builtAgent(t)
	bin := t.TempDir()
	prev := filepath.Join(bin, "previous")
	recorder(t, prev)
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	for _, tc := range []struct {
		previous []string
		env      []string
		want     string
	}{
		{[]string{prev}, []string{LoopEnv + "=https://example.com/"}, "would loop"},
		{[]string{agent}, nil, "loop"},
	} {
		st := dispatch.State{Catalog: c, Browser: "/bin/true", Previous: tc.previous}
		b, err := st.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "dispatch.json")
		writeFile(t, file, string(b))
		cmd := exec.Command(agent, "dispatch", "--state", file, "https://example.com/")
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tc.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("previous %q: %v\n%s", tc.previous, err, out)
		}
		if _, err := os.Stat(prev + ".argv"); !os.IsNotExist(err) {
			t.Errorf("the previous browser was run")
		}
	}
}

// benchState writes a state whose Chromium is /bin/true, so that a run of
// the dispatcher is its start, its decision and the exec of a target that
// exits at once.
func benchState(b *testing.B) string {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	st := dispatch.State{Catalog: c, Browser: "/bin/true", Previous: []string{"/bin/true"}}
	data, err := st.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "dispatch.json")
	writeFile(b, file, string(data))
	return file
}

func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2]) / float64(time.Millisecond)
}

// timeRuns times argv from the fork to the end of the process it became,
// and reports the median.
func timeRuns(b *testing.B, argv ...string) {
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		if err := cmd.Run(); err != nil {
			b.Fatalf("%q: %v", argv, err)
		}
		ds = append(ds, time.Since(start))
	}
	b.ReportMetric(median(ds), "median-ms")
}

// BenchmarkDispatchToApp is the built dispatcher run for a tenant URL with
// a stand-in Chromium (/bin/true), from the fork of the dispatcher to the
// end of the process it became, for the default (cgo) build and the static
// one. Issue 5 asks for at most 5 ms from the dispatcher's start to the
// exec of the target; this also holds the exec and run of /bin/true, which
// BenchmarkTrue measures alone, to subtract.
func BenchmarkDispatchToApp(b *testing.B) {
	for _, kind := range []string{"cgo", "static"} {
		b.Run(kind, func(b *testing.B) {
			timeRuns(b, buildAgent(b, kind), "dispatch", "--state", benchState(b), "https://mail.od.acme.kiwistack.io/appsuite/#!!&app=io.ox/mail")
		})
	}
}

// BenchmarkDispatchToPrevious is the same for a URL that goes to the
// previous browser (/bin/true).
func BenchmarkDispatchToPrevious(b *testing.B) {
	for _, kind := range []string{"cgo", "static"} {
		b.Run(kind, func(b *testing.B) {
			timeRuns(b, buildAgent(b, kind), "dispatch", "--state", benchState(b), "https://example.com/some/page?q=1")
		})
	}
}

// BenchmarkTrue is the stand-in target alone, fork to exit: subtracted
// from the two above, it leaves the dispatcher's start-to-exec time.
func BenchmarkTrue(b *testing.B) {
	timeRuns(b, "/bin/true", "--app=https://mail.od.acme.kiwistack.io/", "--profile-directory=Work")
}
