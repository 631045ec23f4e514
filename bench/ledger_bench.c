/*
 * ledger_bench.c - the ledger's write path alone, without a broker: the
 * calls the gateway makes for each settled intent (message lookup,
 * savepoint, settle, the transfer's chain hash, message record, release),
 * in commit groups as plugin/outbox.c makes them, on a ledger file in a
 * directory of the caller's. Deterministic enough to run under callgrind
 * (instructions per settlement) when the machine is too busy for a clock.
 *
 *   ledger_bench DIR [--devices N] [--intents M] [--group G] [--daily]
 *                    [--preload P]
 *
 * --daily sets a per-day limit on every device; --preload settles P
 * payments per device first (of today, through the same path), so that
 * the M timed ones run against a ledger that holds them. Prints one line:
 * "ledger-bench intents=M us_per_intent=X bytes_per_transfer=X ...".
 * Never fails on a figure; fails when a settlement is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fogpay_hash.h"
#include "fogpay_key.h"
#include "ledger.h"

#define BENCH_EUR           978
#define BENCH_RECEIPT_BYTES 220 /* about a signed settled receipt */
#define BENCH_FUNDS_MINOR   1000000000ull

typedef struct bench_opts {
    const char *dir;
    int devices;
    long intents;
    int group;
    bool daily;
    int preload;
} bench_opts;

static void die(const char *what, fogpay_ledger *l)
{
    fprintf(stderr, "ledger_bench: %s: %s\n", what, l ? fogpay_ledger_last_message(l) : "");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t file_bytes(const char *dir)
{
    uint64_t total = 0;
    static const char *const names[] = {"ledger.db", "ledger.db-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0) {
            total += (uint64_t)st.st_size;
        }
    }
    return total;
}

static void device_id(int d, char out[FOGPAY_DEVICE_ID_MAX + 1])
{
    snprintf(out, FOGPAY_DEVICE_ID_MAX + 1, "bench-%05d", d);
}

static void provision(fogpay_ledger *l, const bench_opts *o)
{
    fogpay_key *key = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) != FOGPAY_OK) {
        die("cannot make a key", NULL);
    }
    fogpay_device_limits limits = {0, o->daily ? BENCH_FUNDS_MINOR : 0, 0};
    uint64_t now = wall_ms();
    if (fogpay_ledger_begin(l) != FOGPAY_OK) {
        die("begin", l);
    }
    for (int d = 0; d < o->devices; d++) {
        char owner[FOGPAY_ENTITY_ID_MAX + 1], id[FOGPAY_DEVICE_ID_MAX + 1];
        fogpay_entity_personal p = {.name = "Bench Operator"};
        device_id(d, id);
        fogpay_transfer t;
        if (fogpay_ledger_entity_create(l, &p, now, owner) != FOGPAY_OK ||
            fogpay_ledger_device_register(l, id, key, NULL, owner, &limits, now) != FOGPAY_OK ||
            fogpay_ledger_fund(l, id, BENCH_EUR, BENCH_FUNDS_MINOR, "bench", now, &t) !=
                FOGPAY_OK) {
            die("provisioning", l);
        }
    }
    if (fogpay_ledger_commit(l) != FOGPAY_OK) {
        die("commit", l);
    }
    fogpay_key_free(key);
}

