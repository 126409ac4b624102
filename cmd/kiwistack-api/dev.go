package main

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/serve"
	"github.com/spf13/cobra"
)

// devCmd is `kiwistack-api dev --state DIR --tenant SLUG [--listen ADDR]` (dev.Run).
func devCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var o dev.Options
	var h dev.HubOptions
	var prefix string
	var dir serve.DirectoryConfig
	var fleet serve.FleetConfig
	cmd := &cobra.Command{
		Use:   "dev --state DIR --tenant SLUG [--listen ADDR] [--attestation-root FILE] [--hub-listen UDPADDR --hub-interface NAME [--hub-prefix CIDR]]",
		Short: "Run a complete local tenant: PKI, embedded step-ca, store and API on one TLS listener",
		Long: "Creates (once) the tenant's root, intermediate and TLS certificate in DIR, starts step-ca in-process,\n" +
			"opens DIR/api.db and serves the API (/v1/…, /healthz, /readyz) and step-ca (/health, /roots, /renew, …)\n" +
			"on one TLS listener until interrupted. The MSP's provisioning token for admin certificates is made once\n" +
			"in DIR/provisioning.token (0600). Restarting with the same DIR keeps everything.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Logger, o.Out = *logger, stdio.Out
			if h.Listen != "" || h.Interface != "" {
				p, err := netip.ParsePrefix(prefix)
				if err != nil {
					return cli.WithCode(cli.ExitUsage, fmt.Errorf("--hub-prefix: %w", err))
				}
				h.Prefix = p
				o.Hub = &h
			}
			for _, f := range []string{"directory-ldap-uri", "directory-base-dn", "directory-realm", "directory-kdc", "directory-kpasswd", "directory-ca", "directory-login-group"} {
				if cmd.Flags().Changed(f) {
					o.Directory = &dir
				}
			}
			for _, f := range []string{"fleet-url", "fleet-enroll-secret-file", "fleet-certificate-file"} {
				if cmd.Flags().Changed(f) {
					o.Fleet = &fleet
				}
			}
			if o.Fleet != nil && (fleet.URL == "" || fleet.EnrollSecretFile == "") {
				return cli.WithCode(cli.ExitUsage, fmt.Errorf("--fleet-url and --fleet-enroll-secret-file go together"))
			}
			return dev.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&h.Listen, "hub-listen", "", "run the WireGuard hub on this UDP address (host:port) with an in-process wireguard-go device; needs Linux, root and /dev/net/tun")
	cmd.Flags().StringVar(&h.Interface, "hub-interface", "", "the hub's interface name (unique on the machine: the UAPI socket directory /var/run/wireguard is shared)")
	cmd.Flags().StringVar(&prefix, "hub-prefix", dev.DefaultHubPrefix, "the tunnel prefix; the hub takes its first address, devices the following ones")
	cmd.Flags().StringVar(&h.Endpoint, "hub-endpoint", "", "the hub's address as devices reach it (default: --hub-listen)")
	cmd.Flags().DurationVar(&h.Resync, "hub-resync", 0, "the longest time between hub syncs (default 30s)")
	cmd.Flags().DurationVar(&o.DeviceLifetime, "device-lifetime", 0, "lifetime of device certificates (default 24h; tests use minutes)")
	_ = cmd.Flags().MarkHidden("hub-resync")
	_ = cmd.Flags().MarkHidden("device-lifetime")
	cmd.Flags().StringVar(&o.StateDir, "state", "", "the state directory (created 0700 if missing)")
	cmd.Flags().StringVar(&o.MSPDir, "msp", "", "a directory with the MSP root (made if missing) that signs this tenant's intermediate, shared by several dev tenants; default: a root of the tenant's own")
	cmd.Flags().StringVar(&o.Tenant, "tenant", "", "the tenant slug (e.g. acme-corp)")
	cmd.Flags().StringVar(&o.Listen, "listen", dev.DefaultListen, "the TCP address to serve on")
	cmd.Flags().StringVar(&o.AttestationRootFile, "attestation-root", "", "PEM roots trusted for YubiKey attestations besides Yubico's (the virtual YubiKey's; tests and demos only)")
	cmd.Flags().StringVar(&o.PolicyFile, "policy", "", "the tenant's policies/authorization.yaml (kiwistack-api policy check validates it); default: the built-in default policy")
	cmd.Flags().StringSliceVar(&dir.LDAPURIs, "directory-ldap-uri", nil, "the tenant directory's LDAP servers (ldaps:// or ldap:// with StartTLS) for directory login; repeat or separate with commas (docs/directory.md)")
	cmd.Flags().StringVar(&dir.BaseDN, "directory-base-dn", "", "the directory's search base, e.g. dc=acme,dc=example")
	cmd.Flags().StringVar(&dir.Realm, "directory-realm", "", "the directory's Kerberos realm, e.g. ACME.EXAMPLE")
	cmd.Flags().StringSliceVar(&dir.KDCs, "directory-kdc", nil, "the realm's KDCs as laptops reach them through the tunnel, HOST[:PORT]")
	cmd.Flags().StringSliceVar(&dir.KpasswdServers, "directory-kpasswd", nil, "the realm's password-change servers, HOST[:PORT] (default: the KDCs' hosts)")
	cmd.Flags().StringVar(&dir.CAFile, "directory-ca", "", "PEM file of the CA that signs the LDAP servers' certificates")
	cmd.Flags().StringSliceVar(&dir.LoginGroups, "directory-login-group", nil, "only members of this directory group may log in to laptops (repeatable; default: every directory user)")
	cmd.Flags().StringVar(&fleet.URL, "fleet-url", "", "the tenant's Fleet server (https) that every agent configures fleetd with (docs/fleet.md)")
	cmd.Flags().StringVar(&fleet.EnrollSecretFile, "fleet-enroll-secret-file", "", "file (0600, one line) holding the Fleet enroll secret")
	cmd.Flags().StringVar(&fleet.CertificateFile, "fleet-certificate-file", "", "optional PEM of the CA of Fleet's server certificate")
	_ = cmd.MarkFlagRequired("state")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}
