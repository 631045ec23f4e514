/*
 * fogpayctl_online.c - the online path of fogpayctl's control commands: one
 * request to a running gateway over MQTT 5, like mosquitto_ctrl.
 *
 * The tool subscribes to the response topic first (a legal entity's own
 * login, --entity, to its own: FOGPAY_CONTROL_RESPONSE_TOPIC/LOGIN), publishes the request at
 * QoS 1, and waits up to the timeout for the reply that carries its
 * correlation data. The request is built, and the reply printed, by
 * fogpayctl_command.c, the same way as on the offline path.
 *
 * Ownership: the paho client and messages are freed here; the reply
 * returned is the caller's.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <MQTTClient.h>
#include <cjson/cJSON.h>

#include "control.h"
#include "fogpay_clock.h"
#include "fogpayctl.h"

/* True when reply answers the request with this correlation data. */
static bool online__matches(const cJSON *reply, const char *correlation)
{
    const cJSON *resp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(reply, "responses"), 0);
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(resp, "correlationData");
    /* A request so malformed it has no command answers without one. */
    return cJSON_IsString(corr) ? strcmp(corr->valuestring, correlation) == 0 : resp != NULL;
}

/* Subscribes, publishes payload and waits for the reply with correlation;
 * NULL after printing why. */
static char *online__exchange(MQTTClient client, const fogpayctl_connection *conn,
                              const char *payload, const char *correlation)
{
    char topic_own[FOGPAY_CONTROL_ENTITY_RESPONSE_TOPIC_MAX] = FOGPAY_CONTROL_RESPONSE_TOPIC;
    if (conn->entity &&
        (conn->username == NULL || fogpay_control_entity_response_topic(
                                       conn->username, topic_own, sizeof topic_own) != FOGPAY_OK)) {
        fprintf(stderr, "fogpayctl: --entity needs -u LOGIN of at most %d characters\n",
                FOGPAY_LOGIN_NAME_MAX);
        return NULL;
    }
    MQTTResponse r = MQTTClient_subscribe5(client, topic_own, 1, NULL, NULL);
    if (r.reasonCode > MQTTREASONCODE_GRANTED_QOS_2) {
        fprintf(stderr, "fogpayctl: subscribing to the response topic was refused (%d)\n",
                r.reasonCode);
        MQTTResponse_free(r);
        return NULL;
    }
    MQTTResponse_free(r);
    MQTTClient_deliveryToken token = 0;
    r = MQTTClient_publish5(client, FOGPAY_CONTROL_TOPIC, (int)strlen(payload), payload, 1, 0, NULL,
                            &token);
    int rc = r.reasonCode;
    MQTTResponse_free(r);
    if (rc != MQTTCLIENT_SUCCESS ||
        MQTTClient_waitForCompletion(client, token, (unsigned long)conn->timeout_ms) !=
            MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpayctl: publishing the command failed\n");
        return NULL;
    }
    uint64_t start_ms = fogpay_clock_monotonic_ms();
    for (;;) {
        uint64_t elapsed_ms = fogpay_clock_monotonic_ms() - start_ms;
        if (elapsed_ms >= (uint64_t)conn->timeout_ms) {
            fprintf(stderr, "fogpayctl: no reply within %d ms\n", conn->timeout_ms);
            return NULL;
        }
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *msg = NULL;
        rc = MQTTClient_receive(client, &topic, &topic_len, &msg,
                                (unsigned long)(conn->timeout_ms - elapsed_ms));
        if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
            fprintf(stderr, "fogpayctl: the connection was lost while waiting for the reply\n");
            return NULL;
        }
        if (msg == NULL) {
            continue;
        }
        char *text = strndup(msg->payload, (size_t)msg->payloadlen);
        MQTTClient_freeMessage(&msg);
        MQTTClient_free(topic);
        cJSON *reply = text ? cJSON_Parse(text) : NULL;
        bool ours = reply != NULL && online__matches(reply, correlation);
        cJSON_Delete(reply);
        if (ours) {
            return text;
        }
        free(text);
    }
}

char *fogpayctl_online_exchange(const fogpayctl_connection *conn, const char *payload,
                                const char *correlation)
{
    char uri[300];
    snprintf(uri, sizeof uri, "%s://%s:%d", conn->cafile ? "ssl" : "tcp", conn->host, conn->port);
    MQTTClient client = NULL;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_5;
    if (MQTTClient_createWithOptions(&client, uri, correlation, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                     &create) != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpayctl: cannot create an MQTT client for %s\n", uri);
        return NULL;
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
    char *reply = NULL;
    if (r.reasonCode != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "fogpayctl: cannot connect to %s as %s (%d)\n", uri,
                conn->username ? conn->username : "(anonymous)", r.reasonCode);
    } else {
        reply = online__exchange(client, conn, payload, correlation);
        MQTTClient_disconnect5(client, 1000, MQTTREASONCODE_NORMAL_DISCONNECTION, NULL);
    }
    MQTTResponse_free(r);
    MQTTClient_destroy(&client);
    return reply;
}
