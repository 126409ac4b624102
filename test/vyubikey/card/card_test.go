package card_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sw(resp []byte) string { return hex.EncodeToString(resp[len(resp)-2:]) }

// mgmtAuth authenticates with the default management key of a version.
func mgmtAuth(t *testing.T, c *card.Card, version string) {
	t.Helper()
	r := newReplayer(c, version)
	authenticate(t, c, r)
}

func TestStatusWords(t *testing.T) {
	tests := []struct {
		name, apdu, wantSW string
	}{
		{"too short", "00a4", "6700"},
		{"empty", "", "6700"},
		{"bad Lc", "00a4040009a000000308", "6700"},
		{"bad extended length", "00db3fff000005aa", "6700"},
		{"unknown CLA", "80fd0000", "6e00"},
		{"secure messaging CLA", "0cfd0000", "6e00"},
		{"unknown INS", "00ee0000", "6d00"},
		{"select unknown AID", "00a4040005a000000999", "6a82"},
		{"select by file id", "00a4000002 3f00", "6a86"},
		{"get data wrong P1P2", "00cb3f0005 5c035fc105", "6a86"},
		{"get data not a tag list", "00cb3fff03 010203", "6a80"},
		{"get data absent object", "00cb3fff05 5c035fc105", "6a82"},
		{"get data pin-protected", "00cb3fff05 5c035fc109", "6982"},
		{"put data without mgmt key", "00db3fff08 5c035fc10553014f", "6982"},
		{"generate without mgmt key", "0047009a05 ac03800111", "6982"},
		{"generate bad slot", "0047009b05 ac03800111", "6a86"},
		{"verify short PIN block", "002000800431323334", "6a80"},
		{"verify PUK reference", "00200081", "6a88"},
		{"metadata empty slot", "00f7009a", "6a88"},
		{"attest empty slot", "00f99a00", "6a80"},
		{"reset while PIN not blocked", "00fb0000", "6985"},
		{"sign with empty slot", "0087119a06 7c04820081 00", "6a86"},
		{"mgmt auth wrong algorithm", "0087089b04 7c028000", "6a86"},
		{"mgmt auth garbage", "00870a9b02 0102", "6a80"},
		{"mgmt auth step 2 without step 1", "00870a9b26 7c2480100000000000000000000000000000000081100000000000000000000000000000000000", "6982"},
		{"set mgmt key unauthenticated", "00ffffff1b 0a9b18010203040506070801020304050607080102030405060708", "6982"},
		{"move without mgmt key", "00f69e9a", "6982"},
		{"get response with nothing pending", "00c00000", "6985"},
		{"discovery object", "00cb3fff03 5c017e", "9000"},
		{"serial", "00f80000", "9000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCard(t, 12345678, "5.7.1")
			resp := c.Transmit(mustHex(t, stripSpaces(tt.apdu)))
			if got := sw(resp); got != tt.wantSW {
				t.Errorf("Transmit(%s) = %x, want status %s", tt.apdu, resp, tt.wantSW)
			}
		})
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

func TestFirmwareDifferences(t *testing.T) {
	tests := []struct {
		version, apdu, wantSW string
	}{
		{"5.4.3", "00f69e9a", "6d00"},           // no MOVE KEY before 5.7
		{"5.7.1", "00f69e9a", "6982"},           // MOVE KEY exists, needs the management key
		{"5.2.7", "00f7009b", "6d00"},           // no GET METADATA before 5.3
		{"5.4.3", "00f7009b", "9000"},           // 3DES default
		{"5.4.3", "0087039b047c028000", "9000"}, // 3DES witness
		{"5.7.1", "0087039b047c028000", "6a86"}, // 5.7 defaults to AES-192
		{"5.7.1", "00870a9b047c028000", "9000"}, // AES-192 witness
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.apdu, func(t *testing.T) {
			c := newCard(t, 1, tt.version)
			if got := sw(c.Transmit(mustHex(t, stripSpaces(tt.apdu)))); got != tt.wantSW {
				t.Errorf("status %s, want %s", got, tt.wantSW)
			}
		})
	}
}

