/*
 * torture.c - crash and power-loss torture of fogpay (tests/torture/README.md).
 *
 *   torture AGENT INGEST CLOUD [--seed N] [--rounds N] [--devices N]
 *           [--round-ms MS] [--no-sync] [--self-test]
 *
 * AGENT, INGEST and CLOUD are the fogpay-agent, fogpay-ingest and
 * fogpay-cloud programs; FOGPAY_PLUGIN names the plugin and
 * FOGPAY_POWERCUT the shim. Each round: every device's agent pays others
 * while agents are killed with SIGKILL, the broker is killed or the power
 * cut under it, and (as root) the gateway's or the devices' disk is full
 * for a while; then SIGKILL to every agent, a drain (`run --drain` for
 * each), and the checks (torture_check.h).
 *
 * Exit status: 0 when no invariant was violated, 1 when one was (each is
 * printed), 2 when the torture itself could not run. With --self-test the
 * shim's fsync lies and the power cut keeps nothing it did not sync: the
 * exit status is 0 only when the checks found receipted transfers lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "power_loss.h"
#include "testutil.h"
#include "torture.h"
#include "torture_check.h"

#define TORTURE_ROUND_MS_DEFAULT 2500
#define TORTURE_DEVICES_DEFAULT  4
/* The longest a round's drain may take: every agent connects and resends
 * its journal (at most 1024 messages) and gets the receipts. */
#define TORTURE_DRAIN_MS 60000
/* In the self-test a device that paid before the cut refuses the gateway's
 * new receipts (their chain positions go back), so its drain cannot end:
 * it is given less time. */
#define TORTURE_DRAIN_SELF_TEST_MS 10000
/* Pauses of the chaos loop, and how long a broker stays down. */
#define TORTURE_STEP_MIN_MS 20
#define TORTURE_STEP_MAX_MS 200
#define TORTURE_DOWN_MAX_MS 400
#define TORTURE_CUT_WAIT_MS 300
/* How long a disk stays full. */
#define TORTURE_FULL_MIN_MS 300
#define TORTURE_FULL_MAX_MS 900

typedef struct torture_figures {
    uint64_t rounds, agent_kills, broker_kills, power_cuts, gateway_full, device_full;
    uint64_t failed_commits; /* the broker log's group commits that failed (a full disk) */
    power_loss_stats cut;
    torture_tally tally;
} torture_figures;

typedef struct torture {
    torture_world world;
    torture_random rng;
    uint64_t seed;
    unsigned rounds;
    unsigned round_ms;
    torture_figures fig;
} torture;

/* SIGINT or SIGTERM: the run ends after the step it is in, with its
 * figures, and everything it started is ended and removed. */
static volatile sig_atomic_t torture_stop;

static void on_stop(int sig)
{
    (void)sig;
    torture_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: torture AGENT INGEST CLOUD [--seed N] [--rounds N] [--devices N] "
                    "[--round-ms MS] [--no-sync] [--self-test]\n");
}

