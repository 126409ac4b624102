// Package daemon is what `kiwistack-agent run` runs: it wires the reconcile
// loop (agent/reconcile) with its controllers (enrollment, OEM claim,
// certificate, remote commands, tunnel, Fleet's agent, directory login,
// disk recovery key;
// launchers plug in the same way), the
// resume signal (platform/power), the local status endpoint (agent/status
// over platform/localsock) and the state file, and runs them until its
// context ends.
//
// It owns the wiring and the state file; it does no renewal, enrollment or
// rendering itself.
package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/appcert"
	"github.com/kiwistack/endpoint/agent/certificate"
	"github.com/kiwistack/endpoint/agent/claim"
	"github.com/kiwistack/endpoint/agent/command"
	"github.com/kiwistack/endpoint/agent/directory"
	"github.com/kiwistack/endpoint/agent/disk"
	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/fleet"
	"github.com/kiwistack/endpoint/agent/reconcile"
	"github.com/kiwistack/endpoint/agent/renew"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/agent/tunnel"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/platform/localsock"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/platform/power"
)

// StateFile is the daemon's state file in the state directory: the last
// status it computed, replaced atomically when it changes, so that it is
// whole after a kill -9 at any point.
const StateFile = "agent-state.json"

// TunnelNotConfigured is the tunnel's state when the laptop is not
// enrolled or the tenant runs no hub.
const TunnelNotConfigured = tunnel.StateNotConfigured

// Options configure a Daemon.
type Options struct {
	// Root is the filesystem root the layout lives under ("" is /).
	Root string
	// StateDir overrides the layout's state directory (where the
	// enrollment record and the state file are).
	StateDir string
	// Socket is the local endpoint (DefaultSocket(Root) if empty).
	Socket string
	// LUKSDevice is the LUKS device of the laptop's disk, for the disk
	// key escrow and the remote wipe; "" finds the one under Root through
	// device-mapper (the usual case: set it where that finds the wrong one
	// or none, e.g. a LUKS data partition).
	LUKSDevice string
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the wall clock; nil is time.Now.
	Now func() time.Time
	// Policy is the renewal policy (certificate.DefaultGrace if Grace is 0).
	Policy renew.Policy
	// ClientOptions are passed to the renewal client.
	ClientOptions []renew.ClientOption
	// Power configures resume detection.
	Power power.Options
	// MaxSleep bounds one sleep of the loop (reconcile.DefaultMaxSleep).
	MaxSleep time.Duration
	// Ready, if set, is closed once the local endpoint listens.
	Ready chan<- struct{}
	// TunnelInterface is the WireGuard interface name
	// (tunnel.DefaultInterface when empty).
	TunnelInterface string
	// Claim configures the OEM claim (Root and Logger are set from these
	// options); tests set Hardware.
	Claim claim.Options
	// Commands configures the remote-command controller (Record,
	// StateDir, Now, Logger and OnLock are set from these options); its
	// Executor is command.OSExecutor{Root} when nil.
	Commands command.Options
	// Disk configures the disk recovery-key controller (StateDir, Root,
	// ConfigDir, Record, Config, Now and Logger are set from these
	// options); tests set Volume and API.
	Disk disk.Options
}

// Daemon is a running agent.
type Daemon struct {
	o       Options
	layout  paths.Layout
	log     *slog.Logger
	enroll  *enrollment.Controller
	claim   *claim.Controller
	cert    *certificate.Controller
	tunnel  *tunnel.Controller
	command *command.Controller
	fleet   *fleet.Controller
	disk    *disk.Controller
	dir     *directory.Controller
	appcert *appcert.Controller
	loop    *reconcile.Loop
	started time.Time
	resume  power.Source

	mu    sync.Mutex
	saved []byte
}

// Layout returns the layout of o: paths.Under(Root) with StateDir applied.
func (o Options) Layout() paths.Layout {
	l := paths.Under(o.Root)
	if o.StateDir != "" {
		l.StateDir = o.StateDir
	}
	return l
}

