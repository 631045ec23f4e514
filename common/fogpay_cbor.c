/*
 * fogpay_cbor.c - the strict CBOR reader on libcbor's streaming decoder,
 * the walk used for skipping, and the deterministic writer on libcbor's
 * encoders.
 *
 * Design. fogpay_cbor_read() hands one head to cbor_stream_decode(), which
 * neither allocates nor recurses and returns strings as views into the
 * input, and then applies fogpay's own strictness: shortest heads (from the
 * head's additional information and the decoded argument, as libcbor does
 * not say which width it read for strings, containers and tags),
 * indefinite lengths and floats refused in strict mode, UTF-8 checked.
 * libcbor 0.8 has no callback for simple values other than false, true,
 * null and undefined, and refuses the tags 6 to 20 written in the initial
 * byte, so those heads are read here. It also adds a string's
 * length to its head's without an overflow check, so a string's length is
 * checked against the bytes present before its view is trusted.
 * Nested items are walked by fogpay_cbor_skip() with an explicit stack of
 * FOGPAY_CBOR_DEPTH_MAX frames instead of recursion, so hostile nesting costs
 * a bounded amount of stack and ends in FOGPAY_ERR_CBOR_TOO_DEEP. A count
 * from the input is never used to size anything: a container that claims
 * more items than there are bytes left is refused as truncated.
 */
#include "fogpay_cbor.h"

#include <string.h>

#include <cbor.h>

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

/* What the callbacks saw of one head. */
typedef struct head_seen {
    fogpay_cbor_item *item;
    bool indefinite;
} head_seen;

static void on_uint8(void *c, uint8_t v)
{
    ((head_seen *)c)->item->value = v;
}
static void on_uint16(void *c, uint16_t v)
{
    ((head_seen *)c)->item->value = v;
}
static void on_uint32(void *c, uint32_t v)
{
    ((head_seen *)c)->item->value = v;
}
static void on_uint64(void *c, uint64_t v)
{
    ((head_seen *)c)->item->value = v;
}

static void on_string(void *c, cbor_data data, size_t len)
{
    fogpay_cbor_item *item = ((head_seen *)c)->item;
    item->bytes.ptr = data;
    item->bytes.len = len;
    item->value = len;
}

static void on_size(void *c, size_t v)
{
    ((head_seen *)c)->item->value = v;
}
static void on_indefinite(void *c)
{
    ((head_seen *)c)->indefinite = true;
}
static void on_float(void *c, float f)
{
    ((head_seen *)c)->item->f = (double)f;
}
static void on_double(void *c, double f)
{
    ((head_seen *)c)->item->f = f;
}
static void on_undefined(void *c)
{
    ((head_seen *)c)->item->value = 23;
}
static void on_null(void *c)
{
    ((head_seen *)c)->item->value = 22;
}
static void on_bool(void *c, bool v)
{
    ((head_seen *)c)->item->value = v ? 21 : 20;
}

static const struct cbor_callbacks head_callbacks = {
    .uint8 = on_uint8,
    .uint16 = on_uint16,
    .uint32 = on_uint32,
    .uint64 = on_uint64,
    .negint8 = on_uint8,
    .negint16 = on_uint16,
    .negint32 = on_uint32,
    .negint64 = on_uint64,
    .byte_string_start = on_indefinite,
    .byte_string = on_string,
    .string = on_string,
    .string_start = on_indefinite,
    .indef_array_start = on_indefinite,
    .array_start = on_size,
    .indef_map_start = on_indefinite,
    .map_start = on_size,
    .tag = on_uint64,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_undefined,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_indefinite,
};

/* The bytes a head takes for additional information ai below 28. */
static size_t head_size(int ai)
{
    return ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24));
}

/* RFC 8949 section 4.2.1: the argument needs the width it was written in. */
static bool shortest(int ai, uint64_t value)
{
    static const uint64_t shortest_min[4] = {24, 0x100, 0x10000, 0x100000000ull};
    return ai < 24 || value >= shortest_min[ai - 24];
}

/* The argument of a head at p whose bytes are all present. */
static uint64_t head_argument(const uint8_t *p, int ai)
{
    uint64_t v = 0;
    for (size_t i = 1; i < head_size(ai); i++) {
        v = (v << 8) | p[i];
    }
    return ai < 24 ? (uint64_t)ai : v;
}

/* Simple values that libcbor 0.8 refuses: 0..19 in the initial byte and
 * 32..255 in one more byte. */
static fogpay_error read_simple(fogpay_cbor_reader *r, int ai, fogpay_cbor_item *item)
{
    item->type = FOGPAY_CBOR_SIMPLE;
    if (ai < 24) {
        item->value = (uint64_t)ai;
        r->pos += 1;
        return FOGPAY_OK;
    }
    if (r->len - r->pos < 2) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    item->value = r->ptr[r->pos + 1];
    if (item->value < 32) {
        return FOGPAY_ERR_CBOR_ILL_FORMED; /* RFC 8949 section 3.3 */
    }
    r->pos += 2;
    return FOGPAY_OK;
}

