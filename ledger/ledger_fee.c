/*
 * ledger_fee.c - fees and splits: the operator's fee schedules, the split
 * of an amount into legs, and the one function that appends a transfer of
 * several legs.
 *
 * Design. A schedule is a row of fee_schedules with its fee legs in
 * fee_schedule_legs and its event (kind 9) on the event chain, written in
 * one operation; they are never changed (schemas/ledger.sql). Everything a
 * schedule can get wrong that is known when it is set (an account that
 * does not exist or is closed, legs of 100% or more, the payee's own
 * account, a time before the latest) is refused then, so a device's payment
 * is refused for a schedule only when something changed since (a fee
 * wallet's device revoked, a fee wallet at its maximum) or the payer is a
 * fee account itself. Settlement reads the schedules from the hot state
 * (ledger_hot.h's fees), loaded once and again after a schedule is written.
 *
 * The split (fogpay_fee_split) is the whole of the arithmetic: each fee leg
 * floor(amount * bp / 10000), the payee's floor(amount * (10000 - sum bp) /
 * 10000), and the remainder, which is less than the number of legs, to the
 * named leg. amount is at most 10^12 and bp under 10^4, so every product is
 * under 10^16 and exact in 64 bits. ledger__split_append applies it to a
 * transfer of any kind.
 *
 * Ownership. The hot state owns the cached schedules (freed with it);
 * outputs are copied into the caller's structs.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_fee__sql[] = {
    {LEDGER_STMT_FEE_SCHEDULE_INSERT,
     "INSERT INTO fee_schedules (payee_device, payee_entity, currency, remainder_leg, "
     "effective_ms, recorded_ms, event_position) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
     "RETURNING id"},
    {LEDGER_STMT_FEE_LEG_INSERT,
     "INSERT INTO fee_schedule_legs (schedule_id, leg, account, basis_points) "
     "VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_FEE_SCHEDULES_ALL,
     "SELECT s.id, s.payee_device, s.payee_entity, s.currency, s.remainder_leg, s.effective_ms, "
     "s.event_position, g.account, g.basis_points FROM fee_schedules AS s "
     "LEFT JOIN fee_schedule_legs AS g ON g.schedule_id = s.id ORDER BY s.id, g.leg"},
};
const size_t ledger_fee__sql_count = sizeof ledger_fee__sql / sizeof ledger_fee__sql[0];

fogpay_error fogpay_fee_split(uint64_t amount_minor, const fogpay_fee_leg *legs, size_t fee_count,
                              uint8_t remainder_leg, uint64_t amounts[FOGPAY_LEGS_MAX])
{
    if (amount_minor == 0) {
        return FOGPAY_ERR_AMOUNT_ZERO;
    }
    if (amount_minor > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    if (fee_count > FOGPAY_LEGS_MAX - 1) {
        return FOGPAY_ERR_FEE_LEGS_TOO_MANY;
    }
    uint64_t fee_bp = 0;
    for (size_t i = 0; i < fee_count; i++) {
        if (legs[i].basis_points == 0) {
            return FOGPAY_ERR_FEE_LEG_ZERO;
        }
        if (legs[i].basis_points >= FOGPAY_BASIS_POINTS) {
            return FOGPAY_ERR_FEE_OVER_TOTAL;
        }
        fee_bp += legs[i].basis_points;
    }
    if (fee_bp >= FOGPAY_BASIS_POINTS) {
        return FOGPAY_ERR_FEE_OVER_TOTAL;
    }
    if (remainder_leg > fee_count) {
        return FOGPAY_ERR_FEE_REMAINDER_LEG;
    }
    uint64_t sum = amounts[0] = amount_minor * (FOGPAY_BASIS_POINTS - fee_bp) / FOGPAY_BASIS_POINTS;
    for (size_t i = 0; i < fee_count; i++) {
        amounts[i + 1] = amount_minor * legs[i].basis_points / FOGPAY_BASIS_POINTS;
        sum += amounts[i + 1];
    }
    amounts[remainder_leg] += amount_minor - sum;
    return FOGPAY_OK;
}

/* The cache of schedules. */

