/*
 * note_message.c - bearer notes at the gateway: a device's withdrawal of
 * notes against its wallet (schemas/note.cddl note-withdraw, on
 * dev/{device}/withdraw), and the notes handed over on dev/{device}/note.
 *
 * Design. A withdrawal takes the path of every device message
 * (device_message.c): admitted, verified and decoded by a worker, checked
 * for repeats and against the device's chain, settled here on the
 * broker's thread in a savepoint of the open group, signed by a worker,
 * recorded and answered after the commit. The ledger does the whole
 * withdrawal in one operation (ledger/ledger_note.c): the transfer of kind
 * 14, the notes chosen from the stock, each custody entry to the device's
 * key signed with the gateway's key, the register and the movement chain.
 * The receipt (kind 4) counts the notes (key 26); the notes themselves are
 * too large for a receipt, so each goes on the device's note topic, read
 * back from the register after the commit, before the receipt: a device
 * that has the receipt has been sent every note it counts, and a note is
 * never published for a withdrawal that did not commit.
 *
 * A payment with notes (note-payment, on dev/{device}/notepay) takes the
 * same path: the ledger moves all its notes to the payee or none
 * (fogpay_ledger_note_pay), the payer's receipt is stored, counting them,
 * and after the commit each goes to the payee's note topic. Paid with
 * change, the payer's notes go into the stock and the payee's notes and
 * the payer's change come out of it: the payee's go to its note topic,
 * the change to the payer's, before the receipt.
 *
 * Ownership: the withdrawal's result is on the heap for the call; what is
 * published comes from mosquitto_malloc and belongs to the broker.
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_cose.h"
#include "gateway.h"
#include "ledger_note.h"

fogpay_error fogpay_note_message_decode(fogpay_job *job, fogpay_bytes payload, const char **named)
{
    fogpay_error err = fogpay_note_withdraw_decode(payload.ptr, payload.len, &job->withdraw);
    *named = job->withdraw.device_id;
    if (err == FOGPAY_OK) {
        job->seq = job->withdraw.seq;
    }
    return err;
}

/* Withdraws in the ledger and fills the settled receipt; the job keeps
 * the serials to hand over. */
static fogpay_error note_withdraw(fogpay_gateway *gw, fogpay_job *job, uint64_t *position)
{
    fogpay_note_withdrawal *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    const fogpay_note_withdraw *m = &job->withdraw;
    fogpay_error err =
        fogpay_ledger_note_withdraw(gw->ledger, gw->key, job->device_id, m->currency,
                                    m->amount_minor, job->seq, job->hash, job->now_ms, w);
    fogpay_device_message_receipt_base(gw, job);
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_receipt_transfer(gw, job, &w->transfer, w->balance_after_minor);
    }
    if (err == FOGPAY_OK) {
        job->receipt.note_count = (uint8_t)w->count;
        job->note_count = (uint8_t)w->count;
        memcpy(job->note_serials, w->serials, sizeof job->note_serials);
        *position = w->transfer.position;
    }
    free(w);
    return err;
}

void fogpay_note_message_settle(fogpay_gateway *gw, fogpay_job *job)
{
    const fogpay_note_withdraw *m = &job->withdraw;
    fogpay_error err = FOGPAY_OK;
    if (!fogpay_options_currency_enabled(&gw->options, m->currency)) {
        err = FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_open(gw, job, m->created_s, FOGPAY_TTL_MAX_S);
    }
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    uint64_t position = 0;
    err = note_withdraw(gw, job, &position);
    if (err != FOGPAY_OK) {
        job->note_count = 0;
    }
    fogpay_device_message_settled(gw, job, err, position);
}

/* Publishes one note of the register on the device's note topic. */
static fogpay_error note_publish(const fogpay_gateway *gw, const char *topic,
                                 const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES])
{
    fogpay_held_note held;
    fogpay_error err = fogpay_ledger_note_held(gw->ledger, serial, &held);
    uint8_t bytes[FOGPAY_NOTE_LINE_MAX];
    size_t len = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_note_delivery_encode(&held, bytes, sizeof bytes, &len);
    }
    void *copy = err == FOGPAY_OK ? mosquitto_malloc(len) : NULL;
    if (err == FOGPAY_OK && copy == NULL) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    memcpy(copy, bytes, len);
    if (mosquitto_broker_publish(NULL, topic, (int)len, copy, 1, false, NULL) != MOSQ_ERR_SUCCESS) {
        mosquitto_free(copy);
        return FOGPAY_ERR_NETWORK;
    }
    return FOGPAY_OK;
}

/* Publishes count notes of the register on device_id's note topic. */
static fogpay_error notes_publish(const fogpay_gateway *gw, const char *device_id, uint8_t count,
                                  const uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES])
{
    char topic[FOGPAY_TOPIC_MAX];
    fogpay_error err = fogpay_topic_build(gw->options.topic_prefix, FOGPAY_TOPIC_NOTE, device_id,
                                          NULL, topic, sizeof topic);
    for (uint8_t i = 0; err == FOGPAY_OK && i < count; i++) {
        err = note_publish(gw, topic, serials[i]);
    }
    return err;
}

fogpay_error fogpay_note_payment_message_decode(fogpay_job *job, fogpay_bytes payload,
                                                const char **named)
{
    fogpay_error err = fogpay_note_payment_decode(payload.ptr, payload.len, &job->notepay);
    *named = job->notepay.device_id;
    if (err == FOGPAY_OK) {
        job->seq = job->notepay.seq;
    }
    return err;
}

