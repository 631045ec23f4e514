/*
 * gateway.h - the gateway plugin's private interface: its state, options,
 * and the modules behind the broker's callbacks.
 *
 * Modules, one noun a file:
 *   plugin.c    the entry points and the one table of callbacks
 *   options.c   plugin_opt_* parsing; a bad option stops the broker
 *   auth.c      password login of devices, legal entities and operators
 *               (MOSQ_EVT_BASIC_AUTH)
 *   acl.c       who may publish and read what (MOSQ_EVT_ACL_CHECK)
 *   device_message.c  the path of every device message (MOSQ_EVT_MESSAGE):
 *               payment intents and meter readings, admitted, verified,
 *               settled and recorded
 *   bind_message.c  meter bindings (dev/{device}/bind): decoded, settled
 *   note_message.c  bearer notes: a device's withdrawal (dev/{device}/withdraw)
 *               settled, its notes handed over on dev/{device}/note
 *   hold_message.c  holds: the settlement of a hold message (capture,
 *               void), the held receipt of an authorisation, expiry on
 *               the tick
 *   engine.c    the worker threads and the job ring they share with the
 *               broker's thread; waking the broker
 *   pending.c   the count of unanswered messages of each device
 *   flow.c      the per-device limit of answers owed per second
 *   receipt.c   signing receipts
 *   outbox.c    the group transaction, its commit, and the answers that
 *               wait for it
 *   command.c   signed commands to devices (suspend, resume, limits, gateway key)
 *   collect.c   financing on the tick: late instalments collected, arrears
 *               entered and left, the devices suspended and resumed
 *   gateway_key.c  the gateway's signing key: its history, its rotation
 *   control*.c  operator commands on $CONTROL/fogpay/v1
 *   sync.c      upstream sync: signed batches out, signed acks in
 *   backlog.c   the listen backlog of the broker's listeners
 *   metrics.c   the gateway's figures under $SYS/broker/fogpay/ (metrics.h)
 *   histogram.c the histograms and one-minute windows of those figures
 *   live_feed.c answered messages described live for monitors (live_feed.h)
 *
 * Threads. Mosquitto calls every callback on its one main thread (the
 * broker's thread), and the plugin API may only be called from there. The
 * broker's thread owns everything below except what a job hands to a
 * worker: the ledger (every SQL statement runs on it), the outbox, the
 * pending table, the logs, every mosquitto_* call. plugin_opt_workers
 * threads (default: the online cores) do the cryptography: the SHA-256 of a
 * device message, its signature check and decoding, and the signature of
 * its receipt. A worker holds its own copy of the gateway key (an ES256
 * key carries a random generator that is not shared), reads nothing of the
 * gateway but its job, and calls no mosquitto_* function.
 *
 * A device message's way (device_message.c, outbox.c):
 *   1. admission, broker thread: topic, publisher and registered device,
 *      then the device's count of unanswered messages and the ring's room
 *      (the one place for admission policy, before any work is done). A
 *      message over either bound is refused: dropped with
 *      MOSQ_ERR_ACL_DENIED and logged, not answered, its seq not used up,
 *      so the device sends it again later. Otherwise it is copied into the
 *      next job of the ring (with the device's key and its MQTT 5 response
 *      details) and handed to the workers; the callback returns
 *      MOSQ_ERR_SUCCESS with the retain flag cleared.
 *   2. verification, a worker: hash, COSE signature, payload, device id.
 *   3. settlement, broker thread, strictly in arrival order (the ring's
 *      order, so a device's messages settle in the order they came and its
 *      seqs and previous hashes are checked against what came before):
 *      repeat lookup, time window, currency, the ledger's checks and the
 *      transfer, inside the open group transaction; the receipt is built
 *      and handed to a worker to be signed.
 *   4. signing, a worker.
 *   5. recording, broker thread, in ring order: the signed receipt is
 *      stored with the message so that a repeat gets the same bytes.
 *   6. commit, broker thread: when FOGPAY_GROUP_MAX messages are in the
 *      group or FOGPAY_GROUP_DEADLINE_US have passed since it opened, no
 *      new message is settled until every one in the group is recorded;
 *      then one COMMIT (fsync) and only then are the answers published, in
 *      arrival order, each once: on the device's receipt topic, or, for an
 *      MQTT 5 message with a response topic of the device's own, on that
 *      topic only. A failed commit withholds every answer of the group.
 * A repeat of a message still being signed in the same group is answered
 * with that message's receipt once it is signed (an in-ring check, as the
 * ledger does not hold it yet); a repeat of a recorded one from the ledger.
 *
 * Queues and their bounds. The ring holds FOGPAY_ENGINE_JOBS jobs, from
 * admission until the answer is published; one device holds at most
 * FOGPAY_DEVICE_PENDING_MAX (fogpay_limits.h) of them. The workers' two queues (signing
 * before verifying, as a signature is on the way to a commit) hold ring
 * indexes, so they cannot overflow. The pending table has twice the ring's
 * slots. A group holds at most FOGPAY_GROUP_MAX messages. Nothing grows.
 *
 * Back-pressure: when the workers are slower than the network, jobs wait
 * in the ring; a device that floods fills its own FOGPAY_DEVICE_PENDING_MAX
 * share and the rest of its messages are refused at admission at the cost
 * of a topic parse and a device lookup, while another device's message
 * waits behind at most FOGPAY_DEVICE_PENDING_MAX messages of each flooder.
 * When the ring itself is full every device is refused until it drains.
 *
 * Waking the broker. Mosquitto sleeps in epoll_wait up to 100 ms when idle
 * and calls MOSQ_EVT_TICK after each wake. A worker that finishes a job, and
 * an idle worker when the group's deadline passes, sends
 * FOGPAY_ENGINE_WAKE_SIGNAL (SIGURG, which Mosquitto neither uses nor
 * blocks) to the broker's thread; its handler does nothing, epoll_wait
 * fails with EINTR (epoll_wait is never restarted, SA_RESTART or not; with
 * SA_RESTART every other call is) and the tick drains the results. A signal
 * that lands just before epoll_wait is lost, so the signal is repeated
 * while results wait undrained, after 100 us and then at doubling
 * intervals up to 2 ms (the broker may be busy in a commit). A receipt
 * signed while the broker finishes its loop lands in that window often. Workers
 * block every signal, so the broker's SIGINT, SIGTERM and SIGHUP reach it.
 *
 * Upstream sync runs on the same thread, on the tick, between groups: it
 * only ever reads committed transfers, builds at most sync_window batches
 * of at most sync_batch records each, and hands them to the broker, whose
 * bridge carries them upstream. Settlement never waits for it.
 *
 * The gateway struct is allocated in mosquitto_plugin_init() and freed in
 * mosquitto_plugin_cleanup(); it owns the ledger, the gateway key, the
 * operator table, the engine (its ring, threads and their keys), the
 * pending table and the sync state (with the cloud's key and the batch
 * buffer). At cleanup the settled part of the ring is committed and
 * answered; messages not yet settled are dropped unanswered.
 */
