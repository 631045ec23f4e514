-- ledger_migrate_5.sql - takes a ledger from schema version 5 to 6: the
-- tables of the payment products. Each product adds its own tables in its
-- own section below; no row of version 5 changes, so every transfer keeps
-- its record and its chain hash. Written to run on a version 5 file and to
-- leave a file of version 6's tables as it was. Run by the ledger's opener
-- (common/fogpay_sqlite.c) in one transaction, which then sets
-- PRAGMA user_version = 6; embedded at build time like ledger.sql.

-- Holds (conditional payments).

-- Tariffs and metered use (ledger/ledger_tariff.c, ledger_meter.c).

-- The kinds of every payment product in the CHECKs of transfers (5..10),
-- with the two columns of a usage charge (meter_id, tariff_id, below),
-- messages (kinds 2 and 3, status 3) and events (7..10), as ledger.sql
-- has them: a CHECK cannot be altered in SQLite, so each table is copied
-- into one with the new CHECKs, rows, positions and hashes unchanged.
-- messages and transfers refer to transfers: with the foreign keys
-- deferred, dropping transfers counts the messages left without their
-- transfer, and copying the rows back into the new transfers counts them
-- found again (an index on messages.position keeps each look a lookup), so
-- the commit finds none missing. DROP TABLE fires no trigger; indexes and
-- triggers are created again on the copies.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE messages_v6 (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3)),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    status INTEGER NOT NULL CHECK (status IN (0, 1, 2, 3)),
    reason INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 65535),
    position INTEGER REFERENCES transfers (position),
    receipt BLOB NOT NULL CHECK (length(receipt) <= 512),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
    hash_at INTEGER CHECK (hash_at IS NULL OR hash_at BETWEEN 0 AND 512),
    chain_hash_at INTEGER CHECK (chain_hash_at IS NULL OR chain_hash_at BETWEEN 0 AND 512),
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
INSERT INTO messages_v6 SELECT device_id, seq, kind, hash, status, reason, position, receipt,
    time_ms, hash_at, chain_hash_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v6 RENAME TO messages;
CREATE INDEX messages_position_v6 ON messages (position);
CREATE TABLE transfers_v5 AS SELECT * FROM transfers;
DROP TABLE transfers;
CREATE TABLE transfers (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 10),
    debit_account INTEGER NOT NULL REFERENCES accounts (id),
    credit_account INTEGER NOT NULL REFERENCES accounts (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
    device_id TEXT REFERENCES devices (id),
    seq INTEGER CHECK (seq IS NULL OR seq >= 1),
    payer_entity TEXT REFERENCES entities (id),
    payee_entity TEXT REFERENCES entities (id),
    intent_hash BLOB CHECK (intent_hash IS NULL OR length(intent_hash) = 32),
    reference TEXT CHECK (reference IS NULL OR length(reference) <= 32),
    related_position INTEGER REFERENCES transfers (position),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    meter_id TEXT CHECK (meter_id IS NULL OR length(meter_id) BETWEEN 1 AND 23),
    tariff_id TEXT CHECK (tariff_id IS NULL OR length(tariff_id) BETWEEN 1 AND 23),
    CHECK (debit_account <> credit_account),
    CHECK ((device_id IS NULL) = (seq IS NULL) AND (device_id IS NULL) = (intent_hash IS NULL))
);
INSERT INTO transfers (position, kind, debit_account, credit_account, amount_minor, currency,
    time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference,
    related_position, record, hash) SELECT position, kind, debit_account, credit_account, amount_minor,
    currency, time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference,
    related_position, record, hash FROM transfers_v5 ORDER BY position;
DROP TABLE transfers_v5;
DROP INDEX messages_position_v6;
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
CREATE TABLE events_v6 (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2, 3, 5, 6, 7, 8, 9, 10)),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 1),
    device_id TEXT NOT NULL REFERENCES devices (id),
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

