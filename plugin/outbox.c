/*
 * outbox.c - the group commit that makes "settled means durable" hold: it
 * moves the ring's jobs through settlement, recording and the commit, and
 * publishes their answers after it (gateway.h's top comment has the way).
 *
 * Every answer to a device message goes out in arrival order, after the
 * commit of the group it was settled in: a settled receipt must not leave
 * before its transfer is durable, and a repeat answered from the ledger
 * within the same group must not overtake the commit of the original
 * either. The commit is synchronous=FULL (fsync). Each answer is published
 * once at QoS 1: on the device's receipt topic, or, for an MQTT 5 message
 * whose response topic is one of the device's own reply topics, on that
 * topic only, to that client only, with the request's correlation data.
 *
 * Ownership: a job owns its response topic and correlation data copies
 * (malloc) until it is answered or dropped; payloads handed to
 * mosquitto_broker_publish() come from mosquitto_malloc and belong to the
 * broker once the call succeeds.
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>

#include "fogpay_clock.h"
#include "gateway.h"
#include "live_feed.h"

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

void fogpay_outbox_reply_details(const fogpay_gateway *gw, fogpay_job *job,
                                 const struct mosquitto_evt_message *ev)
{
    job->response_topic = NULL;
    job->correlation = NULL;
    job->correlation_len = 0;
    if (!ev->properties) {
        return;
    }
    job->response_topic = outbox_response_topic(gw, job->device_id, ev->properties);
    if (job->response_topic) {
        void *data = NULL;
        uint16_t data_len = 0;
        if (mosquitto_property_read_binary(ev->properties, MQTT_PROP_CORRELATION_DATA, &data,
                                           &data_len, false)) {
            job->correlation = data;
            job->correlation_len = data_len;
        }
    }
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

void fogpay_outbox_job_free(fogpay_job *job)
{
    free(job->response_topic);
    free(job->correlation);
    job->response_topic = NULL;
    job->correlation = NULL;
}

/* Publishes a job's answer once: on its response topic when it has one of
 * the device's own, else on the receipt topic. */
static void outbox_answer(const fogpay_gateway *gw, const fogpay_job *job)
{
    char topic[FOGPAY_TOPIC_MAX];
    fogpay_error built = fogpay_topic_build(gw->options.topic_prefix, FOGPAY_TOPIC_RECEIPT,
                                            job->device_id, NULL, topic, sizeof topic);
    if (built != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: no receipt topic for device %s (%s); its receipt is not "
                             "published",
                             job->device_id, fogpay_error_string(built));
        return;
    }
    if (!job->response_topic || strcmp(job->response_topic, topic) == 0) {
        outbox_publish(NULL, topic, job->answer, job->answer_len, NULL);
        return;
    }
    mosquitto_property *props = NULL;
    if (job->correlation) {
        mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, job->correlation,
                                      job->correlation_len);
    }
    outbox_publish(job->device_id, job->response_topic, job->answer, job->answer_len, props);
}

/* After a settled instalment, its plan's notice; after an instalment
 * refused for its amount (its usage part grew since the last notice), a
 * notice with the amount due now, so that the device can pay it. */
static void outbox_plan_notice(fogpay_gateway *gw, const fogpay_job *job)
{
    const fogpay_receipt *r = &job->receipt;
    if (r->plan_id[0] != '\0') {
        fogpay_command_send_plan(gw, r->plan_id);
    } else if (job->kind == FOGPAY_RECEIPT_INTENT && r->status == FOGPAY_STATUS_REJECTED &&
               r->reason == FOGPAY_ERR_INSTALMENT_AMOUNT && job->intent.plan_id[0] != '\0') {
        fogpay_command_send_plan(gw, job->intent.plan_id);
    }
}

/* Ends the group: commits it (or rolls it back when a record failed), then
 * publishes the answers of [head, settle) in order, or withholds them all
 * when nothing of the group was settled. A settled instalment's answer is
 * followed by its plan's notice, once the instalment is durable. */
