package msi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func testData(t *testing.T) Data {
	t.Helper()
	d, err := DefaultData("v0.1.0-3-gabc1234", "amd64", 2026)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRenderGolden(t *testing.T) {
	r, err := Render(testData(t))
	if err != nil {
		t.Fatal(err)
	}
	pkgtest.CheckGolden(t, *update,
		pkgtest.Artefact{Name: "kiwistack.wxs", Data: r.WXS},
		pkgtest.Artefact{Name: "enroll.yaml", Data: r.Config},
		pkgtest.Artefact{Name: "README.txt", Data: r.Readme},
		pkgtest.Artefact{Name: "LICENSE.txt", Data: r.License},
		pkgtest.Artefact{Name: "fixups.sql", Data: []byte(strings.Join(r.Fixups, ";\n") + ";\n")},
	)
}

// TestWXSWellFormed parses the WiX source as XML, with a product name that
// needs escaping; wixl itself reads it in TestBuild.
func TestWXSWellFormed(t *testing.T) {
	d := testData(t)
	d.ProductName = `Kiwi "Stack" <&>`
	r, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(r.WXS))
	var names []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the WiX source is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Product" {
			for _, a := range se.Attr {
				if a.Name.Local == "Name" {
					names = append(names, a.Value)
				}
			}
		}
	}
	if len(names) != 1 || names[0] != d.ProductName {
		t.Errorf("Product Name round-trips as %q, want %q", names, d.ProductName)
	}
}

// TestConfigParses reads the default enroll.yaml with the enroller's own
// strict parser: every key known, every value empty.
func TestConfigParses(t *testing.T) {
	r, err := Render(testData(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := enroll.ParseConfig(r.Config)
	if err != nil {
		t.Fatalf("the enroller refuses the packaged enroll.yaml: %v", err)
	}
	if c != (enroll.Config{}) {
		t.Errorf("the packaged enroll.yaml is not empty: %+v", c)
	}
	for _, key := range []string{"api:", "tenant:", "root_fingerprint:"} {
		if !bytes.Contains(r.Config, []byte("\n"+key)) {
			t.Errorf("enroll.yaml does not name %s", key)
		}
	}
}

func TestUnsupportedArch(t *testing.T) {
	if _, err := DefaultData("v0.1.0", "arm64", 2026); !errors.Is(err, ErrUnsupportedArch) {
		t.Errorf("arm64: %v, want ErrUnsupportedArch", err)
	}
}
