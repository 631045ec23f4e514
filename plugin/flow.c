/*
 * flow.c - the per-device limit of answers owed: no device can make the
 * broker queue more receipts for it than the broker keeps.
 *
 * Why a count per window. Every device message the gateway takes gets one
 * receipt, which Mosquitto queues for the device until the device reads
 * it; over max_queued_messages the broker drops receipts ("Outgoing
 * messages are being dropped"). The plugin API of Mosquitto 2.0 tells a
 * plugin neither a client's queue length nor its acknowledgements, so the
 * gateway bounds what it can: the messages it answers per device in each
 * window of FOGPAY_FLOW_WINDOW_MS. Over the limit (plugin_opt_
 * device_answers_per_s, at most FOGPAY_FLOW_ANSWERS_MAX) the first
 * message refused in a window is answered with too_many_pending (before
 * its signature is checked), the ones after it in the same window are
 * dropped unanswered, and a device refused in FOGPAY_FLOW_STRIKES_MAX
 * windows in a row is disconnected: a device that pipelines without
 * reading can queue at most (answers + 1) x (strikes + 1) receipts, which
 * FOGPAY_BROKER_QUEUED_MIN (fogpay_limits.h) states and deploy/mosquitto.conf
 * provides. The agent resends what was not answered, and the gateway
 * answers a repeat with the original receipt, so nothing is lost.
 *
 * The table is an open-addressed hash of device ids, growing by doubling
 * up to FOGPAY_FLOW_DEVICES_MAX; an entry whose window has passed is idle
 * and is reused when the table would otherwise grow. Owned by the gateway,
 * on the broker's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

/* FNV-1a over the device id. */
static uint64_t flow_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 1099511628211ull;
    }
    return h;
}

static bool flow_idle(const fogpay_flow_entry *e, uint64_t now_ms)
{
    /* Two windows on, flow_roll would start it afresh: nothing to keep. */
    return e->device_id[0] == '\0' || now_ms >= e->window_ms + 2 * FOGPAY_FLOW_WINDOW_MS;
}

/* The entry of device_id, or the free or idle slot where it goes. */
static fogpay_flow_entry *flow_slot(fogpay_flow *f, const char *device_id, uint64_t now_ms)
{
    size_t mask = f->capacity - 1;
    fogpay_flow_entry *reusable = NULL;
    for (size_t i = flow_hash(device_id) & mask, n = 0; n < f->capacity; i = (i + 1) & mask, n++) {
        fogpay_flow_entry *e = &f->entries[i];
        if (e->device_id[0] == '\0') {
            return reusable ? reusable : e;
        }
        if (strcmp(e->device_id, device_id) == 0) {
            return e;
        }
        if (reusable == NULL && flow_idle(e, now_ms)) {
            reusable = e;
        }
    }
    return reusable;
}

/* Rebuilds the table without its idle entries, twice as large when the
 * busy ones alone would fill half of it. */
static bool flow_rehash(fogpay_flow *f, uint64_t now_ms)
{
    size_t busy = 0;
    for (size_t i = 0; i < f->capacity; i++) {
        busy += !flow_idle(&f->entries[i], now_ms);
    }
    size_t capacity = f->capacity ? f->capacity : FOGPAY_FLOW_DEVICES_MIN;
    if ((busy + 1) * 2 > capacity) {
        capacity *= 2;
    }
    if (capacity > FOGPAY_FLOW_DEVICES_MAX) {
        return false;
    }
    fogpay_flow_entry *old = f->entries;
    size_t old_capacity = f->capacity;
    f->entries = calloc(capacity, sizeof *f->entries);
    if (f->entries == NULL) {
        f->entries = old;
        return false;
    }
    f->capacity = capacity;
    f->count = 0;
    for (size_t i = 0; i < old_capacity; i++) {
        if (!flow_idle(&old[i], now_ms)) {
            *flow_slot(f, old[i].device_id, now_ms) = old[i];
            f->count++;
        }
    }
    free(old);
    return true;
}

/* The entry of device_id, taken or made; NULL when the table is full. */
static fogpay_flow_entry *flow_entry(fogpay_flow *f, const char *device_id, uint64_t now_ms)
{
    fogpay_flow_entry *e = f->capacity ? flow_slot(f, device_id, now_ms) : NULL;
    bool empty_slot = e == NULL || e->device_id[0] == '\0';
    if (empty_slot && (f->count + 1) * 2 > f->capacity && flow_rehash(f, now_ms)) {
        e = flow_slot(f, device_id, now_ms);
    }
    if (e == NULL) {
        return NULL;
    }
    if (strcmp(e->device_id, device_id) != 0) {
        if (e->device_id[0] == '\0') {
            f->count++;
        }
        memset(e, 0, sizeof *e);
        strncpy(e->device_id, device_id, FOGPAY_DEVICE_ID_MAX);
        e->window_ms = now_ms;
    }
    return e;
}

/* Starts a new window when the current one has passed; a window that
 * ended without refusals clears the strikes. */
static void flow_roll(fogpay_flow_entry *e, uint64_t now_ms)
{
    if (now_ms < e->window_ms + FOGPAY_FLOW_WINDOW_MS) {
        return;
    }
    bool refused = e->refused > 0;
    bool consecutive = now_ms < e->window_ms + 2 * FOGPAY_FLOW_WINDOW_MS;
    e->strikes = refused && consecutive ? e->strikes : 0;
    e->window_ms = now_ms;
    e->answered = 0;
    e->refused = 0;
}

fogpay_flow_verdict fogpay_flow_admit(fogpay_flow *f, const char *device_id, uint32_t answers_max,
                                      uint64_t now_ms)
{
    fogpay_flow_entry *e = flow_entry(f, device_id, now_ms);
    if (e == NULL) {
        /* The table is full of busy devices: refuse rather than owe. */
        return FOGPAY_FLOW_REFUSE_SILENT;
    }
    flow_roll(e, now_ms);
    if (e->answered < answers_max && e->answered < FOGPAY_FLOW_ANSWERS_MAX) {
        e->answered++;
        return FOGPAY_FLOW_ADMIT;
    }
    if (e->refused++ > 0) {
        return FOGPAY_FLOW_REFUSE_SILENT;
    }
    if (++e->strikes >= FOGPAY_FLOW_STRIKES_MAX) {
        e->strikes = 0;
        return FOGPAY_FLOW_REFUSE_DISCONNECT;
    }
    return FOGPAY_FLOW_REFUSE_ANSWER;
}

void fogpay_flow_free(fogpay_flow *f)
{
    free(f->entries);
    memset(f, 0, sizeof *f);
}