static fogpay_error fee__cache_add(ledger_hot *h, const fogpay_fee_schedule *schedule)
{
    if (h->fee_count == h->fee_cap) {
        size_t cap = h->fee_cap == 0 ? 16 : h->fee_cap * 2;
        fogpay_fee_schedule *grown = NULL;
        if (cap <= LEDGER_FEE_SCHEDULES_MAX) {
            grown = realloc(h->fees, cap * sizeof *grown);
        }
        if (grown == NULL) {
            return FOGPAY_ERR_NO_MEMORY;
        }
        h->fees = grown;
        h->fee_cap = cap;
    }
    h->fees[h->fee_count++] = *schedule;
    return FOGPAY_OK;
}

/* Reads the current row's schedule columns into out (its legs empty). */
static bool fee__row(sqlite3_stmt *s, fogpay_fee_schedule *out)
{
    memset(out, 0, sizeof *out);
    int64_t currency = sqlite3_column_int64(s, 3);
    int64_t remainder = sqlite3_column_int64(s, 4);
    int64_t effective = sqlite3_column_int64(s, 5);
    int64_t event = sqlite3_column_int64(s, 6);
    out->currency = (uint16_t)currency;
    out->remainder_leg = (uint8_t)remainder;
    out->effective_ms = (uint64_t)effective;
    out->event_position = (uint64_t)event;
    return ledger__column_text(s, 1, out->payee_device, sizeof out->payee_device) &&
           ledger__column_text(s, 2, out->payee_entity, sizeof out->payee_entity) &&
           currency >= FOGPAY_CURRENCY_MIN && currency <= FOGPAY_CURRENCY_MAX && remainder >= 0 &&
           remainder < FOGPAY_LEGS_MAX && effective >= 1 && event >= 1;
}

/* Adds the current row's fee leg (none: a NULL account) to schedule. */
static bool fee__row_leg(sqlite3_stmt *s, fogpay_fee_schedule *schedule)
{
    if (sqlite3_column_type(s, 7) == SQLITE_NULL) {
        return true;
    }
    int64_t account = sqlite3_column_int64(s, 7);
    int64_t bp = sqlite3_column_int64(s, 8);
    if (schedule->leg_count >= FOGPAY_LEGS_MAX - 1 || account < 1 || bp < 1 ||
        bp >= (int64_t)FOGPAY_BASIS_POINTS) {
        return false;
    }
    schedule->legs[schedule->leg_count++] = (fogpay_fee_leg){(uint64_t)account, (uint64_t)bp};
    return true;
}

/* The order of the cache: by payee, currency, effective time, and the
 * order they were set (their events'), so that a payee's schedules in a
 * currency are one run with the one in force last among those in effect. */
static int fee__order(const fogpay_fee_schedule *a, const char *device, const char *entity,
                      uint16_t currency, uint64_t effective_ms, uint64_t event_position)
{
    int c = strcmp(a->payee_device, device);
    if (c == 0) {
        c = strcmp(a->payee_entity, entity);
    }
    if (c == 0 && a->currency != currency) {
        c = a->currency < currency ? -1 : 1;
    }
    if (c == 0 && a->effective_ms != effective_ms) {
        c = a->effective_ms < effective_ms ? -1 : 1;
    }
    if (c == 0 && a->event_position != event_position) {
        c = a->event_position < event_position ? -1 : 1;
    }
    return c;
}

static int fee__compare(const void *x, const void *y)
{
    const fogpay_fee_schedule *b = y;
    return fee__order(x, b->payee_device, b->payee_entity, b->currency, b->effective_ms,
                      b->event_position);
}

/* Loads every schedule into the hot state, one row a leg, and sorts it. */
static fogpay_error fee__load(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    h->fee_count = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_FEE_SCHEDULES_ALL);
    fogpay_error err = FOGPAY_OK;
    fogpay_fee_schedule current;
    int64_t current_id = 0;
    int rc;
    while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        if (id != current_id) {
            if (current_id != 0) {
                err = fee__cache_add(h, &current);
            }
            current_id = id;
            if (err == FOGPAY_OK && !fee__row(s, &current)) {
                err = FOGPAY_ERR_LEDGER_CORRUPT;
            }
        }
        if (err == FOGPAY_OK && !fee__row_leg(s, &current)) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK && current_id != 0) {
        err = fee__cache_add(h, &current);
    }
    if (err == FOGPAY_OK && h->fee_count > 1) {
        qsort(h->fees, h->fee_count, sizeof h->fees[0], fee__compare);
    }
    h->fees_known = err == FOGPAY_OK;
    return err;
}

