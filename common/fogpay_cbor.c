/*
 * fogpay_cbor.c - the strict CBOR reader, the generic walk used for skipping
 * and diagnostics, and the deterministic writer.
 *
 * Design. fogpay_cbor_read() decodes one head and nothing more; a string's
 * content is returned as a view after checking that it is present. Nested
 * items are walked by fogpay_cbor_skip() and fogpay_cbor_diagnose() with an
 * explicit stack of FOGPAY_CBOR_DEPTH_MAX frames instead of recursion, so
 * hostile nesting costs a bounded amount of stack and ends in
 * FOGPAY_ERR_CBOR_TOO_DEEP. A count from the input is never used to size
 * anything: a container that claims more items than there are bytes left is
 * refused as truncated before it is walked.
 */
#include "fogpay_cbor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_limits.h"

/* ---- reading ---------------------------------------------------------- */

void fogpay_cbor_reader_init(fogpay_cbor_reader *r, const uint8_t *ptr, size_t len)
{
    r->ptr = ptr;
    r->len = ptr ? len : 0;
    r->pos = 0;
    r->generic = false;
}

void fogpay_cbor_reader_init_generic(fogpay_cbor_reader *r, const uint8_t *ptr, size_t len)
{
    fogpay_cbor_reader_init(r, ptr, len);
    r->generic = true;
}

bool fogpay_cbor_reader_done(const fogpay_cbor_reader *r)
{
    return r->pos == r->len;
}

/* Half-precision to double (RFC 8949 appendix D), without relying on a
 * compiler's _Float16. */
static double half_to_double(uint16_t half)
{
    int exponent = (half >> 10) & 0x1f;
    int mantissa = half & 0x3ff;
    double value;
    if (exponent == 0) {
        value = ldexp(mantissa, -24);
    } else if (exponent != 31) {
        value = ldexp(mantissa + 1024, exponent - 25);
    } else {
        value = mantissa == 0 ? INFINITY : NAN;
    }
    return (half & 0x8000) ? -value : value;
}

static double single_to_double(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

static double double_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t more;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= more) {
            return false;
        }
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            return false;
        }
        i += more + 1;
    }
    return true;
}

/* Reads the argument of a head whose additional information is ai; checks
 * shortest form in strict mode. */
static fogpay_error read_argument(fogpay_cbor_reader *r, int major, int ai, uint64_t *value)
{
    static const uint64_t shortest_min[4] = {24, 0x100, 0x10000, 0x100000000ull};
    if (ai < 24) {
        *value = (uint64_t)ai;
        return FOGPAY_OK;
    }
    if (ai > 27) {
        return FOGPAY_ERR_CBOR_ILL_FORMED;
    }
    size_t n = (size_t)1 << (ai - 24);
    if (r->len - r->pos < n) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | r->ptr[r->pos + i];
    }
    r->pos += n;
    *value = v;
    /* Major type 7 has its own rules: simple values in read_simple(), and
     * floats are refused in strict mode. */
    if (!r->generic && major != 7 && v < shortest_min[ai - 24]) {
        return FOGPAY_ERR_CBOR_NOT_DETERMINISTIC;
    }
    return FOGPAY_OK;
}

static fogpay_error read_simple(fogpay_cbor_reader *r, int ai, uint64_t value,
                                fogpay_cbor_item *item)
{
    if (ai == 24) {
        if (value < 32) {
            return FOGPAY_ERR_CBOR_ILL_FORMED; /* RFC 8949 section 3.3 */
        }
        item->type = FOGPAY_CBOR_SIMPLE;
        return FOGPAY_OK;
    }
    if (ai >= 25 && ai <= 27) {
        if (!r->generic) {
            return FOGPAY_ERR_CBOR_TYPE; /* fogpay never sends floats */
        }
        item->type = FOGPAY_CBOR_FLOAT;
        item->f = ai == 25   ? half_to_double((uint16_t)value)
                  : ai == 26 ? single_to_double((uint32_t)value)
                             : double_from_bits(value);
        return FOGPAY_OK;
    }
    item->type = FOGPAY_CBOR_SIMPLE;
    return FOGPAY_OK;
}

