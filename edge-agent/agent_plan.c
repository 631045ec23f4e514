/*
 * agent_plan.c - the financed device's plan: the gateway's plan notices
 * and instalment receipts taken in, instalments paid when they fall due,
 * and the paid-up-to time enforced by the device itself, offline too.
 *
 * What counts. Only what the gateway signed: a plan notice (command kind
 * 4, verified like every command, its command seq above the last notice's)
 * or the receipt of a settled instalment answering a pending message of
 * this device. The paid-up-to time never goes back: a receipt or notice
 * naming an earlier one (a repeat, an old copy) leaves it. Anything else
 * (a forged receipt, one for another device, a replay) is ignored by the
 * receipt and command handlers before it reaches this file.
 *
 * The plan's clock. The device's wall clock is not trusted blindly:
 *   - it never goes back: the time used is at least the highest time seen
 *     plus the monotonic time elapsed since (persisted every
 *     FOGPAY_AGENT_PLAN_CLOCK_SAVE_MS, so a clock set back, even across a
 *     restart, cannot bring the device back into its paid-up period);
 *   - a clock far forward is believed, so the device goes out of action
 *     early rather than late, until the gateway's signed time corrects it:
 *     the device takes the gateway's time (its offset, and the highest time
 *     seen reset to it) when its own is more than FOGPAY_CLOCK_SKEW_MAX_S
 *     ahead of the receipt of the message it is waiting for (a live round
 *     trip), or behind any verified receipt or notice. A retained notice
 *     or a repeated receipt may be old, so neither sets the clock back.
 *
 * Out of action. When the plan's clock reaches the paid-up-to time with an
 * instalment left, the plan lapses: persisted, the hook runs with
 * "suspend" (unless the gateway has suspended the device already), and
 * every payment but an instalment is refused with FOGPAY_ERR_PLAN_LAPSED.
 * A newer paid-up-to time (or the plan paid off or closed) ends the lapse
 * and the hook runs with "resume".
 *
 * The file STATEDIR/plan, replaced atomically (fogpay_journal_file_replace)
 * like the state file, is a deterministic CBOR array of 15 items: format
 * (1), plan id (text, "" for none), notice seq, paid-up-to ms, next due
 * ms, amount, lender account, currency, instalment, left, arrears, sent,
 * lapsed (bool), highest time ms, offset ms (int).
 *
 * Ownership. Nothing here allocates; the agent's plan changes only once the
 * new one is durable.
 */
#include <stdio.h>
#include <string.h>

#include "agent_internal.h"
#include "fogpay_cbor.h"
#include "fogpay_clock.h"

#define PLAN_FORMAT 1
#define PLAN_ITEMS  15
/* The array head, 13 integers of at most 9 bytes, the id and a bool. */
#define PLAN_BYTES_MAX (1 + 13 * 9 + 1 + FOGPAY_PLAN_ID_MAX + 1)
static_assert(PLAN_BYTES_MAX <= FOGPAY_JOURNAL_BODY_MAX, "the plan fits a framed file");

static size_t plan_encode(const agent_plan *p, uint8_t *buf, size_t cap)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, cap);
    fogpay_cbor_put_array(&w, PLAN_ITEMS);
    fogpay_cbor_put_uint(&w, PLAN_FORMAT);
    fogpay_cbor_put_text(&w, p->plan_id, strlen(p->plan_id));
    uint64_t values[] = {p->notice_seq,     p->paid_up_to_ms, p->next_due_ms, p->amount_minor,
                         p->lender_account, p->currency,      p->instalment,  p->left,
                         p->arrears,        p->sent};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        fogpay_cbor_put_uint(&w, values[i]);
    }
    fogpay_cbor_put_bool(&w, p->lapsed);
    fogpay_cbor_put_uint(&w, p->high_ms);
    fogpay_cbor_put_int(&w, p->offset_ms);
    size_t len = 0;
    return fogpay_cbor_writer_finish(&w, &len) == FOGPAY_OK ? len : 0;
}

/* Persists next as the plan; a->plan becomes next only once durable. */
static fogpay_error plan_store(fogpay_agent *a, const agent_plan *next)
{
    uint8_t body[PLAN_BYTES_MAX];
    size_t n = plan_encode(next, body, sizeof body);
    fogpay_error err = n ? fogpay_journal_file_replace(a->journal, FOGPAY_AGENT_PLAN_FILE, body, n)
                         : FOGPAY_ERR_BUFFER_TOO_SMALL;
    if (err != FOGPAY_OK) {
        agent_log("saving the plan failed (%s); the plan stays as it was", fogpay_error_name(err));
        return err;
    }
    a->plan = *next;
    a->plan_saved_ms = next->high_ms;
    return FOGPAY_OK;
}

