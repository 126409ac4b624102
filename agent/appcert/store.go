package appcert

import (
	"context"
	"crypto/x509"
)

// Store is one OS's certificate store of a user, as the Work profile's
// browser reads it. Implementations run the OS's own tools as the user.
type Store interface {
	// Location names u's store for status.
	Location(u User) string
	// Installed returns the app certificate in u's store, nil when none.
	Installed(ctx context.Context, u User) (*x509.Certificate, error)
	// NewKey makes a new key for u, in the store where the store can
	// generate keys itself, and returns the DER of a CSR with subject CN
	// cn and a handle Install and Discard take.
	NewKey(ctx context.Context, u User, cn string) (csr []byte, key Key, err error)
	// Install replaces whatever app certificate u's store holds with leaf
	// (for key) and its intermediates, and trusts root for client
	// authentication chains.
	Install(ctx context.Context, u User, key Key, chain []*x509.Certificate, root *x509.Certificate) error
	// Discard deletes a key NewKey made that was never installed.
	Discard(ctx context.Context, u User, key Key) error
	// Remove deletes the app certificate and its key from u's store; it
	// is not an error when there is none.
	Remove(ctx context.Context, u User) error
}

// Key is a store's handle on a key NewKey made.
type Key any

// Nickname is the name tenant's app certificate has in stores that name
// certificates (the NSS nickname).
func Nickname(tenant string) string { return "kiwistack-app-" + tenant }

// RootNickname is the name of tenant's root in those stores.
func RootNickname(tenant string) string { return "kiwistack-root-" + tenant }
