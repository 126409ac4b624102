package hwid

import (
	"os"
	"strings"
	"testing"
)

func TestParseIORegRecorded(t *testing.T) {
	out, err := os.ReadFile("testdata/ioreg-macbookpro18.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseIOReg(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{SourceIOPlatformUUID, "2B8D5C7A-3E41-5F6B-9A0C-1D2E3F4A5B6C"},
		{SourceIOPlatformSerialNumber, "C02G7ABCQ05N"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("parseIOReg = %v, want %v", got, want)
	}
	fp, err := Compute(got...)
	if err != nil {
		t.Fatal(err)
	}
	if fp.Sources[0].Value != "C02G7ABCQ05N" ||
		fp.Sources[1].Value != "2b8d5c7a-3e41-5f6b-9a0c-1d2e3f4a5b6c" {
		t.Errorf("normalised sources = %v", fp.Sources)
	}
}

func TestParseIOReg(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []Source // nil: an error
	}{
		{"empty", "", nil},
		{"no keys", "+-o Root  <class IORegistryEntry>\n    {\n    }\n", nil},
		{"uuid only", `      "IOPlatformUUID" = "ABC"` + "\n", []Source{{SourceIOPlatformUUID, "ABC"}}},
		{"data value ignored", `      "IOPlatformUUID" = <"ABC">` + "\n", nil},
		{"escaped value ignored", `      "IOPlatformUUID" = "A\"B"` + "\n", nil},
		{"first wins", `"IOPlatformUUID" = "ONE"` + "\n" + `"IOPlatformUUID" = "TWO"` + "\n", []Source{{SourceIOPlatformUUID, "ONE"}}},
		{"second object ignored",
			`"IOPlatformUUID" = "ONE"` + "\n+-o Other  <class IOPlatformExpertDevice>\n" + `"IOPlatformSerialNumber" = "S"` + "\n",
			[]Source{{SourceIOPlatformUUID, "ONE"}}},
		{"crlf", "\"IOPlatformSerialNumber\" = \"S1\"\r\n", []Source{{SourceIOPlatformSerialNumber, "S1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIOReg([]byte(tt.in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("parseIOReg = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseIOReg = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("parseIOReg = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func FuzzParseIOReg(f *testing.F) {
	if out, err := os.ReadFile("testdata/ioreg-macbookpro18.txt"); err == nil {
		f.Add(out, "2B8D5C7A-3E41-5F6B-9A0C-1D2E3F4A5B6C")
	}
	f.Add([]byte(`"IOPlatformUUID" = "x"`), "y")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, out []byte, uuid string) {
		got, err := parseIOReg(out)
		if err == nil && len(got) == 0 {
			t.Fatal("no error and no sources")
		}
		for _, s := range got {
			if s.Name != SourceIOPlatformUUID && s.Name != SourceIOPlatformSerialNumber {
				t.Fatalf("unexpected source %q", s.Name)
			}
			if strings.ContainsAny(s.Value, "\"\\\n") {
				t.Fatalf("value %q holds a quote, backslash or newline", s.Value)
			}
		}
		// A value written the way ioreg writes it comes back unchanged.
		if strings.ContainsAny(uuid, "\"\\\r\n") || strings.TrimSpace(uuid) != uuid {
			return
		}
		doc := "+-o J314sAP  <class IOPlatformExpertDevice>\n    {\n      \"IOPlatformUUID\" = \"" + uuid + "\"\n    }\n"
		got, err = parseIOReg([]byte(doc))
		if err != nil || len(got) != 1 || got[0].Value != uuid {
			t.Fatalf("parseIOReg(%q) = %v, %v; want %q", doc, got, err, uuid)
		}
	})
}