func TestAlgorithmsByFirmware(t *testing.T) {
	tests := []struct {
		version, apdu, wantSW string
	}{
		{"5.4.3", "00fee09a220720" + zeros(32), "6a86"},   // no Ed25519 before 5.7
		{"5.7.1", "00fee09a220720" + zeros(32), "9000"},   // Ed25519 seed
		{"5.4.3", "0047009a05ac038001e1", "6a80"},         // no X25519 before 5.7
		{"5.7.1", "0047009a05ac038001e1", "9000"},         // X25519
		{"5.4.3", "0047009a05ac038001 05", "6a80"},        // no RSA-3072 before 5.7
		{"5.7.1", "00fe119a220620" + zeros(32), "6a80"},   // a zero P-256 scalar is no key
		{"5.7.1", "00fe119a210620" + zeros(31), "6a80"},   // short P-256 scalar
		{"5.7.1", "0047009a08ac06800111aa0104", "6a80"},   // biometric PIN policy on a non-Bio key
		{"5.7.1", "00ffffff13089b10" + zeros(16), "9000"}, // AES-128 management key
		{"5.7.1", "00ffffff13039b10" + zeros(16), "6a80"}, // 3DES needs 24 bytes
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.apdu, func(t *testing.T) {
			c := newCard(t, 1, tt.version)
			mgmtAuth(t, c, tt.version)
			if got := sw(c.Transmit(mustHex(t, stripSpaces(tt.apdu)))); got != tt.wantSW {
				t.Errorf("status %s, want %s", got, tt.wantSW)
			}
		})
	}
}

func zeros(n int) string { return hex.EncodeToString(make([]byte, n)) }

func TestMoveDeleteChainingAndResponses(t *testing.T) {
	c := newCard(t, 29173673, "5.7.1")
	mgmtAuth(t, c, "5.7.1")
	steps := []struct {
		name, apdu, wantSW string
	}{
		{"generate 9a", "0047009a0bac09800111aa0101ab0101", "9000"},
		{"move 9a to 9e", "00f69e9a", "9000"},
		{"source empty", "00f7009a", "6a88"},
		{"destination holds it", "00f7009e", "9000"},
		{"move onto itself", "00f69e9e", "6a86"},
		{"delete 9e", "00f6ff9e", "9000"},
		{"delete again", "00f6ff9e", "6a88"},
		// A 300-byte object by command chaining, read back in two chunks.
		{"chained put data, first part", "10db3fff" + "ff" + "5c035fc1025382012d" + zeros(255-9), "9000"},
		{"chained put data, last part", "00db3fff" + "37" + zeros(0x37), "9000"},
	}
	for _, s := range steps {
		if got := sw(c.Transmit(mustHex(t, s.apdu))); got != s.wantSW {
			t.Fatalf("%s: status %s, want %s", s.name, got, s.wantSW)
		}
	}
	r := c.Transmit(mustHex(t, "00cb3fff055c035fc102"))
	if len(r) != 258 || sw(r) != "6131" {
		t.Fatalf("GET DATA of a 305-byte answer: %d bytes ending %s, want 256 bytes and 6131", len(r), sw(r))
	}
	r = c.Transmit(mustHex(t, "00c0000000"))
	if len(r) != 0x31+2 || sw(r) != "9000" {
		t.Fatalf("GET RESPONSE: %d bytes ending %s, want 49 and 9000", len(r), sw(r))
	}
	// The same GET DATA as an extended-length command answers at once.
	if r := c.Transmit(mustHex(t, "00cb3fff0000055c035fc1020000")); len(r) != 305+2 || sw(r) != "9000" {
		t.Fatalf("extended GET DATA: %d bytes ending %s, want 305 and 9000", len(r), sw(r))
	}
}

