package renew

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// PathDeviceReissue is the tenant API's route for a new device certificate
// after a rotate_intermediate (docs/ca.md, "Rotating the intermediate").
const PathDeviceReissue = "/v1/device/reissue"

// ReasonIntermediateRetired is the tenant API's reason for a device
// certificate of a retired intermediate.
const ReasonIntermediateRetired = "intermediate_retired"

// Reissue asks the tenant API at apiURL, over mutual TLS with current, for
// a certificate from the tenant's current intermediate for current's key:
// what a device does after the tenant's intermediate was rotated, when
// step-ca no longer renews a certificate of the old one. The CSR carries
// the names of the current certificate; the answer is verified as a
// renewal is (pinned root, same key, subject and URIs, a later end).
func (c *Client) Reissue(ctx context.Context, apiURL string, current tls.Certificate, now time.Time) (tls.Certificate, error) {
	leaf, err := leafOf(current)
	if err != nil {
		return tls.Certificate{}, err
	}
	signer, ok := current.PrivateKey.(crypto.Signer)
	if !ok || !publicKeyEqual(signer.Public(), leaf.PublicKey) {
		return tls.Certificate{}, errors.New("reissuing certificate: private key does not match the certificate")
	}
	u, err := url.Parse(apiURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return tls.Certificate{}, fmt.Errorf("reissuing certificate: API URL %q: want https://host[:port]", apiURL)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: leaf.URIs}, signer)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reissuing certificate: creating the CSR: %w", err)
	}
	body, err := json.Marshal(protocol.DeviceReissueRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reissuing certificate: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(u.String(), "/")+PathDeviceReissue, bytes.NewReader(body))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reissuing certificate: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	status, data, err := c.send(req, &current)
	if err != nil {
		return tls.Certificate{}, err
	}
	if status != http.StatusOK {
		var er protocol.ErrorResponse
		_ = json.Unmarshal(data, &er)
		msg := er.Message
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
		class := ClassTransient
		if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
			class = ClassRefused
		}
		return tls.Certificate{}, &Error{Class: class, Status: status, Err: fmt.Errorf("the tenant API refused the reissue (%s): %s", er.Reason, msg)}
	}
	var er protocol.EnrollResponse
	if err := protocol.DecodeJSON(bytes.NewReader(data), maxResponse, &er); err != nil {
		return tls.Certificate{}, &Error{Class: ClassMalformed, Status: status, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	var chain []*x509.Certificate
	for _, p := range append([]string{er.Certificate}, er.Chain...) {
		cs, err := parsePEMCertificates([]byte(p))
		if err != nil || len(cs) != 1 {
			return tls.Certificate{}, &Error{Class: ClassMalformed, Status: status, Err: fmt.Errorf("reading the answer's certificates: %v", err)}
		}
		chain = append(chain, cs[0])
	}
	return c.accept(chain, current, leaf, status, now)
}