static bool parse_number(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text ? text : "", &end, 10);
    if (!text || !*text || *end || errno || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_args(torture *t, int argc, char **argv)
{
    if (argc < 4) {
        return false;
    }
    torture_world *w = &t->world;
    w->agent_bin = argv[1];
    w->ingest_bin = argv[2];
    w->cloud_bin = argv[3];
    w->sync = true;
    w->device_count = TORTURE_DEVICES_DEFAULT;
    t->seed = 1;
    t->rounds = 4;
    t->round_ms = TORTURE_ROUND_MS_DEFAULT;
    for (int i = 4; i < argc; i++) {
        uint64_t v = 0;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--self-test") == 0) {
            w->self_test = true;
        } else if (strcmp(argv[i], "--no-sync") == 0) {
            w->sync = false;
        } else if (strcmp(argv[i], "--seed") == 0 && parse_number(next, UINT64_MAX, &v)) {
            t->seed = v;
            i++;
        } else if (strcmp(argv[i], "--rounds") == 0 && parse_number(next, 1000000, &v) && v) {
            t->rounds = (unsigned)v;
            i++;
        } else if (strcmp(argv[i], "--devices") == 0 &&
                   parse_number(next, TORTURE_DEVICES_MAX, &v) && v >= 2) {
            w->device_count = (unsigned)v;
            i++;
        } else if (strcmp(argv[i], "--round-ms") == 0 && parse_number(next, 3600000, &v) &&
                   v >= 100) {
            t->round_ms = (unsigned)v;
            i++;
        } else {
            return false;
        }
    }
    w->plugin = getenv("FOGPAY_PLUGIN");
    w->shim = getenv("FOGPAY_POWERCUT");
    if (!w->plugin || !w->shim) {
        fprintf(stderr, "torture: FOGPAY_PLUGIN and FOGPAY_POWERCUT must name the plugin and "
                        "the shim\n");
        return false;
    }
    t->rng.state = t->seed;
    return true;
}

static unsigned pick(torture *t, unsigned n)
{
    return (unsigned)torture_random_below(&t->rng, n);
}

static unsigned between(torture *t, unsigned lo, unsigned hi)
{
    return lo + pick(t, hi - lo + 1);
}

/* Starts device i paying another device, chosen at random. */
static bool start_payer(torture *t, unsigned i)
{
    unsigned n = t->world.device_count;
    unsigned payee = (i + 1 + pick(t, n - 1)) % n;
    return torture_agent_pay(&t->world, i, payee, 1 + pick(t, TORTURE_AMOUNT_MAX));
}

static bool broker_back(torture *t)
{
    testutil_sleep_ms(between(t, 0, TORTURE_DOWN_MAX_MS));
    if (!torture_broker_restart(&t->world)) {
        printf("torture: the broker did not start again (seed %" PRIu64 ")\n", t->seed);
        test_broker_dump_log(&t->world.broker);
        return false;
    }
    return true;
}

static bool crash_broker(torture *t)
{
    torture_broker_kill(&t->world);
    t->fig.broker_kills++;
    return broker_back(t);
}

/* The power goes at a moment when the ledger has unsynced writes, if one
 * comes within TORTURE_CUT_WAIT_MS; else at the end of the wait. */
static bool cut_power(torture *t)
{
    for (uint64_t end = testutil_now_ms() + TORTURE_CUT_WAIT_MS;
         !power_loss_pending(t->world.db) && testutil_now_ms() < end;) {
        usleep(100);
    }
    torture_broker_kill(&t->world);
    power_loss_mode mode = t->world.self_test ? POWER_LOSS_DROP : POWER_LOSS_RANDOM;
    if (!power_loss_cut(t->world.db, mode, &t->rng, &t->fig.cut)) {
        return false;
    }
    t->fig.power_cuts++;
    return broker_back(t);
}

typedef struct round_plan {
    uint64_t crash_at; /* the round's sure broker crash */
    bool crash_is_cut; /* a power cut, else SIGKILL */
    const char *fill;  /* the directory whose disk fills, NULL none */
    const char *size;  /* its tmpfs size option */
    uint64_t fill_at, unfill_at;
    bool filled;
} round_plan;

static round_plan plan_round(torture *t, unsigned r, uint64_t start)
{
    torture_world *w = &t->world;
    round_plan p = {0};
    unsigned span = t->round_ms;
    p.crash_at = start + between(t, span / 5, span * 4 / 5);
    p.crash_is_cut = w->self_test || r % 2 == 1;
    if (w->self_test) {
        p.crash_at = start + span * 4 / 5;
    } else if (r % 4 == 2 && w->gateway_fs) {
        p.fill = w->gateway_dir;
        p.size = TORTURE_GATEWAY_FS_SIZE;
    } else if (r % 4 == 3 && w->device_fs) {
        p.fill = w->device_dir;
        p.size = TORTURE_DEVICE_FS_SIZE;
    }
    p.fill_at = start + between(t, span / 10, span / 2);
    p.unfill_at = p.fill_at + between(t, TORTURE_FULL_MIN_MS, TORTURE_FULL_MAX_MS);
    return p;
}

