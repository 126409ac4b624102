package enroll

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/escrow"
)

// RecoveryKeyAPI is what `admin recovery-key` needs beyond AdminAPI;
// enroll/apiclient implements it.
type RecoveryKeyAPI interface {
	RecoveryKey(ctx context.Context, id string) (*protocol.RecoveryKeyRelease, error)
}

// RecoveryKeyOptions are the flags of `admin recovery-key`.
type RecoveryKeyOptions struct {
	// DeviceID is the device whose key to read (a new read_recovery_key).
	DeviceID string
	// Operation resumes an operation requested before (its one-time key
	// is in KeyDir); DeviceID is then ignored.
	Operation string
	// KeyDir holds the one-time keys of requests not yet applied (0700,
	// each key 0600).
	KeyDir string
	// Reason is the optional reason parameter.
	Reason string
}

// RecoveryKey requests read_recovery_key for a device with a new one-time
// key, signs it with the YubiKey, and, once it is applied, opens the
// released key and shows it. When the policy needs more signatures or a
// delay, the one-time key waits in KeyDir (0600) and the verb is run
// again with --operation. The one-time key is deleted once the key was
// shown.
func (a Admin) RecoveryKey(ctx context.Context, o AdminOptions, ro RecoveryKeyOptions) error {
	if ro.KeyDir == "" {
		return errors.New("recovery-key: no directory for the one-time key")
	}
	api, err := a.dial(ctx, o)
	if err != nil {
		return err
	}
	rapi, ok := api.(RecoveryKeyAPI)
	if !ok {
		return errors.New("recovery-key: this API client cannot read released keys")
	}
	// With --json, stdout holds the JSON answer alone.
	out := a.Out
	if o.JSON {
		out = a.Err
	}
	id := ro.Operation
	if id == "" {
		if ro.DeviceID == "" {
			return errors.New("recovery-key: name the device (its id, as kiwistack-api devices list shows it)")
		}
		one, err := escrow.GenerateKey()
		if err != nil {
			return err
		}
		params := map[string]string{protocol.ParamDeviceID: ro.DeviceID, protocol.ParamRecipientKey: one.Public()}
		if ro.Reason != "" {
			params[protocol.ParamReason] = ro.Reason
		}
		inst, err := api.RequestOperation(ctx, protocol.OperationRequest{Operation: protocol.OpReadRecoveryKey, Tenant: o.Tenant, Params: params})
		if err != nil {
			return fmt.Errorf("requesting read_recovery_key: %w", err)
		}
		if err := checkInstance(inst, o.Tenant); err != nil {
			return err
		}
		if inst.Params[protocol.ParamRecipientKey] != one.Public() {
			return errors.New("the API changed the one-time key of the request; do not sign it, and report it")
		}
		id = inst.ID
		if err := os.MkdirAll(ro.KeyDir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", ro.KeyDir, err)
		}
		if err := atomicfile.WriteFile(oneTimeKeyPath(ro.KeyDir, id), one.Bytes(), 0o600); err != nil {
			return fmt.Errorf("saving the one-time key: %w", err)
		}
		fmt.Fprintf(out, "Requested %s (read_recovery_key of device %s)\n", id, ro.DeviceID)
		if _, _, _, err := a.approve(ctx, o, api, inst, false, out); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(oneTimeKeyPath(ro.KeyDir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no one-time key for operation %s in %s: only the administrator who requested it can open its key", id, ro.KeyDir)
	}
	if err != nil {
		return fmt.Errorf("reading the one-time key: %w", err)
	}
	one, err := escrow.ParsePrivateKey(b)
	if err != nil {
		return fmt.Errorf("one-time key of %s: %w", id, err)
	}
	inst, err := api.Operation(ctx, id)
	if err != nil {
		return fmt.Errorf("reading operation %s: %w", id, err)
	}
	if err := checkInstance(inst, o.Tenant); err != nil {
		return err
	}
	if inst.State != "applied" {
		if o.JSON {
			return writeJSON(a.Out, adminjson.RecoveryKey{Schema: adminjson.Schema, Operation: *inst})
		}
		fmt.Fprintf(a.Out, "\nOperation %s is %s. Once the other signers have signed (kiwistack-enroll admin sign %s),\nrun  kiwistack-enroll admin recovery-key --operation %s\n", id, inst.Summary, id, id)
		return nil
	}
	rel, err := rapi.RecoveryKey(ctx, id)
	if err != nil {
		return fmt.Errorf("reading the released key of %s: %w", id, err)
	}
	key, err := one.OpenRelease(rel.Sealed, escrow.Binding{Tenant: o.Tenant, DeviceID: rel.DeviceID, Volume: id})
	if err != nil {
		return fmt.Errorf("opening the released key of %s: %w", id, err)
	}
	if o.JSON {
		if err := writeJSON(a.Out, adminjson.RecoveryKey{Schema: adminjson.Schema, Operation: *inst, Released: &adminjson.ReleasedKey{
			DeviceID: rel.DeviceID, Volume: rel.Volume, KeySlot: rel.KeySlot, EscrowID: rel.EscrowID, RecoveryKey: key.String()}}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.Out, "\nRecovery key of device %s (volume %s, key slot %d, escrow %s):\n\n    %s\n\n", rel.DeviceID, rel.Volume, rel.KeySlot, rel.EscrowID, key)
		fmt.Fprintln(a.Out, "Type it at the disk's passphrase prompt. The device replaces it within the hour (its next check-in); this key then stops working.")
	}
	if err := os.Remove(oneTimeKeyPath(ro.KeyDir, id)); err != nil {
		return fmt.Errorf("removing the one-time key: %w", err)
	}
	return nil
}

// oneTimeKeyPath is the one-time key file of operation id.
func oneTimeKeyPath(dir, id string) string {
	return filepath.Join(dir, "recovery-"+strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '.' {
			return '_'
		}
		return r
	}, id)+".key")
}
