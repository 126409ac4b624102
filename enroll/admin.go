package enroll

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
)

// AdminAPI is the tenant API as the admin verbs use it; enroll/apiclient
// implements it over HTTPS pinned to the tenant root.
type AdminAPI interface {
	RequestOperation(ctx context.Context, req protocol.OperationRequest) (*protocol.OperationInstance, error)
	Operation(ctx context.Context, id string) (*protocol.OperationInstance, error)
	Operations(ctx context.Context, states string) (*protocol.OperationList, error)
	SignOperation(ctx context.Context, id string, req protocol.SignatureRequest) (*protocol.OperationInstance, error)
	CancelOperation(ctx context.Context, id string, req protocol.SignatureRequest) (*protocol.OperationInstance, error)
	Audit(ctx context.Context, after int64) (*protocol.AuditPage, error)
	// WithReadGrant is a client whose reads carry g (read_audit,
	// read_status).
	WithReadGrant(g *apiclient.ReadGrant) *apiclient.Client
}

// StatementSigner is an administrator's slot 9a key: a YubiKey
// (YubiKeySigner) in production, a software key (SoftwareSigner) in tests
// and for the dev operator.
type StatementSigner interface {
	// Serial is the YubiKey serial the statements carry.
	Serial() uint32
	// Certificate is the signer's certificate (the x5c leaf).
	Certificate() *x509.Certificate
	// Sign signs stmt (setting its timestamp to now), asking for the PIN
	// and touch for purpose, in words, when the key needs them.
	Sign(ctx context.Context, stmt *protocol.Statement, purpose string, now time.Time) (string, error)
	// Close releases the key.
	Close() error
}

// Admin runs the `kiwistack-enroll admin …` verbs.
type Admin struct {
	// Dial connects to the tenant API, trusting only the root whose SHA-256
	// is rootFingerprint.
	Dial func(ctx context.Context, apiURL, rootFingerprint string) (AdminAPI, error)
	// OpenSigner opens the signing key (serial 0: the only one, or ask).
	OpenSigner func(ctx context.Context, serial uint32) (StatementSigner, error)
	// Out receives the human output, or the JSON with AdminOptions.JSON.
	Out io.Writer
	// Err receives, with AdminOptions.JSON, what sign and cancel show
	// before the PIN prompt; discarded when nil.
	Err io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// AdminOptions are the flags every admin verb shares.
type AdminOptions struct {
	APIURL, Tenant, RootFingerprint string
	// Serial picks the YubiKey (0: the only one, or ask).
	Serial uint32
	// JSON prints adminjson types instead of words.
	JSON bool
	// Operator signs as a KiwiStack operator, whose certificate is
	// KiwiStack's rather than the tenant's (`kiwistack-api operator sign`).
	Operator bool
}

// CheckAdminOptions validates the connection flags like `enroll` does.
func CheckAdminOptions(o AdminOptions) error {
	return CheckEnrollOptions(EnrollOptions{APIURL: o.APIURL, Tenant: o.Tenant, RootFingerprint: o.RootFingerprint})
}

func (a Admin) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a Admin) dial(ctx context.Context, o AdminOptions) (AdminAPI, error) {
	if err := CheckAdminOptions(o); err != nil {
		return nil, err
	}
	return a.Dial(ctx, o.APIURL, strings.ToLower(o.RootFingerprint))
}

// ParseParams turns `--param k=v` flags into parameters; a value @FILE is
// the content of FILE (a certificate for add_admin).
func ParseParams(kvs []string) (map[string]string, error) {
	p := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE (or NAME=@FILE)", kv)
		}
		if _, dup := p[k]; dup {
			return nil, fmt.Errorf("--param %s given twice", k)
		}
		if f, ok := strings.CutPrefix(v, "@"); ok {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("--param %s: %w", k, err)
			}
			v = string(b)
		}
		p[k] = v
	}
	return p, nil
}

