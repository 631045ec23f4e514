-- ledger_migrate_5.sql - takes a ledger from schema version 5 to 6: the
-- tables of the payment products. Each product adds its own tables in its
-- own section below; no row of version 5 changes, so every transfer keeps
-- its record and its chain hash. Written to run on a version 5 file and to
-- leave a file of version 6's tables as it was. Run by the ledger's opener
-- (common/fogpay_sqlite.c) in one transaction, which then sets
-- PRAGMA user_version = 6; embedded at build time like ledger.sql.

-- Holds (conditional payments).

-- Tariffs and metered use.

-- Fees and splits.

-- Legal entities' own logins (ledger.sql has their design).
CREATE TABLE IF NOT EXISTS entity_logins (
    username TEXT PRIMARY KEY NOT NULL CHECK (length(username) BETWEEN 1 AND 23),
    entity_id TEXT NOT NULL REFERENCES entities (id),
    password_hash TEXT CHECK (password_hash IS NULL OR length(password_hash) < 160),
    created_ms INTEGER NOT NULL CHECK (created_ms >= 0)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entity_logins_entity ON entity_logins (entity_id);

-- The transfer kinds of the products (5..10): only the CHECK of the kind
-- widens, so the table is not copied (its rows, the messages that name
-- them and their chain stay where they are; a copy would have to drop a
-- table that other tables reference). The stored CREATE text is edited in
-- place, the way SQLite documents for loosening a CHECK (the opener runs
-- migrations with the defensive flag off for this); every row satisfies
-- the wider CHECK.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (kind BETWEEN 0 AND 4)',
                                       'CHECK (kind BETWEEN 0 AND 10)')
    WHERE type = 'table' AND name = 'transfers';
PRAGMA writable_schema = RESET;

-- The event kinds of the products (7..10), and events without a device
-- (an entity login's, kind 10): the events table is copied into one with
-- the new CHECKs, rows, positions and hashes unchanged, as version 4 did.
CREATE TABLE events_v6 (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3, 5, 6, 7, 8, 9, 10)),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 1),
    device_id TEXT REFERENCES devices (id) CHECK ((device_id IS NULL) = (kind = 10)),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32));
INSERT INTO events_v6 (position, kind, time_ms, device_id, record, hash)
    SELECT position, kind, time_ms, device_id, record, hash FROM events ORDER BY position;
DROP TABLE events;
ALTER TABLE events_v6 RENAME TO events;
CREATE INDEX events_device ON events (device_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never changed'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;
CREATE TRIGGER events_next_position BEFORE INSERT ON events
    WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM events)
    BEGIN SELECT RAISE(ABORT, 'an event takes the next chain position'); END;
