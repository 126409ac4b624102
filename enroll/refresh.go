package enroll

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/keysjson"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
)

// RefreshOptions are the flags of `keys refresh`.
type RefreshOptions struct {
	// Serial picks the YubiKey; 0: the secrets file's, else the only one.
	Serial uint32
	// APIURL is the tenant API that issues the certificate again, reached
	// over TLS pinned to the root whose SHA-256 is RootFingerprint.
	APIURL          string
	RootFingerprint string
	// SecretsPath is the key's secrets file (written by keys provision):
	// its management key writes the new certificate into slot 9a, and its
	// PIN, when it has one, unlocks the slot to sign the request.
	SecretsPath string
	// Now is the clock the answer's certificate is verified at; time.Now
	// when nil.
	Now func() time.Time
}

// Refresh has the tenant API issue slot 9a's certificate again for the key
// the slot holds (POST /v1/admin-certificates/reissue), checks the answer
// (it chains to the pinned tenant root, is for the same key, and names the
// holder the roster names), stores it in slot 9a and prints what changed.
// It is the way back for administrators after rotate_intermediate, whose
// old certificates the API no longer accepts; the key itself never changes.
func (c Keys) Refresh(ctx context.Context, o RefreshOptions) error {
	if o.APIURL == "" || o.RootFingerprint == "" {
		return errors.New("--api and --root-fingerprint name the tenant API that reissues the certificate (kiwistack-api dev prints both)")
	}
	if o.SecretsPath == "" {
		return errors.New("--current-secrets names the key's secrets file (written by keys provision): its management key is needed to store the new certificate in slot 9a")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	secrets, err := readSecrets(o.SecretsPath)
	if err != nil {
		return err
	}
	if o.Serial == 0 {
		o.Serial = secrets.serial
	}
	// Connect before touching the card, so that a wrong URL or fingerprint
	// fails early.
	api, err := apiclient.Dial(ctx, o.APIURL, o.RootFingerprint)
	if err != nil {
		return err
	}
	k, err := c.Client.Open(ctx, o.Serial, c.UI)
	if err != nil {
		return err
	}
	defer k.Close()
	serial := k.Info().Serial
	if secrets.serial != 0 && secrets.serial != serial {
		return fmt.Errorf("%s holds the secrets of YubiKey %d, not of YubiKey %d; give the right file or --serial", o.SecretsPath, secrets.serial, serial)
	}
	if !c.JSON {
		fmt.Fprintf(c.Out, "Asking %s to reissue the slot 9a certificate of YubiKey %d for the same key.\n", api.URL(), serial)
	}
	res, err := k.Reissue(ctx, yubikey.ReissueRequest{
		ManagementKey: secrets.current.ManagementKey,
		PIN:           secrets.current.PIN,
		Issue:         reissuer(api, o.Now),
		UI:            c.UI,
		Verifier:      c.Verifier,
	})
	if err != nil {
		return err
	}
	return c.printRefresh(res)
}

// reissuer returns the IssueFunc that asks api for the certificate and
// accepts only one that chains to the pinned root, is for the CSR's key,
// and names the holder the API's roster entry names, in the organisation of
// the intermediate that issued it (and of the old certificate, if any).
func reissuer(api *apiclient.Client, now func() time.Time) yubikey.IssueFunc {
	return func(ctx context.Context, req yubikey.IssueRequest) (*x509.Certificate, error) {
		resp, err := api.ReissueAdminCertificate(ctx, protocol.AdminReissueRequest{
			Serial:                  req.Serial,
			CSR:                     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req.CSR.Raw})),
			Attestation:             pemCert(req.Attestation),
			AttestationIntermediate: pemCert(req.F9),
		})
		if err != nil {
			return nil, err
		}
		cert, err := checkReissued(resp, api.Root(), req, now())
		if err != nil {
			return nil, fmt.Errorf("the API at %s answered with a certificate that is not stored: %w", api.URL(), err)
		}
		return cert, nil
	}
}

