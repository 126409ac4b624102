package api

import (
	"reflect"
	"testing"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// TestCheckInCarriesDirectory: Config.Directory reaches the device in its
// enrollment and in every check-in.
func TestCheckInCarriesDirectory(t *testing.T) {
	want := protocol.DirectoryConfig{LDAPURIs: []string{"ldaps://100.96.0.1"}, BaseDN: "dc=acme,dc=test", Realm: "ACME.TEST",
		KDCs: []string{"100.96.0.1"}, CACertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
	o := newOpsEnv(t, func(c *Config) { c.Directory = &want })
	er, leaf := o.enrolled(t, o.begin(t))
	if er.Config.Directory == nil || !reflect.DeepEqual(*er.Config.Directory, want) {
		t.Fatalf("enrollment config directory %+v", er.Config.Directory)
	}
	got := (&escrowEnv{opsEnv: o, leaf: leaf}).checkIn(t)
	if got.Directory == nil || !reflect.DeepEqual(*got.Directory, want) || got.DeviceID != er.DeviceID {
		t.Fatalf("check-in config directory %+v", got.Directory)
	}
}
