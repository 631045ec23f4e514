/*
 * fogpay_bench.c - the gateway's settlement rate and latency, measured
 * through a real Mosquitto with the fogpay plugin, beside what bounds them,
 * all in one run:
 *
 *   saturation  N devices (default 1,000), each provisioned in the ledger
 *               and logged in as itself, keep a window of signed QoS 1
 *               intents in flight for S seconds: settled intents per second,
 *               latency from send to receipt, the broker's CPU per settled
 *               intent, both cores' utilisation, the generator's own CPU;
 *   fixed rate  R intents per second (default 1,000) spread over the
 *               devices, open loop: latency from each intent's scheduled send
 *               time (no coordinated omission), p50/p90/p99/p99.9/max;
 *   mosquitto   a plain Mosquitto without the plugin, the same connections
 *               and payload size: QoS 1 publishes per second and
 *               publish-to-self round trips per second;
 *   host        single-core Ed25519 sign and verify rates, and small
 *               committed SQLite transactions per second (WAL,
 *               synchronous=FULL) on the disk that holds the ledger.
 *
 * Further modes instead of the phases above:
 *   --daily     saturation with a per-day limit set, at no payments today
 *               and again after 600 payments per device today (settled
 *               through the ledger's own path with the broker stopped);
 *   --storm     100 devices pay at 500/s while 1,000 more log in at once:
 *               time until all are up, and the payers' latency meanwhile
 *               (--pbkdf2: the 1,000 with the PBKDF2 hash that devices had
 *               before their fast verifier);
 *   --provision N devices (default 10,000) from a file through fogpayctl
 *               import-devices, offline, again (all skipped) and online;
 *               through the ledger API; and up to 100 one at a time
 *               through fogpayctl (a process per step), timed;
 *   --scale     saturation on a fresh ledger and again after --transfers T
 *               (default 10,000,000) more through fogpay_ledger_settle:
 *               both rates, bytes stored per transfer, the chain's verify
 *               time;
 *   --mix       saturation, then for as long again the payment products'
 *               mix: a quarter of the devices pay by holds (authorise,
 *               bind the meter to the charger's tariff and the hold,
 *               readings charged from it, the charger's capture;
 *               bench_mix.c), a quarter are their chargers, the rest keep
 *               paying plainly; settled messages per second of each.
 *
 * Intents are signed before any clock starts. Every receipt is decoded and
 * matched to its intent (device, seq, intent hash) and must say settled; one
 * in BENCH_VERIFY_SAMPLE has its signature verified with the gateway's key.
 * The MQTT client is bench_mqtt.c: hand-written packets, one thread, epoll.
 *
 * Usage: fogpay_bench [--quick] [--daily|--storm [--pbkdf2]|--provision|--scale|--mix]
 *                     [--listen-backlog N] [--devices N] [--seconds S]
 *                     [--rate R] [--window W] [--results DIR]
 * with FOGPAY_PLUGIN naming the plugin. Ends with one "fogpay-bench ..."
 * summary line ("fogpay-bench-daily ...", "fogpay-bench-storm ..." for those
 * modes); --results writes the run as JSON there. Exits 1 only when it
 * cannot run or a receipt is wrong, never on a figure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench_host.h"
#include "bench_mix.h"
#include "bench_mqtt.h"
#include "broker.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define EUR                 978
#define BENCH_VERIFY_SAMPLE 64
/* Intents signed for the saturation phase per second of it: above what the
 * gateway is meant to reach (10,000/s); a phase that uses them all up ends
 * early and its rate is counted over the time it ran. */
#define BENCH_SAT_BUDGET_PER_S 12000
/* In fixed-rate mode a device sends on schedule; past this many unanswered
 * intents it waits (the wait is counted in the latency). */
#define BENCH_FIXED_WINDOW_MAX 64
#define BENCH_CONNECT_WAIT_S   300
/* Mosquitto 2.0 listens with a backlog of 100: more connections at once
 * lose their SYNs and retry seconds later (the storm mode shows it); the
 * paying devices connect this many at a time. */
#define BENCH_CONNECT_CHUNK 50
#define BENCH_DRAIN_WAIT_S  30
#define BENCH_EVENTS        256
#define BENCH_TIMER_TAG     UINT32_MAX
#define BENCH_WRONG_SHOWN   5
/* Arena room per signed intent: the benchmark's intents are about 150 bytes
 * (the real size is printed); a longer one stops the run. */
#define BENCH_INTENT_ROOM 256
/* --daily: payments a device has made today before the second run, as in
 * the figure, and a per-day limit they stay far under. */
#define BENCH_DAILY_PAYMENTS    600
#define BENCH_DAILY_LIMIT_MINOR 1000000000u
#define BENCH_DAILY_DEVICES     100
#define BENCH_DAILY_SEQ_BASE    1000000u
#define BENCH_DAILY_GROUP       1000
/* --storm: devices that log in at once (a site after a power cut) while the
 * others pay at the fixed rate; the payers' defaults, and when the storm
 * starts. */
#define BENCH_STORM_DEVICES 1000
#define BENCH_STORM_PAYERS  100
#define BENCH_STORM_RATE    500
#define BENCH_STORM_SECONDS 30
#define BENCH_STORM_START_S 1.0
/* --provision: devices registered through fogpayctl, two processes each
 * (register-device, fund); fewer than the bulk path, as each takes tens of
 * milliseconds. */
#define BENCH_PROVISION_CTL_MAX 100
/* --provision: devices of the bulk import unless --devices says. */
#define BENCH_PROVISION_DEVICES 10000
/* Room for a device's secret (device_secret). */
#define BENCH_SECRET_SIZE 40
/* --scale: stored transfers to settle against (the figure), added
 * through fogpay_ledger_settle; --transfers sets fewer. */
#define BENCH_SCALE_TRANSFERS 10000000L
#define BENCH_SCALE_SEQ_BASE  100000000u

typedef struct options {
    bool quick;
    int devices;
    double seconds;
    double rate;
    int window;
    bool daily;
    bool storm;
    bool provision;
    bool pbkdf2;
    int listen_backlog; /* plugin_opt_listen_backlog; -1: the plugin's default */
    bool scale;
    bool mix;
    long transfers;
    const char *results;
} options;

typedef enum slot_state { SLOT_UNSENT = 0, SLOT_SENT = 1, SLOT_ANSWERED = 2 } slot_state;

typedef struct slot {
    uint32_t offset; /* into the pool's arena */
    uint16_t len;
    uint8_t state; /* slot_state */
    uint8_t hash[FOGPAY_HASH_BYTES];
    double t0; /* sent (saturation) or scheduled (fixed rate) */
    double t1; /* answered */
} slot;

/* The signed intents of one phase: device d's j-th intent is slot
 * d * per_dev + j with seq seq_base + j + 1. Owned by the bench. */
typedef struct pool {
    const char *name;
    int per_dev;
    uint64_t seq_base;
    size_t count;
    slot *slots;
    uint8_t *arena;
    uint32_t *lat_us; /* latencies of receipts inside the window */
    size_t lat_n;
    uint64_t answered;
    uint64_t sent;
    double start;
    double window_end;
} pool;

typedef enum phase {
    PHASE_IDLE,
    PHASE_SATURATION,
    PHASE_FIXED,
    PHASE_PLAIN_QOS1,
    PHASE_PLAIN_ECHO,
    PHASE_MIX,
} phase;

typedef struct phase_cpu {
    uint64_t broker_us, self_us;
    bench_cores cores;
    double t;
} phase_cpu;

static options opt;
static test_broker gateway, plain;
static char (*device_ids)[FOGPAY_DEVICE_ID_MAX + 1];
static fogpay_key **device_keys;
/* Each device's chain: the first bytes of the hash of its last settled
 * intent, which the first intent of a pool signed afterwards links to. A
 * pool is signed when its phase comes, so that it continues what the
 * gateway recorded, not intents a phase left unsent. */
static uint8_t (*device_prev)[FOGPAY_PREV_HASH_BYTES];
static fogpay_key *gateway_key;
static bench_conn *conns;
/* Connections: the paying devices 0..opt.devices-1, then (--storm) the
 * devices of the login storm up to nconns. */
