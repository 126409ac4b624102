package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/kiwistack/endpoint/server/trust"
)

// byocCA makes a customer's CA root (their in-house PKI), software keys.
func byocCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k := newKey(t)
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn, Organization: []string{"Customer PKI"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

// byocAdmin issues an administrator's own certificate under issuer; it
// signs with its pseudo-serial.
func byocAdmin(t *testing.T, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey, cn, ou, o string) admin {
	t.Helper()
	k := newKey(t)
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn, Organization: []string{o}, OrganizationalUnit: []string{ou}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(60 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &k.PublicKey, issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return admin{serial: protocol.BYOCSerial(c.RawSubjectPublicKeyInfo), key: k, cert: c}
}

// trustAdd adds cert to the trust list as `kiwistack-api trust add` does.
func trustAdd(t *testing.T, st store.Store, cert *x509.Certificate) string {
	t.Helper()
	kind, err := trust.Classify(cert, tenant, []string{RoleFounder, RoleSysadmin, RoleOfficeMgr}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := trust.Entry(cert, kind, "test", "")
	var signer *store.RosterEntry
	if kind == store.TrustKindCertificate {
		r := trust.Signer(cert)
		signer = &r
	}
	if _, err := st.AddTrustEntry(context.Background(), e, signer, store.AuditRecord{Operation: "trust_add", Result: "accepted"}); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

func trustRemove(t *testing.T, st store.Store, id string) {
	t.Helper()
	if _, err := st.RemoveTrustEntry(context.Background(), id, time.Now(), store.AuditRecord{Operation: "trust_remove", Result: "accepted"}); err != nil {
		t.Fatal(err)
	}
}

// enrollAs runs an enrollment signed by a and returns the status and body.
func (o *opsEnv) enrollAs(t *testing.T, a admin) (int, []byte) {
	t.Helper()
	c := o.begin(t)
	c.signer, c.chain, c.stmt.YubiKeySerial = a.key, []*x509.Certificate{a.cert}, a.serial
	compact, err := protocol.Sign(context.Background(), protocol.SignerFrom(c.signer), c.chain, &c.stmt)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.EnrollRequest{Statement: compact, CSR: c.csr})
	return o.post(t, "/v1/enrollments", ctJSON, body)
}

// wantReason checks a rejection's status and reason.
func wantReason(t *testing.T, what string, status int, body []byte, wantStatus int, reason string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d: %s", what, status, wantStatus, body)
	}
	if got := errorOf(t, body).Reason; got != reason {
		t.Fatalf("%s: reason %q, want %q", what, got, reason)
	}
}

func TestBYOCCertificateEntry(t *testing.T) {
	o := newOpsEnv(t)
	corp, corpKey := byocCA(t, "Corp smartcards") // not on the list
	a := byocAdmin(t, corp, corpKey, "Ada BYOC", RoleSysadmin, tenant)
	if status, body := o.enrollAs(t, a); status != http.StatusForbidden {
		t.Fatalf("before trust add: %d %s", status, body)
	}
	id := trustAdd(t, o.st, a.cert)
	if status, body := o.enrollAs(t, a); status != http.StatusCreated {
		t.Fatalf("enroll_device by a BYOC certificate: %d %s", status, body)
	}
	if got := o.lastAudit(t, 1); got[0].Actor != a.serial || got[0].Result != resultAccepted {
		t.Errorf("audit %+v", got[0])
	}
	burn := o.mustSign(t, a, o.mustRequest(t, protocol.OpBurnKey, map[string]string{"serial": "3000"}, ""))
	if burn.State != "applied" {
		t.Fatalf("burn_key signed by a BYOC sysadmin: %+v", burn)
	}

	t.Run("wrong pseudo-serial", func(t *testing.T) {
		b := a
		b.serial = a.serial ^ 1
		status, body := o.enrollAs(t, b)
		wantReason(t, "wrong serial", status, body, http.StatusForbidden, ReasonKeyMismatch)
	})
	t.Run("the entry issues nothing", func(t *testing.T) {
		// A certificate signed by the trusted certificate's key is not trusted.
		child := byocAdmin(t, a.cert, a.key, "Mallory", RoleFounder, tenant)
		status, body := o.enrollAs(t, child)
		wantReason(t, "child of a certificate entry", status, body, http.StatusForbidden, protocol.ReasonChain)
	})

	trustRemove(t, o.st, id)
	status, body := o.enrollAs(t, a)
	wantReason(t, "after trust remove", status, body, http.StatusForbidden, protocol.ReasonChain)
	status, body = o.sign(t, a, o.mustRequest(t, protocol.OpBurnKey, map[string]string{"serial": "1001"}, ""))
	wantReason(t, "operation after trust remove", status, body, http.StatusForbidden, protocol.ReasonChain)
	if r, err := o.st.RosterEntry(context.Background(), a.serial); err != nil || !r.Burned {
		t.Errorf("roster row of the removed signer: %+v, %v", r, err)
	}
}

func TestBYOCCAEntry(t *testing.T) {
	o := newOpsEnv(t)
	root, rootKey := byocCA(t, "Customer root")
	id := trustAdd(t, o.st, root)
	founder := byocAdmin(t, root, rootKey, "Fran Founder", RoleFounder, tenant)
	sysadmin := byocAdmin(t, root, rootKey, "Sam Sysadmin", RoleSysadmin, tenant)

	if status, body := o.enrollAs(t, sysadmin); status != http.StatusCreated {
		t.Fatalf("enroll_device by a certificate of a BYOC CA: %d %s", status, body)
	}
	params, _ := o.addAdminParams(t, 4000, RoleSysadmin)
	pending := o.mustSign(t, founder, o.mustRequest(t, protocol.OpAddAdmin, params, ""))
	if len(pending.Signatures) != 1 || !pending.Signatures[0].Counted || pending.Signatures[0].Serial != founder.serial {
		t.Fatalf("BYOC founder's signature %+v", pending.Signatures)
	}

	refused := []struct {
		name   string
		signer admin
		status int
		reason string
	}{
		{"wrong O", byocAdmin(t, root, rootKey, "Eve", RoleFounder, "globex"), http.StatusForbidden, ReasonWrongOrganization},
		{"unknown OU", byocAdmin(t, root, rootKey, "Eve", "janitor", tenant), http.StatusForbidden, ReasonRoleInsufficient},
	}
	foreign, foreignKey := byocCA(t, "Foreign root")
	refused = append(refused, struct {
		name   string
		signer admin
		status int
		reason string
	}{"foreign CA", byocAdmin(t, foreign, foreignKey, "Eve", RoleFounder, tenant), http.StatusForbidden, protocol.ReasonChain})
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			status, body := o.enrollAs(t, tc.signer)
			wantReason(t, "enroll", status, body, tc.status, tc.reason)
			status, body = o.sign(t, tc.signer, pending)
			wantReason(t, "sign", status, body, tc.status, tc.reason)
		})
	}

	trustRemove(t, o.st, id)
	got := o.get(t, pending.ID)
	if got.State != "pending" || got.Signatures[0].Counted || got.Signatures[0].Reason != ReasonKeyBurned {
		t.Fatalf("after trust remove: %s %+v", got.State, got.Signatures)
	}
	status, body := o.sign(t, sysadmin, got)
	wantReason(t, "sign after trust remove", status, body, http.StatusForbidden, protocol.ReasonChain)
	status, body = o.enrollAs(t, sysadmin)
	wantReason(t, "enroll after trust remove", status, body, http.StatusForbidden, protocol.ReasonChain)
}
