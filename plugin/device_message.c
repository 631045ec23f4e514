/*
 * device_message.c - the path of every device message (MOSQ_EVT_MESSAGE):
 * payment intents, meter readings (settled at their tariff when the meter
 * is bound), meter bindings (bind_message.c) and hold messages
 * (hold_message.c), admitted on the broker's thread, verified by a worker,
 * settled or stored in the group transaction on the broker's thread, signed
 * by a worker, recorded, and answered through the outbox after the commit
 * (gateway.h's top comment has the threads).
 *
 * Order of checks, cheapest and least trusting first: topic and publisher,
 * the registered device, the device's and the ring's bounds (admission);
 * size, the COSE envelope, the signature with the key the registry binds to
 * the publishing client's id, the payload, the device named inside (a
 * worker); then, in the group transaction, the key that signed a refused
 * message if it is a retired one, (device, seq) repeat or conflict, time
 * window, currency, and the ledger's own checks (status, payee, limits,
 * funds).
 *
 * At admission, the device's flow (flow.c): a device owed too many answers
 * this second is answered too_many_pending, signed by a worker, with no
 * other work done. After the repeat check, the device's chain: the message
 * must link to the device's newest message on its chain, the one settled in
 * the ring and not recorded yet (pending.c) or else the ledger's
 * (fogpay_ledger_message_link). A second message continuing the chain from
 * the same place is a fork: the device's key signs for two devices, so the
 * device is suspended, with the reason in its status event and a warning
 * in the broker's log.
 *
 * Only an authentic message (its signature verified) is recorded under its
 * (device, seq): a forged message must never use up a device's sequence
 * number. Authentic refusals are recorded with their signed rejection, so a
 * repeat gets the same answer, except those that leave the message off the
 * device's chain (fogpay_error_is_off_chain: too_many_pending, chain_gap,
 * chain_fork, seq_conflict). Every refusal is answered with a signed
 * rejection and logged, except at admission beyond the bounds, where the
 * message is dropped unanswered (MOSQ_ERR_ACL_DENIED), without
 * disconnecting the device.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "gateway.h"

void fogpay_device_message_receipt_base(const fogpay_gateway *gw, fogpay_job *job)
{
    fogpay_receipt *r = &job->receipt;
    memset(r, 0, sizeof *r);
    strcpy(r->device_id, job->device_id);
    r->seq = job->seq;
    r->kind = job->kind;
    strcpy(r->gateway_id, gw->options.gateway_id);
    r->time_s = job->now_ms / 1000;
    memcpy(r->intent_hash, job->hash, FOGPAY_HASH_BYTES);
}

/* ---- verification (a worker) ----------------------------------------------- */

/* Verifies the envelope with the device's registered key; on success the
 * payload view is set. */
static fogpay_error verify_signature(const fogpay_job *job, fogpay_bytes *payload)
{
    fogpay_key *key = NULL;
    fogpay_error err =
        fogpay_key_from_public((fogpay_alg)job->alg, job->public_key, job->public_key_len, &key);
    if (err != FOGPAY_OK) {
        return FOGPAY_ERR_KEY_REVOKED; /* no usable key is registered */
    }
    err = fogpay_cose_sign1_open(job->message, job->message_len, key, NULL, payload);
    fogpay_key_free(key);
    return err;
}

