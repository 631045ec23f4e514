/*
 * ledger_registry.c - the registry in the ledger: legal entities with their
 * personal data kept apart, devices with their status, limits, password
 * hash and command sequence, the history of device keys, and the
 * append-only, effective-dated ownership of devices by legal entities.
 *
 * Design. Each public call validates its arguments, then does its reads and
 * writes as one ledger operation: its own transaction when the caller has
 * none open, a savepoint inside the caller's otherwise. A device's key is
 * never deleted: rotation retires the active key (active = 0, revoked_ms)
 * and inserts the new one, and a key the device held before is refused.
 * The holder of a device at a time is the latest ownership entry at or
 * before it, a lessee before an owner at equal times, so a new owner entry
 * ends any lease before it. Registration, a change of status and a change
 * of ownership each append their event (ledger_event.c) in the same
 * operation, after the change, so that both commit or neither does.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs and arrays.
 */
#include <string.h>

#include "fogpay_hash.h"
#include "fogpay_topic.h"
#include "ledger_internal.h"

const ledger_stmt_sql ledger_registry__sql[] = {
    {LEDGER_STMT_ENTITY_INSERT,
     "INSERT INTO entities (id, created_ms) VALUES ('le-' || lower(hex(randomblob(8))), ?1) "
     "RETURNING id"},
    {LEDGER_STMT_ENTITY_PERSONAL_INSERT,
     "INSERT INTO entity_personal (entity_id, name, contact, bank_ref) VALUES (?1, ?2, ?3, ?4)"},
    {LEDGER_STMT_ENTITY_EXISTS, "SELECT 1 FROM entities WHERE id = ?1"},
    {LEDGER_STMT_DEVICE_INSERT,
     "INSERT INTO devices (id, status, per_payment_minor, per_day_minor, wallet_max_minor, "
     "password_hash, last_command_seq, created_ms, updated_ms) "
     "VALUES (?1, 0, ?2, ?3, ?4, ?5, 0, ?6, ?6)"},
    {LEDGER_STMT_DEVICE_GET,
     "SELECT d.status, d.per_payment_minor, d.per_day_minor, d.wallet_max_minor, "
     "d.password_hash, d.last_command_seq, d.created_ms, k.alg, k.public_key "
     "FROM devices d LEFT JOIN device_keys k ON k.device_id = d.id AND k.active = 1 "
     "WHERE d.id = ?1"},
    {LEDGER_STMT_DEVICE_SET_STATUS,
     "UPDATE devices SET status = ?2, updated_ms = ?3 WHERE id = ?1"},
    {LEDGER_STMT_DEVICE_SET_LIMITS,
     "UPDATE devices SET per_payment_minor = ?2, per_day_minor = ?3, wallet_max_minor = ?4, "
     "updated_ms = ?5 WHERE id = ?1"},
    {LEDGER_STMT_DEVICE_NEXT_COMMAND_SEQ,
     "UPDATE devices SET last_command_seq = last_command_seq + 1 WHERE id = ?1 "
     "RETURNING last_command_seq"},
    {LEDGER_STMT_KEY_INSERT,
     "INSERT INTO device_keys (device_id, alg, public_key, active, from_ms) "
     "VALUES (?1, ?2, ?3, 1, ?4)"},
    {LEDGER_STMT_KEY_RETIRE, "UPDATE device_keys SET active = 0, revoked_ms = max(?2, from_ms) "
                             "WHERE device_id = ?1 AND active = 1"},
    {LEDGER_STMT_KEY_END, "UPDATE device_keys SET revoked_ms = max(?2, from_ms) "
                          "WHERE device_id = ?1 AND active = 0 AND revoked_ms > max(?2, from_ms) "
                          "RETURNING public_key"},
    {LEDGER_STMT_KEY_RETIRED_GET, "SELECT alg, public_key, revoked_ms FROM device_keys "
                                  "WHERE device_id = ?1 AND active = 0 ORDER BY id DESC "
                                  "LIMIT 1 OFFSET ?2"},
    {LEDGER_STMT_DEVICE_IDS, "SELECT id FROM devices WHERE id > ?1 AND status <> 2 ORDER BY id "
                             "LIMIT ?2"},
    {LEDGER_STMT_OWNERSHIP_INSERT,
     "INSERT INTO ownership (device_id, entity_id, role, effective_ms, recorded_ms) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {LEDGER_STMT_OWNERSHIP_LATEST, "SELECT max(effective_ms) FROM ownership WHERE device_id = ?1"},
    {LEDGER_STMT_OWNERSHIP_AT,
     "SELECT entity_id, effective_ms FROM ownership WHERE device_id = ?1 AND effective_ms <= ?2 "
     "ORDER BY effective_ms DESC, role = 'lessee' DESC, id DESC LIMIT 1"},
    {LEDGER_STMT_OWNERSHIP_NEXT,
     "SELECT min(effective_ms) FROM ownership WHERE device_id = ?1 AND effective_ms > ?2"},
};
const size_t ledger_registry__sql_count =
    sizeof ledger_registry__sql / sizeof ledger_registry__sql[0];

/* Device ids are the contract's ids (fogpay_device_id_valid): the
 * characters the codec takes, none of which means anything in a topic. */

fogpay_error ledger__check_device_id(const char *device_id)
{
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    return fogpay_device_id_valid(device_id) ? FOGPAY_OK : FOGPAY_ERR_TEXT_INVALID;
}

fogpay_error ledger__check_id(const char *id, size_t max)
{
    fogpay_error err = ledger__check_text(id, max);
    if (err == FOGPAY_OK && !fogpay_id_valid(id, max)) {
        err = FOGPAY_ERR_TEXT_INVALID;
    }
    return err;
}

/* Optional personal text: NULL or empty is absent; otherwise at most max. */
static fogpay_error registry__check_optional(const char *text, size_t max)
{
    if (text == NULL || text[0] == '\0') {
        return FOGPAY_OK;
    }
    return ledger__check_text(text, max);
}

static fogpay_error registry__check_limits(const fogpay_device_limits *limits)
{
    if (limits->per_payment_minor > LEDGER_INT_MAX || limits->per_day_minor > LEDGER_INT_MAX ||
        limits->wallet_max_minor > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

fogpay_error ledger__entity_exists(fogpay_ledger *l, const char *entity_id)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_EXISTS);
    ledger__bind_text(l, s, 1, entity_id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else if (rc != SQLITE_ROW) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__device_state(fogpay_ledger *l, const char *device_id, ledger_device_state *out)
{
    ledger_hot_device *d = NULL;
    fogpay_error err = ledger__hot_device(l, device_id, &d);
    if (err == FOGPAY_OK) {
        out->status = d->device.status;
        out->limits = d->device.limits;
    }
    return err;
}

/* Legal entities. */

/* Inserts an entity under a fresh random id, retrying the rare collision. */
static fogpay_error registry__entity_insert(fogpay_ledger *l, uint64_t now_ms,
                                            char id_out[FOGPAY_ENTITY_ID_MAX + 1])
{
    fogpay_error err = FOGPAY_ERR_EXISTS;
    for (int attempt = 0; attempt < LEDGER_ENTITY_ID_ATTEMPTS && err == FOGPAY_ERR_EXISTS;
         attempt++) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_INSERT);
        ledger__bind_u64(l, s, 1, now_ms);
        int rc = ledger__step(l, s);
        if (rc == SQLITE_ROW) {
            err = ledger__column_text(s, 0, id_out, FOGPAY_ENTITY_ID_MAX + 1)
                      ? ledger__complete(l, s)
                      : FOGPAY_ERR_STORAGE;
        } else {
            err = ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        }
        ledger__finish(s);
    }
    if (err == FOGPAY_ERR_EXISTS) {
        ledger__note(l, "no fresh entity id after several random draws");
        err = FOGPAY_ERR_STORAGE;
    }
    return err;
}

fogpay_error fogpay_ledger_entity_create(fogpay_ledger *l, const fogpay_entity_personal *p,
                                         uint64_t now_ms, char id_out[FOGPAY_ENTITY_ID_MAX + 1])
{
    if (l == NULL || p == NULL || id_out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(p->name, FOGPAY_ENTITY_NAME_MAX);
    if (err == FOGPAY_OK) {
        err = registry__check_optional(p->contact, FOGPAY_ENTITY_CONTACT_MAX);
    }
    if (err == FOGPAY_OK) {
        err = registry__check_optional(p->bank_ref, FOGPAY_ENTITY_BANK_REF_MAX);
    }
    if (err == FOGPAY_OK && now_ms > LEDGER_INT_MAX) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    char id[FOGPAY_ENTITY_ID_MAX + 1];
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = registry__entity_insert(l, now_ms, id);
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ENTITY_PERSONAL_INSERT);
        ledger__bind_text(l, s, 1, id);
        ledger__bind_text(l, s, 2, p->name);
        ledger__bind_text_or_null(l, s, 3, p->contact);
        ledger__bind_text_or_null(l, s, 4, p->bank_ref);
        err = ledger__exec(l, s);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        memcpy(id_out, id, sizeof id);
    }
    return err;
}

