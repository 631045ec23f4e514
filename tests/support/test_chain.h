/*
 * test_chain.h - the link a test's own device message needs: the first
 * bytes of the hash of the device's last recorded message (zeros when it
 * has none), read from the gateway's ledger file, and the seq after it.
 * The ledger only shows committed messages: call it after the receipt of
 * the device's previous message arrived.
 */
#ifndef FOGPAY_TEST_CHAIN_H
#define FOGPAY_TEST_CHAIN_H

#include <stdint.h>

#include "fogpay_limits.h"

/* Fills prev from db_path's record of device_id; returns the seq of its
 * last recorded message (0 when none), or UINT64_MAX when the ledger
 * cannot be read. */
uint64_t test_chain_prev(const char *db_path, const char *device_id,
                         uint8_t prev[FOGPAY_PREV_HASH_BYTES]);

#endif
