/*
 * ledger_verify.c - checking the whole ledger: the hash chain from position
 * 1, contiguous positions, every stored row against its hashed record, each
 * account's balance against its transfers, each currency summing to zero,
 * and no wallet or entity account below zero; and the event chain from
 * position 1 the same way.
 *
 * Design. Verification walks the transfers in chain order once. For each it
 * re-encodes the stored columns with fogpay_transfer_encode and, where the
 * row keeps a record (rows written before schema version 4; later rows
 * keep the format byte LEDGER_TRANSFER_RECORD_COLUMNS, the record being
 * their columns), requires it byte for byte, then recomputes SHA-256(previous hash || record) and
 * requires the stored hash; so an edited column, an edited record or an edited hash is found at its
 * own position, and a deleted row at the first missing position. A
 * transfer of several legs is read with its legs (transfer_legs), which its
 * record carries under key 20, so an edited or missing leg breaks its hash;
 * balances sum every leg of both tables. The event chain is walked next,
 * the same way, except that an event's record is the event: it is decoded, and its position, kind,
 * time and device must be the row's. An event fault is reported as "event N: ..." with bad_position
 * 0, so that bad_position always names a transfer. Account checks follow, as aggregate queries.
 * Everything is read in one read transaction, so a concurrent
 * settlement is either wholly seen or not at all. Removing the newest
 * transfers leaves a shorter valid chain; that is found by comparing the
 * head with a copy held elsewhere (the cloud's, after upstream sync).
 *
 * Ownership. The problem sentence is written into the caller's buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fogpay_hash.h"
#include "ledger_internal.h"

/* The walk's columns after the transfer's: the record and the currencies
 * of the debit and credit accounts (NULL when the account does not exist). */
#define VERIFY_COLUMN_RECORD          LEDGER_TRANSFER_COLUMN_RECORD
#define VERIFY_COLUMN_DEBIT_CURRENCY  LEDGER_TRANSFER_COLUMN_COUNT
#define VERIFY_COLUMN_CREDIT_CURRENCY (LEDGER_TRANSFER_COLUMN_COUNT + 1)

