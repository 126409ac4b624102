package pkg

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/launchers/macos"
	"github.com/kiwistack/endpoint/packaging/pkg/bom"
	"github.com/kiwistack/endpoint/packaging/pkg/cpio"
	"github.com/kiwistack/endpoint/packaging/pkg/xar"
)

// Owners of the installed files: root, and wheel or admin as macOS has them.
const (
	uidRoot  = 0
	gidWheel = 0
	gidAdmin = 80
)

// Options describe one package to build.
type Options struct {
	Describe   string    // `git describe --tags --always --dirty` output
	CommitTime time.Time // file times in the package; orders untagged versions
	// Enroll and Agent are the darwin binaries: one thin Mach-O per
	// architecture (joined into a universal binary) or a single one.
	Enroll, Agent []string
}

// FileName returns the package's file name, kiwistack_<version>_<archs>.pkg,
// where archs is "universal" for x86_64 and arm64.
func FileName(version string, archs []string) string {
	a := strings.Join(archs, "+")
	if len(archs) == 2 {
		a = "universal"
	}
	return fmt.Sprintf("kiwistack_%s_%s.pkg", version, a)
}

// entry is one path of the payload.
type entry struct {
	path     string // "./usr/local/bin/kiwistack-agent"
	mode     uint32 // st_mode
	uid, gid int
	data     []byte // a regular file's content, a symbolic link's target
}

// Built is what Build reports about the package it wrote.
type Built struct {
	Version       string   // CFBundle-style version
	Archs         []string // hostArchitectures
	NumberOfFiles int
	InstallKBytes int64
}

// Build writes the package described by o to w.
func Build(o Options, w io.Writer) (*Built, error) {
	version, err := Version(o.Describe, o.CommitTime)
	if err != nil {
		return nil, err
	}
	enroll, archs, err := readUniversal(o.Enroll)
	if err != nil {
		return nil, fmt.Errorf("building the macOS package: kiwistack-enroll: %w", err)
	}
	agent, agentArchs, err := readUniversal(o.Agent)
	if err != nil {
		return nil, fmt.Errorf("building the macOS package: kiwistack-agent: %w", err)
	}
	if strings.Join(archs, ",") != strings.Join(agentArchs, ",") {
		return nil, fmt.Errorf("building the macOS package: the enroller is for %v, the agent for %v", archs, agentArchs)
	}
	d := DefaultData(version, o.Describe, o.CommitTime)
	d.HostArchitectures = strings.Join(archs, ",")
	r, err := Render(d)
	if err != nil {
		return nil, err
	}
	bundleInfo, err := macos.DispatcherInfoPlist()
	if err != nil {
		return nil, fmt.Errorf("building the macOS package: the dispatcher's Info.plist: %w", err)
	}
	payload := payloadEntries(r, enroll, agent, bundleInfo)
	d.NumberOfFiles = len(payload)
	for _, e := range payload {
		if isReg(e.mode) {
			// Installer's estimate, as pkgbuild makes it: 4 KiB blocks.
			d.InstallKBytes += (int64(len(e.data)) + 4095) / 4096 * 4
		}
	}
	if r, err = Render(d); err != nil {
		return nil, err
	}
	mtime := o.CommitTime.UTC()
	payloadGz, err := gzipCpio(payload, mtime)
	if err != nil {
		return nil, err
	}
	scriptsGz, err := gzipCpio([]entry{
		{path: ".", mode: cpio.TypeDir | 0o755, uid: uidRoot, gid: gidWheel},
		{path: "./postinstall", mode: cpio.TypeReg | 0o755, uid: uidRoot, gid: gidWheel, data: r.Postinstall},
		{path: "./preinstall", mode: cpio.TypeReg | 0o755, uid: uidRoot, gid: gidWheel, data: r.Preinstall},
	}, mtime)
	if err != nil {
		return nil, err
	}
	var bomBuf bytes.Buffer
	if err := bom.Write(&bomBuf, bomEntries(payload, mtime)); err != nil {
		return nil, err
	}
	member := func(name string, data []byte) xar.File {
		return xar.File{Name: name, Mode: 0o644, UID: uidRoot, GID: gidWheel, User: "root", Group: "wheel", MTime: mtime, Data: data}
	}
	dir := member(ComponentName, nil)
	dir.Dir, dir.Mode = true, 0o755
	if err := xar.Write(w, []xar.File{
		member("Distribution", r.Distribution),
		dir,
		member(ComponentName+"/Bom", bomBuf.Bytes()),
		member(ComponentName+"/PackageInfo", r.PackageInfo),
		member(ComponentName+"/Payload", payloadGz),
		member(ComponentName+"/Scripts", scriptsGz),
	}, mtime); err != nil {
		return nil, fmt.Errorf("building the macOS package: %w", err)
	}
	return &Built{Version: version, Archs: archs, NumberOfFiles: d.NumberOfFiles, InstallKBytes: d.InstallKBytes}, nil
}

