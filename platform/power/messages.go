package power

// The message codes of the macOS and Windows power notifications, and the
// pure functions that map them. They are compiled on every OS so that their
// tests run on Linux; power_darwin.go and power_windows.go call them.

// IOKit's system power messages (IOKit/IOMessage.h): iokit_common_msg(n) is
// sys_iokit (0xe0000000) | sub_iokit_common (0) | n.
const (
	ioMessageCanSystemSleep     uint32 = 0xe0000270 // idle sleep proposed: allow or cancel
	ioMessageSystemWillSleep    uint32 = 0xe0000280 // sleep is committed: must be allowed
	ioMessageSystemWillNotSleep uint32 = 0xe0000290 // a proposed idle sleep was cancelled
	ioMessageSystemHasPoweredOn uint32 = 0xe0000300 // awake, devices powered on
	ioMessageSystemWillPowerOn  uint32 = 0xe0000320 // waking, devices still powering on
)

// ioKitAction is what the IORegisterForSystemPower callback does with a
// message.
type ioKitAction int

const (
	// ioKitIgnore: nothing to do.
	ioKitIgnore ioKitAction = iota
	// ioKitAllow: answer IOAllowPowerChange(rootPort, notificationID);
	// without it macOS waits 30 seconds before sleeping.
	ioKitAllow
	// ioKitResume: the machine has woken; report a resume.
	ioKitResume
)

// ioKitMessageAction maps an IOKit system power message to its action. A
// resume is reported on kIOMessageSystemHasPoweredOn only: at
// kIOMessageSystemWillPowerOn the network is usually not back yet.
func ioKitMessageAction(msg uint32) ioKitAction {
	switch msg {
	case ioMessageCanSystemSleep, ioMessageSystemWillSleep:
		return ioKitAllow
	case ioMessageSystemHasPoweredOn:
		return ioKitResume
	default:
		return ioKitIgnore
	}
}

// The power broadcast events (WinUser.h) that Windows passes as the Type of
// a DEVICE_NOTIFY_CALLBACK registered with
// PowerRegisterSuspendResumeNotification.
const (
	pbtAPMSuspend           uint32 = 0x4  // PBT_APMSUSPEND: about to suspend
	pbtAPMResumeSuspend     uint32 = 0x7  // PBT_APMRESUMESUSPEND: resumed after user input
	pbtAPMPowerStatusChange uint32 = 0xa  // PBT_APMPOWERSTATUSCHANGE: AC/battery change
	pbtAPMResumeAutomatic   uint32 = 0x12 // PBT_APMRESUMEAUTOMATIC: resumed (always sent)
)

// windowsIsResume reports whether a power broadcast event means the machine
// has resumed. Windows sends PBT_APMRESUMEAUTOMATIC on every resume and
// PBT_APMRESUMESUSPEND as well when a user is present; both are reported,
// and the channel coalesces them.
func windowsIsResume(event uint32) bool {
	return event == pbtAPMResumeAutomatic || event == pbtAPMResumeSuspend
}
