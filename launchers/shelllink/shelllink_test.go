package shelllink

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/kiwistack/endpoint/launchers/internal/realtool"
)

// parsed is what parse reads back from a .lnk, independently of Encode.
type parsed struct {
	flags, attrs, showCommand uint32
	iconIndex                 int32
	target                    string
	strings                   map[uint32]string
}

// parse reads a .lnk as [MS-SHLLINK] describes it, checking every size and
// offset, and fails on anything this package does not write.
func parse(t *testing.T, b []byte) parsed {
	t.Helper()
	le := binary.LittleEndian
	need := func(n int) {
		t.Helper()
		if len(b) < n {
			t.Fatalf("truncated: need %d bytes, have %d", n, len(b))
		}
	}
	need(0x4c)
	if le.Uint32(b) != 0x4c || [16]byte(b[4:20]) != linkCLSID {
		t.Fatalf("bad header % x", b[:20])
	}
	var p parsed
	p.flags = le.Uint32(b[20:])
	p.attrs = le.Uint32(b[24:])
	for i := 28; i < 52; i++ {
		if b[i] != 0 {
			t.Errorf("timestamps are not zero")
		}
	}
	p.iconIndex = int32(le.Uint32(b[56:]))
	p.showCommand = le.Uint32(b[60:])
	if p.flags&0x1 != 0 || p.flags&HasLinkInfo == 0 || p.flags&IsUnicode == 0 {
		t.Fatalf("flags %#x", p.flags)
	}
	off := 0x4c
	need(off + 0x1c)
	size := int(le.Uint32(b[off:]))
	need(off + size)
	info := b[off : off+size]
	if le.Uint32(info[4:]) != 0x1c || le.Uint32(info[8:]) != 1 || le.Uint32(info[20:]) != 0 {
		t.Fatalf("LinkInfo header % x", info[:0x1c])
	}
	cstr := func(at uint32) string {
		t.Helper()
		if int(at) >= len(info) {
			t.Fatalf("offset %d outside LinkInfo (%d bytes)", at, len(info))
		}
		s := info[at:]
		n := 0
		for n < len(s) && s[n] != 0 {
			n++
		}
		if n == len(s) {
			t.Fatalf("unterminated string at %d", at)
		}
		return string(s[:n])
	}
	vol := info[le.Uint32(info[12:]):]
	if le.Uint32(vol) != 17 || le.Uint32(vol[4:]) != 3 || le.Uint32(vol[12:]) != 16 {
		t.Errorf("VolumeID % x", vol[:17])
	}
	p.target = cstr(le.Uint32(info[16:])) + cstr(le.Uint32(info[24:]))
	off += size
	p.strings = map[uint32]string{}
	for _, f := range []uint32{HasName, 0x8, HasWorkingDir, HasArguments, HasIconLocation} {
		if p.flags&f == 0 {
			continue
		}
		need(off + 2)
		n := int(le.Uint16(b[off:]))
		need(off + 2 + 2*n)
		units := make([]uint16, n)
		for i := range units {
			units[i] = le.Uint16(b[off+2+2*i:])
		}
		p.strings[f] = string(utf16.Decode(units))
		off += 2 + 2*n
	}
	need(off + 4)
	if le.Uint32(b[off:]) != 0 || off+4 != len(b) {
		t.Errorf("no terminal block at %d, or %d trailing bytes", off, len(b)-off-4)
	}
	return p
}

var chrome = Link{
	Target:       `C:\Program Files\Google\Chrome\Application\chrome.exe`,
	Arguments:    "--app=https://mail.od.acme.kiwistack.io/ --profile-directory=Work",
	WorkingDir:   `C:\Program Files\Google\Chrome\Application`,
	IconLocation: `C:\Program Files\KiwiStack\icons\kiwistack-mail.ico`,
	IconIndex:    0,
	Description:  "Mail · Calendar · Contacts · Tasks (OX App Suite)",
}

// The encoding, read back by an independent parser and by Debian's lnkinfo
// (liblnk): the target, arguments, working directory, icon and the
// description beyond ASCII. (lnkinfo 20181227 prints the show-window value
// as 0 whatever the file holds, so that field is checked by the parser
// only.)
func TestEncodeReadBack(t *testing.T) {
	for _, l := range []Link{chrome, {Target: `D:\x.exe`}, {Target: chrome.Target, Arguments: `--app="x y"`, IconIndex: 3}} {
		b, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		p := parse(t, b)
		if p.target != l.Target || p.iconIndex != l.IconIndex || p.showCommand != 1 || p.attrs != 0x20 {
			t.Errorf("%+v read back as %+v", l, p)
		}
		for f, want := range map[uint32]string{HasName: l.Description, HasWorkingDir: l.WorkingDir, HasArguments: l.Arguments, HasIconLocation: l.IconLocation} {
			got, set := p.strings[f]
			if got != want || set != (want != "") {
				t.Errorf("string %#x = %q (set %v), want %q", f, got, set, want)
			}
		}
		path := filepath.Join(t.TempDir(), "x.lnk")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := realtool.Run(t, "lnkinfo", "liblnk-utils", path)
		if err != nil {
			t.Fatalf("lnkinfo: %v\n%s", err, out)
		}
		for _, want := range []struct{ label, value string }{
			{"Local path", l.Target}, {"Command line arguments", l.Arguments}, {"Working directory", l.WorkingDir},
			{"Icon location", l.IconLocation}, {"Description", l.Description}, {"Drive type", "Fixed (3)"},
		} {
			if want.value == "" {
				if strings.Contains(out, want.label+"\t") {
					t.Errorf("lnkinfo shows a %s that was not set:\n%s", want.label, out)
				}
				continue
			}
			if !strings.Contains(out, "\t"+want.label+"\t") || !strings.Contains(out, ": "+want.value+"\n") {
				t.Errorf("lnkinfo does not show %s %q:\n%s", want.label, want.value, out)
			}
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, l := range []Link{
		{Target: "chrome.exe"},
		{Target: `\\server\share\chrome.exe`},
		{Target: `c:\lower\drive.exe`},
		{Target: `C:\a\..\b.exe`},
		{Target: `C:\a\\b.exe`},
		{Target: `C:\a\b.exe.`},
		{Target: `C:\a\b|c.exe`},
		{Target: `C:\Program Files\Jörg\chrome.exe`},
		{Target: `C:\` + strings.Repeat("a", 260)},
		{Target: chrome.Target, Arguments: "--app=x\r\ncalc.exe"},
		{Target: chrome.Target, Description: "\x00"},
		{Target: chrome.Target, IconLocation: strings.Repeat("a", maxStringChars+1)},
		{Target: chrome.Target, WorkingDir: "\xff"},
	} {
		if _, err := l.Encode(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v accepted (%v)", l, err)
		}
	}
}
