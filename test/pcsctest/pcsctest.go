// Package pcsctest starts virtual YubiKeys for tests: it makes sure pcscd
// runs with the project's vpcd reader slots (scripts/start-pcscd), takes a
// free slot with a per-port file lock shared by every test process on the
// machine, plugs a test/vyubikey/card.Card into it and waits until PC/SC
// sees the card. Tests then talk to the key through real PC/SC clients
// (piv-go, yubico-piv-tool, OpenSC) by its reader name.
//
// It is test-only code: nothing that ships may import it. It does not
// implement the card (package card) or the vpcd protocol (package vpcd).
// On systems without Linux, cgo, root, pcscd or vpcd, Require and Start
// skip the test with the reason, or fail it when KIWISTACK_REQUIRE_HW_TESTS=1
// (set by make test and CI).
package pcsctest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "KIWISTACK_REQUIRE_HW_TESTS"

// Options describe the virtual YubiKey to start.
type Options struct {
	Serial       uint32         // 0: random 8-digit
	Version      string         // "": "5.7.1"
	Touch        card.TouchMode // zero value: auto
	TouchDelay   time.Duration  // TouchAuto's delay: 0 is card.DefaultTouchDelay, negative touches at once
	TouchTimeout time.Duration  // 0: 2 s in tests
	StateFile    string         // "": a file in t.TempDir()
}

// Key is a virtual YubiKey plugged into a vpcd reader slot.
type Key struct {
	Reader string            // PC/SC reader name, e.g. "Virtual PCD 00 01"
	Serial uint32            // the key's serial number
	Port   int               // the vpcd TCP port of the slot
	Root   *x509.Certificate // the attestation root its f9 chains to

	t       testing.TB
	card    *card.Card
	unplug  func()
	unplugO sync.Once
}

// Card returns the virtual card itself, for tests that need to look at or
// drive it directly.
func (k *Key) Card() *card.Card { return k.card }

// Touch confirms a pending touch (manual mode). It waits up to ten seconds
// for the key to ask for one, so a test may call it right after starting
// the operation that needs the touch, and fails the test if none comes.
func (k *Key) Touch() {
	k.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if k.card.Touch() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	k.t.Fatalf("virtual yubikey %d: no touch was requested within 10s", k.Serial)
}

// Unplug removes the card from the reader and waits until PC/SC sees the
// reader empty. The slot stays reserved until the test ends.
func (k *Key) Unplug() {
	k.t.Helper()
	k.unplugO.Do(k.unplug)
}

var (
	rootOnce sync.Once
	rootCert *x509.Certificate
	rootKey  crypto.Signer
	rootErr  error
)

// AttestationRoot returns the process-wide test attestation root that the
// f9 certificate of every key started by this process chains to.
func AttestationRoot(t testing.TB) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	rootOnce.Do(func() {
		rootCert, rootKey, rootErr = card.NewAttestationRoot(rand.Reader)
	})
	if rootErr != nil {
		t.Fatalf("creating test attestation root: %v", rootErr)
	}
	return rootCert, rootKey
}

// Require skips the test with a clear reason when this machine cannot run
// virtual YubiKeys (not root, not Linux with cgo, pcscd or vpcd missing),
// or fails it with that reason when KIWISTACK_REQUIRE_HW_TESTS=1.
func Require(t testing.TB) {
	t.Helper()
	reason := missing()
	if reason == "" {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1, so this fails instead of skipping)", reason, RequireEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", reason, RequireEnv)
}

// Driver and daemon a virtual YubiKey needs.
const (
	pcscdPath = "/usr/sbin/pcscd"
	vpcdPath  = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
)

// missingCommon is the part of the check shared by every OS.
func missingCommon() string {
	if os.Geteuid() != 0 {
		return "virtual YubiKey tests need root: scripts/start-pcscd runs pcscd, which owns /run/pcscd"
	}
	for _, f := range []string{pcscdPath, vpcdPath} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Sprintf("virtual YubiKey tests need %s: run scripts/install-test-deps", f)
		}
	}
	return ""
}

// ModuleRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding module root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/kiwistack/endpoint\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding module root: no go.mod of github.com/kiwistack/endpoint above the working directory")
		}
		dir = parent
	}
}

// FixturesDir returns the real-YubiKey fixtures directory,
// <module root>/../shared/fixtures/yubikey, failing the test when it is
// missing.
func FixturesDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "..", "shared", "fixtures", "yubikey")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("real YubiKey fixtures missing at %s (they live in the shared checkout next to the repository): %v", dir, err)
	}
	return dir
}
