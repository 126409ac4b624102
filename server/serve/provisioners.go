package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/smallstep/certificates/authority/provisioner"
	"go.step.sm/crypto/jose"

	"github.com/kiwistack/endpoint/server/ca"
)

// ProvisionersJSON returns the JWK provisioners to add to an external
// step-ca's ca.json ("authority": {"provisioners": [...]}), as a JSON list:
// ca.ProvisionerName for devices with deviceKey, ca.AppProvisionerName for
// app certificates with the same key, ca.AdminProvisionerName for
// administrators with adminKey (omitted when nil). Only the public halves
// are written. grace > 0 lets step-ca renew a device certificate after it
// expired (without a bound: step-ca's claim is yes or no).
func ProvisionersJSON(tenant string, deviceKey, adminKey *jose.JSONWebKey, grace time.Duration) ([]byte, error) {
	dev, err := ca.DeviceProvisioner(deviceKey, tenant, grace)
	if err != nil {
		return nil, err
	}
	// App certificates (docs/app-certificate.md) share the device key.
	app, err := ca.AppProvisioner(deviceKey, tenant)
	if err != nil {
		return nil, err
	}
	list := []provisioner.Interface{dev, app}
	if adminKey != nil {
		adm, err := ca.AdminProvisioner(adminKey, tenant)
		if err != nil {
			return nil, err
		}
		list = append(list, adm)
	}
	return json.MarshalIndent(list, "", "  ")
}

// PrintProvisioners writes ProvisionersJSON for the keys in the JWK files
// deviceKeyFile and adminKeyFile (public keys, as `step crypto jwk create`
// writes them; adminKeyFile may be empty) to w.
func PrintProvisioners(w io.Writer, tenant, deviceKeyFile, adminKeyFile string, grace time.Duration) error {
	if !slugRE.MatchString(tenant) {
		return fmt.Errorf("tenant %q is not a slug: 1-63 lowercase letters, digits and inner hyphens", tenant)
	}
	dk, err := readPublicJWK(deviceKeyFile)
	if err != nil {
		return err
	}
	var ak *jose.JSONWebKey
	if adminKeyFile != "" {
		if ak, err = readPublicJWK(adminKeyFile); err != nil {
			return err
		}
	}
	out, err := ProvisionersJSON(tenant, dk, ak, grace)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// readPublicJWK reads a JWK's public half from a JSON file.
func readPublicJWK(path string) (*jose.JSONWebKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading provisioner key: %w", err)
	}
	if _, err := jose.ParseEncrypted(string(data)); err == nil {
		return nil, fmt.Errorf("%s is an encrypted private key: give the public key file (step crypto jwk create PUB PRIV writes both)", path)
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s is not a JWK: %w", path, err)
	}
	if k.KeyID == "" {
		return nil, fmt.Errorf("%s has no kid: create the key with step crypto jwk create, which sets one", path)
	}
	pub := k.Public()
	return &pub, nil
}
