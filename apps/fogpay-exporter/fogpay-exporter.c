/*
 * fogpay-exporter - the gateway's metrics for Prometheus: subscribes, as an
 * operator, to $SYS/broker/fogpay/# on the gateway's broker (where the
 * plugin publishes them retained) and serves them as Prometheus text on
 * GET /metrics (libmicrohttpd), by default on 127.0.0.1:9853.
 *
 * usage: fogpay-exporter [-h HOST] [-p PORT] -u USER --password-file FILE|-
 *                        [--listen ADDR:PORT]
 *
 * Design. The main thread runs the MQTT client (paho, as fogpayctl does):
 * it logs in, subscribes, stores every figure it receives, and logs in
 * again after FOGPAY_EXPORTER_RECONNECT_MS when the broker goes away; the
 * page shows fogpay_exporter_broker_connected 0 meanwhile, with the last
 * figures read. libmicrohttpd answers on a thread of its own
 * (exporter.h). SIGINT and SIGTERM end it.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>
#include <microhttpd.h>

#include "exporter.h"
#include "fogpay_cli.h"
#include "fogpay_password.h"

#define EXPORTER_PROGRAM  "fogpay-exporter"
#define EXPORTER_HOST_MAX 256

static volatile sig_atomic_t exporter_stopping;

typedef struct exporter_options {
    char host[EXPORTER_HOST_MAX];
    int port;
    const char *username;
    char password[FOGPAY_PASSWORD_MAX + 1];
    struct sockaddr_in listen;
} exporter_options;

static void exporter_on_signal(int sig)
{
    (void)sig;
    exporter_stopping = 1;
}

/* ADDR:PORT (an IPv4 address) into out. */
static bool exporter_parse_listen(const char *text, struct sockaddr_in *out)
{
    char addr[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    uint64_t port = 0;
    if (colon == NULL || (size_t)(colon - text) >= sizeof addr ||
        !fogpay_cli_parse_u64(colon + 1, 65535, &port) || port == 0) {
        return false;
    }
    memcpy(addr, text, (size_t)(colon - text));
    addr[colon - text] = '\0';
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, addr, &out->sin_addr) == 1;
}

