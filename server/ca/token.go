package ca

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.step.sm/crypto/jose"
)

// embeddedAudience is the audience step-ca accepts on every method of an
// authority it runs in-process (its legacy name).
const embeddedAudience = "step-certificate-authority"

// tokenLifetime bounds a provisioner token: minted, used once, at once.
const tokenLifetime = time.Minute

// Minter mints the one-time tokens with which a JWK provisioner's key holder
// asks step-ca to sign or revoke: ES256 JWTs with a random jti, the
// provisioner's name as issuer and its key id in the header.
type Minter struct {
	signer   jose.Signer
	issuer   string
	audience string
	now      func() time.Time
}

// NewMinter returns a Minter for the provisioner named issuer whose private
// key is key, for tokens addressed to audience (the embedded authority's
// name, or an external step-ca's https://HOST/1.0/sign or /1.0/revoke).
func NewMinter(key *jose.JSONWebKey, issuer, audience string) (*Minter, error) {
	if key == nil || key.IsPublic() || key.KeyID == "" {
		return nil, errors.New("provisioner token signer: a private JWK with a key id is needed")
	}
	so := new(jose.SignerOptions).WithType("JWT").WithHeader("kid", key.KeyID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.Key}, so)
	if err != nil {
		return nil, fmt.Errorf("provisioner token signer for %s: %w", issuer, err)
	}
	return &Minter{signer: signer, issuer: issuer, audience: audience, now: time.Now}, nil
}

// WithAudience returns a copy of m that addresses its tokens to audience.
func (m *Minter) WithAudience(audience string) *Minter {
	c := *m
	c.audience = audience
	return &c
}

// Mint returns a token for subject with the given SANs (none: step-ca
// defaults to the subject) and extra claims, which certificate templates
// read as .Token.<name>.
func (m *Minter) Mint(subject string, sans []string, extra map[string]any) (string, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	now := m.now()
	claims := struct {
		jose.Claims
		SANs []string `json:"sans,omitempty"`
	}{
		Claims: jose.Claims{
			ID:        hex.EncodeToString(id),
			Issuer:    m.issuer,
			Subject:   subject,
			Audience:  jose.Audience{m.audience},
			IssuedAt:  jose.NewNumericDate(now),
			NotBefore: jose.NewNumericDate(now),
			Expiry:    jose.NewNumericDate(now.Add(tokenLifetime)),
		},
		SANs: sans,
	}
	b := jose.Signed(m.signer).Claims(claims)
	if len(extra) > 0 {
		b = b.Claims(extra)
	}
	tok, err := b.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	return tok, nil
}
