package devices

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// RevokeOperation is the audit operation of a revocation by the operator
// at the server (actor 0).
const RevokeOperation = "revoke_device"

// revoker revokes certificates at step-ca; *ca.Embedded and *ca.Remote
// implement it.
type revoker interface {
	Revoke(ctx context.Context, serial, reason string) error
	Close() error
}

// Revoke revokes device id of the dev state directory dir: it marks the
// device revoked in the store with one audit entry (actor 0), then revokes
// every certificate the store knows of it at step-ca (through the running
// dev tenant's step-ca when one serves dir, otherwise by opening the CA).
// The hub of a running tenant drops the peer at its next sync: at once
// for an in-process caller that calls hub.Sync, with the next API request
// otherwise, and within its resync period (30 s) at the latest. A device
// already revoked is revoked again at step-ca (a retry after a CA
// failure).
func Revoke(ctx context.Context, w io.Writer, dir, id, reason string) error {
	if reason == "" {
		reason = "revoked by the operator"
	}
	st, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	sum := sha256.Sum256([]byte(id + "\x00" + reason))
	d, _, err := st.RevokeDevice(ctx, id, reason, now, store.AuditRecord{Time: now, Actor: 0, Operation: RevokeOperation,
		ParamsDigest: base64.RawURLEncoding.EncodeToString(sum[:]), Result: "accepted"})
	if err != nil {
		return fmt.Errorf("revoking device %s: %w", id, err)
	}
	fmt.Fprintf(w, "device %s is revoked in the store; its tunnel peer goes at the hub's next sync\n", id)
	if len(d.Certificates) == 0 {
		return nil
	}
	rv, via, err := openRevoker(ctx, dir, d.Tenant)
	if err != nil {
		return fmt.Errorf("device %s is revoked in the store, but its certificates could not be revoked at step-ca (run this again): %w", id, err)
	}
	defer rv.Close()
	var errs []error
	for _, c := range d.Certificates {
		n, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			errs = append(errs, fmt.Errorf("certificate serial %q is not hex", c.Serial))
			continue
		}
		err := rv.Revoke(ctx, n.String(), reason)
		switch {
		case err == nil:
			fmt.Fprintf(w, "revoked certificate %s at step-ca (%s)\n", n, via)
		case errors.Is(err, ca.ErrRefused) && !c.NotAfter.After(now):
			fmt.Fprintf(w, "certificate %s has expired; step-ca refused to revoke it, which is fine\n", n)
		case errors.Is(err, ca.ErrRefused):
			fmt.Fprintf(w, "certificate %s: step-ca refused (most likely revoked already): %v\n", n, err)
		default:
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("device %s is revoked in the store, but not every certificate at step-ca (run this again): %w", id, err)
	}
	fmt.Fprintf(w, "the agent learns it at its next renewal, stops renewing and takes the tunnel down\n")
	return nil
}

// openRevoker reaches step-ca: the running dev tenant's over HTTPS (its
// process holds the CA's database), or the CA opened here.
func openRevoker(ctx context.Context, dir, tenant string) (revoker, string, error) {
	pki, err := ca.LoadOrCreatePKI(dev.CAPath(dir), tenant, time.Now())
	if err != nil {
		return nil, "", err
	}
	if url := dev.RunningURL(dir); url != "" {
		r, err := ca.DialRemote(ctx, ca.RemoteConfig{URL: url, RootFingerprint: pki.Fingerprint(), Tenant: tenant,
			Devices: ca.RemoteProvisioner{Name: ca.ProvisionerName, Key: pki.ProvisionerKey}, Timeout: 10 * time.Second})
		if err == nil {
			return r, "the running dev tenant's step-ca", nil
		}
		// A stale URL file of a tenant that did not stop cleanly: open the CA.
	}
	e, err := ca.Open(dev.CAPath(dir), tenant)
	if err != nil {
		return nil, "", err
	}
	return e, "step-ca opened from " + dev.CAPath(dir), nil
}
