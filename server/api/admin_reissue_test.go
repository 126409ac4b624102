package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

const reissuePath = "/v1/admin-certificates/reissue"

// reissueEnv is an admin environment whose CA lives in a directory the
// test knows, so that it can rotate the intermediate as rotate_intermediate
// does (ca.RequestIntermediate, the MSP signs, Embedded.Rotate).
type reissueEnv struct {
	*env
	cc    *countingCA
	caDir string
	emb   *ca.Embedded
	// old is the intermediate before rotate.
	old *x509.Certificate
}

func newReissueEnv(tb testing.TB, configure ...func(*Config)) *reissueEnv {
	tb.Helper()
	trusted, _ := attestationPKIs(tb)
	re := &reissueEnv{caDir: tb.TempDir()}
	emb, err := ca.Open(re.caDir, tenant)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = emb.Close() })
	re.emb, re.old = emb, emb.Intermediate()
	re.env = newEnv(tb, append([]func(*Config){func(c *Config) {
		re.cc = &countingCA{CA: emb}
		c.CA = re.cc
		c.Intermediate = emb.Intermediate()
		roots := attest.YubicoRoots()
		roots.AddCert(trusted.root)
		c.AttestationVerifier = attest.Verifier{Roots: roots, Intermediates: attest.YubicoIntermediates()}
	}}, configure...)...)
	return re
}

