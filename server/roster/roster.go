// Package roster manages the tenant's roster of administrator YubiKeys in a
// dev state directory (server/dev): it adds the entries that
// `kiwistack-enroll keys provision` prints after checking each one against
// the tenant intermediate, burns keys, and lists the roster. It also keeps
// the tenant's trust list there (bring your own certificate: AddTrust,
// ListTrust, RemoveTrust, with the checks of server/trust); the signers an
// entry admits sign under pseudo-serials (protocol.BYOCSerial) that no
// YubiKey entry may use.
//
// It owns the checks an entry must pass before it is stored (certificate
// chains to this tenant's intermediate, its public key matches
// public_key_sha256, OU equals the role, O equals the tenant). It does not
// verify attestations, apply the authorization policy, or sign anything.
package roster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/listing"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// MaxFileSize bounds a roster file.
const MaxFileSize = 1 << 20

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid reports a roster entry that fails a check; the error text
	// names the entry and the check.
	ErrInvalid = errors.New("invalid roster entry")
	// ErrNoState reports a state directory without a tenant PKI.
	ErrNoState = errors.New("no tenant state")
)

// Entry is one key of a roster file, as `kiwistack-enroll keys provision`
// prints it.
type Entry struct {
	Serial          uint32      `yaml:"serial"`
	Admin           string      `yaml:"admin"`
	Role            string      `yaml:"role"`
	PublicKeySHA256 string      `yaml:"public_key_sha256"`
	Certificate     string      `yaml:"certificate"`
	Attestation     Attestation `yaml:"attestation"`
}

// Attestation is the attestation evidence of an Entry.
type Attestation struct {
	Firmware    string `yaml:"firmware"`
	FormFactor  string `yaml:"form_factor,omitempty"`
	PINPolicy   string `yaml:"pin_policy"`
	TouchPolicy string `yaml:"touch_policy"`
	Root        string `yaml:"root"`
	F9          string `yaml:"f9"`
	Statement   string `yaml:"statement"`
}

type document struct {
	Roster []Entry `yaml:"roster"`
}

// Parse reads a roster document (`roster: [ … ]`) strictly: unknown or
// duplicate keys, more than one document and an empty roster are refused.
func Parse(data []byte) ([]Entry, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("parsing roster: %d bytes, the limit is %d", len(data), MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc document
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("parsing roster: empty file: want roster: [ … ] as keys provision prints it")
		}
		return nil, fmt.Errorf("parsing roster: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("parsing roster: more than one YAML document: keep one")
	}
	if len(doc.Roster) == 0 {
		return nil, errors.New("parsing roster: the roster list is empty")
	}
	return doc.Roster, nil
}

// Check verifies e against the tenant intermediate: the certificate chains
// to it, is valid at now, its public key's SPKI SHA-256 is
// e.PublicKeySHA256, its OU is e.Role and its O is the intermediate's
// tenant. Errors wrap ErrInvalid.
func Check(e Entry, intermediate *x509.Certificate, now time.Time) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: serial %d: %s", ErrInvalid, e.Serial, fmt.Sprintf(format, args...))
	}
	if e.Serial == 0 || e.Admin == "" || e.Role == "" {
		return fail("serial, admin and role are required")
	}
	if protocol.IsBYOCSerial(e.Serial) {
		return fail("serials from 2^31 up are the pseudo-serials of trust list signers, not YubiKeys")
	}
	block, _ := pem.Decode([]byte(e.Certificate))
	if block == nil || block.Type != "CERTIFICATE" {
		return fail("certificate: want a PEM certificate, as keys provision prints it")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fail("certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(intermediate)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fail("the certificate is not issued by this tenant's intermediate (%v); provision the key against this tenant", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if got := hex.EncodeToString(sum[:]); got != e.PublicKeySHA256 {
		return fail("public_key_sha256 %s does not match the certificate's key (%s)", e.PublicKeySHA256, got)
	}
	if ou := cert.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != e.Role {
		return fail("role %q does not match the certificate's OU %q", e.Role, ou)
	}
	tenant := intermediate.Subject.Organization
	if o := cert.Subject.Organization; len(o) != 1 || len(tenant) != 1 || o[0] != tenant[0] {
		return fail("the certificate's O %q is not the tenant %q", o, tenant)
	}
	return nil
}