#ifndef FOGPAY_GATEWAY_H
#define FOGPAY_GATEWAY_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <assert.h>

#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"
#include "fogpay_note.h"
#include "fogpay_topic.h"
#include "ledger.h"
#include "metrics.h"

struct mosquitto;
struct mosquitto_opt;
struct mosquitto_evt_message;

/* Currencies one gateway settles. */
#define FOGPAY_CURRENCIES_MAX 8

/* Operators in the operators file. */
#define FOGPAY_OPERATORS_MAX     32
#define FOGPAY_OPERATOR_NAME_MAX 64

/* Device messages settled in one transaction before it is committed:
 * bounds the answers held back and the work lost to a failed commit. */
#define FOGPAY_GROUP_MAX 256

/* A group is committed at the latest this long after it opened: long
 * enough to gather the messages of a busy second into a few hundred
 * commits, short enough that a lone payment is answered in about a
 * millisecond and a half (verify, sign, this, the fsync). */
#define FOGPAY_GROUP_DEADLINE_US 1000

/* Jobs in the ring: every device message from admission until its answer
 * is published. 1,000 devices with two messages each in flight use half;
 * a job is about 2 KiB, so the ring is 8 MiB. */
#define FOGPAY_ENGINE_JOBS 4096

/* Slots of the pending table (a power of two, twice the ring). */
#define FOGPAY_PENDING_SLOTS (2 * FOGPAY_ENGINE_JOBS)

/* Worker threads: plugin_opt_workers, default the online cores. */
#define FOGPAY_WORKERS_MAX 16

/* The signal that wakes the broker's thread, and how often it is sent
 * again while results wait undrained (one may land just before
 * epoll_wait and be lost). */
#define FOGPAY_ENGINE_WAKE_SIGNAL         SIGURG
#define FOGPAY_ENGINE_WAKE_FIRST_RETRY_US 100
#define FOGPAY_ENGINE_WAKE_RETRY_US       2000

static_assert((FOGPAY_PENDING_SLOTS & (FOGPAY_PENDING_SLOTS - 1)) == 0,
              "the pending table's size is a power of two");
static_assert((FOGPAY_ENGINE_JOBS & (FOGPAY_ENGINE_JOBS - 1)) == 0,
              "the ring's size is a power of two, so its counters may wrap");
static_assert(FOGPAY_DEVICE_PENDING_MAX < FOGPAY_ENGINE_JOBS, "one device cannot fill the ring");
static_assert(FOGPAY_GROUP_MAX <= FOGPAY_DEVICE_PENDING_MAX,
              "a flooder's answers published after another device's, in its group, are within "
              "its share");

