/*
 * control.c - the operator's JSON commands on $CONTROL/fogpay/v1 (see
 * control.h for the request and reply format).
 *
 * Design. One table maps each command name to its handler. A handler reads
 * its fields from the command object, calls the ledger, and fills the
 * response's "data" object; it returns a fogpay_error and, for a failure, a
 * sentence for people. Every field is validated here before the ledger sees
 * it: text must be a JSON string, amounts are decimal strings parsed exactly
 * with fogpay_amount_parse in the named currency, integers are JSON numbers
 * that are whole and in range. Personal data (names, contacts, bank
 * references) is passed to the ledger's personal table and is never echoed
 * in a reply or a log.
 *
 * Ownership. cJSON trees built here are freed here; the reply string is the
 * caller's (see fogpay_control_handle).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "control_internal.h"
#include "fogpay_export.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "fogpay_password.h"

typedef struct control_command {
    const char *name;
    control_handler handler;
} control_command;

/* Field access (control_internal.h). */

void control__copy_text(char *out, size_t cap, const char *text)
{
    snprintf(out, cap, "%s", text ? text : "");
}

fogpay_error control__text(const cJSON *cmd, const char *name, bool required, size_t max_len,
                           const char **out, control_reply *r)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(cmd, name);
    if (item == NULL) {
        *out = NULL;
        if (required) {
            r->message = "a required field is missing";
            return FOGPAY_ERR_MISSING_FIELD;
        }
        return FOGPAY_OK;
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL || item->valuestring[0] == '\0' ||
        strlen(item->valuestring) > max_len) {
        r->message = "a text field is not a non-empty string of allowed length";
        return FOGPAY_ERR_TEXT_INVALID;
    }
    *out = item->valuestring;
    return FOGPAY_OK;
}

fogpay_error control__u64(const cJSON *cmd, const char *name, bool required, uint64_t *out,
                          control_reply *r)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(cmd, name);
    if (item == NULL) {
        if (required) {
            r->message = "a required field is missing";
            return FOGPAY_ERR_MISSING_FIELD;
        }
        return FOGPAY_OK;
    }
    /* Whole numbers up to 2^53 are exact in a double; larger are refused. */
    if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > 9007199254740992.0 ||
        item->valuedouble != (double)(uint64_t)item->valuedouble) {
        r->message = "a number field is not a whole number in range";
        return FOGPAY_ERR_FIELD_RANGE;
    }
    *out = (uint64_t)item->valuedouble;
    return FOGPAY_OK;
}

