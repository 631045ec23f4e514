/*
 * fogpay_note.h - digital fiat bearer notes (schemas/note.cddl): the note an
 * issuer signs, the custody entries that hand it from holder to holder, the
 * fixed denominations of each currency, and the set of issuer keys a gateway
 * trusts.
 *
 * A note is a COSE_Sign1 by an issuer key (its kid in the unprotected
 * header) over {serial, currency, denomination, issued, ? expiry}. Its
 * serial is 16 random bytes. Whoever holds a note's current key holds the
 * note: the issuer while no custody entry exists, then the key the last
 * custody entry names. A custody entry is a COSE_Sign1 by the current
 * holder's key over {serial, previous link, next holder's key, time}; the
 * previous link is the SHA-256 of the signed note for the first entry and
 * of the previous signed entry after it (fogpay_note_link), so a chain of
 * entries can neither be reordered nor cut and spliced, and a note copied
 * off a device is of no use without the device's key.
 *
 * The payload structs own their bytes (fixed arrays) and need no freeing;
 * their codecs are those of every message (fogpay_message.c): deterministic,
 * strict, and an encoder that refuses what its decoder would. A set of
 * issuer keys owns its fogpay_key objects: fogpay_note_issuers_clear frees
 * them.
 */
#ifndef FOGPAY_NOTE_H
#define FOGPAY_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_limits.h"

/* A note as its issuer signs it (note.cddl, note). */
typedef struct fogpay_note {
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES]; /* key 1 */
    uint16_t currency;                        /* key 2, ISO 4217 numeric */
    uint64_t denomination_minor;              /* key 3, one of the currency's denominations */
    uint64_t issued_s;                        /* key 4 */
    uint64_t expiry_s;                        /* key 5, optional: after issued_s */
} fogpay_note;

/* One step of a note's custody (note.cddl, custody), signed by the holder
 * it takes the note from. */
typedef struct fogpay_custody {
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];    /* key 1 */
    uint8_t prev_link[FOGPAY_HASH_BYTES];        /* key 2, fogpay_note_link of the step before */
    char holder_key[FOGPAY_PUBLIC_KEY_TEXT_MAX]; /* key 3, the next holder: "<alg>:<hex>" */
    uint64_t time_s;                             /* key 4 */
} fogpay_custody;

typedef enum fogpay_note_movement_kind {
    FOGPAY_NOTE_LOADED = 0,    /* into the gateway's stock, handed by its issuer */
    FOGPAY_NOTE_WITHDRAWN = 1, /* from the stock to a device, against its wallet */
    FOGPAY_NOTE_PAID = 2,      /* from a device to another */
    FOGPAY_NOTE_REDEEMED = 3,  /* from a device back into a wallet or an account */
    FOGPAY_NOTE_TENDERED = 4,  /* from a device into the stock, paying with change */
    FOGPAY_NOTE_CHANGE = 5,    /* from the stock to a device, paying with change */
    FOGPAY_NOTE_RETURNED = 6,  /* from the stock back to its issuer */
} fogpay_note_movement_kind;

/* One record of a gateway's chain of note movements (note.cddl,
 * note-movement): which note moved, by which custody entry, to whom (the
 * new holder's kid, pseudonymous, and its device when a device holds it),
 * and the transfer that moved its value, if any. */
typedef struct fogpay_note_movement {
    uint64_t position;                        /* key 1 */
    uint8_t kind;                             /* key 2, fogpay_note_movement_kind */
    uint64_t time_ms;                         /* key 3 */
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES]; /* key 4 */
    uint8_t link[FOGPAY_HASH_BYTES];          /* key 5, fogpay_note_link of the custody entry */
    uint8_t holder_kid[FOGPAY_KID_BYTES];     /* key 6, the new holder's key id */
    char device_id[FOGPAY_DEVICE_ID_MAX + 1]; /* key 7, optional: the new holder's device */
    uint64_t transfer_position;               /* key 8, optional: the transfer of its value */
} fogpay_note_movement;

/* A device's withdrawal of notes against its wallet (note.cddl,
 * note-withdraw), device to gateway on dev/{device}/withdraw: device
 * message kind 4, on the device's chain of sequence numbers and previous
 * hashes like its intents. */
typedef struct fogpay_note_withdraw {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];  /* key 1 */
    uint64_t seq;                              /* key 2 */
    uint64_t amount_minor;                     /* key 3, 1..FOGPAY_AMOUNT_MAX_MINOR */
    uint16_t currency;                         /* key 4 */
    uint64_t created_s;                        /* key 5 */
    uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES]; /* key 6 */
} fogpay_note_withdraw;

/* One note of a note payment: its serial and the payer's signature of the
 * custody entry handing it to the payee, which the gateway rebuilds
 * (fogpay_custody_assemble) from its register. */
typedef struct fogpay_note_pay_entry {
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t signature[FOGPAY_SIGNATURE_BYTES];
} fogpay_note_pay_entry;

