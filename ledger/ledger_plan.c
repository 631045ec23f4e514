/*
 * ledger_plan.c - financing plans: defining a plan's versions, closing a
 * plan, finding the version that applies, listing them.
 *
 * Design. A plan is append-only and effective-dated as a tariff is: each
 * version restates the terms from its effective time, none is changed or
 * deleted, none starts at or before the latest, and none follows a
 * closing version (the table's triggers refuse it as well, so that no
 * writer can). A plan keeps its device for life. Each version appends its
 * event (kind 11, a closing one kind 12) in the same operation, so it
 * goes upstream with the event chain. The schedule itself is computed
 * from the version's terms (ledger_schedule.c), never stored. A version
 * whose shortfall is limit names its payees in plan_payees, written with
 * it and read with it; each names a registered device or entity.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

#define PLAN_COLUMNS                                                                               \
    "plan_id, effective_ms, device_id, lender_entity, currency, principal_minor, rate_bp, "        \
    "usage_num, usage_den, meter_id, instalment_count, period_ms, grace_ms, shortfall, collect, "  \
    "closed"

const ledger_stmt_sql ledger_plan__sql[] = {
    {LEDGER_STMT_PLAN_INSERT,
     "INSERT INTO plans (" PLAN_COLUMNS ", created_ms) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"},
    {LEDGER_STMT_PLAN_LATEST, "SELECT " PLAN_COLUMNS ", NULL FROM plans WHERE plan_id = ?1 "
                              "ORDER BY effective_ms DESC LIMIT 1"},
    {LEDGER_STMT_PLAN_AT,
     "SELECT " PLAN_COLUMNS ", (SELECT min(n.effective_ms) FROM plans AS n "
     "WHERE n.plan_id = ?1 AND n.effective_ms > ?2) FROM plans WHERE plan_id = ?1 "
     "AND effective_ms <= ?2 ORDER BY effective_ms DESC LIMIT 1"},
    {LEDGER_STMT_PLAN_LIST,
     "SELECT " PLAN_COLUMNS ", NULL FROM plans WHERE ?1 IS NULL OR device_id = ?1 "
     "ORDER BY plan_id, effective_ms"},
    {LEDGER_STMT_PLAN_PAID,
     "SELECT count(*) FROM transfers WHERE plan_id = ?1 AND kind IN (11, 13) AND time_ms >= ?2"},
    {LEDGER_STMT_PLAN_USAGE,
     "SELECT coalesce(max(quantity) - coalesce((SELECT max(b.quantity) FROM usage_readings AS b "
     "WHERE b.device_id = ?1 AND b.meter_id = ?2 AND b.time_ms < ?3), min(quantity)), 0) "
     "FROM usage_readings WHERE device_id = ?1 AND meter_id = ?2 AND time_ms < ?4"},
    {LEDGER_STMT_PLAN_PAYEE_INSERT,
     "INSERT INTO plan_payees (plan_id, effective_ms, n, payee) VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_PLAN_PAYEES,
     "SELECT payee FROM plan_payees WHERE plan_id = ?1 AND effective_ms = ?2 ORDER BY n"},
};
const size_t ledger_plan__sql_count = sizeof ledger_plan__sql / sizeof ledger_plan__sql[0];

/* The texts, ids and times of a version, then its terms. */
static fogpay_error plan__check(const fogpay_plan *p, uint64_t now_ms)
{
    if (memchr(p->plan_id, '\0', sizeof p->plan_id) == NULL ||
        memchr(p->device_id, '\0', sizeof p->device_id) == NULL ||
        memchr(p->lender_entity, '\0', sizeof p->lender_entity) == NULL ||
        memchr(p->meter_id, '\0', sizeof p->meter_id) == NULL) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_error err = ledger__check_id(p->plan_id, FOGPAY_PLAN_ID_MAX);
    if (err == FOGPAY_OK) {
        err = ledger__check_device_id(p->device_id);
    }
    if (err == FOGPAY_OK) {
        err = ledger__check_id(p->lender_entity, FOGPAY_ENTITY_ID_MAX);
    }
    if (err == FOGPAY_OK && p->meter_id[0] != '\0') {
        err = ledger__check_id(p->meter_id, FOGPAY_METER_ID_MAX);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (p->effective_ms == 0 || p->effective_ms > LEDGER_INT_MAX || now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (p->currency < FOGPAY_CURRENCY_MIN || p->currency > FOGPAY_CURRENCY_MAX) {
        return FOGPAY_ERR_PLAN_TERMS;
    }
    return fogpay_plan_check(p);
}

static fogpay_error plan__insert(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_INSERT);
    ledger__bind_text(l, s, 1, p->plan_id);
    ledger__bind_u64(l, s, 2, p->effective_ms);
    ledger__bind_text(l, s, 3, p->device_id);
    ledger__bind_text(l, s, 4, p->lender_entity);
    ledger__bind_int64(l, s, 5, p->currency);
    ledger__bind_u64(l, s, 6, p->principal_minor);
    ledger__bind_u64(l, s, 7, p->rate_bp);
    ledger__bind_u64(l, s, 8, p->usage_num);
    ledger__bind_u64(l, s, 9, p->usage_den);
    ledger__bind_text_or_null(l, s, 10, p->meter_id);
    ledger__bind_u64(l, s, 11, p->instalment_count);
    ledger__bind_u64(l, s, 12, p->period_ms);
    ledger__bind_u64(l, s, 13, p->grace_ms);
    ledger__bind_int64(l, s, 14, p->shortfall);
    ledger__bind_int64(l, s, 15, p->collect ? 1 : 0);
    ledger__bind_int64(l, s, 16, p->closed ? 1 : 0);
    ledger__bind_u64(l, s, 17, now_ms);
    fogpay_error err = ledger__exec(l, s);
    for (uint8_t i = 0; err == FOGPAY_OK && !p->closed && i < p->payee_count; i++) {
        s = ledger__stmt(l, LEDGER_STMT_PLAN_PAYEE_INSERT);
        ledger__bind_text(l, s, 1, p->plan_id);
        ledger__bind_u64(l, s, 2, p->effective_ms);
        ledger__bind_u64(l, s, 3, (uint64_t)i + 1);
        ledger__bind_text(l, s, 4, p->payees[i]);
        err = ledger__exec(l, s);
    }
    return err;
}

/* The payees of version p into it, for a version whose shortfall is
 * limit (the others name none). */
static fogpay_error plan__payees_read(fogpay_ledger *l, fogpay_plan *p)
{
    p->payee_count = 0;
    if (p->shortfall != FOGPAY_PLAN_SHORTFALL_LIMIT || p->closed) {
        return FOGPAY_OK;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_PAYEES);
    ledger__bind_text(l, s, 1, p->plan_id);
    ledger__bind_u64(l, s, 2, p->effective_ms);
    int rc;
    fogpay_error err = FOGPAY_OK;
    while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW) {
        if (p->payee_count == FOGPAY_PLAN_PAYEES_MAX ||
            !ledger__column_text(s, 0, p->payees[p->payee_count], sizeof p->payees[0])) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
        p->payee_count++;
    }
    if (err == FOGPAY_OK && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

/* Each payee of p names a registered device or legal entity. */
static fogpay_error plan__payees_check(fogpay_ledger *l, const fogpay_plan *p)
{
    fogpay_error err = FOGPAY_OK;
    for (uint8_t i = 0; err == FOGPAY_OK && i < p->payee_count; i++) {
        ledger_device_state device;
        err = ledger__check_device_id(p->payees[i]);
        if (err == FOGPAY_OK) {
            err = ledger__device_state(l, p->payees[i], &device);
        }
        if (err == FOGPAY_ERR_NOT_FOUND || err == FOGPAY_ERR_FIELD_RANGE ||
            err == FOGPAY_ERR_TEXT_INVALID) {
            err = ledger__check_id(p->payees[i], FOGPAY_ENTITY_ID_MAX);
            err = err == FOGPAY_OK ? ledger__entity_exists(l, p->payees[i]) : err;
            err = err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_UNKNOWN_PAYEE : err;
        }
    }
    return err;
}

/* The event of a version: kind 11 with its terms, or 12 for a closing one. */
static fogpay_error plan__event(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = p->closed ? FOGPAY_EVENT_PLAN_CLOSED : FOGPAY_EVENT_PLAN;
    e.time_ms = now_ms;
    e.effective_ms = p->effective_ms;
    snprintf(e.device_id, sizeof e.device_id, "%s", p->device_id);
    snprintf(e.plan_id, sizeof e.plan_id, "%s", p->plan_id);
    if (p->closed) {
        return ledger__event_append(l, &e);
    }
    snprintf(e.entity_id, sizeof e.entity_id, "%s", p->lender_entity);
    e.currency = p->currency;
    e.principal_minor = p->principal_minor;
    e.plan_schedule_count = 1;
    e.plan_schedule[0] = p->rate_bp;
    e.plan_schedule[1] = p->instalment_count;
    e.plan_schedule[2] = p->period_ms;
    e.plan_terms_count = 1;
    e.plan_terms[0] = p->grace_ms;
    e.plan_terms[1] = p->shortfall;
    e.plan_terms[2] = p->collect ? 1 : 0;
    e.plan_payee_count = p->payee_count;
    memcpy(e.plan_payees, p->payees, sizeof e.plan_payees);
    if (p->usage_num != 0) {
        snprintf(e.meter_id, sizeof e.meter_id, "%s", p->meter_id);
        fogpay_error err = fogpay_price_format(p->usage_num, p->usage_den, e.price);
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    return ledger__event_append(l, &e);
}

/* Reads a row of PLAN_COLUMNS and the next version's time into out. */
static fogpay_error plan__read(sqlite3_stmt *s, fogpay_plan *out, uint64_t *until_ms)
{
    memset(out, 0, sizeof *out);
    int64_t v[16];
    for (int i = 0; i < 16; i++) {
        v[i] = sqlite3_column_int64(s, i);
    }
    bool ok = ledger__column_text(s, 0, out->plan_id, sizeof out->plan_id) &&
              ledger__column_text(s, 2, out->device_id, sizeof out->device_id) &&
              ledger__column_text(s, 3, out->lender_entity, sizeof out->lender_entity) &&
              ledger__column_text(s, 9, out->meter_id, sizeof out->meter_id) && v[1] >= 1 &&
              v[4] >= FOGPAY_CURRENCY_MIN && v[4] <= FOGPAY_CURRENCY_MAX && v[5] >= 1 &&
              v[6] >= 0 && v[7] >= 0 && v[8] >= 0 && v[10] >= 1 && v[11] >= 1 && v[12] >= 0 &&
              v[13] >= 0 && v[13] <= 1 && (v[14] == 0 || v[14] == 1) && (v[15] == 0 || v[15] == 1);
    out->effective_ms = (uint64_t)v[1];
    out->currency = (uint16_t)v[4];
    out->principal_minor = (uint64_t)v[5];
    out->rate_bp = (uint32_t)v[6];
    out->usage_num = (uint64_t)v[7];
    out->usage_den = (uint64_t)v[8];
    out->instalment_count = (uint32_t)v[10];
    out->period_ms = (uint64_t)v[11];
    out->grace_ms = (uint64_t)v[12];
    out->shortfall = (uint8_t)v[13];
    out->collect = v[14] == 1;
    out->closed = v[15] == 1;
    if (until_ms != NULL) {
        *until_ms = sqlite3_column_type(s, 16) == SQLITE_NULL
                        ? UINT64_MAX
                        : (uint64_t)sqlite3_column_int64(s, 16);
    }
    return ok && fogpay_plan_check(out) == FOGPAY_OK ? FOGPAY_OK : FOGPAY_ERR_LEDGER_CORRUPT;
}

/* The plan's latest version (FOGPAY_ERR_PLAN_UNKNOWN: none). */
static fogpay_error plan__latest(fogpay_ledger *l, const char *plan_id, fogpay_plan *out)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_LATEST);
    ledger__bind_text(l, s, 1, plan_id);
    int rc = ledger__step(l, s);
    fogpay_plan p;
    fogpay_error err = FOGPAY_ERR_PLAN_UNKNOWN;
    if (rc == SQLITE_ROW) {
        err = plan__read(s, &p, NULL);
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        err = plan__payees_read(l, &p);
    }
    if (err == FOGPAY_OK) {
        *out = p;
    }
    return err;
}

/* A new version against the plan so far: its device for life, after the
 * latest version, not after a closing one; and its parties. */
static fogpay_error plan__define_checks(fogpay_ledger *l, const fogpay_plan *p)
{
    fogpay_plan latest;
    fogpay_error err = plan__latest(l, p->plan_id, &latest);
    if (err == FOGPAY_OK) {
        if (latest.closed) {
            return FOGPAY_ERR_PLAN_CLOSED;
        }
        if (strcmp(latest.device_id, p->device_id) != 0) {
            return FOGPAY_ERR_PLAN_DEVICE;
        }
        if (p->effective_ms == latest.effective_ms) {
            return FOGPAY_ERR_EXISTS;
        }
        if (p->effective_ms < latest.effective_ms) {
            return FOGPAY_ERR_PLAN_NOT_IN_ORDER;
        }
    } else if (err != FOGPAY_ERR_PLAN_UNKNOWN) {
        return err;
    }
    ledger_device_state state;
    err = ledger__device_state(l, p->device_id, &state);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_UNKNOWN_DEVICE;
    }
    if (err == FOGPAY_OK && state.status == FOGPAY_DEVICE_REVOKED) {
        err = FOGPAY_ERR_DEVICE_REVOKED;
    }
    if (err == FOGPAY_OK) {
        err = ledger__entity_exists(l, p->lender_entity);
    }
    if (err == FOGPAY_OK) {
        err = plan__payees_check(l, p);
    }
    ledger_account account;
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_ENTITY, p->lender_entity, p->currency,
                                     &account);
    }
    return err;
}

