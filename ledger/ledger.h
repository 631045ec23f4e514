/*
 * ledger.h - the gateway's ledger in SQLite: the registry of legal entities
 * and devices, ownership history, accounts, double-entry transfers in a hash
 * chain, device messages with their receipts, and verification.
 *
 * Design. One SQLite file in WAL mode with synchronous=FULL, so a commit
 * has reached the disk when fogpay_ledger_commit() returns; a receipt that
 * says settled is published only after that. The schema is
 * schemas/ledger.sql; its version is in PRAGMA user_version and checked at
 * open. Every statement is prepared once at open and then bound, stepped,
 * checked and reset. Transfers are never updated or deleted: corrections
 * are new transfers. The chain: hash(n) = SHA-256(hash(n-1) || record(n)),
 * where record(n) is the deterministic CBOR of the transfer
 * (fogpay_transfer_encode) and hash(0) is 32 zero bytes.
 *
 * Responsibilities. The ledger owns every check that needs stored state:
 * device status, (device, seq) duplicates and conflicts, payee existence and
 * status, a financing plan in arrears limiting the payer to named payees,
 * per-payment and per-day limits, funds, the payee's wallet maximum,
 * the payee's fee schedule, which splits a payment into legs at one
 * chain position (ledger_fee.c), and a bound meter's readings against its
 * tariff and last settled reading.
 * The caller (plugin/device_message.c) owns everything before that: topic, size,
 * decoding, signature, expiry, currency being enabled.
 *
 * The hot state. What a settlement reads (devices with their keys and
 * limits, holders, wallets and balances, today's paid totals, the highest
 * answered seq, whether a plan of the device is in arrears, the chain
 * head, each device's bound meters with their
 * settlement state and tariff version) is held in memory by the handle, loaded on
 * first use and changed only with the ledger's own writes, rolled back
 * with them, and dropped when another connection commits to the file
 * (PRAGMA data_version); a settlement runs no SELECT. The per-day limit is
 * a running total per device, currency and UTC day (device_day_totals),
 * kept with each payment.
 *
 * Threading and ownership. A fogpay_ledger is used by one thread at a time;
 * it owns its sqlite3 handle, statements and hot state and is freed by
 * fogpay_ledger_close(). It also owns one thread of its own with its own
 * connection, which runs the WAL checkpoints (ledger_checkpoint.c), so that
 * no commit of the caller's thread runs one; fogpay_ledger_close() stops
 * and joins it first. Output structs are filled by value; nothing returned
 * points into the ledger.
 */
#ifndef FOGPAY_LEDGER_H
#define FOGPAY_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"

typedef struct fogpay_ledger fogpay_ledger;

typedef enum fogpay_device_status {
    FOGPAY_DEVICE_ACTIVE = 0,
    FOGPAY_DEVICE_SUSPENDED = 1,
    FOGPAY_DEVICE_REVOKED = 2,
} fogpay_device_status;

/* Limits of a device, in minor units of any currency; 0 means no limit. */
typedef struct fogpay_device_limits {
    uint64_t per_payment_minor;
    uint64_t per_day_minor;
    uint64_t wallet_max_minor;
} fogpay_device_limits;

/* Stored login verifiers, in a form that names their scheme
 * (common/fogpay_password.h): "sha256$<salt hex>$<digest hex>" for device
 * secrets, "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" for operators
 * and for device hashes stored before device secrets had their own. */
#define FOGPAY_PASSWORD_HASH_MAX 160

/* The schema version this code reads and writes (PRAGMA user_version). */
#define FOGPAY_LEDGER_SCHEMA_VERSION 7

/* Personal data of a legal entity, in bytes: a company name, an e-mail or
 * postal contact, an IBAN or similar reference all fit. */
#define FOGPAY_ENTITY_NAME_MAX     200
#define FOGPAY_ENTITY_CONTACT_MAX  200
#define FOGPAY_ENTITY_BANK_REF_MAX 200

/* The rejection log keeps the newest FOGPAY_LEDGER_REJECTIONS_MAX entries:
 * enough to see a misbehaving device or an attack, bounded so that a flood
 * of bad messages cannot fill the disk. It also logs clients that are not
 * devices, whose MQTT client ids may be up to 65535 bytes, so it stores at
 * most FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX bytes of the id. */
#define FOGPAY_LEDGER_REJECTIONS_MAX          10000
#define FOGPAY_LEDGER_REJECTION_CLIENT_ID_MAX 64

/* Most transfers one fogpay_ledger_transfer_list() call visits: a page that
 * keeps a reply or an export step small. */
#define FOGPAY_TRANSFER_LIST_MAX 1000

typedef struct fogpay_device {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    uint8_t status; /* fogpay_device_status */
    int alg;        /* fogpay_alg of the current key */
    uint8_t public_key[FOGPAY_PUBLIC_KEY_MAX];
    size_t public_key_len;
    char password_hash[FOGPAY_PASSWORD_HASH_MAX]; /* empty: certificate login only */
    fogpay_device_limits limits;
    uint64_t last_command_seq;
    uint64_t created_ms;
} fogpay_device;

/* Personal data of a legal entity. It is stored in its own table and never
 * copied: everything else names the entity by its pseudonymous id. */
typedef struct fogpay_entity_personal {
    const char *name;     /* required, at most 200 bytes */
    const char *contact;  /* optional */
    const char *bank_ref; /* optional */
} fogpay_entity_personal;

/* Opens (create: creating when absent) the ledger at path. Errors:
 * FOGPAY_ERR_STORAGE (cannot open, not a database), FOGPAY_ERR_SCHEMA_VERSION
 * (a database of another version, or not initialised and create is false).
 * *out is the caller's to close. fogpay_ledger_open_why() also writes, on
 * failure, the sentence saying why into why (cap bytes, may be NULL), as
 * the ledger's message is gone with the failed open. */
#define FOGPAY_LEDGER_WHY_MAX 512 /* room for the sentence, a path in it */
fogpay_error fogpay_ledger_open(const char *path, bool create, fogpay_ledger **out);
fogpay_error fogpay_ledger_open_why(const char *path, bool create, fogpay_ledger **out, char *why,
                                    size_t cap);
void fogpay_ledger_close(fogpay_ledger *l);

/* WAL checkpoints run by the ledger's checkpoint thread since open: for
 * monitoring, and for tests that the writer leaves them to it. */
uint64_t fogpay_ledger_checkpoints(fogpay_ledger *l);

/* The last SQLite message, for logs; static until the next call. */
const char *fogpay_ledger_last_message(const fogpay_ledger *l);

/* Transactions. Several settlements may share one transaction (group
 * commit). Commit is durable when it returns FOGPAY_OK. */
fogpay_error fogpay_ledger_begin(fogpay_ledger *l);
fogpay_error fogpay_ledger_commit(fogpay_ledger *l);
void fogpay_ledger_rollback(fogpay_ledger *l);

/* Savepoints inside a transaction, so one refused settlement in a group
 * leaves the others intact. They nest; fogpay_ledger_rollback_to() undoes
 * what was done since the innermost one and ends it, as release does. */
fogpay_error fogpay_ledger_savepoint(fogpay_ledger *l);
fogpay_error fogpay_ledger_release(fogpay_ledger *l);
void fogpay_ledger_rollback_to(fogpay_ledger *l);

/* Registry. Each call is its own transaction unless one is open (then it is
 * a savepoint in it, so a refusal leaves the rest of the transaction
 * intact). Errors: FOGPAY_ERR_INVALID_ARGUMENT (NULL), FOGPAY_ERR_FIELD_RANGE
 * (a length or value over its limit), FOGPAY_ERR_TEXT_INVALID (a device id
 * of other characters than ASCII letters, digits and ".:_-", as in the codec),
 * FOGPAY_ERR_EXISTS (the device is registered already, or a rotation to a
 * key it held before), FOGPAY_ERR_NOT_FOUND (no such device or owner
 * entity), FOGPAY_ERR_DEVICE_REVOKED (a revoked device stays revoked and
 * keeps its last key). Entity ids are "le-" and 16 random hex digits. */
fogpay_error fogpay_ledger_entity_create(fogpay_ledger *l, const fogpay_entity_personal *p,
                                         uint64_t now_ms, char id_out[FOGPAY_ENTITY_ID_MAX + 1]);
fogpay_error fogpay_ledger_device_register(fogpay_ledger *l, const char *device_id,
                                           const fogpay_key *public_key, const char *password_hash,
                                           const char *owner_entity,
                                           const fogpay_device_limits *limits, uint64_t now_ms);

/* One device of a bulk import; the strings and the key are the caller's. */
typedef struct fogpay_device_import {
    const char *device_id;
    const fogpay_key *public_key;
    const char *password_hash; /* a stored verifier, or NULL: certificate login only */
    const char *owner_entity;
    fogpay_device_limits limits;
} fogpay_device_import;