/* Decodes the authentic payload; fills job->seq and the decoded message. */
static fogpay_error verify_decode(fogpay_job *job, fogpay_bytes payload)
{
    fogpay_error err;
    const char *named;
    if (job->kind == FOGPAY_RECEIPT_INTENT) {
        err = fogpay_intent_decode(payload.ptr, payload.len, &job->intent);
        named = job->intent.device_id;
        job->seq = err == FOGPAY_OK ? job->intent.seq : job->seq;
    } else if (job->kind == FOGPAY_RECEIPT_BIND) {
        err = fogpay_bind_message_decode(job, payload, &named);
    } else if (job->kind == FOGPAY_RECEIPT_WITHDRAW) {
        err = fogpay_note_message_decode(job, payload, &named);
    } else if (job->kind == FOGPAY_RECEIPT_NOTE_PAYMENT ||
               job->kind == FOGPAY_RECEIPT_NOTE_REDEEM) {
        err = fogpay_note_payment_message_decode(job, payload, &named);
    } else if (job->kind == FOGPAY_RECEIPT_HOLD) {
        err = fogpay_hold_message_decode(payload.ptr, payload.len, &job->hold);
        named = job->hold.device_id;
        job->seq = err == FOGPAY_OK ? job->hold.seq : job->seq;
    } else {
        err = fogpay_usage_decode(payload.ptr, payload.len, &job->usage);
        named = job->usage.device_id;
        job->seq = err == FOGPAY_OK ? job->usage.seq : job->seq;
    }
    if (err == FOGPAY_OK && strcmp(named, job->device_id) != 0) {
        err = FOGPAY_ERR_DEVICE_MISMATCH;
    }
    return err;
}

void fogpay_device_message_verify(fogpay_job *job)
{
    job->authentic = false;
    if (job->admitted != FOGPAY_OK) {
        job->verdict = job->admitted; /* hashed at admission */
        return;
    }
    if (fogpay_sha256(job->message, job->message_len, job->hash) != FOGPAY_OK) {
        job->verdict = FOGPAY_ERR_CRYPTO;
        return;
    }
    if (job->message_len == 0) {
        job->verdict = FOGPAY_ERR_CBOR_TRUNCATED;
        return;
    }
    fogpay_bytes payload = {NULL, 0};
    job->verdict = verify_signature(job, &payload);
    if (job->verdict != FOGPAY_OK) {
        fogpay_cose_sign1 msg;
        if (fogpay_cose_sign1_parse(job->message, job->message_len, &msg) == FOGPAY_OK) {
            fogpay_message_peek_seq(msg.payload.ptr, msg.payload.len, &job->seq);
        }
        return;
    }
    job->verdict = verify_decode(job, payload);
    if (job->verdict != FOGPAY_OK) {
        if (job->seq == 0) {
            fogpay_message_peek_seq(payload.ptr, payload.len, &job->seq);
        }
        return; /* no valid seq to record it under */
    }
    job->authentic = true;
}

/* ---- settlement (the broker's thread) -------------------------------------- */

/* A job that takes its place on the device's chain is its newest
 * message until recorded. */
static void settle_on_chain(fogpay_gateway *gw, const fogpay_job *job)
{
    if (job->record) {
        fogpay_pending_set_head(&gw->pending, job->device_id, job->seq, job->hash);
    }
}

/* Refuses a job with a signed rejection (signed by a worker). Authentic
 * refusals are recorded under their seq. */
void fogpay_device_message_reject(fogpay_gateway *gw, fogpay_job *job, fogpay_error reason)
{
    static const char *const kinds[] = {
        [FOGPAY_RECEIPT_INTENT] = "intent",
        [FOGPAY_RECEIPT_USAGE] = "usage",
        [FOGPAY_RECEIPT_HOLD] = "hold",
        [FOGPAY_RECEIPT_BIND] = "bind",
        [FOGPAY_RECEIPT_WITHDRAW] = "withdraw",
        [FOGPAY_RECEIPT_NOTE_PAYMENT] = "note payment",
        [FOGPAY_RECEIPT_NOTE_REDEEM] = "note redemption",
    };
    gw->rejected_total++;
    fogpay_metrics_refused(&gw->metrics, reason);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: %s %s seq %llu refused: %s",
                         job->kind <= FOGPAY_RECEIPT_NOTE_REDEEM ? kinds[job->kind] : "message",
                         job->device_id, (unsigned long long)job->seq, fogpay_error_name(reason));
    fogpay_ledger_rejection_log(gw->ledger, job->device_id, job->seq, reason, job->now_ms);
    fogpay_device_message_receipt_base(gw, job);
    job->receipt.status = FOGPAY_STATUS_REJECTED;
    job->receipt.reason = (uint16_t)reason;
    job->record = job->authentic && !fogpay_error_is_off_chain(reason);
    job->position = 0;
    settle_on_chain(gw, job);
    fogpay_engine_submit_sign(&gw->engine, job);
}

