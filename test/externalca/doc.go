// Package externalca is an end-to-end test of `kiwistack-api serve` against
// a real, separate step-ca process (github.com/smallstep/certificates
// cmd/step-ca at the version go.mod pins, built by the test, or taken from
// $KIWISTACK_STEP_CA): it writes step-ca's ca.json with the tenant PKI and
// the provisioners server/serve prints, runs an enrollment through the API
// and checks the certificate came from step-ca and that revocation reaches
// it. Building step-ca needs its modules in the module cache or the module
// proxy. It holds no code the product uses.
package externalca
