/*
 * torture_check.h - the invariants the torture checks after every round's
 * drain, on the ledger (read while the broker runs: WAL lets a second
 * connection read), on what the agents printed and keep, and on the cloud
 * store. Every check reads everything from the start of the run, so a loss
 * in a later round of something receipted in an earlier one is found too.
 */
#ifndef FOGPAY_TORTURE_CHECK_H
#define FOGPAY_TORTURE_CHECK_H

#include <stdint.h>

#include "torture.h"

typedef enum torture_invariant {
    INV_RECEIPT_LOST,  /* a receipted transfer is not in the ledger as receipted */
    INV_SETTLED_TWICE, /* a (device, seq) with more than one transfer */
    INV_INTENT_LOST,   /* a journaled intent unanswered after the drain */
    INV_SEQ_REUSED,    /* a sequence number journaled twice, or refused as a conflict */
    INV_CHAIN,         /* the ledger does not verify */
    INV_SUM,           /* a currency's balances do not sum to zero */
    INV_AGENT_BALANCE, /* a device's balance differs from the gateway's at its position */
    INV_CLOUD,         /* the cloud store does not converge on the gateway's chains */
    INV_COUNT
} torture_invariant;

typedef struct torture_tally {
    uint64_t violations[INV_COUNT];
    uint64_t receipts;  /* settled receipts the agents printed */
    uint64_t journaled; /* intents the agents journaled */
    uint64_t transfers; /* the ledger's chain head */
} torture_tally;

const char *torture_invariant_name(torture_invariant inv);

/* Runs every check once the round has drained; adds what it found to t
 * (receipts, journaled and transfers are set to the totals so far). */
void torture_check(torture_world *w, unsigned round, torture_tally *t);

#endif