/* A payment with bearer notes, device to device (note.cddl note-payment),
 * on dev/{device}/notepay: device message kind 5, on the payer's chain.
 * The notes' values sum to the amount exactly. */
typedef struct fogpay_note_payment {
    char device_id[FOGPAY_DEVICE_ID_MAX + 1];    /* key 1, the payer */
    uint64_t seq;                                /* key 2 */
    char payee_device[FOGPAY_DEVICE_ID_MAX + 1]; /* key 3 */
    uint16_t currency;                           /* key 4 */
    uint64_t amount_minor;                       /* key 5 */
    uint64_t created_s;                          /* key 6 */
    uint8_t prev_hash[FOGPAY_PREV_HASH_BYTES];   /* key 7 */
    uint64_t custody_s;                          /* key 8, the time of every custody entry */
    uint8_t count;                               /* key 9's length, 1..MAX */
    fogpay_note_pay_entry notes[FOGPAY_NOTE_PAYMENT_NOTES_MAX]; /* key 9 */
} fogpay_note_payment;

/* The payload codecs, as fogpay_message.h's: encoders validate as the
 * decoders do; decoders write *out only on success. A note whose value is
 * not a denomination of its currency is FOGPAY_ERR_NOTE_DENOMINATION; an
 * expiry not after the issue time, FOGPAY_ERR_FIELD_RANGE. A custody entry
 * whose key 3 is no public key text is FOGPAY_ERR_TEXT_INVALID. */
fogpay_error fogpay_note_encode(const fogpay_note *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_note_decode(const uint8_t *buf, size_t len, fogpay_note *out);
fogpay_error fogpay_custody_encode(const fogpay_custody *in, uint8_t *buf, size_t cap, size_t *len);
fogpay_error fogpay_custody_decode(const uint8_t *buf, size_t len, fogpay_custody *out);
fogpay_error fogpay_note_withdraw_encode(const fogpay_note_withdraw *in, uint8_t *buf, size_t cap,
                                         size_t *len);
fogpay_error fogpay_note_withdraw_decode(const uint8_t *buf, size_t len, fogpay_note_withdraw *out);
/* Every key is required, in order; key 9 is an array of 1 to
 * FOGPAY_NOTE_PAYMENT_NOTES_MAX pairs [serial, signature]; a serial twice
 * is FOGPAY_ERR_NOTE_SERIAL_SEEN. */
fogpay_error fogpay_note_payment_encode(const fogpay_note_payment *in, uint8_t *buf, size_t cap,
                                        size_t *len);
fogpay_error fogpay_note_payment_decode(const uint8_t *buf, size_t len, fogpay_note_payment *out);

/* The signed custody entry c as fogpay_custody_sign writes it with a key
 * of holder's algorithm and kid, around the given signature: what a
 * receiver rebuilds from a note payment to open it. */
fogpay_error fogpay_custody_assemble(const fogpay_key *holder, const fogpay_custody *c,
                                     const uint8_t signature[FOGPAY_SIGNATURE_BYTES], uint8_t *out,
                                     size_t cap, size_t *len);
/* The signature of a signed custody entry (its fourth item). */
fogpay_error fogpay_custody_signature(const uint8_t *msg, size_t len,
                                      uint8_t signature[FOGPAY_SIGNATURE_BYTES]);

/* A movement names a device exactly when a device is its new holder
 * (withdrawn, paid), a transfer exactly when its value moved in the
 * ledger (withdrawn, redeemed); FOGPAY_ERR_FIELD_RANGE otherwise. */
fogpay_error fogpay_note_movement_encode(const fogpay_note_movement *in, uint8_t *buf, size_t cap,
                                         size_t *len);
fogpay_error fogpay_note_movement_decode(const uint8_t *buf, size_t len, fogpay_note_movement *out);

/* Whether denomination_minor is one of currency's denominations. */
bool fogpay_note_denomination_valid(uint16_t currency, uint64_t denomination_minor);
/* The denominations of currency, ascending, into *out (static storage);
 * returns their count, 0 for a currency that has no notes. */
size_t fogpay_note_denominations(uint16_t currency, const uint64_t **out);

/* A fresh serial of FOGPAY_NOTE_SERIAL_BYTES random bytes. */
fogpay_error fogpay_note_serial_new(uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES]);

/* The link to a signed note or custody entry: SHA-256 of its bytes. */
fogpay_error fogpay_note_link(const uint8_t *signed_msg, size_t len,
                              uint8_t link[FOGPAY_HASH_BYTES]);

/* One issuer key a gateway trusts; a retired key's notes are refused. */
typedef struct fogpay_note_issuer {
    fogpay_key *key; /* verify-only, owned by the set */
    uint8_t kid[FOGPAY_KID_BYTES];
    char public_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    bool retired;
} fogpay_note_issuer;

/* The trusted issuer keys. Zero-initialise before the first add. */
typedef struct fogpay_note_issuers {
    size_t count;
    fogpay_note_issuer issuer[FOGPAY_NOTE_ISSUERS_MAX];
} fogpay_note_issuers;

