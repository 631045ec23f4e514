/*
 * ledger_query.c - reading transfers: one by its position, lists filtered
 * by device, legal entity and time with paging, and the chain head.
 *
 * Design. Every transfer is retrievable by id (its position), by device
 * (every transfer that debits or credits one of the device's wallets, so a
 * device's payments, receipts, fundings and refunds), by legal entity (as
 * payer or payee) and by time. Each filter has its own statement so SQLite
 * can use the index that fits (by device and by entity through the accounts'
 * indexes, transfers_debit and transfers_credit; by time alone a walk in
 * position order, as transfers keep no time index); lists run in chain
 * order from after_position and stop at the page limit, so an export of any size is a walk of
 * bounded pages. Head, get and the walk of a page are the one chain
 * mechanism's (ledger_chain.c), on the transfer chain's descriptor.
 *
 * Ownership. Transfers are copied into the caller's structs; the visitor of
 * a list receives pointers valid only during its call.
 */
#include <string.h>

#include "ledger_internal.h"

/* The time and paging conditions every list shares: ?1 after_position,
 * ?2 from_ms, ?3 to_ms (exclusive), ?4 limit. */
#define QUERY_PAGE_WHERE "position > ?1 AND time_ms >= ?2 AND time_ms < ?3"
#define QUERY_PAGE_ORDER " ORDER BY position LIMIT ?4"

const ledger_stmt_sql ledger_query__sql[] = {
    {LEDGER_STMT_CHAIN_HEAD, "SELECT position, hash FROM transfers ORDER BY position DESC LIMIT 1"},
    {LEDGER_STMT_TRANSFER_GET,
     "SELECT " LEDGER_TRANSFER_COLUMNS " FROM transfers WHERE position = ?1"},
    {LEDGER_STMT_LIST_ALL,
     "SELECT " LEDGER_TRANSFER_COLUMNS " FROM transfers WHERE " QUERY_PAGE_WHERE QUERY_PAGE_ORDER},
    /* ?5 device, ?6 entity or NULL. */
    {LEDGER_STMT_LIST_DEVICE,
     "SELECT " LEDGER_TRANSFER_COLUMNS " FROM transfers WHERE " QUERY_PAGE_WHERE
     " AND (device_id = ?5"
     " OR (kind <> 0 AND debit_account IN"
     " (SELECT id FROM accounts WHERE kind = 'wallet' AND device_id = ?5))"
     " OR credit_account IN (SELECT id FROM accounts WHERE kind = 'wallet' AND device_id = ?5)"
     " OR position IN (SELECT position FROM transfer_legs WHERE credit_account IN"
     " (SELECT id FROM accounts WHERE kind = 'wallet' AND device_id = ?5)))"
     " AND (?6 IS NULL OR payer_entity = ?6 OR payee_entity = ?6)" QUERY_PAGE_ORDER},
    /* ?5 entity. A transfer names an entity as payer or payee only when it
     * held the debit or credit account then: its own account, or the wallet
     * of a device it held. Those accounts are found through the accounts'
     * and ownership's indexes and their transfers through transfers_device_seq
     * (a device's payments), transfers_debit
     * and transfers_credit, so transfers need no index by entity. */
    {LEDGER_STMT_LIST_ENTITY,
     "WITH held (id) AS (SELECT id FROM accounts WHERE kind = 'entity' AND entity_id = ?5 "
     "UNION SELECT a.id FROM accounts AS a WHERE a.kind = 'wallet' AND a.device_id IN "
     "(SELECT device_id FROM ownership WHERE entity_id = ?5)) "
     "SELECT " LEDGER_TRANSFER_COLUMNS " FROM transfers WHERE " QUERY_PAGE_WHERE
     " AND (device_id IN (SELECT device_id FROM ownership WHERE entity_id = ?5)"
     " OR (kind <> 0 AND debit_account IN held) OR credit_account IN held)"
     " AND (payer_entity = ?5 OR payee_entity = ?5)"
     " OR " QUERY_PAGE_WHERE " AND position IN (SELECT position FROM transfer_legs WHERE"
     " credit_account IN (SELECT id FROM accounts WHERE kind = 'entity' AND entity_id = "
     "?5))" QUERY_PAGE_ORDER},
};
const size_t ledger_query__sql_count = sizeof ledger_query__sql / sizeof ledger_query__sql[0];

