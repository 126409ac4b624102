package renew

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxResponse bounds what is read from the CA.
const maxResponse = 1 << 20

// DefaultTimeout bounds one renewal request.
const DefaultTimeout = 30 * time.Second

// ErrFingerprintMismatch is returned by NewClient when the root given is not
// the one the fingerprint pins.
var ErrFingerprintMismatch = errors.New("root does not match the pinned fingerprint")

// Client renews certificates at one step-ca (or the tenant API serving
// step-ca's routes) through its HTTP API. It trusts only the pinned tenant
// root: for the server's TLS certificate (unless WithServerRoots says
// otherwise) and for every certificate it hands back.
type Client struct {
	base        *url.URL
	root        *x509.Certificate
	serverRoots *x509.CertPool
	timeout     time.Duration
	rand        io.Reader
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithServerRoots sets the roots that verify the server's TLS certificate,
// when it is not issued under the tenant root (the default). Issued device
// certificates are always verified against the pinned root alone.
func WithServerRoots(pool *x509.CertPool) ClientOption {
	return func(c *Client) { c.serverRoots = pool }
}

// WithTimeout bounds one renewal request (DefaultTimeout if not set).
func WithTimeout(d time.Duration) ClientOption { return func(c *Client) { c.timeout = d } }

// WithRand sets the randomness of renewal token ids (crypto/rand if not set).
func WithRand(r io.Reader) ClientOption { return func(c *Client) { c.rand = r } }

// Fingerprint returns the lower-case hex SHA-256 of cert's DER, the form
// `step certificate fingerprint` prints.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// NewClient returns a client for the CA at caURL (https; step-ca's routes at
// its root or under its path). root is the tenant root from enrollment; it
// must match fingerprint (hex SHA-256 of its DER, colons and case ignored)
// or NewClient fails with ErrFingerprintMismatch.
func NewClient(caURL string, root *x509.Certificate, fingerprint string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(caURL)
	if err != nil {
		return nil, fmt.Errorf("parsing CA URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("CA URL %q: want https://host[:port][/path]", caURL)
	}
	if root == nil {
		return nil, errors.New("no tenant root given")
	}
	want := strings.ToLower(strings.ReplaceAll(fingerprint, ":", ""))
	if got := Fingerprint(root); got != want {
		return nil, fmt.Errorf("root %s, pinned %s: %w", got, want, ErrFingerprintMismatch)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	c := &Client{base: u, root: root, serverRoots: pool, timeout: DefaultTimeout, rand: rand.Reader}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Renew renews current (its leaf, intermediates and private key) with the
// method right for now: mutual TLS while the leaf is valid, step-ca's renewal
// token after NotAfter. It returns the new certificate (leaf, intermediates,
// the same private key) only once it is fully verified: it chains to the
// pinned root, has the same public key, subject and URIs as current, and a
// later NotAfter. Every failure is an *Error with a Class; nothing about
// current is changed.
func (c *Client) Renew(ctx context.Context, current tls.Certificate, now time.Time) (tls.Certificate, error) {
	leaf, err := leafOf(current)
	if err != nil {
		return tls.Certificate{}, err
	}
	signer, ok := current.PrivateKey.(crypto.Signer)
	if !ok || !publicKeyEqual(signer.Public(), leaf.PublicKey) {
		return tls.Certificate{}, errors.New("renewing certificate: private key does not match the certificate")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath("renew").String(), nil)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("renewing certificate: %w", err)
	}
	var clientCert *tls.Certificate
	if now.Before(leaf.NotAfter) {
		clientCert = &current
	} else {
		tok, err := c.renewalToken(leaf, current.Certificate[1:], signer, now)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("renewing certificate %s: %w", leaf.SerialNumber, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	status, body, err := c.send(req, clientCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return tls.Certificate{}, classifyStatus(status, body)
	}
	chain, err := parseRenewResponse(body)
	if err != nil {
		return tls.Certificate{}, &Error{Class: ClassMalformed, Status: status, Err: err}
	}
	return c.accept(chain, current, leaf, status, now)
}

// send sends req over TLS to a server verified against the server roots,
// presenting clientCert when not nil, and reads the answer (at most
// maxResponse bytes). Transport failures are classified errors.
func (c *Client) send(req *http.Request, clientCert *tls.Certificate) (int, []byte, error) {
	tlsConf := &tls.Config{RootCAs: c.serverRoots, MinVersion: tls.VersionTLS12}
	if clientCert != nil {
		cert := *clientCert
		tlsConf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, classifyTransportError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, nil, &Error{Class: ClassTransient, Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	return resp.StatusCode, body, nil
}

// accept verifies chain as the successor of current's leaf (verify) and
// returns it as a certificate with current's key, without the root.
func (c *Client) accept(chain []*x509.Certificate, current tls.Certificate, leaf *x509.Certificate, status int, now time.Time) (tls.Certificate, error) {
	if err := c.verify(chain, leaf, now); err != nil {
		return tls.Certificate{}, &Error{Class: ClassMalformed, Status: status, Err: err}
	}
	out := tls.Certificate{PrivateKey: current.PrivateKey, Leaf: chain[0]}
	for _, x := range chain {
		if !x.Equal(c.root) {
			out.Certificate = append(out.Certificate, x.Raw)
		}
	}
	return out, nil
}

func leafOf(c tls.Certificate) (*x509.Certificate, error) {
	if len(c.Certificate) == 0 {
		return nil, errors.New("renewing certificate: no certificate given")
	}
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("renewing certificate: parsing the current leaf: %w", err)
	}
	return leaf, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// classifyTransportError sorts a failed round trip: a server certificate the
// pinned root does not vouch for is ClassUntrusted, everything else
// (refused connection, DNS, timeout, reset) is transient.
func classifyTransportError(err error) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verr *tls.CertificateVerificationError
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verr) {
		return &Error{Class: ClassUntrusted, Err: err}
	}
	return &Error{Class: ClassTransient, Err: err}
}

// classifyStatus sorts a CA answer other than success. step-ca answers
// {"status":N,"message":"..."}; the tenant bridge's messages say "has been
// revoked" and "re-enroll".
func classifyStatus(status int, body []byte) error {
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &msg) // a missing message still classifies by status
	e := &Error{Status: status, Message: safeMessage(msg.Message)}
	lower := strings.ToLower(msg.Message)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		switch {
		case strings.Contains(lower, "revoked"):
			e.Class = ClassRevoked
		case strings.Contains(lower, "re-enroll") || strings.Contains(lower, "expired"):
			e.Class = ClassReEnroll
		default:
			e.Class = ClassRefused
		}
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		e.Class = ClassTransient
	default:
		e.Class = ClassMalformed
	}
	return e
}

// parseRenewResponse reads step-ca's sign response: certChain (leaf first),
// or crt and ca for older CAs.
func parseRenewResponse(body []byte) ([]*x509.Certificate, error) {
	var r struct {
		Crt       string   `json:"crt"`
		CA        string   `json:"ca"`
		CertChain []string `json:"certChain"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	pems := r.CertChain
	if len(pems) == 0 {
		pems = []string{r.Crt, r.CA}
	}
	var chain []*x509.Certificate
	for _, p := range pems {
		certs, err := parsePEMCertificates([]byte(p))
		if err != nil {
			return nil, err
		}
		chain = append(chain, certs...)
	}
	if len(chain) == 0 {
		return nil, errors.New("the answer holds no certificate")
	}
	return chain, nil
}

func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, errors.New("trailing data after the PEM certificates")
	}
	return out, nil
}

// verify checks that chain[0] is a renewal of old: it chains to the pinned
// root (checked at the new NotBefore, so a clock that lags the CA's does not
// reject it), carries the same key, subject and URIs, and ends later.
func (c *Client) verify(chain []*x509.Certificate, old *x509.Certificate, now time.Time) error {
	leaf := chain[0]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c.root)
	for _, x := range chain[1:] {
		inter.AddCert(x)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: leaf.NotBefore.Add(time.Second),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("new certificate %s does not chain to the pinned root: %w", leaf.SerialNumber, err)
	}
	switch {
	case !publicKeyEqual(leaf.PublicKey, old.PublicKey):
		return fmt.Errorf("new certificate %s is for another key", leaf.SerialNumber)
	case leaf.Subject.String() != old.Subject.String():
		return fmt.Errorf("new certificate %s names %q, want %q", leaf.SerialNumber, leaf.Subject, old.Subject)
	case !slices.EqualFunc(leaf.URIs, old.URIs, func(a, b *url.URL) bool { return a.String() == b.String() }):
		return fmt.Errorf("new certificate %s has other URIs than %s", leaf.SerialNumber, old.SerialNumber)
	case !leaf.NotAfter.After(old.NotAfter) || !leaf.NotAfter.After(now):
		return fmt.Errorf("new certificate %s ends %s, not later than the current one (%s)", leaf.SerialNumber, leaf.NotAfter, old.NotAfter)
	}
	return nil
}

// renewalToken builds step-ca's renewal token: an ES256 JWT signed by the
// certificate's own key, the leaf and intermediates in the x5cInsecure
// header. step-ca checks the chain ignoring validity periods, then the
// signature with the leaf's key; the token is single-use (jti).
func (c *Client) renewalToken(leaf *x509.Certificate, intermediates [][]byte, key crypto.Signer, now time.Time) (string, error) {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return "", errors.New("building the renewal token: only P-256 keys are supported")
	}
	x5c := []string{base64.StdEncoding.EncodeToString(leaf.Raw)}
	for _, der := range intermediates {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(der))
	}
	jti := make([]byte, 16)
	if _, err := io.ReadFull(c.rand, jti); err != nil {
		return "", fmt.Errorf("building the renewal token: %w", err)
	}
	header, err := json.Marshal(struct {
		Alg string   `json:"alg"`
		Typ string   `json:"typ"`
		X5c []string `json:"x5cInsecure"`
	}{"ES256", "JWT", x5c})
	if err != nil {
		return "", fmt.Errorf("building the renewal token: %w", err)
	}
	// step-ca accepts https://<its DNS name>/renew whatever port or path
	// prefix the client reached it at.
	aud := (&url.URL{Scheme: "https", Host: c.base.Hostname(), Path: "/renew"}).String()
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Iat int64  `json:"iat"`
		Nbf int64  `json:"nbf"`
		Exp int64  `json:"exp"`
		Jti string `json:"jti"`
	}{"step-ca-client/1.0", leaf.Subject.CommonName, aud, now.Unix(), now.Unix(), now.Add(time.Minute).Unix(), hex.EncodeToString(jti)})
	if err != nil {
		return "", fmt.Errorf("building the renewal token: %w", err)
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	der, err := key.Sign(c.rand, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("signing the renewal token: %w", err)
	}
	// JWS wants r||s, each 32 bytes, not ASN.1.
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return "", errors.New("signing the renewal token: the key returned a malformed signature")
	}
	raw := make([]byte, 64)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return signingInput + "." + enc.EncodeToString(raw), nil
}
