package appcert

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // NSS's CKA_ID of an EC key is the SHA-1 of its public point
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NSSCertutil and NSSDir are Debian's certutil (libnss3-tools) and the
// user's NSS database, relative to the home directory, which Chromium and
// Firefox on Linux read client certificates from whatever the profile.
const (
	NSSCertutil = "certutil"
	NSSDir      = ".pki/nssdb"
)

// NSS is the Linux store: the user's NSS database (sql: format). The key
// is generated inside the database by certutil -R, run as the user, so it
// never exists outside the user's own store; the certificate is then
// imported under Nickname, the tenant root beside it trusted as a CA.
type NSS struct {
	// Tenant names the certificates (Nickname, RootNickname).
	Tenant string
	// Runner runs certutil; ExecRunner when nil.
	Runner Runner
	// Certutil is the certutil binary; NSSCertutil when empty.
	Certutil string
}

// nssKey is NSS's handle on a key certutil -R made: its CKA_ID in hex.
type nssKey string

func (s *NSS) runner() Runner {
	if s.Runner == nil {
		return ExecRunner{}
	}
	return s.Runner
}

func (s *NSS) certutil() string {
	if s.Certutil == "" {
		return NSSCertutil
	}
	return s.Certutil
}

// DBDir is u's NSS database directory.
func DBDir(u User) string { return filepath.Join(u.Home, filepath.FromSlash(NSSDir)) }

// db is certutil's -d argument for u.
func db(u User) string { return "sql:" + DBDir(u) }

// NSSCreateArgs makes an empty database without a password.
func NSSCreateArgs(dbArg string) []string { return []string{"-N", "-d", dbArg, "--empty-password"} }

// NSSRequestArgs generates an EC P-256 key in the database and prints the
// CSR (PEM) for subject CN cn, with noise from the file noise.
func NSSRequestArgs(dbArg, cn, noise string) []string {
	return []string{"-R", "-d", dbArg, "-k", "ec", "-q", "nistp256", "-s", "CN=" + escapeDN(cn), "-z", noise, "-a", "-Z", "SHA256"}
}

// NSSAddArgs imports a PEM certificate from stdin under nickname with
// trust (",," for the leaf, "C,," for a CA).
func NSSAddArgs(dbArg, nickname, trust string) []string {
	return []string{"-A", "-d", dbArg, "-n", nickname, "-t", trust, "-a"}
}

// NSSListArgs prints the certificates under nickname, PEM.
func NSSListArgs(dbArg, nickname string) []string {
	return []string{"-L", "-d", dbArg, "-n", nickname, "-a"}
}

// NSSDeleteKeyArgs deletes the certificate under nickname and its key.
func NSSDeleteKeyArgs(dbArg, nickname string) []string {
	return []string{"-F", "-d", dbArg, "-n", nickname}
}

// NSSDeleteKeyIDArgs deletes the key whose CKA_ID is id (hex).
func NSSDeleteKeyIDArgs(dbArg, id string) []string {
	return []string{"-F", "-d", dbArg, "-k", id}
}

// NSSDeleteCertArgs deletes the certificate under nickname (not its key).
func NSSDeleteCertArgs(dbArg, nickname string) []string {
	return []string{"-D", "-d", dbArg, "-n", nickname}
}

// escapeDN escapes an RFC 4514 attribute value (user@device ids need
// none, but a name is never trusted to).
func escapeDN(v string) string {
	var b strings.Builder
	for i, r := range v {
		if strings.ContainsRune(`,+"\<>;=`, r) || (i == 0 && (r == '#' || r == ' ')) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Location implements Store.
func (s *NSS) Location(u User) string { return db(u) }

// Installed implements Store.
func (s *NSS) Installed(ctx context.Context, u User) (*x509.Certificate, error) {
	if _, err := os.Stat(filepath.Join(DBDir(u), "cert9.db")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	out, err := s.runner().Run(ctx, u, nil, s.certutil(), NSSListArgs(db(u), Nickname(s.Tenant))...)
	if err != nil {
		if nssNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the app certificate in %s: %w", db(u), err)
	}
	b, _ := pem.Decode(out)
	if b == nil {
		return nil, fmt.Errorf("listing the app certificate in %s: no PEM certificate in certutil's output", db(u))
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("listing the app certificate in %s: %w", db(u), err)
	}
	return c, nil
}

// nssNotFound reports certutil's answer for a nickname it does not have.
func nssNotFound(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "could not find") || strings.Contains(m, "not found")
}

// ensureDB makes u's database directory (as u: never root writing into a
// user's home) and an empty database when there is none.
func (s *NSS) ensureDB(ctx context.Context, u User) error {
	if _, err := s.runner().Run(ctx, u, nil, "mkdir", "-p", "-m", "0700", DBDir(u)); err != nil {
		return fmt.Errorf("creating %s: %w", DBDir(u), err)
	}
	if _, err := os.Stat(filepath.Join(DBDir(u), "cert9.db")); err == nil {
		return nil
	}
	if _, err := s.runner().Run(ctx, u, nil, s.certutil(), NSSCreateArgs(db(u))...); err != nil {
		return fmt.Errorf("creating the NSS database %s: %w", db(u), err)
	}
	return nil
}

// NewKey implements Store: certutil -R generates the key in u's database.
func (s *NSS) NewKey(ctx context.Context, u User, cn string) ([]byte, Key, error) {
	if err := s.ensureDB(ctx, u); err != nil {
		return nil, nil, err
	}
	noise, cleanup, err := noiseFile(u)
	if err != nil {
		return nil, nil, err
	}
	defer cleanup()
	out, err := s.runner().Run(ctx, u, nil, s.certutil(), NSSRequestArgs(db(u), cn, noise)...)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the key in %s: %w", db(u), err)
	}
	der, err := csrFromCertutil(out)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the key in %s: %w", db(u), err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the key in %s: certutil's csr: %w", db(u), err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("generating the key in %s: certutil made a %T key, want EC", db(u), csr.PublicKey)
	}
	return der, nssKey(CKAID(pub)), nil
}

