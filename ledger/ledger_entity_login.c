/*
 * ledger_entity_login.c - legal entities' own logins: a username and a
 * verifier (or a client certificate alone) under which the person or
 * company behind devices logs in to the gateway as itself, and the devices
 * such a login may name (those its entity holds now).
 *
 * Design. A login is a row of entity_logins, created and removed by an
 * operator, each change with an event of kind 10 on the event chain in the
 * same write operation, so the back office learns who may act for an
 * entity. A username is of the id alphabet, like a device id, and never
 * the id of a registered device: the broker tells devices, entities and
 * operators apart by their username alone (plugin/auth.c). The verifier is
 * the slow PBKDF2 scheme of people's passwords (common/fogpay_password.h);
 * a login checks it at about 20 ms, which a person logging in does not
 * notice. Removal deletes the row: a login is no financial record, and
 * its history is its two events.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs and arrays.
 */
#include <stdio.h>
#include <string.h>

#include "fogpay_password.h"
#include "ledger_internal.h"

const ledger_stmt_sql ledger_entity_login__sql[] = {
    {LEDGER_STMT_ENTITY_LOGIN_INSERT,
     "INSERT INTO entity_logins (username, entity_id, password_hash, created_ms) "
     "VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_ENTITY_LOGIN_GET,
     "SELECT entity_id, password_hash, created_ms FROM entity_logins WHERE username = ?1"},
    {LEDGER_STMT_ENTITY_LOGIN_DELETE, "DELETE FROM entity_logins WHERE username = ?1"},
    {LEDGER_STMT_ENTITY_HELD_DEVICES,
     "SELECT DISTINCT device_id FROM ownership WHERE entity_id = ?1 AND device_id > ?2 "
     "ORDER BY device_id LIMIT ?3"},
};
const size_t ledger_entity_login__sql_count =
    sizeof ledger_entity_login__sql / sizeof ledger_entity_login__sql[0];

/* The login event: kind 10, the entity, the username, created or removed. */
static fogpay_error login__event(fogpay_ledger *l, const char *username, const char *entity_id,
                                 bool removed, uint64_t now_ms)
{
    fogpay_event e;
    memset(&e, 0, sizeof e);
    e.kind = FOGPAY_EVENT_ENTITY_LOGIN;
    e.time_ms = now_ms;
    memcpy(e.entity_id, entity_id, strlen(entity_id) + 1);
    memcpy(e.login, username, strlen(username) + 1);
    e.login_removed = removed ? 1 : 0;
    return ledger__event_append(l, &e);
}

/* The username's rules: the id alphabet, and no device of that id. */
static fogpay_error login__check_name(fogpay_ledger *l, const char *username)
{
    fogpay_error err = ledger__check_device_id(username);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_device_state device;
    err = ledger__device_state(l, username, &device);
    if (err == FOGPAY_OK) {
        ledger__note(l, "a device has that id: a login is never named as a device");
        return FOGPAY_ERR_EXISTS;
    }
    return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_OK : err;
}

static fogpay_error login__insert(fogpay_ledger *l, const char *username, const char *entity_id,
                                  const char *password_hash, uint64_t now_ms)
{
    fogpay_error err = login__check_name(l, username);
    if (err == FOGPAY_OK) {
        err = ledger__entity_exists(l, entity_id);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_LOGIN_INSERT);
    ledger__bind_text(l, s, 1, username);
    ledger__bind_text(l, s, 2, entity_id);
    ledger__bind_text_or_null(l, s, 3, password_hash);
    ledger__bind_u64(l, s, 4, now_ms);
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        err = login__event(l, username, entity_id, false, now_ms);
    }
    return err;
}

fogpay_error fogpay_ledger_entity_login_create(fogpay_ledger *l, const char *username,
                                               const char *entity_id, const char *password_hash,
                                               uint64_t now_ms)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err == FOGPAY_OK && now_ms > LEDGER_INT_MAX) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    bool certificate_only = password_hash == NULL || password_hash[0] == '\0';
    if (err == FOGPAY_OK && !certificate_only &&
        (fogpay_password_is_device_verifier(password_hash) ||
         fogpay_password_hash_parse(password_hash) != FOGPAY_OK)) {
        /* A person's password: the slow scheme only. */
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err == FOGPAY_OK) {
        err =
            login__insert(l, username, entity_id, certificate_only ? NULL : password_hash, now_ms);
        err = ledger__op_end(l, &op, err);
    }
    return err;
}

