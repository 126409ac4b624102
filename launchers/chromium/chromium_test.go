package chromium

import (
	"errors"
	"os/exec"
	"reflect"
	"testing"
)

func fakeLook(present map[string]string) LookPath {
	return func(file string) (string, error) {
		if p, ok := present[file]; ok {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
}

func TestFindOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		present map[string]string
		want    string
		policy  string
	}{
		{"debian", map[string]string{"chromium": "/usr/bin/chromium", "google-chrome": "/usr/bin/google-chrome"}, "/usr/bin/chromium", "/etc/chromium/policies/managed"},
		{"ubuntu deb wrapper", map[string]string{"chromium-browser": "/usr/bin/chromium-browser"}, "/usr/bin/chromium-browser", "/etc/chromium-browser/policies/managed"},
		{"ubuntu snap only", map[string]string{"/snap/bin/chromium": "/snap/bin/chromium"}, "/snap/bin/chromium", "/etc/chromium-browser/policies/managed"},
		{"chrome stable", map[string]string{"google-chrome-stable": "/usr/bin/google-chrome-stable", "google-chrome": "/usr/bin/google-chrome"}, "/usr/bin/google-chrome-stable", "/etc/opt/chrome/policies/managed"},
		{"chrome link", map[string]string{"google-chrome": "/usr/bin/google-chrome"}, "/usr/bin/google-chrome", "/etc/opt/chrome/policies/managed"},
		{"relative path ignored", map[string]string{"chromium": "bin/chromium", "google-chrome": "/usr/bin/google-chrome"}, "/usr/bin/google-chrome", "/etc/opt/chrome/policies/managed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Find(fakeLook(tc.present), LinuxCandidates)
			if err != nil {
				t.Fatal(err)
			}
			if b.Path != tc.want || b.PolicyDir != tc.policy {
				t.Errorf("got %s (%s), want %s (%s)", b.Path, b.PolicyDir, tc.want, tc.policy)
			}
		})
	}
	if _, err := Find(fakeLook(nil), LinuxCandidates); !errors.Is(err, ErrNotFound) {
		t.Errorf("nothing installed: %v", err)
	}
}

func TestAppArgs(t *testing.T) {
	got := AppArgs("https://mail.od.acme.kiwistack.io/")
	want := []string{"--app=https://mail.od.acme.kiwistack.io/", "--profile-directory=Work"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
}

// The window identities, worked out by hand from Chromium's
// GenerateApplicationNameFromURL, GetWMClassFromAppName and
// GetAppDesktopShortcutFilename.
func TestWindowIdentity(t *testing.T) {
	for _, tc := range []struct{ url, class, wayland string }{
		{"https://mail.od.acme.kiwistack.io/", "mail.od.acme.kiwistack.io", "chrome-mail.od.acme.kiwistack.io__-Work"},
		{"https://mail.od.acme.kiwistack.io", "mail.od.acme.kiwistack.io", "chrome-mail.od.acme.kiwistack.io__-Work"},
		{"https://od.acme.kiwistack.io/mail/", "od.acme.kiwistack.io__mail", "chrome-od.acme.kiwistack.io__mail_-Work"},
		{"https://od.acme.kiwistack.io/mail", "od.acme.kiwistack.io__mail", "chrome-od.acme.kiwistack.io__mail-Work"},
		{"https://mail.od.acme.kiwistack.io:8443/appsuite/", "mail.od.acme.kiwistack.io__appsuite", "chrome-mail.od.acme.kiwistack.io__appsuite_-Work"},
		{"https://MAIL.od.acme.kiwistack.io/a:b", "mail.od.acme.kiwistack.io__a_b", "chrome-mail.od.acme.kiwistack.io__a_b-Work"},
		{"https://docs.example.com/x.", "docs.example.com__x", "chrome-docs.example.com__x.-Work"},
	} {
		class, err := WMClass(tc.url)
		if err != nil || class != tc.class {
			t.Errorf("WMClass(%s) = %q, %v; want %q", tc.url, class, err, tc.class)
		}
		id, err := WaylandAppID(tc.url)
		if err != nil || id != tc.wayland {
			t.Errorf("WaylandAppID(%s) = %q, %v; want %q", tc.url, id, err, tc.wayland)
		}
	}
	for _, bad := range []string{"mailto:x@y", "https://", "https://host/ü", "file:///etc/passwd"} {
		if _, err := WMClass(bad); err == nil {
			t.Errorf("WMClass(%q) accepted", bad)
		}
	}
}
