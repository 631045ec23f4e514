/*
 * agent.h - libfogpay-agent, the device side of fogpay: what firmware on a
 * charger, a vending machine or a sensor links to pay, report usage and
 * obey its gateway.
 *
 * A fogpay_agent holds the device key, the gateway's public key, the
 * journal (agent_journal.h) and the device's persisted state (suspended,
 * limits, last known balances, its financing plan), and an MQTT connection
 * (agent_client.h). Paying is: check locally (suspended, out of action by
 * its plan, limits, journal room), reserve a sequence number durably,
 * build and sign the intent, journal it with fsync, publish it at QoS 1,
 * and wait for its receipt. Every receipt and
 * command is verified with the gateway key its kid names, at a time within
 * that key's validity, before it changes anything.
 *
 * Threading and ownership. A fogpay_agent is used by one thread at a time
 * and is the only user of its state directory. fogpay_agent_open() returns
 * an agent the caller frees with fogpay_agent_close(); the configuration
 * strings are copied, so the caller's may go away after open. Outcomes and
 * status are filled by value; nothing returned points into the agent.
 */
#ifndef FOGPAY_AGENT_H
#define FOGPAY_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"

/* Longest path of a file option (key, CA, certificate, hook). */
#define FOGPAY_AGENT_PATH_MAX 512

/* Longest host name. */
#define FOGPAY_AGENT_HOST_MAX 255

/* Currencies whose last balance the device remembers: a device pays in one
 * or two; the gateway settles at most eight. */
#define FOGPAY_AGENT_CURRENCIES_MAX 8

/* Default time to wait for a receipt (and to connect), in milliseconds. */
#define FOGPAY_AGENT_TIMEOUT_MS_DEFAULT 5000u

typedef struct fogpay_agent fogpay_agent;

/* Called once a message is durable in the journal, before it is sent. */
typedef void (*fogpay_agent_journaled_fn)(void *ctx, uint64_t seq, uint8_t kind);

typedef struct fogpay_agent_config {
    const char *state_dir;   /* journal and state; required */
    const char *key_path;    /* device private key file; required */
    const char *device_id;   /* = MQTT client id = username; required */
    const char *gateway_key; /* "ed25519:HEX"; required */
    const char *host;        /* NULL: 127.0.0.1 */
    int port;                /* 0: 1883 */
    const char *password;    /* NULL: no password (certificate login) */
    const char *cafile;      /* non-NULL: TLS */
    const char *certfile;    /* client certificate, with keyfile */
    const char *keyfile;
    int mqtt_version;    /* 5 or 3 (3.1.1); 0 means 5 */
    const char *prefix;  /* NULL: "fogpay/v1" */
    uint32_t timeout_ms; /* 0: FOGPAY_AGENT_TIMEOUT_MS_DEFAULT */
    const char *hook;    /* program run with "suspend" or "resume"; NULL: none */
    bool verbose;        /* log ignored duplicates too */
    fogpay_agent_journaled_fn journaled;
    void *journaled_ctx;
} fogpay_agent_config;

/* The gateway's answer to one message. */
typedef struct fogpay_agent_outcome {
    uint64_t seq;
    uint8_t kind;   /* fogpay_receipt_kind */
    uint8_t status; /* fogpay_receipt_status */
    fogpay_error reason;
    uint64_t transfer_id;
    bool has_balance;
    int64_t balance_after_minor;
    uint16_t currency;
    uint64_t hold_id;       /* a held receipt or a hold message's: the hold */
    uint64_t hold_expiry_s; /* a held receipt: when the hold expires */
    uint64_t held_minor;    /* a held receipt or a hold message's: held in open holds */
    uint64_t legs_minor;    /* what a fee schedule's legs took of a settled payment; 0 none */
    /* A reading of a bound meter: what it was charged (0 when it is not a
     * whole minor unit yet, carried to the next reading), the units since
     * the meter's last settled reading, and the tariff (empty otherwise). */
    uint64_t charge_minor;
    uint64_t consumption;
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1];
    /* A reading charged from the hold its binding names: what the hold has
     * left (hold_id names it, held_minor what the device holds in all). */
    uint64_t hold_left_minor;
    uint8_t note_count; /* a settled withdrawal: the notes handed over (and stored) */
} fogpay_agent_outcome;

typedef struct fogpay_agent_balance {
    uint16_t currency;
    int64_t balance_minor; /* available: what the device can spend */
    uint64_t position;     /* chain position of the receipt it came from */
    uint64_t held_minor;   /* in open holds of the device, from the same receipt */
} fogpay_agent_balance;

