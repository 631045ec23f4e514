/*
 * ledger_collect.c - what the gateway does about a plan's instalments by
 * itself: collecting a late one from the device's wallet, and a plan's
 * arrears (entered, cleared, listed). A plan's statements and its early
 * settlement are ledger_plan_statement.c's.
 *
 * Design. A pass (fogpay_ledger_plan_collect, on the plugin's tick) walks
 * the open plans in plan id order, a bounded page at a time, each plan in
 * an operation of its own, and so never touches the path of a payment.
 * For each plan it works from the version in force now: while its next
 * unpaid instalment is late, it collects it if the plan allows and the
 * wallet holds it; the first it cannot collect puts the plan in arrears,
 * and a plan with nothing late leaves them. Entering and leaving arrears
 * suspend and resume the device through the registry (its status events),
 * and each is an event of its own (kinds 13 and 14). A plan whose
 * shortfall is limit does not suspend its device: while it is in arrears
 * the device's payments to payees its version in force does not name are
 * refused (ledger__plan_limit_check, on the path of a payment, asks the
 * hot state first, so that a device without arrears runs no statement).
 * A collection is
 * written as an instalment is (ledger_settle.c): the lender's fee
 * schedule splits it, and its payer_entity is the device's holder when the
 * instalment fell due.
 *
 * Ownership. Nothing here allocates; outputs are written to the caller's
 * structs, a result only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

#define ARREARS_COLUMNS                                                                            \
    "id, plan_id, device_id, entity_id, currency, instalment, owed_minor, reason, suspended, "     \
    "entered_ms, cleared_ms"

const ledger_stmt_sql ledger_collect__sql[] = {
    {LEDGER_STMT_PLAN_OPEN_PAGE,
     "SELECT plan_id FROM plans WHERE plan_id > ?1 GROUP BY plan_id HAVING max(closed) = 0 "
     "OR max(CASE WHEN closed = 1 THEN effective_ms END) > ?3 ORDER BY plan_id LIMIT ?2"},
    {LEDGER_STMT_ARREARS_OPEN,
     "SELECT " ARREARS_COLUMNS " FROM plan_arrears WHERE plan_id = ?1 AND cleared_ms IS NULL"},
    {LEDGER_STMT_ARREARS_OF_DEVICE,
     "SELECT count(*) FROM plan_arrears WHERE device_id = ?1 AND cleared_ms IS NULL"},
    {LEDGER_STMT_ARREARS_INSERT,
     "INSERT INTO plan_arrears (plan_id, device_id, entity_id, currency, instalment, owed_minor, "
     "reason, suspended, entered_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {LEDGER_STMT_ARREARS_CLEAR, "UPDATE plan_arrears SET cleared_ms = ?2 WHERE id = ?1"},
    {LEDGER_STMT_ARREARS_HAND_OVER,
     "UPDATE plan_arrears SET suspended = 1 WHERE device_id = ?1 AND cleared_ms IS NULL"},
    {LEDGER_STMT_ARREARS_LIMITED,
     "SELECT count(*) FROM plan_arrears AS a JOIN plans AS p ON p.plan_id = a.plan_id "
     "AND p.effective_ms = (SELECT max(v.effective_ms) FROM plans AS v "
     "WHERE v.plan_id = a.plan_id AND v.effective_ms <= ?4) "
     "WHERE a.device_id = ?1 AND a.cleared_ms IS NULL AND p.shortfall = 1 AND p.closed = 0 "
     "AND NOT EXISTS (SELECT 1 FROM plan_payees AS y WHERE y.plan_id = p.plan_id "
     "AND y.effective_ms = p.effective_ms AND y.payee IN (?2, ?3))"},
    {LEDGER_STMT_ARREARS_LIST,
     "SELECT " ARREARS_COLUMNS " FROM plan_arrears WHERE (?1 IS NULL OR device_id = ?1) "
     "AND (?2 = 0 OR cleared_ms IS NULL) ORDER BY id DESC LIMIT ?3"},
};
const size_t ledger_collect__sql_count = sizeof ledger_collect__sql / sizeof ledger_collect__sql[0];

/* Reads a row of ARREARS_COLUMNS. */
static fogpay_error collect__arrears_read(sqlite3_stmt *s, fogpay_plan_arrears *out)
{
    memset(out, 0, sizeof *out);
    int64_t v[11];
    for (int i = 0; i < 11; i++) {
        v[i] = sqlite3_column_int64(s, i);
    }
    bool ok = ledger__column_text(s, 1, out->plan_id, sizeof out->plan_id) &&
              ledger__column_text(s, 2, out->device_id, sizeof out->device_id) &&
              ledger__column_text(s, 3, out->entity_id, sizeof out->entity_id) && v[0] >= 1 &&
              v[4] >= FOGPAY_CURRENCY_MIN && v[4] <= FOGPAY_CURRENCY_MAX && v[5] >= 1 &&
              v[5] <= FOGPAY_PLAN_INSTALMENTS_MAX && v[6] >= 1 && v[7] >= 1 &&
              v[7] <= FOGPAY_ERR_PRODUCT_LAST && v[9] >= 1 && v[10] >= 0;
    out->id = (uint64_t)v[0];
    out->currency = (uint16_t)v[4];
    out->instalment = (uint32_t)v[5];
    out->owed_minor = (uint64_t)v[6];
    out->reason = (uint16_t)v[7];
    out->suspended = v[8] == 1;
    out->entered_ms = (uint64_t)v[9];
    out->cleared_ms = (uint64_t)v[10];
    return ok ? FOGPAY_OK : FOGPAY_ERR_LEDGER_CORRUPT;
}