/* Upstream sync (sync.c). Defaults measured with bench/sync_bench (see
 * README.md): a full batch of 500 is the cheapest per transfer; a second
 * between partial batches keeps the cloud a second behind at most; four
 * batches in flight keep a 2,000-transfer pipe busy over a slow link; ten
 * seconds without an ack means the link or the cloud is away, and the wait
 * doubles with each silent round up to FOGPAY_SYNC_BACKOFF_MAX_MS. */
#define FOGPAY_SYNC_BATCH_DEFAULT       500
#define FOGPAY_SYNC_INTERVAL_DEFAULT_MS 1000
#define FOGPAY_SYNC_INTERVAL_MIN_MS     10
#define FOGPAY_SYNC_INTERVAL_MAX_MS     3600000
#define FOGPAY_SYNC_WINDOW_DEFAULT      4
#define FOGPAY_SYNC_WINDOW_MAX          16
#define FOGPAY_SYNC_TIMEOUT_DEFAULT_MS  10000
#define FOGPAY_SYNC_TIMEOUT_MIN_MS      100
#define FOGPAY_SYNC_TIMEOUT_MAX_MS      600000
#define FOGPAY_SYNC_BACKOFF_MAX_MS      300000

/* The listen backlog set on the broker's listeners (backlog.c): room for a
 * site's devices connecting at once; the kernel caps it at
 * net.core.somaxconn (4096 by default since Linux 5.4). */
#define FOGPAY_LISTEN_BACKLOG_DEFAULT 4096
#define FOGPAY_LISTEN_BACKLOG_MAX     65535

typedef struct fogpay_gateway_options {
    char db_path[512];
    bool create_db;
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1];
    char gateway_key_path[512];
    char topic_prefix[FOGPAY_TOPIC_PREFIX_MAX + 1];
    uint16_t currencies[FOGPAY_CURRENCIES_MAX];
    size_t currency_count;
    char operators_path[512];
    char note_issuers_path[512]; /* empty: no bearer notes */
    bool allow_other_clients;
    char cloud_key[FOGPAY_PUBLIC_KEY_TEXT_MAX]; /* empty: no upstream sync */
    uint32_t sync_batch;
    uint32_t sync_interval_ms;
    uint32_t sync_window;
    uint32_t sync_timeout_ms;
    uint32_t device_answers_max;  /* per flow window, at most FOGPAY_FLOW_ANSWERS_MAX */
    uint32_t listen_backlog;      /* 0: the broker's own (100) */
    uint32_t workers;             /* 0 until parsed: the online cores */
    uint32_t metrics_interval_ms; /* 0: no metrics published */
    bool metrics_live;            /* describe every answer on the live feed */
} fogpay_gateway_options;

/* A batch handed to the broker and not yet covered by an ack. */
typedef struct fogpay_sync_flight {
    uint64_t batch_seq;
    uint64_t first;
    uint64_t last;
    uint64_t sent_ms;
} fogpay_sync_flight;

/* One chain's way upstream (transfers or events). acked is what the cloud's
 * last signed ack for this chain covers (kept in the ledger's sync state);
 * sent_position and sent_hash are where its next batch starts. Batches in
 * flight are always the contiguous run from acked to sent, oldest first. */
typedef struct fogpay_sync_stream {
    uint8_t stream; /* fogpay_stream */
    uint64_t acked_position;
    uint8_t acked_hash[FOGPAY_HASH_BYTES];
    uint64_t sent_position;
    uint8_t sent_hash[FOGPAY_HASH_BYTES];
    fogpay_sync_flight flight[FOGPAY_SYNC_WINDOW_MAX];
    size_t flight_count;
    uint64_t last_send_ms;
    uint64_t quiet_until_ms; /* backoff: send nothing before */
    uint32_t timeout_ms;     /* current wait for an ack */
} fogpay_sync_stream;

#define FOGPAY_SYNC_STREAMS 2

/* Upstream sync of the two chains, each on its own window, timeouts and
 * backoff, sharing the batch sequence numbers, the topics and the buffers. */
typedef struct fogpay_sync {
    bool enabled;
    fogpay_key *cloud_key; /* verify-only, owned */
    uint8_t cloud_kid[FOGPAY_KID_BYTES];
    char batch_topic[FOGPAY_TOPIC_MAX];
    char ack_topic[FOGPAY_TOPIC_MAX];
    fogpay_sync_state state;                         /* as last written to the ledger */
    fogpay_sync_stream streams[FOGPAY_SYNC_STREAMS]; /* indexed by fogpay_stream */
    uint8_t *buf;                                    /* FOGPAY_BATCH_SIGNED_MAX, owned */
    uint8_t *payload;                                /* FOGPAY_BATCH_BYTES_MAX, owned */
} fogpay_sync;

