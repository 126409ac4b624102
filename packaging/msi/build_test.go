package msi

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var testCommitTime = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

var (
	signerOnce sync.Once
	signer     Signer
	signerCA   string
	signerErr  error
)

// testSigner returns one throwaway code-signing certificate per test binary.
func testSigner(t *testing.T) (Signer, string) {
	t.Helper()
	signerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kiwistack-msi-sign-")
		if err != nil {
			signerErr = err
			return
		}
		signer, signerCA, signerErr = TestSigner(dir, time.Now())
	})
	if signerErr != nil {
		t.Fatal(signerErr)
	}
	return signer, signerCA
}

func requireMSITools(t *testing.T) {
	t.Helper()
	requireTools(t, "wixl=wixl", "msibuild=msitools", "msiinfo=msitools", "msiextract=msitools", "osslsigncode=osslsigncode")
}

// buildTestMSI builds a signed package of the real windows/amd64 binaries.
func buildTestMSI(t *testing.T, describe, dir string) string {
	t.Helper()
	bins := windowsBinaries(t)
	s, _ := testSigner(t)
	p, err := BuildFile(Options{
		Describe:   describe,
		Arch:       "amd64",
		Enroll:     filepath.Join(bins, EnrollName),
		Agent:      filepath.Join(bins, AgentName),
		CommitTime: testCommitTime,
		Signer:     &s,
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// row returns the rows of table whose first column is key.
func row(t *testing.T, msi, table, key string) []string {
	t.Helper()
	for _, r := range msiTable(t, msi, table) {
		if r[0] == key {
			return r
		}
	}
	t.Fatalf("table %s has no row %s", table, key)
	return nil
}

func TestBuild(t *testing.T) {
	requireMSITools(t)
	dir := t.TempDir()
	msi := buildTestMSI(t, "v0.1.0", dir)
	if filepath.Base(msi) != "kiwistack-0.1.0-amd64.msi" {
		t.Errorf("file name %s", filepath.Base(msi))
	}
	st, err := os.Stat(msi)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.1f MB", filepath.Base(msi), float64(st.Size())/1e6)
	if st.Size() > 25e6 {
		t.Errorf("the MSI is %d bytes, over the 25 MB target", st.Size())
	}

	t.Run("tables", func(t *testing.T) {
		out, err := exec.Command("msiinfo", "tables", msi).Output()
		if err != nil {
			t.Fatal(err)
		}
		tables := strings.Fields(string(out))
		for _, want := range []string{"File", "Component", "Directory", "Feature", "FeatureComponents", "Media",
			"ServiceInstall", "ServiceControl", "MsiServiceConfigFailureActions", "Shortcut", "Property",
			"Upgrade", "InstallExecuteSequence", "LaunchCondition", "Registry", "RemoveFile"} {
			if !slices.Contains(tables, want) {
				t.Errorf("no %s table (tables: %s)", want, strings.Join(tables, " "))
			}
		}
	})

	t.Run("summary", func(t *testing.T) {
		out, err := exec.Command("msiinfo", "suminfo", msi).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "Template: x64;1033") {
			t.Errorf("not an x64 package:\n%s", out)
		}
	})

	t.Run("properties", func(t *testing.T) {
		for name, want := range map[string]string{
			"UpgradeCode":    "{" + UpgradeCode + "}",
			"ProductVersion": "0.1.0",
			"ProductCode":    "{" + ProductCode("v0.1.0", "amd64") + "}",
			"ProductName":    ProductName,
			"ALLUSERS":       "1", // per-machine
		} {
			if got := msiProperty(t, msi, name); !strings.EqualFold(got, want) {
				t.Errorf("property %s = %q, want %q", name, got, want)
			}
		}
	})

	t.Run("directories", func(t *testing.T) {
		for _, want := range [][]string{
			{"INSTALLDIR", "ProgramFiles64Folder", "KiwiStack"},
			{"DATADIR", "CommonAppDataFolder", "KiwiStack"},
			{"MENUDIR", "ProgramMenuFolder", "KiwiStack"},
		} {
			if got := row(t, msi, "Directory", want[0]); !slices.Equal(got, want) {
				t.Errorf("Directory row %q, want %q", got, want)
			}
		}
	})

	t.Run("files and components", func(t *testing.T) {
		for file, want := range map[string][2]string{
			"EnrollExe":  {"Enroll", EnrollName},
			"AgentExe":   {"Agent", AgentName},
			"ReadmeTxt":  {"Docs", "README.txt"},
			"LicenseTxt": {"Docs", "LICENSE.txt"},
			"EnrollYaml": {"Config", "enroll.yaml"},
		} {
			r := row(t, msi, "File", file)
			if r[1] != want[0] || r[2] != want[1] {
				t.Errorf("File %s = %q, want component %s, name %s", file, r, want[0], want[1])
			}
		}
		if n := len(msiTable(t, msi, "File")); n != 5 {
			t.Errorf("%d files, want 5", n)
		}
		for comp, want := range map[string]struct {
			dir   string
			attrs int
		}{
			"Enroll":    {"INSTALLDIR", attr64bit},
			"Agent":     {"INSTALLDIR", attr64bit},
			"Docs":      {"INSTALLDIR", attr64bit},
			"Config":    {"DATADIR", attr64bit | attrNeverOverwrite | attrPermanent},
			"StartMenu": {"MENUDIR", attr64bit | 4}, // 4: registry key path
		} {
			r := row(t, msi, "Component", comp)
			if r[2] != want.dir || r[3] != strconv.Itoa(want.attrs) {
				t.Errorf("Component %s = %q, want directory %s, attributes %d", comp, r, want.dir, want.attrs)
			}
		}
		if r := row(t, msi, "Component", "Config"); r[1] != "{"+ConfigComponentGUID+"}" {
			t.Errorf("the configuration's component GUID is %s, want the fixed %s", r[1], ConfigComponentGUID)
		}
	})

	t.Run("service", func(t *testing.T) {
		// ownProcess (16), auto start (2), normal error control (1), LocalSystem, "run".
		r := row(t, msi, "ServiceInstall", "AgentService")
		want := []string{"AgentService", ServiceName, "KiwiStack agent", "16", "2", "1", "", "", "LocalSystem", "", "run", "Agent"}
		if !slices.Equal(r[:len(want)], want) {
			t.Errorf("ServiceInstall %q, want %q", r, want)
		}
		// Start on install (1), stop on install and uninstall (2|32), delete on uninstall (128).
		c := row(t, msi, "ServiceControl", "AgentServiceControl")
		if want := []string{"AgentServiceControl", ServiceName, "163", "", "1", "Agent"}; !slices.Equal(c, want) {
			t.Errorf("ServiceControl %q, want %q", c, want)
		}
		f := row(t, msi, "MsiServiceConfigFailureActions", "AgentFailureActions")
		if want := []string{"AgentFailureActions", ServiceName, "1", "86400", "", "", failureActions, failureDelaysMillis, "Agent"}; !slices.Equal(f, want) {
			t.Errorf("MsiServiceConfigFailureActions %q, want %q", f, want)
		}
		seq := map[string]int{}
		for _, r := range msiTable(t, msi, "InstallExecuteSequence") {
			n, _ := strconv.Atoi(r[2])
			seq[r[0]] = n
		}
		if !(seq["InstallServices"] < seq["MsiConfigureServices"] && seq["MsiConfigureServices"] < seq["StartServices"]) {
			t.Errorf("MsiConfigureServices is not between InstallServices and StartServices: %v", seq)
		}
	})

	t.Run("start menu", func(t *testing.T) {
		r := row(t, msi, "Shortcut", "ReadmeShortcut")
		if r[1] != "MENUDIR" || r[4] != "[INSTALLDIR]README.txt" {
			t.Errorf("Shortcut %q", r)
		}
	})

	t.Run("extract", func(t *testing.T) {
		out, err := exec.Command("msiextract", "-l", msi).Output()
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := []string{"KiwiStack/LICENSE.txt", "KiwiStack/README.txt", "KiwiStack/enroll.yaml",
			"KiwiStack/" + AgentName, "KiwiStack/" + EnrollName}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("msiextract -l: %q, want %q", got, want)
		}
		x := t.TempDir()
		if out, err := exec.Command("msiextract", "-C", x, msi).CombinedOutput(); err != nil {
			t.Fatalf("msiextract: %v\n%s", err, out)
		}
		r, err := Render(mustData(t, "v0.1.0"))
		if err != nil {
			t.Fatal(err)
		}
		// msiextract puts both KiwiStack folders (Program Files and
		// ProgramData) in one.
		if b, err := os.ReadFile(filepath.Join(x, "KiwiStack", "enroll.yaml")); err != nil || !bytes.Equal(b, r.Config) {
			t.Errorf("extracted enroll.yaml differs from the rendered one (%v)", err)
		}
		_, ca := testSigner(t)
		for _, exe := range []string{EnrollName, AgentName} {
			if err := Verify(filepath.Join(x, "KiwiStack", exe), ca); err != nil {
				t.Errorf("the packaged %s is not signed: %v", exe, err)
			}
		}
	})

	t.Run("signature", func(t *testing.T) {
		_, ca := testSigner(t)
		if err := Verify(msi, ca); err != nil {
			t.Fatal(err)
		}
		// The check is real: another CA does not verify it.
		_, otherCA, err := TestSigner(t.TempDir(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(msi, otherCA); err == nil {
			t.Error("the MSI verifies against a CA that did not sign it")
		}
	})
}

func mustData(t *testing.T, describe string) Data {
	t.Helper()
	d, err := DefaultData(describe, "amd64", testCommitTime.Year())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMajorUpgrade checks the tables through which Windows Installer
// replaces an installed version with a newer one: the same UpgradeCode, a
// new ProductCode, and an Upgrade row (not detect-only) whose version range
// holds the older ProductVersion, with RemoveExistingProducts scheduled.
func TestMajorUpgrade(t *testing.T) {
	requireMSITools(t)
	dir := t.TempDir()
	older := buildTestMSI(t, "v0.1.0", dir)
	newer := buildTestMSI(t, "v0.2.0-3-gabc1234", dir)
	if a, b := msiProperty(t, older, "UpgradeCode"), msiProperty(t, newer, "UpgradeCode"); !strings.EqualFold(a, b) {
		t.Errorf("UpgradeCodes differ: %s, %s", a, b)
	}
	if a, b := msiProperty(t, older, "ProductCode"), msiProperty(t, newer, "ProductCode"); strings.EqualFold(a, b) {
		t.Errorf("both versions have ProductCode %s", a)
	}
	oldVersion := fields(t, msiProperty(t, older, "ProductVersion"))
	newVersion := msiProperty(t, newer, "ProductVersion")
	if newVersion != "0.2.3" {
		t.Errorf("newer ProductVersion %s, want 0.2.3", newVersion)
	}
	const onlyDetect, minInclusive, maxInclusive = 2, 256, 512
	var upgrades, downgrades int
	for _, r := range msiTable(t, newer, "Upgrade") {
		// UpgradeCode, VersionMin, VersionMax, Language, Attributes, Remove, ActionProperty
		if !strings.EqualFold(r[0], "{"+UpgradeCode+"}") {
			t.Errorf("Upgrade row for another product: %q", r)
			continue
		}
		attrs, err := strconv.Atoi(r[4])
		if err != nil {
			t.Fatal(err)
		}
		in := true
		if r[1] != "" {
			lo := fields(t, r[1])
			in = in && (less(lo, oldVersion) || lo == oldVersion && attrs&minInclusive != 0)
		}
		if r[2] != "" {
			hi := fields(t, r[2])
			in = in && (less(oldVersion, hi) || hi == oldVersion && attrs&maxInclusive != 0)
		}
		switch {
		case attrs&onlyDetect == 0 && r[6] == "WIX_UPGRADE_DETECTED":
			if !in {
				t.Errorf("the upgrade row %q does not find the older version %v", r, oldVersion)
			}
			if r[2] != newVersion || attrs&maxInclusive == 0 {
				t.Errorf("the upgrade row %q does not reach up to %s inclusive", r, newVersion)
			}
			upgrades++
		case attrs&onlyDetect != 0 && r[6] == "WIX_DOWNGRADE_DETECTED":
			if in {
				t.Errorf("the downgrade row %q matches the older version", r)
			}
			downgrades++
		default:
			t.Errorf("unexpected Upgrade row %q", r)
		}
	}
	if upgrades != 1 || downgrades != 1 {
		t.Errorf("%d upgrade and %d downgrade rows, want 1 each", upgrades, downgrades)
	}
	var found, remove bool
	for _, r := range msiTable(t, newer, "InstallExecuteSequence") {
		found = found || r[0] == "FindRelatedProducts"
		remove = remove || r[0] == "RemoveExistingProducts"
	}
	if !found || !remove {
		t.Error("FindRelatedProducts or RemoveExistingProducts is not scheduled")
	}
	if !strings.Contains(msiProperty(t, newer, "SecureCustomProperties"), "WIX_UPGRADE_DETECTED") {
		t.Error("WIX_UPGRADE_DETECTED is not a secure property")
	}
}