static int nconns;
static int wait_from, wait_to;
static double storm_start, storm_done;
static uint64_t storm_cpu_us; /* the broker's CPU time when the storm was done */
static int epfd = -1, timerfd = -1;
/* Saturation, fixed rate, and (--daily) saturation at many payments today. */
#define BENCH_POOLS 3
static pool pools[BENCH_POOLS];
static pool *sat_pool;
static phase current = PHASE_IDLE;
static bool sending;
static uint64_t receipts, verified, wrong, duplicates, plain_done;
static uint8_t plain_payload[FOGPAY_MESSAGE_MAX];
static size_t plain_len;

static void die(const char *what)
{
    fprintf(stderr, "fogpay_bench: %s\n", what);
    exit(1);
}

/* At exit: test_broker_cleanup() leaves a broker never started alone. */
static void cleanup(void)
{
    test_broker_cleanup(&gateway);
    test_broker_cleanup(&plain);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- provisioning and signing, before any clock ------------------------------ */

/* Device i's secret: long and varied enough for registration (32 or more
 * characters), and known to the generator without storing it. */
static void device_secret(int i, char out[BENCH_SECRET_SIZE])
{
    snprintf(out, BENCH_SECRET_SIZE, "bench-device-secret-%06d-abcdef", i);
}

/* The stored verifier of device i: the device scheme registration stores,
 * or with --pbkdf2 the storm's devices (i >= opt.devices) get the default
 * PBKDF2 hash, as ledgers provisioned before the device scheme hold. */
static fogpay_error device_verifier(int i, char *out, size_t cap)
{
    char pass[BENCH_SECRET_SIZE];
    device_secret(i, pass);
    if (opt.pbkdf2 && i >= opt.devices) {
        return fogpay_password_hash(pass, strlen(pass), 0, out, cap);
    }
    return fogpay_device_secret_verifier(pass, strlen(pass), out, cap);
}

static void provision(const char *db_path, const char *key_path)
{
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway_key) != FOGPAY_OK ||
        fogpay_key_save(gateway_key, key_path, false) != FOGPAY_OK) {
        die("cannot make the gateway key");
    }
    fogpay_ledger *l;
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_entity_personal p = {"Bench Devices Ltd", "bench@example.invalid", NULL};
    if (fogpay_ledger_open(db_path, true, &l) != FOGPAY_OK ||
        fogpay_ledger_entity_create(l, &p, now_ms(), entity) != FOGPAY_OK ||
        fogpay_ledger_begin(l) != FOGPAY_OK) {
        die("cannot create the ledger");
    }
    /* --daily sets a per-day limit, so that every intent is checked
     * against the device's total of the day; high enough never to refuse. */
    fogpay_device_limits none = {0, opt.daily ? BENCH_DAILY_LIMIT_MINOR : 0, 0};
    for (int i = 0; i < nconns; i++) {
        char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
        snprintf(device_ids[i], sizeof device_ids[i], "bd-%06d", i);
        fogpay_transfer t;
        if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &device_keys[i]) != FOGPAY_OK ||
            device_verifier(i, hash, sizeof hash) != FOGPAY_OK ||
            fogpay_ledger_device_register(l, device_ids[i], device_keys[i], hash, entity, &none,
                                          now_ms()) != FOGPAY_OK ||
            fogpay_ledger_fund(l, device_ids[i], EUR, 1000000000, "bench", now_ms(), &t) !=
                FOGPAY_OK) {
            fprintf(stderr, "fogpay_bench: provisioning %s: %s\n", device_ids[i],
                    fogpay_ledger_last_message(l));
            die("cannot provision the devices");
        }
    }
    if (opt.mix && bench_mix_provision(l, device_ids, opt.devices, now_ms()) != FOGPAY_OK) {
        die("cannot define the chargers' tariffs");
    }
    if (fogpay_ledger_commit(l) != FOGPAY_OK) {
        die("cannot commit the provisioning");
    }
    fogpay_ledger_close(l);
}

static void pool_sign(pool *pl, const char *name, size_t total, uint64_t seq_base)
{
    memset(pl, 0, sizeof *pl);
    pl->name = name;
    pl->per_dev = (int)((total + (size_t)opt.devices - 1) / (size_t)opt.devices);
    pl->seq_base = seq_base;
    pl->count = (size_t)pl->per_dev * (size_t)opt.devices;
    pl->slots = calloc(pl->count, sizeof *pl->slots);
    pl->arena = malloc(pl->count * BENCH_INTENT_ROOM);
    pl->lat_us = malloc(pl->count * sizeof *pl->lat_us);
    if (!pl->slots || !pl->arena || !pl->lat_us) {
        die("no memory for the intents");
    }
    uint64_t created = (uint64_t)time(NULL);
    size_t offset = 0;
    for (int d = 0; d < opt.devices; d++) {
        for (int j = 0; j < pl->per_dev; j++) {
            fogpay_intent in;
            memset(&in, 0, sizeof in);
            strcpy(in.device_id, device_ids[d]);
            in.seq = seq_base + (uint64_t)j + 1;
            strcpy(in.payee_device, device_ids[(d + 1) % opt.devices]);
            in.amount_minor = 1;
            in.currency = EUR;
            in.created_s = created;
            in.ttl_s = 3600;
            if (j == 0) {
                memcpy(in.prev_hash, device_prev[d], FOGPAY_PREV_HASH_BYTES);
            } else {
                memcpy(in.prev_hash,
                       pl->slots[(size_t)d * (size_t)pl->per_dev + (size_t)j - 1].hash,
                       FOGPAY_PREV_HASH_BYTES);
            }
            uint8_t payload[FOGPAY_MESSAGE_MAX];
            size_t len = 0, signed_len = 0;
            if (fogpay_intent_encode(&in, payload, sizeof payload, &len) != FOGPAY_OK ||
                fogpay_cose_sign1_sign(device_keys[d], NULL, 0, payload, len, NULL, 0,
                                       pl->arena + offset, BENCH_INTENT_ROOM,
                                       &signed_len) != FOGPAY_OK) {
                die("cannot sign an intent");
            }
            slot *s = &pl->slots[(size_t)d * (size_t)pl->per_dev + (size_t)j];
            s->offset = (uint32_t)offset;
            s->len = (uint16_t)signed_len;
            fogpay_sha256(pl->arena + offset, signed_len, s->hash);
            offset += signed_len;
        }
    }
}

/* ---- sending ------------------------------------------------------------------- */

static void topic_of(int d, const char *leaf, char *out, size_t cap)
{
    snprintf(out, cap, "fogpay/v1/dev/%s/%s", device_ids[d], leaf);
}

static void send_slot(pool *pl, bench_conn *c, size_t index, double t0)
{
    slot *s = &pl->slots[index];
    char topic[96];
    topic_of(c->index, "intent", topic, sizeof topic);
    if (!bench_conn_publish(c, topic, pl->arena + s->offset, s->len, 1, NULL)) {
        die("a connection's write buffer is full");
    }
    s->state = SLOT_SENT;
    s->t0 = t0;
    c->inflight++;
    pl->sent++;
}

/* Saturation: tops up a device's window from its next unsent intents. */
static void refill_saturation(bench_conn *c)
{
    pool *pl = sat_pool;
    while (sending && c->inflight < opt.window && c->next < (uint64_t)pl->per_dev) {
        send_slot(pl, c, (size_t)c->index * (size_t)pl->per_dev + c->next, bench_now());
        c->next++;
    }
}

/* Fixed rate: intent k is due at start + k / rate, from device k mod N. */
static uint64_t fixed_next;

static double fixed_due(uint64_t k)
{
    return pools[1].start + (double)k / opt.rate;
}

static void send_fixed_due(double now)
{
    pool *pl = &pools[1];
    while (fixed_next < pl->count && fixed_due(fixed_next) <= now) {
        int d = (int)(fixed_next % (uint64_t)opt.devices);
        bench_conn *c = &conns[d];
        if (c->inflight >= BENCH_FIXED_WINDOW_MAX) {
            return;
        }
        size_t j = (size_t)(fixed_next / (uint64_t)opt.devices);
        send_slot(pl, c, (size_t)d * (size_t)pl->per_dev + j, fixed_due(fixed_next));
        fixed_next++;
    }
}

static void refill_plain(bench_conn *c)
{
    char topic[64];
    snprintf(topic, sizeof topic, current == PHASE_PLAIN_ECHO ? "bench/%d" : "bench/pub/%d",
             c->index);
    while (sending && c->inflight < opt.window) {
        if (!bench_conn_publish(c, topic, plain_payload, plain_len, 1, NULL)) {
            die("a connection's write buffer is full");
        }
        c->inflight++;
    }
}

