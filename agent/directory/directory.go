package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// States of the controller, as status shows them.
const (
	StateNotConfigured = "not configured"
	StateConfigured    = "configured"
	StateNotApplicable = "not applicable"
	StateError         = "error"
)

// Runner runs a program with arguments (never through a shell) and
// returns its combined output.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// Exec runs programs with os/exec, with a one-minute timeout and
// DEBIAN_FRONTEND=noninteractive.
type Exec struct{}

// Run implements Runner.
func (Exec) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// Service restarts SSSD so that it reads a changed sssd.conf.
type Service interface {
	// Restart restarts sssd; it returns a note for status when it cannot
	// (e.g. "restart sssd to apply"), or an error.
	Restart(ctx context.Context) (note string, err error)
}

// NoRestart is a Service that leaves SSSD alone (tests, sandbox roots,
// a machine whose SSSD the caller starts itself).
type NoRestart struct{}

// Restart implements Service.
func (NoRestart) Restart(context.Context) (string, error) { return "", nil }

// Options configure a Controller.
type Options struct {
	// Root is the filesystem root the files live under ("" is /).
	Root string
	// Config returns the current tenant configuration, nil when not
	// enrolled.
	Config func() *protocol.AgentConfig
	// Runner runs pam-auth-update and sssctl (Exec when nil).
	Runner Runner
	// Service restarts SSSD after a change (Systemd when nil).
	Service Service
	// Dial checks that the directory is reachable (a net.Dialer when
	// nil).
	Dial DialFunc
	// Now is the wall clock (time.Now when nil).
	Now func() time.Time
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// Controller configures SSSD for directory login.
type Controller struct {
	o Options

	mu sync.Mutex
	st status.Directory
}

// New returns the controller.
func New(o Options) *Controller {
	if o.Runner == nil {
		o.Runner = Exec{}
	}
	if o.Service == nil {
		o.Service = Systemd{Runner: o.Runner}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config == nil {
		o.Config = func() *protocol.AgentConfig { return nil }
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	st := status.Directory{State: StateNotConfigured}
	if !Supported {
		st = status.Directory{State: StateNotApplicable, Message: notApplicable}
	}
	return &Controller{o: o, st: st}
}

// Name is "directory".
func (c *Controller) Name() string { return "directory" }

func (c *Controller) path(p string) string {
	if c.o.Root == "" {
		return filepath.FromSlash(p)
	}
	return filepath.Join(c.o.Root, filepath.FromSlash(p))
}

// Reconcile brings SSSD's, Kerberos's, NSS's and PAM's configuration in
// line with the directory section. A bad section is refused before
// anything is written; so is a machine without SSSD.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	if !Supported {
		c.set(status.Directory{State: StateNotApplicable, Message: notApplicable})
		return time.Time{}, nil
	}
	cfg := c.o.Config()
	if cfg == nil {
		c.set(status.Directory{State: StateNotConfigured, Message: "not enrolled"})
		return time.Time{}, nil
	}
	if cfg.Directory == nil {
		return c.unconfigure(ctx)
	}
	d := cfg.Directory
	st := status.Directory{Realm: d.Realm, LDAPURIs: append([]string(nil), d.LDAPURIs...)}
	fail := func(err error) (time.Time, error) {
		st.State, st.Message = StateError, err.Error()
		c.set(st)
		return time.Time{}, err
	}
	plan, err := c.plan(ctx, d)
	if err != nil {
		return fail(err)
	}
	n, err := c.write(plan.files)
	if n > 0 {
		c.o.Logger.Info("directory login configuration written", "files", n, "realm", d.Realm)
	}
	if err != nil {
		return fail(err)
	}
	if plan.pam {
		if err := c.enablePAM(ctx); err != nil {
			return fail(err)
		}
		c.o.Logger.Info("sss and mkhomedir enabled in PAM")
	}
	st.State, st.Configured = StateConfigured, true
	if n > 0 || plan.pam {
		note, err := c.o.Service.Restart(ctx)
		if err != nil {
			return fail(fmt.Errorf("restarting sssd: %w", err))
		}
		st.Message = note
	}
	// Configured either way; whether users can log in online is what
	// the reachability says.
	var next time.Time
	st.Checked, st.Reachable = c.o.Now(), ReachableYes
	if err := Probe(ctx, c.o.Dial, d); err != nil {
		st.Reachable, next = ReachableNo, st.Checked.Add(RetryUnreachable)
		note := "the directory is unreachable: " + err.Error() +
			"; users who logged in here before log in with cached credentials, others cannot until it is reachable"
		if st.Message != "" {
			note = st.Message + "; " + note
		}
		st.Message = note
		c.o.Logger.Info("directory unreachable", "realm", d.Realm, "err", err)
	}
	c.set(st)
	return next, nil
}

// unconfigure removes what an earlier reconcile wrote once the tenant's
// configuration names no directory any more: sssd.conf (only when it is
// the agent's, by its header), the directory CA and the krb5 snippet, then
// restarts SSSD, which, with no domain, serves no directory user: directory
// logins, cached ones included, end. NSS's and PAM's sss entries stay:
// the distribution's packages add them too, and without a running sssd
// they answer nothing. Nothing is done for a laptop that never had it.
func (c *Controller) unconfigure(ctx context.Context) (time.Time, error) {
	st := status.Directory{State: StateNotConfigured, Message: "the tenant configuration names no directory"}
	b, err := os.ReadFile(c.path(SSSDConf))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !bytes.HasPrefix(b, []byte(header))) {
		c.set(st)
		return time.Time{}, nil
	}
	if err != nil {
		st.State, st.Message = StateError, fmt.Sprintf("reading %s: %v", SSSDConf, err)
		c.set(st)
		return time.Time{}, fmt.Errorf("reading %s: %w", SSSDConf, err)
	}
	var errs []error
	for _, p := range []string{SSSDConf, CAFile, Krb5Snippet} {
		if err := os.Remove(c.path(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %s: %w", p, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		st.State, st.Message = StateError, err.Error()
		c.set(st)
		return time.Time{}, err
	}
	c.o.Logger.Info("the tenant removed its directory: the agent's SSSD configuration was removed")
	st.Message = "the tenant removed its directory: the agent's SSSD configuration was removed, directory logins end"
	if note, err := c.o.Service.Restart(ctx); err != nil {
		st.State, st.Message = StateError, st.Message+"; restarting sssd: "+err.Error()
		c.set(st)
		return time.Time{}, fmt.Errorf("restarting sssd: %w", err)
	} else if note != "" {
		st.Message += "; " + note
	}
	c.set(st)
	return time.Time{}, nil
}

// plan is what a reconcile writes.
type plan struct {
	files []File
	pam   bool
}

// plan renders and checks everything before anything is written.
func (c *Controller) plan(ctx context.Context, d *protocol.DirectoryConfig) (plan, error) {
	files, err := Render(d)
	if err != nil {
		return plan{}, err
	}
	for _, p := range []string{"/usr/share/pam-configs/sss", "/usr/share/pam-configs/mkhomedir"} {
		if _, err := os.Stat(c.path(p)); err != nil {
			return plan{}, fmt.Errorf("SSSD is not installed (%s missing): install sssd, libpam-sss and libnss-sss", p)
		}
	}
	if err := c.configCheck(ctx, files); err != nil {
		return plan{}, err
	}
	nss, err := c.edit(NSSwitchConf, EnableNSS)
	if err != nil {
		return plan{}, err
	}
	krb, err := c.edit(Krb5Conf, IncludeKrb5Dir)
	if err != nil {
		return plan{}, err
	}
	files = append(files, nss, krb)
	return plan{files: files, pam: !c.pamEnabled()}, nil
}

// edit applies f to the file at p (empty when missing), keeping its mode.
func (c *Controller) edit(p string, f func([]byte) ([]byte, bool)) (File, error) {
	old, err := os.ReadFile(c.path(p))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return File{}, fmt.Errorf("reading %s: %w", p, err)
	}
	mode := uint32(0o644)
	if fi, err := os.Stat(c.path(p)); err == nil {
		mode = uint32(fi.Mode().Perm())
	}
	out, _ := f(old)
	return File{Path: p, Content: out, Mode: mode}, nil
}

// configCheck runs `sssctl config-check` on the rendered sssd.conf in a
// private temporary directory when sssctl (sssd-tools) is installed.
func (c *Controller) configCheck(ctx context.Context, files []File) error {
	if _, err := exec.LookPath("sssctl"); err != nil {
		return nil
	}
	for _, f := range files {
		if f.Path == SSSDConf {
			return ConfigCheck(ctx, c.o.Runner, f.Content)
		}
	}
	return nil
}

// ConfigCheck writes conf to a private temporary directory (0600, like
// SSSD wants it) and runs `sssctl config-check -c` on it; the error carries
// sssctl's findings.
func ConfigCheck(ctx context.Context, r Runner, conf []byte) error {
	dir, err := os.MkdirTemp("", "kiwistack-sssd-")
	if err != nil {
		return fmt.Errorf("checking sssd.conf: %w", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "sssd.conf")
	if err := os.WriteFile(p, conf, 0o600); err != nil {
		return fmt.Errorf("checking sssd.conf: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o700); err != nil {
		return fmt.Errorf("checking sssd.conf: %w", err)
	}
	out, err := r.Run(ctx, "sssctl", "config-check", "-c", p, "-s", filepath.Join(dir, "conf.d"))
	if err != nil {
		return fmt.Errorf("sssctl config-check refuses the rendered sssd.conf: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pamEnabled says whether Debian's common PAM files already call pam_sss
// and pam_mkhomedir.
func (c *Controller) pamEnabled() bool {
	auth, err1 := os.ReadFile(c.path("/etc/pam.d/common-auth"))
	sess, err2 := os.ReadFile(c.path("/etc/pam.d/common-session"))
	return err1 == nil && err2 == nil && bytes.Contains(auth, []byte("pam_sss.so")) &&
		bytes.Contains(sess, []byte("pam_sss.so")) && bytes.Contains(sess, []byte("pam_mkhomedir.so"))
}

// enablePAM runs pam-auth-update --enable for PAMProfiles (with --root
// for a sandbox root) and checks that it took: pam-auth-update leaves
// locally edited common files alone.
func (c *Controller) enablePAM(ctx context.Context) error {
	args := []string{}
	if c.o.Root != "" {
		args = append(args, "--root", c.o.Root)
	}
	args = append(args, "--enable")
	args = append(args, PAMProfiles...)
	if out, err := c.o.Runner.Run(ctx, "pam-auth-update", args...); err != nil {
		return fmt.Errorf("pam-auth-update %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	if !c.pamEnabled() {
		return fmt.Errorf("pam-auth-update did not enable %s: /etc/pam.d/common-* were edited by hand; run pam-auth-update and select them", strings.Join(PAMProfiles, " and "))
	}
	return nil
}

// write writes each file whose content or mode differs and returns how
// many it wrote.
func (c *Controller) write(files []File) (int, error) {
	n := 0
	for _, f := range files {
		dirMode := fs.FileMode(0o755)
		if filepath.Dir(f.Path) == "/etc/sssd" {
			dirMode = 0o711
		}
		wrote, err := atomicfile.Update(c.path(f.Path), f.Content, fs.FileMode(f.Mode), dirMode)
		if err != nil {
			return n, fmt.Errorf("writing %s: %w", f.Path, err)
		}
		if wrote {
			n++
		}
	}
	return n, nil
}

func (c *Controller) set(st status.Directory) {
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
}

// Status is the directory login's state for status output.
func (c *Controller) Status() *status.Directory {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.LDAPURIs = append([]string(nil), st.LDAPURIs...)
	return &st
}

// State implements reconcile.Controller.
func (c *Controller) State() (string, string) {
	st := c.Status()
	return st.State, st.Message
}
