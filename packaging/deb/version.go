package deb

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// describeRE matches `git describe --tags --always --dirty` output on a
// tagged history: v<semver>[-<prerelease>][-<n>-g<sha>][-dirty].
var describeRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.]+?))?(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$`)

// shaRE matches describe output without any tag: the abbreviated commit.
var shaRE = regexp.MustCompile(`^([0-9a-f]{4,40})(-dirty)?$`)

// Version maps `git describe --tags --always --dirty` output to a Debian
// version that sorts the way the commits do:
//
//	v0.1.0           -> 0.1.0
//	v0.1.0-rc1       -> 0.1.0~rc1             (before 0.1.0)
//	v0.1.0-3-gabc123 -> 0.1.0+git3.gabc123    (after 0.1.0, before 0.1.1)
//	...-dirty        -> ...+dirty or ....dirty
//	abc123           -> 0.0.0~git20261128063817.abc123 (no tag yet)
//
// Without a tag the commit time (UTC, to the second) orders builds, so
// commitTime must be the commit's date, not the build's. The result has no
// Debian revision: the package is native.
func Version(describe string, commitTime time.Time) (string, error) {
	describe = strings.TrimSpace(describe)
	if m := describeRE.FindStringSubmatch(describe); m != nil {
		if m[2] == "dirty" && m[3] == "" && m[5] == "" {
			m[2], m[5] = "", "-dirty" // a dirty tree on a tag, not a prerelease
		}
		v := m[1]
		if m[2] != "" {
			v += "~" + m[2]
		}
		var meta []string
		if m[3] != "" {
			meta = append(meta, "git"+m[3], "g"+m[4])
		}
		if m[5] != "" {
			meta = append(meta, "dirty")
		}
		if len(meta) > 0 {
			v += "+" + strings.Join(meta, ".")
		}
		return v, nil
	}
	if m := shaRE.FindStringSubmatch(describe); m != nil {
		if commitTime.IsZero() {
			return "", fmt.Errorf("mapping untagged version %q: the commit time is needed", describe)
		}
		v := "0.0.0~git" + commitTime.UTC().Format("20060102150405") + "." + m[1]
		if m[2] != "" {
			v += ".dirty"
		}
		return v, nil
	}
	return "", fmt.Errorf("mapping version %q: not git describe output (vX.Y.Z[-N-gSHA][-dirty] or a commit)", describe)
}
