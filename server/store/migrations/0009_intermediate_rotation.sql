-- 0009: intermediate rotation (issue 7, seed D4 scenario 03). Each device
-- certificate records the SHA-256 (hex) of the intermediate that issued it,
-- so the hub and the API tell certificates of a retired intermediate from
-- current ones. Rows from before this migration have '' until a rotation
-- marks them with the intermediate it retires (all of them were issued by
-- it: there was no other before the first rotation).

ALTER TABLE device_certificates ADD COLUMN issuer_sha256 TEXT NOT NULL DEFAULT '';

CREATE TABLE retired_intermediates (
	sha256       TEXT PRIMARY KEY,            -- of the retired intermediate's DER
	certificate  TEXT NOT NULL,               -- PEM
	retired_at   TEXT NOT NULL,
	operation_id TEXT NOT NULL                -- the rotate_intermediate that retired it
) STRICT;