/* One step of a disk that fills and empties again. */
static void step_disk(torture *t, round_plan *p, uint64_t now)
{
    if (!p->fill) {
        return;
    }
    if (!p->filled && now >= p->fill_at && now < p->unfill_at) {
        if (!torture_fill(p->fill)) {
            printf("torture: the disk at %s could not be made full\n", p->fill);
        }
        p->filled = true;
        if (p->fill == t->world.gateway_dir) {
            t->fig.gateway_full++;
        } else {
            t->fig.device_full++;
        }
    } else if (p->filled && now >= p->unfill_at) {
        torture_unfill(p->fill, p->size);
        p->fill = NULL;
    }
}

/* The chaos of round r; false when the torture cannot go on. */
static bool chaos(torture *t, unsigned r)
{
    torture_world *w = &t->world;
    uint64_t start = testutil_now_ms(), end = start + t->round_ms;
    round_plan p = plan_round(t, r, start);
    bool crashed = false, ok = true;
    for (unsigned i = 0; i < w->device_count; i++) {
        ok = start_payer(t, i) && ok;
    }
    for (uint64_t now = start; ok && !torture_stop && now < end; now = testutil_now_ms()) {
        testutil_sleep_ms(between(t, TORTURE_STEP_MIN_MS, TORTURE_STEP_MAX_MS));
        now = testutil_now_ms();
        for (unsigned i = 0; i < w->device_count; i++) {
            if (torture_agent_reap(w, i)) {
                ok = start_payer(t, i) && ok;
            }
        }
        step_disk(t, &p, now);
        /* While the gateway's disk is full a power cut is a SIGKILL: the
         * cut's rewrite of the ledger's files needs blocks the filler took. */
        bool cut_ok = !(p.filled && p.fill == w->gateway_dir);
        if (!crashed && now >= p.crash_at) {
            crashed = true;
            ok = ok && (p.crash_is_cut && cut_ok ? cut_power(t) : crash_broker(t));
        }
        unsigned dice = pick(t, 100);
        if (dice < 30) {
            t->fig.agent_kills += torture_agent_kill(w, pick(t, w->device_count));
        } else if (dice < 33 && !w->self_test) {
            ok = ok && crash_broker(t);
        } else if (dice < 36 && !w->self_test) {
            ok = ok && (cut_ok ? cut_power(t) : crash_broker(t));
        }
    }
    for (unsigned i = 0; i < w->device_count; i++) {
        t->fig.agent_kills += torture_agent_kill(w, i);
    }
    if (p.fill && p.filled) {
        torture_unfill(p.fill, p.size);
    }
    return ok;
}

/* Every device runs `run --drain` until its journal is empty. */
static void drain(torture *t, unsigned r)
{
    torture_world *w = &t->world;
    for (unsigned i = 0; i < w->device_count; i++) {
        torture_agent_drain(w, i);
    }
    unsigned limit = w->self_test ? TORTURE_DRAIN_SELF_TEST_MS : TORTURE_DRAIN_MS;
    uint64_t end = testutil_now_ms() + limit;
    for (unsigned i = 0; i < w->device_count; i++) {
        while (!torture_agent_reap(w, i) && testutil_now_ms() < end) {
            testutil_sleep_ms(20);
        }
        if (torture_agent_kill(w, i)) {
            t->fig.tally.violations[INV_INTENT_LOST]++;
            printf("torture: round %u: VIOLATION %s: %s did not drain its journal in %u ms\n", r,
                   torture_invariant_name(INV_INTENT_LOST), w->devices[i].id, limit);
        }
    }
}

