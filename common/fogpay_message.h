/*
 * fogpay_message.h - the messages of the wire contract (the CDDL files in schemas/):
 * encode and decode of each payload, and the signed envelope around it.
 *
 * Every payload is a CBOR map with small unsigned integer keys. Encoding is
 * deterministic (RFC 8949 section 4.2.1: shortest heads, keys in ascending
 * order, definite lengths), so a decoded message re-encodes byte for byte.
 * Decoding is strict: the input must be exactly one map, keys ascending with
 * no duplicates, every required key present, no unknown key, every integer
 * and length in range; each violation has its own error. Decoded structs own
 * their text in fixed arrays (NUL-terminated) sized by fogpay_limits.h, so
 * they hold no pointers into the input and need no freeing.
 *
 * Times on devices are unix seconds (compact); times in the ledger and in
 * batches are unix milliseconds.
 */
#ifndef FOGPAY_MESSAGE_H
#define FOGPAY_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "fogpay_cbor.h"
#include "fogpay_currency.h"
#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"

/* Payment intent, device to gateway (schemas/intent.cddl). Exactly one of
 * payee_device (non-empty) and payee_account (non-zero) names the payee. */
typedef struct fogpay_intent {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];    /* key 1 */
    uint64_t seq;                                /* key 2, >= 1 */
    char payee_device[FOGPAY_DEVICE_ID_MAX + 1]; /* key 3 */
    uint64_t payee_account;                      /* key 4 */
    uint64_t amount_minor;                       /* key 5, 1..FOGPAY_AMOUNT_MAX_MINOR */
    uint16_t currency;                           /* key 6, ISO 4217 numeric */
    uint64_t created_s;                          /* key 7 */
    uint32_t ttl_s;                              /* key 8, 1..FOGPAY_TTL_MAX_S */
    char reference[FOGPAY_REFERENCE_MAX + 1];    /* key 9, optional */
    uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES];   /* key 10 */
    uint32_t hold_s;                      /* key 11, optional: an authorisation held this long,
                                             1..FOGPAY_HOLD_TIMEOUT_MAX_S (schemas/hold.cddl) */
    char plan_id[FOGPAY_PLAN_ID_MAX + 1]; /* key 12, optional: an instalment of it */
} fogpay_intent;

/* Meter reading for pay-per-use, device to gateway (schemas/usage.cddl).
 * Readings share the device's sequence and previous-hash chain with intents. */
typedef struct fogpay_usage {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];  /* key 1 */
    uint64_t seq;                              /* key 2 */
    char meter_id[FOGPAY_METER_ID_MAX + 1];    /* key 3 */
    uint64_t quantity;                         /* key 4 */
    char unit[FOGPAY_UNIT_MAX + 1];            /* key 5 */
    uint64_t created_s;                        /* key 6 */
    uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES]; /* key 7 */
} fogpay_usage;

/* Binding of a meter to a tariff, device to gateway (schemas/bind.cddl):
 * from then on the device's readings of that meter are charged at the
 * tariff. Bindings share the device's sequence and previous-hash chain. */
typedef struct fogpay_bind {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];  /* key 1 */
    uint64_t seq;                              /* key 2 */
    char meter_id[FOGPAY_METER_ID_MAX + 1];    /* key 3 */
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1];  /* key 4 */
    uint64_t created_s;                        /* key 5 */
    uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES]; /* key 6 */
    uint64_t hold_id; /* key 7, optional: an open hold of the device that pays the readings */
} fogpay_bind;
typedef enum fogpay_hold_op {
    FOGPAY_HOLD_CAPTURE = 0, /* the payee takes amount_minor, the rest goes back */
    FOGPAY_HOLD_VOID = 1,    /* the whole amount goes back to the payer */
} fogpay_hold_op;

/* Resolution of a hold, device to gateway (schemas/hold.cddl): a capture
 * (by the payee) or a void (by the payer or the payee) of the hold named
 * by its id, the position of its authorisation. Shares the device's
 * sequence and previous-hash chain with its intents and readings. */
typedef struct fogpay_hold_message {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];  /* key 1 */
    uint64_t seq;                              /* key 2 */
    uint8_t op;                                /* key 3, fogpay_hold_op */
    uint64_t hold_id;                          /* key 4 */
    uint64_t amount_minor;                     /* key 5, exactly with a capture */
    uint64_t created_s;                        /* key 6 */
    uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES]; /* key 7 */
} fogpay_hold_message;