/* Retired keys tried when a signature fails. */
#define SETTLE_RETIRED_KEYS_CHECKED 4

/* When the registered key refused the signature: tries the device's
 * recently retired keys. One that opens the message and whose overlap
 * window has not ended at the gateway's now (the device's clock is not
 * trusted for this) authenticates it: FOGPAY_OK, the payload decoded into
 * the job. One whose window has ended: FOGPAY_ERR_KEY_REVOKED. None:
 * `refusal`, the registered key's own verdict (FOGPAY_ERR_BAD_SIGNATURE,
 * or FOGPAY_ERR_COSE_ALG_UNSUPPORTED when the header names an algorithm
 * other than the key's). On the broker's thread, as the keys are the
 * ledger's; a device without retired keys costs one lookup. */
static fogpay_error settle_retired_keys(fogpay_gateway *gw, fogpay_job *job, fogpay_error refusal)
{
    for (uint32_t i = 0; i < SETTLE_RETIRED_KEYS_CHECKED; i++) {
        int alg = 0;
        uint8_t pub[FOGPAY_PUBLIC_KEY_MAX];
        size_t pub_len = 0;
        uint64_t until_ms = 0;
        fogpay_key *old = NULL;
        if (fogpay_ledger_device_retired_key(gw->ledger, job->device_id, i, &alg, pub, &pub_len,
                                             &until_ms) != FOGPAY_OK) {
            break;
        }
        if (fogpay_key_from_public((fogpay_alg)alg, pub, pub_len, &old) != FOGPAY_OK) {
            continue;
        }
        fogpay_bytes payload;
        fogpay_error err =
            fogpay_cose_sign1_open(job->message, job->message_len, old, NULL, &payload);
        fogpay_key_free(old);
        if (err != FOGPAY_OK) {
            continue;
        }
        if (job->now_ms >= until_ms) {
            return FOGPAY_ERR_KEY_REVOKED;
        }
        err = verify_decode(job, payload);
        job->authentic = err == FOGPAY_OK;
        return err;
    }
    return refusal;
}

/* FOGPAY_OK when a message created at created_s and living ttl_s is
 * valid at the job's time, else its refusal. */
