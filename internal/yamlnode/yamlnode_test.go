package yamlnode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// check reads a mapping with the keys name (required) and port.
func check(data []byte) ([]string, error) {
	root, err := Decode(data)
	if err != nil {
		return nil, err
	}
	var r Reader
	r.NoAnchors(root)
	if r.Len() == 0 {
		seen := map[string]bool{}
		known := []string{"name", "port"}
		if r.Mapping(root, "", func(key string, k, v *yaml.Node) {
			seen[key] = true
			if !slices.Contains(known, key) {
				r.Unknown(k, "", known...)
				return
			}
			if v.Kind != yaml.ScalarNode {
				r.Errorf(v, key, "want a scalar, got %s", Describe(v))
			}
		}) && !seen["name"] {
			r.Errorf(root, "name", "missing")
		}
	}
	var msgs []string
	err = r.Err(func(p Problem) error {
		m := fmt.Sprintf("%d:%d: %s: %s", p.Line, p.Column, p.Path, p.Msg)
		msgs = append(msgs, m)
		return errors.New(m)
	})
	return msgs, err
}

func TestMalformed(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"duplicate key", "name: a\nname: b\n", []string{"2:1: name: duplicate key (first at line 1): keep one"}},
		{"anchor", "name: &x a\nport: 1\n", []string{"1:7: : YAML anchors (&x) are not allowed: write the value out"}},
		{"alias", "name: &x a\nport: *x\n", []string{
			"1:7: : YAML anchors (&x) are not allowed: write the value out",
			"2:7: : YAML aliases (*x) are not allowed: write the value out"}},
		{"not a mapping", "- a\n", []string{`1:1: : want a mapping (key: value lines), got a list`}},
		{"scalar root", "hello\n", []string{`1:1: : want a mapping (key: value lines), got "hello"`}},
		{"wrong kind", "name: [a]\n", []string{"1:7: name: want a scalar, got a list"}},
		{"non-string key", "1: a\nname: b\n", []string{`1:1: : want a name as key, got "1"`}},
		{"null key", "~: a\nname: b\n", []string{`1:1: : want a name as key, got nothing`}},
		{"unknown key", "name: a\nhost: b\n", []string{"2:1: host: unknown key: want one of name, port"}},
		{"missing key", "port: 1\n", []string{"1:1: name: missing"}},
		{"several in file order", "port: {}\nport: 2\nx: 1\n", []string{
			"1:1: name: missing",
			"1:7: port: want a scalar, got a mapping",
			"2:1: port: duplicate key (first at line 1): keep one",
			"3:1: x: unknown key: want one of name, port"}},
		{"long key", strings.Repeat("a", 50) + ": 1\nname: b\n", []string{
			"1:1: " + strings.Repeat("a", 50) + ": unknown key: want one of name, port"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := check([]byte(tt.in))
			if (err != nil) != (len(tt.want) > 0) {
				t.Fatalf("err = %v, want %d problems", err, len(tt.want))
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDecode(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		check    func(error) bool
	}{
		{"empty", "", func(err error) bool { return errors.Is(err, ErrEmpty) }},
		{"comment only", "# nothing\n", func(err error) bool { return errors.Is(err, ErrEmpty) }},
		{"second document", "a: 1\n---\nb: 2\n", func(err error) bool {
			var xe *ExtraDocumentError
			return errors.As(err, &xe) && xe.Line == 2 && xe.Column == 1
		}},
		{"syntax with line", "a: 1\n  b: 2\n", func(err error) bool {
			var se *SyntaxError
			return errors.As(err, &se) && se.Line == 2 && !strings.HasPrefix(se.Msg, "yaml:")
		}},
		{"syntax in second document", "a: 1\n---\n[\n", func(err error) bool {
			var se *SyntaxError
			return errors.As(err, &se)
		}},
		{"one document", "a: 1\n", func(err error) bool { return err == nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			if !tt.check(err) {
				t.Errorf("Decode(%q) = %v (%T)", tt.in, err, err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	long := strings.Repeat("a", 50)
	for _, tt := range []struct {
		n    *yaml.Node
		want string
	}{
		{&yaml.Node{Kind: yaml.MappingNode}, "a mapping"},
		{&yaml.Node{Kind: yaml.SequenceNode}, "a list"},
		{&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, "nothing"},
		{&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: long}, `"` + long[:40] + `…"`},
		{&yaml.Node{Kind: yaml.AliasNode}, "something else"},
	} {
		if got := Describe(tt.n); got != tt.want {
			t.Errorf("Describe(%v) = %q, want %q", tt.n.Kind, got, tt.want)
		}
	}
}

func TestMaxProblems(t *testing.T) {
	var b strings.Builder
	for i := range 2 * MaxProblems {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	got, _ := check([]byte(b.String()))
	if len(got) != MaxProblems {
		t.Errorf("%d problems, want %d", len(got), MaxProblems)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"name: a\nport: 1\n", "name: &x a\nport: *x\n", "a: 1\n---\n", "[", "name: a\nname: b\n", "? [a]\n: b\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := check(data)
		if err == nil && len(msgs) > 0 {
			t.Fatalf("problems %q without an error", msgs)
		}
		if len(msgs) > MaxProblems {
			t.Fatalf("%d problems", len(msgs))
		}
		for i := 1; i < len(msgs); i++ {
			var l0, c0, l1, c1 int
			fmt.Sscanf(msgs[i-1], "%d:%d:", &l0, &c0)
			fmt.Sscanf(msgs[i], "%d:%d:", &l1, &c1)
			if l1 < l0 || (l1 == l0 && c1 < c0) {
				t.Fatalf("problems out of order: %q", msgs)
			}
		}
	})
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{Line: 3, Column: 5, Path: "a.b", Msg: "bad"}, "3:5: a.b: bad"},
		{Problem{Line: 3, Column: 5, Msg: "bad"}, "3:5: bad"},
		{Problem{Path: "a", Msg: "bad"}, "a: bad"},
		{Problem{Msg: "bad"}, "bad"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}
