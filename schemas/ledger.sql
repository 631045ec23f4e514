-- ledger.sql - the schema of the gateway's ledger (SQLite), version 6.
--
-- The ledger embeds this file at build time (schemas/meson.build) and runs
-- it once, inside one transaction, when it creates a ledger; the runtime
-- never reads schemas/. It also works on its own: `sqlite3 new.db < ledger.sql`
-- makes a ledger that fogpay opens. The version is PRAGMA user_version,
-- checked at every open; a change of any table is a new version with its
-- migration (ledger_migrate_N.sql, from version N to N + 1).
--
-- Money is an integer count of minor units of an ISO 4217 numeric currency.
-- Times are unix milliseconds. Text limits are those of common/fogpay_limits.h
-- (device ids 23 bytes, references 32, entity ids "le-" and 16 hex digits).
--
-- What is never changed. Transfers, events and the ownership history are
-- append-only: triggers refuse UPDATE and DELETE, and a transfer or an
-- event must take the next position of its chain. Corrections are new
-- transfers (refund, reversal). Each chain hashes the deterministic CBOR
-- record of its rows (hash(n) = SHA-256(hash(n-1) || record(n)), hash(0) =
-- 32 zero bytes). An event keeps its record; a transfer's record is the
-- deterministic encoding of its row's columns, rebuilt from them rather than
-- stored twice, so verification needs nothing but this file.
--
-- Personal data. A legal entity is named everywhere by its pseudonymous id;
-- name, contact and bank reference live only in entity_personal, and nothing
-- copies them. Erasing a person is deleting that one row.
--
-- Room to grow without a rewrite (each is a new table and a new version;
-- every existing row keeps its meaning and its chain hash):
--   * Two-phase transfers are built this way (version 6, holds below): an
--     authorisation moves the amount into the currency's holds account
--     (accounts.kind 'holds'), and capture, release and expiry name it by
--     related_position; balances, floors and verification stay as they are.
--   * Bearer notes (digital fiat): a table notes(serial PRIMARY KEY, issuer,
--     currency, denomination_minor, holder_account, issued_position,
--     last_position); issuing and moving a note are transfers whose record
--     names the serial, so every note's history is in the chain.

PRAGMA user_version = 6;

-- Legal entities: the parties a payment is assigned to. Devices are never
-- legal entities.
CREATE TABLE entities (
    id TEXT PRIMARY KEY NOT NULL
        CHECK (id GLOB 'le-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    created_ms INTEGER NOT NULL CHECK (created_ms >= 0)
) WITHOUT ROWID;

-- The only place personal data is kept (GDPR: erasable without touching
-- any transfer).
CREATE TABLE entity_personal (
    entity_id TEXT PRIMARY KEY NOT NULL REFERENCES entities (id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    contact TEXT CHECK (contact IS NULL OR length(contact) <= 200),
    bank_ref TEXT CHECK (bank_ref IS NULL OR length(bank_ref) <= 200)
) WITHOUT ROWID;

-- Devices: id is the MQTT client id. status 0 active, 1 suspended, 2 revoked.
-- Limits in minor units; 0 means no limit. password_hash is NULL for devices
-- that log in with a client certificate only.
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 23),
    status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    per_payment_minor INTEGER NOT NULL DEFAULT 0 CHECK (per_payment_minor >= 0),
    per_day_minor INTEGER NOT NULL DEFAULT 0 CHECK (per_day_minor >= 0),
    wallet_max_minor INTEGER NOT NULL DEFAULT 0 CHECK (wallet_max_minor >= 0),
    password_hash TEXT CHECK (password_hash IS NULL OR length(password_hash) < 160),
    last_command_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_command_seq >= 0),
    created_ms INTEGER NOT NULL CHECK (created_ms >= 0),
    updated_ms INTEGER NOT NULL CHECK (updated_ms >= 0)
) WITHOUT ROWID;

