/*
 * ledger_hold.c - holds (conditional payments): keeping a hold made by an
 * authorisation, and resolving it exactly once by a capture, a void or
 * its expiry.
 *
 * Design. A hold is the authorisation's transfer (kind 5, made by
 * ledger_settle.c from an intent with hold_s) plus a row of the holds
 * table naming its parties, amount, expiry and state. Resolving it checks
 * every rule against the hold before anything is written (ledger.h lists
 * them in order, each with its own reason), then appends the resolving
 * transfers from the currency's holds account and marks the row resolved,
 * as one operation: a savepoint inside the caller's transaction or a
 * transaction of its own, so a refusal or a fault moves nothing. The
 * schema lets a row be resolved once (holds_resolve_once), so a second
 * resolution cannot slip past these checks either. Readings of a meter
 * bound with the hold are charged from it while it is open
 * (ledger_hold_charge.c); the row keeps their total (charged_minor), and a
 * resolution moves only the rest, the amount less that total.
 *
 * Hot state. The open holds are held in memory (ledger_hot_holds), loaded
 * with one SELECT on first use and changed only right after the statement
 * that changed their row, journaled like the rest of the hot state so a
 * rolled-back savepoint restores them; a resolution reads no row. A
 * resolved hold is read from the database (it is only ever refused). The
 * holds accounts' ids are remembered per currency, forgotten on any undo.
 *
 * Ownership. The entries are the hot state's (ledger_hot.c frees them);
 * outputs are copied into the caller's structs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

#define HOLD_COLUMNS                                                                               \
    "position, payer_device, payer_account, payee_device, payee_account, amount_minor, "           \
    "currency, expires_ms, state, captured_minor, resolved_position, charged_minor"

const ledger_stmt_sql ledger_hold__sql[] = {
    {LEDGER_STMT_HOLD_INSERT,
     "INSERT INTO holds (position, payer_device, payer_account, payee_device, payee_account, "
     "amount_minor, currency, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {LEDGER_STMT_HOLD_RESOLVE,
     "UPDATE holds SET state = ?2, captured_minor = ?3, resolved_position = ?4 "
     "WHERE position = ?1 AND state = 0"},
    {LEDGER_STMT_HOLD_GET, "SELECT " HOLD_COLUMNS " FROM holds WHERE position = ?1"},
    {LEDGER_STMT_HOLD_CHARGED,
     "UPDATE holds SET charged_minor = ?2 WHERE position = ?1 AND state = 0"},
    {LEDGER_STMT_HOLD_LAST_CHARGE,
     "SELECT coalesce(max(position), 0) FROM transfers WHERE related_position = ?1 AND kind = 18"},
    {LEDGER_STMT_HOLD_OPEN, "SELECT " HOLD_COLUMNS " FROM holds WHERE state = 0 ORDER BY position"},
    {LEDGER_STMT_HOLD_LIST,
     "SELECT " HOLD_COLUMNS " FROM holds WHERE position > ?1 AND (?2 = 0 OR state = 0) "
     "AND (?3 IS NULL OR payer_device = ?3 OR payee_device = ?3) ORDER BY position LIMIT ?4"},
};
const size_t ledger_hold__sql_count = sizeof ledger_hold__sql / sizeof ledger_hold__sql[0];

/* Not in the hot table. */
#define HOLD_NOT_HOT SIZE_MAX

/* Reads a hold row (HOLD_COLUMNS from column 0). */
static fogpay_error hold__read(sqlite3_stmt *s, fogpay_hold *h)
{
    memset(h, 0, sizeof *h);
    int64_t v[] = {sqlite3_column_int64(s, 0),  sqlite3_column_int64(s, 2),
                   sqlite3_column_int64(s, 4),  sqlite3_column_int64(s, 5),
                   sqlite3_column_int64(s, 6),  sqlite3_column_int64(s, 7),
                   sqlite3_column_int64(s, 8),  sqlite3_column_int64(s, 9),
                   sqlite3_column_int64(s, 10), sqlite3_column_int64(s, 11)};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i] < 0) {
            return FOGPAY_ERR_LEDGER_CORRUPT;
        }
    }
    if (!ledger__column_text(s, 1, h->payer_device, sizeof h->payer_device) ||
        !ledger__column_text(s, 3, h->payee_device, sizeof h->payee_device) || v[4] < 1 ||
        v[4] > FOGPAY_CURRENCY_MAX || v[6] > FOGPAY_HOLD_EXPIRED || v[9] > v[3]) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    h->id = (uint64_t)v[0];
    h->payer_account = (uint64_t)v[1];
    h->payee_account = (uint64_t)v[2];
    h->amount_minor = (uint64_t)v[3];
    h->currency = (uint16_t)v[4];
    h->expires_ms = (uint64_t)v[5];
    h->state = (uint8_t)v[6];
    h->captured_minor = (uint64_t)v[7];
    h->resolved_position = (uint64_t)v[8];
    h->charged_minor = (uint64_t)v[9];
    return FOGPAY_OK;
}