static fogpay_error settle_time_window(const fogpay_job *job, uint64_t created_s, uint64_t ttl_s)
{
    uint64_t now_s = job->now_ms / 1000;
    if (created_s > now_s + FOGPAY_CLOCK_SKEW_MAX_S) {
        return FOGPAY_ERR_NOT_YET_VALID;
    }
    if (created_s + ttl_s < now_s) {
        return FOGPAY_ERR_EXPIRED;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_device_message_open(fogpay_gateway *gw, const fogpay_job *job,
                                        uint64_t created_s, uint64_t ttl_s)
{
    fogpay_error err = settle_time_window(job, created_s, ttl_s);
    if (err == FOGPAY_OK && fogpay_ledger_savepoint(gw->ledger) != FOGPAY_OK) {
        err = FOGPAY_ERR_STORAGE;
    }
    return err;
}

fogpay_error fogpay_device_message_receipt_transfer(fogpay_gateway *gw, fogpay_job *job,
                                                    fogpay_transfer *t, int64_t balance)
{
    fogpay_receipt *r = &job->receipt;
    r->status = FOGPAY_STATUS_SETTLED;
    r->transfer_id = t->position;
    r->position = t->position;
    r->balance_after_minor = balance;
    r->has_balance = true;
    r->currency = t->currency;
    fogpay_error err = fogpay_ledger_transfer_get(gw->ledger, t->position, t, r->chain_hash);
    r->legs_minor = fogpay_transfer_total(t) - t->amount_minor;
    return err;
}

void fogpay_device_message_settled(fogpay_gateway *gw, fogpay_job *job, fogpay_error err,
                                   uint64_t position)
{
    if (err != FOGPAY_OK) {
        fogpay_ledger_rollback_to(gw->ledger);
        if (!fogpay_error_is_reason(err)) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: settling %s seq %llu failed: %s (%s)",
                                 job->device_id, (unsigned long long)job->seq,
                                 fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
        }
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    fogpay_ledger_release(gw->ledger);
    gw->settled_total += position != 0;
    job->record = true;
    job->position = position;
    settle_on_chain(gw, job);
    fogpay_engine_submit_sign(&gw->engine, job);
}

/* A settled instalment's receipt: where its plan stands now that it is
 * paid (inside the group, so the status counts this instalment). */
static fogpay_error settle_receipt_plan(fogpay_gateway *gw, fogpay_job *job, const char *plan_id)
{
    fogpay_plan_status st;
    fogpay_error err = fogpay_ledger_plan_status(gw->ledger, plan_id, job->now_ms, &st);
    if (err == FOGPAY_OK) {
        fogpay_receipt *r = &job->receipt;
        memcpy(r->plan_id, st.plan_id, sizeof r->plan_id);
        r->paid_up_to_s = st.paid_up_to_ms / 1000;
        r->plan_arrears = st.arrears;
        r->plan_left = st.left;
    }
    return err;
}

/* Settles an authentic intent inside the group; answers it either way. */
static void settle_intent(fogpay_gateway *gw, fogpay_job *job)
{
    const fogpay_intent *in = &job->intent;
    fogpay_error err = FOGPAY_OK;
    if (!fogpay_options_currency_enabled(&gw->options, in->currency)) {
        err = FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_open(gw, job, in->created_s, in->ttl_s);
    }
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    fogpay_transfer t;
    int64_t balance = 0;
    err = fogpay_ledger_settle(gw->ledger, in, job->hash, job->now_ms, &t, &balance);
    fogpay_device_message_receipt_base(gw, job);
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_receipt_transfer(gw, job, &t, balance);
    }
    if (err == FOGPAY_OK && in->hold_s != 0) {
        err = fogpay_hold_receipt_held(gw, job);
    }
    if (err == FOGPAY_OK && t.kind == FOGPAY_TRANSFER_INSTALMENT) {
        err = settle_receipt_plan(gw, job, t.plan_id);
    }
    fogpay_device_message_settled(gw, job, err, err == FOGPAY_OK ? t.position : 0);
}

/* Stores an authentic reading; one of a bound meter settles at its
 * tariff (ledger_meter.c): settled with its charge when it paid one (with
 * its hold and what the hold has left when the binding names a hold),
 * stored with its consumption when its charge is 0, stored alone as the
 * baseline or when the meter is not bound. */
static void settle_usage(fogpay_gateway *gw, fogpay_job *job)
{
    fogpay_error err = fogpay_device_message_open(gw, job, job->usage.created_s, FOGPAY_TTL_MAX_S);
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    fogpay_usage_settlement s;
    err = fogpay_ledger_usage_settle(gw->ledger, &job->usage, job->hash, job->now_ms, &s);
    fogpay_device_message_receipt_base(gw, job);
    fogpay_receipt *r = &job->receipt;
    r->status = FOGPAY_STATUS_STORED;
    if (err == FOGPAY_OK && s.charge_minor != 0) {
        err = fogpay_device_message_receipt_transfer(gw, job, &s.transfer, s.balance_after_minor);
    }
    if (err == FOGPAY_OK && s.consumption != 0) {
        r->charge_minor = s.charge_minor;
        r->consumption = s.consumption;
        memcpy(r->tariff_id, s.tariff_id, sizeof r->tariff_id);
        r->hold_id = s.hold_id; /* charged from a hold: the hold and what it has left */
        r->hold_left_minor = s.hold_left_minor;
    }
    if (err == FOGPAY_OK && s.hold_id != 0) {
        err = fogpay_ledger_hold_held(gw->ledger, job->usage.device_id, s.transfer.currency,
                                      &r->held_minor);
    }
    fogpay_device_message_settled(
        gw, job, err, err == FOGPAY_OK && s.charge_minor != 0 ? s.transfer.position : 0);
}

/* A message that moves no money, stored by its family's settle function
 * (a binding): stored, or refused with the function's reason. */
static void settle_stored(fogpay_gateway *gw, fogpay_job *job, uint64_t created_s,
                          fogpay_error (*store)(fogpay_gateway *, fogpay_job *))
{
    fogpay_error err = fogpay_device_message_open(gw, job, created_s, FOGPAY_TTL_MAX_S);
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    fogpay_device_message_receipt_base(gw, job);
    job->receipt.status = FOGPAY_STATUS_STORED;
    fogpay_device_message_settled(gw, job, store(gw, job), 0);
}

/* An earlier job of the group with the same (device, seq) whose receipt is
 * not recorded yet (the ledger cannot see it), or NULL. Looked for only
 * when the device has another message in the ring. */
static fogpay_job *settle_unrecorded_twin(fogpay_gateway *gw, const fogpay_job *job,
                                          uint32_t *number)
{
    fogpay_engine *e = &gw->engine;
    if (fogpay_pending_count(&gw->pending, job->device_id) < 2) {
        return NULL;
    }
    for (uint32_t n = e->record; n != e->settle; n++) {
        fogpay_job *other = fogpay_engine_job(e, n);
        fogpay_job_state st = fogpay_engine_state(other);
        if ((st == FOGPAY_JOB_SIGN || st == FOGPAY_JOB_SIGNED) && other->record &&
            other->seq == job->seq && strcmp(other->device_id, job->device_id) == 0) {
            *number = n;
            return other;
        }
    }
    return NULL;
}

/* A repeat (the same message again) is answered with the original receipt,
 * a different message under a seq used in the ring is refused; true when
 * job was either. */
static bool settle_repeat(fogpay_gateway *gw, fogpay_job *job)
{
    uint32_t number = 0;
    fogpay_job *twin = settle_unrecorded_twin(gw, job, &number);
    if (twin) {
        if (memcmp(twin->hash, job->hash, FOGPAY_HASH_BYTES) != 0) {
            fogpay_device_message_reject(gw, job, FOGPAY_ERR_SEQ_CONFLICT);
            return true;
        }
        job->original = number;
        fogpay_engine_set_state(job, FOGPAY_JOB_REPEAT);
        return true;
    }
    fogpay_error err =
        fogpay_ledger_message_lookup(gw->ledger, job->device_id, job->seq, job->hash, job->answer,
                                     sizeof job->answer, &job->answer_len);
    if (err == FOGPAY_OK) {
        /* A repeat: the original answer again, nothing moves (a
         * withdrawal's notes go with it again). */
        fogpay_note_message_repeat(gw, job);
        fogpay_engine_set_state(job, FOGPAY_JOB_ANSWERED);
        return true;
    }
    job->answer_len = 0;
    if (err != FOGPAY_ERR_NOT_FOUND && err != FOGPAY_ERR_SEQ_CONFLICT) {
        fogpay_device_message_reject(gw, job, err);
        return true;
    }
    return false; /* a used seq with other content: the chain tells which refusal */
}

/* Where the job stands on the device's chain (FOGPAY_OK, or chain_gap,
 * chain_fork, seq_conflict as fogpay_ledger_message_link() says): against
 * the device's newest message in the ring when the job's seq is above it,
 * else against the ledger's record. */
static fogpay_error settle_link(fogpay_gateway *gw, const fogpay_job *job)
{
    const uint8_t *prev = job->kind == FOGPAY_RECEIPT_INTENT         ? job->intent.prev_hash
                          : job->kind == FOGPAY_RECEIPT_BIND         ? job->bind.prev_hash
                          : job->kind == FOGPAY_RECEIPT_HOLD         ? job->hold.prev_hash
                          : job->kind == FOGPAY_RECEIPT_WITHDRAW     ? job->withdraw.prev_hash
                          : job->kind == FOGPAY_RECEIPT_NOTE_PAYMENT ? job->notepay.prev_hash
                          : job->kind == FOGPAY_RECEIPT_NOTE_REDEEM  ? job->notepay.prev_hash
                                                                     : job->usage.prev_hash;
    uint64_t head_seq = 0;
    uint8_t head[FOGPAY_PREV_HASH_BYTES];
    if (fogpay_pending_head(&gw->pending, job->device_id, &head_seq, head) && job->seq > head_seq) {
        return memcmp(head, prev, FOGPAY_PREV_HASH_BYTES) == 0 ? FOGPAY_OK : FOGPAY_ERR_CHAIN_GAP;
    }
    return fogpay_ledger_message_link(gw->ledger, job->device_id, job->seq, prev);
}

/* A fork of the device's chain: suspends the device (in the group, with
 * the reason in its status event), warns, and refuses the message. */
static void settle_fork(fogpay_gateway *gw, fogpay_job *job)
{
    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         "fogpay: device %s forked its chain at seq %llu: another message already "
                         "continues it, so its key signs for two devices; the device is suspended",
                         job->device_id, (unsigned long long)job->seq);
    fogpay_error err = fogpay_ledger_device_suspend_for(gw->ledger, job->device_id,
                                                        FOGPAY_ERR_CHAIN_FORK, job->now_ms);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: suspending %s failed: %s (%s)", job->device_id,
                             fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
    }
    fogpay_device_message_reject(gw, job, FOGPAY_ERR_CHAIN_FORK);
}

