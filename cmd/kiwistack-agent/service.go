package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/kiwistack/endpoint/agent/daemon"
	"github.com/kiwistack/endpoint/agent/tunnel"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/platform/service"
	"github.com/spf13/cobra"
)

// daemonFlags are the flags shared by run, install and status.
type daemonFlags struct {
	root, state, socket string
	tunnelInterface     string
	luksDevice          string
}

func (f *daemonFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.root, "root", "", "filesystem root the agent's files live under (for tests and sandboxes; default /)")
	fl.StringVar(&f.state, "state", "", "state directory (default "+daemon.Options{}.Layout().StateDir+" under --root)")
	fl.StringVar(&f.socket, "socket", "", "local status endpoint (default "+daemon.DefaultSocket("")+" under --root)")
	fl.StringVar(&f.tunnelInterface, "tunnel-interface", "", "the WireGuard interface name (default "+tunnel.DefaultInterface+"; unique on the machine)")
	_ = fl.MarkHidden("tunnel-interface")
	fl.StringVar(&f.luksDevice, "luks-device", "", "the disk's LUKS device for key escrow and remote wipe (default: the one under / found through device-mapper)")
}

func (f *daemonFlags) options(logger *slog.Logger) daemon.Options {
	return daemon.Options{Root: f.root, StateDir: f.state, Socket: f.socket, Logger: logger, TunnelInterface: f.tunnelInterface,
		LUKSDevice: f.luksDevice}
}

// serviceCmds are install, uninstall, start, stop, restart and run: the
// agent under the OS service manager.
func serviceCmds(stdio cli.IO, logger **slog.Logger) []*cobra.Command {
	manager := func(f *daemonFlags, run service.Runner) (*service.Manager, service.Spec, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, service.Spec{}, fmt.Errorf("finding the agent's own path: %w", err)
		}
		spec := daemon.ServiceSpec(exe, f.options(*logger))
		m, err := service.NewManager(spec, run, *logger)
		return m, spec, err
	}
	control := func(use, short, done string, act func(*service.Manager) error) *cobra.Command {
		var f daemonFlags
		cmd := &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				m, spec, err := manager(&f, nil)
				if err != nil {
					return err
				}
				if err := act(m); err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "%s %s (%s)\n", spec.Name, done, m.System())
				return nil
			},
		}
		if use == "install" {
			f.add(cmd)
		}
		return cmd
	}
	var runFlags daemonFlags
	run := &cobra.Command{
		Use:   "run",
		Short: "Run the agent in the foreground (what the service manager runs)",
		Long: "Run the agent in the foreground until SIGTERM or SIGINT (or the Windows service manager's stop):\n" +
			"the reconcile loop (enrollment, certificate renewal), resume detection and the local status endpoint.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the agent's own path: %w", err)
			}
			o := runFlags.options(*logger)
			return service.RunForeground(cmd.Context(), daemon.ServiceSpec(exe, o), daemon.New(o).Run, *logger)
		},
	}
	runFlags.add(run)
	return []*cobra.Command{
		control("install", "Install the agent as a system service (systemd unit, launchd daemon, Windows service) and enable it",
			"installed and enabled; start it with `kiwistack-agent start`", (*service.Manager).Install),
		control("uninstall", "Remove the agent's system service (stop it first)", "uninstalled", (*service.Manager).Uninstall),
		control("start", "Start the agent's system service", "started", (*service.Manager).Start),
		control("stop", "Stop the agent's system service", "stopped", (*service.Manager).Stop),
		control("restart", "Restart the agent's system service", "restarted", (*service.Manager).Restart),
		run,
	}
}

// errNotRunning marks a status without a daemon: exit code 3.
var errNotRunning = errors.New("the agent is not running")
