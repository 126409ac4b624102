package terminal

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/yubikey"
)

func TestPINFromSource(t *testing.T) {
	var out bytes.Buffer
	ui := New(strings.NewReader(""), &out).WithPINFrom(strings.NewReader("654321\n"))
	pin, err := ui.PIN(context.Background(), yubikey.PINRequest{Key: yubikey.Info{Serial: 7}, Retries: 3})
	if err != nil || pin != "654321" {
		t.Fatalf("PIN = %q, %v; want 654321", pin, err)
	}
	if strings.Contains(out.String(), "654321") {
		t.Fatalf("the PIN was echoed: %q", out.String())
	}
	// A wrong PIN from a script is not retried: the same line would only burn another try.
	_, err = ui.PIN(context.Background(), yubikey.PINRequest{Retries: 2, Again: true})
	if err == nil {
		t.Fatal("a second PIN request from the script source succeeded")
	}
	if !strings.Contains(out.String(), "2 tries left") {
		t.Errorf("output %q does not say how many tries are left", out.String())
	}
}

func TestPINWithoutTerminal(t *testing.T) {
	var out bytes.Buffer
	ui := New(strings.NewReader("123456\n"), &out)
	_, err := ui.PIN(context.Background(), yubikey.PINRequest{Retries: 3})
	if err == nil || !strings.Contains(err.Error(), "--pin-stdin") {
		t.Fatalf("err = %v, want advice to use --pin-stdin", err)
	}
}

func TestPINFromTerminal(t *testing.T) {
	var out bytes.Buffer
	ui := New(strings.NewReader(""), &out)
	ui.readSecret = func() (string, error) { return "12345678", nil }
	pin, err := ui.PIN(context.Background(), yubikey.PINRequest{Key: yubikey.Info{Serial: 42}, Retries: 1, Purpose: "sign the enrollment"})
	if err != nil || pin != "12345678" {
		t.Fatalf("PIN = %q, %v", pin, err)
	}
	want := "Enter the PIN of YubiKey 42 to sign the enrollment (1 try left): "
	if out.String() != want {
		t.Errorf("prompt = %q, want %q", out.String(), want)
	}
	ui.readSecret = func() (string, error) { return "", nil }
	if _, err := ui.PIN(context.Background(), yubikey.PINRequest{Retries: 3}); !errors.Is(err, yubikey.ErrCanceled) {
		t.Errorf("empty PIN: err = %v, want ErrCanceled", err)
	}
}

func TestChoose(t *testing.T) {
	keys := []yubikey.Info{
		{Serial: 1, Firmware: "5.4.3"},
		{Serial: 2, Firmware: "5.7.1", Slot9a: &yubikey.Identity{Admin: "John Doe", Role: "sysadmin", Tenant: "acme-corp"}},
	}
	for _, tc := range []struct {
		input string
		want  int
		ok    bool
	}{{"2\n", 1, true}, {"1\n", 0, true}, {"3\n", 0, false}, {"x\n", 0, false}, {"", 0, false}} {
		var out bytes.Buffer
		ui := New(strings.NewReader(tc.input), &out)
		ui.readSecret = func() (string, error) { return "", nil } // pretend a terminal
		got, err := ui.Choose(context.Background(), keys)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("input %q: Choose = %d, %v; want %d ok=%v", tc.input, got, err, tc.want, tc.ok)
		}
		if !strings.Contains(out.String(), "John Doe (sysadmin, acme-corp)") {
			t.Errorf("the choice list does not name the holder: %q", out.String())
		}
	}
	var out bytes.Buffer
	if _, err := New(strings.NewReader("1\n"), &out).Choose(context.Background(), keys); err == nil || !strings.Contains(err.Error(), "--serial") {
		t.Errorf("without a terminal: err = %v, want advice to use --serial", err)
	}
}

func TestSecret(t *testing.T) {
	answers := func(a ...string) func() (string, error) {
		return func() (string, error) {
			s := a[0]
			a = a[1:]
			return s, nil
		}
	}
	for _, tc := range []struct {
		name    string
		req     yubikey.SecretRequest
		typed   []string
		want    string
		wantErr bool
	}{
		{"PUK once", yubikey.SecretRequest{Label: "PUK"}, []string{"12345678"}, "12345678", false},
		{"new PIN confirmed", yubikey.SecretRequest{Label: "new PIN", New: true}, []string{"24681357", "24681357"}, "24681357", false},
		{"new PIN mismatch", yubikey.SecretRequest{Label: "new PIN", New: true}, []string{"24681357", "24681358"}, "", true},
		{"empty cancels", yubikey.SecretRequest{Label: "PUK"}, []string{""}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			ui := New(strings.NewReader(""), &out)
			ui.readSecret = answers(tc.typed...)
			got, err := ui.Secret(context.Background(), tc.req)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("Secret = %q, %v; want %q, err=%v", got, err, tc.want, tc.wantErr)
			}
			for _, typed := range tc.typed {
				if typed != "" && strings.Contains(out.String(), typed) {
					t.Fatalf("a secret was echoed: %q", out.String())
				}
			}
		})
	}
}