/* ---- receipts -------------------------------------------------------------------- */

static void receipt_wrong(const char *why, const bench_conn *c, uint64_t seq)
{
    if (wrong++ < BENCH_WRONG_SHOWN) {
        fprintf(stderr, "fogpay_bench: wrong receipt for %s seq %llu: %s\n", device_ids[c->index],
                (unsigned long long)seq, why);
    }
}

static pool *pool_of(uint64_t seq)
{
    for (int i = 0; i < BENCH_POOLS; i++) {
        if (pools[i].slots && seq > pools[i].seq_base &&
            seq <= pools[i].seq_base + (uint64_t)pools[i].per_dev) {
            return &pools[i];
        }
    }
    return NULL;
}

static void on_receipt(bench_conn *c, const uint8_t *payload, size_t len)
{
    double now = bench_now();
    receipts++;
    fogpay_cose_sign1 msg;
    fogpay_receipt r;
    if (fogpay_cose_sign1_parse(payload, len, &msg) != FOGPAY_OK ||
        fogpay_receipt_decode(msg.payload.ptr, msg.payload.len, &r) != FOGPAY_OK) {
        receipt_wrong("does not decode", c, 0);
        return;
    }
    if (receipts % BENCH_VERIFY_SAMPLE == 1) {
        if (fogpay_cose_sign1_verify(&msg, gateway_key, NULL, 0) != FOGPAY_OK) {
            receipt_wrong("bad gateway signature", c, r.seq);
            return;
        }
        verified++;
    }
    if (current == PHASE_MIX && !bench_mix_plain(c->index, opt.devices)) {
        const char *why = strcmp(r.device_id, device_ids[c->index]) != 0
                              ? "for another device"
                              : bench_mix_receipt(c, &r, now);
        if (why != NULL) {
            receipt_wrong(why, c, r.seq);
        }
        return;
    }
    pool *pl = pool_of(r.seq);
    if (strcmp(r.device_id, device_ids[c->index]) != 0 || r.kind != FOGPAY_RECEIPT_INTENT || !pl) {
        receipt_wrong("not for an intent this device sent", c, r.seq);
        return;
    }
    slot *s = &pl->slots[(size_t)c->index * (size_t)pl->per_dev + (r.seq - pl->seq_base - 1)];
    if (s->state == SLOT_ANSWERED) {
        duplicates++;
        return;
    }
    if (s->state != SLOT_SENT || memcmp(s->hash, r.intent_hash, sizeof s->hash) != 0) {
        receipt_wrong("does not match the intent sent", c, r.seq);
        return;
    }
    if (r.status != FOGPAY_STATUS_SETTLED) {
        char why[64];
        snprintf(why, sizeof why, "status %u reason %u", r.status, r.reason);
        receipt_wrong(why, c, r.seq);
    }
    s->state = SLOT_ANSWERED;
    memcpy(device_prev[c->index], s->hash, FOGPAY_PREV_HASH_BYTES);
    s->t1 = now;
    c->inflight--;
    pl->answered++;
    if (now <= pl->window_end) {
        double lat = (now - s->t0) * 1e6;
        pl->lat_us[pl->lat_n++] = lat > 4e9 ? UINT32_MAX : (uint32_t)lat;
    }
    if ((current == PHASE_SATURATION || current == PHASE_MIX) && pl == sat_pool) {
        refill_saturation(c);
    }
}

static void on_publish(void *ctx, bench_conn *c, const char *topic, size_t topic_len,
                       const uint8_t *payload, size_t len)
{
    if (current == PHASE_PLAIN_ECHO) {
        c->inflight--;
        plain_done++;
        refill_plain(c);
        return;
    }
    if (topic_len > 8 && memcmp(topic + topic_len - 8, "/receipt", 8) == 0) {
        on_receipt(c, payload, len);
    }
}

static void on_puback(void *ctx, bench_conn *c, uint16_t packet_id)
{
    if (current == PHASE_PLAIN_QOS1) {
        c->inflight--;
        plain_done++;
        refill_plain(c);
    }
}

static const bench_handlers handlers = {on_publish, on_puback, NULL};

/* ---- the loop -------------------------------------------------------------------- */

static void arm_timer(double at)
{
    struct itimerspec it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)at;
    it.it_value.tv_nsec = (long)((at - (double)(time_t)at) * 1e9);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_nsec == 0) {
        it.it_value.tv_nsec = 1;
    }
    timerfd_settime(timerfd, TFD_TIMER_ABSTIME, &it, NULL);
}

static void flush_all(void)
{
    for (int i = 0; i < nconns; i++) {
        if (conns[i].wlen > 0 && !bench_conn_flush(&conns[i])) {
            die("a connection failed while writing");
        }
    }
}

/* Runs the loop until deadline or until done() says so. */
static void loop_until(double deadline, bool (*done)(void))
{
    struct epoll_event ev[BENCH_EVENTS];
    for (;;) {
        double now = bench_now();
        if (now >= deadline || (done && done())) {
            return;
        }
        if (current == PHASE_FIXED && sending) {
            send_fixed_due(now);
            if (fixed_next < pools[1].count) {
                arm_timer(fixed_due(fixed_next));
            }
        }
        flush_all();
        int wait_ms = (int)((deadline - now) * 1000) + 1;
        int n = epoll_wait(epfd, ev, BENCH_EVENTS, wait_ms < 100 ? wait_ms : 100);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait failed");
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u32 == BENCH_TIMER_TAG) {
                uint64_t expirations;
                if (read(timerfd, &expirations, sizeof expirations) < 0) {
                    continue;
                }
                continue;
            }
            bench_conn *c = &conns[ev[i].data.u32];
            if ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                !bench_conn_read(c, &handlers)) {
                die("a connection failed (see above)");
            }
        }
    }
}

static int connected_count(void)
{
    int n = 0;
    for (int i = wait_from; i < wait_to; i++) {
        n += conns[i].connacked && conns[i].subacked;
    }
    return n;
}

static bool all_connected(void)
{
    return connected_count() == wait_to - wait_from;
}

/* Opens one connection per device; gateway: logged in as the device and
 * subscribed to its receipts; plain: anonymous, subscribed to its echo. */
/* Opens connections from..to-1 without waiting for them. */
static void open_range(int port, bool as_devices, int from, int to)
{
    for (int i = from; i < to; i++) {
        char pass[BENCH_SECRET_SIZE], topic[96];
        device_secret(i, pass);
        if (as_devices) {
            topic_of(i, "receipt", topic, sizeof topic);
        } else {
            snprintf(topic, sizeof topic, "bench/%d", i);
        }
        if (!bench_conn_open(&conns[i], i, port, device_ids[i], as_devices ? device_ids[i] : NULL,
                             as_devices ? pass : NULL) ||
            !bench_conn_subscribe(&conns[i], topic)) {
            die("cannot open a connection");
        }
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &e) != 0) {
            die("epoll_ctl failed");
        }
    }
    wait_from = from;
    wait_to = to;
}

/* Opens the paying devices' connections, BENCH_CONNECT_CHUNK at a time,
 * and waits until all are up. */
static double connect_all(int port, bool as_devices)
{
    double start = bench_now();
    for (int from = 0; from < opt.devices; from += BENCH_CONNECT_CHUNK) {
        int to = from + BENCH_CONNECT_CHUNK;
        to = to < opt.devices ? to : opt.devices;
        open_range(port, as_devices, from, to);
        loop_until(start + BENCH_CONNECT_WAIT_S, all_connected);
    }
    wait_from = 0;
    wait_to = opt.devices;
    if (!all_connected()) {
        fprintf(stderr, "fogpay_bench: %d of %d connections up\n", connected_count(), opt.devices);
        die("not every device connected");
    }
    return bench_now() - start;
}

static void close_all(void)
{
    for (int i = 0; i < nconns; i++) {
        bench_conn_close(&conns[i]);
    }
}

static void cpu_mark(phase_cpu *m, pid_t broker)
{
    m->t = bench_now();
    m->broker_us = bench_process_cpu_us(broker);
    m->self_us = bench_self_cpu_us();
    bench_cores_read(&m->cores);
}

/* ---- phases -------------------------------------------------------------------- */