// rotate replaces the CA's intermediate by a new one from the same root.
func (re *reissueEnv) rotate(t *testing.T) {
	t.Helper()
	csr, err := ca.RequestIntermediate(re.caDir, tenant)
	if err != nil {
		t.Fatal(err)
	}
	msp, err := ca.LoadOrCreateMSP(re.caDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	next, err := msp.SignIntermediate(csr, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := re.emb.Rotate(next); err != nil {
		t.Fatal(err)
	}
	if re.emb.Intermediate().Equal(re.old) {
		t.Fatal("the intermediate did not change")
	}
}

// addRoster pins k to serial in the roster as admin with role.
func (re *reissueEnv) addRoster(t *testing.T, serial uint32, k *ecdsa.PrivateKey, admin, role string) {
	t.Helper()
	if err := re.st.AddRosterEntry(context.Background(), store.RosterEntry{
		Serial: serial, Admin: admin, Role: role, SPKISHA256: spkiHex(t, k),
	}); err != nil {
		t.Fatal(err)
	}
}

func spkiHex(t testing.TB, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// reissueRequest is a request for k in slot 9a of serial, attested by p;
// its CSR names no CN but an OU and O the roster does not, which must not
// matter.
func reissueRequest(t testing.TB, p *attestationPKI, k *ecdsa.PrivateKey, serial uint32) protocol.AdminReissueRequest {
	t.Helper()
	return reissueRequestCSR(t, p, k, serial, &x509.CertificateRequest{
		Subject: pkix.Name{OrganizationalUnit: []string{RoleFounder}, Organization: []string{"evil-corp"}},
	})
}

// reissueRequestCSR is reissueRequest with the CSR made from tmpl.
func reissueRequestCSR(t testing.TB, p *attestationPKI, k *ecdsa.PrivateKey, serial uint32, tmpl *x509.CertificateRequest) protocol.AdminReissueRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, k)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.AdminReissueRequest{
		Serial:                  serial,
		CSR:                     pemOf("CERTIFICATE REQUEST", der),
		Attestation:             pemOf("CERTIFICATE", p.attest(t, &k.PublicKey, serial, "9a", 2, 2).Raw),
		AttestationIntermediate: pemOf("CERTIFICATE", p.f9.Raw),
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAdminReissueAfterRotation(t *testing.T) {
	re := newReissueEnv(t)
	trusted, _ := attestationPKIs(t)
	const serial = 22334455
	k := newKey(t)
	re.addRoster(t, serial, k, "Jane Roe", RoleSysadmin)
	// Jane's certificate from before the rotation, under the old intermediate.
	pki, err := ca.LoadOrCreatePKI(re.caDir, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	oldCert := issueAdmin(t, pki, k, "Jane Roe", RoleSysadmin, tenant, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	re.rotate(t)
	current := re.emb.Intermediate()
	onlyCurrent := x509.NewCertPool()
	onlyCurrent.AddCert(current)
	if _, err := oldCert.Verify(x509.VerifyOptions{Roots: onlyCurrent, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("the old certificate verifies against the new intermediate: the rotation proves nothing")
	}

	status, body := re.post(t, reissuePath, ctJSON, mustJSON(t, reissueRequest(t, trusted, k, serial)))
	if status != http.StatusCreated {
		t.Fatalf("got %d %s", status, body)
	}
	var resp protocol.AdminCertificateResponse
	if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxResponseBytes, &resp); err != nil {
		t.Fatalf("response: %v\n%s", err, body)
	}
	leaf, err := attest.ParseCertificatePEM([]byte(resp.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: onlyCurrent, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the reissued certificate does not verify against the current intermediate: %v", err)
	}
	onlyOld := x509.NewCertPool()
	onlyOld.AddCert(re.old)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: onlyOld, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the reissued certificate verifies against the retired intermediate")
	}
	if len(resp.Chain) != 1 || resp.Chain[0] != string(ca.PEM(current)) {
		t.Errorf("chain is not the current intermediate: %q", resp.Chain)
	}
	if root, err := attest.ParseCertificatePEM([]byte(resp.Root)); err != nil || !root.Equal(pki.Root) {
		t.Errorf("root: %v", err)
	}
	if !k.PublicKey.Equal(leaf.PublicKey) {
		t.Error("the reissued certificate is for another key")
	}
	s := leaf.Subject
	if s.CommonName != "Jane Roe" || !reflect.DeepEqual(s.OrganizationalUnit, []string{RoleSysadmin}) || !reflect.DeepEqual(s.Organization, []string{tenant}) {
		t.Errorf("subject %s, want the roster's CN=Jane Roe, OU=sysadmin, O=%s (not the CSR's)", s, tenant)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != ca.AdminURI(tenant, serial).String() {
		t.Errorf("URIs %v", leaf.URIs)
	}
	re2 := resp.RosterEntry
	if re2.Serial != serial || re2.Admin != "Jane Roe" || re2.Role != RoleSysadmin || re2.PublicKeySHA256 != spkiHex(t, k) ||
		re2.NotAfter != protocol.FormatTimestamp(leaf.NotAfter) {
		t.Errorf("roster entry %+v", re2)
	}
	if n := re.cc.issued.Load(); n != 1 {
		t.Errorf("%d certificates issued, want 1", n)
	}
	entries, err := re.st.AuditEntries(context.Background(), 0, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries %v, %v", entries, err)
	}
	if en := entries[0]; en.Actor != serial || en.Operation != protocol.OpReissueAdminCertificate || en.Result != resultAccepted || en.ParamsDigest != spkiHex(t, k) {
		t.Errorf("audit entry %+v", en)
	}
	// The roster is what it was: a reissue changes no pin, role or name.
	got, err := re.st.RosterEntry(context.Background(), serial)
	if err != nil || got.SPKISHA256 != spkiHex(t, k) || got.Admin != "Jane Roe" || got.Role != RoleSysadmin || got.Burned {
		t.Errorf("roster entry after reissue %+v, %v", got, err)
	}
}

func TestAdminReissueRejects(t *testing.T) {
	trusted, foreign := attestationPKIs(t)
	re := newReissueEnv(t)
	ctx := context.Background()
	const (
		known  = 31000001
		burned = 31000002
		intern = 31000003
	)
	k := newKey(t)
	re.addRoster(t, known, k, "Jane Roe", RoleSysadmin)
	kb := newKey(t)
	re.addRoster(t, burned, kb, "Lost Key", RoleFounder)
	if err := re.st.BurnKey(ctx, burned, time.Now()); err != nil {
		t.Fatal(err)
	}
	ki := newKey(t)
	re.addRoster(t, intern, ki, "Ivan Intern", "intern")

	type build func(t *testing.T) (ctype string, body []byte)
	changed := func(change func(t *testing.T, r *protocol.AdminReissueRequest)) build {
		return func(t *testing.T) (string, []byte) {
			r := reissueRequest(t, trusted, k, known)
			change(t, &r)
			return ctJSON, mustJSON(t, r)
		}
	}
	raw := func(body string) build {
		return func(*testing.T) (string, []byte) { return ctJSON, []byte(body) }
	}
	cases := []struct {
		name   string
		build  build
		status int
		reason string
	}{
		{"bad JSON", raw(`{"serial": 1, "csr": `), 400, protocol.ReasonMalformed},
		{"unknown field", raw(`{"serial":1,"csr":"","attestation":"","attestation_intermediate":"","admin":"Mallory"}`), 400, protocol.ReasonMalformed},
		{"no serial", changed(func(_ *testing.T, r *protocol.AdminReissueRequest) { r.Serial = 0 }), 400, protocol.ReasonMalformed},
		{"oversize", raw(`{"csr":"` + strings.Repeat("A", protocol.MaxRequestBytes) + `"}`), 413, ReasonBodyTooLarge},
		{"wrong content type", func(t *testing.T) (string, []byte) {
			_, b := changed(func(*testing.T, *protocol.AdminReissueRequest) {})(t)
			return "text/plain", b
		}, 415, ReasonMediaType},
		{"garbage CSR", changed(func(_ *testing.T, r *protocol.AdminReissueRequest) {
			r.CSR = pemOf("CERTIFICATE REQUEST", []byte("not DER"))
		}), 400, ReasonBadCSR},
		{"CSR signature", changed(func(_ *testing.T, r *protocol.AdminReissueRequest) {
			b, _ := pem.Decode([]byte(r.CSR))
			b.Bytes[len(b.Bytes)-3] ^= 0x55
			r.CSR = pemOf("CERTIFICATE REQUEST", b.Bytes)
		}), 400, ReasonCSRSignature},
		{"garbage attestation", changed(func(_ *testing.T, r *protocol.AdminReissueRequest) {
			r.Attestation = pemOf("CERTIFICATE", []byte("not DER"))
		}), 400, ReasonBadAttestation},
		{"foreign attestation root", changed(func(t *testing.T, r *protocol.AdminReissueRequest) {
			r.Attestation = pemOf("CERTIFICATE", foreign.attest(t, &k.PublicKey, known, "9a", 2, 2).Raw)
			r.AttestationIntermediate = pemOf("CERTIFICATE", foreign.f9.Raw)
		}), 403, ReasonAttestationUntrusted},
		{"slot 9c", changed(func(t *testing.T, r *protocol.AdminReissueRequest) {
			r.Attestation = pemOf("CERTIFICATE", trusted.attest(t, &k.PublicKey, known, "9c", 2, 2).Raw)
		}), 400, ReasonAttestationSlot},
		{"attested serial is not the body's", changed(func(t *testing.T, r *protocol.AdminReissueRequest) {
			r.Serial = burned
		}), 400, ReasonAttestationSerial},
		{"CSR of another key than attested", changed(func(t *testing.T, r *protocol.AdminReissueRequest) {
			r.CSR = reissueRequest(t, trusted, newKey(t), known).CSR
		}), 400, ReasonAttestedKeyMismatch},
		{"touch never", changed(func(t *testing.T, r *protocol.AdminReissueRequest) {
			r.Attestation = pemOf("CERTIFICATE", trusted.attest(t, &k.PublicKey, known, "9a", 2, 1).Raw)
		}), 403, ReasonAttestationPolicy},
		{"CSR names another holder", func(t *testing.T) (string, []byte) {
			return ctJSON, mustJSON(t, reissueRequestCSR(t, trusted, k, known, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "Mallory"}}))
		}, 400, ReasonBadSubject},
		{"CSR names a SAN", func(t *testing.T) (string, []byte) {
			return ctJSON, mustJSON(t, reissueRequestCSR(t, trusted, k, known, &x509.CertificateRequest{DNSNames: []string{"evil.example"}}))
		}, 400, ReasonBadSubject},
		{"serial not in the roster", func(t *testing.T) (string, []byte) {
			return ctJSON, mustJSON(t, reissueRequest(t, trusted, newKey(t), 31000099))
		}, 403, ReasonUnknownKey},
		{"burned key", func(t *testing.T) (string, []byte) {
			return ctJSON, mustJSON(t, reissueRequest(t, trusted, kb, burned))
		}, 403, ReasonKeyBurned},
		{"key generated again: roster pins another", func(t *testing.T) (string, []byte) {
			return ctJSON, mustJSON(t, reissueRequest(t, trusted, newKey(t), known))
		}, 403, ReasonKeyMismatch},
		{"roster role no longer in the policy", func(t *testing.T) (string, []byte) {
			return ctJSON, mustJSON(t, reissueRequest(t, trusted, ki, intern))
		}, 403, ReasonUnknownRole},
	}
	if len(cases) >= ClaimFailureBurst {
		t.Fatalf("%d cases: more than the rate limit lets through from one address", len(cases))
	}
	rosterBefore, err := re.st.RosterEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctype, body := tc.build(t)
			before := re.audits(t)
			status, resp := re.post(t, reissuePath, ctype, body)
			var er protocol.ErrorResponse
			if err := json.Unmarshal(resp, &er); err != nil || status != tc.status || er.Reason != tc.reason || er.Message == "" {
				t.Fatalf("got %d %s, want %d %s", status, resp, tc.status, tc.reason)
			}
			if n := re.audits(t) - before; n != 1 {
				t.Errorf("%d audit entries, want 1", n)
			}
			if n := re.cc.issued.Load(); n != 0 {
				t.Errorf("%d admin certificates issued", n)
			}
		})
	}
	rosterAfter, err := re.st.RosterEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rosterBefore, rosterAfter) {
		t.Errorf("the roster changed:\n%+v\n%+v", rosterBefore, rosterAfter)
	}
	if n := re.devices(t); n != 0 {
		t.Errorf("%d devices written", n)
	}
	entries, err := re.st.AuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Operation != protocol.OpReissueAdminCertificate || en.Result != resultRejected || en.Reason == "" {
			t.Errorf("audit entry %+v", en)
		}
	}
}

