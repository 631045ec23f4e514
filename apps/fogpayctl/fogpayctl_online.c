/*
 * fogpayctl_online.c - fogpayctl's online mode: one control command to a
 * running gateway over MQTT 5, like mosquitto_ctrl.
 *
 * The command is built from the command line: "--per-payment 5.00" becomes
 * "perPayment":"5.00". Amounts stay decimal strings; the fields that are
 * integers in the contract (id, effective, from, to, after, limit) become
 * JSON numbers after a strict parse. For registerDevice the limit fields
 * (--per-payment, --per-day, --wallet-max, --currency) go into a "limits"
 * object. The request carries a correlationData unique to this process; the
 * tool subscribes to the response topic first, publishes at QoS 1, and
 * waits up to the timeout for the reply that carries its correlation data.
 *
 * Ownership: the paho client, messages and cJSON trees are freed here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>
#include <cjson/cJSON.h>

#include "fogpay_clock.h"
#include "fogpayctl.h"

#define ONLINE_REQUEST_TOPIC  "$CONTROL/fogpay/v1"
#define ONLINE_RESPONSE_TOPIC "$CONTROL/fogpay/v1/response"

/* Longest field name after camelCasing. */
#define ONLINE_FIELD_MAX 64

static const char *const online_number_fields[] = {"id", "effective", "from",
                                                   "to", "after",     "limit"};
static const char *const online_limit_fields[] = {"perPayment", "perDay", "walletMax", "currency"};

static bool online__in(const char *name, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* "--per-payment" to "perPayment"; false when it is not an option name. */
static bool online__field_name(const char *arg, char out[ONLINE_FIELD_MAX])
{
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || strlen(arg) - 2 >= ONLINE_FIELD_MAX) {
        return false;
    }
    size_t n = 0;
    bool upper = false;
    for (const char *p = arg + 2; *p != '\0'; p++) {
        if (*p == '-') {
            upper = true;
            continue;
        }
        out[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        upper = false;
    }
    out[n] = '\0';
    return n > 0;
}

/* Builds {"commands":[{...}]} from argv; NULL with a message on bad usage. */
static cJSON *online__request(int argc, char **argv, const char *correlation)
{
    cJSON *request = cJSON_CreateObject();
    cJSON *commands = cJSON_AddArrayToObject(request, "commands");
    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddItemToArray(commands, cmd);
    cJSON_AddStringToObject(cmd, "command", argv[0]);
    bool limits_nested = strcmp(argv[0], "registerDevice") == 0;
    cJSON *limits = NULL;
    for (int i = 1; i < argc; i += 2) {
        char name[ONLINE_FIELD_MAX];
        if (!online__field_name(argv[i], name) || i + 1 >= argc) {
            fprintf(stderr, "fogpayctl: expected \"--field value\" pairs, got \"%s\"\n", argv[i]);
            cJSON_Delete(request);
            return NULL;
        }
        const char *value = argv[i + 1];
        cJSON *target = cmd;
        if (limits_nested && online__in(name, online_limit_fields, 4)) {
            if (limits == NULL) {
                limits = cJSON_AddObjectToObject(cmd, "limits");
            }
            target = limits;
        }
        if (online__in(name, online_number_fields, 6)) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(value, &end, 10);
            if (errno != 0 || *end != '\0' || *value < '0' || *value > '9') {
                fprintf(stderr, "fogpayctl: --%s takes a whole number, got \"%s\"\n", argv[i] + 2,
                        value);
                cJSON_Delete(request);
                return NULL;
            }
            cJSON_AddNumberToObject(target, name, (double)n);
        } else {
            cJSON_AddStringToObject(target, name, value);
        }
    }
    cJSON_AddStringToObject(cmd, "correlationData", correlation);
    return request;
}

/* 0 when no response has "error", 1 otherwise. */
static int online__status(const cJSON *reply)
{
    const cJSON *resp = NULL;
    cJSON_ArrayForEach(resp, cJSON_GetObjectItemCaseSensitive(reply, "responses"))
    {
        if (cJSON_GetObjectItemCaseSensitive(resp, "error") != NULL) {
            return 1;
        }
    }
    return 0;
}

