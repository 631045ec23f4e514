/*
 * fogpay_note.c - bearer notes: denominations, serials, links, the trusted
 * issuer keys, and the signing and opening of notes and custody entries.
 *
 * Design. The payload codecs live with every other message's in
 * fogpay_message.c (one table-driven codec); this file adds what makes a
 * note money: the fixed list of denominations of each currency, and the
 * checks in the order a receiver needs them. Opening a note finds its
 * issuer by kid before verifying, so that a note of an unknown issuer, a
 * forged note of a known one and a note of a retired key are told apart,
 * each with its own reason. Opening a custody entry verifies it with the
 * key of the holder the caller knows (its register, or the chain so far)
 * and then checks that it continues that chain.
 */
#include "fogpay_note.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fogpay_cbor.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_password.h"

/* The denominations of a currency in minor units, ascending: its coins
 * and banknotes. A currency not listed issues no notes. */
typedef struct denomination_row {
    uint16_t currency;
    uint8_t count;
    uint64_t minor[FOGPAY_NOTE_DENOMINATIONS_MAX];
} denomination_row;

static const denomination_row denomination_rows[] = {
    /* EUR: 1 cent to 500 euros. */
    {978, 15, {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000}},
    /* USD: 1 cent to 100 dollars. */
    {840, 12, {1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000}},
    /* GBP: 1 penny to 50 pounds. */
    {826, 12, {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}},
    /* CHF: 5 centimes to 1000 francs. */
    {756, 13, {5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 100000}},
};

#define DENOMINATION_ROWS (sizeof denomination_rows / sizeof denomination_rows[0])

size_t fogpay_note_denominations(uint16_t currency, const uint64_t **out)
{
    for (size_t i = 0; i < DENOMINATION_ROWS; i++) {
        if (denomination_rows[i].currency == currency) {
            *out = denomination_rows[i].minor;
            return denomination_rows[i].count;
        }
    }
    *out = NULL;
    return 0;
}

bool fogpay_note_denomination_valid(uint16_t currency, uint64_t denomination_minor)
{
    const uint64_t *list = NULL;
    size_t n = fogpay_note_denominations(currency, &list);
    for (size_t i = 0; i < n; i++) {
        if (list[i] == denomination_minor) {
            return true;
        }
    }
    return false;
}

fogpay_error fogpay_note_serial_new(uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES])
{
    return fogpay_random_bytes(serial, FOGPAY_NOTE_SERIAL_BYTES);
}

fogpay_error fogpay_note_link(const uint8_t *signed_msg, size_t len,
                              uint8_t link[FOGPAY_HASH_BYTES])
{
    return fogpay_sha256(signed_msg, len, link);
}

/* ---- the trusted issuers ----------------------------------------------- */

fogpay_error fogpay_note_issuers_add(fogpay_note_issuers *set, const char *public_text,
                                     bool retired)
{
    if (set->count >= FOGPAY_NOTE_ISSUERS_MAX) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    fogpay_note_issuer *it = &set->issuer[set->count];
    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_from_public_text(public_text, &key);
    if (err == FOGPAY_OK) {
        err = fogpay_key_id(key, it->kid);
    }
    if (err == FOGPAY_OK && fogpay_note_issuers_find(set, it->kid) != NULL) {
        err = FOGPAY_ERR_EXISTS;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(key, it->public_text, sizeof it->public_text);
    }
    if (err != FOGPAY_OK) {
        fogpay_key_free(key);
        return err;
    }
    it->key = key;
    it->retired = retired;
    set->count++;
    return FOGPAY_OK;
}

/* One line of a trust file, its newline removed: blank, a comment, or a
 * key and its state. */
static fogpay_error issuers_line(fogpay_note_issuers *set, char *line)
{
    char *hash = strchr(line, '#');
    if (hash) {
        *hash = '\0';
    }
    char key[FOGPAY_NOTE_ISSUER_LINE_MAX];
    char state[16];
    char extra[2];
    int n = sscanf(line, "%255s %15s %1s", key, state, extra);
    if (n <= 0) {
        return FOGPAY_OK;
    }
    bool active = n == 2 && strcmp(state, "active") == 0;
    bool retired = n == 2 && strcmp(state, "retired") == 0;
    if (!active && !retired) {
        return FOGPAY_ERR_CONFIG;
    }
    return fogpay_note_issuers_add(set, key, retired) == FOGPAY_OK ? FOGPAY_OK : FOGPAY_ERR_CONFIG;
}

