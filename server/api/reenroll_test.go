package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// allow allows the re-enrollment of the device enrolled as c for d.
func (e *env) allow(tb testing.TB, c *ceremony, d time.Duration) store.Device {
	tb.Helper()
	dev, err := e.st.DeviceByFingerprint(context.Background(), c.fingerprint)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.st.AllowReenrollment(context.Background(), dev.ID, 0, time.Now().Add(d)); err != nil {
		tb.Fatal(err)
	}
	return dev
}

// again prepares the re-enrollment of the laptop of c: same hardware, a new
// device key and WireGuard key.
func (e *env) again(tb testing.TB, c *ceremony) *ceremony {
	tb.Helper()
	return e.challenge(tb, &ceremony{fingerprint: c.fingerprint, deviceKey: newKey(tb), wgKey: wgKey(),
		signer: e.admin.key, chain: []*x509.Certificate{e.admin.cert}})
}

// enrolled posts c and decodes the certificate of a successful enrollment.
func (e *env) enrolled(tb testing.TB, c *ceremony) (protocol.EnrollResponse, *x509.Certificate) {
	tb.Helper()
	status, resp := e.post(tb, "/v1/enrollments", ctJSON, c.body(tb))
	if status != http.StatusCreated {
		tb.Fatalf("enrollment: %d %s", status, resp)
	}
	var er protocol.EnrollResponse
	if err := protocol.DecodeJSON(bytes.NewReader(resp), protocol.MaxResponseBytes, &er); err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(er.Certificate))
	if blk == nil {
		tb.Fatal("no certificate in the response")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return er, leaf
}

// keyHash is the device key hash of c, as the statement carries it.
func (c *ceremony) keyHash(tb testing.TB) string {
	tb.Helper()
	spki, err := x509.MarshalPKIXPublicKey(&c.deviceKey.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return protocol.DeviceKeyHash(spki)
}

func TestReenroll(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	first := e.begin(t)
	er1, leaf1 := e.enrolled(t, first)
	if want := protocol.DeviceID(first.keyHash(t)); er1.DeviceID != want {
		t.Fatalf("device id %s, want %s (derived from the device key)", er1.DeviceID, want)
	}
	old := e.allow(t, first, time.Hour)
	if old.ID != er1.DeviceID {
		t.Fatalf("allowed %s, enrolled %s", old.ID, er1.DeviceID)
	}

	second := e.again(t, first)
	before := e.audits(t)
	er2, leaf2 := e.enrolled(t, second)
	if want := protocol.DeviceID(second.keyHash(t)); er2.DeviceID != want || er2.DeviceID == er1.DeviceID || er2.Config.DeviceID != want {
		t.Fatalf("re-enrolled as %s (config %s), want %s", er2.DeviceID, er2.Config.DeviceID, want)
	}
	gotOld, err := e.st.DeviceByID(ctx, er1.DeviceID)
	if err != nil || gotOld.Status != store.StatusReplaced || gotOld.ReplacedBy != er2.DeviceID {
		t.Fatalf("old device = %+v, %v; want replaced by %s", gotOld, err, er2.DeviceID)
	}
	cur, err := e.st.DeviceByFingerprint(ctx, first.fingerprint)
	if err != nil || cur.ID != er2.DeviceID || cur.Replaces != er1.DeviceID || cur.Status != store.StatusActive ||
		cur.WireGuardPublicKey != second.wgKey || len(cur.Certificates) != 1 || cur.Certificates[0].Serial != hex.EncodeToString(leaf2.SerialNumber.Bytes()) {
		t.Fatalf("current device = %+v, %v", cur, err)
	}
	for _, tc := range []struct {
		leaf    *x509.Certificate
		revoked bool
	}{{leaf1, true}, {leaf2, false}} {
		got, err := e.ca.IsRevoked(tc.leaf.SerialNumber.String())
		if err != nil || got != tc.revoked {
			t.Errorf("certificate %s revoked = %v, %v; want %v", tc.leaf.SerialNumber, got, err, tc.revoked)
		}
	}
	if _, err := e.st.Reenrollment(ctx, first.fingerprint); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("allowance not consumed: %v", err)
	}
	entries, err := e.st.AuditEntries(ctx, before, 10)
	if err != nil || len(entries) != 1 || entries[0].Operation != protocol.OpEnrollDevice || entries[0].Result != resultAccepted ||
		entries[0].Reason != auditReasonReenrolled || entries[0].Actor != e.admin.serial || entries[0].ParamsDigest != second.stmt.Digest {
		t.Errorf("audit after re-enrollment = %+v, %v; want one accepted entry with reason reenrolled", entries, err)
	}
	// A replaced record cannot be allowed again; the current one can.
	if err := e.st.AllowReenrollment(ctx, er1.DeviceID, 0, time.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("allowance for the replaced device: err = %v, want ErrNotFound", err)
	}
	e.allow(t, first, time.Hour)
	er3, _ := e.enrolled(t, e.again(t, first))
	if d, err := e.st.DeviceByID(ctx, er2.DeviceID); err != nil || d.ReplacedBy != er3.DeviceID {
		t.Errorf("second re-enrollment: %+v, %v", d, err)
	}
	if n := e.devices(t); n != 3 {
		t.Errorf("%d device rows, want 3", n)
	}
}

// revokeFailingCA signs, but fails every revocation.
type revokeFailingCA struct{ CA }

func (revokeFailingCA) Revoke(context.Context, string, string) error {
	return errors.New("ca unreachable")
}

// A re-enrollment stands when the old certificates cannot be revoked.
func TestReenrollRevokeFails(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CA = revokeFailingCA{CA: c.CA} })
	first := e.begin(t)
	_, leaf1 := e.enrolled(t, first)
	e.allow(t, first, time.Hour)
	er, _ := e.enrolled(t, e.again(t, first))
	if d, err := e.st.DeviceByFingerprint(context.Background(), first.fingerprint); err != nil || d.ID != er.DeviceID {
		t.Fatalf("device = %+v, %v", d, err)
	}
	if revoked, err := e.ca.IsRevoked(leaf1.SerialNumber.String()); err != nil || revoked {
		t.Fatalf("revoked = %v, %v through a failing CA", revoked, err)
	}
	// The hex the store keeps is the decimal step-ca uses.
	n, _ := new(big.Int).SetString(hex.EncodeToString(leaf1.SerialNumber.Bytes()), 16)
	if n.Cmp(leaf1.SerialNumber) != 0 {
		t.Fatal("hex serial does not round-trip")
	}
}