/* Devices. */

static fogpay_error registry__key_insert(fogpay_ledger *l, const char *device_id,
                                         const fogpay_key *key, uint64_t now_ms)
{
    uint8_t public_key[FOGPAY_PUBLIC_KEY_MAX];
    size_t public_key_len = 0;
    fogpay_error err = fogpay_key_public(key, public_key, sizeof public_key, &public_key_len);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_KEY_INSERT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_int64(l, s, 2, (int64_t)fogpay_key_alg(key));
    ledger__bind_blob(l, s, 3, public_key, public_key_len);
    ledger__bind_u64(l, s, 4, now_ms);
    return ledger__exec(l, s);
}

static fogpay_error registry__ownership_insert(fogpay_ledger *l, const char *device_id,
                                               const char *entity_id, const char *role,
                                               uint64_t effective_ms, uint64_t now_ms)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_OWNERSHIP_INSERT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_text(l, s, 2, entity_id);
    ledger__bind_text(l, s, 3, role);
    ledger__bind_u64(l, s, 4, effective_ms);
    ledger__bind_u64(l, s, 5, now_ms);
    return ledger__exec(l, s);
}

/* An event of kind about device_id at now_ms, its other fields zero. */
static void registry__event_init(fogpay_event *e, fogpay_event_kind kind, const char *device_id,
                                 uint64_t now_ms)
{
    memset(e, 0, sizeof *e);
    e->kind = (uint8_t)kind;
    e->time_ms = now_ms;
    memcpy(e->device_id, device_id, strnlen(device_id, FOGPAY_DEVICE_ID_MAX));
}