// Request asks the API for operation op with params (and, for
// policy_change, the policy file at documentPath, whose SHA-256 becomes
// params.document_sha256) and shows what signers will sign.
func (a Admin) Request(ctx context.Context, o AdminOptions, op string, params map[string]string, documentPath string) error {
	api, err := a.dial(ctx, o)
	if err != nil {
		return err
	}
	req := protocol.OperationRequest{Operation: op, Tenant: o.Tenant, Params: params}
	if req.Params == nil {
		req.Params = map[string]string{}
	}
	if documentPath != "" {
		b, err := os.ReadFile(documentPath)
		if err != nil {
			return fmt.Errorf("reading the document: %w", err)
		}
		req.Document = string(b)
		req.Params[protocol.ParamDocumentSHA256] = protocol.DocumentSHA256(req.Document)
	}
	inst, err := api.RequestOperation(ctx, req)
	if err != nil {
		return fmt.Errorf("requesting %s: %w", op, err)
	}
	if err := checkInstance(inst, o.Tenant); err != nil {
		return err
	}
	if o.JSON {
		return a.writeOperation(inst)
	}
	fmt.Fprintf(a.Out, "Requested %s\n", inst.ID)
	describe(a.Out, inst)
	fmt.Fprintf(a.Out, "\nNext: each signer runs  kiwistack-enroll admin sign %s\n", inst.ID)
	return nil
}

// operation reads operation id from the API and checks it with
// checkInstance; it also returns the API, for what follows.
func (a Admin) operation(ctx context.Context, o AdminOptions, id string) (AdminAPI, *protocol.OperationInstance, error) {
	api, err := a.dial(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	inst, err := api.Operation(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("reading operation %s: %w", id, err)
	}
	if err := checkInstance(inst, o.Tenant); err != nil {
		return nil, nil, err
	}
	return api, inst, nil
}

// writeOperation writes inst to a.Out as the JSON output of one operation.
func (a Admin) writeOperation(inst *protocol.OperationInstance) error {
	return writeJSON(a.Out, adminjson.Operation{Schema: adminjson.Schema, Operation: *inst})
}

// checkInstance checks that the API's instance is for this tenant and that
// its digests are those of what it shows.
func checkInstance(inst *protocol.OperationInstance, tenant string) error {
	if err := inst.Validate(); err != nil {
		return fmt.Errorf("the API's answer does not hold together (%w); do not sign it, and report it", err)
	}
	if inst.Tenant != tenant {
		return fmt.Errorf("the API answered for tenant %q, not %q; check --api and --tenant", inst.Tenant, tenant)
	}
	return nil
}

// describe writes an operation in words: what it does, its parameters,
// its state and what it still needs.
func describe(out io.Writer, inst *protocol.OperationInstance) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "  operation\t%s\n", inst.Description)
	for _, k := range slices.Sorted(maps.Keys(inst.Params)) {
		v := inst.Params[k]
		if strings.Contains(v, "\n") {
			v = fmt.Sprintf("(%d bytes, %d lines)", len(v), strings.Count(v, "\n"))
		}
		fmt.Fprintf(w, "  %s\t%s\n", k, v)
	}
	fmt.Fprintf(w, "  required\t%s", strings.Join(inst.RequiredRoles, " + "))
	if inst.OperatorCosign {
		fmt.Fprint(w, " + a KiwiStack operator")
	}
	fmt.Fprintln(w)
	if inst.Window != "" {
		fmt.Fprintf(w, "  window\t%s from the first signature\n", inst.Window)
	}
	if inst.Delay != "" {
		c := ""
		if inst.Cancellable {
			c = ", cancellable (kiwistack-enroll admin cancel " + inst.ID + ")"
		}
		fmt.Fprintf(w, "  delay\t%s after approval%s\n", inst.Delay, c)
	}
	fmt.Fprintf(w, "  state\t%s\n", inst.Summary)
	for _, s := range inst.Signatures {
		status := "counted"
		if s.Reason != "" {
			status = "void: " + s.Reason
		} else if !s.Counted {
			status = "not needed"
		}
		fmt.Fprintf(w, "  signed\t%s by YubiKey %d (%s, %s) at %s, %s\n", s.Kind, s.Serial, s.Admin, s.Role, s.ReceivedAt, status)
	}
	if inst.Effect != "" {
		fmt.Fprintf(w, "  effect\t%s\n", inst.Effect)
	}
	for _, l := range inst.Lockouts {
		fmt.Fprintf(w, "  cannot be signed any more\t%s\n", l)
	}
	fmt.Fprintf(w, "  expires\t%s\n", inst.ExpiresAt)
	fmt.Fprintf(w, "  digest\t%s\n", inst.Digest)
	_ = w.Flush()
}

