/*
 * outbox.c - the group commit that makes "settled means durable" hold:
 * the group transaction and the outbox of signed answers that waits for it.
 *
 * Every answer to a device message goes through the outbox, in arrival
 * order: a settled receipt must not leave before its transfer is durable,
 * and a repeat answered from the ledger within the same group must not
 * overtake the commit of the original either. fogpay_outbox_commit()
 * commits (fsync, synchronous=FULL) and then publishes each receipt at QoS 1
 * on the device's receipt topic and, for MQTT 5 clients that asked, on their
 * response topic with their correlation data.
 *
 * Ownership: the outbox owns the response topic and correlation data copies
 * (malloc) until they are published or dropped; payloads handed to
 * mosquitto_broker_publish() come from mosquitto_malloc and belong to the
 * broker once the call succeeds.
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>

#include "gateway.h"

/* The response topic of an MQTT 5 request, if it lies in the device's own
 * reply space or is its receipt topic; another device's topics are never
 * written to on a client's say-so. */
static char *outbox_response_topic(const fogpay_gateway *gw, const char *device_id,
                                   const mosquitto_property *props)
{
    char *topic = NULL;
    if (!props || !mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &topic, false)) {
        return NULL;
    }
    char owner[FOGPAY_TOPIC_ID_MAX + 1];
    fogpay_topic_kind kind = fogpay_topic_parse_id(gw->options.topic_prefix, topic, owner);
    if ((kind != FOGPAY_TOPIC_REPLY && kind != FOGPAY_TOPIC_RECEIPT) ||
        strcmp(owner, device_id) != 0) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE,
                             "fogpay: device %s asked for a response on %s, outside its topics; "
                             "answering on its receipt topic only",
                             device_id, topic);
        free(topic);
        return NULL;
    }
    return topic;
}

fogpay_error fogpay_outbox_queue(fogpay_gateway *gw, const char *device_id, const uint8_t *receipt,
                                 size_t len, const struct mosquitto_evt_message *ev)
{
    if (len > FOGPAY_MESSAGE_MAX) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    if (gw->outbox_count == FOGPAY_GROUP_MAX) {
        fogpay_outbox_commit(gw);
    }
    fogpay_outbox_entry *e = &gw->outbox[gw->outbox_count];
    memset(e, 0, sizeof *e);
    strcpy(e->device_id, device_id);
    memcpy(e->receipt, receipt, len);
    e->receipt_len = len;
    if (ev && ev->properties) {
        e->response_topic = outbox_response_topic(gw, device_id, ev->properties);
        if (e->response_topic) {
            void *data = NULL;
            uint16_t data_len = 0;
            if (mosquitto_property_read_binary(ev->properties, MQTT_PROP_CORRELATION_DATA, &data,
                                               &data_len, false)) {
                e->correlation = data;
                e->correlation_len = data_len;
            }
        }
    }
    gw->outbox_count++;
    return FOGPAY_OK;
}

fogpay_error fogpay_outbox_begin(fogpay_gateway *gw)
{
    if (gw->in_transaction) {
        return FOGPAY_OK;
    }
    fogpay_error err = fogpay_ledger_begin(gw->ledger);
    if (err == FOGPAY_OK) {
        gw->in_transaction = true;
    }
    return err;
}

/* Publishes a copy of len bytes on topic; to one client when client_id is
 * given. Ownership of props passes to the broker on success. */
static int outbox_publish(const char *client_id, const char *topic, const uint8_t *bytes,
                          size_t len, mosquitto_property *props)
{
    void *copy = mosquitto_malloc(len);
    if (!copy) {
        mosquitto_property_free_all(&props);
        return MOSQ_ERR_NOMEM;
    }
    memcpy(copy, bytes, len);
    int rc = mosquitto_broker_publish(client_id, topic, (int)len, copy, 1, false, props);
    if (rc != MOSQ_ERR_SUCCESS) {
        mosquitto_free(copy);
        mosquitto_property_free_all(&props);
    }
    return rc;
}

static void outbox_entry_free(fogpay_outbox_entry *e)
{
    free(e->response_topic);
    free(e->correlation);
    e->response_topic = NULL;
    e->correlation = NULL;
}

void fogpay_outbox_commit(fogpay_gateway *gw)
{
    bool committed = true;
    if (gw->in_transaction) {
        gw->in_transaction = false;
        fogpay_error err = fogpay_ledger_commit(gw->ledger);
        if (err != FOGPAY_OK) {
            committed = false;
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: commit of %zu device messages failed (%s: %s); nothing "
                                 "of them is settled and their receipts are withheld",
                                 gw->outbox_count, fogpay_error_name(err),
                                 fogpay_ledger_last_message(gw->ledger));
            fogpay_ledger_rollback(gw->ledger);
        }
    }
    for (size_t i = 0; i < gw->outbox_count; i++) {
        fogpay_outbox_entry *e = &gw->outbox[i];
        char topic[FOGPAY_TOPIC_MAX];
        fogpay_error built = FOGPAY_ERR_INVALID_ARGUMENT;
        if (committed) {
            built = fogpay_topic_build(gw->options.topic_prefix, FOGPAY_TOPIC_RECEIPT, e->device_id,
                                       NULL, topic, sizeof topic);
            if (built != FOGPAY_OK) {
                mosquitto_log_printf(MOSQ_LOG_ERR,
                                     "fogpay: no receipt topic for device %s (%s); its settled "
                                     "receipt is not published",
                                     e->device_id, fogpay_error_string(built));
            }
        }
        if (built == FOGPAY_OK) {
            outbox_publish(NULL, topic, e->receipt, e->receipt_len, NULL);
            if (e->response_topic && strcmp(e->response_topic, topic) != 0) {
                mosquitto_property *props = NULL;
                if (e->correlation) {
                    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA,
                                                  e->correlation, e->correlation_len);
                }
                outbox_publish(e->device_id, e->response_topic, e->receipt, e->receipt_len, props);
            }
        }
        outbox_entry_free(e);
    }
    gw->outbox_count = 0;
}
