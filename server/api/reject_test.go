package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

const ctJSON = "application/json"

// enrollOK runs a successful enrollment of c.
func (e *env) enrollOK(t *testing.T, c *ceremony) []byte {
	t.Helper()
	body := c.body(t)
	if status, resp := e.post(t, "/v1/enrollments", ctJSON, body); status != http.StatusCreated {
		t.Fatalf("setup enrollment: %d %s", status, resp)
	}
	return body
}

// yubiKeyAttestation reads a real YubiKey's slot 9a attestation certificate.
func yubiKeyAttestation(t *testing.T) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile("../../../shared/fixtures/yubikey/attestation/yk-5.7.1-29173673/attestation-9a.pem")
	if err != nil {
		t.Fatalf("reading the YubiKey fixture: %v", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block in the YubiKey fixture")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnrollRejects(t *testing.T) {
	e := newEnv(t)
	// signed returns a builder that changes a fresh valid ceremony.
	signed := func(change func(t *testing.T, c *ceremony)) func(t *testing.T) (string, []byte) {
		return func(t *testing.T) (string, []byte) {
			c := e.begin(t)
			change(t, c)
			return ctJSON, c.body(t)
		}
	}
	raw := func(body string) func(t *testing.T) (string, []byte) {
		return func(t *testing.T) (string, []byte) { return ctJSON, []byte(body) }
	}
	cases := []struct {
		name   string
		build  func(t *testing.T) (ctype string, body []byte)
		status int
		reason string
	}{
		{"malformed JSON", raw(`{"statement": "a.b.c", "csr": `), 400, protocol.ReasonMalformed},
		{"empty body", raw(``), 400, protocol.ReasonMalformed},
		{"JSON array", raw(`[1,2,3]`), 400, protocol.ReasonMalformed},
		{"oversized body", func(t *testing.T) (string, []byte) {
			return ctJSON, []byte(`{"statement":"` + strings.Repeat("A", protocol.MaxRequestBytes) + `","csr":""}`)
		}, 413, ReasonBodyTooLarge},
		{"wrong content type", func(t *testing.T) (string, []byte) {
			return "text/plain", e.begin(t).body(t)
		}, 415, ReasonMediaType},
		{"no content type", func(t *testing.T) (string, []byte) {
			return "", e.begin(t).body(t)
		}, 415, ReasonMediaType},
		{"duplicated field", func(t *testing.T) (string, []byte) {
			c := e.begin(t)
			s, _ := json.Marshal(c.compact(t))
			r, _ := json.Marshal(c.csr)
			return ctJSON, []byte(`{"statement":` + string(s) + `,"statement":` + string(s) + `,"csr":` + string(r) + `}`)
		}, 400, protocol.ReasonMalformed},
		{"unknown field", func(t *testing.T) (string, []byte) {
			c := e.begin(t)
			s, _ := json.Marshal(c.compact(t))
			r, _ := json.Marshal(c.csr)
			return ctJSON, []byte(`{"statement":` + string(s) + `,"csr":` + string(r) + `,"role":"founder"}`)
		}, 400, protocol.ReasonMalformed},
		{"statement not a JWS", func(t *testing.T) (string, []byte) {
			b, _ := json.Marshal(protocol.EnrollRequest{Statement: "not-a-statement", CSR: e.begin(t).csr})
			return ctJSON, b
		}, 400, protocol.ReasonMalformed},
		{"alg HS256", func(t *testing.T) (string, []byte) {
			c := e.begin(t)
			parts := strings.Split(c.compact(t), ".")
			hj, _ := json.Marshal(protocol.Header{Alg: "HS256", Typ: protocol.MediaType, X5C: []string{base64.StdEncoding.EncodeToString(e.admin.cert.Raw)}})
			parts[0] = base64.RawURLEncoding.EncodeToString(hj)
			b, _ := json.Marshal(protocol.EnrollRequest{Statement: strings.Join(parts, "."), CSR: c.csr})
			return ctJSON, b
		}, 400, protocol.ReasonAlgorithm},
		{"truncated signature", func(t *testing.T) (string, []byte) {
			c := e.begin(t)
			parts := strings.Split(c.compact(t), ".")
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			parts[2] = base64.RawURLEncoding.EncodeToString(sig[:len(sig)-1])
			b, _ := json.Marshal(protocol.EnrollRequest{Statement: strings.Join(parts, "."), CSR: c.csr})
			return ctJSON, b
		}, 401, protocol.ReasonSignature},
		{"signature by another key", signed(func(t *testing.T, c *ceremony) { c.signer = newKey(t) }), 401, protocol.ReasonSignature},
		{"YubiKey attestation certificate with the wrong key", signed(func(t *testing.T, c *ceremony) {
			c.chain = []*x509.Certificate{yubiKeyAttestation(t)}
		}), 401, protocol.ReasonSignature},
		{"chain from another tenant", signed(func(t *testing.T, c *ceremony) {
			_, other, _ := openCA(t, "globex")
			c.chain = []*x509.Certificate{issueAdmin(t, other, c.signer, "eve", RoleSysadmin, "globex", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))}
		}), 403, protocol.ReasonChain},
		{"chain from another tenant with this tenant's O", signed(func(t *testing.T, c *ceremony) {
			_, other, _ := openCA(t, "globex")
			c.chain = []*x509.Certificate{issueAdmin(t, other, c.signer, "eve", RoleSysadmin, tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))}
		}), 403, protocol.ReasonChain},
		{"expired admin certificate", signed(func(t *testing.T, c *ceremony) {
			c.chain = []*x509.Certificate{issueAdmin(t, e.pki, c.signer, "admin-1000", RoleSysadmin, tenant, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))}
		}), 403, ReasonCertExpired},
		{"invalid statement content", signed(func(t *testing.T, c *ceremony) { c.stmt.YubiKeySerial = 0 }), 400, protocol.ReasonStatement},
		{"digest does not match statement", signed(func(t *testing.T, c *ceremony) { c.stmt.HardwareFingerprint += "-x" }), 400, protocol.ReasonStatement},
		{"certificate O is another organization", signed(func(t *testing.T, c *ceremony) {
			a := e.addAdmin(t, 2001, RoleSysadmin, "globex")
			c.signer, c.chain, c.stmt.YubiKeySerial = a.key, []*x509.Certificate{a.cert}, a.serial
		}), 403, ReasonWrongOrganization},
		{"serial not in roster", signed(func(t *testing.T, c *ceremony) { c.stmt.YubiKeySerial = 999999 }), 403, ReasonUnknownKey},
		{"burned key", signed(func(t *testing.T, c *ceremony) {
			a := e.addAdmin(t, 2002, RoleSysadmin, tenant)
			if err := e.st.BurnKey(context.Background(), a.serial, time.Now()); err != nil {
				t.Fatal(err)
			}
			c.signer, c.chain, c.stmt.YubiKeySerial = a.key, []*x509.Certificate{a.cert}, a.serial
		}), 403, ReasonKeyBurned},
		{"key not the one registered for the serial", signed(func(t *testing.T, c *ceremony) {
			k := newKey(t)
			c.signer = k
			c.chain = []*x509.Certificate{issueAdmin(t, e.pki, k, "admin-1000", RoleSysadmin, tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))}
		}), 403, ReasonKeyMismatch},
		{"role too low (office-mgr)", signed(func(t *testing.T, c *ceremony) {
			a := e.addAdmin(t, 2003, RoleOfficeMgr, tenant)
			c.signer, c.chain, c.stmt.YubiKeySerial = a.key, []*x509.Certificate{a.cert}, a.serial
		}), 403, ReasonRoleInsufficient},
		{"no role (no OU)", signed(func(t *testing.T, c *ceremony) {
			a := e.addAdmin(t, 2004, "", tenant)
			c.signer, c.chain, c.stmt.YubiKeySerial = a.key, []*x509.Certificate{a.cert}, a.serial
		}), 403, ReasonRoleInsufficient},
		{"wrong tenant in statement", signed(func(t *testing.T, c *ceremony) {
			c.stmt.Tenant = "globex"
			c.redigest(t)
		}), 403, ReasonTenantMismatch},
		{"another operation", signed(func(t *testing.T, c *ceremony) {
			c.stmt.Operation = "remote_wipe"
			c.stmt.HardwareFingerprint, c.stmt.DeviceKeySHA256, c.stmt.WireGuardPublicKey = "", "", ""
			c.stmt.Params = map[string]string{"device_id": "d-1"}
			c.redigest(t)
		}), 400, ReasonWrongOperation},
		{"timestamp 6 minutes ahead", signed(func(t *testing.T, c *ceremony) {
			c.stmt.Timestamp = protocol.FormatTimestamp(time.Now().Add(6 * time.Minute))
		}), 401, ReasonTimestamp},
		{"timestamp 6 minutes behind", signed(func(t *testing.T, c *ceremony) {
			c.stmt.Timestamp = protocol.FormatTimestamp(time.Now().Add(-6 * time.Minute))
		}), 401, ReasonTimestamp},
		{"nonce not issued by this server", signed(func(t *testing.T, c *ceremony) {
			c.stmt.Nonce = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
			c.redigest(t)
		}), 401, ReasonNonceUnknown},
		{"nonce expired", signed(func(t *testing.T, c *ceremony) {
			// Issued by this server's store, five minutes and a second ago.
			c.stmt.Nonce = base64.RawURLEncoding.EncodeToString([]byte("expired-nonce-0123456789abcdef"))
			c.redigest(t)
			if err := e.st.IssueNonce(context.Background(), storeNonce(c, time.Now().Add(-ChallengeLifetime-time.Second))); err != nil {
				t.Fatal(err)
			}
		}), 401, ReasonNonceExpired},
		{"nonce digest for other parameters", signed(func(t *testing.T, c *ceremony) {
			c.stmt.WireGuardPublicKey = wgKey()
			c.redigest(t)
		}), 401, ReasonNonceMismatch},
		{"replayed nonce after success", func(t *testing.T) (string, []byte) {
			return ctJSON, e.enrollOK(t, e.begin(t))
		}, 409, ReasonNonceUsed},
		{"CSR not parseable", signed(func(t *testing.T, c *ceremony) {
			c.csr = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("junk")}))
		}), 400, ReasonBadCSR},
		{"CSR self-signature broken", signed(func(t *testing.T, c *ceremony) {
			b, _ := pem.Decode([]byte(c.csr))
			b.Bytes[len(b.Bytes)-1] ^= 0x01
			c.csr = string(pem.EncodeToMemory(b))
		}), 400, ReasonCSRSignature},
		{"CSR key not the statement's", signed(func(t *testing.T, c *ceremony) {
			other := e.challenge(t, &ceremony{fingerprint: "other", deviceKey: newKey(t), wgKey: wgKey()})
			c.csr = other.csr
		}), 400, ReasonDeviceKeyMismatch},
		{"CSR with a name step-ca refuses", signed(func(t *testing.T, c *ceremony) {
			c.csr = deviceCSR(t, c.deviceKey, c.wgKey, func(r *x509.CertificateRequest) { r.Subject = pkix.Name{CommonName: "laptop"} })
		}), 400, ReasonCARefused},
		{"CSR without the WireGuard key", signed(func(t *testing.T, c *ceremony) {
			c.csr = deviceCSR(t, c.deviceKey, c.wgKey, func(r *x509.CertificateRequest) { r.URIs = nil })
		}), 400, ReasonCSRWireGuard},
		{"CSR naming another WireGuard key", signed(func(t *testing.T, c *ceremony) {
			c.csr = deviceCSR(t, c.deviceKey, wgKey(), nil)
		}), 400, ReasonCSRWireGuard},
		{"CSR with an extra DNS name", signed(func(t *testing.T, c *ceremony) {
			c.csr = deviceCSR(t, c.deviceKey, c.wgKey, func(r *x509.CertificateRequest) { r.DNSNames = []string{"laptop.example"} })
		}), 400, ReasonCSRWireGuard},
		{"hardware fingerprint already enrolled", func(t *testing.T) (string, []byte) {
			first := e.begin(t)
			e.enrollOK(t, first)
			c := e.challenge(t, &ceremony{fingerprint: first.fingerprint, deviceKey: newKey(t), wgKey: wgKey(),
				signer: e.admin.key, chain: []*x509.Certificate{e.admin.cert}})
			return ctJSON, c.body(t)
		}, 409, ReasonDeviceExists},
		{"re-enrollment allowance expired", func(t *testing.T) (string, []byte) {
			first := e.begin(t)
			e.enrollOK(t, first)
			e.allow(t, first, 50*time.Millisecond)
			time.Sleep(100 * time.Millisecond)
			return ctJSON, e.again(t, first).body(t)
		}, 409, ReasonDeviceExists},
		{"re-enrollment allowance already used", func(t *testing.T) (string, []byte) {
			first := e.begin(t)
			e.enrollOK(t, first)
			e.allow(t, first, time.Hour)
			e.enrollOK(t, e.again(t, first))
			return ctJSON, e.again(t, first).body(t)
		}, 409, ReasonDeviceExists},
		{"WireGuard key of an enrolled device", func(t *testing.T) (string, []byte) {
			first := e.begin(t)
			e.enrollOK(t, first)
			c := e.begin(t)
			c.wgKey = first.wgKey
			e.challenge(t, c)
			return ctJSON, c.body(t)
		}, 409, ReasonDeviceConflict},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctype, body := tc.build(t)
			devices, audits := e.devices(t), e.audits(t)
			status, resp := e.post(t, "/v1/enrollments", ctype, body)
			var er protocol.ErrorResponse
			if err := json.Unmarshal(resp, &er); err != nil {
				t.Fatalf("status %d, body %q: %v", status, resp, err)
			}
			if status != tc.status || er.Reason != tc.reason {
				t.Errorf("got %d %s (%s), want %d %s", status, er.Reason, er.Message, tc.status, tc.reason)
			}
			if er.Message == "" {
				t.Error("no message")
			}
			if got := e.devices(t); got != devices {
				t.Errorf("device rows %d, want %d", got, devices)
			}
			if got := e.audits(t); got != audits+1 {
				t.Errorf("%d new audit entries, want 1", got-audits)
			}
			last, err := e.st.AuditEntries(context.Background(), audits, 1)
			if err != nil || len(last) != 1 || last[0].Result != resultRejected || last[0].Reason != tc.reason {
				t.Errorf("audit entry %+v (%v), want rejected %s", last, err, tc.reason)
			}
		})
	}
}

