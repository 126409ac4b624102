-- 0007: the tenant's trust list (bring your own certificate, seed Z7).
-- An entry is an administrator's certificate or a CA root trusted as a
-- signer beside the tenant intermediate. A signer it admits is recorded in
-- the roster under its pseudo-serial (protocol.BYOCSerial) and bound to
-- the entry in trust_signers; removing the entry burns those roster rows
-- and deletes the entry in one transaction.

CREATE TABLE trust_list (
	id          TEXT PRIMARY KEY,                 -- hex SHA-256 of the certificate's DER, first 16 characters
	kind        TEXT NOT NULL CHECK (kind IN ('certificate', 'ca')),
	pem         TEXT NOT NULL,
	der_sha256  TEXT NOT NULL UNIQUE,             -- hex SHA-256 of the certificate's DER
	added_at    TEXT NOT NULL,
	added_by    TEXT NOT NULL,
	note        TEXT NOT NULL
) STRICT;

CREATE TABLE trust_signers (
	serial   INTEGER PRIMARY KEY REFERENCES roster (serial),
	entry_id TEXT    NOT NULL                     -- the trust_list id; kept after the entry is removed
) STRICT;
CREATE INDEX trust_signers_entry ON trust_signers (entry_id);