/* Appends the event of kind about device_id at now_ms; entity_id (may be
 * NULL) for registration and ownership, role and effective_ms for
 * ownership, status for a status change, kid (may be NULL) for key events.
 * The texts were checked against their limits by the caller. */
static fogpay_error registry__event_append_kid(fogpay_ledger *l, fogpay_event_kind kind,
                                               const char *device_id, const char *entity_id,
                                               uint8_t role, uint64_t effective_ms, uint8_t status,
                                               const uint8_t kid[FOGPAY_KID_BYTES], uint64_t now_ms)
{
    fogpay_event e;
    registry__event_init(&e, kind, device_id, now_ms);
    if (kid != NULL) {
        memcpy(e.kid, kid, FOGPAY_KID_BYTES);
    }
    if (entity_id != NULL) {
        memcpy(e.entity_id, entity_id, strnlen(entity_id, FOGPAY_ENTITY_ID_MAX));
    }
    e.role = role;
    e.effective_ms = effective_ms;
    e.status = status;
    return ledger__event_append(l, &e);
}

static fogpay_error registry__event_append(fogpay_ledger *l, fogpay_event_kind kind,
                                           const char *device_id, const char *entity_id,
                                           uint8_t role, uint64_t effective_ms, uint8_t status,
                                           uint64_t now_ms)
{
    return registry__event_append_kid(l, kind, device_id, entity_id, role, effective_ms, status,
                                      NULL, now_ms);
}

/* The kid of raw public key bytes, as fogpay_key_id() computes it. */
static fogpay_error registry__kid(const void *public_key, size_t len, uint8_t kid[FOGPAY_KID_BYTES])
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_error err = fogpay_sha256(public_key, len, hash);
    if (err == FOGPAY_OK) {
        memcpy(kid, hash, FOGPAY_KID_BYTES);
    }
    return err;
}

/* Ends at now_ms the validity of every retired key of device_id still valid
 * after it, with a key-revoked event for each; *ended counts them. */
