-- cloud_migrate_4.sql - takes a cloud store from schema version 4 to 5.
-- Each feature adds its own tables in its own section below; no row of
-- version 4 changes. One text for both engines, as cloud.sql. The engine
-- runs it in one transaction and records version 5 in it
-- (cloud/store_sqlite.c, cloud/store_pg.c); embedded at build time.

-- The kinds of version 5: transfers 12 to 18 (financing, bearer notes,
-- pay-per-use), events 13 to 20 (those of bearer notes and of the
-- operator's requests, 15 to 19, may name no device), and an entity on an
-- event of any kind. A CHECK cannot be altered in SQLite, so transfers,
-- their legs (which reference them) and events are copied into tables
-- with the new CHECKs, rows unchanged, as version 4 did, and their indexes
-- are created again.
CREATE TABLE transfers_v5 (
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
INSERT INTO transfers_v5 SELECT gateway_id, position, kind, debit_account, credit_account,
    amount_minor, currency, time_ms, device_id, seq, payer_entity, payee_entity, intent_hash,
    reference, related_position, record, hash FROM transfers;
CREATE TABLE transfer_legs_v5 (
    gateway_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    leg BIGINT NOT NULL CHECK (leg BETWEEN 2 AND 6),
    debit_account BIGINT NOT NULL CHECK (debit_account >= 1),
    credit_account BIGINT NOT NULL CHECK (credit_account >= 1),
    amount_minor BIGINT NOT NULL CHECK (amount_minor BETWEEN 1 AND 1000000000000),
    PRIMARY KEY (gateway_id, position, leg),
    FOREIGN KEY (gateway_id, position) REFERENCES transfers_v5 (gateway_id, position),
    CHECK (debit_account <> credit_account)
);
INSERT INTO transfer_legs_v5 SELECT gateway_id, position, leg, debit_account, credit_account,
    amount_minor FROM transfer_legs;
DROP TABLE transfer_legs;
DROP TABLE transfers;
ALTER TABLE transfers_v5 RENAME TO transfers;
ALTER TABLE transfer_legs_v5 RENAME TO transfer_legs;
CREATE INDEX transfers_device ON transfers (device_id, gateway_id, position);
CREATE INDEX transfers_payer_entity ON transfers (payer_entity, gateway_id, position);
CREATE INDEX transfers_payee_entity ON transfers (payee_entity, gateway_id, position);
CREATE INDEX transfers_time ON transfers (time_ms);
CREATE INDEX transfer_legs_credit ON transfer_legs (credit_account, gateway_id, position);

CREATE TABLE events_v5 (
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
INSERT INTO events_v5 (gateway_id, position, kind, time_ms, device_id, entity_id, record, hash)
    SELECT gateway_id, position, kind, time_ms, device_id, entity_id, record, hash FROM events;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE INDEX events_device ON events (device_id, gateway_id, position);
CREATE INDEX events_entity ON events (entity_id, gateway_id, position);
CREATE INDEX events_time ON events (time_ms);

-- Bearer notes: the note movement chain upstream and the register of every
-- note's home gateway (cloud.sql says what each column holds).
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