// New builds the daemon; Run starts it.
func New(o Options) *Daemon {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Socket == "" {
		o.Socket = DefaultSocket(o.Root)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Daemon{o: o, layout: o.Layout(), log: log}
	d.enroll = enrollment.New(d.layout)
	d.cert = certificate.New(d.enroll.Record, certificate.Options{
		Policy: o.Policy, Now: o.Now, Logger: log.With("controller", "certificate"), ClientOptions: o.ClientOptions,
		OnChange: d.Trigger,
	})
	co := o.Claim
	co.Root = o.Root
	if co.Hardware == nil && o.Root != "" {
		// A sandbox root (tests) carries its own Linux-shaped sys and etc
		// trees; the hardware identity is read there, not from the host.
		co.Hardware = func(context.Context) (hwid.Fingerprint, error) { return hwid.ReadLinux(o.Root) }
	}
	if co.Logger == nil {
		co.Logger = log.With("controller", "claim")
	}
	d.claim = claim.NewController(co, d.Trigger)
	cmo := o.Commands
	cmo.Record, cmo.StateDir, cmo.Now, cmo.Logger, cmo.OnLock = d.enroll.Record, d.layout.StateDir, o.Now, log.With("controller", "command"), d.Trigger
	if cmo.Executor == nil {
		cmo.Executor = command.OSExecutor{Root: o.Root, Device: o.LUKSDevice}
	}
	d.command = command.New(cmo)
	d.tunnel = tunnel.New(tunnel.Options{
		Interface: o.TunnelInterface, StateDir: d.layout.StateDir, Record: d.enroll.Record, Revoked: d.cert.Revoked,
		Locked: d.command.Locked, Now: o.Now, Logger: log.With("controller", "tunnel"),
	})
	fo := fleet.Options{Root: o.Root, Logger: log.With("controller", "fleet"), Config: d.agentConfig}
	if o.Root != "" {
		// A sandbox root (tests) has no fleetd service of its own.
		fo.Service = fleet.Unknown{}
	}
	d.fleet = fleet.New(fo)
	// App certificates for the desktop users' Work profiles; a sandbox
	// root (tests) has no accounts in its etc/passwd, so none.
	d.appcert = appcert.New(appcert.Options{Record: d.enroll.Record, Revoked: d.cert.Revoked, Root: o.Root,
		Now: o.Now, Logger: log.With("controller", "appcert")})
	dko := o.Disk
	dko.StateDir, dko.Root, dko.ConfigDir, dko.Record, dko.Config = d.layout.StateDir, o.Root, d.layout.ConfigDir, d.enroll.Record, d.agentConfig
	dko.Now, dko.Logger = o.Now, log.With("controller", "disk")
	if dko.Device == "" {
		dko.Device = o.LUKSDevice
	}
	d.disk = disk.New(dko)
	do := directory.Options{Root: o.Root, Logger: log.With("controller", "directory"), Config: d.agentConfig}
	if o.Root != "" {
		// A sandbox root (tests) has no sssd service of its own.
		do.Service = directory.NoRestart{}
	}
	d.dir = directory.New(do)
	return d
}

// agentConfig is the tenant configuration of the last check-in, or the
// enrollment's when there was none; nil when not enrolled.
func (d *Daemon) agentConfig() *protocol.AgentConfig {
	if c := d.tunnel.Config(); c != nil {
		return c
	}
	if r := d.enroll.Record(); r != nil {
		c := r.AgentConfig
		return &c
	}
	return nil
}

// Run runs the daemon until ctx ends; it returns nil then, or the error
// that kept it from starting.
func (d *Daemon) Run(ctx context.Context) error {
	if err := os.MkdirAll(d.layout.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	l, err := localsock.Listen(d.o.Socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	po := d.o.Power
	if po.Logger == nil {
		po.Logger = d.log
	}
	wake, src := power.Resumes(ctx, po)
	d.resume, d.started = src, d.o.Now()
	d.loop = reconcile.New(reconcile.Options{
		Now: d.o.Now, Wake: wake, MaxSleep: d.o.MaxSleep, Logger: d.log, AfterPass: d.save,
	}, d.enroll, d.claim, d.cert, d.command, d.tunnel, d.fleet, d.dir, d.disk, d.appcert)

	var wg sync.WaitGroup
	var serveErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr = status.Serve(ctx, l, d)
		cancel()
	}()
	if d.o.Ready != nil {
		close(d.o.Ready)
	}
	d.log.Info("agent running", "state", d.layout.StateDir, "socket", d.o.Socket, "resume", string(src))
	_ = d.loop.Run(ctx)
	cancel()
	// The tunnel lives as long as the agent: an embedded wireguard-go
	// device cannot outlive the process anyway.
	d.tunnel.Stop()
	wg.Wait()
	d.log.Info("agent stopped")
	if serveErr != nil {
		return fmt.Errorf("serving status: %w", serveErr)
	}
	return nil
}

// Trigger asks for a reconcile pass now.
func (d *Daemon) Trigger() {
	if d.loop != nil {
		d.loop.Trigger()
	}
}

// Wakeups returns how often the loop woke up.
func (d *Daemon) Wakeups() int64 {
	if d.loop == nil {
		return 0
	}
	return d.loop.Wakeups()
}

// Status computes the status document.
func (d *Daemon) Status() status.Status {
	s := status.Status{
		Version: status.Version, Updated: d.o.Now(), Started: d.started, Resume: string(d.resume),
		Tunnel:         d.tunnel.Status(),
		Certificate:    d.cert.Status(),
		Commands:       d.command.Status(),
		Fleet:          d.fleet.Status(),
		Disk:           d.disk.Status(),
		Directory:      d.dir.Status(),
		AppCertificate: d.appcert.Status(),
	}
	if r := d.enroll.Record(); r != nil {
		s.Enrollment = status.Enrollment{Enrolled: true, Tenant: r.Tenant, DeviceID: r.DeviceID, APIURL: r.APIURL}
	} else if err := d.enroll.Err(); err != nil {
		s.Enrollment.Error = err.Error()
	}
	if d.loop != nil {
		for _, c := range d.loop.Statuses() {
			s.Controllers = append(s.Controllers, status.Controller{
				Name: c.Name, State: c.State, Message: c.Message, LastRun: c.LastRun, Next: c.Next, LastError: c.LastError,
			})
		}
	}
	return s
}

// save writes the state file when the status changed (ignoring the time it
// was computed), atomically.
func (d *Daemon) save() {
	s := d.Status()
	s.Updated = time.Time{}
	for i := range s.Controllers {
		s.Controllers[i].LastRun = time.Time{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if bytes.Equal(b, d.saved) {
		return
	}
	if err := atomicfile.WriteFile(filepath.Join(d.layout.StateDir, StateFile), append(b, '\n'), 0o600); err != nil {
		d.log.Warn("saving the agent state", "err", err)
		return
	}
	d.saved = b
}

// ReadState reads the state file the last daemon left in layout's state
// directory, for a status without a running daemon.
func ReadState(layout paths.Layout) (*status.Status, error) {
	b, err := os.ReadFile(filepath.Join(layout.StateDir, StateFile))
	if err != nil {
		return nil, err
	}
	var s status.Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", StateFile, err)
	}
	if s.Version != status.Version {
		return nil, errors.New("state file of another schema version")
	}
	return &s, nil
}