void fogpay_note_payment_message_settle(fogpay_gateway *gw, fogpay_job *job)
{
    const fogpay_note_payment *m = &job->notepay;
    fogpay_error err = FOGPAY_OK;
    if (!fogpay_options_currency_enabled(&gw->options, m->currency)) {
        err = FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_open(gw, job, m->created_s, FOGPAY_TTL_MAX_S);
    }
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    /* About 1 KiB of serials: on the heap for the call. */
    fogpay_note_paid *paid = calloc(1, sizeof *paid);
    err = paid == NULL ? FOGPAY_ERR_NO_MEMORY
                       : fogpay_ledger_note_pay(gw->ledger, gw->key, m, job->now_ms, paid);
    fogpay_device_message_receipt_base(gw, job);
    job->receipt.status = FOGPAY_STATUS_STORED;
    if (err == FOGPAY_OK) {
        job->receipt.note_count = m->count;
        job->note_count = (uint8_t)paid->count;
        memcpy(job->note_serials, paid->serials, paid->count * FOGPAY_NOTE_SERIAL_BYTES);
        job->change_count = (uint8_t)paid->change_count;
        memcpy(job->change_serials, paid->change_serials,
               paid->change_count * FOGPAY_NOTE_SERIAL_BYTES);
    }
    free(paid);
    fogpay_device_message_settled(gw, job, err, 0);
}

void fogpay_note_redeem_message_settle(fogpay_gateway *gw, fogpay_job *job)
{
    const fogpay_note_payment *m = &job->notepay;
    fogpay_error err = FOGPAY_OK;
    if (!fogpay_options_currency_enabled(&gw->options, m->currency)) {
        err = FOGPAY_ERR_CURRENCY_UNSUPPORTED;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_open(gw, job, m->created_s, FOGPAY_TTL_MAX_S);
    }
    if (err != FOGPAY_OK) {
        fogpay_device_message_reject(gw, job, err);
        return;
    }
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_note_redemption r;
    err = fogpay_key_public_text(gw->key, gateway_text, sizeof gateway_text);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_note_redeem(gw->ledger, gateway_text, m, job->hash, job->now_ms, &r);
    }
    fogpay_device_message_receipt_base(gw, job);
    if (err == FOGPAY_OK) {
        err = fogpay_device_message_receipt_transfer(gw, job, &r.transfer, r.balance_after_minor);
    }
    if (err == FOGPAY_OK) {
        job->receipt.note_count = (uint8_t)r.paid.count;
    }
    fogpay_device_message_settled(gw, job, err, err == FOGPAY_OK ? r.transfer.position : 0);
}

/* The notes of a stored note payment (job->notepay, decoded from the
 * repeated bytes) that its payee still holds. */
static void note_payment_repeat(fogpay_gateway *gw, fogpay_job *job)
{
    const fogpay_note_payment *m = &job->notepay;
    size_t count = 0;
    for (uint8_t i = 0; i < m->count && i < FOGPAY_NOTE_PAYMENT_NOTES_MAX; i++) {
        fogpay_note_entry e;
        if (fogpay_ledger_note_get(gw->ledger, m->notes[i].serial, &e) == FOGPAY_OK &&
            e.state == FOGPAY_NOTE_HELD && strcmp(e.holder_device, m->payee_device) == 0) {
            memcpy(job->note_serials[count++], m->notes[i].serial, FOGPAY_NOTE_SERIAL_BYTES);
        }
    }
    job->note_count = (uint8_t)count;
    job->receipt.status = FOGPAY_STATUS_STORED;
}

void fogpay_note_message_repeat(fogpay_gateway *gw, fogpay_job *job)
{
    if (job->kind != FOGPAY_RECEIPT_WITHDRAW && job->kind != FOGPAY_RECEIPT_NOTE_PAYMENT) {
        return;
    }
    fogpay_cose_sign1 cose;
    fogpay_receipt r;
    if (fogpay_cose_sign1_parse(job->answer, job->answer_len, &cose) != FOGPAY_OK ||
        fogpay_receipt_decode(cose.payload.ptr, cose.payload.len, &r) != FOGPAY_OK ||
        r.note_count == 0) {
        return;
    }
    if (job->kind == FOGPAY_RECEIPT_NOTE_PAYMENT) {
        note_payment_repeat(gw, job);
        return;
    }
    size_t count = 0;
    if (fogpay_ledger_note_withdrawn(gw->ledger, job->device_id, r.transfer_id, job->note_serials,
                                     &count) == FOGPAY_OK) {
        job->note_count = (uint8_t)count;
        job->receipt.status = FOGPAY_STATUS_SETTLED;
    }
}

void fogpay_note_message_deliver(const fogpay_gateway *gw, const fogpay_job *job)
{
    bool withdraw = job->kind == FOGPAY_RECEIPT_WITHDRAW;
    if ((!withdraw && job->kind != FOGPAY_RECEIPT_NOTE_PAYMENT) ||
        (job->note_count == 0 && job->change_count == 0) ||
        job->receipt.status == FOGPAY_STATUS_REJECTED) {
        return;
    }
    fogpay_error err = notes_publish(gw, withdraw ? job->device_id : job->notepay.payee_device,
                                     job->note_count, job->note_serials);
    if (err == FOGPAY_OK) {
        err = notes_publish(gw, job->device_id, job->change_count, job->change_serials);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: handing the notes of %s seq %llu over failed: %s; the "
                             "register holds them as the device's",
                             job->device_id, (unsigned long long)job->seq, fogpay_error_name(err));
    }
}