// BuildFile builds the package into dir under [FileName] and returns its path.
func BuildFile(o Options, dir string) (path string, b *Built, err error) {
	tmp, err := os.CreateTemp(dir, ".kiwistack-pkg-")
	if err != nil {
		return "", nil, fmt.Errorf("building the macOS package: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	b, err = Build(o, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("building the macOS package: %w", cerr)
	}
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, FileName(b.Version, b.Archs))
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", nil, fmt.Errorf("building the macOS package: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", nil, fmt.Errorf("building the macOS package: %w", err)
	}
	return path, b, nil
}

func readUniversal(paths []string) ([]byte, []string, error) {
	var thin [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		thin = append(thin, b)
	}
	return universal(thin...)
}

// payloadEntries lists the payload: the system directories on the way with
// the owners and modes macOS gives them, and the package's own files. The
// agent binary is stored once, as the dispatcher bundle's executable;
// AgentPath is a symbolic link to it.
func payloadEntries(r *Rendered, enroll, agent, bundleInfo []byte) []entry {
	dir := func(p string, gid int) entry {
		return entry{path: p, mode: cpio.TypeDir | 0o755, uid: uidRoot, gid: gid}
	}
	file := func(p string, mode uint32, data []byte) entry {
		return entry{path: "." + p, mode: cpio.TypeReg | mode, uid: uidRoot, gid: gidWheel, data: data}
	}
	dirAdmin := func(p string) entry {
		return entry{path: p, mode: cpio.TypeDir | 0o775, uid: uidRoot, gid: gidAdmin}
	}
	es := []entry{
		dir(".", gidWheel),
		dirAdmin("./Applications"),
		dir("."+path.Dir(DispatcherBundle), gidWheel),
		dir("."+DispatcherBundle, gidWheel),
		dir("."+DispatcherBundle+"/Contents", gidWheel),
		dir("."+DispatcherBundle+"/Contents/MacOS", gidWheel),
		file(BundleInfoPath, 0o644, bundleInfo),
		file(BundleAgentPath, 0o755, agent),
		{path: "." + AgentPath, mode: cpio.TypeSymlink | 0o755, uid: uidRoot, gid: gidWheel, data: []byte(BundleAgentPath)},
		dir("./Library", gidWheel),
		dir("./Library/Application Support", gidAdmin),
		dir("."+ConfigDir, gidWheel),
		dir("./Library/LaunchDaemons", gidWheel),
		dir("./Library/Logs", gidAdmin),
		dir("."+LogDir, gidWheel),
		dir("./usr", gidWheel),
		dir("./usr/local", gidWheel),
		dir("./usr/local/bin", gidWheel),
		dir("./usr/local/share", gidWheel),
		dir("./usr/local/share/doc", gidWheel),
		dir("./usr/local/share/doc/kiwistack", gidWheel),
		file(DefaultConfigPath, 0o644, r.Config),
		file(PlistPath, 0o644, r.Plist),
		file(EnrollPath, 0o755, enroll),
		file(LicensePath, 0o644, r.License),
	}
	sort.Slice(es, func(i, j int) bool { return es[i].path < es[j].path })
	return es
}

// gzipCpio writes es as a gzip'd odc cpio archive, deterministically (no
// name or time in the gzip header).
func gzipCpio(es []entry, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compressing the payload: %w", err)
	}
	cw := cpio.NewWriter(zw)
	for _, e := range es {
		nlink := 1
		if e.mode&0o170000 == cpio.TypeDir {
			nlink = 2
		}
		if err := cw.WriteHeader(&cpio.Header{Name: e.path, Mode: e.mode, UID: e.uid, GID: e.gid,
			NLink: nlink, MTime: mtime, Size: int64(len(e.data))}); err != nil {
			return nil, err
		}
		if _, err := cw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := cw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the payload: %w", err)
	}
	return b.Bytes(), nil
}

func bomEntries(es []entry, mtime time.Time) []bom.Entry {
	var out []bom.Entry
	for _, e := range es {
		sum, _ := bom.Checksum(bytes.NewReader(e.data)) // reading memory does not fail
		be := bom.Entry{Path: e.path, Mode: e.mode, UID: uint32(e.uid), GID: uint32(e.gid), MTime: mtime}
		switch e.mode & 0o170000 {
		case cpio.TypeReg:
			be.Size, be.Checksum = uint32(len(e.data)), sum
		case cpio.TypeSymlink:
			// As mkbom (ls4mkbom) records a link: its size is the
			// target's length, its checksum the cksum of the target.
			be.Size, be.Checksum, be.LinkName = uint32(len(e.data)), sum, string(e.data)
		}
		out = append(out, be)
	}
	return out
}

func isReg(mode uint32) bool { return mode&0o170000 == cpio.TypeReg }
