package dev

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/server/ca"
)

// The dev operator: a KiwiStack operator trust anchor and one software
// operator key, made once in the state directory, so that operations that
// need an operator's co-signature (change_jurisdiction, tenant_delete,
// rotate_intermediate) can be played locally with `kiwistack-api operator
// sign`. Production operators hold a YubiKey under KiwiStack's operator
// root, which the tenant API trusts through api.Config.OperatorRoots.
const (
	// OperatorDir holds the dev operator's root and key.
	OperatorDir = "operator"
	// OperatorRootFile is the operator trust anchor (PEM).
	OperatorRootFile = "operator-root.crt"
	// OperatorCertFile and OperatorKeyFile are the operator's signing
	// certificate and key (0600).
	OperatorCertFile = "operator.crt"
	OperatorKeyFile  = "operator.key"
	// OperatorSerial is the "YubiKey serial" the dev operator's statements
	// carry.
	OperatorSerial = 99000001
)

// Operator is the dev operator's trust anchor and signing key.
type Operator struct {
	Root *x509.Certificate
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// OperatorPath returns the operator directory of the state directory dir.
func OperatorPath(dir string) string { return filepath.Join(dir, OperatorDir) }

// LoadOrCreateOperator loads the dev operator of the state directory dir,
// creating it on first use (the root's key is not kept: it signs the one
// operator certificate and is dropped).
func LoadOrCreateOperator(dir string, now time.Time) (*Operator, error) {
	od := OperatorPath(dir)
	op, err := loadOperator(od)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return op, err
	}
	if err := os.MkdirAll(od, 0o700); err != nil {
		return nil, fmt.Errorf("creating the dev operator: %w", err)
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn := func() *big.Int { n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120)); return n }
	rootTmpl := &x509.Certificate{SerialNumber: sn(), Subject: pkix.Name{CommonName: "KiwiStack dev operators", Organization: []string{"KiwiStack"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("creating the dev operator root: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafTmpl := &x509.Certificate{SerialNumber: sn(), Subject: pkix.Name{CommonName: "dev-operator", Organization: []string{"KiwiStack"},
		OrganizationalUnit: []string{"operator"}}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("creating the dev operator certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The key and certificate first, the root last: loadOperator reads the
	// root first, so a half-made directory is made again.
	for _, f := range []struct {
		name string
		typ  string
		der  []byte
		perm fs.FileMode
	}{
		{OperatorKeyFile, "EC PRIVATE KEY", keyDER, 0o600},
		{OperatorCertFile, "CERTIFICATE", leafDER, 0o644},
		{OperatorRootFile, "CERTIFICATE", rootDER, 0o644},
	} {
		if err := atomicfile.WriteFile(filepath.Join(od, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.perm); err != nil {
			return nil, fmt.Errorf("writing the dev operator: %w", err)
		}
	}
	return loadOperator(od)
}

// loadOperator reads the operator directory od; fs.ErrNotExist when it
// was never made.
func loadOperator(od string) (*Operator, error) {
	block := func(name, typ string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(od, name))
		if err != nil {
			return nil, err
		}
		b, _ := pem.Decode(data)
		if b == nil || b.Type != typ {
			return nil, fmt.Errorf("reading the dev operator: %s holds no PEM %s", name, typ)
		}
		return b.Bytes, nil
	}
	var op Operator
	der, err := block(OperatorRootFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	if op.Root, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("reading the dev operator root: %w", err)
	}
	if der, err = block(OperatorCertFile, "CERTIFICATE"); err != nil {
		return nil, err
	}
	if op.Cert, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("reading the dev operator certificate: %w", err)
	}
	if der, err = block(OperatorKeyFile, "EC PRIVATE KEY"); err != nil {
		return nil, err
	}
	if op.Key, err = x509.ParseECPrivateKey(der); err != nil {
		return nil, fmt.Errorf("reading the dev operator key: %w", err)
	}
	return &op, nil
}

// OperatorSign co-signs operation id as the dev operator of the state
// directory dir, against the tenant API at apiURL (pinned to the tenant
// root of dir), after writing to w what it signs.
func OperatorSign(ctx context.Context, w io.Writer, dir, apiURL, id string) error {
	op, err := loadOperator(OperatorPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no dev operator in %s: run kiwistack-api dev --state %s first", dir, dir)
	}
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(CAPath(dir), ca.RootCertFile))
	if err != nil {
		return fmt.Errorf("reading the tenant root: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return fmt.Errorf("reading the tenant root: %s holds no PEM certificate", ca.RootCertFile)
	}
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return fmt.Errorf("reading the tenant root: %w", err)
	}
	c, err := apiclient.Dial(ctx, apiURL, ca.Fingerprint(root))
	if err != nil {
		return err
	}
	inst, err := c.Operation(ctx, id)
	if err != nil {
		return fmt.Errorf("reading operation %s: %w", id, err)
	}
	if err := inst.Validate(); err != nil {
		return fmt.Errorf("the API's answer does not hold together (%w); not signing", err)
	}
	fmt.Fprintf(w, "Co-signing as KiwiStack operator %s: %s\n  state %s\n  digest %s\n", op.Cert.Subject.CommonName, inst.Description, inst.Summary, inst.Digest)
	stmt := &protocol.Statement{Operation: inst.Operation, Tenant: inst.Tenant, YubiKeySerial: OperatorSerial,
		Nonce: inst.Nonce, Digest: inst.Digest, Params: inst.Params, Timestamp: protocol.FormatTimestamp(time.Now())}
	compact, err := protocol.Sign(ctx, protocol.SignerFrom(op.Key), []*x509.Certificate{op.Cert}, stmt)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	after, err := c.SignOperation(ctx, id, protocol.SignatureRequest{Statement: compact})
	if err != nil {
		return fmt.Errorf("sending the co-signature: %w", err)
	}
	fmt.Fprintf(w, "Operation %s is now %s.\n", id, after.Summary)
	return nil
}
