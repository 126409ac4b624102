package tunnel

import (
	"log/slog"
	"testing"
)

func TestLinuxBackendOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kernel bool
		nm     func() bool
		want   string
	}{
		{"kernel module, networkmanager running", true, func() bool { return true }, "kernel"},
		{"kernel module only", true, func() bool { return false }, "kernel"},
		{"networkmanager owns its bus name", false, func() bool { return true }, "networkmanager"},
		{"neither", false, func() bool { return false }, "userspace"},
		{"no networkmanager probe", false, nil, "userspace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked string
			b := &linuxBackend{log: slog.New(slog.DiscardHandler), nm: tc.nm,
				kernel: func(name string) bool { asked = name; return tc.kernel }}
			if got := b.choose("kiwistack9").Name(); got != tc.want {
				t.Errorf("chose %s, want %s", got, tc.want)
			}
			if asked != "kiwistack9" {
				t.Errorf("kernel probe asked for %q, want the tunnel's interface", asked)
			}
		})
	}
}

func TestLinuxBackendDefaults(t *testing.T) {
	b, ok := newBackend(Options{Logger: slog.New(slog.DiscardHandler), NetworkManager: NetworkManagerRunning}).(*linuxBackend)
	if !ok || b.kernel == nil || b.nm == nil {
		t.Fatalf("newBackend = %#v, want a linuxBackend probing the kernel and NetworkManager", b)
	}
	if b.Name() != "linux" {
		t.Errorf("Name before the first Up = %q, want linux", b.Name())
	}
}
