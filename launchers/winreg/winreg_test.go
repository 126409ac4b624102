package winreg

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

var sample = []Value{
	{Key: `SOFTWARE\Policies\Chromium`, Name: "AuthServerAllowlist", Kind: String, String: "*.od.acme.kiwistack.io"},
	{Key: `SOFTWARE\Policies\Chromium`, Name: "AuthNegotiateDelegateAllowlist", Kind: Delete},
	{Key: `SOFTWARE\Classes\KiwiStackURL\shell\open\command`, Kind: String, String: `"C:\Program Files\KiwiStack\kiwistack-agent.exe" dispatch "%1"`},
	{Key: `SOFTWARE\Classes\KiwiStackURL`, Name: "URL Protocol", Kind: String},
	{Key: `SOFTWARE\Policies\Chromium`, Name: "Ünïcode", Kind: String, String: "Mail · Calendar"},
	{Key: `SOFTWARE\Policies\Chromium`, Name: "DisableAuthNegotiateCnameLookup", Kind: DWORD, DWord: 1},
	{Key: `SOFTWARE\Policies\Chromium\AutoSelectCertificateForUrls`, Kind: DeleteKey},
	{Key: `SOFTWARE\Policies\Chromium\AutoSelectCertificateForUrls`, Name: "1", Kind: String, String: `{"pattern":"https://[*.]x"}`},
	{Key: `SOFTWARE\Policies\Chromium\Gone`, Kind: DeleteKey},
	{Key: `SOFTWARE\Policies\Chromium`, Name: "Off", Kind: DWORD},
}

func decode(t *testing.T, b []byte) string {
	t.Helper()
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xfe || len(b)%2 != 0 {
		t.Fatalf("no UTF-16LE byte-order mark: % x", b[:min(len(b), 4)])
	}
	units := make([]uint16, 0, len(b)/2)
	for i := 2; i < len(b); i += 2 {
		units = append(units, uint16(b[i])|uint16(b[i+1])<<8)
	}
	return string(utf16.Decode(units))
}

