package render

import (
	"strings"
	"testing"
	"testing/fstest"
	"text/template"
)

func TestTemplates(t *testing.T) {
	ts := Templates{
		FS: fstest.MapFS{
			"files/ok":      {Data: []byte(`{{.Name}} <{{x .Name}}>`)},
			"files/missing": {Data: []byte(`{{.Nope}}`)},
			"files/bad":     {Data: []byte(`{{`)},
		},
		Dir:   "files",
		Funcs: template.FuncMap{"x": XMLEscape},
	}
	data := map[string]string{"Name": `a&"b"`}
	var ok []byte
	if err := ts.Files(data, Target{Name: "ok", Dst: &ok}); err != nil {
		t.Fatal(err)
	}
	if want := `a&"b" <a&amp;&#34;b&#34;>`; string(ok) != want {
		t.Errorf("ok = %q, want %q", ok, want)
	}
	for name, want := range map[string]string{
		"missing": "rendering missing: ",
		"bad":     "parsing template bad: ",
		"absent":  "reading template absent: ",
	} {
		var b []byte
		err := ts.Files(data, Target{Name: "ok", Dst: &ok}, Target{Name: name, Dst: &b})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want an error starting %q", name, err, want)
		}
	}
}
