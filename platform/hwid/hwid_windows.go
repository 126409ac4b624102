//go:build windows

package hwid

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// cryptographyKey holds MachineGuid, written once at installation.
const cryptographyKey = `SOFTWARE\Microsoft\Cryptography`

// rsmb is the 'RSMB' firmware table provider signature.
const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'

// getSystemFirmwareTable has no wrapper in golang.org/x/sys/windows.
var getSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

func readOS(ctx context.Context) (Fingerprint, error) {
	if err := ctx.Err(); err != nil {
		return Fingerprint{}, err
	}
	var sources []Source
	var skipped []Attempt
	if uuid, err := readSMBIOSUUID(); err != nil {
		skipped = append(skipped, Attempt{Source: SourceSMBIOSUUID, Path: "GetSystemFirmwareTable('RSMB')", Err: err})
	} else {
		sources = append(sources, Source{Name: SourceSMBIOSUUID, Value: uuid})
	}
	if guid, err := readMachineGUID(); err != nil {
		skipped = append(skipped, Attempt{Source: SourceMachineGUID, Path: `HKLM\` + cryptographyKey, Err: err})
	} else {
		sources = append(sources, Source{Name: SourceMachineGUID, Value: guid})
	}
	return build(sources, skipped, []string{"run as an administrator if the registry or firmware table is not readable"})
}

func readMachineGUID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, cryptographyKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	return v, err
}

func readSMBIOSUUID() (string, error) {
	if err := getSystemFirmwareTable.Find(); err != nil {
		return "", err
	}
	n, _, err := getSystemFirmwareTable.Call(rsmb, 0, 0, 0)
	if n == 0 {
		return "", fmt.Errorf("sizing the table: %w", err)
	}
	buf := make([]byte, n)
	got, _, err := getSystemFirmwareTable.Call(rsmb, 0, uintptr(unsafe.Pointer(&buf[0])), n)
	if got == 0 {
		return "", fmt.Errorf("reading the table: %w", err)
	}
	if got > n {
		return "", fmt.Errorf("the table grew from %d to %d bytes while being read", n, got)
	}
	return parseSMBIOSUUID(buf[:got])
}