/* True when reply answers the request with this correlation data. */
static bool online__matches(const cJSON *reply, const char *correlation)
{
    const cJSON *resp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(reply, "responses"), 0);
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(resp, "correlationData");
    /* A request so malformed it has no command answers without one. */
    return cJSON_IsString(corr) ? strcmp(corr->valuestring, correlation) == 0 : resp != NULL;
}

static int online__exchange(MQTTClient client, const fogpayctl_connection *conn,
                            const char *payload, const char *correlation)
{
    MQTTResponse r = MQTTClient_subscribe5(client, ONLINE_RESPONSE_TOPIC, 1, NULL, NULL);
    if (r.reasonCode > MQTTREASONCODE_GRANTED_QOS_2) {
        fprintf(stderr, "fogpayctl: subscribing to the response topic was refused (%d)\n",
                r.reasonCode);
        MQTTResponse_free(r);
        return 1;
    }
    MQTTResponse_free(r);
    MQTTClient_deliveryToken token = 0;
    r = MQTTClient_publish5(client, ONLINE_REQUEST_TOPIC, (int)strlen(payload), payload, 1, 0, NULL,
                            &token);
    int rc = r.reasonCode;
    MQTTResponse_free(r);
    if (rc != MQTTCLIENT_SUCCESS ||
        MQTTClient_waitForCompletion(client, token, (unsigned long)conn->timeout_ms) !=
            MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpayctl: publishing the command failed\n");
        return 1;
    }
    uint64_t start_ms = fogpay_clock_monotonic_ms();
    for (;;) {
        uint64_t elapsed_ms = fogpay_clock_monotonic_ms() - start_ms;
        if (elapsed_ms >= (uint64_t)conn->timeout_ms) {
            fprintf(stderr, "fogpayctl: no reply within %d ms\n", conn->timeout_ms);
            return 1;
        }
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *msg = NULL;
        rc = MQTTClient_receive(client, &topic, &topic_len, &msg,
                                (unsigned long)(conn->timeout_ms - elapsed_ms));
        if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
            fprintf(stderr, "fogpayctl: the connection was lost while waiting for the reply\n");
            return 1;
        }
        if (msg == NULL) {
            continue;
        }
        cJSON *reply = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
        MQTTClient_freeMessage(&msg);
        MQTTClient_free(topic);
        if (reply != NULL && online__matches(reply, correlation)) {
            char *text = cJSON_Print(reply);
            printf("%s\n", text ? text : "");
            free(text);
            int status = online__status(reply);
            cJSON_Delete(reply);
            return status;
        }
        cJSON_Delete(reply);
    }
}

int fogpayctl_online(const fogpayctl_connection *conn, int argc, char **argv)
{
    char correlation[64];
    snprintf(correlation, sizeof correlation, "fogpayctl-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    cJSON *request = online__request(argc, argv, correlation);
    if (request == NULL) {
        return 2;
    }
    char *payload = cJSON_PrintUnformatted(request);
    cJSON_Delete(request);
    if (payload == NULL) {
        return 1;
    }
    char uri[300];
    snprintf(uri, sizeof uri, "%s://%s:%d", conn->cafile ? "ssl" : "tcp", conn->host, conn->port);
    MQTTClient client = NULL;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    if (MQTTClient_createWithOptions(&client, uri, correlation, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                     &create) != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpayctl: cannot create an MQTT client for %s\n", uri);
        free(payload);
        return 1;
    }
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer5;
    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    opts.username = conn->username;
    opts.password = conn->password;
    opts.cleanstart = 1;
    opts.connectTimeout = (conn->timeout_ms + 999) / 1000;
    if (conn->cafile != NULL) {
        ssl.trustStore = conn->cafile;
        opts.ssl = &ssl;
    }
    MQTTResponse r = MQTTClient_connect5(client, &opts, NULL, NULL);
    int status = 1;
    if (r.reasonCode != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpayctl: cannot connect to %s as %s (%d)\n", uri,
                conn->username ? conn->username : "(anonymous)", r.reasonCode);
    } else {
        status = online__exchange(client, conn, payload, correlation);
        MQTTClient_disconnect5(client, 1000, MQTTREASONCODE_NORMAL_DISCONNECTION, NULL);
    }
    MQTTResponse_free(r);
    MQTTClient_destroy(&client);
    free(payload);
    return status;
}
