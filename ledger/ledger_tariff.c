/*
 * ledger_tariff.c - tariffs and meter bindings: defining a tariff's
 * versions, finding the one that applies, binding a device's meter to a
 * tariff, and the binding's stored settlement state (ledger_meter.c moves
 * it with each settled reading).
 *
 * Design. A tariff is append-only and effective-dated as ownership is: a
 * new version never starts before the latest, and none is changed or
 * deleted (the table's triggers refuse it). A binding is a new row each
 * time, the meter's being its highest id; its settlement state (last
 * settled reading, carry, the tariff version the carry is counted in) is
 * the one part of a row that changes. Each definition and binding appends
 * its event (kinds 7 and 8) in the same operation, so it goes upstream
 * with the event chain. What a settlement reads of them is held in the hot
 * state (ledger_hot.c): the binding with the device's entry, the tariff
 * version with the binding; a definition forgets every tariff held there.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_tariff__sql[] = {
    {LEDGER_STMT_TARIFF_INSERT,
     "INSERT INTO tariffs (tariff_id, effective_ms, device_id, payee_entity, unit, price_num, "
     "price_den, minimum_minor, currency, created_ms) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {LEDGER_STMT_TARIFF_LATEST,
     "SELECT max(effective_ms), min(effective_ms) FROM tariffs WHERE tariff_id = ?1"},
    {LEDGER_STMT_TARIFF_AT,
     "SELECT tariff_id, effective_ms, device_id, payee_entity, unit, price_num, price_den, "
     "minimum_minor, currency, (SELECT min(n.effective_ms) FROM tariffs AS n "
     "WHERE n.tariff_id = ?1 AND n.effective_ms > ?2) FROM tariffs WHERE tariff_id = ?1 "
     "AND effective_ms <= ?2 ORDER BY effective_ms DESC LIMIT 1"},
    {LEDGER_STMT_BINDING_INSERT,
     "INSERT INTO meter_bindings (device_id, meter_id, tariff_id, seq, hash, bound_ms, "
     "last_quantity, carry, version_ms, hold_position) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8) RETURNING id"},
    {LEDGER_STMT_BINDING_LATEST,
     "SELECT id, tariff_id, last_quantity, carry, version_ms, hold_position FROM meter_bindings "
     "WHERE device_id = ?1 AND meter_id = ?2 ORDER BY id DESC LIMIT 1"},
    {LEDGER_STMT_BINDING_STATE_SET,
     "UPDATE meter_bindings SET last_quantity = ?2, carry = ?3, version_ms = ?4 WHERE id = ?1"},
};
const size_t ledger_tariff__sql_count = sizeof ledger_tariff__sql / sizeof ledger_tariff__sql[0];

/* The fields of a tariff version, as the table's CHECKs and the event
 * record need them. */
static fogpay_error tariff__check(const fogpay_tariff *t, uint64_t now_ms)
{
    if (memchr(t->tariff_id, '\0', sizeof t->tariff_id) == NULL ||
        memchr(t->device_id, '\0', sizeof t->device_id) == NULL ||
        memchr(t->payee_entity, '\0', sizeof t->payee_entity) == NULL ||
        memchr(t->unit, '\0', sizeof t->unit) == NULL) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_error err = ledger__check_id(t->tariff_id, FOGPAY_TARIFF_ID_MAX);
    if (err == FOGPAY_OK) {
        err = ledger__check_id(t->unit, FOGPAY_UNIT_MAX);
    }
    if (err == FOGPAY_OK) {
        err = ledger__check_device_id(t->device_id);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (t->price_num == 0 || t->price_num > LEDGER_INT_MAX || t->price_den == 0 ||
        t->price_den > LEDGER_INT_MAX || t->minimum_minor > FOGPAY_AMOUNT_MAX_MINOR ||
        t->currency < FOGPAY_CURRENCY_MIN || t->currency > FOGPAY_CURRENCY_MAX ||
        t->effective_ms == 0 || t->effective_ms > LEDGER_INT_MAX || now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* The tariff's latest and first effective times (0, 0: not defined). */
static fogpay_error tariff__span(fogpay_ledger *l, const char *tariff_id, uint64_t *latest_ms,
                                 uint64_t *first_ms)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_TARIFF_LATEST);
    ledger__bind_text(l, s, 1, tariff_id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        *latest_ms = (uint64_t)sqlite3_column_int64(s, 0);
        *first_ms = (uint64_t)sqlite3_column_int64(s, 1);
    } else {
        err = ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    }
    ledger__finish(s);
    return err;
}

static fogpay_error tariff__insert(fogpay_ledger *l, const fogpay_tariff *t, uint64_t now_ms)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_TARIFF_INSERT);
    ledger__bind_text(l, s, 1, t->tariff_id);
    ledger__bind_u64(l, s, 2, t->effective_ms);
    ledger__bind_text(l, s, 3, t->device_id);
    ledger__bind_text_or_null(l, s, 4, t->payee_entity);
    ledger__bind_text(l, s, 5, t->unit);
    ledger__bind_u64(l, s, 6, t->price_num);
    ledger__bind_u64(l, s, 7, t->price_den);
    ledger__bind_u64(l, s, 8, t->minimum_minor);
    ledger__bind_int64(l, s, 9, t->currency);
    ledger__bind_u64(l, s, 10, now_ms);
    return ledger__exec(l, s);
}

