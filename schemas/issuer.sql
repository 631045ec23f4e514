-- issuer.sql - the issuer's own ledger (apps/fogpay-issuer): its keys and
-- every note it has put into circulation, so that the money in circulation
-- is known to the note and nobody but the issuer creates any. Version 1
-- (PRAGMA user_version, set by common/fogpay_sqlite.c).

-- The issuer's signing keys, by kid (the first 8 bytes of the SHA-256 of
-- the public key). A rotation adds an active key beside the old one (both
-- sign and both are trusted: the overlap); retiring the old ends it. The
-- private keys stay in their files, never here.
CREATE TABLE issuer_keys (
    kid BLOB PRIMARY KEY CHECK (length(kid) = 8),
    public_key TEXT NOT NULL UNIQUE,
    state INTEGER NOT NULL CHECK (state IN (0, 1)), -- 0 active, 1 retired
    created_ms INTEGER NOT NULL CHECK (created_ms > 0),
    retired_ms INTEGER CHECK ((state = 1) = (retired_ms IS NOT NULL))
) STRICT;

-- Every note issued, with its signed bytes: in circulation until it comes
-- back to the issuer (redeemed).
CREATE TABLE issued_notes (
    serial BLOB PRIMARY KEY CHECK (length(serial) = 16),
    kid BLOB NOT NULL REFERENCES issuer_keys (kid),
    currency INTEGER NOT NULL CHECK (currency BETWEEN 1 AND 999),
    denomination_minor INTEGER NOT NULL CHECK (denomination_minor > 0),
    issued_s INTEGER NOT NULL CHECK (issued_s > 0),
    expiry_s INTEGER CHECK (expiry_s IS NULL OR expiry_s > issued_s),
    state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1)), -- 0 circulating, 1 redeemed
    redeemed_ms INTEGER CHECK ((state = 1) = (redeemed_ms IS NOT NULL)),
    note BLOB NOT NULL
) STRICT;
CREATE INDEX issued_notes_currency ON issued_notes (currency, state);
