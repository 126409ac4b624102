//go:build !linux

package directory

// Supported says whether this OS logs in directory users through SSSD.
const Supported = false

const notApplicable = "this OS has no SSSD: users log in with a local account and reach the directory in the browser (DESIGN.md)"
