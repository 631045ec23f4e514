/*
 * torture.h - the crash and power-loss torture: a gateway (Mosquitto with
 * the fogpay plugin, its ledger watched by the powercut shim), devices
 * paying each other with fogpay-agent processes, optionally bridged to a
 * cloud broker with a fogpay-ingest and a cloud store; rounds of SIGKILLs,
 * power cuts and full disks, each followed by a drain and the checks of
 * torture_check.c.
 *
 *   torture_world.c  provisioning, the processes (broker, agents, cloud)
 *   torture_check.c  the invariants after each round
 *   torture.c        arguments, the rounds and their chaos, the figures
 *   power_loss.c     the power cut from the shim's logs
 *   powercut.c       the LD_PRELOAD shim (a shared module of its own)
 *
 * One torture_world lives in main() for the whole run and owns every
 * process and directory it names; torture_world_stop() ends them and
 * removes what they leave.
 */
#ifndef FOGPAY_TORTURE_H
#define FOGPAY_TORTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker.h"
#include "fogpay_limits.h"
#include "fogpay_key.h"
#include "store.h"
#include "torture_random.h"

#define TORTURE_EUR         978
#define TORTURE_DEVICES_MAX 8
#define TORTURE_FUND_MINOR  100000000 /* a million euros each: funds never run out */
#define TORTURE_AMOUNT_MAX  99        /* minor units per payment, from 1 */
#define TORTURE_PATH_MAX    (TEST_BROKER_PATH_MAX + 64)
#define TORTURE_GATEWAY_ID  "gw-torture"
/* The agents' receipt timeout: short, so that a payment that lost its
 * broker journals the next one soon. */
#define TORTURE_AGENT_TIMEOUT_MS 800
/* Payments one agent process makes before it exits by itself. */
#define TORTURE_PAYMENTS_PER_PROCESS 400
/* The file systems that can be made full (root only): the gateway's
 * ledger directory and the devices' state directories, tmpfs mounts that
 * use memory only for what they hold. A ledger takes about 750 bytes a
 * transfer (its row, the message with its receipt, indexes), so the
 * gateway's holds well over a million. */
#define TORTURE_GATEWAY_FS_SIZE "size=1g"
#define TORTURE_DEVICE_FS_SIZE  "size=64m"
/* The gateway's disk as the shim makes it: each fsync of the ledger takes
 * 2 ms more, so that power cuts can fall between a write and its sync. */
#define TORTURE_SYNC_DELAY_US "2000"

typedef struct torture_device {
    char id[FOGPAY_DEVICE_ID_MAX + 1];
    char key_path[TORTURE_PATH_MAX];
    char password_path[TORTURE_PATH_MAX];
    char state_dir[TORTURE_PATH_MAX];
    char out_path[TORTURE_PATH_MAX]; /* every line its agent processes printed */
    char log_path[TORTURE_PATH_MAX]; /* and their logs (standard error) */
    pid_t pid;                       /* the running agent process, 0 none */
} torture_device;

typedef struct torture_world {
    test_broker broker;
    char gateway_dir[TORTURE_PATH_MAX]; /* the ledger's directory (a tmpfs as root) */
    char device_dir[TORTURE_PATH_MAX];  /* the state directories (a tmpfs as root) */
    bool gateway_fs, device_fs;         /* mounted */
    char db[TORTURE_PATH_MAX];
    char gateway_key_path[TORTURE_PATH_MAX];
    char gateway_key_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    unsigned device_count;
    torture_device devices[TORTURE_DEVICES_MAX];
    const char *agent_bin, *ingest_bin, *cloud_bin, *plugin, *shim;
    bool self_test; /* the shim's fsync lies */
    bool sync;      /* bridged to a cloud broker, an ingest and a store */
    test_broker cloud;
    char store[FOGPAY_STORE_CONNINFO_MAX];
    char cloud_key_path[TORTURE_PATH_MAX];
    pid_t ingest_pid;
} torture_world;

/* Provisions and starts everything. False with the reason on stderr. */
bool torture_world_start(torture_world *w);
/* Ends every process and removes every directory; with keep, the
 * gateway's directory stays (the tmpfs contents copied into it) for
 * reading what went wrong. */
void torture_world_stop(torture_world *w, bool keep);

/* The gateway's broker: started again with its files as they are; killed
 * with SIGKILL. */
bool torture_broker_restart(torture_world *w);
void torture_broker_kill(torture_world *w);

/* Starts device i's agent making TORTURE_PAYMENTS_PER_PROCESS payments of
 * amount_minor to device payee, its output appended to its out file. */
bool torture_agent_pay(torture_world *w, unsigned i, unsigned payee, uint64_t amount_minor);
/* Starts device i's agent in `run --drain`. */
bool torture_agent_drain(torture_world *w, unsigned i);
/* SIGKILL to device i's running agent; false when none ran. */
bool torture_agent_kill(torture_world *w, unsigned i);
/* Reaps device i's agent if it ended; true when none runs now. */
bool torture_agent_reap(torture_world *w, unsigned i);

/* Makes the tmpfs at dir full: shrunk to what it holds, the rest taken
 * by dir/filler. torture_unfill() deletes the filler and gives the tmpfs
 * its size (a mount option, "size=...") again. */
bool torture_fill(const char *dir);
void torture_unfill(const char *dir, const char *size);

#endif
