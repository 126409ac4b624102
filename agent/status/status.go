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
	// Disk is the disk recovery key, as agent/disk escrows it; absent
	// from a status file of an agent without it.
	Disk *Disk `json:"disk,omitempty"`
	// Directory is directory login (SSSD), as agent/directory configures
	// it; absent from a status file of an agent without it.
	Directory *Directory `json:"directory,omitempty"`
	// AppCertificate is the Work profile's client certificate, as
	// agent/appcert installs it; absent from a status file of an agent
	// without it.
	AppCertificate *AppCertificate `json:"app_certificate,omitempty"`
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

// Disk is the state of the disk recovery key (agent/disk,
// docs/disk-escrow.md). It never holds the key.
type Disk struct {
	// State is "not configured", "not encrypted", "no key file",
	// "escrowed", "delegated" (Fleet escrows it: macOS, Windows) or
	// "error".
	State string `json:"state"`
	// Device is the LUKS block device.
	Device string `json:"device,omitempty"`
	// Volume is the LUKS UUID the key is bound to.
	Volume string `json:"volume,omitempty"`
	// Slot is the recovery key's key slot.
	Slot *int `json:"slot,omitempty"`
	// EscrowID is the API's id of the escrowed key.
	EscrowID string `json:"escrow_id,omitempty"`
	// EscrowedAt is when it was escrowed.
	EscrowedAt time.Time `json:"escrowed_at,omitzero"`
	// Rotations counts the keys replaced after an administrator read them.
	Rotations int `json:"rotations,omitempty"`
	// Message says what is missing or what went wrong.
	Message string `json:"message,omitempty"`
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

// Directory is the state of directory login through SSSD.
type Directory struct {
	// State is "not configured" (the tenant configuration names no
	// directory), "configured", "not applicable" (an OS without SSSD) or
	// "error".
	State string `json:"state"`
	// Realm is the Kerberos realm SSSD is configured for.
	Realm string `json:"realm,omitempty"`
	// LDAPURIs are the directory's LDAP servers.
	LDAPURIs []string `json:"ldap_uris,omitempty"`
	// Configured says whether SSSD, Kerberos, NSS and PAM match the
	// configuration.
	Configured bool `json:"configured"`
	// Reachable is "yes" when an LDAP server and a KDC accepted a
	// connection at the last reconcile, "no" when one of them did not
	// (logins then use cached credentials), absent when not checked.
	Reachable string `json:"reachable,omitempty"`
	// Checked is when reachability was last checked.
	Checked time.Time `json:"checked,omitzero"`
	// Message says what is missing, what went wrong or what to do.
	Message string `json:"message,omitempty"`
}

// AppCertificate is the state of the app certificates (agent/appcert,
// docs/app-certificate.md): the short-lived client certificates that let
// the Work profile's browser prove it runs on this enrolled laptop.
type AppCertificate struct {
	// State is "idle" (not enrolled), "no users", "installed", "expired",
	// "revoked" (removed: the device is no longer active) or "error".
	State string `json:"state"`
	// Message says what happens next or what to do.
	Message string `json:"message,omitempty"`
	// Users is one entry per desktop user, by name.
	Users []AppCertificateUser `json:"users,omitempty"`
}

// AppCertificateUser is one user's app certificate.
type AppCertificateUser struct {
	// User is the local account.
	User string `json:"user"`
	// Store is where the certificate is (an NSS database, a keychain, a
	// Windows store).
	Store string `json:"store"`
	// Installed says whether a certificate is in the store now.
	Installed bool `json:"installed"`
	// Serial and NotAfter describe the installed certificate.
	Serial   string    `json:"serial,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// Expired says the installed certificate is past its NotAfter.
	Expired bool `json:"expired,omitempty"`
	// LastError is the last failure for this user, safe to show.
	LastError string `json:"last_error,omitempty"`
}
