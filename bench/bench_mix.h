/*
 * bench_mix.h - the payment products' share of fogpay_bench's --mix phase:
 * devices that pay by holds, each session an authorisation, a binding of
 * its meter to its charger's tariff and the hold, readings charged from the
 * hold, and the charger's capture, beside devices paying plainly
 * (fogpay_bench.c). Roles by device number, in groups of four: the first a
 * payer of sessions, the second its charger, the other two plain payers.
 *
 * A session's messages are signed as it goes (the binding names the hold
 * the authorisation's receipt gave, and every later message links to the
 * one before it), so the generator signs during the phase; that costs it
 * one Ed25519 signature a message of the holds' share. Every receipt is
 * matched to its message (device, seq, hash) and must say what the message
 * should come to: held, stored, settled with the hold's charge, settled.
 *
 * The state is bench_mix.c's, allocated by bench_mix_begin() and kept to
 * the end of the run; the fleet's arrays are the caller's.
 */
#ifndef FOGPAY_BENCH_MIX_H
#define FOGPAY_BENCH_MIX_H

#include <stdbool.h>
#include <stdint.h>

#include "bench_mqtt.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"
#include "ledger.h"

/* The devices as fogpay_bench.c holds them. */
typedef struct bench_mix_fleet {
    int devices;
    char (*ids)[FOGPAY_DEVICE_ID_MAX + 1];
    fogpay_key **keys;
    uint8_t (*prev)[FOGPAY_PREV_HASH_BYTES]; /* each device's last message, as signed */
    bench_conn *conns;
    uint64_t seq_base; /* the session messages' seqs come after it */
    int window;        /* messages a device keeps unanswered */
} bench_mix_fleet;

/* What the phase came to. */
typedef struct bench_mix_counts {
    uint64_t messages_in_window; /* answered as they should be before the window ended */
    uint64_t messages;           /* answered, the drain included */
    uint64_t holds;              /* sessions captured */
    uint64_t readings;           /* readings charged from a hold */
} bench_mix_counts;

/* Whether device d of devices pays plainly in the mix. */
bool bench_mix_plain(int d, int devices);

/* Inside the provisioning transaction: each charger's tariff (one minor
 * unit a unit of its meter, payable to its wallet). */
fogpay_error bench_mix_provision(fogpay_ledger *l, char (*ids)[FOGPAY_DEVICE_ID_MAX + 1],
                                 int devices, uint64_t now_ms);

/* Starts every payer's first session; receipts until window_end count in
 * the window. */
void bench_mix_begin(const bench_mix_fleet *fleet, double window_end);
/* No session starts after this; those under way run to their capture. */
void bench_mix_stop(void);
/* Nothing of the mix is unanswered. */
bool bench_mix_idle(void);

/* The receipt r of a device that is not plain, at now: NULL when it is the
 * one its message should have, else a sentence saying what is wrong. */
const char *bench_mix_receipt(bench_conn *c, const fogpay_receipt *r, double now);

void bench_mix_counts_get(bench_mix_counts *out);

#endif
