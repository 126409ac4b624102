package xdg

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/test/cdp"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/desktopentry"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
)

// headless are the flags a headless Chromium needs here: no sandbox (the
// tests run as root), no GPU, nothing fetched from the network.
var headless = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--password-store=basic"}

// startGroup starts cmd in a process group of its own and, at cleanup,
// kills the whole group (Chromium's zygote and renderers included) and
// waits for cmd.
func startGroup(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}

// pageText collects the text of every node of chrome://policy, through the
// shadow roots its elements draw in, one " | " between texts.
const pageText = `(() => { const out = []; const walk = n => { if (n.shadowRoot) walk(n.shadowRoot);
  for (const c of n.childNodes) { if (c.nodeType === 3) { const s = c.textContent.trim(); if (s) out.push(s); } else walk(c); } };
  walk(document.documentElement); return out.join(" | "); })()`

// policyPage starts a headless Chromium (argv[0] and the arguments before
// it, e.g. unshare and a bind mount) and returns the text of its
// chrome://policy page once the page has drawn its tables.
func policyPage(t *testing.T, prefix []string) string {
	t.Helper()
	args := append(append(append([]string(nil), prefix[1:]...), headless...), "--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd := exec.Command(prefix[0], args...)
	d, err := cdp.Pipe(cmd)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	startGroup(t, cmd)
	d.Started()
	t.Cleanup(d.Close)
	deadline := time.Now().Add(60 * time.Second)
	fail := func(err error) {
		t.Helper()
		t.Fatalf("%v\nChromium's stderr:\n%s", err, stderr.String())
	}
	session, err := d.NewPage("chrome://policy", deadline)
	if err != nil {
		fail(err)
	}
	for time.Now().Before(deadline) {
		text, err := d.Evaluate(session, pageText, deadline)
		if err != nil {
			fail(err)
		}
		if strings.Contains(text, "AuthServerAllowlist |") {
			return text
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail(errors.New("chrome://policy did not list AuthServerAllowlist within a minute"))
	return ""
}

// Debian's Chromium, in a private mount namespace where the rendered
// root's etc/chromium is bind-mounted over /etc/chromium (the machine's
// own /etc is never written), lists the generated policy on chrome://policy
// as in force: the tenant's value, from the platform, machine-wide,
// mandatory, status OK. Without the mount the same browser has it unset, so
// the value came from the rendered file.
func TestChromiumReadsThePolicy(t *testing.T) {
	realtool.RequireRoot(t, "a private mount namespace with a bind mount over /etc/chromium")
	chromium := realtool.Require(t, "chromium", "chromium")
	unshare := realtool.Require(t, "unshare", "util-linux")
	sh := realtool.Require(t, "sh", "dash")
	realtool.Require(t, "mount", "mount")
	c, err := catalog.Defaults("acme", catalog.Path)
	if err != nil {
		t.Fatal(err)
	}
	c.KerberosDelegation = true
	set, err := Render(c, debianChromium)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, err := (fileset.Writer{Root: root, Manifest: Manifest}).Apply(set); err != nil {
		t.Fatal(err)
	}
	// The mount's paths are the shell's positional parameters, never part
	// of its script.
	mounted := []string{unshare, "--mount", "--propagation", "private", "--", sh, "-c",
		`mount --bind -- "$1" /etc/chromium && shift && exec "$@"`, "sh", filepath.Join(root, "etc/chromium"), chromium}
	text := policyPage(t, mounted)
	for _, policy := range []string{"AuthServerAllowlist", "AuthNegotiateDelegateAllowlist"} {
		re := regexp.MustCompile(policy + ` \| od\.acme\.kiwistack\.io \| Platform \| Machine \| Mandatory \| OK \|`)
		if !re.MatchString(text) {
			i := strings.Index(text, policy)
			t.Errorf("chrome://policy does not show %s in force with the tenant's value:\n%.300s", policy, text[max(i, 0):])
		}
	}
	if !regexp.MustCompile(`DisableAuthNegotiateCnameLookup \| true \| Platform \| Machine \| Mandatory \| OK \|`).MatchString(text) {
		i := strings.Index(text, "DisableAuthNegotiateCnameLookup")
		t.Errorf("chrome://policy does not show DisableAuthNegotiateCnameLookup in force:\n%.300s", text[max(i, 0):])
	}
	control := policyPage(t, []string{chromium})
	if !strings.Contains(control, "AuthServerAllowlist | Not set.") || strings.Contains(control, "od.acme.kiwistack.io") {
		t.Errorf("without the mount, the policy is set anyway: is /etc/chromium/policies/managed on this machine holding it?")
	}
}

// xvfb starts a virtual X server on a free display and returns its name.
func xvfb(t *testing.T) string {
	t.Helper()
	bin := realtool.Require(t, "Xvfb", "xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	startGroup(t, cmd)
	w.Close()
	if err := r.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb gave no display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

var childLine = regexp.MustCompile(`^\s+(0x[0-9a-f]+) "(.*)": \(`)

// findWindow waits for a top-level window titled title on display and
// returns its id.
func findWindow(t *testing.T, display, title string, deadline time.Time) string {
	t.Helper()
	xwininfo := realtool.Require(t, "xwininfo", "x11-utils")
	var last []byte
	for time.Now().Before(deadline) {
		out, err := exec.Command(xwininfo, "-display", display, "-root", "-children").Output()
		if err == nil {
			last = out
			for _, l := range strings.Split(string(out), "\n") {
				if m := childLine.FindStringSubmatch(l); m != nil && m[2] == title {
					return m[1]
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no window titled %q on %s:\n%s", title, display, last)
	return ""
}

var wmClass = regexp.MustCompile(`^WM_CLASS\(STRING\) = "([^"]*)", "([^"]*)"\s*$`)

// A launcher's Exec line, exactly as the rendered desktop entry has it
// (plus, appended by the test only, a fresh profile, a host-resolver rule
// sending the tenant's host to a local HTTPS server, and that server's key
// as trusted), opens an app window under Xvfb whose WM_CLASS instance (by
// xprop) is the entry's StartupWMClass and whose class is Chromium, in both
// routing shapes; a screenshot of it shows the page, and is kept under the
// test's artefacts directory.
func TestAppWindowClassUnderXvfb(t *testing.T) {
	realtool.Require(t, "chromium", "chromium")
	xprop := realtool.Require(t, "xprop", "x11-utils")
	importTool := realtool.Require(t, "import", "imagemagick")
	display := xvfb(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>KiwiStack test %s</title></head>
<body style="margin:0;background:#1d4ed8;color:#fff;font:32px sans-serif"><p style="padding:40px">%s, served for the launcher test</p></body></html>`, r.Host, r.Host)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	spki := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	artefacts := realtool.Artefacts(t)
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		t.Run(string(r), func(t *testing.T) {
			c, err := catalog.Defaults("acme", r)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := Entries(c.Launcher("mail"), debianChromium)
			if err != nil {
				t.Fatal(err)
			}
			file, err := entries[0].Entry.Render()
			if err != nil {
				t.Fatal(err)
			}
			kv, err := desktopentry.Parse(file)
			if err != nil {
				t.Fatal(err)
			}
			argv, err := desktopentry.ExecArgv(kv["Exec"], "")
			if err != nil {
				t.Fatal(err)
			}
			host := c.Launcher("mail").Host()
			argv = append(argv, "--user-data-dir="+t.TempDir(), "--no-sandbox", "--disable-gpu", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--password-store=basic",
				"--host-resolver-rules=MAP "+host+" 127.0.0.1:"+port,
				"--ignore-certificate-errors-spki-list="+base64.StdEncoding.EncodeToString(spki[:]))
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = []string{"DISPLAY=" + display, "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			startGroup(t, cmd)

			id := findWindow(t, display, "KiwiStack test "+host, time.Now().Add(45*time.Second))
			out, err := exec.Command(xprop, "-display", display, "-id", id, "WM_CLASS").Output()
			m := wmClass.FindStringSubmatch(string(out))
			if err != nil || m == nil {
				t.Fatalf("xprop WM_CLASS: %v %q", err, out)
			}
			if m[1] != kv["StartupWMClass"] || m[2] != "Chromium" {
				t.Errorf("WM_CLASS is %q, %q; the entry's StartupWMClass is %q", m[1], m[2], kv["StartupWMClass"])
			}
			t.Logf("%s: WM_CLASS %q, %q = StartupWMClass", kv["Exec"], m[1], m[2])

			shot := filepath.Join(artefacts, "app-window-"+string(r)+".png")
			painted := false
			for deadline := time.Now().Add(20 * time.Second); !painted && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				if out, err := exec.Command(importTool, "-display", display, "-window", id, "png:"+shot).CombinedOutput(); err != nil {
					t.Fatalf("import: %v\n%s", err, out)
				}
				painted = showsPage(t, shot)
			}
			if !painted {
				t.Errorf("the screenshot %s does not show the page's blue; Chromium's stderr:\n%s", shot, stderr.String())
			}
			t.Logf("screenshot: %s", shot)
		})
	}
}

// showsPage reports whether the PNG at path is mostly the test page's
// background (#1d4ed8).
func showsPage(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 200 || b.Dy() < 200 {
		t.Fatalf("the screenshot is %dx%d", b.Dx(), b.Dy())
	}
	blue, n := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			n++
			if r>>8 < 0x30 && g>>8 > 0x40 && g>>8 < 0x60 && bl>>8 > 0xc8 && bl>>8 < 0xe8 {
				blue++
			}
		}
	}
	return blue*2 > n
}