/* The event of a tariff version (kind 7). */
static fogpay_error tariff__event(fogpay_ledger *l, const fogpay_tariff *t, uint64_t now_ms)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = FOGPAY_EVENT_TARIFF;
    e.time_ms = now_ms;
    snprintf(e.device_id, sizeof e.device_id, "%s", t->device_id);
    snprintf(e.entity_id, sizeof e.entity_id, "%s", t->payee_entity);
    snprintf(e.unit, sizeof e.unit, "%s", t->unit);
    snprintf(e.tariff_id, sizeof e.tariff_id, "%s", t->tariff_id);
    e.effective_ms = t->effective_ms;
    e.minimum_minor = t->minimum_minor;
    e.currency = t->currency;
    fogpay_error err = fogpay_price_format(t->price_num, t->price_den, e.price);
    return err == FOGPAY_OK ? ledger__event_append(l, &e) : err;
}

/* The parties of a new version: the offering device, the payee entity
 * with its account in the currency; and its place after the latest. */
static fogpay_error tariff__define_checks(fogpay_ledger *l, const fogpay_tariff *t)
{
    ledger_device_state state;
    fogpay_error err = ledger__device_state(l, t->device_id, &state);
    if (err == FOGPAY_OK && t->payee_entity[0] != '\0') {
        ledger_account account;
        err = ledger__entity_exists(l, t->payee_entity);
        if (err == FOGPAY_OK) {
            err = ledger__account_ensure(l, LEDGER_ACCOUNT_ENTITY, t->payee_entity, t->currency,
                                         &account);
        }
    }
    uint64_t latest_ms = 0;
    uint64_t first_ms = 0;
    if (err == FOGPAY_OK) {
        err = tariff__span(l, t->tariff_id, &latest_ms, &first_ms);
    }
    if (err == FOGPAY_OK && t->effective_ms == latest_ms) {
        err = FOGPAY_ERR_EXISTS;
    }
    if (err == FOGPAY_OK && t->effective_ms < latest_ms) {
        ledger__note(l, "a tariff version may not take effect before the tariff's latest one");
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    return err;
}

fogpay_error fogpay_ledger_tariff_define(fogpay_ledger *l, const fogpay_tariff *t, uint64_t now_ms)
{
    if (l == NULL || t == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = tariff__check(t, now_ms);
    if (err == FOGPAY_OK && t->payee_entity[0] != '\0') {
        err = ledger__check_id(t->payee_entity, FOGPAY_ENTITY_ID_MAX);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = tariff__define_checks(l, t);
    if (err == FOGPAY_OK) {
        err = tariff__insert(l, t, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = tariff__event(l, t, now_ms);
    }
    if (err == FOGPAY_OK) {
        ledger__hot_tariffs_changed(l);
    }
    return ledger__op_end(l, &op, err);
}

/* Reads the TARIFF_AT row into out and *until_ms. */
static fogpay_error tariff__read(sqlite3_stmt *s, fogpay_tariff *out, uint64_t *until_ms)
{
    memset(out, 0, sizeof *out);
    int64_t v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = sqlite3_column_int64(s, i == 0 ? 1 : i + 4);
    }
    bool ok = ledger__column_text(s, 0, out->tariff_id, sizeof out->tariff_id) &&
              ledger__column_text(s, 2, out->device_id, sizeof out->device_id) &&
              ledger__column_text(s, 3, out->payee_entity, sizeof out->payee_entity) &&
              ledger__column_text(s, 4, out->unit, sizeof out->unit) && v[0] >= 1 && v[1] >= 1 &&
              v[2] >= 1 && v[3] >= 0 && v[4] >= FOGPAY_CURRENCY_MIN && v[4] <= FOGPAY_CURRENCY_MAX;
    out->effective_ms = (uint64_t)v[0];
    out->price_num = (uint64_t)v[1];
    out->price_den = (uint64_t)v[2];
    out->minimum_minor = (uint64_t)v[3];
    out->currency = (uint16_t)v[4];
    *until_ms = sqlite3_column_type(s, 9) == SQLITE_NULL ? UINT64_MAX
                                                         : (uint64_t)sqlite3_column_int64(s, 9);
    return ok ? FOGPAY_OK : FOGPAY_ERR_LEDGER_CORRUPT;
}

fogpay_error fogpay_ledger_tariff_at(fogpay_ledger *l, const char *tariff_id, uint64_t time_ms,
                                     fogpay_tariff *out, uint64_t *until_ms)
{
    if (l == NULL || tariff_id == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_TARIFF_AT);
    ledger__bind_text(l, s, 1, tariff_id);
    ledger__bind_u64(l, s, 2, time_ms > LEDGER_INT_MAX ? LEDGER_INT_MAX : time_ms);
    int rc = ledger__step(l, s);
    fogpay_tariff t;
    uint64_t until = UINT64_MAX;
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        err = tariff__read(s, &t, &until);
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK && rc == SQLITE_DONE) {
        uint64_t latest_ms = 0;
        uint64_t first_ms = 0;
        err = tariff__span(l, tariff_id, &latest_ms, &first_ms);
        if (err == FOGPAY_OK) {
            err = latest_ms == 0 ? FOGPAY_ERR_TARIFF_UNKNOWN : FOGPAY_ERR_TARIFF_NOT_EFFECTIVE;
        }
    }
    if (err == FOGPAY_OK) {
        *out = t;
        if (until_ms != NULL) {
            *until_ms = until;
        }
    }
    return err;
}

fogpay_error ledger__meter_read_db(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                   fogpay_meter *out)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_BINDING_LATEST);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_text(l, s, 2, meter_id);
    int rc = ledger__step(l, s);
    fogpay_meter m;
    memset(&m, 0, sizeof m);
    fogpay_error err = FOGPAY_ERR_METER_UNKNOWN;
    if (rc == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        int64_t last = sqlite3_column_int64(s, 2);
        int64_t carry = sqlite3_column_int64(s, 3);
        int64_t version = sqlite3_column_int64(s, 4);
        int64_t hold = sqlite3_column_int64(s, 5); /* 0 for NULL: the wallet pays */
        m.has_last = sqlite3_column_type(s, 2) != SQLITE_NULL;
        bool ok = ledger__column_text(s, 1, m.tariff_id, sizeof m.tariff_id) && id >= 1 &&
                  last >= 0 && carry >= 0 && version >= 0 && hold >= 0;
        m.hold_id = (uint64_t)hold;
        m.binding_id = (uint64_t)id;
        m.last_quantity = m.has_last ? (uint64_t)last : 0;
        m.carry = (uint64_t)carry;
        m.version_ms = (uint64_t)version;
        err = ok ? FOGPAY_OK : FOGPAY_ERR_LEDGER_CORRUPT;
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        *out = m;
    }
    return err;
}

