package status

import (
	"fmt"
	"io"
	"time"
)

// WriteText writes s for a person: what is, and what to do next.
func WriteText(w io.Writer, s *Status) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	switch e := s.Enrollment; {
	case e.Enrolled:
		p("enrolled:     device %s in tenant %s", e.DeviceID, e.Tenant)
	case e.Error != "":
		p("enrolled:     the enrollment record is damaged: %s", e.Error)
	default:
		p("enrolled:     no; enroll this laptop with `kiwistack-enroll enroll` and a YubiKey")
	}
	if c := s.Certificate; c != nil {
		p("certificate:  %s, serial %s, valid until %s", c.State, c.Serial, ts(c.NotAfter))
		if !c.NextRenewal.IsZero() {
			p("next renewal: %s", ts(c.NextRenewal))
		}
		if !c.LastRenewal.IsZero() {
			p("renewed:      %s", ts(c.LastRenewal))
		}
		if c.LastError != "" {
			p("last error:   %s (%d failed attempts)", c.LastError, c.Failures)
		}
		if c.ReEnroll {
			p("action:       re-enroll this laptop with a YubiKey: kiwistack-enroll enroll --reenroll")
		}
		for _, warn := range c.Warnings {
			p("warning:      %s", warn)
		}
	}
	if c := s.Commands; c != nil {
		p("device:       %s remotely by the tenant's administrators", c.State)
		if l := c.Last; l != nil {
			p("  command:    %s %s (operation %s) at %s: %s, %s", l.Kind, l.ID, l.OperationID, ts(l.RanAt), l.Result, l.Message)
		}
		p("action:       contact the tenant's administrators; the laptop must be re-enrolled")
	}
	p("tunnel:       %s", s.Tunnel.State)
	if t := s.Tunnel; t.Address != "" {
		p("  address:    %s on %s (%s), hub %s", t.Address, t.Interface, t.Backend, t.Endpoint)
	}
	if t := s.Tunnel; !t.LastHandshake.IsZero() {
		p("  handshake:  %s", ts(t.LastHandshake))
	}
	if d := s.Directory; d != nil {
		line := "directory:    " + d.State
		if d.Realm != "" {
			line += ", realm " + d.Realm
		}
		if d.Message != "" {
			line += ": " + d.Message
		}
		p("%s", line)
	}
	if d := s.Disk; d != nil {
		line := "disk:         " + d.State
		if d.EscrowID != "" && d.Slot != nil {
			line += fmt.Sprintf(", recovery key in slot %d of %s escrowed as %s", *d.Slot, d.Volume, d.EscrowID)
		}
		if d.Message != "" {
			line += ": " + d.Message
		}
		p("%s", line)
	}
	if a := s.AppCertificate; a != nil {
		p("app certs:    %s", a.State)
		for _, u := range a.Users {
			switch {
			case u.Installed && u.Expired:
				p("  %-11s expired %s (%s)", u.User+":", ts(u.NotAfter), u.Store)
			case u.Installed:
				p("  %-11s until %s (%s)", u.User+":", ts(u.NotAfter), u.Store)
			default:
				p("  %-11s none (%s)", u.User+":", u.Store)
			}
		}
		if a.Message != "" {
			p("  %s", a.Message)
		}
	}
	p("resume:       %s", s.Resume)
	p("running since %s", ts(s.Started))
	for _, c := range s.Controllers {
		line := fmt.Sprintf("  %-12s %s", c.Name, c.State)
		if c.Message != "" {
			line += ": " + c.Message
		}
		if c.LastError != "" {
			line += " (last error: " + c.LastError + ")"
		}
		p("%s", line)
	}
	return nil
}
