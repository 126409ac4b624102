package pcsc

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseMultiString(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{"empty buffer", "", nil},
		{"empty list", "\x00", nil},
		{"one reader", "Virtual PCD 00 00\x00\x00", []string{"Virtual PCD 00 00"}},
		{"two readers", "A\x00B 00 01\x00\x00", []string{"A", "B 00 01"}},
		{"stops at the empty name", "A\x00\x00junk\x00\x00", []string{"A"}},
		{"last name without its NUL", "A\x00B", []string{"A", "B"}},
		{"no list terminator", "A\x00B\x00", []string{"A", "B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseMultiString([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("parseMultiString(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzParseMultiString: reader names come from the resource manager, so the
// parser must never panic and never return an empty or NUL-bearing name.
func FuzzParseMultiString(f *testing.F) {
	f.Add([]byte("Virtual PCD 00 00\x00Virtual PCD 00 01\x00\x00"))
	f.Add([]byte{0})
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, name := range parseMultiString(b) {
			if name == "" || strings.IndexByte(name, 0) >= 0 {
				t.Fatalf("parseMultiString(%q) returned name %q", b, name)
			}
		}
	})
}

func TestReturnCode(t *testing.T) {
	wrapped := fmt.Errorf("connecting to reader %q: %w", "Virtual PCD 00 00", ErrNoSmartcard)
	if !errors.Is(wrapped, ErrNoSmartcard) {
		t.Errorf("errors.Is(%v, ErrNoSmartcard) = false", wrapped)
	}
	if errors.Is(wrapped, ErrNoReadersAvailable) {
		t.Errorf("errors.Is(%v, ErrNoReadersAvailable) = true", wrapped)
	}
	var rc ReturnCode
	if !errors.As(wrapped, &rc) || rc != 0x8010000C {
		t.Errorf("errors.As(%v) = %#x, want 0x8010000c", wrapped, uint32(rc))
	}
	for _, tc := range []struct {
		rc   ReturnCode
		want string
	}{
		{ErrNoSmartcard, "the operation requires a Smart Card, but no Smart Card is currently in the device"},
		{ErrNoReadersAvailable, "cannot find a smart card reader"},
		{ErrNoService, "the Smart card resource manager is not running"},
		{0x80100099, "unknown pcsc return code 0x80100099"},
	} {
		if got := tc.rc.Error(); got != tc.want {
			t.Errorf("ReturnCode(%#x).Error() = %q, want %q", uint32(tc.rc), got, tc.want)
		}
	}
}

// TestMessagesMatchPivGo reads piv-go's pcsc_errors.go from the module cache
// and checks that every code reads the same through this package as through
// piv-go, so that a piv-go upgrade that rewords them fails here.
func TestMessagesMatchPivGo(t *testing.T) {
	file := filepath.Join(pivGoDir(t), "piv", "pcsc_errors.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatalf("parsing piv-go's error table: %v", err)
	}
	piv := map[ReturnCode]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		k, kok := kv.Key.(*ast.BasicLit)
		v, vok := kv.Value.(*ast.BasicLit)
		if !kok || !vok {
			return true
		}
		code, err := strconv.ParseUint(k.Value, 0, 32)
		if err != nil {
			t.Fatalf("%s: key %s: %v", file, k.Value, err)
		}
		msg, err := strconv.Unquote(v.Value)
		if err != nil {
			t.Fatalf("%s: value %s: %v", file, v.Value, err)
		}
		piv[ReturnCode(code)] = msg
		return false
	})
	if len(piv) < 50 {
		t.Fatalf("found only %d messages in %s: has piv-go's table moved?", len(piv), file)
	}
	for code, want := range piv {
		if got := messages[code]; got != want {
			t.Errorf("code %#x: ours %q, piv-go's %q", uint32(code), got, want)
		}
	}
	for code := range messages {
		if _, ok := piv[code]; !ok {
			t.Errorf("code %#x: ours only, piv-go has no message for it", uint32(code))
		}
	}
}

// pivGoDir is the directory of the piv-go module this build uses.
func pivGoDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-piv/piv-go/v2").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/go-piv/piv-go/v2: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("go list -m github.com/go-piv/piv-go/v2: module not downloaded: run go mod download")
	}
	return dir
}