fogpay_error control__currency(const cJSON *cmd, uint16_t *currency, int *exponent,
                               control_reply *r)
{
    const char *code = NULL;
    fogpay_error err = control__text(cmd, "currency", true, 3, &code, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (!fogpay_currency_from_code(code, currency, exponent)) {
        r->message = "the currency is not an ISO 4217 code this gateway knows";
        return FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    return FOGPAY_OK;
}

fogpay_error control__amount(const cJSON *cmd, const char *name, bool required, int exponent,
                             uint64_t *out, control_reply *r)
{
    const char *text = NULL;
    fogpay_error err = control__text(cmd, name, required, 32, &text, r);
    if (err != FOGPAY_OK || text == NULL) {
        if (err == FOGPAY_ERR_TEXT_INVALID) {
            r->message = "an amount is a decimal string such as \"1.50\"";
        }
        return err;
    }
    err = fogpay_amount_parse(text, exponent, out);
    if (err != FOGPAY_OK) {
        r->message = "an amount is a decimal string such as \"1.50\" with at most the "
                     "currency's decimals";
    }
    return err;
}

void control__add_amount(cJSON *obj, const char *name, int64_t minor, int exponent)
{
    char text[32];
    fogpay_amount_format(minor, exponent, text, sizeof text);
    cJSON_AddStringToObject(obj, name, text);
}

static fogpay_error control__create_entity(const fogpay_control_context *c, const cJSON *cmd,
                                           uint64_t now_ms, control_reply *r)
{
    fogpay_entity_personal p = {0};
    fogpay_error err = control__text(cmd, "name", true, 200, &p.name, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "contact", false, 200, &p.contact, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "bankReference", false, 200, &p.bank_ref, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    char id[FOGPAY_ENTITY_ID_MAX + 1];
    err = fogpay_ledger_entity_create(c->ledger, &p, now_ms, id);
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "entity", id);
    }
    return err;
}

/* Limits from an object {perPayment, perDay, walletMax, currency}; each
 * amount optional (absent: no limit). */
static fogpay_error control__limits(const cJSON *obj, fogpay_device_limits *limits,
                                    control_reply *r)
{
    uint16_t currency = 0;
    int exponent = 0;
    *limits = (fogpay_device_limits){0};
    fogpay_error err = control__currency(obj, &currency, &exponent, r);
    if (err == FOGPAY_OK) {
        err = control__amount(obj, "perPayment", false, exponent, &limits->per_payment_minor, r);
    }
    if (err == FOGPAY_OK) {
        err = control__amount(obj, "perDay", false, exponent, &limits->per_day_minor, r);
    }
    if (err == FOGPAY_OK) {
        err = control__amount(obj, "walletMax", false, exponent, &limits->wallet_max_minor, r);
    }
    return err;
}

fogpay_error control__device_limits(const cJSON *cmd, fogpay_device_limits *limits,
                                    control_reply *r)
{
    *limits = (fogpay_device_limits){0};
    const cJSON *limits_json = cJSON_GetObjectItemCaseSensitive(cmd, "limits");
    if (limits_json == NULL) {
        return FOGPAY_OK;
    }
    if (!cJSON_IsObject(limits_json)) {
        r->message = "limits is an object {perPayment, perDay, walletMax, currency}";
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return control__limits(limits_json, limits, r);
}

fogpay_error control__password_fields(const cJSON *cmd, const char **password,
                                      const char **verifier, control_reply *r)
{
    fogpay_error err = control__text(cmd, "password", false, FOGPAY_PASSWORD_MAX, password, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "passwordVerifier", false, FOGPAY_PASSWORD_HASH_MAX - 1, verifier,
                            r);
    }
    return err;
}

fogpay_error control__device_verifier(const cJSON *cmd, char *out, control_reply *r)
{
    const char *password = NULL;
    const char *verifier = NULL;
    out[0] = '\0';
    fogpay_error err = control__password_fields(cmd, &password, &verifier, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (password != NULL && verifier != NULL) {
        r->message = "give a device a password or a passwordVerifier, not both";
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (verifier != NULL) {
        if (!fogpay_password_is_device_verifier(verifier) ||
            fogpay_password_hash_parse(verifier) != FOGPAY_OK) {
            r->message = "passwordVerifier is \"sha256$<32 hex salt>$<64 hex digest>\"";
            return FOGPAY_ERR_FIELD_RANGE;
        }
        memcpy(out, verifier, strlen(verifier) + 1);
        return FOGPAY_OK;
    }
    if (password == NULL) {
        return FOGPAY_OK;
    }
    err = fogpay_device_secret_verifier(password, strlen(password), out,
                                        FOGPAY_PASSWORD_HASH_TEXT_MAX);
    if (err == FOGPAY_ERR_SECRET_WEAK) {
        r->message = "a device password is a generated secret of at least 32 characters, of at "
                     "least 8 different ones (128 bits; fogpayctl import-devices makes them)";
    } else if (err != FOGPAY_OK) {
        r->message = "the password could not be hashed";
    }
    return err;
}

/* The key of a publicKey text; *key is the caller's to free. */
static fogpay_error control__public_key(const char *text, fogpay_key **key, control_reply *r)
{
    if (fogpay_key_from_public_text(text, key) != FOGPAY_OK) {
        r->message = "publicKey is not \"ed25519:<hex>\" or \"p256:<hex>\" of a valid key";
        return FOGPAY_ERR_TEXT_INVALID;
    }
    return FOGPAY_OK;
}

static fogpay_error control__register_device(const fogpay_control_context *c, const cJSON *cmd,
                                             uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    const char *public_key = NULL;
    const char *owner = NULL;
    fogpay_device_limits limits = {0};
    char verifier[FOGPAY_PASSWORD_HASH_MAX];
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "publicKey", true, FOGPAY_PUBLIC_KEY_TEXT_MAX, &public_key, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "owner", true, FOGPAY_ENTITY_ID_MAX, &owner, r);
    }
    if (err == FOGPAY_OK) {
        err = control__device_verifier(cmd, verifier, r);
    }
    if (err == FOGPAY_OK) {
        err = control__device_limits(cmd, &limits, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_key *key = NULL;
    err = control__public_key(public_key, &key, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = fogpay_ledger_device_register(c->ledger, device, key, verifier, owner, &limits, now_ms);
    fogpay_key_free(key);
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "device", device);
    }
    return err;
}

/* Sets a device's status, then tells the device when there is a command
 * for it (suspend, resume). */
static fogpay_error control__set_status(const fogpay_control_context *c, const cJSON *cmd,
                                        uint64_t now_ms, control_reply *r,
                                        fogpay_device_status status)
{
    const char *device = NULL;
    const char *reason = NULL;
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "reason", false, FOGPAY_REFERENCE_MAX, &reason, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    err = fogpay_ledger_device_set_status(c->ledger, device, status, now_ms);
    if (err != FOGPAY_OK || c->send_command == NULL) {
        return err;
    }
    if (status == FOGPAY_DEVICE_SUSPENDED || status == FOGPAY_DEVICE_REVOKED) {
        err = c->send_command(c->send_ctx, device, FOGPAY_COMMAND_SUSPEND, NULL);
    } else {
        err = c->send_command(c->send_ctx, device, FOGPAY_COMMAND_RESUME, NULL);
    }
    if (err != FOGPAY_OK) {
        r->message = "the status is stored but the signed command could not be sent";
    }
    return err;
}

static fogpay_error control__suspend(const fogpay_control_context *c, const cJSON *cmd,
                                     uint64_t now_ms, control_reply *r)
{
    return control__set_status(c, cmd, now_ms, r, FOGPAY_DEVICE_SUSPENDED);
}

static fogpay_error control__resume(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    return control__set_status(c, cmd, now_ms, r, FOGPAY_DEVICE_ACTIVE);
}

static fogpay_error control__revoke(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    return control__set_status(c, cmd, now_ms, r, FOGPAY_DEVICE_REVOKED);
}

static fogpay_error control__set_limits(const fogpay_control_context *c, const cJSON *cmd,
                                        uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    fogpay_device_limits limits;
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__limits(cmd, &limits, r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_device_set_limits(c->ledger, device, &limits, now_ms);
    }
    if (err == FOGPAY_OK && c->send_command != NULL) {
        err = c->send_command(c->send_ctx, device, FOGPAY_COMMAND_LIMITS, &limits);
        if (err != FOGPAY_OK) {
            r->message = "the limits are stored but the signed command could not be sent";
        }
    }
    return err;
}

/* Makes publicKey the device's key; the old one stays valid for
 * overlapSeconds (0 when absent, at most FOGPAY_KEY_OVERLAP_MAX_S). */
static fogpay_error control__rotate_device_key(const fogpay_control_context *c, const cJSON *cmd,
                                               uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    const char *public_key = NULL;
    uint64_t overlap_s = 0;
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "publicKey", true, FOGPAY_PUBLIC_KEY_TEXT_MAX, &public_key, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "overlapSeconds", false, &overlap_s, r);
    }
    if (err == FOGPAY_OK && overlap_s > FOGPAY_KEY_OVERLAP_MAX_S) {
        r->message = "overlapSeconds is over 86400 (a day, the longest an intent lives)";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_key *key = NULL;
    if (err == FOGPAY_OK) {
        err = control__public_key(public_key, &key, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    err = fogpay_ledger_device_rotate_key_overlap(c->ledger, device, key, overlap_s * 1000, now_ms);
    fogpay_key_free(key);
    if (err == FOGPAY_ERR_EXISTS) {
        r->message = "the device held this key before: a rotation needs a new key";
    }
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "oldKeyValidUntil", (double)(now_ms + overlap_s * 1000));
    }
    return err;
}

/* Ends the overlap window of the device's old key now. */
static fogpay_error control__revoke_device_key(const fogpay_control_context *c, const cJSON *cmd,
                                               uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_device_revoke_keys(c->ledger, device, now_ms);
    }
    return err;
}

