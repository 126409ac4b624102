package pkg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
	"github.com/kiwistack/endpoint/packaging/pkg/internal/bomread"
)

// maxSize is the size target for each installer.
const maxSize = 25 << 20

// TestPackage builds the package of the real binaries and inspects it with
// tools that share no code with the writers: libarchive's xar reader
// (bsdtar), GNU cpio and bsdcpio for the Payload and Scripts, file(1) for
// the universal binaries, cksum(1) for the Bom's checksums, and the
// independent Bom reader (internal/bomread, proven on Apple's Bom).
func TestPackage(t *testing.T) {
	bsdtar := pkgtest.RequireTool(t, "bsdtar", "libarchive-tools")
	cpio := pkgtest.RequireTool(t, "cpio", "cpio")
	bsdcpio := pkgtest.RequireTool(t, "bsdcpio", "libarchive-tools")
	file := pkgtest.RequireTool(t, "file", "file")
	dir := t.TempDir()
	p, built := buildTestPkg(t, "v0.1.0-3-gabc1234", dir)
	if filepath.Base(p) != "kiwistack_0.1.0.3_universal.pkg" {
		t.Errorf("file name %s", filepath.Base(p))
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.1f MB, %d payload entries, %d KB installed", filepath.Base(p), float64(st.Size())/1e6, built.NumberOfFiles, built.InstallKBytes)
	if st.Size() > maxSize {
		t.Errorf("package of %d bytes, over the 25 MB target", st.Size())
	}

	// The archive's layout, as bsdtar lists it and as Apple lays it out:
	// Distribution at the top, the component's directory with its files.
	out, err := exec.Command(bsdtar, "-tf", p).CombinedOutput()
	if err != nil {
		t.Fatalf("bsdtar -tf: %v\n%s", err, out)
	}
	want := []string{"Distribution", ComponentName, ComponentName + "/Bom", ComponentName + "/PackageInfo", ComponentName + "/Payload", ComponentName + "/Scripts"}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("bsdtar lists %v, want %v", got, want)
	}
	apple, err := exec.Command(bsdtar, "-tf", "testdata/apple/Sample.pkg").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"Distribution", "base.pkg/Bom", "base.pkg/PackageInfo", "base.pkg/Payload"} {
		if !strings.Contains(string(apple), m) {
			t.Errorf("Apple's package has no %s: the layout compared against changed", m)
		}
	}
	x := filepath.Join(dir, "x")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bsdtar, "-xf", p, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("bsdtar -xf: %v\n%s", err, out)
	}
	comp := filepath.Join(x, ComponentName)
	info, _ := os.ReadFile(filepath.Join(comp, "PackageInfo"))
	dist, _ := os.ReadFile(filepath.Join(x, "Distribution"))
	for _, w := range []string{`identifier="io.kiwistack.endpoint"`, `version="0.1.0.3"`, `install-location="/"`,
		fmt.Sprintf(`numberOfFiles="%d"`, built.NumberOfFiles), `<postinstall file="./postinstall"/>`} {
		if !bytes.Contains(info, []byte(w)) {
			t.Errorf("PackageInfo lacks %s:\n%s", w, info)
		}
	}
	for _, w := range []string{`hostArchitectures="x86_64,arm64"`, `<os-version min="14.0"/>`, `>#kiwistack.pkg</pkg-ref>`} {
		if !bytes.Contains(dist, []byte(w)) {
			t.Errorf("Distribution lacks %s:\n%s", w, dist)
		}
	}

	// Payload: GNU cpio and bsdcpio list the same entries, owners and modes.
	payload := filepath.Join(x, "payload")
	if err := os.Mkdir(payload, 0o755); err != nil {
		t.Fatal(err)
	}
	listing := cpioList(t, cpio, filepath.Join(comp, "Payload"))
	if b := cpioList(t, bsdcpio, filepath.Join(comp, "Payload")); fmt.Sprint(b) != fmt.Sprint(listing) {
		t.Errorf("bsdcpio lists\n%v\nGNU cpio\n%v", b, listing)
	}
	wantPayload := map[string]string{
		".":                                  "drwxr-xr-x 0 0",
		"./Applications":                     "drwxrwxr-x 0 80",
		"./Applications/KiwiStack":           "drwxr-xr-x 0 0",
		"." + DispatcherBundle:               "drwxr-xr-x 0 0",
		"." + DispatcherBundle + "/Contents": "drwxr-xr-x 0 0",
		"." + DispatcherBundle + "/Contents/MacOS":                    "drwxr-xr-x 0 0",
		"." + BundleInfoPath:                                          "-rw-r--r-- 0 0",
		"." + BundleAgentPath:                                         "-rwxr-xr-x 0 0",
		"./Library":                                                   "drwxr-xr-x 0 0",
		"./Library/Application Support":                               "drwxr-xr-x 0 80",
		"./Library/Application Support/KiwiStack":                     "drwxr-xr-x 0 0",
		"./Library/Application Support/KiwiStack/enroll.yaml.default": "-rw-r--r-- 0 0",
		"./Library/LaunchDaemons":                                     "drwxr-xr-x 0 0",
		"./Library/LaunchDaemons/io.kiwistack.agent.plist":            "-rw-r--r-- 0 0",
		"./Library/Logs":                                              "drwxr-xr-x 0 80",
		"./Library/Logs/KiwiStack":                                    "drwxr-xr-x 0 0",
		"./usr":                                                       "drwxr-xr-x 0 0",
		"./usr/local":                                                 "drwxr-xr-x 0 0",
		"./usr/local/bin":                                             "drwxr-xr-x 0 0",
		"./usr/local/bin/kiwistack-agent":                             "lrwxr-xr-x 0 0 -> " + BundleAgentPath,
		"./usr/local/bin/kiwistack-enroll":                            "-rwxr-xr-x 0 0",
		"./usr/local/share":                                           "drwxr-xr-x 0 0",
		"./usr/local/share/doc":                                       "drwxr-xr-x 0 0",
		"./usr/local/share/doc/kiwistack":                             "drwxr-xr-x 0 0",
		"./usr/local/share/doc/kiwistack/LICENSE":                     "-rw-r--r-- 0 0",
	}
	if len(listing) != len(wantPayload) || len(listing) != built.NumberOfFiles {
		t.Errorf("payload has %d entries, want %d (PackageInfo says %d)", len(listing), len(wantPayload), built.NumberOfFiles)
	}
	for _, l := range listing {
		if w, ok := wantPayload[l.name]; !ok || w != l.attrs {
			t.Errorf("payload entry %s: %q, want %q", l.name, l.attrs, w)
		}
	}
	cmd := exec.Command("sh", "-c", `gzip -dc "$1" | cpio -idm --quiet`, "sh", filepath.Join(comp, "Payload"))
	cmd.Dir = payload
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("extracting the payload: %v\n%s", err, out)
	}
	if target, err := os.Readlink(filepath.Join(payload, AgentPath)); err != nil || target != BundleAgentPath {
		t.Errorf("%s extracts as a link to %q (%v), want %s", AgentPath, target, err, BundleAgentPath)
	}
	if info, err := os.ReadFile(filepath.Join(payload, BundleInfoPath)); err != nil || !bytes.Contains(info, []byte("<string>kiwistack-agent</string>")) {
		t.Errorf("%s: %v\n%s", BundleInfoPath, err, info)
	}
	for _, b := range []string{EnrollPath, BundleAgentPath} {
		out, err := exec.Command(file, "-b", filepath.Join(payload, b)).Output()
		if err != nil || !strings.Contains(string(out), "Mach-O universal binary with 2 architectures") ||
			!strings.Contains(string(out), "x86_64") || !strings.Contains(string(out), "arm64") {
			t.Errorf("file %s: %s, %v", b, out, err)
		}
	}

	// Scripts: preinstall and postinstall, executable, owned by root.
	scripts := cpioList(t, cpio, filepath.Join(comp, "Scripts"))
	if got := fmt.Sprint(scripts); got != "[{. drwxr-xr-x 0 0} {./postinstall -rwxr-xr-x 0 0} {./preinstall -rwxr-xr-x 0 0}]" {
		t.Errorf("Scripts: %s", got)
	}

	// Bom: the independent reader finds exactly the payload, with the
	// modes, owners and sizes on disk and cksum(1)'s checksums.
	bb, err := os.ReadFile(filepath.Join(comp, "Bom"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bomread.Read(bb)
	if err != nil {
		t.Fatal(err)
	}
	paths := b.Sorted()
	if len(paths) != len(listing) {
		t.Fatalf("Bom lists %d paths, the payload %d", len(paths), len(listing))
	}
	for i, bp := range paths {
		l := listing[i]
		attrs := fmt.Sprintf("%s %d %d", modeString(bp.Mode), bp.UID, bp.GID)
		if bp.Type == 3 {
			attrs += " -> " + bp.Link
		}
		if bp.Path != l.name || attrs != l.attrs {
			t.Errorf("Bom %s %s, payload %s %s", bp.Path, attrs, l.name, l.attrs)
		}
		if bp.Type == 3 {
			// As mkbom records a link: the target's length and its cksum.
			cmd := exec.Command("cksum")
			cmd.Stdin = strings.NewReader(bp.Link)
			out, err := cmd.Output()
			if err != nil || int(bp.Size) != len(bp.Link) || strings.Fields(string(out))[0] != fmt.Sprint(bp.Checksum) {
				t.Errorf("Bom link %s: size %d, checksum %d; cksum of the target says %s (%v)", bp.Path, bp.Size, bp.Checksum, out, err)
			}
			continue
		}
		if bp.Type != 1 {
			continue
		}
		on := filepath.Join(payload, bp.Path)
		fst, err := os.Stat(on)
		if err != nil || int64(bp.Size) != fst.Size() {
			t.Errorf("Bom %s: size %d, extracted %v", bp.Path, bp.Size, err)
			continue
		}
		out, err := exec.Command("cksum", on).Output()
		if err != nil || strings.Fields(string(out))[0] != fmt.Sprint(bp.Checksum) {
			t.Errorf("Bom %s: checksum %d, cksum says %s (%v)", bp.Path, bp.Checksum, out, err)
		}
	}
	if b.InfoPaths != uint32(len(paths)+1) || b.Trees["Paths"].PathCount != uint32(len(paths)) {
		t.Errorf("BomInfo counts %d, Paths tree %d, for %d paths", b.InfoPaths, b.Trees["Paths"].PathCount, len(paths))
	}
	for _, v := range []string{"BomInfo", "Paths", "HLIndex", "VIndex", "Size64"} {
		if _, ok := b.Vars[v]; !ok {
			t.Errorf("Bom has no %s", v)
		}
	}

	// Reproducible: the same inputs give the same bytes.
	p2, _ := buildTestPkg(t, "v0.1.0-3-gabc1234", t.TempDir())
	a1, _ := os.ReadFile(p)
	a2, _ := os.ReadFile(p2)
	if !bytes.Equal(a1, a2) {
		t.Error("two builds of the same inputs differ")
	}
}

type cpioEntry struct{ name, attrs string }

// cpioList lists a gzip'd cpio archive with tool -itv: name and
// "mode uid gid", sorted by name.
func cpioList(t *testing.T, tool, archive string) []cpioEntry {
	t.Helper()
	cmd := exec.Command("sh", "-c", `gzip -dc "$1" | "$2" -itv --numeric-uid-gid --quiet`, "sh", archive, tool)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -itv: %v\n%s", tool, err, out)
	}
	var es []cpioEntry
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue // bsdcpio's "N blocks"
		}
		name := strings.Join(f[8:], " ")
		attrs := strings.Join([]string{f[0], f[2], f[3]}, " ")
		if n, target, ok := strings.Cut(name, " -> "); ok && strings.HasPrefix(f[0], "l") {
			name, attrs = n, attrs+" -> "+target
		}
		es = append(es, cpioEntry{name, attrs})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es
}

