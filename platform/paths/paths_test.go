package paths

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestUnderRoot(t *testing.T) {
	root := t.TempDir()
	l := Under(root)
	for _, p := range []string{l.RootCert(), l.DeviceCert(), l.DeviceKey(), l.StepDefaults(), l.Enrollment()} {
		if !strings.HasPrefix(p, root+string(filepath.Separator)) {
			t.Errorf("%s is not under %s", p, root)
		}
	}
	if runtime.GOOS == "linux" {
		if got, want := l.DeviceKey(), filepath.Join(root, "etc/step/secrets/device.key"); got != want {
			t.Errorf("DeviceKey = %s, want %s", got, want)
		}
		if got := Under("").Enrollment(); got != "/var/lib/kiwistack/enrollment.json" {
			t.Errorf("Enrollment = %s", got)
		}
	}
}
