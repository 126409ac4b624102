package bitlocker

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The outputs in testdata follow manage-bde's layout (Microsoft's
// manage-bde -protectors documentation); no Windows runs here.
func TestParseProtectors(t *testing.T) {
	pw, err := os.ReadFile("testdata/passwords.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(pw))
	add, _ := os.ReadFile("testdata/manage-bde-add.txt")
	ps, err := ParseProtectors(add)
	if err != nil || len(ps) != 1 || ps[0].ID != "{3B2A6F10-7C1D-4E55-9A2B-0C8D9E1F2A3B}" || ps[0].Password.String() != want[0] {
		t.Fatalf("add output: %+v %v", ps, err)
	}
	get, _ := os.ReadFile("testdata/manage-bde-get.txt")
	ps, err = ParseProtectors(get)
	if err != nil || len(ps) != 2 || ps[0].Password.String() != want[1] || ps[1].Password.String() != want[0] {
		t.Fatalf("get output: %+v %v", ps, err)
	}
	bad := strings.Replace(string(get), want[1][:6], "123457", 1)
	if _, err := ParseProtectors([]byte(bad)); err == nil || !strings.Contains(err.Error(), "typo") {
		t.Errorf("a damaged password: %v", err)
	}
	if _, err := ParseProtectors([]byte("ID: {nope}\n")); err == nil {
		t.Error("a bad id was accepted")
	}
	if got := DeleteCommand("C:", "{X}"); !slices.Equal(got, []string{ManageBDE, "-protectors", "-delete", "C:", "-id", "{X}"}) {
		t.Errorf("delete argv %q", got)
	}
	if got := AddCommand("C:"); !slices.Contains(got, "-RecoveryPassword") || len(got) != 5 {
		t.Errorf("add argv %q", got)
	}
}

func FuzzParseProtectors(f *testing.F) {
	b, _ := os.ReadFile("testdata/manage-bde-get.txt")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseProtectors(b)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !ValidID(p.ID) {
				t.Fatalf("invalid id %q returned", p.ID)
			}
		}
	})
}
