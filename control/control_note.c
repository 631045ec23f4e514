/*
 * control_note.c - the operator's commands on bearer notes: loadNotes (the
 * issuer's notes into the gateway's stock) and noteStock
 * (schemas/control.schema.json).
 *
 * noteRegister and noteHistory answer by serial (32 hex digits) for
 * regulators and disputes: the note's register entry, and every movement
 * of it on the chain, each naming its holder by key id and device only.
 *
 * Design. A note travels in JSON as a line of a note file (the signed note
 * in hex, a space, the custody entry in hex: fogpay_note_line_format), so
 * that what fogpay-issuer writes is what loadNotes takes. The gateway's
 * stock is held by its active key, read from the ledger's key history: the
 * key the issuer handed the notes to (fogpay-issuer issue --to). The ledger
 * checks every note and loads all or none; a refusal's data names the
 * index of the note refused.
 *
 * redeemNotes takes notes back from a legal entity (its own login, or an
 * operator naming it) into the stock and credits their value to the
 * entity's account (transfer kind 17): note lines as loadNotes takes,
 * each custody entry signed by the note's holder naming the gateway's
 * active key; all or none.
 *
 * Ownership. The reply's cJSON objects belong to r->data.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "control_internal.h"
#include "fogpay_currency.h"
#include "fogpay_hash.h"
#include "ledger_note.h"

/* The public text of the gateway's active key into out. */
static fogpay_error control_note_holder(const fogpay_control_context *c, char *out, size_t cap,
                                        control_reply *r)
{
    fogpay_gateway_key k;
    fogpay_error err = fogpay_ledger_gateway_key_active(c->ledger, &k);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        r->message = "the ledger has no gateway key yet: start the gateway once first";
        return err;
    }
    fogpay_key *key = NULL;
    if (err == FOGPAY_OK) {
        err = fogpay_key_from_public((fogpay_alg)k.alg, k.public_key, k.public_key_len, &key);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(key, out, cap);
    }
    fogpay_key_free(key);
    return err;
}

/* The "notes" array of cmd: 1..FOGPAY_LEDGER_NOTE_LOAD_MAX note lines. */
static fogpay_error control_note_lines(const cJSON *cmd, fogpay_held_note *held, size_t *count,
                                       control_reply *r)
{
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(cmd, "notes");
    if (notes == NULL) {
        r->message = "the command needs \"notes\": the lines of a note file";
        return FOGPAY_ERR_MISSING_FIELD;
    }
    int n = cJSON_IsArray(notes) ? cJSON_GetArraySize(notes) : 0;
    if (n < 1 || n > FOGPAY_LEDGER_NOTE_LOAD_MAX) {
        r->message = "\"notes\" is an array of 1 to 64 note lines";
        return FOGPAY_ERR_FIELD_RANGE;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *line = cJSON_GetArrayItem(notes, i);
        if (!cJSON_IsString(line) || line->valuestring == NULL ||
            strlen(line->valuestring) >= FOGPAY_NOTE_LINE_MAX ||
            fogpay_note_line_parse(line->valuestring, &held[i]) != FOGPAY_OK) {
            cJSON_AddNumberToObject(r->data, "refused", i);
            r->message = "a note is not a note line: the signed note in hex, a space, the "
                         "custody entry in hex";
            return FOGPAY_ERR_TEXT_INVALID;
        }
    }
    *count = (size_t)n;
    return FOGPAY_OK;
}

fogpay_error control__load_notes(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    if (c->note_issuers == NULL || c->note_issuers->count == 0) {
        r->message = "this gateway trusts no note issuer (plugin_opt_note_issuers)";
        return FOGPAY_ERR_CONFIG;
    }
    static fogpay_held_note held[FOGPAY_LEDGER_NOTE_LOAD_MAX];
    size_t count = 0;
    fogpay_error err = control_note_lines(cmd, held, &count, r);
    char holder[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    if (err == FOGPAY_OK) {
        err = control_note_holder(c, holder, sizeof holder, r);
    }
    size_t refused = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_note_load(c->ledger, c->note_issuers, holder, held, count, now_ms,
                                      &refused);
        if (err != FOGPAY_OK) {
            cJSON_AddNumberToObject(r->data, "refused", (double)refused);
        }
    }
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_note_movement_head(c->ledger, &head, hash);
    }
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "loaded", (double)count);
        cJSON_AddNumberToObject(r->data, "movement", (double)head);
    }
    return err;
}

fogpay_error control__redeem_notes(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r)
{
    static fogpay_held_note held[FOGPAY_LEDGER_NOTE_LOAD_MAX];
    size_t count = 0;
    const char *entity = NULL;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    err = err == FOGPAY_OK ? control_note_lines(cmd, held, &count, r) : err;
    char holder[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    err = err == FOGPAY_OK ? control_note_holder(c, holder, sizeof holder, r) : err;
    fogpay_note_entity_redemption out;
    size_t refused = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_note_redeem_entity(c->ledger, holder, entity, held, count, now_ms, &out,
                                               &refused);
        if (err != FOGPAY_OK && err != FOGPAY_ERR_ENTITY_UNKNOWN) {
            cJSON_AddNumberToObject(r->data, "refused", (double)refused);
        }
    }
    if (err == FOGPAY_OK) {
        int exponent = 0;
        const char *code = fogpay_currency_code(out.currency, &exponent);
        cJSON_AddNumberToObject(r->data, "redeemed", (double)out.count);
        cJSON_AddNumberToObject(r->data, "transfer", (double)out.transfer.position);
        control__add_amount(r->data, "amount", (int64_t)out.transfer.amount_minor, exponent);
        control__add_amount(r->data, "balance", out.balance_after_minor, exponent);
        cJSON_AddStringToObject(r->data, "currency", code ? code : "");
    }
    return err;
}