/* Rotates the running gateway's key: only the gateway holds it and can
 * announce the next one to its devices, so offline this is refused. */
static fogpay_error control__rotate_gateway_key(const fogpay_control_context *c, const cJSON *cmd,
                                                uint64_t now_ms, control_reply *r)
{
    (void)cmd;
    (void)now_ms;
    if (c->rotate_gateway_key == NULL) {
        r->message = "only the running gateway rotates its key: send rotateGatewayKey online";
        return FOGPAY_ERR_CONFIG;
    }
    char public_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    size_t announced = 0;
    fogpay_error err =
        c->rotate_gateway_key(c->send_ctx, public_text, sizeof public_text, &announced);
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "publicKey", public_text);
        cJSON_AddNumberToObject(r->data, "announced", (double)announced);
    } else {
        r->message = "the gateway key was not rotated (the broker log says why)";
    }
    return err;
}

/* The balance of a device wallet into data as {balance, currency}. */
static fogpay_error control__balance_into(const fogpay_control_context *c, const char *device,
                                          uint16_t currency, int exponent, control_reply *r)
{
    uint64_t account = 0;
    int64_t balance = 0;
    fogpay_error err = fogpay_ledger_wallet(c->ledger, device, currency, &account);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_balance(c->ledger, account, &balance);
    }
    uint64_t held = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_hold_held(c->ledger, device, currency, &held);
    }
    if (err == FOGPAY_OK) {
        control__add_amount(r->data, "balance", balance, exponent);
        control__add_amount(r->data, "held", (int64_t)held, exponent);
        cJSON_AddStringToObject(r->data, "currency", fogpay_currency_code(currency, &exponent));
    }
    return err;
}

