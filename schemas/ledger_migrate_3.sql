-- ledger_migrate_3.sql - takes a ledger from schema version 3 to 4: device
-- key rotation with an overlap window, the two key events, and the
-- gateway's key history. Run by the
-- ledger's opener (common/fogpay_sqlite.c) in one transaction, which then
-- sets PRAGMA user_version = 4; embedded at build time like ledger.sql.
--
-- A retired device key stays valid until its revoked_ms (the end of its
-- overlap window): the trigger now also lets that end move earlier (a
-- revocation during the window), never later, and nothing else of a
-- retired key change.
DROP TRIGGER device_keys_retire_only;
CREATE TRIGGER device_keys_retire_only BEFORE UPDATE ON device_keys
WHEN NEW.id IS NOT OLD.id OR NEW.device_id IS NOT OLD.device_id OR NEW.alg IS NOT OLD.alg
    OR NEW.public_key IS NOT OLD.public_key OR NEW.from_ms IS NOT OLD.from_ms
    OR NEW.active <> 0 OR NEW.revoked_ms IS NULL
    OR (OLD.active = 0 AND NOT (NEW.revoked_ms < OLD.revoked_ms))
BEGIN
    SELECT RAISE(ABORT, 'a device key can only be retired, or its validity shortened');
END;

-- The event kinds 5 (key rotated) and 6 (key revoked): a CHECK cannot be
-- altered in SQLite, so the events table is copied into one with the new
-- CHECK, rows, positions and hashes unchanged. DROP TABLE fires no
-- trigger; the triggers and the index are created again on the copy.
CREATE TABLE events_v4 (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3, 5, 6)),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 1),
    device_id TEXT NOT NULL REFERENCES devices (id),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32));
INSERT INTO events_v4 (position, kind, time_ms, device_id, record, hash)
    SELECT position, kind, time_ms, device_id, record, hash FROM events ORDER BY position;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_device ON events (device_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never changed'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;
CREATE TRIGGER events_next_position BEFORE INSERT ON events
    WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM events)
    BEGIN SELECT RAISE(ABORT, 'an event takes the next chain position'); END;

-- The gateway's key history: every key that signed its receipts, commands
-- and batches, with its validity. One key is active (until_ms NULL); a
-- rotation ends it (until_ms) and inserts the next, from the same time.
-- A verifier picks a key by its kid and checks the signed time against
-- [from_ms, until_ms]. Rows are never deleted, and only until_ms is ever set,
-- once.
CREATE TABLE gateway_keys (
    id INTEGER PRIMARY KEY,
    kid BLOB NOT NULL UNIQUE CHECK (length(kid) = 8),
    alg INTEGER NOT NULL CHECK (alg IN (-8, -7)),
    public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) BETWEEN 1 AND 65),
    from_ms INTEGER NOT NULL CHECK (from_ms >= 0),
    until_ms INTEGER CHECK (until_ms IS NULL OR until_ms >= from_ms));
CREATE UNIQUE INDEX gateway_keys_active ON gateway_keys (until_ms IS NULL) WHERE until_ms IS NULL;
CREATE TRIGGER gateway_keys_no_delete BEFORE DELETE ON gateway_keys
    BEGIN SELECT RAISE(ABORT, 'gateway keys are kept as history'); END;
CREATE TRIGGER gateway_keys_end_only BEFORE UPDATE ON gateway_keys
    WHEN NEW.id IS NOT OLD.id OR NEW.kid IS NOT OLD.kid OR NEW.alg IS NOT OLD.alg
        OR NEW.public_key IS NOT OLD.public_key OR NEW.from_ms IS NOT OLD.from_ms
        OR OLD.until_ms IS NOT NULL OR NEW.until_ms IS NULL
    BEGIN SELECT RAISE(ABORT, 'a gateway key can only be ended, once'); END;