/* The plan's open arrears into *out (*open false: none). */
static fogpay_error collect__arrears_open(fogpay_ledger *l, const char *plan_id, bool *open,
                                          fogpay_plan_arrears *out)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_OPEN);
    ledger__bind_text(l, s, 1, plan_id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    *open = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        err = collect__arrears_read(s, out);
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__plan_arrears_of(fogpay_ledger *l, const char *device_id)
{
    uint64_t open = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_OF_DEVICE);
    ledger__bind_text(l, s, 1, device_id);
    fogpay_error err = ledger__scalar(l, s, &open);
    if (err == FOGPAY_OK && open > 0) {
        err = FOGPAY_ERR_PLAN_ARREARS;
    }
    return err;
}

fogpay_error ledger__plan_limit_check(fogpay_ledger *l, const char *device_id,
                                      const char *payee_device, const char *payee_entity,
                                      uint64_t now_ms)
{
    ledger_hot_device *d = NULL;
    bool arrears = false;
    fogpay_error err = ledger__hot_device(l, device_id, &d);
    if (err == FOGPAY_OK) {
        err = ledger__hot_arrears(l, d, &arrears);
    }
    if (err != FOGPAY_OK || !arrears) {
        return err;
    }
    uint64_t limited = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_LIMITED);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_text_or_null(l, s, 2, payee_device);
    ledger__bind_text_or_null(l, s, 3, payee_entity);
    ledger__bind_u64(l, s, 4, now_ms);
    err = ledger__scalar(l, s, &limited);
    return err == FOGPAY_OK && limited > 0 ? FOGPAY_ERR_PLAN_LIMITED : err;
}

fogpay_error ledger__plan_transfer_append(fogpay_ledger *l, const fogpay_plan *p,
                                          ledger_account *payer, fogpay_transfer *t,
                                          uint64_t now_ms)
{
    ledger_account lender;
    fogpay_error err =
        ledger__account_find(l, LEDGER_ACCOUNT_ENTITY, p->lender_entity, p->currency, &lender);
    if (err != FOGPAY_OK) {
        return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_LEDGER_CORRUPT : err;
    }
    t->debit_account = payer->id;
    t->credit_account = lender.id;
    t->currency = p->currency;
    t->time_ms = now_ms;
    snprintf(t->plan_id, sizeof t->plan_id, "%s", p->plan_id);
    snprintf(t->payee_entity, sizeof t->payee_entity, "%s", p->lender_entity);
    fogpay_fee_schedule schedule;
    bool fees = false;
    err = ledger__fee_schedule_for(l, &lender, p->currency, now_ms, &schedule, &fees);
    if (err == FOGPAY_OK) {
        err = ledger__split_append(l, t, fees ? &schedule : NULL, NULL);
    }
    return err;
}

/* Collects instalment in of plan p from the device's wallet: its amount,
 * owed by the device's holder when it fell due. FOGPAY_ERR_INSUFFICIENT_FUNDS
 * when the wallet holds less. */
static fogpay_error collect__take(fogpay_ledger *l, const fogpay_plan *p,
                                  const fogpay_instalment *in, uint64_t now_ms)
{
    ledger_account wallet;
    fogpay_error err =
        ledger__account_find(l, LEDGER_ACCOUNT_WALLET, p->device_id, p->currency, &wallet);
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK && (wallet.balance < 0 || (uint64_t)wallet.balance < in->amount_minor))) {
        return FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    fogpay_transfer t;
    memset(&t, 0, sizeof t);
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &wallet, in->due_ms, t.payer_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t.kind = FOGPAY_TRANSFER_COLLECTION;
    t.amount_minor = in->amount_minor;
    t.instalment = in->number;
    return ledger__plan_transfer_append(l, p, &wallet, &t, now_ms);
}

