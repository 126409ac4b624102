package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
)

// rotationEnv is an operations env served over TLS too, for device
// requests with client certificates.
type rotationEnv struct {
	*opsEnv
	tls *httptest.Server
	msp *ca.MSP
}

func newRotationEnv(t *testing.T) *rotationEnv {
	t.Helper()
	r := &rotationEnv{opsEnv: newOpsEnv(t)}
	r.tls = httptest.NewUnstartedServer(r.h)
	r.tls.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	r.tls.StartTLS()
	t.Cleanup(r.tls.Close)
	// The dev CA's own root stands in for the MSP root.
	msp, err := ca.LoadOrCreateMSP(r.caDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.msp = msp
	return r
}

// do sends a request with cert as TLS client certificate.
func (r *rotationEnv) do(t *testing.T, method, path string, cert *tls.Certificate, body any) (int, []byte) {
	t.Helper()
	tr := r.tls.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	defer tr.CloseIdleConnections()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, r.tls.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// nextIntermediate has the MSP sign a new intermediate for the CA's
// pending key and returns its PEM.
func (r *rotationEnv) nextIntermediate(t *testing.T, tenantSlug string) string {
	t.Helper()
	csr, err := ca.RequestIntermediate(r.caDir, tenant)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.msp.SignIntermediate(csr, tenantSlug, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return string(ca.PEM(c))
}

func reasonOf(body []byte) string {
	var er protocol.ErrorResponse
	_ = json.Unmarshal(body, &er)
	return er.Reason
}

// TestRotateIntermediateOperation: rotate_intermediate needs the founder
// and the operator; once applied, the old intermediate's device and admin
// certificates are refused, the device gets a new certificate for its key
// through POST /v1/device/reissue, and its old certificate still cannot
// check in.
func TestRotateIntermediateOperation(t *testing.T) {
	r := newRotationEnv(t)
	d := r.enrollDevice(t)
	old := d.tlsCert()
	if code, body := r.do(t, http.MethodGet, protocol.PathDeviceConfig, old, nil); code != http.StatusOK {
		t.Fatalf("check-in before: %d %s", code, body)
	}
	oldInter := r.env.ca.Intermediate()
	doc := r.nextIntermediate(t, tenant)
	params := map[string]string{protocol.ParamDocumentSHA256: protocol.DocumentSHA256(doc)}

	// Refused before anyone signs: another tenant's intermediate, garbage.
	for name, bad := range map[string]string{
		"other tenant": r.nextIntermediate(t, "globex"),
		"not pem":      "intermediate",
		"two blocks":   doc + doc,
	} {
		code, body := r.request(t, protocol.OpRotateIntermediate, map[string]string{protocol.ParamDocumentSHA256: protocol.DocumentSHA256(bad)}, bad)
		if code != http.StatusBadRequest || reasonOf(body) != ReasonInvalidParams {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}

	inst := r.mustRequest(t, protocol.OpRotateIntermediate, params, doc)
	if !strings.Contains(inst.Description, "intermediate") {
		t.Errorf("description %q", inst.Description)
	}
	// The sysadmin's signature is not enough: founder and operator sign.
	if code, _ := r.sign(t, r.sysadmin, inst); code == http.StatusOK {
		t.Error("a sysadmin signed rotate_intermediate")
	}
	inst = r.mustSign(t, r.founder, inst)
	if inst.State == "applied" {
		t.Fatal("applied without the operator")
	}
	if !r.env.ca.Intermediate().Equal(oldInter) {
		t.Fatal("rotated before approval")
	}
	inst = r.mustSign(t, r.operator, inst)
	if inst.State != "applied" {
		t.Fatalf("with founder and operator: %+v", inst)
	}
	if r.env.ca.Intermediate().Equal(oldInter) {
		t.Fatal("the CA still signs with the old intermediate")
	}
	retired, err := r.st.RetiredIntermediates(context.Background())
	if err != nil || len(retired) != 1 || retired[0].SHA256 != ca.Fingerprint(oldInter) || retired[0].OperationID != inst.ID {
		t.Fatalf("retired %+v %v", retired, err)
	}
	dev, _ := r.st.DeviceByID(context.Background(), d.id)
	if dev.Certificates[0].Issuer != ca.Fingerprint(oldInter) {
		t.Errorf("the device's certificate is not marked as the retired intermediate's: %+v", dev.Certificates)
	}

	// The old certificate: refused at check-in with the reason that tells
	// the agent to reissue.
	code, body := r.do(t, http.MethodGet, protocol.PathDeviceConfig, old, nil)
	if code != http.StatusUnauthorized || reasonOf(body) != ReasonIntermediateRetired {
		t.Fatalf("old certificate at check-in: %d %s", code, body)
	}
	// Old-intermediate admin certificates sign nothing any more.
	burn := r.mustRequest(t, protocol.OpBurnKey, map[string]string{protocol.ParamSerial: "3000"}, "")
	if code, body := r.sign(t, r.sysadmin, burn); code != http.StatusForbidden || reasonOf(body) != ReasonIntermediateRetired {
		t.Errorf("an admin certificate of the retired intermediate: %d %s, want 403 %s", code, body, ReasonIntermediateRetired)
	}

	// Reissue: a CSR for another key, then one for the device key.
	other := r.begin(t)
	if code, body := r.do(t, http.MethodPost, "/v1/device/reissue", old, protocol.DeviceReissueRequest{CSR: other.csr}); code != http.StatusBadRequest || reasonOf(body) != ReasonReissueRefused {
		t.Errorf("reissue for another key: %d %s", code, body)
	}
	code, body = r.do(t, http.MethodPost, "/v1/device/reissue", old, protocol.DeviceReissueRequest{CSR: d.c.csr})
	if code != http.StatusOK {
		t.Fatalf("reissue: %d %s", code, body)
	}
	var er protocol.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	leaf := checkinPEM(t, er.Certificate)
	if leaf.CheckSignatureFrom(r.env.ca.Intermediate()) != nil || !bytes.Equal(leaf.RawSubjectPublicKeyInfo, d.leaf.RawSubjectPublicKeyInfo) {
		t.Fatal("the reissued certificate is not the new intermediate's for the same key")
	}
	if er.DeviceID != d.id || er.Config.DeviceID != d.id {
		t.Errorf("reissue answered device %s / %s", er.DeviceID, er.Config.DeviceID)
	}
	var chain []*x509.Certificate
	for _, p := range er.Chain {
		chain = append(chain, checkinPEM(t, p))
	}
	fresh := checkinCert(d.c.deviceKey, leaf, chain)
	if code, body := r.do(t, http.MethodGet, protocol.PathDeviceConfig, fresh, nil); code != http.StatusOK {
		t.Fatalf("check-in with the reissued certificate: %d %s", code, body)
	}
	if code, _ := r.do(t, http.MethodGet, protocol.PathDeviceConfig, old, nil); code != http.StatusUnauthorized {
		t.Error("the old certificate checks in again after the reissue")
	}

	// A revoked device gets nothing, even with a certificate on record.
	r.setStatus(t, d.id, "revoked", "")
	if code, body := r.do(t, http.MethodPost, "/v1/device/reissue", old, protocol.DeviceReissueRequest{CSR: d.c.csr}); code != http.StatusForbidden || reasonOf(body) != ReasonDeviceInactive {
		t.Errorf("reissue of a revoked device: %d %s", code, body)
	}
}

// The operations env's CA records revocations; these forward rotation to
// the embedded CA beneath, as the server sees ca.Embedded.
func (r *revokeRecorder) Intermediate() *x509.Certificate { return r.CA.(Rotator).Intermediate() }

func (r *revokeRecorder) CheckRotation(next *x509.Certificate) error {
	return r.CA.(Rotator).CheckRotation(next)
}

func (r *revokeRecorder) Rotate(next *x509.Certificate) error { return r.CA.(Rotator).Rotate(next) }

func (r *revokeRecorder) Retired() ([]*x509.Certificate, error) {
	return r.CA.(interface {
		Retired() ([]*x509.Certificate, error)
	}).Retired()
}

// plainCA hides the CA's rotation methods, as an external step-ca's client
// (ca.Remote) has none.
type plainCA struct{ CA }

// TestRotateIntermediateExternalCA: with a CA the API cannot rotate, the
// operation is refused before anyone signs, saying what to do instead.
func TestRotateIntermediateExternalCA(t *testing.T) {
	o := newOpsEnv(t, func(c *Config) { c.CA = plainCA{c.CA} })
	doc := "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
	code, body := o.request(t, protocol.OpRotateIntermediate, map[string]string{protocol.ParamDocumentSHA256: protocol.DocumentSHA256(doc)}, doc)
	if code != http.StatusBadRequest || reasonOf(body) != ReasonOperationNotAvailable || !strings.Contains(string(body), "install the new intermediate in step-ca") {
		t.Errorf("rotate_intermediate with an external CA: %d %s", code, body)
	}
}
