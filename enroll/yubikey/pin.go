package yubikey

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-piv/piv-go/v2/piv"
)

// ChangePIN asks for the current PIN (with the tries left) and a new one,
// and changes it. The holder does this when they receive a provisioned key.
func (k *Key) ChangePIN(ctx context.Context, ui UI) error {
	retries, err := k.pinRetries()
	if err != nil {
		return err
	}
	if retries == 0 {
		return &PINError{Retries: 0}
	}
	k.info.PINRetries = retries
	old, err := ui.PIN(ctx, PINRequest{Key: k.info, Retries: retries, Purpose: "change it"})
	if err != nil {
		return fmt.Errorf("reading the current PIN: %w", err)
	}
	if err := checkPINFormat(old); err != nil {
		return err
	}
	newPIN, err := ui.Secret(ctx, SecretRequest{Key: k.info, Label: "new PIN", New: true})
	if err != nil {
		return fmt.Errorf("reading the new PIN: %w", err)
	}
	if err := checkPINFormat(newPIN); err != nil {
		return fmt.Errorf("new PIN: %w", err)
	}
	if err := k.yk.SetPIN(old, newPIN); err != nil {
		var ae piv.AuthErr
		if errors.As(err, &ae) {
			return &PINError{Retries: ae.Retries}
		}
		return fmt.Errorf("changing the PIN: %w", err)
	}
	k.logger.Info("PIN changed", "serial", k.info.Serial)
	return nil
}

// PUKError is a wrong or blocked PUK with the tries that remain.
type PUKError struct {
	Retries int
}

func (e *PUKError) Error() string {
	if e.Retries == 0 {
		return "PUK blocked: the PIV applet can now only be reset (which erases its keys); ask the MSP for a replacement key"
	}
	return fmt.Sprintf("wrong PUK: %d tries left", e.Retries)
}

// UnblockPIN asks for the PUK and a new PIN and sets the PIN with them,
// which also resets the PIN's retry counter.
func (k *Key) UnblockPIN(ctx context.Context, ui UI) error {
	puk, err := ui.Secret(ctx, SecretRequest{Key: k.info, Label: "PUK"})
	if err != nil {
		return fmt.Errorf("reading the PUK: %w", err)
	}
	if err := checkPINFormat(puk); err != nil {
		return fmt.Errorf("PUK: %w", err)
	}
	newPIN, err := ui.Secret(ctx, SecretRequest{Key: k.info, Label: "new PIN", New: true})
	if err != nil {
		return fmt.Errorf("reading the new PIN: %w", err)
	}
	if err := checkPINFormat(newPIN); err != nil {
		return fmt.Errorf("new PIN: %w", err)
	}
	if err := k.yk.Unblock(puk, newPIN); err != nil {
		var ae piv.AuthErr
		if errors.As(err, &ae) {
			return &PUKError{Retries: ae.Retries}
		}
		return fmt.Errorf("unblocking the PIN: %w", err)
	}
	k.logger.Info("PIN unblocked", "serial", k.info.Serial)
	return nil
}
