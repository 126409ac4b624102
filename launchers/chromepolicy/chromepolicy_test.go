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
			// only a certificate of the tenant's CA.
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
			// as the JSON, value for value and type for type, in the order
			// and with the kinds of Managed.
			vs := For(c).Values()
			var full map[string]any
			_ = json.Unmarshal(got, &full)
			if len(vs) != len(full) {
				t.Errorf("Values %v, JSON %v", vs, full)
			}
			last := -1
			for _, v := range vs {
				i := slices.IndexFunc(Managed, func(s Spec) bool { return s.Name == v.Name })
				if i <= last || Managed[i].Kind != v.Kind {
					t.Errorf("Values has %s (%v) out of Managed's order or kind", v.Name, v.Kind)
				}
				last = i
				b, _ := json.Marshal(v.Any())
				var asJSON any
				_ = json.Unmarshal(b, &asJSON)
				if !reflect.DeepEqual(asJSON, full[v.Name]) {
					t.Errorf("Values has %s=%v, JSON %v", v.Name, v.Any(), full[v.Name])
				}
			}
			if m := For(c).Map(); len(m) != len(full) || m["DisableAuthNegotiateCnameLookup"] != true ||
				!reflect.DeepEqual(m["AutoSelectCertificateForUrls"], []string{AutoSelectRule(c)}) {
				t.Errorf("Map %v", m)
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

// An unset policy is not in Values: an empty string, a false boolean, an
// empty list; Any gives each kind's Go type, and the list is a copy.
func TestValuesTyped(t *testing.T) {
	if vs := (Policy{}).Values(); len(vs) != 0 {
		t.Errorf("the empty policy has values %v", vs)
	}
	p := Policy{DisableAuthNegotiateCnameLookup: true, AutoSelectCertificateForUrls: []string{"a", "b"}}
	vs := p.Values()
	want := []Value{
		{Name: "DisableAuthNegotiateCnameLookup", Kind: Bool, Bool: true},
		{Name: "AutoSelectCertificateForUrls", Kind: List, List: []string{"a", "b"}},
	}
	if !reflect.DeepEqual(vs, want) {
		t.Fatalf("Values %+v, want %+v", vs, want)
	}
	if vs[0].Any() != true || !reflect.DeepEqual(vs[1].Any(), []string{"a", "b"}) {
		t.Errorf("Any: %#v %#v", vs[0].Any(), vs[1].Any())
	}
	vs[1].List[0] = "changed"
	if p.AutoSelectCertificateForUrls[0] != "a" {
		t.Errorf("Values shares the policy's list")
	}
	if (Value{Name: "x", Kind: String, String: "s"}).Any() != "s" {
		t.Errorf("a string's Any")
	}
	for k, name := range map[Kind]string{String: "string", Bool: "main", List: "list", 0: "Kind(0)"} {
		if k.String() != name {
			t.Errorf("%d: %s", int(k), k)
		}
	}
}
