/*
 * cbor_diag.c - the diagnostic notation of RFC 8949 section 8, for the
 * tests: the appendix A vectors, the payload vectors and fuzz_cbor.
 *
 * It reads with the generic reader of common/fogpay_cbor.h and walks by
 * recursion, at most FOGPAY_CBOR_DEPTH_MAX containers deep, refusing what
 * fogpay_cbor_skip() refuses with the same error, in the same order.
 */
#include "cbor_diag.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_limits.h"

typedef struct walk {
    fogpay_cbor_reader *r;
    char *out;
    size_t cap;
    size_t len;
    bool overflow;
} walk;

static void emit(walk *w, const char *text)
{
    if (!w->out) {
        return;
    }
    size_t n = strlen(text);
    if (w->len + n + 1 > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, text, n + 1);
    w->len += n;
}

static void emit_hex(walk *w, fogpay_bytes b)
{
    static const char digits[] = "0123456789abcdef";
    char pair[3] = {0, 0, 0};
    for (size_t i = 0; i < b.len && !w->overflow; i++) {
        pair[0] = digits[b.ptr[i] >> 4];
        pair[1] = digits[b.ptr[i] & 0x0f];
        emit(w, pair);
    }
}

static void emit_text(walk *w, fogpay_bytes b)
{
    char one[2] = {0, 0};
    for (size_t i = 0; i < b.len && !w->overflow; i++) {
        if (b.ptr[i] == '"' || b.ptr[i] == '\\') {
            emit(w, "\\");
        }
        one[0] = (char)b.ptr[i];
        emit(w, one);
    }
}

/* Shortest decimal that reads back as the same double, with ".0" added to
 * integral values, as diagnostic notation writes floats. */
static void emit_float(walk *w, double f)
{
    char text[40];
    if (isnan(f)) {
        emit(w, "NaN");
        return;
    }
    if (isinf(f)) {
        emit(w, f < 0 ? "-Infinity" : "Infinity");
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, f);
        if (strtod(text, NULL) == f) {
            break;
        }
    }
    emit(w, text);
    if (!strpbrk(text, ".e")) {
        emit(w, ".0");
    }
}

static void emit_scalar(walk *w, const fogpay_cbor_item *item)
{
    char text[32];
    switch (item->type) {
    case FOGPAY_CBOR_UINT:
        snprintf(text, sizeof text, "%llu", (unsigned long long)item->value);
        emit(w, text);
        break;
    case FOGPAY_CBOR_NEGINT:
        if (item->value == UINT64_MAX) {
            emit(w, "-18446744073709551616");
        } else {
            snprintf(text, sizeof text, "-%llu", (unsigned long long)item->value + 1);
            emit(w, text);
        }
        break;
    case FOGPAY_CBOR_BYTES:
        emit(w, "h'");
        emit_hex(w, item->bytes);
        emit(w, "'");
        break;
    case FOGPAY_CBOR_TEXT:
        emit(w, "\"");
        emit_text(w, item->bytes);
        emit(w, "\"");
        break;
    case FOGPAY_CBOR_FLOAT:
        emit_float(w, item->f);
        break;
    default: /* SIMPLE */
        switch (item->value) {
        case 20:
            emit(w, "false");
            break;
        case 21:
            emit(w, "true");
            break;
        case 22:
            emit(w, "null");
            break;
        case 23:
            emit(w, "undefined");
            break;
        default:
            snprintf(text, sizeof text, "simple(%llu)", (unsigned long long)item->value);
            emit(w, text);
        }
    }
}

static fogpay_error diag_next(walk *w, int depth, const char *sep, int chunk_of, bool *brk);

/* Bytes not yet read. */
static size_t left(const walk *w)
{
    return w->r->len - w->r->pos;
}

/* A container of count items may open at depth (open containers). */
static fogpay_error may_open(const walk *w, int depth, uint64_t count)
{
    if (depth >= FOGPAY_CBOR_DEPTH_MAX) {
        return FOGPAY_ERR_CBOR_TOO_DEEP;
    }
    if (count != FOGPAY_CBOR_INDEFINITE && count > left(w)) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    return FOGPAY_OK;
}

