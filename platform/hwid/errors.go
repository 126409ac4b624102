package hwid

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoStrongSource is what a [*ReadError] matches with errors.Is.
var ErrNoStrongSource = errors.New("no strong hardware identifier could be read")

// ErrPlaceholder is the reason recorded for a value that firmware or an
// image ships instead of a real identifier ("To Be Filled By O.E.M.", an
// all-zero UUID, ...).
var ErrPlaceholder = errors.New("placeholder value, not an identifier")

// Attempt is one source that was tried and gave nothing.
type Attempt struct {
	Source string // one of the Source constants
	Path   string // file, command or registry key read; may be empty
	Err    error  // why it gave nothing
}

// String describes the attempt in one phrase.
func (a Attempt) String() string {
	if a.Path == "" {
		return fmt.Sprintf("%s: %v", a.Source, a.Err)
	}
	return fmt.Sprintf("%s (%s): %v", a.Source, a.Path, a.Err)
}

// ReadError reports that no strong source could be read. It names every
// source tried, why each failed, and what to do.
type ReadError struct {
	Attempts []Attempt // every source tried that gave nothing
	Hints    []string  // what the user can do, most useful first
}

// Error returns one line: the failure, each attempt, then the hints.
func (e *ReadError) Error() string {
	var b strings.Builder
	b.WriteString("reading hardware fingerprint: ")
	b.WriteString(ErrNoStrongSource.Error())
	if len(e.Attempts) > 0 {
		b.WriteString("; tried ")
		for i, a := range e.Attempts {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.String())
		}
	}
	for _, h := range e.Hints {
		b.WriteString("; ")
		b.WriteString(h)
	}
	b.WriteString("; or pass --hardware-fingerprint to override")
	return b.String()
}

// Is reports whether target is [ErrNoStrongSource].
func (e *ReadError) Is(target error) bool { return target == ErrNoStrongSource }
