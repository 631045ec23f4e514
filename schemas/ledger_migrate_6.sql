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