static fogpay_error diag_container(walk *w, int depth, const fogpay_cbor_item *item)
{
    bool indefinite = item->value == FOGPAY_CBOR_INDEFINITE;
    bool map = item->type == FOGPAY_CBOR_MAP;
    emit(w, map ? (indefinite ? "{_ " : "{") : (indefinite ? "[_ " : "["));
    uint64_t items = item->value;
    if (!indefinite && map) {
        if (items > left(w) / 2) {
            return FOGPAY_ERR_CBOR_TRUNCATED;
        }
        items *= 2;
    }
    fogpay_error err = may_open(w, depth, items);
    for (uint64_t done = 0; err == FOGPAY_OK && (indefinite || done < items); done++) {
        bool brk = false;
        const char *sep = done == 0 ? "" : (map && done % 2 == 1) ? ": " : ", ";
        err = diag_next(w, depth + 1, sep, -1, &brk);
        if (err == FOGPAY_OK && brk) {
            if (!indefinite || (map && done % 2 == 1)) {
                return FOGPAY_ERR_CBOR_ILL_FORMED;
            }
            break;
        }
    }
    emit(w, map ? "}" : "]");
    return err;
}

static fogpay_error diag_chunks(walk *w, int depth, const fogpay_cbor_item *item)
{
    emit(w, "(_ ");
    fogpay_error err = may_open(w, depth, FOGPAY_CBOR_INDEFINITE);
    for (uint64_t done = 0; err == FOGPAY_OK; done++) {
        bool brk = false;
        err = diag_next(w, depth + 1, done == 0 ? "" : ", ", (int)item->type, &brk);
        if (err == FOGPAY_OK && brk) {
            if (done == 0) {
                emit(w, item->type == FOGPAY_CBOR_TEXT ? "\"\"" : "''");
            } else {
                emit(w, ")");
            }
            break;
        }
    }
    return err;
}

static fogpay_error diag_tag(walk *w, int depth, const fogpay_cbor_item *item)
{
    char text[32];
    snprintf(text, sizeof text, "%llu(", (unsigned long long)item->value);
    emit(w, text);
    fogpay_error err = may_open(w, depth, 1);
    bool brk = false;
    if (err == FOGPAY_OK) {
        err = diag_next(w, depth + 1, "", -1, &brk);
    }
    if (err == FOGPAY_OK && brk) {
        return FOGPAY_ERR_CBOR_ILL_FORMED; /* a break where the tag's content goes */
    }
    emit(w, ")");
    return err;
}

/* Reads and prints one complete item after sep; a break sets *brk and
 * prints nothing. chunk_of is the string type inside an indefinite string,
 * or -1. */
static fogpay_error diag_next(walk *w, int depth, const char *sep, int chunk_of, bool *brk)
{
    fogpay_cbor_item item;
    fogpay_error err = fogpay_cbor_read(w->r, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    *brk = item.type == FOGPAY_CBOR_SIMPLE && item.value == FOGPAY_CBOR_SIMPLE_BREAK &&
           w->r->ptr[item.offset] == 0xff;
    if (*brk) {
        return FOGPAY_OK;
    }
    if (chunk_of >= 0 && ((int)item.type != chunk_of || item.value == FOGPAY_CBOR_INDEFINITE)) {
        return FOGPAY_ERR_CBOR_ILL_FORMED; /* chunks are definite strings of one type */
    }
    emit(w, sep);
    switch (item.type) {
    case FOGPAY_CBOR_ARRAY:
    case FOGPAY_CBOR_MAP:
        return diag_container(w, depth, &item);
    case FOGPAY_CBOR_TAG:
        return diag_tag(w, depth, &item);
    case FOGPAY_CBOR_BYTES:
    case FOGPAY_CBOR_TEXT:
        if (item.value == FOGPAY_CBOR_INDEFINITE) {
            return diag_chunks(w, depth, &item);
        }
        emit_scalar(w, &item);
        return FOGPAY_OK;
    default:
        emit_scalar(w, &item);
        return FOGPAY_OK;
    }
}

fogpay_error fogpay_cbor_diagnose(const uint8_t *ptr, size_t len, char *out, size_t out_cap)
{
    if (!out || out_cap == 0) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init_generic(&r, ptr, len);
    walk w = {&r, out, out_cap, 0, false};
    out[0] = '\0';
    bool brk = false;
    fogpay_error err = diag_next(&w, 0, "", -1, &brk);
    if (err == FOGPAY_OK && brk) {
        err = FOGPAY_ERR_CBOR_ILL_FORMED; /* a break outside an indefinite item */
    }
    if (err == FOGPAY_OK && w.overflow) {
        err = FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    if (err == FOGPAY_OK && !fogpay_cbor_reader_done(&r)) {
        err = FOGPAY_ERR_CBOR_TRAILING;
    }
    return err;
}
