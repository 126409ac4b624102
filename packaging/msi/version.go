package msi

import (
	"crypto/sha1"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// UpgradeCode identifies the product across every version: Windows
// Installer finds the installed kiwistack by it and removes it when a newer
// package is installed (MajorUpgrade). It must never change.
const UpgradeCode = "800966A1-C7E8-40B4-84E2-5EB2C8500A2B"

// ConfigComponentGUID is the component of enroll.yaml. It is fixed (not
// derived by wixl) because the component is permanent and never
// overwritten: every version must name it the same way.
const ConfigComponentGUID = "5EE8FD12-EA76-4D4B-8916-CCCB7A5D13F2"

// Limits of the three fields of an MSI ProductVersion (major.minor.build);
// Windows Installer ignores a fourth field when comparing versions.
const (
	maxMajor = 255
	maxMinor = 255
	maxBuild = 65535
	// commitsPerPatch is the room for commits after a tag in the build
	// field: build = patch*commitsPerPatch + commits.
	commitsPerPatch = 100
)

// describeRE matches `git describe --tags --always --dirty` on a tagged
// history: v<X.Y.Z>[-<prerelease>][-<n>-g<sha>][-dirty].
var describeRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.]+?))?(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$`)

// shaRE matches describe output without any tag.
var shaRE = regexp.MustCompile(`^[0-9a-f]{4,40}(-dirty)?$`)

// ProductVersion maps `git describe --tags --always --dirty` output to an
// MSI ProductVersion (major.minor.build, at most 255.255.65535) that orders
// builds the way the history does, as far as three fields allow:
//
//	v1.2.3            -> 1.2.300
//	v1.2.3-7-gabc1234 -> 1.2.307   (commits after the tag; 99 and more give .399)
//	v1.2.3-rc1        -> 1.2.299   (just below 1.2.300; every prerelease of 1.2.3 ties)
//	v1.2.0-rc1        -> 1.1.65535 (just below 1.2.0)
//	...-dirty         -> as without -dirty
//	abc1234           -> 0.0.0     (no tag yet)
//
// Versions that tie (dirty trees, prereleases of one release, 99+ commits
// after a tag, untagged builds) still replace each other: the package
// upgrades same-version installs (see [Render]'s fixups). Patch releases
// above 654 and major or minor above 255 are refused.
func ProductVersion(describe string) (string, error) {
	describe = strings.TrimSpace(describe)
	if shaRE.MatchString(describe) {
		return "0.0.0", nil
	}
	m := describeRE.FindStringSubmatch(describe)
	if m == nil {
		return "", fmt.Errorf("mapping version %q: not git describe output (vX.Y.Z[-N-gSHA][-dirty] or a commit)", describe)
	}
	if m[4] == "dirty" && m[5] == "" && m[7] == "" {
		m[4] = "" // a dirty tree on a tag, not a prerelease
	}
	var f [3]int
	for i := range f {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return "", fmt.Errorf("mapping version %q: %w", describe, err)
		}
		f[i] = n
	}
	major, minor, patch := f[0], f[1], f[2]
	if major > maxMajor || minor > maxMinor || patch > (maxBuild-commitsPerPatch+1)/commitsPerPatch {
		return "", fmt.Errorf("mapping version %q: MSI allows at most %d.%d.x with patch %d",
			describe, maxMajor, maxMinor, (maxBuild-commitsPerPatch+1)/commitsPerPatch)
	}
	build := patch * commitsPerPatch
	if m[4] != "" {
		// A prerelease sorts just below its release.
		switch {
		case build > 0:
			build--
		case minor > 0:
			minor, build = minor-1, maxBuild
		case major > 0:
			major, minor, build = major-1, maxMinor, maxBuild
		}
		return fmt.Sprintf("%d.%d.%d", major, minor, build), nil
	}
	if m[5] != "" {
		n, err := strconv.Atoi(m[5])
		if err != nil {
			return "", fmt.Errorf("mapping version %q: %w", describe, err)
		}
		build += min(n, commitsPerPatch-1)
	}
	return fmt.Sprintf("%d.%d.%d", major, minor, build), nil
}

// ProductCode returns the package's ProductCode: a name-based UUID
// (version 5, RFC 9562) of describe and arch in the namespace of
// [UpgradeCode], so every build of a different commit or architecture has its
// own and rebuilding one commit gives the same.
func ProductCode(describe, arch string) string {
	ns := parseGUID(UpgradeCode)
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(strings.TrimSpace(describe) + "/" + arch))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

// parseGUID parses a constant GUID of this package.
func parseGUID(s string) [16]byte {
	var u [16]byte
	hex := strings.ReplaceAll(s, "-", "")
	for i := range u {
		b, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			panic("msi: bad GUID constant " + s) // start-up only: the constants are tested
		}
		u[i] = byte(b)
	}
	return u
}
