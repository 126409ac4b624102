// Command mkdeb writes the kiwistack .deb for each architecture given and
// refreshes dist/SHA256SUMS. `make packages` runs it after building the
// binaries; it holds flags and wiring only (packaging/deb does the work).
//
//	mkdeb -describe "$(git describe --tags --always --dirty)" -commit-time 1764311897 \
//	    -out dist amd64=bin arm64=bin/linux-arm64
//
// Each ARCH=DIR argument names the directory holding kiwistack-enroll and
// kiwistack-agent built for ARCH.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/packaging"
	"github.com/kiwistack/endpoint/packaging/deb"
)

func main() {
	describe := flag.String("describe", "", "git describe --tags --always --dirty output")
	commitTime := flag.Int64("commit-time", 0, "commit time in Unix seconds (git log -1 --format=%ct)")
	out := flag.String("out", "dist", "output directory")
	flag.Parse()
	if err := run(*describe, time.Unix(*commitTime, 0), *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func run(describe string, commitTime time.Time, out string, archDirs []string) error {
	if len(archDirs) == 0 {
		return fmt.Errorf("no ARCH=DIR arguments")
	}
	version, err := deb.Version(describe, commitTime)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, a := range archDirs {
		arch, dir, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("argument %q: want ARCH=DIR", a)
		}
		p, err := deb.BuildFile(deb.Options{
			Version:    version,
			Arch:       arch,
			Enroll:     filepath.Join(dir, "kiwistack-enroll"),
			Agent:      filepath.Join(dir, "kiwistack-agent"),
			CommitTime: commitTime,
		}, out)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		fmt.Printf("mkdeb: %s (%.1f MB)\n", p, float64(st.Size())/1e6)
	}
	return packaging.WriteSums(out)
}