/* Adds the key "<alg>:<hex>"; FOGPAY_ERR_EXISTS for a key already in the
 * set, FOGPAY_ERR_BUFFER_TOO_SMALL past FOGPAY_NOTE_ISSUERS_MAX, and the
 * key parser's errors. */
fogpay_error fogpay_note_issuers_add(fogpay_note_issuers *set, const char *public_text,
                                     bool retired);
/* Reads a trust file into an empty set: one key a line, "<alg>:<hex>
 * active" or "<alg>:<hex> retired"; blank lines and lines from '#' are
 * skipped. FOGPAY_ERR_CONFIG for a line of another form (and the set is
 * left empty), FOGPAY_ERR_IO for a file that cannot be read. */
fogpay_error fogpay_note_issuers_load(const char *path, fogpay_note_issuers *set);
/* The issuer of kid, or NULL. */
const fogpay_note_issuer *fogpay_note_issuers_find(const fogpay_note_issuers *set,
                                                   const uint8_t kid[FOGPAY_KID_BYTES]);
/* Frees the set's keys and empties it. */
void fogpay_note_issuers_clear(fogpay_note_issuers *set);

/* Signs note with the issuer's key, its kid in the header, into out (cap
 * bytes, FOGPAY_NOTE_SIGNED_MAX suffice). */
fogpay_error fogpay_note_sign(const fogpay_key *issuer, const fogpay_note *note, uint8_t *out,
                              size_t cap, size_t *len);

/* Opens a signed note against the trusted issuers at now_s. Writes *out
 * and *issuer (the key that signed it; may be NULL) only on success.
 * Errors, in the order checked: the COSE parser's (a note without a kid
 * is FOGPAY_ERR_NOTE_ISSUER_UNKNOWN), FOGPAY_ERR_NOTE_ISSUER_UNKNOWN,
 * FOGPAY_ERR_NOTE_FORGED (the signature fails: forged or altered),
 * FOGPAY_ERR_NOTE_ISSUER_RETIRED, the payload decoder's, and
 * FOGPAY_ERR_NOTE_EXPIRED. */
fogpay_error fogpay_note_open(const uint8_t *msg, size_t len, const fogpay_note_issuers *set,
                              uint64_t now_s, fogpay_note *out, const fogpay_note_issuer **issuer);

/* Signs a custody entry with the current holder's key (its kid in the
 * header) into out (FOGPAY_CUSTODY_SIGNED_MAX bytes suffice). */
fogpay_error fogpay_custody_sign(const fogpay_key *holder, const fogpay_custody *c, uint8_t *out,
                                 size_t cap, size_t *len);

/* Opens a custody entry that must be signed by holder and continue the
 * note serial from prev_link. Writes *out only on success. Errors, in the
 * order checked: the COSE parser's, FOGPAY_ERR_CUSTODY_NOT_HOLDER (another
 * key signed it), the payload decoder's, FOGPAY_ERR_CUSTODY_BROKEN (another
 * serial or another previous link). */
fogpay_error fogpay_custody_open(const uint8_t *msg, size_t len, const fogpay_key *holder,
                                 const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                 const uint8_t prev_link[FOGPAY_HASH_BYTES], fogpay_custody *out);

/* A note as a holder keeps and hands it: the signed note and, once it has
 * left its issuer, the custody entry that named the holder (the chain
 * before it is in the register of the gateway that took it). */
typedef struct fogpay_held_note {
    uint8_t note[FOGPAY_NOTE_SIGNED_MAX];
    size_t note_len;
    uint8_t custody[FOGPAY_CUSTODY_SIGNED_MAX];
    size_t custody_len; /* 0: held by its issuer */
} fogpay_held_note;

/* A note handed to a device, gateway to device on dev/{device}/note
 * (note.cddl, note-delivery): [signed note, signed custody entry], both
 * byte strings. _encode writes it into buf (cap bytes; FOGPAY_NOTE_LINE_MAX
 * suffice); _decode reads one, views copied into *out, written only on
 * success (FOGPAY_ERR_CBOR_TYPE, FOGPAY_ERR_CBOR_TOO_LONG, the reader's). */
fogpay_error fogpay_note_delivery_encode(const fogpay_held_note *held, uint8_t *buf, size_t cap,
                                         size_t *len);
fogpay_error fogpay_note_delivery_decode(const uint8_t *buf, size_t len, fogpay_held_note *out);

/* One line of a note file: the signed note in hex and, after a space, the
 * custody entry in hex when there is one; the file holds one such line a
 * note. _format writes it without the newline into out (at least
 * FOGPAY_NOTE_LINE_MAX bytes); _parse reads one (its newline removed),
 * FOGPAY_ERR_TEXT_INVALID for one of another form. */
fogpay_error fogpay_note_line_format(const fogpay_held_note *held, char *out, size_t cap);
fogpay_error fogpay_note_line_parse(const char *line, fogpay_held_note *out);

#endif
