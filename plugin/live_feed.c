/*
 * live_feed.c - one JSON object a committed answer on
 * $SYS/broker/fogpay/live (live_feed.h):
 *
 *   {"device":"car-7","seq":3,"kind":"intent","status":"settled",
 *    "transfer":5,"amount":"4.20","currency":"EUR","payee":"charger-1",
 *    "balance":"45.80","time":1764680000000}
 *
 * A refusal has "status":"rejected" and "reason" (the reason code's
 * name) instead of the transfer and balance; the amount, currency and
 * payee are those of an authentic intent only (a forged one says nothing).
 * time is the gateway's clock in milliseconds when the message came.
 */
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_currency.h"
#include "gateway.h"
#include "live_feed.h"

static const char *live_kind(uint8_t kind)
{
    static const char *const names[] = {
        [FOGPAY_RECEIPT_INTENT] = "intent",
        [FOGPAY_RECEIPT_USAGE] = "usage",
        [FOGPAY_RECEIPT_HOLD] = "hold",
        [FOGPAY_RECEIPT_BIND] = "bind",
    };
    return kind <= FOGPAY_RECEIPT_BIND ? names[kind] : "message";
}

static const char *live_status(uint8_t status)
{
    static const char *const names[] = {
        [FOGPAY_STATUS_SETTLED] = "settled",
        [FOGPAY_STATUS_REJECTED] = "rejected",
        [FOGPAY_STATUS_STORED] = "stored",
        [FOGPAY_STATUS_HELD] = "held",
    };
    return status <= FOGPAY_STATUS_HELD ? names[status] : "answered";
}

static void live_amount(cJSON *o, const char *name, int64_t minor, uint16_t currency)
{
    int exponent = 0;
    char text[32];
    fogpay_currency_code(currency, &exponent);
    fogpay_amount_format(minor, exponent, text, sizeof text);
    cJSON_AddStringToObject(o, name, text);
}

/* The object describing job, or NULL when out of memory. */
static cJSON *live_object(const fogpay_job *job)
{
    const fogpay_receipt *r = &job->receipt;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(o, "device", job->device_id);
    cJSON_AddNumberToObject(o, "seq", (double)job->seq);
    cJSON_AddStringToObject(o, "kind", live_kind(job->kind));
    cJSON_AddStringToObject(o, "status", live_status(r->status));
    if (r->status == FOGPAY_STATUS_REJECTED) {
        cJSON_AddStringToObject(o, "reason", fogpay_error_name((fogpay_error)r->reason));
    }
    if (job->position != 0) {
        cJSON_AddNumberToObject(o, "transfer", (double)job->position);
    }
    if (job->kind == FOGPAY_RECEIPT_INTENT && job->authentic) {
        const fogpay_intent *in = &job->intent;
        int exponent = 0;
        live_amount(o, "amount", (int64_t)in->amount_minor, in->currency);
        cJSON_AddStringToObject(o, "currency", fogpay_currency_code(in->currency, &exponent));
        cJSON_AddStringToObject(o, "payee", in->payee_device);
    }
    if (r->has_balance && r->status != FOGPAY_STATUS_REJECTED) {
        live_amount(o, "balance", r->balance_after_minor, r->currency);
    }
    cJSON_AddNumberToObject(o, "time", (double)job->now_ms);
    return o;
}

void fogpay_live_feed_publish(const fogpay_gateway *gw, const fogpay_job *job)
{
    if (!gw->options.metrics_live) {
        return;
    }
    cJSON *o = live_object(job);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        return;
    }
    size_t len = strlen(text);
    char *copy = mosquitto_malloc(len);
    if (copy != NULL) {
        memcpy(copy, text, len);
        if (mosquitto_broker_publish(NULL, FOGPAY_LIVE_FEED_TOPIC, (int)len, copy, 0, false,
                                     NULL) != MOSQ_ERR_SUCCESS) {
            mosquitto_free(copy);
        }
    }
    cJSON_free(text);
}