void fogpay_device_message_settle(fogpay_gateway *gw, fogpay_job *job)
{
    if (fogpay_outbox_begin(gw) != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: cannot begin a transaction: %s",
                             fogpay_ledger_last_message(gw->ledger));
        job->answer_len = 0;
        fogpay_engine_set_state(job, FOGPAY_JOB_ANSWERED);
        return;
    }
    fogpay_error verdict = job->verdict;
    if (verdict == FOGPAY_ERR_COSE_ALG_UNSUPPORTED || verdict == FOGPAY_ERR_BAD_SIGNATURE) {
        verdict = settle_retired_keys(gw, job, verdict);
    }
    if (verdict == FOGPAY_OK && job->device_status == FOGPAY_DEVICE_REVOKED) {
        verdict = FOGPAY_ERR_DEVICE_REVOKED;
    }
    if (verdict != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, verdict);
        return;
    }
    if (settle_repeat(gw, job)) {
        return;
    }
    verdict = settle_link(gw, job);
    if (verdict == FOGPAY_ERR_CHAIN_FORK) {
        settle_fork(gw, job);
        return;
    }
    if (verdict != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, verdict);
        return;
    }
    if (job->kind == FOGPAY_RECEIPT_INTENT) {
        settle_intent(gw, job);
    } else if (job->kind == FOGPAY_RECEIPT_BIND) {
        settle_stored(gw, job, job->bind.created_s, fogpay_bind_message_settle);
    } else if (job->kind == FOGPAY_RECEIPT_HOLD) {
        fogpay_hold_message_settle(gw, job);
    } else if (job->kind == FOGPAY_RECEIPT_WITHDRAW) {
        fogpay_note_message_settle(gw, job);
    } else if (job->kind == FOGPAY_RECEIPT_NOTE_PAYMENT) {
        fogpay_note_payment_message_settle(gw, job);
    } else if (job->kind == FOGPAY_RECEIPT_NOTE_REDEEM) {
        fogpay_note_redeem_message_settle(gw, job);
    } else {
        settle_usage(gw, job);
    }
}

