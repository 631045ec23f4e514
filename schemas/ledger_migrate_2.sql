-- ledger_migrate_2.sql - takes a ledger from schema version 2 to 3: the
-- event chain, and its acknowledgement in sync_state. Events from before it
-- are not backfilled. Run by the ledger's opener (common/fogpay_sqlite.c) in
-- one transaction, which then sets PRAGMA user_version = 3; embedded at
-- build time like ledger.sql.
CREATE TABLE events (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 1),
    device_id TEXT NOT NULL REFERENCES devices (id),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32));
CREATE INDEX events_device ON events (device_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never changed'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;
CREATE TRIGGER events_next_position BEFORE INSERT ON events
    WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM events)
    BEGIN SELECT RAISE(ABORT, 'an event takes the next chain position'); END;
ALTER TABLE sync_state ADD COLUMN acked_event_position INTEGER NOT NULL DEFAULT 0
    CHECK (acked_event_position >= 0);
ALTER TABLE sync_state ADD COLUMN acked_event_hash BLOB NOT NULL
    DEFAULT X'0000000000000000000000000000000000000000000000000000000000000000'
    CHECK (length(acked_event_hash) = 32);
