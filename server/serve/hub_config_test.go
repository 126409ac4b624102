package serve

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseConfigHub(t *testing.T) {
	c, err := ParseConfig([]byte(minimal + `hub:
  interface: wg-kiwi
  prefix: 100.96.0.0/16
  endpoint: hub.acme.example:51820
  listen_port: 51820
  key_file: hub.key
`))
	if err != nil {
		t.Fatal(err)
	}
	want := HubConfig{Interface: "wg-kiwi", Prefix: netip.MustParsePrefix("100.96.0.0/16"), Endpoint: "hub.acme.example:51820",
		ListenPort: 51820, KeyFile: "hub.key"}
	if c.Hub == nil || *c.Hub != want {
		t.Fatalf("hub = %+v, want %+v", c.Hub, want)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"missing key_file": {"hub:\n  interface: wg0\n  prefix: 100.96.0.0/16\n  endpoint: h:1\n", "hub.key_file"},
		"bad prefix":       {"hub:\n  interface: wg0\n  prefix: 100.96.0.0/31\n  endpoint: h:1\n  key_file: k\n", "hub.prefix"},
		"bad endpoint":     {"hub:\n  interface: wg0\n  prefix: 100.96.0.0/16\n  endpoint: h\n  key_file: k\n", "hub.endpoint"},
		"bad port":         {"hub:\n  interface: wg0\n  prefix: 100.96.0.0/16\n  endpoint: h:1\n  key_file: k\n  listen_port: 70000\n", "hub.listen_port"},
		"long interface":   {"hub:\n  interface: a-very-long-interface\n  prefix: 100.96.0.0/16\n  endpoint: h:1\n  key_file: k\n", "hub.interface"},
	} {
		_, err := ParseConfig([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one about %s", name, err, tc.want)
		}
	}
}