typedef enum fogpay_receipt_kind {
    FOGPAY_RECEIPT_INTENT = 0,
    FOGPAY_RECEIPT_USAGE = 1,
    FOGPAY_RECEIPT_HOLD = 2,         /* a hold message: capture or void */
    FOGPAY_RECEIPT_BIND = 3,         /* a meter binding */
    FOGPAY_RECEIPT_WITHDRAW = 4,     /* a withdrawal of bearer notes (note.cddl) */
    FOGPAY_RECEIPT_NOTE_PAYMENT = 5, /* a payment with bearer notes (note.cddl) */
    FOGPAY_RECEIPT_NOTE_REDEEM = 6,  /* bearer notes given back into a wallet (note.cddl) */
} fogpay_receipt_kind;

typedef enum fogpay_receipt_status {
    FOGPAY_STATUS_SETTLED = 0,  /* the transfer is committed (an intent, a charged reading) */
    FOGPAY_STATUS_REJECTED = 1, /* refused; reason says why; no money moved */
    FOGPAY_STATUS_STORED = 2,   /* a reading or a binding is committed, no money moved */
    FOGPAY_STATUS_HELD = 3,     /* an authorisation is committed: the amount is held */
} fogpay_receipt_status;

/* Receipt, gateway to device (schemas/receipt.cddl). A repeated (device,
 * seq) is answered with the original receipt's bytes. A held receipt is
 * a settled one of an authorisation, with the hold's id, expiry and the
 * payer's held amount besides (its balance is the available one). A settled receipt
 * carries transfer_id, the balance (has_balance set, with currency; 0 is a
 * balance) and the chain entry (position, chain_hash); any other receipt
 * carries none of them (zero, has_balance false). */
typedef struct fogpay_receipt {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1]; /* key 1 */
    uint64_t seq;                             /* key 2 */
    uint8_t kind;                             /* key 3, fogpay_receipt_kind */
    uint8_t status;                           /* key 4, fogpay_receipt_status */
    uint16_t reason;                          /* key 5, fogpay_error, 0 when settled */
    uint64_t transfer_id;                     /* key 6, settled intents only */
    int64_t balance_after_minor;              /* key 7, payer wallet; with has_balance */
    bool has_balance;
    uint64_t position;                          /* key 8, chain position */
    uint8_t chain_hash[FOGPAY_HASH_BYTES];      /* key 9, with position */
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1]; /* key 10 */
    uint64_t time_s;                            /* key 11 */
    uint8_t intent_hash[FOGPAY_HASH_BYTES];     /* key 12, SHA-256 of the signed message */
    uint16_t currency;                          /* key 13, with has_balance */
    uint64_t hold_id;                           /* key 14, held intents and settled hold messages */
    uint64_t hold_expiry_s; /* key 15, held only: when the hold expires (gateway clock) */
    uint64_t held_minor;    /* key 16, held only: the payer's open holds in the currency */
    uint64_t charge_minor;  /* key 17, a charged reading: its charge */
    uint64_t consumption;   /* key 18, a bound reading: units since the last */
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1]; /* key 19, a bound reading or a binding */
    uint64_t legs_minor;      /* key 20, settled, optional: what the transfer's further legs (fees)
                               * took of the amount; the first leg is the rest */
    uint64_t hold_left_minor; /* key 21, a reading charged from a hold (key 14): what the
                               * hold has left after the charge (absent 0) */
    /* A settled instalment (an intent naming a plan): where its plan stands
     * once it is paid, signed by the gateway (ledger_plan_status.c). */
    uint64_t paid_up_to_s;                /* key 22, with plan_id: the device is paid up to */
    char plan_id[FOGPAY_PLAN_ID_MAX + 1]; /* key 23, with paid_up_to_s */
    uint32_t plan_arrears;                /* key 24, optional: instalments past their grace */
    uint32_t plan_left;                   /* key 25, optional: 0 (absent) when paid off */
    uint8_t note_count; /* key 26, a settled withdrawal: the notes handed over on dev/D/note;
                         * a stored note payment: the notes now the payee's */
} fogpay_receipt;