typedef struct figures {
    double provision_s, sign_s, connect_s, plain_connect_s;
    double settled_per_s, broker_cpu_us, gen_cpu_us, sat_core[2];
    double sat_lat[6]; /* p50 p90 p99 p99.9 max, ms; [5] unused */
    double fixed_rate, fixed_lat[6], fixed_broker_cpu_us, fixed_gen_cpu_us, fixed_core[2];
    double qos1_per_s, echo_per_s, plain_broker_cpu_us;
    double sign_per_s, verify_per_s, fsync_per_s;
} figures;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void percentiles(pool *pl, double out[6])
{
    static const double q[5] = {0.50, 0.90, 0.99, 0.999, 1.0};
    memset(out, 0, 6 * sizeof *out);
    if (pl->lat_n == 0) {
        return;
    }
    qsort(pl->lat_us, pl->lat_n, sizeof *pl->lat_us, cmp_u32);
    for (int i = 0; i < 5; i++) {
        size_t at = (size_t)(q[i] * (double)(pl->lat_n - 1) + 0.5);
        out[i] = pl->lat_us[at] / 1000.0;
    }
}

static bool sat_all_answered(void)
{
    return sat_pool->answered == sat_pool->sent &&
           (!sending || sat_pool->answered == sat_pool->count);
}

static bool fixed_all_answered(void)
{
    return fixed_next == pools[1].count && pools[1].answered == pools[1].count;
}

static void phase_saturation(pool *pl, figures *f)
{
    phase_cpu a, b;
    sat_pool = pl;
    for (int i = 0; i < opt.devices; i++) {
        conns[i].next = 0;
    }
    current = PHASE_SATURATION;
    sending = true;
    cpu_mark(&a, gateway.pid);
    pl->start = a.t;
    pl->window_end = a.t + opt.seconds;
    for (int i = 0; i < opt.devices; i++) {
        refill_saturation(&conns[i]);
    }
    loop_until(pl->window_end, sat_all_answered);
    cpu_mark(&b, gateway.pid);
    if (b.t < pl->window_end) {
        pl->window_end = b.t;
    }
    sending = false;
    double span = b.t - a.t;
    f->settled_per_s = (double)pl->lat_n / span;
    f->broker_cpu_us = pl->lat_n ? (double)(b.broker_us - a.broker_us) / (double)pl->lat_n : 0;
    f->gen_cpu_us = pl->lat_n ? (double)(b.self_us - a.self_us) / (double)pl->lat_n : 0;
    for (int i = 0; i < 2 && i < a.cores.count; i++) {
        f->sat_core[i] = bench_core_share(&a.cores, &b.cores, i);
    }
    percentiles(pl, f->sat_lat);
    loop_until(bench_now() + BENCH_DRAIN_WAIT_S, sat_all_answered);
    if (pl->answered != pl->sent) {
        die("saturation: intents unanswered after the drain");
    }
    printf("%-12s %.0f settled/s over %.1f s (%zu receipts in the window), broker %.0f us "
           "CPU per intent, generator %.0f us, cores %.0f%% %.0f%%; latency from send p50 %.2f "
           "p90 %.2f p99 %.2f p99.9 %.2f max %.2f ms\n",
           pl->name, f->settled_per_s, span, pl->lat_n, f->broker_cpu_us, f->gen_cpu_us,
           f->sat_core[0] * 100, f->sat_core[1] * 100, f->sat_lat[0], f->sat_lat[1], f->sat_lat[2],
           f->sat_lat[3], f->sat_lat[4]);
}

static void phase_fixed(figures *f)
{
    pool *pl = &pools[1];
    phase_cpu a, b;
    current = PHASE_FIXED;
    sending = true;
    fixed_next = 0;
    cpu_mark(&a, gateway.pid);
    pl->start = a.t + 0.01;
    pl->window_end = a.t + opt.seconds + BENCH_DRAIN_WAIT_S;
    loop_until(pl->window_end, fixed_all_answered);
    cpu_mark(&b, gateway.pid);
    sending = false;
    if (!fixed_all_answered()) {
        die("fixed rate: intents unanswered after the drain");
    }
    f->fixed_rate = (double)pl->count / (b.t - pl->start);
    f->fixed_broker_cpu_us = (double)(b.broker_us - a.broker_us) / (double)pl->count;
    f->fixed_gen_cpu_us = (double)(b.self_us - a.self_us) / (double)pl->count;
    for (int i = 0; i < 2 && i < a.cores.count; i++) {
        f->fixed_core[i] = bench_core_share(&a.cores, &b.cores, i);
    }
    percentiles(pl, f->fixed_lat);
    printf("fixed rate   %.0f intents/s offered (%zu), %.0f/s achieved, broker %.0f us CPU per "
           "intent, generator %.0f us, cores %.0f%% %.0f%%; latency from the scheduled time "
           "p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f ms\n",
           opt.rate, pl->count, f->fixed_rate, f->fixed_broker_cpu_us, f->fixed_gen_cpu_us,
           f->fixed_core[0] * 100, f->fixed_core[1] * 100, f->fixed_lat[0], f->fixed_lat[1],
           f->fixed_lat[2], f->fixed_lat[3], f->fixed_lat[4]);
}

static bool plain_drained(void)
{
    for (int i = 0; i < opt.devices; i++) {
        if (conns[i].inflight > 0) {
            return false;
        }
    }
    return true;
}

static double phase_plain(phase which, double seconds, double *broker_us)
{
    phase_cpu a, b;
    current = which;
    sending = true;
    plain_done = 0;
    cpu_mark(&a, plain.pid);
    for (int i = 0; i < opt.devices; i++) {
        refill_plain(&conns[i]);
    }
    loop_until(a.t + seconds, NULL);
    cpu_mark(&b, plain.pid);
    uint64_t done = plain_done;
    sending = false;
    loop_until(bench_now() + BENCH_DRAIN_WAIT_S, plain_drained);
    *broker_us = done ? (double)(b.broker_us - a.broker_us) / (double)done : 0;
    return (double)done / (b.t - a.t);
}

/* --daily and --scale: the ledger gets per_device settled payments of
 * today per device (seqs after seq_base) through its own settle path, with
 * the broker stopped. */
static void preload(int per_device, uint64_t seq_base)
{
    char db_path[TEST_BROKER_PATH_MAX];
    test_broker_path(&gateway, "ledger.db", db_path, sizeof db_path);
    fogpay_ledger *l;
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK) {
        die("cannot open the ledger to preload");
    }
    uint64_t created = (uint64_t)time(NULL), n = 0;
    for (int j = 0; j < per_device; j++) {
        for (int d = 0; d < opt.devices; d++) {
            if (n % BENCH_DAILY_GROUP == 0 && fogpay_ledger_begin(l) != FOGPAY_OK) {
                die("cannot begin a preload group");
            }
            fogpay_intent in;
            memset(&in, 0, sizeof in);
            strcpy(in.device_id, device_ids[d]);
            in.seq = seq_base + (uint64_t)j + 1;
            strcpy(in.payee_device, device_ids[(d + 1) % opt.devices]);
            in.amount_minor = 1;
            in.currency = EUR;
            in.created_s = created;
            in.ttl_s = 3600;
            uint8_t hash[FOGPAY_HASH_BYTES];
            fogpay_sha256((const uint8_t *)&in, sizeof in, hash);
            fogpay_transfer t;
            int64_t balance;
            if (fogpay_ledger_settle(l, &in, hash, now_ms(), &t, &balance) != FOGPAY_OK) {
                die("a preload payment was refused");
            }
            if (++n % BENCH_DAILY_GROUP == 0 && fogpay_ledger_commit(l) != FOGPAY_OK) {
                die("cannot commit a preload group");
            }
        }
    }
    if (n % BENCH_DAILY_GROUP != 0 && fogpay_ledger_commit(l) != FOGPAY_OK) {
        die("cannot commit a preload group");
    }
    fogpay_ledger_close(l);
}

/* The fixed-rate pool, after the saturation pool's seqs. */
static void sign_fixed_pool(void)
{
    pool_sign(&pools[1], "fixed", (size_t)(opt.seconds * opt.rate), (uint64_t)pools[0].per_dev);
}

