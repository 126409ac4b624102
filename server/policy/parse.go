package policy

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
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

// maxErrors bounds how many problems Parse reports at once.
const maxErrors = 20

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
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
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
	yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)
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
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Err: ErrEmpty, Msg: fmt.Sprintf("%v: want a mapping with operations (and roles, roster)", ErrEmpty)}
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(err)
		}
		return nil, &Error{Line: extra.Line, Column: extra.Column, Msg: "a second YAML document: keep one document (remove the ---)"}
	}
	ps := &parser{p: &Policy{Operations: map[string]Operation{}}}
	ps.noAnchors(&doc)
	if len(ps.errs) > 0 {
		return nil, ps.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	ps.top(root)
	if len(ps.errs) > 0 {
		return nil, ps.err()
	}
	return ps.p, nil
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

// syntaxError turns an error of the YAML parser into an *Error with its
// line when the parser gave one.
func syntaxError(err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, cerr := strconv.Atoi(m[1]); cerr == nil && n > 0 {
			return &Error{Line: n, Column: 1, Err: ErrSyntax, Msg: fmt.Sprintf("not valid YAML: %s", m[2])}
		}
	}
	return &Error{Err: ErrSyntax, Msg: fmt.Sprintf("%v (the parser gave no line): %s", ErrSyntax, strings.TrimPrefix(msg, "yaml: "))}
}

// parser collects the problems of one file.
type parser struct {
	p    *Policy
	errs []*Error
}