/* Loads the open holds into the hot state on first use. */
static fogpay_error hold__load(fogpay_ledger *l)
{
    ledger_hot_holds *hh = &l->hot.holds;
    if (hh->loaded) {
        return FOGPAY_OK;
    }
    if (hh->entries == NULL) {
        hh->entries = malloc(FOGPAY_HOLDS_OPEN_MAX * sizeof *hh->entries);
        if (hh->entries == NULL) {
            return FOGPAY_ERR_NO_MEMORY;
        }
    }
    hh->count = 0;
    hh->open = 0;
    hh->account_count = 0;
    hh->earliest_expiry_ms = UINT64_MAX;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_OPEN);
    fogpay_error err = FOGPAY_OK;
    int rc;
    while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW) {
        if (hh->count == FOGPAY_HOLDS_OPEN_MAX) {
            err = FOGPAY_ERR_LEDGER_CORRUPT; /* more open holds than may be made */
            break;
        }
        fogpay_hold *h = &hh->entries[hh->count];
        err = hold__read(s, h);
        if (err == FOGPAY_OK) {
            hh->count++;
            hh->open++;
            hh->earliest_expiry_ms =
                h->expires_ms < hh->earliest_expiry_ms ? h->expires_ms : hh->earliest_expiry_ms;
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    hh->loaded = err == FOGPAY_OK;
    return err;
}

/* The index of hold id in the hot table, or HOLD_NOT_HOT. */
static size_t hold__index(const ledger_hot_holds *hh, uint64_t id)
{
    size_t lo = 0;
    size_t hi = hh->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hh->entries[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < hh->count && hh->entries[lo].id == id ? lo : HOLD_NOT_HOT;
}

/* What hold h still holds: its amount less what readings charged from it. */
static uint64_t hold__rest(const fogpay_hold *h)
{
    return h->amount_minor - h->charged_minor;
}

/* Hold id from the hot table (*index set) or, when it is not open, the
 * database (*index HOLD_NOT_HOT). FOGPAY_ERR_NOT_FOUND when none. */
static fogpay_error hold__find(fogpay_ledger *l, uint64_t id, fogpay_hold *out, size_t *index)
{
    fogpay_error err = hold__load(l);
    if (err != FOGPAY_OK) {
        return err;
    }
    *index = hold__index(&l->hot.holds, id);
    if (*index != HOLD_NOT_HOT) {
        *out = l->hot.holds.entries[*index];
        return FOGPAY_OK;
    }
    if (id == 0 || id > LEDGER_INT_MAX) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_GET);
    ledger__bind_u64(l, s, 1, id);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        err = hold__read(s, out);
    } else {
        err = rc == SQLITE_DONE ? FOGPAY_ERR_NOT_FOUND : ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__hold_find(fogpay_ledger *l, uint64_t id, fogpay_hold *out, size_t *index)
{
    return hold__find(l, id, out, index);
}

/* The holds account of currency, created on first use. */
static fogpay_error hold__account(fogpay_ledger *l, uint16_t currency, uint64_t *account)
{
    ledger_hot_holds *hh = &l->hot.holds;
    for (size_t i = 0; i < hh->account_count; i++) {
        if (hh->account_currency[i] == currency) {
            *account = hh->account_id[i];
            return FOGPAY_OK;
        }
    }
    ledger_account a;
    fogpay_error err = ledger__account_ensure(l, LEDGER_ACCOUNT_HOLDS, NULL, currency, &a);
    if (err == FOGPAY_OK) {
        *account = a.id;
        if (hh->account_count < LEDGER_HOT_HOLD_ACCOUNTS) {
            hh->account_currency[hh->account_count] = currency;
            hh->account_id[hh->account_count++] = a.id;
        }
    }
    return err;
}

fogpay_error ledger__hold_room(fogpay_ledger *l)
{
    fogpay_error err = hold__load(l);
    /* Resolved entries leave the table at the next commit. */
    if (err == FOGPAY_OK && l->hot.holds.count >= FOGPAY_HOLDS_OPEN_MAX) {
        err = FOGPAY_ERR_HOLD_TOO_MANY;
    }
    return err;
}

/* Marks the hot entry at index (HOLD_NOT_HOT: none) resolved as h says,
 * journaled first. */
static void hold__hot_resolved(fogpay_ledger *l, size_t index, const fogpay_hold *h)
{
    ledger_hot_holds *hh = &l->hot.holds;
    if (index == HOLD_NOT_HOT) {
        return;
    }
    ledger__hot_hold_journal(l, index);
    hh->entries[index] = *h;
    hh->open--;
}

fogpay_error ledger__hold_add_charge(fogpay_ledger *l, fogpay_hold *h, size_t index,
                                     uint64_t charge_minor)
{
    if (index == HOLD_NOT_HOT || h->state != FOGPAY_HOLD_OPEN || charge_minor > hold__rest(h)) {
        return FOGPAY_ERR_LEDGER_CORRUPT; /* the caller checked the hold is open and holds it */
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_CHARGED);
    ledger__bind_u64(l, s, 1, h->id);
    ledger__bind_u64(l, s, 2, h->charged_minor + charge_minor);
    fogpay_error err = ledger__exec(l, s);
    if (err == FOGPAY_OK && sqlite3_changes(l->db) != 1) {
        err = FOGPAY_ERR_LEDGER_CORRUPT; /* open in memory, not in the database */
    }
    if (err == FOGPAY_OK) {
        ledger__hot_hold_journal(l, index);
        h->charged_minor += charge_minor;
        l->hot.holds.entries[index] = *h;
    }
    return err;
}

fogpay_error ledger__hold_insert(fogpay_ledger *l, const fogpay_transfer *t,
                                 const char *payee_device, uint64_t payee_account,
                                 uint64_t expires_ms)
{
    fogpay_error err = ledger__hold_room(l);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_INSERT);
    ledger__bind_u64(l, s, 1, t->position);
    ledger__bind_text(l, s, 2, t->device_id);
    ledger__bind_u64(l, s, 3, t->debit_account);
    ledger__bind_text_or_null(l, s, 4, payee_device);
    ledger__bind_u64(l, s, 5, payee_account);
    ledger__bind_u64(l, s, 6, t->amount_minor);
    ledger__bind_int64(l, s, 7, t->currency);
    ledger__bind_u64(l, s, 8, expires_ms);
    err = ledger__exec(l, s);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_hot_holds *hh = &l->hot.holds;
    ledger__hot_hold_journal(l, hh->count);
    fogpay_hold *h = &hh->entries[hh->count];
    memset(h, 0, sizeof *h);
    h->id = t->position;
    memcpy(h->payer_device, t->device_id, sizeof h->payer_device);
    h->payer_account = t->debit_account;
    memcpy(h->payee_device, payee_device, strnlen(payee_device, FOGPAY_DEVICE_ID_MAX));
    h->payee_account = payee_account;
    h->amount_minor = t->amount_minor;
    h->currency = t->currency;
    h->expires_ms = expires_ms;
    hh->count++;
    hh->open++;
    if (expires_ms < hh->earliest_expiry_ms) {
        hh->earliest_expiry_ms = expires_ms;
    }
    return FOGPAY_OK;
}

fogpay_error ledger__hold_account(fogpay_ledger *l, uint16_t currency, uint64_t *account)
{
    return hold__account(l, currency, account);
}

fogpay_error ledger__hold_held(fogpay_ledger *l, const char *device_id, uint16_t currency,
                               uint64_t *held_minor)
{
    fogpay_error err = hold__load(l);
    if (err != FOGPAY_OK) {
        return err;
    }
    const ledger_hot_holds *hh = &l->hot.holds;
    uint64_t held = 0;
    for (size_t i = 0; i < hh->count; i++) {
        const fogpay_hold *h = &hh->entries[i];
        if (h->state == FOGPAY_HOLD_OPEN && h->currency == currency &&
            strcmp(h->payer_device, device_id) == 0) {
            held += hold__rest(h);
        }
    }
    *held_minor = held;
    return FOGPAY_OK;
}

/* The refusal of a hold that is not open at now_ms: resolved, or past its
 * expiry and not yet expired by the tick. */
static fogpay_error hold__check_open(const fogpay_hold *h, uint64_t now_ms)
{
    switch (h->state) {
    case FOGPAY_HOLD_CAPTURED:
        return FOGPAY_ERR_HOLD_CAPTURED;
    case FOGPAY_HOLD_VOIDED:
        return FOGPAY_ERR_HOLD_VOIDED;
    case FOGPAY_HOLD_EXPIRED:
        return FOGPAY_ERR_HOLD_EXPIRED;
    default:
        return now_ms >= h->expires_ms ? FOGPAY_ERR_HOLD_EXPIRED : FOGPAY_OK;
    }
}

static bool hold__by_device(const fogpay_hold_actor *actor)
{
    return actor != NULL && actor->device_id != NULL && actor->device_id[0] != '\0';
}

/* Appends one transfer of a hold's resolution: kind, amount_minor from the
 * currency's holds account to credit_account, naming the authorisation,
 * with the device origin of actor when with_origin. The one way money
 * leaves a holds account: a capture's credit is split by the payee's fee
 * schedule in force at now_ms, as a payment's is (ledger__split_append). */
static fogpay_error hold__transfer(fogpay_ledger *l, const fogpay_hold *h, uint8_t kind,
                                   uint64_t credit_account, uint64_t amount_minor,
                                   const fogpay_hold_actor *actor, bool with_origin,
                                   uint64_t now_ms, fogpay_transfer *t)
{
    ledger_account credit;
    memset(t, 0, sizeof *t);
    fogpay_error err = hold__account(l, h->currency, &t->debit_account);
    if (err == FOGPAY_OK) {
        err = ledger__account_get(l, credit_account, &credit);
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &credit, now_ms, t->payee_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = kind;
    t->credit_account = credit_account;
    t->amount_minor = amount_minor;
    t->currency = h->currency;
    t->time_ms = now_ms;
    t->related_position = h->id;
    if (with_origin && hold__by_device(actor) && actor->seq != 0) {
        snprintf(t->device_id, sizeof t->device_id, "%s", actor->device_id);
        t->seq = actor->seq;
        memcpy(t->intent_hash, actor->hash, FOGPAY_HASH_BYTES);
    }
    fogpay_fee_schedule schedule;
    bool fees = false;
    if (kind == FOGPAY_TRANSFER_CAPTURE) {
        err = ledger__fee_schedule_for(l, &credit, h->currency, now_ms, &schedule, &fees);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return ledger__split_append(l, t, fees ? &schedule : NULL, NULL);
}

/* Marks the row of h resolved (state, captured, by position) and its hot
 * entry. */
static fogpay_error hold__resolve(fogpay_ledger *l, fogpay_hold *h, size_t index, uint8_t state,
                                  uint64_t captured_minor, uint64_t position)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_RESOLVE);
    ledger__bind_u64(l, s, 1, h->id);
    ledger__bind_int64(l, s, 2, state);
    ledger__bind_u64(l, s, 3, captured_minor);
    ledger__bind_u64(l, s, 4, position);
    fogpay_error err = ledger__exec(l, s);
    if (err == FOGPAY_OK && sqlite3_changes(l->db) != 1) {
        err = FOGPAY_ERR_LEDGER_CORRUPT; /* open in memory, not in the database */
    }
    if (err == FOGPAY_OK) {
        h->state = state;
        h->captured_minor = captured_minor;
        h->resolved_position = position;
        hold__hot_resolved(l, index, h);
    }
    return err;
}

/* The checks of a capture, in ledger.h's order. */
static fogpay_error hold__check_capture(fogpay_ledger *l, const fogpay_hold *h,
                                        uint64_t amount_minor, const fogpay_hold_actor *actor,
                                        uint64_t now_ms)
{
    fogpay_error err = hold__check_open(h, now_ms);
    if (err == FOGPAY_OK && hold__by_device(actor)) {
        if (strcmp(actor->device_id, h->payer_device) == 0) {
            err = FOGPAY_ERR_HOLD_PAYER_CAPTURE;
        } else if (strcmp(actor->device_id, h->payee_device) != 0) {
            err = FOGPAY_ERR_HOLD_NOT_PARTY;
        }
    }
    if (err == FOGPAY_OK && amount_minor == 0) {
        err = FOGPAY_ERR_AMOUNT_ZERO;
    }
    if (err == FOGPAY_OK && amount_minor > hold__rest(h)) {
        err = FOGPAY_ERR_HOLD_OVER_AMOUNT; /* what readings charged is taken already */
    }
    uint64_t wallet_max = 0;
    if (err == FOGPAY_OK && h->payee_device[0] != '\0') {
        err = ledger__payee_wallet_max(l, h->payee_device, &wallet_max);
    }
    ledger_account payee;
    if (err == FOGPAY_OK && wallet_max != 0) {
        err = ledger__account_get(l, h->payee_account, &payee);
        if (err == FOGPAY_OK &&
            (payee.balance < 0 || (uint64_t)payee.balance + amount_minor > wallet_max)) {
            err = FOGPAY_ERR_WALLET_MAX;
        }
    }
    return err;
}

static fogpay_error hold__capture_write(fogpay_ledger *l, uint64_t id, uint64_t amount_minor,
                                        const fogpay_hold_actor *actor, uint64_t now_ms,
                                        fogpay_hold_result *r)
{
    fogpay_hold h;
    size_t index = HOLD_NOT_HOT;
    fogpay_error err = hold__find(l, id, &h, &index);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_HOLD_UNKNOWN;
    }
    if (err == FOGPAY_OK) {
        err = hold__check_capture(l, &h, amount_minor, actor, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = hold__transfer(l, &h, FOGPAY_TRANSFER_CAPTURE, h.payee_account, amount_minor, actor,
                             true, now_ms, &r->transfer);
    }
    if (err == FOGPAY_OK && amount_minor < hold__rest(&h)) {
        err = hold__transfer(l, &h, FOGPAY_TRANSFER_RELEASE, h.payer_account,
                             hold__rest(&h) - amount_minor, actor, false, now_ms, &r->release);
    }
    if (err == FOGPAY_OK) {
        err = hold__resolve(l, &h, index, FOGPAY_HOLD_CAPTURED, amount_minor, r->transfer.position);
    }
    return err;
}

static fogpay_error hold__void_write(fogpay_ledger *l, uint64_t id, const fogpay_hold_actor *actor,
                                     uint64_t now_ms, fogpay_hold_result *r)
{
    fogpay_hold h;
    size_t index = HOLD_NOT_HOT;
    fogpay_error err = hold__find(l, id, &h, &index);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_HOLD_UNKNOWN;
    }
    if (err == FOGPAY_OK) {
        err = hold__check_open(&h, now_ms);
    }
    if (err == FOGPAY_OK && hold__by_device(actor) &&
        strcmp(actor->device_id, h.payer_device) != 0 &&
        strcmp(actor->device_id, h.payee_device) != 0) {
        err = FOGPAY_ERR_HOLD_NOT_PARTY;
    }
    if (err == FOGPAY_OK && hold__rest(&h) == 0) {
        err = FOGPAY_ERR_HOLD_INSUFFICIENT; /* readings took it all: its expiry resolves it */
    }
    if (err == FOGPAY_OK) {
        err = hold__transfer(l, &h, FOGPAY_TRANSFER_RELEASE, h.payer_account, hold__rest(&h), actor,
                             true, now_ms, &r->transfer);
    }
    if (err == FOGPAY_OK) {
        err = hold__resolve(l, &h, index, FOGPAY_HOLD_VOIDED, 0, r->transfer.position);
    }
    return err;
}

