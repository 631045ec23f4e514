-- ledger_migrate_5.sql - takes a ledger from schema version 5 to 6: the
-- tables of the payment products. Each product adds its own tables in its
-- own section below; no row of version 5 changes, so every transfer keeps
-- its record and its chain hash. Written to run on a version 5 file and to
-- leave a file of version 6's tables as it was. Run by the ledger's opener
-- (common/fogpay_sqlite.c) in one transaction, which then sets
-- PRAGMA user_version = 6; embedded at build time like ledger.sql.

-- Holds (conditional payments).

-- Tariffs and metered use.

-- Fees and splits.

-- Legal entities' own logins.
