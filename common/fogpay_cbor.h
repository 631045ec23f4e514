/*
 * fogpay_cbor.h - a strict, non-allocating CBOR reader and a deterministic
 * CBOR writer (RFC 8949), on libcbor's streaming decoder and encoders.
 *
 * The reader walks the input one head at a time, like QCBOR: it never
 * allocates, never recurses, and never trusts a length from the input beyond
 * the bytes actually present. Byte and text strings are returned as views
 * into the input. In strict mode it refuses what fogpay never sends:
 * indefinite lengths, non-shortest heads (RFC 8949 section 4.2.1), and
 * floating point; fogpay_cbor_reader_init_generic() accepts all well-formed
 * CBOR, for the conformance vectors and tests/support/cbor_diag.h.
 *
 * The writer appends to a caller-owned buffer and always produces the
 * shortest head. The first error sticks: later calls do nothing, and
 * fogpay_cbor_writer_finish() reports it.
 */
#ifndef FOGPAY_CBOR_H
#define FOGPAY_CBOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "fogpay_error.h"

/* A view of bytes owned by someone else: the input buffer, usually. */
typedef struct fogpay_bytes {
    const uint8_t *ptr;
    size_t len;
} fogpay_bytes;

typedef enum fogpay_cbor_type {
    FOGPAY_CBOR_UINT = 0,
    FOGPAY_CBOR_NEGINT = 1, /* value holds n where the integer is -1 - n */
    FOGPAY_CBOR_BYTES = 2,
    FOGPAY_CBOR_TEXT = 3,
    FOGPAY_CBOR_ARRAY = 4,
    FOGPAY_CBOR_MAP = 5,
    FOGPAY_CBOR_TAG = 6,
    FOGPAY_CBOR_SIMPLE = 7, /* false, true, null, undefined, other simple values */
    FOGPAY_CBOR_FLOAT = 8,  /* generic mode only */
} fogpay_cbor_type;

/* In generic mode the "break" that ends an indefinite-length item is
 * returned as a SIMPLE item with this value, which no well-formed simple
 * value can take (values below 32 are only encodable in the initial byte,
 * where 31 means break). */
#define FOGPAY_CBOR_SIMPLE_BREAK 31u

/* Marks an indefinite length in fogpay_cbor_item.value (generic mode). */
#define FOGPAY_CBOR_INDEFINITE UINT64_MAX

/* One decoded head. For BYTES and TEXT, bytes views the content and value is
 * its length; for ARRAY and MAP, value is the count of items or pairs
 * (UINT64_MAX for indefinite length in generic mode); for TAG the tag number;
 * for SIMPLE the simple value; for FLOAT, f holds the number. */
typedef struct fogpay_cbor_item {
    fogpay_cbor_type type;
    uint64_t value;
    fogpay_bytes bytes;
    double f;
    size_t offset; /* where the head starts in the input */
} fogpay_cbor_item;

typedef struct fogpay_cbor_reader {
    const uint8_t *ptr;
    size_t len;
    size_t pos;
    bool generic;
} fogpay_cbor_reader;

/* Strict reader over [ptr, ptr+len). The reader keeps a view; the caller
 * keeps the input alive while reading. */
void fogpay_cbor_reader_init(fogpay_cbor_reader *r, const uint8_t *ptr, size_t len);

/* Generic reader: every well-formed CBOR item (floats, indefinite lengths,
 * non-shortest heads) is accepted. */
void fogpay_cbor_reader_init_generic(fogpay_cbor_reader *r, const uint8_t *ptr, size_t len);

/* Reads the next head into *item and advances past it (and past the content
 * of a byte or text string). Returns FOGPAY_OK, or the specific malformation;
 * on error *item and the position are unspecified. */
fogpay_error fogpay_cbor_read(fogpay_cbor_reader *r, fogpay_cbor_item *item);

/* Skips one complete item, nested content included, without recursion;
 * nesting deeper than FOGPAY_CBOR_DEPTH_MAX is FOGPAY_ERR_CBOR_TOO_DEEP. */
fogpay_error fogpay_cbor_skip(fogpay_cbor_reader *r);

/* True when every input byte has been read. */
bool fogpay_cbor_reader_done(const fogpay_cbor_reader *r);

typedef struct fogpay_cbor_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    fogpay_error err;
} fogpay_cbor_writer;

/* Writes into buf (capacity cap, owned by the caller). */
void fogpay_cbor_writer_init(fogpay_cbor_writer *w, uint8_t *buf, size_t cap);
void fogpay_cbor_put_uint(fogpay_cbor_writer *w, uint64_t value);
void fogpay_cbor_put_int(fogpay_cbor_writer *w, int64_t value);
void fogpay_cbor_put_bytes(fogpay_cbor_writer *w, const uint8_t *ptr, size_t len);
void fogpay_cbor_put_text(fogpay_cbor_writer *w, const char *ptr, size_t len);
void fogpay_cbor_put_array(fogpay_cbor_writer *w, uint64_t count);
void fogpay_cbor_put_map(fogpay_cbor_writer *w, uint64_t pairs);
void fogpay_cbor_put_tag(fogpay_cbor_writer *w, uint64_t tag);
void fogpay_cbor_put_bool(fogpay_cbor_writer *w, bool value);
void fogpay_cbor_put_null(fogpay_cbor_writer *w);
/* Appends already-encoded CBOR as it is. */
void fogpay_cbor_put_raw(fogpay_cbor_writer *w, const uint8_t *ptr, size_t len);
/* FOGPAY_OK and *len set, or the first error (FOGPAY_ERR_BUFFER_TOO_SMALL). */
fogpay_error fogpay_cbor_writer_finish(const fogpay_cbor_writer *w, size_t *len);

#endif
