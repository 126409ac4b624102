//go:build windows

package launchers

// DefaultDispatchState is where the dispatcher reads its state on this OS
// when its registration passes no --state: C:\ + windows.DispatchState.
const DefaultDispatchState = `C:\ProgramData\KiwiStack\launchers\dispatch.json`
