-- 0001: the first schema of the tenant store.
-- Times are UTC text in the fixed-width layout 2006-01-02T15:04:05.000000000Z,
-- so that text order is time order.

CREATE TABLE roster (
	serial      INTEGER PRIMARY KEY,          -- YubiKey serial
	admin       TEXT    NOT NULL,             -- CN of the slot 9a certificate
	role        TEXT    NOT NULL,             -- OU of the slot 9a certificate
	spki_sha256 TEXT    NOT NULL UNIQUE,      -- hex SHA-256 of the 9a public key's SPKI
	attestation BLOB    NOT NULL,             -- PEM: slot f9 chain and 9a attestation
	burned      INTEGER NOT NULL DEFAULT 0 CHECK (burned IN (0, 1)),
	burned_at   TEXT,
	added_at    TEXT    NOT NULL,
	CHECK ((burned = 0) = (burned_at IS NULL))
) STRICT;

CREATE TABLE devices (
	id                   TEXT    PRIMARY KEY,
	tenant               TEXT    NOT NULL,
	hardware_fingerprint TEXT    NOT NULL UNIQUE,
	wireguard_public_key TEXT    NOT NULL UNIQUE,
	status               TEXT    NOT NULL CHECK (status IN ('active', 'locked', 'revoked', 'wiped')),
	enrolled_by          INTEGER NOT NULL REFERENCES roster (serial),
	created_at           TEXT    NOT NULL,
	updated_at           TEXT    NOT NULL
) STRICT;

CREATE TABLE device_certificates (
	serial    TEXT PRIMARY KEY,                -- certificate serial, hex
	device_id TEXT NOT NULL REFERENCES devices (id),
	not_after TEXT NOT NULL,
	issued_at TEXT NOT NULL
) STRICT;
CREATE INDEX device_certificates_device ON device_certificates (device_id);

CREATE TABLE nonces (
	nonce      TEXT PRIMARY KEY,
	operation  TEXT NOT NULL,
	digest     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at    TEXT
) STRICT;
CREATE INDEX nonces_expires ON nonces (expires_at);

CREATE TABLE audit (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	time          TEXT    NOT NULL,
	actor         INTEGER NOT NULL,            -- YubiKey serial, 0 when unknown
	operation     TEXT    NOT NULL,
	params_digest TEXT    NOT NULL,
	result        TEXT    NOT NULL,
	reason        TEXT    NOT NULL,
	prev_hash     TEXT    NOT NULL,
	hash          TEXT    NOT NULL UNIQUE
) STRICT;