/* Registers count devices as one ledger operation: all or none. A device
 * that exists with the same active key, the same owner now and the same
 * limits, and is not revoked, is left as it is and marked in skipped[i]
 * (its stored verifier is kept: verifiers are salted, so two of the same
 * secret differ and are not compared); one that exists otherwise is
 * FOGPAY_ERR_EXISTS. On an error *failed is the index of the device at
 * fault and nothing is imported. Errors as fogpay_ledger_device_register. */
fogpay_error fogpay_ledger_device_import(fogpay_ledger *l, const fogpay_device_import *devices,
                                         size_t count, uint64_t now_ms, bool *skipped,
                                         size_t *failed);
fogpay_error fogpay_ledger_device_get(fogpay_ledger *l, const char *device_id, fogpay_device *out);
fogpay_error fogpay_ledger_device_set_status(fogpay_ledger *l, const char *device_id,
                                             fogpay_device_status status, uint64_t now_ms);
/* Suspends a device because of what it sent (reason, a reason code: a
 * chain fork), recording the reason in the status event. */
fogpay_error fogpay_ledger_device_suspend_for(fogpay_ledger *l, const char *device_id,
                                              fogpay_error reason, uint64_t now_ms);
fogpay_error fogpay_ledger_device_set_limits(fogpay_ledger *l, const char *device_id,
                                             const fogpay_device_limits *limits, uint64_t now_ms);
/* Makes public_key the device's active key. The key it replaces is kept in
 * the key history and stays valid until now_ms + overlap_ms (the end of its
 * overlap window; overlap_ms 0 ends it now, at most
 * FOGPAY_KEY_OVERLAP_MAX_S seconds, else FOGPAY_ERR_FIELD_RANGE), so that
 * messages it signed before the rotation are still answered. One old key at
 * a time is in its window: a rotation ends an earlier one now. Appends a
 * key-rotated event (the new key's kid, the old key's end) and a
 * key-revoked event for each earlier key ended. rotate_key is overlap 0. */
fogpay_error fogpay_ledger_device_rotate_key(fogpay_ledger *l, const char *device_id,
                                             const fogpay_key *public_key, uint64_t now_ms);
fogpay_error fogpay_ledger_device_rotate_key_overlap(fogpay_ledger *l, const char *device_id,
                                                     const fogpay_key *public_key,
                                                     uint64_t overlap_ms, uint64_t now_ms);
/* Ends now the overlap window of the device's retired key, with a
 * key-revoked event: its signatures are refused from now on.
 * FOGPAY_ERR_NOT_FOUND for an unknown device or when no retired key is
 * valid after now_ms. */
fogpay_error fogpay_ledger_device_revoke_keys(fogpay_ledger *l, const char *device_id,
                                              uint64_t now_ms);
/* The index-th most recently retired key of device_id (0: the key replaced
 * last), so that a message signed with a retired key can be told from a
 * forgery, and accepted while the key's overlap window lasts: *until_ms
 * (may be NULL) is the end of its validity. FOGPAY_ERR_NOT_FOUND past the
 * oldest. public_key has room for FOGPAY_PUBLIC_KEY_MAX bytes. */
fogpay_error fogpay_ledger_device_retired_key(fogpay_ledger *l, const char *device_id,
                                              uint32_t index, int *alg, uint8_t *public_key,
                                              size_t *public_key_len, uint64_t *until_ms);

/* The gateway's key history (ledger_gateway_key.c), of fogpay_gateway_key
 * entries (common/fogpay_key.h). */
/* At the gateway's start, with its signing key: an empty history takes key
 * as active from now_ms; the active key is FOGPAY_OK. Refused: a key the
 * history holds as ended (FOGPAY_ERR_KEY_REVOKED), or a key unknown to it
 * while another is active (FOGPAY_ERR_NOT_FOUND): keys change only by
 * fogpay_ledger_gateway_key_rotate(), after the devices were told. */
fogpay_error fogpay_ledger_gateway_key_start(fogpay_ledger *l, const fogpay_key *key,
                                             uint64_t now_ms);
/* Ends the active key at now_ms and makes next active from then, in one
 * operation. FOGPAY_ERR_EXISTS for a key the history holds already,
 * FOGPAY_ERR_NOT_FOUND with no active key. */
fogpay_error fogpay_ledger_gateway_key_rotate(fogpay_ledger *l, const fogpay_key *next,
                                              uint64_t now_ms);
/* The active key; FOGPAY_ERR_NOT_FOUND before the gateway's first start. */
fogpay_error fogpay_ledger_gateway_key_active(fogpay_ledger *l, fogpay_gateway_key *out);
/* The key of kid; FOGPAY_ERR_NOT_FOUND when the history has none. */
fogpay_error fogpay_ledger_gateway_key_get(fogpay_ledger *l, const uint8_t kid[FOGPAY_KID_BYTES],
                                           fogpay_gateway_key *out);
/* A page of the ids of devices not revoked, in id order after `after`
 * ("" from the first): at most cap into ids, *count of them. A page of
 * fewer than cap is the last. */
fogpay_error fogpay_ledger_device_ids(fogpay_ledger *l, const char *after,
                                      char ids[][FOGPAY_DEVICE_ID_MAX + 1], size_t cap,
                                      size_t *count);

/* Next command sequence number for the device, stored. */
fogpay_error fogpay_ledger_device_next_command_seq(fogpay_ledger *l, const char *device_id,
                                                   uint64_t *seq_out);

/* Ownership history, append-only: from effective_ms on, entity holds the
 * device in the given role ("owner" or "lessee"). An effective time before
 * the latest entry of the device is refused (FOGPAY_ERR_FIELD_RANGE), and
 * so is 0, which the event record cannot carry. */
fogpay_error fogpay_ledger_ownership_change(fogpay_ledger *l, const char *device_id,
                                            const char *entity_id, const char *role,
                                            uint64_t effective_ms, uint64_t now_ms);
/* The entity that holds device_id at time_ms: the latest entry at or before
 * time_ms, a lessee before an owner at equal times (so a new owner entry
 * ends any lease before it). FOGPAY_ERR_NOT_FOUND (entity_out "") when
 * nobody holds it then or the device is unknown. */
fogpay_error fogpay_ledger_owner_at(fogpay_ledger *l, const char *device_id, uint64_t time_ms,
                                    char entity_out[FOGPAY_ENTITY_ID_MAX + 1]);

/* Legal entities' own logins (ledger_entity_login.c): the username under
 * which a legal entity logs in to the gateway as itself, never an
 * operator, and may act only on its own accounts and devices
 * (control/control_entity.c). */
typedef struct fogpay_entity_login {
    char username[FOGPAY_LOGIN_NAME_MAX + 1];
    char entity_id[FOGPAY_ENTITY_ID_MAX + 1];
    char password_hash[FOGPAY_PASSWORD_HASH_MAX]; /* empty: certificate login only */
    uint64_t created_ms;
} fogpay_entity_login;

/* Devices fogpay_ledger_entity_devices() reads from the ownership history
 * at a time before it keeps those held now: one step of a page. */
#define FOGPAY_ENTITY_DEVICES_STEP 64

/* Creates a login username (1..FOGPAY_LOGIN_NAME_MAX bytes of the id
 * alphabet) for entity_id, with a PBKDF2 verifier (fogpay_password_hash;
 * a "sha256$" device verifier is FOGPAY_ERR_FIELD_RANGE, as a person's
 * password needs the slow hash) or, password_hash NULL or "", for a
 * client certificate login only; appends an entity-login event. Errors as
 * the registry's: FOGPAY_ERR_EXISTS for a username taken by a login or a
 * device, FOGPAY_ERR_NOT_FOUND for an unknown entity. */
fogpay_error fogpay_ledger_entity_login_create(fogpay_ledger *l, const char *username,
                                               const char *entity_id, const char *password_hash,
                                               uint64_t now_ms);
/* Removes the login, with an entity-login event (removed);
 * FOGPAY_ERR_NOT_FOUND when there is none. */
fogpay_error fogpay_ledger_entity_login_remove(fogpay_ledger *l, const char *username,
                                               uint64_t now_ms);
/* The login of username; FOGPAY_ERR_NOT_FOUND when there is none. */
fogpay_error fogpay_ledger_entity_login_get(fogpay_ledger *l, const char *username,
                                            fogpay_entity_login *out);
/* FOGPAY_OK when entity_id holds device_id at time_ms (owner or lessee,
 * fogpay_ledger_owner_at), FOGPAY_ERR_ENTITY_FOREIGN_DEVICE when another
 * entity or nobody does or the device is unknown. */
fogpay_error fogpay_ledger_entity_holds(fogpay_ledger *l, const char *entity_id,
                                        const char *device_id, uint64_t time_ms);
/* A page of the devices entity_id holds at time_ms, in id order after
 * `after` ("" from the first): at most cap (1..FOGPAY_TRANSFER_LIST_MAX)
 * into ids, *count of them; a page of fewer than cap is the last. */
