/*
 * control_entity.c - legal entities on the control API: their logins
 * (createEntityLogin, removeEntityLogin), their accounts and devices
 * (getEntityAccount, listEntityDevices), their payments to devices
 * (payDevice), and what a request sent under an entity's own login may do.
 *
 * A legal entity (the person or company behind devices) logs in to the
 * gateway as itself (plugin/auth.c) and sends the same JSON commands as an
 * operator, but only those of control_entity_commands below, each scoped
 * to that entity before its handler runs:
 *
 *   getBalance         a device it holds now
 *   getEntityAccount   its own account of a currency (the account id a
 *                      device names as payee, intent key 4)
 *   listEntityDevices  the devices it holds now
 *   listTransfers      transfers it is payer or payee of (the "entity"
 *                      filter is its own; a "device" must be one it holds)
 *   getTransfer        a transfer it is payer or payee of
 *   payDevice          from its own account to any device not revoked:
 *                      a top-up of its own device or a purchase
 *   getStatement       the ISO 20022 statement of its own account
 *   eraseEntityData    erasure of its own personal data
 *   exportEntityData   everything the gateway holds about itself
 *   getPlanStatement   its own statement of a financing plan (what it
 *                      paid and owes of a device it held)
 *   redeemNotes        bearer notes handed back into its own account
 *
 * Whatever else it names is refused with a reason of its own, and nothing
 * moves: another entity's account or money (entity_foreign_account), a
 * device it does not hold (entity_foreign_device), a transfer it is no
 * party to (entity_foreign_transfer), any other command
 * (entity_command). "Holds" is fogpay_ledger_owner_at at the request's
 * time, so a device sold or leased out stops being the seller's at once.
 * Operators may use every command here, naming the entity.
 *
 * Ownership: a scoped command is a copy of the request's command (cJSON,
 * freed here); nothing else is allocated.
 */
#include <stdio.h>
#include <string.h>

#include "control_internal.h"
#include "fogpay_password.h"

/* Devices in one listEntityDevices page: a reply well under the control
 * limits, and a person's or a site's devices in a few pages. */
#define CONTROL_ENTITY_DEVICES_PAGE 100

/* Checks (and may add to) an entity's copy of cmd before its handler
 * runs. */
typedef fogpay_error (*control_entity_scope)(const fogpay_control_context *c, cJSON *cmd,
                                             uint64_t now_ms, control_reply *r);

typedef struct control_entity_command {
    const char *name;
    control_entity_scope scope;
} control_entity_command;

/* The device the command names, if any, is held by the entity now. */
static fogpay_error entity__scope_device(const fogpay_control_context *c, cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    const char *device = NULL;
    fogpay_error err = control__text(cmd, "device", false, FOGPAY_DEVICE_ID_MAX, &device, r);
    if (err == FOGPAY_OK && device != NULL) {
        err = fogpay_ledger_entity_holds(c->ledger, c->entity, device, now_ms);
    }
    if (err == FOGPAY_ERR_ENTITY_FOREIGN_DEVICE) {
        r->message = "that device is not held by the entity logged in";
    }
    return err;
}

/* The entity the command names is the one logged in; absent, it is set. */
static fogpay_error entity__scope_self(const fogpay_control_context *c, cJSON *cmd, uint64_t now_ms,
                                       control_reply *r)
{
    (void)now_ms;
    const char *entity = NULL;
    fogpay_error err = control__text(cmd, "entity", false, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK && entity != NULL && strcmp(entity, c->entity) != 0) {
        r->message = "an entity login acts only on its own entity's accounts and money";
        err = FOGPAY_ERR_ENTITY_FOREIGN_ACCOUNT;
    }
    if (err == FOGPAY_OK && entity == NULL &&
        cJSON_AddStringToObject(cmd, "entity", c->entity) == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    return err;
}

static fogpay_error entity__scope_transfers(const fogpay_control_context *c, cJSON *cmd,
                                            uint64_t now_ms, control_reply *r)
{
    fogpay_error err = entity__scope_self(c, cmd, now_ms, r);
    return err == FOGPAY_OK ? entity__scope_device(c, cmd, now_ms, r) : err;
}

/* The transfer named by "id" has the entity as payer or payee. */
static fogpay_error entity__scope_transfer(const fogpay_control_context *c, cJSON *cmd,
                                           uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    uint64_t id = 0;
    fogpay_error err = control__u64(cmd, "id", true, &id, r);
    fogpay_transfer t;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_transfer_get(c->ledger, id, &t, NULL);
    }
    if (err == FOGPAY_OK && strcmp(t.payer_entity, c->entity) != 0 &&
        strcmp(t.payee_entity, c->entity) != 0) {
        r->message = "the entity logged in is neither payer nor payee of that transfer";
        err = FOGPAY_ERR_ENTITY_FOREIGN_TRANSFER;
    }
    return err;
}