/* What a pass found of a plan: late (an instalment late and not
 * collected, the first being first, for reason, owed_minor being every
 * late one) or not; undecided when it stopped at its bound of
 * collections with more late, so that the arrears are left as they are. */
typedef struct collect_scan {
    bool late;
    bool undecided;
    fogpay_error reason;
    fogpay_instalment first;
    uint64_t owed_minor;
    size_t collected;
} collect_scan;

/* The sum of the late instalments of p from number first on. */
static fogpay_error collect__owed(fogpay_ledger *l, const fogpay_plan *p, uint32_t first,
                                  uint64_t now_ms, uint64_t *owed_minor)
{
    uint64_t owed = 0;
    fogpay_error err = FOGPAY_OK;
    for (uint32_t n = first; err == FOGPAY_OK && n <= p->instalment_count; n++) {
        fogpay_instalment in;
        err = ledger__plan_instalment_n(l, p, n, now_ms, &in);
        if (err != FOGPAY_OK || in.due_ms + p->grace_ms > now_ms) {
            break;
        }
        owed += in.amount_minor;
    }
    *owed_minor = owed > FOGPAY_AMOUNT_MAX_MINOR ? FOGPAY_AMOUNT_MAX_MINOR : owed;
    return err;
}

/* Collects what it may of p's late instalments and says what is left. */
static fogpay_error collect__scan(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms,
                                  collect_scan *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t k = 0;; k++) {
        uint32_t paid = 0;
        fogpay_error err = ledger__plan_paid(l, p, &paid);
        if (err != FOGPAY_OK || paid >= p->instalment_count) {
            return err;
        }
        fogpay_instalment in;
        err = ledger__plan_instalment_n(l, p, paid + 1, now_ms, &in);
        if (err != FOGPAY_OK || in.due_ms + p->grace_ms > now_ms) {
            return err;
        }
        if (k == FOGPAY_PLAN_COLLECT_INSTALMENTS && p->collect) {
            out->undecided = true;
            return FOGPAY_OK;
        }
        err = p->collect ? collect__take(l, p, &in, now_ms) : FOGPAY_ERR_COLLECTION_REFUSED;
        if (err == FOGPAY_OK) {
            out->collected++;
            continue;
        }
        if (err != FOGPAY_ERR_INSUFFICIENT_FUNDS && err != FOGPAY_ERR_COLLECTION_REFUSED) {
            return err;
        }
        out->late = true;
        out->reason = err;
        out->first = in;
        return collect__owed(l, p, in.number, now_ms, &out->owed_minor);
    }
}

/* The event of arrears entered (kind 13) or cleared (kind 14). */
static fogpay_error collect__event(fogpay_ledger *l, const fogpay_plan_arrears *a, bool entered,
                                   uint64_t now_ms)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = entered ? FOGPAY_EVENT_ARREARS_ENTERED : FOGPAY_EVENT_ARREARS_CLEARED;
    e.time_ms = now_ms;
    snprintf(e.device_id, sizeof e.device_id, "%s", a->device_id);
    snprintf(e.plan_id, sizeof e.plan_id, "%s", a->plan_id);
    if (entered) {
        snprintf(e.entity_id, sizeof e.entity_id, "%s", a->entity_id);
        e.currency = a->currency;
        e.arrears_minor = a->owed_minor;
    }
    return ledger__event_append(l, &e);
}

/* p enters arrears: the row, its event, and the device suspended when the
 * plan says so and it is active. */
