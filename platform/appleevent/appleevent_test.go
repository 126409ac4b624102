package appleevent

import "testing"

// The codes are the Apple Event Manager's, big end first.
func TestCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uint32
		want uint32
	}{
		{"kInternetEventClass", InternetEventClass, 0x4755524C},
		{"kAEGetURL", GetURL, 0x4755524C},
		{"keyDirectObject", DirectObject, 0x2D2D2D2D},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}
