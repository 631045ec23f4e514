/*
 * control_entity_data.c - a legal entity's GDPR requests on the control
 * API: erasure of its personal data (eraseEntityData) and an access
 * request that exports everything the gateway holds about it
 * (exportEntityData).
 *
 * Both are open to the entity's own login for its own entity only
 * (control_entity.c: another entity's id is entity_foreign_account), and
 * to operators naming the entity. The export is one JSON object: the
 * entity and its personal data (or that they are erased), its accounts
 * with their balances, the devices it held over time, the transfers it is
 * party to and the events that name it. The transfers stop at
 * FOGPAY_ENTITY_EXPORT_TRANSFERS_MAX, with "transfersNext", the cursor
 * from which listTransfers with the entity's filter reads the rest.
 * Personal data appear in no reply but the entity's own export.
 *
 * Ownership: the cJSON built here goes into the reply's data.
 */
#include <string.h>

#include "control_internal.h"
#include "fogpay_export.h"

fogpay_error control__erase_entity_data(const fogpay_control_context *c, const cJSON *cmd,
                                        uint64_t now_ms, control_reply *r)
{
    const char *entity = NULL;
    uint64_t event = 0;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_entity_erase(c->ledger, entity, now_ms, &event);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "entity", entity);
        cJSON_AddNumberToObject(r->data, "event", (double)event);
    }
    return err;
}

/* The entity's personal data, or "personalErased": true. */
static fogpay_error entity_data__personal(const fogpay_control_context *c, const char *entity,
                                          cJSON *data)
{
    fogpay_entity_personal_copy p;
    fogpay_error err = fogpay_ledger_entity_personal(c->ledger, entity, &p);
    if (err == FOGPAY_ERR_PERSONAL_DATA_ERASED) {
        cJSON_AddNumberToObject(data, "created", (double)p.created_ms);
        return cJSON_AddBoolToObject(data, "personalErased", true) ? FOGPAY_OK
                                                                   : FOGPAY_ERR_NO_MEMORY;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddNumberToObject(data, "created", (double)p.created_ms);
    cJSON *o = cJSON_AddObjectToObject(data, "personal");
    if (o == NULL || cJSON_AddStringToObject(o, "name", p.name) == NULL ||
        (p.contact[0] && cJSON_AddStringToObject(o, "contact", p.contact) == NULL) ||
        (p.bank_ref[0] && cJSON_AddStringToObject(o, "bankReference", p.bank_ref) == NULL)) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    memset(&p, 0, sizeof p);
    return err;
}

static int entity_data__account(void *ctx, uint64_t account, uint16_t currency,
                                int64_t balance_minor)
{
    cJSON *o = cJSON_CreateObject();
    int exponent = 0;
    const char *code = fogpay_currency_code(currency, &exponent);
    if (o == NULL || !cJSON_AddItemToArray(ctx, o)) {
        cJSON_Delete(o);
        return 1;
    }
    cJSON_AddNumberToObject(o, "account", (double)account);
    cJSON_AddStringToObject(o, "currency", code ? code : "");
    control__add_amount(o, "balance", balance_minor, exponent);
    return 0;
}

static int entity_data__holding(void *ctx, const fogpay_holding *h)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(ctx, o)) {
        cJSON_Delete(o);
        return 1;
    }
    cJSON_AddStringToObject(o, "device", h->device_id);
    cJSON_AddStringToObject(o, "role", h->role);
    cJSON_AddNumberToObject(o, "effective", (double)h->effective_ms);
    cJSON_AddNumberToObject(o, "recorded", (double)h->recorded_ms);
    if (h->until_ms != 0) {
        cJSON_AddNumberToObject(o, "until", (double)h->until_ms);
    }
    return 0;
}

typedef struct entity_data_list {
    cJSON *array;
    const char *entity;
    uint64_t last_position;
    uint32_t count;
    bool no_memory;
} entity_data_list;