static fogpay_error fee__cache(fogpay_ledger *l)
{
    return l->hot.fees_known ? FOGPAY_OK : fee__load(l);
}

/* The latest schedule of the payee ("" "": the default) in currency in
 * effect at time_ms, or NULL: the last of the sorted cache at or before
 * (payee, currency, time_ms), found by bisection, when it is the payee's. */
static const fogpay_fee_schedule *fee__latest(const ledger_hot *h, const char *device,
                                              const char *entity, uint16_t currency,
                                              uint64_t time_ms)
{
    size_t low = 0;
    size_t high = h->fee_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (fee__order(&h->fees[mid], device, entity, currency, time_ms, UINT64_MAX) <= 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    if (low == 0) {
        return NULL;
    }
    const fogpay_fee_schedule *f = &h->fees[low - 1];
    bool same = strcmp(f->payee_device, device) == 0 && strcmp(f->payee_entity, entity) == 0 &&
                f->currency == currency;
    return same ? f : NULL;
}

fogpay_error ledger__fee_schedule_for(fogpay_ledger *l, const ledger_account *payee,
                                      uint16_t currency, uint64_t time_ms, fogpay_fee_schedule *out,
                                      bool *found)
{
    *found = false;
    fogpay_error err = fee__cache(l);
    if (err != FOGPAY_OK || l->hot.fee_count == 0) {
        return err;
    }
    const char *device = payee->kind == LEDGER_ACCOUNT_WALLET ? payee->device_id : "";
    const char *entity = payee->kind == LEDGER_ACCOUNT_ENTITY ? payee->entity_id : "";
    const fogpay_fee_schedule *f = NULL;
    if (device[0] != '\0' || entity[0] != '\0') {
        f = fee__latest(&l->hot, device, entity, currency, time_ms);
    }
    if (f == NULL) {
        f = fee__latest(&l->hot, "", "", currency, time_ms);
    }
    if (f != NULL) {
        *out = *f;
        *found = true;
    }
    return FOGPAY_OK;
}

/* A fee leg's account: it exists, is a wallet or an entity account in
 * currency, and a wallet's device is not revoked. *out is the account and
 * *wallet_max_minor its device's wallet maximum (0 none). */
static fogpay_error fee__account(fogpay_ledger *l, uint64_t id, uint16_t currency,
                                 ledger_account *out, uint64_t *wallet_max_minor)
{
    fogpay_error err = ledger__account_get(l, id, out);
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK && (out->kind == LEDGER_ACCOUNT_SYSTEM || out->currency != currency))) {
        return FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN;
    }
    *wallet_max_minor = 0;
    if (err == FOGPAY_OK && out->kind == LEDGER_ACCOUNT_WALLET) {
        ledger_device_state state;
        err = ledger__device_state(l, out->device_id, &state);
        if (err == FOGPAY_OK && state.status == FOGPAY_DEVICE_REVOKED) {
            err = FOGPAY_ERR_FEE_ACCOUNT_CLOSED;
        }
        *wallet_max_minor = state.limits.wallet_max_minor;
    }
    return err;
}

/* Sets t's legs from the split of its amount: the payee's first, then the
 * fee legs in the schedule's order, legs of zero left out. */
static void fee__legs(fogpay_transfer *t, const fogpay_fee_schedule *schedule,
                      const uint64_t amounts[FOGPAY_LEGS_MAX])
{
    uint64_t debit = t->debit_account;
    fogpay_leg legs[FOGPAY_LEGS_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i <= schedule->leg_count; i++) {
        if (amounts[i] != 0) {
            uint64_t credit = i == 0 ? t->credit_account : schedule->legs[i - 1].account;
            legs[count++] = (fogpay_leg){debit, credit, amounts[i]};
        }
    }
    t->credit_account = legs[0].credit_account;
    t->amount_minor = legs[0].amount_minor;
    t->leg_count = (uint8_t)(count - 1);
    memcpy(t->legs, &legs[1], (count - 1) * sizeof legs[0]);
}