typedef enum fogpay_command_kind {
    FOGPAY_COMMAND_SUSPEND = 0,
    FOGPAY_COMMAND_RESUME = 1,
    FOGPAY_COMMAND_LIMITS = 2,
    FOGPAY_COMMAND_GATEWAY_KEY = 3, /* the gateway's next key, signed with the current one */
    FOGPAY_COMMAND_PLAN = 4,        /* a plan notice: the device's schedule and paid-up-to */
} fogpay_command_kind;

/* Command, gateway to device (schemas/command.cddl). Limits are present only
 * for FOGPAY_COMMAND_LIMITS; zero there means "no limit". */
typedef struct fogpay_command {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];     /* key 1 */
    uint64_t command_seq;                         /* key 2, per device, increasing */
    uint8_t kind;                                 /* key 3 */
    uint64_t issued_s;                            /* key 4 */
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1];   /* key 5 */
    uint16_t reason;                              /* key 6, optional, why (0 = operator) */
    uint64_t per_payment_minor;                   /* key 7, limits only */
    uint64_t per_day_minor;                       /* key 8, limits only */
    uint64_t wallet_max_minor;                    /* key 9, limits only */
    char gateway_key[FOGPAY_PUBLIC_KEY_TEXT_MAX]; /* key 10, gateway-key only: "<alg>:<hex>",
                                                     valid from issued_s */
    /* A plan notice only (schemas/command.cddl): the plan, its next
     * instalment (keys 23, 24, 26, 27, 28, present exactly while one is
     * left), the time the device is paid up to and the arrears. */
    char plan_id[FOGPAY_PLAN_ID_MAX + 1]; /* key 22 */
    uint64_t next_due_s;                  /* key 23: when the next instalment falls due */
    uint64_t amount_minor;                /* key 24: its amount */
    uint64_t paid_up_to_s;                /* key 25 */
    uint64_t lender_account;              /* key 26: the payee of an instalment */
    uint16_t currency;                    /* key 27 */
    uint32_t instalment;                  /* key 28: the next instalment's number */
    uint32_t plan_left;                   /* key 29, optional: 0 (absent) when paid off or closed */
    uint32_t plan_arrears;                /* key 30, optional */
} fogpay_command;

typedef enum fogpay_transfer_kind {
    FOGPAY_TRANSFER_PAYMENT = 0,    /* device intent, wallet to wallet or account */
    FOGPAY_TRANSFER_FUNDING = 1,    /* operator funds a wallet from a system account */
    FOGPAY_TRANSFER_REFUND = 2,     /* returns (part of) an earlier payment */
    FOGPAY_TRANSFER_REVERSAL = 3,   /* undoes an earlier transfer in full */
    FOGPAY_TRANSFER_WITHDRAWAL = 4, /* money leaves the gateway: a payout of an entity account */
    /* Holds. The authorisation moves the amount from the payer's wallet to
     * the currency's holds account; the others name it by key 14. */
    FOGPAY_TRANSFER_AUTHORISATION = 5,   /* a device's held intent */
    FOGPAY_TRANSFER_CAPTURE = 6,         /* holds account to the payee */
    FOGPAY_TRANSFER_RELEASE = 7,         /* holds account back to the payer: a void, a rest */
    FOGPAY_TRANSFER_EXPIRY = 8,          /* holds account back to the payer: the timeout */
    FOGPAY_TRANSFER_USAGE_CHARGE = 9,    /* a bound meter's reading, charged at its tariff */
    FOGPAY_TRANSFER_ENTITY_PAYMENT = 10, /* a legal entity's account pays a device's wallet */
    FOGPAY_TRANSFER_INSTALMENT = 11,     /* a device pays an instalment of its plan's loan */
    /* Financing by the gateway: no device origin, the plan named as an
     * instalment names it (keys 24 and 25). */
    FOGPAY_TRANSFER_EARLY_SETTLEMENT = 12, /* what is left of a plan, paid at once: it closes */
    FOGPAY_TRANSFER_COLLECTION = 13,       /* the gateway takes a late instalment from the wallet */
    FOGPAY_TRANSFER_NOTE_WITHDRAWAL = 14,  /* a device's wallet to the notes account: notes out */
    /* 15 is reserved for bearer notes. */
    FOGPAY_TRANSFER_NOTE_REDEMPTION = 16, /* the notes account to a wallet: notes come back */
    /* The notes account to a legal entity's account: notes handed back by
     * the entity (redeemNotes), no device origin. */
    FOGPAY_TRANSFER_NOTE_ENTITY_REDEMPTION = 17,
    /* A bound meter's reading charged from the hold its binding names:
     * holds account to the tariff's payee, naming the hold by key 14. */
    FOGPAY_TRANSFER_HOLD_CHARGE = 18,
} fogpay_transfer_kind;