-- Key history of each device: exactly one active key, earlier ones kept as
-- revoked. alg is the COSE algorithm (-8 EdDSA, -7 ES256).
CREATE TABLE device_keys (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id),
    alg INTEGER NOT NULL CHECK (alg IN (-8, -7)),
    public_key BLOB NOT NULL CHECK (length(public_key) BETWEEN 1 AND 65),
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    from_ms INTEGER NOT NULL CHECK (from_ms >= 0),
    revoked_ms INTEGER CHECK (revoked_ms IS NULL OR revoked_ms >= from_ms)
);
CREATE UNIQUE INDEX device_keys_active ON device_keys (device_id) WHERE active = 1;
CREATE UNIQUE INDEX device_keys_device_key ON device_keys (device_id, public_key);

-- A key is only ever retired: its bytes, algorithm and start stay. A retired
-- key stays valid until revoked_ms, the end of its overlap window after a
-- rotation (the rotation's time when there is none); that end may move
-- earlier (a revocation during the window), never later.
CREATE TRIGGER device_keys_no_delete BEFORE DELETE ON device_keys
BEGIN
    SELECT RAISE(ABORT, 'device keys are kept as history');
END;
CREATE TRIGGER device_keys_retire_only BEFORE UPDATE ON device_keys
WHEN NEW.id IS NOT OLD.id OR NEW.device_id IS NOT OLD.device_id OR NEW.alg IS NOT OLD.alg
    OR NEW.public_key IS NOT OLD.public_key OR NEW.from_ms IS NOT OLD.from_ms
    OR NEW.active <> 0 OR NEW.revoked_ms IS NULL
    OR (OLD.active = 0 AND NOT (NEW.revoked_ms < OLD.revoked_ms))
BEGIN
    SELECT RAISE(ABORT, 'a device key can only be retired, or its validity shortened');
END;

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

-- Ownership history, append-only and effective-dated: from effective_ms on,
-- entity_id holds device_id as owner or lessee. The holder at a time is the
-- latest entry at or before it (at equal times a lessee before an owner); a
-- new owner entry therefore ends any lease before it.
CREATE TABLE ownership (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id),
    entity_id TEXT NOT NULL REFERENCES entities (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'lessee')),
    effective_ms INTEGER NOT NULL CHECK (effective_ms >= 0),
    recorded_ms INTEGER NOT NULL CHECK (recorded_ms >= 0)
);
CREATE INDEX ownership_device_time ON ownership (device_id, effective_ms);

CREATE TRIGGER ownership_no_update BEFORE UPDATE ON ownership
BEGIN
    SELECT RAISE(ABORT, 'the ownership history is append-only');
END;
CREATE TRIGGER ownership_no_delete BEFORE DELETE ON ownership
BEGIN
    SELECT RAISE(ABORT, 'the ownership history is append-only');
END;
CREATE TRIGGER ownership_in_order BEFORE INSERT ON ownership
WHEN NEW.effective_ms < (SELECT max(effective_ms) FROM ownership WHERE device_id = NEW.device_id)
BEGIN
    SELECT RAISE(ABORT, 'an ownership entry may not take effect before the latest one');
END;

