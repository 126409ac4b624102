// Package render renders the embedded templates of the package builders
// (packaging/deb, packaging/msi, packaging/pkg) with the project's strict
// options: a key missing from the data is an error, never "<no value>". It
// owns the template mechanics and the escaping functions templates share; it
// does not know any package format, file name or where the output goes.
package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io/fs"
	"strings"
	"text/template"
)

// Templates are the templates in directory Dir of FS, rendered with Funcs.
type Templates struct {
	FS    fs.FS
	Dir   string           // the directory of FS holding the templates, such as "files"
	Funcs template.FuncMap // may be nil
}

// File renders the template name with data. It is a pure function of the
// template and data.
func (ts Templates) File(name string, data any) ([]byte, error) {
	src, err := fs.ReadFile(ts.FS, ts.Dir+"/"+name)
	if err != nil {
		return nil, fmt.Errorf("reading template %s: %w", name, err)
	}
	t, err := template.New(name).Funcs(ts.Funcs).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parsing template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// Target is a template to render and where its output goes.
type Target struct {
	Name string  // the template's file name in Templates.Dir
	Dst  *[]byte // receives the rendered bytes
}

// Files renders every target with data, in order, and stops at the first
// error.
func (ts Templates) Files(data any, targets ...Target) error {
	for _, f := range targets {
		b, err := ts.File(f.Name, data)
		if err != nil {
			return err
		}
		*f.Dst = b
	}
	return nil
}

// XMLEscape escapes s for XML text and attribute values.
func XMLEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder never fail
	return b.String()
}