static fogpay_error collect__enter(fogpay_ledger *l, const fogpay_plan *p, const collect_scan *sc,
                                   uint64_t now_ms, fogpay_plan_change *change)
{
    fogpay_plan_arrears a;
    memset(&a, 0, sizeof a);
    snprintf(a.plan_id, sizeof a.plan_id, "%s", p->plan_id);
    snprintf(a.device_id, sizeof a.device_id, "%s", p->device_id);
    fogpay_error err = fogpay_ledger_owner_at(l, p->device_id, sc->first.due_ms, a.entity_id);
    ledger_device_state state;
    if (err == FOGPAY_OK || err == FOGPAY_ERR_NOT_FOUND) {
        err = ledger__device_state(l, p->device_id, &state);
    }
    if (err == FOGPAY_OK && p->shortfall == FOGPAY_PLAN_SHORTFALL_SUSPEND &&
        state.status == FOGPAY_DEVICE_ACTIVE) {
        err = fogpay_ledger_device_suspend_for(l, p->device_id, FOGPAY_ERR_PLAN_ARREARS, now_ms);
        a.suspended = err == FOGPAY_OK;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_INSERT);
    ledger__bind_text(l, s, 1, a.plan_id);
    ledger__bind_text(l, s, 2, a.device_id);
    ledger__bind_text_or_null(l, s, 3, a.entity_id);
    ledger__bind_int64(l, s, 4, p->currency);
    ledger__bind_u64(l, s, 5, sc->first.number);
    ledger__bind_u64(l, s, 6, sc->owed_minor);
    ledger__bind_int64(l, s, 7, sc->reason);
    ledger__bind_int64(l, s, 8, a.suspended ? 1 : 0);
    ledger__bind_u64(l, s, 9, now_ms);
    err = ledger__exec(l, s);
    ledger__hot_forget(l, a.device_id); /* its arrears changed */
    a.currency = p->currency;
    a.owed_minor = sc->owed_minor;
    if (err == FOGPAY_OK) {
        err = collect__event(l, &a, true, now_ms);
    }
    if (err == FOGPAY_OK) {
        *change = (fogpay_plan_change){.entered = true, .suspended = a.suspended};
        snprintf(change->plan_id, sizeof change->plan_id, "%s", a.plan_id);
        snprintf(change->device_id, sizeof change->device_id, "%s", a.device_id);
    }
    return err;
}

/* When arrears that suspended a device end: *resume when no other plan
 * of the device is in arrears; otherwise those keep it suspended and
 * resume it when they are cleared in turn. */
static fogpay_error collect__others(fogpay_ledger *l, const char *device_id, bool *resume)
{
    fogpay_error err = ledger__plan_arrears_of(l, device_id);
    *resume = err == FOGPAY_OK;
    if (err == FOGPAY_ERR_PLAN_ARREARS) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_HAND_OVER);
        ledger__bind_text(l, s, 1, device_id);
        err = ledger__exec(l, s);
    }
    return err;
}

/* Arrears a end: the row cleared, its event, and the device resumed when
 * they suspended it and it is suspended still. */
static fogpay_error collect__clear(fogpay_ledger *l, const fogpay_plan_arrears *a, uint64_t now_ms,
                                   fogpay_plan_change *change)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_CLEAR);
    ledger__bind_u64(l, s, 1, a->id);
    ledger__bind_u64(l, s, 2, now_ms);
    fogpay_error err = ledger__exec(l, s);
    ledger__hot_forget(l, a->device_id); /* its arrears changed */
    if (err == FOGPAY_OK) {
        err = collect__event(l, a, false, now_ms);
    }
    ledger_device_state state;
    if (err == FOGPAY_OK) {
        err = ledger__device_state(l, a->device_id, &state);
    }
    bool resume = err == FOGPAY_OK && a->suspended && state.status == FOGPAY_DEVICE_SUSPENDED;
    if (resume) {
        err = collect__others(l, a->device_id, &resume);
    }
    if (resume) {
        err = fogpay_ledger_device_set_status(l, a->device_id, FOGPAY_DEVICE_ACTIVE, now_ms);
    }
    if (err == FOGPAY_OK) {
        *change = (fogpay_plan_change){.entered = false, .suspended = resume};
        snprintf(change->plan_id, sizeof change->plan_id, "%s", a->plan_id);
        snprintf(change->device_id, sizeof change->device_id, "%s", a->device_id);
    }
    return err;
}

fogpay_error ledger__plan_arrears_end(fogpay_ledger *l, const char *plan_id, uint64_t now_ms,
                                      fogpay_plan_change *change)
{
    bool open = false;
    fogpay_plan_arrears a;
    fogpay_error err = collect__arrears_open(l, plan_id, &open, &a);
    if (err == FOGPAY_OK && open) {
        err = collect__clear(l, &a, now_ms, change);
    }
    return err;
}

/* Whether a pass has anything to do for p: an instalment late, or
 * arrears open (to be cleared, or to stay), read without writing. */
static fogpay_error collect__anything(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms,
                                      bool *act)
{
    uint32_t paid = 0;
    bool open = false;
    fogpay_plan_arrears a;
    fogpay_error err = ledger__plan_paid(l, p, &paid);
    uint64_t due_ms = p->effective_ms + (uint64_t)(paid + 1) * p->period_ms;
    *act = err == FOGPAY_OK && paid < p->instalment_count && due_ms + p->grace_ms <= now_ms;
    if (err == FOGPAY_OK && !*act) {
        err = collect__arrears_open(l, p->plan_id, &open, &a);
        *act = open;
    }
    return err;
}