/* ---- recording (the broker's thread) --------------------------------------- */

bool fogpay_device_message_record(fogpay_gateway *gw, fogpay_job *job)
{
    if (fogpay_engine_state(job) == FOGPAY_JOB_REPEAT) {
        const fogpay_job *original = fogpay_engine_job(&gw->engine, job->original);
        memcpy(job->answer, original->answer, original->answer_len);
        job->answer_len = original->answer_len;
        fogpay_engine_set_state(job, FOGPAY_JOB_ANSWERED);
        return true;
    }
    /* A refusal that cannot be signed or recorded goes unanswered or
     * unrecorded; a settled message must not stay without its receipt, so
     * the group fails then. */
    bool ok = true;
    bool refusal = job->receipt.status == FOGPAY_STATUS_REJECTED;
    if (job->sign_error != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: signing the receipt of %s seq %llu failed: %s",
                             job->device_id, (unsigned long long)job->seq,
                             fogpay_error_name(job->sign_error));
        ok = refusal;
    } else if (job->record) {
        fogpay_error err = fogpay_ledger_message_record(
            gw->ledger, job->device_id, job->seq, job->kind, job->hash, job->receipt.status,
            job->receipt.reason, job->position, job->answer, job->answer_len, job->now_ms);
        if (err != FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: recording the answer to %s seq %llu failed: %s (%s)",
                                 job->device_id, (unsigned long long)job->seq,
                                 fogpay_error_name(err), fogpay_ledger_last_message(gw->ledger));
            ok = refusal;
        }
    }
    fogpay_engine_set_state(job, FOGPAY_JOB_ANSWERED);
    return ok;
}