static fogpay_error registry__keys_end(fogpay_ledger *l, const char *device_id, uint64_t now_ms,
                                       size_t *ended)
{
    uint8_t kids[LEDGER_KEYS_ENDED_MAX][FOGPAY_KID_BYTES];
    size_t count = 0;
    fogpay_error err = FOGPAY_OK;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_KEY_END);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, now_ms);
    int rc;
    while ((rc = ledger__step(l, s)) == SQLITE_ROW && err == FOGPAY_OK) {
        const void *key = sqlite3_column_blob(s, 0);
        int key_len = sqlite3_column_bytes(s, 0);
        if (key == NULL || key_len <= 0 || count == LEDGER_KEYS_ENDED_MAX) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            err = registry__kid(key, (size_t)key_len, kids[count++]);
        }
    }
    if (err == FOGPAY_OK && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    for (size_t i = 0; i < count && err == FOGPAY_OK; i++) {
        err = registry__event_append_kid(l, FOGPAY_EVENT_KEY_REVOKED, device_id, NULL, 0, 0, 0,
                                         kids[i], now_ms);
    }
    *ended = count;
    return err;
}

static fogpay_error registry__device_insert(fogpay_ledger *l, const char *device_id,
                                            const char *password_hash,
                                            const fogpay_device_limits *limits, uint64_t now_ms)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DEVICE_INSERT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, limits->per_payment_minor);
    ledger__bind_u64(l, s, 3, limits->per_day_minor);
    ledger__bind_u64(l, s, 4, limits->wallet_max_minor);
    ledger__bind_text_or_null(l, s, 5, password_hash);
    ledger__bind_u64(l, s, 6, now_ms);
    return ledger__exec(l, s);
}

/* The checks of a registration that need no reads. */
static fogpay_error registry__check_registration(const fogpay_device_import *d, uint64_t now_ms)
{
    if (d->public_key == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_device_id(d->device_id);
    if (err == FOGPAY_OK) {
        err = ledger__check_text(d->owner_entity, FOGPAY_ENTITY_ID_MAX);
    }
    if (err == FOGPAY_OK && d->password_hash != NULL &&
        strnlen(d->password_hash, FOGPAY_PASSWORD_HASH_MAX) >= FOGPAY_PASSWORD_HASH_MAX) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        err = registry__check_limits(&d->limits);
    }
    if (err == FOGPAY_OK && now_ms > LEDGER_INT_MAX) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    return err;
}

/* The writes of a registration, inside the caller's operation. */
static fogpay_error registry__device_add(fogpay_ledger *l, const fogpay_device_import *d,
                                         uint64_t now_ms)
{
    fogpay_error err =
        registry__device_insert(l, d->device_id, d->password_hash, &d->limits, now_ms);
    if (err == FOGPAY_OK) {
        err = registry__key_insert(l, d->device_id, d->public_key, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = ledger__entity_exists(l, d->owner_entity);
    }
    if (err == FOGPAY_OK) {
        err = registry__ownership_insert(l, d->device_id, d->owner_entity, "owner", now_ms, now_ms);
    }
    if (err == FOGPAY_OK) {
        err = registry__event_append(l, FOGPAY_EVENT_REGISTERED, d->device_id, d->owner_entity, 0,
                                     0, 0, now_ms);
    }
    return err;
}

fogpay_error fogpay_ledger_device_register(fogpay_ledger *l, const char *device_id,
                                           const fogpay_key *public_key, const char *password_hash,
                                           const char *owner_entity,
                                           const fogpay_device_limits *limits, uint64_t now_ms)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_device_import d = {device_id, public_key, password_hash, owner_entity, {0}};
    if (limits != NULL) {
        d.limits = *limits;
    }
    fogpay_error err = registry__check_registration(&d, now_ms);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    return ledger__op_end(l, &op, registry__device_add(l, &d, now_ms));
}

