/*
 * fogpay_ingest.c - fogpay-ingest, the cloud's worker that stores gateway
 * batches: an MQTT 5 client on the cloud broker, one member of the shared
 * subscription $share/{group}/{prefix}/gw/+/batch, deciding on each batch
 * with the ingest core (ingest.h) and publishing the signed ack on
 * {prefix}/gw/{gateway}/ack at QoS 1.
 *
 * Why paho's synchronous MQTTClient and not MQTTAsync: the work per message
 * is strictly sequential (decide, commit, then publish the ack and wait for
 * its PUBACK), the store may be used by one thread at a time, and the only
 * concurrency wanted is between processes, which the shared subscription
 * gives. MQTTAsync would call back on its own thread, where blocking on the
 * store and on the ack's completion is forbidden (waitForCompletion inside a
 * callback deadlocks), so the message would have to be handed to a second
 * thread through a queue and locks: more code, no more throughput. With
 * MQTTClient_receive() and no callbacks, everything runs on the main thread
 * and a signal only sets a flag that the loop reads between messages, so a
 * batch in hand is always finished before the process exits.
 *
 * Delivery. paho sends the PUBACK of an incoming QoS 1 batch as it reads
 * it, before ingest has decided, so the broker's QoS 1 alone would not make
 * a batch survive a SIGKILL of ingest. It does not need to: the gateway
 * keeps every batch until a signed ack covers it and sends it again after
 * its ack timeout, and the store appends a batch in one transaction, so a
 * batch is stored wholly or not at all and a repeat is acked as a
 * duplicate. For the same reason the session is clean (no session expiry):
 * what an absent worker would have queued goes to the group's others or is
 * resent by the gateway.
 *
 * Ownership: main() owns the key, the store, the ingest core and the MQTT
 * client, and frees them on every exit path after they were made.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>

#include "fogpay_clock.h"
#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_socket.h"
#include "fogpay_topic.h"
#include "ingest.h"
#include "store.h"

/* Lengths of option values held in fixed buffers. A broker URI, a file
 * path, a client id (MQTT servers must take 23 bytes; brokers in use take
 * far more), a shared-subscription group name, a password. */
#define INGEST_URI_MAX       512
#define INGEST_PATH_MAX      512
#define INGEST_CLIENT_ID_MAX 128
#define INGEST_GROUP_MAX     64
#define INGEST_PASSWORD_MAX  256
#define INGEST_FILTER_MAX    (sizeof "$share//" + INGEST_GROUP_MAX + FOGPAY_TOPIC_MAX)

/* How long receive waits before the loop looks at the stop flag again: the
 * bound on how late a signal between batches is noticed. */
#define INGEST_RECEIVE_MS 500
/* The broker must answer a CONNECT within this, and the ack's PUBACK
 * within INGEST_ACK_TIMEOUT_MS; the gateway's own ack timeout (10 s by
 * default) covers an ack that never arrives. */
#define INGEST_CONNECT_TIMEOUT_S 10
#define INGEST_ACK_TIMEOUT_MS    10000
/* Tries at publishing one ack while paho's in-flight window is full, each
 * after waiting for the oldest outstanding one. */
#define INGEST_ACK_ATTEMPTS 4
/* Acks published and not yet PUBACKed. While batches keep arriving, paho's
 * synchronous client reads PUBACKs only when its queue runs dry; a window
 * this wide keeps it from stalling on a full one (each stall is a 100 ms
 * yield slice). */
#define INGEST_ACKS_INFLIGHT_MAX 1024
#define INGEST_KEEPALIVE_S       30
/* Reconnection: the wait doubles from the minimum to the maximum, with
 * jitter so that a group of workers does not return all at once. */
#define INGEST_BACKOFF_MIN_MS 250
#define INGEST_BACKOFF_MAX_MS 30000
/* MQTT 5 Maximum Packet Size: a guard on memory, well above the largest
 * batch so that an oversized one still reaches ingest and is refused with
 * a log line rather than dropped silently by the broker. */
#define INGEST_PACKET_MAX (4u * FOGPAY_BATCH_SIGNED_MAX)

static_assert(INGEST_PACKET_MAX > FOGPAY_BATCH_SIGNED_MAX + FOGPAY_TOPIC_MAX,
              "a full batch and its topic fit a packet");

