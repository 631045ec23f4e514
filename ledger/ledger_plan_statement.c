/*
 * ledger_plan_statement.c - what a financing plan's parties paid and owe: an
 * entity's statement of a plan, and the plan's early settlement.
 *
 * Design. A statement is read, never stored: what the entity paid is the
 * sum of the plan's transfers (instalments, collections, an early
 * settlement) whose payer_entity it is, which ledger_settle.c and
 * ledger_collect.c set to the device's holder when the instalment fell
 * due; what it owes is computed from the version in force, instalment by
 * instalment, with the holder at each due time (fogpay_ledger_owner_at).
 * So a resale moves the obligations from its effective time without
 * rewriting anything. An early settlement is one transfer and the plan's
 * closing version in one operation; its amount is the rule of ledger.h.
 *
 * Ownership. Nothing here allocates; outputs are written only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_plan_statement__sql[] = {
    {LEDGER_STMT_PLAN_PAID_BY,
     "SELECT count(*), coalesce(sum(t.amount_minor + coalesce((SELECT sum(g.amount_minor) "
     "FROM transfer_legs AS g WHERE g.position = t.position), 0)), 0) FROM transfers AS t "
     "WHERE t.plan_id = ?1 AND t.payer_entity = ?2 AND t.kind IN (11, 12, 13)"},
    {LEDGER_STMT_OWNERSHIP_HELD,
     "SELECT count(*) FROM ownership WHERE device_id = ?1 AND entity_id = ?2"},
};
const size_t ledger_plan_statement__sql_count =
    sizeof ledger_plan_statement__sql / sizeof ledger_plan_statement__sql[0];

/* What entity_id paid of plan_id: count and whole amounts. */
static fogpay_error statement__paid(fogpay_ledger *l, const char *plan_id, const char *entity_id,
                                    fogpay_plan_statement *out)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_PAID_BY);
    ledger__bind_text(l, s, 1, plan_id);
    ledger__bind_text(l, s, 2, entity_id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t count = sqlite3_column_int64(s, 0);
        int64_t sum = sqlite3_column_int64(s, 1);
        if (count < 0 || count > UINT32_MAX || sum < 0) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
        out->paid_count = (uint32_t)count;
        out->paid_minor = (uint64_t)sum;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

/* The instalments of p due by now while entity_id held the device, and
 * of those the unpaid ones with their amounts. */
static fogpay_error statement__owed(fogpay_ledger *l, const fogpay_plan *p, const char *entity_id,
                                    uint64_t now_ms, fogpay_plan_statement *out)
{
    uint32_t paid = 0;
    fogpay_error err = ledger__plan_paid(l, p, &paid);
    for (uint32_t n = 1; err == FOGPAY_OK && n <= p->instalment_count; n++) {
        fogpay_instalment in;
        err = ledger__plan_instalment_n(l, p, n, now_ms, &in);
        if (err != FOGPAY_OK || in.due_ms > now_ms) {
            break;
        }
        char holder[FOGPAY_ENTITY_ID_MAX + 1];
        err = fogpay_ledger_owner_at(l, p->device_id, in.due_ms, holder);
        if (err == FOGPAY_ERR_NOT_FOUND) {
            err = FOGPAY_OK;
            continue;
        }
        if (err != FOGPAY_OK || strcmp(holder, entity_id) != 0) {
            continue;
        }
        out->due_count++;
        if (n > paid) {
            out->owed_count++;
            out->owed_minor += in.amount_minor;
        }
    }
    return err;
}

/* The version of plan_id in force now (a closing one for a closed plan,
 * which owes nothing more while its statement stands). */
static fogpay_error statement__version(fogpay_ledger *l, const char *plan_id, uint64_t now_ms,
                                       fogpay_plan *p)
{
    fogpay_error err = fogpay_ledger_plan_at(l, plan_id, now_ms, p, NULL);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_PLAN_NOT_STARTED;
    }
    return err;
}

