// Command mkpkg writes the kiwistack macOS installer package and refreshes
// dist/SHA256SUMS. `make packages` runs it after cross-compiling the
// binaries for darwin; it holds flags and wiring only (packaging/pkg does
// the work).
//
//	mkpkg -describe "$(git describe --tags --always --dirty)" -commit-time 1764311897 \
//	    -out dist -enroll bin/darwin-amd64/kiwistack-enroll,bin/darwin-arm64/kiwistack-enroll \
//	    -agent bin/darwin-amd64/kiwistack-agent,bin/darwin-arm64/kiwistack-agent
//
// -enroll and -agent take one thin darwin binary per architecture, joined
// into universal binaries, or a single binary for a one-architecture package.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/packaging"
	"github.com/kiwistack/endpoint/packaging/pkg"
)

func main() {
	describe := flag.String("describe", "", "git describe --tags --always --dirty output")
	commitTime := flag.Int64("commit-time", 0, "commit time in Unix seconds (git log -1 --format=%ct)")
	out := flag.String("out", "dist", "output directory")
	enroll := flag.String("enroll", "", "comma-separated darwin kiwistack-enroll binaries, one per architecture")
	agent := flag.String("agent", "", "comma-separated darwin kiwistack-agent binaries, one per architecture")
	flag.Parse()
	if err := run(*describe, time.Unix(*commitTime, 0), *out, split(*enroll), split(*agent)); err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func run(describe string, commitTime time.Time, out string, enroll, agent []string) error {
	if len(enroll) == 0 || len(agent) == 0 {
		return fmt.Errorf("-enroll and -agent are required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	p, b, err := pkg.BuildFile(pkg.Options{Describe: describe, CommitTime: commitTime, Enroll: enroll, Agent: agent}, out)
	if err != nil {
		return err
	}
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	fmt.Printf("mkpkg: %s (%s, version %s, %.1f MB)\n", p, strings.Join(b.Archs, ","), b.Version, float64(st.Size())/1e6)
	return packaging.WriteSums(out)
}