const ledger_stmt_sql ledger_verify__sql[] = {
    {LEDGER_STMT_VERIFY_WALK,
     "SELECT w.*, d.currency, c.currency FROM (SELECT " LEDGER_TRANSFER_COLUMNS
     " FROM transfers) AS w "
     "LEFT JOIN accounts AS d ON d.id = w.debit_account "
     "LEFT JOIN accounts AS c ON c.id = w.credit_account ORDER BY w.position"},
    {LEDGER_STMT_VERIFY_EVENTS, "SELECT " LEDGER_EVENT_COLUMNS " FROM events ORDER BY position"},
    /* Each side summed in one pass over its index, then joined; every leg
     * counts, the first in transfers and the others in transfer_legs. */
    {LEDGER_STMT_VERIFY_BALANCES,
     "SELECT a.id, a.balance, coalesce(c.total, 0) - coalesce(d.total, 0) FROM accounts AS a "
     "LEFT JOIN (SELECT id, sum(total) AS total FROM (SELECT credit_account AS id, "
     "sum(amount_minor) AS total FROM transfers GROUP BY credit_account UNION ALL "
     "SELECT credit_account, sum(amount_minor) FROM transfer_legs GROUP BY credit_account) "
     "GROUP BY id) AS c ON c.id = a.id "
     "LEFT JOIN (SELECT id, sum(total) AS total FROM (SELECT debit_account AS id, "
     "sum(amount_minor) AS total FROM transfers GROUP BY debit_account UNION ALL "
     "SELECT debit_account, sum(amount_minor) FROM transfer_legs GROUP BY debit_account) "
     "GROUP BY id) AS d ON d.id = a.id "
     "WHERE a.balance IS NOT coalesce(c.total, 0) - coalesce(d.total, 0) ORDER BY a.id LIMIT 1"},
    {LEDGER_STMT_VERIFY_SUMS,
     "SELECT currency, sum(balance) FROM accounts GROUP BY currency HAVING sum(balance) <> 0 "
     "ORDER BY currency LIMIT 1"},
    {LEDGER_STMT_VERIFY_FLOORS,
     "SELECT id, balance FROM accounts WHERE kind <> 'system' AND balance < 0 ORDER BY id "
     "LIMIT 1"},
    /* A holds account holds exactly its currency's open holds, less what
     * readings charged from them. */
    {LEDGER_STMT_VERIFY_HOLDS,
     "SELECT a.id, a.balance, coalesce(h.total, 0) FROM accounts AS a "
     "LEFT JOIN (SELECT currency, sum(amount_minor - charged_minor) AS total FROM holds "
     "WHERE state = 0 GROUP BY currency) AS h ON h.currency = a.currency "
     "WHERE a.kind = 'holds' AND a.balance IS NOT coalesce(h.total, 0) ORDER BY a.id LIMIT 1"},
    {LEDGER_STMT_VERIFY_NOTE_MOVEMENTS,
     "SELECT position, kind, time_ms, serial, record, hash FROM note_movements ORDER BY position"},
    /* A notes account holds exactly the value of its currency's notes out
     * with devices. */
    {LEDGER_STMT_VERIFY_NOTES,
     "SELECT a.id, a.balance, coalesce(n.total, 0) FROM accounts AS a "
     "LEFT JOIN (SELECT currency, sum(denomination_minor) AS total FROM notes WHERE state = 1 "
     "GROUP BY currency) AS n ON n.currency = a.currency "
     "WHERE a.kind = 'notes' AND a.balance IS NOT coalesce(n.total, 0) ORDER BY a.id LIMIT 1"},
};
const size_t ledger_verify__sql_count = sizeof ledger_verify__sql / sizeof ledger_verify__sql[0];

typedef struct verify_state {
    fogpay_ledger *l;
    uint64_t checked;                    /* transfers that passed */
    uint8_t previous[FOGPAY_HASH_BYTES]; /* chain hash of the last one */
    uint64_t bad_position;
    uint64_t events_checked;                      /* events that passed */
    uint8_t event_previous[FOGPAY_HASH_BYTES];    /* chain hash of the last one */
    uint64_t movements_checked;                   /* note movements that passed */
    uint8_t movement_previous[FOGPAY_HASH_BYTES]; /* chain hash of the last one */
    char problem[LEDGER_MESSAGE_MAX];
} verify_state;

/* The currency of an account joined to the walk: false when the account
 * does not exist or is in another currency than the transfer. */
static bool verify__currency_matches(sqlite3_stmt *s, int column, uint16_t currency)
{
    return sqlite3_column_type(s, column) != SQLITE_NULL &&
           sqlite3_column_int64(s, column) == (int64_t)currency;
}

/* A transfer row's record column against the encoding of its columns: the
 * format byte of a row that does not store its record (format 2 exactly
 * when it has further legs), or the same bytes. */
static bool verify__record_matches(const fogpay_transfer *t, const uint8_t *stored,
                                   size_t stored_len, const uint8_t *record, size_t record_len)
{
    if (stored == NULL) {
        return false;
    }
    if (stored_len == 1) {
        return stored[0] ==
               (t->leg_count > 0 ? LEDGER_TRANSFER_RECORD_LEGS : LEDGER_TRANSFER_RECORD_COLUMNS);
    }
    return t->leg_count == 0 && stored_len == record_len && memcmp(stored, record, record_len) == 0;
}

/* The further legs' accounts exist in the transfer's currency. */
static bool verify__legs_currency(fogpay_ledger *l, const fogpay_transfer *t)
{
    for (uint32_t i = 1; i <= t->leg_count; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        ledger_account debit;
        ledger_account credit;
        if (ledger__account_get(l, leg.debit_account, &debit) != FOGPAY_OK ||
            ledger__account_get(l, leg.credit_account, &credit) != FOGPAY_OK ||
            debit.currency != t->currency || credit.currency != t->currency) {
            return false;
        }
    }
    return true;
}