typedef struct fogpay_agent_status {
    size_t pending; /* journaled messages without a receipt */
    uint64_t next_seq;
    uint64_t journal_bytes;
    bool suspended;
    uint64_t last_command_seq;
    uint64_t per_payment_minor; /* limits from the gateway; 0: none */
    uint64_t per_day_minor;
    uint64_t wallet_max_minor;
    size_t balance_count;
    fogpay_agent_balance balances[FOGPAY_AGENT_CURRENCIES_MAX];
    /* The financing plan as the gateway last signed it (empty plan_id:
     * none): the next instalment (number 0: none left), the instalments
     * left and in arrears, the time the device is paid up to, whether it
     * is out of action by the plan, and the plan's clock now. */
    char plan_id[FOGPAY_PLAN_ID_MAX + 1];
    uint64_t plan_next_due_ms;
    uint64_t plan_amount_minor;
    uint16_t plan_currency;
    uint32_t plan_instalment;
    uint32_t plan_left;
    uint32_t plan_arrears;
    uint64_t plan_paid_up_to_ms;
    bool plan_lapsed;
    uint64_t plan_clock_ms;
} fogpay_agent_status;

/* Opens the agent: loads the device key and the gateway key, opens the
 * journal and the state; does not connect. Runs a hook interrupted by a
 * crash again. Errors: FOGPAY_ERR_CONFIG, FOGPAY_ERR_KEY_FILE,
 * FOGPAY_ERR_STORAGE, FOGPAY_ERR_IO, FOGPAY_ERR_NO_MEMORY. */
fogpay_error fogpay_agent_open(const fogpay_agent_config *config, fogpay_agent **out);
void fogpay_agent_close(fogpay_agent *a);

/* Connects once (with the configured timeout), subscribes to the device's
 * receipt and command topics (and its reply topic on MQTT 5), takes in
 * what the broker queued for the session, and resends every pending
 * message with its original bytes, in order. FOGPAY_ERR_NETWORK. */
fogpay_error fogpay_agent_connect(fogpay_agent *a);
bool fogpay_agent_connected(const fogpay_agent *a);

/* Pays amount_minor of currency (ISO 4217 numeric) to the device payee.
 * reference may be NULL. Refused before anything is signed: malformed
 * arguments (the encoder's errors: FOGPAY_ERR_FIELD_RANGE,
 * FOGPAY_ERR_TEXT_INVALID, FOGPAY_ERR_CURRENCY_UNSUPPORTED for an unknown
 * code), FOGPAY_ERR_DEVICE_SUSPENDED, FOGPAY_ERR_LIMIT_PER_PAYMENT (a limit
 * the gateway sent), FOGPAY_ERR_JOURNAL_FULL. Once journaled: FOGPAY_OK with
 * *out set when the receipt came (settled or rejected: see out->status),
 * FOGPAY_ERR_TIMEOUT when it did not (the intent stays journaled and is
 * resent on the next connection). out->seq is set once the intent is
 * journaled, whatever happens after. */
fogpay_error fogpay_agent_pay(fogpay_agent *a, const char *payee, uint64_t amount_minor,
                              uint16_t currency, const char *reference, fogpay_agent_outcome *out);
/* The same, paying an account of the gateway's ledger by its number
 * (intent key 4) instead of a device: a legal entity's account, which its
 * owner reads with getEntityAccount (fogpayctl entity account). */
fogpay_error fogpay_agent_pay_account(fogpay_agent *a, uint64_t account, uint64_t amount_minor,
                                      uint16_t currency, const char *reference,
                                      fogpay_agent_outcome *out);

/* Pays the next instalment of the device's plan, as the gateway's last
 * plan notice states it (amount, the lender's account, currency): an
 * intent naming the plan, journaled and answered like a payment. It is
 * paid even while the plan has lapsed. FOGPAY_ERR_PLAN_UNKNOWN (no notice
 * yet), FOGPAY_ERR_PLAN_PAID (none left), and the refusals of
 * fogpay_agent_pay. Every other payment of a device whose paid-up-to time
 * has passed is refused with FOGPAY_ERR_PLAN_LAPSED (agent_plan.c). */
