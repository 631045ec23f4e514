-- ledger_migrate_5.sql - takes a ledger from schema version 5 to 6: the
-- tables of the payment products. Each product adds its own tables in its
-- own section below; no row of version 5 changes, so every transfer keeps
-- its record and its chain hash. Written to run on a version 5 file and to
-- leave a file of version 6's tables as it was. Run by the ledger's opener
-- (common/fogpay_sqlite.c) in one transaction, which then sets
-- PRAGMA user_version = 6; embedded at build time like ledger.sql.

-- Holds (conditional payments). The transfer kinds of the payment products
-- (5..10), the holds account kind, and the message kind and status of a
-- hold (kind 2, status 3; kind 3 for a meter binding): a CHECK cannot be
-- altered in SQLite, so accounts, transfers and messages are copied into
-- tables with the wider CHECKs, every row, position, record and hash
-- unchanged. Children are copied after their parents and the old tables
-- dropped children first, so no foreign key is left dangling at the end of
-- a statement; each RENAME carries the references of the copies with it.
-- DROP TABLE fires no trigger; indexes and triggers are made again.
CREATE TABLE accounts_v6 (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('wallet', 'entity', 'system', 'holds')),
    device_id TEXT REFERENCES devices (id),
    entity_id TEXT REFERENCES entities (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    balance INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'wallet' AND device_id IS NOT NULL AND entity_id IS NULL)
        OR (kind = 'entity' AND entity_id IS NOT NULL AND device_id IS NULL)
        OR (kind IN ('system', 'holds') AND device_id IS NULL AND entity_id IS NULL)),
    CHECK (kind = 'system' OR balance >= 0)
);
INSERT INTO accounts_v6 (id, kind, device_id, entity_id, currency, balance)
    SELECT id, kind, device_id, entity_id, currency, balance FROM accounts ORDER BY id;
CREATE TABLE transfers_v6 (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 10),
    debit_account INTEGER NOT NULL REFERENCES accounts_v6 (id),
    credit_account INTEGER NOT NULL REFERENCES accounts_v6 (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
    device_id TEXT REFERENCES devices (id),
    seq INTEGER CHECK (seq IS NULL OR seq >= 1),
    payer_entity TEXT REFERENCES entities (id),
    payee_entity TEXT REFERENCES entities (id),
    intent_hash BLOB CHECK (intent_hash IS NULL OR length(intent_hash) = 32),
    reference TEXT CHECK (reference IS NULL OR length(reference) <= 32),
    related_position INTEGER REFERENCES transfers_v6 (position),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    CHECK (debit_account <> credit_account),
    CHECK ((device_id IS NULL) = (seq IS NULL) AND (device_id IS NULL) = (intent_hash IS NULL))
);
INSERT INTO transfers_v6 SELECT position, kind, debit_account, credit_account, amount_minor,
    currency, time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference,
    related_position, record, hash FROM transfers ORDER BY position;
CREATE TABLE messages_v6 (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3)),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    status INTEGER NOT NULL CHECK (status IN (0, 1, 2, 3)),
    reason INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    position INTEGER REFERENCES transfers_v6 (position),
    receipt BLOB NOT NULL CHECK (length(receipt) <= 512),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
    hash_at INTEGER CHECK (hash_at IS NULL OR hash_at BETWEEN 0 AND 512),
    chain_hash_at INTEGER CHECK (chain_hash_at IS NULL OR chain_hash_at BETWEEN 0 AND 512),
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
INSERT INTO messages_v6 SELECT device_id, seq, kind, hash, status, reason, position, receipt,
    time_ms, hash_at, chain_hash_at FROM messages;
DROP TABLE messages;
DROP TABLE transfers;
DROP TABLE accounts;
ALTER TABLE accounts_v6 RENAME TO accounts;
ALTER TABLE transfers_v6 RENAME TO transfers;
ALTER TABLE messages_v6 RENAME TO messages;
CREATE UNIQUE INDEX accounts_wallet ON accounts (device_id, currency) WHERE kind = 'wallet';
CREATE UNIQUE INDEX accounts_entity ON accounts (entity_id, currency) WHERE kind = 'entity';
CREATE UNIQUE INDEX accounts_system ON accounts (currency) WHERE kind = 'system';
CREATE UNIQUE INDEX accounts_holds ON accounts (currency) WHERE kind = 'holds';
CREATE UNIQUE INDEX transfers_device_seq ON transfers (device_id, seq)
    WHERE device_id IS NOT NULL;
CREATE INDEX transfers_debit ON transfers (debit_account) WHERE kind <> 0;
CREATE INDEX transfers_credit ON transfers (credit_account);
CREATE INDEX transfers_related ON transfers (related_position)
    WHERE related_position IS NOT NULL;
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
    BEGIN SELECT RAISE(ABORT, 'transfers are never changed: correct with a new transfer'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
    BEGIN SELECT RAISE(ABORT, 'transfers are never deleted: correct with a new transfer'); END;
CREATE TRIGGER transfers_next_position BEFORE INSERT ON transfers
    WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM transfers)
    BEGIN SELECT RAISE(ABORT, 'a transfer takes the next chain position'); END;

-- The holds themselves (ledger.sql has their comment).
CREATE TABLE IF NOT EXISTS holds (
    position INTEGER PRIMARY KEY REFERENCES transfers (position),
    payer_device TEXT NOT NULL REFERENCES devices (id),
    payer_account INTEGER NOT NULL REFERENCES accounts (id),
    payee_device TEXT REFERENCES devices (id),
    payee_account INTEGER NOT NULL REFERENCES accounts (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    expires_ms INTEGER NOT NULL CHECK (expires_ms >= 0),
    state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),
    captured_minor INTEGER NOT NULL DEFAULT 0
        CHECK (captured_minor BETWEEN 0 AND amount_minor),
    resolved_position INTEGER REFERENCES transfers (position),
    CHECK ((state = 0) = (resolved_position IS NULL)),
    CHECK ((state = 1) = (captured_minor > 0))
);
CREATE INDEX IF NOT EXISTS holds_open ON holds (expires_ms) WHERE state = 0;
CREATE TRIGGER IF NOT EXISTS holds_no_delete BEFORE DELETE ON holds
BEGIN
    SELECT RAISE(ABORT, 'holds are kept as history');
END;
CREATE TRIGGER IF NOT EXISTS holds_resolve_once BEFORE UPDATE ON holds
WHEN OLD.state <> 0 OR NEW.position IS NOT OLD.position
    OR NEW.payer_device IS NOT OLD.payer_device OR NEW.payer_account IS NOT OLD.payer_account
    OR NEW.payee_device IS NOT OLD.payee_device OR NEW.payee_account IS NOT OLD.payee_account
    OR NEW.amount_minor IS NOT OLD.amount_minor OR NEW.currency IS NOT OLD.currency
    OR NEW.expires_ms IS NOT OLD.expires_ms
BEGIN
    SELECT RAISE(ABORT, 'a hold is resolved once and otherwise never changed');
END;


-- Tariffs and metered use.

-- Fees and splits.

-- Legal entities' own logins.
