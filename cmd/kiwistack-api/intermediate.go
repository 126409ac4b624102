package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/spf13/cobra"
)

// intermediateCmd is `kiwistack-api intermediate request --state DIR`: the
// first step of rotate_intermediate (docs/ca.md).
func intermediateCmd(stdio cli.IO) *cobra.Command {
	var dir, tenant string
	cmd := &cobra.Command{
		Use:   "intermediate",
		Short: "Prepare the rotation of the tenant's intermediate",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	req := &cobra.Command{
		Use:   "request --state DIR --tenant SLUG",
		Short: "Make the next intermediate's key in the CA state and print its certificate request (PEM)",
		Long: "The key stays in the tenant CA's state directory (0600). Send the request to the MSP, which signs it\n" +
			"with its root (kiwistack-api msp sign-intermediate); then request rotate_intermediate with the certificate\n" +
			"as document (kiwistack-enroll admin request rotate_intermediate --document FILE): a founder signs and a\n" +
			"KiwiStack operator co-signs, and the API switches step-ca to it. Running it again prints a request for\n" +
			"the same pending key.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			csr, err := ca.RequestIntermediate(dev.CAPath(dir), tenant)
			if err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			_, err = stdio.Out.Write(csr)
			return err
		},
	}
	req.Flags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	req.Flags().StringVar(&tenant, "tenant", "", "the tenant slug")
	_ = req.MarkFlagRequired("state")
	_ = req.MarkFlagRequired("tenant")
	cmd.AddCommand(req)
	return cmd
}

// mspCmd is `kiwistack-api msp sign-intermediate`: the MSP root signing a
// tenant's next intermediate, offline.
func mspCmd(stdio cli.IO) *cobra.Command {
	var dir, tenant, csrFile, out string
	cmd := &cobra.Command{
		Use:   "msp",
		Short: "Act as the MSP root (offline in production)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	sign := &cobra.Command{
		Use:   "sign-intermediate --msp DIR --tenant SLUG --csr FILE [--out FILE]",
		Short: "Sign a tenant's intermediate request with the MSP root",
		Long: "DIR holds the MSP root (root_ca.crt, root_ca.key), as kiwistack-api dev --msp makes it, or a dev\n" +
			"tenant's ca/ directory for a tenant with a root of its own. The certificate names the tenant (O=SLUG),\n" +
			"has path length 0 and is valid for ten years or until the root ends.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			// Never make a new root here: a mistyped directory must fail.
			if _, err := os.Stat(filepath.Join(dir, ca.RootCertFile)); err != nil {
				return cli.WithCode(cli.ExitUsage, fmt.Errorf("%s holds no MSP root: %w", dir, err))
			}
			msp, err := ca.LoadOrCreateMSP(dir, time.Now())
			if err != nil {
				return err
			}
			csr, err := os.ReadFile(csrFile)
			if err != nil {
				return cli.WithCode(cli.ExitUsage, fmt.Errorf("reading the request: %w", err))
			}
			c, err := msp.SignIntermediate(csr, tenant, time.Now())
			if err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			if out == "" {
				_, err = stdio.Out.Write(ca.PEM(c))
				return err
			}
			if err := atomicfile.WriteFile(out, ca.PEM(c), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "Signed %s (SHA-256 %s), valid until %s: %s\n", c.Subject.CommonName, ca.Fingerprint(c),
				c.NotAfter.UTC().Format(time.RFC3339), out)
			return nil
		},
	}
	sign.Flags().StringVar(&dir, "msp", "", "the directory of the MSP root")
	sign.Flags().StringVar(&tenant, "tenant", "", "the tenant slug")
	sign.Flags().StringVar(&csrFile, "csr", "", "the request kiwistack-api intermediate request printed")
	sign.Flags().StringVar(&out, "out", "", "write the certificate here (default: standard output)")
	for _, f := range []string{"msp", "tenant", "csr"} {
		_ = sign.MarkFlagRequired(f)
	}
	cmd.AddCommand(sign)
	return cmd
}
