/*
 * fuzz_cose.c - libFuzzer target for fogpay_cose_sign1_parse(), followed by
 * fogpay_intent_decode() of the payload: the path of every message a device
 * publishes, up to the signature check.
 *
 * Any input is either refused with an error of the malformed-input or
 * policy group, or parsed into views that lie inside the input. A message
 * in fogpay's own form (tagged, the kid, if any, alone in the unprotected
 * header) is written again from the parsed views byte for byte; other forms
 * that RFC 9052 allows (untagged, the algorithm or kid in the other bucket,
 * more header parameters) parse but are not fogpay's to write. A payload
 * that decodes as an intent re-encodes byte for byte. A mismatch aborts,
 * which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_cose.h"
#include "fogpay_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define COSE_SIGN1_TAG 18
#define COSE_LABEL_KID 4

/* Largest envelope written again: a signed batch. Larger input is still
 * parsed and checked, only not written again. */
#define REWRITE_MAX (FOGPAY_BATCH_BYTES_MAX + 256)

static bool view_inside(fogpay_bytes view, const uint8_t *data, size_t size)
{
    if (view.len == 0) {
        return true;
    }
    return view.ptr >= data && view.len <= size && view.ptr - data <= (ptrdiff_t)(size - view.len);
}

/* True when the unprotected header of the (already parsed) message is the
 * one fogpay writes for msg's kid: empty without a kid, {4: kid} with one. */
static bool in_fogpay_form(const uint8_t *data, size_t size, const fogpay_cose_sign1 *msg)
{
    if (!msg->tagged) {
        return false;
    }
    fogpay_cbor_reader r;
    fogpay_cbor_item item;
    fogpay_cbor_reader_init(&r, data, size);
    /* tag, array, protected header, unprotected map */
    for (int i = 0; i < 4; i++) {
        if (fogpay_cbor_read(&r, &item) != FOGPAY_OK) {
            abort(); /* the parser read these same heads */
        }
    }
    if (item.type != FOGPAY_CBOR_MAP) {
        abort();
    }
    if (item.value == 0) {
        return msg->kid.len == 0;
    }
    fogpay_cbor_item label;
    if (item.value != 1 || fogpay_cbor_read(&r, &label) != FOGPAY_OK) {
        return false;
    }
    return label.type == FOGPAY_CBOR_UINT && label.value == COSE_LABEL_KID && msg->kid.len > 0;
}

static void check_rewrite(const uint8_t *data, size_t size, const fogpay_cose_sign1 *msg)
{
    static uint8_t out[REWRITE_MAX];
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, out, sizeof out);
    fogpay_cbor_put_tag(&w, COSE_SIGN1_TAG);
    fogpay_cbor_put_array(&w, 4);
    fogpay_cbor_put_bytes(&w, msg->protected_header.ptr, msg->protected_header.len);
    if (msg->kid.len > 0) {
        fogpay_cbor_put_map(&w, 1);
        fogpay_cbor_put_uint(&w, COSE_LABEL_KID);
        fogpay_cbor_put_bytes(&w, msg->kid.ptr, msg->kid.len);
    } else {
        fogpay_cbor_put_map(&w, 0);
    }
    fogpay_cbor_put_bytes(&w, msg->payload.ptr, msg->payload.len);
    fogpay_cbor_put_bytes(&w, msg->signature.ptr, msg->signature.len);
    size_t len = 0;
    fogpay_error err = fogpay_cbor_writer_finish(&w, &len);
    if (err == FOGPAY_ERR_BUFFER_TOO_SMALL && size > sizeof out) {
        return;
    }
    if (err != FOGPAY_OK || len != size || memcmp(out, data, size) != 0) {
        abort();
    }
}

static void check_intent(fogpay_bytes payload)
{
    fogpay_intent in;
    fogpay_error err = fogpay_intent_decode(payload.ptr, payload.len, &in);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return;
    }
    uint8_t encoded[FOGPAY_MESSAGE_MAX];
    size_t len = 0;
    err = fogpay_intent_encode(&in, encoded, sizeof encoded, &len);
    if (err != FOGPAY_OK || len != payload.len || memcmp(encoded, payload.ptr, len) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fogpay_cose_sign1 msg;
    fogpay_error err = fogpay_cose_sign1_parse(data, size, &msg);
    if (err != FOGPAY_OK) {
        if (!fogpay_error_is_reason(err)) {
            abort();
        }
        return 0;
    }
    if ((msg.alg != FOGPAY_ALG_EDDSA && msg.alg != FOGPAY_ALG_ES256) ||
        msg.kid.len > FOGPAY_KID_MAX || !view_inside(msg.protected_header, data, size) ||
        !view_inside(msg.kid, data, size) || !view_inside(msg.payload, data, size) ||
        !view_inside(msg.signature, data, size)) {
        abort();
    }
    if (in_fogpay_form(data, size, &msg)) {
        check_rewrite(data, size, &msg);
    }
    check_intent(msg.payload);
    return 0;
}
