package tunnel

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func testSpec() Spec {
	return Spec{
		Interface:  "kiwistack0",
		PrivateKey: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
		Address:    netip.MustParsePrefix("100.96.0.7/32"),
		Peer: Peer{PublicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", Endpoint: "hub.acme.example:51820",
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("100.96.0.0/16")}, Keepalive: 25 * time.Second},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestWGQuick(t *testing.T) {
	got := WGQuick(testSpec())
	golden(t, "kiwistack0.conf", got)
	for _, want := range []string{"[Interface]\n", "Address = 100.96.0.7/32\n", "AllowedIPs = 100.96.0.0/16\n", "PersistentKeepalive = 25\n"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("missing %q", want)
		}
	}
}

// TestMobileconfig renders the profile, compares it with the golden file
// and has libplist read it back (xml -> binary -> xml).
func TestMobileconfig(t *testing.T) {
	got, err := Mobileconfig(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kiwistack0.mobileconfig", got)
	plistutil, err := exec.LookPath("plistutil")
	if err != nil {
		t.Skip("plistutil is not installed (Debian package libplist-utils)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.mobileconfig")
	if err := os.WriteFile(src, got, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, step := range [][]string{{src, "p.bin", "bin"}, {"p.bin", "p.xml", "xml"}} {
		in := step[0]
		if !filepath.IsAbs(in) {
			in = filepath.Join(dir, in)
		}
		if out, err := exec.Command(plistutil, "-i", in, "-o", filepath.Join(dir, step[1]), "-f", step[2]).CombinedOutput(); err != nil {
			t.Fatalf("plistutil %v: %v\n%s", step, err, out)
		}
	}
	back, _ := os.ReadFile(filepath.Join(dir, "p.xml"))
	for _, want := range []string{"com.apple.vpn.managed", "com.wireguard.macos", "WgQuickConfig", "PrivateKey = ", "hub.acme.example:51820"} {
		if !strings.Contains(string(back), want) {
			t.Errorf("plistutil's round trip lost %q", want)
		}
	}
}

func TestNMSettings(t *testing.T) {
	s, err := NMSettings(testSpec(), nmUUID("kiwistack0"))
	if err != nil {
		t.Fatal(err)
	}
	if s["connection"]["type"].Value() != "wireguard" || s["connection"]["interface-name"].Value() != "kiwistack0" ||
		s["connection"]["autoconnect"].Value() != false {
		t.Errorf("connection = %v", s["connection"])
	}
	if s["wireguard"]["private-key"].Value() != testSpec().PrivateKey {
		t.Error("private key not set")
	}
	peers := s["wireguard"]["peers"].Value().([]map[string]dbus.Variant)
	if len(peers) != 1 || peers[0]["public-key"].Value() != testSpec().Peer.PublicKey ||
		peers[0]["endpoint"].Value() != "hub.acme.example:51820" ||
		peers[0]["persistent-keepalive"].Value() != uint32(25) {
		t.Errorf("peers = %v", peers)
	}
	if got := peers[0]["allowed-ips"].Value().([]string); len(got) != 1 || got[0] != "100.96.0.0/16" {
		t.Errorf("allowed-ips = %v", got)
	}
	if s["ipv4"]["method"].Value() != "manual" || s["ipv6"]["method"].Value() != "disabled" || s["ipv4"]["never-default"].Value() != true {
		t.Errorf("ip settings = %v %v", s["ipv4"], s["ipv6"])
	}
	addr := s["ipv4"]["address-data"].Value().([]map[string]dbus.Variant)
	if addr[0]["address"].Value() != "100.96.0.7" || addr[0]["prefix"].Value() != uint32(32) {
		t.Errorf("address-data = %v", addr)
	}
	// The settings map must marshal as NetworkManager's a{sa{sv}}.
	if sig := dbus.SignatureOf(s).String(); sig != "a{sa{sv}}" {
		t.Errorf("signature %s, want a{sa{sv}}", sig)
	}
	if u := nmUUID("kiwistack0"); len(u) != 36 || u != nmUUID("kiwistack0") {
		t.Errorf("uuid %q", u)
	}
	bad := testSpec()
	bad.PrivateKey = "not base64!"
	if _, err := NMSettings(bad, "u"); err == nil {
		t.Error("a bad private key was accepted")
	}
}