fogpay_error ledger__meter_state_write(fogpay_ledger *l, const char *device_id,
                                       const char *meter_id, const fogpay_meter *m)
{
    if (m->last_quantity > LEDGER_INT_MAX || m->carry > LEDGER_INT_MAX ||
        m->version_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_BINDING_STATE_SET);
    ledger__bind_u64(l, s, 1, m->binding_id);
    if (m->has_last) {
        ledger__bind_u64(l, s, 2, m->last_quantity);
    } else {
        ledger__bind_null(l, s, 2);
    }
    ledger__bind_u64(l, s, 3, m->carry);
    ledger__bind_u64(l, s, 4, m->version_ms);
    fogpay_error err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        ledger__hot_meter_set(l, device_id, meter_id, m);
    }
    return err;
}

/* Inserts the binding row (its state from the meter's binding before:
 * the last settled reading, carry 0; the hold hold_id that pays, 0 the
 * wallet) and its event (kind 8, naming the hold). */
static fogpay_error binding__write(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                   const char *tariff_id, uint64_t hold_id, uint64_t seq,
                                   const uint8_t *hash, uint64_t now_ms)
{
    fogpay_meter before;
    fogpay_error err = ledger__meter_read_db(l, device_id, meter_id, &before);
    if (err == FOGPAY_ERR_METER_UNKNOWN) {
        memset(&before, 0, sizeof before);
        err = FOGPAY_OK;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_meter m = {
        .has_last = before.has_last, .last_quantity = before.last_quantity, .hold_id = hold_id};
    snprintf(m.tariff_id, sizeof m.tariff_id, "%s", tariff_id);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_BINDING_INSERT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_text(l, s, 2, meter_id);
    ledger__bind_text(l, s, 3, tariff_id);
    if (hash != NULL) {
        ledger__bind_u64(l, s, 4, seq);
        ledger__bind_blob(l, s, 5, hash, FOGPAY_HASH_BYTES);
    } else {
        ledger__bind_null(l, s, 4);
        ledger__bind_null(l, s, 5);
    }
    ledger__bind_u64(l, s, 6, now_ms);
    if (m.has_last) {
        ledger__bind_u64(l, s, 7, m.last_quantity);
    } else {
        ledger__bind_null(l, s, 7);
    }
    if (hold_id != 0) {
        ledger__bind_u64(l, s, 8, hold_id);
    } else {
        ledger__bind_null(l, s, 8);
    }
    int rc = ledger__step(l, s);
    err = rc == SQLITE_ROW ? FOGPAY_OK : ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    if (err == FOGPAY_OK) {
        m.binding_id = (uint64_t)sqlite3_column_int64(s, 0);
    }
    ledger__finish(s);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger__hot_meter_set(l, device_id, meter_id, &m);
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = FOGPAY_EVENT_METER_BOUND;
    e.time_ms = now_ms;
    snprintf(e.device_id, sizeof e.device_id, "%s", device_id);
    snprintf(e.meter_id, sizeof e.meter_id, "%s", meter_id);
    snprintf(e.tariff_id, sizeof e.tariff_id, "%s", tariff_id);
    e.hold_id = hold_id;
    if (hash != NULL) {
        e.seq = seq;
        memcpy(e.usage_hash, hash, FOGPAY_HASH_BYTES);
    }
    return ledger__event_append(l, &e);
}

/* Who may bind: a known device, not revoked, with a hold (hold_id not 0)
 * of its own and open, to a tariff that applies now and does not pay the
 * device's own wallet, the hold's payee and currency being the tariff's. */
static fogpay_error binding__checks(fogpay_ledger *l, const char *device_id, const char *tariff_id,
                                    uint64_t hold_id, uint64_t now_ms)
{
    ledger_device_state state;
    fogpay_error err = ledger__device_state(l, device_id, &state);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_UNKNOWN_DEVICE;
    }
    if (err == FOGPAY_OK && state.status == FOGPAY_DEVICE_REVOKED) {
        err = FOGPAY_ERR_DEVICE_REVOKED;
    }
    fogpay_hold h;
    if (err == FOGPAY_OK && hold_id != 0) {
        err = ledger__hold_payer_check(l, hold_id, device_id, now_ms, &h, NULL);
    }
    fogpay_tariff t;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_tariff_at(l, tariff_id, now_ms, &t, NULL);
    }
    if (err == FOGPAY_OK && t.payee_entity[0] == '\0' && strcmp(t.device_id, device_id) == 0) {
        err = FOGPAY_ERR_TARIFF_OWN_PAYEE;
    }
    if (err == FOGPAY_OK && hold_id != 0) {
        err = ledger__hold_tariff_check(l, &h, &t);
    }
    return err;
}