/* Checks and writes one version with its event, in one operation. */
static fogpay_error plan__append(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms)
{
    ledger_op op;
    fogpay_error err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = plan__define_checks(l, p);
    if (err == FOGPAY_OK) {
        err = plan__insert(l, p, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = plan__event(l, p, now_ms);
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_plan_define(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms)
{
    if (l == NULL || p == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (p->closed) {
        return FOGPAY_ERR_PLAN_TERMS; /* a plan is closed by fogpay_ledger_plan_close() */
    }
    fogpay_error err = plan__check(p, now_ms);
    return err == FOGPAY_OK ? plan__append(l, p, now_ms) : err;
}

fogpay_error fogpay_ledger_plan_close(fogpay_ledger *l, const char *plan_id, uint64_t effective_ms,
                                      uint64_t now_ms)
{
    if (l == NULL || plan_id == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(plan_id, FOGPAY_PLAN_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    bool own = false;
    fogpay_plan p;
    err = ledger__read_begin(l, &own);
    if (err == FOGPAY_OK) {
        err = plan__latest(l, plan_id, &p);
        ledger__read_end(l, own);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (p.closed) {
        return FOGPAY_ERR_PLAN_CLOSED;
    }
    p.closed = true;
    p.payee_count = 0; /* a closing version names no payees */
    p.effective_ms = effective_ms;
    err = plan__check(&p, now_ms);
    return err == FOGPAY_OK ? plan__append(l, &p, now_ms) : err;
}

fogpay_error fogpay_ledger_plan_at(fogpay_ledger *l, const char *plan_id, uint64_t time_ms,
                                   fogpay_plan *out, uint64_t *until_ms)
{
    if (l == NULL || plan_id == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_AT);
    ledger__bind_text(l, s, 1, plan_id);
    ledger__bind_u64(l, s, 2, time_ms > LEDGER_INT_MAX ? LEDGER_INT_MAX : time_ms);
    int rc = ledger__step(l, s);
    fogpay_plan p;
    uint64_t until = UINT64_MAX;
    err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        err = plan__read(s, &p, &until);
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK && rc == SQLITE_ROW) {
        err = plan__payees_read(l, &p);
    }
    if (err == FOGPAY_OK && rc == SQLITE_DONE) {
        err = plan__latest(l, plan_id, &p);
        err = err == FOGPAY_OK ? FOGPAY_ERR_NOT_FOUND : err;
    }
    ledger__read_end(l, own);
    if (err == FOGPAY_OK) {
        *out = p;
        if (until_ms != NULL) {
            *until_ms = until;
        }
    }
    return err;
}

fogpay_error fogpay_ledger_plan_list(fogpay_ledger *l, const char *device_id,
                                     fogpay_plan_visit visit, void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_LIST);
    ledger__bind_text_or_null(l, s, 1, device_id == NULL ? "" : device_id);
    int rc;
    while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW) {
        fogpay_plan p;
        err = plan__read(s, &p, NULL);
        if (err == FOGPAY_OK) {
            err = plan__payees_read(l, &p);
        }
        if (err == FOGPAY_OK && visit(ctx, &p) != 0) {
            break;
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    ledger__read_end(l, own);
    return err;
}

fogpay_error ledger__plan_paid(fogpay_ledger *l, const fogpay_plan *p, uint32_t *paid)
{
    uint64_t count = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_PAID);
    ledger__bind_text(l, s, 1, p->plan_id);
    ledger__bind_u64(l, s, 2, p->effective_ms);
    fogpay_error err = ledger__scalar(l, s, &count);
    if (err == FOGPAY_OK) {
        *paid = count > p->instalment_count ? p->instalment_count : (uint32_t)count;
    }
    return err;
}

fogpay_error ledger__plan_instalment_n(fogpay_ledger *l, const fogpay_plan *p, uint32_t number,
                                       uint64_t now_ms, fogpay_instalment *out)
{
    uint64_t units = 0;
    fogpay_error err = FOGPAY_OK;
    if (p->usage_num != 0 && number >= 1 && number <= p->instalment_count) {
        uint64_t end_ms = p->effective_ms + (uint64_t)number * p->period_ms;
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_USAGE);
        ledger__bind_text(l, s, 1, p->device_id);
        ledger__bind_text(l, s, 2, p->meter_id);
        ledger__bind_u64(l, s, 3, end_ms - p->period_ms);
        ledger__bind_u64(l, s, 4, end_ms < now_ms ? end_ms : now_ms);
        err = ledger__scalar(l, s, &units);
    }
    return err == FOGPAY_OK ? fogpay_plan_instalment(p, number, units, out) : err;
}

/* The next unpaid instalment of version p (paid ones, instalments and
 * collections, counted from its effective time) with its usage part up
 * to now. */
fogpay_error ledger__plan_next(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms,
                               fogpay_instalment *out)
{
    uint32_t paid = 0;
    fogpay_error err = ledger__plan_paid(l, p, &paid);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (paid >= p->instalment_count) {
        return FOGPAY_ERR_PLAN_PAID;
    }
    return ledger__plan_instalment_n(l, p, paid + 1, now_ms, out);
}

fogpay_error ledger__plan_instalment_for(fogpay_ledger *l, const fogpay_intent *in, uint64_t now_ms,
                                         uint32_t *number, uint64_t *due_ms)
{
    fogpay_plan p;
    fogpay_error err = fogpay_ledger_plan_at(l, in->plan_id, now_ms, &p, NULL);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        err = FOGPAY_ERR_PLAN_UNKNOWN; /* not in effect yet: no instalment is owed */
    }
    if (err == FOGPAY_OK && p.closed) {
        err = FOGPAY_ERR_PLAN_CLOSED;
    }
    if (err == FOGPAY_OK && strcmp(p.device_id, in->device_id) != 0) {
        err = FOGPAY_ERR_PLAN_DEVICE;
    }
    ledger_account lender;
    if (err == FOGPAY_OK) {
        err = ledger__account_find(l, LEDGER_ACCOUNT_ENTITY, p.lender_entity, p.currency, &lender);
    }
    if (err == FOGPAY_OK && (in->payee_device[0] != '\0' || in->payee_account != lender.id ||
                             in->currency != p.currency)) {
        err = FOGPAY_ERR_PLAN_PAYEE;
    }
    fogpay_instalment next;
    if (err == FOGPAY_OK) {
        err = ledger__plan_next(l, &p, now_ms, &next);
    }
    if (err == FOGPAY_OK && next.amount_minor != in->amount_minor) {
        err = FOGPAY_ERR_INSTALMENT_AMOUNT;
    }
    if (err == FOGPAY_OK) {
        *number = next.number;
        *due_ms = next.due_ms;
    }
    return err;
}
