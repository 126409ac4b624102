package hwid

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// vectorSources and vectorValue are the test vector of
// docs/hardware-fingerprint.md.
var vectorSources = []Source{
	{Name: SourceMachineID, Value: "3d1219c7c4c5404aaa1f6d2a48adfda4\n"},
	{Name: SourceDMIProductUUID, Value: "4C4C4544-0042-3510-8052-B4C04F4E3732"},
	{Name: SourceDMIProductSerial, Value: " 5R2NV32 "},
}

const (
	vectorValue    = "hw1:82e07553a906e558696bef8449e4c0e5a4396d98ca6ee26272902a1db8e06256"
	vectorEncoding = "000000116b697769737461636b2f687769642f763100000012646d692e70726f647563745f73657269616c000000073552324e56333200000010646d692e70726f647563745f757569640000002434633463343534342d303034322d333531302d383035322d6234633034663465333733320000000a6d616368696e652d6964000000203364313231396337633463353430346161613166366432613438616466646134"
)

func TestComputeVector(t *testing.T) {
	fp, err := Compute(vectorSources...)
	if err != nil {
		t.Fatal(err)
	}
	if fp.Value != vectorValue {
		t.Errorf("Value = %s, want %s", fp.Value, vectorValue)
	}
	if got := hex.EncodeToString(encode(fp.Sources)); got != vectorEncoding {
		t.Errorf("encoding = %s, want %s", got, vectorEncoding)
	}
	want := []Source{
		{SourceDMIProductSerial, "5R2NV32"},
		{SourceDMIProductUUID, "4c4c4544-0042-3510-8052-b4c04f4e3732"},
		{SourceMachineID, "3d1219c7c4c5404aaa1f6d2a48adfda4"},
	}
	if len(fp.Sources) != len(want) {
		t.Fatalf("Sources = %v, want %v", fp.Sources, want)
	}
	for i := range want {
		if fp.Sources[i] != want[i] {
			t.Errorf("Sources[%d] = %v, want %v", i, fp.Sources[i], want[i])
		}
	}
}

func TestComputeOrderIndependent(t *testing.T) {
	srcs := append([]Source{{SourceDiskSerial, "S4EWNX0R123456"}}, vectorSources...)
	first, err := Compute(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		rand.Shuffle(len(srcs), func(i, j int) { srcs[i], srcs[j] = srcs[j], srcs[i] })
		fp, err := Compute(srcs...)
		if err != nil {
			t.Fatal(err)
		}
		if fp.Value != first.Value {
			t.Fatalf("order %v gave %s, want %s", srcs, fp.Value, first.Value)
		}
	}
}

func TestComputeChangesWithEverySource(t *testing.T) {
	srcs := append([]Source{{SourceDiskSerial, "S4EWNX0R123456"}}, vectorSources...)
	base, err := Compute(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		changed := append([]Source(nil), srcs...)
		changed[i].Value = strings.TrimSpace(changed[i].Value) + "1"
		fp, err := Compute(changed...)
		if err != nil {
			t.Fatal(err)
		}
		if fp.Value == base.Value {
			t.Errorf("changing %s left the fingerprint unchanged", srcs[i].Name)
		}
		dropped := append(append([]Source(nil), srcs[:i]...), srcs[i+1:]...)
		if fp, err := Compute(dropped...); err == nil && fp.Value == base.Value {
			t.Errorf("dropping %s left the fingerprint unchanged", srcs[i].Name)
		}
	}
	// A name is part of the encoding: the same value under another name
	// is another fingerprint.
	a, _ := Compute(Source{SourceMachineID, "3d1219c7c4c5404aaa1f6d2a48adfda4"})
	b, _ := Compute(Source{SourceMachineGUID, "3d1219c7c4c5404aaa1f6d2a48adfda4"})
	if a.Value == b.Value {
		t.Error("machine-id and MachineGuid with one value gave one fingerprint")
	}
}

