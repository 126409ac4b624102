package yubikey

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestValidateSubject(t *testing.T) {
	for _, tc := range []struct {
		admin, role, tenant string
		ok                  bool
	}{
		{"Marie Schmidt", "founder", "acme-corp", true},
		{"Anne Lefèvre", "office-mgr", "acme-corp", true},
		{"John Doe", "sysadmin", "a", true},
		{"", "sysadmin", "acme-corp", false},
		{" John", "sysadmin", "acme-corp", false},
		{"John\nDoe", "sysadmin", "acme-corp", false},
		{"John", "Sysadmin", "acme-corp", false},
		{"John", "sys admin", "acme-corp", false},
		{"John", "-sysadmin", "acme-corp", false},
		{"John", "sysadmin", "Acme", false},
		{"John", "sysadmin", "acme/corp", false},
		{"John", "sysadmin", "acme-", false},
		{"John", "sysadmin", "acme;rm -rf", false},
		{"John", "sysadmin", strings.Repeat("a", 64), false},
		{strings.Repeat("x", 65), "sysadmin", "acme", false},
		{"bad\xffutf8", "sysadmin", "acme", false},
	} {
		err := ValidateSubject(tc.admin, tc.role, tc.tenant)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateSubject(%q, %q, %q) = %v, want ok=%v", tc.admin, tc.role, tc.tenant, err, tc.ok)
		}
	}
}

func TestCheckPINFormat(t *testing.T) {
	for pin, ok := range map[string]bool{"123456": true, "12345678": true, "abc!def": true, "12345": false, "123456789": false, "12345\x00": false, "123456é": false} {
		if err := checkPINFormat(pin); (err == nil) != ok {
			t.Errorf("checkPINFormat(%q) = %v, want ok=%v", pin, err, ok)
		}
	}
}

func TestPINError(t *testing.T) {
	blocked := &PINError{Retries: 0}
	if !errors.Is(blocked, ErrPINBlocked) || errors.Is(blocked, ErrWrongPIN) {
		t.Error("a PIN with 0 tries must be ErrPINBlocked only")
	}
	if !strings.Contains(blocked.Error(), "PUK") {
		t.Errorf("blocked message %q does not say how to unblock", blocked.Error())
	}
	wrong := &PINError{Retries: 2}
	if !errors.Is(wrong, ErrWrongPIN) || errors.Is(wrong, ErrPINBlocked) {
		t.Error("a wrong PIN with tries left must be ErrWrongPIN only")
	}
	if !strings.Contains(wrong.Error(), "2 tries left") {
		t.Errorf("message %q does not give the tries left", wrong.Error())
	}
	if !strings.Contains((&PINError{Retries: 1}).Error(), "1 try left") {
		t.Error("singular not used for one try")
	}
}

func TestNewCredentials(t *testing.T) {
	c, err := NewCredentials(bytes.NewReader(bytes.Repeat([]byte{0x42}, 256)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PIN) != 8 || len(c.PUK) != 8 || len(c.ManagementKey) != 24 {
		t.Fatalf("got PIN %d, PUK %d, key %d bytes; want 8, 8, 24", len(c.PIN), len(c.PUK), len(c.ManagementKey))
	}
	if checkPINFormat(c.PIN) != nil || checkPINFormat(c.PUK) != nil {
		t.Error("generated PIN or PUK would be refused")
	}
	if _, err := NewCredentials(bytes.NewReader(nil)); err == nil {
		t.Error("an exhausted random source must be an error")
	}
	d := FactoryDefaults()
	if d.PIN != "123456" || d.PUK != "12345678" || len(d.ManagementKey) != 24 {
		t.Errorf("factory defaults = %+v", d)
	}
}
