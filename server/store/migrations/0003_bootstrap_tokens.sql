-- kiwistack: rebuilds tables (foreign keys off)
-- 0003: OEM bootstrap tokens (docs/oem-claim.md). A token is kept only as its
-- SHA-256, bound to a hardware serial and the tenant, single use, expiring,
-- revocable. A laptop that claims with one becomes a device that no YubiKey
-- enrolled: devices is rebuilt so that enrolled_by may be NULL and
-- claimed_with names the token instead (exactly one of the two is set).

CREATE TABLE bootstrap_tokens (
	id              TEXT    PRIMARY KEY,          -- the first 12 hex digits of token_sha256
	token_sha256    TEXT    NOT NULL UNIQUE,      -- hex SHA-256 of the whole token
	tenant          TEXT    NOT NULL,
	hardware_serial TEXT    NOT NULL,
	created_by      INTEGER NOT NULL,             -- YubiKey serial; 0 = the tenant operator on the server
	created_at      TEXT    NOT NULL,
	expires_at      TEXT    NOT NULL,
	used_at         TEXT,
	device_id       TEXT,                         -- the device the claim created
	revoked_at      TEXT,
	CHECK ((used_at IS NULL) = (device_id IS NULL)),
	CHECK (used_at IS NULL OR revoked_at IS NULL)
) STRICT;
CREATE INDEX bootstrap_tokens_serial ON bootstrap_tokens (hardware_serial);

CREATE TABLE devices_new (
	id                   TEXT    PRIMARY KEY,
	tenant               TEXT    NOT NULL,
	hardware_fingerprint TEXT    NOT NULL,
	wireguard_public_key TEXT    NOT NULL,
	status               TEXT    NOT NULL CHECK (status IN ('active', 'locked', 'revoked', 'wiped', 'replaced')),
	replaced_by          TEXT    REFERENCES devices (id) DEFERRABLE INITIALLY DEFERRED,
	enrolled_by          INTEGER REFERENCES roster (serial),
	claimed_with         TEXT    REFERENCES bootstrap_tokens (id),
	created_at           TEXT    NOT NULL,
	updated_at           TEXT    NOT NULL,
	CHECK ((status = 'replaced') = (replaced_by IS NOT NULL)),
	CHECK ((enrolled_by IS NULL) <> (claimed_with IS NULL))
) STRICT;

INSERT INTO devices_new (id, tenant, hardware_fingerprint, wireguard_public_key, status, replaced_by, enrolled_by, claimed_with, created_at, updated_at)
	SELECT id, tenant, hardware_fingerprint, wireguard_public_key, status, replaced_by, enrolled_by, NULL, created_at, updated_at FROM devices;

DROP TABLE devices;
ALTER TABLE devices_new RENAME TO devices;

CREATE UNIQUE INDEX devices_fingerprint_current ON devices (hardware_fingerprint) WHERE status <> 'replaced';
CREATE UNIQUE INDEX devices_wireguard_current ON devices (wireguard_public_key) WHERE status <> 'replaced';
CREATE INDEX devices_replaced_by ON devices (replaced_by);
CREATE INDEX devices_claimed_with ON devices (claimed_with);
