package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	kservice "github.com/kardianos/service"
)

// Status is a service's state as the service manager reports it.
type Status string

// The states Status returns.
const (
	StatusRunning      Status = "running"
	StatusStopped      Status = "stopped"
	StatusNotInstalled Status = "not installed"
	StatusUnknown      Status = "unknown"
)

// Manager installs, controls and runs one service.
type Manager struct {
	spec Spec
	prog *program
	svc  kservice.Service
}

// Runner is the service's work: it runs until ctx ends.
type Runner func(ctx context.Context) error

// NewManager returns the manager of spec on this OS's service manager;
// run is what Run runs (nil for a manager that only installs and controls).
func NewManager(spec Spec, run Runner, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &program{run: run, log: log, done: make(chan struct{})}
	cfg := Config(spec)
	cfg.Option["RunWait"] = p.wait
	s, err := kservice.New(p, cfg)
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err) // wraps kservice.ErrNoServiceSystemDetected
	}
	p.svc = s
	return &Manager{spec: spec, prog: p, svc: s}, nil
}

// System names the service manager in use ("linux-systemd", "darwin-launchd",
// "windows-service").
func (m *Manager) System() string { return m.svc.Platform() }

// Install writes the service definition and enables it; it fails if one
// is installed already (the .deb's unit included: uninstall the package).
func (m *Manager) Install() error { return wrap("installing", m.spec.Name, m.svc.Install()) }

// Uninstall stops nothing; it disables and removes the definition.
func (m *Manager) Uninstall() error { return wrap("uninstalling", m.spec.Name, m.svc.Uninstall()) }

// Start asks the service manager to start the service.
func (m *Manager) Start() error { return wrap("starting", m.spec.Name, m.svc.Start()) }

// Stop asks the service manager to stop the service.
func (m *Manager) Stop() error { return wrap("stopping", m.spec.Name, m.svc.Stop()) }

// Restart asks the service manager to restart the service.
func (m *Manager) Restart() error { return wrap("restarting", m.spec.Name, m.svc.Restart()) }

// Status asks the service manager whether the service runs.
func (m *Manager) Status() (Status, error) {
	st, err := m.svc.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return StatusNotInstalled, nil
	case err != nil:
		return StatusUnknown, wrap("asking about", m.spec.Name, err)
	case st == kservice.StatusRunning:
		return StatusRunning, nil
	case st == kservice.StatusStopped:
		return StatusStopped, nil
	}
	return StatusUnknown, nil
}

// Run runs the Runner in the foreground, under the service manager or from
// a terminal, until ctx ends, the service manager stops it (SIGTERM, SCM
// stop) or the Runner fails; it returns the Runner's error.
func (m *Manager) Run(ctx context.Context) error {
	if m.prog.run == nil {
		return errors.New("service manager: nothing to run")
	}
	m.prog.parent = ctx
	if err := m.svc.Run(); err != nil {
		return fmt.Errorf("running %s: %w", m.spec.Name, err)
	}
	return m.prog.err
}

// RunForeground runs run under this OS's service manager through a
// Manager, or directly until ctx ends when kardianos finds no service
// manager it knows (a container without an init system).
func RunForeground(ctx context.Context, spec Spec, run Runner, log *slog.Logger) error {
	m, err := NewManager(spec, run, log)
	if errors.Is(err, kservice.ErrNoServiceSystemDetected) {
		return run(ctx)
	}
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

func wrap(verb, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s the %s service: %w", verb, name, err)
}

// program adapts a Runner to kardianos' Interface: Start must not block.
type program struct {
	run    Runner
	log    *slog.Logger
	svc    kservice.Service
	parent context.Context

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error
}

func (p *program) Start(kservice.Service) error {
	parent := p.parent
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	p.cancel = cancel
	go func() {
		defer close(p.done)
		p.err = p.run(ctx)
		if p.err != nil && ctx.Err() == nil {
			p.log.Error("the agent stopped", "err", p.err)
			exitOnFailure()
		}
	}()
	return nil
}

// wait is kardianos' RunWait on Unix: Run returns when the parent context
// ends (SIGTERM through the CLI's signal handling) or the Runner returns.
func (p *program) wait() {
	ctx := p.parent
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-ctx.Done():
	case <-p.done:
	}
}

func (p *program) Stop(kservice.Service) error {
	p.once.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
	})
	<-p.done
	return nil
}