fogpay_error fogpay_ledger_entity_login_get(fogpay_ledger *l, const char *username,
                                            fogpay_entity_login *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(username, FOGPAY_LOGIN_NAME_MAX);
    if (err != FOGPAY_OK) {
        return err == FOGPAY_ERR_FIELD_RANGE ? FOGPAY_ERR_NOT_FOUND : err;
    }
    fogpay_entity_login login;
    memset(&login, 0, sizeof login);
    memcpy(login.username, username, strlen(username) + 1);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_LOGIN_GET);
    ledger__bind_text(l, s, 1, username);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        int64_t created = sqlite3_column_int64(s, 2);
        login.created_ms = created > 0 ? (uint64_t)created : 0;
        if (!ledger__column_text(s, 0, login.entity_id, sizeof login.entity_id) ||
            !ledger__column_text(s, 1, login.password_hash, sizeof login.password_hash)) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
    } else {
        err = rc == SQLITE_DONE ? FOGPAY_ERR_NOT_FOUND : ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        *out = login;
    }
    return err;
}

fogpay_error fogpay_ledger_entity_login_remove(fogpay_ledger *l, const char *username,
                                               uint64_t now_ms)
{
    fogpay_entity_login login;
    fogpay_error err = fogpay_ledger_entity_login_get(l, username, &login);
    if (err == FOGPAY_OK && now_ms > LEDGER_INT_MAX) {
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
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_LOGIN_DELETE);
    ledger__bind_text(l, s, 1, username);
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        err = login__event(l, username, login.entity_id, true, now_ms);
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_entity_holds(fogpay_ledger *l, const char *entity_id,
                                        const char *device_id, uint64_t time_ms)
{
    char holder[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_error err = fogpay_ledger_owner_at(l, device_id, time_ms, holder);
    if (err == FOGPAY_ERR_NOT_FOUND || (err == FOGPAY_OK && strcmp(holder, entity_id) != 0)) {
        return FOGPAY_ERR_ENTITY_FOREIGN_DEVICE;
    }
    return err;
}

fogpay_error fogpay_ledger_entity_devices(fogpay_ledger *l, const char *entity_id, uint64_t time_ms,
                                          const char *after, char ids[][FOGPAY_DEVICE_ID_MAX + 1],
                                          size_t cap, size_t *count)
{
    if (l == NULL || entity_id == NULL || after == NULL || ids == NULL || count == NULL ||
        cap == 0 || cap > FOGPAY_TRANSFER_LIST_MAX) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    char candidates[FOGPAY_ENTITY_DEVICES_STEP][FOGPAY_DEVICE_ID_MAX + 1];
    char cursor[FOGPAY_DEVICE_ID_MAX + 1];
    snprintf(cursor, sizeof cursor, "%s", after);
    fogpay_error err = FOGPAY_OK;
    /* Devices the entity ever held, a step at a time, kept when it holds
     * them at time_ms; bounded by the devices of the ledger. */
    for (size_t found = FOGPAY_ENTITY_DEVICES_STEP;
         err == FOGPAY_OK && found == FOGPAY_ENTITY_DEVICES_STEP && *count < cap;) {
        found = 0;
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_HELD_DEVICES);
        ledger__bind_text(l, s, 1, entity_id);
        ledger__bind_text(l, s, 2, cursor);
        ledger__bind_int64(l, s, 3, FOGPAY_ENTITY_DEVICES_STEP);
        int rc = SQLITE_DONE;
        while (err == FOGPAY_OK && (rc = ledger__step(l, s)) == SQLITE_ROW) {
            if (!ledger__column_text(s, 0, candidates[found], sizeof candidates[found])) {
                err = FOGPAY_ERR_LEDGER_CORRUPT;
            }
            found++;
        }
        if (err == FOGPAY_OK && rc != SQLITE_DONE) {
            err = ledger__error(l, rc);
        }
        ledger__finish(s);
        for (size_t i = 0; err == FOGPAY_OK && i < found && *count < cap; i++) {
            memcpy(cursor, candidates[i], sizeof cursor);
            fogpay_error held = fogpay_ledger_entity_holds(l, entity_id, candidates[i], time_ms);
            if (held == FOGPAY_OK) {
                memcpy(ids[(*count)++], candidates[i], sizeof candidates[i]);
            } else if (held != FOGPAY_ERR_ENTITY_FOREIGN_DEVICE) {
                err = held;
            }
        }
    }
    return err;
}
