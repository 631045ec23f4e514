/*
 * ledger_gateway_key.c - the gateway's key history: every key that signed
 * its receipts, commands and batches, with the time from which it signed
 * and the time its successor took over (table gateway_keys).
 *
 * Design. One key is active at a time. The plugin names its key at start
 * (fogpay_ledger_gateway_key_start): an empty history takes it; the active
 * key is accepted; anything else is refused, because a device trusts a new
 * gateway key only when the gateway announced it, signed with the key it
 * replaces, which a key file changed by hand skips. A rotation ends the
 * active key and inserts the next in one operation, both at the same time,
 * so every instant has exactly one signing key. A key's row never changes
 * but for its end, set once.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs.
 */
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_gateway_key__sql[] = {
    {LEDGER_STMT_GATEWAY_KEY_INSERT,
     "INSERT INTO gateway_keys (kid, alg, public_key, from_ms) VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_GATEWAY_KEY_END,
     "UPDATE gateway_keys SET until_ms = max(?1, from_ms) WHERE until_ms IS NULL"},
    {LEDGER_STMT_GATEWAY_KEY_GET,
     "SELECT kid, alg, public_key, from_ms, coalesce(until_ms, 0) FROM gateway_keys "
     "WHERE kid = ?1"},
    {LEDGER_STMT_GATEWAY_KEY_ACTIVE,
     "SELECT kid, alg, public_key, from_ms, 0 FROM gateway_keys WHERE until_ms IS NULL"},
};
const size_t ledger_gateway_key__sql_count =
    sizeof ledger_gateway_key__sql / sizeof ledger_gateway_key__sql[0];

/* Steps s (bound) and reads its one row into out; FOGPAY_ERR_NOT_FOUND for
 * none. Finishes s. */
static fogpay_error gateway_key__read(fogpay_ledger *l, sqlite3_stmt *s, fogpay_gateway_key *out)
{
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        const void *kid = sqlite3_column_blob(s, 0);
        const void *pub = sqlite3_column_blob(s, 2);
        int pub_len = sqlite3_column_bytes(s, 2);
        int64_t from = sqlite3_column_int64(s, 3), until = sqlite3_column_int64(s, 4);
        if (kid == NULL || sqlite3_column_bytes(s, 0) != FOGPAY_KID_BYTES || pub == NULL ||
            pub_len <= 0 || pub_len > FOGPAY_PUBLIC_KEY_MAX || from < 0 || until < 0) {
            ledger__note(l, "a gateway key row is malformed");
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            memset(out, 0, sizeof *out);
            memcpy(out->kid, kid, FOGPAY_KID_BYTES);
            out->alg = (int)sqlite3_column_int64(s, 1);
            memcpy(out->public_key, pub, (size_t)pub_len);
            out->public_key_len = (size_t)pub_len;
            out->from_ms = (uint64_t)from;
            out->until_ms = (uint64_t)until;
        }
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

static fogpay_error gateway_key__active(fogpay_ledger *l, fogpay_gateway_key *out)
{
    return gateway_key__read(l, ledger__stmt(l, LEDGER_STMT_GATEWAY_KEY_ACTIVE), out);
}

fogpay_error fogpay_ledger_gateway_key_active(fogpay_ledger *l, fogpay_gateway_key *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return gateway_key__active(l, out);
}

fogpay_error fogpay_ledger_gateway_key_get(fogpay_ledger *l, const uint8_t kid[FOGPAY_KID_BYTES],
                                           fogpay_gateway_key *out)
{
    if (l == NULL || kid == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_GATEWAY_KEY_GET);
    ledger__bind_blob(l, s, 1, kid, FOGPAY_KID_BYTES);
    return gateway_key__read(l, s, out);
}

static fogpay_error gateway_key__insert(fogpay_ledger *l, const fogpay_key *key, uint64_t now_ms)
{
    uint8_t kid[FOGPAY_KID_BYTES], pub[FOGPAY_PUBLIC_KEY_MAX];
    size_t pub_len = 0;
    fogpay_error err = fogpay_key_id(key, kid);
    if (err == FOGPAY_OK) {
        err = fogpay_key_public(key, pub, sizeof pub, &pub_len);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_GATEWAY_KEY_INSERT);
    ledger__bind_blob(l, s, 1, kid, FOGPAY_KID_BYTES);
    ledger__bind_int64(l, s, 2, (int64_t)fogpay_key_alg(key));
    ledger__bind_blob(l, s, 3, pub, pub_len);
    ledger__bind_u64(l, s, 4, now_ms);
    return ledger__exec(l, s); /* a key held before: FOGPAY_ERR_EXISTS */
}

fogpay_error fogpay_ledger_gateway_key_start(fogpay_ledger *l, const fogpay_key *key,
                                             uint64_t now_ms)
{
    if (l == NULL || key == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_error err = fogpay_key_id(key, kid);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_gateway_key known;
    err = fogpay_ledger_gateway_key_get(l, kid, &known);
    if (err == FOGPAY_OK && known.until_ms != 0) {
        ledger__note(l, "the gateway key was retired by a rotation");
        err = FOGPAY_ERR_KEY_REVOKED;
    } else if (err == FOGPAY_ERR_NOT_FOUND) {
        err = gateway_key__active(l, &known);
        if (err == FOGPAY_OK) {
            ledger__note(l, "another gateway key is active: a key is replaced only by a "
                            "rotation (rotateGatewayKey), which announces it to the devices");
            err = FOGPAY_ERR_NOT_FOUND;
        } else if (err == FOGPAY_ERR_NOT_FOUND) {
            err = gateway_key__insert(l, key, now_ms);
        }
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_gateway_key_rotate(fogpay_ledger *l, const fogpay_key *next,
                                              uint64_t now_ms)
{
    if (l == NULL || next == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    ledger_op op;
    fogpay_error err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_gateway_key active;
    err = gateway_key__active(l, &active);
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_GATEWAY_KEY_END);
        ledger__bind_u64(l, s, 1, now_ms);
        err = ledger__exec(l, s);
    }
    if (err == FOGPAY_OK) {
        err = gateway_key__insert(l, next, now_ms);
    }
    return ledger__op_end(l, &op, err);
}
