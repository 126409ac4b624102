package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrLockout is returned by CheckFile when the file's roster cannot sign
// some of its operations.
var ErrLockout = errors.New("the roster cannot sign every operation")

// CheckFile validates the policy file at path for `kiwistack-api policy
// check`. It writes a summary to w when the file is valid, and returns the
// problems prefixed with path (path:line:column: key: problem), one a line.
// A valid file whose non-empty roster cannot sign some operation fails with
// ErrLockout, since a policy_change to it would be refused; a file without a
// roster (a template) is only told so.
func CheckFile(w io.Writer, path string) error {
	p, err := LoadFile(path)
	if err != nil {
		return err
	}
	burned := 0
	for _, e := range p.Roster {
		if e.Burned {
			burned++
		}
	}
	fmt.Fprintf(w, "%s: valid: %d operations, roles %s, %d roster keys (%d burned)\n",
		path, len(p.Operations), strings.Join(p.Roles, " > "), len(p.Roster), burned)
	if len(p.Roster) == 0 {
		fmt.Fprintf(w, "%s: no roster, so the lock-out check was skipped: add the entries kiwistack-enroll keys provision prints\n", path)
		return nil
	}
	lockouts := LockoutCheck(p, p.Roster)
	if len(lockouts) == 0 {
		return nil
	}
	lines := make([]string, len(lockouts))
	for i, l := range lockouts {
		lines[i] = fmt.Sprintf("%s: operations.%s: cannot be signed with this roster: %s", path, l.Operation, l.Reason)
	}
	return fmt.Errorf("%w (add keys with the missing roles, or lower the requirement):\n%s", ErrLockout, strings.Join(lines, "\n"))
}

// LoadFile reads and parses the policy file at path; problems are prefixed
// with path (path:line:column: key: problem), one a line.
func LoadFile(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the policy %s: %w", path, err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, prefixErrors(path, err)
	}
	return p, nil
}

// prefixErrors puts path in front of every problem Parse returned, keeping
// the *Error values reachable with errors.As.
func prefixErrors(path string, err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, len(list))
	for i, e := range list {
		var pe *Error
		if errors.As(e, &pe) && pe.Line > 0 {
			out[i] = fmt.Errorf("%s:%w", path, e)
		} else {
			out[i] = fmt.Errorf("%s: %w", path, e)
		}
	}
	return errors.Join(out...)
}

// WriteDefault writes the default policy of tenant (Default) as YAML, for
// `kiwistack-api policy default`. tenant may be empty.
func WriteDefault(w io.Writer, tenant string) error {
	if tenant != "" && !slugRE.MatchString(tenant) {
		return fmt.Errorf("tenant %q: a tenant slug is 1-63 lowercase letters, digits and inner hyphens (e.g. acme-corp)", tenant)
	}
	b, err := Marshal(Default(tenant))
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
