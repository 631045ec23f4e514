-- ledger_migrate_1.sql - takes a ledger from schema version 1 to 2: the
-- sync state of upstream sync. Run by the ledger's opener
-- (common/fogpay_sqlite.c) in one transaction, which then sets
-- PRAGMA user_version = 2; embedded at build time like ledger.sql.
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    acked_position INTEGER NOT NULL CHECK (acked_position >= 0),
    acked_hash BLOB NOT NULL CHECK (length(acked_hash) = 32),
    batch_seq INTEGER NOT NULL CHECK (batch_seq >= 0),
    acked_ms INTEGER NOT NULL CHECK (acked_ms >= 0));
INSERT INTO sync_state VALUES (1, 0, zeroblob(32), 0, 0);
