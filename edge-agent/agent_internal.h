/*
 * agent_internal.h - the agent's private state and the functions its
 * files share. Not installed; firmware uses agent.h.
 *
 * Files, one noun each:
 *   agent.c          open, close, status
 *   agent_state.c    the persisted state file (CBOR)
 *   agent_log.c      the log
 *   agent_loop.c     taking in messages, connect, drain, run, the clock
 *   agent_send.c     sending journaled messages, and again when unanswered
 *   agent_journal.c  the journal and the sequence counter
 *   agent_client.c   the MQTT connection
 *   agent_bytes.h    byte order
 *   agent_pay.c      building, signing and journaling messages, their wait
 *   agent_hold.c     the hold messages: capture and void
 *   agent_receipt.c  verifying receipts and applying them
 *   agent_command.c  verifying commands, the hook, suspension and limits
 *   agent_gateway_key.c  the gateway's keys: finding a message's signer,
 *                    taking in an announced key
 *   agent_plan.c     the financing plan: its notices, paying instalments,
 *                    the paid-up-to time enforced offline, the plan's clock
 *
 * Calls go one way: pay to loop and send; loop to receipt, command and
 * send; receipt and command to plan and state; the daemon's loop (run) to
 * plan, and plan to pay for a due instalment (never from inside a wait,
 * so a payment's wait never pays another); every file may log.
 *
 * The fogpay_agent struct is allocated by fogpay_agent_open() and owns the
 * keys, the journal and the client; everything else is held by value.
 */
#ifndef FOGPAY_AGENT_INTERNAL_H
#define FOGPAY_AGENT_INTERNAL_H

#include "agent.h"
#include "agent_client.h"
#include "agent_journal.h"
#include "fogpay_key.h"

/* The persisted state file in the state directory. */
#define FOGPAY_AGENT_STATE_FILE "state"

/* How long one wait for an incoming message lasts inside longer waits, so
 * that a stop request or a deadline is noticed promptly. */
#define FOGPAY_AGENT_POLL_MS 200u

/* After connecting, incoming messages the broker had queued for the
 * session (commands above all) are taken in for at most this long before
 * anything is paid. */
#define FOGPAY_AGENT_SETTLE_IN_MS 150u

/* Longest wait between two resends of an unanswered message while
 * connected: a gateway whose commits fail (its disk full) gets at most one
 * repeat of a device's pending messages a minute, and a receipt withheld
 * is still fetched within a minute of the gateway's recovery. */
#define FOGPAY_AGENT_RESEND_MAX_MS 60000u

/* Messages sent again (after a connect, or when the oldest waited too
 * long) whose receipts may be outstanding at once. paho keeps every
 * message that arrives while the agent sends in its own queue until the
 * next receive, so a journal of 1,024 sent in one go had the gateway's
 * 1,024 receipts (twice each on MQTT 5: the receipt topic and the
 * response topic) held there, about 2 MiB; with a window the agent takes
 * in the window's receipts before it sends more. 32 keeps the link busy
 * (a receipt comes back in about a millisecond on a LAN) and stays far
 * under the gateway's answers per device a second (500). */
#define FOGPAY_AGENT_SEND_WINDOW 32

/* Gateway keys the device keeps: the current one and the two before it, so
 * that receipts signed before the last two rotations still verify. Three
 * fit the state file (agent_state.c). */
#define FOGPAY_AGENT_GATEWAY_KEYS_MAX 3

/* The plan file in the state directory (agent_plan.c). */
#define FOGPAY_AGENT_PLAN_FILE "plan"

/* The plan's clock persists the highest time it has seen at least this
 * often (in the agent's time) while the agent runs, so that a clock set
 * back across a restart loses at most this much. */
#define FOGPAY_AGENT_PLAN_CLOCK_SAVE_MS 60000u

/* The financed device's plan as the gateway last signed it (a plan notice,
 * an instalment's receipt), and the plan's clock. Persisted in
 * STATEDIR/plan (agent_plan.c). */
typedef struct agent_plan {
    char plan_id[FOGPAY_PLAN_ID_MAX + 1]; /* empty: no plan known */
    uint64_t notice_seq;                  /* command seq of the last notice applied */
    uint64_t paid_up_to_ms;               /* the highest the gateway signed */
    uint64_t next_due_ms;                 /* the next instalment: due, ... */
    uint64_t amount_minor;                /* ... amount, ... */
    uint64_t lender_account;              /* ... payee account, ... */
    uint16_t currency;                    /* ... currency ... */
    uint32_t instalment;                  /* ... and number; 0: none left */
    uint32_t left;                        /* instalments left; 0: paid off or closed */
    uint32_t arrears;
    uint32_t sent; /* the last instalment number this agent journaled an intent for */
    bool lapsed;   /* out of action by the plan: its paid-up-to time passed */
    /* The plan's clock, last: kept when a notice names another plan. */
    uint64_t high_ms;  /* the highest time of the plan's clock seen */
    int64_t offset_ms; /* the gateway's correction of the wall clock */
} agent_plan;

/* A hook that was started but not known to have finished, persisted so a
 * crash in between runs it again at the next start. */