typedef struct fogpay_operator {
    char name[FOGPAY_OPERATOR_NAME_MAX + 1];
    char password_hash[FOGPAY_PASSWORD_HASH_MAX];
} fogpay_operator;

/* Where a job is; see the top comment for the way between them. Written
 * with release, read with acquire, as workers and the broker's thread hand
 * a job to each other through it. */
typedef enum fogpay_job_state {
    FOGPAY_JOB_FREE = 0,
    FOGPAY_JOB_VERIFY,   /* at a worker: hash, signature, payload */
    FOGPAY_JOB_VERIFIED, /* waits its turn to be settled */
    FOGPAY_JOB_SIGN,     /* settled or refused in the group: its receipt at a worker */
    FOGPAY_JOB_SIGNED,   /* its receipt signed: waits to be recorded */
    FOGPAY_JOB_REPEAT,   /* a repeat of a message of the group: waits for its receipt */
    FOGPAY_JOB_ANSWERED, /* its answer final and recorded (or none): waits for the commit */
} fogpay_job_state;

/* One device message on its way. The admission part is written on the
 * broker's thread before the job goes to a worker, the verification part
 * by that worker, the settlement part on the broker's thread, the answer by
 * the signing worker (or the broker's thread for a repeat). */
typedef struct fogpay_job {
    _Atomic int state; /* fogpay_job_state */
    /* admission */
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    uint8_t kind;          /* fogpay_receipt_kind */
    uint8_t device_status; /* fogpay_device_status at admission */
    int alg;               /* the device's registered key */
    uint8_t public_key[FOGPAY_PUBLIC_KEY_MAX];
    size_t public_key_len;
    uint8_t message[FOGPAY_MESSAGE_MAX];
    size_t message_len;
    fogpay_error admitted; /* a refusal decided at admission (size), else FOGPAY_OK */
    uint64_t now_ms;
    char *response_topic; /* MQTT 5, from malloc, or NULL */
    void *correlation;    /* MQTT 5, from malloc, or NULL */
    uint16_t correlation_len;
    /* verification */
    fogpay_error verdict;
    bool authentic; /* signature and payload good: may be recorded under seq */
    uint64_t seq;
    uint8_t hash[FOGPAY_HASH_BYTES];
    fogpay_intent intent;
    fogpay_usage usage;
    fogpay_bind bind;
    fogpay_hold_message hold;
    fogpay_note_withdraw withdraw;
    fogpay_note_payment notepay;
    /* settlement */
    fogpay_receipt receipt;
    bool record;       /* store the signed receipt with the message */
    uint64_t position; /* the transfer, for a settled intent */
    uint32_t original; /* FOGPAY_JOB_REPEAT: the ring number of the original */
    /* A settled withdrawal or a stored note payment: the serials of the
     * notes to hand over after the commit (note_message.c), to the sender
     * or to the payee; and a payment's change, to the sender. */
    uint8_t note_count;
    uint8_t note_serials[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t change_count;
    uint8_t change_serials[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    /* the answer; answer_len 0: none (nothing is published) */
    fogpay_error sign_error;
    uint8_t answer[FOGPAY_MESSAGE_MAX];
    size_t answer_len;
} fogpay_job;

/* The worker threads and the ring. The ring's counters run on (they are
 * ring numbers, the slot is the number modulo FOGPAY_ENGINE_JOBS) and are
 * the broker thread's: head <= record <= settle <= tail. [head, settle) is
 * the open group, [record, settle) being signed or waiting to be recorded,
 * [settle, tail) being verified or waiting to be settled. Everything under
 * lock is shared with the workers. */
typedef struct fogpay_engine {
    fogpay_job *jobs; /* FOGPAY_ENGINE_JOBS, owned */
    uint32_t head;
    uint32_t record;
    uint32_t settle;
    uint32_t tail;
    size_t group_count;
    bool group_closing; /* full, late or flushed: settle nothing until committed */
    bool group_failed;  /* a record failed: roll the group back */
    uint64_t group_opened_ns;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or stopping */
    pthread_cond_t done; /* a job finished, for a broker's thread that waits */
    uint32_t verify_queue[FOGPAY_ENGINE_JOBS];
    uint32_t sign_queue[FOGPAY_ENGINE_JOBS];
    uint32_t verify_first, verify_count;
    uint32_t sign_first, sign_count;
    uint64_t finished;    /* jobs finished by workers */
    uint64_t seen;        /* finished, as of the broker's last drain */
    uint64_t deadline_ns; /* the open group's deadline, 0: none */
    uint64_t woken_ns;    /* the last wake signal, 0: none since the drain */
    uint32_t wakes;       /* signals repeated since the drain */
    bool broker_waiting;
    bool stopping;
    uint32_t idle; /* workers waiting for work */
    pthread_t broker;
    pthread_t threads[FOGPAY_WORKERS_MAX];
    fogpay_key *keys[FOGPAY_WORKERS_MAX]; /* each worker's gateway key, owned */
    uint8_t kid[FOGPAY_KID_BYTES];
    size_t thread_count;
    bool started;
} fogpay_engine;

/* A device with unanswered messages in the ring. */
typedef struct fogpay_pending_entry {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1]; /* "" : a free slot */
    uint32_t count;
    /* The device's newest message settled in the ring that takes a place on
     * its chain (recorded only when signed): head_seq 0 when none. */
    uint64_t head_seq;
    uint8_t head_link[FOGPAY_PREV_HASH_BYTES];
} fogpay_pending_entry;

/* Open addressing with linear probing; at most FOGPAY_ENGINE_JOBS devices
 * are in it, so it is at most half full. */
typedef struct fogpay_pending {
    fogpay_pending_entry slots[FOGPAY_PENDING_SLOTS];
} fogpay_pending;

/* flow.c: the answers owed to one device in its current window. */
typedef struct fogpay_flow_entry {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1]; /* empty: a free slot */
    uint64_t window_ms;                       /* when the current window began */
    uint32_t answered;                        /* messages taken in this window */
    uint32_t refused;                         /* messages refused in this window */
    uint32_t strikes;                         /* windows in a row with refusals */
} fogpay_flow_entry;

