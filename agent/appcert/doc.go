// Package appcert is the agent's app-certificate controller: it gives each
// desktop user's Work-profile browser a short-lived TLS client certificate
// chained to the tenant CA and bound to this device, so that the tenant's
// web front door can refuse any browser that is not on an enrolled,
// unrevoked laptop (docs/app-certificate.md).
//
// For each user it makes a fresh key in (or for) the user's own certificate
// store, sends its CSR to the tenant API (POST /v1/device/app-certificate)
// over mutual TLS with the device certificate, and installs the answer with
// the tenant root trusted beside it: the user's NSS database
// (sql:$HOME/.pki/nssdb, through Debian's certutil, run as that user) on
// Linux, the login keychain (security import) on macOS, the CurrentUser\My
// store (certutil -user) on Windows. It replaces the certificate when a
// third of its life is left, and removes it as soon as the device is
// revoked (the certificate controller's renewal refused as revoked, or the
// API's check-in answering device_inactive).
//
// The device's own key never leaves the root-only state directory: it only
// authenticates the request. The package never runs a shell, and never
// touches a user's store other than through that user's own tools and
// identity.
package appcert