typedef enum agent_hook_pending {
    AGENT_HOOK_NONE = 0,
    AGENT_HOOK_SUSPEND = 1,
    AGENT_HOOK_RESUME = 2,
} agent_hook_pending;

typedef struct agent_state {
    bool suspended;
    uint8_t hook_pending; /* agent_hook_pending */
    uint64_t last_command_seq;
    uint64_t per_payment_minor;
    uint64_t per_day_minor;
    uint64_t wallet_max_minor;
    size_t balance_count;
    fogpay_agent_balance balances[FOGPAY_AGENT_CURRENCIES_MAX];
    /* Announced gateway keys with their validity (agent_gateway_key.c); two
     * more than kept, for an announcement before it is trimmed. */
    size_t gateway_key_count;
    fogpay_gateway_key gateway_keys[FOGPAY_AGENT_GATEWAY_KEYS_MAX + 2];
} agent_state;

struct fogpay_agent {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    char hook[FOGPAY_AGENT_PATH_MAX + 1]; /* empty: none */
    uint32_t timeout_ms;
    int mqtt_version;
    bool verbose;
    fogpay_agent_journaled_fn journaled;
    void *journaled_ctx;
    fogpay_key *key;
    fogpay_key *gateway_key;
    fogpay_journal *journal;
    fogpay_client *client;
    agent_state state;
    agent_plan plan;
    uint64_t plan_mono_ms;             /* the monotonic time when plan.high_ms was taken */
    uint64_t plan_saved_ms;            /* plan.high_ms as last persisted */
    fogpay_agent_outcome last_outcome; /* of the last receipt applied */
    /* The message a payment waits for (agent_pay.c; 0: none) and the
     * outcome of its receipt once applied: other receipts may be applied
     * after it in the same wait (a window of resent messages). */
    uint64_t awaited_seq;
    fogpay_agent_outcome awaited_outcome;
    char topic_intent[FOGPAY_TOPIC_MAX];
    char topic_usage[FOGPAY_TOPIC_MAX];
    char topic_bind[FOGPAY_TOPIC_MAX];
    char topic_hold[FOGPAY_TOPIC_MAX];
    char topic_withdraw[FOGPAY_TOPIC_MAX];
    char topic_note[FOGPAY_TOPIC_MAX];
    char topic_notepay[FOGPAY_TOPIC_MAX];
    char topic_redeem[FOGPAY_TOPIC_MAX];
    /* The note store (agent_note.c): the bearer notes the device holds,
     * one note line each, in the state directory. */
    char notes_path[FOGPAY_AGENT_PATH_MAX + 16];
    char topic_receipt[FOGPAY_TOPIC_MAX];
    char topic_command[FOGPAY_TOPIC_MAX];
    char topic_plan[FOGPAY_TOPIC_MAX];
    char topic_reply[FOGPAY_TOPIC_MAX];
    fogpay_client_message incoming; /* one received message, reused */
    /* Resending while connected (agent_send.c): the oldest pending seq the
     * timer watches (0: none), when it fires and the current step. */
    uint64_t resend_seq;
    uint64_t resend_at_ms;
    uint32_t resend_wait_ms;
};

/* agent_state.c: persists next as the state; a->state becomes next only
 * once it is durable, so status never shows what the device has not
 * recorded. */
fogpay_error agent_state_store(fogpay_agent *a, const agent_state *next);
/* Loads the state file at open (none: the zero state), migrating format 1.
 * FOGPAY_ERR_STORAGE for a file of no known format, FOGPAY_ERR_IO. */
fogpay_error agent_state_load(fogpay_agent *a);

/* agent_note.c: a note handed over on the device's note topic, checked
 * (the custody entry signed by a gateway key the device knows, naming the
 * device's own key) and stored once; and the sum of the notes held in a
 * currency. */
void agent_note_handle(fogpay_agent *a, const uint8_t *msg, size_t len);
fogpay_error agent_notes_held(const fogpay_agent *a, uint16_t currency, uint64_t *sum_minor);
/* Notes of the store that make amount_minor of currency exactly, the
 * largest first, at most FOGPAY_NOTE_PAYMENT_NOTES_MAX: their serials and
 * the links of their custody entries into the arrays, *count of them;
 * FOGPAY_ERR_NOTE_SUM_MISMATCH when the store cannot make it. */
fogpay_error agent_notes_choose(const fogpay_agent *a, uint16_t currency, uint64_t amount_minor,
                                uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES],
                                uint8_t links[][FOGPAY_HASH_BYTES], size_t *count);
/* Takes the notes of a stored payment (the journaled message msg) out of
 * the store: rewritten without them, renamed over it, synced. */
fogpay_error agent_notes_remove(const fogpay_agent *a, const uint8_t *msg, size_t len);

/* agent_log.c */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* agent_loop.c: when a resend is due (agent_resend_due), resends the
 * journal (agent_resend_all); then waits at most timeout_ms for one
 * incoming message and handles it.
 * FOGPAY_OK (one handled), FOGPAY_ERR_TIMEOUT, FOGPAY_ERR_NETWORK. */
