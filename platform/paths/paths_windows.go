package paths

import "path/filepath"

const (
	stepDir   = `C:\ProgramData\KiwiStack\step`
	stateDir  = `C:\ProgramData\KiwiStack\state`
	configDir = `C:\ProgramData\KiwiStack`
)

// volumeLess drops the drive letter so that a test root can prefix the path.
func volumeLess(p string) string { return p[len(filepath.VolumeName(p)):] }
