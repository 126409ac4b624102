// Package policy owns the tenant's authorization policy as code
// (policies/authorization.yaml, seed "Authorization & trust", Z1 and Z4): its
// types, a strict parser whose errors name the line and the problem, the
// default policy of a new tenant, its YAML rendering, and the lock-out check
// that says which operations a roster can no longer sign.
//
// It is pure apart from CheckFile, which reads the file it is given. It does
// not verify signatures or certificates, keep state, stage delays or write
// the audit log; the authorization service does that with what this package
// returns.
package policy