/* One leg of a transfer: amount_minor from the debit to the credit
 * account. */
typedef struct fogpay_leg {
    uint64_t debit_account;
    uint64_t credit_account;
    uint64_t amount_minor;
} fogpay_leg;

/* One settled transfer as the chain hashes it and batches carry it
 * (schemas/transfer.cddl). The id is the chain position (1-based). Keys 3
 * to 5 are its first leg; a multi-leg transfer (fees and splits) carries
 * its further legs under key 20, all settled at its one position; the
 * transfer's total is the sum of every leg (fogpay_transfer_total). */
typedef struct fogpay_transfer {
    uint64_t position;                           /* key 1 */
    uint8_t kind;                                /* key 2 */
    uint64_t debit_account;                      /* key 3 */
    uint64_t credit_account;                     /* key 4 */
    uint64_t amount_minor;                       /* key 5 */
    uint16_t currency;                           /* key 6 */
    uint64_t time_ms;                            /* key 7 */
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];    /* key 8, optional: the paying device */
    uint64_t seq;                                /* key 9, with device_id */
    char payer_entity[FOGPAY_ENTITY_ID_MAX + 1]; /* key 10, optional pseudonym */
    char payee_entity[FOGPAY_ENTITY_ID_MAX + 1]; /* key 11, optional pseudonym */
    uint8_t intent_hash[FOGPAY_HASH_BYTES];      /* key 12, with device_id */
    char reference[FOGPAY_REFERENCE_MAX + 1];    /* key 13, optional */
    uint64_t related_position; /* key 14, optional: refunded/reversed, the authorisation */
    char meter_id[FOGPAY_METER_ID_MAX + 1];   /* key 18, usage charges: the meter */
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1]; /* key 19, usage charges: the tariff */
    char plan_id[FOGPAY_PLAN_ID_MAX + 1];     /* key 24, kinds 11 to 13: the plan */
    uint32_t instalment;                      /* key 25, kinds 11 to 13: its number, from 1 */
    uint8_t leg_count;                        /* legs after the first, 0..FOGPAY_LEGS_MAX-1 */
    fogpay_leg legs[FOGPAY_LEGS_MAX - 1];     /* key 20, optional: legs 2..leg_count+1 */
} fogpay_transfer;

/* Leg i of t: 0 is keys 3 to 5, 1..t->leg_count the further legs. */
fogpay_leg fogpay_transfer_leg(const fogpay_transfer *t, uint32_t i);
/* The sum of every leg's amount (at most FOGPAY_LEGS_MAX times the largest
 * amount: no overflow). */
uint64_t fogpay_transfer_total(const fogpay_transfer *t);

/* Basis points (1/10000) of a fee leg: 1..9999, as no leg takes it all. */
#define FOGPAY_BASIS_POINTS 10000u

/* One fee leg of a fee schedule: basis_points of every payment to the
 * payee go to account. */
typedef struct fogpay_fee_leg {
    uint64_t account;
    uint64_t basis_points;
} fogpay_fee_leg;

typedef enum fogpay_event_kind {
    FOGPAY_EVENT_REGISTERED = 0, /* a device registered, with its first owner */
    FOGPAY_EVENT_STATUS = 1,     /* a device's status changed (active, suspended, revoked) */
    FOGPAY_EVENT_OWNERSHIP = 2,  /* a device's owner or lessee changes from a time on */
    FOGPAY_EVENT_USAGE = 3,      /* a device's meter reading was stored */
    /* 4 is reserved for another kind of the contract. */
    FOGPAY_EVENT_KEY_ROTATED = 5,   /* a device's new key is active; the old one ends later */
    FOGPAY_EVENT_KEY_REVOKED = 6,   /* a device key's validity ended before its time */
    FOGPAY_EVENT_TARIFF = 7,        /* a tariff (a version of it) is defined, offered by a device */
    FOGPAY_EVENT_METER_BOUND = 8,   /* a device's meter is bound to a tariff */
    FOGPAY_EVENT_FEE_SCHEDULE = 9,  /* an operator set a payee's fee schedule from a time on */
    FOGPAY_EVENT_ENTITY_LOGIN = 10, /* a legal entity's login was created or removed */
    FOGPAY_EVENT_PLAN = 11,         /* a device's financing plan is created or changed */
    FOGPAY_EVENT_PLAN_CLOSED = 12,  /* a device's financing plan is closed */
    FOGPAY_EVENT_ARREARS_ENTERED = 13, /* a plan's instalment is unpaid past its grace */
    FOGPAY_EVENT_ARREARS_CLEARED = 14, /* nothing past its grace is unpaid any more */
    FOGPAY_EVENT_ERASURE = 18,         /* a legal entity's personal data were erased */
} fogpay_event_kind;

