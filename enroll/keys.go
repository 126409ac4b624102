// Package enroll is what kiwistack-enroll does on the laptop: the `keys`
// verbs for people and support staff (list, info, verify an attestation,
// provision an admin's key) and, later, the enrollment ceremony and the
// admin signing verbs. It reaches the YubiKey only through enroll/yubikey
// and writes output only to the writers it is given.
package enroll

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/keysjson"
	"github.com/kiwistack/endpoint/enroll/yubikey"
)

// Keys runs the `kiwistack-enroll keys` verbs.
type Keys struct {
	Client *yubikey.Client
	UI     yubikey.UI
	Out    io.Writer
	JSON   bool
	// Verifier checks attestations (zero value: Yubico's roots).
	Verifier attest.Verifier
}

func keyJSON(k yubikey.Info) keysjson.Key {
	out := keysjson.Key{Serial: k.Serial, Firmware: k.Firmware, Reader: k.Reader, FormFactor: k.FormFactor, PINRetries: k.PINRetries}
	if k.Slot9a != nil {
		id := keysjson.Identity(*k.Slot9a)
		out.Slot9a = &id
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// List prints every YubiKey present.
func (c Keys) List(ctx context.Context) error {
	keys, skipped, err := c.Client.List(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		out := keysjson.List{Schema: keysjson.SchemaList, Keys: []keysjson.Key{}}
		for _, k := range keys {
			out.Keys = append(out.Keys, keyJSON(k))
		}
		for _, s := range skipped {
			out.Skipped = append(out.Skipped, keysjson.Skipped(s))
		}
		return writeJSON(c.Out, out)
	}
	if len(keys) == 0 {
		fmt.Fprintln(c.Out, "No YubiKey found. Insert your YubiKey and run this again.")
		for _, s := range skipped {
			fmt.Fprintf(c.Out, "  reader %q: %s\n", s.Reader, s.Reason)
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tFIRMWARE\tADMIN\tROLE\tTENANT\tPIN TRIES\tREADER")
	for _, k := range keys {
		admin, role, tenant := "-", "-", "-"
		if k.Slot9a != nil {
			admin, role, tenant = orDash(k.Slot9a.Admin), orDash(k.Slot9a.Role), orDash(k.Slot9a.Tenant)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Serial, k.Firmware, admin, role, tenant, retriesText(k.PINRetries), k.Reader)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func retriesText(n int) string {
	switch {
	case n < 0:
		return "?"
	case n == 0:
		return "0 (blocked)"
	default:
		return fmt.Sprint(n)
	}
}

// Info prints one key in detail, with its slot 9a attestation verified.
func (c Keys) Info(ctx context.Context, serial uint32) error {
	k, err := c.Client.Open(ctx, serial, nil)
	if err != nil {
		return err
	}
	defer k.Close()
	info := k.Info()
	var att *keysjson.Attestation
	f9, stmt, aerr := k.Attestation()
	switch {
	case errors.Is(aerr, yubikey.ErrNoSlotKey):
		// not provisioned: nothing to attest
	case aerr != nil:
		att = &keysjson.Attestation{Error: aerr.Error()}
	default:
		att = attestationJSON(c.Verifier, f9, stmt)
	}
	if c.JSON {
		return writeJSON(c.Out, keysjson.Info{Schema: keysjson.SchemaInfo, Key: keyJSON(info), Attestation: att})
	}
	tw := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Serial:\t%d\n", info.Serial)
	fmt.Fprintf(tw, "Firmware:\t%s\n", info.Firmware)
	fmt.Fprintf(tw, "Form factor:\t%s\n", orDash(info.FormFactor))
	fmt.Fprintf(tw, "Reader:\t%s\n", info.Reader)
	fmt.Fprintf(tw, "PIN tries left:\t%s\n", retriesText(info.PINRetries))
	if info.Slot9a != nil {
		fmt.Fprintf(tw, "Admin:\t%s\n", orDash(info.Slot9a.Admin))
		fmt.Fprintf(tw, "Role:\t%s\n", orDash(info.Slot9a.Role))
		fmt.Fprintf(tw, "Tenant:\t%s\n", orDash(info.Slot9a.Tenant))
		fmt.Fprintf(tw, "Issued by:\t%s\n", orDash(info.Slot9a.Issuer))
		fmt.Fprintf(tw, "Valid until:\t%s\n", info.Slot9a.NotAfter)
	} else {
		fmt.Fprintf(tw, "Slot 9a:\tno certificate (not provisioned)\n")
	}
	if att != nil {
		if att.Verified {
			fmt.Fprintf(tw, "Attestation:\tverified, chains to %s\n", att.Root)
			fmt.Fprintf(tw, "Slot 9a policy:\tPIN %s, touch %s\n", att.PINPolicy, att.TouchPolicy)
		} else {
			fmt.Fprintf(tw, "Attestation:\tNOT verified: %s\n", att.Error)
		}
	}
	return tw.Flush()
}

func attestationJSON(v attest.Verifier, f9, stmt *x509.Certificate) *keysjson.Attestation {
	a, err := v.Verify(f9, stmt)
	if err != nil {
		return &keysjson.Attestation{Error: err.Error()}
	}
	return &keysjson.Attestation{
		Verified: true, Serial: a.Serial, Firmware: a.Firmware, FormFactor: a.FormFactor,
		PINPolicy: a.PINPolicy, TouchPolicy: a.TouchPolicy, Slot: a.Slot, Root: a.Root,
		PublicKeySHA256: spkiSHA256(stmt),
	}
}

func spkiSHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// ErrAttestation marks an attestation that did not verify (exit code 4).
var ErrAttestation = errors.New("attestation does not verify")

// VerifyAttestationFiles verifies an attestation given as files: the key's
// f9 certificate and a slot's attestation statement, against rootPath (a
// PEM bundle of roots, and any intermediates) or Yubico's roots when empty.
func VerifyAttestationFiles(out io.Writer, f9Path, stmtPath, rootPath string, asJSON bool) error {
	f9, err := readCert(f9Path, "the f9 (intermediate) certificate")
	if err != nil {
		return err
	}
	stmt, err := readCert(stmtPath, "the attestation statement")
	if err != nil {
		return err
	}
	var v attest.Verifier
	if rootPath != "" {
		roots, inter, err := readRoots(rootPath)
		if err != nil {
			return err
		}
		v.Roots, v.Intermediates = roots, inter
	}
	a := attestationJSON(v, f9, stmt)
	a.Schema = keysjson.SchemaAttestation
	if asJSON {
		if err := writeJSON(out, a); err != nil {
			return err
		}
	} else if a.Verified {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "Attestation verified: the key in slot %s was generated on this YubiKey.\n", a.Slot)
		fmt.Fprintf(tw, "Serial:\t%d\n", a.Serial)
		fmt.Fprintf(tw, "Firmware:\t%s\n", a.Firmware)
		fmt.Fprintf(tw, "Form factor:\t%s\n", orDash(a.FormFactor))
		fmt.Fprintf(tw, "PIN policy:\t%s\n", a.PINPolicy)
		fmt.Fprintf(tw, "Touch policy:\t%s\n", a.TouchPolicy)
		fmt.Fprintf(tw, "Slot:\t%s\n", orDash(a.Slot))
		fmt.Fprintf(tw, "Root:\t%s\n", a.Root)
		fmt.Fprintf(tw, "Public key SHA-256:\t%s\n", a.PublicKeySHA256)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !a.Verified {
		return fmt.Errorf("%w: %s", ErrAttestation, a.Error)
	}
	return nil
}

func readCert(path, what string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	c, err := attest.ParseCertificatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", what, path, err)
	}
	return c, nil
}

// readRoots reads a PEM bundle: self-signed certificates become roots, the
// others intermediates.
func readRoots(path string) (roots, inter *x509.CertPool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the root bundle: %w", err)
	}
	certs, err := parseBundle(b)
	if err != nil {
		return nil, nil, fmt.Errorf("root bundle %s: %w", path, err)
	}
	roots, inter = x509.NewCertPool(), x509.NewCertPool()
	n := 0
	for _, c := range certs {
		if c.CheckSignatureFrom(c) == nil && strings.EqualFold(c.Subject.String(), c.Issuer.String()) {
			roots.AddCert(c)
			n++
		} else {
			inter.AddCert(c)
		}
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("root bundle %s holds no self-signed root certificate", path)
	}
	return roots, inter, nil
}

// VerifierFromFile returns a verifier that trusts the roots (and
// intermediates) in a PEM bundle instead of Yubico's.
func VerifierFromFile(path string) (attest.Verifier, error) {
	roots, inter, err := readRoots(path)
	if err != nil {
		return attest.Verifier{}, err
	}
	return attest.Verifier{Roots: roots, Intermediates: inter}, nil
}

// ChangePIN changes a key's PIN: the holder does this on receiving it.
func (c Keys) ChangePIN(ctx context.Context, serial uint32) error {
	k, err := c.Client.Open(ctx, serial, c.UI)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.ChangePIN(ctx, c.UI); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "PIN of YubiKey %d changed.\n", k.Info().Serial)
	return nil
}

// UnblockPIN sets a new PIN with the PUK after the PIN was blocked.
func (c Keys) UnblockPIN(ctx context.Context, serial uint32) error {
	k, err := c.Client.Open(ctx, serial, c.UI)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.UnblockPIN(ctx, c.UI); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "PIN of YubiKey %d unblocked and set; it has its full tries again.\n", k.Info().Serial)
	return nil
}
