-- cloud_migrate_2.sql - takes a cloud store from schema version 2 to 3: the
-- event kinds 5 (a device key rotated) and 6 (a device key revoked), which
-- name no legal entity. One text for both engines, as cloud.sql: a CHECK
-- cannot be altered in SQLite, so the events table is copied into one with
-- the new CHECKs, its rows unchanged, and the indexes are created again.
-- The engine runs it in one transaction and records version 3 in it
-- (cloud/store_sqlite.c, cloud/store_pg.c); embedded at build time.
CREATE TABLE events_v3 (
    gateway_id TEXT NOT NULL REFERENCES gateways (id),
    position BIGINT NOT NULL CHECK (position >= 1),
    kind BIGINT NOT NULL CHECK (kind IN (0, 1, 2, 3, 5, 6)),
    time_ms BIGINT NOT NULL CHECK (time_ms >= 1),
    device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 23),
    entity_id TEXT CHECK (entity_id IS NULL OR length(entity_id) BETWEEN 1 AND 23),
    record BYTEA NOT NULL CHECK (length(record) BETWEEN 1 AND 384),
    hash BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (gateway_id, position),
    CHECK ((entity_id IS NULL) = (kind NOT IN (0, 2)))
);
INSERT INTO events_v3 (gateway_id, position, kind, time_ms, device_id, entity_id, record, hash)
    SELECT gateway_id, position, kind, time_ms, device_id, entity_id, record, hash FROM events;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_device ON events (device_id, gateway_id, position);
CREATE INDEX events_entity ON events (entity_id, gateway_id, position);
CREATE INDEX events_time ON events (time_ms);
