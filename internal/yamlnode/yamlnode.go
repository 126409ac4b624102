// Package yamlnode reads configuration files strictly over the node tree of
// go.yaml.in/yaml/v3: one document, no anchors or aliases, no duplicate or
// non-string keys, and every problem positioned at LINE:COLUMN. A Reader
// collects several problems so a file can be fixed in one pass.
//
// It owns the walking and the wording of these structural problems only;
// what the keys mean, which are known or required and how values are
// checked belong to each parser, which wraps the problems in its own error
// type.
package yamlnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrEmpty is returned by Decode for input that holds no document.
var ErrEmpty = errors.New("no YAML document")

// SyntaxError is a problem the YAML parser found. Line is 1-based, or 0 when
// the parser gave no line; Msg is the parser's message without its "yaml: "
// prefix (and without the line when Line is set).
type SyntaxError struct {
	Line int
	Msg  string
	// Err is the parser's error.
	Err error
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Unwrap returns the parser's error.
func (e *SyntaxError) Unwrap() error { return e.Err }

// ExtraDocumentError reports a second document (after ---) at Line:Column.
type ExtraDocumentError struct {
	Line, Column int
}

func (e *ExtraDocumentError) Error() string {
	return fmt.Sprintf("%d:%d: a second YAML document", e.Line, e.Column)
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// Decode parses the single YAML document of data and returns its root node
// (the document's content). The error is ErrEmpty, a *SyntaxError or an
// *ExtraDocumentError.
func Decode(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(err)
		}
		return nil, &ExtraDocumentError{Line: extra.Line, Column: extra.Column}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, nil
}

func syntaxError(err error) *SyntaxError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, cerr := strconv.Atoi(m[1]); cerr == nil && n > 0 {
			return &SyntaxError{Line: n, Msg: m[2], Err: err}
		}
	}
	return &SyntaxError{Msg: strings.TrimPrefix(msg, "yaml: "), Err: err}
}

// MaxProblems bounds how many problems a Reader keeps.
const MaxProblems = 20

// Problem is one problem of a file at Line:Column (1-based).
type Problem struct {
	Line, Column int
	// Path names the key, e.g. ca.device_provisioner.key_file.
	Path string
	// Msg says what is wrong and what to do.
	Msg string
}

// String returns "LINE:COLUMN: PATH: MSG", leaving out the position when
// Line is 0 and the path when it is empty.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// A Reader collects the problems of one file, up to MaxProblems. The zero
// value is ready to use.
type Reader struct {
	problems []Problem
}

// Errorf records a problem at n.
func (r *Reader) Errorf(n *yaml.Node, path, format string, args ...any) {
	if len(r.problems) < MaxProblems {
		r.problems = append(r.problems, Problem{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
}

// Len returns how many problems are recorded.
func (r *Reader) Len() int { return len(r.problems) }

// Err returns nil without problems, the one problem wrapped by wrap, or all
// of them wrapped and joined with errors.Join, in file order.
func (r *Reader) Err(wrap func(Problem) error) error {
	if len(r.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(r.problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	if len(r.problems) == 1 {
		return wrap(r.problems[0])
	}
	errs := make([]error, len(r.problems))
	for i, p := range r.problems {
		errs[i] = wrap(p)
	}
	return errors.Join(errs...)
}

// NoAnchors refuses anchors and aliases anywhere below n: they buy nothing
// in a configuration and open the door to alias bombs.
func (r *Reader) NoAnchors(n *yaml.Node) {
	switch {
	case n.Kind == yaml.AliasNode:
		r.Errorf(n, "", "YAML aliases (*%s) are not allowed: write the value out", n.Value)
		return
	case n.Anchor != "":
		r.Errorf(n, "", "YAML anchors (&%s) are not allowed: write the value out", n.Anchor)
	}
	for _, c := range n.Content {
		r.NoAnchors(c)
	}
}

// Describe says what a node holds, for "got …" in messages.
func Describe(n *yaml.Node) string {
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

// Join returns the path of key below path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Mapping calls each for every key of n, in order, after refusing
// non-mappings, non-string keys and duplicate keys. It reports false when n
// is not a mapping.
func (r *Reader) Mapping(n *yaml.Node, path string, each func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		r.Errorf(n, path, "want a mapping (key: value lines), got %s", Describe(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			r.Errorf(k, path, "want a name as key, got %s", Describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			r.Errorf(k, Join(path, k.Value), "duplicate key (first at line %d): keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		each(k.Value, k, v)
	}
	return true
}

// Unknown records an unknown key k below path.
func (r *Reader) Unknown(k *yaml.Node, path string, known ...string) {
	r.Errorf(k, Join(path, k.Value), "unknown key: want one of %s", strings.Join(known, ", "))
}
