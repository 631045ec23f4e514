-- ledger_migrate_6.sql - takes a ledger from schema version 6 to 7: the
-- tables of financing's collections, of bearer notes and of the operator's
-- requests. Each adds its own tables in its own section below; no row of
-- version 6 changes, so every transfer keeps its record and its chain hash.
-- Written to run on a version 6 file, and only there (user_version says
-- so). Run by the ledger's opener (common/fogpay_sqlite.c) in one
-- transaction, which then sets PRAGMA user_version = 7; embedded at build
-- time like ledger.sql.

-- The kinds of version 7: transfers 12 to 18, events 13 to 20 (those of
-- bearer notes and of the operator's requests, 15 to 19, may name no
-- device), device messages 4 to 7. Only CHECKs widen, so the stored CREATE
-- text is edited in place as version 6's migration did
-- (ledger_migrate_5.sql); every row satisfies the wider CHECKs.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (kind BETWEEN 0 AND 11)',
                                       'CHECK (kind BETWEEN 0 AND 18)')
    WHERE type = 'table' AND name = 'transfers';
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (kind IN (0, 1, 2, 3))',
                                       'CHECK (kind BETWEEN 0 AND 7)')
    WHERE type = 'table' AND name = 'messages';
UPDATE sqlite_schema SET sql = replace(replace(sql,
                                               'CHECK (kind IN (0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12))',
                                               'CHECK (kind BETWEEN 0 AND 20 AND kind <> 4)'),
                                       'CHECK (device_id IS NOT NULL OR kind IN (7, 9, 10))',
                                       'CHECK (device_id IS NOT NULL OR kind IN (7, 9, 10, 15, 16, 17, 18, 19))')
    WHERE type = 'table' AND name = 'events';
PRAGMA writable_schema = RESET;

-- Bearer notes: the register of notes and the chain of their movements
-- (ledger/ledger_note.c), as in ledger.sql.
-- Bearer notes: the register of every note this gateway has taken, keyed
-- by serial: its issuer, value, signed bytes, its current holder (the key
-- the last custody entry names, with the device of that key when a device
-- holds it; none while the note is in the gateway's own stock), the link to
-- that entry (the next entry must continue from it) and its state. A note
-- is never deleted: one that came back is kept, redeemed, so that its
-- serial is never taken twice.
CREATE TABLE IF NOT EXISTS notes (
    serial BLOB PRIMARY KEY CHECK (length(serial) = 16),
    issuer_kid BLOB NOT NULL CHECK (length(issuer_kid) = 8),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    denomination_minor INTEGER NOT NULL CHECK (denomination_minor BETWEEN 1 AND 1000000000000),
    expiry_s INTEGER CHECK (expiry_s IS NULL OR expiry_s >= 1),
    note BLOB NOT NULL CHECK (length(note) BETWEEN 1 AND 512),
    holder_key TEXT NOT NULL CHECK (length(holder_key) BETWEEN 1 AND 138),
    holder_device TEXT REFERENCES devices (id),
    last_link BLOB NOT NULL CHECK (length(last_link) = 32),
    state INTEGER NOT NULL CHECK (state IN (0, 1, 2)), -- 0 in stock, 1 held, 2 redeemed
    movement INTEGER NOT NULL CHECK (movement >= 1),   -- its last note movement
    CHECK (state = 1 OR holder_device IS NULL)
) WITHOUT ROWID;
-- The stock by value, for withdrawals and change.
CREATE INDEX IF NOT EXISTS notes_stock ON notes (state, currency, denomination_minor);
CREATE TRIGGER IF NOT EXISTS notes_no_delete BEFORE DELETE ON notes
BEGIN
    SELECT RAISE(ABORT, 'a note is never deleted from the register');
END;

-- The chain of note movements, beside the transfer and event chains: one
-- row a note moved (loaded into stock, withdrawn, paid, redeemed), with its
-- record (schemas/note.cddl, note-movement), the custody entry that moved
-- it, and the chain hash at this position, chained as the transfers are.
CREATE TABLE IF NOT EXISTS note_movements (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 1),
    serial BLOB NOT NULL REFERENCES notes (serial),
    custody BLOB NOT NULL CHECK (length(custody) BETWEEN 1 AND 512),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);
-- A serial's history.
CREATE INDEX IF NOT EXISTS note_movements_serial ON note_movements (serial, position);
CREATE TRIGGER IF NOT EXISTS note_movements_no_update BEFORE UPDATE ON note_movements
BEGIN
    SELECT RAISE(ABORT, 'note movements are never changed');
END;
CREATE TRIGGER IF NOT EXISTS note_movements_no_delete BEFORE DELETE ON note_movements
BEGIN
    SELECT RAISE(ABORT, 'note movements are never deleted');
END;
CREATE TRIGGER IF NOT EXISTS note_movements_next_position BEFORE INSERT ON note_movements
WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM note_movements)
BEGIN
    SELECT RAISE(ABORT, 'a note movement takes the next chain position');
END;

-- Bearer notes: the 'notes' account of a currency holds the value of the
-- notes devices withdrew (transfer kind 14); the accounts CHECKs widen in
-- place, as above.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(sql,
                                               'kind IN (''wallet'', ''entity'', ''system'', ''holds'')',
                                               'kind IN (''wallet'', ''entity'', ''system'', ''holds'', ''notes'')'),
                                       'kind IN (''system'', ''holds'')',
                                       'kind IN (''system'', ''holds'', ''notes'')')
    WHERE type = 'table' AND name = 'accounts';
PRAGMA writable_schema = RESET;
CREATE UNIQUE INDEX IF NOT EXISTS accounts_notes ON accounts (currency) WHERE kind = 'notes';
