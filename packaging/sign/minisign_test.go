package sign

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireMinisign returns the path of the real minisign, skipping the test
// when it is missing, or failing it when KIWISTACK_REQUIRE_HW_TESTS=1
// (make test, CI) says it must run.
func requireMinisign(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("minisign")
	if err != nil {
		why := "minisign is not installed (Debian package minisign): the interoperability tests need it"
		if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
			t.Fatalf("%s (KIWISTACK_REQUIRE_HW_TESTS=1: run make test-deps)", why)
		}
		t.Skip(why)
	}
	return p
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOursVerifiedByMinisign: keys and signatures we write, checked by
// minisign -V; and minisign -S signing with a secret key we wrote.
func TestOursVerifiedByMinisign(t *testing.T) {
	minisign := requireMinisign(t)
	dir := t.TempDir()
	k := testKey(t)
	pub, _ := k.Public().MarshalText()
	sec, _ := k.MarshalText()
	writeFile(t, filepath.Join(dir, "k.pub"), pub)
	writeFile(t, filepath.Join(dir, "k.key"), sec)
	file := filepath.Join(dir, "kiwistack_0.1.0_amd64.deb")
	writeFile(t, file, []byte(strings.Repeat("payload ", 10000)))
	if err := SignFile(k, file, time.Unix(1764311897, 0)); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(minisign, "-Vm", file, "-p", filepath.Join(dir, "k.pub")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "file:kiwistack_0.1.0_amd64.deb") {
		t.Fatalf("minisign -V of our signature: %v\n%s", err, out)
	}
	writeFile(t, file, []byte("tampered"))
	if out, err := exec.Command(minisign, "-Vm", file, "-p", filepath.Join(dir, "k.pub")).CombinedOutput(); err == nil {
		t.Fatalf("minisign -V accepted a tampered file:\n%s", out)
	}
	// minisign signs with our unencrypted secret key; we verify.
	cmd := exec.Command(minisign, "-S", "-s", filepath.Join(dir, "k.key"), "-m", file, "-t", "from minisign")
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -S with our secret key: %v\n%s", err, out)
	}
	s, err := VerifyFile(k.Public(), file, file+Suffix)
	if err != nil || s.TrustedComment != "from minisign" {
		t.Fatalf("VerifyFile of minisign's signature: %v", err)
	}
}

// TestMinisignVerifiedByUs: keys and signatures minisign writes (prehashed
// and legacy, unencrypted and password-protected keys), read by us.
func TestMinisignVerifiedByUs(t *testing.T) {
	minisign := requireMinisign(t)
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(minisign, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("minisign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	readPub := func(n string) PublicKey {
		t.Helper()
		b, err := os.ReadFile(at(n))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePublicKey(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	run("", "-G", "-W", "-p", at("u.pub"), "-s", at("u.key"))
	file := at("artefact.msi")
	writeFile(t, file, []byte(strings.Repeat("msi ", 5000)))
	pub := readPub("u.pub")

	for _, legacy := range []bool{false, true} {
		args := []string{"-S", "-s", at("u.key"), "-m", file, "-x", at("sig")}
		if legacy {
			args = append(args, "-l")
		}
		run("", args...)
		s, err := VerifyFile(pub, file, at("sig"))
		if err != nil {
			t.Fatalf("legacy=%v: VerifyFile: %v", legacy, err)
		}
		if s.Prehashed == legacy {
			t.Errorf("legacy=%v: parsed Prehashed=%v", legacy, s.Prehashed)
		}
	}

	// Our parser reads minisign's unencrypted secret key, and signs with it.
	b, _ := os.ReadFile(at("u.key"))
	sk, err := ParseSecretKey(b, nil)
	if err != nil || sk.Public().String() != pub.String() {
		t.Fatalf("ParseSecretKey of minisign -G -W: %v", err)
	}

	// Refusals, with the errors a caller tests for.
	run("", "-G", "-W", "-p", at("other.pub"), "-s", at("other.key"))
	sigText, _ := os.ReadFile(at("sig"))
	writeFile(t, at("truncated"), sigText[:len(sigText)/2])
	writeFile(t, at("garbage"), []byte("not a signature\n"))
	writeFile(t, at("tampered.msi"), []byte(strings.Repeat("msi ", 4999)))
	for _, tc := range []struct {
		name, file, sig string
		pub             PublicKey
		want            error
	}{
		{"tampered file", at("tampered.msi"), at("sig"), pub, ErrBadSignature},
		{"wrong key", file, at("sig"), readPub("other.pub"), ErrWrongKey},
		{"truncated signature", file, at("truncated"), pub, ErrMalformed},
		{"garbage signature", file, at("garbage"), pub, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyFile(tc.pub, tc.file, tc.sig)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyFile = %v, want %v", err, tc.want)
			}
		})
	}

	// A password-protected key (minisign's default: scrypt, 1 GiB).
	run("pw\npw\n", "-G", "-p", at("e.pub"), "-s", at("e.key"))
	b, _ = os.ReadFile(at("e.key"))
	if _, err := ParseSecretKey(b, nil); !errors.Is(err, ErrPassword) {
		t.Errorf("encrypted key without password: %v", err)
	}
	ek, err := ParseSecretKey(b, []byte("pw"))
	if err != nil || ek.Public().String() != readPub("e.pub").String() {
		t.Fatalf("encrypted key with its password: %v", err)
	}
}