-- Accounts: a wallet per device and currency, an account per legal entity
-- and currency, one system account per currency that funding comes from,
-- and one holds account per currency where held amounts wait (version 6).
-- The system account is the counterpart that keeps each currency's
-- sum of balances at zero, so only it may go below zero. balance is the sum
-- of credits minus debits of the account's transfers, kept up to date in the
-- same transaction as each transfer.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('wallet', 'entity', 'system', 'holds', 'notes')),
    device_id TEXT REFERENCES devices (id),
    entity_id TEXT REFERENCES entities (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    balance INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'wallet' AND device_id IS NOT NULL AND entity_id IS NULL)
        OR (kind = 'entity' AND entity_id IS NOT NULL AND device_id IS NULL)
        OR (kind IN ('system', 'holds', 'notes') AND device_id IS NULL AND entity_id IS NULL)),
    CHECK (kind = 'system' OR balance >= 0)
);
CREATE UNIQUE INDEX accounts_wallet ON accounts (device_id, currency) WHERE kind = 'wallet';
CREATE UNIQUE INDEX accounts_entity ON accounts (entity_id, currency) WHERE kind = 'entity';
CREATE UNIQUE INDEX accounts_system ON accounts (currency) WHERE kind = 'system';
CREATE UNIQUE INDEX accounts_holds ON accounts (currency) WHERE kind = 'holds';
-- Version 7: one 'notes' account a currency, the value of the bearer notes
-- devices withdrew and hold (ledger/ledger_note.c).
CREATE UNIQUE INDEX accounts_notes ON accounts (currency) WHERE kind = 'notes';

-- Transfers: the chain. position is the transfer id and its chain position,
-- contiguous from 1. kind: 0 payment, 1 funding, 2 refund, 3 reversal,
-- 4 withdrawal, and from version 6 the kinds of the payment products: 5
-- authorisation, 6 capture, 7 release, 8 expiry (holds), 9 usage charge,
-- 10 entity payment, 11 instalment; version 7 admits the kinds 12 to 18
-- of financing, bearer notes and pay-per-use (fogpay_transfer_kind). device_id, seq and intent_hash are set
-- for a device's payment only; payer_entity and payee_entity are the legal
-- entities behind debit and credit at time_ms (NULL where there is none, as
-- for the system account); related_position names the refunded or reversed
-- transfer. hash is the chain hash at this position, over the record
-- fogpay_transfer_encode() makes of the row's columns. record: in rows
-- written from version 5 on the one byte x'01', saying that the record is
-- those columns encoded (format 1), rebuilt from them rather than stored a
-- second time; rows written before keep the record bytes they were hashed
-- with (a CBOR map, so never x'01'), which verification requires to be the
-- encoding of their columns. x'02' (format 2, version 6) is a transfer of
-- several legs: the record is the columns with the rows of transfer_legs at
-- its position under key 20 (below, fees and splits).
CREATE TABLE transfers (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 18),
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
    CHECK (debit_account <> credit_account),
    CHECK ((device_id IS NULL) = (seq IS NULL) AND (device_id IS NULL) = (intent_hash IS NULL))
);
-- Only the indexes a query needs (ledger/ledger_query.c, ledger_settle.c):
-- a device's payments exactly once per (device, seq), which also finds
-- them as debits of its wallet (a payment always debits the payer's
-- wallet, so transfers_debit holds only the other kinds); retrieval by
-- account, hence by device and, through the accounts and ownership of an
-- entity, by legal entity; refunds of a payment. A list by time walks positions in
-- order and filters on time_ms; the per-day limit reads device_day_totals.
CREATE UNIQUE INDEX transfers_device_seq ON transfers (device_id, seq)
    WHERE device_id IS NOT NULL;
CREATE INDEX transfers_debit ON transfers (debit_account) WHERE kind <> 0;
CREATE INDEX transfers_credit ON transfers (credit_account);
CREATE INDEX transfers_related ON transfers (related_position)
    WHERE related_position IS NOT NULL;

CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are never changed: correct with a new transfer');
END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are never deleted: correct with a new transfer');
END;
-- The next position, on any connection. Kept as a trigger: it costs under
-- a microsecond an insert (one descent of the primary key), where the
-- indexes it sat beside cost tens (BENCHMARKS.md).
CREATE TRIGGER transfers_next_position BEFORE INSERT ON transfers
WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM transfers)
BEGIN
    SELECT RAISE(ABORT, 'a transfer takes the next chain position');
END;

