package msi

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestProductVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"v0.1.0", "0.1.0"},
		{"0.1.0", "0.1.0"},
		{"v1.2.3", "1.2.300"},
		{"v1.2.3-7-gabc1234", "1.2.307"},
		{"v1.2.3-7-gabc1234-dirty", "1.2.307"},
		{"v1.2.3-150-gabc1234", "1.2.399"},
		{"v1.2.3-dirty", "1.2.300"},
		{"v1.2.3-rc1", "1.2.299"},
		{"v1.2.3-rc.2-4-gabc1234", "1.2.299"},
		{"v1.2.0-rc1", "1.1.65535"},
		{"v1.0.0-beta", "0.255.65535"},
		{"v0.0.0-rc1", "0.0.0"},
		{"v255.255.654-99-gabc", "255.255.65499"},
		{"3e21532", "0.0.0"},
		{"3e21532-dirty", "0.0.0"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ProductVersion(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("ProductVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "dev", "v1.2", "v256.0.0", "v0.256.0", "v0.0.655", "release-1", "v1.2.3 x"} {
		if got, err := ProductVersion(bad); err == nil {
			t.Errorf("ProductVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestProductVersionOrder checks that the mapping never puts a later
// build below an earlier one and stays within MSI's field limits.
func TestProductVersionOrder(t *testing.T) {
	order := []string{"3e21532", "v0.1.0-rc1", "v0.1.0", "v0.1.0-1-gdef", "v0.1.0-12-g123", "v0.1.1-rc1",
		"v0.1.1", "v0.2.0-rc1", "v0.2.0", "v0.2.0-3-gabc", "v1.0.0-rc1", "v1.0.0", "v1.0.10", "v1.10.0"}
	prev := [3]int{}
	for _, d := range order {
		v, err := ProductVersion(d)
		if err != nil {
			t.Fatal(err)
		}
		f := fields(t, v)
		if f[0] > 255 || f[1] > 255 || f[2] > 65535 {
			t.Errorf("%s -> %s exceeds 255.255.65535", d, v)
		}
		if less(f, prev) {
			t.Errorf("%s -> %s sorts below the build before it (%v)", d, v, prev)
		}
		prev = f
	}
}

func fields(t *testing.T, v string) [3]int {
	t.Helper()
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		t.Fatalf("version %q has %d fields", v, len(parts))
	}
	var f [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		f[i] = n
	}
	return f
}

func less(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func TestProductCode(t *testing.T) {
	guid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	a, b := ProductCode("v0.1.0", "amd64"), ProductCode("v0.1.0-1-gabc", "amd64")
	if !guid.MatchString(a) || !guid.MatchString(b) {
		t.Errorf("ProductCodes %s, %s are not uppercase version 5 GUIDs", a, b)
	}
	if a == b {
		t.Error("two versions share a ProductCode")
	}
	if ProductCode("v0.1.0", "amd64") != a {
		t.Error("ProductCode is not deterministic")
	}
	if ProductCode("v0.1.0", "arm64") == a {
		t.Error("two architectures share a ProductCode")
	}
	for _, g := range []string{UpgradeCode, ConfigComponentGUID} {
		if !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`).MatchString(g) {
			t.Errorf("constant GUID %s is malformed", g)
		}
	}
	// Pinned: a changed UpgradeCode would install side by side with every
	// earlier version instead of replacing it.
	if UpgradeCode != "800966A1-C7E8-40B4-84E2-5EB2C8500A2B" {
		t.Error("UpgradeCode changed: it must stay the same forever")
	}
}
