/*
 * agent_client.c - the MQTT connection of the agent over paho.mqtt.c's
 * synchronous client, MQTT 3.1.1 or 5, plain or TLS.
 *
 * paho's synchronous client without callbacks is single-threaded: nothing
 * runs between the agent's calls, so the journal and state need no locks.
 * paho keeps no persistence of its own (MQTTCLIENT_PERSISTENCE_NONE): the
 * journal is the agent's store and forward, and a publish that was cut off
 * is resent from it with its original bytes on the next connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTClient.h>

#include "agent_bytes.h"
#include "agent_client.h"
#include "fogpay_socket.h"

struct fogpay_client {
    fogpay_client_options opts;
    MQTTClient handle;
    bool connected;
};

fogpay_error fogpay_client_create(const fogpay_client_options *opts, fogpay_client **out)
{
    if (!opts || !out || (opts->mqtt_version != 3 && opts->mqtt_version != 5)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_client *c = calloc(1, sizeof *c);
    if (!c) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    c->opts = *opts;
    char uri[FOGPAY_AGENT_HOST_MAX + 32];
    snprintf(uri, sizeof uri, "%s://%s:%d", opts->cafile[0] ? "ssl" : "tcp", opts->host,
             opts->port);
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = opts->mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    if (MQTTClient_createWithOptions(&c->handle, uri, opts->device_id, MQTTCLIENT_PERSISTENCE_NONE,
                                     NULL, &create) != MQTTCLIENT_SUCCESS) {
        free(c);
        return FOGPAY_ERR_CONFIG;
    }
    *out = c;
    return FOGPAY_OK;
}

void fogpay_client_destroy(fogpay_client *c)
{
    if (!c) {
        return;
    }
    fogpay_client_disconnect(c);
    MQTTClient_destroy(&c->handle);
    free(c);
}

static fogpay_error client_subscribe(fogpay_client *c, const char *const *topics, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int rc;
        if (c->opts.mqtt_version == 5) {
            MQTTResponse r = MQTTClient_subscribe5(c->handle, topics[i], 1, NULL, NULL);
            rc = r.reasonCode <= MQTTREASONCODE_GRANTED_QOS_2 ? MQTTCLIENT_SUCCESS : -1;
            MQTTResponse_free(r);
        } else {
            rc = MQTTClient_subscribe(c->handle, topics[i], 1);
        }
        if (rc != MQTTCLIENT_SUCCESS) {
            fprintf(stderr, "fogpay-agent: subscription to %s refused\n", topics[i]);
            return FOGPAY_ERR_NETWORK;
        }
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_client_connect(fogpay_client *c, const char *const *topics, size_t count)
{
    fogpay_client_disconnect(c);
    MQTTClient_connectOptions v3 = MQTTClient_connectOptions_initializer;
    MQTTClient_connectOptions v5 = MQTTClient_connectOptions_initializer5;
    MQTTClient_connectOptions *o = c->opts.mqtt_version == 5 ? &v5 : &v3;
    o->keepAliveInterval = FOGPAY_CLIENT_KEEPALIVE_S;
    o->cleansession = 0;
    o->cleanstart = 0;
    o->reliable = 0;
    o->connectTimeout = (int)((c->opts.timeout_ms + 999) / 1000);
    o->username = c->opts.device_id;
    o->password = c->opts.has_password ? c->opts.password : NULL;
    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    if (c->opts.cafile[0]) {
        ssl.trustStore = c->opts.cafile;
        ssl.enableServerCertAuth = 1;
        if (c->opts.certfile[0]) {
            ssl.keyStore = c->opts.certfile;
            ssl.privateKey = c->opts.keyfile[0] ? c->opts.keyfile : NULL;
        }
        o->ssl = &ssl;
    }
    int rc;
    if (c->opts.mqtt_version == 5) {
        MQTTProperties props = MQTTProperties_initializer;
        MQTTProperty expiry = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL};
        expiry.value.integer4 = FOGPAY_CLIENT_SESSION_EXPIRY_S;
        MQTTProperties_add(&props, &expiry);
        MQTTResponse r = MQTTClient_connect5(c->handle, o, &props, NULL);
        rc = r.reasonCode;
        MQTTResponse_free(r);
        MQTTProperties_free(&props);
    } else {
        rc = MQTTClient_connect(c->handle, o);
    }
    if (rc != MQTTCLIENT_SUCCESS) {
        return FOGPAY_ERR_NETWORK;
    }
    c->connected = true;
    /* paho's new socket, without Nagle: a receipt's PUBACK and the next
     * intent go out at once (see fogpay_socket.h). */
    fogpay_socket_nodelay_all();
    fogpay_error err = client_subscribe(c, topics, count);
    if (err != FOGPAY_OK) {
        fogpay_client_disconnect(c);
    }
    return err;
}

void fogpay_client_disconnect(fogpay_client *c)
{
    if (!c->connected) {
        return;
    }
    if (MQTTClient_isConnected(c->handle)) {
        if (c->opts.mqtt_version == 5) {
            MQTTClient_disconnect5(c->handle, 500, MQTTREASONCODE_NORMAL_DISCONNECTION, NULL);
        } else {
            MQTTClient_disconnect(c->handle, 500);
        }
    }
    c->connected = false;
}

