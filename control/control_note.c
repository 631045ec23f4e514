/*
 * control_note.c - the operator's commands on bearer notes: loadNotes (the
 * issuer's notes into the gateway's stock) and noteStock
 * (schemas/control.schema.json).
 *
 * Design. A note travels in JSON as a line of a note file (the signed note
 * in hex, a space, the custody entry in hex: fogpay_note_line_format), so
 * that what fogpay-issuer writes is what loadNotes takes. The gateway's
 * stock is held by its active key, read from the ledger's key history: the
 * key the issuer handed the notes to (fogpay-issuer issue --to). The ledger
 * checks every note and loads all or none; a refusal's data names the
 * index of the note refused.
 *
 * Ownership. The reply's cJSON objects belong to r->data.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "control_internal.h"
#include "fogpay_currency.h"
#include "ledger_note.h"

/* The public text of the gateway's active key into out. */
static fogpay_error control_note_holder(const fogpay_control_context *c, char *out, size_t cap,
                                        control_reply *r)
{
    fogpay_gateway_key k;
    fogpay_error err = fogpay_ledger_gateway_key_active(c->ledger, &k);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        r->message = "the ledger has no gateway key yet: start the gateway once, then load";
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
        r->message = "loadNotes needs \"notes\": the lines of a note file";
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