func TestNormalise(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{SourceDMIProductUUID, "4C4C4544-0042-3510-8052-B4C04F4E3732\n", "4c4c4544-0042-3510-8052-b4c04f4e3732"},
		{SourceSMBIOSUUID, "\x004C4C4544-0042-3510-8052-B4C04F4E3732 \x00", "4c4c4544-0042-3510-8052-b4c04f4e3732"},
		{SourceMachineGUID, "{ABC}", "{abc}"},
		{SourceDMIProductSerial, "  Ab12Cd\t\n", "Ab12Cd"}, // serials keep their case
		{SourceDiskSerial, "S4EWNX0R123456   ", "S4EWNX0R123456"},
	} {
		if got := normalise(tt.name, tt.in); got != tt.want {
			t.Errorf("normalise(%s, %q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	for _, tt := range []struct {
		value string
		junk  bool
	}{
		{"", true},
		{"0", true},
		{"None", true},
		{"123456789", true},
		{"To Be Filled By O.E.M.", true},
		{"TO BE FILLED BY O.E.M.", true},
		{"Default string", true},
		{"System Serial Number", true},
		{"Not Specified", true},
		{"Not Applicable", true},
		{"uninitialized", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"03000200-0400-0500-0006-000700080009", true},
		{"00000000000000000000000000000000", true},
		{"4c4c4544-0042-3510-8052-b4c04f4e3732", false},
		{"5R2NV32", false},
		{"00", false}, // short values are not all-zero UUIDs
		{"1234567890", false},
		{"3d1219c7c4c5404aaa1f6d2a48adfda4", false},
	} {
		if got := isPlaceholder(tt.value); got != tt.junk {
			t.Errorf("isPlaceholder(%q) = %v, want %v", tt.value, got, tt.junk)
		}
	}
	// Every entry of the list is itself recognised after normalisation.
	for _, p := range placeholders {
		if !isPlaceholder(normalise(SourceDMIProductSerial, " "+strings.ToUpper(p)+"\n")) {
			t.Errorf("placeholder %q not recognised", p)
		}
	}
}

func TestComputeDropsPlaceholders(t *testing.T) {
	fp, err := Compute(
		Source{SourceDMIProductUUID, "00000000-0000-0000-0000-000000000000"},
		Source{SourceDMIProductSerial, "To Be Filled By O.E.M."},
		Source{SourceMachineID, "3d1219c7c4c5404aaa1f6d2a48adfda4"},
	)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Compute(Source{SourceMachineID, "3d1219c7c4c5404aaa1f6d2a48adfda4"})
	if fp.Value != want.Value {
		t.Errorf("placeholders changed the fingerprint: %s, want %s", fp.Value, want.Value)
	}
	if len(fp.Skipped) != 2 || !errors.Is(fp.Skipped[0].Err, ErrPlaceholder) {
		t.Errorf("Skipped = %v, want the two placeholders", fp.Skipped)
	}
}

func TestComputeNeedsStrongSource(t *testing.T) {
	_, err := Compute(
		Source{SourceDMIProductSerial, "5R2NV32"},
		Source{SourceDiskSerial, "S4EWNX0R123456"},
		Source{SourceMachineID, "uninitialized"},
	)
	if !errors.Is(err, ErrNoStrongSource) {
		t.Fatalf("err = %v, want ErrNoStrongSource", err)
	}
	var re *ReadError
	if !errors.As(err, &re) || len(re.Attempts) != 1 || re.Attempts[0].Source != SourceMachineID {
		t.Errorf("err = %#v, want a ReadError naming machine-id", err)
	}
	if !strings.Contains(err.Error(), "--hardware-fingerprint") {
		t.Errorf("error %q does not mention the override flag", err)
	}
}

// TestReadRunningMachine runs the real implementation for this OS.
func TestReadRunningMachine(t *testing.T) {
	fp, err := Read(context.Background())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("hwid does not cover this OS: %v", err)
	}
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	again, err := Read(context.Background())
	if err != nil || again.Value != fp.Value {
		t.Fatalf("second Read = %s, %v; want %s", again.Value, err, fp.Value)
	}
	if !strings.HasPrefix(fp.Value, Prefix) || len(fp.Value) != len(Prefix)+64 {
		t.Errorf("Value = %q, want %s and 64 hex digits", fp.Value, Prefix)
	}
	names := make([]string, 0, len(fp.Sources))
	for _, s := range fp.Sources {
		names = append(names, s.Name)
	}
	t.Logf("fingerprint from %v; skipped %v", names, fp.Skipped)
}

func TestSerial(t *testing.T) {
	for _, tc := range []struct {
		sources []Source
		want    string
	}{
		{[]Source{{SourceDMIProductUUID, "4c4c4544-0042-3510-8052-b4c04f333232"}, {SourceDMIProductSerial, " PF3ABCDE\n"}}, "PF3ABCDE"},
		{[]Source{{SourceIOPlatformUUID, "4c4c4544-0042-3510-8052-b4c04f333232"}, {SourceIOPlatformSerialNumber, "C02XG0FDH7JY"}}, "C02XG0FDH7JY"},
		{[]Source{{SourceDMIProductUUID, "4c4c4544-0042-3510-8052-b4c04f333232"}, {SourceDMIProductSerial, "To Be Filled By O.E.M."}}, ""},
		{[]Source{{SourceSMBIOSUUID, "4c4c4544-0042-3510-8052-b4c04f333232"}}, ""},
	} {
		f, err := Compute(tc.sources...)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Serial(); got != tc.want {
			t.Errorf("Serial() of %v = %q, want %q", tc.sources, got, tc.want)
		}
	}
}