fogpay_error fogpay_ledger_entity_devices(fogpay_ledger *l, const char *entity_id, uint64_t time_ms,
                                          const char *after, char ids[][FOGPAY_DEVICE_ID_MAX + 1],
                                          size_t cap, size_t *count);

/* Accounts. A device has one wallet per currency, created on first use; an
 * entity has one account per currency; the system funding account per
 * currency is where operator funding comes from (its balance goes negative:
 * it is the counterpart that keeps the per-currency sum at zero). */
fogpay_error fogpay_ledger_wallet(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                  uint64_t *account_out);
fogpay_error fogpay_ledger_entity_account(fogpay_ledger *l, const char *entity_id,
                                          uint16_t currency, uint64_t *account_out);
fogpay_error fogpay_ledger_balance(fogpay_ledger *l, uint64_t account, int64_t *balance_out);

/* Operator funding of a device wallet from the system account, as its own
 * transaction unless one is open. Errors: FOGPAY_ERR_NOT_FOUND (unknown
 * device), FOGPAY_ERR_DEVICE_REVOKED, FOGPAY_ERR_WALLET_MAX,
 * FOGPAY_ERR_AMOUNT_ZERO, FOGPAY_ERR_AMOUNT_TOO_LARGE. */
fogpay_error fogpay_ledger_fund(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                fogpay_transfer *out);

/* An entity payment (FOGPAY_TRANSFER_ENTITY_PAYMENT): entity_id's account
 * in currency pays device_id's wallet, a top-up of a device of its own or
 * a purchase from another's, as its own transaction unless one is open.
 * payer_entity is entity_id, payee_entity the device's holder at now_ms.
 * *balance_after (may be NULL) is the entity account's balance after.
 * Errors: FOGPAY_ERR_NOT_FOUND (unknown entity or device),
 * FOGPAY_ERR_PAYEE_INACTIVE (a revoked device: the money would be
 * stranded), FOGPAY_ERR_INSUFFICIENT_FUNDS (the account holds less; an
 * entity account never goes below zero), FOGPAY_ERR_WALLET_MAX,
 * FOGPAY_ERR_AMOUNT_ZERO, FOGPAY_ERR_AMOUNT_TOO_LARGE,
 * FOGPAY_ERR_FIELD_RANGE (a reference over FOGPAY_REFERENCE_MAX). */
fogpay_error fogpay_ledger_entity_pay(fogpay_ledger *l, const char *entity_id,
                                      const char *device_id, uint16_t currency,
                                      uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                      fogpay_transfer *out, int64_t *balance_after);

/* Refund or reversal of the payment at position, as a new transfer from the
 * payee's account back to the payer's: FOGPAY_TRANSFER_REVERSAL when
 * amount_minor is the whole payment, FOGPAY_TRANSFER_REFUND for a part;
 * related_position names the payment. Errors: FOGPAY_ERR_NOT_FOUND,
 * FOGPAY_ERR_FIELD_RANGE (not a payment), FOGPAY_ERR_AMOUNT_TOO_LARGE (more
 * than the payment less its earlier refunds), FOGPAY_ERR_INSUFFICIENT_FUNDS
 * (the payee's account does not hold it). */
fogpay_error fogpay_ledger_refund(fogpay_ledger *l, uint64_t position, uint64_t amount_minor,
                                  uint64_t now_ms, fogpay_transfer *out);

/* Fees and splits (ledger_fee.c). A fee schedule: from effective_ms on, a
 * payment in currency to its payee (payee_device's wallet, or payee_entity's
 * account; with neither, every payee without a schedule of its own) settles
 * as one transfer of several legs at one chain position, all or none: fee
 * leg i takes floor(amount * legs[i].basis_points / 10000) to its account,
 * the payee floor(amount * (10000 - the legs' sum) / 10000), and what is
 * left, less than one minor unit a leg, goes to remainder_leg (0 the
 * payee, i the i-th fee leg); so the legs sum to the amount exactly. Legs
 * of zero are left out. A schedule with no legs ends the fees of its payee
 * (and exempts it from the default). Schedules are append-only and
 * effective-dated, each with an event (kind 9). A refund or reversal of a
 * payment of several legs corrects its first leg (the payee's). */
typedef struct fogpay_fee_schedule {
    char payee_device[FOGPAY_DEVICE_ID_MAX + 1]; /* "" when not a device */
    char payee_entity[FOGPAY_ENTITY_ID_MAX + 1]; /* "" when not an entity */
    uint16_t currency;
    uint8_t leg_count;
    fogpay_fee_leg legs[FOGPAY_LEGS_MAX - 1];
    uint8_t remainder_leg;
    uint64_t effective_ms;
    uint64_t event_position; /* set by the ledger */
} fogpay_fee_schedule;

/* The split: amounts[0] the payee's, amounts[1..fee_count] the fee legs',
 * summing to amount_minor. Errors: FOGPAY_ERR_AMOUNT_ZERO,
 * FOGPAY_ERR_AMOUNT_TOO_LARGE, FOGPAY_ERR_FEE_LEGS_TOO_MANY (over
 * FOGPAY_LEGS_MAX - 1), FOGPAY_ERR_FEE_LEG_ZERO, FOGPAY_ERR_FEE_OVER_TOTAL
 * (the basis points sum to 10000 or more), FOGPAY_ERR_FEE_REMAINDER_LEG
 * (over fee_count). */
fogpay_error fogpay_fee_split(uint64_t amount_minor, const fogpay_fee_leg *legs, size_t fee_count,
                              uint8_t remainder_leg, uint64_t amounts[FOGPAY_LEGS_MAX]);

/* Appends a fee schedule, as its own transaction unless one is open, with
 * its event; *event_position (may be NULL) is the event's. Errors: those
 * of fogpay_fee_split(), FOGPAY_ERR_UNKNOWN_PAYEE (no such device or
 * entity), FOGPAY_ERR_FIELD_RANGE (both payees, a currency or time out of
 * range), FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN (a fee account that does not
 * exist, is a system account or of another currency),
 * FOGPAY_ERR_FEE_ACCOUNT_CLOSED (a revoked device's wallet),
 * FOGPAY_ERR_FEE_LEG_PAYEE (the payee's own account),
 * FOGPAY_ERR_FEE_NOT_IN_ORDER (effective before the latest schedule of the
 * same payee and currency). */
fogpay_error fogpay_ledger_fee_schedule_set(fogpay_ledger *l, const fogpay_fee_schedule *schedule,
                                            uint64_t now_ms, uint64_t *event_position);

/* Calls visit for every fee schedule, by payee (the default first),
 * currency and effective time; a non-zero return stops. visit must not
 * write to the ledger. */
typedef int (*fogpay_fee_schedule_visit)(void *ctx, const fogpay_fee_schedule *schedule);
fogpay_error fogpay_ledger_fee_schedule_list(fogpay_ledger *l, fogpay_fee_schedule_visit visit,
                                             void *ctx);

/* Looks up an earlier message of device_id with this seq. FOGPAY_OK: the
 * same message (same hash) was answered; its receipt bytes are copied to
 * receipt (capacity cap, *receipt_len set). FOGPAY_ERR_SEQ_CONFLICT: that
 * seq carried another message. FOGPAY_ERR_NOT_FOUND: new. */
fogpay_error fogpay_ledger_message_lookup(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                          const uint8_t hash[FOGPAY_HASH_BYTES], uint8_t *receipt,
                                          size_t cap, size_t *receipt_len);

/* Where a new message of device_id (seq, prev: the first bytes of the hash
 * of the message the device signed before it, zeros for its first) stands
 * on the device's chain of recorded messages (ledger_message.c):
 *   FOGPAY_OK               it links to the recorded message just below seq
 *                           (or there is none and prev is zeros), and
 *                           nothing is recorded at or above seq: the next;
 *   FOGPAY_ERR_CHAIN_FORK   it links, but a message at or above seq is
 *                           recorded: a second continuation of the chain;
 *   FOGPAY_ERR_CHAIN_GAP    it does not link and nothing is recorded above:
 *                           its predecessor has not arrived;
 *   FOGPAY_ERR_SEQ_CONFLICT it does not link and a message at or above seq
 *                           is recorded: a stale or reused seq.
 * Call it for a message that fogpay_ledger_message_lookup() did not find
 * as a repeat. */
fogpay_error fogpay_ledger_message_link(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                        const uint8_t prev[FOGPAY_PREV_HASH_BYTES]);

/* The head of device_id's chain: the seq and hash of its recorded message
 * with the highest seq. FOGPAY_ERR_NOT_FOUND when it has none. */
fogpay_error fogpay_ledger_message_head(fogpay_ledger *l, const char *device_id, uint64_t *seq,
                                        uint8_t hash[FOGPAY_HASH_BYTES]);

