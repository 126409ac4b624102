-- kiwistack: rebuilds tables (foreign keys off)
-- 0002: re-enrollment. A re-enrolled laptop gets a new device record; the old
-- one is kept with status 'replaced' and replaced_by naming the new one, so
-- the hardware fingerprint and WireGuard key are unique only among devices
-- that are not replaced. SQLite cannot drop a UNIQUE constraint in place, so
-- devices is rebuilt (https://sqlite.org/lang_altertable.html, "Making Other
-- Kinds Of Table Schema Changes"); migrate() runs this file with foreign keys
-- off and checks them before it commits.

CREATE TABLE devices_new (
	id                   TEXT    PRIMARY KEY,
	tenant               TEXT    NOT NULL,
	hardware_fingerprint TEXT    NOT NULL,
	wireguard_public_key TEXT    NOT NULL,
	status               TEXT    NOT NULL CHECK (status IN ('active', 'locked', 'revoked', 'wiped', 'replaced')),
	-- The device that replaced this one; deferred so that one transaction can
	-- mark the old record before it inserts the new one.
	replaced_by          TEXT    REFERENCES devices (id) DEFERRABLE INITIALLY DEFERRED,
	enrolled_by          INTEGER NOT NULL REFERENCES roster (serial),
	created_at           TEXT    NOT NULL,
	updated_at           TEXT    NOT NULL,
	CHECK ((status = 'replaced') = (replaced_by IS NOT NULL))
) STRICT;

INSERT INTO devices_new (id, tenant, hardware_fingerprint, wireguard_public_key, status, replaced_by, enrolled_by, created_at, updated_at)
	SELECT id, tenant, hardware_fingerprint, wireguard_public_key, status, NULL, enrolled_by, created_at, updated_at FROM devices;

DROP TABLE devices;
ALTER TABLE devices_new RENAME TO devices;

CREATE UNIQUE INDEX devices_fingerprint_current ON devices (hardware_fingerprint) WHERE status <> 'replaced';
CREATE UNIQUE INDEX devices_wireguard_current ON devices (wireguard_public_key) WHERE status <> 'replaced';
CREATE INDEX devices_replaced_by ON devices (replaced_by);

-- One pending re-enrollment allowance per hardware fingerprint, for the
-- device record that the re-enrollment replaces; consuming it deletes it.
CREATE TABLE reenrollments (
	hardware_fingerprint TEXT    PRIMARY KEY,
	device_id            TEXT    NOT NULL REFERENCES devices (id),
	allowed_by           INTEGER NOT NULL,     -- YubiKey serial; 0 = the tenant operator on the server
	allowed_at           TEXT    NOT NULL,
	expires_at           TEXT    NOT NULL
) STRICT;
CREATE INDEX reenrollments_device ON reenrollments (device_id);