/* Visitor of fogpay_ledger_note_stock: one object a value. */
static int control_note_stock_row(void *ctx, uint16_t currency, uint64_t denomination_minor,
                                  uint64_t count)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return 1;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(currency, &exponent);
    cJSON_AddStringToObject(o, "currency", code ? code : "");
    control__add_amount(o, "denomination", (int64_t)denomination_minor, exponent);
    cJSON_AddNumberToObject(o, "count", (double)count);
    cJSON_AddItemToArray(ctx, o);
    return 0;
}

fogpay_error control__note_stock(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                                 control_reply *r)
{
    (void)cmd;
    (void)now_ms;
    cJSON *stock = cJSON_AddArrayToObject(r->data, "stock");
    if (stock == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    return fogpay_ledger_note_stock(c->ledger, control_note_stock_row, stock);
}

/* The "serial" of cmd: 32 hex digits. */
static fogpay_error control_note_serial(const cJSON *cmd, uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                        control_reply *r)
{
    const char *text = NULL;
    fogpay_error err = control__text(cmd, "serial", true, 2 * FOGPAY_NOTE_SERIAL_BYTES, &text, r);
    if (err == FOGPAY_OK &&
        (strlen(text) != 2 * FOGPAY_NOTE_SERIAL_BYTES ||
         fogpay_hex_decode(text, serial, FOGPAY_NOTE_SERIAL_BYTES) != FOGPAY_OK)) {
        r->message = "\"serial\" is a note's serial: 32 hex digits";
        err = FOGPAY_ERR_TEXT_INVALID;
    }
    return err;
}

static const char *const control_note_states[] = {
    [FOGPAY_NOTE_IN_STOCK] = "stock",
    [FOGPAY_NOTE_HELD] = "held",
    [FOGPAY_NOTE_CAME_BACK] = "redeemed",
};

static const char *const control_note_movements[] = {
    [FOGPAY_NOTE_LOADED] = "loaded",     [FOGPAY_NOTE_WITHDRAWN] = "withdrawn",
    [FOGPAY_NOTE_PAID] = "paid",         [FOGPAY_NOTE_REDEEMED] = "redeemed",
    [FOGPAY_NOTE_TENDERED] = "tendered", [FOGPAY_NOTE_CHANGE] = "change",
    [FOGPAY_NOTE_RETURNED] = "returned",
};

fogpay_error control__note_register(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];
    fogpay_note_entry e;
    fogpay_error err = control_note_serial(cmd, serial, r);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_note_get(c->ledger, serial, &e);
    }
    if (err == FOGPAY_ERR_NOT_FOUND) {
        r->message = "the register holds no note of that serial";
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(e.currency, &exponent);
    char kid[2 * FOGPAY_KID_BYTES + 1];
    fogpay_hex_encode(e.issuer_kid, FOGPAY_KID_BYTES, kid);
    cJSON_AddStringToObject(r->data, "currency", code ? code : "");
    control__add_amount(r->data, "denomination", (int64_t)e.denomination_minor, exponent);
    cJSON_AddStringToObject(r->data, "issuer", kid);
    cJSON_AddStringToObject(r->data, "state", control_note_states[e.state]);
    cJSON_AddStringToObject(r->data, "holderKey", e.holder_key);
    if (e.holder_device[0] != '\0') {
        cJSON_AddStringToObject(r->data, "device", e.holder_device);
    }
    if (e.expiry_s != 0) {
        cJSON_AddNumberToObject(r->data, "expiry", (double)e.expiry_s);
    }
    cJSON_AddNumberToObject(r->data, "movement", (double)e.movement);
    return FOGPAY_OK;
}

/* Visitor of fogpay_ledger_note_history: one object a movement. */
static int control_note_movement(void *ctx, const fogpay_note_movement *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return 1;
    }
    char kid[2 * FOGPAY_KID_BYTES + 1];
    fogpay_hex_encode(m->holder_kid, FOGPAY_KID_BYTES, kid);
    cJSON_AddNumberToObject(o, "position", (double)m->position);
    cJSON_AddStringToObject(o, "kind", control_note_movements[m->kind]);
    cJSON_AddNumberToObject(o, "time", (double)m->time_ms);
    cJSON_AddStringToObject(o, "holder", kid);
    if (m->device_id[0] != '\0') {
        cJSON_AddStringToObject(o, "device", m->device_id);
    }
    if (m->transfer_position != 0) {
        cJSON_AddNumberToObject(o, "transfer", (double)m->transfer_position);
    }
    cJSON_AddItemToArray(ctx, o);
    return 0;
}

fogpay_error control__note_history(const fogpay_control_context *c, const cJSON *cmd,
                                   uint64_t now_ms, control_reply *r)
{
    (void)now_ms;
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];
    fogpay_error err = control_note_serial(cmd, serial, r);
    cJSON *list = err == FOGPAY_OK ? cJSON_CreateArray() : NULL;
    if (err == FOGPAY_OK && list == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    size_t count = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_note_history(c->ledger, serial, control_note_movement, list, &count);
    }
    if (err == FOGPAY_OK && count == 0) {
        r->message = "the register holds no note of that serial";
        err = FOGPAY_ERR_NOT_FOUND;
    }
    if (err != FOGPAY_OK) {
        cJSON_Delete(list);
        return err;
    }
    cJSON_AddItemToObject(r->data, "movements", list);
    return FOGPAY_OK;
}
