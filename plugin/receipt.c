/*
 * receipt.c - signing a receipt with the gateway key (COSE_Sign1 with the
 * gateway's key id). Workers sign with their own copy of the key (engine.c);
 * what happens to a signed receipt until its commit is the outbox's
 * business (outbox.c).
 */
#include "fogpay_cose.h"
#include "gateway.h"

fogpay_error fogpay_receipt_sign(const fogpay_key *key, const uint8_t kid[FOGPAY_KID_BYTES],
                                 const fogpay_receipt *r, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t payload_len;
    fogpay_error err = fogpay_receipt_encode(r, payload, sizeof payload, &payload_len);
    if (err != FOGPAY_OK) {
        return err;
    }
    return fogpay_cose_sign1_sign(key, kid, FOGPAY_KID_BYTES, payload, payload_len, NULL, 0, out,
                                  cap, len);
}

void fogpay_receipt_sign_job(const fogpay_key *key, const uint8_t kid[FOGPAY_KID_BYTES],
                             fogpay_job *job)
{
    job->answer_len = 0;
    job->sign_error = fogpay_receipt_sign(key, kid, &job->receipt, job->answer, sizeof job->answer,
                                          &job->answer_len);
    if (job->sign_error != FOGPAY_OK) {
        job->answer_len = 0;
    }
}