fogpay_error fogpay_note_issuers_load(const char *path, fogpay_note_issuers *set)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return FOGPAY_ERR_IO;
    }
    char line[FOGPAY_NOTE_ISSUER_LINE_MAX];
    fogpay_error err = FOGPAY_OK;
    while (err == FOGPAY_OK && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] != '\n' && !feof(f)) {
            err = FOGPAY_ERR_CONFIG; /* a line over FOGPAY_NOTE_ISSUER_LINE_MAX */
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        err = issuers_line(set, line);
    }
    if (err == FOGPAY_OK && ferror(f)) {
        err = FOGPAY_ERR_IO;
    }
    fclose(f);
    if (err != FOGPAY_OK) {
        fogpay_note_issuers_clear(set);
    }
    return err;
}

const fogpay_note_issuer *fogpay_note_issuers_find(const fogpay_note_issuers *set,
                                                   const uint8_t kid[FOGPAY_KID_BYTES])
{
    for (size_t i = 0; i < set->count; i++) {
        if (memcmp(set->issuer[i].kid, kid, FOGPAY_KID_BYTES) == 0) {
            return &set->issuer[i];
        }
    }
    return NULL;
}

void fogpay_note_issuers_clear(fogpay_note_issuers *set)
{
    for (size_t i = 0; i < set->count; i++) {
        fogpay_key_free(set->issuer[i].key);
    }
    memset(set, 0, sizeof *set);
}

/* ---- signing and opening ------------------------------------------------ */

/* Signs payload (len bytes) with key, naming its kid. */
static fogpay_error sign_with_kid(const fogpay_key *key, const uint8_t *payload, size_t len,
                                  uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_error err = fogpay_key_id(key, kid);
    if (err != FOGPAY_OK) {
        return err;
    }
    return fogpay_cose_sign1_sign(key, kid, sizeof kid, payload, len, NULL, 0, out, cap, out_len);
}

fogpay_error fogpay_note_sign(const fogpay_key *issuer, const fogpay_note *note, uint8_t *out,
                              size_t cap, size_t *len)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t n = 0;
    fogpay_error err = fogpay_note_encode(note, payload, sizeof payload, &n);
    return err == FOGPAY_OK ? sign_with_kid(issuer, payload, n, out, cap, len) : err;
}

