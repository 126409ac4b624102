// Package bootstrap lets the tenant's operator at the server manage the OEM
// bootstrap tokens of a dev state directory (server/dev): it creates a
// token bound to one hardware serial and prints it once, with the OEM
// bootstrap file that carries it (docs/oem-claim.md), lists the tokens
// without ever showing one, and revokes them, writing an audit entry for
// each creation and revocation.
//
// It acts as the operator on the server (audit actor 0) and needs no
// YubiKey; the policy's bootstrap_token_create operation, signed by an
// administrator, is the later way. It stores only the SHA-256 of a token,
// never logs one, and does not claim, sign or enroll anything.
package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/listing"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// Audit operations of creations and revocations; their actor is 0, the
// operator at the server, and their params digest the token's hex SHA-256.
const (
	AuditOperationCreate = "bootstrap_token_create"
	AuditOperationRevoke = "bootstrap_token_revoke"
)

// Bounds of a token's life.
const (
	DefaultLifetime = 30 * 24 * time.Hour
	MaxLifetime     = 365 * 24 * time.Hour
)

// ErrNoState reports a state directory without a store.
var ErrNoState = dev.ErrNoState

// CreateOptions are the flags of `bootstrap create`.
type CreateOptions struct {
	// Serial is the hardware serial of the one laptop that may claim.
	Serial string
	// Lifetime is how long the token is accepted; DefaultLifetime when 0.
	Lifetime time.Duration
	// APIURL is the tenant API's URL the laptop claims at (https).
	APIURL string
	// OEMFile, when set, is where the OEM bootstrap file is written (0600);
	// otherwise it is printed.
	OEMFile string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand is the source of the token; crypto/rand when nil.
	Rand io.Reader
}

// ParseLifetime parses a lifetime such as "30d", "12h" or "90m".
func ParseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("lifetime %q: want a number of days such as 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lifetime %q: want e.g. 30d or 12h", s)
	}
	return d, nil
}

// open opens the store of the state directory dir.
func open(ctx context.Context, dir string) (*store.SQLite, error) { return dev.OpenStore(ctx, dir) }

// tenantOf reads the tenant slug (the intermediate's O) and the root
// fingerprint of the state directory dir.
func tenantOf(dir string) (tenant, rootFingerprint string, err error) {
	read := func(name string) (*x509.Certificate, error) {
		b, err := os.ReadFile(filepath.Join(dev.CAPath(dir), name))
		if err != nil {
			return nil, fmt.Errorf("reading the tenant PKI: %w", err)
		}
		p, _ := pem.Decode(b)
		if p == nil {
			return nil, fmt.Errorf("reading the tenant PKI: %s holds no PEM certificate", name)
		}
		return x509.ParseCertificate(p.Bytes)
	}
	root, err := read(ca.RootCertFile)
	if err != nil {
		return "", "", err
	}
	inter, err := read(ca.IntermediateCertFile)
	if err != nil {
		return "", "", err
	}
	if len(inter.Subject.Organization) != 1 {
		return "", "", errors.New("reading the tenant PKI: the intermediate names no single tenant")
	}
	return inter.Subject.Organization[0], ca.Fingerprint(root), nil
}