-- What each device has paid in each currency in each UTC day (day = time_ms
-- div 86400000), the sum of its payments' amounts (kind 0), kept up to date
-- in the same transaction as each payment: the per-day limit reads one row
-- instead of summing the day's transfers. Version 4 added it, filled from
-- the transfers then held.
CREATE TABLE device_day_totals (
    device_id TEXT NOT NULL REFERENCES devices (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    day INTEGER NOT NULL CHECK (day >= 0),
    paid_minor INTEGER NOT NULL CHECK (paid_minor >= 0),
    PRIMARY KEY (device_id, currency, day)
) WITHOUT ROWID;

-- Every answered device message (intent or usage reading), settled or
-- refused, with the signed receipt, so a repeat of (device_id, seq) gets the
-- same bytes. kind 0 intent, 1 usage, 2 hold (capture or void), 3 meter
-- binding; status 0 settled, 1 rejected, 2 stored, 3 held; reason a
-- fogpay_error (0 when settled); position the transfer,
-- NULL when none was made. receipt holds the receipt's bytes without what
-- the ledger holds already: where the receipt carries the message's hash,
-- hash_at is its offset and those 32 bytes are cut out; where it carries
-- the chain hash of its transfer, chain_hash_at is that offset (in the
-- receipt as sent) and those 32 bytes are cut out too (ledger_message.c).
-- Version 4 added the two offsets.
CREATE TABLE messages (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 7),
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

-- Authenticated meter readings for pay-per-use.
CREATE TABLE usage_readings (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    meter_id TEXT NOT NULL CHECK (length(meter_id) BETWEEN 1 AND 23),
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    unit TEXT NOT NULL CHECK (length(unit) BETWEEN 1 AND 8),
    created_s INTEGER NOT NULL CHECK (created_s >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0),
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

-- Refused messages, for monitoring; also from clients that are not devices.
-- Bounded: the ledger keeps the newest FOGPAY_LEDGER_REJECTIONS_MAX rows
-- (ledger/ledger.h) and deletes older ones as it inserts.
CREATE TABLE rejections (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL CHECK (length(CAST(client_id AS BLOB)) <= 64),
    seq INTEGER NOT NULL CHECK (seq >= 0),
    reason INTEGER NOT NULL,
    time_ms INTEGER NOT NULL CHECK (time_ms >= 0)
);

-- Events: the second chain, of what the back office must know besides
-- transfers (fogpay_event, common/fogpay_message.h). kind: 0 a device
-- registered (with its owner), 1 its status changed, 2 its owner or lessee
-- changes from a time on, 3 one of its usage readings was stored
-- (fogpay_event_kind), 5 and 6 its key rotated and revoked, 7..10 the
-- payment products' kinds (9 a fee schedule set, which names a device only
-- when its payee is one; 10 an entity login created or removed, which names
-- none: device_id NULL). The ledger appends an event in
-- the same transaction as the change it records. position is the event's
-- position in its own chain, contiguous from 1; kind, time_ms and
-- device_id repeat the record for retrieval; record is fogpay_event_encode() of the event, hash the
-- chain hash at this position, chained as the transfers are.
-- Version 3 added this table. Events are not backfilled: in a ledger
-- migrated from version 2 the chain starts with the first change after the
-- migration, and what happened before is only in devices, ownership and
-- usage_readings.
CREATE TABLE events (
    position INTEGER PRIMARY KEY CHECK (position >= 1),
    kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 20 AND kind <> 4),
    time_ms INTEGER NOT NULL CHECK (time_ms >= 1),
    device_id TEXT REFERENCES devices (id),
    record BLOB NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    CHECK (device_id IS NOT NULL OR kind IN (7, 9, 10, 15, 16, 17, 18, 19)),
    CHECK (kind <> 10 OR device_id IS NULL)
);
-- A device's history.
CREATE INDEX events_device ON events (device_id);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are never changed');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are never deleted');
END;
CREATE TRIGGER events_next_position BEFORE INSERT ON events
WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'an event takes the next chain position');
END;