/* Which personal data an erasure event says were held and erased (key 36,
 * a set of these bits; never the data themselves). */
#define FOGPAY_ERASED_NAME     1u
#define FOGPAY_ERASED_CONTACT  2u
#define FOGPAY_ERASED_BANK_REF 4u

/* One event of a gateway's event chain (schemas/event.cddl): what the back
 * office must know besides transfers. The chain is built as the transfer
 * chain is, over the event records, with its own positions from 1. Which
 * optional fields an event carries depends on its kind (event_check in
 * fogpay_message.c); zero values are absent, as everywhere. */
typedef struct fogpay_event {
    uint64_t position;                        /* key 1 */
    uint8_t kind;                             /* key 2 */
    uint64_t time_ms;                         /* key 3, recorded (gateway clock) */
    char device_id[FOGPAY_DEVICE_ID_MAX + 1]; /* key 4, every kind but entity login */
    uint64_t seq;                             /* key 5, usage */
    char meter_id[FOGPAY_METER_ID_MAX + 1];   /* key 6, usage */
    uint64_t quantity;                        /* key 7, usage (absent when 0) */
    char unit[FOGPAY_UNIT_MAX + 1];           /* key 8, usage */
    char entity_id[FOGPAY_ENTITY_ID_MAX + 1]; /* key 9, registered, ownership, entity login */
    uint8_t role;                             /* key 10, ownership: 0 owner, 1 lessee */
    uint64_t effective_ms;                    /* key 11, ownership */
    uint8_t status;                           /* key 12, status: 0 active, 1 suspended, 2 revoked */
    uint8_t usage_hash[FOGPAY_HASH_BYTES];    /* key 13, usage: SHA-256 of the signed reading */
    uint8_t kid[FOGPAY_KID_BYTES];            /* key 14, key events: the key's id */
    uint16_t reason; /* key 15, status: the refusal that made the gateway change it (absent
                      * when an operator did) */
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1]; /* key 16, tariff and meter bound */
    char price[FOGPAY_PRICE_TEXT_MAX + 1];    /* key 17, tariff: "<num>/<den>" */
    uint64_t minimum_minor;                   /* key 18, tariff: its minimum charge (absent 0) */
    uint16_t currency;                        /* key 19, tariff */
    /* A fee schedule: its payee is device_id (a device's wallet) or
     * entity_id (that entity's account), neither for the default of every
     * payee; it applies from effective_ms to payments in fee_currency. */
    uint16_t fee_currency;                        /* key 20, fee schedule */
    uint8_t fee_leg_count;                        /* key 21's length; 0: no fee from then */
    fogpay_fee_leg fee_legs[FOGPAY_LEGS_MAX - 1]; /* key 21, optional */
    uint8_t fee_remainder;                        /* key 22: the leg of the remainder, 0 the
                                                     payee's (absent), i the i-th fee leg */
    char login[FOGPAY_LOGIN_NAME_MAX + 1];        /* key 23, entity login: its username */
    uint8_t login_removed; /* key 24, entity login: 1 removed (absent created) */
    /* A financing plan's version (plan, plan closed): device_id the
     * financed device, entity_id the lender, from effective_ms; a plan
     * version also names its currency, principal and terms, and (meter_id,
     * price) its usage price when it has one. */
    char plan_id[FOGPAY_PLAN_ID_MAX + 1]; /* key 25, plan and plan closed */
    uint64_t principal_minor;             /* key 26, plan */
    uint8_t plan_schedule_count;          /* key 27's length: 1 in a plan version */
    uint64_t plan_schedule[3];            /* key 27: rate_bp, instalment_count, period_ms */
    uint8_t plan_terms_count;             /* key 28's length: 1 in a plan version */
    uint64_t plan_terms[3];               /* key 28: grace_ms, shortfall, collect */
    uint8_t plan_payee_count;             /* key 37's length: a limit plan's named payees */
    char plan_payees[FOGPAY_PLAN_PAYEES_MAX][FOGPAY_PLAN_PAYEE_ID_MAX + 1]; /* key 37 */
    /* Arrears entered: device_id the financed device, entity_id its holder
     * when the first unpaid instalment fell due, plan_id, currency and what
     * was owed; arrears cleared names the device and the plan. */
    uint64_t arrears_minor; /* key 29, arrears entered */
    uint64_t hold_id;       /* key 39, meter bound: the hold that pays its readings (absent: the
                             * device's wallet) */
    /* An erasure: entity_id the legal entity, no device. */
    uint8_t erased_fields; /* key 36, erasure: FOGPAY_ERASED_* of what was held */
} fogpay_event;