/* Settles an authenticated intent inside the open transaction: checks every
 * stored-state rule (see above), then inserts the transfer at the next
 * chain position with the legal entities behind payer and payee at now_ms.
 * On FOGPAY_OK *out and *balance_after (the payer wallet) are set. A policy
 * error changes nothing. */
fogpay_error fogpay_ledger_settle(fogpay_ledger *l, const fogpay_intent *intent,
                                  const uint8_t intent_hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                  fogpay_transfer *out, int64_t *balance_after);

/* Holds (ledger_hold.c). An intent with hold_s set is an authorisation:
 * fogpay_ledger_settle() checks it as a payment (the per-payment and
 * per-day limits count it when it is made, funds are the payer's wallet,
 * which is its available balance) and appends a transfer of kind
 * FOGPAY_TRANSFER_AUTHORISATION from the payer's wallet to the currency's
 * holds account instead of the payee's; the hold, named by that
 * transfer's position, expires hold_s seconds after now_ms. It is
 * resolved exactly once: captured (the payee device or an operator: kind
 * FOGPAY_TRANSFER_CAPTURE to the payee, split by the payee's fee schedule
 * in force at the capture as a payment is, the rest back as
 * FOGPAY_TRANSFER_RELEASE), voided (payer, payee or operator: a release
 * of the whole) or expired (fogpay_ledger_hold_expire: kind
 * FOGPAY_TRANSFER_EXPIRY); each carries the authorisation's position as
 * its related_position. Open holds are kept in the hot state. */
typedef enum fogpay_hold_state {
    FOGPAY_HOLD_OPEN = 0,
    FOGPAY_HOLD_CAPTURED = 1,
    FOGPAY_HOLD_VOIDED = 2,
    FOGPAY_HOLD_EXPIRED = 3,
} fogpay_hold_state;

typedef struct fogpay_hold {
    uint64_t id; /* the authorisation's position */
    char payer_device[FOGPAY_DEVICE_ID_MAX + 1];
    uint64_t payer_account;
    char payee_device[FOGPAY_DEVICE_ID_MAX + 1]; /* "" when the payee is an account */
    uint64_t payee_account;
    uint64_t amount_minor;
    uint16_t currency;
    uint64_t expires_ms;
    uint8_t state;              /* fogpay_hold_state */
    uint64_t captured_minor;    /* captured: what the payee took */
    uint64_t resolved_position; /* the capture, or the release or expiry; 0 while open */
    uint64_t charged_minor;     /* what readings charged from it took (kind 18); the rest,
                                   amount_minor - charged_minor, is what it still holds */
} fogpay_hold;

/* Who resolves a hold: a device (device_id, with the message's seq and
 * hash, which the resolving transfer carries as its origin) or an operator
 * (device_id "" or NULL, seq 0). */
typedef struct fogpay_hold_actor {
    const char *device_id;
    uint64_t seq;
    const uint8_t *hash; /* FOGPAY_HASH_BYTES, with seq */
} fogpay_hold_actor;

/* What a resolution did: the transfer it made for the resolver (the
 * capture, or the release of a void) and, for a partial capture, the
 * release of the rest (release.position 0 when none). */
typedef struct fogpay_hold_result {
    fogpay_transfer transfer;
    fogpay_transfer release;
} fogpay_hold_result;

/* The hold id: FOGPAY_ERR_NOT_FOUND when there is none. From the hot state
 * when it is open. */
fogpay_error fogpay_ledger_hold_get(fogpay_ledger *l, uint64_t id, fogpay_hold *out);
/* What device_id holds in open holds in currency (0 when none): their
 * amounts less what readings charged from them. */
fogpay_error fogpay_ledger_hold_held(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                     uint64_t *held_minor);
/* Captures amount_minor of hold id for actor at now_ms, the rest released
 * to the payer; as its own transaction unless one is open. A hold that
 * readings were charged from (fogpay_ledger_meter_bind_hold) has that much
 * less: its capture takes at most what it has left, and the release is
 * what remains of that. Refusals, in
 * this order, each moving nothing: FOGPAY_ERR_HOLD_UNKNOWN,
 * FOGPAY_ERR_HOLD_CAPTURED, FOGPAY_ERR_HOLD_VOIDED, FOGPAY_ERR_HOLD_EXPIRED
 * (resolved by its timeout, or past it and not yet expired by the tick),
 * FOGPAY_ERR_HOLD_PAYER_CAPTURE, FOGPAY_ERR_HOLD_NOT_PARTY (a device other
 * than the payee), FOGPAY_ERR_AMOUNT_ZERO, FOGPAY_ERR_HOLD_OVER_AMOUNT,
 * FOGPAY_ERR_WALLET_MAX (the payee device's wallet maximum), and the fee
 * refusals of ledger__split_append for the payee's schedule. */
fogpay_error fogpay_ledger_hold_capture(fogpay_ledger *l, uint64_t id, uint64_t amount_minor,
                                        const fogpay_hold_actor *actor, uint64_t now_ms,
                                        fogpay_hold_result *out);
/* Voids hold id for actor (its payer, its payee device, or an operator):
 * what it has left released to the payer. Refusals as a capture's, less
 * the amount's and the payer's (a payer may void), and
 * FOGPAY_ERR_HOLD_INSUFFICIENT for a hold that readings took whole (its
 * expiry resolves it). */
fogpay_error fogpay_ledger_hold_void(fogpay_ledger *l, uint64_t id, const fogpay_hold_actor *actor,
                                     uint64_t now_ms, fogpay_hold_result *out);
/* Expires up to max open holds whose expiry is at or before now_ms, in
 * one operation (its own transaction unless one is open): each a transfer
 * of kind FOGPAY_TRANSFER_EXPIRY of what it has left back to the payer
 * (none for a hold that readings took whole, resolved by its last charge).
 * *expired is how many; it costs no SELECT when none is due. */
fogpay_error fogpay_ledger_hold_expire(fogpay_ledger *l, uint64_t now_ms, size_t max,
                                       size_t *expired);
/* Calls visit for up to limit holds (at most FOGPAY_TRANSFER_LIST_MAX, 0
 * that) after after_id in id order: only open ones when open_only, only
 * those of device_id (payer or payee) when it is not empty. */
typedef int (*fogpay_hold_visit)(void *ctx, const fogpay_hold *h);
fogpay_error fogpay_ledger_hold_list(fogpay_ledger *l, const char *device_id, bool open_only,
                                     uint64_t after_id, uint32_t limit, fogpay_hold_visit visit,
                                     void *ctx);

/* Stores an authenticated usage reading (its own table) inside the open
 * transaction. FOGPAY_ERR_EXISTS for a repeated (device, seq),
 * FOGPAY_ERR_NOT_FOUND for an unknown device. */
fogpay_error fogpay_ledger_store_usage(fogpay_ledger *l, const fogpay_usage *usage,
                                       const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms);

/* Tariffs and metered use (ledger_tariff.c, ledger_meter.c; the tables in
 * schemas/ledger.sql, "Tariffs and metered use").
 *
 * A tariff prices a meter's units: price_num minor units of currency per
 * price_den units (0.3917 EUR per kWh, read in Wh: 3917/100000 cents per
 * Wh), exactly, as a fraction. The device offering it (the metering point)
 * is paid into its wallet, or payee_entity's account when set. Versions
 * are append-only and effective-dated like ownership: the version at or
 * before a reading's time applies. */
typedef struct fogpay_tariff {
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1];
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];    /* the offering device */
    char payee_entity[FOGPAY_ENTITY_ID_MAX + 1]; /* "": the device's wallet is paid */
    char unit[FOGPAY_UNIT_MAX + 1];
    uint64_t price_num;     /* 1..2^63-1 minor units ... */
    uint64_t price_den;     /* ... per 1..2^63-1 units of the meter */
    uint64_t minimum_minor; /* the least a charged reading pays; 0: none */
    uint16_t currency;
    uint64_t effective_ms; /* from when this version applies, at least 1 */
} fogpay_tariff;

/* Defines a version of a tariff, with its event (kind 7), as its own
 * transaction unless one is open. Errors: FOGPAY_ERR_FIELD_RANGE (a field
 * out of its range, or an effective time before the tariff's latest
 * version, which is never rewritten), FOGPAY_ERR_EXISTS (a version at that
 * time already), FOGPAY_ERR_NOT_FOUND (no such device or entity),
 * FOGPAY_ERR_TEXT_INVALID (an id of other characters). A payee entity gets
 * its account in the currency now. */
fogpay_error fogpay_ledger_tariff_define(fogpay_ledger *l, const fogpay_tariff *t, uint64_t now_ms);
/* The version of tariff_id applying at time_ms, and (until_ms, may be
 * NULL) when the next one starts (UINT64_MAX: none defined).
 * FOGPAY_ERR_TARIFF_UNKNOWN, FOGPAY_ERR_TARIFF_NOT_EFFECTIVE. */
