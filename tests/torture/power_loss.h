/*
 * power_loss.h - a power cut of the gateway's ledger, from the logs the
 * powercut shim kept (powercut_log.h): each watched file is put back as of
 * its last fsync, then a random prefix or a random subset of its later
 * writes is laid on again, each write torn at sector boundaries; the -shm
 * (a cache SQLite rebuilds) is deleted and the logs with it.
 *
 * Call it only while no process has the files open (the broker killed).
 */
#ifndef FOGPAY_POWER_LOSS_H
#define FOGPAY_POWER_LOSS_H

#include <stdbool.h>
#include <stdint.h>

#include "torture_random.h"

typedef enum power_loss_mode {
    POWER_LOSS_RANDOM, /* per file, a prefix or a subset, torn */
    POWER_LOSS_DROP,   /* nothing after the last fsync survives */
} power_loss_mode;

/* What one cut did, summed over the files. */
typedef struct power_loss_stats {
    uint64_t unsynced; /* records after the last fsync */
    uint64_t kept;     /* of those, laid on again (whole or torn) */
    uint64_t torn;     /* of those kept, laid on in part */
} power_loss_stats;

/* Cuts the power under the ledger at db (its -wal and -journal too). False
 * with a sentence on stderr when a file or log cannot be read or written. */
bool power_loss_cut(const char *db, power_loss_mode mode, torture_random *rng,
                    power_loss_stats *stats);

/* True while a watched file of db has writes its log says are unsynced. */
bool power_loss_pending(const char *db);

#endif