/* The chains a gateway keeps for upstream, each in batches of its own. */
typedef enum fogpay_stream {
    FOGPAY_STREAM_TRANSFERS = 0, /* batch key 8: transfer records */
    FOGPAY_STREAM_EVENTS = 1,    /* batch key 9: event records */
    FOGPAY_STREAM_NOTES = 2,     /* batch key 10: note movements (note.cddl) */
} fogpay_stream;

/* Header of an upstream batch (schemas/batch.cddl); key 8 (transfers) or
 * key 9 (events) is the array of records, read with fogpay_batch_next() or
 * fogpay_batch_next_event(). Positions and hashes are of that stream's
 * chain. */
typedef struct fogpay_batch_header {
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1]; /* key 1 */
    uint64_t batch_seq;                         /* key 2 */
    uint64_t first_position;                    /* key 3 */
    uint64_t last_position;                     /* key 4 */
    uint8_t hash_before[FOGPAY_HASH_BYTES];     /* key 5 */
    uint8_t hash_after[FOGPAY_HASH_BYTES];      /* key 6 */
    uint64_t created_ms;                        /* key 7 */
    uint32_t record_count;                      /* length of key 8 or 9 */
    uint8_t stream;                             /* fogpay_stream: which key holds them */
} fogpay_batch_header;

typedef enum fogpay_ack_status {
    FOGPAY_ACK_STORED = 0,  /* stored (or stored before): the gateway may forget it */
    FOGPAY_ACK_REFUSED = 1, /* refused for reason; never stored */
    FOGPAY_ACK_RESEND = 2,  /* a gap: send again from resend_from */
} fogpay_ack_status;

/* Batch acknowledgement, cloud to gateway (schemas/batch.cddl). */
typedef struct fogpay_batch_ack {
    char gateway_id[FOGPAY_GATEWAY_ID_MAX + 1]; /* key 1 */
    uint64_t batch_seq;                         /* key 2 */
    uint8_t status;                             /* key 3 */
    uint16_t reason;                            /* key 4 */
    uint64_t stored_position;                   /* key 5, last position the cloud holds */
    uint8_t stored_hash[FOGPAY_HASH_BYTES];     /* key 6, chain hash there */
    uint64_t resend_from;                       /* key 7, optional, with FOGPAY_ACK_RESEND */
    uint8_t stream;                             /* key 8, optional: the batch's fogpay_stream */
} fogpay_batch_ack;

/* Encoders write the deterministic payload into buf (capacity cap) and set
 * *len; they validate the struct as the decoder would and return the same
 * errors, so nothing invalid is ever signed. Decoders fill *out only on
 * success. */