fogpay_error fogpay_cbor_read(fogpay_cbor_reader *r, fogpay_cbor_item *item)
{
    if (r->pos >= r->len) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    memset(item, 0, sizeof *item);
    item->offset = r->pos;
    uint8_t initial = r->ptr[r->pos++];
    int major = initial >> 5;
    int ai = initial & 0x1f;

    if (ai == 31) {
        if (major == 0 || major == 1 || major == 6) {
            return FOGPAY_ERR_CBOR_ILL_FORMED;
        }
        if (!r->generic) {
            return FOGPAY_ERR_CBOR_INDEFINITE;
        }
        item->type = (fogpay_cbor_type)major;
        item->value = major == 7 ? FOGPAY_CBOR_SIMPLE_BREAK : FOGPAY_CBOR_INDEFINITE;
        item->bytes.ptr = r->ptr + r->pos;
        return FOGPAY_OK;
    }

    uint64_t value;
    fogpay_error err = read_argument(r, major, ai, &value);
    if (err != FOGPAY_OK) {
        return err;
    }
    item->value = value;
    switch (major) {
    case 2:
    case 3:
        if (value > r->len - r->pos) {
            return FOGPAY_ERR_CBOR_TRUNCATED;
        }
        item->type = (fogpay_cbor_type)major;
        item->bytes.ptr = r->ptr + r->pos;
        item->bytes.len = (size_t)value;
        r->pos += (size_t)value;
        if (major == 3 && !utf8_valid(item->bytes.ptr, item->bytes.len)) {
            return FOGPAY_ERR_TEXT_INVALID;
        }
        return FOGPAY_OK;
    case 7:
        return read_simple(r, ai, value, item);
    default:
        item->type = (fogpay_cbor_type)major;
        return FOGPAY_OK;
    }
}

/* ---- walking nested items ---------------------------------------------- */

/* One open container during a walk. remaining counts items still to come
 * (a map's pairs count twice), or FOGPAY_CBOR_INDEFINITE until a break. */
typedef struct walk_frame {
    fogpay_cbor_type type;
    uint64_t remaining;
    uint64_t done;
    bool indefinite_string;
} walk_frame;

typedef struct walk {
    fogpay_cbor_reader *r;
    walk_frame stack[FOGPAY_CBOR_DEPTH_MAX];
    int depth; /* frames in use */
    char *out; /* diagnostic output, or NULL when only skipping */
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
        case 20: emit(w, "false"); break;
        case 21: emit(w, "true"); break;
        case 22: emit(w, "null"); break;
        case 23: emit(w, "undefined"); break;
        default:
            snprintf(text, sizeof text, "simple(%llu)", (unsigned long long)item->value);
            emit(w, text);
        }
    }
}

/* The separator before the next item inside the innermost container. */
static void emit_separator(walk *w)
{
    if (w->depth == 0) {
        return;
    }
    const walk_frame *f = &w->stack[w->depth - 1];
    if (f->type == FOGPAY_CBOR_TAG || f->done == 0) {
        return;
    }
    emit(w, (f->type == FOGPAY_CBOR_MAP && f->done % 2 == 1) ? ": " : ", ");
}

static const char *closer(const walk_frame *f)
{
    switch (f->type) {
    case FOGPAY_CBOR_ARRAY: return "]";
    case FOGPAY_CBOR_MAP: return "}";
    default: return ")";
    }
}

/* Counts one finished item in the innermost container and closes every
 * container that this completes. */
static void finish_item(walk *w)
{
    while (w->depth > 0) {
        walk_frame *f = &w->stack[w->depth - 1];
        f->done++;
        if (f->remaining != FOGPAY_CBOR_INDEFINITE) {
            f->remaining--;
        }
        if (f->remaining != 0) {
            return;
        }
        emit(w, closer(f));
        w->depth--;
    }
}

