//go:build darwin

package hwid

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// ioregPath is the absolute path of ioreg: never looked up in PATH.
const ioregPath = "/usr/sbin/ioreg"

func readOS(ctx context.Context) (Fingerprint, error) {
	cmd := ioregPath + " " + strings.Join(ioregArgs, " ")
	out, err := exec.CommandContext(ctx, ioregPath, ioregArgs...).Output()
	if err != nil {
		return Fingerprint{}, &ReadError{
			Attempts: []Attempt{{Source: SourceIOPlatformUUID, Path: cmd, Err: err}},
		}
	}
	sources, err := parseIOReg(out)
	if err != nil {
		return Fingerprint{}, &ReadError{
			Attempts: []Attempt{{Source: SourceIOPlatformUUID, Path: cmd, Err: fmt.Errorf("parsing output: %w", err)}},
		}
	}
	var skipped []Attempt
	for _, name := range []string{SourceIOPlatformUUID, SourceIOPlatformSerialNumber} {
		if !hasSource(sources, name) {
			skipped = append(skipped, Attempt{Source: name, Path: cmd, Err: errNotInOutput})
		}
	}
	return build(sources, skipped, nil)
}

// ioregArgs select the platform expert device, the node that holds the
// platform UUID and serial number.
var ioregArgs = []string{"-rd1", "-c", "IOPlatformExpertDevice"}

// errNotInOutput is the reason recorded for a key ioreg did not print.
var errNotInOutput = errors.New("not in the command's output")

// hasSource reports whether sources holds one named name.
func hasSource(sources []Source, name string) bool {
	return slices.ContainsFunc(sources, func(s Source) bool { return s.Name == name })
}
