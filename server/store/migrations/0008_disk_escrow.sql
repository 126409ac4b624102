-- 0008: disk recovery-key escrow (issue 9, docs/disk-escrow.md). A row of
-- disk_escrows is a recovery key the device's agent sealed to the tenant's
-- escrow public key (HPKE, bound to tenant, device and volume): the API
-- cannot read it without the escrow private key, which is not in the
-- database. An applied read_recovery_key marks the row read (the agent
-- then rotates the key) and records the release, the key re-sealed to the
-- requesting administrator's one-time key, in the same transaction. Rows
-- are never deleted: the newest row of a device is its current key.

CREATE TABLE disk_escrows (
	id             TEXT PRIMARY KEY,                 -- esc- and 128 random bits, base64url
	device_id      TEXT NOT NULL REFERENCES devices (id),
	volume         TEXT NOT NULL,                    -- LUKS UUID (or FileVault / BitLocker volume id)
	key_slot       INTEGER NOT NULL,                 -- -1 when the platform has no slot numbers
	sealed         TEXT NOT NULL UNIQUE,             -- kse1.…; an agent re-posting after a crash gets the same row
	replaces       TEXT REFERENCES disk_escrows (id),
	escrowed_at    TEXT NOT NULL,
	read_at        TEXT,
	read_operation TEXT REFERENCES operations (id),
	CHECK ((read_at IS NULL) = (read_operation IS NULL))
) STRICT;
CREATE INDEX disk_escrows_device ON disk_escrows (device_id, escrowed_at);

CREATE TABLE disk_escrow_releases (
	operation_id TEXT PRIMARY KEY REFERENCES operations (id),
	escrow_id    TEXT NOT NULL REFERENCES disk_escrows (id),
	sealed       TEXT NOT NULL,                      -- ksr1.…, sealed to the operation's recipient_key
	released_at  TEXT NOT NULL
) STRICT;