static void outbox_commit(fogpay_gateway *gw)
{
    fogpay_engine *e = &gw->engine;
    bool committed = true;
    if (gw->in_transaction) {
        gw->in_transaction = false;
        uint64_t started_ns = fogpay_engine_now_ns();
        fogpay_error err = e->group_failed ? FOGPAY_ERR_STORAGE : fogpay_ledger_commit(gw->ledger);
        if (err == FOGPAY_OK) {
            fogpay_metrics_commit(&gw->metrics, e->group_count,
                                  (fogpay_engine_now_ns() - started_ns) / 1000u);
        }
        if (err != FOGPAY_OK) {
            committed = false;
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: %s of %zu device messages failed (%s: %s); nothing "
                                 "of them is settled and their receipts are withheld",
                                 e->group_failed ? "recording" : "commit", e->group_count,
                                 fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
            fogpay_ledger_rollback(gw->ledger);
        }
    }
    for (; e->head != e->settle; e->head++) {
        fogpay_job *job = fogpay_engine_job(e, e->head);
        if (committed && job->answer_len > 0) {
            fogpay_note_message_deliver(gw, job); /* the notes before their receipt */
            outbox_answer(gw, job);
            fogpay_live_feed_publish(gw, job);
        }
        if (committed && job->record) {
            outbox_plan_notice(gw, job);
        }
        fogpay_pending_remove(&gw->pending, job->device_id);
        fogpay_outbox_job_free(job);
        fogpay_engine_set_state(job, FOGPAY_JOB_FREE);
    }
    e->group_count = 0;
    e->group_closing = false;
    e->group_failed = false;
    fogpay_engine_set_deadline(e, 0);
}

/* Records every job at the record cursor whose receipt is signed. */
static bool outbox_record(fogpay_gateway *gw)
{
    fogpay_engine *e = &gw->engine;
    bool moved = false;
    while (e->record != e->settle) {
        fogpay_job *job = fogpay_engine_job(e, e->record);
        fogpay_job_state st = fogpay_engine_state(job);
        if (st == FOGPAY_JOB_SIGNED || st == FOGPAY_JOB_REPEAT) {
            if (!fogpay_device_message_record(gw, job)) {
                e->group_failed = true;
            }
        } else if (st != FOGPAY_JOB_ANSWERED) {
            break; /* still at a worker */
        }
        e->record++;
        moved = true;
    }
    return moved;
}

/* Settles every verified job at the settle cursor while the group is open. */
static bool outbox_settle(fogpay_gateway *gw)
{
    fogpay_engine *e = &gw->engine;
    bool moved = false;
    while (!e->group_closing && e->settle != e->tail) {
        fogpay_job *job = fogpay_engine_job(e, e->settle);
        if (fogpay_engine_state(job) != FOGPAY_JOB_VERIFIED) {
            break;
        }
        if (e->group_count == 0) {
            e->group_opened_ns = fogpay_engine_now_ns();
            fogpay_engine_set_deadline(e, e->group_opened_ns + FOGPAY_GROUP_DEADLINE_US * 1000ull);
        }
        fogpay_device_message_settle(gw, job);
        e->settle++;
        e->group_count++;
        e->group_closing = e->group_count >= FOGPAY_GROUP_MAX;
        moved = true;
    }
    return moved;
}

/* One pass over the ring; force closes the group now. True when a job
 * moved. */
static bool outbox_step(fogpay_gateway *gw, bool force)
{
    fogpay_engine *e = &gw->engine;
    bool moved = outbox_record(gw);
    if (e->group_count > 0 && !e->group_closing &&
        (force ||
         fogpay_engine_now_ns() >= e->group_opened_ns + FOGPAY_GROUP_DEADLINE_US * 1000ull)) {
        e->group_closing = true;
        fogpay_engine_set_deadline(e, 0); /* seen: no more wakes for it */
    }
    if (e->group_count > 0 && e->group_closing && e->record == e->settle) {
        outbox_commit(gw);
        /* Between groups no transaction is open: sync and the metrics'
         * gauges read only what is committed (a busy gateway may have a
         * group open at every tick). */
        fogpay_sync_tick(gw, fogpay_clock_wall_ms());
        fogpay_metrics_tick(gw);
        moved = true;
    }
    return outbox_settle(gw) || moved;
}

void fogpay_outbox_run(fogpay_gateway *gw)
{
    fogpay_engine_seen(&gw->engine);
    for (size_t pass = 0; pass < FOGPAY_ENGINE_JOBS && outbox_step(gw, false); pass++) {
    }
}

void fogpay_outbox_flush(fogpay_gateway *gw)
{
    fogpay_engine *e = &gw->engine;
    if (!e->started) {
        return;
    }
    fogpay_engine_seen(e);
    while (outbox_step(gw, true) || e->group_count > 0) {
        if (e->group_count > 0 && e->record != e->settle) {
            fogpay_engine_wait(e);
            fogpay_engine_seen(e);
        }
    }
}
