-- ledger_migrate_4.sql - takes a ledger from schema version 4 to 5: the
-- write path of the fast gateway. transfers keeps four of its eight indexes,
-- transfers_debit now for kinds other than payment
-- (its rows stay; new rows store the format byte x'01' in record instead of
-- the record a second time); device_day_totals is added and filled from
-- the payments held; messages is rebuilt with the offsets of the hashes its
-- receipts no longer store twice (the rows already there keep whole
-- receipts, offsets NULL). Written to run on a version 4 file and to leave
-- a file of version 5's tables as it was. Run by the ledger's opener
-- (common/fogpay_sqlite.c) in one transaction, which then sets
-- PRAGMA user_version = 5; embedded at build time like ledger.sql.
CREATE TABLE IF NOT EXISTS device_day_totals (
    device_id TEXT NOT NULL REFERENCES devices (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    day INTEGER NOT NULL CHECK (day >= 0),
    paid_minor INTEGER NOT NULL CHECK (paid_minor >= 0),
    PRIMARY KEY (device_id, currency, day)
) WITHOUT ROWID;
INSERT OR REPLACE INTO device_day_totals (device_id, currency, day, paid_minor)
    SELECT device_id, currency, time_ms / 86400000, sum(amount_minor) FROM transfers
    WHERE kind = 0 AND device_id IS NOT NULL GROUP BY device_id, currency, time_ms / 86400000;

DROP INDEX IF EXISTS transfers_device_day;
DROP INDEX IF EXISTS transfers_payer_entity;
DROP INDEX IF EXISTS transfers_payee_entity;
DROP INDEX IF EXISTS transfers_time;
DROP INDEX IF EXISTS transfers_debit;
CREATE INDEX transfers_debit ON transfers (debit_account) WHERE kind <> 0;

CREATE TABLE messages_v4 (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    kind INTEGER NOT NULL CHECK (kind IN (0, 1)),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
    reason INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    position INTEGER REFERENCES transfers (position),
    receipt BLOB NOT NULL CHECK (length(receipt) <= 512),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
    hash_at INTEGER CHECK (hash_at IS NULL OR hash_at BETWEEN 0 AND 512),
    chain_hash_at INTEGER CHECK (chain_hash_at IS NULL OR chain_hash_at BETWEEN 0 AND 512),
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
INSERT INTO messages_v4 (device_id, seq, kind, hash, status, reason, position, receipt, time_ms)
    SELECT device_id, seq, kind, hash, status, reason, position, receipt, time_ms FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
