package fleet

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	StateError         = "error"
)

// Service says whether fleetd's service runs.
type Service interface {
	// Active is "active", "inactive", "failed" or "unknown".
	Active(ctx context.Context) string
}

// Systemd asks systemd about orbit.service (`systemctl is-active orbit`)
// when systemd is PID 1, and answers "unknown" otherwise or off Linux.
type Systemd struct{}

// Active implements Service.
func (Systemd) Active(ctx context.Context) string {
	if runtime.GOOS != "linux" {
		return "unknown"
	}
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		return "unknown"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "systemctl", "is-active", "orbit").Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		return s
	}
	return "unknown"
}

// Unknown is a Service that cannot tell.
type Unknown struct{}

// Active implements Service.
func (Unknown) Active(context.Context) string { return "unknown" }

// Options configure a Controller.
type Options struct {
	// Root is the filesystem root fleetd's files live under ("" is /, or
	// the system drive on Windows).
	Root string
	// GOOS selects the renderer (runtime.GOOS when empty).
	GOOS string
	// Config returns the current tenant configuration, nil when not
	// enrolled.
	Config func() *protocol.AgentConfig
	// Service reports fleetd's service (Systemd when nil).
	Service Service
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// Controller writes fleetd's configuration.
type Controller struct {
	o Options

	mu sync.Mutex
	st status.Fleet
}

// New returns the controller.
func New(o Options) *Controller {
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.Service == nil {
		o.Service = Systemd{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config == nil {
		o.Config = func() *protocol.AgentConfig { return nil }
	}
	return &Controller{o: o, st: status.Fleet{State: StateNotConfigured}}
}

// Name is "fleet".
func (c *Controller) Name() string { return "fleet" }

// path joins an OS-absolute path of File under the root.
func (c *Controller) path(p string) string {
	root := c.o.Root
	if root == "" && c.o.GOOS == "windows" {
		root = os.Getenv("SystemDrive") + `\`
	}
	if root == "" {
		return filepath.FromSlash(p)
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

// installed says whether fleetd's binary, unit or plist is present.
func (c *Controller) installed() bool {
	var ps []string
	switch c.o.GOOS {
	case "linux":
		ps = []string{"/opt/orbit/bin/orbit/orbit", "/usr/lib/systemd/system/orbit.service"}
	case "darwin":
		ps = []string{"/opt/orbit/bin/orbit/orbit"}
	case "windows":
		ps = []string{windowsDir + "/bin/orbit/orbit.exe"}
	}
	for _, p := range ps {
		if _, err := os.Stat(c.path(p)); err == nil {
			return true
		}
	}
	return false
}

// Reconcile writes the files that differ from what the configuration says.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	cfg := c.o.Config()
	if cfg == nil || cfg.Fleet == nil {
		c.set(status.Fleet{State: StateNotConfigured, Message: "the tenant configuration names no Fleet server"})
		return time.Time{}, nil
	}
	st := status.Fleet{URL: cfg.Fleet.URL, Installed: c.installed(), Running: c.o.Service.Active(ctx)}
	files, err := Render(c.o.GOOS, *cfg.Fleet)
	if err == nil {
		var n int
		n, err = c.write(files)
		if n > 0 {
			c.o.Logger.Info("fleetd configuration written", "files", n, "url", cfg.Fleet.URL)
		}
	}
	if err != nil {
		st.State, st.Message = StateError, err.Error()
		c.set(st)
		return time.Time{}, err
	}
	st.State, st.Configured = StateConfigured, true
	if !st.Installed {
		st.Message = "fleetd is not installed; it will read this configuration once installed"
	}
	c.set(st)
	return time.Time{}, nil
}

// write writes each file whose content or mode differs and returns how
// many it wrote.
func (c *Controller) write(files []File) (int, error) {
	n := 0
	for _, f := range files {
		wrote, err := atomicfile.Update(c.path(f.Path), f.Content, fs.FileMode(f.Mode), 0o755)
		if err != nil {
			return n, err
		}
		if wrote {
			n++
		}
	}
	return n, nil
}

func (c *Controller) set(st status.Fleet) {
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
}

// Status is fleetd's state for status output.
func (c *Controller) Status() *status.Fleet {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	return &st
}

// State implements reconcile.Controller.
func (c *Controller) State() (string, string) {
	st := c.Status()
	return st.State, st.Message
}
