//go:build !darwin && !windows

package disk

// delegated is empty where the agent escrows the key itself (LUKS).
const delegated = ""