// CKAID is NSS's CKA_ID of an EC key: the SHA-1 of its uncompressed
// public point, hex.
func CKAID(pub *ecdsa.PublicKey) string {
	k, err := pub.ECDH()
	if err != nil {
		return ""
	}
	sum := sha1.Sum(k.Bytes()) //nolint:gosec // an identifier, as NSS computes it
	return hex.EncodeToString(sum[:])
}

// csrFromCertutil finds the CSR in certutil -R -a's output, which frames
// it as "NEW CERTIFICATE REQUEST" after a human-readable dump.
func csrFromCertutil(out []byte) ([]byte, error) {
	rest := out
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no CSR in certutil's output")
		}
		if strings.HasSuffix(b.Type, "CERTIFICATE REQUEST") {
			return b.Bytes, nil
		}
	}
}

// noiseFile writes 2 KiB of randomness for certutil -R -z to a file only
// u can read, in a new directory of its own, and returns its path and a
// function that removes both.
func noiseFile(u User) (string, func(), error) {
	dir, err := os.MkdirTemp("", "kiwistack-appcert-")
	if err != nil {
		return "", nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	b := make([]byte, 2048)
	if _, err := rand.Read(b); err != nil {
		cleanup()
		return "", nil, err
	}
	p := filepath.Join(dir, "noise")
	// Written and handed over before the directory is: u cannot plant a
	// link in a directory that is not yet its own.
	if err := os.WriteFile(p, b, 0o600); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("writing the noise file: %w", err)
	}
	if err := handOver(u, p, dir); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("handing the noise file to %s: %w", u.Name, err)
	}
	return p, cleanup, nil
}

// Install implements Store.
func (s *NSS) Install(ctx context.Context, u User, key Key, chain []*x509.Certificate, root *x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("installing the app certificate: no certificate")
	}
	if err := s.Remove(ctx, u); err != nil {
		return err
	}
	r, d := s.runner(), db(u)
	if root != nil {
		_, _ = r.Run(ctx, u, nil, s.certutil(), NSSDeleteCertArgs(d, RootNickname(s.Tenant))...)
		if _, err := r.Run(ctx, u, pemCert(root), s.certutil(), NSSAddArgs(d, RootNickname(s.Tenant), "C,,")...); err != nil {
			return fmt.Errorf("trusting the tenant root in %s: %w", d, err)
		}
	}
	for i, c := range chain[1:] {
		nick := fmt.Sprintf("%s-intermediate-%d", RootNickname(s.Tenant), i+1)
		_, _ = r.Run(ctx, u, nil, s.certutil(), NSSDeleteCertArgs(d, nick)...)
		if _, err := r.Run(ctx, u, pemCert(c), s.certutil(), NSSAddArgs(d, nick, ",,")...); err != nil {
			return fmt.Errorf("adding the tenant intermediate to %s: %w", d, err)
		}
	}
	if _, err := r.Run(ctx, u, pemCert(chain[0]), s.certutil(), NSSAddArgs(d, Nickname(s.Tenant), ",,")...); err != nil {
		return fmt.Errorf("adding the app certificate to %s: %w", d, err)
	}
	return nil
}

// Discard implements Store.
func (s *NSS) Discard(ctx context.Context, u User, key Key) error {
	id, ok := key.(nssKey)
	if !ok || id == "" {
		return nil
	}
	if _, err := s.runner().Run(ctx, u, nil, s.certutil(), NSSDeleteKeyIDArgs(db(u), string(id))...); err != nil && !nssNotFound(err) {
		return fmt.Errorf("deleting the unused key %s from %s: %w", id, db(u), err)
	}
	return nil
}

// Remove implements Store: every certificate under Nickname goes, with
// its key.
func (s *NSS) Remove(ctx context.Context, u User) error {
	if _, err := os.Stat(filepath.Join(DBDir(u), "cert9.db")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	r, d := s.runner(), db(u)
	for range 16 {
		_, err := r.Run(ctx, u, nil, s.certutil(), NSSDeleteKeyArgs(d, Nickname(s.Tenant))...)
		if err == nil {
			continue
		}
		// A certificate without its key: delete the certificate alone.
		if _, err2 := r.Run(ctx, u, nil, s.certutil(), NSSDeleteCertArgs(d, Nickname(s.Tenant))...); err2 != nil {
			if nssNotFound(err2) {
				return nil
			}
			return fmt.Errorf("removing the app certificate from %s: %w", d, err2)
		}
	}
	c, err := s.Installed(ctx, u)
	if err != nil {
		return err
	}
	if c != nil {
		return fmt.Errorf("removing the app certificate from %s: still there after 16 deletions", d)
	}
	return nil
}

// pemCert is c as one PEM block.
func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