static bool plan_uint(fogpay_cbor_reader *r, uint64_t max, uint64_t *out)
{
    fogpay_cbor_item it;
    if (fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_UINT || it.value > max) {
        return false;
    }
    *out = it.value;
    return true;
}

static bool plan_decode(const uint8_t *body, size_t len, agent_plan *p)
{
    fogpay_cbor_reader r;
    fogpay_cbor_item it;
    uint64_t v[10], format = 0;
    fogpay_cbor_reader_init(&r, body, len);
    if (fogpay_cbor_read(&r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_ARRAY ||
        it.value != PLAN_ITEMS || !plan_uint(&r, PLAN_FORMAT, &format) || format != PLAN_FORMAT ||
        fogpay_cbor_read(&r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_TEXT ||
        it.bytes.len > FOGPAY_PLAN_ID_MAX) {
        return false;
    }
    memcpy(p->plan_id, it.bytes.ptr, it.bytes.len);
    p->plan_id[it.bytes.len] = '\0';
    for (size_t i = 0; i < 10; i++) {
        if (!plan_uint(&r, INT64_MAX, &v[i])) {
            return false;
        }
    }
    if (v[5] > UINT16_MAX || v[6] > UINT32_MAX || v[7] > UINT32_MAX || v[8] > UINT32_MAX ||
        v[9] > UINT32_MAX || fogpay_cbor_read(&r, &it) != FOGPAY_OK ||
        it.type != FOGPAY_CBOR_SIMPLE || (it.value != 20 && it.value != 21) ||
        !plan_uint(&r, INT64_MAX, &p->high_ms)) {
        return false;
    }
    p->lapsed = it.value == 21;
    p->notice_seq = v[0];
    p->paid_up_to_ms = v[1];
    p->next_due_ms = v[2];
    p->amount_minor = v[3];
    p->lender_account = v[4];
    p->currency = (uint16_t)v[5];
    p->instalment = (uint32_t)v[6];
    p->left = (uint32_t)v[7];
    p->arrears = (uint32_t)v[8];
    p->sent = (uint32_t)v[9];
    if (fogpay_cbor_read(&r, &it) != FOGPAY_OK ||
        (it.type != FOGPAY_CBOR_UINT && it.type != FOGPAY_CBOR_NEGINT) ||
        it.value > (uint64_t)INT64_MAX) {
        return false;
    }
    p->offset_ms = it.type == FOGPAY_CBOR_UINT ? (int64_t)it.value : -1 - (int64_t)it.value;
    return fogpay_cbor_reader_done(&r);
}

fogpay_error agent_plan_load(fogpay_agent *a)
{
    uint8_t body[PLAN_BYTES_MAX];
    size_t len = 0;
    memset(&a->plan, 0, sizeof a->plan);
    a->plan_mono_ms = fogpay_clock_monotonic_ms();
    fogpay_error err =
        fogpay_journal_file_load(a->journal, FOGPAY_AGENT_PLAN_FILE, body, sizeof body, &len);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK;
    }
    agent_plan p;
    memset(&p, 0, sizeof p);
    if (err == FOGPAY_OK && !plan_decode(body, len, &p)) {
        agent_log("the plan file is not of format %d", PLAN_FORMAT);
        err = FOGPAY_ERR_STORAGE;
    }
    if (err == FOGPAY_OK) {
        a->plan = p;
        a->plan_saved_ms = p.high_ms;
    }
    return err;
}

/* The wall clock with the gateway's correction. */
static uint64_t plan_wall_ms(const agent_plan *p)
{
    int64_t t = (int64_t)fogpay_clock_wall_ms() + p->offset_ms;
    return t > 0 ? (uint64_t)t : 0;
}

uint64_t agent_plan_now_ms(const fogpay_agent *a)
{
    uint64_t wall = plan_wall_ms(&a->plan);
    uint64_t floor = a->plan.high_ms + (fogpay_clock_monotonic_ms() - a->plan_mono_ms);
    return wall > floor ? wall : floor;
}

/* The plan's clock moved to now in next (the highest time seen). */
static void plan_clock_take(fogpay_agent *a, agent_plan *next, uint64_t now_ms)
{
    next->high_ms = now_ms;
    a->plan_mono_ms = fogpay_clock_monotonic_ms();
}

/* The gateway's signed time gateway_s: taken when the device's is behind
 * it by more than the allowed skew, or ahead of it when the time is live
 * (the receipt of the message the device is waiting for now: a retained
 * notice or a repeated receipt may be old, so neither sets the clock
 * back). */
static void plan_gateway_time(fogpay_agent *a, agent_plan *next, uint64_t gateway_s, bool live)
{
    uint64_t gateway_ms = gateway_s * 1000;
    uint64_t mine = agent_plan_now_ms(a);
    uint64_t skew = (uint64_t)FOGPAY_CLOCK_SKEW_MAX_S * 1000;
    bool behind = mine + skew < gateway_ms;
    bool ahead = mine > gateway_ms + skew;
    if (!behind && !(ahead && live)) {
        return;
    }
    next->offset_ms = (int64_t)gateway_ms - (int64_t)fogpay_clock_wall_ms();
    plan_clock_take(a, next, gateway_ms);
    agent_log("clock %+lld ms off the gateway's signed time: the plan follows the gateway's",
              (long long)((int64_t)mine - (int64_t)gateway_ms));
}

/* True when the device is paid up to a time before now with an
 * instalment left. */
static bool plan_lapses(const agent_plan *p, uint64_t now_ms)
{
    return p->plan_id[0] != '\0' && p->left > 0 && now_ms >= p->paid_up_to_ms;
}

fogpay_error agent_plan_may_pay(const fogpay_agent *a, bool instalment)
{
    bool lapsed = a->plan.lapsed || plan_lapses(&a->plan, agent_plan_now_ms(a));
    return lapsed && !instalment ? FOGPAY_ERR_PLAN_LAPSED : FOGPAY_OK;
}

/* Lapse or its end, with the hook, when now_ms says so. */
static void plan_enforce(fogpay_agent *a, uint64_t now_ms)
{
    bool lapses = plan_lapses(&a->plan, now_ms);
    if (lapses == a->plan.lapsed) {
        return;
    }
    agent_plan next = a->plan;
    next.lapsed = lapses;
    plan_clock_take(a, &next, now_ms);
    if (plan_store(a, &next) != FOGPAY_OK) {
        return; /* tried again at the next tick */
    }
    agent_log("plan %s: %s (paid up to %llu ms, now %llu ms)", next.plan_id,
              lapses ? "paid-up-to time passed: the device is out of action"
                     : "paid up again: the device resumes",
              (unsigned long long)next.paid_up_to_ms, (unsigned long long)now_ms);
    if (!a->state.suspended) {
        agent_command_hook(a, lapses ? AGENT_HOOK_SUSPEND : AGENT_HOOK_RESUME);
    }
}

/* The figures of a verified notice into next. */
static void plan_notice_take(agent_plan *next, const fogpay_command *cmd)
{
    if (strcmp(next->plan_id, cmd->plan_id) != 0) {
        /* Another plan: its own figures; the lapse stays until the new
         * figures end it, so that its resume hook runs. */
        bool lapsed = next->lapsed;
        memset(next, 0, offsetof(agent_plan, high_ms));
        snprintf(next->plan_id, sizeof next->plan_id, "%s", cmd->plan_id);
        next->lapsed = lapsed;
    }
    next->notice_seq = cmd->command_seq;
    if (cmd->instalment == next->sent && cmd->amount_minor != next->amount_minor) {
        next->sent--; /* refused for its amount (its usage part grew): paid again at this one */
    }
    if (cmd->paid_up_to_s * 1000 > next->paid_up_to_ms) {
        next->paid_up_to_ms = cmd->paid_up_to_s * 1000;
    }
    next->next_due_ms = cmd->next_due_s * 1000;
    next->amount_minor = cmd->amount_minor;
    next->lender_account = cmd->lender_account;
    next->currency = cmd->currency;
    next->instalment = cmd->instalment;
    next->left = cmd->plan_left;
    next->arrears = cmd->plan_arrears;
}

fogpay_error agent_plan_notice(fogpay_agent *a, const fogpay_command *cmd)
{
    if (cmd->command_seq <= a->plan.notice_seq) {
        return FOGPAY_ERR_SEQ_CONFLICT;
    }
    agent_plan next = a->plan;
    plan_gateway_time(a, &next, cmd->issued_s, false);
    plan_notice_take(&next, cmd);
    fogpay_error err = plan_store(a, &next);
    if (err == FOGPAY_OK) {
        agent_log("plan %s: instalment %u of %llu due at %llu ms, %u left, paid up to %llu ms",
                  next.plan_id, (unsigned)next.instalment, (unsigned long long)next.amount_minor,
                  (unsigned long long)next.next_due_ms, (unsigned)next.left,
                  (unsigned long long)next.paid_up_to_ms);
        plan_enforce(a, agent_plan_now_ms(a));
    }
    return err;
}

void agent_plan_receipt(fogpay_agent *a, const fogpay_receipt *r)
{
    if (a->plan.plan_id[0] == '\0' && r->plan_id[0] == '\0') {
        return; /* a device without a plan keeps its clock as it is */
    }
    agent_plan next = a->plan;
    plan_gateway_time(a, &next, r->time_s, r->seq == a->awaited_seq);
    bool ours =
        r->plan_id[0] != '\0' && (next.plan_id[0] == '\0' || strcmp(next.plan_id, r->plan_id) == 0);
    if (r->plan_id[0] != '\0' && !ours) {
        agent_log("receipt for seq %llu names plan %s, not the device's %s: its paid-up-to "
                  "time is ignored",
                  (unsigned long long)r->seq, r->plan_id, next.plan_id);
    }
    if (ours) {
        snprintf(next.plan_id, sizeof next.plan_id, "%s", r->plan_id);
        if (r->paid_up_to_s * 1000 > next.paid_up_to_ms) {
            next.paid_up_to_ms = r->paid_up_to_s * 1000;
        }
        next.left = r->plan_left;
        next.arrears = r->plan_arrears;
        next.instalment = r->plan_left == 0 ? 0 : next.instalment;
    }
    if (memcmp(&next, &a->plan, sizeof next) != 0 && plan_store(a, &next) == FOGPAY_OK) {
        plan_enforce(a, agent_plan_now_ms(a)); /* when the store fails, the notice brings it */
    }
}

void agent_plan_enforce(fogpay_agent *a)
{
    plan_enforce(a, agent_plan_now_ms(a));
}

fogpay_error fogpay_agent_pay_instalment(fogpay_agent *a, fogpay_agent_outcome *out)
{
    if (!a || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    const agent_plan *p = &a->plan;
    if (p->plan_id[0] == '\0') {
        return FOGPAY_ERR_PLAN_UNKNOWN;
    }
    if (p->left == 0 || p->instalment == 0) {
        return FOGPAY_ERR_PLAN_PAID;
    }
    /* Marked sent before it is journaled, so that a crash in between never
     * has run pay it twice; unmarked when it was refused before the
     * journal (out->seq 0). */
    agent_plan next = a->plan;
    uint32_t before = next.sent;
    next.sent = p->instalment;
    fogpay_error err = plan_store(a, &next);
    if (err != FOGPAY_OK) {
        return err;
    }
    err = agent_pay_to(a, NULL, next.lender_account, next.amount_minor, next.currency, 0, NULL,
                       next.plan_id, out);
    if (out->seq == 0) {
        next = a->plan;
        next.sent = before;
        plan_store(a, &next);
    }
    return err;
}

/* An instalment that fell due and was not sent yet, when connected. */
static void plan_pay_due(fogpay_agent *a, uint64_t now_ms)
{
    const agent_plan *p = &a->plan;
    if (p->plan_id[0] == '\0' || p->instalment == 0 || p->instalment <= p->sent ||
        now_ms < p->next_due_ms || !fogpay_agent_connected(a)) {
        return;
    }
    fogpay_agent_outcome out;
    fogpay_error err = fogpay_agent_pay_instalment(a, &out);
    agent_log("plan %s: instalment %u paid: %s", p->plan_id, (unsigned)p->sent,
              err != FOGPAY_OK                      ? fogpay_error_name(err)
              : out.status == FOGPAY_STATUS_SETTLED ? "settled"
                                                    : fogpay_error_name(out.reason));
}

void agent_plan_tick(fogpay_agent *a)
{
    if (a->plan.plan_id[0] == '\0') {
        return;
    }
    uint64_t now_ms = agent_plan_now_ms(a);
    plan_pay_due(a, now_ms);
    plan_enforce(a, agent_plan_now_ms(a));
    now_ms = agent_plan_now_ms(a);
    if (now_ms >= a->plan_saved_ms + FOGPAY_AGENT_PLAN_CLOCK_SAVE_MS) {
        agent_plan next = a->plan;
        plan_clock_take(a, &next, now_ms);
        plan_store(a, &next); /* when it fails, the next tick tries again */
    } else {
        a->plan.high_ms = now_ms; /* in memory; persisted at the next save */
        a->plan_mono_ms = fogpay_clock_monotonic_ms();
    }
}