/* The commands open to an entity's login, each with its scope. */
static const control_entity_command control_entity_commands[] = {
    {"getBalance", entity__scope_device},      {"getEntityAccount", entity__scope_self},
    {"listEntityDevices", entity__scope_self}, {"listTransfers", entity__scope_transfers},
    {"getTransfer", entity__scope_transfer},   {"payDevice", entity__scope_self},
    {"getStatement", entity__scope_self},      {"eraseEntityData", entity__scope_self},
    {"exportEntityData", entity__scope_self},  {"getPlanStatement", entity__scope_self},
    {"redeemNotes", entity__scope_self},
};

fogpay_error control__entity_run(const fogpay_control_context *c, const char *name,
                                 control_handler handler, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    const control_entity_command *found = NULL;
    for (size_t i = 0; i < sizeof control_entity_commands / sizeof control_entity_commands[0];
         i++) {
        if (strcmp(control_entity_commands[i].name, name) == 0) {
            found = &control_entity_commands[i];
        }
    }
    if (found == NULL) {
        r->message = "that control command is for operators; an entity login may not use it";
        return FOGPAY_ERR_ENTITY_COMMAND;
    }
    cJSON *scoped = cJSON_Duplicate(cmd, true);
    if (scoped == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = found->scope(c, scoped, now_ms, r);
    if (err == FOGPAY_OK) {
        err = handler(c, scoped, now_ms, r);
    }
    cJSON_Delete(scoped);
    return err;
}

/* The verifier of a login from cmd: "password" (hashed here with PBKDF2,
 * at least FOGPAY_ENTITY_PASSWORD_MIN characters), "passwordVerifier" (a
 * "pbkdf2-sha256$" verifier made elsewhere) or "certificateOnly": true,
 * exactly one; out is left empty for a certificate login. */
static fogpay_error entity__login_verifier(const cJSON *cmd, char *out, control_reply *r)
{
    const char *password = NULL;
    const char *verifier = NULL;
    out[0] = '\0';
    fogpay_error err = control__password_fields(cmd, &password, &verifier, r);
    const cJSON *certificate = cJSON_GetObjectItemCaseSensitive(cmd, "certificateOnly");
    bool certificate_only = cJSON_IsTrue(certificate);
    if (err == FOGPAY_OK && ((certificate != NULL && !certificate_only) ||
                             (password != NULL) + (verifier != NULL) + certificate_only != 1)) {
        r->message = "give a login exactly one of password, passwordVerifier and "
                     "\"certificateOnly\": true";
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err != FOGPAY_OK || certificate_only) {
        return err;
    }
    if (verifier != NULL) {
        if (fogpay_password_is_device_verifier(verifier) ||
            fogpay_password_hash_parse(verifier) != FOGPAY_OK) {
            r->message = "passwordVerifier is a \"pbkdf2-sha256$...\" verifier (fogpayctl passwd)";
            return FOGPAY_ERR_FIELD_RANGE;
        }
        memcpy(out, verifier, strlen(verifier) + 1);
        return FOGPAY_OK;
    }
    if (strlen(password) < FOGPAY_ENTITY_PASSWORD_MIN) {
        r->message = "an entity's password is at least 12 characters (a passphrase)";
        return FOGPAY_ERR_SECRET_WEAK;
    }
    err = fogpay_password_hash(password, strlen(password), 0, out, FOGPAY_PASSWORD_HASH_TEXT_MAX);
    if (err != FOGPAY_OK) {
        r->message = "the password could not be hashed";
    }
    return err;
}

fogpay_error control__create_entity_login(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r)
{
    const char *entity = NULL;
    const char *login = NULL;
    char verifier[FOGPAY_PASSWORD_HASH_MAX];
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "login", true, FOGPAY_LOGIN_NAME_MAX, &login, r);
    }
    if (err == FOGPAY_OK) {
        err = entity__login_verifier(cmd, verifier, r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_entity_login_create(c->ledger, login, entity, verifier, now_ms);
    }
    if (err == FOGPAY_ERR_EXISTS) {
        r->message = "a login or a device has that name already";
    } else if (err == FOGPAY_ERR_TEXT_INVALID) {
        r->message = "a login is 1 to 23 letters, digits and \".:_-\", like a device id";
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "login", login);
        cJSON_AddStringToObject(r->data, "entity", entity);
    }
    return err;
}

