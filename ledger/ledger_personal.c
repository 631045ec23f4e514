/*
 * ledger_personal.c - a legal entity's GDPR requests: the erasure of its
 * personal data, and what an access request exports besides its
 * transfers and events (its personal data, its accounts, the devices it
 * held over time).
 *
 * Design. Personal data (name, contact, bank reference) live in one row of
 * entity_personal and nowhere else; every transfer, event and ownership
 * entry names the entity by its pseudonymous id. Erasure therefore deletes
 * that one row and nothing more: both chains keep every record and hash,
 * and the pseudonymous id keeps the entity's payments attributable (the
 * ledger's records are kept by law; the person behind them is no longer
 * named). An erasure event (kind 18) records that it happened and which
 * fields were held, never their values, in the same transaction, so the
 * cloud learns of it through the event stream and erases its own copy.
 * The entity's row stays: it is what the history refers to.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs, and a visited holding is valid during the visitor's call only.
 */
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_personal__sql[] = {
    {LEDGER_STMT_PERSONAL_DELETE, "DELETE FROM entity_personal WHERE entity_id = ?1"},
    {LEDGER_STMT_ENTITY_ACCOUNTS,
     "SELECT id, currency, balance FROM accounts WHERE kind = 'entity' AND entity_id = ?1 "
     "ORDER BY id"},
    /* ?1 entity, ?2 limit. until: the device's next entry after this one. */
    {LEDGER_STMT_ENTITY_HOLDINGS,
     "SELECT o.device_id, o.role, o.effective_ms, o.recorded_ms, "
     "(SELECT min(n.effective_ms) FROM ownership AS n WHERE n.device_id = o.device_id "
     "AND n.id > o.id) FROM ownership AS o WHERE o.entity_id = ?1 ORDER BY o.id LIMIT ?2"},
};
const size_t ledger_personal__sql_count =
    sizeof ledger_personal__sql / sizeof ledger_personal__sql[0];

fogpay_error fogpay_ledger_entity_personal(fogpay_ledger *l, const char *entity_id,
                                           fogpay_entity_personal_copy *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    return err == FOGPAY_OK ? ledger__personal_read(l, entity_id, out) : err;
}

/* Inside the erasure's operation: the row goes, the event follows. */
static fogpay_error personal__erase(fogpay_ledger *l, const char *entity_id, uint64_t now_ms,
                                    uint64_t *event_position)
{
    fogpay_entity_personal_copy p;
    fogpay_error err = ledger__personal_read(l, entity_id, &p);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = FOGPAY_EVENT_ERASURE;
    e.time_ms = now_ms;
    memcpy(e.entity_id, entity_id, strlen(entity_id) + 1);
    e.erased_fields = (uint8_t)(FOGPAY_ERASED_NAME | (p.contact[0] ? FOGPAY_ERASED_CONTACT : 0) |
                                (p.bank_ref[0] ? FOGPAY_ERASED_BANK_REF : 0));
    /* The copy is wiped before the stack frame is left. */
    memset(&p, 0, sizeof p);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PERSONAL_DELETE);
    ledger__bind_text(l, s, 1, entity_id);
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        err = ledger__event_append(l, &e);
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    if (err == FOGPAY_OK) {
        err = ledger__event_head(l, event_position, hash);
    }
    return err;
}

fogpay_error fogpay_ledger_entity_erase(fogpay_ledger *l, const char *entity_id, uint64_t now_ms,
                                        uint64_t *event_position)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err == FOGPAY_OK && (now_ms == 0 || now_ms > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    ledger_op op;
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, &op);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    uint64_t position = 0;
    err = personal__erase(l, entity_id, now_ms, &position);
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK && event_position != NULL) {
        *event_position = position;
    }
    return err;
}

fogpay_error fogpay_ledger_entity_accounts(fogpay_ledger *l, const char *entity_id,
                                           fogpay_entity_account_visit visit, void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_ACCOUNTS);
    ledger__bind_text(l, s, 1, entity_id);
    int rc;
    while ((rc = ledger__step(l, s)) == SQLITE_ROW) {
        if (visit(ctx, (uint64_t)sqlite3_column_int64(s, 0), (uint16_t)sqlite3_column_int(s, 1),
                  sqlite3_column_int64(s, 2)) != 0) {
            break;
        }
    }
    err = rc == SQLITE_ROW || rc == SQLITE_DONE ? FOGPAY_OK : ledger__error(l, rc);
    ledger__finish(s);
    return err;
}

fogpay_error fogpay_ledger_entity_holdings(fogpay_ledger *l, const char *entity_id,
                                           fogpay_holding_visit visit, void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_HOLDINGS);
    ledger__bind_text(l, s, 1, entity_id);
    ledger__bind_int64(l, s, 2, FOGPAY_ENTITY_EXPORT_OWNERSHIP_MAX);
    int rc;
    while ((rc = ledger__step(l, s)) == SQLITE_ROW) {
        fogpay_holding h;
        memset(&h, 0, sizeof h);
        if (!ledger__column_text(s, 0, h.device_id, sizeof h.device_id) ||
            !ledger__column_text(s, 1, h.role, sizeof h.role)) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        h.effective_ms = (uint64_t)sqlite3_column_int64(s, 2);
        h.recorded_ms = (uint64_t)sqlite3_column_int64(s, 3);
        h.until_ms = (uint64_t)sqlite3_column_int64(s, 4);
        if (visit(ctx, &h) != 0) {
            break;
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}
