// Package enrollment is the agent's enrollment controller: it reads the
// record that `kiwistack-enroll enroll` writes last (paths.Layout.Enrollment)
// and says clearly whether the laptop is enrolled, and where. It never
// writes or removes the record: enrolling is the enroller's job.
package enrollment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/paths"
)

// Record is the enrollment record as the enroller writes it (the JSON of
// enroll.EnrollmentRecord, read here without importing the enroller and its
// YubiKey stack).
type Record struct {
	protocol.AgentConfig
	Certificate string `json:"certificate_file"`
	Key         string `json:"key_file"`
	Root        string `json:"root_file"`
}

// ErrNotEnrolled is returned by Read when there is no record.
var ErrNotEnrolled = errors.New("not enrolled")

// Read reads the record of layout. The file paths in it are the enroller's;
// a layout under a test root rewrites them to the layout's own paths.
func Read(layout paths.Layout) (*Record, error) {
	b, err := os.ReadFile(layout.Enrollment())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", layout.Enrollment(), ErrNotEnrolled)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the enrollment record: %w", err)
	}
	var r Record
	if err := protocol.DecodeJSON(bytes.NewReader(b), 1<<20, &r); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w); enroll again with kiwistack-enroll enroll --reenroll", layout.Enrollment(), err)
	}
	if r.Tenant == "" || r.DeviceID == "" || r.CAURL == "" {
		return nil, fmt.Errorf("%s is incomplete; enroll again with kiwistack-enroll enroll --reenroll", layout.Enrollment())
	}
	r.Certificate, r.Key, r.Root = layout.DeviceCert(), layout.DeviceKey(), layout.RootCert()
	return &r, nil
}

// Controller reports whether the laptop is enrolled. It runs on every wake
// and trigger only (the enroller triggers the agent after installing).
type Controller struct {
	layout paths.Layout

	mu     sync.Mutex
	record *Record
	err    error
}

// New returns the controller for layout.
func New(layout paths.Layout) *Controller { return &Controller{layout: layout} }

// Name is "enrollment".
func (c *Controller) Name() string { return "enrollment" }

// Reconcile reads the record again.
func (c *Controller) Reconcile(context.Context) (time.Time, error) {
	r, err := Read(c.layout)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record, c.err = r, err
	if errors.Is(err, ErrNotEnrolled) {
		return time.Time{}, nil
	}
	return time.Time{}, err
}

// Record returns the last record read, or nil when not enrolled.
func (c *Controller) Record() *Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.record
}

// Err returns why the record could not be read, if it exists.
func (c *Controller) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(c.err, ErrNotEnrolled) {
		return nil
	}
	return c.err
}

// State says whether the laptop is enrolled.
func (c *Controller) State() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.record != nil:
		return "enrolled", fmt.Sprintf("device %s in tenant %s", c.record.DeviceID, c.record.Tenant)
	case c.err == nil || errors.Is(c.err, ErrNotEnrolled):
		return "not enrolled", "enroll this laptop with kiwistack-enroll enroll and a YubiKey"
	}
	return "error", c.err.Error()
}