/* The table of devices' flow (flow.c); entries from calloc, owned. */
typedef struct fogpay_flow {
    fogpay_flow_entry *entries;
    size_t capacity; /* 0 or a power of two */
    size_t count;    /* slots in use, idle ones included */
} fogpay_flow;

typedef enum fogpay_flow_verdict {
    FOGPAY_FLOW_ADMIT = 0,         /* take the message: it will be answered */
    FOGPAY_FLOW_REFUSE_ANSWER,     /* the first refusal of the window: answer too_many_pending */
    FOGPAY_FLOW_REFUSE_SILENT,     /* refused again in the window: drop unanswered */
    FOGPAY_FLOW_REFUSE_DISCONNECT, /* answer too_many_pending, then end the session */
} fogpay_flow_verdict;

typedef struct fogpay_gateway {
    fogpay_gateway_options options;
    fogpay_ledger *ledger;
    fogpay_key *key;
    uint8_t kid[FOGPAY_KID_BYTES];
    fogpay_operator operators[FOGPAY_OPERATORS_MAX];
    size_t operator_count;
    fogpay_note_issuers note_issuers; /* plugin_opt_note_issuers; owns its keys */
    bool in_transaction;
    fogpay_engine engine;
    fogpay_pending pending;
    uint64_t settled_total;
    uint64_t rejected_total;
    uint64_t refused_busy_total; /* dropped at admission: device or ring full */
    uint64_t dropped_total;      /* refused over the flow limit without an answer */
    fogpay_flow flow;
    fogpay_sync sync;
    fogpay_metrics metrics;
    bool backlog_done;    /* the listeners' backlog was set (backlog.c) */
    bool plans_announced; /* the plans' notices were sent again after the start (command.c) */
    char plans_announced_after[FOGPAY_PLAN_ID_MAX + 1]; /* the last plan announced so far */
    /* Gateway key rotation (gateway_key.c): the next key's text and start
     * while it is being announced; after a crashed rotation, the ended key
     * that signs the announcements on the first tick. */
    char announce_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    uint64_t announce_from_s;
    fogpay_key *announce_key; /* owned; NULL when nothing is to be announced */
    /* Financing on the tick (collect.c): when the last pass ran (monotonic
     * ms, 0 never) and the plan id it ended after ("" from the first). */
    uint64_t collect_last_ms;
    char collect_after[FOGPAY_PLAN_ID_MAX + 1];
} fogpay_gateway;

/* options.c: fills opts from the plugin_opt_* lines. Every problem is logged
 * with the option's name; FOGPAY_ERR_CONFIG then. */
fogpay_error fogpay_options_parse(const struct mosquitto_opt *opts, int count,
                                  fogpay_gateway_options *out);
/* Loads the operators file ("name:hash" per line). */
fogpay_error fogpay_options_load_operators(fogpay_gateway *gw);
/* Loads the note issuers' trust file (plugin_opt_note_issuers), if any. */
fogpay_error fogpay_options_load_note_issuers(fogpay_gateway *gw);
bool fogpay_options_currency_enabled(const fogpay_gateway_options *o, uint16_t currency);

/* auth.c: MOSQ_EVT_BASIC_AUTH. */
int fogpay_auth_basic(fogpay_gateway *gw, struct mosquitto *client, const char *username,
                      const char *password);
bool fogpay_auth_is_operator(const fogpay_gateway *gw, const char *username);
/* True when username is a legal entity's login (the ledger's
 * entity_logins), copied into out; a ledger failure is logged and false. */
bool fogpay_auth_entity_login(fogpay_gateway *gw, const char *username, fogpay_entity_login *out);

