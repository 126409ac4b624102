package roster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kiwistack/endpoint/internal/listing"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/kiwistack/endpoint/server/trust"
)

// Audit operations of the trust verbs; the actor is 0, the operator at the
// server, and the parameters digest the certificate's DER SHA-256.
const (
	AuditTrustAdd    = "trust_add"
	AuditTrustRemove = "trust_remove"
)

// addedBy is TrustEntry.AddedBy of an entry the CLI adds.
const addedBy = "operator"

// trustState is an opened dev state directory with what the trust verbs
// need: the tenant (the intermediate's O) and the roles of the current
// policy (the applied one, else the default).
type trustState struct {
	*state
	tenant string
	roles  []string
}

// openTrust opens the state directory dir for the trust verbs.
func openTrust(ctx context.Context, dir string) (*trustState, error) {
	st, err := open(ctx, dir)
	if err != nil {
		return nil, err
	}
	o := st.intermediate.Subject.Organization
	if len(o) != 1 {
		st.store.Close()
		return nil, fmt.Errorf("reading the tenant intermediate: its O %q names no single tenant", o)
	}
	s := &trustState{state: st, tenant: o[0], roles: policy.DefaultRoles}
	doc, _, err := st.store.CurrentPolicy(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		st.store.Close()
		return nil, fmt.Errorf("reading the current policy: %w", err)
	default:
		p, err := policy.Parse([]byte(doc))
		if err != nil {
			st.store.Close()
			return nil, fmt.Errorf("reading the current policy: %w", err)
		}
		s.roles = p.Roles
	}
	return s, nil
}

// AddTrust reads the PEM certificate at path, classifies and checks it
// (trust.ParsePEM, trust.Classify) and adds it to the trust list of the state directory
// dir with note, with one audit entry, reporting on w. A certificate entry
// also puts its signer in the roster under its pseudo-serial. A certificate
// already on the list, or a key already in the roster (a removed entry's
// key stays burned), is an error wrapping store.ErrExists.
func AddTrust(ctx context.Context, w io.Writer, dir, path, note string) error {
	data, err := readLimited(path)
	if err != nil {
		return err
	}
	cert, err := trust.ParsePEM(data)
	if err != nil {
		return err
	}
	s, err := openTrust(ctx, dir)
	if err != nil {
		return err
	}
	defer s.store.Close()
	now := time.Now()
	kind, err := trust.Classify(cert, s.tenant, s.roles, now)
	if err != nil {
		return err
	}
	e := trust.Entry(cert, kind, addedBy, note)
	e.AddedAt = now
	var signer *store.RosterEntry
	if kind == store.TrustKindCertificate {
		r := trust.Signer(cert)
		r.AddedAt = now
		signer = &r
	}
	rec := store.AuditRecord{Time: now, Operation: AuditTrustAdd, ParamsDigest: e.DERSHA256, Result: "accepted"}
	if _, err := s.store.AddTrustEntry(ctx, e, signer, rec); err != nil {
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("the certificate or its key is already trusted, in the roster, or was removed (a removed key stays burned; bring a new key): %w", err)
		}
		return err
	}
	if signer != nil {
		fmt.Fprintf(w, "added %s: certificate of %s (%s), signs as serial %d\n", e.ID, signer.Admin, signer.Role, signer.Serial)
	} else {
		fmt.Fprintf(w, "added %s: CA %s; its certificates with O=%s and OU a policy role sign\n", e.ID, cert.Subject.String(), s.tenant)
	}
	return nil
}

// readLimited reads the file at path, at most trust.MaxPEMSize bytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificate file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, trust.MaxPEMSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading certificate file: %w", err)
	}
	return data, nil
}

// RemoveTrust removes entry id from the trust list of the state directory dir
// with one audit entry: the signers it admitted are burned at once, their
// pending approvals void at the next evaluation. An unknown id wraps
// store.ErrNotFound.
func RemoveTrust(ctx context.Context, w io.Writer, dir, id string) error {
	s, err := openTrust(ctx, dir)
	if err != nil {
		return err
	}
	defer s.store.Close()
	entries, err := s.store.TrustEntries(ctx)
	if err != nil {
		return err
	}
	digest := ""
	for _, e := range entries {
		if e.ID == id {
			digest = e.DERSHA256
		}
	}
	if digest == "" {
		return fmt.Errorf("trust entry %q: %w; list them with kiwistack-api trust list", id, store.ErrNotFound)
	}
	now := time.Now()
	burned, err := s.store.RemoveTrustEntry(ctx, id, now,
		store.AuditRecord{Time: now, Operation: AuditTrustRemove, ParamsDigest: digest, Result: "accepted"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "removed %s; burned signers %v\n", id, burned)
	return nil
}

// TrustListEntry is one entry in the output of `trust list --json` (version 1
// of that output: fields are only ever added).
type TrustListEntry struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotAfter  time.Time `json:"not_after"`
	DERSHA256 string    `json:"der_sha256"`
	AddedAt   time.Time `json:"added_at"`
	AddedBy   string    `json:"added_by"`
	Note      string    `json:"note"`
	PEM       string    `json:"pem"`
}

// ListTrust writes the trust list of the state directory dir to w: a table, or
// with asJSON a JSON array of TrustListEntry.
func ListTrust(ctx context.Context, w io.Writer, dir string, asJSON bool) error {
	s, err := openTrust(ctx, dir)
	if err != nil {
		return err
	}
	defer s.store.Close()
	entries, err := s.store.TrustEntries(ctx)
	if err != nil {
		return err
	}
	out := make([]TrustListEntry, 0, len(entries))
	for _, e := range entries {
		le := TrustListEntry{ID: e.ID, Kind: e.Kind, DERSHA256: e.DERSHA256, AddedAt: e.AddedAt, AddedBy: e.AddedBy, Note: e.Note, PEM: e.PEM}
		if c, err := trust.ParsePEM([]byte(e.PEM)); err == nil {
			le.Subject, le.Issuer, le.NotAfter = c.Subject.String(), c.Issuer.String(), c.NotAfter.UTC()
		}
		out = append(out, le)
	}
	return listing.Write(w, asJSON, out, "", "ID\tKIND\tSUBJECT\tNOT AFTER\tNOTE", func(tw io.Writer, e TrustListEntry) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Kind, e.Subject, e.NotAfter.Format(time.RFC3339), e.Note)
	})
}
