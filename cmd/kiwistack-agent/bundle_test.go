package main

import (
	"slices"
	"testing"
)

func TestBundleArgs(t *testing.T) {
	const app = "/Applications/KiwiStack/KiwiStack.app/Contents/MacOS/kiwistack-agent"
	dispatcher := []string{"dispatch", "--apple-events"}
	for _, tc := range []struct {
		exe  string
		args []string
		want []string
	}{
		{app, nil, dispatcher},
		{app, []string{}, dispatcher},
		{app, []string{"-psn_0_1234567"}, dispatcher},
		{"/Applications/Other.APP/Contents/MacOS/x", nil, dispatcher},
		{"./KiwiStack.app/Contents/MacOS/kiwistack-agent", nil, dispatcher},
		{"/Applications/KiwiStack/KiwiStack.app/Contents/MacOS/../MacOS/kiwistack-agent", nil, dispatcher},
		// A verb, flags or a URL: the plain CLI, even inside the bundle.
		{app, []string{"run"}, nil},
		{app, []string{"--help"}, nil},
		{app, []string{"-psn_0_1", "run"}, nil},
		{app, []string{"https://example.com/"}, nil},
		{app, []string{""}, nil},
		// Not a bundle's executable: the symlink launchd and people use,
		// and look-alikes.
		{"/usr/local/bin/kiwistack-agent", nil, nil},
		{"/usr/bin/kiwistack-agent", nil, nil},
		{"/Applications/KiwiStack/KiwiStack.app/Contents/kiwistack-agent", nil, nil},
		{"/Applications/KiwiStack/KiwiStack.app/Contents/MacOS/bin/kiwistack-agent", nil, nil},
		{"/Applications/KiwiStack/KiwiStack/Contents/MacOS/kiwistack-agent", nil, nil},
		{"/Applications/.app/Contents/MacOS/kiwistack-agent", nil, nil},
		{"/tmp/Contents/MacOS/kiwistack-agent", nil, nil},
		{"kiwistack-agent", nil, nil},
		{"", nil, nil},
	} {
		if got := bundleArgs(tc.exe, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("bundleArgs(%q, %q) = %q, want %q", tc.exe, tc.args, got, tc.want)
		}
	}
}
