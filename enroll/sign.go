package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
)

// SignStatement has slot 9a of key sign stmt under the x5c chain [cert],
// asking ui for the PIN (for purpose, in words) and the touch when the key
// needs them, with stmt.Timestamp set to now. It is the one way this
// package signs with a YubiKey: the enrollment and the admin verbs both
// use it.
func SignStatement(ctx context.Context, key *yubikey.Key, ui yubikey.UI, cert *x509.Certificate, stmt *protocol.Statement, purpose string, now time.Time) (string, error) {
	stmt.Timestamp = protocol.FormatTimestamp(now)
	return protocol.Sign(ctx, func(digest []byte) ([]byte, error) {
		sig, _, err := key.Sign(ctx, ui, digest, crypto.SHA256, purpose)
		return sig, err
	}, []*x509.Certificate{cert}, stmt)
}