/* A non-negative integer column as uint64_t; false for a negative one. */
static bool query__u64(sqlite3_stmt *s, int column, uint64_t *out)
{
    int64_t value = sqlite3_column_int64(s, column);
    *out = (uint64_t)value;
    return value >= 0;
}

/* A blob column of exactly FOGPAY_HASH_BYTES; NULL reads as zeros when
 * optional. */
static bool query__hash(sqlite3_stmt *s, int column, bool optional, uint8_t out[FOGPAY_HASH_BYTES])
{
    memset(out, 0, FOGPAY_HASH_BYTES);
    if (sqlite3_column_type(s, column) == SQLITE_NULL) {
        return optional;
    }
    const void *blob = sqlite3_column_blob(s, column);
    if (blob == NULL || sqlite3_column_bytes(s, column) != FOGPAY_HASH_BYTES) {
        return false;
    }
    memcpy(out, blob, FOGPAY_HASH_BYTES);
    return true;
}

/* The further legs of t (read up to its row) from transfer_legs: numbered
 * from 2 without a gap, at least one and at most FOGPAY_LEGS_MAX - 1. */
static bool query__legs(fogpay_ledger *l, fogpay_transfer *t)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_LEGS_GET);
    ledger__bind_u64(l, s, 1, t->position);
    bool ok = true;
    int rc;
    /* Bounded: a leg past the last is refused before it is stored. */
    while (ok && (rc = ledger__step(l, s)) == SQLITE_ROW) {
        fogpay_leg *leg = &t->legs[t->leg_count < FOGPAY_LEGS_MAX - 1 ? t->leg_count : 0];
        ok = t->leg_count < FOGPAY_LEGS_MAX - 1 &&
             sqlite3_column_int64(s, 0) == (int64_t)t->leg_count + 2 &&
             query__u64(s, 1, &leg->debit_account) && query__u64(s, 2, &leg->credit_account) &&
             query__u64(s, 3, &leg->amount_minor);
        t->leg_count++;
    }
    ledger__finish(s);
    return ok && rc == SQLITE_DONE && t->leg_count > 0;
}

fogpay_error ledger__transfer_read(fogpay_ledger *l, sqlite3_stmt *s, fogpay_transfer *t,
                                   uint8_t hash[FOGPAY_HASH_BYTES])
{
    memset(t, 0, sizeof *t);
    uint64_t kind = 0;
    uint64_t currency = 0;
    bool ok = query__u64(s, 0, &t->position) && query__u64(s, 1, &kind) &&
              query__u64(s, 2, &t->debit_account) && query__u64(s, 3, &t->credit_account) &&
              query__u64(s, 4, &t->amount_minor) && query__u64(s, 5, &currency) &&
              query__u64(s, 6, &t->time_ms) && query__u64(s, 8, &t->seq) &&
              query__u64(s, 13, &t->related_position);
    uint64_t instalment = 0;
    ok = ok && query__u64(s, 19, &instalment) && instalment <= FOGPAY_PLAN_INSTALMENTS_MAX;
    ok = ok && kind <= FOGPAY_TRANSFER_NOTE_REDEMPTION && currency <= FOGPAY_CURRENCY_MAX;
    t->instalment = (uint32_t)instalment;
    ok = ok && ledger__column_text(s, 7, t->device_id, sizeof t->device_id) &&
         ledger__column_text(s, 9, t->payer_entity, sizeof t->payer_entity) &&
         ledger__column_text(s, 10, t->payee_entity, sizeof t->payee_entity) &&
         ledger__column_text(s, 12, t->reference, sizeof t->reference) &&
         ledger__column_text(s, 16, t->meter_id, sizeof t->meter_id) &&
         ledger__column_text(s, 17, t->tariff_id, sizeof t->tariff_id) &&
         ledger__column_text(s, 18, t->plan_id, sizeof t->plan_id) &&
         query__hash(s, 11, true, t->intent_hash);
    t->kind = (uint8_t)kind;
    t->currency = (uint16_t)currency;
    if (ok && hash != NULL) {
        ok = query__hash(s, 14, false, hash);
    }
    const uint8_t *record = sqlite3_column_blob(s, LEDGER_TRANSFER_COLUMN_RECORD);
    if (ok && record != NULL && sqlite3_column_bytes(s, LEDGER_TRANSFER_COLUMN_RECORD) == 1 &&
        record[0] == LEDGER_TRANSFER_RECORD_LEGS) {
        ok = query__legs(l, t);
    }
    return ok ? FOGPAY_OK : FOGPAY_ERR_LEDGER_CORRUPT;
}