static uint64_t violations(const torture_tally *t)
{
    uint64_t n = 0;
    for (int i = 0; i < INV_COUNT; i++) {
        n += t->violations[i];
    }
    return n;
}

/* Lines of the gateway's broker log that contain text. */
static uint64_t log_count(const torture_world *w, const char *text)
{
    char *log = testutil_read_file(w->broker.log_path, NULL);
    uint64_t n = 0;
    for (char *p = log; p && (p = strstr(p, text)) != NULL; p += strlen(text)) {
        n++;
    }
    free(log);
    return n;
}

static void print_figures(torture *t)
{
    t->fig.failed_commits = log_count(&t->world, "device messages failed");
    const torture_figures *f = &t->fig;
    printf("torture: seed %" PRIu64 " rounds %" PRIu64 " agent_kills %" PRIu64
           " broker_kills %" PRIu64 " power_cuts %" PRIu64 " (unsynced writes %" PRIu64
           ", kept %" PRIu64 ", torn %" PRIu64 ") gateway_disk_full %" PRIu64
           " (failed commits %" PRIu64 ") device_disk_full %" PRIu64 " transfers %" PRIu64
           " receipts %" PRIu64 " journaled %" PRIu64 " violations %" PRIu64 "\n",
           t->seed, f->rounds, f->agent_kills, f->broker_kills, f->power_cuts, f->cut.unsynced,
           f->cut.kept, f->cut.torn, f->gateway_full, f->failed_commits, f->device_full,
           f->tally.transfers, f->tally.receipts, f->tally.journaled, violations(&f->tally));
    for (int i = 0; i < INV_COUNT; i++) {
        if (f->tally.violations[i]) {
            printf("torture:   %s %" PRIu64 "\n", torture_invariant_name((torture_invariant)i),
                   f->tally.violations[i]);
        }
    }
    fflush(stdout);
}

static bool run(torture *t)
{
    torture_world *w = &t->world;
    if (!w->gateway_fs) {
        printf("torture: gateway disk full skipped: a tmpfs cannot be mounted here (needs root)\n");
    }
    if (!w->device_fs) {
        printf("torture: device disk full skipped: a tmpfs cannot be mounted here (needs root)\n");
    }
    for (unsigned r = 0; r < t->rounds && !torture_stop; r++) {
        if (!chaos(t, r)) {
            return false;
        }
        if (torture_stop) {
            printf("torture: stopped during round %u, which is not counted\n", r);
            break;
        }
        if (!test_broker_running(&w->broker) && !broker_back(t)) {
            return false;
        }
        drain(t, r);
        torture_check(w, r, &t->fig.tally);
        t->fig.rounds++;
        printf("torture: round %u done: transfers %" PRIu64 ", violations so far %" PRIu64 "\n", r,
               t->fig.tally.transfers, violations(&t->fig.tally));
        fflush(stdout);
    }
    return true;
}

int main(int argc, char **argv)
{
    static torture t;
    if (!parse_args(&t, argc, argv)) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("torture: seed %" PRIu64 ", %u rounds of %u ms, %u devices, sync %s%s\n", t.seed,
           t.rounds, t.round_ms, t.world.device_count, t.world.sync ? "on" : "off",
           t.world.self_test ? ", self-test: fsync lies, power cuts keep nothing unsynced" : "");
    if (!torture_world_start(&t.world)) {
        torture_world_stop(&t.world, false);
        return 2;
    }
    bool ran = run(&t);
    print_figures(&t);
    uint64_t found = violations(&t.fig.tally);
    torture_world_stop(&t.world, !t.world.self_test && (found > 0 || !ran));
    if (!ran) {
        return 2;
    }
    if (t.world.self_test) {
        bool caught = t.fig.tally.violations[INV_RECEIPT_LOST] > 0;
        printf("torture: self-test: the checks %s the broken durability\n",
               caught ? "caught" : "did NOT catch");
        return caught ? 0 : 1;
    }
    return found == 0 ? 0 : 1;
}
