package main

import (
	"encoding/json"
	"fmt"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/spf13/cobra"
)

// fingerprintJSON is the output of `fingerprint --json`. It names the
// sources read, never their values: only the hash leaves the machine.
type fingerprintJSON struct {
	Schema      string   `json:"schema"`
	Fingerprint string   `json:"fingerprint"`
	Sources     []string `json:"sources"`
	Skipped     []string `json:"skipped,omitempty"`
}

// fingerprintCmd is `kiwistack-enroll fingerprint`: what enroll sends as
// this laptop's hardware fingerprint, for support staff and scripts.
func fingerprintCmd(stdio cli.IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Print this laptop's hardware fingerprint and which identifiers it is made of",
		Long: "Print the hardware fingerprint that `enroll` sends (see docs/hardware-fingerprint.md): a SHA-256 over\n" +
			"the machine's stable identifiers. The identifiers' names are shown, not their values. Exit code 3 when\n" +
			"no strong identifier can be read (then enroll needs --hardware-fingerprint).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fp, err := hwid.Read(cmd.Context())
			if err != nil {
				return cli.WithCode(cli.ExitNotFound, err)
			}
			out := fingerprintJSON{Schema: "kiwistack.fingerprint/v1", Fingerprint: fp.Value}
			for _, s := range fp.Sources {
				out.Sources = append(out.Sources, s.Name)
			}
			for _, a := range fp.Skipped {
				out.Skipped = append(out.Skipped, a.String())
			}
			if asJSON {
				enc := json.NewEncoder(stdio.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(stdio.Out, "%s\n  made of: %v\n", out.Fingerprint, out.Sources)
			for _, s := range out.Skipped {
				fmt.Fprintf(stdio.Out, "  not used: %s\n", s)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (schema kiwistack.fingerprint/v1)")
	return cmd
}
