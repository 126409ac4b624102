-- 0004: the operations API (issue 7, the seven hops of Z5). An operation
-- instance is requested, collects signed statements, changes state as the
-- authorization engine decides, and is applied once. The raw statements are
-- kept for audit. Applied policy changes and removed admin keys are recorded.

CREATE TABLE operations (
	id            TEXT PRIMARY KEY,                -- 128 random bits, base64url
	operation     TEXT NOT NULL,                   -- policy operation name
	tenant        TEXT NOT NULL,
	params        TEXT NOT NULL,                   -- JSON object of strings
	document      TEXT NOT NULL DEFAULT '',        -- policy_change: the new policy YAML
	nonce         TEXT NOT NULL UNIQUE,
	digest        TEXT NOT NULL,
	cancel_digest TEXT NOT NULL,
	policy        TEXT NOT NULL,                   -- JSON: the policy operation pinned at creation
	state         TEXT NOT NULL CHECK (state IN ('pending', 'staged', 'approved', 'applied', 'cancelled', 'expired', 'rejected')),
	reason        TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL,
	expires_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	applied_at    TEXT,
	effect        TEXT NOT NULL DEFAULT '',        -- what applying did, in words
	CHECK ((state = 'applied') = (applied_at IS NOT NULL))
) STRICT;
CREATE INDEX operations_state ON operations (state, created_at);

CREATE TABLE operation_signatures (
	operation_id TEXT    NOT NULL REFERENCES operations (id),
	seq          INTEGER NOT NULL,                 -- 1, 2, … in order of receipt
	statement    TEXT    NOT NULL,                 -- the compact JWS as received
	kind         TEXT    NOT NULL CHECK (kind IN ('approval', 'operator', 'cancel')),
	serial       INTEGER NOT NULL,                 -- YubiKey serial of the statement
	admin        TEXT    NOT NULL,                 -- certificate CN
	role         TEXT    NOT NULL,                 -- certificate OU
	received_at  TEXT    NOT NULL,
	verified     TEXT    NOT NULL,                 -- JSON: the verified signature (server/authz)
	PRIMARY KEY (operation_id, seq)
) STRICT;

CREATE TABLE operation_transitions (
	operation_id TEXT    NOT NULL REFERENCES operations (id),
	seq          INTEGER NOT NULL,
	from_state   TEXT    NOT NULL,
	to_state     TEXT    NOT NULL,
	reason       TEXT    NOT NULL,
	at           TEXT    NOT NULL,
	PRIMARY KEY (operation_id, seq)
) STRICT;

-- Policies applied by policy_change, newest last; the API uses the newest.
CREATE TABLE policies (
	version      INTEGER PRIMARY KEY AUTOINCREMENT,
	sha256       TEXT NOT NULL,
	document     TEXT NOT NULL,
	operation_id TEXT NOT NULL REFERENCES operations (id),
	applied_at   TEXT NOT NULL
) STRICT;

-- Keys removed by remove_admin. A removed key is also marked burned in the
-- roster (its devices keep their enrolled_by), so it signs nothing.
CREATE TABLE roster_removals (
	serial       INTEGER PRIMARY KEY REFERENCES roster (serial),
	operation_id TEXT    NOT NULL REFERENCES operations (id),
	removed_at   TEXT    NOT NULL
) STRICT;