/* The checks of a fee leg at settlement (see ledger__split_append). */
static fogpay_error fee__check_leg(fogpay_ledger *l, const fogpay_transfer *t, fogpay_leg leg)
{
    ledger_account account;
    uint64_t wallet_max = 0;
    fogpay_error err = fee__account(l, leg.credit_account, t->currency, &account, &wallet_max);
    if (err == FOGPAY_OK && leg.credit_account == leg.debit_account) {
        err = FOGPAY_ERR_FEE_LEG_PAYER;
    }
    if (err == FOGPAY_OK && wallet_max != 0 &&
        (account.balance < 0 || (uint64_t)account.balance + leg.amount_minor > wallet_max)) {
        err = FOGPAY_ERR_FEE_WALLET_MAX;
    }
    return err;
}

fogpay_error ledger__split_append(fogpay_ledger *l, fogpay_transfer *t,
                                  const fogpay_fee_schedule *schedule, int64_t *debit_balance)
{
    t->leg_count = 0;
    if (schedule == NULL || schedule->leg_count == 0) {
        return ledger__transfer_append(l, t, debit_balance);
    }
    uint64_t amounts[FOGPAY_LEGS_MAX];
    fogpay_error err = fogpay_fee_split(t->amount_minor, schedule->legs, schedule->leg_count,
                                        schedule->remainder_leg, amounts);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer split = *t;
    fee__legs(&split, schedule, amounts);
    for (uint32_t i = 0; i <= split.leg_count && err == FOGPAY_OK; i++) {
        fogpay_leg leg = fogpay_transfer_leg(&split, i);
        if (leg.credit_account != t->credit_account) {
            err = fee__check_leg(l, &split, leg);
        }
    }
    if (err == FOGPAY_OK) {
        err = ledger__transfer_append(l, &split, debit_balance);
    }
    if (err == FOGPAY_OK) {
        *t = split;
    }
    return err;
}

/* Setting a schedule. */

/* The payee's account in the schedule's currency, if it has one (id 0
 * otherwise, and for the default): a fee leg may not credit it. */
static fogpay_error fee__payee(fogpay_ledger *l, const fogpay_fee_schedule *f,
                               ledger_account *payee)
{
    memset(payee, 0, sizeof *payee);
    fogpay_error err = FOGPAY_OK;
    if (f->payee_device[0] != '\0') {
        ledger_device_state state;
        err = ledger__device_state(l, f->payee_device, &state);
        if (err == FOGPAY_OK) {
            err =
                ledger__account_find(l, LEDGER_ACCOUNT_WALLET, f->payee_device, f->currency, payee);
            err = err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_OK : err;
        }
    } else if (f->payee_entity[0] != '\0') {
        err = ledger__entity_exists(l, f->payee_entity);
        if (err == FOGPAY_OK) {
            err = ledger__account_find_db(l, LEDGER_ACCOUNT_ENTITY, f->payee_entity, f->currency,
                                          payee);
            err = err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_OK : err;
        }
    }
    return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_UNKNOWN_PAYEE : err;
}