/* The arguments every resolution shares. */
static fogpay_error hold__check_args(fogpay_ledger *l, const fogpay_hold_actor *actor,
                                     uint64_t now_ms, fogpay_hold_result *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (hold__by_device(actor)) {
        fogpay_error err = ledger__check_device_id(actor->device_id);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (actor->seq > LEDGER_INT_MAX || (actor->seq != 0 && actor->hash == NULL)) {
            return FOGPAY_ERR_INVALID_ARGUMENT;
        }
    }
    return FOGPAY_OK;
}

/* A capture (capture true, of amount_minor) or a void of hold id, as one
 * operation; *out only on success. */
static fogpay_error hold__resolve_op(fogpay_ledger *l, bool capture, uint64_t id,
                                     uint64_t amount_minor, const fogpay_hold_actor *actor,
                                     uint64_t now_ms, fogpay_hold_result *out)
{
    fogpay_error err = hold__check_args(l, actor, now_ms, out);
    ledger_op op;
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, &op);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_hold_result r;
    memset(&r, 0, sizeof r);
    err = capture ? hold__capture_write(l, id, amount_minor, actor, now_ms, &r)
                  : hold__void_write(l, id, actor, now_ms, &r);
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *out = r;
    }
    return err;
}

fogpay_error fogpay_ledger_hold_capture(fogpay_ledger *l, uint64_t id, uint64_t amount_minor,
                                        const fogpay_hold_actor *actor, uint64_t now_ms,
                                        fogpay_hold_result *out)
{
    return hold__resolve_op(l, true, id, amount_minor, actor, now_ms, out);
}

