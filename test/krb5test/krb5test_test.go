package krb5test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/test/e2e"
)

// A realm in the test's namespace: a user gets a ticket with the right
// password and none with a wrong one; a service's keytab holds its keys
// and a second export keeps them (kvno unchanged); with the KDC stopped
// kinit fails, and after Restart it works again.
func TestRealm(t *testing.T) {
	k := Start(t, Options{Domains: []string{"od.acme.kiwistack.io"}})
	alice := k.AddUser(t, "alice", "correct horse")
	if alice != "alice@"+DefaultRealm {
		t.Errorf("AddUser returned %q", alice)
	}
	cc := filepath.Join(t.TempDir(), "cc")
	if err := k.Kinit("", "alice", "correct horse", cc); err != nil {
		t.Fatal(err)
	}
	out, err := k.Klist(cc)
	if err != nil || !strings.Contains(out, "Default principal: "+alice) || !strings.Contains(out, "krbtgt/"+DefaultRealm+"@"+DefaultRealm) {
		t.Errorf("klist after kinit: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "cc")
	if err := k.Kinit("", "alice", "wrong", bad); !errors.Is(err, ErrKinit) {
		t.Errorf("kinit with a wrong password: %v, want ErrKinit", err)
	}
	if _, err := k.Klist(bad); err == nil {
		t.Error("a wrong password left credentials")
	}

	svc := k.AddService(t, "HTTP/mail.od.acme.kiwistack.io")
	kt := filepath.Join(t.TempDir(), "http.keytab")
	k.Keytab(t, kt, svc)
	k.Keytab(t, filepath.Join(t.TempDir(), "again.keytab"), svc)
	if fi, err := os.Stat(kt); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("keytab: %v %v", fi.Mode(), err)
	}
	if out := k.Kadmin(t, "getprinc "+svc); !strings.Contains(out, "vno 1") {
		t.Errorf("a second export changed the keys:\n%s", out)
	}

	k.Stop()
	if k.Running() {
		t.Error("Running after Stop")
	}
	if err := k.Kinit("", "alice", "correct horse", filepath.Join(t.TempDir(), "cc")); !errors.Is(err, ErrKinit) {
		t.Errorf("kinit with the KDC down: %v, want ErrKinit", err)
	}
	k.Restart(t)
	if err := k.Kinit("", "alice", "correct horse", filepath.Join(t.TempDir(), "cc")); err != nil {
		t.Errorf("kinit after Restart: %v", err)
	}
}

// A KDC in a network namespace, reached from another one over a veth pair
// at the address in the clients' krb5.conf; from a third namespace with no
// route to it, kinit fails.
func TestRealmInNetns(t *testing.T) {
	e2e.RequireNetns(t, "a KDC in a network namespace")
	pid := os.Getpid()
	hub, laptop, lonely := fmt.Sprintf("k5hub-%d", pid), fmt.Sprintf("k5lap-%d", pid), fmt.Sprintf("k5alone-%d", pid)
	e2e.AddNetns(t, hub)
	e2e.AddNetns(t, laptop)
	e2e.AddNetns(t, lonely)
	e2e.Veth(t, hub, fmt.Sprintf("k5h%d", pid), "10.88.0.1/24", laptop, fmt.Sprintf("k5l%d", pid), "10.88.0.2/24")
	k := Start(t, Options{Netns: hub, Host: "10.88.0.1"})
	if k.Addr != "10.88.0.1:88" {
		t.Errorf("Addr = %s", k.Addr)
	}
	k.AddUser(t, "bob", "pw-of-bob")
	if err := k.Kinit(laptop, "bob", "pw-of-bob", filepath.Join(t.TempDir(), "cc")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(k.Log(), "AS_REQ") || !strings.Contains(k.Log(), "10.88.0.2") {
		t.Errorf("the KDC's log does not show bob's request from the laptop:\n%s", k.Log())
	}
	if err := k.Kinit(lonely, "bob", "pw-of-bob", filepath.Join(t.TempDir(), "cc")); !errors.Is(err, ErrKinit) {
		t.Errorf("kinit from a namespace without a route: %v, want ErrKinit", err)
	}
}

// Names that kadmin.local would parse as options or several words are
// refused before any command runs.
func TestQualify(t *testing.T) {
	k := &KDC{Realm: "R.TEST"}
	for _, bad := range []string{"", "-randkey", "a b", "alice@OTHER", "a;b", "a\"b", "/x", "x/"} {
		if _, err := k.qualify(bad); err == nil {
			t.Errorf("qualify(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"alice": "alice@R.TEST", "HTTP/h.example@R.TEST": "HTTP/h.example@R.TEST"} {
		if got, err := k.qualify(in); err != nil || got != want {
			t.Errorf("qualify(%q) = %q, %v", in, got, err)
		}
	}
}
