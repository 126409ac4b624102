package mobileconfig

import (
	"crypto/x509"
	"fmt"
	"strings"

	"howett.net/plist"
)

// FileVault recovery-key escrow (docs/disk-escrow.md): on a Mac, Fleet's
// MDM — not the agent — turns FileVault on and escrows the personal
// recovery key. FileVaultEscrow is the profile it pushes for that:
// FileVault on with a personal recovery key the user is not shown, the
// key CMS-encrypted to the escrow certificate
// (com.apple.security.FDERecoveryKeyEscrow: macOS writes it to
// /var/db/FileVaultPRK.dat and answers it in the MDM SecurityInfo
// command, which Fleet reads), and FileVault cannot be turned off.

// Payload types of FileVaultEscrow.
const (
	FDERecoveryKeyEscrowPayloadType = "com.apple.security.FDERecoveryKeyEscrow"
	FileVault2PayloadType           = "com.apple.MCX.FileVault2"
	MCXPayloadType                  = "com.apple.MCX"
	PKCS1PayloadType                = "com.apple.security.pkcs1"
)

// FileVaultEscrow is a FileVault profile with recovery-key escrow.
type FileVaultEscrow struct {
	// Identifier is the profile's reverse-DNS PayloadIdentifier
	// ("io.kiwistack.acme.filevault").
	Identifier string
	// Organization is PayloadOrganization.
	Organization string
	// Location is what macOS shows the user as where the key is escrowed
	// ("Acme IT (KiwiStack / Fleet)").
	Location string
	// Certificate is the escrow certificate the recovery key is encrypted
	// to (Fleet's, whose private key stays with the tenant's Fleet).
	Certificate *x509.Certificate
}

type escrowProfile struct {
	Content      []map[string]any `plist:"PayloadContent"`
	Description  string           `plist:"PayloadDescription"`
	DisplayName  string           `plist:"PayloadDisplayName"`
	Identifier   string           `plist:"PayloadIdentifier"`
	Organization string           `plist:"PayloadOrganization"`
	Scope        string           `plist:"PayloadScope"`
	Type         string           `plist:"PayloadType"`
	UUID         string           `plist:"PayloadUUID"`
	Version      int              `plist:"PayloadVersion"`
}

// Render returns the profile as an XML property list (System scope, as
// FDERecoveryKeyEscrow requires).
func (f FileVaultEscrow) Render() ([]byte, error) {
	if !reverseDNS(f.Identifier) {
		return nil, fmt.Errorf("%w: identifier %q: want reverse-DNS", ErrInvalid, f.Identifier)
	}
	for _, s := range []string{f.Organization, f.Location} {
		if s == "" || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("%w: organization and location must be set, without control characters", ErrInvalid)
		}
	}
	if f.Certificate == nil {
		return nil, fmt.Errorf("%w: no escrow certificate", ErrInvalid)
	}
	pl := func(suffix, typ string, keys map[string]any) map[string]any {
		id := f.Identifier + "." + suffix
		keys["PayloadIdentifier"], keys["PayloadType"], keys["PayloadUUID"], keys["PayloadVersion"] = id, typ, UUID(id), 1
		keys["PayloadDisplayName"] = suffix
		return keys
	}
	cert := pl("escrow-certificate", PKCS1PayloadType, map[string]any{
		"PayloadContent": f.Certificate.Raw, "PayloadCertificateFileName": "escrow.cer"})
	out := escrowProfile{
		Content: []map[string]any{
			cert,
			pl("recovery-key-escrow", FDERecoveryKeyEscrowPayloadType, map[string]any{
				"Location": f.Location, "EncryptCertPayloadUUID": cert["PayloadUUID"]}),
			pl("filevault", FileVault2PayloadType, map[string]any{
				"Enable": "On", "Defer": true, "UseRecoveryKey": true, "ShowRecoveryKey": false,
				"DeferForceAtUserLoginMaxBypassAttempts": 0}),
			pl("filevault-locked", MCXPayloadType, map[string]any{"dontAllowFDEDisable": true}),
		},
		Description:  "Turns FileVault on and escrows its personal recovery key, encrypted to the tenant's escrow certificate.",
		DisplayName:  "Disk encryption (FileVault)",
		Identifier:   f.Identifier,
		Organization: f.Organization,
		Scope:        "System",
		Type:         "Configuration",
		UUID:         UUID(f.Identifier),
		Version:      1,
	}
	b, err := plist.MarshalIndent(out, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encoding the profile: %w", err)
	}
	return append(b, '\n'), nil
}
