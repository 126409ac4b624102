package appcert

import (
	"context"
	"crypto/sha1" //nolint:gosec // security(1) names certificates by their SHA-1
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// KeychainSecurity is macOS's security(1).
const KeychainSecurity = "/usr/bin/security"

// Keychain is the macOS store: the user's login keychain, through
// security(1) run as the user. The key is made in memory and imported
// with the certificate as a PKCS #12 file that only the user can read and
// that is deleted at once; Chromium (and Chrome) may use it without a
// prompt (-T).
type Keychain struct {
	// Tenant and DeviceID select the app certificates of this device.
	Tenant, DeviceID string
	// Runner runs security; ExecRunner when nil.
	Runner Runner
}

// LoginKeychain is u's login keychain.
func LoginKeychain(u User) string {
	return filepath.Join(u.Home, "Library", "Keychains", "login.keychain-db")
}

// KeychainApps are the browsers allowed to use the imported key.
var KeychainApps = []string{"/Applications/Chromium.app", "/Applications/Google Chrome.app"}

// KeychainImportArgs imports a PKCS #12 file into keychain, the key usable
// by KeychainApps.
func KeychainImportArgs(keychain, p12, password string) []string {
	args := []string{"import", p12, "-k", keychain, "-f", "pkcs12", "-P", password}
	for _, a := range KeychainApps {
		args = append(args, "-T", a)
	}
	return args
}

// KeychainFindArgs prints, PEM, every certificate in keychain whose label
// contains match.
func KeychainFindArgs(keychain, match string) []string {
	return []string{"find-certificate", "-a", "-p", "-c", match, keychain}
}

// KeychainDeleteArgs deletes the identity (certificate and key) whose
// certificate's SHA-1 is sha1hex.
func KeychainDeleteArgs(keychain, sha1hex string) []string {
	return []string{"delete-identity", "-Z", sha1hex, keychain}
}

// KeychainDeleteCertArgs deletes the certificate alone.
func KeychainDeleteCertArgs(keychain, sha1hex string) []string {
	return []string{"delete-certificate", "-Z", sha1hex, keychain}
}

func (s *Keychain) runner() Runner {
	if s.Runner == nil {
		return ExecRunner{}
	}
	return s.Runner
}

// Location implements Store.
func (s *Keychain) Location(u User) string { return LoginKeychain(u) }

// all returns this device's app certificates in u's keychain.
func (s *Keychain) all(ctx context.Context, u User) ([]*x509.Certificate, error) {
	out, err := s.runner().Run(ctx, u, nil, KeychainSecurity, KeychainFindArgs(LoginKeychain(u), "@"+s.DeviceID)...)
	if err != nil {
		if strings.Contains(err.Error(), "could not be found") {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the app certificates in %s: %w", LoginKeychain(u), err)
	}
	return appCerts(out, s.Tenant, s.DeviceID), nil
}

// appCerts returns the app certificates of deviceID of tenant among the
// PEM certificates in out.
func appCerts(out []byte, tenant, deviceID string) []*x509.Certificate {
	var cs []*x509.Certificate
	want := appURI(tenant, deviceID)
	for rest := out; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return cs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		for _, u := range c.URIs {
			if u.String() == want {
				cs = append(cs, c)
				break
			}
		}
	}
}

// Installed implements Store: the one ending last.
func (s *Keychain) Installed(ctx context.Context, u User) (*x509.Certificate, error) {
	cs, err := s.all(ctx, u)
	if err != nil {
		return nil, err
	}
	return latest(cs), nil
}

// latest is the certificate of cs that ends last, nil for none.
func latest(cs []*x509.Certificate) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range cs {
		if best == nil || c.NotAfter.After(best.NotAfter) {
			best = c
		}
	}
	return best
}

// NewKey implements Store.
func (s *Keychain) NewKey(_ context.Context, _ User, cn string) ([]byte, Key, error) {
	der, k, err := goKey(cn)
	if err != nil {
		return nil, nil, err
	}
	return der, k, nil
}

// Install implements Store. The tenant root is not added: a client
// identity needs no trust settings, and adding them to a login keychain
// asks the user for a password.
func (s *Keychain) Install(ctx context.Context, u User, key Key, chain []*x509.Certificate, _ *x509.Certificate) error {
	if err := s.Remove(ctx, u); err != nil {
		return err
	}
	p12, pw, cleanup, err := p12File(u, key, chain)
	if err != nil {
		return err
	}
	defer cleanup()
	if _, err := s.runner().Run(ctx, u, nil, KeychainSecurity, KeychainImportArgs(LoginKeychain(u), p12, pw)...); err != nil {
		return fmt.Errorf("importing the app certificate into %s: %w", LoginKeychain(u), err)
	}
	return nil
}

// Discard implements Store: the key was only ever in memory.
func (s *Keychain) Discard(context.Context, User, Key) error { return nil }

// Remove implements Store.
func (s *Keychain) Remove(ctx context.Context, u User) error {
	cs, err := s.all(ctx, u)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		sum := sha1.Sum(c.Raw) //nolint:gosec // security(1)'s certificate id
		h := strings.ToUpper(hex.EncodeToString(sum[:]))
		if _, err := s.runner().Run(ctx, u, nil, KeychainSecurity, KeychainDeleteArgs(LoginKeychain(u), h)...); err != nil {
			if _, err2 := s.runner().Run(ctx, u, nil, KeychainSecurity, KeychainDeleteCertArgs(LoginKeychain(u), h)...); err2 != nil {
				errs = append(errs, fmt.Errorf("removing app certificate %s from %s: %w", h, LoginKeychain(u), err2))
			}
		}
	}
	return errors.Join(errs...)
}