/* acl.c: MOSQ_EVT_ACL_CHECK. */
int fogpay_acl_check(fogpay_gateway *gw, struct mosquitto *client, const char *topic, int access);

/* device_message.c */
/* MOSQ_EVT_MESSAGE, broker thread: admits a device message into the ring
 * (MOSQ_ERR_SUCCESS, its retain flag cleared) or refuses it unanswered
 * (MOSQ_ERR_ACL_DENIED: not the publisher's topic, unknown device, the
 * device's or the ring's bound reached); MOSQ_ERR_SUCCESS for topics that
 * are not device messages. */
int fogpay_device_message_handle(fogpay_gateway *gw, struct mosquitto_evt_message *ev,
                                 uint64_t now_ms);
/* A worker: hash, signature, payload of an admitted job; fills its
 * verification part. Reads nothing but the job. */
void fogpay_device_message_verify(fogpay_job *job);
/* Broker thread, inside the open group transaction: settles, stores or
 * refuses a verified job, leaving it FOGPAY_JOB_SIGN (handed to the
 * workers), FOGPAY_JOB_REPEAT or FOGPAY_JOB_ANSWERED. */
void fogpay_device_message_settle(fogpay_gateway *gw, fogpay_job *job);
/* Broker thread: records a signed job's receipt (or takes its original's
 * for a repeat); FOGPAY_JOB_ANSWERED after. False when the ledger refused
 * it, which fails the group. */
bool fogpay_device_message_record(fogpay_gateway *gw, fogpay_job *job);

/* bind_message.c: a meter binding. A worker: decodes the authentic
 * payload into job->bind (and job->seq); *named is the device it names.
 * The broker's thread, inside the group's savepoint: binds the meter and
 * names the tariff in job->receipt; a refusal is the reason. */
fogpay_error fogpay_bind_message_decode(fogpay_job *job, fogpay_bytes payload, const char **named);
fogpay_error fogpay_bind_message_settle(fogpay_gateway *gw, fogpay_job *job);
/* The steps device_message.c shares with hold_message.c, broker thread:
 * the receipt's common fields; a refusal answered with a signed
 * rejection (recorded when authentic and on the chain); the end of a
 * settlement in its savepoint, err its outcome (FOGPAY_OK: released and
 * the job signed with its transfer at position, 0 for none, else rolled
 * back and refused); the opening of a message's savepoint after the time
 * window of a message created at created_s living ttl_s (FOGPAY_OK, or the
 * refusal, for fogpay_device_message_reject). */
void fogpay_device_message_receipt_base(const fogpay_gateway *gw, fogpay_job *job);
/* A settled receipt of the transfer t: its id and chain entry (read from
 * the ledger into t), the sender's balance after, its currency. */
fogpay_error fogpay_device_message_receipt_transfer(fogpay_gateway *gw, fogpay_job *job,
                                                    fogpay_transfer *t, int64_t balance);
void fogpay_device_message_reject(fogpay_gateway *gw, fogpay_job *job, fogpay_error reason);
void fogpay_device_message_settled(fogpay_gateway *gw, fogpay_job *job, fogpay_error err,
                                   uint64_t position);
fogpay_error fogpay_device_message_open(fogpay_gateway *gw, const fogpay_job *job,
                                        uint64_t created_s, uint64_t ttl_s);

/* note_message.c: a withdrawal of notes. A worker: decodes the authentic
 * payload into job->withdraw (and job->seq); *named is the device it
 * names. The broker's thread, inside the group: settles it in a savepoint
 * of its own (fogpay_ledger_note_withdraw, signed with the gateway's key)
 * and answers it either way. After the commit: publishes each note of a
 * settled withdrawal on dev/{device}/note (QoS 1). */
fogpay_error fogpay_note_message_decode(fogpay_job *job, fogpay_bytes payload, const char **named);
void fogpay_note_message_settle(fogpay_gateway *gw, fogpay_job *job);
/* The same for a payment with notes (dev/{device}/notepay): settled in
 * the ledger (fogpay_ledger_note_pay), answered with a stored receipt
 * counting the notes, which go to the payee's note topic after the commit. */
fogpay_error fogpay_note_payment_message_decode(fogpay_job *job, fogpay_bytes payload,
                                                const char **named);
void fogpay_note_payment_message_settle(fogpay_gateway *gw, fogpay_job *job);
/* Notes given back (dev/{device}/redeem, the same payload, decoded into
 * job->notepay): settled in the ledger (fogpay_ledger_note_redeem), the
 * receipt settled with the transfer of their value. */
void fogpay_note_redeem_message_settle(fogpay_gateway *gw, fogpay_job *job);
void fogpay_note_message_deliver(const fogpay_gateway *gw, const fogpay_job *job);
/* A repeat of a settled withdrawal or a stored note payment answered with
 * its original receipt (job->answer): its notes that the device (the
 * payee) still holds are handed over again with it, so that a gateway
 * stopped between the commit and their publication loses none. Broker
 * thread, in the group. */