fogpay_error fogpay_ledger_meter_bind(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                      const char *tariff_id, uint64_t seq, const uint8_t *hash,
                                      uint64_t now_ms)
{
    return fogpay_ledger_meter_bind_hold(l, device_id, meter_id, tariff_id, 0, seq, hash, now_ms);
}

fogpay_error fogpay_ledger_meter_bind_hold(fogpay_ledger *l, const char *device_id,
                                           const char *meter_id, const char *tariff_id,
                                           uint64_t hold_id, uint64_t seq, const uint8_t *hash,
                                           uint64_t now_ms)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_device_id(device_id);
    if (err == FOGPAY_OK) {
        err = ledger__check_id(meter_id, FOGPAY_METER_ID_MAX);
    }
    if (err == FOGPAY_OK) {
        err = ledger__check_id(tariff_id, FOGPAY_TARIFF_ID_MAX);
    }
    if (err == FOGPAY_OK && ((hash != NULL) != (seq != 0) || seq > LEDGER_INT_MAX || now_ms == 0 ||
                             now_ms > LEDGER_INT_MAX || hold_id > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = binding__checks(l, device_id, tariff_id, hold_id, now_ms);
    if (err == FOGPAY_OK) {
        err = binding__write(l, device_id, meter_id, tariff_id, hold_id, seq, hash, now_ms);
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_meter_get(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                     fogpay_meter *out)
{
    if (l == NULL || device_id == NULL || meter_id == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    bool own = false;
    fogpay_error err = ledger__read_begin(l, &own);
    if (err == FOGPAY_OK) {
        err = ledger__meter_read_db(l, device_id, meter_id, out);
        ledger__read_end(l, own);
    }
    return err;
}
