// Package shelllink writes Windows shortcuts (.lnk files) in the Shell Link
// binary format of [MS-SHLLINK], so that the launchers' Start Menu and
// Desktop shortcuts can be produced, and checked, on any OS. A shortcut
// here is: the 76-byte header, a LinkInfo structure holding the target as a
// local path on a fixed drive, the description, working directory,
// arguments and icon location as UTF-16 StringData, and the terminal block.
// It writes no LinkTargetIDList (the shell builds one from the LinkInfo
// path when it resolves the link) and no extra data. It is a pure encoder:
// it reads no file and runs nothing.
package shelllink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error Encode returns.
var ErrInvalid = errors.New("invalid shell link")

// Link is a shortcut to a program.
type Link struct {
	// Target is the program: an absolute path on a drive, printable ASCII
	// ("C:\Program Files\Google\Chrome\Application\chrome.exe"). LinkInfo
	// stores it in the system code page, which ASCII is the same in
	// everywhere.
	Target string
	// Arguments is the command line after the program, as Windows will
	// pass it (CommandLineToArgvW quoting is the caller's).
	Arguments string
	// WorkingDir is the directory the program starts in; empty for none.
	WorkingDir string
	// IconLocation is the file holding the icon (.ico, .exe, .dll); empty
	// for the target's own icon.
	IconLocation string
	// IconIndex is the icon's index in IconLocation.
	IconIndex int32
	// Description is the shortcut's tooltip (NAME_STRING); empty for none.
	Description string
}

// Flags of the header's LinkFlags field ([MS-SHLLINK] 2.1.1) this package
// sets.
const (
	HasLinkInfo     = 0x00000002
	HasName         = 0x00000004
	HasWorkingDir   = 0x00000010
	HasArguments    = 0x00000020
	HasIconLocation = 0x00000040
	IsUnicode       = 0x00000080
)

// linkCLSID is 00021401-0000-0000-C000-000000000046 in its on-disk byte
// order (the first three fields little-endian).
var linkCLSID = [16]byte{0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}

const (
	headerSize          = 0x4c
	linkInfoHeaderSize  = 0x1c
	volumeIDHeaderSize  = 0x10
	driveFixed          = 3          // DRIVE_FIXED
	swShowNormal        = 1          // SW_SHOWNORMAL
	fileAttributeNormal = 0x00000020 // FILE_ATTRIBUTE_ARCHIVE, what a program file has
	maxStringChars      = 4096       // far below the format's 65535
)

// Encode returns the shortcut as a .lnk file. The timestamps and the
// drive's serial number are zero, so equal links give equal bytes.
func (l Link) Encode() ([]byte, error) {
	if err := ValidTarget(l.Target); err != nil {
		return nil, err
	}
	flags := uint32(HasLinkInfo | IsUnicode)
	var strs []string
	for _, s := range []struct {
		flag  uint32
		name  string
		value string
	}{
		{HasName, "description", l.Description},
		{HasWorkingDir, "working directory", l.WorkingDir},
		{HasArguments, "arguments", l.Arguments},
		{HasIconLocation, "icon location", l.IconLocation},
	} {
		if s.value == "" {
			continue
		}
		if err := validString(s.value); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, s.name, err)
		}
		flags |= s.flag
		strs = append(strs, s.value)
	}

	var b bytes.Buffer
	le := binary.LittleEndian
	u32 := func(v uint32) { b.Write(le.AppendUint32(nil, v)) }
	// ShellLinkHeader (2.1).
	u32(headerSize)
	b.Write(linkCLSID[:])
	u32(flags)
	u32(fileAttributeNormal)
	b.Write(make([]byte, 3*8)) // creation, access and write times
	u32(0)                     // FileSize
	u32(uint32(l.IconIndex))
	u32(swShowNormal)
	b.Write(make([]byte, 2+2+4+4)) // HotKey, Reserved1-3

	// LinkInfo (2.3): the target as a local base path on a fixed volume
	// with an empty label, and an empty common path suffix.
	volumeID := le.AppendUint32(nil, volumeIDHeaderSize+1)
	volumeID = le.AppendUint32(volumeID, driveFixed)
	volumeID = le.AppendUint32(volumeID, 0) // DriveSerialNumber
	volumeID = le.AppendUint32(volumeID, volumeIDHeaderSize)
	volumeID = append(volumeID, 0) // the empty label
	base := append([]byte(l.Target), 0)
	volumeIDOffset := uint32(linkInfoHeaderSize)
	baseOffset := volumeIDOffset + uint32(len(volumeID))
	suffixOffset := baseOffset + uint32(len(base))
	size := suffixOffset + 1
	u32(size)
	u32(linkInfoHeaderSize)
	u32(1) // VolumeIDAndLocalBasePath
	u32(volumeIDOffset)
	u32(baseOffset)
	u32(0) // CommonNetworkRelativeLinkOffset
	u32(suffixOffset)
	b.Write(volumeID)
	b.Write(base)
	b.WriteByte(0) // CommonPathSuffix ""

	// StringData (2.4): a count of UTF-16 code units, then the units.
	for _, s := range strs {
		units := utf16.Encode([]rune(s))
		b.Write(le.AppendUint16(nil, uint16(len(units))))
		for _, u := range units {
			b.Write(le.AppendUint16(nil, u))
		}
	}
	// ExtraData: only the TerminalBlock.
	u32(0)
	return b.Bytes(), nil
}

// ValidTarget accepts what Encode takes as a target: "X:\" followed by
// printable ASCII path segments without the characters Windows forbids in
// names, under 260 characters.
func ValidTarget(p string) error {
	if len(p) < 4 || len(p) > 259 || !(p[0] >= 'A' && p[0] <= 'Z') || p[1] != ':' || p[2] != '\\' {
		return fmt.Errorf("%w: target %q: want an absolute path such as C:\\dir\\program.exe, under 260 characters", ErrInvalid, p)
	}
	for _, seg := range strings.Split(p[3:], `\`) {
		if seg == "" || seg == "." || seg == ".." || strings.TrimRight(seg, ". ") != seg || seg[0] == ' ' {
			return fmt.Errorf("%w: target %q: empty, dot or space-ended path segment", ErrInvalid, p)
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; c < 0x20 || c > 0x7e || strings.IndexByte(`<>:"/|?*`, c) >= 0 {
				return fmt.Errorf("%w: target %q: character %q is not allowed", ErrInvalid, p, c)
			}
		}
	}
	return nil
}

// validString accepts UTF-8 text without control characters, short enough
// for the shell to show.
func validString(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if n := len(utf16.Encode([]rune(s))); n > maxStringChars {
		return fmt.Errorf("%d UTF-16 units, want at most %d", n, maxStringChars)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}