void fogpay_note_message_repeat(fogpay_gateway *gw, fogpay_job *job);

/* hold_message.c, broker thread. */
/* Settles an authentic hold message (capture or void) inside the group,
 * in a savepoint of its own; answers it either way. */
void fogpay_hold_message_settle(fogpay_gateway *gw, fogpay_job *job);
/* Turns the settled receipt of an authorisation (job->intent with hold_s)
 * into a held one: the hold's id, its expiry and the payer's held amount. */
fogpay_error fogpay_hold_receipt_held(fogpay_gateway *gw, fogpay_job *job);
/* On the tick, with no group transaction open: expires the holds that are
 * due, at most FOGPAY_HOLD_EXPIRE_PER_TICK, in one transaction. */
void fogpay_hold_tick(fogpay_gateway *gw, uint64_t now_ms);

/* collect.c, broker thread: on the tick, with no group transaction open
 * and at most once every FOGPAY_PLAN_COLLECT_INTERVAL_MS, collects late
 * instalments of up to FOGPAY_PLAN_COLLECT_PER_TICK plans and sends the
 * suspend or resume of each device whose plan entered or left arrears. */
void fogpay_collect_tick(fogpay_gateway *gw, uint64_t now_ms);

/* Holds expired in one tick's transaction: a tick after a gateway was
 * down for a day catches up in slices, each a short commit, without
 * holding up the device messages waiting behind it. */
#define FOGPAY_HOLD_EXPIRE_PER_TICK 256

/* flow.c: whether the gateway takes one more message of device_id now,
 * answering at most answers_max a window (counted as answered when it
 * takes it); fogpay_flow_free() frees the table. */
fogpay_flow_verdict fogpay_flow_admit(fogpay_flow *f, const char *device_id, uint32_t answers_max,
                                      uint64_t now_ms);
void fogpay_flow_free(fogpay_flow *f);

/* receipt.c: signs receipt r with key (named kid) into out (cap bytes).
 * Any thread, each with its own key. */
fogpay_error fogpay_receipt_sign(const fogpay_key *key, const uint8_t kid[FOGPAY_KID_BYTES],
                                 const fogpay_receipt *r, uint8_t *out, size_t cap, size_t *len);
/* A worker: signs the job's receipt into its answer. */
void fogpay_receipt_sign_job(const fogpay_key *key, const uint8_t kid[FOGPAY_KID_BYTES],
                             fogpay_job *job);

/* engine.c: the worker threads, the ring, waking the broker's thread.
 * Everything but the workers' own code runs on the broker's thread. */
/* Loads one gateway key per worker, installs the wake signal's handler and
 * starts plugin_opt_workers threads. */
fogpay_error fogpay_engine_start(fogpay_gateway *gw);
/* Gives every worker its own copy of the key in path, named gw->kid, after
 * a gateway key rotation. Only with the ring empty (after
 * fogpay_outbox_flush(), as every control command runs), so no worker holds
 * a job: the next job handed over carries the new key with it. */
fogpay_error fogpay_engine_rekey(fogpay_gateway *gw, const char *path);
/* Stops and joins the workers (jobs they hold are abandoned) and frees the
 * ring. Call after the last fogpay_outbox_flush(). */
void fogpay_engine_stop(fogpay_gateway *gw);
/* The slot for the next admitted job, cleared, or NULL when the ring is
 * full. It joins the ring with fogpay_engine_submit_verify(). */
fogpay_job *fogpay_engine_reserve(fogpay_engine *e);
void fogpay_engine_submit_verify(fogpay_engine *e, fogpay_job *job);
/* Hands a settled job to a worker for its receipt's signature. */
void fogpay_engine_submit_sign(fogpay_engine *e, fogpay_job *job);
fogpay_job *fogpay_engine_job(fogpay_engine *e, uint32_t number);
fogpay_job_state fogpay_engine_state(const fogpay_job *job);
void fogpay_engine_set_state(fogpay_job *job, fogpay_job_state state);
/* At each drain: results up to now are seen, no wake is owed for them. */
void fogpay_engine_seen(fogpay_engine *e);
/* The open group's deadline for the workers to wake the broker at (0: no
 * group). */
void fogpay_engine_set_deadline(fogpay_engine *e, uint64_t deadline_ns);
/* Blocks the broker's thread until a worker finishes a job (or a short
 * while passes). */
void fogpay_engine_wait(fogpay_engine *e);
uint64_t fogpay_engine_now_ns(void);

/* pending.c: unanswered messages per device, broker thread. */
/* The device's count (0 when it has none). */
uint32_t fogpay_pending_count(const fogpay_pending *p, const char *device_id);
/* Counts one more; false when the table has no room (it cannot happen
 * while the ring is smaller than the table, and is then a refusal). */
