package power

import "testing"

// TestIOKitMessageAction checks the codes against IOKit/IOMessage.h and
// that every sleep request is acknowledged.
func TestIOKitMessageAction(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  uint32
		want ioKitAction
	}{
		{"kIOMessageCanSystemSleep", 0xe0000270, ioKitAllow},
		{"kIOMessageSystemWillSleep", 0xe0000280, ioKitAllow},
		{"kIOMessageSystemWillNotSleep", 0xe0000290, ioKitIgnore},
		{"kIOMessageSystemHasPoweredOn", 0xe0000300, ioKitResume},
		{"kIOMessageSystemWillPowerOn", 0xe0000320, ioKitIgnore},
		{"kIOMessageServiceIsTerminated", 0xe0000010, ioKitIgnore},
		{"zero", 0, ioKitIgnore},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ioKitMessageAction(c.msg); got != c.want {
				t.Errorf("ioKitMessageAction(%#x) = %d, want %d", c.msg, got, c.want)
			}
		})
	}
	for _, c := range []struct {
		got, want uint32
	}{
		{ioMessageCanSystemSleep, 0xe0000270}, {ioMessageSystemWillSleep, 0xe0000280},
		{ioMessageSystemWillNotSleep, 0xe0000290}, {ioMessageSystemHasPoweredOn, 0xe0000300},
		{ioMessageSystemWillPowerOn, 0xe0000320},
	} {
		if c.got != c.want {
			t.Errorf("constant %#x, want %#x", c.got, c.want)
		}
	}
}

// TestWindowsIsResume checks the PBT_ codes against WinUser.h.
func TestWindowsIsResume(t *testing.T) {
	for _, c := range []struct {
		name  string
		event uint32
		want  bool
	}{
		{"PBT_APMSUSPEND", 0x4, false},
		{"PBT_APMRESUMESUSPEND", 0x7, true},
		{"PBT_APMPOWERSTATUSCHANGE", 0xa, false},
		{"PBT_APMRESUMEAUTOMATIC", 0x12, true},
		{"PBT_POWERSETTINGCHANGE", 0x8013, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := windowsIsResume(c.event); got != c.want {
				t.Errorf("windowsIsResume(%#x) = %v, want %v", c.event, got, c.want)
			}
		})
	}
	if pbtAPMSuspend != 0x4 || pbtAPMResumeSuspend != 0x7 || pbtAPMPowerStatusChange != 0xa || pbtAPMResumeAutomatic != 0x12 {
		t.Error("a PBT_ constant differs from WinUser.h")
	}
}