fogpay_error agent_poll(fogpay_agent *a, uint32_t timeout_ms);
/* Sends every pending message in seq order, at most
 * FOGPAY_AGENT_SEND_WINDOW of them unanswered at a time: before sending
 * more it takes in receipts (and whatever else comes), for at most the
 * receipt timeout per window; what was not sent by then waits for the
 * next resend. FOGPAY_OK, or the send's error (FOGPAY_ERR_NETWORK: the
 * connection is gone). */
fogpay_error agent_resend_all(fogpay_agent *a);

/* agent_pay.c: refusals that need no gateway (suspension); and signs
 * payload, journals it under seq (reserved), tells the observer, sends it
 * and waits for its answer. */
fogpay_error agent_may_send(const fogpay_agent *a);
/* An intent to payee (a device) or account, held hold_s (0: a payment),
 * naming plan_id (NULL: none) as an instalment of it. */
fogpay_error agent_pay_to(fogpay_agent *a, const char *payee, uint64_t account,
                          uint64_t amount_minor, uint16_t currency, uint32_t hold_s,
                          const char *reference, const char *plan_id, fogpay_agent_outcome *out);
fogpay_error agent_submit(fogpay_agent *a, uint64_t seq, uint8_t kind, const uint8_t *payload,
                          size_t payload_len, fogpay_agent_outcome *out);

/* agent_send.c: sends the journaled message e (its original bytes). */
fogpay_error agent_send_entry(fogpay_agent *a, const fogpay_journal_entry *e);
/* Sends the first pending message whose seq is at least *from_seq and
 * moves *from_seq past it. FOGPAY_ERR_NOT_FOUND when there is none, else
 * the send's result. */
fogpay_error agent_send_next(fogpay_agent *a, uint64_t *from_seq);
/* Pending messages whose seq is below from_seq: those of a resend that
 * are still unanswered. */
size_t agent_unanswered(const fogpay_agent *a, uint64_t from_seq);
/* While connected: true when the oldest pending message has had no
 * receipt for the current step (first the receipt timeout, doubling up to
 * FOGPAY_AGENT_RESEND_MAX_MS), so that every pending message is to be
 * sent again; the next step starts then. now_ms is
 * fogpay_clock_monotonic_ms(). */
bool agent_resend_due(fogpay_agent *a, uint64_t now_ms);

/* agent_gateway_key.c */
/* Verifies a receipt or command (msg, len) with the known gateway key its
 * kid names; *payload (a view into msg) and *signer, whose validity the
 * caller checks against the signed time, on success. Errors:
 * FOGPAY_ERR_PAYLOAD_TOO_LARGE, the COSE and CBOR errors,
 * FOGPAY_ERR_BAD_SIGNATURE (an unknown kid, a bad signature). */
fogpay_error agent_gateway_open(const fogpay_agent *a, const uint8_t *msg, size_t len,
                                fogpay_bytes *payload, fogpay_gateway_key *signer);
/* Takes the key of a verified gateway-key command into next: signer ends at
 * its issue time, the announced key starts there. FOGPAY_ERR_EXISTS for a
 * key known already, FOGPAY_ERR_FIELD_RANGE for text that is no key. */
fogpay_error agent_gateway_key_announced(const fogpay_agent *a, const fogpay_gateway_key *signer,
                                         const fogpay_command *cmd, agent_state *next);

/* agent_command.c: runs a hook interrupted by a crash, at open. */
void agent_command_resume_hook(fogpay_agent *a);
/* Persists hook as pending, runs it and clears it, as a suspend or resume
 * command does (the plan's lapse and its end). */
fogpay_error agent_command_hook(fogpay_agent *a, agent_hook_pending hook);

/* agent_plan.c */
/* Loads the plan file at open (none: no plan). FOGPAY_ERR_STORAGE for a
 * file of no known format, FOGPAY_ERR_IO. */
fogpay_error agent_plan_load(fogpay_agent *a);
/* The plan's clock now (agent_plan.c: the wall clock with the gateway's
 * correction, never below the highest time seen plus the monotonic time
 * since). */
uint64_t agent_plan_now_ms(const fogpay_agent *a);
/* Applies a verified plan notice whose command seq is above the last
 * notice's (FOGPAY_ERR_SEQ_CONFLICT otherwise). */
fogpay_error agent_plan_notice(fogpay_agent *a, const fogpay_command *cmd);
/* Takes what a verified receipt answering a pending message says: the
 * gateway's time (for the plan's clock) and, on a settled instalment, its
 * plan's standing. */
void agent_plan_receipt(fogpay_agent *a, const fogpay_receipt *r);
/* FOGPAY_ERR_PLAN_LAPSED for a payment other than an instalment while the
 * plan has lapsed. */
fogpay_error agent_plan_may_pay(const fogpay_agent *a, bool instalment);
/* Puts the device out of action, or back, as the plan's clock says now
 * (at open, and after what the gateway signed). */
void agent_plan_enforce(fogpay_agent *a);
/* In run mode, between waits: puts the device out of action when its
 * paid-up-to time has passed and back when it no longer has, pays an
 * instalment that fell due (when connected), persists the clock. */
void agent_plan_tick(fogpay_agent *a);

#endif
