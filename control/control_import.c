/*
 * control_import.c - importDevices: many devices registered in one ledger
 * operation (fogpay_ledger_device_import), for provisioning a site.
 *
 * Every element of "devices" is read and validated first, with the rules of
 * registerDevice (device, publicKey, owner, limits, and password or
 * passwordVerifier); the first bad element is answered with its 1-based
 * position as data "line" and nothing is imported. A device that is
 * registered already exactly as the element says is skipped and listed in
 * data "skipped"; one registered otherwise is refused the same way as a bad
 * element. "skipped" lists the devices in the order of "devices". A
 * request that holds an import alone may be larger than other
 * control requests (FOGPAY_CONTROL_IMPORT_REQUEST_MAX).
 *
 * Ownership: the keys and verifiers of the elements live in one array from
 * calloc, freed before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"
#include "fogpay_key.h"
#include "fogpay_password.h"

typedef struct import_item {
    fogpay_device_import d;
    fogpay_key *key;
    char verifier[FOGPAY_PASSWORD_HASH_MAX];
} import_item;

/* Reads one element of "devices" into item. */
static fogpay_error import__read(const cJSON *element, import_item *item, control_reply *r)
{
    const char *public_key = NULL;
    if (!cJSON_IsObject(element)) {
        r->message = "each element of devices is an object";
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_error err =
        control__text(element, "device", true, FOGPAY_DEVICE_ID_MAX, &item->d.device_id, r);
    if (err == FOGPAY_OK) {
        err = control__text(element, "publicKey", true, FOGPAY_PUBLIC_KEY_TEXT_MAX, &public_key, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(element, "owner", true, FOGPAY_ENTITY_ID_MAX, &item->d.owner_entity, r);
    }
    if (err == FOGPAY_OK) {
        err = control__device_verifier(element, item->verifier, r);
    }
    if (err == FOGPAY_OK) {
        err = control__device_limits(element, &item->d.limits, r);
    }
    if (err == FOGPAY_OK && fogpay_key_from_public_text(public_key, &item->key) != FOGPAY_OK) {
        r->message = "publicKey is not \"ed25519:<hex>\" or \"p256:<hex>\" of a valid key";
        err = FOGPAY_ERR_TEXT_INVALID;
    }
    item->d.public_key = item->key;
    item->d.password_hash = item->verifier;
    return err;
}

/* Reads every element into items; *line is the 1-based position read last. */
static fogpay_error import__read_all(const cJSON *list, import_item *items, size_t *line,
                                     control_reply *r)
{
    fogpay_error err = FOGPAY_OK;
    const cJSON *element = NULL;
    *line = 0;
    cJSON_ArrayForEach(element, list)
    {
        err = import__read(element, &items[(*line)++], r);
        if (err != FOGPAY_OK) {
            break;
        }
    }
    return err;
}

/* The ledger's refusal of the element at fault, as a sentence. */
static const char *import__refusal(fogpay_error err)
{
    switch (err) {
    case FOGPAY_ERR_EXISTS:
        return "the device is registered already with another key, owner, limits or status";
    case FOGPAY_ERR_NOT_FOUND:
        return "the owner entity does not exist";
    case FOGPAY_ERR_TEXT_INVALID:
        return "the device id has characters other than letters, digits and \".:_-\"";
    default:
        return NULL;
    }
}

/* Imports the read items and fills data: "imported" and "skipped". */
static fogpay_error import__store(const fogpay_control_context *c, import_item *items, size_t n,
                                  uint64_t now_ms, size_t *line, control_reply *r)
{
    fogpay_device_import *devices = calloc(n, sizeof *devices);
    bool *skipped = calloc(n, sizeof *skipped);
    cJSON *skipped_ids = cJSON_CreateArray();
    fogpay_error err = devices && skipped && skipped_ids ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
    size_t failed = 0, imported = 0;
    for (size_t i = 0; err == FOGPAY_OK && i < n; i++) {
        devices[i] = items[i].d;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_device_import(c->ledger, devices, n, now_ms, skipped, &failed);
        *line = failed < n ? failed + 1 : 0;
        r->message = import__refusal(err);
    }
    for (size_t i = 0; err == FOGPAY_OK && i < n; i++) {
        imported += !skipped[i];
        if (skipped[i]) {
            cJSON_AddItemToArray(skipped_ids, cJSON_CreateString(items[i].d.device_id));
        }
    }
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "imported", (double)imported);
        cJSON_AddItemToObject(r->data, "skipped", skipped_ids);
        skipped_ids = NULL;
    }
    cJSON_Delete(skipped_ids);
    free(skipped);
    free(devices);
    return err;
}

fogpay_error control__import_devices(const fogpay_control_context *c, const cJSON *cmd,
                                     uint64_t now_ms, control_reply *r)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cmd, "devices");
    int count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (count < 1 || count > FOGPAY_CONTROL_IMPORT_DEVICES_MAX) {
        r->message = "devices is an array of 1 to 20000 device objects";
        return list == NULL ? FOGPAY_ERR_MISSING_FIELD : FOGPAY_ERR_FIELD_RANGE;
    }
    size_t n = (size_t)count, line = 0;
    import_item *items = calloc(n, sizeof *items);
    if (items == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = import__read_all(list, items, &line, r);
    if (err == FOGPAY_OK) {
        err = import__store(c, items, n, now_ms, &line, r);
    }
    if (err != FOGPAY_OK && line > 0) {
        cJSON_AddNumberToObject(r->data, "line", (double)line);
    }
    for (size_t i = 0; i < n; i++) {
        fogpay_key_free(items[i].key);
    }
    free(items);
    return err;
}
