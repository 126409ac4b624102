package safetext

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"mail.od.acme.kiwistack.io": "mail.od.acme.kiwistack.io",
		"a\x1b[31mred":              "a?[31mred",
		"é":                         "??",
		strings.Repeat("x", 41):     strings.Repeat("x", 40) + "…",
		"":                          "",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
