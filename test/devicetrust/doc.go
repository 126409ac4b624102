// Package devicetrust is the end-to-end proof of device trust in the app
// windows (docs/app-certificate.md): a laptop claimed with an OEM
// bootstrap token against a real `kiwistack-api dev`, the agent's appcert
// controller installing the app certificate into a desktop user's NSS
// database, and Debian's headless Chromium, with the generated Chromium
// policy bind-mounted over /etc/chromium in a private mount namespace,
// loading a page from a TLS server that requires client certificates of
// the tenant's CA; after `kiwistack-api devices revoke` and the agent's
// next reconcile it no longer can, and a host outside the tenant's is
// never offered the certificate.
//
// It needs Linux, root, Debian's chromium and libnss3-tools; it skips
// with the reason elsewhere and fails when KIWISTACK_REQUIRE_HW_TESTS=1.
package devicetrust