static int run_daily(figures *f0)
{
    figures f600;
    memset(&f600, 0, sizeof f600);
    phase_saturation(&pools[0], f0);
    close_all();
    test_broker_stop(&gateway);
    double t = bench_now();
    preload(BENCH_DAILY_PAYMENTS, BENCH_DAILY_SEQ_BASE);
    printf("preloaded    %d payments today on each of %d devices in %.1f s\n", BENCH_DAILY_PAYMENTS,
           opt.devices, bench_now() - t);
    if (!test_broker_restart(&gateway)) {
        die("the gateway did not start again");
    }
    connect_all(gateway.port, true);
    pool_sign(&pools[2], "at-600-today", (size_t)(opt.seconds * BENCH_SAT_BUDGET_PER_S),
              BENCH_DAILY_SEQ_BASE + BENCH_DAILY_PAYMENTS);
    phase_saturation(&pools[2], &f600);
    close_all();
    test_broker_stop(&gateway);
    printf("receipts     %llu checked, %llu signatures verified, %llu duplicates, %llu wrong\n",
           (unsigned long long)receipts, (unsigned long long)verified,
           (unsigned long long)duplicates, (unsigned long long)wrong);
    printf("fogpay-bench-daily devices=%d settled_per_s_at_0=%.0f settled_per_s_at_%d=%.0f "
           "broker_cpu_us_at_0=%.0f broker_cpu_us_at_%d=%.0f ratio=%.3f\n",
           opt.devices, f0->settled_per_s, BENCH_DAILY_PAYMENTS, f600.settled_per_s,
           f0->broker_cpu_us, BENCH_DAILY_PAYMENTS, f600.broker_cpu_us,
           f0->settled_per_s > 0 ? f600.settled_per_s / f0->settled_per_s : 0);
    return wrong ? 1 : 0;
}

/* --mix: the plain devices' pool and the mix's sessions drained. */
static bool mix_drained(void)
{
    return sat_pool->answered == sat_pool->sent && bench_mix_idle();
}

/* The mix for opt.seconds after the saturation phase: the plain devices
 * saturate from pl as before, the others run sessions; every message
 * answered inside the window counts, the plain ones and the mix's. */
static double phase_mix(pool *pl, bench_mix_counts *mc)
{
    phase_cpu a, b;
    sat_pool = pl;
    for (int i = 0; i < opt.devices; i++) {
        conns[i].next = 0;
    }
    bench_mix_fleet fleet = {
        opt.devices, device_ids,
        device_keys, device_prev,
        conns,       pools[0].seq_base + (uint64_t)pools[0].per_dev + (uint64_t)pl->per_dev,
        opt.window};
    current = PHASE_MIX;
    sending = true;
    cpu_mark(&a, gateway.pid);
    pl->start = a.t;
    pl->window_end = a.t + opt.seconds;
    for (int i = 0; i < opt.devices; i++) {
        if (bench_mix_plain(i, opt.devices)) {
            refill_saturation(&conns[i]);
        }
    }
    bench_mix_begin(&fleet, pl->window_end);
    loop_until(pl->window_end, NULL);
    cpu_mark(&b, gateway.pid);
    sending = false;
    bench_mix_stop();
    loop_until(bench_now() + BENCH_DRAIN_WAIT_S, mix_drained);
    if (!mix_drained()) {
        die("mix: messages unanswered after the drain");
    }
    bench_mix_counts_get(mc);
    double span = b.t - a.t;
    double per_s = (double)(pl->lat_n + mc->messages_in_window) / span;
    printf("mix          %.0f settled messages/s over %.1f s: %zu plain payments and %llu of "
           "sessions (%llu holds captured, %llu readings charged from them), broker %.0f us CPU "
           "per message\n",
           per_s, span, pl->lat_n, (unsigned long long)mc->messages_in_window,
           (unsigned long long)mc->holds, (unsigned long long)mc->readings,
           pl->lat_n + mc->messages_in_window
               ? (double)(b.broker_us - a.broker_us) / (double)(pl->lat_n + mc->messages_in_window)
               : 0);
    return per_s;
}

static int run_mix(figures *f0)
{
    phase_saturation(&pools[0], f0);
    pool_sign(&pools[2], "mix-plain", (size_t)(opt.seconds * BENCH_SAT_BUDGET_PER_S),
              pools[0].seq_base + (uint64_t)pools[0].per_dev);
    bench_mix_counts mc;
    double mix_per_s = phase_mix(&pools[2], &mc);
    close_all();
    test_broker_stop(&gateway);
    printf("receipts     %llu checked, %llu signatures verified, %llu duplicates, %llu wrong\n",
           (unsigned long long)receipts, (unsigned long long)verified,
           (unsigned long long)duplicates, (unsigned long long)wrong);
    printf("fogpay-bench-mix plain_per_s=%.0f mix_per_s=%.0f ratio=%.3f holds=%llu readings=%llu\n",
           f0->settled_per_s, mix_per_s, f0->settled_per_s > 0 ? mix_per_s / f0->settled_per_s : 0,
           (unsigned long long)mc.holds, (unsigned long long)mc.readings);
    return wrong || mc.holds == 0 ? 1 : 0;
}

/* --storm: the payers' fixed rate runs; after BENCH_STORM_START_S the storm's
 * devices all connect at once. */
static bool storm_and_fixed_done(void)
{
    if (storm_done == 0 && all_connected()) {
        storm_done = bench_now();
        storm_cpu_us = bench_process_cpu_us(gateway.pid);
    }
    return storm_done > 0 && fixed_all_answered();
}

static bool storm_started(void)
{
    return bench_now() >= pools[1].start + BENCH_STORM_START_S;
}

static int run_storm(void)
{
    pool *pl = &pools[1];
    current = PHASE_FIXED;
    sending = true;
    fixed_next = 0;
    pl->start = bench_now() + 0.01;
    pl->window_end = pl->start + opt.seconds + BENCH_DRAIN_WAIT_S;
    loop_until(pl->window_end, storm_started);
    uint64_t overflows = bench_listen_overflows();
    uint64_t cpu_before = bench_process_cpu_us(gateway.pid);
    storm_start = bench_now();
    open_range(gateway.port, true, opt.devices, nconns);
    loop_until(pl->window_end + BENCH_CONNECT_WAIT_S, storm_and_fixed_done);
    sending = false;
    overflows = bench_listen_overflows() - overflows;
    if (storm_done == 0) {
        fprintf(stderr, "fogpay_bench: %d of %d storm devices up\n", connected_count(),
                BENCH_STORM_DEVICES);
        die("the storm's devices did not all connect");
    }
    if (!fixed_all_answered()) {
        die("storm: the payers' intents unanswered after the drain");
    }
    /* The payers' intents scheduled while the storm lasted, and the
     * receipts that came meanwhile. */
    pl->lat_n = 0;
    uint64_t settled_meanwhile = 0;
    for (size_t i = 0; i < pl->count; i++) {
        slot *s = &pl->slots[i];
        if (s->t0 >= storm_start && s->t0 <= storm_done) {
            pl->lat_us[pl->lat_n++] = (uint32_t)((s->t1 - s->t0) * 1e6);
        }
        settled_meanwhile += s->t1 >= storm_start && s->t1 <= storm_done;
    }
    double lat[6];
    percentiles(pl, lat);
    double span = storm_done - storm_start;
    printf("storm        %d devices logged in at once in %.2f s while %d devices paid %.0f/s; "
           "%llu receipts meanwhile (%.0f/s); payers' latency from the scheduled time "
           "meanwhile p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f ms\n",
           BENCH_STORM_DEVICES, span, opt.devices, opt.rate, (unsigned long long)settled_meanwhile,
           span > 0 ? settled_meanwhile / span : 0, lat[0], lat[1], lat[2], lat[3], lat[4]);
    printf("storm        %s device verifiers; broker CPU %.0f ms while the storm lasted (payers "
           "included, /proc: 10 ms steps); %llu connections dropped on a full listen queue on "
           "this machine meanwhile (TcpExt ListenOverflows)\n",
           opt.pbkdf2 ? "PBKDF2 (10,000 iterations)" : "salted SHA-256",
           (double)(storm_cpu_us - cpu_before) / 1000.0, (unsigned long long)overflows);
    close_all();
    test_broker_stop(&gateway);
    printf("receipts     %llu checked, %llu signatures verified, %llu duplicates, %llu wrong\n",
           (unsigned long long)receipts, (unsigned long long)verified,
           (unsigned long long)duplicates, (unsigned long long)wrong);
    printf("fogpay-bench-storm storm_devices=%d all_connected_s=%.2f logins_per_s=%.0f payers=%d "
           "rate_per_s=%.0f settled_per_s_meanwhile=%.0f payer_p50_ms=%.2f payer_p99_ms=%.2f "
           "payer_max_ms=%.2f listen_overflows=%llu\n",
           BENCH_STORM_DEVICES, span, span > 0 ? BENCH_STORM_DEVICES / span : 0, opt.devices,
           opt.rate, span > 0 ? settled_meanwhile / span : 0, lat[0], lat[2], lat[4],
           (unsigned long long)overflows);
    return wrong ? 1 : 0;
}