fogpay_error fogpay_ledger_tariff_at(fogpay_ledger *l, const char *tariff_id, uint64_t time_ms,
                                     fogpay_tariff *out, uint64_t *until_ms);

/* A meter's binding and its settlement state: last_quantity the last
 * settled reading (has_last false: none yet, the next reading is the
 * baseline); carry the remainder below one minor unit, in 1/price_den of
 * a minor unit of the tariff version effective from version_ms. */
typedef struct fogpay_meter {
    uint64_t binding_id; /* 0: not bound */
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1];
    bool has_last;
    uint64_t last_quantity;
    uint64_t carry;
    uint64_t version_ms;
    uint64_t hold_id; /* the hold its readings are charged from; 0: the device's wallet */
} fogpay_meter;

/* Binds device_id's meter to tariff_id from now on, with its event (kind
 * 8): by the device's bind message (seq and hash, inside the open group
 * transaction) or by an operator (seq 0, hash NULL). A rebinding keeps the
 * meter's last settled reading as its baseline and starts its carry at 0.
 * Errors: FOGPAY_ERR_UNKNOWN_DEVICE, FOGPAY_ERR_TARIFF_UNKNOWN,
 * FOGPAY_ERR_TARIFF_NOT_EFFECTIVE (no version applies now),
 * FOGPAY_ERR_TARIFF_OWN_PAYEE (it would pay the device's own wallet),
 * FOGPAY_ERR_FIELD_RANGE, FOGPAY_ERR_TEXT_INVALID. */
fogpay_error fogpay_ledger_meter_bind(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                      const char *tariff_id, uint64_t seq, const uint8_t *hash,
                                      uint64_t now_ms);
/* The same, the meter's readings charged from hold hold_id (0: from the
 * wallet, as fogpay_ledger_meter_bind) from now on: each settled reading's
 * charge is a transfer of kind FOGPAY_TRANSFER_HOLD_CHARGE from the
 * currency's holds account to the tariff's payee, split by the payee's fee
 * schedule, naming the hold (related_position), and the hold's
 * charged_minor grows by it; its rest (amount less charges) is what a
 * capture may take at most and what a release or an expiry returns. The
 * binding event names the hold (key 39). Errors besides the above:
 * FOGPAY_ERR_HOLD_UNKNOWN, FOGPAY_ERR_HOLD_FOREIGN (another device's hold),
 * FOGPAY_ERR_HOLD_RESOLVED (resolved or past its expiry),
 * FOGPAY_ERR_HOLD_TARIFF_CURRENCY, FOGPAY_ERR_HOLD_TARIFF_PAYEE. A reading
 * of such a meter is refused with the same reasons when they hold then,
 * and with FOGPAY_ERR_HOLD_INSUFFICIENT when its charge is over the hold's
 * rest: nothing is charged and the meter's state stays as it was, so that
 * consumption is charged once, when the meter is bound again. */
fogpay_error fogpay_ledger_meter_bind_hold(fogpay_ledger *l, const char *device_id,
                                           const char *meter_id, const char *tariff_id,
                                           uint64_t hold_id, uint64_t seq, const uint8_t *hash,
                                           uint64_t now_ms);
/* The meter's binding; FOGPAY_ERR_METER_UNKNOWN when it is not bound. */
fogpay_error fogpay_ledger_meter_get(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                     fogpay_meter *out);

/* The charge of delta units at num/den minor units a unit with carry
 * (below den) left from before: *charge_minor = floor((delta * num +
 * carry) / den), *carry_out the remainder, computed exactly in 128 bits
 * (delta, num and den are at most 2^63-1, so delta * num + carry stays
 * under 2^127). Summed over readings, the charges of a total T are
 * floor(T * num / den) whatever the spacing. FOGPAY_ERR_CHARGE_TOO_LARGE
 * when the charge is over FOGPAY_AMOUNT_MAX_MINOR (nothing is written),
 * FOGPAY_ERR_FIELD_RANGE for arguments outside those bounds. */
fogpay_error fogpay_tariff_charge(uint64_t delta, uint64_t num, uint64_t den, uint64_t carry,
                                  uint64_t *charge_minor, uint64_t *carry_out);

/* Financing (ledger_plan.c, ledger_schedule.c; the tables in
 * schemas/ledger.sql, "Financing.").
 *
 * A plan finances a device: the lender (a legal entity, paid into its
 * account in the currency) lends principal_minor, repaid in
 * instalment_count instalments, one every period_ms, the i-th falling due
 * at effective_ms + i * period_ms, each payable until grace_ms after. The
 * interest is a fixed annual rate (rate_bp basis points a year of 365
 * days, simple interest on the principal over the plan's term) and, when
 * usage_num is set, usage_num/usage_den minor units per unit the device's
 * meter_id meters during the instalment's period ("conditions altered by
 * the degree of usage"). On shortfall the plan suspends the device, or
 * limits it to the payees named by an operator (payees: while the plan is
 * in arrears the device pays its instalments and those payees, and any
 * other payment is refused with FOGPAY_ERR_PLAN_LIMITED); collect allows the
 * gateway to take an instalment from the device's wallet after its grace.
 * Versions are append-only and effective-dated like tariffs: a version
 * restates the terms from its effective time on (its principal is what is
 * still financed then, its instalments count from then), and instalments
 * of an earlier version due from then on are replaced by the new one's. A
 * closed version ends the plan. */
typedef enum fogpay_plan_shortfall {
    FOGPAY_PLAN_SHORTFALL_SUSPEND = 0, /* the gateway suspends the device */
    FOGPAY_PLAN_SHORTFALL_LIMIT = 1,   /* the device may pay only named payees */
} fogpay_plan_shortfall;

typedef struct fogpay_plan {
    char plan_id[FOGPAY_PLAN_ID_MAX + 1];
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];     /* the financed device */
    char lender_entity[FOGPAY_ENTITY_ID_MAX + 1]; /* paid into its account in currency */
    uint16_t currency;
    uint64_t principal_minor; /* 1..FOGPAY_AMOUNT_MAX_MINOR */
    uint32_t rate_bp;         /* 0..FOGPAY_PLAN_RATE_BP_MAX a year */
    uint64_t usage_num;       /* 0: no usage component; else minor units ... */
    uint64_t usage_den;       /* ... per usage_den units of meter_id */
    char meter_id[FOGPAY_METER_ID_MAX + 1];
    uint32_t instalment_count; /* 1..FOGPAY_PLAN_INSTALMENTS_MAX */
    uint64_t period_ms;        /* FOGPAY_PLAN_PERIOD_MS_MIN..MAX */
    uint64_t grace_ms;         /* 0..period_ms */
    uint8_t shortfall;         /* fogpay_plan_shortfall */
    bool collect;              /* the gateway may collect from the wallet after grace */
    bool closed;               /* this version ends the plan */
    uint64_t effective_ms;     /* from when this version applies, at least 1 */
    /* Shortfall limit: the payees (device ids or entity ids, distinct,
     * not the financed device) its device may still pay in arrears. */
    uint8_t payee_count; /* 0..FOGPAY_PLAN_PAYEES_MAX, 0 unless shortfall is limit */
    char payees[FOGPAY_PLAN_PAYEES_MAX][FOGPAY_PLAN_PAYEE_ID_MAX + 1];
} fogpay_plan;

/* One instalment of a plan version: principal_minor + interest_minor +
 * usage_minor = amount_minor, due at due_ms. */
typedef struct fogpay_instalment {
    uint32_t number; /* 1..instalment_count */
    uint64_t due_ms;
    uint64_t principal_minor;
    uint64_t interest_minor;
    uint64_t usage_minor;
    uint64_t amount_minor;
} fogpay_instalment;

/* The terms of p against their ranges: FOGPAY_ERR_PLAN_TERMS for one out
 * of its range (FOGPAY_OK for a closing version whatever its terms). */
fogpay_error fogpay_plan_check(const fogpay_plan *p);
/* The fixed interest of a plan version over its whole term, exactly:
 * floor(principal * rate_bp * instalment_count * period_ms /
 * (10000 * FOGPAY_PLAN_YEAR_MS)), computed in 128 bits. */
fogpay_error fogpay_plan_interest(const fogpay_plan *p, uint64_t *interest_minor);
/* Instalment number of p, with usage_units metered during its period.
 * The rounding rule: the principal and the fixed interest are each split
 * into instalment_count equal parts rounded down, and the last instalment
 * takes what the rounding leaves of each (less than instalment_count minor
 * units), so the instalments sum to principal plus interest exactly; the
 * usage part is floor(usage_units * usage_num / usage_den), its own
 * exact charge (fogpay_tariff_charge with no carry). FOGPAY_ERR_PLAN_TERMS,
 * FOGPAY_ERR_FIELD_RANGE for a number outside 1..instalment_count,
 * FOGPAY_ERR_CHARGE_TOO_LARGE for an amount over FOGPAY_AMOUNT_MAX_MINOR. */