fogpay_error fogpay_note_open(const uint8_t *msg, size_t len, const fogpay_note_issuers *set,
                              uint64_t now_s, fogpay_note *out, const fogpay_note_issuer **issuer)
{
    if (len > FOGPAY_NOTE_SIGNED_MAX) {
        return FOGPAY_ERR_PAYLOAD_TOO_LARGE;
    }
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    if (err != FOGPAY_OK) {
        return err;
    }
    const fogpay_note_issuer *who =
        cose.kid.len == FOGPAY_KID_BYTES ? fogpay_note_issuers_find(set, cose.kid.ptr) : NULL;
    if (who == NULL) {
        return FOGPAY_ERR_NOTE_ISSUER_UNKNOWN;
    }
    if (fogpay_cose_sign1_verify(&cose, who->key, NULL, 0) != FOGPAY_OK) {
        return FOGPAY_ERR_NOTE_FORGED;
    }
    if (who->retired) {
        return FOGPAY_ERR_NOTE_ISSUER_RETIRED;
    }
    fogpay_note note;
    err = fogpay_note_decode(cose.payload.ptr, cose.payload.len, &note);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (note.expiry_s != 0 && now_s >= note.expiry_s) {
        return FOGPAY_ERR_NOTE_EXPIRED;
    }
    *out = note;
    if (issuer) {
        *issuer = who;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_custody_sign(const fogpay_key *holder, const fogpay_custody *c, uint8_t *out,
                                 size_t cap, size_t *len)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t n = 0;
    fogpay_error err = fogpay_custody_encode(c, payload, sizeof payload, &n);
    return err == FOGPAY_OK ? sign_with_kid(holder, payload, n, out, cap, len) : err;
}

fogpay_error fogpay_custody_open(const uint8_t *msg, size_t len, const fogpay_key *holder,
                                 const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                 const uint8_t prev_link[FOGPAY_HASH_BYTES], fogpay_custody *out)
{
    if (len > FOGPAY_CUSTODY_SIGNED_MAX) {
        return FOGPAY_ERR_PAYLOAD_TOO_LARGE;
    }
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (fogpay_cose_sign1_verify(&cose, holder, NULL, 0) != FOGPAY_OK) {
        return FOGPAY_ERR_CUSTODY_NOT_HOLDER;
    }
    fogpay_custody c;
    err = fogpay_custody_decode(cose.payload.ptr, cose.payload.len, &c);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (memcmp(c.serial, serial, FOGPAY_NOTE_SERIAL_BYTES) != 0 ||
        memcmp(c.prev_link, prev_link, FOGPAY_HASH_BYTES) != 0) {
        return FOGPAY_ERR_CUSTODY_BROKEN;
    }
    *out = c;
    return FOGPAY_OK;
}

/* ---- note files ---------------------------------------------------------- */

fogpay_error fogpay_note_line_format(const fogpay_held_note *held, char *out, size_t cap)
{
    if (held->note_len == 0 || held->note_len > FOGPAY_NOTE_SIGNED_MAX ||
        held->custody_len > FOGPAY_CUSTODY_SIGNED_MAX ||
        cap < 2 * (held->note_len + held->custody_len) + 2) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    fogpay_hex_encode(held->note, held->note_len, out);
    if (held->custody_len > 0) {
        size_t at = 2 * held->note_len;
        out[at] = ' ';
        fogpay_hex_encode(held->custody, held->custody_len, out + at + 1);
    }
    return FOGPAY_OK;
}

/* Decodes the hex of [text, text+len) into out (cap bytes); *n its bytes. */
static fogpay_error line_hex(const char *text, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    char hex[2 * FOGPAY_NOTE_SIGNED_MAX + 1];
    if (len == 0 || len % 2 != 0 || len / 2 > cap || len >= sizeof hex) {
        return FOGPAY_ERR_TEXT_INVALID;
    }
    memcpy(hex, text, len);
    hex[len] = '\0';
    *n = len / 2;
    return fogpay_hex_decode(hex, out, *n) == FOGPAY_OK ? FOGPAY_OK : FOGPAY_ERR_TEXT_INVALID;
}

fogpay_error fogpay_note_line_parse(const char *line, fogpay_held_note *out)
{
    fogpay_held_note held;
    memset(&held, 0, sizeof held);
    const char *space = strchr(line, ' ');
    size_t note_hex = space ? (size_t)(space - line) : strlen(line);
    fogpay_error err = line_hex(line, note_hex, held.note, sizeof held.note, &held.note_len);
    if (err == FOGPAY_OK && space) {
        err = line_hex(space + 1, strlen(space + 1), held.custody, sizeof held.custody,
                       &held.custody_len);
    }
    if (err == FOGPAY_OK) {
        *out = held;
    }
    return err;
}

/* ---- deliveries ----------------------------------------------------------- */

fogpay_error fogpay_note_delivery_encode(const fogpay_held_note *held, uint8_t *buf, size_t cap,
                                         size_t *len)
{
    if (held->note_len == 0 || held->custody_len == 0) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, cap);
    fogpay_cbor_put_array(&w, 2);
    fogpay_cbor_put_bytes(&w, held->note, held->note_len);
    fogpay_cbor_put_bytes(&w, held->custody, held->custody_len);
    return fogpay_cbor_writer_finish(&w, len);
}

/* Reads one byte string of at most cap bytes into out. */
static fogpay_error delivery_bytes(fogpay_cbor_reader *r, uint8_t *out, size_t cap, size_t *n)
{
    fogpay_cbor_item item;
    fogpay_error err = fogpay_cbor_read(r, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.type != FOGPAY_CBOR_BYTES || item.bytes.len == 0) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (item.bytes.len > cap) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    memcpy(out, item.bytes.ptr, item.bytes.len);
    *n = item.bytes.len;
    return FOGPAY_OK;
}