/* Everything that can be checked of a schedule before it is written. */
static fogpay_error fee__check_schedule(fogpay_ledger *l, const fogpay_fee_schedule *f,
                                        uint64_t now_ms)
{
    if (memchr(f->payee_device, '\0', sizeof f->payee_device) == NULL ||
        memchr(f->payee_entity, '\0', sizeof f->payee_entity) == NULL ||
        (f->payee_device[0] != '\0' && f->payee_entity[0] != '\0') ||
        f->currency < FOGPAY_CURRENCY_MIN || f->currency > FOGPAY_CURRENCY_MAX ||
        f->effective_ms == 0 || f->effective_ms > LEDGER_INT_MAX || now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t amounts[FOGPAY_LEGS_MAX];
    fogpay_error err =
        fogpay_fee_split(FOGPAY_AMOUNT_MAX_MINOR, f->legs, f->leg_count, f->remainder_leg, amounts);
    ledger_account payee;
    if (err == FOGPAY_OK) {
        err = fee__payee(l, f, &payee);
    }
    if (err == FOGPAY_OK) {
        err = fee__cache(l);
    }
    for (uint32_t i = 0; i < f->leg_count && err == FOGPAY_OK; i++) {
        ledger_account account;
        uint64_t wallet_max = 0;
        err = fee__account(l, f->legs[i].account, f->currency, &account, &wallet_max);
        if (err == FOGPAY_OK && account.id == payee.id) {
            err = FOGPAY_ERR_FEE_LEG_PAYEE;
        }
    }
    if (err == FOGPAY_OK && l->hot.fee_count >= LEDGER_FEE_SCHEDULES_MAX) {
        ledger__note(l, "the ledger holds as many fee schedules as it keeps in memory");
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    const fogpay_fee_schedule *latest = NULL;
    if (err == FOGPAY_OK) {
        latest = fee__latest(&l->hot, f->payee_device, f->payee_entity, f->currency, UINT64_MAX);
    }
    if (latest != NULL && f->effective_ms < latest->effective_ms) {
        err = FOGPAY_ERR_FEE_NOT_IN_ORDER;
    }
    return err;
}

/* The writes of a checked schedule, inside an operation: the event first,
 * whose position the row keeps, then the row and its legs. */
static fogpay_error fee__write(fogpay_ledger *l, const fogpay_fee_schedule *f, uint64_t now_ms,
                               uint64_t *event_position)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = FOGPAY_EVENT_FEE_SCHEDULE;
    e.time_ms = now_ms;
    memcpy(e.device_id, f->payee_device, sizeof e.device_id);
    memcpy(e.entity_id, f->payee_entity, sizeof e.entity_id);
    e.effective_ms = f->effective_ms;
    e.fee_currency = f->currency;
    e.fee_leg_count = f->leg_count;
    memcpy(e.fee_legs, f->legs, sizeof e.fee_legs);
    e.fee_remainder = f->remainder_leg;
    fogpay_error err = ledger__event_append(l, &e);
    uint8_t hash[FOGPAY_HASH_BYTES];
    if (err == FOGPAY_OK) {
        err = ledger__event_head(l, event_position, hash);
    }
    int64_t id = 0;
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_FEE_SCHEDULE_INSERT);
        ledger__bind_text_or_null(l, s, 1, f->payee_device);
        ledger__bind_text_or_null(l, s, 2, f->payee_entity);
        ledger__bind_int64(l, s, 3, f->currency);
        ledger__bind_int64(l, s, 4, f->remainder_leg);
        ledger__bind_u64(l, s, 5, f->effective_ms);
        ledger__bind_u64(l, s, 6, now_ms);
        ledger__bind_u64(l, s, 7, *event_position);
        int rc = ledger__step(l, s);
        if (rc == SQLITE_ROW) {
            id = sqlite3_column_int64(s, 0);
            err = ledger__complete(l, s);
        } else {
            err = ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        }
        ledger__finish(s);
    }
    for (uint32_t i = 0; i < f->leg_count && err == FOGPAY_OK; i++) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_FEE_LEG_INSERT);
        ledger__bind_int64(l, s, 1, id);
        ledger__bind_int64(l, s, 2, (int64_t)i + 1);
        ledger__bind_u64(l, s, 3, f->legs[i].account);
        ledger__bind_u64(l, s, 4, f->legs[i].basis_points);
        err = ledger__exec(l, s);
    }
    return err;
}

fogpay_error fogpay_ledger_fee_schedule_set(fogpay_ledger *l, const fogpay_fee_schedule *schedule,
                                            uint64_t now_ms, uint64_t *event_position)
{
    if (l == NULL || schedule == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    ledger_op op;
    fogpay_error err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint64_t position = 0;
    err = fee__check_schedule(l, schedule, now_ms);
    if (err == FOGPAY_OK) {
        err = fee__write(l, schedule, now_ms, &position);
    }
    if (err == FOGPAY_OK) {
        ledger__hot_fees_changed(l);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK && event_position != NULL) {
        *event_position = position;
    }
    return err;
}

fogpay_error fogpay_ledger_fee_schedule_list(fogpay_ledger *l, fogpay_fee_schedule_visit visit,
                                             void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err == FOGPAY_OK) {
        err = fee__cache(l);
    }
    for (size_t i = 0; err == FOGPAY_OK && i < l->hot.fee_count; i++) {
        if (visit(ctx, &l->hot.fees[i]) != 0) {
            break;
        }
    }
    ledger__read_end(l, own);
    return err;
}