fogpay_error fogpay_plan_instalment(const fogpay_plan *p, uint32_t number, uint64_t usage_units,
                                    fogpay_instalment *out);

/* Defines a version of plan p->plan_id (the first creates the plan), with
 * its event (kind 11), as its own transaction unless one is open; the
 * lender gets its account in the currency now. Errors: FOGPAY_ERR_PLAN_TERMS,
 * FOGPAY_ERR_PLAN_NOT_IN_ORDER (effective before the plan's latest
 * version), FOGPAY_ERR_EXISTS (a version at that time already),
 * FOGPAY_ERR_PLAN_CLOSED (the plan is closed), FOGPAY_ERR_PLAN_DEVICE
 * (the plan finances another device), FOGPAY_ERR_UNKNOWN_DEVICE,
 * FOGPAY_ERR_NOT_FOUND (no such entity), FOGPAY_ERR_TEXT_INVALID. */
fogpay_error fogpay_ledger_plan_define(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms);
/* Closes plan_id from effective_ms on (a version with closed set and the
 * latest terms), with its event (kind 12). Errors as above, and
 * FOGPAY_ERR_PLAN_UNKNOWN. */
fogpay_error fogpay_ledger_plan_close(fogpay_ledger *l, const char *plan_id, uint64_t effective_ms,
                                      uint64_t now_ms);
/* The version of plan_id applying at time_ms, and (until_ms, may be NULL)
 * when the next starts (UINT64_MAX: none). FOGPAY_ERR_PLAN_UNKNOWN, and
 * FOGPAY_ERR_NOT_FOUND when the plan starts after time_ms. */
fogpay_error fogpay_ledger_plan_at(fogpay_ledger *l, const char *plan_id, uint64_t time_ms,
                                   fogpay_plan *out, uint64_t *until_ms);
/* Visits every version of every plan (of device_id, or all when it is
 * NULL), by plan id and then effective time; visit returns nonzero to
 * stop. */
typedef int (*fogpay_plan_visit)(void *ctx, const fogpay_plan *plan);
fogpay_error fogpay_ledger_plan_list(fogpay_ledger *l, const char *device_id,
                                     fogpay_plan_visit visit, void *ctx);

/* Collection, arrears, statements and early settlement (ledger_collect.c;
 * the table plan_arrears in schemas/ledger.sql).
 *
 * Collection. An instalment unpaid when its grace has passed (due_ms +
 * grace_ms at or before now) is late. A pass over the open plans
 * (fogpay_ledger_plan_collect, on the gateway's tick) collects a late
 * instalment of a plan with collect set from the device's wallet itself:
 * a transfer of kind FOGPAY_TRANSFER_COLLECTION of the instalment's
 * amount to the lender, numbered and counted as the instalment paid. A
 * late instalment the pass cannot collect (the plan does not allow it:
 * collection_refused; the wallet does not hold it: insufficient_funds)
 * puts the plan in arrears: a row of plan_arrears, an event (kind 13)
 * naming what is owed, and, for a plan whose shortfall is suspend, the
 * device suspended (status event with reason plan_arrears). A suspended
 * device in arrears may pay its instalments and nothing else; a device
 * in arrears on a plan whose shortfall is limit, not suspended, may pay
 * its instalments and the payees the version in force names, and any
 * other payment is refused (plan_limited). When a
 * pass finds nothing late any more (the device paid, or money arrived and
 * the pass collected it), the arrears are cleared (event 14) and a device
 * the pass had suspended is active again.
 *
 * Attribution. An instalment and a collection are owed by the entity that
 * held the device when the instalment fell due: that entity is the
 * transfer's payer_entity, whoever holds the device when it is paid. */
typedef struct fogpay_plan_change {
    char plan_id[FOGPAY_PLAN_ID_MAX + 1];
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    bool entered;   /* true: arrears entered; false: cleared */
    bool suspended; /* entered: the device was suspended; cleared: it was resumed */
} fogpay_plan_change;

/* What one pass did. after is where the next pass goes on ("" from the
 * first plan again); changes are the plans that entered or left arrears,
 * for the caller to send the devices their suspend or resume. */
typedef struct fogpay_plan_collect_result {
    char after[FOGPAY_PLAN_ID_MAX + 1];
    size_t plans;
    size_t collected;
    size_t change_count;
    fogpay_plan_change changes[FOGPAY_PLAN_COLLECT_PER_TICK];
    /* The plans the pass collected for or whose arrears changed: their
     * devices are told where they stand now (a plan notice). */
    size_t noticed_count;
    char noticed[FOGPAY_PLAN_COLLECT_PER_TICK][FOGPAY_PLAN_ID_MAX + 1];
} fogpay_plan_collect_result;

/* One pass over up to FOGPAY_PLAN_COLLECT_PER_TICK open plans after
 * `after` ("" from the first), each plan its own operation (its own
 * transaction unless one is open), at most FOGPAY_PLAN_COLLECT_INSTALMENTS
 * collections a plan. A plan that fails for storage stops the pass with
 * that error; what earlier plans did stays. */
fogpay_error fogpay_ledger_plan_collect(fogpay_ledger *l, const char *after, uint64_t now_ms,
                                        fogpay_plan_collect_result *out);

/* One episode of a plan's arrears: entered when instalment (the first
 * unpaid) was late and not collected for reason, owed_minor owed then
 * by entity_id (its holder when that instalment fell due, "" nobody);
 * cleared_ms 0 while it lasts. */
typedef struct fogpay_plan_arrears {
    uint64_t id;
    char plan_id[FOGPAY_PLAN_ID_MAX + 1];
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    char entity_id[FOGPAY_ENTITY_ID_MAX + 1];
    uint16_t currency;
    uint32_t instalment;
    uint64_t owed_minor;
    uint16_t reason; /* fogpay_error: collection_refused or insufficient_funds */
    bool suspended;  /* the gateway suspended the device for it */
    uint64_t entered_ms;
    uint64_t cleared_ms;
} fogpay_plan_arrears;

/* Visits the arrears (of device_id, or all when it is NULL or ""; only
 * those still open when open_only), newest first, at most
 * FOGPAY_TRANSFER_LIST_MAX; visit returns nonzero to stop. */
typedef int (*fogpay_plan_arrears_visit)(void *ctx, const fogpay_plan_arrears *a);
fogpay_error fogpay_ledger_plan_arrears_list(fogpay_ledger *l, const char *device_id,
                                             bool open_only, fogpay_plan_arrears_visit visit,
                                             void *ctx);

/* An entity's statement of a plan at now: what it paid (instalments,
 * collections and an early settlement with it as payer_entity, whole
 * amounts with their fee legs) and what it owes: the instalments of the
 * version in force that fell due while it held the device (due_count)
 * and of those the ones still unpaid (owed_count, owed_minor, their usage
 * part metered up to now). FOGPAY_ERR_PLAN_UNKNOWN,
 * FOGPAY_ERR_STATEMENT_ENTITY (the entity never held the device). */
typedef struct fogpay_plan_statement {
    uint32_t paid_count;
    uint64_t paid_minor;
    uint32_t due_count;
    uint32_t owed_count;
    uint64_t owed_minor;
    uint16_t currency;
} fogpay_plan_statement;
fogpay_error fogpay_ledger_plan_statement(fogpay_ledger *l, const char *plan_id,
                                          const char *entity_id, uint64_t now_ms,
                                          fogpay_plan_statement *out);

/* Early settlement: what is left of the plan in force at now, paid at
 * once by one transfer of kind FOGPAY_TRANSFER_EARLY_SETTLEMENT to the
 * lender from the device's wallet (from_entity false) or the account of
 * the entity holding the device now, and the plan closed from now (event
 * 12), in one operation; open arrears are cleared with it. The rule: the
 * principal of every unpaid instalment, and the interest and usage parts
 * of the unpaid ones already due (interest not yet due is not charged).
 * Refused, moving nothing: FOGPAY_ERR_PLAN_UNKNOWN,
 * FOGPAY_ERR_PLAN_NOT_STARTED, FOGPAY_ERR_PLAN_CLOSED,
 * FOGPAY_ERR_PLAN_PAID, FOGPAY_ERR_STATEMENT_ENTITY (from an entity when
 * nobody holds the device), FOGPAY_ERR_SETTLEMENT_FUNDS (the payer holds
 * less), FOGPAY_ERR_PLAN_NOT_IN_ORDER (a later version is defined).
 * *out the transfer, *change (may be NULL) the arrears it cleared
 * (plan_id "" when none). */
fogpay_error fogpay_ledger_plan_settle(fogpay_ledger *l, const char *plan_id, bool from_entity,
                                       uint64_t now_ms, fogpay_transfer *out,
                                       fogpay_plan_change *change);