fogpay_error fogpay_intent_encode(const fogpay_intent *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_intent_decode(const uint8_t *buf, size_t len, fogpay_intent *out);
fogpay_error fogpay_usage_encode(const fogpay_usage *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_usage_decode(const uint8_t *buf, size_t len, fogpay_usage *out);
fogpay_error fogpay_bind_encode(const fogpay_bind *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_bind_decode(const uint8_t *buf, size_t len, fogpay_bind *out);
fogpay_error fogpay_hold_message_encode(const fogpay_hold_message *in, uint8_t *buf, size_t cap,
                                        size_t *len);
fogpay_error fogpay_hold_message_decode(const uint8_t *buf, size_t len, fogpay_hold_message *out);
fogpay_error fogpay_receipt_encode(const fogpay_receipt *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_receipt_decode(const uint8_t *buf, size_t len, fogpay_receipt *out);
fogpay_error fogpay_command_encode(const fogpay_command *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_command_decode(const uint8_t *buf, size_t len, fogpay_command *out);
fogpay_error fogpay_transfer_encode(const fogpay_transfer *in, uint8_t *buf, size_t cap,
                                    size_t *len);
fogpay_error fogpay_transfer_decode(const uint8_t *buf, size_t len, fogpay_transfer *out);
fogpay_error fogpay_event_encode(const fogpay_event *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_event_decode(const uint8_t *buf, size_t len, fogpay_event *out);
fogpay_error fogpay_batch_ack_encode(const fogpay_batch_ack *in, uint8_t *buf, size_t cap,
                                     size_t *len);
fogpay_error fogpay_batch_ack_decode(const uint8_t *buf, size_t len, fogpay_batch_ack *out);

/* Batch writing: begin with the header (record_count and stream set),
 * then append exactly record_count records of that stream (transfers with
 * fogpay_batch_add, events with fogpay_batch_add_event; the other kind is
 * FOGPAY_ERR_CBOR_TYPE), then finish. */
typedef struct fogpay_batch_writer {
    fogpay_cbor_writer cbor;
    uint32_t expected;
    uint32_t written;
    uint8_t stream;
} fogpay_batch_writer;
fogpay_error fogpay_batch_begin(fogpay_batch_writer *bw, const fogpay_batch_header *h, uint8_t *buf,
                                size_t cap);
fogpay_error fogpay_batch_add(fogpay_batch_writer *bw, const fogpay_transfer *t);
fogpay_error fogpay_batch_add_event(fogpay_batch_writer *bw, const fogpay_event *e);
/* Note movements (batch key 10) go in with fogpay_batch_add_note. */
struct fogpay_note_movement;
fogpay_error fogpay_batch_add_note(fogpay_batch_writer *bw, const struct fogpay_note_movement *m);
fogpay_error fogpay_batch_finish(fogpay_batch_writer *bw, size_t *len);

/* Batch reading: decodes and checks the header, then yields each record in
 * turn. *record_cbor receives a view of the record's encoded bytes (what the
 * chain hashes). Returns FOGPAY_OK per record; after the last record,
 * fogpay_batch_next() checks that nothing trails and returns
 * FOGPAY_ERR_NOT_FOUND to mean "no more". */
typedef struct fogpay_batch_reader {
    fogpay_cbor_reader cbor;
    uint32_t remaining;
    uint8_t stream;
} fogpay_batch_reader;
fogpay_error fogpay_batch_open(fogpay_batch_reader *br, const uint8_t *buf, size_t len,
                               fogpay_batch_header *out);
fogpay_error fogpay_batch_next(fogpay_batch_reader *br, fogpay_transfer *out,
                               fogpay_bytes *record_cbor);
/* The same for a batch of events; each is FOGPAY_ERR_CBOR_TYPE on a batch
 * of the other stream. */
fogpay_error fogpay_batch_next_event(fogpay_batch_reader *br, fogpay_event *out,
                                     fogpay_bytes *record_cbor);
fogpay_error fogpay_batch_next_note(fogpay_batch_reader *br, struct fogpay_note_movement *out,
                                    fogpay_bytes *record_cbor);

/* A tariff's price as the event record writes it: "<num>/<den>", num
 * price_num minor units per price_den units of the meter, each 1..2^63-1,
 * decimal without leading zeros. _format writes it into text (room for
 * FOGPAY_PRICE_TEXT_MAX + 1 bytes); _parse reads it, FOGPAY_ERR_FIELD_RANGE
 * for anything else. */
fogpay_error fogpay_price_format(uint64_t num, uint64_t den, char text[FOGPAY_PRICE_TEXT_MAX + 1]);
fogpay_error fogpay_price_parse(const char *text, uint64_t *num, uint64_t *den);

/* The seq (key 2) of a message that failed to decode, found by a lenient
 * walk of its top-level map, so that a rejection receipt can name it.
 * FOGPAY_ERR_NOT_FOUND when there is none to be found. */
fogpay_error fogpay_message_peek_seq(const uint8_t *buf, size_t len, uint64_t *seq);

#endif