fogpay_error control__credit(const cJSON *cmd, control_credit *out, control_reply *r)
{
    *out = (control_credit){0};
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &out->device, r);
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &out->currency, &out->exponent, r);
    }
    if (err == FOGPAY_OK) {
        err = control__amount(cmd, "amount", true, out->exponent, &out->amount_minor, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "reference", false, FOGPAY_REFERENCE_MAX, &out->reference, r);
    }
    if (err == FOGPAY_OK && out->reference == NULL) {
        out->reference = "";
    }
    return err;
}

static fogpay_error control__fund(const fogpay_control_context *c, const cJSON *cmd,
                                  uint64_t now_ms, control_reply *r)
{
    control_credit credit;
    fogpay_error err = control__credit(cmd, &credit, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    err = fogpay_ledger_fund(c->ledger, credit.device, credit.currency, credit.amount_minor,
                             credit.reference, now_ms, &t);
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddNumberToObject(r->data, "transfer", (double)t.position);
    return control__balance_into(c, credit.device, credit.currency, credit.exponent, r);
}

static fogpay_error control__get_balance(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    uint16_t currency = 0;
    int exponent = 0;
    fogpay_device d;
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &currency, &exponent, r);
    }
    /* A wallet is created on first use; asking about an unknown device must
     * not create one. */
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_device_get(c->ledger, device, &d);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "device", device);
        err = control__balance_into(c, device, currency, exponent, r);
    }
    return err;
}