/* Where a plan stands at a time (ledger_plan_status.c): what the gateway
 * signs into an instalment's receipt and its plan notices, and what the
 * device enforces offline.
 *
 * paid_up_to_ms is the time the device is paid up to: the end of the
 * grace of its first unpaid instalment (the version's effective time plus
 * (paid + 1) periods plus the grace). Paid off (left 0) or closed, it is
 * the end of the grace of the last instalment and binds nothing. A plan
 * whose shortfall is limit is paid up to the end of the grace of its last
 * instalment throughout: in arrears the gateway limits its device's
 * payees, and the device does not put itself out of action. arrears
 * counts the unpaid instalments whose grace has ended. next is the first
 * unpaid instalment (number 0: none), with its usage part up to the
 * time. */
typedef struct fogpay_plan_status {
    char plan_id[FOGPAY_PLAN_ID_MAX + 1];
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    bool closed;
    uint16_t currency;
    uint64_t lender_account; /* the lender's account in the currency */
    uint32_t paid;           /* instalments of the version paid: kinds 11 and 13 */
    uint32_t left;           /* instalments of the version unpaid; 0 when closed */
    uint32_t arrears;
    uint64_t paid_up_to_ms;
    fogpay_instalment next;
} fogpay_plan_status;

/* The status of plan_id at time_ms, from the version applying then.
 * FOGPAY_ERR_PLAN_UNKNOWN (no such plan, or none in effect yet), the
 * ledger's errors. *out is written only on success. */
fogpay_error fogpay_ledger_plan_status(fogpay_ledger *l, const char *plan_id, uint64_t time_ms,
                                       fogpay_plan_status *out);

/* What a reading came to. */
typedef struct fogpay_usage_settlement {
    bool bound;            /* the meter is bound: tariff_id set */
    uint64_t consumption;  /* units since the last settled reading; 0: the baseline */
    uint64_t charge_minor; /* what was paid; 0: no transfer */
    char tariff_id[FOGPAY_TARIFF_ID_MAX + 1];
    fogpay_transfer transfer; /* with a charge */
    int64_t balance_after_minor;
    uint64_t hold_id;         /* a charge from the binding's hold (kind 18): the hold */
    uint64_t hold_left_minor; /* ... and what it has left after the charge */
} fogpay_usage_settlement;

/* Stores an authenticated reading (fogpay_ledger_store_usage) and, when
 * its meter is bound, settles it at once in the same operation: the
 * consumption since the meter's last settled reading, at the tariff
 * version applying now, charged with fogpay_tariff_charge() and the
 * minimum charge (a reading whose charge is positive pays at least the
 * minimum; one whose charge is 0 pays nothing and its fraction carries
 * on), as a usage-charge transfer from the device's wallet to the
 * tariff's payee. The first reading of a binding is its baseline: stored,
 * nothing charged. Refused, with nothing stored, no money moved and the
 * meter's state as it was (so that the next reading charges the same
 * consumption once): FOGPAY_ERR_UNIT_MISMATCH, FOGPAY_ERR_READING_BACKWARDS,
 * FOGPAY_ERR_READING_REPEATED, FOGPAY_ERR_READING_IMPLAUSIBLE (over
 * FOGPAY_METER_DELTA_MAX), FOGPAY_ERR_TARIFF_NOT_EFFECTIVE,
 * FOGPAY_ERR_CHARGE_TOO_LARGE, FOGPAY_ERR_CHARGE_UNPAID (the wallet does
 * not hold the charge), and the payment's own refusals (a suspended
 * payer, a revoked payee, the payee's wallet maximum). */
fogpay_error fogpay_ledger_usage_settle(fogpay_ledger *l, const fogpay_usage *usage,
                                        const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                        fogpay_usage_settlement *out);

/* Records the answer to a device message, settled or refused, with the
 * signed receipt (1..FOGPAY_MESSAGE_MAX bytes), so a repeat gets the same
 * bytes. position is 0 when no transfer was made. FOGPAY_ERR_EXISTS when
 * (device_id, seq) is recorded already, FOGPAY_ERR_NOT_FOUND for an unknown
 * device or position. */
fogpay_error fogpay_ledger_message_record(fogpay_ledger *l, const char *device_id, uint64_t seq,
                                          uint8_t kind, const uint8_t hash[FOGPAY_HASH_BYTES],
                                          uint8_t status, uint16_t reason, uint64_t position,
                                          const uint8_t *receipt, size_t receipt_len,
                                          uint64_t now_ms);

/* Appends a refused message to the bounded rejection log (monitoring): the
 * newest FOGPAY_LEDGER_REJECTIONS_MAX entries are kept. */
fogpay_error fogpay_ledger_rejection_log(fogpay_ledger *l, const char *client_id, uint64_t seq,
                                         fogpay_error reason, uint64_t now_ms);

/* Reading transfers. A filter field that is empty or zero does not filter.
 * device_id selects every transfer that debits or credits one of the
 * device's wallets; entity_id every transfer with that payer or payee
 * entity. A limit over FOGPAY_TRANSFER_LIST_MAX is FOGPAY_ERR_FIELD_RANGE;
 * 0 means FOGPAY_TRANSFER_LIST_MAX. */
typedef struct fogpay_transfer_filter {
    const char *device_id;
    const char *entity_id;
    uint64_t from_ms;
    uint64_t to_ms;          /* exclusive; 0 = no end */
    uint64_t after_position; /* paging: positions greater than this */
    uint32_t limit;          /* at most this many; at most 1000 */
} fogpay_transfer_filter;

typedef int (*fogpay_transfer_visit)(void *ctx, const fogpay_transfer *t,
                                     const uint8_t hash[FOGPAY_HASH_BYTES]);

fogpay_error fogpay_ledger_transfer_get(fogpay_ledger *l, uint64_t position, fogpay_transfer *out,
                                        uint8_t hash_out[FOGPAY_HASH_BYTES]);
/* Calls visit for each matching transfer in chain order; a non-zero return
 * stops the walk. visit may read the ledger but must not write to it. */
fogpay_error fogpay_ledger_transfer_list(fogpay_ledger *l, const fogpay_transfer_filter *f,
                                         fogpay_transfer_visit visit, void *ctx);
/* The last position (0 for an empty chain) and the hash there. */
fogpay_error fogpay_ledger_chain_head(fogpay_ledger *l, uint64_t *position,
                                      uint8_t hash[FOGPAY_HASH_BYTES]);

/* The event chain: what the back office must know besides transfers
 * (fogpay_event in common/fogpay_message.h). The ledger appends an event,
 * in the same transaction as the change it records, when a device is
 * registered (with its owner), when its status changes, when its ownership
 * changes, when one of its usage readings is stored, when a tariff version
 * is defined (offered by a device), when a device's meter is bound, and when
 * a legal entity's login is created or removed (the one kind without a
 * device). Events are
 * append-only and hash-chained as transfers are: hash(n) = SHA-256(
 * hash(n-1) || record(n)), record(n) = fogpay_event_encode() of event n,
 * hash(0) = 32 zero bytes. An event's time_ms is the now_ms its writer was
 * given (so at least 1); a change whose event cannot be appended fails as a
 * whole. A ledger migrated from version 2 has no events for what happened
 * before the migration. */
fogpay_error fogpay_ledger_event_head(fogpay_ledger *l, uint64_t *position,
                                      uint8_t hash[FOGPAY_HASH_BYTES]);
/* FOGPAY_ERR_NOT_FOUND for a position that holds no event. hash may be
 * NULL. */
fogpay_error fogpay_ledger_event_get(fogpay_ledger *l, uint64_t position, fogpay_event *out,
                                     uint8_t hash[FOGPAY_HASH_BYTES]);
typedef int (*fogpay_event_visit)(void *ctx, const fogpay_event *e,
                                  const uint8_t hash[FOGPAY_HASH_BYTES]);
/* Calls visit for up to limit events after after_position, in chain order
 * (limit at most FOGPAY_TRANSFER_LIST_MAX; 0 means that); a non-zero return
 * stops the walk. visit may read the ledger but must not write to it. */
fogpay_error fogpay_ledger_event_list(fogpay_ledger *l, uint64_t after_position, uint32_t limit,
                                      fogpay_event_visit visit, void *ctx);

/* Upstream sync: how far the cloud's last signed acks say its copies of the
 * two chains reach, and the last batch sequence number used (shared by both
 * streams). One row, created with the ledger (positions 0, zero hashes,
 * seq 0). */
typedef struct fogpay_sync_state {
    uint64_t acked_position;
    uint8_t acked_hash[FOGPAY_HASH_BYTES];
    uint64_t batch_seq;
    uint64_t acked_ms; /* when the last ack that moved it arrived, 0 never */
    uint64_t acked_event_position;
    uint8_t acked_event_hash[FOGPAY_HASH_BYTES];
} fogpay_sync_state;