fogpay_error control__remove_entity_login(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r)
{
    const char *login = NULL;
    fogpay_error err = control__text(cmd, "login", true, FOGPAY_LOGIN_NAME_MAX, &login, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_entity_login_remove(c->ledger, login, now_ms);
    }
    if (err == FOGPAY_ERR_NOT_FOUND) {
        r->message = "no entity login has that name";
    }
    return err;
}

fogpay_error control__get_entity_account(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    const char *entity = NULL;
    uint16_t currency = 0;
    int exponent = 0;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &currency, &exponent, r);
    }
    uint64_t account = 0;
    int64_t balance = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_entity_account(c->ledger, entity, currency, &account);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_balance(c->ledger, account, &balance);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "entity", entity);
        cJSON_AddNumberToObject(r->data, "account", (double)account);
        control__add_amount(r->data, "balance", balance, exponent);
        cJSON_AddStringToObject(r->data, "currency", fogpay_currency_code(currency, &exponent));
    }
    return err;
}

fogpay_error control__list_entity_devices(const fogpay_control_context *c, const cJSON *cmd,
                                          uint64_t now_ms, control_reply *r)
{
    const char *entity = NULL;
    const char *after = NULL;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "after", false, FOGPAY_DEVICE_ID_MAX, &after, r);
    }
    char ids[CONTROL_ENTITY_DEVICES_PAGE][FOGPAY_DEVICE_ID_MAX + 1];
    size_t count = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_entity_devices(c->ledger, entity, now_ms, after ? after : "", ids,
                                           CONTROL_ENTITY_DEVICES_PAGE, &count);
    }
    cJSON *list = err == FOGPAY_OK ? cJSON_AddArrayToObject(r->data, "devices") : NULL;
    if (err == FOGPAY_OK && list == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        cJSON_AddItemToArray(list, cJSON_CreateString(ids[i]));
    }
    if (err == FOGPAY_OK && count == CONTROL_ENTITY_DEVICES_PAGE) {
        cJSON_AddStringToObject(r->data, "next", ids[count - 1]);
    }
    return err;
}

fogpay_error control__pay_device(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    const char *entity = NULL;
    control_credit credit;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = control__credit(cmd, &credit, r);
    }
    fogpay_transfer t;
    int64_t balance = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_entity_pay(c->ledger, entity, credit.device, credit.currency,
                                       credit.amount_minor, credit.reference, now_ms, &t, &balance);
    }
    if (err == FOGPAY_ERR_NOT_FOUND) {
        r->message = "no legal entity or no device has that id";
    } else if (err == FOGPAY_ERR_INSUFFICIENT_FUNDS) {
        r->message = "the entity's account does not hold the amount";
    }
    if (err == FOGPAY_OK) {
        int exponent = credit.exponent;
        cJSON_AddNumberToObject(r->data, "transfer", (double)t.position);
        control__add_amount(r->data, "balance", balance, exponent);
        cJSON_AddStringToObject(r->data, "currency",
                                fogpay_currency_code(credit.currency, &exponent));
    }
    return err;
}

fogpay_error fogpay_control_entity_response_topic(const char *login, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", FOGPAY_CONTROL_RESPONSE_TOPIC, login);
    return n > 0 && (size_t)n < cap ? FOGPAY_OK : FOGPAY_ERR_BUFFER_TOO_SMALL;
}
