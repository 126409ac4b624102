// Package ca is the tenant API's bridge to step-ca (github.com/smallstep/certificates),
// embedded in-process for the one-command local setup.
//
// It owns the tenant's PKI state directory (an MSP root, a tenant
// intermediate and the provisioner key, created once and kept across
// restarts), the embedded step-ca authority with two JWK provisioners, one for
// device certificates (24 h default and maximum, renewal after expiry within
// a grace window) and one for administrators' YubiKey slot 9a certificates
// (SignAdmin; one year, never renewed), step-ca's own database of issued and revoked serials, and
// an http.Handler serving step-ca's own API (/renew, /roots, /root/{sha},
// /health, ...) for devices to renew against with mutual TLS.
//
// It does not decide who may enroll: the API authorises an enrollment
// before it calls Sign, so the provisioner credential never leaves the
// process. Remote is the same bridge to an external step-ca over its HTTP
// API (root pinned by fingerprint, JWK provisioner keys loaded from files
// by LoadProvisionerKey); DeviceProvisioner and AdminProvisioner give the
// provisioners to configure there. It does not serve TLS itself or keep the
// device roster.
package ca
