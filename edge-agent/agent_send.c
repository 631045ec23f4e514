/*
 * agent_send.c - sending journaled messages: one by its original bytes,
 * all of them again after a connect, and again while connected when the
 * oldest has waited a step for its receipt (the step starts at the
 * receipt timeout and doubles up to FOGPAY_AGENT_RESEND_MAX_MS; a receipt
 * for the oldest starts the next one's wait afresh). The gateway answers a
 * repeat with its original receipt, so sending again never pays twice.
 * The window of a resend (how many go out before their receipts are taken
 * in) is agent_loop.c's, which takes messages in.
 */
#include "agent_internal.h"

/* A journaled message is also published with an MQTT 5 response topic and
 * its seq as correlation data. */
fogpay_error agent_send_entry(fogpay_agent *a, const fogpay_journal_entry *e)
{
    uint8_t msg[FOGPAY_MESSAGE_MAX];
    fogpay_error err = fogpay_journal_read(a->journal, e, msg, sizeof msg);
    if (err != FOGPAY_OK) {
        return err;
    }
    const char *topic = e->kind == FOGPAY_RECEIPT_USAGE          ? a->topic_usage
                        : e->kind == FOGPAY_RECEIPT_BIND         ? a->topic_bind
                        : e->kind == FOGPAY_RECEIPT_HOLD         ? a->topic_hold
                        : e->kind == FOGPAY_RECEIPT_WITHDRAW     ? a->topic_withdraw
                        : e->kind == FOGPAY_RECEIPT_NOTE_PAYMENT ? a->topic_notepay
                        : e->kind == FOGPAY_RECEIPT_NOTE_REDEEM  ? a->topic_redeem
                                                                 : a->topic_intent;
    const char *reply = a->mqtt_version == 5 ? a->topic_reply : NULL;
    return fogpay_client_publish(a->client, topic, msg, e->len, reply, e->seq);
}

fogpay_error agent_send_next(fogpay_agent *a, uint64_t *from_seq)
{
    /* Entries are in seq order; receipts taken in between sends may have
     * taken some out, so the position is a seq, not an index. */
    for (size_t i = 0; i < fogpay_journal_count(a->journal); i++) {
        const fogpay_journal_entry *e = fogpay_journal_at(a->journal, i);
        if (e->seq >= *from_seq) {
            *from_seq = e->seq + 1;
            return agent_send_entry(a, e);
        }
    }
    return FOGPAY_ERR_NOT_FOUND;
}

size_t agent_unanswered(const fogpay_agent *a, uint64_t from_seq)
{
    size_t n = 0;
    while (n < fogpay_journal_count(a->journal) &&
           fogpay_journal_at(a->journal, n)->seq < from_seq) {
        n++;
    }
    return n;
}

bool agent_resend_due(fogpay_agent *a, uint64_t now_ms)
{
    if (fogpay_journal_count(a->journal) == 0) {
        a->resend_seq = 0;
        return false;
    }
    uint64_t oldest = fogpay_journal_at(a->journal, 0)->seq;
    if (oldest != a->resend_seq) {
        /* A new oldest message: its wait starts at the first step. */
        a->resend_seq = oldest;
        a->resend_wait_ms = a->timeout_ms;
        a->resend_at_ms = now_ms + a->resend_wait_ms;
        return false;
    }
    if (now_ms < a->resend_at_ms) {
        return false;
    }
    agent_log("no receipt for seq %llu within %u ms; %zu pending message(s) sent again",
              (unsigned long long)oldest, (unsigned)a->resend_wait_ms,
              fogpay_journal_count(a->journal));
    a->resend_wait_ms = a->resend_wait_ms < FOGPAY_AGENT_RESEND_MAX_MS / 2
                            ? 2 * a->resend_wait_ms
                            : FOGPAY_AGENT_RESEND_MAX_MS;
    a->resend_at_ms = now_ms + a->resend_wait_ms;
    return true;
}