typedef struct ingest_options {
    char broker[INGEST_URI_MAX];
    char store[FOGPAY_STORE_CONNINFO_MAX];
    char key_path[INGEST_PATH_MAX];
    char client_id[INGEST_CLIENT_ID_MAX];
    char group[INGEST_GROUP_MAX];
    char prefix[FOGPAY_TOPIC_PREFIX_MAX + 1];
    char username[INGEST_CLIENT_ID_MAX];
    char password[INGEST_PASSWORD_MAX];
    bool has_password;
    char cafile[INGEST_PATH_MAX];
    char cert[INGEST_PATH_MAX];
    char keyfile[INGEST_PATH_MAX];
} ingest_options;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fogpay-ingest --broker URI --store CONNINFO --key FILE [options]\n"
               "  --broker URI         cloud broker, tcp://host:port or ssl://host:port\n"
               "  --store CONNINFO     sqlite:PATH or postgresql://... (default $FOGPAY_STORE)\n"
               "  --key FILE           the cloud's private key (fogpay-cloud keygen)\n"
               "  --client-id ID       MQTT client id (default fogpay-ingest-<pid>)\n"
               "  --group NAME         shared subscription group (default ingest)\n"
               "  --topic-prefix P     topic prefix (default fogpay/v1)\n"
               "  --username U         MQTT user name\n"
               "  --password-file F    MQTT password, first line of F\n"
               "  --cafile F           CA certificates for ssl://\n"
               "  --cert F             client certificate for ssl://\n"
               "  --keyfile F          client certificate's key\n");
}

/* Copies an option value into a fixed buffer; false when it does not fit. */
static bool option_copy(char *dst, size_t cap, const char *value, const char *name)
{
    size_t n = strlen(value);
    if (n == 0 || n >= cap) {
        fprintf(stderr, "fogpay-ingest: --%s must be 1 to %zu characters\n", name, cap - 1);
        return false;
    }
    memcpy(dst, value, n + 1);
    return true;
}

/* Reads the first line of path as the password. */
static bool read_password(const char *path, ingest_options *o)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fogpay-ingest: cannot open the password file %s: %s\n", path,
                strerror(errno));
        return false;
    }
    bool ok = fgets(o->password, sizeof o->password, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(o->password, "\r\n") : 0;
    if (n == 0 || n >= sizeof o->password - 1) {
        fprintf(stderr,
                "fogpay-ingest: the password file %s must hold 1 to %d characters on "
                "its first line\n",
                path, INGEST_PASSWORD_MAX - 2);
        return false;
    }
    o->password[n] = '\0';
    o->has_password = true;
    return true;
}

/* The checks between options that getopt cannot make. */
static bool options_check(ingest_options *o)
{
    const char *env = getenv("FOGPAY_STORE");
    if (!o->store[0] && env && !option_copy(o->store, sizeof o->store, env, "store")) {
        return false;
    }
    const char *missing = !o->broker[0]     ? "--broker"
                          : !o->store[0]    ? "--store (or FOGPAY_STORE)"
                          : !o->key_path[0] ? "--key"
                                            : NULL;
    if (missing) {
        fprintf(stderr, "fogpay-ingest: %s is required\n", missing);
        return false;
    }
    bool tls = strncmp(o->broker, "ssl://", 6) == 0;
    if (!tls && strncmp(o->broker, "tcp://", 6) != 0) {
        fprintf(stderr, "fogpay-ingest: --broker %s: expected tcp://host:port or ssl://host:port\n",
                o->broker);
        return false;
    }
    if (!tls && (o->cafile[0] || o->cert[0] || o->keyfile[0])) {
        fprintf(stderr, "fogpay-ingest: --cafile, --cert and --keyfile need an ssl:// broker\n");
        return false;
    }
    if (o->keyfile[0] && !o->cert[0]) {
        fprintf(stderr, "fogpay-ingest: --keyfile needs --cert\n");
        return false;
    }
    if (!fogpay_topic_prefix_valid(o->prefix)) {
        fprintf(stderr,
                "fogpay-ingest: --topic-prefix %s: levels without wildcards, not "
                "starting with '$' or '/' nor ending with '/'\n",
                o->prefix);
        return false;
    }
    if (strpbrk(o->group, "/+#")) {
        fprintf(stderr, "fogpay-ingest: --group %s may not contain '/', '+' or '#'\n", o->group);
        return false;
    }
    if (o->has_password && !o->username[0]) {
        fprintf(stderr, "fogpay-ingest: --password-file needs --username\n");
        return false;
    }
    return true;
}