static int entity_data__transfer(void *ctx, const fogpay_transfer *t,
                                 const uint8_t hash[FOGPAY_HASH_BYTES])
{
    entity_data_list *list = ctx;
    cJSON *o = fogpay_export_transfer_object(t, hash);
    if (o == NULL || !cJSON_AddItemToArray(list->array, o)) {
        cJSON_Delete(o);
        list->no_memory = true;
        return 1;
    }
    list->last_position = t->position;
    list->count++;
    return 0;
}

static int entity_data__event(void *ctx, const fogpay_event *e,
                              const uint8_t hash[FOGPAY_HASH_BYTES])
{
    entity_data_list *list = ctx;
    list->last_position = e->position;
    list->count++;
    if (strcmp(e->entity_id, list->entity) != 0 ||
        cJSON_GetArraySize(list->array) >= (int)FOGPAY_ENTITY_EXPORT_EVENTS_MAX) {
        return 0;
    }
    cJSON *o = fogpay_export_event_object(e, hash);
    if (o == NULL || !cJSON_AddItemToArray(list->array, o)) {
        cJSON_Delete(o);
        list->no_memory = true;
        return 1;
    }
    return 0;
}

/* The transfers the entity is party to, the first page of them. */
static fogpay_error entity_data__transfers(const fogpay_control_context *c, const char *entity,
                                           cJSON *data)
{
    entity_data_list list = {.array = cJSON_AddArrayToObject(data, "transfers")};
    fogpay_transfer_filter f = {.entity_id = entity, .limit = FOGPAY_ENTITY_EXPORT_TRANSFERS_MAX};
    fogpay_error err = list.array != NULL ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_transfer_list(c->ledger, &f, entity_data__transfer, &list);
    }
    if (err == FOGPAY_OK && list.no_memory) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    if (err == FOGPAY_OK && list.count == f.limit) {
        cJSON_AddNumberToObject(data, "transfersNext", (double)list.last_position);
    }
    return err;
}

/* The events naming the entity: the whole event chain, page by page. */
static fogpay_error entity_data__events(const fogpay_control_context *c, const char *entity,
                                        cJSON *data)
{
    entity_data_list list = {.array = cJSON_AddArrayToObject(data, "events"), .entity = entity};
    fogpay_error err = list.array != NULL ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
    for (uint32_t page = FOGPAY_TRANSFER_LIST_MAX;
         err == FOGPAY_OK && page == FOGPAY_TRANSFER_LIST_MAX;) {
        list.count = 0;
        err = fogpay_ledger_event_list(c->ledger, list.last_position, FOGPAY_TRANSFER_LIST_MAX,
                                       entity_data__event, &list);
        page = list.count;
        if (err == FOGPAY_OK && list.no_memory) {
            err = FOGPAY_ERR_NO_MEMORY;
        }
    }
    return err;
}

fogpay_error control__export_entity_data(const fogpay_control_context *c, const cJSON *cmd,
                                         uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    const char *entity = NULL;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        cJSON_AddStringToObject(r->data, "entity", entity);
        err = entity_data__personal(c, entity, r->data);
    }
    cJSON *accounts = err == FOGPAY_OK ? cJSON_AddArrayToObject(r->data, "accounts") : NULL;
    if (err == FOGPAY_OK) {
        err = accounts != NULL
                  ? fogpay_ledger_entity_accounts(c->ledger, entity, entity_data__account, accounts)
                  : FOGPAY_ERR_NO_MEMORY;
    }
    cJSON *devices = err == FOGPAY_OK ? cJSON_AddArrayToObject(r->data, "devices") : NULL;
    if (err == FOGPAY_OK) {
        err = devices != NULL
                  ? fogpay_ledger_entity_holdings(c->ledger, entity, entity_data__holding, devices)
                  : FOGPAY_ERR_NO_MEMORY;
    }
    if (err == FOGPAY_OK) {
        err = entity_data__transfers(c, entity, r->data);
    }
    if (err == FOGPAY_OK) {
        err = entity_data__events(c, entity, r->data);
    }
    return err;
}