// The exact text: values grouped under their key in first-seen order,
// strings quoted with '\' and '"' escaped, '@' for a default value, "=-"
// for a deletion, "dword:" and eight hex digits for a DWORD, "[-key]" for a
// deleted key (before its block when values follow), CRLF line ends. (Wine's reg imports the rendered files in
// the windows package's tests.)
func TestRegFile(t *testing.T) {
	b, err := RegFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := "Windows Registry Editor Version 5.00\r\n" +
		"\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Chromium]\r\n" +
		"\"AuthServerAllowlist\"=\"*.od.acme.kiwistack.io\"\r\n" +
		"\"AuthNegotiateDelegateAllowlist\"=-\r\n" +
		"\"Ünïcode\"=\"Mail · Calendar\"\r\n" +
		"\"DisableAuthNegotiateCnameLookup\"=dword:00000001\r\n" +
		"\"Off\"=dword:00000000\r\n" +
		"\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\KiwiStackURL\\shell\\open\\command]\r\n" +
		"@=\"\\\"C:\\\\Program Files\\\\KiwiStack\\\\kiwistack-agent.exe\\\" dispatch \\\"%1\\\"\"\r\n" +
		"\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\KiwiStackURL]\r\n" +
		"\"URL Protocol\"=\"\"\r\n" +
		"\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Chromium\\AutoSelectCertificateForUrls]\r\n" +
		"\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Chromium\\AutoSelectCertificateForUrls]\r\n" +
		"\"1\"=\"{\\\"pattern\\\":\\\"https://[*.]x\\\"}\"\r\n" +
		"\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Chromium\\Gone]\r\n" +
		"\r\n"
	if got := decode(t, b); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Apply sets and deletes exactly what the values say, case-insensitively as
// the registry does: a list that was longer leaves no stale item ("2",
// "3"), a deleted key takes its subkeys' values too, and a DWORD is a
// DWORD.
func TestApply(t *testing.T) {
	var m MemStore
	if err := m.SetString(`software\policies\chromium`, "authnegotiatedelegateallowlist", "old"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2", "3"} {
		if err := m.SetString(`SOFTWARE\Policies\Chromium\AutoSelectCertificateForUrls`, n, "stale "+n); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.SetDWORD(`SOFTWARE\Policies\Chromium\gone\sub`, "x", 7); err != nil {
		t.Fatal(err)
	}
	if err := m.SetString(`SOFTWARE\Policies\ChromiumOther`, "kept", "not below Chromium\\Gone"); err != nil {
		t.Fatal(err)
	}
	if err := Apply(&m, sample); err != nil {
		t.Fatal(err)
	}
	var got []Value
	for _, v := range sample {
		if w, ok := m.Values[memID(v.Key, v.Name)]; ok {
			got = append(got, w)
		}
	}
	var want []Value
	for _, v := range sample {
		if v.Kind != Delete && v.Kind != DeleteKey {
			want = append(want, v)
		}
	}
	if !reflect.DeepEqual(got, want) || len(m.Values) != len(want)+1 {
		t.Errorf("store holds %v, want %v and ChromiumOther's value", m.Values, want)
	}
	if v := m.Values[memID(`software\policies\chromium\autoselectcertificateforurls`, "1")]; v.String != `{"pattern":"https://[*.]x"}` {
		t.Errorf("list item 1: %+v", v)
	}
	if v := m.Values[memID(`software\policies\chromium`, "disableauthnegotiatecnamelookup")]; v.Kind != DWORD || v.DWord != 1 {
		t.Errorf("DWORD: %+v", v)
	}
}

func TestValidateRejects(t *testing.T) {
	for _, v := range []Value{
		{Key: "", Name: "x", Kind: String},
		{Key: `SOFTWARE\\x`, Name: "x", Kind: String},
		{Key: `SOFTWARE\x]`, Name: "x", Kind: String},
		{Key: "SOFTWARE\nx", Name: "x", Kind: String},
		{Key: `SOFTWARE\` + strings.Repeat("k", 256), Name: "x", Kind: String},
		{Key: "SOFTWARE", Name: "a\x00b", Kind: String},
		{Key: "SOFTWARE", Name: "x", Kind: String, String: "line\r\nbreak"},
		{Key: "SOFTWARE", Name: "x", Kind: 0},
		{Key: "SOFTWARE", Name: "\xff", Kind: String},
		{Key: "SOFTWARE", Name: "x", Kind: 5},
		{Key: "SOFTWARE", Name: "x", Kind: DWORD, String: "1"},
		{Key: "SOFTWARE", Name: "x", Kind: String, DWord: 1},
		{Key: "SOFTWARE", Name: "x", Kind: Delete, DWord: 1},
		{Key: `SOFTWARE\Policies\Chromium`, Kind: DeleteKey, String: "x"},
		{Key: `SOFTWARE\Policies\Chromium`, Name: "x", Kind: DeleteKey},
		{Key: `SOFTWARE\Policies`, Kind: DeleteKey},
		{Key: `SOFTWARE`, Kind: DeleteKey},
	} {
		if _, err := RegFile([]Value{v}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v accepted", v)
		}
		if err := Apply(&MemStore{}, []Value{v}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Apply accepted %+v", v)
		}
	}
	twice := []Value{{Key: `SOFTWARE\X`, Name: "n", Kind: String}, {Key: `software\x`, Name: "N", Kind: Delete}}
	if err := Validate(twice); !errors.Is(err, ErrInvalid) {
		t.Errorf("the same value twice accepted")
	}
	// A key deletion after a value at or below its key would delete that
	// value: refused, in any case.
	for _, before := range []Value{
		{Key: `SOFTWARE\Policies\Chromium\List`, Name: "1", Kind: String, String: "a"},
		{Key: `software\policies\chromium\list\sub`, Name: "x", Kind: DWORD, DWord: 1},
		{Key: `SOFTWARE\Policies\Chromium\List`, Kind: DeleteKey},
	} {
		late := []Value{before, {Key: `SOFTWARE\Policies\Chromium\List`, Kind: DeleteKey}}
		if err := Validate(late); !errors.Is(err, ErrInvalid) {
			t.Errorf("a key deletion after %+v accepted", before)
		}
	}
	sibling := []Value{{Key: `SOFTWARE\Policies\Chromium\ListOther`, Name: "1", Kind: String}, {Key: `SOFTWARE\Policies\Chromium\List`, Kind: DeleteKey}}
	if err := Validate(sibling); err != nil {
		t.Errorf("a key deletion after a sibling's value refused: %v", err)
	}
}

// Off Windows there is no machine registry to open; on Windows there is.
func TestOpenMachine(t *testing.T) {
	s, err := OpenMachine()
	if errors.Is(err, ErrUnsupported) {
		if s != nil {
			t.Errorf("a store with ErrUnsupported")
		}
		return
	}
	if err != nil || s == nil {
		t.Errorf("OpenMachine: %v %v", s, err)
	}
}
