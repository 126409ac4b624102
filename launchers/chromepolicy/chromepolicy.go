// Package chromepolicy decides the Chromium and Google Chrome managed
// policy for a tenant's catalog (seed "Desktop apps", C3) and renders it as
// the JSON file Linux reads from a policies/managed directory; Values is the
// one list, typed (string, boolean, list of strings), the macOS plists and
// the Windows registry values are made from, so that every OS gets the same
// policy. Machine-wide
// policy reaches the user's personal profile too, so every entry is scoped
// to the tenant's hosts and nothing else is set; docs/launchers.md says why
// each key is there. It writes no file.
package chromepolicy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/launchers/catalog"
)

// FileName is the policy file's name in each managed-policy directory.
const FileName = "kiwistack.json"

// Policy is the set of policies the agent manages. Empty fields are not
// set at all.
type Policy struct {
	// AuthServerAllowlist lets Chromium answer a Negotiate (Kerberos
	// SPNEGO) challenge from these servers, so that the TGT from the Linux
	// login signs the user in to Keycloak without a prompt (seed C3, step
	// 03). Chromium answers no other server.
	AuthServerAllowlist string `json:"AuthServerAllowlist,omitempty"`
	// AuthNegotiateDelegateAllowlist lets Chromium also delegate the user's
	// ticket to these servers. Set only when the catalog asks for it
	// (catalog.Catalog.KerberosDelegation).
	AuthNegotiateDelegateAllowlist string `json:"AuthNegotiateDelegateAllowlist,omitempty"`
	// DisableAuthNegotiateCnameLookup makes Chromium build the Kerberos
	// service name from the host in the URL (HTTP/mail.od.<slug>.<suffix>)
	// instead of the canonical name DNS returns for it: the tenant's hosts
	// may be CNAMEs of a shared ingress, whose name is in no tenant's
	// realm, and DNS must not choose which service the user's ticket is
	// for. Negotiate is only ever tried with AuthServerAllowlist's hosts,
	// so this changes nothing for any other server. A boolean: true on
	// macOS, REG_DWORD 1 on Windows.
	DisableAuthNegotiateCnameLookup bool `json:"DisableAuthNegotiateCnameLookup,omitempty"`
	// AutoSelectCertificateForUrls makes Chromium present the app
	// certificate (agent/appcert, docs/app-certificate.md) to the tenant's
	// hosts without a picker: one rule, the tenant's hosts (any port)
	// and certificates issued by the tenant intermediate (its CN). No other
	// site is offered the certificate without the user choosing it. A
	// list: an <array> of <string> on macOS, the subkey
	// AutoSelectCertificateForUrls with values "1", "2", … on Windows.
	AutoSelectCertificateForUrls []string `json:"AutoSelectCertificateForUrls,omitempty"`
}

// Kind is the type of a policy's value, which decides how each platform
// stores it (docs/launchers.md, "Policy value types"): the Linux JSON has
// a string, a boolean or an array of strings; a macOS plist a <string>,
// <true/>/<false/> or an <array> of <string>; the Windows registry a
// REG_SZ value, a REG_DWORD value (1 or 0), or a subkey named after the
// policy holding the items as REG_SZ values "1", "2", ….
type Kind int

// The kinds of the policies the agent manages.
const (
	// String is a string policy.
	String Kind = iota + 1
	// Bool is a boolean policy.
	Bool
	// List is a list of strings.
	List
)

// String returns the kind's name as Chromium's policy templates spell the
// type: "string", "main" (a boolean) or "list".
func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Bool:
		return "main"
	case List:
		return "list"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Spec is one policy the agent manages: its name and its kind.
type Spec struct {
	Name string
	Kind Kind
}

// Managed are the policies the agent manages, in a fixed order (the JSON's
// and Values' order): the ones a catalog does not set are removed where a
// writer can remove single policies (the Windows registry), which is why
// the writers need the kind of a policy that is not set.
var Managed = []Spec{
	{"AuthServerAllowlist", String},
	{"AuthNegotiateDelegateAllowlist", String},
	{"DisableAuthNegotiateCnameLookup", Bool},
	{"AutoSelectCertificateForUrls", List},
}

