package hub

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/kiwistack/endpoint/server/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddRosterEntry(context.Background(), store.RosterEntry{Serial: 1, Admin: "a", Role: "sysadmin",
		SPKISHA256: fmt.Sprintf("%064x", 1), Attestation: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	return st
}

func addDevice(t *testing.T, st *store.SQLite, n int, notAfter time.Time) (store.Device, wgtypes.Key) {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateDevice(context.Background(), store.Device{Tenant: "acme", HardwareFingerprint: fmt.Sprintf("hw%d", n),
		WireGuardPublicKey: k.PublicKey().String(), EnrolledBy: 1,
		Certificates: []store.DeviceCertificate{{Serial: fmt.Sprintf("%x", n), NotAfter: notAfter}}})
	if err != nil {
		t.Fatal(err)
	}
	return d, k.PublicKey()
}

func peers(t *testing.T, c *FakeClient) map[wgtypes.Key]string {
	t.Helper()
	d, err := c.Device("hub0")
	if err != nil {
		t.Fatal(err)
	}
	out := map[wgtypes.Key]string{}
	for _, p := range d.Peers {
		s := ""
		for _, a := range p.AllowedIPs {
			s += a.String()
		}
		out[p.PublicKey] = s
	}
	return out
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	st := newStore(t)
	fc := NewFakeClient("hub0")
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), KeyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Interface: "hub0", Prefix: netip.MustParsePrefix("100.96.0.0/16"), Endpoint: "hub.example:51820",
		ListenPort: 51820, PrivateKey: key, Client: fc, Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	a, ka := addDevice(t, st, 1, t0.Add(time.Hour))
	_, kb := addDevice(t, st, 2, t0.Add(2*time.Hour))
	_, kc := addDevice(t, st, 3, t0.Add(-time.Minute)) // expired

	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := peers(t, fc)
	want := map[wgtypes.Key]string{ka: "100.96.0.2/32", kb: "100.96.0.3/32"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("peers = %v, want %v", got, want)
	}
	if _, ok := got[kc]; ok {
		t.Error("a device with an expired certificate is a peer")
	}
	if d, _ := fc.Device("hub0"); d.PrivateKey != key || d.ListenPort != 51820 {
		t.Errorf("interface key or port not set: %+v", d)
	}
	if h.nextExpiry != t0.Add(time.Hour) {
		t.Errorf("next expiry = %s, want the first NotAfter", h.nextExpiry)
	}
	// Nothing changed: nothing is configured (sessions survive).
	n := fc.Configures
	if err := h.Sync(ctx); err != nil || fc.Configures != n {
		t.Fatalf("idempotent sync configured the interface again (%d -> %d), err %v", n, fc.Configures, err)
	}
	cfg, err := h.Config(ctx, a.ID)
	if err != nil || cfg.Address != "100.96.0.2/32" || cfg.HubAddress != "100.96.0.1" || cfg.PublicKey != key.PublicKey().String() ||
		len(cfg.AllowedIPs) != 1 || cfg.AllowedIPs[0] != "100.96.0.0/16" || cfg.Endpoint != "hub.example:51820" {
		t.Fatalf("config = %+v, %v", cfg, err)
	}

	// Revocation: the peer goes at the next sync.
	if _, _, err := st.RevokeDevice(ctx, a.ID, "stolen", t0, store.AuditRecord{Operation: "revoke_device", Result: "accepted"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := peers(t, fc); len(got) != 1 || got[kb] == "" {
		t.Fatalf("after revocation: peers = %v", got)
	}
	// Expiry: past kb's NotAfter it goes too.
	clk.Set(t0.Add(2*time.Hour + time.Second))
	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := peers(t, fc); len(got) != 0 {
		t.Fatalf("after expiry: peers = %v", got)
	}
}

// TestRunExpiryTimer: Run removes a peer at its certificate's NotAfter,
// without a poke and long before its resync.
func TestRunExpiryTimer(t *testing.T) {
	st := newStore(t)
	fc := NewFakeClient("hub0")
	h, err := New(Options{Interface: "hub0", Prefix: netip.MustParsePrefix("100.96.0.0/16"), Endpoint: "hub.example:51820",
		Client: fc, Store: st, Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	addDevice(t, st, 1, time.Now().Add(300*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for len(peers(t, fc)) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("peer never added")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for len(peers(t, fc)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("peer not removed at its certificate's expiry")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", KeyFile)
	k1, err := LoadOrCreateKey(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	k2, err := LoadOrCreateKey(path, nil)
	if err != nil || k1 != k2 {
		t.Fatalf("second load: %v, %v", k2, err)
	}
}

func TestNewChecks(t *testing.T) {
	st := newStore(t)
	for name, o := range map[string]Options{
		"no interface": {Prefix: netip.MustParsePrefix("100.96.0.0/16"), Endpoint: "h:1", Client: NewFakeClient(), Store: st},
		"tiny prefix":  {Interface: "x", Prefix: netip.MustParsePrefix("100.96.0.0/31"), Endpoint: "h:1", Client: NewFakeClient(), Store: st},
		"bad endpoint": {Interface: "x", Prefix: netip.MustParsePrefix("100.96.0.0/16"), Endpoint: "h", Client: NewFakeClient(), Store: st},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