-- Upstream sync (plugin/sync.c): how far the cloud's copies of the two
-- chains reach by its last signed acknowledgements, and the last batch
-- sequence number used (shared by both streams). One row. Transfers past
-- acked_position and events past acked_event_position are the backlog; a
-- batch is forgotten only when an ack covers it. Version 2 added this
-- table, version 3 the acked_event_ columns (ALTER TABLE ... ADD COLUMN
-- needs a constant default: 32 zero bytes written out).
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    acked_position INTEGER NOT NULL CHECK (acked_position >= 0),
    acked_hash BLOB NOT NULL CHECK (length(acked_hash) = 32),
    batch_seq INTEGER NOT NULL CHECK (batch_seq >= 0),
    acked_ms INTEGER NOT NULL CHECK (acked_ms >= 0),
    acked_event_position INTEGER NOT NULL DEFAULT 0 CHECK (acked_event_position >= 0),
    acked_event_hash BLOB NOT NULL
        DEFAULT X'0000000000000000000000000000000000000000000000000000000000000000'
        CHECK (length(acked_event_hash) = 32)
);
INSERT INTO sync_state (id, acked_position, acked_hash, batch_seq, acked_ms)
    VALUES (1, 0, zeroblob(32), 0, 0);

-- The payment products (version 6, ledger_migrate_5.sql), a section each.