func TestPINAndReset(t *testing.T) {
	c := newCard(t, 1, "5.4.3")
	steps := []struct{ apdu, wantSW string }{
		{"00200080", "63c3"},
		{"0020008008" + hex.EncodeToString([]byte("654321\xff\xff")), "63c2"},
		{"00200080", "63c2"}, // an empty VERIFY spends nothing
		{"0020008008" + hex.EncodeToString([]byte("654321\xff\xff")), "63c1"},
		{"0020008008" + hex.EncodeToString([]byte("654321\xff\xff")), "6983"},
		{"0020008008" + hex.EncodeToString([]byte("123456\xff\xff")), "6983"},
		{"00200080", "6983"},
		{"00fb0000", "6985"}, // PUK not blocked yet
		{"002c008010" + hex.EncodeToString([]byte("12345678123\xff\xff\xff\xff\xff")), "6a80"},
		{"002c008010" + hex.EncodeToString([]byte("12345678111111\xff\xff")), "9000"},
		{"0020008008" + hex.EncodeToString([]byte("111111\xff\xff")), "9000"},
		{"00200080", "9000"},
		{"0020ff80", "9000"},
		{"00200080", "63c3"},
	}
	for i, s := range steps {
		if got := sw(c.Transmit(mustHex(t, s.apdu))); got != s.wantSW {
			t.Fatalf("step %d %s: status %s, want %s", i, s.apdu, got, s.wantSW)
		}
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "yk.json")
	root, rootKey, f9 := sharedAttestation(t)
	opts := card.Options{Serial: 7654321, Version: "5.7.1", StateFile: path, AttestationRoot: root, AttestationRootKey: rootKey, AttestationKey: f9}
	c, err := card.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mgmtAuth(t, c, "5.7.1")
	gen := c.Transmit(mustHex(t, "0047009c0bac09800114aa0102ab0101"))
	if sw(gen) != "9000" {
		t.Fatalf("generate: %x", gen)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want only the state file (no temporary leftovers)", len(entries))
	}

	again, err := card.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	meta := again.Transmit(mustHex(t, "00f7009c"))
	if sw(meta) != "9000" || !bytes.Contains(meta, gen[5:len(gen)-2]) {
		t.Fatalf("metadata after reload %x does not hold the generated key %x", meta, gen)
	}
	opts.Serial = 1
	if _, err := card.New(opts); err == nil {
		t.Error("New with a state file of another serial succeeded")
	}
}

// seedRand is a deterministic randomness source so the fuzzer can learn
// management key witnesses.
type seedRand struct{ r *rand.ChaCha8 }

func (s seedRand) Read(p []byte) (int, error) { return s.r.Read(p) }

// FuzzTransmit feeds sequences of arbitrary APDUs (two-byte length
// prefixed) to a card backed by a state file: it must never panic, always
// answer at least a status word, and the state file must always be
// complete JSON.
func FuzzTransmit(f *testing.F) {
	for _, s := range []string{
		"00a4040009a0000003080000100000", "00fd0000", "00f80000", "00f7009b", "00200080",
		"0020008008313233343536ffff", "00870a9b047c028000", "0047009a0bac09800111aa0101ab0101",
		"00cb3fff055c035fc105", "00db3fff0001515c035fc1", "10db3fff03010203", "00c00000", "00f99a00",
		"00fe119a28aa0101ab01010620" + zeros(32), "00f69e9a", "00fb0000", "00fa0505", "002c0080",
	} {
		b := mustHex(f, s)
		f.Add(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...))
	}
	root, rootKey, f9 := sharedAttestation(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		c, err := card.New(card.Options{
			Serial: 1, Version: "5.7.1", StateFile: path, TouchDelay: -1, TouchTimeout: 1,
			AttestationRoot: root, AttestationRootKey: rootKey, AttestationKey: f9,
			Rand: seedRand{rand.NewChaCha8([32]byte{})},
		})
		if err != nil {
			t.Fatal(err)
		}
		for len(in) >= 2 {
			n := int(in[0])<<8 | int(in[1])
			in = in[2:]
			n = min(n, len(in))
			apdu := in[:n]
			in = in[n:]
			resp := c.Transmit(apdu)
			if len(resp) < 2 {
				t.Fatalf("Transmit(%x) = %x: no status word", apdu, resp)
			}
			b, err := os.ReadFile(path)
			if err != nil || !json.Valid(b) {
				t.Fatalf("state file after %x is not complete JSON: %v", apdu, err)
			}
		}
	})
}
