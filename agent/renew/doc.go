// Package renew keeps a device certificate alive: it decides when to renew
// (Scheduler: two thirds of the lifetime with jitter, wall-clock deadlines,
// exponential backoff, renewal after expiry within the grace window), talks
// to step-ca's /renew over mutual TLS or, after expiry, with step-ca's
// renewal token (Client), verifies the answer against the pinned tenant
// root, and replaces the stored certificate atomically (WriteChain).
//
// It owns the renewal schedule, the error classes a caller acts on and the
// renewal loop (Renewer). It does not enroll, re-enroll or revoke, never
// deletes or replaces a working certificate on an error, never logs keys or
// tokens, and imports no step-ca package: it is a thin client over step-ca's
// documented HTTP API (docs/renewal.md).
package renew