/* Parses argv into *o; false (after a message) on anything invalid. */
static bool options_parse(int argc, char **argv, ingest_options *o)
{
    static const struct option long_options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"store", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"client-id", required_argument, NULL, 'i'},
        {"group", required_argument, NULL, 'g'},
        {"topic-prefix", required_argument, NULL, 'p'},
        {"username", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'P'},
        {"cafile", required_argument, NULL, 'C'},
        {"cert", required_argument, NULL, 'c'},
        {"keyfile", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    snprintf(o->client_id, sizeof o->client_id, "fogpay-ingest-%ld", (long)getpid());
    snprintf(o->group, sizeof o->group, "ingest");
    snprintf(o->prefix, sizeof o->prefix, "fogpay/v1");
    /* Where each option with a text value is kept. */
    const struct {
        int val;
        char *dst;
        size_t cap;
    } fields[] = {
        {'b', o->broker, sizeof o->broker},     {'s', o->store, sizeof o->store},
        {'k', o->key_path, sizeof o->key_path}, {'i', o->client_id, sizeof o->client_id},
        {'g', o->group, sizeof o->group},       {'p', o->prefix, sizeof o->prefix},
        {'u', o->username, sizeof o->username}, {'C', o->cafile, sizeof o->cafile},
        {'c', o->cert, sizeof o->cert},         {'K', o->keyfile, sizeof o->keyfile},
    };
    int c;
    int option_index = 0;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "", long_options, &option_index)) != -1) {
        const char *name = long_options[option_index].name;
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == 'P') {
            ok = read_password(optarg, o);
            continue;
        }
        ok = false;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            if (fields[i].val == c) {
                ok = option_copy(fields[i].dst, fields[i].cap, optarg, name);
            }
        }
    }
    if (ok && optind < argc) {
        fprintf(stderr, "fogpay-ingest: unexpected argument %s\n", argv[optind]);
        ok = false;
    }
    return ok && options_check(o);
}

