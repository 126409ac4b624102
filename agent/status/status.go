// Package status is the agent's local status protocol: the versioned JSON
// document (Status, schema version 1) that `kiwistack-agent status --json`
// prints, the HTTP handler the daemon serves on its local socket under
// /localapi/v0/, and the client the CLI (and later the enroller) uses.
//
// It owns the wire format and the transport only; it does not compute any
// status (the daemon and its controllers do) and does not decide who may
// connect (platform/localsock does, by the socket's owner and mode).
package status

import (
	"time"
)

// Version is the schema version of Status.
const Version = 1

// Status is the agent's state as `status --json` prints it. Fields are only
// added within one Version; renaming or removing one bumps it.
type Status struct {
	// Version is the schema version, Version.
	Version int `json:"version"`
	// Updated is when the daemon computed this status.
	Updated time.Time `json:"updated"`
	// Started is when the daemon started.
	Started time.Time `json:"started"`
	// Enrollment is the device's enrollment.
	Enrollment Enrollment `json:"enrollment"`
	// Certificate is the device certificate, absent when not enrolled.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Tunnel is the WireGuard tunnel.
	Tunnel Tunnel `json:"tunnel"`
	// Fleet is Fleet's agent (fleetd), as agent/fleet configures it;
	// absent from a status file of an agent without it.
	Fleet *Fleet `json:"fleet,omitempty"`
	// Resume says where resume-from-sleep events come from ("logind",
	// "iokit", "suspend-resume", or the fallback "clock-jump").
	Resume string `json:"resume"`
	// Controllers is each controller's own status, in reconcile order.
	Controllers []Controller `json:"controllers"`
	// Commands is the outcome of remote commands (agent/command), absent
	// until a remote_lock or remote_wipe reached this laptop.
	Commands *Commands `json:"commands,omitempty"`
}

// Commands says that the laptop was locked or wiped remotely.
type Commands struct {
	// State is "locked" or "wiped".
	State string `json:"state"`
	// Last is the last command carried out.
	Last *Command `json:"last,omitempty"`
}

// Command is one remote command the agent carried out.
type Command struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	OperationID string    `json:"operation_id"`
	RanAt       time.Time `json:"ran_at"`
	// Result is "done" or "failed"; Message says what happened.
	Result  string `json:"result"`
	Message string `json:"message,omitempty"`
	// Acknowledged is set once the tenant API recorded the result.
	Acknowledged bool `json:"acknowledged"`
}

// Enrollment is whether and where the device is enrolled.
type Enrollment struct {
	Enrolled bool   `json:"enrolled"`
	Tenant   string `json:"tenant,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	APIURL   string `json:"api_url,omitempty"`
	// Error is why the enrollment record could not be read, if it exists
	// but is damaged.
	Error string `json:"error,omitempty"`
}

// Certificate is the device certificate's lifecycle.
type Certificate struct {
	// State is "valid", "retrying", "expired, renewing within grace",
	// "re-enrollment needed", "revoked", "renewal refused", or "error" when
	// the installed files cannot be loaded.
	State    string    `json:"state"`
	Serial   string    `json:"serial,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// NextRenewal is the wall-clock time of the next attempt; absent when
	// renewal has stopped.
	NextRenewal time.Time `json:"next_renewal,omitzero"`
	// LastRenewal is when the agent last renewed it.
	LastRenewal time.Time `json:"last_renewal,omitzero"`
	// Failures counts failed attempts since the last renewal.
	Failures int `json:"failures,omitempty"`
	// LastError is the last failure, safe to show.
	LastError string `json:"last_error,omitempty"`
	// ReEnroll is set when renewal can no longer help: re-enroll with a
	// YubiKey (kiwistack-enroll enroll --reenroll).
	ReEnroll bool `json:"reenroll_needed,omitempty"`
	// Warnings name issuing certificates (tenant intermediate, root) that
	// end within 30 days.
	Warnings []string `json:"warnings,omitempty"`
}

// Tunnel is the WireGuard tunnel's state.
type Tunnel struct {
	// State is "not configured", "up", "down", "revoked" or "error".
	State string `json:"state"`
	// LastHandshake is the last completed handshake with the hub.
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	// Interface and Backend ("kernel", "networkmanager", "userspace",
	// "profile") say where it runs.
	Interface string `json:"interface,omitempty"`
	Backend   string `json:"backend,omitempty"`
	// Address is the laptop's tunnel address; Endpoint the hub's.
	Address  string `json:"address,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Message says why it is not up, or what it is connected to.
	Message string `json:"message,omitempty"`
}

// Controller is one controller's own status.
type Controller struct {
	Name string `json:"name"`
	// State is a short word or phrase ("ok", "not enrolled", "retrying").
	State string `json:"state"`
	// Message says what happens next or what to do, if anything.
	Message string `json:"message,omitempty"`
	// LastRun is when it last reconciled; Next when it will again (absent:
	// on the next wake only).
	LastRun time.Time `json:"last_run,omitzero"`
	Next    time.Time `json:"next,omitzero"`
	// LastError is its last error, safe to show.
	LastError string `json:"last_error,omitempty"`
}

// Fleet is the state of Fleet's agent (fleetd / orbit).
type Fleet struct {
	// State is "not configured" (the tenant configuration names no
	// Fleet), "configured" or "error".
	State string `json:"state"`
	// URL is the Fleet server fleetd is configured for.
	URL string `json:"url,omitempty"`
	// Installed says whether fleetd's binary, unit or plist is present.
	Installed bool `json:"installed"`
	// Configured says whether fleetd's files match the configuration.
	Configured bool `json:"configured"`
	// Running is "active", "inactive", "failed" (the service manager's
	// word) or "unknown" when it cannot be asked.
	Running string `json:"running,omitempty"`
	// Message says what is missing or what went wrong.
	Message string `json:"message,omitempty"`
}
