package policy

import (
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/internal/yamlnode"
)

// MaxSize is the largest policy file Parse accepts, in bytes.
const MaxSize = 1 << 20

// Sentinels for problems of the whole file, which may have no line.
var (
	ErrTooLarge = errors.New("policy file too large")
	ErrNotUTF8  = errors.New("policy file is not valid UTF-8")
	ErrEmpty    = errors.New("policy file is empty")
	ErrSyntax   = errors.New("policy file is not valid YAML")
)

// Error is one problem of a policy file. Line and Column are 1-based; Line
// is 0 only for a problem of the whole file, and then Err says which.
type Error struct {
	Line, Column int
	// Path names the key, e.g. operations.add_admin.sigs_required.
	Path string
	// Msg says what is wrong and what to do.
	Msg string
	// Err is one of the sentinels above, or nil.
	Err error
}

func (e *Error) Error() string {
	return yamlnode.Problem{Line: e.Line, Column: e.Column, Path: e.Path, Msg: e.Msg}.String()
}

// Unwrap returns the sentinel, if any.
func (e *Error) Unwrap() error { return e.Err }

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	roleRE   = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$`)
	slugRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
	daysRE   = regexp.MustCompile(`^([0-9]{1,4})d$`)
	hexRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Parse reads a policy file (seed "Authorization & trust", Z4; docs/policy.md)
// strictly: unknown or duplicate keys, wrong types, anchors and aliases,
// more than one document and invalid UTF-8 are refused, then the policy is
// validated. Every error is an *Error, or several joined with errors.Join
// in file order.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, &Error{Err: ErrTooLarge, Msg: fmt.Sprintf("%v: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxSize)}
	}
	if !utf8.Valid(data) {
		line, col := position(data)
		return nil, &Error{Line: line, Column: col, Err: ErrNotUTF8, Msg: fmt.Sprintf("%v: save the file as UTF-8", ErrNotUTF8)}
	}
	root, err := yamlnode.Decode(data)
	if err != nil {
		var se *yamlnode.SyntaxError
		var xe *yamlnode.ExtraDocumentError
		switch {
		case errors.Is(err, yamlnode.ErrEmpty):
			return nil, &Error{Err: ErrEmpty, Msg: fmt.Sprintf("%v: want a mapping with operations (and roles, roster)", ErrEmpty)}
		case errors.As(err, &xe):
			return nil, &Error{Line: xe.Line, Column: xe.Column, Msg: "a second YAML document: keep one document (remove the ---)"}
		case errors.As(err, &se) && se.Line > 0:
			return nil, &Error{Line: se.Line, Column: 1, Err: ErrSyntax, Msg: fmt.Sprintf("not valid YAML: %s", se.Msg)}
		case se != nil:
			return nil, &Error{Err: ErrSyntax, Msg: fmt.Sprintf("%v (the parser gave no line): %s", ErrSyntax, se.Msg)}
		}
		return nil, err
	}
	ps := &parser{p: &Policy{Operations: map[string]Operation{}}}
	ps.NoAnchors(root)
	if err := ps.Err(wrapProblem); err != nil {
		return nil, err
	}
	ps.top(root)
	if err := ps.Err(wrapProblem); err != nil {
		return nil, err
	}
	return ps.p, nil
}

func wrapProblem(pr yamlnode.Problem) error {
	return &Error{Line: pr.Line, Column: pr.Column, Path: pr.Path, Msg: pr.Msg}
}

// position returns the line and column of the first invalid UTF-8 byte.
func position(data []byte) (line, col int) {
	line, col = 1, 1
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		if r == utf8.RuneError && n <= 1 {
			return line, col
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[n:]
	}
	return line, col
}

// parser reads one file into p, collecting its problems.
type parser struct {
	yamlnode.Reader
	p *Policy
}

func (ps *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		ps.Errorf(n, path, "want a string, got %s (quote it if it is one)", yamlnode.Describe(n))
		return "", false
	}
	return n.Value, true
}

func (ps *parser) boolean(n *yaml.Node, path string) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	}
	ps.Errorf(n, path, "want true or false, got %s", yamlnode.Describe(n))
	return false
}

func (ps *parser) positive(n *yaml.Node, path string, bits int) (uint64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" && digitsRE.MatchString(n.Value) {
		v, err := strconv.ParseUint(n.Value, 10, bits)
		if err == nil && v > 0 {
			return v, true
		}
		if err != nil {
			ps.Errorf(n, path, "want a positive integer of at most %d, got %s", uint64(1)<<bits-1, yamlnode.Describe(n))
			return 0, false
		}
	}
	ps.Errorf(n, path, "want a positive integer, got %s", yamlnode.Describe(n))
	return 0, false
}

func (ps *parser) duration(n *yaml.Node, path string) time.Duration {
	var d time.Duration
	var err error
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		err = errors.New("not a scalar")
	} else if m := daysRE.FindStringSubmatch(n.Value); m != nil {
		days, _ := strconv.Atoi(m[1])
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(n.Value)
	}
	if err != nil || d <= 0 || d > MaxDuration {
		ps.Errorf(n, path, "want a positive duration of at most 366d such as 5m, 1h30m or 14d, got %s", yamlnode.Describe(n))
		return 0
	}
	return d
}

// top reads the root mapping: roles first, then what depends on them.
func (ps *parser) top(root *yaml.Node) {
	var ops, roster *yaml.Node
	var rolesNode *yaml.Node
	known := []string{"tenant", "roles", "operations", "roster"}
	if !ps.Mapping(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "tenant":
			if s, ok := ps.str(v, key); ok {
				if !slugRE.MatchString(s) {
					ps.Errorf(v, key, "%q is not a tenant slug: 1-63 lowercase letters, digits and inner hyphens (e.g. acme-corp)", s)
				}
				ps.p.Tenant = s
			}
		case "roles":
			rolesNode = v
		case "operations":
			ops = v
		case "roster":
			roster = v
		default:
			ps.Unknown(k, "", known...)
		}
	}) {
		return
	}
	if rolesNode != nil {
		ps.roles(rolesNode)
	} else {
		ps.p.Roles = slices.Clone(DefaultRoles)
	}
	if ops == nil {
		ps.Errorf(root, "operations", "missing: add an operations mapping (see kiwistack-api policy default)")
	} else {
		ps.operations(ops)
	}
	if roster != nil {
		ps.roster(roster)
	}
}

func (ps *parser) roles(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		ps.Errorf(n, "roles", "want a non-empty list of role names, most senior first, got %s", yamlnode.Describe(n))
		return
	}
	seen := map[string]int{}
	for i, c := range n.Content {
		path := fmt.Sprintf("roles[%d]", i)
		s, ok := ps.str(c, path)
		if !ok {
			continue
		}
		switch {
		case s == AnyRole:
			ps.Errorf(c, path, "%q is reserved (role: any means every role): pick another name", s)
		case !roleRE.MatchString(s):
			ps.Errorf(c, path, "%q is not a role name: 1-32 lowercase letters, digits and inner hyphens, starting with a letter", s)
		case seen[s] > 0:
			ps.Errorf(c, path, "role %q is listed twice (first at line %d): list each role once", s, seen[s])
		default:
			seen[s] = c.Line
			ps.p.Roles = append(ps.p.Roles, s)
		}
	}
}

// knownRole checks a role name against the policy's roles.
func (ps *parser) knownRole(n *yaml.Node, path, role string) bool {
	if ps.p.rank(role) < 0 {
		ps.Errorf(n, path, "unknown role %q: want one of %s (or add it to roles)", role, strings.Join(ps.p.Roles, ", "))
		return false
	}
	return true
}

func (ps *parser) operations(n *yaml.Node) {
	ps.Mapping(n, "operations", func(name string, k, v *yaml.Node) {
		path := yamlnode.Join("operations", name)
		if !nameRE.MatchString(name) {
			ps.Errorf(k, path, "not an operation name: 1-64 lowercase letters, digits and underscores, starting with a letter")
			return
		}
		if op, ok := ps.operation(name, path, k, v); ok {
			ps.p.Operations[name] = op
		}
	})
}

func (ps *parser) operation(name, path string, k, n *yaml.Node) (Operation, bool) {
	var op Operation
	nodes := map[string]*yaml.Node{}
	before := ps.Len()
	known := []string{"sensitivity", "sigs_required", "role", "roles", "window", "delay", "operator_cosign", "cancellable"}
	if !ps.Mapping(n, path, func(key string, kn, v *yaml.Node) {
		nodes[key] = v
		p := yamlnode.Join(path, key)
		switch key {
		case "sensitivity":
			s, _ := ps.str(v, p)
			if s != "" {
				if !slices.Contains(sensitivities, Sensitivity(s)) {
					ps.Errorf(v, p, "want low, medium, high or critical, got %q", s)
				}
				op.Sensitivity = Sensitivity(s)
			}
		case "sigs_required":
			if v, ok := ps.positive(v, p, 8); ok {
				op.SigsRequired = int(v)
			}
		case "role":
			if s, ok := ps.str(v, p); ok && (s == AnyRole || ps.knownRole(v, p, s)) {
				op.Role = s
			}
		case "roles":
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				ps.Errorf(v, p, "want a non-empty list of roles, e.g. [founder, sysadmin], got %s", yamlnode.Describe(v))
				return
			}
			for i, c := range v.Content {
				cp := fmt.Sprintf("%s[%d]", p, i)
				if s, ok := ps.str(c, cp); ok && ps.knownRole(c, cp, s) {
					op.Roles = append(op.Roles, s)
				}
			}
		case "window":
			op.Window = ps.duration(v, p)
		case "delay":
			op.Delay = ps.duration(v, p)
		case "operator_cosign":
			op.OperatorCosign = ps.boolean(v, p)
		case "cancellable":
			op.Cancellable = ps.boolean(v, p)
		default:
			ps.Unknown(kn, path, known...)
		}
	}) {
		return op, false
	}
	if ps.Len() > before {
		return op, false
	}
	for _, req := range []string{"sensitivity", "sigs_required"} {
		if nodes[req] == nil {
			ps.Errorf(k, yamlnode.Join(path, req), "missing: every operation needs sensitivity and sigs_required")
		}
	}
	switch {
	case nodes["role"] != nil && nodes["roles"] != nil:
		ps.Errorf(nodes["roles"], path, "role and roles both given: keep one (role: the minimum role of every signer; roles: one signature from each)")
	case nodes["role"] == nil && nodes["roles"] == nil:
		ps.Errorf(k, path, "missing role or roles: say who may sign (role: any, role: sysadmin, or roles: [founder, sysadmin])")
	case op.SigsRequired > 0 && op.SigsRequired < len(op.Roles):
		ps.Errorf(nodes["sigs_required"], yamlnode.Join(path, "sigs_required"), "%d is fewer than the %d roles listed: roles asks for one signature from each", op.SigsRequired, len(op.Roles))
	}
	if op.Sensitivity == Critical && nodes["window"] == nil {
		ps.Errorf(k, yamlnode.Join(path, "window"), "missing: a critical operation needs a window to collect its signatures in (e.g. window: 5m)")
	}
	if op.Cancellable && nodes["delay"] == nil {
		ps.Errorf(nodes["cancellable"], yamlnode.Join(path, "cancellable"), "only a delayed operation can be cancelled: add a delay (e.g. delay: 7d) or remove cancellable")
	}
	if name == "policy_change" && op.Sensitivity != "" && op.Sensitivity != Critical {
		ps.Errorf(nodes["sensitivity"], yamlnode.Join(path, "sensitivity"), "policy_change must be critical: changing the policy is a critical operation")
	}
	return op, ps.Len() == before
}

func (ps *parser) roster(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		ps.Errorf(n, "roster", "want a list of keys (- serial: …), got %s", yamlnode.Describe(n))
		return
	}
	serials := map[uint32]int{}
	for i, c := range n.Content {
		path := fmt.Sprintf("roster[%d]", i)
		var e RosterEntry
		var serialNode *yaml.Node
		seen := map[string]bool{}
		known := []string{"serial", "admin", "role", "public_key_sha256", "certificate", "attestation", "burned"}
		if !ps.Mapping(c, path, func(key string, k, v *yaml.Node) {
			seen[key] = true
			p := yamlnode.Join(path, key)
			switch key {
			case "serial":
				if s, ok := ps.positive(v, p, 32); ok {
					e.Serial, serialNode = uint32(s), v
				}
			case "admin":
				if s, ok := ps.str(v, p); ok {
					if msg := checkAdmin(s); msg != "" {
						ps.Errorf(v, p, "%s", msg)
					}
					e.Admin = s
				}
			case "role":
				if s, ok := ps.str(v, p); ok && ps.knownRole(v, p, s) {
					e.Role = s
				}
			case "public_key_sha256":
				if s, ok := ps.str(v, p); ok {
					if !hexRE.MatchString(s) {
						ps.Errorf(v, p, "want 64 lowercase hexadecimal digits (as keys provision prints them)")
					}
					e.PublicKeySHA256 = s
				}
			case "certificate":
				if s, ok := ps.str(v, p); ok {
					if b, _ := pem.Decode([]byte(s)); b == nil || b.Type != "CERTIFICATE" {
						ps.Errorf(v, p, "want a PEM certificate (-----BEGIN CERTIFICATE-----), as keys provision prints it")
					}
					e.Certificate = s
				}
			case "attestation":
				e.Attestation = ps.attestation(v, p)
			case "burned":
				e.Burned = ps.boolean(v, p)
			default:
				ps.Unknown(k, path, known...)
			}
		}) {
			continue
		}
		for _, req := range []string{"serial", "admin", "role"} {
			if !seen[req] {
				ps.Errorf(c, yamlnode.Join(path, req), "missing: every roster entry needs serial, admin and role")
			}
		}
		if serialNode != nil {
			if first, dup := serials[e.Serial]; dup {
				ps.Errorf(serialNode, yamlnode.Join(path, "serial"), "serial %d is already in the roster at line %d: one entry per key", e.Serial, first)
			} else {
				serials[e.Serial] = serialNode.Line
			}
		}
		ps.p.Roster = append(ps.p.Roster, e)
	}
}

// checkAdmin applies the rules of the certificate's CN to an admin name.
func checkAdmin(s string) string {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > 64 {
		return "want the admin's name, 1-64 characters"
	}
	if s != strings.TrimSpace(s) {
		return "the name starts or ends with a space: remove it"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "the name holds a control character: remove it"
		}
	}
	return ""
}

func (ps *parser) attestation(n *yaml.Node, path string) Attestation {
	var a Attestation
	fields := map[string]*string{
		"firmware": &a.Firmware, "form_factor": &a.FormFactor, "pin_policy": &a.PINPolicy,
		"touch_policy": &a.TouchPolicy, "root": &a.Root, "f9": &a.F9, "statement": &a.Statement,
	}
	ps.Mapping(n, path, func(key string, k, v *yaml.Node) {
		dst, ok := fields[key]
		if !ok {
			ps.Unknown(k, path, "firmware", "form_factor", "pin_policy", "touch_policy", "root", "f9", "statement")
			return
		}
		if s, ok := ps.str(v, yamlnode.Join(path, key)); ok {
			*dst = s
		}
	})
	return a
}