func (ps *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	if len(ps.errs) >= maxErrors {
		return
	}
	ps.errs = append(ps.errs, &Error{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ps *parser) err() error {
	slices.SortStableFunc(ps.errs, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	if len(ps.errs) == 1 {
		return ps.errs[0]
	}
	errs := make([]error, len(ps.errs))
	for i, e := range ps.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// noAnchors refuses anchors and aliases anywhere: they buy nothing in a
// policy and open the door to alias bombs.
func (ps *parser) noAnchors(n *yaml.Node) {
	switch {
	case n.Kind == yaml.AliasNode:
		ps.errorf(n, "", "YAML aliases (*%s) are not allowed: write the value out", n.Value)
		return
	case n.Anchor != "":
		ps.errorf(n, "", "YAML anchors (&%s) are not allowed: write the value out", n.Anchor)
	}
	for _, c := range n.Content {
		ps.noAnchors(c)
	}
}

// describe says what a node holds, for "got …" in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping calls each for every key of n, in order, after refusing
// non-mappings, non-string keys and duplicate keys.
func (ps *parser) mapping(n *yaml.Node, path string, each func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		ps.errorf(n, path, "want a mapping (key: value lines), got %s", describe(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			ps.errorf(k, path, "want a name as key, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			ps.errorf(k, join(path, k.Value), "duplicate key (first at line %d): keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		each(k.Value, k, v)
	}
	return true
}

func (ps *parser) unknown(k *yaml.Node, path, key string, known ...string) {
	ps.errorf(k, join(path, key), "unknown key: want one of %s", strings.Join(known, ", "))
}

func (ps *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		ps.errorf(n, path, "want a string, got %s (quote it if it is one)", describe(n))
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
	ps.errorf(n, path, "want true or false, got %s", describe(n))
	return false
}

func (ps *parser) positive(n *yaml.Node, path string, bits int) (uint64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" && digitsRE.MatchString(n.Value) {
		v, err := strconv.ParseUint(n.Value, 10, bits)
		if err == nil && v > 0 {
			return v, true
		}
		if err != nil {
			ps.errorf(n, path, "want a positive integer of at most %d, got %s", uint64(1)<<bits-1, describe(n))
			return 0, false
		}
	}
	ps.errorf(n, path, "want a positive integer, got %s", describe(n))
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
		ps.errorf(n, path, "want a positive duration of at most 366d such as 5m, 1h30m or 14d, got %s", describe(n))
		return 0
	}
	return d
}

// top reads the root mapping: roles first, then what depends on them.
func (ps *parser) top(root *yaml.Node) {
	var ops, roster *yaml.Node
	var rolesNode *yaml.Node
	known := []string{"tenant", "roles", "operations", "roster"}
	if !ps.mapping(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "tenant":
			if s, ok := ps.str(v, key); ok {
				if !slugRE.MatchString(s) {
					ps.errorf(v, key, "%q is not a tenant slug: 1-63 lowercase letters, digits and inner hyphens (e.g. acme-corp)", s)
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
			ps.unknown(k, "", key, known...)
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
		ps.errorf(root, "operations", "missing: add an operations mapping (see kiwistack-api policy default)")
	} else {
		ps.operations(ops)
	}
	if roster != nil {
		ps.roster(roster)
	}
}

func (ps *parser) roles(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		ps.errorf(n, "roles", "want a non-empty list of role names, most senior first, got %s", describe(n))
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
			ps.errorf(c, path, "%q is reserved (role: any means every role): pick another name", s)
		case !roleRE.MatchString(s):
			ps.errorf(c, path, "%q is not a role name: 1-32 lowercase letters, digits and inner hyphens, starting with a letter", s)
		case seen[s] > 0:
			ps.errorf(c, path, "role %q is listed twice (first at line %d): list each role once", s, seen[s])
		default:
			seen[s] = c.Line
			ps.p.Roles = append(ps.p.Roles, s)
		}
	}
}

// knownRole checks a role name against the policy's roles.
func (ps *parser) knownRole(n *yaml.Node, path, role string) bool {
	if ps.p.rank(role) < 0 {
		ps.errorf(n, path, "unknown role %q: want one of %s (or add it to roles)", role, strings.Join(ps.p.Roles, ", "))
		return false
	}
	return true
}

func (ps *parser) operations(n *yaml.Node) {
	ps.mapping(n, "operations", func(name string, k, v *yaml.Node) {
		path := join("operations", name)
		if !nameRE.MatchString(name) {
			ps.errorf(k, path, "not an operation name: 1-64 lowercase letters, digits and underscores, starting with a letter")
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
	before := len(ps.errs)
	known := []string{"sensitivity", "sigs_required", "role", "roles", "window", "delay", "operator_cosign", "cancellable"}
	if !ps.mapping(n, path, func(key string, kn, v *yaml.Node) {
		nodes[key] = v
		p := join(path, key)
		switch key {
		case "sensitivity":
			s, _ := ps.str(v, p)
			if s != "" {
				if !slices.Contains(sensitivities, Sensitivity(s)) {
					ps.errorf(v, p, "want low, medium, high or critical, got %q", s)
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
				ps.errorf(v, p, "want a non-empty list of roles, e.g. [founder, sysadmin], got %s", describe(v))
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
			ps.unknown(kn, path, key, known...)
		}
	}) {
		return op, false
	}
	if len(ps.errs) > before {
		return op, false
	}
	for _, req := range []string{"sensitivity", "sigs_required"} {
		if nodes[req] == nil {
			ps.errorf(k, join(path, req), "missing: every operation needs sensitivity and sigs_required")
		}
	}
	switch {
	case nodes["role"] != nil && nodes["roles"] != nil:
		ps.errorf(nodes["roles"], path, "role and roles both given: keep one (role: the minimum role of every signer; roles: one signature from each)")
	case nodes["role"] == nil && nodes["roles"] == nil:
		ps.errorf(k, path, "missing role or roles: say who may sign (role: any, role: sysadmin, or roles: [founder, sysadmin])")
	case op.SigsRequired > 0 && op.SigsRequired < len(op.Roles):
		ps.errorf(nodes["sigs_required"], join(path, "sigs_required"), "%d is fewer than the %d roles listed: roles asks for one signature from each", op.SigsRequired, len(op.Roles))
	}
	if op.Sensitivity == Critical && nodes["window"] == nil {
		ps.errorf(k, join(path, "window"), "missing: a critical operation needs a window to collect its signatures in (e.g. window: 5m)")
	}
	if op.Cancellable && nodes["delay"] == nil {
		ps.errorf(nodes["cancellable"], join(path, "cancellable"), "only a delayed operation can be cancelled: add a delay (e.g. delay: 7d) or remove cancellable")
	}
	if name == "policy_change" && op.Sensitivity != "" && op.Sensitivity != Critical {
		ps.errorf(nodes["sensitivity"], join(path, "sensitivity"), "policy_change must be critical: changing the policy is a critical operation")
	}
	return op, len(ps.errs) == before
}

func (ps *parser) roster(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		ps.errorf(n, "roster", "want a list of keys (- serial: …), got %s", describe(n))
		return
	}
	serials := map[uint32]int{}
	for i, c := range n.Content {
		path := fmt.Sprintf("roster[%d]", i)
		var e RosterEntry
		var serialNode *yaml.Node
		seen := map[string]bool{}
		known := []string{"serial", "admin", "role", "public_key_sha256", "certificate", "attestation", "burned"}
		if !ps.mapping(c, path, func(key string, k, v *yaml.Node) {
			seen[key] = true
			p := join(path, key)
			switch key {
			case "serial":
				if s, ok := ps.positive(v, p, 32); ok {
					e.Serial, serialNode = uint32(s), v
				}
			case "admin":
				if s, ok := ps.str(v, p); ok {
					if msg := checkAdmin(s); msg != "" {
						ps.errorf(v, p, "%s", msg)
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
						ps.errorf(v, p, "want 64 lowercase hexadecimal digits (as keys provision prints them)")
					}
					e.PublicKeySHA256 = s
				}
			case "certificate":
				if s, ok := ps.str(v, p); ok {
					if b, _ := pem.Decode([]byte(s)); b == nil || b.Type != "CERTIFICATE" {
						ps.errorf(v, p, "want a PEM certificate (-----BEGIN CERTIFICATE-----), as keys provision prints it")
					}
					e.Certificate = s
				}
			case "attestation":
				e.Attestation = ps.attestation(v, p)
			case "burned":
				e.Burned = ps.boolean(v, p)
			default:
				ps.unknown(k, path, key, known...)
			}
		}) {
			continue
		}
		for _, req := range []string{"serial", "admin", "role"} {
			if !seen[req] {
				ps.errorf(c, join(path, req), "missing: every roster entry needs serial, admin and role")
			}
		}
		if serialNode != nil {
			if first, dup := serials[e.Serial]; dup {
				ps.errorf(serialNode, join(path, "serial"), "serial %d is already in the roster at line %d: one entry per key", e.Serial, first)
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
	ps.mapping(n, path, func(key string, k, v *yaml.Node) {
		dst, ok := fields[key]
		if !ok {
			ps.unknown(k, path, key, "firmware", "form_factor", "pin_policy", "touch_policy", "root", "f9", "statement")
			return
		}
		if s, ok := ps.str(v, join(path, key)); ok {
			*dst = s
		}
	})
	return a
}