// Sign shows operation id in words, then has the signer approve it (PIN
// and touch) and sends the statement.
func (a Admin) Sign(ctx context.Context, o AdminOptions, id string) error {
	return a.sign(ctx, o, id, false)
}

// Cancel shows operation id, then signs and sends its cancel statement.
func (a Admin) Cancel(ctx context.Context, o AdminOptions, id string) error {
	return a.sign(ctx, o, id, true)
}

func (a Admin) sign(ctx context.Context, o AdminOptions, id string, cancel bool) error {
	api, inst, err := a.operation(ctx, o, id)
	if err != nil {
		return err
	}
	// What is being signed goes to stderr with --json, so that stdout
	// holds the JSON answer alone.
	out := a.Out
	if o.JSON {
		out = a.Err
	}
	after, cert, serial, err := a.approve(ctx, o, api, inst, cancel, out)
	if err != nil {
		return err
	}
	if o.JSON {
		return a.writeOperation(after)
	}
	fmt.Fprintf(a.Out, "\nSigned by YubiKey %d (%s, %s). Operation %s is now %s.\n", serial, cert.Subject.CommonName,
		firstOr(cert.Subject.OrganizationalUnit), id, after.Summary)
	if after.Effect != "" {
		fmt.Fprintf(a.Out, "Effect: %s\n", after.Effect)
	}
	for _, l := range after.Lockouts {
		fmt.Fprintf(a.Out, "Can no longer be signed: %s\n", l)
	}
	return nil
}

// approve shows inst in words on out (nil: nowhere), has the signer approve
// it, or cancel it, with PIN and touch, and sends the statement; it returns
// the operation as the API then has it and the signer's certificate and
// serial.
func (a Admin) approve(ctx context.Context, o AdminOptions, api AdminAPI, inst *protocol.OperationInstance, cancel bool, out io.Writer) (*protocol.OperationInstance, *x509.Certificate, uint32, error) {
	id := inst.ID
	if inst.State != "pending" && inst.State != "staged" {
		return nil, nil, 0, fmt.Errorf("operation %s is %s (%s): nothing to sign", id, inst.State, inst.Summary)
	}
	op, verb := inst.ProtocolOperation(), "approve"
	if cancel {
		op, verb = inst.CancelOperation(), "CANCEL"
	}
	if out == nil {
		out = io.Discard
	}
	// What is being signed, in words, before the PIN prompt.
	fmt.Fprintf(out, "You are about to %s operation %s:\n", verb, inst.ID)
	describe(out, inst)
	signer, err := a.OpenSigner(ctx, o.Serial)
	if err != nil {
		return nil, nil, 0, err
	}
	defer signer.Close()
	cert := signer.Certificate()
	if !o.Operator {
		if err := checkSignerCert(cert, o.Tenant, a.now()); err != nil {
			return nil, nil, 0, fmt.Errorf("YubiKey %d: %w", signer.Serial(), err)
		}
	}
	digest, err := op.Digest()
	if err != nil {
		return nil, nil, 0, err
	}
	stmt := &protocol.Statement{Operation: op.ID, Tenant: op.Tenant, YubiKeySerial: signer.Serial(), Nonce: op.Nonce,
		Digest: digest, Params: op.Params}
	purpose := strings.ToLower(verb[:1]) + verb[1:] + " " + inst.Description
	compact, err := signer.Sign(ctx, stmt, purpose, a.now())
	if err != nil {
		return nil, nil, 0, fmt.Errorf("signing operation %s: %w", id, err)
	}
	send := api.SignOperation
	if cancel {
		send = api.CancelOperation
	}
	after, err := send(ctx, id, protocol.SignatureRequest{Statement: compact})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("sending the signature of operation %s: %w", id, err)
	}
	if err := checkInstance(after, o.Tenant); err != nil {
		return nil, nil, 0, err
	}
	return after, cert, signer.Serial(), nil
}

