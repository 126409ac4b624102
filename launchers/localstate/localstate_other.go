//go:build !linux

package localstate

import (
	"errors"
	"fmt"
)

// seedHome: only Chromium on Linux (and the BSDs) waits for a Negotiate
// challenge before loading GSSAPI; macOS and Windows use the system's
// Kerberos (GSS.framework, SSPI) from the first request.
func seedHome(home string, owner Owner, dirs []string) ([]Result, error) {
	return nil, fmt.Errorf("seeding Chromium's Local State under %s: %w: only Chromium on Linux gates Kerberos on it", home, errors.ErrUnsupported)
}
