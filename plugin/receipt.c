/*
 * receipt.c - signing a receipt with the gateway key (COSE_Sign1 with the
 * gateway's key id). What happens to a signed receipt until its commit is
 * the outbox's business (outbox.c).
 */
#include "fogpay_cose.h"
#include "gateway.h"

fogpay_error fogpay_receipt_sign(fogpay_gateway *gw, const fogpay_receipt *r, uint8_t *out,
                                 size_t cap, size_t *len)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t payload_len;
    fogpay_error err = fogpay_receipt_encode(r, payload, sizeof payload, &payload_len);
    if (err != FOGPAY_OK) {
        return err;
    }
    return fogpay_cose_sign1_sign(gw->key, gw->kid, sizeof gw->kid, payload, payload_len, NULL, 0,
                                  out, cap, len);
}
