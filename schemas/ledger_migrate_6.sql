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

-- Pay-per-use from a hold: a binding may name the hold its readings are
-- charged from, and a hold keeps what its charges took (ledger.sql, "Pay-per-use from a hold").
ALTER TABLE meter_bindings ADD COLUMN hold_position INTEGER REFERENCES holds (position);
ALTER TABLE holds ADD COLUMN charged_minor INTEGER NOT NULL DEFAULT 0
    CHECK (charged_minor >= 0 AND charged_minor <= amount_minor);

-- Financing: arrears (collection on the tick; ledger/ledger_collect.c; README.md, "Device
-- financing"). A plan is in arrears from the tick that finds an
-- instalment unpaid past its grace (the device did not pay it and the
-- gateway could not collect it: reason 149 collection_refused for a plan
-- without collection, 45 insufficient_funds for a wallet that cannot pay)
-- until the tick that finds none: cleared_ms is set then, and the row is
-- kept as the plan's history. One open row a plan at most. instalment is
-- the first unpaid one when it entered, owed_minor what was owed then;
-- suspended is 1 when the gateway suspended the device for it (and so
-- resumes it when the arrears are cleared). Each row is an event (kind 13
-- entered, kind 14 cleared) on the event chain.
CREATE TABLE IF NOT EXISTS plan_arrears (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL CHECK (length(plan_id) BETWEEN 1 AND 23),
    device_id TEXT NOT NULL REFERENCES devices (id),
    entity_id TEXT REFERENCES entities (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    instalment INTEGER NOT NULL CHECK (instalment BETWEEN 1 AND 600),
    owed_minor INTEGER NOT NULL CHECK (owed_minor BETWEEN 1 AND 1000000000000),
    reason INTEGER NOT NULL CHECK (reason BETWEEN 1 AND 199),
    suspended INTEGER NOT NULL CHECK (suspended IN (0, 1)),
    entered_ms INTEGER NOT NULL CHECK (entered_ms >= 1),
    cleared_ms INTEGER CHECK (cleared_ms IS NULL OR cleared_ms >= entered_ms)
);
CREATE UNIQUE INDEX IF NOT EXISTS plan_arrears_open ON plan_arrears (plan_id)
    WHERE cleared_ms IS NULL;
CREATE INDEX IF NOT EXISTS plan_arrears_device ON plan_arrears (device_id, id);
CREATE TRIGGER IF NOT EXISTS plan_arrears_no_delete BEFORE DELETE ON plan_arrears
BEGIN
    SELECT RAISE(ABORT, 'arrears are the plan''s history: never deleted');
END;

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
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 6),
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

-- Financing's limit: the payees a plan version whose shortfall is limit
-- (1) names, device ids or entity ids (ledger/ledger_plan.c; README.md,
-- "Device financing"). While the plan is in arrears its device may pay
-- its instalments and these payees, nothing else (reason 153
-- plan_limited). At most 6 a version, numbered 1.. in the order given;
-- written with their version and, like it, never changed or deleted.
CREATE TABLE IF NOT EXISTS plan_payees (
    plan_id TEXT NOT NULL,
    effective_ms INTEGER NOT NULL,
    n INTEGER NOT NULL CHECK (n BETWEEN 1 AND 6),
    payee TEXT NOT NULL CHECK (length(payee) BETWEEN 1 AND 23),
    PRIMARY KEY (plan_id, effective_ms, n),
    UNIQUE (plan_id, effective_ms, payee),
    FOREIGN KEY (plan_id, effective_ms) REFERENCES plans (plan_id, effective_ms)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS plan_payees_no_update BEFORE UPDATE ON plan_payees
BEGIN
    SELECT RAISE(ABORT, 'a plan version''s payees are never changed: define a new version');
END;
CREATE TRIGGER IF NOT EXISTS plan_payees_no_delete BEFORE DELETE ON plan_payees
BEGIN
    SELECT RAISE(ABORT, 'a plan version''s payees are never deleted: define a new version');
END;