--
-- A tariff: price_num minor units of currency per price_den units of the
-- meter (0.3917 EUR per kWh read in Wh is 3917/100000 cents per Wh), with
-- a minimum charge per charged reading. Append-only and effective-dated as
-- ownership is: a tariff id has versions, each from effective_ms on, the
-- latest at or before a reading's time applying; a version is never changed
-- or deleted, and a new one may not start before the latest. device_id is
-- the device offering it (the metering point); the payee is that device's
-- wallet, or payee_entity's account in the currency when set. Each version
-- is an event of kind 7 on the event chain.
CREATE TABLE IF NOT EXISTS tariffs (
    tariff_id TEXT NOT NULL CHECK (length(tariff_id) BETWEEN 1 AND 23),
    effective_ms INTEGER NOT NULL CHECK (effective_ms >= 1),
    device_id TEXT NOT NULL REFERENCES devices (id),
    payee_entity TEXT REFERENCES entities (id),
    unit TEXT NOT NULL CHECK (length(unit) BETWEEN 1 AND 8),
    price_num INTEGER NOT NULL CHECK (price_num >= 1),
    price_den INTEGER NOT NULL CHECK (price_den >= 1),
    minimum_minor INTEGER NOT NULL CHECK (minimum_minor BETWEEN 0 AND 1000000000000),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    created_ms INTEGER NOT NULL CHECK (created_ms >= 0),
    PRIMARY KEY (tariff_id, effective_ms)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tariffs_no_update BEFORE UPDATE ON tariffs
BEGIN
    SELECT RAISE(ABORT, 'a tariff version is never changed: define a new one');
END;
CREATE TRIGGER IF NOT EXISTS tariffs_no_delete BEFORE DELETE ON tariffs
BEGIN
    SELECT RAISE(ABORT, 'a tariff version is never deleted: define a new one');
END;

-- A device's meter bound to a tariff, by the device's signed bind message
-- (seq and hash of it) or by an operator (seq NULL); the binding with the
-- highest id of a (device_id, meter_id) is the meter's. Each is an event of
-- kind 8. The settlement state of a binding lives in its row and changes
-- with each settled reading, in the reading's transaction: last_quantity,
-- the meter's last settled reading (NULL: none yet, the next reading is the
-- baseline; a rebinding starts from the meter's last settled reading under
-- the binding before); carry, the remainder of the charges so far below one
-- minor unit, in units of 1/price_den of a minor unit of the tariff version
-- effective from version_ms (a reading under another version starts its
-- carry at 0).
CREATE TABLE IF NOT EXISTS meter_bindings (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    device_id TEXT NOT NULL REFERENCES devices (id),
    meter_id TEXT NOT NULL CHECK (length(meter_id) BETWEEN 1 AND 23),
    tariff_id TEXT NOT NULL CHECK (length(tariff_id) BETWEEN 1 AND 23),
    seq INTEGER CHECK (seq IS NULL OR seq >= 1),
    hash BLOB CHECK (hash IS NULL OR length(hash) = 32),
    bound_ms INTEGER NOT NULL CHECK (bound_ms >= 0),
    last_quantity INTEGER CHECK (last_quantity IS NULL OR last_quantity >= 0),
    carry INTEGER NOT NULL DEFAULT 0 CHECK (carry >= 0),
    version_ms INTEGER NOT NULL DEFAULT 0 CHECK (version_ms >= 0),
    CHECK ((seq IS NULL) = (hash IS NULL))
);
CREATE INDEX IF NOT EXISTS meter_bindings_meter ON meter_bindings (device_id, meter_id, id);
CREATE TRIGGER IF NOT EXISTS meter_bindings_state_only BEFORE UPDATE ON meter_bindings
WHEN NEW.id IS NOT OLD.id OR NEW.device_id IS NOT OLD.device_id
    OR NEW.meter_id IS NOT OLD.meter_id OR NEW.tariff_id IS NOT OLD.tariff_id
    OR NEW.seq IS NOT OLD.seq OR NEW.hash IS NOT OLD.hash OR NEW.bound_ms IS NOT OLD.bound_ms
BEGIN
    SELECT RAISE(ABORT, 'a binding changes only its settlement state: bind again');
END;
CREATE TRIGGER IF NOT EXISTS meter_bindings_no_delete BEFORE DELETE ON meter_bindings
BEGIN
    SELECT RAISE(ABORT, 'a meter binding is never deleted');
END;

-- A usage charge (transfer kind 9) names its meter and tariff (transfer
-- record keys 18 and 19) in the two columns the copy of transfers above
-- adds; every other transfer has neither.

-- Fees and splits.

-- Legal entities' own logins.
