package card_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

// fixturesDir finds <module root>/../shared/fixtures/yubikey.
func fixturesDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/kiwistack/endpoint\n") {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/kiwistack/endpoint above the working directory")
		}
		dir = parent
	}
	fx := filepath.Join(dir, "..", "shared", "fixtures", "yubikey")
	if _, err := os.Stat(filepath.Join(fx, "transcripts")); err != nil {
		t.Fatalf("real YubiKey fixtures missing at %s (the shared checkout next to the repository): %v", fx, err)
	}
	return fx
}

var (
	sharedOnce sync.Once
	sharedRoot *x509.Certificate
	sharedKey  crypto.Signer
	sharedF9   crypto.Signer
	sharedErr  error
)

// sharedAttestation returns one attestation root and one f9 key for all
// cards of the test binary (RSA-2048 generation per card would dominate).
func sharedAttestation(t testing.TB) (*x509.Certificate, crypto.Signer, crypto.Signer) {
	t.Helper()
	sharedOnce.Do(func() {
		sharedRoot, sharedKey, sharedErr = card.NewAttestationRoot(rand.Reader)
		if sharedErr == nil {
			sharedF9, sharedErr = rsa.GenerateKey(rand.Reader, 2048)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedRoot, sharedKey, sharedF9
}

// newCard returns a fresh in-memory card.
func newCard(t testing.TB, serial uint32, version string) *card.Card {
	t.Helper()
	root, rootKey, f9 := sharedAttestation(t)
	c, err := card.New(card.Options{
		Serial: serial, Version: version, FormFactor: card.FormFactorUSBCKeychain,
		AttestationRoot: root, AttestationRootKey: rootKey, AttestationKey: f9,
		TouchDelay: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange is one recorded command and response APDU.
type exchange struct{ cmd, resp []byte }

// transcript is one recorded library test.
type transcript struct {
	serial    uint32
	version   string
	atr       []byte
	exchanges []exchange
}

func parseTranscript(path string) (*transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := &transcript{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 3 && fields[0] == "meta" && fields[1] == "yubikey.serial":
			n, err := strconv.ParseUint(fields[2], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("serial: %w", err)
			}
			tr.serial = uint32(n)
		case len(fields) == 3 && fields[0] == "meta" && fields[1] == "yubikey.version":
			tr.version = fields[2]
		case len(fields) == 3 && fields[0] == "meta" && fields[1] == "status.atr":
			tr.atr, err = hex.DecodeString(fields[2])
			if err != nil {
				return nil, fmt.Errorf("atr: %w", err)
			}
		case len(fields) == 6 && fields[0] == "on" && fields[3] == "Transmit":
			c, err1 := hex.DecodeString(fields[4])
			r, err2 := hex.DecodeString(fields[5])
			if err := errors.Join(err1, err2); err != nil || len(r) < 2 {
				return nil, fmt.Errorf("bad exchange %q: %v", sc.Text(), err)
			}
			tr.exchanges = append(tr.exchanges, exchange{c, r})
		}
	}
	if tr.serial == 0 || tr.version == "" {
		return nil, errors.New("no serial or version header")
	}
	return tr, sc.Err()
}

// logical is a command with its chained parts and its full response
// (GET RESPONSE follow-ups joined).
type logical struct {
	parts [][]byte // command APDUs, chained (CLA 10) parts first
	resp  []byte   // full response data
	sw    uint16
	chunk []uint16 // status words of every response chunk, 61xx included
}

func group(ex []exchange) ([]logical, error) {
	var out []logical
	for i := 0; i < len(ex); {
		var l logical
		for ex[i].cmd[0]&0x10 != 0 {
			l.parts = append(l.parts, ex[i].cmd)
			i++
			if i == len(ex) {
				return nil, errors.New("chain without final command")
			}
		}
		l.parts = append(l.parts, ex[i].cmd)
		r := ex[i].resp
		i++
		for {
			sw := uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
			l.chunk = append(l.chunk, sw)
			l.resp = append(l.resp, r[:len(r)-2]...)
			if sw>>8 != 0x61 {
				l.sw = sw
				break
			}
			if i == len(ex) || ex[i].cmd[1] != 0xc0 {
				return nil, errors.New("61xx without GET RESPONSE")
			}
			r = ex[i].resp
			i++
		}
		out = append(out, l)
	}
	return out, nil
}

// send transmits a logical command and collects the full response as a
// client would, with GET RESPONSE.
func send(c *card.Card, parts [][]byte) (data []byte, sw uint16, chunks []uint16) {
	var r []byte
	for _, p := range parts {
		r = c.Transmit(p)
	}
	for {
		s := uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
		chunks = append(chunks, s)
		data = append(data, r[:len(r)-2]...)
		if s>>8 != 0x61 {
			return data, s, chunks
		}
		r = c.Transmit([]byte{0x00, 0xc0, 0x00, 0x00, 0x00})
	}
}

// Comparison modes for a response.
type mode int

const (
	exact    mode = iota // same bytes
	tlvShape             // same TLV tags and lengths; values depend on key material or randomness
	tlvTags              // same TLV tags; lengths vary too (DER ECDSA signatures)
	metadata             // GET METADATA: exact except the public key under tag 04 (length only)
	cert                 // an X.509 certificate made by the card (attestation)
	f9Object             // GET DATA of 5FFF01: the f9 certificate in a 53/70 template
)

// replayer drives one transcript and keeps what the rewrites need.
type replayer struct {
	c        *card.Card
	version  string
	mgmtAlg  byte
	mgmtKey  []byte
	witness  []byte                  // our card's encrypted witness from step 1
	rsaPubs  map[byte]*rsa.PublicKey // public keys the card generated, by slot
	rewrites map[string]int          // what was rewritten, for the log
	notes    []string

	lastWasDecrypt bool // the command being compared was rewritten by Rewrite 2
}

func newReplayer(c *card.Card, version string) *replayer {
	r := &replayer{c: c, version: version, mgmtKey: card.DefaultManagementKey, rsaPubs: map[byte]*rsa.PublicKey{}, rewrites: map[string]int{}}
	r.mgmtAlg = 0x03
	if version >= "5.7" {
		r.mgmtAlg = 0x0a
	}
	return r
}

func (r *replayer) cipher() (cipher.Block, error) {
	if r.mgmtAlg == 0x03 {
		return des.NewTripleDESCipher(r.mgmtKey)
	}
	return aes.NewCipher(r.mgmtKey)
}

// rewrite adapts a recorded command to this card where its bytes depend on
// the real card's randomness or keys; each case is documented and counted.
func (r *replayer) rewrite(l logical) [][]byte {
	parts := l.parts
	last := parts[len(parts)-1]
	if len(parts) != 1 || len(last) < 5 {
		return parts
	}
	ins, p1, p2, data := last[1], last[2], last[3], commandData(last)
	switch {
	case ins == 0x87 && p2 == 0x9b && len(data) > 4 && data[2] == 0x80 && data[3] > 0 && l.sw == 0x9000 && r.witness != nil:
		// Rewrite 1: management key mutual authentication, step 2. The
		// host's 80 element is the card's random witness decrypted with the
		// management key; recompute it from our card's witness and the key
		// the transcript has set by now (default, or the one from its
		// last SET MANAGEMENT KEY). Only for exchanges the real key
		// accepted; a recorded failure is replayed verbatim and fails here
		// too.
		n := int(data[3])
		b, err := r.cipher()
		if err != nil || len(r.witness) != n || len(data) < 4+n {
			return parts
		}
		out := bytes.Clone(last)
		b.Decrypt(out[len(last)-len(data)+4:len(last)-len(data)+4+n], r.witness)
		r.rewrites["mgmt-key witness"]++
		return [][]byte{out}
	case ins == 0x87 && r.rsaPubs[p2] != nil && len(l.resp) > 6 && len(data) > 4:
		// Rewrite 2: RSA decryption of a ciphertext made for the real
		// card's generated key. The recorded response shows the padded
		// plaintext (00 02 ...); re-encrypt it for our card's key so the
		// response can be compared byte for byte.
		pt := lastTLVValue(l.resp)
		pub := r.rsaPubs[p2]
		if len(pt) != pub.Size() || pt[0] != 0 || pt[1] != 2 {
			return parts
		}
		ct := new(big.Int).Exp(new(big.Int).SetBytes(pt), big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, pub.Size()))
		body := tlv(0x7c, append([]byte{0x82, 0x00}, tlv(0x81, ct)...))
		out := append([]byte{last[0], ins, p1, p2}, apduBody(body, last)...)
		r.rewrites["rsa ciphertext"]++
		return [][]byte{out}
	}
	return parts
}

// commandData returns the data field of a short or extended command APDU.
func commandData(apdu []byte) []byte {
	if len(apdu) <= 5 {
		return nil
	}
	if apdu[4] != 0 {
		return apdu[5:min(len(apdu), 5+int(apdu[4]))]
	}
	if len(apdu) < 7 {
		return nil
	}
	n := int(apdu[5])<<8 | int(apdu[6])
	return apdu[7:min(len(apdu), 7+n)]
}

// lastTLVValue returns the value of the innermost last element of 7C{82}.
func lastTLVValue(b []byte) []byte {
	_, v, ok := readTLV(b)
	if !ok {
		return nil
	}
	_, v, ok = readTLV(v)
	if !ok {
		return nil
	}
	return v
}

// apduBody encodes Lc, data and Le the way the original command did
// (short or extended).
func apduBody(data, orig []byte) []byte {
	if orig[4] == 0 && len(orig) > 7 { // extended
		return append([]byte{0x00, byte(len(data) >> 8), byte(len(data))}, append(data, 0x00, 0x00)...)
	}
	return append([]byte{byte(len(data))}, data...)
}

func tlv(tag byte, v []byte) []byte {
	var l []byte
	switch {
	case len(v) < 0x80:
		l = []byte{byte(len(v))}
	case len(v) < 0x100:
		l = []byte{0x81, byte(len(v))}
	default:
		l = []byte{0x82, byte(len(v) >> 8), byte(len(v))}
	}
	return append(append([]byte{tag}, l...), v...)
}

// readTLV reads one BER-TLV element (tag up to three bytes).
func readTLV(b []byte) (tag []byte, value []byte, ok bool) {
	rest, tag, value, ok := readTLVRest(b)
	return tag, value, ok && len(rest) == 0
}

func readTLVRest(b []byte) (rest, tag, value []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, nil, false
	}
	i := 1
	if b[0]&0x1f == 0x1f {
		for i < len(b) && i < 3 && b[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if i >= len(b) {
		return nil, nil, nil, false
	}
	tag = b[:i]
	n := int(b[i])
	i++
	if n > 0x80 {
		k := n & 0x7f
		if k > 3 || i+k > len(b) {
			return nil, nil, nil, false
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	} else if n == 0x80 {
		return nil, nil, nil, false
	}
	if n > len(b)-i {
		return nil, nil, nil, false
	}
	return b[i+n:], tag, b[i : i+n], true
}

// shape describes TLV data as tags with lengths (withLen) or tags only.
func shape(b []byte, withLen bool) (string, bool) {
	var sb strings.Builder
	for len(b) > 0 {
		rest, tag, v, ok := readTLVRest(b)
		if !ok {
			return "", false
		}
		fmt.Fprintf(&sb, "%x", tag)
		if withLen {
			fmt.Fprintf(&sb, ":%d", len(v))
		}
		if tag[0]&0x20 != 0 { // constructed
			inner, ok := shape(v, withLen)
			if !ok {
				return "", false
			}
			sb.WriteString("{" + inner + "}")
		}
		sb.WriteString(" ")
		b = rest
	}
	return sb.String(), true
}

// modeFor picks how to compare the response to a command.
func (r *replayer) modeFor(cmd []byte) mode {
	ins, p1, p2 := cmd[1], cmd[2], cmd[3]
	switch ins {
	case 0xf7:
		return metadata
	case 0x47:
		return tlvShape
	case 0xf9:
		return cert
	case 0xcb:
		if bytes.Contains(cmd, []byte{0x5c, 0x03, 0x5f, 0xff, 0x01}) {
			return f9Object
		}
		return exact
	case 0x87:
		switch {
		case p2 == 0x9b && bytes.Contains(cmd, []byte{0x7c, 0x02, 0x80, 0x00}):
			return tlvShape // the witness is random
		case p2 == 0x9b:
			return exact // E(host challenge) under the same key
		case p1 == 0x11 || p1 == 0x14:
			if bytes.Contains(cmd[5:], []byte{0x82, 0x00, 0x85}) {
				return tlvShape // ECDH with our key
			}
			return tlvTags // DER ECDSA signature, length varies
		case r.rsaPubs[p2] != nil && r.rewrites["rsa ciphertext"] > 0 && r.lastWasDecrypt:
			return exact
		}
		return tlvShape // RSA or EdDSA with our key
	}
	return exact
}

// compare checks our response against the recorded one.
func compare(m mode, want, got []byte) error {
	switch m {
	case exact:
		if !bytes.Equal(want, got) {
			return fmt.Errorf("data %x, want %x", got, want)
		}
	case tlvShape, tlvTags:
		ws, ok1 := shape(want, m == tlvShape)
		gs, ok2 := shape(got, m == tlvShape)
		if !ok1 || !ok2 {
			if len(want) != len(got) {
				return fmt.Errorf("data of %d bytes, want %d (not TLV)", len(got), len(want))
			}
			return nil
		}
		if ws != gs {
			return fmt.Errorf("TLV shape %q, want %q", gs, ws)
		}
	case metadata:
		wl, ok1 := flat(want)
		gl, ok2 := flat(got)
		if !ok1 || !ok2 || len(wl) != len(gl) {
			return fmt.Errorf("metadata %x, want %x", got, want)
		}
		for i := range wl {
			if !bytes.Equal(wl[i][0], gl[i][0]) {
				return fmt.Errorf("metadata tag %x, want %x", gl[i][0], wl[i][0])
			}
			if wl[i][0][0] == 0x04 {
				ws, _ := shape(wl[i][1], true)
				gs, _ := shape(gl[i][1], true)
				if ws != gs {
					return fmt.Errorf("metadata public key shape %q, want %q", gs, ws)
				}
			} else if !bytes.Equal(wl[i][1], gl[i][1]) {
				return fmt.Errorf("metadata %x = %x, want %x", wl[i][0], gl[i][1], wl[i][1])
			}
		}
	case cert:
		return compareCert(want, got, true)
	case f9Object:
		_, w, ok1 := readTLV(want)
		_, g, ok2 := readTLV(got)
		_, wc, ok3 := readTLV(w)
		_, gc, ok4 := readTLV(g)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return fmt.Errorf("f9 object %x, want 53{70{certificate}} like %x", got, want)
		}
		return compareCert(wc, gc, false)
	}
	return nil
}

// flat splits data into [tag, value] pairs.
func flat(b []byte) ([][2][]byte, bool) {
	var out [][2][]byte
	for len(b) > 0 {
		rest, tag, v, ok := readTLVRest(b)
		if !ok {
			return nil, false
		}
		out = append(out, [2][]byte{tag, v})
		b = rest
	}
	return out, true
}

// compareCert compares a certificate the card made with the real key's:
// everything but key material, signature and serial value. The f9
// certificate's issuer is the test root, not Yubico's.
func compareCert(wantDER, gotDER []byte, sameIssuer bool) error {
	w, err := x509.ParseCertificate(wantDER)
	if err != nil {
		return fmt.Errorf("recorded certificate: %w", err)
	}
	g, err := x509.ParseCertificate(gotDER)
	if err != nil {
		return fmt.Errorf("certificate from the card: %w", err)
	}
	var diffs []string
	check := func(what string, ok bool) {
		if !ok {
			diffs = append(diffs, what)
		}
	}
	check("version", w.Version == g.Version)
	check("signature algorithm", w.SignatureAlgorithm == g.SignatureAlgorithm)
	check("public key algorithm", w.PublicKeyAlgorithm == g.PublicKeyAlgorithm)
	check("subject encoding", bytes.Equal(w.RawSubject, g.RawSubject))
	check("validity", w.NotBefore.Equal(g.NotBefore) && w.NotAfter.Equal(g.NotAfter))
	check("serial length", len(w.SerialNumber.Bytes()) == len(g.SerialNumber.Bytes()))
	check("basic constraints", w.BasicConstraintsValid == g.BasicConstraintsValid && w.IsCA == g.IsCA && w.MaxPathLen == g.MaxPathLen)
	check("key usage", w.KeyUsage == g.KeyUsage)
	check("signature length", len(w.Signature) == len(g.Signature))
	if sameIssuer {
		check("issuer encoding", bytes.Equal(w.RawIssuer, g.RawIssuer))
		check("DER length", len(wantDER) == len(gotDER))
	}
	check("extension count", len(w.Extensions) == len(g.Extensions))
	for i := range min(len(w.Extensions), len(g.Extensions)) {
		we, ge := w.Extensions[i], g.Extensions[i]
		check(fmt.Sprintf("extension %d (%v)", i, we.Id), we.Id.Equal(ge.Id) && we.Critical == ge.Critical && bytes.Equal(we.Value, ge.Value))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("certificate differs in %s", strings.Join(diffs, ", "))
	}
	return nil
}

// preconditions sets up state a transcript assumes from the library test
// that ran before it on the same key (Rewrite 3): the recorded PIN and PUK
// retry counters. The first failed VERIFY or PUK CHANGE REFERENCE shows
// 63Cx, so the total was x+1; a fresh card has 3 and 3, and SET PIN
// RETRIES (after management key and PIN authentication) makes them match.
// The card is then powered off and on, so the replay starts a clean session.
func preconditions(t *testing.T, c *card.Card, r *replayer, ls []logical) {
	pin, puk := 3, 3
	pinSeen, pukSeen := false, false
	for _, l := range ls {
		cmd := l.parts[len(l.parts)-1]
		if len(cmd) < 4 || l.sw&0xfff0 != 0x63c0 {
			continue
		}
		switch {
		case cmd[1] == 0x20 && len(cmd) > 5 && !pinSeen:
			pin, pinSeen = int(l.sw&0xf)+1, true
		case cmd[1] == 0x24 && cmd[3] == 0x81 && !pukSeen:
			puk, pukSeen = int(l.sw&0xf)+1, true
		}
	}
	// The management key algorithm the previous test left (Rewrite 4): a
	// first 9B GET METADATA showing another algorithm than the firmware's
	// default means the key was set to the default bytes under that
	// algorithm.
	var mgmtAlg byte
	for _, l := range ls {
		cmd := l.parts[len(l.parts)-1]
		if len(cmd) >= 4 && cmd[1] == 0xf7 && cmd[3] == 0x9b && l.sw == 0x9000 && len(l.resp) > 2 {
			mgmtAlg = l.resp[2]
			break
		}
	}
	if mgmtAlg != 0 && mgmtAlg != r.mgmtAlg {
		authenticate(t, c, r)
		set := append([]byte{0x00, 0xff, 0xff, 0xff, byte(3 + len(card.DefaultManagementKey)), mgmtAlg, 0x9b, byte(len(card.DefaultManagementKey))}, card.DefaultManagementKey...)
		if resp := c.Transmit(set); !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Fatalf("precondition %x: %x", set, resp)
		}
		r.mgmtAlg = mgmtAlg
		c.PowerOff()
		c.PowerOn()
		r.notes = append(r.notes, fmt.Sprintf("precondition: management key algorithm %02x", mgmtAlg))
	}
	if pin == 3 && puk == 3 {
		return
	}
	authenticate(t, c, r)
	for _, apdu := range [][]byte{
		append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, []byte("123456\xff\xff")...),
		{0x00, 0xfa, byte(pin), byte(puk)},
	} {
		if resp := c.Transmit(apdu); !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Fatalf("precondition %x: %x", apdu, resp)
		}
	}
	c.PowerOff()
	c.PowerOn()
	r.notes = append(r.notes, fmt.Sprintf("precondition: PIN/PUK retries %d/%d", pin, puk))
}

// authenticate does management key mutual authentication with the
// replayer's current key.
func authenticate(t *testing.T, c *card.Card, r *replayer) {
	t.Helper()
	b, err := r.cipher()
	if err != nil {
		t.Fatal(err)
	}
	n := b.BlockSize()
	resp := c.Transmit([]byte{0x00, 0x87, r.mgmtAlg, 0x9b, 0x04, 0x7c, 0x02, 0x80, 0x00})
	if len(resp) != 4+n+2 {
		t.Fatalf("witness: %x", resp)
	}
	w := make([]byte, n)
	b.Decrypt(w, resp[4:4+n])
	body := append([]byte{0x7c, byte(2 * (n + 2)), 0x80, byte(n)}, w...)
	body = append(body, 0x81, byte(n))
	body = append(body, make([]byte, n)...)
	resp = c.Transmit(append([]byte{0x00, 0x87, r.mgmtAlg, 0x9b, byte(len(body))}, body...))
	if !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("management key authentication: %x", resp)
	}
}

// unmatched lists transcripts that cannot replay, with the reason. Keep it
// empty unless the reason is truly out of scope.
var unmatched = map[string]string{}

func TestReplayTranscripts(t *testing.T) {
	root := filepath.Join(fixturesDir(t), "transcripts")
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 100 {
		t.Fatalf("found only %d transcripts under %s", len(files), root)
	}
	total := map[string]int{}
	for _, path := range files {
		name, _ := filepath.Rel(root, path)
		t.Run(name, func(t *testing.T) {
			if reason, ok := unmatched[name]; ok {
				t.Skipf("known not to replay: %s", reason)
			}
			tr, err := parseTranscript(path)
			if err != nil {
				t.Fatalf("parsing %s: %v", name, err)
			}
			if !bytes.Equal(tr.atr, card.ATR) {
				t.Errorf("ATR %x, recorded %x", card.ATR, tr.atr)
			}
			ls, err := group(tr.exchanges)
			if err != nil {
				t.Fatal(err)
			}
			c := newCard(t, tr.serial, tr.version)
			r := newReplayer(c, tr.version)
			preconditions(t, c, r, ls)
			for i, l := range ls {
				parts := r.rewrite(l)
				cmd := parts[len(parts)-1]
				r.lastWasDecrypt = len(r.rewrites) > 0 && !bytes.Equal(cmd, l.parts[len(l.parts)-1]) && cmd[1] == 0x87 && cmd[3] != 0x9b
				data, sw, chunks := send(c, parts)
				if sw != l.sw {
					t.Fatalf("exchange %d %x: status %04x, recorded %04x (data %x)", i, cmd, sw, l.sw, data)
				}
				if err := compare(r.modeFor(cmd), l.resp, data); err != nil {
					t.Fatalf("exchange %d %x: %v", i, cmd, err)
				}
				if len(data) == len(l.resp) && fmt.Sprint(chunks) != fmt.Sprint(l.chunk) {
					t.Errorf("exchange %d %x: response chunks %04x, recorded %04x", i, cmd, chunks, l.chunk)
				}
				r.observe(cmd, data, sw)
			}
			for k, v := range r.rewrites {
				total[k] += v
			}
			if len(r.notes) > 0 {
				t.Log(strings.Join(r.notes, "; "))
			}
		})
	}
	t.Logf("replayed %d transcripts; rewrites: %v", len(files), total)
}

// observe tracks what later rewrites need from a successful exchange.
func (r *replayer) observe(cmd, data []byte, sw uint16) {
	if sw != 0x9000 || len(cmd) < 4 {
		return
	}
	ins, p2 := cmd[1], cmd[3]
	body := commandData(cmd)
	switch {
	case ins == 0x87 && p2 == 0x9b && bytes.HasPrefix(body, []byte{0x7c, 0x02, 0x80, 0x00}):
		r.witness = lastTLVValue(data)
	case ins == 0x87 && p2 == 0x9b:
		r.witness = nil
	case ins == 0xff && len(body) > 3:
		r.mgmtAlg, r.mgmtKey = body[0], bytes.Clone(body[3:3+int(body[2])])
	case ins == 0xfb:
		r.mgmtKey = card.DefaultManagementKey
		r.mgmtAlg = 0x03
		if r.version >= "5.7" {
			r.mgmtAlg = 0x0a
		}
		r.rsaPubs = map[byte]*rsa.PublicKey{}
	case ins == 0x47:
		delete(r.rsaPubs, p2)
		_, v, ok := readTLV(data)
		if !ok {
			return
		}
		els, ok := flat(v)
		if ok && len(els) == 2 && els[0][0][0] == 0x81 {
			r.rsaPubs[p2] = &rsa.PublicKey{N: new(big.Int).SetBytes(els[0][1]), E: int(new(big.Int).SetBytes(els[1][1]).Int64())}
		}
	case ins == 0xfe:
		delete(r.rsaPubs, p2)
	}
}
