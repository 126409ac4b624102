package api

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/authz"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/kiwistack/endpoint/server/store"
)

// operationSpec is what the API knows about an operation it can apply:
// its parameters, their checks at request time and its description.
type operationSpec struct {
	// required and optional are the parameter names; ParamReason is
	// always optional.
	required, optional []string
	// check validates the request beyond the parameter names (the
	// objects exist, no lock-out); nil means no further check.
	check func(ctx context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError
	// describe says the operation in words.
	describe func(p map[string]string, tenant string, roster []store.RosterEntry) string
}

// operationSpecs lists the operations this version applies. Operations of
// the policy not listed here are refused with ReasonOperationNotAvailable
// when requested.
var operationSpecs map[string]operationSpec

func init() {
	device := func(status string) operationSpec {
		return operationSpec{required: []string{protocol.ParamDeviceID}, check: checkDevice(status),
			describe: func(p map[string]string, t string, _ []store.RosterEntry) string {
				return "of device " + p[protocol.ParamDeviceID] + " in " + t
			}}
	}
	operationSpecs = map[string]operationSpec{
		protocol.OpRemoteLock:      device(store.StatusLocked),
		protocol.OpRemoteWipe:      device(store.StatusWiped),
		protocol.OpReenrollConsent: device(""),
		protocol.OpBurnKey: {required: []string{protocol.ParamSerial}, check: checkRosterSerial(false),
			describe: describeSerial},
		protocol.OpRemoveAdmin: {required: []string{protocol.ParamSerial}, check: checkRosterSerial(true),
			describe: describeSerial},
		protocol.OpAddAdmin: {required: []string{protocol.ParamSerial, protocol.ParamAdmin, protocol.ParamRole,
			protocol.ParamPublicKeySHA256, protocol.ParamCertificate}, check: checkAddAdmin,
			describe: func(p map[string]string, t string, _ []store.RosterEntry) string {
				return fmt.Sprintf("of %s as %s with YubiKey %s in %s", p[protocol.ParamAdmin], p[protocol.ParamRole], p[protocol.ParamSerial], t)
			}},
		protocol.OpPolicyChange: {required: []string{protocol.ParamDocumentSHA256}, check: checkPolicyChange,
			describe: func(p map[string]string, t string, _ []store.RosterEntry) string {
				return fmt.Sprintf("of %s to the policy with SHA-256 %s", t, p[protocol.ParamDocumentSHA256])
			}},
		protocol.OpRotateIntermediate: {required: []string{protocol.ParamDocumentSHA256}, check: checkRotateIntermediate,
			describe: describeRotation},
		protocol.OpReadAudit:  readSpec("audit log"),
		protocol.OpReadStatus: readSpec("operations and status"),
		protocol.OpChangeJurisdiction: {required: []string{protocol.ParamJurisdiction},
			describe: func(p map[string]string, t string, _ []store.RosterEntry) string {
				return fmt.Sprintf("of %s to %s", t, p[protocol.ParamJurisdiction])
			}},
		protocol.OpTenantDelete: {
			describe: func(_ map[string]string, t string, _ []store.RosterEntry) string {
				return "of " + t + " and all its data"
			}},
		protocol.OpReadRecoveryKey: {required: []string{protocol.ParamDeviceID, protocol.ParamRecipientKey},
			check: func(ctx context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError {
				if e := checkDevice("")(ctx, s, req, roster); e != nil {
					return e
				}
				return checkReadRecoveryKey(ctx, s, req)
			},
			describe: func(p map[string]string, t string, _ []store.RosterEntry) string {
				return "of device " + p[protocol.ParamDeviceID] + " in " + t + " (the device rotates it after the read)"
			}},
	}
	for name, spec := range operationSpecs {
		inner := spec.describe
		spec.describe = func(p map[string]string, t string, r []store.RosterEntry) string {
			d := name + " " + inner(p, t, r)
			if why := p[protocol.ParamReason]; why != "" {
				d += " (reason: " + why + ")"
			}
			return d
		}
		userCheck := spec.check
		spec.check = func(ctx context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError {
			if e := checkParamNames(req, spec); e != nil {
				return e
			}
			if req.Document != "" && req.Operation != protocol.OpPolicyChange && req.Operation != protocol.OpRotateIntermediate {
				return reject(http.StatusBadRequest, ReasonInvalidParams, "only policy_change and rotate_intermediate take a document", nil)
			}
			if userCheck == nil {
				return nil
			}
			return userCheck(ctx, s, req, roster)
		}
		operationSpecs[name] = spec
	}
}

// checkParamNames checks that req has every required parameter, non-empty,
// and no unknown one.
func checkParamNames(req *protocol.OperationRequest, spec operationSpec) *apiError {
	for _, k := range spec.required {
		if strings.TrimSpace(req.Params[k]) == "" {
			return reject(http.StatusBadRequest, ReasonInvalidParams,
				fmt.Sprintf("%s needs the parameter %s (parameters: %s)", req.Operation, k, strings.Join(spec.required, ", ")), nil)
		}
	}
	for k := range req.Params {
		if !slices.Contains(spec.required, k) && !slices.Contains(spec.optional, k) && k != protocol.ParamReason {
			return reject(http.StatusBadRequest, ReasonInvalidParams,
				fmt.Sprintf("%s takes no parameter %s (parameters: %s, and optionally %s)", req.Operation, k,
					strings.Join(spec.required, ", "), protocol.ParamReason), nil)
		}
	}
	return nil
}

// describeSerial describes an operation on a roster key.
func describeSerial(p map[string]string, t string, roster []store.RosterEntry) string {
	d := "of YubiKey " + p[protocol.ParamSerial]
	if n, err := strconv.ParseUint(p[protocol.ParamSerial], 10, 32); err == nil {
		for _, e := range roster {
			if e.Serial == uint32(n) {
				d += fmt.Sprintf(" (%s, %s)", e.Admin, e.Role)
			}
		}
	}
	return d + " in " + t
}

// checkDevice checks that the device exists and is not replaced (nor
// already in status, when set).
func checkDevice(status string) func(ctx context.Context, s *Server, req *protocol.OperationRequest, _ []store.RosterEntry) *apiError {
	return func(ctx context.Context, s *Server, req *protocol.OperationRequest, _ []store.RosterEntry) *apiError {
		id := req.Params[protocol.ParamDeviceID]
		d, err := s.cfg.Store.DeviceByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && d.Status == store.StatusReplaced) {
			return reject(http.StatusNotFound, ReasonUnknownDevice,
				fmt.Sprintf("no current device has the id %s; list them with kiwistack-api devices list", id), err)
		}
		if err != nil {
			return reject(http.StatusInternalServerError, ReasonInternal, "the device list could not be read; try again later", err)
		}
		if status != "" && (d.Status == status || d.Status == store.StatusWiped) {
			return reject(http.StatusConflict, ReasonInvalidParams, fmt.Sprintf("device %s is already %s", id, d.Status), nil)
		}
		return nil
	}
}

// rosterSerial parses the serial parameter and finds it in roster.
func rosterSerial(req *protocol.OperationRequest, roster []store.RosterEntry) (store.RosterEntry, bool, *apiError) {
	n, err := strconv.ParseUint(req.Params[protocol.ParamSerial], 10, 32)
	if err != nil || n == 0 {
		return store.RosterEntry{}, false, reject(http.StatusBadRequest, ReasonInvalidParams,
			"serial must be a YubiKey serial number (decimal)", err)
	}
	for _, e := range roster {
		if e.Serial == uint32(n) {
			return e, true, nil
		}
	}
	return store.RosterEntry{Serial: uint32(n)}, false, nil
}

// checkRosterSerial checks that the serial is a roster key not yet burned;
// for remove_admin (lockout), also that the roster without it can still
// sign every operation of the policy. burn_key is never refused for a
// lock-out: a lost key must die at once.
func checkRosterSerial(lockout bool) func(ctx context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError {
	return func(_ context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError {
		e, ok, ae := rosterSerial(req, roster)
		if ae != nil {
			return ae
		}
		if !ok {
			return reject(http.StatusNotFound, ReasonUnknownKey,
				fmt.Sprintf("YubiKey %d is not in the tenant's roster; list it with kiwistack-api roster list", e.Serial), nil)
		}
		if e.Burned {
			return reject(http.StatusConflict, ReasonKeyBurned, fmt.Sprintf("YubiKey %d is already burned or removed", e.Serial), nil)
		}
		if !lockout {
			return nil
		}
		rest := slices.DeleteFunc(slices.Clone(roster), func(r store.RosterEntry) bool { return r.Serial == e.Serial })
		return lockoutError(policy.LockoutCheck(s.currentPolicy(), policyRoster(rest)),
			fmt.Sprintf("removing YubiKey %d (%s, %s)", e.Serial, e.Admin, e.Role))
	}
}

// lockoutError refuses an operation whose result has lock-outs.
func lockoutError(ls []policy.Lockout, what string) *apiError {
	if len(ls) == 0 {
		return nil
	}
	var words []string
	for _, l := range ls {
		words = append(words, l.String())
	}
	return reject(http.StatusConflict, ReasonLockout,
		fmt.Sprintf("%s would leave operations that no remaining key can sign (%s); add a key of that role first (add_admin)",
			what, strings.Join(words, "; ")), nil)
}

// checkAddAdmin checks the roster entry that `kiwistack-enroll keys
// provision` printed, as `kiwistack-api roster add` does (server/roster
// Check; that package cannot be imported here, it depends on server/dev):
// the certificate chains to this tenant's intermediate, its key is
// public_key_sha256, its OU the role (known to the policy), its O the
// tenant, and the serial is new.
func checkAddAdmin(_ context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError {
	p := req.Params
	e, exists, ae := rosterSerial(req, roster)
	if ae != nil {
		return ae
	}
	if exists {
		return reject(http.StatusConflict, ReasonInvalidParams, fmt.Sprintf("YubiKey %d is already in the roster", e.Serial), nil)
	}
	bad := func(format string, args ...any) *apiError {
		return reject(http.StatusBadRequest, ReasonInvalidParams, "add_admin: "+fmt.Sprintf(format, args...), nil)
	}
	if err := protocol.ValidateAdminSubject(p[protocol.ParamAdmin], p[protocol.ParamRole], s.cfg.Tenant); err != nil {
		return bad("%v", err)
	}
	if !s.currentPolicy().HasRole(p[protocol.ParamRole]) {
		return bad("the policy has no role %q", p[protocol.ParamRole])
	}
	block, _ := pem.Decode([]byte(p[protocol.ParamCertificate]))
	if block == nil || block.Type != "CERTIFICATE" {
		return bad("certificate: want the PEM certificate keys provision printed")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return bad("certificate: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: s.anchors(), CurrentTime: s.cfg.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return bad("the certificate is not issued by this tenant's intermediate (%v); provision the key against this tenant", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if got := hex.EncodeToString(sum[:]); got != p[protocol.ParamPublicKeySHA256] {
		return bad("public_key_sha256 does not match the certificate's key (%s)", got)
	}
	if ou := cert.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != p[protocol.ParamRole] {
		return bad("role %q does not match the certificate's OU %q", p[protocol.ParamRole], ou)
	}
	if o := cert.Subject.Organization; len(o) != 1 || o[0] != s.cfg.Tenant {
		return bad("the certificate's O %q is not the tenant %q", o, s.cfg.Tenant)
	}
	if cn := cert.Subject.CommonName; cn != p[protocol.ParamAdmin] {
		return bad("admin %q does not match the certificate's CN %q", p[protocol.ParamAdmin], cn)
	}
	for _, r := range roster {
		if strings.EqualFold(r.SPKISHA256, p[protocol.ParamPublicKeySHA256]) {
			return reject(http.StatusConflict, ReasonInvalidParams, fmt.Sprintf("this key is already in the roster as YubiKey %d", r.Serial), nil)
		}
	}
	return nil
}

// checkPolicyChange parses the new policy (the request's document, whose
// SHA-256 the parameters carry) and checks that the current roster can
// sign every operation under it.
func checkPolicyChange(_ context.Context, s *Server, req *protocol.OperationRequest, roster []store.RosterEntry) *apiError {
	if req.Document == "" {
		return reject(http.StatusBadRequest, ReasonInvalidParams,
			"policy_change needs the new policy file as document and its SHA-256 as params.document_sha256", nil)
	}
	p, e := parseNewPolicy(req.Document, s.cfg.Tenant)
	if e != nil {
		return e
	}
	return lockoutError(policy.LockoutCheck(p, policyRoster(roster)), "this policy")
}

// parseNewPolicy parses a policy_change's document for tenant.
func parseNewPolicy(doc, tenant string) (*policy.Policy, *apiError) {
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		return nil, reject(http.StatusBadRequest, ReasonInvalidParams,
			fmt.Sprintf("the new policy is not valid: %v; check it with kiwistack-api policy check", err), err)
	}
	if p.Tenant != "" && p.Tenant != tenant {
		return nil, reject(http.StatusBadRequest, ReasonInvalidParams, fmt.Sprintf("the new policy is tenant %q's", p.Tenant), nil)
	}
	if p.Tenant == "" {
		p.Tenant = tenant
	}
	if _, ok := p.SingleSigner(protocol.OpEnrollDevice); !ok {
		return nil, reject(http.StatusBadRequest, ReasonInvalidParams,
			"the new policy's enroll_device must be one signature of a role", nil)
	}
	return p, nil
}

// effect returns what applying the approved operation req changes in the
// store (written in the same transaction as its state), its description,
// and what to do after the commit. device is the device of a remote_lock or
// remote_wipe, and ek the escrowed key of a read_recovery_key, read
// before the transaction.
func (s *Server) effect(snap store.OperationSnapshot, req authz.Request, sigs []authz.Signature, device *store.Device, ek *escrowedKey) (*store.Effect, string, afterCommit, error) {
	p := req.Params
	var ac afterCommit
	serial := func() uint32 {
		n, _ := strconv.ParseUint(p[protocol.ParamSerial], 10, 32) // checked at request time
		return uint32(n)
	}
	switch req.Operation {
	case protocol.OpBurnKey:
		n := serial()
		return &store.Effect{BurnSerial: n}, fmt.Sprintf("YubiKey %d burned: its signatures and pending approvals are void", n), ac, nil
	case protocol.OpRemoveAdmin:
		n := serial()
		return &store.Effect{RemoveSerial: n}, fmt.Sprintf("YubiKey %d removed from the roster", n), ac, nil
	case protocol.OpAddAdmin:
		e := &store.RosterEntry{Serial: serial(), Admin: p[protocol.ParamAdmin], Role: p[protocol.ParamRole],
			SPKISHA256: p[protocol.ParamPublicKeySHA256]}
		return &store.Effect{AddRoster: e}, fmt.Sprintf("YubiKey %d (%s, %s) added to the roster", e.Serial, e.Admin, e.Role), ac, nil
	case protocol.OpPolicyChange:
		np, ae := parseNewPolicy(snap.Operation.Document, s.cfg.Tenant)
		if ae != nil {
			return nil, "", ac, ae
		}
		ac.newPolicy = np
		return &store.Effect{PolicyDocument: snap.Operation.Document, PolicySHA256: p[protocol.ParamDocumentSHA256]},
			"the new policy applies to operations and enrollments requested from now on", ac, nil
	case protocol.OpRotateIntermediate:
		r, text, err := s.rotateIntermediate(snap.Operation.Document)
		if err != nil {
			return nil, "", ac, fmt.Errorf("rotating the intermediate: %w", err)
		}
		ac.pokeHub = true
		return &store.Effect{RetireIntermediate: r}, text, ac, nil
	case protocol.OpReenrollConsent:
		until := s.cfg.Now().Add(ReenrollConsentLifetime)
		return &store.Effect{ReenrollDevice: p[protocol.ParamDeviceID], ReenrollBy: firstApprover(sigs), ReenrollUntil: until},
			fmt.Sprintf("device %s may re-enroll until %s", p[protocol.ParamDeviceID], protocol.FormatTimestamp(until)), ac, nil
	case protocol.OpRemoteLock, protocol.OpRemoteWipe:
		status := store.StatusLocked
		if req.Operation == protocol.OpRemoteWipe {
			status = store.StatusWiped
		}
		d := device
		if d == nil || d.ID != p[protocol.ParamDeviceID] {
			return nil, "", ac, fmt.Errorf("device %s: %w", p[protocol.ParamDeviceID], store.ErrNotFound)
		}
		ac.revokeDevice = d
		kind := protocol.CommandLock
		if status == store.StatusWiped {
			kind = protocol.CommandWipe
		}
		cmd, err := s.newCommand(d.ID, kind, snap.Operation.ID, req.Digest)
		if err != nil {
			return nil, "", ac, err
		}
		text := fmt.Sprintf("device %s marked %s, its tunnel peer removed and its certificates revoked", d.ID, status)
		if cmd != nil {
			text += fmt.Sprintf("; %s command %s queued for the agent's next check-in", kind, cmd.ID)
		}
		return &store.Effect{DeviceID: d.ID, DeviceStatus: status, Command: cmd}, text, ac, nil
	case protocol.OpReadRecoveryKey:
		eff, text, err := s.releaseEffect(snap.Operation.ID, p, ek)
		return eff, text, ac, err
	case protocol.OpReadAudit, protocol.OpReadStatus:
		return nil, readEffect(), ac, nil
	case protocol.OpChangeJurisdiction, protocol.OpTenantDelete:
		return nil, "decision recorded; KiwiStack's operators carry it out (no automatic effect in this version)", ac, nil
	}
	return nil, "", ac, fmt.Errorf("operation %s cannot be applied", req.Operation)
}

// firstApprover is the serial of the first tenant approval among sigs,
// for records that name who allowed something.
func firstApprover(sigs []authz.Signature) uint32 {
	for _, sg := range sigs {
		if !sg.Operator && !sg.Cancel {
			return sg.Serial
		}
	}
	return 0
}

// revokeDevice revokes every certificate of d at the CA, so that none is
// renewed. Failures are logged: such a certificate dies at its expiry.
func (s *Server) revokeDevice(ctx context.Context, d *store.Device, op store.Operation) {
	for _, c := range d.Certificates {
		n, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			s.log.Error("device certificate serial is not hex; not revoked", "device", d.ID, "serial", c.Serial)
			continue
		}
		if err := s.cfg.CA.Revoke(ctx, n.String(), op.Operation+" "+op.ID); err != nil {
			s.log.Error("revoking a device certificate failed; it expires at its not-after",
				"device", d.ID, "serial", n.String(), "operation", op.ID, "err", err)
			continue
		}
		s.log.Info("revoked a device certificate", "device", d.ID, "serial", n.String(), "operation", op.ID)
	}
}