fogpay_error fogpay_note_delivery_decode(const uint8_t *buf, size_t len, fogpay_held_note *out)
{
    fogpay_held_note held;
    memset(&held, 0, sizeof held);
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init(&r, buf, len);
    fogpay_cbor_item head;
    fogpay_error err = fogpay_cbor_read(&r, &head);
    if (err == FOGPAY_OK && (head.type != FOGPAY_CBOR_ARRAY || head.value != 2)) {
        err = FOGPAY_ERR_CBOR_TYPE;
    }
    if (err == FOGPAY_OK) {
        err = delivery_bytes(&r, held.note, sizeof held.note, &held.note_len);
    }
    if (err == FOGPAY_OK) {
        err = delivery_bytes(&r, held.custody, sizeof held.custody, &held.custody_len);
    }
    if (err == FOGPAY_OK && !fogpay_cbor_reader_done(&r)) {
        err = FOGPAY_ERR_CBOR_TRAILING;
    }
    if (err == FOGPAY_OK) {
        *out = held;
    }
    return err;
}

/* ---- note payments -------------------------------------------------------- */

#define NOTE_PAYMENT_KEYS 9

fogpay_error fogpay_note_payment_encode(const fogpay_note_payment *in, uint8_t *buf, size_t cap,
                                        size_t *len)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, cap);
    fogpay_cbor_put_map(&w, NOTE_PAYMENT_KEYS);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_text(&w, in->device_id, strlen(in->device_id));
    fogpay_cbor_put_uint(&w, 2);
    fogpay_cbor_put_uint(&w, in->seq);
    fogpay_cbor_put_uint(&w, 3);
    fogpay_cbor_put_text(&w, in->payee_device, strlen(in->payee_device));
    fogpay_cbor_put_uint(&w, 4);
    fogpay_cbor_put_uint(&w, in->currency);
    fogpay_cbor_put_uint(&w, 5);
    fogpay_cbor_put_uint(&w, in->amount_minor);
    fogpay_cbor_put_uint(&w, 6);
    fogpay_cbor_put_uint(&w, in->created_s);
    fogpay_cbor_put_uint(&w, 7);
    fogpay_cbor_put_bytes(&w, in->prev_hash, sizeof in->prev_hash);
    fogpay_cbor_put_uint(&w, 8);
    fogpay_cbor_put_uint(&w, in->custody_s);
    fogpay_cbor_put_uint(&w, 9);
    fogpay_cbor_put_array(&w, in->count);
    for (uint8_t i = 0; i < in->count && i < FOGPAY_NOTE_PAYMENT_NOTES_MAX; i++) {
        fogpay_cbor_put_array(&w, 2);
        fogpay_cbor_put_bytes(&w, in->notes[i].serial, FOGPAY_NOTE_SERIAL_BYTES);
        fogpay_cbor_put_bytes(&w, in->notes[i].signature, FOGPAY_SIGNATURE_BYTES);
    }
    size_t n = 0;
    fogpay_error err = fogpay_cbor_writer_finish(&w, &n);
    if (err == FOGPAY_OK) {
        err = fogpay_note_payment_decode(buf, n, NULL); /* nothing invalid is signed */
    }
    if (err == FOGPAY_OK) {
        *len = n;
    }
    return err;
}

/* The next item, of type; FOGPAY_ERR_CBOR_TYPE for another. */
static fogpay_error pay_item(fogpay_cbor_reader *r, fogpay_cbor_type type, fogpay_cbor_item *item)
{
    fogpay_error err = fogpay_cbor_read(r, item);
    return err == FOGPAY_OK && item->type != type ? FOGPAY_ERR_CBOR_TYPE : err;
}