static fogpay_error control__transfer_ownership(const fogpay_control_context *c, const cJSON *cmd,
                                                uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    const char *entity = NULL;
    const char *role = NULL;
    uint64_t effective_ms = now_ms;
    fogpay_error err = control__text(cmd, "device", true, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "role", true, 8, &role, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "effective", false, &effective_ms, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (strcmp(role, "owner") != 0 && strcmp(role, "lessee") != 0) {
        r->message = "role is \"owner\" or \"lessee\"";
        return FOGPAY_ERR_TEXT_INVALID;
    }
    return fogpay_ledger_ownership_change(c->ledger, device, entity, role, effective_ms, now_ms);
}

static fogpay_error control__get_transfer(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r)
{
    uint64_t id = 0;
    fogpay_error err = control__u64(cmd, "id", true, &id, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    uint8_t hash[FOGPAY_HASH_BYTES];
    err = fogpay_ledger_transfer_get(c->ledger, id, &t, hash);
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON *o = fogpay_export_transfer_object(&t, hash);
    if (o == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    cJSON_AddItemToObject(r->data, "transfer", o);
    return FOGPAY_OK;
}

/* Most transfers in one listTransfers page, and the default page. */
#define CONTROL_LIST_LIMIT_MAX     1000u
#define CONTROL_LIST_LIMIT_DEFAULT 100u

typedef struct control_list {
    cJSON *array;
    uint64_t last_position;
    uint32_t count;
    bool no_memory;
} control_list;

static int control__list_visit(void *ctx, const fogpay_transfer *t,
                               const uint8_t hash[FOGPAY_HASH_BYTES])
{
    control_list *list = ctx;
    cJSON *o = fogpay_export_transfer_object(t, hash);
    if (o == NULL) {
        list->no_memory = true;
        return 1;
    }
    cJSON_AddItemToArray(list->array, o);
    list->last_position = t->position;
    list->count++;
    return 0;
}

static fogpay_error control__list_transfers(const fogpay_control_context *c, const cJSON *cmd,
                                            uint64_t now_ms, control_reply *r)
{
    fogpay_transfer_filter f = {0};
    uint64_t limit = CONTROL_LIST_LIMIT_DEFAULT;
    fogpay_error err = control__text(cmd, "device", false, FOGPAY_DEVICE_ID_MAX, &f.device_id, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "entity", false, FOGPAY_ENTITY_ID_MAX, &f.entity_id, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "from", false, &f.from_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "to", false, &f.to_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "after", false, &f.after_position, r);
    }
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "limit", false, &limit, r);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (limit == 0 || limit > CONTROL_LIST_LIMIT_MAX) {
        r->message = "limit is between 1 and 1000";
        return FOGPAY_ERR_FIELD_RANGE;
    }
    f.limit = (uint32_t)limit;
    control_list list = {.array = cJSON_AddArrayToObject(r->data, "transfers")};
    if (list.array == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    err = fogpay_ledger_transfer_list(c->ledger, &f, control__list_visit, &list);
    if (err == FOGPAY_OK && list.no_memory) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    /* A full page may have more after it: the cursor is its last position. */
    if (err == FOGPAY_OK && list.count == f.limit) {
        cJSON_AddNumberToObject(r->data, "next", (double)list.last_position);
    }
    return err;
}

static fogpay_error control__verify(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    uint64_t checked = 0;
    uint64_t bad_position = 0;
    char problem[256] = "";
    fogpay_error err =
        fogpay_ledger_verify(c->ledger, &checked, &bad_position, problem, sizeof problem);
    cJSON_AddNumberToObject(r->data, "checked", (double)checked);
    cJSON_AddBoolToObject(r->data, "ok", err == FOGPAY_OK);
    if (err == FOGPAY_ERR_LEDGER_CORRUPT) {
        cJSON_AddNumberToObject(r->data, "badPosition", (double)bad_position);
        cJSON_AddStringToObject(r->data, "problem", problem);
    }
    return err;
}

/* The upstream sync backlog: what the cloud's last ack covers, the chain
 * head, the transfers past the ack and how long the oldest has waited; and
 * the same positions of the event chain. */
static fogpay_error control__sync_status(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    fogpay_sync_state st;
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    fogpay_error err = fogpay_ledger_sync_get(c->ledger, &st);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_chain_head(c->ledger, &head, head_hash);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    uint64_t oldest_age_ms = 0;
    if (head > st.acked_position) {
        fogpay_transfer oldest;
        err = fogpay_ledger_transfer_get(c->ledger, st.acked_position + 1, &oldest, NULL);
        if (err != FOGPAY_OK) {
            return err;
        }
        oldest_age_ms = now_ms > oldest.time_ms ? now_ms - oldest.time_ms : 0;
    }
    cJSON_AddNumberToObject(r->data, "chainPosition", (double)head);
    cJSON_AddNumberToObject(r->data, "ackedPosition", (double)st.acked_position);
    cJSON_AddNumberToObject(r->data, "backlog", (double)(head - st.acked_position));
    cJSON_AddNumberToObject(r->data, "oldestUnackedAgeMs", (double)oldest_age_ms);
    cJSON_AddNumberToObject(r->data, "lastBatchSeq", (double)st.batch_seq);
    cJSON_AddNumberToObject(r->data, "lastAckMs", (double)st.acked_ms);
    uint64_t event_head = 0;
    err = fogpay_ledger_event_head(c->ledger, &event_head, head_hash);
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddNumberToObject(r->data, "eventPosition", (double)event_head);
    cJSON_AddNumberToObject(r->data, "ackedEventPosition", (double)st.acked_event_position);
    cJSON_AddNumberToObject(r->data, "eventBacklog",
                            (double)(event_head - st.acked_event_position));
    return FOGPAY_OK;
}

static fogpay_error control__refund(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    uint64_t id = 0;
    fogpay_transfer original;
    fogpay_error err = control__u64(cmd, "id", true, &id, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_transfer_get(c->ledger, id, &original, NULL);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    int exponent = 0;
    fogpay_currency_code(original.currency, &exponent);
    uint64_t amount = original.amount_minor;
    err = control__amount(cmd, "amount", false, exponent, &amount, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    err = fogpay_ledger_refund(c->ledger, id, amount, now_ms, &t);
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "transfer", (double)t.position);
    }
    return err;
}

static const control_command control_commands[] = {
    {"createLegalEntity", control__create_entity},
    {"registerDevice", control__register_device},
    {"importDevices", control__import_devices},
    {"suspendDevice", control__suspend},
    {"resumeDevice", control__resume},
    {"revokeDevice", control__revoke},
    {"rotateDeviceKey", control__rotate_device_key},
    {"revokeDeviceKey", control__revoke_device_key},
    {"rotateGatewayKey", control__rotate_gateway_key},
    {"setLimits", control__set_limits},
    {"fundWallet", control__fund},
    {"transferOwnership", control__transfer_ownership},
    {"getBalance", control__get_balance},
    {"getTransfer", control__get_transfer},
    {"listTransfers", control__list_transfers},
    {"verifyLedger", control__verify},
    {"refund", control__refund},
    {"holdList", control__hold_list},
    {"holdCapture", control__hold_capture},
    {"holdVoid", control__hold_void},
    {"getSyncStatus", control__sync_status},
    {"setFeeSchedule", control__set_fee_schedule},
    {"listFeeSchedules", control__list_fee_schedules},
    {"createEntityLogin", control__create_entity_login},
    {"removeEntityLogin", control__remove_entity_login},
    {"getEntityAccount", control__get_entity_account},
    {"listEntityDevices", control__list_entity_devices},
    {"payDevice", control__pay_device},
    {"defineTariff", control__define_tariff},
    {"getTariff", control__get_tariff},
    {"bindMeter", control__bind_meter},
    {"getMeter", control__get_meter},
    {"createPlan", control__create_plan},
    {"getPlan", control__get_plan},
    {"listPlans", control__list_plans},
    {"closePlan", control__close_plan},
    {"getPlanStatement", control__get_plan_statement},
    {"listArrears", control__list_arrears},
    {"settlePlan", control__settle_plan},
    {"getStatement", control__get_statement},
    {"payout", control__payout},
    {"getPayoutInitiation", control__get_payout_initiation},
    {"eraseEntityData", control__erase_entity_data},
    {"exportEntityData", control__export_entity_data},
    {"listDevices", control__list_devices},
    {"loadNotes", control__load_notes},
    {"noteStock", control__note_stock},
    {"noteRegister", control__note_register},
    {"noteHistory", control__note_history},
    {"redeemNotes", control__redeem_notes},
};

/* Adds one response for cmd (an element of "commands") to responses. */
static void control__run_one(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                             cJSON *responses)
{
    cJSON *resp = cJSON_CreateObject();
    if (resp == NULL) {
        return;
    }
    cJSON_AddItemToArray(responses, resp);
    control_reply r = {.data = cJSON_CreateObject(), .message = NULL};
    fogpay_error err = FOGPAY_ERR_NOT_FOUND;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cmd, "command");
    if (!cJSON_IsObject(cmd) || !cJSON_IsString(name)) {
        err = FOGPAY_ERR_MISSING_FIELD;
        r.message = "each command is an object with a \"command\" name";
    } else {
        cJSON_AddStringToObject(resp, "command", name->valuestring);
        r.message = "unknown command";
        for (size_t i = 0; i < sizeof control_commands / sizeof control_commands[0]; i++) {
            if (strcmp(control_commands[i].name, name->valuestring) == 0) {
                r.message = NULL;
                control_handler handler = control_commands[i].handler;
                err = r.data == NULL ? FOGPAY_ERR_NO_MEMORY
                      : c->entity
                          ? control__entity_run(c, name->valuestring, handler, cmd, now_ms, &r)
                          : handler(c, cmd, now_ms, &r);
                break;
            }
        }
    }
    /* For an operator, naming a device that does not exist is the same
     * fault as naming any other missing thing. */
    if (err == FOGPAY_ERR_UNKNOWN_DEVICE) {
        err = FOGPAY_ERR_NOT_FOUND;
        r.message = "no device has that id";
    }
    if (err != FOGPAY_OK) {
        cJSON_AddStringToObject(resp, "error", fogpay_error_name(err));
        cJSON_AddStringToObject(resp, "errorMessage",
                                r.message ? r.message : fogpay_error_string(err));
    }
    if (r.data != NULL) {
        cJSON_AddItemToObject(resp, "data", r.data);
    }
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(cmd, "correlationData");
    if (cJSON_IsString(corr)) {
        cJSON_AddStringToObject(resp, "correlationData", corr->valuestring);
    }
}

/* True when commands is one importDevices command. */
static bool control__import_alone(const cJSON *commands)
{
    const cJSON *name =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(commands, 0), "command");
    return cJSON_GetArraySize(commands) == 1 && cJSON_IsString(name) &&
           strcmp(name->valuestring, "importDevices") == 0;
}

