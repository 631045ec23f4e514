-- cloud.sql - the schema of the cloud's store (cloud/store.h), version 4:
-- every gateway's key, how far each of its two chains reaches, its settled
-- transfers and its events (schemas/event.cddl).
--
-- Version 2 adds the event chain: the events table and the gateways'
-- event head (event_position, event_hash). There is no migration from
-- version 1: no cloud store of version 1 was ever deployed, so a store of
-- version 1 is refused at open (FOGPAY_ERR_SCHEMA_VERSION, with a sentence
-- saying to create a new one) rather than altered. Version 3 adds the
-- event kinds of device keys (5 rotated, 6 revoked); cloud_migrate_2.sql
-- takes a version 2 store there. Version 4 takes every transfer kind of
-- the payment products (0 to 11) and every event kind (0 to 3, 5 to 12),
-- events that name no device (a tariff, a fee schedule, an entity login),
-- and transfers of several legs: the record carries the further legs
-- (transfer.cddl key 20) and transfer_legs holds them for the back
-- office's questions; cloud_migrate_3.sql takes a version 3 store there.
-- Version 5 takes the transfer kinds 12 to 18 and the event kinds 13 to 20
-- of financing, bearer notes, pay-per-use and the operator's requests;
-- cloud_migrate_4.sql takes a version 4 store there. Version 5 also holds
-- each gateway's note movement chain and the register of every note's
-- home gateway (note_movements, note_homes, at the end of this file).
--
-- One text for both engines. cloud/store_sqlite.c and cloud/store_pg.c embed
-- this file at build time (schemas/meson.build) and run it, unchanged, inside
-- one transaction when they create a store; the runtime never reads
-- schemas/. Why one file and not two: the tables are the contract between
-- the ingest, the back office and verification, and two copies would drift.
-- It is kept to what SQLite 3.40 and PostgreSQL 15 both take with one
-- meaning:
--   * integers are BIGINT: SQLite gives the name INTEGER affinity (64-bit),
--     PostgreSQL int8. Every uint64_t stored is checked against INT64_MAX
--     by the store before it is bound.
--   * bytes are BYTEA: PostgreSQL's binary type. SQLite gives a name it does
--     not know NUMERIC affinity, and affinity converts only text, so a blob
--     is stored exactly as bound; length() counts bytes of either.
--   * text is TEXT; length() counts characters in both, and the ids and
--     pseudonyms are ASCII.
--   * no triggers, no WITHOUT ROWID, no partial indexes: their syntax
--     differs.
-- What differs is only where the version is kept, so the engine writes it in
-- the same transaction as this script: SQLite as PRAGMA user_version = 4,
-- PostgreSQL as the one row of the table fogpay_schema (version BIGINT).
-- Both are checked at every open; a change of any table is a new version
-- with its migration.
--
-- What is never changed. Transfers and events are only inserted; a gateway
-- row is inserted once and afterwards only its heads (position, hash,
-- event_position, event_hash, batch_seq, batches, last_batch_ms,
-- last_transfer_ms) move, in the transaction that inserts the rows they
-- cover (fogpay_store_append, fogpay_store_append_events). The store has
-- no statement that updates or deletes a transfer or an event; a
-- deployment on PostgreSQL grants the ingest role INSERT and SELECT on
-- transfers and events and nothing more. Whatever else happens to the
-- rows, fogpay_store_verify finds it: each record is the deterministic CBOR
-- the gateway's chain hashed (hash(n) = SHA-256(hash(n-1) || record(n)),
-- hash(0) = 32 zero bytes, schemas/transfer.cddl and schemas/event.cddl;
-- the two chains are separate, each with positions from 1), so
-- verification needs nothing but these rows.
--
-- Money is an integer count of minor units of an ISO 4217 numeric currency;
-- times are unix milliseconds. Text limits are those of
-- common/fogpay_limits.h (gateway and device ids 23 bytes, references 32,
-- entity ids 23).