/* Key `key` next, then an unsigned integer in [min, max]. */
static fogpay_error pay_uint(fogpay_cbor_reader *r, uint64_t key, uint64_t min, uint64_t max,
                             uint64_t *out)
{
    fogpay_cbor_item item;
    fogpay_error err = pay_item(r, FOGPAY_CBOR_UINT, &item);
    if (err == FOGPAY_OK && item.value != key) {
        err = item.value > key ? FOGPAY_ERR_MISSING_FIELD : FOGPAY_ERR_UNKNOWN_FIELD;
    }
    if (err == FOGPAY_OK && out != NULL) {
        err = pay_item(r, FOGPAY_CBOR_UINT, &item);
        if (err == FOGPAY_OK && (item.value < min || item.value > max)) {
            err = FOGPAY_ERR_FIELD_RANGE;
        }
        if (err == FOGPAY_OK) {
            *out = item.value;
        }
    }
    return err;
}

/* Key `key` next, then a device id. */
static fogpay_error pay_id(fogpay_cbor_reader *r, uint64_t key, char out[FOGPAY_DEVICE_ID_MAX + 1])
{
    fogpay_cbor_item item;
    fogpay_error err = pay_uint(r, key, 0, 0, NULL);
    if (err == FOGPAY_OK) {
        err = pay_item(r, FOGPAY_CBOR_TEXT, &item);
    }
    if (err == FOGPAY_OK && (item.bytes.len == 0 || item.bytes.len > FOGPAY_DEVICE_ID_MAX)) {
        err = item.bytes.len == 0 ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_ERR_CBOR_TOO_LONG;
    }
    if (err == FOGPAY_OK) {
        memcpy(out, item.bytes.ptr, item.bytes.len);
        out[item.bytes.len] = '\0';
        for (size_t i = 0; i < item.bytes.len && err == FOGPAY_OK; i++) {
            if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
                  (out[i] >= '0' && out[i] <= '9') || out[i] == '.' || out[i] == '_' ||
                  out[i] == ':' || out[i] == '-')) {
                err = FOGPAY_ERR_TEXT_INVALID;
            }
        }
    }
    return err;
}

/* A byte string of exactly n bytes into out. */
static fogpay_error pay_bytes(fogpay_cbor_reader *r, uint8_t *out, size_t n)
{
    fogpay_cbor_item item;
    fogpay_error err = pay_item(r, FOGPAY_CBOR_BYTES, &item);
    if (err == FOGPAY_OK && item.bytes.len != n) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    if (err == FOGPAY_OK) {
        memcpy(out, item.bytes.ptr, n);
    }
    return err;
}

/* Key 9: the pairs [serial, signature], no serial twice. */
static fogpay_error pay_notes(fogpay_cbor_reader *r, fogpay_note_payment *p)
{
    fogpay_cbor_item item;
    fogpay_error err = pay_uint(r, 9, 0, 0, NULL);
    if (err == FOGPAY_OK) {
        err = pay_item(r, FOGPAY_CBOR_ARRAY, &item);
    }
    if (err == FOGPAY_OK && (item.value == 0 || item.value > FOGPAY_NOTE_PAYMENT_NOTES_MAX)) {
        err = item.value == 0 ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_ERR_CBOR_TOO_LONG;
    }
    p->count = err == FOGPAY_OK ? (uint8_t)item.value : 0;
    for (uint8_t i = 0; err == FOGPAY_OK && i < p->count; i++) {
        err = pay_item(r, FOGPAY_CBOR_ARRAY, &item);
        if (err == FOGPAY_OK && item.value != 2) {
            err = FOGPAY_ERR_CBOR_TYPE;
        }
        if (err == FOGPAY_OK) {
            err = pay_bytes(r, p->notes[i].serial, FOGPAY_NOTE_SERIAL_BYTES);
        }
        if (err == FOGPAY_OK) {
            err = pay_bytes(r, p->notes[i].signature, FOGPAY_SIGNATURE_BYTES);
        }
        for (uint8_t j = 0; err == FOGPAY_OK && j < i; j++) {
            if (memcmp(p->notes[j].serial, p->notes[i].serial, FOGPAY_NOTE_SERIAL_BYTES) == 0) {
                err = FOGPAY_ERR_NOTE_SERIAL_SEEN;
            }
        }
    }
    return err;
}