/* Sleeps ms in slices, returning early when a stop is requested. */
static void sleep_ms(uint32_t ms)
{
    while (ms > 0 && !stop_requested) {
        uint32_t slice = ms < INGEST_RECEIVE_MS ? ms : INGEST_RECEIVE_MS;
        struct timespec ts = {.tv_sec = slice / 1000, .tv_nsec = (long)(slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* The wait before reconnection attempt number attempt (0-based). */
static uint32_t backoff_ms(unsigned attempt)
{
    uint32_t step = INGEST_BACKOFF_MIN_MS;
    for (unsigned i = 0; i < attempt && step < INGEST_BACKOFF_MAX_MS; i++) {
        step *= 2;
    }
    step = step > INGEST_BACKOFF_MAX_MS ? INGEST_BACKOFF_MAX_MS : step;
    return step / 2 + (uint32_t)((uint64_t)random() % (step / 2 + 1));
}

/* One connection and the shared subscription. FOGPAY_OK once subscribed. */
static fogpay_error mqtt_connect(MQTTClient client, const ingest_options *o, const char *filter)
{
    MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer5;
    co.keepAliveInterval = INGEST_KEEPALIVE_S;
    co.cleanstart = 1;
    co.maxInflightMessages = INGEST_ACKS_INFLIGHT_MAX;
    co.connectTimeout = INGEST_CONNECT_TIMEOUT_S;
    co.username = o->username[0] ? o->username : NULL;
    co.password = o->has_password ? o->password : NULL;
    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    if (strncmp(o->broker, "ssl://", 6) == 0) {
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        ssl.trustStore = o->cafile[0] ? o->cafile : NULL;
        ssl.keyStore = o->cert[0] ? o->cert : NULL;
        ssl.privateKey = o->keyfile[0] ? o->keyfile : NULL;
        co.ssl = &ssl;
    }
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty packet_max = {.identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE};
    packet_max.value.integer4 = INGEST_PACKET_MAX;
    MQTTProperties_add(&props, &packet_max);
    MQTTResponse r = MQTTClient_connect5(client, &co, &props, NULL);
    MQTTProperties_free(&props);
    int rc = r.reasonCode;
    MQTTResponse_free(r);
    if (rc != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpay-ingest: cannot connect to %s: %s (%d)\n", o->broker,
                rc > 0 ? MQTTReasonCode_toString((enum MQTTReasonCodes)rc)
                       : MQTTClient_strerror(rc),
                rc);
        return FOGPAY_ERR_NETWORK;
    }
    /* paho's new socket, without Nagle: each batch's PUBACK and ack go out
     * at once (see fogpay_socket.h). */
    fogpay_socket_nodelay_all();
    MQTTSubscribe_options so = MQTTSubscribe_options_initializer;
    r = MQTTClient_subscribe5(client, filter, 1, &so, NULL);
    rc = r.reasonCode;
    MQTTResponse_free(r);
    if (rc < MQTTREASONCODE_GRANTED_QOS_0 || rc > MQTTREASONCODE_GRANTED_QOS_2) {
        fprintf(stderr, "fogpay-ingest: the subscription to %s was refused: %s (%d)\n", filter,
                rc > 0 ? MQTTReasonCode_toString((enum MQTTReasonCodes)rc)
                       : MQTTClient_strerror(rc),
                rc);
        MQTTClient_disconnect5(client, 0, MQTTREASONCODE_NORMAL_DISCONNECTION, NULL);
        return FOGPAY_ERR_NETWORK;
    }
    return FOGPAY_OK;
}

/* Publishes the ack at QoS 1 without waiting for its PUBACK: the next
 * MQTTClient_receive() reads it. Waiting here would cost each batch a full
 * MQTTClient_yield() slice (100 ms in paho's synchronous client) and cap
 * ingest at ten batches a second; an ack lost before its PUBACK only costs
 * the gateway a re-send, which is stored once and acked again. When paho's
 * in-flight window is full, the oldest outstanding ack is waited for. */
static void publish_ack(MQTTClient client, const ingest_options *o, const fogpay_ingest_result *r)
{
    char topic[FOGPAY_TOPIC_MAX];
    fogpay_error err =
        fogpay_topic_build(o->prefix, FOGPAY_TOPIC_ACK, r->gateway_id, NULL, topic, sizeof topic);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "fogpay-ingest: gateway %s: no ack topic (%s); no ack\n", r->gateway_id,
                fogpay_error_string(err));
        return;
    }
    int rc = MQTTCLIENT_MAX_MESSAGES_INFLIGHT;
    for (int attempt = 0; attempt < INGEST_ACK_ATTEMPTS && rc == MQTTCLIENT_MAX_MESSAGES_INFLIGHT;
         attempt++) {
        MQTTClient_deliveryToken token = 0;
        MQTTResponse resp =
            MQTTClient_publish5(client, topic, (int)r->ack_len, r->ack, 1, 0, NULL, &token);
        rc = resp.reasonCode;
        MQTTResponse_free(resp);
        if (rc == MQTTCLIENT_MAX_MESSAGES_INFLIGHT) {
            MQTTClient_deliveryToken *pending = NULL;
            if (MQTTClient_getPendingDeliveryTokens(client, &pending) == MQTTCLIENT_SUCCESS &&
                pending != NULL) {
                MQTTClient_waitForCompletion(client, pending[0], INGEST_ACK_TIMEOUT_MS);
            }
            MQTTClient_free(pending);
        }
    }
    if (rc != MQTTCLIENT_SUCCESS) {
        fprintf(stderr,
                "fogpay-ingest: gateway %s batch %" PRIu64 ": the ack was not sent (%s); "
                "the gateway will send the batch again\n",
                r->gateway_id, r->batch_seq, MQTTClient_strerror(rc));
    }
}

/* Decides on one received message and answers it. */
static void handle_message(MQTTClient client, fogpay_ingest *core, const ingest_options *o,
                           const char *topic, size_t topic_len, const MQTTClient_message *m,
                           fogpay_ingest_result *r)
{
    char gateway[FOGPAY_TOPIC_ID_MAX + 1];
    if (strlen(topic) != topic_len ||
        fogpay_topic_parse_id(o->prefix, topic, gateway) != FOGPAY_TOPIC_BATCH) {
        fprintf(stderr, "fogpay-ingest: a message on %.*s, not a batch topic: dropped\n",
                (int)(topic_len < FOGPAY_TOPIC_MAX ? topic_len : FOGPAY_TOPIC_MAX), topic);
        return;
    }
    size_t len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    fogpay_ingest_batch(core, gateway, m->payload, len, fogpay_clock_wall_ms(), r);
    char line[FOGPAY_INGEST_DETAIL_MAX + 256];
    fogpay_ingest_format(r, line, sizeof line);
    fprintf(stderr, "fogpay-ingest: %s\n", line);
    if (r->ack_len > 0) {
        publish_ack(client, o, r);
    }
}

/* Receives and handles messages until the connection drops or a stop is
 * requested. */
static void serve(MQTTClient client, fogpay_ingest *core, const ingest_options *o,
                  fogpay_ingest_result *r)
{
    while (!stop_requested) {
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        int rc = MQTTClient_receive(client, &topic, &topic_len, &m, INGEST_RECEIVE_MS);
        if (m && topic) {
            size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
            handle_message(client, core, o, topic, tlen, m, r);
        }
        if (m) {
            MQTTClient_freeMessage(&m);
        }
        if (topic) {
            MQTTClient_free(topic);
        }
        if ((rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) ||
            !MQTTClient_isConnected(client)) {
            fprintf(stderr, "fogpay-ingest: the connection to %s was lost\n", o->broker);
            return;
        }
    }
}

/* Connects, serves, and reconnects with backoff until a stop is requested. */
static int run(const ingest_options *o, fogpay_ingest *core)
{
    char batches[FOGPAY_TOPIC_MAX];
    if (fogpay_topic_filter(o->prefix, FOGPAY_TOPIC_BATCH, batches, sizeof batches) != FOGPAY_OK) {
        fprintf(stderr, "fogpay-ingest: no batch filter under %s\n", o->prefix);
        return 1;
    }
    char filter[INGEST_FILTER_MAX];
    snprintf(filter, sizeof filter, "$share/%s/%s", o->group, batches);
    MQTTClient client;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    int rc = MQTTClient_createWithOptions(&client, o->broker, o->client_id,
                                          MQTTCLIENT_PERSISTENCE_NONE, NULL, &create);
    if (rc != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpay-ingest: cannot create an MQTT client for %s: %s\n", o->broker,
                MQTTClient_strerror(rc));
        return 1;
    }
    fogpay_ingest_result *r = malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "fogpay-ingest: out of memory\n");
        MQTTClient_destroy(&client);
        return 1;
    }
    bool ready_said = false;
    unsigned attempt = 0;
    while (!stop_requested) {
        if (mqtt_connect(client, o, filter) != FOGPAY_OK) {
            sleep_ms(backoff_ms(attempt++));
            continue;
        }
        attempt = 0;
        if (!ready_said) {
            fprintf(stderr, "fogpay-ingest: ready\n");
            ready_said = true;
        } else {
            fprintf(stderr, "fogpay-ingest: subscribed again to %s\n", filter);
        }
        serve(client, core, o, r);
        if (MQTTClient_isConnected(client)) {
            MQTTClient_disconnect5(client, INGEST_RECEIVE_MS, MQTTREASONCODE_NORMAL_DISCONNECTION,
                                   NULL);
        }
    }
    free(r);
    MQTTClient_destroy(&client);
    fprintf(stderr, "fogpay-ingest: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    ingest_options o;
    if (!options_parse(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)(getpid() ^ (pid_t)fogpay_clock_wall_ms()));

    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_load(o.key_path, &key);
    if (err == FOGPAY_OK && !fogpay_key_has_private(key)) {
        err = FOGPAY_ERR_KEY_FILE;
    }
    if (err != FOGPAY_OK) {
        fprintf(stderr, "fogpay-ingest: cannot load the cloud key %s: %s\n", o.key_path,
                fogpay_error_string(err));
        fogpay_key_free(key);
        return 1;
    }
    fogpay_store *store = NULL;
    err = fogpay_store_open(o.store, false, &store);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "fogpay-ingest: cannot open the store %s: %s%s%s\n", o.store,
                fogpay_error_string(err), store ? ": " : "",
                store ? fogpay_store_last_message(store) : "");
        if (store) {
            fogpay_store_close(store);
        }
        fogpay_key_free(key);
        return 1;
    }
    fogpay_ingest *core = NULL;
    err = fogpay_ingest_create(store, key, &core);
    int status = 1;
    if (err == FOGPAY_OK) {
        status = run(&o, core);
    } else {
        fprintf(stderr, "fogpay-ingest: %s\n", fogpay_error_string(err));
    }
    fogpay_ingest_destroy(core);
    fogpay_store_close(store);
    fogpay_key_free(key);
    return status;
}
