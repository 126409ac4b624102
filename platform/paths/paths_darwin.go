package paths

const (
	stepDir   = "/Library/Application Support/KiwiStack/step"
	stateDir  = "/Library/Application Support/KiwiStack/state"
	configDir = "/Library/Application Support/KiwiStack"
)

func volumeLess(p string) string { return p }