static uint64_t ledger_bytes(void)
{
    uint64_t total = 0;
    static const char *const names[] = {"ledger.db", "ledger.db-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[TEST_BROKER_PATH_MAX];
        struct stat st;
        test_broker_path(&gateway, names[i], path, sizeof path);
        if (stat(path, &st) == 0) {
            total += (uint64_t)st.st_size;
        }
    }
    return total;
}

/* --scale: saturation on a fresh ledger, then opt.transfers more stored
 * through the ledger's settle path with the broker stopped, the whole chain
 * verified, and saturation again. */
static int run_scale(figures *f0)
{
    figures fn;
    memset(&fn, 0, sizeof fn);
    phase_saturation(&pools[0], f0);
    close_all();
    test_broker_stop(&gateway);
    uint64_t bytes_before = ledger_bytes();
    int per_device = (int)(opt.transfers / opt.devices);
    long added = (long)per_device * opt.devices;
    double t = bench_now();
    preload(per_device, BENCH_SCALE_SEQ_BASE);
    double gen_s = bench_now() - t;
    uint64_t bytes_after = ledger_bytes();
    char db_path[TEST_BROKER_PATH_MAX], problem[256] = "";
    test_broker_path(&gateway, "ledger.db", db_path, sizeof db_path);
    fogpay_ledger *l;
    uint64_t checked = 0, bad = 0;
    t = bench_now();
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK ||
        fogpay_ledger_verify(l, &checked, &bad, problem, sizeof problem) != FOGPAY_OK) {
        fprintf(stderr, "fogpay_bench: verify: %s\n", problem);
        die("the ledger does not verify");
    }
    fogpay_ledger_close(l);
    double verify_s = bench_now() - t;
    double per_transfer = added ? (double)(bytes_after - bytes_before) / (double)added : 0;
    printf("scale        %ld transfers added through fogpay_ledger_settle in %.1f s (%.0f/s), "
           "%.0f bytes stored each; the chain of %llu verified in %.1f s\n",
           added, gen_s, added / gen_s, per_transfer, (unsigned long long)checked, verify_s);
    if (!test_broker_restart(&gateway)) {
        die("the gateway did not start again");
    }
    connect_all(gateway.port, true);
    pool_sign(&pools[2], "at-scale", (size_t)(opt.seconds * BENCH_SAT_BUDGET_PER_S),
              BENCH_SCALE_SEQ_BASE + (uint64_t)(opt.transfers / opt.devices) + 1);
    phase_saturation(&pools[2], &fn);
    close_all();
    test_broker_stop(&gateway);
    printf("receipts     %llu checked, %llu signatures verified, %llu duplicates, %llu wrong\n",
           (unsigned long long)receipts, (unsigned long long)verified,
           (unsigned long long)duplicates, (unsigned long long)wrong);
    printf("fogpay-bench-scale transfers=%llu settled_per_s_empty=%.0f settled_per_s_at_scale=%.0f "
           "ratio=%.3f bytes_per_transfer=%.0f generate_per_s=%.0f verify_s=%.1f\n",
           (unsigned long long)checked, f0->settled_per_s, fn.settled_per_s,
           f0->settled_per_s > 0 ? fn.settled_per_s / f0->settled_per_s : 0, per_transfer,
           added / gen_s, verify_s);
    return wrong ? 1 : 0;
}

/* --provision: N devices (default 10,000) from a file through
 * "fogpayctl import-devices" (FOGPAYCTL names it) offline, the same file
 * again (every device skipped), and online through a running gateway's
 * control topic; then the ledger API in one transaction; and up to
 * BENCH_PROVISION_CTL_MAX one at a time through fogpayctl register-device
 * and fund, a process each, as deploy/provision.sh does. */

/* A fresh ledger at db with one entity; its id into owner. */
static void provision_ledger(const char *ctl, const char *db, const char *out, char *owner,
                             size_t cap)
{
    const char *init[] = {ctl, "--db", db, "init", NULL};
    const char *entity[] = {ctl, "--db", db, "create-entity", "--name", "Bench Devices Ltd", NULL};
    if (testutil_command(init, NULL) != 0 || testutil_command(entity, out) != 0) {
        die("fogpayctl init or create-entity failed");
    }
    char *text = testutil_read_file(out, NULL);
    if (!text) {
        die("fogpayctl create-entity printed nothing");
    }
    text[strcspn(text, "\n")] = '\0';
    snprintf(owner, cap, "%s", text);
    free(text);
}

static double provision_ctl(const char *ctl, const char *dir, int count)
{
    char db[TEST_BROKER_PATH_MAX], out[TEST_BROKER_PATH_MAX], pw[TEST_BROKER_PATH_MAX];
    char owner[FOGPAY_ENTITY_ID_MAX + 1];
    snprintf(db, sizeof db, "%s/ctl.db", dir);
    snprintf(out, sizeof out, "%s/ctl.out", dir);
    snprintf(pw, sizeof pw, "%s/pw.txt", dir);
    provision_ledger(ctl, db, out, owner, sizeof owner);
    double start = bench_now();
    for (int i = 0; i < count; i++) {
        char pub[FOGPAY_PUBLIC_KEY_TEXT_MAX], secret[BENCH_SECRET_SIZE];
        fogpay_key_public_text(device_keys[i], pub, sizeof pub);
        device_secret(i, secret);
        FILE *f = fopen(pw, "w");
        if (!f) {
            die("cannot write the password file");
        }
        fprintf(f, "%s\n", secret);
        fclose(f);
        const char *reg[] = {
            ctl, "--db",    db,    "register-device", "--device", device_ids[i], "--public-key",
            pub, "--owner", owner, "--password-file", pw,         NULL};
        const char *fund[] = {ctl,        "--db",        db,           "fund",
                              "--device", device_ids[i], "--currency", "EUR",
                              "--amount", "10000.00",    NULL};
        if (testutil_command(reg, NULL) != 0 || testutil_command(fund, NULL) != 0) {
            die("fogpayctl register-device or fund failed");
        }
    }
    return bench_now() - start;
}

/* The import file: one JSON line a device, with limits, no secret (so
 * fogpayctl generates them). */
static void provision_file(const char *path, const char *owner)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        die("cannot write the import file");
    }
    for (int i = 0; i < opt.devices; i++) {
        char pub[FOGPAY_PUBLIC_KEY_TEXT_MAX];
        fogpay_key_public_text(device_keys[i], pub, sizeof pub);
        fprintf(f,
                "{\"device\":\"%s\",\"publicKey\":\"%s\",\"owner\":\"%s\",\"limits\":"
                "{\"currency\":\"EUR\",\"perPayment\":\"20.00\",\"perDay\":\"100.00\"}}\n",
                device_ids[i], pub, owner);
    }
    if (fclose(f) != 0) {
        die("cannot write the import file");
    }
}

/* Runs argv (fogpayctl import-devices ...) and checks that it printed
 * expect; its time in seconds. */
static double provision_import_run(const char *const *argv, const char *out, const char *expect)
{
    double start = bench_now();
    int status = testutil_command(argv, out);
    double took = bench_now() - start;
    char *text = testutil_read_file(out, NULL);
    if (status != 0 || !text || !strstr(text, expect)) {
        fprintf(stderr, "fogpay_bench: import printed: %s\n", text ? text : "(nothing)");
        die("fogpayctl import-devices failed");
    }
    free(text);
    return took;
}

