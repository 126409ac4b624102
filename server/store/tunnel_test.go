package store

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestTunnelAddresses(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	prefix := netip.MustParsePrefix("100.96.0.0/30") // network, hub, one device, broadcast
	if _, err := s.TunnelAddress(ctx, "nobody", prefix); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown device: err = %v, want ErrNotFound", err)
	}
	a, err := s.CreateDevice(ctx, device("hw1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateDevice(ctx, device("hw2"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.TunnelAddress(ctx, a.ID, prefix)
	if err != nil || got != netip.MustParseAddr("100.96.0.2") {
		t.Fatalf("first device: %v, %v; want 100.96.0.2", got, err)
	}
	if again, err := s.TunnelAddress(ctx, a.ID, netip.MustParsePrefix("100.96.0.0/16")); err != nil || again != got {
		t.Fatalf("second call: %v, %v; want the same address", again, err)
	}
	if _, err := s.TunnelAddress(ctx, b.ID, prefix); !errors.Is(err, ErrPrefixFull) {
		t.Fatalf("full prefix: err = %v, want ErrPrefixFull", err)
	}
	if got, err := s.TunnelAddress(ctx, b.ID, netip.MustParsePrefix("100.96.0.0/16")); err != nil || got != netip.MustParseAddr("100.96.0.3") {
		t.Fatalf("second device: %v, %v; want 100.96.0.3", got, err)
	}
	// Revoked devices keep their address: it is never given to another.
	if _, _, err := s.RevokeDevice(ctx, a.ID, "stolen", t0, AuditRecord{Operation: "revoke_device", Result: "accepted"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.TunnelAddresses(ctx)
	if err != nil || len(all) != 2 || all[a.ID] != netip.MustParseAddr("100.96.0.2") {
		t.Fatalf("addresses = %v, %v", all, err)
	}
}

func TestRevokeDevice(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDevice(ctx, device("hw1"))
	if err != nil {
		t.Fatal(err)
	}
	rec := AuditRecord{Operation: "revoke_device", Result: "accepted"}
	before, entry, err := s.RevokeDevice(ctx, d.ID, "stolen", t0, rec)
	if err != nil || before.Status != StatusActive || entry.Operation != "revoke_device" {
		t.Fatalf("revoke: %+v, %+v, %v", before, entry, err)
	}
	if got, _ := s.DeviceByID(ctx, d.ID); got.Status != StatusRevoked {
		t.Errorf("status = %s, want revoked", got.Status)
	}
	// Again (a retry after a CA failure) succeeds and audits again.
	if _, entry2, err := s.RevokeDevice(ctx, d.ID, "stolen", t0, rec); err != nil || entry2.Seq != entry.Seq+1 {
		t.Fatalf("second revoke: %+v, %v", entry2, err)
	}
	if _, _, err := s.RevokeDevice(ctx, "nobody", "x", t0, rec); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown device: err = %v, want ErrNotFound", err)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Error(err)
	}
}

func TestAddDeviceCertificate(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDevice(ctx, device("hw1"))
	if err != nil {
		t.Fatal(err)
	}
	c := DeviceCertificate{Serial: "cafe", NotAfter: t0.Add(48 * time.Hour), IssuedAt: t0.Add(time.Hour)}
	for range 2 {
		if err := s.AddDeviceCertificate(ctx, d.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.DeviceByID(ctx, d.ID)
	if len(got.Certificates) != 2 || got.Certificates[1].Serial != "cafe" || !got.Certificates[1].NotAfter.Equal(c.NotAfter) {
		t.Errorf("certificates = %+v", got.Certificates)
	}
	if err := s.AddDeviceCertificate(ctx, "nobody", DeviceCertificate{Serial: "beef", NotAfter: t0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown device: err = %v, want ErrNotFound", err)
	}
}