/* Not enough input: a string whose head is present but not shortest is
 * reported as such first in strict mode, as a head is judged before its
 * content. */
static fogpay_error truncated(const fogpay_cbor_reader *r, int major, int ai)
{
    const uint8_t *p = r->ptr + r->pos;
    if (!r->generic && (major == 2 || major == 3) && ai >= 24 && ai <= 27 &&
        r->len - r->pos >= head_size(ai) && !shortest(ai, head_argument(p, ai))) {
        return FOGPAY_ERR_CBOR_NOT_DETERMINISTIC;
    }
    return FOGPAY_ERR_CBOR_TRUNCATED;
}

/* A definite string: its length checked against the bytes present, then
 * shortest form, then UTF-8 for text. */
static fogpay_error finish_string(fogpay_cbor_reader *r, int major, int ai, fogpay_cbor_item *item)
{
    size_t left = r->len - r->pos - head_size(ai);
    if (item->value > left) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    if (!r->generic && !shortest(ai, item->value)) {
        return FOGPAY_ERR_CBOR_NOT_DETERMINISTIC;
    }
    item->type = (fogpay_cbor_type)major;
    item->bytes.ptr = r->ptr + r->pos + head_size(ai);
    item->bytes.len = (size_t)item->value;
    r->pos += head_size(ai) + item->bytes.len;
    if (major == 3 && !utf8_valid(item->bytes.ptr, item->bytes.len)) {
        return FOGPAY_ERR_TEXT_INVALID;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_cbor_read(fogpay_cbor_reader *r, fogpay_cbor_item *item)
{
    if (r->pos >= r->len) {
        return FOGPAY_ERR_CBOR_TRUNCATED;
    }
    memset(item, 0, sizeof *item);
    item->offset = r->pos;
    int major = r->ptr[r->pos] >> 5;
    int ai = r->ptr[r->pos] & 0x1f;
    if (major == 7 && (ai < 20 || ai == 24)) {
        return read_simple(r, ai, item);
    }
    if (major == 6 && ai < 24) {
        item->type = FOGPAY_CBOR_TAG; /* libcbor 0.8 refuses tags 6 to 20 in the initial byte */
        item->value = (uint64_t)ai;
        r->pos += 1;
        return FOGPAY_OK;
    }
    head_seen seen = {item, false};
    struct cbor_decoder_result res =
        cbor_stream_decode(r->ptr + r->pos, r->len - r->pos, &head_callbacks, &seen);
    if (res.status == CBOR_DECODER_NEDATA) {
        return truncated(r, major, ai);
    }
    if (res.status != CBOR_DECODER_FINISHED) {
        return FOGPAY_ERR_CBOR_ILL_FORMED;
    }
    if (seen.indefinite) {
        if (!r->generic) {
            return FOGPAY_ERR_CBOR_INDEFINITE;
        }
        item->type = (fogpay_cbor_type)major;
        item->value = major == 7 ? FOGPAY_CBOR_SIMPLE_BREAK : FOGPAY_CBOR_INDEFINITE;
        r->pos += 1;
        item->bytes.ptr = r->ptr + r->pos;
        return FOGPAY_OK;
    }
    if (major == 2 || major == 3) {
        return finish_string(r, major, ai, item);
    }
    if (major == 7 && ai >= 25) {
        if (!r->generic) {
            return FOGPAY_ERR_CBOR_TYPE; /* fogpay never sends floats */
        }
        item->type = FOGPAY_CBOR_FLOAT;
        item->value = head_argument(r->ptr + r->pos, ai);
        r->pos += head_size(ai);
        return FOGPAY_OK;
    }
    if (major != 7 && !r->generic && !shortest(ai, item->value)) {
        return FOGPAY_ERR_CBOR_NOT_DETERMINISTIC;
    }
    item->type = major == 7 ? FOGPAY_CBOR_SIMPLE : (fogpay_cbor_type)major;
    r->pos += head_size(ai);
    return FOGPAY_OK;
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
} walk;

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
    if (remaining == 0) {
        finish_item(w);
        return FOGPAY_OK;
    }
    w->stack[w->depth] = (walk_frame){type, remaining, 0, indef_string};
    w->depth++;
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
    w->depth--;
    finish_item(w);
    return FOGPAY_OK;
}

/* Opens the container, tag or indefinite string that item starts. */
static fogpay_error walk_open(walk *w, const fogpay_cbor_item *item)
{
    bool indefinite = item->value == FOGPAY_CBOR_INDEFINITE;
    switch (item->type) {
    case FOGPAY_CBOR_ARRAY:
        return push(w, item->type, item->value, false);
    case FOGPAY_CBOR_MAP:
        if (!indefinite && item->value > (w->r->len - w->r->pos) / 2) {
            return FOGPAY_ERR_CBOR_TRUNCATED;
        }
        return push(w, item->type, indefinite ? item->value : item->value * 2, false);
    case FOGPAY_CBOR_TAG:
        return push(w, FOGPAY_CBOR_TAG, 1, false);
    default: /* an indefinite byte or text string */
        return push(w, item->type, FOGPAY_CBOR_INDEFINITE, true);
    }
}

static bool opens(const fogpay_cbor_item *item)
{
    return item->type == FOGPAY_CBOR_ARRAY || item->type == FOGPAY_CBOR_MAP ||
           item->type == FOGPAY_CBOR_TAG ||
           ((item->type == FOGPAY_CBOR_BYTES || item->type == FOGPAY_CBOR_TEXT) &&
            item->value == FOGPAY_CBOR_INDEFINITE);
}

fogpay_error fogpay_cbor_skip(fogpay_cbor_reader *r)
{
    walk w;
    w.r = r;
    w.depth = 0;
    do {
        fogpay_cbor_item item;
        fogpay_error err = fogpay_cbor_read(r, &item);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (item.type == FOGPAY_CBOR_SIMPLE && item.value == FOGPAY_CBOR_SIMPLE_BREAK &&
            r->ptr[item.offset] == 0xff) {
            err = walk_break(&w);
        } else if (w.depth > 0 && w.stack[w.depth - 1].indefinite_string &&
                   (item.type != w.stack[w.depth - 1].type ||
                    item.value == FOGPAY_CBOR_INDEFINITE)) {
            return FOGPAY_ERR_CBOR_ILL_FORMED; /* chunks are definite strings of one type */
        } else if (opens(&item)) {
            err = walk_open(&w, &item);
        } else {
            finish_item(&w);
        }
        if (err != FOGPAY_OK) {
            return err;
        }
    } while (w.depth > 0);
    return FOGPAY_OK;
}

/* ---- writing ---------------------------------------------------------- */

void fogpay_cbor_writer_init(fogpay_cbor_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->err = FOGPAY_OK;
}

/* Takes the length of a head libcbor wrote at the writer's end: 0 means it
 * did not fit. */
static void took(fogpay_cbor_writer *w, size_t written)
{
    if (written == 0) {
        w->err = FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    w->len += written;
}

/* Where the next head goes (NULL for a writer without a buffer). */
static uint8_t *at(const fogpay_cbor_writer *w)
{
    return w->buf ? w->buf + w->len : NULL;
}

/* The room left, or 0 once an error has stuck. */
static size_t room(const fogpay_cbor_writer *w)
{
    return w->err == FOGPAY_OK ? w->cap - w->len : 0;
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

/* libcbor's encoders write the shortest head (RFC 8949 4.2.1) or nothing. */
#define PUT_HEAD(w, call)                                                                          \
    do {                                                                                           \
        if ((w)->err == FOGPAY_OK) {                                                               \
            took((w), (call));                                                                     \
        }                                                                                          \
    } while (0)

void fogpay_cbor_put_uint(fogpay_cbor_writer *w, uint64_t value)
{
    PUT_HEAD(w, cbor_encode_uint(value, at(w), room(w)));
}

void fogpay_cbor_put_int(fogpay_cbor_writer *w, int64_t value)
{
    if (value >= 0) {
        PUT_HEAD(w, cbor_encode_uint((uint64_t)value, at(w), room(w)));
    } else {
        PUT_HEAD(w, cbor_encode_negint((uint64_t)(-(value + 1)), at(w), room(w)));
    }
}

void fogpay_cbor_put_bytes(fogpay_cbor_writer *w, const uint8_t *ptr, size_t len)
{
    PUT_HEAD(w, cbor_encode_bytestring_start(len, at(w), room(w)));
    put_bytes_raw(w, ptr, len);
}

void fogpay_cbor_put_text(fogpay_cbor_writer *w, const char *ptr, size_t len)
{
    PUT_HEAD(w, cbor_encode_string_start(len, at(w), room(w)));
    put_bytes_raw(w, (const uint8_t *)ptr, len);
}

void fogpay_cbor_put_array(fogpay_cbor_writer *w, uint64_t count)
{
    PUT_HEAD(w, cbor_encode_array_start((size_t)count, at(w), room(w)));
}

void fogpay_cbor_put_map(fogpay_cbor_writer *w, uint64_t pairs)
{
    PUT_HEAD(w, cbor_encode_map_start((size_t)pairs, at(w), room(w)));
}

void fogpay_cbor_put_tag(fogpay_cbor_writer *w, uint64_t tag)
{
    PUT_HEAD(w, cbor_encode_tag(tag, at(w), room(w)));
}

void fogpay_cbor_put_bool(fogpay_cbor_writer *w, bool value)
{
    PUT_HEAD(w, cbor_encode_bool(value, at(w), room(w)));
}

void fogpay_cbor_put_null(fogpay_cbor_writer *w)
{
    PUT_HEAD(w, cbor_encode_null(at(w), room(w)));
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
