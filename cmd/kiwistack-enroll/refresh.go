package main

import (
	"github.com/kiwistack/endpoint/enroll"
	"github.com/spf13/cobra"
)

// refreshCmd is `keys refresh`: slot 9a's certificate issued again for the
// same key, under the tenant's current intermediate.
func refreshCmd(newKeys func() (enroll.Keys, error)) *cobra.Command {
	var o enroll.RefreshOptions
	var serial string
	cmd := &cobra.Command{
		Use:   "refresh --api URL --root-fingerprint HEX --current-secrets FILE [--serial N]",
		Short: "Have the slot 9a certificate issued again for the same key (after rotate_intermediate)",
		Long: "Have the tenant API issue the admin certificate in slot 9a again, under the tenant's current\n" +
			"intermediate, for the key the slot already holds: after rotate_intermediate the API refuses\n" +
			"certificates from the old intermediate, and this brings the key back. The key is never generated\n" +
			"again. Reads slot 9a's attestation and the f9 certificate (no PIN), signs a request with the slot\n" +
			"9a key (PIN, touch the key), sends both to POST /v1/admin-certificates/reissue on --api (TLS\n" +
			"pinned to --root-fingerprint), checks that the answer chains to that root, is for the same key\n" +
			"and names the holder the tenant's roster names, stores it in slot 9a with the management key of\n" +
			"--current-secrets (the file keys provision wrote; its PIN is used too when it has one, else the\n" +
			"PIN is asked for) and prints the old and new issuer and expiry.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serial != "" {
				s, err := parseSerial(serial)
				if err != nil {
					return err
				}
				o.Serial = s
			}
			k, err := newKeys()
			if err != nil {
				return err
			}
			return exitCode(k.Refresh(cmd.Context(), o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&serial, "serial", "", "serial of the YubiKey (default: the secrets file's, or the only key connected)")
	f.StringVar(&o.APIURL, "api", "", "the tenant API's URL (e.g. https://localhost:8443, printed by kiwistack-api dev)")
	f.StringVar(&o.RootFingerprint, "root-fingerprint", "", "SHA-256 of the tenant root certificate (hex); the only root trusted for --api")
	f.StringVar(&o.SecretsPath, "current-secrets", "", "the key's secrets file written by keys provision (management key; PIN)")
	for _, name := range []string{"api", "root-fingerprint", "current-secrets"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}