fogpay_error fogpay_note_payment_decode(const uint8_t *buf, size_t len, fogpay_note_payment *out)
{
    fogpay_note_payment p;
    memset(&p, 0, sizeof p);
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init(&r, buf, len);
    fogpay_cbor_item head;
    uint64_t v[6] = {0};
    fogpay_error err = pay_item(&r, FOGPAY_CBOR_MAP, &head);
    if (err == FOGPAY_OK && head.value != NOTE_PAYMENT_KEYS) {
        err = head.value < NOTE_PAYMENT_KEYS ? FOGPAY_ERR_MISSING_FIELD : FOGPAY_ERR_UNKNOWN_FIELD;
    }
    err = err == FOGPAY_OK ? pay_id(&r, 1, p.device_id) : err;
    err = err == FOGPAY_OK ? pay_uint(&r, 2, 1, FOGPAY_STORED_INT_MAX, &v[0]) : err;
    err = err == FOGPAY_OK ? pay_id(&r, 3, p.payee_device) : err;
    err = err == FOGPAY_OK ? pay_uint(&r, 4, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX, &v[1]) : err;
    err = err == FOGPAY_OK ? pay_uint(&r, 5, 1, FOGPAY_AMOUNT_MAX_MINOR, &v[2]) : err;
    err = err == FOGPAY_OK ? pay_uint(&r, 6, 1, 0xffffffffffull, &v[3]) : err;
    err = err == FOGPAY_OK ? pay_uint(&r, 7, 0, 0, NULL) : err;
    err = err == FOGPAY_OK ? pay_bytes(&r, p.prev_hash, sizeof p.prev_hash) : err;
    err = err == FOGPAY_OK ? pay_uint(&r, 8, 1, 0xffffffffffull, &v[4]) : err;
    err = err == FOGPAY_OK ? pay_notes(&r, &p) : err;
    if (err == FOGPAY_OK && !fogpay_cbor_reader_done(&r)) {
        err = FOGPAY_ERR_CBOR_TRAILING;
    }
    if (err == FOGPAY_OK && out != NULL) {
        p.seq = v[0];
        p.currency = (uint16_t)v[1];
        p.amount_minor = v[2];
        p.created_s = v[3];
        p.custody_s = v[4];
        *out = p;
    }
    return err;
}

fogpay_error fogpay_custody_assemble(const fogpay_key *holder, const fogpay_custody *c,
                                     const uint8_t signature[FOGPAY_SIGNATURE_BYTES], uint8_t *out,
                                     size_t cap, size_t *len)
{
    uint8_t kid[FOGPAY_KID_BYTES];
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    uint8_t protected_header[4];
    size_t n = 0;
    size_t hn = 0;
    fogpay_error err = fogpay_key_id(holder, kid);
    if (err == FOGPAY_OK) {
        err = fogpay_custody_encode(c, payload, sizeof payload, &n);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_cbor_writer hw;
    fogpay_cbor_writer_init(&hw, protected_header, sizeof protected_header);
    fogpay_cbor_put_map(&hw, 1);
    fogpay_cbor_put_uint(&hw, 1);
    fogpay_cbor_put_int(&hw, fogpay_key_alg(holder));
    err = fogpay_cbor_writer_finish(&hw, &hn);
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, out, cap);
    fogpay_cbor_put_tag(&w, 18);
    fogpay_cbor_put_array(&w, 4);
    fogpay_cbor_put_bytes(&w, protected_header, hn);
    fogpay_cbor_put_map(&w, 1);
    fogpay_cbor_put_uint(&w, 4);
    fogpay_cbor_put_bytes(&w, kid, sizeof kid);
    fogpay_cbor_put_bytes(&w, payload, n);
    fogpay_cbor_put_bytes(&w, signature, FOGPAY_SIGNATURE_BYTES);
    return err == FOGPAY_OK ? fogpay_cbor_writer_finish(&w, len) : err;
}

fogpay_error fogpay_custody_signature(const uint8_t *msg, size_t len,
                                      uint8_t signature[FOGPAY_SIGNATURE_BYTES])
{
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    if (err == FOGPAY_OK && cose.signature.len != FOGPAY_SIGNATURE_BYTES) {
        err = FOGPAY_ERR_COSE_STRUCTURE;
    }
    if (err == FOGPAY_OK) {
        memcpy(signature, cose.signature.ptr, FOGPAY_SIGNATURE_BYTES);
    }
    return err;
}