-- Gateways: id is the gateway's MQTT client id and topic segment;
-- public_key its batch-signing key as "<alg>:<hex>". position and hash are
-- the head of the cloud's copy of its transfer chain (0 and 32 zero bytes
-- before its first batch), event_position and event_hash the same for its
-- event chain; batch_seq the last batch stored (of either chain: the
-- gateway numbers its batches in one sequence), batches how many were;
-- last_batch_ms when the last one was stored; last_transfer_ms the time of
-- its newest transfer (0 for none).
CREATE TABLE gateways (
    id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 23),
    public_key TEXT NOT NULL CHECK (length(public_key) BETWEEN 1 AND 200),
    position BIGINT NOT NULL CHECK (position >= 0),
    hash BYTEA NOT NULL CHECK (length(hash) = 32),
    batch_seq BIGINT NOT NULL CHECK (batch_seq >= 0),
    batches BIGINT NOT NULL CHECK (batches >= 0),
    last_batch_ms BIGINT NOT NULL CHECK (last_batch_ms >= 0),
    last_transfer_ms BIGINT NOT NULL CHECK (last_transfer_ms >= 0),
    added_ms BIGINT NOT NULL CHECK (added_ms >= 0),
    event_position BIGINT NOT NULL CHECK (event_position >= 0),
    event_hash BYTEA NOT NULL CHECK (length(event_hash) = 32)
);

-- Transfers: each gateway's chain, positions contiguous from 1. The columns
-- are those of fogpay_transfer (and of the gateway's ledger): kind 0
-- payment, 1 funding, 2 refund, 3 reversal, 4 withdrawal, and the products'
-- 5 authorisation, 6 capture, 7 release, 8 expiry, 9 usage charge, 10 entity
-- payment; device_id, seq and
-- intent_hash together for a device's payment, NULL otherwise;
-- payer_entity and payee_entity NULL where there is none; related_position
-- for refunds and reversals. Accounts are the gateway's account numbers and
-- mean something only with its gateway_id. record is the transfer's CBOR as
-- the batch carried it, hash the chain hash at this position.
CREATE TABLE transfers (
    gateway_id TEXT NOT NULL REFERENCES gateways (id),
    position BIGINT NOT NULL CHECK (position >= 1),
    kind BIGINT NOT NULL CHECK (kind BETWEEN 0 AND 18),
    debit_account BIGINT NOT NULL CHECK (debit_account >= 0),
    credit_account BIGINT NOT NULL CHECK (credit_account >= 0),
    amount_minor BIGINT NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    currency BIGINT NOT NULL CHECK (currency BETWEEN 1 AND 999),
    time_ms BIGINT NOT NULL CHECK (time_ms >= 0),
    device_id TEXT CHECK (device_id IS NULL OR length(device_id) BETWEEN 1 AND 23),
    seq BIGINT CHECK (seq IS NULL OR seq >= 1),
    payer_entity TEXT CHECK (payer_entity IS NULL OR length(payer_entity) BETWEEN 1 AND 23),
    payee_entity TEXT CHECK (payee_entity IS NULL OR length(payee_entity) BETWEEN 1 AND 23),
    intent_hash BYTEA CHECK (intent_hash IS NULL OR length(intent_hash) = 32),
    reference TEXT CHECK (reference IS NULL OR length(reference) BETWEEN 1 AND 32),
    related_position BIGINT CHECK (related_position IS NULL OR related_position >= 1),
    record BYTEA NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (gateway_id, position),
    CHECK (debit_account <> credit_account),
    CHECK ((device_id IS NULL) = (seq IS NULL) AND (device_id IS NULL) = (intent_hash IS NULL))
);
-- The back office's questions: a device's payments, a legal entity's
-- transfers on either side, a period. Each ends in the primary key's order
-- so a page of one filter reads the index in result order.
CREATE INDEX transfers_device ON transfers (device_id, gateway_id, position);
CREATE INDEX transfers_payer_entity ON transfers (payer_entity, gateway_id, position);
CREATE INDEX transfers_payee_entity ON transfers (payee_entity, gateway_id, position);
CREATE INDEX transfers_time ON transfers (time_ms);

-- The further legs of a transfer of several legs (fees and splits), as its
-- record carries them under key 20, numbered from 2 in the record's order;
-- the transfers row holds the first. Inserted with their transfer; a fee
-- account's income is found by credit_account.
CREATE TABLE transfer_legs (
    gateway_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    leg BIGINT NOT NULL CHECK (leg BETWEEN 2 AND 6),
    debit_account BIGINT NOT NULL CHECK (debit_account >= 1),
    credit_account BIGINT NOT NULL CHECK (credit_account >= 1),
    amount_minor BIGINT NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    PRIMARY KEY (gateway_id, position, leg),
    FOREIGN KEY (gateway_id, position) REFERENCES transfers (gateway_id, position),
    CHECK (debit_account <> credit_account)
);
CREATE INDEX transfer_legs_credit ON transfer_legs (credit_account, gateway_id, position);

-- Events: each gateway's event chain, positions contiguous from 1, its own
-- numbering apart from the transfers'. Only what the back office filters
-- on is a column: kind (0 registered, 1 status, 2 ownership, 3 usage,
-- 5 key rotated, 6 key revoked, 7 tariff defined, 8 meter bound, 9 fee
-- schedule, 10 entity login),
-- time_ms (the gateway's clock when recorded), device_id (NULL for a
-- tariff, a fee schedule or an entity login that names none), and
-- entity_id, the legal entity of a registration (the first owner) or an
-- ownership change, and the entity a product's event names, if any. The rest of an event (status, role,
-- effective time, meter reading) is read from record, the event's CBOR as
-- the batch carried it; hash is the event chain hash at this position.
CREATE TABLE events (
    gateway_id TEXT NOT NULL REFERENCES gateways (id),
    position BIGINT NOT NULL CHECK (position >= 1),
    kind BIGINT NOT NULL CHECK (kind BETWEEN 0 AND 20 AND kind <> 4),
    time_ms BIGINT NOT NULL CHECK (time_ms >= 1),
    device_id TEXT CHECK (device_id IS NULL OR length(device_id) BETWEEN 1 AND 23),
    entity_id TEXT CHECK (entity_id IS NULL OR length(entity_id) BETWEEN 1 AND 23),
    record BYTEA NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (gateway_id, position),
    CHECK (device_id IS NOT NULL OR kind IN (7, 9, 10, 15, 16, 17, 18, 19)),
    CHECK (kind NOT IN (0, 2) OR entity_id IS NOT NULL)
);
-- A device's history, a legal entity's devices, a period; ordered as the
-- transfers' indexes are.
CREATE INDEX events_device ON events (device_id, gateway_id, position);
CREATE INDEX events_entity ON events (entity_id, gateway_id, position);
CREATE INDEX events_time ON events (time_ms);