fogpay_error fogpay_ledger_plan_statement(fogpay_ledger *l, const char *plan_id,
                                          const char *entity_id, uint64_t now_ms,
                                          fogpay_plan_statement *out)
{
    if (l == NULL || plan_id == NULL || entity_id == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(plan_id, FOGPAY_PLAN_ID_MAX);
    if (err == FOGPAY_OK) {
        err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    }
    fogpay_plan p;
    if (err == FOGPAY_OK) {
        err = statement__version(l, plan_id, now_ms, &p);
    }
    bool own = false;
    if (err == FOGPAY_OK) {
        err = ledger__read_begin(l, &own);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    uint64_t held = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_OWNERSHIP_HELD);
    ledger__bind_text(l, s, 1, p.device_id);
    ledger__bind_text(l, s, 2, entity_id);
    err = ledger__scalar(l, s, &held);
    if (err == FOGPAY_OK && held == 0) {
        err = FOGPAY_ERR_STATEMENT_ENTITY;
    }
    fogpay_plan_statement st;
    memset(&st, 0, sizeof st);
    st.currency = p.currency;
    if (err == FOGPAY_OK) {
        err = statement__paid(l, plan_id, entity_id, &st);
    }
    if (err == FOGPAY_OK && !p.closed) {
        err = statement__owed(l, &p, entity_id, now_ms, &st);
    }
    ledger__read_end(l, own);
    if (err == FOGPAY_OK) {
        *out = st;
    }
    return err;
}

/* What settles p at now, by the rule of ledger.h, and the first unpaid
 * instalment's number. */
static fogpay_error statement__settle_amount(fogpay_ledger *l, const fogpay_plan *p,
                                             uint64_t now_ms, uint64_t *amount_minor,
                                             uint32_t *first)
{
    uint32_t paid = 0;
    fogpay_error err = ledger__plan_paid(l, p, &paid);
    if (err == FOGPAY_OK && paid >= p->instalment_count) {
        err = FOGPAY_ERR_PLAN_PAID;
    }
    uint64_t amount = 0;
    for (uint32_t n = paid + 1; err == FOGPAY_OK && n <= p->instalment_count; n++) {
        fogpay_instalment in;
        err = ledger__plan_instalment_n(l, p, n, now_ms, &in);
        if (err == FOGPAY_OK) {
            amount += in.due_ms <= now_ms ? in.amount_minor : in.principal_minor;
        }
    }
    if (err == FOGPAY_OK && amount > FOGPAY_AMOUNT_MAX_MINOR) {
        err = FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    *amount_minor = amount;
    *first = paid + 1;
    return err;
}

/* The account that pays a settlement: the device's wallet, or the account
 * of the entity holding it now; FOGPAY_ERR_SETTLEMENT_FUNDS when it holds
 * less than amount_minor. payer_entity is the holder now. */
static fogpay_error statement__payer(fogpay_ledger *l, const fogpay_plan *p, bool from_entity,
                                     uint64_t amount_minor, uint64_t now_ms, ledger_account *payer,
                                     char payer_entity[FOGPAY_ENTITY_ID_MAX + 1])
{
    fogpay_error err = fogpay_ledger_owner_at(l, p->device_id, now_ms, payer_entity);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        if (from_entity) {
            return FOGPAY_ERR_STATEMENT_ENTITY;
        }
        err = FOGPAY_OK;
    }
    if (err == FOGPAY_OK) {
        err =
            from_entity
                ? ledger__account_find(l, LEDGER_ACCOUNT_ENTITY, payer_entity, p->currency, payer)
                : ledger__account_find(l, LEDGER_ACCOUNT_WALLET, p->device_id, p->currency, payer);
    }
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK && (payer->balance < 0 || (uint64_t)payer->balance < amount_minor))) {
        return FOGPAY_ERR_SETTLEMENT_FUNDS;
    }
    return err;
}

/* The writes of a settlement inside its operation: the transfer, the
 * closing version, the arrears cleared. */
static fogpay_error statement__settle_write(fogpay_ledger *l, const fogpay_plan *p,
                                            bool from_entity, uint64_t now_ms, fogpay_transfer *t,
                                            fogpay_plan_change *change)
{
    uint64_t amount = 0;
    uint32_t first = 0;
    fogpay_error err = statement__settle_amount(l, p, now_ms, &amount, &first);
    ledger_account payer;
    memset(t, 0, sizeof *t);
    if (err == FOGPAY_OK) {
        err = statement__payer(l, p, from_entity, amount, now_ms, &payer, t->payer_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = FOGPAY_TRANSFER_EARLY_SETTLEMENT;
    t->amount_minor = amount;
    t->instalment = first;
    err = ledger__plan_transfer_append(l, p, &payer, t, now_ms);
    /* Closed from now, or just after a version that began now. */
    uint64_t close_ms = p->effective_ms < now_ms ? now_ms : p->effective_ms + 1;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_plan_close(l, p->plan_id, close_ms, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = ledger__plan_arrears_end(l, p->plan_id, now_ms, change);
    }
    return err;
}

/* FOGPAY_OK when p, in force at now, is the plan's latest version and
 * open: FOGPAY_ERR_PLAN_CLOSED when it or a later one closes the plan,
 * FOGPAY_ERR_PLAN_NOT_IN_ORDER when a later version restates it. */
static fogpay_error statement__latest(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms)
{
    fogpay_plan now;
    uint64_t until_ms = UINT64_MAX;
    fogpay_error err = fogpay_ledger_plan_at(l, p->plan_id, now_ms, &now, &until_ms);
    fogpay_plan later = now;
    if (err == FOGPAY_OK && until_ms != UINT64_MAX) {
        err = fogpay_ledger_plan_at(l, p->plan_id, until_ms, &later, NULL);
    }
    if (err == FOGPAY_OK && (now.closed || later.closed)) {
        err = FOGPAY_ERR_PLAN_CLOSED;
    } else if (err == FOGPAY_OK && until_ms != UINT64_MAX) {
        err = FOGPAY_ERR_PLAN_NOT_IN_ORDER;
    }
    return err;
}

fogpay_error fogpay_ledger_plan_settle(fogpay_ledger *l, const char *plan_id, bool from_entity,
                                       uint64_t now_ms, fogpay_transfer *out,
                                       fogpay_plan_change *change)
{
    if (l == NULL || plan_id == NULL || out == NULL || now_ms == 0 || now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(plan_id, FOGPAY_PLAN_ID_MAX);
    fogpay_plan p;
    if (err == FOGPAY_OK) {
        err = statement__version(l, plan_id, now_ms, &p);
    }
    if (err == FOGPAY_OK) {
        err = statement__latest(l, &p, now_ms);
    }
    ledger_op op;
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, &op);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    fogpay_plan_change cleared;
    memset(&cleared, 0, sizeof cleared);
    err = statement__settle_write(l, &p, from_entity, now_ms, &t, &cleared);
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *out = t;
        if (change != NULL) {
            *change = cleared;
        }
    }
    return err;
}
