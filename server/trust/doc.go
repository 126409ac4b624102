// Package trust owns the tenant's trust list (bring your own certificate,
// seed Z7): administrator certificates and CA roots trusted as signers
// beside the tenant intermediate. It parses and classifies the PEM an
// operator brings (ParsePEM, Classify), checks a signer admitted through an
// entry against the same role rules as a YubiKey (CheckSigner: O is the
// tenant, OU a role of the policy), finds the entry a signed statement
// chains to (Match). The trust verbs of a dev state directory are in
// server/roster (AddTrust, ListTrust, RemoveTrust).
//
// It does not decide what a signer may do (server/authz and the policy do),
// does not keep the roster of YubiKeys (server/roster), and does not issue
// certificates.
package trust