/* Fills out from a DEVICE_GET row. */
static fogpay_error registry__device_read(sqlite3_stmt *s, fogpay_device *out)
{
    int64_t status = sqlite3_column_int64(s, 0);
    int64_t values[5] = {
        sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3),
        sqlite3_column_int64(s, 5), sqlite3_column_int64(s, 6),
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (values[i] < 0) {
            return FOGPAY_ERR_LEDGER_CORRUPT;
        }
    }
    if (status < 0 || status > FOGPAY_DEVICE_REVOKED ||
        !ledger__column_text(s, 4, out->password_hash, sizeof out->password_hash)) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    out->status = (uint8_t)status;
    out->limits.per_payment_minor = (uint64_t)values[0];
    out->limits.per_day_minor = (uint64_t)values[1];
    out->limits.wallet_max_minor = (uint64_t)values[2];
    out->last_command_seq = (uint64_t)values[3];
    out->created_ms = (uint64_t)values[4];
    /* A device without an active key has alg 0 and no key bytes. */
    out->alg = (int)sqlite3_column_int64(s, 7);
    const void *key = sqlite3_column_blob(s, 8);
    int key_len = sqlite3_column_bytes(s, 8);
    if (key_len < 0 || (size_t)key_len > sizeof out->public_key) {
        return FOGPAY_ERR_LEDGER_CORRUPT;
    }
    out->public_key_len = (size_t)key_len;
    if (key_len > 0) {
        memcpy(out->public_key, key, (size_t)key_len);
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_ledger_device_get(fogpay_ledger *l, const char *device_id, fogpay_device *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_hot_device *d = NULL;
    err = ledger__hot_device(l, device_id, &d);
    if (err == FOGPAY_OK) {
        *out = d->device;
    }
    return err;
}

fogpay_error ledger__device_read_db(fogpay_ledger *l, const char *device_id, fogpay_device *out)
{
    fogpay_error err = FOGPAY_OK;
    fogpay_device device;
    memset(&device, 0, sizeof device);
    memcpy(device.device_id, device_id, strlen(device_id) + 1);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DEVICE_GET);
    ledger__bind_text(l, s, 1, device_id);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        err = registry__device_read(s, &device);
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        *out = device;
    }
    return err;
}

fogpay_error fogpay_ledger_device_retired_key(fogpay_ledger *l, const char *device_id,
                                              uint32_t index, int *alg, uint8_t *public_key,
                                              size_t *public_key_len, uint64_t *until_ms)
{
    if (l == NULL || alg == NULL || public_key == NULL || public_key_len == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_KEY_RETIRED_GET);
    ledger__bind_text(l, s, 1, device_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)index);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        const void *key = sqlite3_column_blob(s, 1);
        int key_len = sqlite3_column_bytes(s, 1);
        int64_t until = sqlite3_column_int64(s, 2);
        if (key == NULL || key_len <= 0 || key_len > FOGPAY_PUBLIC_KEY_MAX || until < 0) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            *alg = (int)sqlite3_column_int64(s, 0);
            memcpy(public_key, key, (size_t)key_len);
            *public_key_len = (size_t)key_len;
            if (until_ms != NULL) {
                *until_ms = (uint64_t)until;
            }
        }
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

/* Sets a device's status and records the change as a status event that
 * carries reason (0 when an operator changed it). */
static fogpay_error registry__set_status(fogpay_ledger *l, const char *device_id,
                                         fogpay_device_status status, fogpay_error reason,
                                         uint64_t now_ms)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK && ((unsigned)status > FOGPAY_DEVICE_REVOKED || now_ms > LEDGER_INT_MAX)) {
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
    ledger_device_state state;
    err = ledger__device_state(l, device_id, &state);
    /* Revocation is final: a revoked device's identity is not trusted again. */
    if (err == FOGPAY_OK && state.status == FOGPAY_DEVICE_REVOKED &&
        status != FOGPAY_DEVICE_REVOKED) {
        ledger__note(l, "a revoked device stays revoked");
        err = FOGPAY_ERR_DEVICE_REVOKED;
    }
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DEVICE_SET_STATUS);
        ledger__bind_text(l, s, 1, device_id);
        ledger__bind_int64(l, s, 2, (int64_t)status);
        ledger__bind_u64(l, s, 3, now_ms);
        err = ledger__exec(l, s);
        ledger__hot_forget(l, device_id);
    }
    /* Setting the status a device has already is no change to record. */
    if (err == FOGPAY_OK && state.status != (uint8_t)status) {
        fogpay_event e;
        registry__event_init(&e, FOGPAY_EVENT_STATUS, device_id, now_ms);
        e.status = (uint8_t)status;
        e.reason = (uint16_t)reason;
        err = ledger__event_append(l, &e);
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_device_set_status(fogpay_ledger *l, const char *device_id,
                                             fogpay_device_status status, uint64_t now_ms)
{
    return registry__set_status(l, device_id, status, FOGPAY_OK, now_ms);
}

fogpay_error fogpay_ledger_device_suspend_for(fogpay_ledger *l, const char *device_id,
                                              fogpay_error reason, uint64_t now_ms)
{
    if (!fogpay_error_is_reason(reason)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return registry__set_status(l, device_id, FOGPAY_DEVICE_SUSPENDED, reason, now_ms);
}

fogpay_error fogpay_ledger_device_set_limits(fogpay_ledger *l, const char *device_id,
                                             const fogpay_device_limits *limits, uint64_t now_ms)
{
    if (l == NULL || limits == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK) {
        err = registry__check_limits(limits);
    }
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
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DEVICE_SET_LIMITS);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, limits->per_payment_minor);
    ledger__bind_u64(l, s, 3, limits->per_day_minor);
    ledger__bind_u64(l, s, 4, limits->wallet_max_minor);
    ledger__bind_u64(l, s, 5, now_ms);
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK && sqlite3_changes(l->db) == 0) {
        err = FOGPAY_ERR_NOT_FOUND;
    }
    ledger__hot_forget(l, device_id);
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_device_rotate_key(fogpay_ledger *l, const char *device_id,
                                             const fogpay_key *public_key, uint64_t now_ms)
{
    return fogpay_ledger_device_rotate_key_overlap(l, device_id, public_key, 0, now_ms);
}

