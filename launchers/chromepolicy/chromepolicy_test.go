package chromepolicy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestPolicyGolden(t *testing.T) {
	for _, tc := range []struct {
		name       string
		routing    catalog.Routing
		delegation bool
		pattern    string
		// certPattern is AutoSelectCertificateForUrls' pattern.
		certPattern string
	}{
		{"subdomain", catalog.Subdomain, false, "*.od.acme.kiwistack.io", "https://[*.]od.acme.kiwistack.io"},
		{"path", catalog.Path, false, "od.acme.kiwistack.io", "https://od.acme.kiwistack.io"},
		{"subdomain-delegation", catalog.Subdomain, true, "*.od.acme.kiwistack.io", "https://[*.]od.acme.kiwistack.io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Defaults("acme", tc.routing)
			if err != nil {
				t.Fatal(err)
			}
			c.KerberosDelegation = tc.delegation
			got := For(c).JSON()
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			// The app certificate goes to the tenant's hosts only, and
			// only a certificate of the tenant's CA (a list: JSON only).
			wantRule := map[string]any{"pattern": tc.certPattern, "filter": map[string]any{"ISSUER": map[string]any{"CN": "acme Intermediate CA"}}}
			rules, _ := m["AutoSelectCertificateForUrls"].([]any)
			if len(rules) != 1 {
				t.Fatalf("AutoSelectCertificateForUrls = %v, want one rule", m["AutoSelectCertificateForUrls"])
			}
			var rule map[string]any
			if s, _ := rules[0].(string); json.Unmarshal([]byte(s), &rule) != nil || !reflect.DeepEqual(rule, wantRule) {
				t.Errorf("AutoSelectCertificateForUrls rule %v, want %v", rules[0], wantRule)
			}
			delete(m, "AutoSelectCertificateForUrls")
			// Nothing but the Kerberos keys, each scoped to the tenant, and
			// the service name taken from the URL's host, never from DNS.
			want := map[string]any{"AuthServerAllowlist": tc.pattern, "DisableAuthNegotiateCnameLookup": true}
			if tc.delegation {
				want["AuthNegotiateDelegateAllowlist"] = tc.pattern
			}
			if len(m) != len(want) {
				t.Errorf("keys %v, want %v", m, want)
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			// Values, which the plists and the registry use, says the same
			// as the JSON, with names from Names only.
			vs := For(c).Values()
			if len(vs) != len(m)-1 { // the boolean is in the JSON only
				t.Errorf("Values %v, JSON %v", vs, m)
			}
			for _, v := range vs {
				if m[v.Name] != v.Value || !slices.Contains(Names, v.Name) {
					t.Errorf("Values has %s=%s, JSON %v", v.Name, v.Value, m[v.Name])
				}
			}
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if !bytes.Equal(got, golden) {
				t.Errorf("policy differs from %s:\n%s", path, got)
			}
		})
	}
}
