// Package serve runs a tenant API in production against an external step-ca
// (`kiwistack-api serve --config FILE`), and owns what every mode shares past
// the CA client: opening the store, wiring server/api, the routes, the TLS
// listener, readiness and the graceful shutdown (Serve, which server/dev
// uses too).
//
// It owns the server's configuration file (Config, ParseConfig: strict YAML,
// docs/serve.md). It does not issue certificates or hold the PKI: step-ca
// does, through server/ca's Remote client, with provisioner keys the
// operator gives it; it does not decide enrollments (server/api) or renewal
// windows (step-ca's provisioner claims).
package serve