fogpay_error fogpay_ledger_sync_get(fogpay_ledger *l, fogpay_sync_state *out);
/* Stores the state. acked_position may not pass the chain head, nor
 * acked_event_position the event chain's head (FOGPAY_ERR_FIELD_RANGE). */
fogpay_error fogpay_ledger_sync_set(fogpay_ledger *l, const fogpay_sync_state *in);

/* The ledger's figures for the gateway's metrics (ledger_gauge.c): holds
 * open, devices not revoked and those suspended, the transfers the cloud
 * has not acknowledged and when the oldest of them settled (0: none), and
 * the financing plans in arrears at now_ms (an instalment unpaid past its
 * due time and grace). */
typedef struct fogpay_ledger_gauge {
    uint64_t holds_open;
    uint64_t devices_registered;
    uint64_t devices_suspended;
    uint64_t sync_backlog;
    uint64_t sync_oldest_ms;
    uint64_t plans_arrears;
} fogpay_ledger_gauge;

/* Reads them all; out is written only on success. */
fogpay_error fogpay_ledger_gauges(fogpay_ledger *l, uint64_t now_ms, fogpay_ledger_gauge *out);

/* Checks the whole ledger: every chain hash from position 1, positions
 * contiguous, every balance equal to its transfers, per-currency sums zero,
 * every holds account equal to the sum of its currency's open holds,
 * no wallet below zero; and the event chain the same way (positions
 * contiguous from 1, each record decoding to the row's kind, time and
 * device, each hash recomputed). The transfer chain is checked first, then
 * the event chain, then the accounts. FOGPAY_OK, or
 * FOGPAY_ERR_LEDGER_CORRUPT with the first bad transfer position in
 * *bad_position and a sentence in problem. *bad_position is only ever a
 * transfer position: it is 0 when the fault is in an account's balance or
 * in the event chain, and then the sentence names the account or the event
 * ("event N: ..."). *checked is the count of transfers that passed. Any
 * output pointer may be NULL. */
fogpay_error fogpay_ledger_verify(fogpay_ledger *l, uint64_t *checked, uint64_t *bad_position,
                                  char *problem, size_t problem_cap);

/* Bank documents (ledger_statement.c, ledger_payout.c): what an ISO 20022
 * statement of an entity's account and a credit transfer initiation of
 * payouts read. A period is [from_ms, to_ms) by the transfers' times;
 * from_ms == to_ms is FOGPAY_ERR_PERIOD_EMPTY, to_ms < from_ms
 * FOGPAY_ERR_PERIOD_REVERSED. */

/* An entity account's statement over a period: the account (0 when the
 * entity has none in the currency: no entries, balances 0), its balance at
 * from_ms and at to_ms, and the sums of its entries. */
typedef struct fogpay_statement {
    uint64_t account;
    int64_t opening_minor;
    int64_t closing_minor;
    uint64_t credits_minor;
    uint64_t debits_minor;
    uint32_t entries;
} fogpay_statement;

/* One entry of a statement: the transfer and what it moved on the
 * account, net over its legs (positive a credit, negative a debit). */
typedef int (*fogpay_statement_visit)(void *ctx, const fogpay_transfer *t, int64_t amount_minor);

/* Calls visit for each transfer of the period that moved entity_id's
 * account in currency, in chain order (a non-zero return stops the walk
 * with FOGPAY_ERR_NO_MEMORY, the visitor's only failure), then fills *out;
 * one read transaction, so the balances and the entries agree. Errors:
 * FOGPAY_ERR_ENTITY_UNKNOWN, the period's, FOGPAY_ERR_DOCUMENT_TOO_LONG
 * (over FOGPAY_BANK_DOCUMENT_ENTRIES_MAX entries; visit is not called). */
fogpay_error fogpay_ledger_statement(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                     uint64_t from_ms, uint64_t to_ms, fogpay_statement_visit visit,
                                     void *ctx, fogpay_statement *out);

/* A payout: entity_id's account in currency pays out to the entity's bank
 * account, a withdrawal (FOGPAY_TRANSFER_WITHDRAWAL) from its account to
 * the currency's system account, as its own transaction unless one is
 * open; payer_entity is entity_id. The bank account is the IBAN of the
 * entity's bank reference (personal data, read here and never copied into
 * the transfer). Errors: FOGPAY_ERR_ENTITY_UNKNOWN,
 * FOGPAY_ERR_BANK_REFERENCE_MISSING (none, or erased),
 * FOGPAY_ERR_BANK_REFERENCE_NOT_IBAN, FOGPAY_ERR_INSUFFICIENT_FUNDS,
 * FOGPAY_ERR_AMOUNT_ZERO, FOGPAY_ERR_AMOUNT_TOO_LARGE,
 * FOGPAY_ERR_FIELD_RANGE (a reference over FOGPAY_REFERENCE_MAX).
 * *balance_after (may be NULL) is the account's balance after. */
fogpay_error fogpay_ledger_payout(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                  uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                  fogpay_transfer *out, int64_t *balance_after);

/* One payout and where it goes: the entity's name and IBAN (spaces
 * removed, upper case) read from its personal data now; valid during the
 * call only. */
typedef int (*fogpay_payout_visit)(void *ctx, const fogpay_transfer *t, const char *name,
                                   const char *iban);

/* Calls visit for each payout in currency of the period, in chain order
 * (a non-zero return stops with FOGPAY_ERR_NO_MEMORY); *count and
 * *sum_minor are theirs. Errors: the period's, FOGPAY_ERR_PAYOUT_NONE,
 * FOGPAY_ERR_DOCUMENT_TOO_LONG, FOGPAY_ERR_BANK_REFERENCE_MISSING (an
 * entity paid out to has erased its personal data since). */
fogpay_error fogpay_ledger_payout_list(fogpay_ledger *l, uint16_t currency, uint64_t from_ms,
                                       uint64_t to_ms, fogpay_payout_visit visit, void *ctx,
                                       uint32_t *count, uint64_t *sum_minor);

/* True when text, without its spaces, is an IBAN: two letters, two check
 * digits, up to 30 letters and digits, and its check digits right (ISO
 * 13616, mod 97); out (FOGPAY_IBAN_MAX + 1 bytes, may be NULL) receives it
 * without spaces in upper case. */
bool fogpay_iban_parse(const char *text, char out[FOGPAY_IBAN_MAX + 1]);

/* GDPR requests (ledger_personal.c). */

/* A copy of an entity's personal data, for its own access request only. */
typedef struct fogpay_entity_personal_copy {
    char name[FOGPAY_ENTITY_NAME_MAX + 1];
    char contact[FOGPAY_ENTITY_CONTACT_MAX + 1];   /* "" when none */
    char bank_ref[FOGPAY_ENTITY_BANK_REF_MAX + 1]; /* "" when none */
    uint64_t created_ms;                           /* the entity's creation */
} fogpay_entity_personal_copy;

/* The entity's personal data. FOGPAY_ERR_ENTITY_UNKNOWN,
 * FOGPAY_ERR_PERSONAL_DATA_ERASED (the entity exists, its data do not:
 * out->created_ms is still set). */
fogpay_error fogpay_ledger_entity_personal(fogpay_ledger *l, const char *entity_id,
                                           fogpay_entity_personal_copy *out);

/* Erases the entity's personal data: its one row of entity_personal is
 * deleted and an erasure event (kind 18, naming the entity and which
 * fields were held, never their values) is appended, in one transaction.
 * Transfers, events and ownership name the entity by its pseudonymous id
 * only, so both chains stay as they were and verify. *event_position (may
 * be NULL) is the erasure event's. Errors: FOGPAY_ERR_ENTITY_UNKNOWN,
 * FOGPAY_ERR_PERSONAL_DATA_ERASED (erased before). */
fogpay_error fogpay_ledger_entity_erase(fogpay_ledger *l, const char *entity_id, uint64_t now_ms,
                                        uint64_t *event_position);

/* The entity's accounts, in id order. */
typedef int (*fogpay_entity_account_visit)(void *ctx, uint64_t account, uint16_t currency,
                                           int64_t balance_minor);
fogpay_error fogpay_ledger_entity_accounts(fogpay_ledger *l, const char *entity_id,
                                           fogpay_entity_account_visit visit, void *ctx);

/* The entity's entries in the ownership history, in the order recorded,
 * at most FOGPAY_ENTITY_EXPORT_OWNERSHIP_MAX: the device, the role, from
 * when, recorded when, and until when (0: the entity holds it still; the
 * next entry of the device's history otherwise). */
typedef struct fogpay_holding {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];
    char role[8]; /* "owner" or "lessee" */
    uint64_t effective_ms;
    uint64_t recorded_ms;
    uint64_t until_ms;
} fogpay_holding;
typedef int (*fogpay_holding_visit)(void *ctx, const fogpay_holding *h);
fogpay_error fogpay_ledger_entity_holdings(fogpay_ledger *l, const char *entity_id,
                                           fogpay_holding_visit visit, void *ctx);

#endif