bool fogpay_client_connected(fogpay_client *c)
{
    if (c->connected && !MQTTClient_isConnected(c->handle)) {
        c->connected = false;
    }
    return c->connected;
}

/* One attempt at handing the publish to paho; the MQTTClient_* code. */
static int client_publish_once(fogpay_client *c, const char *topic, const uint8_t *payload,
                               size_t len, const char *response_topic, uint64_t correlation)
{
    MQTTClient_deliveryToken token = 0;
    int rc;
    if (c->opts.mqtt_version == 5) {
        MQTTProperties props = MQTTProperties_initializer;
        uint8_t corr[8];
        agent_store_be64(corr, correlation);
        if (response_topic) {
            MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC};
            p.value.data.data = (char *)response_topic;
            p.value.data.len = (int)strlen(response_topic);
            MQTTProperties_add(&props, &p);
            MQTTProperty q = {.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA};
            q.value.data.data = (char *)corr;
            q.value.data.len = (int)sizeof corr;
            MQTTProperties_add(&props, &q);
        }
        MQTTResponse r =
            MQTTClient_publish5(c->handle, topic, (int)len, payload, 1, 0, &props, &token);
        rc = r.reasonCode;
        MQTTResponse_free(r);
        MQTTProperties_free(&props);
    } else {
        rc = MQTTClient_publish(c->handle, topic, (int)len, payload, 1, 0, &token);
    }
    return rc;
}

fogpay_error fogpay_client_publish(fogpay_client *c, const char *topic, const uint8_t *payload,
                                   size_t len, const char *response_topic, uint64_t correlation)
{
    int rc = MQTTCLIENT_MAX_MESSAGES_INFLIGHT;
    for (int attempt = 0;
         attempt < FOGPAY_CLIENT_PUBLISH_ATTEMPTS && rc == MQTTCLIENT_MAX_MESSAGES_INFLIGHT;
         attempt++) {
        if (!fogpay_client_connected(c)) {
            return FOGPAY_ERR_NETWORK;
        }
        rc = client_publish_once(c, topic, payload, len, response_topic, correlation);
        if (rc == MQTTCLIENT_MAX_MESSAGES_INFLIGHT) {
            /* paho's window is full (a journal re-sent after a reconnect):
             * wait for the oldest message in flight. */
            MQTTClient_deliveryToken *pending = NULL;
            if (MQTTClient_getPendingDeliveryTokens(c->handle, &pending) == MQTTCLIENT_SUCCESS &&
                pending != NULL) {
                MQTTClient_waitForCompletion(c->handle, pending[0], c->opts.timeout_ms);
            }
            MQTTClient_free(pending);
        }
    }
    if (rc != MQTTCLIENT_SUCCESS) {
        return fogpay_client_connected(c) ? FOGPAY_ERR_TIMEOUT : FOGPAY_ERR_NETWORK;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_client_receive(fogpay_client *c, uint32_t timeout_ms,
                                   fogpay_client_message *out)
{
    if (!fogpay_client_connected(c)) {
        return FOGPAY_ERR_NETWORK;
    }
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *msg = NULL;
    int rc = MQTTClient_receive(c->handle, &topic, &topic_len, &msg, timeout_ms);
    if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
        c->connected = false;
        return FOGPAY_ERR_NETWORK;
    }
    if (!msg) {
        if (topic) {
            MQTTClient_free(topic);
        }
        return fogpay_client_connected(c) ? FOGPAY_ERR_TIMEOUT : FOGPAY_ERR_NETWORK;
    }
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    if (tlen > FOGPAY_TOPIC_MAX - 1) {
        tlen = FOGPAY_TOPIC_MAX - 1; /* no device topic is that long; it will not match */
    }
    memcpy(out->topic, topic, tlen);
    out->topic[tlen] = '\0';
    out->oversized = msg->payloadlen < 0 || (size_t)msg->payloadlen > FOGPAY_MESSAGE_MAX;
    out->len = out->oversized ? 0 : (size_t)msg->payloadlen;
    if (out->len > 0) {
        memcpy(out->payload, msg->payload, out->len);
    }
    MQTTClient_freeMessage(&msg);
    MQTTClient_free(topic);
    return FOGPAY_OK;
}

uint32_t fogpay_client_backoff_ms(unsigned attempt)
{
    uint32_t step = FOGPAY_CLIENT_BACKOFF_MIN_MS;
    for (unsigned i = 0; i < attempt && step < FOGPAY_CLIENT_BACKOFF_MAX_MS; i++) {
        step *= 2;
    }
    if (step > FOGPAY_CLIENT_BACKOFF_MAX_MS) {
        step = FOGPAY_CLIENT_BACKOFF_MAX_MS;
    }
    uint32_t half = step / 2;
    return half + (uint32_t)((uint64_t)random() % (half + 1));
}