// modeString formats st_mode as ls does, for the types in a payload.
func modeString(m uint16) string {
	b := []byte("?rwxrwxrwx")
	switch m & 0o170000 {
	case 0o040000:
		b[0] = 'd'
	case 0o100000:
		b[0] = '-'
	case 0o120000:
		b[0] = 'l'
	}
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	return string(b)
}

func TestUniversal(t *testing.T) {
	thin := func(cpu uint32, n int) []byte {
		b := binary.LittleEndian.AppendUint32(nil, 0xfeedfacf)
		b = binary.LittleEndian.AppendUint32(b, cpu)
		b = binary.LittleEndian.AppendUint32(b, 0)
		return append(b, bytes.Repeat([]byte{byte(cpu)}, n)...)
	}
	arm, amd := thin(cpuARM64, 20000), thin(cpuX86_64, 100)
	fat, archs, err := universal(arm, amd)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(archs, ",") != "x86_64,arm64" {
		t.Errorf("archs %v", archs)
	}
	if binary.BigEndian.Uint32(fat) != 0xcafebabe || binary.BigEndian.Uint32(fat[4:]) != 2 {
		t.Fatalf("fat header % x", fat[:8])
	}
	for i, want := range [][]byte{amd, arm} {
		e := fat[8+20*i:]
		off, size := binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
		if off%(1<<14) != 0 || !bytes.Equal(fat[off:off+size], want) {
			t.Errorf("slice %d at %d (%d bytes) is not the thin binary", i, off, size)
		}
	}
	if one, archs, err := universal(arm); err != nil || !bytes.Equal(one, arm) || archs[0] != "arm64" {
		t.Errorf("one thin binary: %v %v", archs, err)
	}
	for name, in := range map[string][][]byte{"none": nil, "twice": {arm, arm}, "not Mach-O": {[]byte("#!/bin/sh\n")}, "fat": {fat}} {
		if _, _, err := universal(in...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
