// Package authz owns the decision of the seven hops of seed "Authorization &
// trust" (Z5, issue 7): given one operation instance (Request), the policy
// operation it falls under, the signatures collected so far and the current
// time, Evaluate says whether the operation is pending (and what is missing,
// in words), approved, staged behind its delay, cancelled, expired or
// rejected, with a stable reason code for every signature it does not count.
// CanTransition and Advance keep the stored state of an operation to the
// moves the engine allows.
//
// It is pure: no HTTP, no SQL, no clock (the caller passes now) and no
// logging. It does not verify JWS signatures or certificate chains (the
// caller does, with protocol.Parse and Verify against the tenant
// intermediate, or the operator's anchor for a co-signature, then builds a
// Signature with SignatureFromStatement), does not store anything and does
// not apply operations. docs/authorization.md states the rules.
package authz
