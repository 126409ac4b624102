package trust

import (
	"testing"
	"time"
)

// FuzzParsePEM feeds ParsePEM, the parser of the PEM an operator brings,
// arbitrary bytes: it never panics, and what it accepts classifies without
// panicking and re-encodes to a PEM it accepts again.
func FuzzParsePEM(f *testing.F) {
	root, _ := issue(f, caTmpl("root"), nil, nil, nil)
	leaf, _ := issue(f, leafTmpl("acme", "founder"), nil, nil, nil)
	f.Add([]byte(pemOf(root)))
	f.Add([]byte(pemOf(leaf)))
	f.Add([]byte(pemOf(leaf) + pemOf(root)))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParsePEM(data)
		if err != nil {
			return
		}
		_, _ = Classify(c, "acme", roles, time.Now())
		again, err := ParsePEM([]byte(pemOf(c)))
		if err != nil || !again.Equal(c) {
			t.Fatalf("re-encoded certificate: %v", err)
		}
	})
}