char *fogpay_control_handle(const fogpay_control_context *c, const char *payload, size_t len,
                            uint64_t now_ms)
{
    cJSON *reply = cJSON_CreateObject();
    cJSON *responses = cJSON_AddArrayToObject(reply, "responses");
    if (responses == NULL) {
        cJSON_Delete(reply);
        return NULL;
    }
    cJSON *request = NULL;
    const cJSON *commands = NULL;
    fogpay_error err = FOGPAY_OK;
    const char *message = NULL;
    if (len > FOGPAY_CONTROL_IMPORT_REQUEST_MAX) {
        err = FOGPAY_ERR_PAYLOAD_TOO_LARGE;
        message = "the request is larger than the control limit";
    } else {
        request = cJSON_ParseWithLength(payload, len);
        commands = cJSON_GetObjectItemCaseSensitive(request, "commands");
        if (request == NULL) {
            err = FOGPAY_ERR_TEXT_INVALID;
            message = "the request is not valid JSON";
        } else if (!cJSON_IsArray(commands)) {
            err = FOGPAY_ERR_MISSING_FIELD;
            message = "the request has no \"commands\" array";
        } else if (cJSON_GetArraySize(commands) > FOGPAY_CONTROL_COMMANDS_MAX) {
            err = FOGPAY_ERR_PAYLOAD_TOO_LARGE;
            message = "the request holds more than 100 commands";
        } else if (len > FOGPAY_CONTROL_REQUEST_MAX && !control__import_alone(commands)) {
            err = FOGPAY_ERR_PAYLOAD_TOO_LARGE;
            message = "a request over 64 KiB holds one importDevices command alone";
        }
    }
    if (err != FOGPAY_OK) {
        cJSON *resp = cJSON_CreateObject();
        cJSON_AddItemToArray(responses, resp);
        cJSON_AddStringToObject(resp, "error", fogpay_error_name(err));
        cJSON_AddStringToObject(resp, "errorMessage", message);
    } else {
        const cJSON *cmd = NULL;
        cJSON_ArrayForEach(cmd, commands)
        {
            control__run_one(c, cmd, now_ms, responses);
        }
    }
    char *text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    cJSON_Delete(request);
    return text;
}
