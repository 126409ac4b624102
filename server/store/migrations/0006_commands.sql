-- 0006: device commands (issue 7, D4 scenario 02). An applied remote_lock or
-- remote_wipe queues one command for its device, signed by the API's command
-- key, in the transaction that applies the operation. The agent fetches it
-- with its (possibly revoked, unexpired) device certificate, which marks it
-- delivered, and acknowledges it with a result. Rows are never deleted.

CREATE TABLE device_commands (
	id               TEXT PRIMARY KEY,              -- 128 random bits, base64url
	device_id        TEXT NOT NULL REFERENCES devices (id),
	kind             TEXT NOT NULL CHECK (kind IN ('lock', 'wipe')),
	operation_id     TEXT NOT NULL UNIQUE REFERENCES operations (id),
	operation_digest TEXT NOT NULL,
	payload          TEXT NOT NULL,                 -- the signed command (protocol.SignedCommand)
	signature        TEXT NOT NULL,
	issued_at        TEXT NOT NULL,
	expires_at       TEXT NOT NULL,
	state            TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'acknowledged')),
	delivered_at     TEXT,
	acked_at         TEXT,
	result           TEXT NOT NULL DEFAULT '',      -- 'done' or 'failed' once acknowledged
	message          TEXT NOT NULL DEFAULT '',
	CHECK ((state = 'acknowledged') = (acked_at IS NOT NULL))
) STRICT;
CREATE INDEX device_commands_device ON device_commands (device_id, state);
