package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/policy"
)

// signedKit is a tenant intermediate, two admin keys (founder, sysadmin)
// with their certificates, and their signed statements of one add_admin
// request: what the operations API holds when the second signature
// arrives.
type signedKit struct {
	roots    *x509.CertPool
	req      Request
	policy   *policy.Policy
	roster   RosterMap
	compacts []string
	received time.Time
}

func newSignedKit(tb testing.TB) *signedKit {
	tb.Helper()
	now := t0
	mustKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	serial := int64(10)
	cert := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	rootKey, interKey := mustKey(), mustKey()
	root := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "MSP root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, &rootKey.PublicKey, rootKey)
	inter := cert(&x509.Certificate{Subject: pkix.Name{CommonName: tenant + " intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, root, &interKey.PublicKey, rootKey)

	k := &signedKit{roots: x509.NewCertPool(), policy: policy.Default(tenant), roster: RosterMap{}, received: now.Add(time.Minute)}
	k.roots.AddCert(inter) // the API trusts the tenant intermediate only
	var err error
	k.req, err = NewRequest("op-1", protocol.Operation{ID: "add_admin", Tenant: tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA",
		Params: map[string]string{"serial": "12345680", "role": "office-mgr"}}, k.policy.Operations["add_admin"], now, now.Add(5*time.Minute))
	if err != nil {
		tb.Fatal(err)
	}
	for i, role := range []string{"founder", "sysadmin"} {
		ak := mustKey()
		leaf := cert(&x509.Certificate{
			Subject:  pkix.Name{CommonName: "admin " + role, OrganizationalUnit: []string{role}, Organization: []string{tenant}},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, inter, &ak.PublicKey, interKey)
		ys := uint32(12345678 + i)
		stmt := &protocol.Statement{Operation: k.req.Operation, Tenant: tenant, Timestamp: protocol.FormatTimestamp(now),
			YubiKeySerial: ys, Nonce: k.req.Nonce, Digest: k.req.Digest, Params: k.req.Params}
		compact, err := protocol.Sign(context.Background(), protocol.SignerFrom(ak), []*x509.Certificate{leaf}, stmt)
		if err != nil {
			tb.Fatal(err)
		}
		k.compacts = append(k.compacts, compact)
		sig, err := SignatureFromStatement(stmt, leaf, now, false)
		if err != nil {
			tb.Fatal(err)
		}
		k.roster[ys] = RosterKey{SPKISHA256: sig.SPKISHA256}
	}
	return k
}

// verifyAndEvaluate is what the API does with the collected statements:
// parse and verify each against the tenant intermediate, then evaluate.
func (k *signedKit) verifyAndEvaluate(eng *Engine) (Decision, error) {
	sigs := make([]Signature, 0, len(k.compacts))
	for _, c := range k.compacts {
		signed, err := protocol.Parse(c)
		if err != nil {
			return Decision{}, err
		}
		stmt, leaf, err := signed.Verify(k.roots, nil, k.received)
		if err != nil {
			return Decision{}, err
		}
		sig, err := SignatureFromStatement(stmt, leaf, k.received, false)
		if err != nil {
			return Decision{}, err
		}
		sigs = append(sigs, sig)
	}
	return eng.Evaluate(k.req, sigs, k.received), nil
}

func TestSignedStatements(t *testing.T) {
	k := newSignedKit(t)
	d, err := k.verifyAndEvaluate(NewEngine(k.policy, k.roster))
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d, StateApproved, "")
	signed, err := protocol.Parse(k.compacts[0])
	if err != nil {
		t.Fatal(err)
	}
	stmt, leaf, err := signed.Verify(k.roots, nil, k.received)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignatureFromStatement(stmt, leaf, k.received, false)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Serial != 12345678 || sig.Role != "founder" || sig.Admin != "admin founder" || sig.CertTenant != tenant ||
		sig.CertSerial == "" || !strings.Contains(sig.CertIssuer, "intermediate") || !sig.Signed.Equal(t0) ||
		sig.Digest != k.req.Digest || sig.Cancel || sig.Operator || sig.SPKISHA256 != k.roster[12345678].SPKISHA256 {
		t.Errorf("signature %+v", sig)
	}
	// The sysadmin's key burned: the same statements no longer approve.
	k.roster[12345679] = RosterKey{SPKISHA256: k.roster[12345679].SPKISHA256, Burned: true}
	d, err = k.verifyAndEvaluate(NewEngine(k.policy, k.roster))
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d, StatePending, ReasonSignaturesMissing)
	wantReason(t, d, ReasonKeyBurned)
	// A cancel statement carries the request's cancel digest.
	c := k.req.CancelStatementOperation()
	if dg, err := c.Digest(); err != nil || dg != k.req.CancelDigest || c.ID != CancelOperation {
		t.Errorf("cancel digest %s, %v", dg, err)
	}
}

// BenchmarkCriticalApproval measures the verification of a two-signature
// critical approval (add_admin: founder + sysadmin) as the API will run it:
// protocol.Parse and Verify of both statements against the tenant
// intermediate, then Evaluate. Issue 7 asks for at least 1,000/s on one
// core: go test -run '^$' -bench CriticalApproval -cpu 1 ./server/authz/
func BenchmarkCriticalApproval(b *testing.B) {
	k := newSignedKit(b)
	eng := NewEngine(k.policy, k.roster)
	b.ReportAllocs()
	for b.Loop() {
		d, err := k.verifyAndEvaluate(eng)
		if err != nil || d.State != StateApproved {
			b.Fatalf("%v %s", err, d.Summary())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "approvals/s")
}

// BenchmarkEvaluate measures Evaluate alone.
func BenchmarkEvaluate(b *testing.B) {
	p := policy.Default(tenant)
	req := testRequest(b, "tenant_delete")
	eng := NewEngine(p, testRoster())
	sigs := []Signature{approve(req, founder1, t0), approve(req, sysadmin1, t0.Add(time.Minute)),
		approve(req, operatorKey, t0.Add(2*time.Minute))}
	b.ReportAllocs()
	for b.Loop() {
		if d := eng.Evaluate(req, sigs, t0.Add(15*24*time.Hour)); d.State != StateApproved {
			b.Fatal(d.Summary())
		}
	}
}