// TestAdminReissueRateLimited: failures drain the address's bucket; once
// it is empty the API answers 429 without an audit entry, even to a valid
// request, and other addresses are not affected.
func TestAdminReissueRateLimited(t *testing.T) {
	re := newReissueEnv(t)
	trusted, _ := attestationPKIs(t)
	const serial = 41000001
	k := newKey(t)
	re.addRoster(t, serial, k, "Jane Roe", RoleSysadmin)
	send := func(addr string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, reissuePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctJSON)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		re.h.ServeHTTP(rec, req)
		return rec
	}
	for i := range ClaimFailureBurst {
		if rec := send("198.51.100.7:4242", []byte(`{}`)); rec.Code != http.StatusBadRequest {
			t.Fatalf("failure %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	audits := re.audits(t)
	valid := mustJSON(t, reissueRequest(t, trusted, k, serial))
	rec := send("198.51.100.7:4243", valid)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), ReasonRateLimited) {
		t.Fatalf("after %d failures: %d %s %v", ClaimFailureBurst, rec.Code, rec.Body, rec.Header())
	}
	if re.audits(t) != audits || re.cc.issued.Load() != 0 {
		t.Error("a rate-limited request was audited or issued")
	}
	if rec := send("203.0.113.9:1", valid); rec.Code != http.StatusCreated {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
}

// FuzzAdminReissueHandler feeds arbitrary bodies to POST
// /v1/admin-certificates/reissue: the handler never answers 5xx, never
// issues a certificate, and always explains itself with a reason and a
// message. Each body comes from its own address, so the rate limit does
// not hide the decoder.
func FuzzAdminReissueHandler(f *testing.F) {
	re := newReissueEnv(f)
	trusted, _ := attestationPKIs(f)
	// Well formed, correctly signed and attested, for a serial the roster
	// does not know: the closest a random body can get to a valid one.
	f.Add(mustJSON(f, reissueRequest(f, trusted, newKey(f), 51000001)))
	f.Add([]byte(`{"serial":1,"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n","attestation":"","attestation_intermediate":""}`))
	f.Add([]byte(`{"serial":4294967296}`))
	f.Add([]byte(`{"serial":1,"serial":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\xff\xfe"))
	var n atomic.Uint32
	f.Fuzz(func(t *testing.T, body []byte) {
		i := n.Add(1)
		req := httptest.NewRequest(http.MethodPost, reissuePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctJSON)
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1", byte(i>>16), byte(i>>8), byte(i))
		rec := httptest.NewRecorder()
		re.h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code == http.StatusCreated || re.cc.issued.Load() != 0 {
			t.Fatalf("status %d (issued %d) for %q: %s", rec.Code, re.cc.issued.Load(), body, rec.Body)
		}
		var er protocol.ErrorResponse
		if err := protocol.DecodeJSON(rec.Body, protocol.MaxResponseBytes, &er); err != nil || er.Reason == "" || er.Message == "" {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
	})
}