bool fogpay_pending_add(fogpay_pending *p, const char *device_id);
/* Counts one less; the device leaves the table at 0. */
void fogpay_pending_remove(fogpay_pending *p, const char *device_id);
/* The newest message of a device in the ring on its chain: sets it, and
 * reads it (false when the device has none in the ring). */
void fogpay_pending_set_head(fogpay_pending *p, const char *device_id, uint64_t seq,
                             const uint8_t hash[FOGPAY_HASH_BYTES]);
bool fogpay_pending_head(const fogpay_pending *p, const char *device_id, uint64_t *seq,
                         uint8_t link[FOGPAY_PREV_HASH_BYTES]);

/* outbox.c: the group and its answers, broker thread. */
/* Opens the group transaction when none is open. */
fogpay_error fogpay_outbox_begin(fogpay_gateway *gw);
/* Copies the MQTT 5 response topic of ev (when it is one of the device's
 * own topics) and its correlation data into job. */
void fogpay_outbox_reply_details(const fogpay_gateway *gw, fogpay_job *job,
                                 const struct mosquitto_evt_message *ev);
/* Moves every job as far as it can go: records, commits, settles; on the
 * tick and after each wake. */
void fogpay_outbox_run(fogpay_gateway *gw);
/* Commits and answers everything settled so far, waiting for its
 * signatures: before an operator's command, and at cleanup. */
void fogpay_outbox_flush(fogpay_gateway *gw);
/* Frees a job's MQTT 5 copies. */
void fogpay_outbox_job_free(fogpay_job *job);

/* command.c: signs and publishes a device command (fogpay_control_send_fn). */
fogpay_error fogpay_command_send(void *gw, const char *device_id, fogpay_command_kind kind,
                                 const fogpay_device_limits *limits);
/* A suspend or resume the gateway sends of itself, naming why (a reason
 * code: plan_arrears) in the command's key 6. */
fogpay_error fogpay_command_send_for(fogpay_gateway *gw, const char *device_id,
                                     fogpay_command_kind kind, fogpay_error reason);

/* Signs and publishes the notice of plan_id to its device, retained on
 * the device's plan topic: the plan's status now (next instalment, amount,
 * payee, paid-up-to time, arrears). Logs why when it cannot. A
 * fogpay_control_plan_fn. */
fogpay_error fogpay_command_send_plan(void *gw, const char *plan_id);
/* On each tick after the start, with no group open, until every plan is
 * done: sends the notices of the next FOGPAY_PLAN_ANNOUNCE_BATCH plans
 * again (retained notices are lost with a broker that does not persist,
 * and a plan defined offline has none yet). */
void fogpay_command_announce_plans(fogpay_gateway *gw);

/* Announces the gateway's next key (its public text) to device_id, valid
 * from from_s, signed with signer (the key it replaces): at QoS 1, not
 * retained. */
fogpay_error fogpay_command_send_gateway_key(fogpay_gateway *gw, const fogpay_key *signer,
                                             const char *device_id, const char *next_key_text,
                                             uint64_t from_s);

/* gateway_key.c */
/* Loads plugin_opt_gateway_key and checks it against the ledger's key
 * history (an empty history takes it); finishes a rotation that a crash
 * interrupted after the ledger's commit. Logs why on failure. */
fogpay_error fogpay_gateway_key_open(fogpay_gateway *gw);
/* The operator's rotateGatewayKey (fogpay_control_rotate_fn): a new key of
 * the same algorithm, announced to every device that is not revoked, then
 * made the active key in the ledger and in the key file; its public text
 * into public_text (cap bytes). */
fogpay_error fogpay_gateway_key_rotate(void *gw, char *public_text, size_t cap, size_t *announced);
/* On the tick: the announcements of a rotation finished at start. */
void fogpay_gateway_key_tick(fogpay_gateway *gw);

/* sync.c */
/* Loads the cloud key and the acked state; sync stays off (and this
 * returns FOGPAY_OK) when plugin_opt_cloud_key is not set. */
fogpay_error fogpay_sync_open(fogpay_gateway *gw);
void fogpay_sync_close(fogpay_gateway *gw);
/* On the tick, with no group transaction open: re-sends after a timeout,
 * then sends new batches while the window has room. */
void fogpay_sync_tick(fogpay_gateway *gw, uint64_t now_ms);
/* backlog.c: on the first tick, sets the listen backlog of the broker's
 * listening sockets to plugin_opt_listen_backlog (0: leaves them). */
void fogpay_backlog_raise(fogpay_gateway *gw);

/* True when ev is on this gateway's ack topic; the ack is then verified and
 * applied (or logged and ignored). */
bool fogpay_sync_on_message(fogpay_gateway *gw, const struct mosquitto_evt_message *ev,
                            uint64_t now_ms);

#endif