static fogpay_error push(walk *w, fogpay_cbor_type type, uint64_t remaining, bool indef_string)
{
    if (w->depth >= FOGPAY_CBOR_DEPTH_MAX) {
        return FOGPAY_ERR_CBOR_TOO_DEEP;
    }
    /* Every item takes at least one byte: a count beyond the bytes left is
     * a lie, refused before it can cost anything. */
    if (remaining != FOGPAY_CBOR_INDEFINITE && remaining > w->r->len - w->r->pos) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    w->stack[w->depth] = (walk_frame){type, remaining, 0, indef_string};
    w->depth++;
    if (remaining == 0) {
        w->depth--;
        emit(w, closer(&w->stack[w->depth]));
        finish_item(w);
    }
    return FOGPAY_OK;
}

static fogpay_error walk_break(walk *w)
{
    if (w->depth == 0 || w->stack[w->depth - 1].remaining != FOGPAY_CBOR_INDEFINITE) {
        return FOGPAY_ERR_CBOR_ILL_FORMED; /* a break outside an indefinite item */
    }
    walk_frame *f = &w->stack[w->depth - 1];
    if (f->type == FOGPAY_CBOR_MAP && f->done % 2 == 1) {
        return FOGPAY_ERR_CBOR_ILL_FORMED; /* a key without a value */
    }
    if (f->indefinite_string && f->done == 0) {
        emit(w, f->type == FOGPAY_CBOR_TEXT ? "\"\"" : "''");
        w->depth--;
    } else {
        emit(w, closer(f));
        w->depth--;
    }
    finish_item(w);
    return FOGPAY_OK;
}

/* Walks one complete item from the reader's position. */
static fogpay_error walk_item(walk *w)
{
    int start_depth = w->depth;
    do {
        fogpay_cbor_item item;
        fogpay_error err = fogpay_cbor_read(w->r, &item);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (item.type == FOGPAY_CBOR_SIMPLE && item.value == FOGPAY_CBOR_SIMPLE_BREAK &&
            w->r->ptr[item.offset] == 0xff) {
            err = walk_break(w);
            if (err != FOGPAY_OK) {
                return err;
            }
            continue;
        }
        if (w->depth > 0 && w->stack[w->depth - 1].indefinite_string &&
            (item.type != w->stack[w->depth - 1].type || item.value == FOGPAY_CBOR_INDEFINITE)) {
            return FOGPAY_ERR_CBOR_ILL_FORMED; /* chunks are definite strings of one type */
        }
        emit_separator(w);
        char text[32];
        switch (item.type) {
        case FOGPAY_CBOR_ARRAY:
        case FOGPAY_CBOR_MAP: {
            bool indefinite = item.value == FOGPAY_CBOR_INDEFINITE;
            bool map = item.type == FOGPAY_CBOR_MAP;
            emit(w, map ? (indefinite ? "{_ " : "{") : (indefinite ? "[_ " : "["));
            uint64_t items = item.value;
            if (!indefinite && map) {
                if (items > (w->r->len - w->r->pos) / 2) {
                    return FOGPAY_ERR_CBOR_TRUNCATED;
                }
                items *= 2;
            }
            err = push(w, item.type, items, false);
            break;
        }
        case FOGPAY_CBOR_TAG:
            snprintf(text, sizeof text, "%llu(", (unsigned long long)item.value);
            emit(w, text);
            err = push(w, FOGPAY_CBOR_TAG, 1, false);
            break;
        case FOGPAY_CBOR_BYTES:
        case FOGPAY_CBOR_TEXT:
            if (item.value == FOGPAY_CBOR_INDEFINITE) {
                emit(w, "(_ ");
                err = push(w, item.type, FOGPAY_CBOR_INDEFINITE, true);
                break;
            }
            emit_scalar(w, &item);
            finish_item(w);
            break;
        default:
            emit_scalar(w, &item);
            finish_item(w);
        }
        if (err != FOGPAY_OK) {
            return err;
        }
    } while (w->depth > start_depth);
    return w->overflow ? FOGPAY_ERR_BUFFER_TOO_SMALL : FOGPAY_OK;
}

