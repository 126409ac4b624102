//go:build windows

package appcert

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// WindowsStore is the Windows store: the CurrentUser\My certificate store
// of the account the agent's tools run as, read through the Windows
// crypt API and written with certutil -user -importPFX (the key made in
// memory, imported from a PKCS #12 file that is deleted at once).
type WindowsStore struct {
	// Tenant and DeviceID select the app certificates of this device.
	Tenant, DeviceID string
	// Runner runs certutil; ExecRunner when nil.
	Runner Runner
}

func (s *WindowsStore) runner() Runner {
	if s.Runner == nil {
		return ExecRunner{}
	}
	return s.Runner
}

// Location implements Store.
func (s *WindowsStore) Location(User) string { return `CurrentUser\My` }

// all returns this device's app certificates in CurrentUser\My.
func (s *WindowsStore) all() ([]*x509.Certificate, error) {
	name, err := windows.UTF16PtrFromString("MY")
	if err != nil {
		return nil, err
	}
	st, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0,
		windows.CERT_SYSTEM_STORE_CURRENT_USER|windows.CERT_STORE_READONLY_FLAG, uintptr(unsafe.Pointer(name)))
	if err != nil {
		return nil, fmt.Errorf("opening CurrentUser\\My: %w", err)
	}
	defer windows.CertCloseStore(st, 0)
	var cs []*x509.Certificate
	var prev *windows.CertContext
	want := appURI(s.Tenant, s.DeviceID)
	for {
		cur, err := windows.CertEnumCertificatesInStore(st, prev)
		if err != nil {
			if errors.Is(err, windows.Errno(windows.CRYPT_E_NOT_FOUND)) {
				return cs, nil
			}
			return cs, fmt.Errorf("reading CurrentUser\\My: %w", err)
		}
		der := unsafe.Slice(cur.EncodedCert, cur.Length)
		if c, err := x509.ParseCertificate(append([]byte(nil), der...)); err == nil {
			for _, u := range c.URIs {
				if u.String() == want {
					cs = append(cs, c)
					break
				}
			}
		}
		prev = cur
	}
}

// Installed implements Store.
func (s *WindowsStore) Installed(context.Context, User) (*x509.Certificate, error) {
	cs, err := s.all()
	if err != nil {
		return nil, err
	}
	return latest(cs), nil
}

// NewKey implements Store.
func (s *WindowsStore) NewKey(_ context.Context, _ User, cn string) ([]byte, Key, error) {
	der, k, err := goKey(cn)
	if err != nil {
		return nil, nil, err
	}
	return der, k, nil
}

// Install implements Store.
func (s *WindowsStore) Install(ctx context.Context, u User, key Key, chain []*x509.Certificate, _ *x509.Certificate) error {
	if err := s.Remove(ctx, u); err != nil {
		return err
	}
	p12, pw, cleanup, err := p12File(u, key, chain)
	if err != nil {
		return err
	}
	defer cleanup()
	if _, err := s.runner().Run(ctx, u, nil, WindowsCertutil, WindowsImportArgs(p12, pw)...); err != nil {
		return fmt.Errorf("importing the app certificate into CurrentUser\\My: %w", err)
	}
	return nil
}

// Discard implements Store: the key was only ever in memory.
func (s *WindowsStore) Discard(context.Context, User, Key) error { return nil }

// Remove implements Store.
func (s *WindowsStore) Remove(ctx context.Context, u User) error {
	cs, err := s.all()
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if _, err := s.runner().Run(ctx, u, nil, WindowsCertutil, WindowsDeleteArgs(c.SerialNumber.Text(16))...); err != nil {
			errs = append(errs, fmt.Errorf("removing app certificate %s from CurrentUser\\My: %w", c.SerialNumber.Text(16), err))
		}
	}
	return errors.Join(errs...)
}