/* One plan of a pass, in its own operation. */
static fogpay_error collect__plan(fogpay_ledger *l, const char *plan_id, uint64_t now_ms,
                                  fogpay_plan_collect_result *out)
{
    fogpay_plan p;
    fogpay_error err = fogpay_ledger_plan_at(l, plan_id, now_ms, &p, NULL);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK; /* not in effect yet */
    }
    ledger_device_state state;
    if (err == FOGPAY_OK) {
        err = ledger__device_state(l, p.device_id, &state);
    }
    if (err != FOGPAY_OK || p.closed || state.status == FOGPAY_DEVICE_REVOKED) {
        return err;
    }
    bool act = false;
    err = collect__anything(l, &p, now_ms, &act);
    if (err != FOGPAY_OK || !act) {
        return err; /* no write transaction for a plan with nothing to do */
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    collect_scan sc;
    bool open = false;
    fogpay_plan_arrears a;
    err = collect__scan(l, &p, now_ms, &sc);
    if (err == FOGPAY_OK) {
        err = collect__arrears_open(l, p.plan_id, &open, &a);
    }
    fogpay_plan_change change;
    bool changed = err == FOGPAY_OK && !sc.undecided && sc.late != open;
    if (changed) {
        err = sc.late ? collect__enter(l, &p, &sc, now_ms, &change)
                      : collect__clear(l, &a, now_ms, &change);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        out->collected += sc.collected;
        if (changed && out->change_count < FOGPAY_PLAN_COLLECT_PER_TICK) {
            out->changes[out->change_count++] = change;
        }
        if ((changed || sc.collected > 0) && out->noticed_count < FOGPAY_PLAN_COLLECT_PER_TICK) {
            memcpy(out->noticed[out->noticed_count++], p.plan_id, sizeof p.plan_id);
        }
    }
    return err;
}

/* The next page of the ids of plans open at now (none closed, or closed
 * from a later time) after `after`, up to cap. */
static fogpay_error collect__page(fogpay_ledger *l, const char *after, uint64_t now_ms,
                                  char ids[][FOGPAY_PLAN_ID_MAX + 1], size_t cap, size_t *count)
{
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PLAN_OPEN_PAGE);
    ledger__bind_text(l, s, 1, after);
    ledger__bind_u64(l, s, 2, cap);
    ledger__bind_u64(l, s, 3, now_ms);
    int rc;
    *count = 0;
    while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW && *count < cap) {
        if (!ledger__column_text(s, 0, ids[*count], FOGPAY_PLAN_ID_MAX + 1)) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
        (*count)++;
    }
    if (err == FOGPAY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    ledger__read_end(l, own);
    return err;
}

fogpay_error fogpay_ledger_plan_collect(fogpay_ledger *l, const char *after, uint64_t now_ms,
                                        fogpay_plan_collect_result *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof *out); /* a refused pass did nothing, and starts again */
    }
    if (l == NULL || after == NULL || out == NULL || now_ms == 0 || now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    char ids[FOGPAY_PLAN_COLLECT_PER_TICK][FOGPAY_PLAN_ID_MAX + 1];
    size_t count = 0;
    fogpay_error err = collect__page(l, after, now_ms, ids, FOGPAY_PLAN_COLLECT_PER_TICK, &count);
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        err = collect__plan(l, ids[i], now_ms, out);
        /* A plan that fails is passed over by the next pass. */
        memcpy(out->after, ids[i], sizeof out->after);
        out->plans++;
    }
    if (err == FOGPAY_OK && count < FOGPAY_PLAN_COLLECT_PER_TICK) {
        out->after[0] = '\0'; /* the last page: the next pass starts again */
    }
    return err;
}

fogpay_error fogpay_ledger_plan_arrears_list(fogpay_ledger *l, const char *device_id,
                                             bool open_only, fogpay_plan_arrears_visit visit,
                                             void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ARREARS_LIST);
    ledger__bind_text_or_null(l, s, 1, device_id);
    ledger__bind_int64(l, s, 2, open_only ? 1 : 0);
    ledger__bind_u64(l, s, 3, FOGPAY_TRANSFER_LIST_MAX);
    int rc;
    while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW) {
        fogpay_plan_arrears a;
        err = collect__arrears_read(s, &a);
        if (err == FOGPAY_OK && visit(ctx, &a) != 0) {
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
