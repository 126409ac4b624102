package daemon

import (
	"github.com/kiwistack/endpoint/platform/service"
)

// ServiceName is the agent's service name (systemd unit, Windows service).
const ServiceName = "kiwistack-agent"

// ServiceSpec is the agent's service definition: exe run, with --root and
// --state when o sets them.
func ServiceSpec(exe string, o Options) service.Spec {
	args := []string{"run"}
	if o.Root != "" {
		args = append(args, "--root", o.Root)
	}
	if o.StateDir != "" {
		args = append(args, "--state", o.StateDir)
	}
	if o.Socket != "" {
		args = append(args, "--socket", o.Socket)
	}
	if o.LUKSDevice != "" {
		args = append(args, "--luks-device", o.LUKSDevice)
	}
	l := o.Layout()
	return service.Spec{
		Name: ServiceName, DisplayName: "KiwiStack agent",
		Description: "KiwiStack endpoint agent: device certificate, tunnel, launchers and commands",
		Executable:  exe, Arguments: args,
		StateDir: l.StateDir, ConfigDir: l.ConfigDir, StepDir: l.StepDir,
	}
}