/* The import online: a gateway on a fresh ledger with an operator. */
static double provision_online(const char *ctl, const char *file, const char *expect)
{
    char db[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], ops[TEST_BROKER_PATH_MAX];
    char pw[TEST_BROKER_PATH_MAX], out[TEST_BROKER_PATH_MAX], secrets[TEST_BROKER_PATH_MAX];
    char owner[FOGPAY_ENTITY_ID_MAX + 1], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    char conf[TEST_BROKER_CONF_MAX], port[16];
    test_broker_path(&plain, "online.db", db, sizeof db);
    test_broker_path(&plain, "gateway.key", key, sizeof key);
    test_broker_path(&plain, "operators", ops, sizeof ops);
    test_broker_path(&plain, "ops.pw", pw, sizeof pw);
    test_broker_path(&plain, "online.out", out, sizeof out);
    test_broker_path(&plain, "online.secrets", secrets, sizeof secrets);
    provision_ledger(ctl, db, out, owner, sizeof owner);
    FILE *f = fopen(ops, "w"), *p = fopen(pw, "w");
    if (!f || !p || fogpay_password_hash("ops-pass", 8, 0, hash, sizeof hash) != FOGPAY_OK ||
        fogpay_key_save(gateway_key, key, false) != FOGPAY_OK) {
        die("cannot write the operator's files");
    }
    fprintf(f, "ops:%s\n", hash);
    fprintf(p, "ops-pass\n");
    fclose(f);
    fclose(p);
    /* The file names the entity of the offline ledger: this one's is put in
     * its place by writing the file again. */
    provision_file(file, owner);
    if (!test_broker_gateway_conf(conf, sizeof conf, "gw-bench", db, key, ops) ||
        !test_broker_start(&plain, conf)) {
        die("the gateway for the online import did not start");
    }
    snprintf(port, sizeof port, "%d", plain.port);
    const char *import[] = {ctl,      "-h",        "127.0.0.1",     "-p",
                            port,     "-u",        "ops",           "--password-file",
                            pw,       "--timeout", "600000",        "import-devices",
                            "--file", file,        "--secrets-out", secrets,
                            NULL};
    double took = provision_import_run(import, out, expect);
    test_broker_stop(&plain);
    return took;
}

static int run_provision(void)
{
    const char *ctl = getenv("FOGPAYCTL");
    if (!ctl) {
        die("FOGPAYCTL must name fogpayctl (bench/run.sh sets it)");
    }
    char db[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX], file[TEST_BROKER_PATH_MAX];
    char idb[TEST_BROKER_PATH_MAX], out[TEST_BROKER_PATH_MAX], secrets[TEST_BROKER_PATH_MAX];
    char owner[FOGPAY_ENTITY_ID_MAX + 1], imported[64], skipped[64];
    test_broker_path(&gateway, "ledger.db", db, sizeof db);
    test_broker_path(&gateway, "gateway.key", key, sizeof key);
    test_broker_path(&gateway, "devices.jsonl", file, sizeof file);
    test_broker_path(&gateway, "import.db", idb, sizeof idb);
    test_broker_path(&gateway, "import.out", out, sizeof out);
    test_broker_path(&gateway, "secrets.txt", secrets, sizeof secrets);
    double t = bench_now();
    provision(db, key);
    double bulk = bench_now() - t;
    provision_ledger(ctl, idb, out, owner, sizeof owner);
    provision_file(file, owner);
    snprintf(imported, sizeof imported, "imported %d devices, skipped 0", opt.devices);
    snprintf(skipped, sizeof skipped, "imported 0 devices, skipped %d", opt.devices);
    const char *import[] = {ctl,     "--db", idb, "import-devices", "--file", file, "--secrets-out",
                            secrets, NULL};
    double import_s = provision_import_run(import, out, imported);
    unlink(secrets);
    double again_s = provision_import_run(import, out, skipped);
    double online_s = provision_online(ctl, file, imported);
    int count = opt.devices < BENCH_PROVISION_CTL_MAX ? opt.devices : BENCH_PROVISION_CTL_MAX;
    double ctl_s = provision_ctl(ctl, gateway.dir, count);
    printf("provision    %d devices from a file through fogpayctl import-devices in one "
           "transaction: offline %.2f s (%.0f/s), the same file again (all skipped) %.2f s, "
           "online through the gateway's control topic %.2f s (%.0f/s)\n",
           opt.devices, import_s, opt.devices / import_s, again_s, online_s,
           opt.devices / online_s);
    printf("provision    %d devices through the ledger API in one transaction (and a funding "
           "each) in %.2f s (%.0f/s); %d one at a time through fogpayctl (register-device and "
           "fund, a process each) in %.2f s (%.0f/s, %.1f ms a device)\n",
           opt.devices, bulk, opt.devices / bulk, count, ctl_s, count / ctl_s,
           ctl_s * 1000 / count);
    printf("fogpay-bench-provision devices=%d import_s=%.2f import_per_s=%.0f reimport_s=%.2f "
           "online_import_s=%.2f ledger_api_s=%.2f fogpayctl_devices=%d fogpayctl_s=%.2f "
           "fogpayctl_per_s=%.1f fogpayctl_10000_s=%.0f\n",
           opt.devices, import_s, opt.devices / import_s, again_s, online_s, bulk, count, ctl_s,
           count / ctl_s, ctl_s * 10000 / count);
    return 0;
}