fogpay_error ledger__chain_head(fogpay_ledger *l, uint64_t *position,
                                uint8_t hash[FOGPAY_HASH_BYTES])
{
    return ledger__chain_head_of(l, &ledger_transfer_chain, position, hash);
}

fogpay_error fogpay_ledger_chain_head(fogpay_ledger *l, uint64_t *position,
                                      uint8_t hash[FOGPAY_HASH_BYTES])
{
    return ledger__chain_head_public(l, &ledger_transfer_chain, position, hash);
}

fogpay_error fogpay_ledger_transfer_get(fogpay_ledger *l, uint64_t position, fogpay_transfer *out,
                                        uint8_t hash_out[FOGPAY_HASH_BYTES])
{
    fogpay_transfer scratch;
    return ledger__chain_get(l, &ledger_transfer_chain, position, out, &scratch, hash_out);
}

fogpay_error ledger__transfer_hash(fogpay_ledger *l, uint64_t position,
                                   uint8_t hash[FOGPAY_HASH_BYTES])
{
    fogpay_transfer t;
    return fogpay_ledger_transfer_get(l, position, &t, hash);
}

/* Checks a filter and picks and binds the statement that fits it. */
static fogpay_error query__prepare_list(fogpay_ledger *l, const fogpay_transfer_filter *f,
                                        sqlite3_stmt **out)
{
    bool by_device = f->device_id != NULL && f->device_id[0] != '\0';
    bool by_entity = f->entity_id != NULL && f->entity_id[0] != '\0';
    if ((by_device && ledger__check_text(f->device_id, FOGPAY_DEVICE_ID_MAX) != FOGPAY_OK) ||
        (by_entity && ledger__check_text(f->entity_id, FOGPAY_ENTITY_ID_MAX) != FOGPAY_OK) ||
        f->limit > FOGPAY_TRANSFER_LIST_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t after = f->after_position > LEDGER_INT_MAX ? LEDGER_INT_MAX : f->after_position;
    uint64_t from_ms = f->from_ms > LEDGER_INT_MAX ? LEDGER_INT_MAX : f->from_ms;
    uint64_t to_ms = f->to_ms == 0 || f->to_ms > LEDGER_INT_MAX ? LEDGER_INT_MAX : f->to_ms;
    uint32_t limit = f->limit == 0 ? FOGPAY_TRANSFER_LIST_MAX : f->limit;
    sqlite3_stmt *s = NULL;
    if (by_device) {
        s = ledger__stmt(l, LEDGER_STMT_LIST_DEVICE);
        ledger__bind_text(l, s, 5, f->device_id);
        ledger__bind_text_or_null(l, s, 6, by_entity ? f->entity_id : NULL);
    } else if (by_entity) {
        s = ledger__stmt(l, LEDGER_STMT_LIST_ENTITY);
        ledger__bind_text(l, s, 5, f->entity_id);
    } else {
        s = ledger__stmt(l, LEDGER_STMT_LIST_ALL);
    }
    ledger__bind_u64(l, s, 1, after);
    ledger__bind_u64(l, s, 2, from_ms);
    ledger__bind_u64(l, s, 3, to_ms);
    ledger__bind_int64(l, s, 4, limit);
    *out = s;
    return FOGPAY_OK;
}

/* The typed visitor behind the chain's walk. */
typedef struct transfer_visit_ctx {
    fogpay_transfer_visit visit;
    void *ctx;
} transfer_visit_ctx;

static int query__visit(void *ctx, const void *record, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    const transfer_visit_ctx *v = ctx;
    return v->visit(v->ctx, record, hash);
}

fogpay_error fogpay_ledger_transfer_list(fogpay_ledger *l, const fogpay_transfer_filter *f,
                                         fogpay_transfer_visit visit, void *ctx)
{
    static const fogpay_transfer_filter everything = {0};
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    sqlite3_stmt *s = NULL;
    fogpay_error err = query__prepare_list(l, f != NULL ? f : &everything, &s);
    if (err != FOGPAY_OK) {
        return err;
    }
    transfer_visit_ctx v = {visit, ctx};
    fogpay_transfer scratch;
    return ledger__chain_walk(l, &ledger_transfer_chain, s, &scratch, query__visit, &v);
}