static int exporter_options_parse(int argc, char **argv, exporter_options *o)
{
    static const struct option options[] = {
        {"password-file", required_argument, NULL, 'P'},
        {"listen", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    const char *password_file = NULL;
    uint64_t port = 1883;
    char listen_default[32];
    snprintf(listen_default, sizeof listen_default, "127.0.0.1:%d", FOGPAY_EXPORTER_PORT_DEFAULT);
    const char *listen = listen_default;
    strcpy(o->host, "127.0.0.1");
    int opt;
    while ((opt = getopt_long(argc, argv, "h:p:u:", options, NULL)) != -1) {
        if (opt == 'h' && strlen(optarg) < sizeof o->host) {
            strcpy(o->host, optarg);
        } else if (opt == 'p' && fogpay_cli_parse_u64(optarg, 65535, &port) && port > 0) {
        } else if (opt == 'u') {
            o->username = optarg;
        } else if (opt == 'P') {
            password_file = optarg;
        } else if (opt == 'l') {
            listen = optarg;
        } else {
            return fogpay_cli_usage_error(EXPORTER_PROGRAM, NULL,
                                          "usage: fogpay-exporter [-h HOST] [-p PORT] -u USER "
                                          "--password-file FILE|- [--listen ADDR:PORT]");
        }
    }
    o->port = (int)port;
    if (o->username == NULL || password_file == NULL || optind != argc) {
        return fogpay_cli_usage_error(EXPORTER_PROGRAM, NULL,
                                      "-u USER and --password-file FILE (an operator's login) are "
                                      "required");
    }
    if (!exporter_parse_listen(listen, &o->listen)) {
        return fogpay_cli_usage_error(EXPORTER_PROGRAM, NULL,
                                      "--listen takes an IPv4 address and a port, e.g. "
                                      "127.0.0.1:9853");
    }
    if (!fogpay_cli_read_line(password_file, o->password, sizeof o->password)) {
        return fogpay_cli_usage_error(EXPORTER_PROGRAM, NULL, "the password file cannot be read");
    }
    return FOGPAY_CLI_EXIT_OK;
}

/* GET /metrics: the page; anything else 404 (405 for another method). */
static enum MHD_Result exporter_answer(void *cls, struct MHD_Connection *connection,
                                       const char *url, const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    static char page[FOGPAY_EXPORTER_PAGE_MAX];
    static pthread_mutex_t page_lock = PTHREAD_MUTEX_INITIALIZER;
    unsigned status = MHD_HTTP_OK;
    const char *body = NULL;
    size_t len = 0;
    pthread_mutex_lock(&page_lock);
    if (strcmp(method, "GET") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = "only GET\n";
    } else if (strcmp(url, "/metrics") != 0) {
        status = MHD_HTTP_NOT_FOUND;
        body = "the metrics are at /metrics\n";
    } else {
        len = exporter_render(cls, page, sizeof page);
        status = len > 0 ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR;
        body = len > 0 ? page : "the page is over its size\n";
    }
    len = status == MHD_HTTP_OK ? len : strlen(body);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&page_lock);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result result = MHD_queue_response(connection, status, r);
    MHD_destroy_response(r);
    return result;
}

/* Logs in and subscribes; false (and says why once) when it cannot. */
static bool exporter_login(MQTTClient client, const exporter_options *o, bool *said)
{
    MQTTClient_connectOptions c = MQTTClient_connectOptions_initializer;
    c.username = o->username;
    c.password = o->password;
    c.cleansession = 1;
    c.keepAliveInterval = 30;
    int rc = MQTTClient_connect(client, &c);
    if (rc == MQTTCLIENT_SUCCESS) {
        rc = MQTTClient_subscribe(client, EXPORTER_TOPIC_FILTER, 0);
        if (rc != MQTTCLIENT_SUCCESS) {
            MQTTClient_disconnect(client, 0);
        }
    }
    if (rc != MQTTCLIENT_SUCCESS && !*said) {
        fprintf(stderr,
                "fogpay-exporter: logging in to %s:%d as %s and subscribing to %s failed (%d); "
                "trying again every %d ms\n",
                o->host, o->port, o->username, EXPORTER_TOPIC_FILTER, rc,
                FOGPAY_EXPORTER_RECONNECT_MS);
        *said = true;
    }
    if (rc == MQTTCLIENT_SUCCESS) {
        *said = false;
    }
    return rc == MQTTCLIENT_SUCCESS;
}

static void exporter_receive(MQTTClient client, exporter_store *store)
{
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    int rc = MQTTClient_receive(client, &topic, &topic_len, &m, 500);
    if (rc == MQTTCLIENT_SUCCESS && m != NULL) {
        exporter_store_put(store, topic, m->payload, (size_t)m->payloadlen);
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
    }
}

static void exporter_run(const exporter_options *o, exporter_store *store)
{
    char uri[EXPORTER_HOST_MAX + 16], id[64];
    snprintf(uri, sizeof uri, "tcp://%s:%d", o->host, o->port);
    snprintf(id, sizeof id, "fogpay-exporter-%ld", (long)getpid());
    MQTTClient client;
    if (MQTTClient_create(&client, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
        MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpay-exporter: cannot create an MQTT client for %s\n", uri);
        return;
    }
    bool said = false;
    while (!exporter_stopping) {
        if (!MQTTClient_isConnected(client)) {
            exporter_store_set_connected(store, false);
            if (!exporter_login(client, o, &said)) {
                usleep(FOGPAY_EXPORTER_RECONNECT_MS * 1000);
                continue;
            }
            exporter_store_set_connected(store, true);
        }
        exporter_receive(client, store);
    }
    if (MQTTClient_isConnected(client)) {
        MQTTClient_disconnect(client, 1000);
    }
    MQTTClient_destroy(&client);
}

int main(int argc, char **argv)
{
    exporter_options o;
    memset(&o, 0, sizeof o);
    int status = exporter_options_parse(argc, argv, &o);
    if (status != FOGPAY_CLI_EXIT_OK) {
        return status;
    }
    static exporter_store store;
    exporter_store_init(&store);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                         ntohs(o.listen.sin_port), NULL, NULL, exporter_answer, &store,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&o.listen, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fogpay-exporter: cannot serve HTTP on --listen %s:%d\n",
                inet_ntoa(o.listen.sin_addr), ntohs(o.listen.sin_port));
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = exporter_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "fogpay-exporter: serving http://%s:%d/metrics\n", inet_ntoa(o.listen.sin_addr),
            ntohs(o.listen.sin_port));
    exporter_run(&o, &store);
    MHD_stop_daemon(d);
    explicit_bzero(o.password, sizeof o.password);
    return FOGPAY_CLI_EXIT_OK;
}