-- Bearer notes: each gateway's chain of note movements (schemas/note.cddl,
-- note-movement), a chain of its own beside the transfers and the events,
-- positions contiguous from 1, hashed as they are. Only what the back
-- office looks up is a column: kind (0 loaded, 1 withdrawn, 2 paid,
-- 3 redeemed, 4 tendered, 5 change, 6 returned), time_ms (the gateway's
-- clock), serial (the note's 16 bytes) and device_id (the new holder's
-- device, NULL when the stock or an issuer holds it). The rest is read
-- from record, the movement's CBOR as the batch carried it; hash is the
-- note chain hash at this position. Only inserted, as transfers and events.
CREATE TABLE note_movements (
    gateway_id TEXT NOT NULL REFERENCES gateways (id),
    position BIGINT NOT NULL CHECK (position >= 1),
    kind BIGINT NOT NULL CHECK (kind BETWEEN 0 AND 6),
    time_ms BIGINT NOT NULL CHECK (time_ms >= 1),
    serial BYTEA NOT NULL CHECK (length(serial) = 16),
    device_id TEXT CHECK (device_id IS NULL OR length(device_id) BETWEEN 1 AND 23),
    record BYTEA NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (gateway_id, position),
    CHECK (device_id IS NOT NULL OR kind IN (0, 3, 4, 6))
);
-- A note's history across gateways, in each gateway's chain order.
CREATE INDEX note_movements_serial ON note_movements (serial, gateway_id, position);

-- The register of every note's current home: the gateway whose chain
-- moved it last and the position there (its newest movement on that
-- gateway's note chain). Written in the transaction that inserts the
-- movement it names: a note that moves on to another gateway's chain
-- moves its home with it. The one table of the store a row of which is
-- updated; fogpay_store_verify checks each row against note_movements.
CREATE TABLE note_homes (
    serial BYTEA PRIMARY KEY CHECK (length(serial) = 16),
    gateway_id TEXT NOT NULL REFERENCES gateways (id),
    position BIGINT NOT NULL CHECK (position >= 1),
    time_ms BIGINT NOT NULL CHECK (time_ms >= 1),
    FOREIGN KEY (gateway_id, position) REFERENCES note_movements (gateway_id, position)
);
CREATE INDEX note_homes_gateway ON note_homes (gateway_id, serial);
