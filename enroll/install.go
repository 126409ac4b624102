package enroll

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/kiwistack/endpoint/enroll/install"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/paths"
)

// EnrollmentRecord is the agent's record of the enrollment (install.Record).
type EnrollmentRecord = install.Record

// ReadEnrollment reads the enrollment record of layout (install.Read); the
// error wraps fs.ErrNotExist when the laptop is not enrolled.
func ReadEnrollment(layout paths.Layout) (*EnrollmentRecord, error) { return install.Read(layout) }

// checkNotEnrolled refuses to enroll over an existing enrollment unless
// reenroll is set.
func checkNotEnrolled(layout paths.Layout, reenroll bool) error {
	if reenroll {
		return nil
	}
	// The record is written last: files without it are the leftovers of an
	// interrupted installation, which the next enrollment replaces.
	p := layout.Enrollment()
	_, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking for an earlier enrollment: %w", err)
	}
	id := ""
	if r, err := ReadEnrollment(layout); err == nil {
		id = " as " + r.DeviceID + " in " + r.Tenant
	}
	return fmt.Errorf("this laptop is already enrolled%s (%s exists); to enroll it again, ask an administrator to allow its re-enrollment and run again with --reenroll", id, p)
}

// Install writes the enrollment's files under layout, the enrollment
// record last (install.Write).
func Install(layout paths.Layout, key *ecdsa.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, root *x509.Certificate, cfg protocol.AgentConfig) error {
	return install.Write(layout, key, leaf, chain, root, cfg)
}