// reader returns a client of the tenant API that may read what op
// (read_audit or read_status) grants: it requests op for a new one-time
// key, which never leaves this process, and has this administrator sign it
// (seed Z1: reads need one YubiKey signature). What is signed is shown on
// stderr.
func (a Admin) reader(ctx context.Context, o AdminOptions, op string) (AdminAPI, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making the one-time read key: %w", err)
	}
	api, err := a.dial(ctx, o)
	if err != nil {
		return nil, err
	}
	inst, err := api.RequestOperation(ctx, protocol.OperationRequest{Operation: op, Tenant: o.Tenant,
		Params: map[string]string{protocol.ParamReaderKey: protocol.EncodeReaderKey(pub)}})
	if err != nil {
		return nil, fmt.Errorf("requesting %s: %w", op, err)
	}
	if err := checkInstance(inst, o.Tenant); err != nil {
		return nil, err
	}
	after, _, _, err := a.approve(ctx, o, api, inst, false, a.Err)
	if err != nil {
		return nil, err
	}
	if after.State != "applied" {
		return nil, fmt.Errorf("%s %s is %s (%s): the read needs it applied", op, after.ID, after.State, after.Summary)
	}
	return api.WithReadGrant(&apiclient.ReadGrant{Operation: after.ID, Key: key, Tenant: o.Tenant, Now: a.now}), nil
}

// Status shows one operation, or with id "" the open ones.
func (a Admin) Status(ctx context.Context, o AdminOptions, id string) error {
	if id == "" {
		return a.List(ctx, o, "pending,staged,approved")
	}
	_, inst, err := a.operation(ctx, o, id)
	if err != nil {
		return err
	}
	if o.JSON {
		return a.writeOperation(inst)
	}
	fmt.Fprintf(a.Out, "Operation %s\n", inst.ID)
	describe(a.Out, inst)
	return nil
}

// List shows the operations in states (comma-separated; "" for all).
func (a Admin) List(ctx context.Context, o AdminOptions, states string) error {
	api, err := a.reader(ctx, o, protocol.OpReadStatus)
	if err != nil {
		return err
	}
	l, err := api.Operations(ctx, states)
	if err != nil {
		return fmt.Errorf("listing operations: %w", err)
	}
	if o.JSON {
		return writeJSON(a.Out, adminjson.List{Schema: adminjson.Schema, Operations: l.Operations})
	}
	if len(l.Operations) == 0 {
		fmt.Fprintln(a.Out, "No operations.")
		return nil
	}
	w := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tCREATED\tOPERATION")
	for _, op := range l.Operations {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", op.ID, op.State, op.CreatedAt, op.Description)
	}
	return w.Flush()
}

// ErrAuditBroken reports an audit log whose chain does not verify.
var ErrAuditBroken = errors.New("the audit log's hash chain does not verify")

