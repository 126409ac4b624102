package policy

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Marshal renders p as a policies/authorization.yaml that Parse reads back
// to an equal policy: roles, operations grouped by sensitivity (most
// sensitive first, then by name), then the roster in its order.
func Marshal(p *Policy) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	root.HeadComment = "policies/authorization.yaml: who must sign what (docs/policy.md).\n" +
		"Changing this file is itself the critical operation policy_change."
	if p.Tenant != "" {
		add(root, "tenant", str(p.Tenant))
	}
	roles := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, r := range p.Roles {
		roles.Content = append(roles.Content, str(r))
	}
	add(root, "roles", roles)
	roles.LineComment = "most senior first"

	ops := &yaml.Node{Kind: yaml.MappingNode}
	names := slices.SortedFunc(maps.Keys(p.Operations), func(a, b string) int {
		sa, sb := slices.Index(sensitivities, p.Operations[a].Sensitivity), slices.Index(sensitivities, p.Operations[b].Sensitivity)
		return cmp.Or(cmp.Compare(sb, sa), cmp.Compare(a, b))
	})
	for _, name := range names {
		ops.Content = append(ops.Content, str(name), operationNode(p.Operations[name]))
	}
	add(root, "operations", ops)

	roster := &yaml.Node{Kind: yaml.SequenceNode}
	if len(p.Roster) == 0 {
		roster.Style = yaml.FlowStyle
	}
	for _, e := range p.Roster {
		roster.Content = append(roster.Content, rosterNode(e))
	}
	add(root, "roster", roster)
	if len(p.Roster) == 0 {
		roster.LineComment = "add the entries kiwistack-enroll keys provision prints"
	}

	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding the policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the policy: %w", err)
	}
	return b.Bytes(), nil
}

func str(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	return n
}

func scalar(tag, v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func operationNode(op Operation) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	add(n, "sensitivity", str(string(op.Sensitivity)))
	add(n, "sigs_required", scalar("!!int", strconv.Itoa(op.SigsRequired)))
	if op.Role != "" {
		add(n, "role", str(op.Role))
	}
	if len(op.Roles) > 0 {
		roles := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, r := range op.Roles {
			roles.Content = append(roles.Content, str(r))
		}
		add(n, "roles", roles)
	}
	if op.Window > 0 {
		add(n, "window", str(formatDuration(op.Window)))
	}
	if op.Delay > 0 {
		add(n, "delay", str(formatDuration(op.Delay)))
	}
	if op.OperatorCosign {
		add(n, "operator_cosign", scalar("!!bool", "true"))
	}
	if op.Cancellable {
		add(n, "cancellable", scalar("!!bool", "true"))
	}
	return n
}

func rosterNode(e RosterEntry) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	add(n, "serial", scalar("!!int", strconv.FormatUint(uint64(e.Serial), 10)))
	add(n, "admin", str(e.Admin))
	add(n, "role", str(e.Role))
	opt := func(m *yaml.Node, key, v string) {
		if v != "" {
			add(m, key, str(v))
		}
	}
	opt(n, "public_key_sha256", e.PublicKeySHA256)
	opt(n, "certificate", e.Certificate)
	if a := e.Attestation; a != (Attestation{}) {
		m := &yaml.Node{Kind: yaml.MappingNode}
		opt(m, "firmware", a.Firmware)
		opt(m, "form_factor", a.FormFactor)
		opt(m, "pin_policy", a.PINPolicy)
		opt(m, "touch_policy", a.TouchPolicy)
		opt(m, "root", a.Root)
		opt(m, "f9", a.F9)
		opt(m, "statement", a.Statement)
		add(n, "attestation", m)
	}
	if e.Burned {
		add(n, "burned", scalar("!!bool", "true"))
	}
	return n
}
