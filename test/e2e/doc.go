// Package e2e holds what the end-to-end suites in test/ share: building the
// product's binaries once per test binary (Main), running them and
// collecting their output and exit code (Run, MustRun), starting
// `kiwistack-api dev` as a separate process and reading the URL and root
// fingerprint it prints (StartTenant), provisioning a virtual YubiKey as an
// administrator through the API and the roster (Provision), the files the
// ceremony needs and leaves (EnrollArgs, WriteAttestationRoot, ReadCerts,
// StepProvisioned), and the network namespaces of the tunnel suites
// (RequireNetns, AddNetns, Veth, Ping).
//
// It is test-only code: only tests import it, and nothing that ships may.
// It asserts nothing about the product; each suite keeps its own checks.
// The functions take testing.TB so that benchmarks can use them too.
package e2e