// Create makes a bootstrap token for o.Serial in the state directory dir,
// records its hash with an audit entry, and writes to w what the operator
// needs: the token (shown once) and the OEM bootstrap file, or where it was
// written.
func Create(ctx context.Context, w io.Writer, dir string, o CreateOptions) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.Lifetime < 0 || o.Lifetime > MaxLifetime {
		return fmt.Errorf("creating bootstrap token: lifetime %s: want more than 0 and at most %s", o.Lifetime, MaxLifetime)
	}
	if err := protocol.CheckHardwareSerial(o.Serial); err != nil {
		return fmt.Errorf("creating bootstrap token: %w", err)
	}
	tenant, fp, err := tenantOf(dir)
	if err != nil {
		return err
	}
	var secret [32]byte
	if _, err := io.ReadFull(o.Rand, secret[:]); err != nil {
		return fmt.Errorf("creating bootstrap token: %w", err)
	}
	token := protocol.NewBootstrapToken(secret)
	file := protocol.BootstrapFile{API: strings.TrimSuffix(o.APIURL, "/"), Tenant: tenant, RootFingerprint: fp, Token: token}
	oem, err := file.Marshal()
	if err != nil {
		return fmt.Errorf("creating bootstrap token: the OEM file: %w (check --api)", err)
	}
	st, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	now := o.Now()
	sum := sha256.Sum256([]byte(token))
	digest := hex.EncodeToString(sum[:])
	t, _, err := st.CreateBootstrapToken(ctx, store.BootstrapToken{
		SHA256: digest, Tenant: tenant, HardwareSerial: o.Serial, CreatedAt: now, ExpiresAt: now.Add(o.Lifetime).Truncate(time.Second),
	}, store.AuditRecord{Time: now, Operation: AuditOperationCreate, ParamsDigest: digest, Result: "accepted"})
	if err != nil {
		return fmt.Errorf("creating bootstrap token: %w", err)
	}
	if o.OEMFile != "" {
		if err := atomicfile.WriteFile(o.OEMFile, oem, 0o600); err != nil {
			return fmt.Errorf("bootstrap token %s created, but the OEM file was not written: %w; revoke it and create another", t.ID, err)
		}
	}
	fmt.Fprintf(w, "created bootstrap token %s for hardware serial %s in %s, valid until %s\n", t.ID, o.Serial, tenant,
		t.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "token (shown once, only its hash is kept): %s\n", token)
	if o.OEMFile != "" {
		fmt.Fprintf(w, "OEM bootstrap file written to %s (0600)\n", o.OEMFile)
	} else {
		fmt.Fprintf(w, "OEM bootstrap file (install it as /etc/kiwistack/bootstrap.yaml, see docs/oem-claim.md):\n\n%s\n", oem)
	}
	fmt.Fprintf(w, "next: give the file to the OEM for the laptop with serial %s; list with kiwistack-api bootstrap list, revoke with kiwistack-api bootstrap revoke %s\n", o.Serial, t.ID)
	return nil
}

// ListEntry is one token in the output of `bootstrap list --json` (version
// 1 of that output: fields are only ever added). It never holds the token.
type ListEntry struct {
	// ID is the first 12 hex digits of the token's SHA-256.
	ID             string `json:"id"`
	Tenant         string `json:"tenant"`
	HardwareSerial string `json:"hardware_serial"`
	// State is outstanding, used, revoked or expired.
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	// DeviceID is the device the claim created.
	DeviceID  string     `json:"device_id,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// List writes the bootstrap tokens of the state directory dir to w, oldest
// first: a table, or with asJSON a JSON array of ListEntry.
func List(ctx context.Context, w io.Writer, dir string, asJSON bool) error {
	st, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := st.BootstrapTokens(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]ListEntry, 0, len(ts))
	for _, t := range ts {
		e := ListEntry{ID: t.ID, Tenant: t.Tenant, HardwareSerial: t.HardwareSerial, State: t.State(now),
			CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, DeviceID: t.DeviceID}
		if !t.UsedAt.IsZero() {
			e.UsedAt = &t.UsedAt
		}
		if !t.RevokedAt.IsZero() {
			e.RevokedAt = &t.RevokedAt
		}
		out = append(out, e)
	}
	return listing.Write(w, asJSON, out,
		"no bootstrap tokens; create one with kiwistack-api bootstrap create --state DIR --serial HWSERIAL --api URL",
		"ID\tSERIAL\tSTATE\tEXPIRES\tDEVICE", func(tw io.Writer, e ListEntry) {
			dev := e.DeviceID
			if dev == "" {
				dev = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.HardwareSerial, e.State, e.ExpiresAt.UTC().Format(time.RFC3339), dev)
		})
}

// Revoke revokes the token id of the state directory dir with an audit
// entry; store.ErrNotFound, ErrTokenUsed or ErrTokenRevoked when it cannot.
func Revoke(ctx context.Context, w io.Writer, dir, id string) error {
	st, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	var digest string
	ts, err := st.BootstrapTokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			digest = t.SHA256
		}
	}
	now := time.Now()
	if _, err := st.RevokeBootstrapToken(ctx, id, now, store.AuditRecord{Time: now, Operation: AuditOperationRevoke,
		ParamsDigest: digest, Result: "accepted"}); err != nil {
		return err
	}
	fmt.Fprintf(w, "revoked bootstrap token %s; a laptop that claims with it is refused (bootstrap_token_revoked)\n", id)
	return nil
}