fogpay_error fogpay_ledger_hold_void(fogpay_ledger *l, uint64_t id, const fogpay_hold_actor *actor,
                                     uint64_t now_ms, fogpay_hold_result *out)
{
    return hold__resolve_op(l, false, id, 0, actor, now_ms, out);
}

/* The expiry of h: its rest back to the payer (kind 8) or, when readings
 * charged it all, no transfer, *t naming the last of those charges as
 * the transfer that resolved it. */
static fogpay_error hold__expiry_transfer(fogpay_ledger *l, const fogpay_hold *h, uint64_t now_ms,
                                          fogpay_transfer *t)
{
    if (hold__rest(h) != 0) {
        return hold__transfer(l, h, FOGPAY_TRANSFER_EXPIRY, h->payer_account, hold__rest(h), NULL,
                              false, now_ms, t);
    }
    memset(t, 0, sizeof *t);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_LAST_CHARGE);
    ledger__bind_u64(l, s, 1, h->id);
    fogpay_error err = ledger__scalar(l, s, &t->position);
    return err == FOGPAY_OK && t->position == 0 ? FOGPAY_ERR_LEDGER_CORRUPT : err;
}

/* Expires the due holds of the hot table, at most max; recomputes the
 * earliest expiry of those left open. */
static fogpay_error hold__expire_due(fogpay_ledger *l, uint64_t now_ms, size_t max, size_t *done)
{
    ledger_hot_holds *hh = &l->hot.holds;
    uint64_t earliest = UINT64_MAX;
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; i < hh->count && err == FOGPAY_OK; i++) {
        fogpay_hold h = hh->entries[i];
        if (h.state != FOGPAY_HOLD_OPEN) {
            continue;
        }
        if (h.expires_ms > now_ms || *done == max) {
            earliest = h.expires_ms < earliest ? h.expires_ms : earliest;
            continue;
        }
        fogpay_transfer t;
        err = hold__expiry_transfer(l, &h, now_ms, &t);
        if (err == FOGPAY_OK) {
            err = hold__resolve(l, &h, i, FOGPAY_HOLD_EXPIRED, 0, t.position);
        }
        if (err == FOGPAY_OK) {
            (*done)++;
        }
    }
    if (err == FOGPAY_OK) {
        hh->earliest_expiry_ms = earliest;
    }
    return err;
}