// state is an opened dev state directory.
type state struct {
	intermediate *x509.Certificate
	store        *store.SQLite
}

// open opens the store and loads the intermediate of the state directory
// dir, which `kiwistack-api dev` created.
func open(ctx context.Context, dir string) (*state, error) {
	path := filepath.Join(dev.CAPath(dir), ca.IntermediateCertFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: run kiwistack-api dev --state %s first", ErrNoState, dir, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the tenant intermediate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("reading the tenant intermediate: %s holds no PEM certificate", path)
	}
	inter, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the tenant intermediate: %w", err)
	}
	st, err := store.Open(ctx, dev.DBPath(dir))
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	return &state{intermediate: inter, store: st}, nil
}

// Add reads the roster file at path, checks every entry (Check) and stores
// them in the state directory dir, reporting each on w. Nothing is stored
// unless every entry passes its checks; a serial already in the roster is
// an error wrapping store.ErrExists.
func Add(ctx context.Context, w io.Writer, dir, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading roster file: %w", err)
	}
	entries, err := Parse(data)
	if err != nil {
		return err
	}
	s, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer s.store.Close()
	now := time.Now()
	var errs []error
	for _, e := range entries {
		if err := Check(e, s.intermediate, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, e := range entries {
		att, err := yaml.Marshal(e.Attestation)
		if err != nil {
			return fmt.Errorf("encoding attestation of serial %d: %w", e.Serial, err)
		}
		err = s.store.AddRosterEntry(ctx, store.RosterEntry{
			Serial: e.Serial, Admin: e.Admin, Role: e.Role, SPKISHA256: e.PublicKeySHA256, Attestation: att,
		})
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("serial %d is already in the roster (burn it or remove it from the file): %w", e.Serial, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "added %d (%s, %s)\n", e.Serial, e.Admin, e.Role)
	}
	return nil
}

// Burn marks the key with serial burned in the state directory dir: it
// signs nothing from now on. An unknown serial wraps store.ErrNotFound.
func Burn(ctx context.Context, w io.Writer, dir string, serial uint32) error {
	s, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer s.store.Close()
	if err := s.store.BurnKey(ctx, serial, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(w, "burned %d\n", serial)
	return nil
}

// ListEntry is one key in the output of `roster list --json`
// (version 1 of that output: fields are only ever added).
type ListEntry struct {
	Serial          uint32     `json:"serial"`
	Admin           string     `json:"admin"`
	Role            string     `json:"role"`
	PublicKeySHA256 string     `json:"public_key_sha256"`
	Burned          bool       `json:"burned"`
	BurnedAt        *time.Time `json:"burned_at,omitempty"`
	AddedAt         time.Time  `json:"added_at"`
}

// List writes the roster of the state directory dir to w: a table, or with
// asJSON a JSON array of ListEntry.
func List(ctx context.Context, w io.Writer, dir string, asJSON bool) error {
	s, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer s.store.Close()
	entries, err := s.store.RosterEntries(ctx)
	if err != nil {
		return err
	}
	out := make([]ListEntry, 0, len(entries))
	for _, e := range entries {
		le := ListEntry{Serial: e.Serial, Admin: e.Admin, Role: e.Role, PublicKeySHA256: e.SPKISHA256, Burned: e.Burned, AddedAt: e.AddedAt}
		if e.Burned && !e.BurnedAt.IsZero() {
			t := e.BurnedAt
			le.BurnedAt = &t
		}
		out = append(out, le)
	}
	return listing.Write(w, asJSON, out, "", "SERIAL\tADMIN\tROLE\tSTATUS\tPUBLIC KEY SHA-256", func(tw io.Writer, e ListEntry) {
		status := "active"
		if e.Burned {
			status = "burned"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Serial, e.Admin, e.Role, status, e.PublicKeySHA256)
	})
}