fogpay_error fogpay_agent_pay_instalment(fogpay_agent *a, fogpay_agent_outcome *out);
/* Authorises amount_minor to payee, held hold_s seconds (1 to
 * FOGPAY_HOLD_TIMEOUT_MAX_S): an intent with a hold timeout, journaled and
 * answered like a payment. out->status is FOGPAY_STATUS_HELD when the
 * gateway holds it, with out->hold_id naming the hold for a capture or a
 * void, out->hold_expiry_s and out->held_minor. Refusals as
 * fogpay_agent_pay. */
fogpay_error fogpay_agent_authorise(fogpay_agent *a, const char *payee, uint64_t amount_minor,
                                    uint16_t currency, uint32_t hold_s, const char *reference,
                                    fogpay_agent_outcome *out);

/* The hold messages (schemas/hold.cddl), journaled and answered like a
 * payment: a capture of amount_minor of hold_id (the device is its
 * payee), or a void (the device is its payer or payee). Settled: the
 * receipt's balance is the device's; refused with the gateway's reason
 * otherwise (hold_captured, hold_voided, hold_expired, ...). Refused
 * before anything is signed: FOGPAY_ERR_FIELD_RANGE (a hold id of 0 or
 * over 2^63-1), FOGPAY_ERR_AMOUNT_ZERO, FOGPAY_ERR_DEVICE_SUSPENDED,
 * FOGPAY_ERR_JOURNAL_FULL. */
fogpay_error fogpay_agent_capture(fogpay_agent *a, uint64_t hold_id, uint64_t amount_minor,
                                  fogpay_agent_outcome *out);
fogpay_error fogpay_agent_void(fogpay_agent *a, uint64_t hold_id, fogpay_agent_outcome *out);

/* Reports a meter reading, journaled and answered like a payment: a
 * reading of a bound meter is settled at its tariff (out->charge_minor,
 * consumption, tariff_id), one of an unbound meter stored. */
fogpay_error fogpay_agent_usage(fogpay_agent *a, const char *meter_id, uint64_t quantity,
                                const char *unit, fogpay_agent_outcome *out);

/* Binds one of the device's meters to a tariff the operator defined,
 * journaled and answered like a payment: stored (out->tariff_id) or
 * rejected (tariff_unknown, tariff_not_effective, tariff_own_payee). */
fogpay_error fogpay_agent_bind(fogpay_agent *a, const char *meter_id, const char *tariff_id,
                               fogpay_agent_outcome *out);
/* The same, the meter's readings charged from hold_id, an open hold of the
 * device to the tariff's payee (0: from the wallet); rejected besides
 * with hold_unknown, hold_foreign, hold_resolved, hold_tariff_payee or
 * hold_tariff_currency. A reading charged from it answers with the hold
 * (out->hold_id) and what it has left (out->hold_left_minor); one whose
 * charge is over that is rejected with hold_insufficient. */
fogpay_error fogpay_agent_bind_hold(fogpay_agent *a, const char *meter_id, const char *tariff_id,
                                    uint64_t hold_id, fogpay_agent_outcome *out);

/* Waits for and handles incoming messages until the journal is empty or
 * timeout_ms passed: FOGPAY_OK when empty, FOGPAY_ERR_TIMEOUT, or
 * FOGPAY_ERR_NETWORK when the connection is lost. */
fogpay_error fogpay_agent_drain(fogpay_agent *a, uint32_t timeout_ms);

/* The daemon: keeps the connection (reconnecting with exponential backoff
 * and jitter, resending the journal each time; while connected, resending
 * it when the oldest message has had no receipt for a step that starts at
 * the receipt timeout and doubles), handles receipts and
 * commands, until *stop becomes non-zero; with until_drained, also returns
 * FOGPAY_OK once connected with an empty journal. */
fogpay_error fogpay_agent_run(fogpay_agent *a, const volatile sig_atomic_t *stop,
                              bool until_drained);

/* Handles one receipt (the signed bytes as received). FOGPAY_OK when it was
 * applied: verified, for this device, answering a pending message whose
 * hash it names; the message leaves the journal and a settled balance is
 * remembered. Otherwise nothing changes and the error says why:
 * FOGPAY_ERR_BAD_SIGNATURE (and the COSE and CBOR errors),
 * FOGPAY_ERR_DEVICE_MISMATCH, FOGPAY_ERR_NOT_FOUND (no pending message
 * with that seq: an old or replayed receipt), FOGPAY_ERR_SEQ_CONFLICT (the
 * receipt names another message's hash or kind), or the storage error of
 * saving its balance (FOGPAY_ERR_IO: the message stays pending, and the
 * gateway's repeat of the receipt is applied once the state can be saved). */
