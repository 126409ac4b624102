package pkg

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Mach-O CPU types of the slices a universal binary may hold.
const (
	cpuX86_64 = 0x01000007
	cpuARM64  = 0x0100000c
)

// archName is the name Installer's hostArchitectures uses for a CPU type.
var archName = map[uint32]string{cpuX86_64: "x86_64", cpuARM64: "arm64"}

// sliceAlign is the alignment of each slice, 2^14 as lipo uses for arm64.
const sliceAlign = 14

// machoArch returns the CPU type and subtype of a thin 64-bit Mach-O.
func machoArch(b []byte) (cpu, sub uint32, err error) {
	if len(b) < 12 || binary.LittleEndian.Uint32(b) != 0xfeedfacf {
		return 0, 0, fmt.Errorf("not a 64-bit little-endian Mach-O executable")
	}
	cpu = binary.LittleEndian.Uint32(b[4:])
	if _, ok := archName[cpu]; !ok {
		return 0, 0, fmt.Errorf("Mach-O CPU type %#x is neither x86_64 nor arm64", cpu)
	}
	return cpu, binary.LittleEndian.Uint32(b[8:]) & 0x00ffffff, nil
}

// universal joins thin Mach-O executables of different architectures into
// one universal ("fat") binary as lipo -create does: a big-endian fat
// header, one fat_arch per slice (x86_64 first), slices aligned to 16 KiB.
// One thin binary is returned as is. It also returns the architectures'
// names in hostArchitectures order.
func universal(thin ...[]byte) ([]byte, []string, error) {
	type slice struct {
		cpu, sub uint32
		b        []byte
	}
	var slices []slice
	seen := map[uint32]bool{}
	for _, b := range thin {
		if len(b) >= 4 && binary.BigEndian.Uint32(b) == 0xcafebabe {
			return nil, nil, fmt.Errorf("give thin binaries, one per architecture, not a universal one")
		}
		cpu, sub, err := machoArch(b)
		if err != nil {
			return nil, nil, err
		}
		if seen[cpu] {
			return nil, nil, fmt.Errorf("two binaries for %s", archName[cpu])
		}
		seen[cpu] = true
		slices = append(slices, slice{cpu, sub, b})
	}
	if len(slices) == 0 {
		return nil, nil, fmt.Errorf("no binary")
	}
	sort.Slice(slices, func(i, j int) bool { return slices[i].cpu < slices[j].cpu })
	var names []string
	for _, s := range slices {
		names = append(names, archName[s.cpu])
	}
	if len(slices) == 1 {
		return slices[0].b, names, nil
	}
	const align = 1 << sliceAlign
	out := binary.BigEndian.AppendUint32(nil, 0xcafebabe)
	out = binary.BigEndian.AppendUint32(out, uint32(len(slices)))
	offset := uint32(align)
	for _, s := range slices {
		out = binary.BigEndian.AppendUint32(out, s.cpu)
		out = binary.BigEndian.AppendUint32(out, s.sub)
		out = binary.BigEndian.AppendUint32(out, offset)
		out = binary.BigEndian.AppendUint32(out, uint32(len(s.b)))
		out = binary.BigEndian.AppendUint32(out, sliceAlign)
		offset += (uint32(len(s.b)) + align - 1) &^ (align - 1)
	}
	for _, s := range slices {
		out = append(out, make([]byte, (len(out)+align-1)&^(align-1)-len(out))...)
		out = append(out, s.b...)
	}
	return out, names, nil
}
