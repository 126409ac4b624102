package renew

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for errors.Is, one per Class.
var (
	// ErrTransient: the CA could not be reached or failed (network,
	// timeout, 5xx). Retry with backoff.
	ErrTransient = errors.New("certificate authority unavailable")
	// ErrMalformed: the CA answered something that is not a usable,
	// verified certificate. Retry with backoff.
	ErrMalformed = errors.New("malformed renewal response")
	// ErrUntrustedCA: the server's TLS certificate does not chain to the
	// pinned tenant root. Nothing was sent; retry with backoff (it may be a
	// captive portal).
	ErrUntrustedCA = errors.New("certificate authority not trusted")
	// ErrRevoked: the CA refused because the certificate is revoked.
	// Renewal stops for good.
	ErrRevoked = errors.New("certificate revoked")
	// ErrReEnroll: the CA refused because the certificate expired longer
	// ago than the grace window. Renewal stops; the device must re-enroll.
	ErrReEnroll = errors.New("re-enrollment needed")
	// ErrRefused: the CA refused renewal (401 or 403) for another reason.
	// Renewal stops for good.
	ErrRefused = errors.New("renewal refused")
)

// Class says what a caller does about a failed renewal.
type Class int

// The classes of failure, see the sentinels of the same names.
const (
	ClassTransient Class = iota + 1
	ClassMalformed
	ClassUntrusted
	ClassRevoked
	ClassReEnroll
	ClassRefused
)

// Terminal reports whether renewal must stop for good after this class.
func (c Class) Terminal() bool {
	return c == ClassRevoked || c == ClassReEnroll || c == ClassRefused
}

func (c Class) sentinel() error {
	switch c {
	case ClassTransient:
		return ErrTransient
	case ClassMalformed:
		return ErrMalformed
	case ClassUntrusted:
		return ErrUntrustedCA
	case ClassRevoked:
		return ErrRevoked
	case ClassReEnroll:
		return ErrReEnroll
	case ClassRefused:
		return ErrRefused
	}
	return ErrTransient
}

// String returns the class's name.
func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassMalformed:
		return "malformed"
	case ClassUntrusted:
		return "untrusted"
	case ClassRevoked:
		return "revoked"
	case ClassReEnroll:
		return "re-enroll"
	case ClassRefused:
		return "refused"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a failed renewal. Status and Message are the CA's answer (the
// message is shortened and stripped of control characters, so it is safe to
// log); Err is the cause. errors.Is matches the sentinel of its Class.
type Error struct {
	Class   Class
	Status  int    // HTTP status, 0 if there was no answer
	Message string // the CA's message, if any
	Err     error
}

// Error describes the failure.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("renewing certificate: ")
	b.WriteString(e.Class.sentinel().Error())
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %q", e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the class's sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class.sentinel()}
	}
	return []error{e.Class.sentinel(), e.Err}
}

// ClassOf returns the class of err: that of an *Error in its chain, or
// ClassTransient for anything else.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassTransient
}

// safeMessage keeps an untrusted message short and printable.
func safeMessage(s string) string {
	const limit = 200
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return s
}
