// Command mkmsi writes the kiwistack Windows installer (.msi, amd64) and
// refreshes dist/SHA256SUMS. `make packages` runs it after cross-building
// the binaries; it holds flags and wiring only (packaging/msi does the work).
//
//	mkmsi -version "$(git describe --tags --always --dirty)" -commit-time 1764311897 \
//	    -arch amd64 -out dist -enroll bin/windows-amd64/kiwistack-enroll.exe \
//	    -agent bin/windows-amd64/kiwistack-agent.exe
//
// Signing: with -sign-cert and -sign-key (or KIWISTACK_MSI_SIGN_CERT and
// KIWISTACK_MSI_SIGN_KEY; the key's password only in KIWISTACK_MSI_SIGN_PASS)
// the programs and the package are signed with the release certificate and
// time-stamped by -timestamp-url (KIWISTACK_MSI_TIMESTAMP_URL). Without
// them, a throwaway test certificate is generated in -test-signing-dir and
// the package is signed and verified with it: fine for CI, not trusted by
// Windows.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kiwistack/endpoint/packaging"
	"github.com/kiwistack/endpoint/packaging/msi"
)

func main() {
	var (
		o          msi.Options
		commitTime int64
		out        string
		s          msi.Signer
		verifyCA   string
		testDir    string
	)
	flag.StringVar(&o.Describe, "version", "", "git describe --tags --always --dirty output")
	flag.Int64Var(&commitTime, "commit-time", 0, "commit time in Unix seconds (git log -1 --format=%ct)")
	flag.StringVar(&o.Arch, "arch", "amd64", "Go architecture of the binaries (wixl builds amd64 only)")
	flag.StringVar(&out, "out", "dist", "output directory")
	flag.StringVar(&o.Enroll, "enroll", "", "kiwistack-enroll.exe built for windows/ARCH")
	flag.StringVar(&o.Agent, "agent", "", "kiwistack-agent.exe built for windows/ARCH")
	flag.StringVar(&s.Cert, "sign-cert", os.Getenv("KIWISTACK_MSI_SIGN_CERT"), "code-signing certificate and its chain, PEM")
	flag.StringVar(&s.Key, "sign-key", os.Getenv("KIWISTACK_MSI_SIGN_KEY"), "the certificate's private key, PEM (password in $KIWISTACK_MSI_SIGN_PASS)")
	flag.StringVar(&s.TimestampURL, "timestamp-url", os.Getenv("KIWISTACK_MSI_TIMESTAMP_URL"), "RFC 3161 time-stamping service (empty: no timestamp)")
	flag.StringVar(&verifyCA, "verify-ca", os.Getenv("KIWISTACK_MSI_VERIFY_CA"), "root certificates (PEM) to verify the signed package against")
	flag.StringVar(&testDir, "test-signing-dir", "bin/msi-test-signing", "where the test certificate goes when no -sign-cert is given")
	flag.Parse()
	s.KeyPassword = os.Getenv("KIWISTACK_MSI_SIGN_PASS")
	o.CommitTime = time.Unix(commitTime, 0)
	if err := run(o, s, verifyCA, testDir, out); err != nil {
		fmt.Fprintln(os.Stderr, "mkmsi:", err)
		os.Exit(1)
	}
}

func run(o msi.Options, s msi.Signer, verifyCA, testDir, out string) error {
	if o.Enroll == "" || o.Agent == "" {
		return fmt.Errorf("-enroll and -agent are required")
	}
	if (s.Cert == "") != (s.Key == "") {
		return fmt.Errorf("-sign-cert and -sign-key go together")
	}
	if s.Cert == "" {
		if err := os.MkdirAll(testDir, 0o700); err != nil {
			return err
		}
		ts, ca, err := msi.TestSigner(testDir, time.Now())
		if err != nil {
			return err
		}
		s, verifyCA = ts, ca
		fmt.Printf("mkmsi: signing with a TEST certificate (CA in %s); pass -sign-cert and -sign-key for a release\n", ca)
	} else {
		s.Description, s.URL = msi.ProductName, "https://github.com/kiwistack/endpoint"
	}
	o.Signer = &s
	p, err := msi.BuildFile(o, out)
	if err != nil {
		return err
	}
	if verifyCA != "" {
		if err := msi.Verify(p, verifyCA); err != nil {
			return err
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	fmt.Printf("mkmsi: %s (%.1f MB)\n", p, float64(st.Size())/1e6)
	return packaging.WriteSums(out)
}
