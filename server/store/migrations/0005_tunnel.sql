-- 0005: the WireGuard hub (issue 4). Each device gets one tunnel address,
-- allocated once from the hub's prefix and kept for as long as the device
-- record exists (records are never deleted, so an address is never reused).
-- Revoking a device is recorded with its time, for the hub and for history.

CREATE TABLE tunnel_addresses (
	device_id   TEXT PRIMARY KEY REFERENCES devices (id),
	address     TEXT NOT NULL UNIQUE,          -- IPv4 or IPv6, no prefix length
	assigned_at TEXT NOT NULL
) STRICT;

CREATE TABLE device_revocations (
	device_id  TEXT PRIMARY KEY REFERENCES devices (id),
	reason     TEXT NOT NULL,
	revoked_at TEXT NOT NULL
) STRICT;