// Audit prints the audit log; with verify it checks the whole hash chain
// locally and fails with ErrAuditBroken at the first bad entry.
func (a Admin) Audit(ctx context.Context, o AdminOptions, verify bool) error {
	api, err := a.reader(ctx, o, protocol.OpReadAudit)
	if err != nil {
		return err
	}
	out := adminjson.Audit{Schema: adminjson.Schema, HeadHash: protocol.AuditGenesisHash, Entries: []protocol.AuditEntry{}}
	for {
		page, err := api.Audit(ctx, out.HeadSeq)
		if err != nil {
			return fmt.Errorf("reading the audit log: %w", err)
		}
		if len(page.Entries) == 0 {
			break
		}
		seq, hash, verr := protocol.VerifyAuditChain(out.HeadSeq, out.HeadHash, page.Entries)
		if verr != nil && verify {
			return fmt.Errorf("%w: %w", ErrAuditBroken, verr)
		}
		if verr != nil {
			// Without --verify, list what was served and carry on.
			last := page.Entries[len(page.Entries)-1]
			seq, hash = last.Seq, last.Hash
		}
		out.Entries = append(out.Entries, page.Entries...)
		out.HeadSeq, out.HeadHash = seq, hash
		if !page.More {
			break
		}
	}
	out.Verified = verify
	if o.JSON {
		return writeJSON(a.Out, out)
	}
	w := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tTIME\tACTOR\tOPERATION\tRESULT\tREASON")
	for _, e := range out.Entries {
		fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\n", e.Seq, e.Time, e.Actor, e.Operation, e.Result, e.Reason)
	}
	_ = w.Flush()
	if verify {
		fmt.Fprintf(a.Out, "\nThe hash chain of %d entries verifies; head %d %s.\n", len(out.Entries), out.HeadSeq, out.HeadHash)
	}
	return nil
}

// SoftwareSigner is a StatementSigner over a software key: for tests and
// the dev operator (`kiwistack-api operator sign`). Administrators and
// production operators sign with a YubiKey.
type SoftwareSigner struct {
	Key      *ecdsa.PrivateKey
	Cert     *x509.Certificate
	SerialNo uint32
}

// Serial implements StatementSigner.
func (s SoftwareSigner) Serial() uint32 { return s.SerialNo }

// Certificate implements StatementSigner.
func (s SoftwareSigner) Certificate() *x509.Certificate { return s.Cert }

// Sign implements StatementSigner.
func (s SoftwareSigner) Sign(ctx context.Context, stmt *protocol.Statement, _ string, now time.Time) (string, error) {
	stmt.Timestamp = protocol.FormatTimestamp(now)
	return protocol.Sign(ctx, protocol.SignerFrom(s.Key), []*x509.Certificate{s.Cert}, stmt)
}

// Close implements StatementSigner.
func (SoftwareSigner) Close() error { return nil }

// YubiKeySigner is a StatementSigner over slot 9a of a YubiKey: it signs
// through SignStatement, exactly as the enrollment does.
type YubiKeySigner struct {
	key  *yubikey.Key
	ui   yubikey.UI
	cert *x509.Certificate
}

// OpenYubiKeySigner opens the YubiKey with serial (0: the only one, or
// ask through ui) and reads its slot 9a certificate.
func OpenYubiKeySigner(ctx context.Context, c *yubikey.Client, ui yubikey.UI, serial uint32) (*YubiKeySigner, error) {
	key, err := c.Open(ctx, serial, ui)
	if err != nil {
		return nil, err
	}
	cert, err := key.Certificate()
	if err != nil {
		key.Close()
		return nil, err
	}
	return &YubiKeySigner{key: key, ui: ui, cert: cert}, nil
}

// Serial implements StatementSigner.
func (y *YubiKeySigner) Serial() uint32 { return y.key.Info().Serial }

// Certificate implements StatementSigner.
func (y *YubiKeySigner) Certificate() *x509.Certificate { return y.cert }

// Sign implements StatementSigner.
func (y *YubiKeySigner) Sign(ctx context.Context, stmt *protocol.Statement, purpose string, now time.Time) (string, error) {
	return SignStatement(ctx, y.key, y.ui, y.cert, stmt, purpose, now)
}

// Close implements StatementSigner.
func (y *YubiKeySigner) Close() error { return y.key.Close() }