/* The start of a key change: checks the arguments, begins the operation
 * and reads the device's state (FOGPAY_ERR_NOT_FOUND when unknown,
 * FOGPAY_ERR_DEVICE_REVOKED for a revoked device, whose keys stay as they
 * are). On an error after the begin the operation is ended with it. */
static fogpay_error registry__key_change_begin(fogpay_ledger *l, const char *device_id,
                                               uint64_t now_ms, ledger_op *op)
{
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK && now_ms > LEDGER_INT_MAX) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, op);
        if (err != FOGPAY_OK) {
            return err;
        }
        ledger_device_state state;
        err = ledger__device_state(l, device_id, &state);
        if (err == FOGPAY_OK && state.status == FOGPAY_DEVICE_REVOKED) {
            err = FOGPAY_ERR_DEVICE_REVOKED;
        }
        if (err != FOGPAY_OK) {
            return ledger__op_end(l, op, err);
        }
    }
    return err;
}

fogpay_error fogpay_ledger_device_rotate_key_overlap(fogpay_ledger *l, const char *device_id,
                                                     const fogpay_key *public_key,
                                                     uint64_t overlap_ms, uint64_t now_ms)
{
    if (l == NULL || public_key == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (overlap_ms > FOGPAY_KEY_OVERLAP_MAX_S * 1000ull) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    ledger_op op;
    fogpay_error err = registry__key_change_begin(l, device_id, now_ms, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    /* One old key at a time is in its overlap window: an earlier one ends. */
    size_t ended = 0;
    err = registry__keys_end(l, device_id, now_ms, &ended);
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_KEY_RETIRE);
        ledger__bind_text(l, s, 1, device_id);
        ledger__bind_u64(l, s, 2, now_ms + overlap_ms);
        err = ledger__exec(l, s);
    }
    /* A key this device held before is a unique violation: FOGPAY_ERR_EXISTS. */
    if (err == FOGPAY_OK) {
        err = registry__key_insert(l, device_id, public_key, now_ms);
    }
    uint8_t kid[FOGPAY_KID_BYTES];
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(public_key, kid);
    }
    if (err == FOGPAY_OK) {
        err = registry__event_append_kid(l, FOGPAY_EVENT_KEY_ROTATED, device_id, NULL, 0,
                                         now_ms + overlap_ms, 0, kid, now_ms);
    }
    ledger__hot_forget(l, device_id);
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_device_revoke_keys(fogpay_ledger *l, const char *device_id,
                                              uint64_t now_ms)
{
    if (l == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    ledger_op op;
    fogpay_error err = registry__key_change_begin(l, device_id, now_ms, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    size_t ended = 0;
    err = registry__keys_end(l, device_id, now_ms, &ended);
    if (err == FOGPAY_OK && ended == 0) {
        ledger__note(l, "no retired key of the device is valid any more");
        err = FOGPAY_ERR_NOT_FOUND;
    }
    ledger__hot_forget(l, device_id);
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_device_next_command_seq(fogpay_ledger *l, const char *device_id,
                                                   uint64_t *seq_out)
{
    if (l == NULL || seq_out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    int64_t seq = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DEVICE_NEXT_COMMAND_SEQ);
    ledger__bind_text(l, s, 1, device_id);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        seq = sqlite3_column_int64(s, 0);
        err = seq >= 1 ? ledger__complete(l, s) : FOGPAY_ERR_LEDGER_CORRUPT;
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    ledger__hot_forget(l, device_id);
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *seq_out = (uint64_t)seq;
    }
    return err;
}

/* Ownership. */

/* A single integer or NULL from a bound statement; *found false for NULL
 * or no row. */
static fogpay_error registry__optional_int(fogpay_ledger *l, sqlite3_stmt *s, bool *found,
                                           int64_t *value)
{
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    *found = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    if (*found) {
        *value = sqlite3_column_int64(s, 0);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

/* The effective time of the device's latest entry; *found false if none. */
static fogpay_error registry__ownership_latest(fogpay_ledger *l, const char *device_id, bool *found,
                                               uint64_t *effective_ms)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_OWNERSHIP_LATEST);
    ledger__bind_text(l, s, 1, device_id);
    int64_t value = 0;
    fogpay_error err = registry__optional_int(l, s, found, &value);
    *effective_ms = value < 0 ? 0 : (uint64_t)value;
    return err;
}

fogpay_error fogpay_ledger_ownership_change(fogpay_ledger *l, const char *device_id,
                                            const char *entity_id, const char *role,
                                            uint64_t effective_ms, uint64_t now_ms)
{
    if (l == NULL || role == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK) {
        err = ledger__check_text(entity_id, FOGPAY_ENTITY_ID_MAX);
    }
    /* An effective time of 0 has no place in the event record (key 11 is
     * 1 or more). */
    if (err == FOGPAY_OK &&
        ((strcmp(role, "owner") != 0 && strcmp(role, "lessee") != 0) || effective_ms == 0 ||
         effective_ms > LEDGER_INT_MAX || now_ms > LEDGER_INT_MAX)) {
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
    ledger_device_state state;
    err = ledger__device_state(l, device_id, &state);
    if (err == FOGPAY_OK) {
        err = ledger__entity_exists(l, entity_id);
    }
    bool found = false;
    uint64_t latest_ms = 0;
    if (err == FOGPAY_OK) {
        err = registry__ownership_latest(l, device_id, &found, &latest_ms);
    }
    if (err == FOGPAY_OK && found && effective_ms < latest_ms) {
        ledger__note(l, "an ownership change may not take effect before the latest one");
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        err = registry__ownership_insert(l, device_id, entity_id, role, effective_ms, now_ms);
        ledger__hot_forget(l, device_id);
    }
    if (err == FOGPAY_OK) {
        uint8_t role_code = strcmp(role, "lessee") == 0 ? 1 : 0;
        err = registry__event_append(l, FOGPAY_EVENT_OWNERSHIP, device_id, entity_id, role_code,
                                     effective_ms, 0, now_ms);
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_owner_at(fogpay_ledger *l, const char *device_id, uint64_t time_ms,
                                    char entity_out[FOGPAY_ENTITY_ID_MAX + 1])
{
    if (l == NULL || entity_out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    entity_out[0] = '\0';
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (time_ms > LEDGER_INT_MAX) {
        time_ms = LEDGER_INT_MAX;
    }
    ledger_hot_device *d = NULL;
    err = ledger__hot_device(l, device_id, &d);
    if (err == FOGPAY_OK) {
        err = ledger__hot_holder(l, d, time_ms, entity_out);
    }
    if (err == FOGPAY_OK && entity_out[0] == '\0') {
        err = FOGPAY_ERR_NOT_FOUND;
    }
    return err;
}

fogpay_error ledger__holder_read_db(fogpay_ledger *l, const char *device_id, uint64_t time_ms,
                                    char entity_out[FOGPAY_ENTITY_ID_MAX + 1], uint64_t *from_ms,
                                    uint64_t *until_ms)
{
    entity_out[0] = '\0';
    *from_ms = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_OWNERSHIP_AT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, time_ms);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t effective = sqlite3_column_int64(s, 1);
        if (!ledger__column_text(s, 0, entity_out, FOGPAY_ENTITY_ID_MAX + 1) || effective < 0) {
            entity_out[0] = '\0';
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
        *from_ms = effective < 0 ? 0 : (uint64_t)effective;
    } else if (rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err != FOGPAY_OK) {
        return err;
    }
    s = ledger__stmt(l, LEDGER_STMT_OWNERSHIP_NEXT);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_u64(l, s, 2, time_ms);
    bool found = false;
    int64_t next = 0;
    err = registry__optional_int(l, s, &found, &next);
    *until_ms = found && next > 0 ? (uint64_t)next : UINT64_MAX;
    return err;
}

/* Bulk import. */

/* FOGPAY_OK when the registered device is d as an import would make it:
 * not revoked, d's key active, d's owner now, d's limits;
 * FOGPAY_ERR_EXISTS when it differs. */
static fogpay_error registry__device_same(fogpay_ledger *l, const fogpay_device_import *d,
                                          uint64_t now_ms)
{
    fogpay_device have;
    uint8_t key[FOGPAY_PUBLIC_KEY_MAX];
    size_t key_len = 0;
    char owner[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_error err = fogpay_ledger_device_get(l, d->device_id, &have);
    if (err == FOGPAY_OK) {
        err = fogpay_key_public(d->public_key, key, sizeof key, &key_len);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_owner_at(l, d->device_id, now_ms, owner);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    bool same = have.status != FOGPAY_DEVICE_REVOKED &&
                have.alg == (int)fogpay_key_alg(d->public_key) && have.public_key_len == key_len &&
                memcmp(have.public_key, key, key_len) == 0 && strcmp(owner, d->owner_entity) == 0 &&
                memcmp(&have.limits, &d->limits, sizeof have.limits) == 0;
    if (!same) {
        ledger__note(l, "the device is registered already, with another key, owner, limits or "
                        "status");
    }
    return same ? FOGPAY_OK : FOGPAY_ERR_EXISTS;
}

/* Imports one device: added, or marked skipped when it exists the same. */
static fogpay_error registry__import_one(fogpay_ledger *l, const fogpay_device_import *d,
                                         uint64_t now_ms, bool *skipped)
{
    ledger_device_state state;
    fogpay_error err = ledger__device_state(l, d->device_id, &state);
    *skipped = err == FOGPAY_OK;
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return registry__device_add(l, d, now_ms);
    }
    return err == FOGPAY_OK ? registry__device_same(l, d, now_ms) : err;
}

fogpay_error fogpay_ledger_device_import(fogpay_ledger *l, const fogpay_device_import *devices,
                                         size_t count, uint64_t now_ms, bool *skipped,
                                         size_t *failed)
{
    if (l == NULL || (count > 0 && (devices == NULL || skipped == NULL)) || failed == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = FOGPAY_OK;
    for (*failed = 0; *failed < count && err == FOGPAY_OK; (*failed)++) {
        err = registry__check_registration(&devices[*failed], now_ms);
    }
    if (err != FOGPAY_OK) {
        (*failed)--;
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    for (*failed = 0; *failed < count && err == FOGPAY_OK; (*failed)++) {
        err = registry__import_one(l, &devices[*failed], now_ms, &skipped[*failed]);
    }
    if (err != FOGPAY_OK) {
        (*failed)--;
    }
    return ledger__op_end(l, &op, err);
}

fogpay_error fogpay_ledger_device_ids(fogpay_ledger *l, const char *after,
                                      char ids[][FOGPAY_DEVICE_ID_MAX + 1], size_t cap,
                                      size_t *count)
{
    if (l == NULL || after == NULL || ids == NULL || count == NULL || cap == 0) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DEVICE_IDS);
    ledger__bind_text(l, s, 1, after);
    ledger__bind_u64(l, s, 2, cap);
    int rc;
    fogpay_error err = FOGPAY_OK;
    while ((rc = ledger__step(l, s)) == SQLITE_ROW) {
        if (!ledger__column_text(s, 0, ids[*count], FOGPAY_DEVICE_ID_MAX + 1)) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
            break;
        }
        (*count)++;
    }
    if (err == FOGPAY_OK && rc != SQLITE_DONE) {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}