/* ---- setup, output ------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fogpay_bench [--quick] [--daily|--storm [--pbkdf2]|--provision|--scale "
            "[--transfers T]|--mix] [--listen-backlog N] [--devices N] [--seconds S] [--rate R] "
            "[--window W] [--results DIR]\n");
    exit(2);
}

static void parse_options(int argc, char **argv)
{
    opt.devices = 1000;
    opt.seconds = 10;
    opt.rate = 1000;
    opt.window = 2;
    opt.transfers = BENCH_SCALE_TRANSFERS;
    opt.listen_backlog = -1;
    bool devices_set = false, seconds_set = false, rate_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            opt.quick = true;
        } else if (strcmp(a, "--devices") == 0 && v) {
            opt.devices = atoi(v), devices_set = true, i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            opt.seconds = atof(v), seconds_set = true, i++;
        } else if (strcmp(a, "--rate") == 0 && v) {
            opt.rate = atof(v), rate_set = true, i++;
        } else if (strcmp(a, "--window") == 0 && v) {
            opt.window = atoi(v), i++;
        } else if (strcmp(a, "--daily") == 0) {
            opt.daily = true;
        } else if (strcmp(a, "--storm") == 0) {
            opt.storm = true;
        } else if (strcmp(a, "--provision") == 0) {
            opt.provision = true;
        } else if (strcmp(a, "--pbkdf2") == 0) {
            opt.pbkdf2 = true;
        } else if (strcmp(a, "--listen-backlog") == 0 && v) {
            opt.listen_backlog = atoi(v), i++;
        } else if (strcmp(a, "--scale") == 0) {
            opt.scale = true;
        } else if (strcmp(a, "--mix") == 0) {
            opt.mix = true;
        } else if (strcmp(a, "--transfers") == 0 && v) {
            opt.transfers = atol(v), i++;
        } else if (strcmp(a, "--results") == 0 && v) {
            opt.results = v, i++;
        } else {
            usage();
        }
    }
    if (opt.daily && !devices_set) {
        opt.devices = BENCH_DAILY_DEVICES;
    }
    if (opt.storm) {
        opt.devices = devices_set ? opt.devices : BENCH_STORM_PAYERS;
        opt.rate = rate_set ? opt.rate : BENCH_STORM_RATE;
        opt.seconds = seconds_set ? opt.seconds : BENCH_STORM_SECONDS;
    }
    if (opt.provision && !devices_set) {
        opt.devices = BENCH_PROVISION_DEVICES;
    }
    if (opt.quick) {
        opt.devices = devices_set ? opt.devices : 100;
        opt.seconds = seconds_set ? opt.seconds : 3;
        opt.rate = rate_set ? opt.rate : 500;
    }
    if (opt.devices < 1 || opt.devices > 20000 || opt.seconds <= 0 || opt.rate <= 0 ||
        opt.window < 1 || opt.window > BENCH_FIXED_WINDOW_MAX) {
        usage();
    }
}

static void raise_fd_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static void start_gateway(void)
{
    char db_path[TEST_BROKER_PATH_MAX], key_path[TEST_BROKER_PATH_MAX];
    char conf[TEST_BROKER_CONF_MAX];
    test_broker_path(&gateway, "ledger.db", db_path, sizeof db_path);
    test_broker_path(&gateway, "gateway.key", key_path, sizeof key_path);
    double t = bench_now();
    provision(db_path, key_path);
    printf("provisioned  %d devices in %.1f s\n", nconns, bench_now() - t);
    char backlog[64] = "";
    if (opt.listen_backlog >= 0) {
        snprintf(backlog, sizeof backlog, "plugin_opt_listen_backlog %d\n", opt.listen_backlog);
    }
    snprintf(conf, sizeof conf,
             "allow_anonymous false\n"
             "set_tcp_nodelay true\n"
             "max_inflight_messages %d\n"
             "plugin %s\n"
             "plugin_opt_database %s\n"
             "plugin_opt_gateway_id gw-bench\n"
             "plugin_opt_gateway_key %s\n"
             "plugin_opt_currencies EUR\n%s",
             BENCH_FIXED_WINDOW_MAX, getenv("FOGPAY_PLUGIN"), db_path, key_path, backlog);
    if (!test_broker_start(&gateway, conf)) {
        die("the gateway did not start");
    }
}

static void write_results(const figures *f)
{
    char path[1024];
    FILE *out = bench_results_open(opt.results, "bench", path, sizeof path);
    if (!out) {
        return;
    }
    fprintf(out,
            "  \"options\": {\"devices\": %d, \"seconds\": %g, \"rate\": %g, \"window\": %d},\n"
            "  \"setup\": {\"provision_s\": %.2f, \"sign_s\": %.2f, \"connect_s\": %.2f, "
            "\"plain_connect_s\": %.2f},\n"
            "  \"saturation\": {\"settled_per_s\": %.0f, \"broker_cpu_us_per_intent\": %.0f, "
            "\"generator_cpu_us_per_intent\": %.0f, \"core0\": %.3f, \"core1\": %.3f, "
            "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, "
            "\"max_ms\": %.3f},\n"
            "  \"fixed\": {\"offered_per_s\": %g, \"achieved_per_s\": %.0f, "
            "\"broker_cpu_us_per_intent\": %.0f, \"generator_cpu_us_per_intent\": %.0f, "
            "\"core0\": %.3f, \"core1\": %.3f, "
            "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, "
            "\"max_ms\": %.3f},\n"
            "  \"mosquitto\": {\"qos1_per_s\": %.0f, \"echo_per_s\": %.0f, "
            "\"broker_cpu_us_per_echo\": %.1f},\n"
            "  \"host\": {\"sign_per_s\": %.0f, \"verify_per_s\": %.0f, \"fsync_per_s\": %.0f},\n"
            "  \"receipts\": {\"checked\": %llu, \"signatures_verified\": %llu, "
            "\"duplicates\": %llu, \"wrong\": %llu}\n}\n",
            opt.devices, opt.seconds, opt.rate, opt.window, f->provision_s, f->sign_s, f->connect_s,
            f->plain_connect_s, f->settled_per_s, f->broker_cpu_us, f->gen_cpu_us, f->sat_core[0],
            f->sat_core[1], f->sat_lat[0], f->sat_lat[1], f->sat_lat[2], f->sat_lat[3],
            f->sat_lat[4], opt.rate, f->fixed_rate, f->fixed_broker_cpu_us, f->fixed_gen_cpu_us,
            f->fixed_core[0], f->fixed_core[1], f->fixed_lat[0], f->fixed_lat[1], f->fixed_lat[2],
            f->fixed_lat[3], f->fixed_lat[4], f->qos1_per_s, f->echo_per_s, f->plain_broker_cpu_us,
            f->sign_per_s, f->verify_per_s, f->fsync_per_s, (unsigned long long)receipts,
            (unsigned long long)verified, (unsigned long long)duplicates,
            (unsigned long long)wrong);
    fclose(out);
    printf("results      %s\n", path);
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    if (!getenv("FOGPAY_PLUGIN")) {
        die("FOGPAY_PLUGIN must name the plugin (bench/run.sh sets it)");
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    raise_fd_limit();
    atexit(cleanup);
    nconns = opt.devices + (opt.storm ? BENCH_STORM_DEVICES : 0);
    device_ids = calloc((size_t)nconns, sizeof *device_ids);
    device_keys = calloc((size_t)nconns, sizeof *device_keys);
    device_prev = calloc((size_t)nconns, sizeof *device_prev);
    conns = calloc((size_t)nconns, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event te = {.events = EPOLLIN, .data.u32 = BENCH_TIMER_TAG};
    if (!device_ids || !device_keys || !device_prev || !conns || epfd < 0 || timerfd < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, timerfd, &te) != 0 || !test_broker_init(&gateway) ||
        !test_broker_init(&plain)) {
        die("cannot set up");
    }
    if (opt.provision) {
        return run_provision();
    }
    figures f;
    memset(&f, 0, sizeof f);
    double host_s = opt.quick ? 0.3 : 2;
    bench_ed25519_rates(FOGPAY_INTENT_TARGET_BYTES, host_s, &f.sign_per_s, &f.verify_per_s);
    f.fsync_per_s = bench_fsync_rate(gateway.dir, host_s);
    printf("host         Ed25519 %.0f signs/s, %.0f verifies/s on one core; %.0f SQLite "
           "commits/s (WAL, synchronous=FULL) in %s\n",
           f.sign_per_s, f.verify_per_s, f.fsync_per_s, gateway.dir);

    double t = bench_now();
    start_gateway();
    f.provision_s = bench_now() - t;
    t = bench_now();
    /* --storm has no saturation phase: one intent a device stands in. */
    pool_sign(&pools[0], "saturation",
              opt.storm ? (size_t)opt.devices : (size_t)(opt.seconds * BENCH_SAT_BUDGET_PER_S), 0);
    /* The storm's payers start on fresh chains: sign their pool now. The
     * other modes sign each later pool when its phase comes. */
    if (opt.storm) {
        sign_fixed_pool();
    }
    plain_len = pools[0].slots[0].len;
    memcpy(plain_payload, pools[0].arena, plain_len);
    f.sign_s = bench_now() - t;
    printf("signed       %zu intents of %zu bytes in %.1f s\n",
           pools[0].count + pools[1].count + pools[2].count, plain_len, f.sign_s);
    f.connect_s = connect_all(gateway.port, true);
    printf("connected    %d devices to the gateway (pid %d) in %.2f s\n", opt.devices,
           (int)gateway.pid, f.connect_s);
    if (opt.daily) {
        return run_daily(&f);
    }
    if (opt.scale) {
        return run_scale(&f);
    }
    if (opt.mix) {
        return run_mix(&f);
    }
    if (opt.storm) {
        return run_storm();
    }
    phase_saturation(&pools[0], &f);
    sign_fixed_pool();
    phase_fixed(&f);
    close_all();
    test_broker_stop(&gateway);

    if (!test_broker_start(&plain, "allow_anonymous true\nset_tcp_nodelay true\n"
                                   "max_inflight_messages 64\n")) {
        die("the plain Mosquitto did not start");
    }
    f.plain_connect_s = connect_all(plain.port, false);
    double plain_s = opt.quick ? 2 : opt.seconds;
    double unused_us;
    f.qos1_per_s = phase_plain(PHASE_PLAIN_QOS1, plain_s, &unused_us);
    f.echo_per_s = phase_plain(PHASE_PLAIN_ECHO, plain_s, &f.plain_broker_cpu_us);
    printf("mosquitto    %.0f QoS 1 publishes/s, %.0f publish-to-self round trips/s (%.1f us "
           "broker CPU each), %d connections, %zu-byte payload\n",
           f.qos1_per_s, f.echo_per_s, f.plain_broker_cpu_us, opt.devices, plain_len);
    close_all();
    test_broker_stop(&plain);

    printf("receipts     %llu checked, %llu signatures verified, %llu duplicates, %llu wrong\n",
           (unsigned long long)receipts, (unsigned long long)verified,
           (unsigned long long)duplicates, (unsigned long long)wrong);
    if (opt.results) {
        write_results(&f);
    }
    printf("fogpay-bench settled_per_s=%.0f broker_cpu_us_per_intent=%.0f p50_ms=%.2f "
           "p99_ms=%.2f fixed_rate_per_s=%.0f fixed_p99_ms=%.2f fixed_p999_ms=%.2f "
           "verify_per_s=%.0f sign_per_s=%.0f mosquitto_qos1_per_s=%.0f "
           "mosquitto_echo_per_s=%.0f fsync_per_s=%.0f ratio_settled_to_mosquitto=%.3f\n",
           f.settled_per_s, f.broker_cpu_us, f.sat_lat[0], f.sat_lat[2], f.fixed_rate,
           f.fixed_lat[2], f.fixed_lat[3], f.verify_per_s, f.sign_per_s, f.qos1_per_s, f.echo_per_s,
           f.fsync_per_s, f.qos1_per_s > 0 ? f.settled_per_s / f.qos1_per_s : 0);
    return wrong ? 1 : 0;
}