/* Whether stored is SHA-256 of previous and record: into *linked, with
 * FOGPAY_OK, or FOGPAY_ERR_CRYPTO when hashing failed. */
static fogpay_error verify__chained(const uint8_t previous[FOGPAY_HASH_BYTES],
                                    const uint8_t *record, size_t record_len,
                                    const uint8_t stored[FOGPAY_HASH_BYTES], bool *linked)
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    if (fogpay_sha256_pair(previous, FOGPAY_HASH_BYTES, record, record_len, hash) != FOGPAY_OK) {
        return FOGPAY_ERR_CRYPTO;
    }
    *linked = memcmp(hash, stored, FOGPAY_HASH_BYTES) == 0;
    return FOGPAY_OK;
}

/* Ends the check of row expected of the chain what ("transfer", "event"):
 * a problem goes into v->problem as "what expected: problem"
 * (FOGPAY_ERR_LEDGER_CORRUPT); with none the walk moves on, previous
 * becoming stored and *checked expected. */
static fogpay_error verify__next(verify_state *v, const char *what, uint64_t expected,
                                 const char *problem, uint8_t previous[FOGPAY_HASH_BYTES],
                                 const uint8_t stored[FOGPAY_HASH_BYTES], uint64_t *checked)
{
    if (problem != NULL) {
        snprintf(v->problem, sizeof v->problem, "%s %" PRIu64 ": %s", what, expected, problem);
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    memcpy(previous, stored, FOGPAY_HASH_BYTES);
    *checked = expected;
    return FOGPAY_OK;
}

/* Checks the transfer at the walk's current row against everything before
 * it; on failure fills v->bad_position and v->problem. */
static fogpay_error verify__transfer(sqlite3_stmt *s, verify_state *v)
{
    uint64_t expected = v->checked + 1;
    int64_t position = sqlite3_column_int64(s, 0);
    v->bad_position = expected;
    if (position != (int64_t)expected) {
        snprintf(v->problem, sizeof v->problem,
                 "position %" PRId64 " follows %" PRIu64 ": transfer %" PRIu64 " is missing",
                 position, v->checked, expected);
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    fogpay_transfer t;
    uint8_t stored_hash[FOGPAY_HASH_BYTES];
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t record_len = 0;
    const void *stored_record = sqlite3_column_blob(s, VERIFY_COLUMN_RECORD);
    size_t stored_record_len = (size_t)sqlite3_column_bytes(s, VERIFY_COLUMN_RECORD);
    const char *problem = NULL;
    if (ledger__transfer_read(v->l, s, &t, stored_hash) != FOGPAY_OK) {
        problem = "its stored values are outside their limits";
    } else if (fogpay_transfer_encode(&t, record, sizeof record, &record_len) != FOGPAY_OK) {
        problem = "its stored values are not a valid transfer";
    } else if (!verify__record_matches(&t, stored_record, stored_record_len, record, record_len)) {
        problem = "its stored values differ from the record its hash covers";
    } else {
        bool linked = false;
        if (verify__chained(v->previous, record, record_len, stored_hash, &linked) != FOGPAY_OK) {
            return FOGPAY_ERR_CRYPTO;
        }
        if (!linked) {
            problem = "its chain hash is not SHA-256 of the previous hash and its record";
        } else if (!verify__currency_matches(s, VERIFY_COLUMN_DEBIT_CURRENCY, t.currency) ||
                   !verify__currency_matches(s, VERIFY_COLUMN_CREDIT_CURRENCY, t.currency) ||
                   !verify__legs_currency(v->l, &t)) {
            problem = "its debit or credit account is missing or in another currency";
        }
    }
    fogpay_error err =
        verify__next(v, "transfer", expected, problem, v->previous, stored_hash, &v->checked);
    if (err == FOGPAY_OK) {
        v->bad_position = 0;
    }
    return err;
}

/* Walks the rows of one chain's statement through check, in position
 * order, stopping at the first fault. */
static fogpay_error verify__walk(fogpay_ledger *l, ledger_stmt_id id,
                                 fogpay_error (*check)(sqlite3_stmt *s, verify_state *v),
                                 verify_state *v)
{
    sqlite3_stmt *s = ledger__stmt(l, id);
    fogpay_error err = FOGPAY_OK;
    /* Bounded by the rows of the table: each step advances one position. */
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            err = ledger__error(l, rc);
            break;
        }
        err = check(s, v);
        if (err != FOGPAY_OK) {
            break;
        }
    }
    ledger__finish(s);
    return err;
}

