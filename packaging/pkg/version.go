package pkg

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// describeRE matches `git describe --tags --always --dirty` output on a
// tagged history: v<semver>[-<prerelease>][-<n>-g<sha>][-dirty].
var describeRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.]+?))?(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$`)

// shaRE matches describe output without any tag: the abbreviated commit.
var shaRE = regexp.MustCompile(`^([0-9a-f]{4,40})(-dirty)?$`)

// Version maps `git describe --tags --always --dirty` output to the
// CFBundle-style version of the package (PackageInfo and Distribution):
// dot-separated integers, compared component by component.
//
//	v0.1.0           -> 0.1.0
//	v0.1.0-3-gabc123 -> 0.1.0.3          (3 commits after the tag)
//	v0.1.0-rc1[-…]   -> 0.1.0[.n]        (no place for "rc1": same numbers as the release)
//	...-dirty        -> the same numbers
//	abc123           -> 0.0.20261128.63817 (no tag yet: commit date, then time of day)
//
// The full describe string stays in the Distribution's title. Without a tag
// the commit time (UTC) orders builds, so commitTime must be the commit's.
func Version(describe string, commitTime time.Time) (string, error) {
	describe = strings.TrimSpace(describe)
	if m := describeRE.FindStringSubmatch(describe); m != nil {
		v := fmt.Sprintf("%s.%s.%s", trim0(m[1]), trim0(m[2]), trim0(m[3]))
		if m[5] != "" {
			v += "." + trim0(m[5])
		}
		return v, nil
	}
	if shaRE.MatchString(describe) {
		if commitTime.IsZero() || commitTime.Unix() <= 0 {
			return "", fmt.Errorf("mapping untagged version %q: the commit time is needed", describe)
		}
		t := commitTime.UTC()
		return fmt.Sprintf("0.0.%s.%d", t.Format("20060102"), t.Hour()*10000+t.Minute()*100+t.Second()), nil
	}
	return "", fmt.Errorf("mapping version %q: not git describe output (vX.Y.Z[-N-gSHA][-dirty] or a commit)", describe)
}

// trim0 drops leading zeros: CFBundle components are integers.
func trim0(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}