// Value is one policy that is set: its name, its kind, and the value in
// the field of its kind (String, Bool or List).
type Value struct {
	Name   string
	Kind   Kind
	String string
	Bool   bool
	List   []string
}

// Any returns the value as the Go type a property-list or JSON encoder
// renders as the kind's native type: a string, a bool or a []string (a
// copy).
func (v Value) Any() any {
	switch v.Kind {
	case Bool:
		return v.Bool
	case List:
		return slices.Clone(v.List)
	}
	return v.String
}

// Values returns the policies that are set, in the order of Managed, each
// with its kind: an empty string, a false boolean and an empty list are not
// set (as in the JSON, whose fields are omitted when empty).
func (p Policy) Values() []Value {
	var vs []Value
	for _, v := range []Value{
		{Name: "AuthServerAllowlist", Kind: String, String: p.AuthServerAllowlist},
		{Name: "AuthNegotiateDelegateAllowlist", Kind: String, String: p.AuthNegotiateDelegateAllowlist},
		{Name: "DisableAuthNegotiateCnameLookup", Kind: Bool, Bool: p.DisableAuthNegotiateCnameLookup},
		{Name: "AutoSelectCertificateForUrls", Kind: List, List: slices.Clone(p.AutoSelectCertificateForUrls)},
	} {
		if v.String != "" || v.Bool || len(v.List) > 0 {
			vs = append(vs, v)
		}
	}
	return vs
}

// Map returns the policies that are set as a map from name to Value.Any,
// the form a property list of managed preferences is encoded from.
func (p Policy) Map() map[string]any {
	m := map[string]any{}
	for _, v := range p.Values() {
		m[v.Name] = v.Any()
	}
	return m
}

// HostPattern returns the Chromium server-list pattern covering exactly the
// tenant's hosts: "*.od.<slug>.<suffix>" with subdomain routing (every app
// and Keycloak live on subdomains; the leading "*." matches subdomains
// only), or the single host "od.<slug>.<suffix>" with path routing.
func HostPattern(c *catalog.Catalog) string {
	if c.Routing == catalog.Path {
		return c.Domain
	}
	return "*." + c.Domain
}

// CertificatePattern returns the content-settings pattern of the tenant's
// hosts for AutoSelectCertificateForUrls: "https://[*.]od.<slug>.<suffix>"
// with subdomain routing (the domain and every host under it), or
// "https://od.<slug>.<suffix>" with path routing. A pattern without a port
// matches every port.
func CertificatePattern(c *catalog.Catalog) string {
	if c.Routing == catalog.Path {
		return "https://" + c.Domain
	}
	return "https://[*.]" + c.Domain
}

// autoSelectRule is one AutoSelectCertificateForUrls entry.
type autoSelectRule struct {
	Pattern string `json:"pattern"`
	Filter  struct {
		Issuer struct {
			CN string `json:"CN"`
		} `json:"ISSUER"`
	} `json:"filter"`
}

// AutoSelectRule returns the AutoSelectCertificateForUrls entry of the
// tenant: CertificatePattern, filtered on the issuer CN of app
// certificates (protocol.IntermediateCommonName of the tenant).
func AutoSelectRule(c *catalog.Catalog) string {
	var r autoSelectRule
	r.Pattern = CertificatePattern(c)
	r.Filter.Issuer.CN = protocol.IntermediateCommonName(c.Tenant)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r) // strings always encode
	return string(bytes.TrimSpace(b.Bytes()))
}

// For returns the policy for a validated catalog.
func For(c *catalog.Catalog) Policy {
	p := Policy{AuthServerAllowlist: HostPattern(c), DisableAuthNegotiateCnameLookup: true,
		AutoSelectCertificateForUrls: []string{AutoSelectRule(c)}}
	if c.KerberosDelegation {
		p.AuthNegotiateDelegateAllowlist = HostPattern(c)
	}
	return p
}

// JSON renders the policy as Chromium's Linux policy file: one JSON object,
// keys in a fixed order, two-space indent, a final newline.
func (p Policy) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p) // a struct of strings and booleans always encodes
	return b.Bytes()
}
