package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func testCommand() Command {
	return Command{Version: 1, ID: "cmd-1", Tenant: "acme", DeviceID: "dev-1", Kind: CommandLock, OperationID: "op-1",
		OperationDigest: "abc", IssuedAt: "2026-11-28T09:00:00Z", ExpiresAt: "2026-11-29T09:00:00Z"}
}

func TestSignVerifyCommand(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	sc, err := SignCommand(key, testCommand())
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyCommand(pub, sc)
	if err != nil || got != testCommand() {
		t.Fatalf("VerifyCommand = %+v, %v", got, err)
	}
	if k, err := ParseCommandKey(EncodeCommandKey(pub)); err != nil || !k.Equal(pub) {
		t.Errorf("command key round trip: %v", err)
	}
	if _, err := ParseCommandKey("AAAA"); err == nil {
		t.Error("a short command key was accepted")
	}
	// Another key, a changed payload and a signature without the domain
	// are refused.
	if _, err := VerifyCommand(otherPub, sc); !errors.Is(err, ErrCommandSignature) {
		t.Errorf("other key: %v", err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sc.Payload)
	raw[len(raw)-3] ^= 1
	tampered := SignedCommand{Payload: base64.RawURLEncoding.EncodeToString(raw), Signature: sc.Signature}
	if _, err := VerifyCommand(pub, tampered); !errors.Is(err, ErrCommandSignature) {
		t.Errorf("tampered: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(sc.Payload)
	bare := SignedCommand{Payload: sc.Payload, Signature: base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, payload))}
	if _, err := VerifyCommand(pub, bare); !errors.Is(err, ErrCommandSignature) {
		t.Errorf("no domain separation: %v", err)
	}
	// A command with a bad kind or no window is not signed.
	for name, edit := range map[string]func(*Command){
		"kind":    func(c *Command) { c.Kind = "reboot" },
		"version": func(c *Command) { c.Version = 2 },
		"expires": func(c *Command) { c.ExpiresAt = "tomorrow" },
		"device":  func(c *Command) { c.DeviceID = "" },
	} {
		c := testCommand()
		edit(&c)
		if _, err := SignCommand(key, c); err == nil {
			t.Errorf("%s: a bad command was signed", name)
		}
	}
}

// FuzzVerifyCommand: VerifyCommand never panics on what the network
// delivers, and accepts only what the key signed.
func FuzzVerifyCommand(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	sc, _ := SignCommand(key, testCommand())
	f.Add(sc.Payload, sc.Signature)
	f.Add("", "")
	f.Add("e30", sc.Signature)
	f.Fuzz(func(t *testing.T, payload, sig string) {
		c, err := VerifyCommand(pub, SignedCommand{Payload: payload, Signature: sig})
		if err == nil && c != testCommand() {
			t.Errorf("accepted an unsigned command %q", payload)
		}
	})
}