/* One intent as the gateway handles it inside the open group. */
static void settle_one(fogpay_ledger *l, const bench_opts *o, int d, uint64_t seq)
{
    fogpay_intent in;
    memset(&in, 0, sizeof in);
    device_id(d, in.device_id);
    device_id((d + 1) % o->devices, in.payee_device);
    in.seq = seq;
    in.amount_minor = 1;
    in.currency = BENCH_EUR;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_sha256((const uint8_t *)&in, sizeof in, hash);
    uint8_t receipt[BENCH_RECEIPT_BYTES];
    size_t receipt_len = 0;
    if (fogpay_ledger_message_lookup(l, in.device_id, seq, hash, receipt, sizeof receipt,
                                     &receipt_len) != FOGPAY_ERR_NOT_FOUND) {
        die("a new intent was found answered", l);
    }
    uint64_t now = wall_ms();
    fogpay_transfer t;
    int64_t balance = 0;
    uint8_t chain_hash[FOGPAY_HASH_BYTES];
    if (fogpay_ledger_savepoint(l) != FOGPAY_OK ||
        fogpay_ledger_settle(l, &in, hash, now, &t, &balance) != FOGPAY_OK ||
        fogpay_ledger_transfer_get(l, t.position, &t, chain_hash) != FOGPAY_OK) {
        die("a settlement was refused", l);
    }
    /* A receipt carries the intent's hash and the chain hash, as a signed
     * one does, between bytes of its own. */
    memset(receipt, 0x5a, sizeof receipt);
    memcpy(receipt + 40, chain_hash, sizeof chain_hash);
    memcpy(receipt + 90, hash, sizeof hash);
    memcpy(receipt + 130, &seq, sizeof seq);
    if (fogpay_ledger_message_record(l, in.device_id, seq, FOGPAY_RECEIPT_INTENT, hash,
                                     FOGPAY_STATUS_SETTLED, 0, t.position, receipt, sizeof receipt,
                                     now) != FOGPAY_OK ||
        fogpay_ledger_release(l) != FOGPAY_OK) {
        die("recording the answer", l);
    }
}

/* count intents round-robin over the devices from seq_base on. */
static void run(fogpay_ledger *l, const bench_opts *o, long count, uint64_t seq_base)
{
    for (long n = 0; n < count; n++) {
        if (n % o->group == 0 && fogpay_ledger_begin(l) != FOGPAY_OK) {
            die("begin", l);
        }
        settle_one(l, o, (int)(n % o->devices), seq_base + (uint64_t)(n / o->devices) + 1);
        if ((n + 1) % o->group == 0 && fogpay_ledger_commit(l) != FOGPAY_OK) {
            die("commit", l);
        }
    }
    if (count % o->group != 0 && fogpay_ledger_commit(l) != FOGPAY_OK) {
        die("commit", l);
    }
}

static bench_opts parse(int argc, char **argv)
{
    bench_opts o = {.devices = 1000, .intents = 20000, .group = 100};
    if (argc < 2) {
        fprintf(stderr, "usage: ledger_bench DIR [--devices N] [--intents M] [--group G] "
                        "[--daily] [--preload P]\n");
        exit(2);
    }
    o.dir = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "0";
        if (strcmp(a, "--daily") == 0) {
            o.daily = true;
            continue;
        }
        long n = strtol(v, NULL, 10);
        i++;
        if (strcmp(a, "--devices") == 0 && n > 1) {
            o.devices = (int)n;
        } else if (strcmp(a, "--intents") == 0 && n > 0) {
            o.intents = n;
        } else if (strcmp(a, "--group") == 0 && n > 0) {
            o.group = (int)n;
        } else if (strcmp(a, "--preload") == 0 && n >= 0) {
            o.preload = (int)n;
        } else {
            fprintf(stderr, "ledger_bench: bad option %s %s\n", a, v);
            exit(2);
        }
    }
    return o;
}

int main(int argc, char **argv)
{
    bench_opts o = parse(argc, argv);
    char path[600];
    snprintf(path, sizeof path, "%s/ledger.db", o.dir);
    fogpay_ledger *l = NULL;
    if (fogpay_ledger_open(path, true, &l) != FOGPAY_OK) {
        die("cannot open the ledger", NULL);
    }
    provision(l, &o);
    double t = now_s();
    run(l, &o, (long)o.preload * o.devices, 0);
    double preload_s = now_s() - t;
    uint64_t bytes = file_bytes(o.dir);
    t = now_s();
    run(l, &o, o.intents, (uint64_t)o.preload);
    double timed_s = now_s() - t;
    uint64_t grown = file_bytes(o.dir) - bytes;
    fogpay_ledger_close(l);
    printf("ledger-bench intents=%ld devices=%d group=%d daily=%d preload_per_device=%d "
           "us_per_intent=%.1f preload_per_s=%.0f bytes_per_intent=%.0f\n",
           o.intents, o.devices, o.group, o.daily ? 1 : 0, o.preload, timed_s * 1e6 / o.intents,
           o.preload ? (double)o.preload * o.devices / preload_s : 0,
           (double)grown / (double)o.intents);
    return 0;
}