/* Checks the event at the event walk's current row against everything
 * before it; on failure fills v->problem (bad_position stays 0: it names
 * transfers only). */
static fogpay_error verify__event(sqlite3_stmt *s, verify_state *v)
{
    uint64_t expected = v->events_checked + 1;
    int64_t position = sqlite3_column_int64(s, 0);
    if (position != (int64_t)expected) {
        snprintf(v->problem, sizeof v->problem,
                 "event %" PRIu64 ": missing, event position %" PRId64 " follows %" PRIu64,
                 expected, position, v->events_checked);
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    fogpay_event e;
    uint8_t stored_hash[FOGPAY_HASH_BYTES];
    const uint8_t *record = NULL;
    size_t record_len = 0;
    uint8_t encoded[FOGPAY_RECORD_BYTES_MAX];
    size_t encoded_len = 0;
    const char *problem = NULL;
    if (ledger__event_read(s, &e, stored_hash, &record, &record_len) != FOGPAY_OK) {
        problem = "its record is not a valid event or differs from its row";
    } else if (fogpay_event_encode(&e, encoded, sizeof encoded, &encoded_len) != FOGPAY_OK ||
               encoded_len != record_len || memcmp(encoded, record, record_len) != 0) {
        problem = "its record is not the deterministic encoding of its event";
    } else {
        bool linked = false;
        if (verify__chained(v->event_previous, record, record_len, stored_hash, &linked) !=
            FOGPAY_OK) {
            return FOGPAY_ERR_CRYPTO;
        }
        if (!linked) {
            problem = "its chain hash is not SHA-256 of the previous event hash and its record";
        }
    }
    return verify__next(v, "event", expected, problem, v->event_previous, stored_hash,
                        &v->events_checked);
}

/* Checks the note movement at the walk's current row against everything
 * before it, as an event is checked. */
static fogpay_error verify__note_movement(sqlite3_stmt *s, verify_state *v)
{
    uint64_t expected = v->movements_checked + 1;
    fogpay_note_movement m;
    uint8_t stored_hash[FOGPAY_HASH_BYTES];
    const uint8_t *record = NULL;
    size_t record_len = 0;
    uint8_t encoded[FOGPAY_RECORD_BYTES_MAX];
    size_t encoded_len = 0;
    const char *problem = NULL;
    if (sqlite3_column_int64(s, 0) != (int64_t)expected) {
        problem = "missing: the next row has another position";
    } else if (ledger__note_movement_read(s, &m, stored_hash, &record, &record_len) != FOGPAY_OK) {
        problem = "its record is not a valid note movement or differs from its row";
    } else if (fogpay_note_movement_encode(&m, encoded, sizeof encoded, &encoded_len) !=
                   FOGPAY_OK ||
               encoded_len != record_len || memcmp(encoded, record, record_len) != 0) {
        problem = "its record is not the deterministic encoding of its movement";
    } else {
        bool linked = false;
        if (verify__chained(v->movement_previous, record, record_len, stored_hash, &linked) !=
            FOGPAY_OK) {
            return FOGPAY_ERR_CRYPTO;
        }
        if (!linked) {
            problem = "its chain hash is not SHA-256 of the previous movement hash and its record";
        }
    }
    return verify__next(v, "note movement", expected, problem, v->movement_previous, stored_hash,
                        &v->movements_checked);
}

/* Runs one of the account checks, which return a row only for a problem:
 * column 0 names the account or currency, columns 1 and 2 the amounts. */
static fogpay_error verify__accounts_one(fogpay_ledger *l, ledger_stmt_id id, verify_state *v)
{
    sqlite3_stmt *s = ledger__stmt(l, id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t what = sqlite3_column_int64(s, 0);
        int64_t amount = sqlite3_column_int64(s, 1);
        /* An account's problem is not at any one position. */
        v->bad_position = 0;
        err = FOGPAY_ERR_LEDGER_CORRUPT;
        if (id == LEDGER_STMT_VERIFY_BALANCES) {
            snprintf(v->problem, sizeof v->problem,
                     "account %" PRId64 " holds %" PRId64 " but its transfers sum to %" PRId64,
                     what, amount, (int64_t)sqlite3_column_int64(s, 2));
        } else if (id == LEDGER_STMT_VERIFY_NOTES) {
            snprintf(v->problem, sizeof v->problem,
                     "notes account %" PRId64 " holds %" PRId64
                     " but the notes out with devices sum to %" PRId64,
                     what, amount, (int64_t)sqlite3_column_int64(s, 2));
        } else if (id == LEDGER_STMT_VERIFY_HOLDS) {
            snprintf(v->problem, sizeof v->problem,
                     "holds account %" PRId64 " holds %" PRId64
                     " but its open holds sum to %" PRId64,
                     what, amount, (int64_t)sqlite3_column_int64(s, 2));
        } else if (id == LEDGER_STMT_VERIFY_SUMS) {
            snprintf(v->problem, sizeof v->problem,
                     "the balances in currency %" PRId64 " sum to %" PRId64 ", not zero", what,
                     amount);
        } else {
            snprintf(v->problem, sizeof v->problem,
                     "account %" PRId64 " is below zero (%" PRId64 ") and is not a system account",
                     what, amount);
        }
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

static fogpay_error verify__accounts(fogpay_ledger *l, verify_state *v)
{
    static const ledger_stmt_id checks[] = {
        LEDGER_STMT_VERIFY_BALANCES, LEDGER_STMT_VERIFY_SUMS,  LEDGER_STMT_VERIFY_FLOORS,
        LEDGER_STMT_VERIFY_HOLDS,    LEDGER_STMT_VERIFY_NOTES,
    };
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0] && err == FOGPAY_OK; i++) {
        err = verify__accounts_one(l, checks[i], v);
    }
    return err;
}

fogpay_error fogpay_ledger_verify(fogpay_ledger *l, uint64_t *checked, uint64_t *bad_position,
                                  char *problem, size_t problem_cap)
{
    if (l == NULL || (problem == NULL && problem_cap > 0)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    verify_state v;
    memset(&v, 0, sizeof v);
    v.l = l;
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = verify__walk(l, LEDGER_STMT_VERIFY_WALK, verify__transfer, &v);
    if (err == FOGPAY_OK) {
        err = verify__walk(l, LEDGER_STMT_VERIFY_EVENTS, verify__event, &v);
    }
    if (err == FOGPAY_OK) {
        err = verify__walk(l, LEDGER_STMT_VERIFY_NOTE_MOVEMENTS, verify__note_movement, &v);
    }
    if (err == FOGPAY_OK) {
        err = verify__accounts(l, &v);
    }
    ledger__read_end(l, own);
    if (checked != NULL) {
        *checked = v.checked;
    }
    if (err == FOGPAY_ERR_LEDGER_CORRUPT) {
        ledger__note(l, v.problem);
        if (bad_position != NULL) {
            *bad_position = v.bad_position;
        }
        if (problem_cap > 0) {
            snprintf(problem, problem_cap, "%s", v.problem);
        }
    }
    return err;
}