fogpay_error fogpay_cbor_skip(fogpay_cbor_reader *r)
{
    walk w;
    memset(&w, 0, sizeof w);
    w.r = r;
    return walk_item(&w);
}

fogpay_error fogpay_cbor_diagnose(const uint8_t *ptr, size_t len, char *out, size_t out_cap)
{
    if (!out || out_cap == 0) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init_generic(&r, ptr, len);
    walk w;
    memset(&w, 0, sizeof w);
    w.r = &r;
    w.out = out;
    w.cap = out_cap;
    out[0] = '\0';
    fogpay_error err = walk_item(&w);
    if (err == FOGPAY_OK && !fogpay_cbor_reader_done(&r)) {
        err = FOGPAY_ERR_CBOR_TRAILING;
    }
    return err;
}

/* ---- writing ---------------------------------------------------------- */

void fogpay_cbor_writer_init(fogpay_cbor_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->err = FOGPAY_OK;
}

static void put_bytes_raw(fogpay_cbor_writer *w, const uint8_t *ptr, size_t len)
{
    if (w->err != FOGPAY_OK) {
        return;
    }
    if (len > w->cap - w->len) {
        w->err = FOGPAY_ERR_BUFFER_TOO_SMALL;
        return;
    }
    if (len > 0) {
        memcpy(w->buf + w->len, ptr, len);
    }
    w->len += len;
}

/* The shortest head for a major type and argument (RFC 8949 4.2.1). */
static void put_head(fogpay_cbor_writer *w, int major, uint64_t value)
{
    uint8_t head[9];
    size_t n;
    uint8_t m = (uint8_t)(major << 5);
    if (value < 24) {
        head[0] = (uint8_t)(m | value);
        n = 1;
    } else if (value <= 0xff) {
        head[0] = m | 24;
        n = 2;
    } else if (value <= 0xffff) {
        head[0] = m | 25;
        n = 3;
    } else if (value <= 0xffffffffull) {
        head[0] = m | 26;
        n = 5;
    } else {
        head[0] = m | 27;
        n = 9;
    }
    for (size_t i = 1; i < n; i++) {
        head[i] = (uint8_t)(value >> (8 * (n - 1 - i)));
    }
    put_bytes_raw(w, head, n);
}

void fogpay_cbor_put_uint(fogpay_cbor_writer *w, uint64_t value)
{
    put_head(w, 0, value);
}

void fogpay_cbor_put_int(fogpay_cbor_writer *w, int64_t value)
{
    if (value >= 0) {
        put_head(w, 0, (uint64_t)value);
    } else {
        put_head(w, 1, (uint64_t)(-(value + 1)));
    }
}

void fogpay_cbor_put_bytes(fogpay_cbor_writer *w, const uint8_t *ptr, size_t len)
{
    put_head(w, 2, len);
    put_bytes_raw(w, ptr, len);
}

void fogpay_cbor_put_text(fogpay_cbor_writer *w, const char *ptr, size_t len)
{
    put_head(w, 3, len);
    put_bytes_raw(w, (const uint8_t *)ptr, len);
}

void fogpay_cbor_put_array(fogpay_cbor_writer *w, uint64_t count)
{
    put_head(w, 4, count);
}

void fogpay_cbor_put_map(fogpay_cbor_writer *w, uint64_t pairs)
{
    put_head(w, 5, pairs);
}

void fogpay_cbor_put_tag(fogpay_cbor_writer *w, uint64_t tag)
{
    put_head(w, 6, tag);
}

void fogpay_cbor_put_bool(fogpay_cbor_writer *w, bool value)
{
    put_head(w, 7, value ? 21 : 20);
}

void fogpay_cbor_put_null(fogpay_cbor_writer *w)
{
    put_head(w, 7, 22);
}

void fogpay_cbor_put_raw(fogpay_cbor_writer *w, const uint8_t *ptr, size_t len)
{
    put_bytes_raw(w, ptr, len);
}

fogpay_error fogpay_cbor_writer_finish(const fogpay_cbor_writer *w, size_t *len)
{
    if (w->err == FOGPAY_OK && len) {
        *len = w->len;
    }
    return w->err;
}