// storeNonce is the store row of c's statement's nonce, expiring at exp.
func storeNonce(c *ceremony, exp time.Time) store.Nonce {
	return store.Nonce{Value: c.stmt.Nonce, Operation: c.stmt.Operation, Digest: c.stmt.Digest,
		CreatedAt: exp.Add(-ChallengeLifetime), ExpiresAt: exp}
}

// recordingCA remembers the serial of every certificate it issues.
type recordingCA struct {
	CA
	mu      sync.Mutex
	serials []string
}

func (r *recordingCA) Sign(ctx context.Context, csr *x509.CertificateRequest, id string, life time.Duration) (*x509.Certificate, []*x509.Certificate, error) {
	leaf, chain, err := r.CA.Sign(ctx, csr, id, life)
	if err == nil {
		r.mu.Lock()
		r.serials = append(r.serials, leaf.SerialNumber.String())
		r.mu.Unlock()
	}
	return leaf, chain, err
}

// TestConcurrentReplay sends the same valid request several times at once:
// exactly one enrolls, the others are nonce_used, each with one audit entry,
// and every certificate issued for a loser is revoked, never left renewable.
func TestConcurrentReplay(t *testing.T) {
	var rec *recordingCA
	e := newEnv(t, func(c *Config) { rec = &recordingCA{CA: c.CA}; c.CA = rec })
	body := e.begin(t).body(t)
	const n = 6
	type result struct {
		status int
		reason string
	}
	results := make(chan result, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/enrollments", bytes.NewReader(body))
			req.Header.Set("Content-Type", ctJSON)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				results <- result{status: -1, reason: err.Error()}
				return
			}
			defer resp.Body.Close()
			var er protocol.ErrorResponse
			_ = json.NewDecoder(resp.Body).Decode(&er)
			results <- result{resp.StatusCode, er.Reason}
		}()
	}
	created := 0
	for range n {
		r := <-results
		switch {
		case r.status == http.StatusCreated:
			created++
		case r.status != http.StatusConflict || r.reason != ReasonNonceUsed:
			t.Errorf("got %d %s, want 201 or 409 nonce_used", r.status, r.reason)
		}
	}
	if created != 1 || e.devices(t) != 1 || e.audits(t) != n {
		t.Errorf("%d created, %d devices, %d audit entries; want 1, 1, %d", created, e.devices(t), e.audits(t), n)
	}
	// Losers that got as far as the CA have their certificates revoked.
	t.Logf("%d certificates issued for %d requests", len(rec.serials), n)
	unrevoked := 0
	for _, serial := range rec.serials {
		revoked, err := e.ca.IsRevoked(serial)
		if err != nil {
			t.Fatal(err)
		}
		if !revoked {
			unrevoked++
		}
	}
	if unrevoked != 1 {
		t.Errorf("%d of %d issued certificates are unrevoked, want exactly 1 (the recorded enrollment's)", unrevoked, len(rec.serials))
	}
}