/* ---- admission (the broker's thread) --------------------------------------- */

/* Drops a message unanswered at admission. */
static int admit_refuse(fogpay_gateway *gw, const char *device_id, const char *why)
{
    gw->refused_busy_total++;
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "fogpay: message from %s dropped unanswered: %s (%llu dropped so far)",
                         device_id, why, (unsigned long long)gw->refused_busy_total);
    return MOSQ_ERR_ACL_DENIED;
}

/* Fills the admission part of job. */
static void admit_fill(fogpay_gateway *gw, fogpay_job *job, const fogpay_device *device,
                       fogpay_topic_kind topic, const struct mosquitto_evt_message *ev,
                       uint64_t now_ms)
{
    strcpy(job->device_id, device->device_id);
    job->kind = topic == FOGPAY_TOPIC_USAGE      ? FOGPAY_RECEIPT_USAGE
                : topic == FOGPAY_TOPIC_BIND     ? FOGPAY_RECEIPT_BIND
                : topic == FOGPAY_TOPIC_HOLD     ? FOGPAY_RECEIPT_HOLD
                : topic == FOGPAY_TOPIC_WITHDRAW ? FOGPAY_RECEIPT_WITHDRAW
                : topic == FOGPAY_TOPIC_NOTEPAY  ? FOGPAY_RECEIPT_NOTE_PAYMENT
                : topic == FOGPAY_TOPIC_REDEEM   ? FOGPAY_RECEIPT_NOTE_REDEEM
                                                 : FOGPAY_RECEIPT_INTENT;
    job->device_status = device->status;
    job->alg = device->alg;
    memcpy(job->public_key, device->public_key, device->public_key_len);
    job->public_key_len = device->public_key_len;
    job->now_ms = now_ms;
    job->original = 0;
    job->note_count = 0;
    job->change_count = 0;
    if (ev->payloadlen > FOGPAY_MESSAGE_MAX) {
        /* Not copied: hashed here, refused by size. */
        job->admitted = FOGPAY_ERR_PAYLOAD_TOO_LARGE;
        fogpay_sha256(ev->payload, ev->payloadlen, job->hash);
    } else {
        job->admitted = FOGPAY_OK;
        job->message_len = ev->payloadlen;
        if (ev->payloadlen > 0) {
            memcpy(job->message, ev->payload, ev->payloadlen);
        }
    }
    fogpay_outbox_reply_details(gw, job, ev);
}