-- Holds (conditional payments). A hold is made by an authorisation, the
-- transfer (kind 5) that moved its amount from the payer's wallet into the
-- currency's holds account; position is that transfer's, and the hold's
-- id. It is resolved once: captured (state 1; kind 6 of captured_minor to
-- the payee, kind 7 of the rest back), voided (2; kind 7 of the whole) or
-- expired at expires_ms (3; kind 8 of the whole); resolved_position is the
-- transfer that resolved it, the capture or the release. payee_device is
-- the payee's device when the payee is a wallet. The holds account of a
-- currency holds exactly the sum of its open holds (ledger_verify.c).
-- Only state, captured_minor and resolved_position change, once.
CREATE TABLE holds (
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
CREATE INDEX holds_open ON holds (expires_ms) WHERE state = 0;
CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds
BEGIN
    SELECT RAISE(ABORT, 'holds are kept as history');
END;
CREATE TRIGGER holds_resolve_once BEFORE UPDATE ON holds
WHEN OLD.state <> 0 OR NEW.position IS NOT OLD.position
    OR NEW.payer_device IS NOT OLD.payer_device OR NEW.payer_account IS NOT OLD.payer_account
    OR NEW.payee_device IS NOT OLD.payee_device OR NEW.payee_account IS NOT OLD.payee_account
    OR NEW.amount_minor IS NOT OLD.amount_minor OR NEW.currency IS NOT OLD.currency
    OR NEW.expires_ms IS NOT OLD.expires_ms
BEGIN
    SELECT RAISE(ABORT, 'a hold is resolved once and otherwise never changed');
END;

-- Tariffs and metered use (ledger/ledger_tariff.c, ledger_meter.c).
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
CREATE TABLE tariffs (
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
CREATE TRIGGER tariffs_no_update BEFORE UPDATE ON tariffs
BEGIN
    SELECT RAISE(ABORT, 'a tariff version is never changed: define a new one');
END;
CREATE TRIGGER tariffs_no_delete BEFORE DELETE ON tariffs
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
CREATE TABLE meter_bindings (
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
CREATE INDEX meter_bindings_meter ON meter_bindings (device_id, meter_id, id);
CREATE TRIGGER meter_bindings_state_only BEFORE UPDATE ON meter_bindings
WHEN NEW.id IS NOT OLD.id OR NEW.device_id IS NOT OLD.device_id
    OR NEW.meter_id IS NOT OLD.meter_id OR NEW.tariff_id IS NOT OLD.tariff_id
    OR NEW.seq IS NOT OLD.seq OR NEW.hash IS NOT OLD.hash OR NEW.bound_ms IS NOT OLD.bound_ms
BEGIN
    SELECT RAISE(ABORT, 'a binding changes only its settlement state: bind again');
END;
CREATE TRIGGER meter_bindings_no_delete BEFORE DELETE ON meter_bindings
BEGIN
    SELECT RAISE(ABORT, 'a meter binding is never deleted');
END;

-- A usage charge (transfer kind 9) names its meter and tariff (transfer
-- record keys 18 and 19); every other transfer has neither.
ALTER TABLE transfers ADD COLUMN meter_id TEXT
    CHECK (meter_id IS NULL OR length(meter_id) BETWEEN 1 AND 23);
ALTER TABLE transfers ADD COLUMN tariff_id TEXT
    CHECK (tariff_id IS NULL OR length(tariff_id) BETWEEN 1 AND 23);

-- Fees and splits.
-- A transfer of several legs (transfer.cddl key 20), all at one chain
-- position: its transfers row holds the first leg and the record byte
-- x'02' (format 2: the record is the row's columns with these legs under
-- key 20), transfer_legs the others, numbered from 2 in the record's
-- order. Balances move by every leg; verification sums both tables.
-- Indexed by account, so that the transfers of a fee account are found
-- like the others. Written only with the row of their position.
CREATE TABLE transfer_legs (
    position INTEGER NOT NULL REFERENCES transfers (position),
    leg INTEGER NOT NULL CHECK (leg BETWEEN 2 AND 6),
    debit_account INTEGER NOT NULL REFERENCES accounts (id),
    credit_account INTEGER NOT NULL REFERENCES accounts (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    PRIMARY KEY (position, leg),
    CHECK (debit_account <> credit_account)
) WITHOUT ROWID;
CREATE INDEX transfer_legs_debit ON transfer_legs (debit_account);
CREATE INDEX transfer_legs_credit ON transfer_legs (credit_account);
CREATE TRIGGER transfer_legs_no_update BEFORE UPDATE ON transfer_legs
BEGIN
    SELECT RAISE(ABORT, 'transfers are never changed: correct with a new transfer');
END;
CREATE TRIGGER transfer_legs_no_delete BEFORE DELETE ON transfer_legs
BEGIN
    SELECT RAISE(ABORT, 'transfers are never deleted: correct with a new transfer');
END;

-- Fee schedules, append-only and effective-dated like ownership: from
-- effective_ms on, a payment in currency to the payee (payee_device's
-- wallet, payee_entity's account, or with neither every payee without a
-- schedule of its own) settles as one transfer of several legs: each fee
-- leg of fee_schedule_legs takes floor(amount * basis_points / 10000) to
-- its account, the payee floor(amount * (10000 - their sum) / 10000), and
-- what that leaves (less than one minor unit a leg) goes to remainder_leg
-- (0 the payee, i the i-th fee leg). A schedule without legs ends the fees.
-- event_position is its event (kind 9) on the event chain.
CREATE TABLE fee_schedules (
    id INTEGER PRIMARY KEY,
    payee_device TEXT REFERENCES devices (id),
    payee_entity TEXT REFERENCES entities (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    remainder_leg INTEGER NOT NULL CHECK (remainder_leg BETWEEN 0 AND 5),
    effective_ms INTEGER NOT NULL CHECK (effective_ms >= 1),
    recorded_ms INTEGER NOT NULL CHECK (recorded_ms >= 0),
    event_position INTEGER NOT NULL REFERENCES events (position),
    CHECK (payee_device IS NULL OR payee_entity IS NULL)
);
CREATE INDEX fee_schedules_payee ON fee_schedules (payee_device, payee_entity, currency,
    effective_ms);
CREATE TABLE fee_schedule_legs (
    schedule_id INTEGER NOT NULL REFERENCES fee_schedules (id),
    leg INTEGER NOT NULL CHECK (leg BETWEEN 1 AND 5),
    account INTEGER NOT NULL REFERENCES accounts (id),
    basis_points INTEGER NOT NULL CHECK (basis_points BETWEEN 1 AND 9999),
    PRIMARY KEY (schedule_id, leg)
) WITHOUT ROWID;
CREATE TRIGGER fee_schedules_no_update BEFORE UPDATE ON fee_schedules
BEGIN
    SELECT RAISE(ABORT, 'fee schedules are append-only');
END;
CREATE TRIGGER fee_schedules_no_delete BEFORE DELETE ON fee_schedules
BEGIN
    SELECT RAISE(ABORT, 'fee schedules are append-only');
END;
CREATE TRIGGER fee_schedule_legs_no_update BEFORE UPDATE ON fee_schedule_legs
BEGIN
    SELECT RAISE(ABORT, 'fee schedules are append-only');
END;
CREATE TRIGGER fee_schedule_legs_no_delete BEFORE DELETE ON fee_schedule_legs
BEGIN
    SELECT RAISE(ABORT, 'fee schedules are append-only');
END;
CREATE TRIGGER fee_schedules_in_order BEFORE INSERT ON fee_schedules
WHEN NEW.effective_ms < (SELECT max(effective_ms) FROM fee_schedules
    WHERE payee_device IS NEW.payee_device AND payee_entity IS NEW.payee_entity
    AND currency = NEW.currency)
BEGIN
    SELECT RAISE(ABORT, 'a fee schedule may not take effect before the latest one');
END;

-- Legal entities' own logins: a legal entity (the person or company behind
-- devices) logs in to the gateway's broker as itself (plugin/auth.c) and
-- may use only the control commands open to entities, on its own accounts
-- and devices (control/control_entity.c). username is the MQTT username, of
-- the id alphabet (common/fogpay_topic.h) and never a device's id;
-- password_hash is a PBKDF2 verifier (a person's password, so the slow
-- hash: common/fogpay_password.h), NULL for a login by client certificate
-- only (use_identity_as_username, the certificate's CN the username).
-- Created and removed by an operator, each with an event (kind 10); a
-- removed login is deleted, its history is in the events.
CREATE TABLE entity_logins (
    username TEXT PRIMARY KEY NOT NULL CHECK (length(username) BETWEEN 1 AND 23),
    entity_id TEXT NOT NULL REFERENCES entities (id),
    password_hash TEXT CHECK (password_hash IS NULL OR length(password_hash) < 160),
    created_ms INTEGER NOT NULL CHECK (created_ms >= 0)
) WITHOUT ROWID;
CREATE INDEX entity_logins_entity ON entity_logins (entity_id);

-- Financing. (ledger/ledger_plan.c, ledger_schedule.c; README.md,
-- "Device financing"). A plan finances a device: lender_entity lends
-- principal_minor in currency, repaid in instalment_count instalments one
-- every period_ms, the i-th due at effective_ms + i * period_ms and
-- payable until grace_ms after; interest at rate_bp basis points a year
-- (simple, on the principal, over the term, rounded down once) and, with
-- usage_num, usage_num/usage_den minor units per unit of meter_id metered
-- in the instalment's period. shortfall: 0 suspend the device, 1 limit it
-- to named payees; collect: the gateway may take a late instalment from
-- the wallet. Append-only and effective-dated like tariffs: a version
-- restates the terms from its effective time (its principal what is still
-- financed then), a version with closed = 1 ends the plan, none is changed
-- or deleted, and none starts before the latest. Each version is an event
-- (kind 11, or 12 for the closing one) on the event chain.
CREATE TABLE IF NOT EXISTS plans (
    plan_id TEXT NOT NULL CHECK (length(plan_id) BETWEEN 1 AND 23),
    effective_ms INTEGER NOT NULL CHECK (effective_ms >= 1),
    device_id TEXT NOT NULL REFERENCES devices (id),
    lender_entity TEXT NOT NULL REFERENCES entities (id),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    principal_minor INTEGER NOT NULL CHECK (principal_minor BETWEEN 1 AND 1000000000000),
    rate_bp INTEGER NOT NULL CHECK (rate_bp BETWEEN 0 AND 100000),
    usage_num INTEGER NOT NULL CHECK (usage_num >= 0),
    usage_den INTEGER NOT NULL CHECK (usage_den >= 0),
    meter_id TEXT CHECK (meter_id IS NULL OR length(meter_id) BETWEEN 1 AND 23),
    instalment_count INTEGER NOT NULL CHECK (instalment_count BETWEEN 1 AND 600),
    period_ms INTEGER NOT NULL CHECK (period_ms BETWEEN 60000 AND 31622400000),
    grace_ms INTEGER NOT NULL CHECK (grace_ms BETWEEN 0 AND period_ms),
    shortfall INTEGER NOT NULL CHECK (shortfall IN (0, 1)),
    collect INTEGER NOT NULL CHECK (collect IN (0, 1)),
    closed INTEGER NOT NULL CHECK (closed IN (0, 1)),
    created_ms INTEGER NOT NULL CHECK (created_ms >= 0),
    PRIMARY KEY (plan_id, effective_ms),
    CHECK ((usage_num = 0) = (usage_den = 0) AND (usage_num = 0) = (meter_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plans_device ON plans (device_id, plan_id, effective_ms);
CREATE TRIGGER IF NOT EXISTS plans_no_update BEFORE UPDATE ON plans
BEGIN
    SELECT RAISE(ABORT, 'a plan version is never changed: define a new one');
END;
CREATE TRIGGER IF NOT EXISTS plans_no_delete BEFORE DELETE ON plans
BEGIN
    SELECT RAISE(ABORT, 'a plan version is never deleted: define a new one');
END;
CREATE TRIGGER IF NOT EXISTS plans_in_order BEFORE INSERT ON plans
WHEN NEW.effective_ms <= (SELECT max(effective_ms) FROM plans WHERE plan_id = NEW.plan_id)
    OR EXISTS (SELECT 1 FROM plans WHERE plan_id = NEW.plan_id AND closed = 1)
BEGIN
    SELECT RAISE(ABORT, 'a plan version follows the latest, and none follows a closed plan');
END;

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

-- An instalment (transfer kind 11) names its plan and its number
-- (transfer record keys 24 and 25) in two columns added to transfers;
-- every other transfer has neither. Indexed by plan, to find the
-- instalments a plan has been paid.
ALTER TABLE transfers ADD COLUMN plan_id TEXT
    CHECK (plan_id IS NULL OR length(plan_id) BETWEEN 1 AND 23);
ALTER TABLE transfers ADD COLUMN instalment INTEGER
    CHECK (instalment IS NULL OR instalment BETWEEN 1 AND 600);
CREATE INDEX IF NOT EXISTS transfers_plan ON transfers (plan_id, instalment)
    WHERE plan_id IS NOT NULL;

-- Pay-per-use from a hold (version 7; ledger_hold_charge.c). A meter bound
-- to a tariff and an open hold of its own device is charged from that hold:
-- each settled reading's charge is a hold charge (transfer kind 18) from
-- the currency's holds account to the tariff's payee, naming the hold by
-- related_position. meter_bindings.hold_position names the binding's hold
-- (NULL: the device's wallet pays); holds.charged_minor is what its charges
-- took so far, never more than its amount. The rest (amount_minor -
-- charged_minor) is what the hold still holds: a capture takes at most it,
-- and a release or an expiry returns it.
ALTER TABLE meter_bindings ADD COLUMN hold_position INTEGER REFERENCES holds (position);
ALTER TABLE holds ADD COLUMN charged_minor INTEGER NOT NULL DEFAULT 0
    CHECK (charged_minor >= 0 AND charged_minor <= amount_minor);

-- Financing: arrears (ledger/ledger_collect.c; README.md, "Device
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
