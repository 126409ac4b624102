// Package chromepolicy decides the Chromium and Google Chrome managed
// policy for a tenant's catalog (seed "Desktop apps", C3) and renders it as
// the JSON file Linux reads from a policies/managed directory; Values is the
// one list the macOS plists and the Windows registry values are made from,
// so that every OS gets the same policy. Machine-wide
// policy reaches the user's personal profile too, so every entry is scoped
// to the tenant's hosts and nothing else is set; docs/launchers.md says why
// each key is there. It writes no file.
package chromepolicy

import (
	"bytes"
	"encoding/json"

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
	// so this changes nothing for any other server. Linux only for now:
	// Values (the plists and the registry) carries strings only.
	DisableAuthNegotiateCnameLookup bool `json:"DisableAuthNegotiateCnameLookup,omitempty"`
	// AutoSelectCertificateForUrls makes Chromium present the app
	// certificate (agent/appcert, docs/app-certificate.md) to the tenant's
	// hosts without a picker: one rule, the tenant's hosts (any port)
	// and certificates issued by the tenant intermediate (its CN). No other
	// site is offered the certificate without the user choosing it. Linux
	// only for now: Values carries strings only.
	AutoSelectCertificateForUrls []string `json:"AutoSelectCertificateForUrls,omitempty"`
}

// Names are the policies the agent manages, in a fixed order: the ones a
// catalog does not set are removed where a writer can remove single
// values (the Windows registry).
var Names = []string{"AuthServerAllowlist", "AuthNegotiateDelegateAllowlist"}

// Value is one policy that is set: its name and its value (every policy
// the agent sets is a string).
type Value struct {
	Name  string
	Value string
}

// Values returns the string policies that are set, in the order of Names.
// DisableAuthNegotiateCnameLookup, a boolean, is in the JSON only.
func (p Policy) Values() []Value {
	var vs []Value
	for _, v := range []Value{
		{"AuthServerAllowlist", p.AuthServerAllowlist},
		{"AuthNegotiateDelegateAllowlist", p.AuthNegotiateDelegateAllowlist},
	} {
		if v.Value != "" {
			vs = append(vs, v)
		}
	}
	return vs
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