fogpay_error fogpay_agent_receipt_handle(fogpay_agent *a, const uint8_t *msg, size_t len);

/* Verifies a receipt (the signed bytes) without applying it: its signature
 * with the gateway key its kid names, kept by the device with that key's
 * validity (the configured key, and each key the gateway announced), and
 * its time within that validity. So a receipt from before a gateway key
 * rotation still verifies. FOGPAY_OK with *out set; FOGPAY_ERR_KEY_REVOKED
 * for a receipt signed by a replaced key and dated after its end;
 * FOGPAY_ERR_BAD_SIGNATURE for an unknown kid or a bad signature; the COSE
 * and CBOR errors. */
fogpay_error fogpay_agent_receipt_verify(const fogpay_agent *a, const uint8_t *msg, size_t len,
                                         fogpay_receipt *out);

/* Handles one command. FOGPAY_OK when applied (state persisted, hook run);
 * otherwise nothing changes: FOGPAY_ERR_BAD_SIGNATURE (and the COSE and
 * CBOR errors), FOGPAY_ERR_KEY_REVOKED (signed by a replaced gateway key
 * after its end), FOGPAY_ERR_DEVICE_MISMATCH, FOGPAY_ERR_SEQ_CONFLICT (a
 * command_seq not above the last one applied: old, replayed or the retained
 * copy of one already applied). A gateway-key command adds the gateway's
 * next key, which signs from the command's issue time on; the key that
 * signed the command then signs nothing dated later. */
fogpay_error fogpay_agent_command_handle(fogpay_agent *a, const uint8_t *msg, size_t len);

/* The outcome of the last receipt applied, for callers of the handlers. */
void fogpay_agent_last_outcome(const fogpay_agent *a, fogpay_agent_outcome *out);

/* Withdraws amount_minor of currency from the device's wallet in bearer
 * notes (schemas/note.cddl note-withdraw), journaled and answered like a
 * payment. The notes arrive on the device's note topic before the receipt
 * and are kept in the note store of the state directory; out->note_count
 * counts them. Refused before anything is signed: FOGPAY_ERR_WALLET_MAX
 * when the notes held in the currency and the amount would exceed the
 * wallet maximum the gateway set (a compromised device can lose at most
 * that), and the refusals of fogpay_agent_pay. */
fogpay_error fogpay_agent_withdraw(fogpay_agent *a, uint64_t amount_minor, uint16_t currency,
                                   fogpay_agent_outcome *out);

/* Pays amount_minor of currency to the device payee with notes of the
 * store that make it exactly (at most FOGPAY_NOTE_PAYMENT_NOTES_MAX), each
 * handed to payee_key ("<alg>:<hex>": the payee's public key, which the
 * payee shows) by a custody entry the device signs; journaled and answered
 * like a payment. A stored receipt (out->note_count) takes them out of
 * the store. Refused before anything is signed:
 * FOGPAY_ERR_NOTE_SUM_MISMATCH (the store cannot make the amount),
 * FOGPAY_ERR_TEXT_INVALID (payee_key), and those of fogpay_agent_pay. */
fogpay_error fogpay_agent_pay_notes(fogpay_agent *a, const char *payee, const char *payee_key,
                                    uint64_t amount_minor, uint16_t currency,
                                    fogpay_agent_outcome *out);

/* Gives notes of the store that make amount_minor of currency exactly
 * back to the gateway (its key the one the device was configured with),
 * their value credited to the device's own wallet: journaled and answered
 * like a payment; a settled receipt (out->note_count) takes them out of the
 * store. Refusals as fogpay_agent_pay_notes. */
fogpay_error fogpay_agent_redeem(fogpay_agent *a, uint64_t amount_minor, uint16_t currency,
                                 fogpay_agent_outcome *out);

/* One note of the store: its serial, currency and value. */
typedef int (*fogpay_agent_note_visit)(void *ctx, const uint8_t *serial, uint16_t currency,
                                       uint64_t denomination_minor);
/* Visits the notes the device holds, in the order they came; a nonzero
 * return stops. FOGPAY_ERR_IO for a store that cannot be read. */
fogpay_error fogpay_agent_notes(const fogpay_agent *a, fogpay_agent_note_visit visit, void *ctx);

/* Journal and state as they are on disk now. */
void fogpay_agent_status_get(const fogpay_agent *a, fogpay_agent_status *out);

#endif