fogpay_error fogpay_ledger_hold_expire(fogpay_ledger *l, uint64_t now_ms, size_t max,
                                       size_t *expired)
{
    if (l == NULL || expired == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *expired = 0;
    fogpay_error err = hold__load(l);
    if (err != FOGPAY_OK || l->hot.holds.earliest_expiry_ms > now_ms || max == 0) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    /* Beginning may have found another connection's commit and emptied
     * the hot state. */
    size_t done = 0;
    err = hold__load(l);
    if (err == FOGPAY_OK) {
        err = hold__expire_due(l, now_ms, max, &done);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *expired = done;
    }
    return err;
}

fogpay_error fogpay_ledger_hold_get(fogpay_ledger *l, uint64_t id, fogpay_hold *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    size_t index = HOLD_NOT_HOT;
    return hold__find(l, id, out, &index);
}

fogpay_error fogpay_ledger_hold_held(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                     uint64_t *held_minor)
{
    if (l == NULL || held_minor == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    return ledger__hold_held(l, device_id, currency, held_minor);
}

fogpay_error fogpay_ledger_hold_list(fogpay_ledger *l, const char *device_id, bool open_only,
                                     uint64_t after_id, uint32_t limit, fogpay_hold_visit visit,
                                     void *ctx)
{
    if (l == NULL || visit == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (limit > FOGPAY_TRANSFER_LIST_MAX || after_id > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_HOLD_LIST);
    ledger__bind_u64(l, s, 1, after_id);
    ledger__bind_int64(l, s, 2, open_only ? 1 : 0);
    ledger__bind_text_or_null(l, s, 3, device_id);
    ledger__bind_int64(l, s, 4, limit == 0 ? FOGPAY_TRANSFER_LIST_MAX : limit);
    fogpay_error err = FOGPAY_OK;
    int rc;
    while ((rc = ledger__step(l, s)) == SQLITE_ROW) {
        fogpay_hold h;
        err = hold__read(s, &h);
        if (err != FOGPAY_OK || visit(ctx, &h) != 0) {
            break;
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}
