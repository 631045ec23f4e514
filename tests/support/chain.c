/*
 * chain.c - the head of a device's chain from the gateway's ledger, for
 * tests that sign their own device messages (test_chain.h).
 */
#include <string.h>

#include "ledger.h"
#include "test_chain.h"

uint64_t test_chain_prev(const char *db_path, const char *device_id,
                         uint8_t prev[FOGPAY_PREV_HASH_BYTES])
{
    memset(prev, 0, FOGPAY_PREV_HASH_BYTES);
    fogpay_ledger *l = NULL;
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK) {
        return UINT64_MAX;
    }
    uint64_t seq = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_error err = fogpay_ledger_message_head(l, device_id, &seq, hash);
    fogpay_ledger_close(l);
    if (err == FOGPAY_OK) {
        memcpy(prev, hash, FOGPAY_PREV_HASH_BYTES);
        return seq;
    }
    return err == FOGPAY_ERR_NOT_FOUND ? 0 : UINT64_MAX;
}
