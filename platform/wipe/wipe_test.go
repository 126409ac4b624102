package wipe

import (
	"reflect"
	"testing"
)

func TestCommands(t *testing.T) {
	for _, c := range []struct {
		name string
		got  [][]string
		want [][]string
	}{
		{"luksErase", [][]string{LUKSEraseCommand("/dev/nvme0n1p3")}, [][]string{{"cryptsetup", "luksErase", "--batch-mode", "/dev/nvme0n1p3"}}},
		{"luksDump", [][]string{LUKSDumpCommand("/dev/sda3")}, [][]string{{"cryptsetup", "luksDump", "/dev/sda3"}}},
		{"bitlocker", BitLockerCommands("C:"), [][]string{{`C:\Windows\System32\manage-bde.exe`, "-forcerecovery", "C:"}}},
		{"filevault list", [][]string{FileVaultListCommand()}, [][]string{{"/usr/bin/fdesetup", "list"}}},
		{"filevault", FileVaultCommands([]string{"alice", "bob"}),
			[][]string{{"/usr/bin/fdesetup", "remove", "-user", "alice"}, {"/usr/bin/fdesetup", "remove", "-user", "bob"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
	out := "alice,1A2B3C4D-0000-0000-0000-000000000000\nbob,5E6F\n\n-x,1\n"
	if got, want := FileVaultUsers([]byte(out)), []string{"alice", "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FileVaultUsers = %v, want %v", got, want)
	}
}

// luks2Dump is cryptsetup 2.6's luksDump of a LUKS2 volume with one key
// slot (shortened), luks2Erased the same after luksErase.
const luks2Dump = `LUKS header information
Version:       	2
Epoch:         	3
Keyslots area: 	16744448 [bytes]
UUID:          	219d2eee-f126-4dc0-956a-37f17b4ccb9f

Data segments:
  0: crypt
	offset: 16777216 [bytes]
	cipher: aes-xts-plain64

Keyslots:
  0: luks2
	Key:        512 bits
	Priority:   normal
	Salt:       cc f6 32 22 65 41 e9 ec 5d 88 b5 79 06 41 96 a4 
	            97 73 aa c2 51 75 ac 84 11 54 a8 e0 6d d0 47 fa 
	Area offset:32768 [bytes]
	Digest ID:  0
  1: luks2
	Key:        512 bits
Tokens:
  0: systemd-tpm2
Digests:
  0: pbkdf2
	Hash:       sha256
`

const luks2Erased = `LUKS header information
Version:       	2

Data segments:
  0: crypt

Keyslots:
Tokens:
Digests:
  0: pbkdf2
`

const luks1Dump = `LUKS header information for /dev/sdb1

Version:       	1
Key Slot 0: ENABLED
	Iterations:         	1000
Key Slot 1: DISABLED
Key Slot 2: ENABLED
`

func TestKeySlots(t *testing.T) {
	for name, c := range map[string]struct {
		dump string
		want int
	}{
		"luks2":        {luks2Dump, 2},
		"luks2 erased": {luks2Erased, 0},
		"luks1":        {luks1Dump, 2},
		"empty":        {"", 0},
	} {
		if got := KeySlots([]byte(c.dump)); got != c.want {
			t.Errorf("%s: %d key slots, want %d", name, got, c.want)
		}
	}
}