/* A device over its answers a second (flow.c): its message is answered
 * too_many_pending with no other work (hashed here, the seq it claims
 * read unchecked), and the device disconnected when it kept on through
 * FOGPAY_FLOW_STRIKES_MAX windows. */
static void admit_over_flow(fogpay_gateway *gw, fogpay_job *job, fogpay_flow_verdict flow)
{
    if (job->admitted == FOGPAY_OK) {
        job->admitted = FOGPAY_ERR_TOO_MANY_PENDING;
        fogpay_sha256(job->message, job->message_len, job->hash);
        fogpay_cose_sign1 msg;
        if (fogpay_cose_sign1_parse(job->message, job->message_len, &msg) == FOGPAY_OK) {
            fogpay_message_peek_seq(msg.payload.ptr, msg.payload.len, &job->seq);
        }
    }
    if (flow == FOGPAY_FLOW_REFUSE_DISCONNECT) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: device %s was over its limit of %u answers a second in %u "
                             "windows in a row; disconnecting it",
                             job->device_id, (unsigned)gw->options.device_answers_max,
                             FOGPAY_FLOW_STRIKES_MAX);
        mosquitto_kick_client_by_clientid(job->device_id, false);
    }
}

int fogpay_device_message_handle(fogpay_gateway *gw, struct mosquitto_evt_message *ev,
                                 uint64_t now_ms)
{
    char owner[FOGPAY_TOPIC_ID_MAX + 1];
    fogpay_topic_kind topic = fogpay_topic_parse_id(gw->options.topic_prefix, ev->topic, owner);
    if (topic != FOGPAY_TOPIC_INTENT && topic != FOGPAY_TOPIC_USAGE && topic != FOGPAY_TOPIC_BIND &&
        topic != FOGPAY_TOPIC_HOLD && topic != FOGPAY_TOPIC_WITHDRAW &&
        topic != FOGPAY_TOPIC_NOTEPAY && topic != FOGPAY_TOPIC_REDEEM) {
        return MOSQ_ERR_SUCCESS; /* not a device message; the ACL decided who may send it */
    }
    const char *client_id = mosquitto_client_id(ev->client);
    fogpay_device device;
    if (!client_id || strcmp(client_id, owner) != 0 ||
        fogpay_ledger_device_get(gw->ledger, owner, &device) != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: message on %s from %s dropped: %s",
                             ev->topic, client_id ? client_id : "(none)",
                             fogpay_error_name(FOGPAY_ERR_UNKNOWN_DEVICE));
        return MOSQ_ERR_ACL_DENIED;
    }
    /* Admission: every bound on a device's share of the gateway is checked
     * here, before any work is done for the message. */
    fogpay_flow_verdict flow =
        fogpay_flow_admit(&gw->flow, owner, gw->options.device_answers_max, now_ms);
    if (flow == FOGPAY_FLOW_REFUSE_SILENT) {
        gw->dropped_total++;
        return MOSQ_ERR_ACL_DENIED;
    }
    if (fogpay_pending_count(&gw->pending, owner) >= FOGPAY_DEVICE_PENDING_MAX) {
        return admit_refuse(gw, owner, "the device has FOGPAY_DEVICE_PENDING_MAX unanswered");
    }
    fogpay_job *job = fogpay_engine_reserve(&gw->engine);
    if (!job) {
        return admit_refuse(gw, owner, "the gateway's ring of unanswered messages is full");
    }
    if (!fogpay_pending_add(&gw->pending, owner)) {
        return admit_refuse(gw, owner, "the pending table is full");
    }
    admit_fill(gw, job, &device, topic, ev, now_ms);
    if (flow != FOGPAY_FLOW_ADMIT) {
        admit_over_flow(gw, job, flow);
    }
    ev->retain = false; /* a device message is answered once, never kept */
    fogpay_engine_submit_verify(&gw->engine, job);
    return MOSQ_ERR_SUCCESS;
}
