package card

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"io"
)

// Algorithm identifiers (NIST SP 800-78 and the YubiKey extensions).
const (
	alg3DES    byte = 0x03
	algAES128  byte = 0x08
	algAES192  byte = 0x0a
	algAES256  byte = 0x0c
	algRSA1024 byte = 0x06
	algRSA2048 byte = 0x07
	algRSA3072 byte = 0x05
	algRSA4096 byte = 0x16
	algP256    byte = 0x11
	algP384    byte = 0x14
	algEd25519 byte = 0xe0
	algX25519  byte = 0xe1
)

// mgmtKeyLen is the key length of each management key algorithm.
var mgmtKeyLen = map[byte]int{alg3DES: 24, algAES128: 16, algAES192: 24, algAES256: 32}

// mgmtCipher returns the block cipher of the current management key.
func (c *Card) mgmtCipher() (cipher.Block, error) {
	if c.st.MgmtAlg == alg3DES {
		return des.NewTripleDESCipher(c.st.MgmtKey)
	}
	return aes.NewCipher(c.st.MgmtKey)
}

// authenticateManagement handles GENERAL AUTHENTICATE with the card
// management key (P2 9B): mutual authentication (witness, then witness and
// challenge) as piv-go and yubico-piv-tool do it, and the one-way
// challenge/response variant.
func (c *Card) authenticateManagement(cmd command, elems []tlv) ([]byte, uint16) {
	if cmd.p1 != c.st.MgmtAlg {
		return nil, swIncorrectP1P2
	}
	block, err := c.mgmtCipher()
	if err != nil {
		return nil, swIncorrectData
	}
	n := block.BlockSize()
	witness, hasWitness := find(elems, 0x80)
	challenge, hasChallenge := find(elems, 0x81)
	response, hasResponse := find(elems, 0x82)
	switch {
	case hasWitness && len(witness) == 0 && len(elems) == 1:
		// Step 1: the card encrypts a random witness.
		w := make([]byte, n)
		if _, err := io.ReadFull(c.rand, w); err != nil {
			return nil, swNoPreciseDiagnosis
		}
		c.mgmtAuthed = false
		c.witness = w
		c.challenge = nil
		out := make([]byte, n)
		block.Encrypt(out, w)
		return enc(0x7c, enc(0x80, out)), swOK
	case hasWitness && hasChallenge && len(witness) == n && len(challenge) == n:
		// Step 2: the host proves it decrypted the witness and sends its
		// own challenge, which the card encrypts.
		want := c.witness
		c.witness = nil
		if want == nil || subtle.ConstantTimeCompare(want, witness) != 1 {
			return nil, swSecurityNotSatisfied
		}
		if c.st.MgmtTouch && !c.awaitTouch() {
			return nil, swSecurityNotSatisfied
		}
		out := make([]byte, n)
		block.Encrypt(out, challenge)
		c.mgmtAuthed = true
		return enc(0x7c, enc(0x82, out)), swOK
	case hasChallenge && len(challenge) == 0 && len(elems) == 1:
		// One-way: the card sends a challenge for the host to encrypt.
		ch := make([]byte, n)
		if _, err := io.ReadFull(c.rand, ch); err != nil {
			return nil, swNoPreciseDiagnosis
		}
		c.mgmtAuthed = false
		c.challenge = ch
		c.witness = nil
		return enc(0x7c, enc(0x81, ch)), swOK
	case hasResponse && len(response) == n && len(elems) == 1:
		ch := c.challenge
		c.challenge = nil
		if ch == nil {
			return nil, swSecurityNotSatisfied
		}
		want := make([]byte, n)
		block.Encrypt(want, ch)
		if subtle.ConstantTimeCompare(want, response) != 1 {
			return nil, swSecurityNotSatisfied
		}
		if c.st.MgmtTouch && !c.awaitTouch() {
			return nil, swSecurityNotSatisfied
		}
		c.mgmtAuthed = true
		return nil, swOK
	}
	c.witness, c.challenge = nil, nil
	return nil, swIncorrectData
}

// cmdSetManagementKey handles SET MANAGEMENT KEY (INS FF, P1 FF, P2 FF or
// FE for touch required): algorithm, 9B, length, key.
func (c *Card) cmdSetManagementKey(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0xff || (cmd.p2 != 0xff && cmd.p2 != 0xfe) {
		return nil, swIncorrectP1P2
	}
	if !c.mgmtAuthed {
		return nil, swSecurityNotSatisfied
	}
	d := cmd.data
	if len(d) < 3 || d[1] != 0x9b || int(d[2]) != len(d)-3 {
		return nil, swIncorrectData
	}
	alg, key := d[0], d[3:]
	want, ok := mgmtKeyLen[alg]
	if !ok || want != len(key) || (alg != alg3DES && !c.atLeast(5, 4, 0)) {
		return nil, swIncorrectData
	}
	c.st.MgmtAlg = alg
	c.st.MgmtKey = bytes.Clone(key)
	c.st.MgmtTouch = cmd.p2 == 0xfe
	c.st.MgmtDefault = false
	c.dirty = true
	return nil, swOK
}

// mgmtMetadata is GET METADATA for the card management key.
func (c *Card) mgmtMetadata() []byte {
	isDefault := byte(0)
	if c.st.MgmtDefault {
		isDefault = 1
	}
	touch := byte(touchNever)
	if c.st.MgmtTouch {
		touch = touchAlways
	}
	var out []byte
	out = append(out, enc(0x01, []byte{c.st.MgmtAlg})...)
	out = append(out, enc(0x02, []byte{0x00, touch})...)
	out = append(out, enc(0x05, []byte{isDefault})...)
	return out
}
