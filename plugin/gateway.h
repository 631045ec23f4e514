/*
 * gateway.h - the gateway plugin's private interface: its state, options,
 * and the modules behind the broker's callbacks.
 *
 * Modules, one noun a file:
 *   plugin.c    the entry points and the one table of callbacks
 *   options.c   plugin_opt_* parsing; a bad option stops the broker
 *   auth.c      password login of devices and operators (MOSQ_EVT_BASIC_AUTH)
 *   acl.c       who may publish and read what (MOSQ_EVT_ACL_CHECK)
 *   device_message.c  the path of every device message (MOSQ_EVT_MESSAGE):
 *               payment intents and meter readings
 *   flow.c      the per-device limit of answers owed
 *   receipt.c   signing receipts
 *   outbox.c    the group transaction and the receipts waiting for its commit
 *   command.c   signed commands to devices (suspend, resume, limits, gateway key)
 *   gateway_key.c  the gateway's signing key: its history, its rotation
 *   control*.c  operator commands on $CONTROL/fogpay/v1
 *   sync.c      upstream sync: signed batches out, signed acks in
 *   backlog.c   the listen backlog of the broker's listeners
 *
 * Threading and ownership. Mosquitto calls every callback on its one main
 * thread, and the plugin API may only be called from there, so all state
 * below belongs to that thread and needs no locks. Settlement is grouped:
 * device messages are settled inside one open SQLite transaction, their
 * receipts wait in the outbox (outbox.c), and on the broker's tick (or when
 * the group is full) the transaction is committed with fsync and only then
 * are the receipts published. A design that moves signature checks, receipt
 * signing and commits to worker threads keeps this shape: workers return
 * finished receipts to a queue that the tick drains on the main thread,
 * which alone calls mosquitto_broker_publish().
 *
 * Upstream sync runs on the same thread, on the tick, after the group
 * commit: it only ever reads committed transfers, builds at most
 * sync_window batches of at most sync_batch records each, and hands them to
 * the broker, whose bridge carries them upstream. Settlement never waits
 * for it.
 *
 * The gateway struct is allocated in mosquitto_plugin_init() and freed in
 * mosquitto_plugin_cleanup(); it owns the ledger, the gateway key, the
 * operator table, the outbox and the sync state (with the cloud's key and
 * the batch buffer).
 */
#ifndef FOGPAY_GATEWAY_H
#define FOGPAY_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"
#include "fogpay_topic.h"
#include "ledger.h"

struct mosquitto;
struct mosquitto_opt;
struct mosquitto_evt_message;

/* Currencies one gateway settles. */
#define FOGPAY_CURRENCIES_MAX 8

/* Operators in the operators file. */
#define FOGPAY_OPERATORS_MAX     32
#define FOGPAY_OPERATOR_NAME_MAX 64

/* Device messages settled in one transaction before it is committed even
 * if the broker has not ticked: bounds the receipts held back and the work
 * lost to a failed commit. */
#define FOGPAY_GROUP_MAX 256

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
    bool allow_other_clients;
    char cloud_key[FOGPAY_PUBLIC_KEY_TEXT_MAX]; /* empty: no upstream sync */
    uint32_t sync_batch;
    uint32_t sync_interval_ms;
    uint32_t sync_window;
    uint32_t sync_timeout_ms;
    uint32_t device_answers_max; /* per flow window, at most FOGPAY_FLOW_ANSWERS_MAX */
    uint32_t listen_backlog;     /* 0: the broker's own (100) */
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

/* A receipt waiting for its transaction's commit. */
typedef struct fogpay_outbox_entry {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    uint8_t receipt[FOGPAY_MESSAGE_MAX];
    size_t receipt_len;
    char *response_topic; /* MQTT 5, from malloc, or NULL */
    void *correlation;    /* MQTT 5, from malloc, or NULL */
    uint16_t correlation_len;
} fogpay_outbox_entry;

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
    bool in_transaction;
    fogpay_outbox_entry outbox[FOGPAY_GROUP_MAX];
    size_t outbox_count;
    uint64_t settled_total;
    uint64_t rejected_total;
    uint64_t dropped_total; /* refused over the flow limit without an answer */
    fogpay_flow flow;
    fogpay_sync sync;
    bool backlog_done; /* the listeners' backlog was set (backlog.c) */
    /* Gateway key rotation (gateway_key.c): the next key's text and start
     * while it is being announced; after a crashed rotation, the ended key
     * that signs the announcements on the first tick. */
    char announce_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    uint64_t announce_from_s;
    fogpay_key *announce_key; /* owned; NULL when nothing is to be announced */
} fogpay_gateway;

/* options.c: fills opts from the plugin_opt_* lines. Every problem is logged
 * with the option's name; FOGPAY_ERR_CONFIG then. */
fogpay_error fogpay_options_parse(const struct mosquitto_opt *opts, int count,
                                  fogpay_gateway_options *out);
/* Loads the operators file ("name:hash" per line). */
fogpay_error fogpay_options_load_operators(fogpay_gateway *gw);
bool fogpay_options_currency_enabled(const fogpay_gateway_options *o, uint16_t currency);

/* auth.c: MOSQ_EVT_BASIC_AUTH. */
int fogpay_auth_basic(fogpay_gateway *gw, struct mosquitto *client, const char *username,
                      const char *password);
bool fogpay_auth_is_operator(const fogpay_gateway *gw, const char *username);

/* acl.c: MOSQ_EVT_ACL_CHECK. */
int fogpay_acl_check(fogpay_gateway *gw, struct mosquitto *client, const char *topic, int access);

/* device_message.c: MOSQ_EVT_MESSAGE. Returns MOSQ_ERR_SUCCESS, MOSQ_ERR_ACL_DENIED
 * for a refused device message (answered with a rejection receipt), or
 * MOSQ_ERR_PLUGIN_DEFER for messages that are not fogpay's. */
int fogpay_device_message_handle(fogpay_gateway *gw, struct mosquitto_evt_message *ev,
                                 uint64_t now_ms);

/* flow.c: whether the gateway takes one more message of device_id now,
 * answering at most answers_max a window (counted as answered when it
 * takes it); fogpay_flow_free() frees the table. */
fogpay_flow_verdict fogpay_flow_admit(fogpay_flow *f, const char *device_id, uint32_t answers_max,
                                      uint64_t now_ms);
void fogpay_flow_free(fogpay_flow *f);

/* receipt.c: signs receipt r with the gateway key into out (cap bytes). */
fogpay_error fogpay_receipt_sign(fogpay_gateway *gw, const fogpay_receipt *r, uint8_t *out,
                                 size_t cap, size_t *len);

/* outbox.c */
/* Queues a signed receipt for device (with the MQTT 5 response details of
 * ev, when it has them) until the commit; commits first when it is full. */
fogpay_error fogpay_outbox_queue(fogpay_gateway *gw, const char *device_id, const uint8_t *receipt,
                                 size_t len, const struct mosquitto_evt_message *ev);
/* Opens the group transaction when none is open. */
fogpay_error fogpay_outbox_begin(fogpay_gateway *gw);
/* Commits the open group, then publishes its receipts; on a failed commit
 * the receipts are dropped (nothing was settled) and the error logged. */
void fogpay_outbox_commit(fogpay_gateway *gw);

/* command.c: signs and publishes a device command (fogpay_control_send_fn). */
fogpay_error fogpay_command_send(void *gw, const char *device_id, fogpay_command_kind kind,
                                 const fogpay_device_limits *limits);

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