// checkReissued checks the API's answer to a reissue of req against the
// pinned root at now and returns the certificate.
func checkReissued(resp *protocol.AdminCertificateResponse, root *x509.Certificate, req yubikey.IssueRequest, now time.Time) (*x509.Certificate, error) {
	cert, err := attest.ParseCertificatePEM([]byte(resp.Certificate))
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	gotRoot, err := attest.ParseCertificatePEM([]byte(resp.Root))
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if !gotRoot.Equal(root) {
		return nil, errors.New("it names another root than the pinned one")
	}
	if len(resp.Chain) == 0 {
		return nil, errors.New("it comes without the intermediate that issued it")
	}
	inters := x509.NewCertPool()
	var issuer *x509.Certificate
	for i, p := range resp.Chain {
		c, err := attest.ParseCertificatePEM([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("chain[%d]: %w", i, err)
		}
		if i == 0 {
			issuer = c
		}
		inters.AddCert(c)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("it does not chain to the pinned tenant root: %w", err)
	}
	if cert.CheckSignatureFrom(issuer) != nil {
		return nil, errors.New("the first certificate of its chain did not issue it")
	}
	if !bytes.Equal(cert.RawSubjectPublicKeyInfo, req.CSR.RawSubjectPublicKeyInfo) {
		return nil, errors.New("it is for another key than slot 9a's")
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	re := resp.RosterEntry
	if re.Serial != req.Serial || re.PublicKeySHA256 != hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("its roster entry is for YubiKey %d, key %s; want %d, %x", re.Serial, re.PublicKeySHA256, req.Serial, sum)
	}
	s := cert.Subject
	tenant := issuer.Subject.Organization
	switch {
	case s.CommonName != re.Admin || !slices.Equal(s.OrganizationalUnit, []string{re.Role}):
		return nil, fmt.Errorf("it names CN=%s, OU=%v, but the roster names %s, %s", s.CommonName, s.OrganizationalUnit, re.Admin, re.Role)
	case len(tenant) != 1 || !slices.Equal(s.Organization, tenant):
		return nil, fmt.Errorf("it names O=%v, but its intermediate is tenant %v's", s.Organization, tenant)
	case req.Tenant != "" && tenant[0] != req.Tenant:
		return nil, fmt.Errorf("it is for tenant %s, but the old certificate was tenant %s's; check --api", tenant[0], req.Tenant)
	}
	want := "urn:kiwistack:admin:" + tenant[0] + ":" + strconv.FormatUint(uint64(req.Serial), 10)
	if len(cert.URIs) != 1 || cert.URIs[0].String() != want {
		return nil, fmt.Errorf("its URIs are %v, want %s", cert.URIs, want)
	}
	return cert, nil
}

// printRefresh says what changed in slot 9a.
func (c Keys) printRefresh(r *yubikey.Reissued) error {
	cert := func(x *x509.Certificate) keysjson.Certificate {
		id := keysjson.Identity{Admin: x.Subject.CommonName, Issuer: x.Issuer.CommonName,
			NotAfter: x.NotAfter.UTC().Format(time.RFC3339)}
		if len(x.Subject.OrganizationalUnit) > 0 {
			id.Role = x.Subject.OrganizationalUnit[0]
		}
		if len(x.Subject.Organization) > 0 {
			id.Tenant = x.Subject.Organization[0]
		}
		return keysjson.Certificate{Identity: id, IssuerKeyID: hex.EncodeToString(x.AuthorityKeyId)}
	}
	out := keysjson.Refresh{Schema: keysjson.SchemaRefresh, Serial: r.Serial, PublicKeySHA256: r.PublicKeySHA256, New: cert(r.New)}
	if r.Old != nil {
		old := cert(r.Old)
		out.Old = &old
	}
	if c.JSON {
		return writeJSON(c.Out, out)
	}
	n := out.New
	fmt.Fprintf(c.Out, "Slot 9a of YubiKey %d holds a new certificate for the same key (public key SHA-256 %s).\n", r.Serial, r.PublicKeySHA256)
	fmt.Fprintf(c.Out, "  Holder:      CN=%s, OU=%s, O=%s\n", n.Admin, n.Role, n.Tenant)
	if o := out.Old; o != nil {
		if o.Admin != n.Admin || o.Role != n.Role || o.Tenant != n.Tenant {
			fmt.Fprintf(c.Out, "  Was:         CN=%s, OU=%s, O=%s (the roster names the holder now)\n", o.Admin, o.Role, o.Tenant)
		}
		fmt.Fprintf(c.Out, "  Issuer:      %s (key %s) -> %s (key %s)\n", o.Issuer, short(o.IssuerKeyID), n.Issuer, short(n.IssuerKeyID))
		fmt.Fprintf(c.Out, "  Valid until: %s -> %s\n", o.NotAfter, n.NotAfter)
	} else {
		fmt.Fprintf(c.Out, "  Issuer:      (slot 9a held no certificate) -> %s (key %s)\n", n.Issuer, short(n.IssuerKeyID))
		fmt.Fprintf(c.Out, "  Valid until: %s\n", n.NotAfter)
	}
	fmt.Fprintln(c.Out, "The key signs for the tenant again; nothing else needs to change.")
	return nil
}

// short abbreviates a hex key identifier for people.
func short(id string) string {
	if len(id) > 16 {
		return id[:16] + "…"
	}
	if id == "" {
		return "unknown"
	}
	return id
}
