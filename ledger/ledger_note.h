/*
 * ledger_note.h - bearer notes in the gateway's ledger (ledger_note.c): the
 * register of every note the gateway has taken, its own stock of notes, and
 * the chain of note movements.
 *
 * The register holds, per serial, the note's signed bytes, its current
 * holder's key (and device) and the link to the custody entry that named
 * that holder; the next entry must be signed by that key and continue from
 * that link. Notes the gateway holds itself are its stock: loaded from the
 * issuer, they are what devices withdraw and what gives change. Every
 * movement is a record on a chain of its own (schemas/note.cddl,
 * note-movement), appended in the write operation of the movement.
 *
 * Ownership: the caller's structs are filled by value; visitors get
 * pointers valid only during their call.
 */
#ifndef FOGPAY_LEDGER_NOTE_H
#define FOGPAY_LEDGER_NOTE_H

#include "fogpay_note.h"
#include "ledger.h"

/* Most notes loaded in one operation (and one loadNotes command). */
#define FOGPAY_LEDGER_NOTE_LOAD_MAX 64

/* Loads count notes into the stock at now_ms, all or none. Each must open
 * against issuers (fogpay_note_open) and carry the custody entry by which
 * its issuer hands it to holder_key (the gateway's key, "<alg>:<hex>"), and
 * its serial must be new to the register. On a refusal *refused is the
 * index of the note refused and nothing is loaded. Errors: those of
 * fogpay_note_open and fogpay_custody_open, FOGPAY_ERR_CUSTODY_OTHER_HOLDER
 * (no entry, or one naming another key), FOGPAY_ERR_NOTE_SERIAL_SEEN. */
fogpay_error fogpay_ledger_note_load(fogpay_ledger *l, const fogpay_note_issuers *issuers,
                                     const char *holder_key, const fogpay_held_note *notes,
                                     size_t count, uint64_t now_ms, size_t *refused);

/* A device's withdrawal of notes: the transfer that moved their value
 * (kind 14, the wallet to the currency's notes account), the wallet's
 * balance after it, and the notes with the custody entries, signed by the
 * gateway, that hand them to the device's key. */
typedef struct fogpay_note_withdrawal {
    fogpay_transfer transfer;
    int64_t balance_after_minor;
    size_t count;
    uint8_t serials[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    fogpay_held_note notes[FOGPAY_NOTE_WITHDRAW_MAX];
} fogpay_note_withdrawal;

/* Withdraws amount_minor of currency from device_id's wallet in notes of
 * the stock held by gateway_key (the largest denominations first, at most
 * FOGPAY_NOTE_WITHDRAW_MAX notes), all in one write operation: the
 * transfer, each note's custody entry to the device's key signed with
 * gateway_key, its register row and movement. seq and hash (the device
 * message's; seq 0 for none) are the transfer's device origin. *out is
 * written only on success. Refused, moving nothing: FOGPAY_ERR_UNKNOWN_DEVICE,
 * FOGPAY_ERR_DEVICE_SUSPENDED, FOGPAY_ERR_DEVICE_REVOKED,
 * FOGPAY_ERR_AMOUNT_ZERO, FOGPAY_ERR_AMOUNT_TOO_LARGE,
 * FOGPAY_ERR_INSUFFICIENT_FUNDS, FOGPAY_ERR_WALLET_MAX (the device would
 * hold more in notes than its wallet may), FOGPAY_ERR_NOTE_STOCK_SHORT. */
fogpay_error fogpay_ledger_note_withdraw(fogpay_ledger *l, const fogpay_key *gateway_key,
                                         const char *device_id, uint16_t currency,
                                         uint64_t amount_minor, uint64_t seq,
                                         const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                         fogpay_note_withdrawal *out);

/* The signed note of serial and the custody entry of its last movement
 * (the one that named its holder) into *out; FOGPAY_ERR_NOT_FOUND for a
 * serial the register does not hold. */
fogpay_error fogpay_ledger_note_held(fogpay_ledger *l,
                                     const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                     fogpay_held_note *out);

typedef enum fogpay_note_state {
    FOGPAY_NOTE_IN_STOCK = 0,  /* the gateway's own */
    FOGPAY_NOTE_HELD = 1,      /* out with a device */
    FOGPAY_NOTE_CAME_BACK = 2, /* returned to its issuer */
} fogpay_note_state;

/* A note of the register. */
typedef struct fogpay_note_entry {
    uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t issuer_kid[FOGPAY_KID_BYTES];
    uint16_t currency;
    uint64_t denomination_minor;
    uint64_t expiry_s; /* 0: none */
    char holder_key[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    char holder_device[FOGPAY_DEVICE_ID_MAX + 1]; /* "" in stock */
    uint8_t state;                                /* fogpay_note_state */
    uint64_t movement;                            /* its last movement */
} fogpay_note_entry;

/* The register's entry of serial; FOGPAY_ERR_NOT_FOUND when it has none. */
fogpay_error fogpay_ledger_note_get(fogpay_ledger *l,
                                    const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                    fogpay_note_entry *out);

/* The history of serial: its movements in chain order, at most
 * FOGPAY_LEDGER_NOTE_HISTORY_MAX, each to visit (a nonzero return stops);
 * *count the movements visited. */
#define FOGPAY_LEDGER_NOTE_HISTORY_MAX 1000u
typedef int (*fogpay_note_movement_visit)(void *ctx, const fogpay_note_movement *m);
fogpay_error fogpay_ledger_note_history(fogpay_ledger *l,
                                        const uint8_t serial[FOGPAY_NOTE_SERIAL_BYTES],
                                        fogpay_note_movement_visit visit, void *ctx, size_t *count);

/* A payment with notes, device to device: the serials the payee now
 * holds, and with change the serials handed to the payer. */
typedef struct fogpay_note_paid {
    size_t count;
    uint8_t serials[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_NOTE_SERIAL_BYTES];
    size_t change_count;
    uint8_t change_serials[FOGPAY_NOTE_WITHDRAW_MAX][FOGPAY_NOTE_SERIAL_BYTES];
} fogpay_note_paid;

/* Settles a payment with notes (schemas/note.cddl note-payment) at
 * now_ms, all notes or none: each must be held by the payer
 * (p->device_id), its custody entry, rebuilt from the register around the
 * payer's signature, must open with the payer's key and continue the
 * note's chain; their values in its currency sum to the amount or more.
 * Summing to the amount, each entry names the payee's key and each note
 * then belongs to the payee: register, and a movement (paid) keeping the
 * rebuilt entry. Summing to more, each entry names gateway_key (NULL:
 * refused, FOGPAY_ERR_NOTE_SUM_MISMATCH) and the notes go into the stock
 * (tendered), from which the gateway hands the payee notes making the
 * amount and the payer notes making the change, the largest first, by
 * custody entries it signs (change): the value out with devices stays
 * what it was, and no transfer is needed. hash is the message's (its
 * device origin). *out written only on success. Refused, moving nothing:
 * FOGPAY_ERR_UNKNOWN_DEVICE, FOGPAY_ERR_DEVICE_SUSPENDED,
 * FOGPAY_ERR_DEVICE_REVOKED, FOGPAY_ERR_UNKNOWN_PAYEE,
 * FOGPAY_ERR_PAYEE_INACTIVE, FOGPAY_ERR_PAYEE_SELF,
 * FOGPAY_ERR_NOTE_UNKNOWN, FOGPAY_ERR_NOTE_DOUBLE_SPEND,
 * FOGPAY_ERR_CUSTODY_NOT_HOLDER, FOGPAY_ERR_NOTE_SUM_MISMATCH,
 * FOGPAY_ERR_NOTE_CHANGE_SHORT (the stock cannot make both). */
fogpay_error fogpay_ledger_note_pay(fogpay_ledger *l, const fogpay_key *gateway_key,
                                    const fogpay_note_payment *p, uint64_t now_ms,
                                    fogpay_note_paid *out);

/* Notes given back into a wallet: the transfer (kind 16, the notes
 * account to the wallet of p->payee_device) and the wallet's balance. */
typedef struct fogpay_note_redemption {
    fogpay_note_paid paid;
    fogpay_transfer transfer;
    int64_t balance_after_minor;
} fogpay_note_redemption;

/* Takes the notes of p back into the stock at now_ms, all or none, as
 * fogpay_ledger_note_pay checks them but with each custody entry naming
 * gateway_text (the gateway's key, the new holder), and credits their
 * value to the wallet of p->payee_device (which may be the sender) by a
 * transfer of kind 16 from the currency's notes account; seq and hash are
 * its device origin. Refusals as fogpay_ledger_note_pay's. */
fogpay_error fogpay_ledger_note_redeem(fogpay_ledger *l, const char *gateway_text,
                                       const fogpay_note_payment *p,
                                       const uint8_t hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                       fogpay_note_redemption *out);

/* Hands the stock's notes that came back from devices (their last
 * movement redeemed) and are held by gateway_key back to their issuers,
 * up to FOGPAY_LEDGER_NOTE_LOAD_MAX a call, in one write operation: each
 * by a custody entry gateway_key signs naming its issuer's key (from
 * issuers, by the note's kid), a movement (returned), its register state
 * 2. out (FOGPAY_LEDGER_NOTE_LOAD_MAX entries) receives each signed note
 * and that entry, *count how many (0: none left). Errors:
 * FOGPAY_ERR_NOTE_ISSUER_UNKNOWN (a note's issuer is not in issuers),
 * the ledger's. */
fogpay_error fogpay_ledger_note_return(fogpay_ledger *l, const fogpay_key *gateway_key,
                                       const fogpay_note_issuers *issuers, uint64_t now_ms,
                                       fogpay_held_note *out, size_t *count);

/* Notes handed back into a legal entity's account: their count and
 * currency, the transfer (kind 17, the notes account to the entity's
 * account) and the account's balance. */
typedef struct fogpay_note_entity_redemption {
    size_t count;
    uint16_t currency;
    fogpay_transfer transfer;
    int64_t balance_after_minor;
} fogpay_note_entity_redemption;

/* Takes count notes (1..FOGPAY_LEDGER_NOTE_LOAD_MAX: each the signed note
 * and the custody entry by which its holder, a device in the register,
 * names gateway_text) back into the stock at now_ms, all or none, and
 * credits their value, of one currency, to entity_id's account by a
 * transfer of kind 17 from the notes account; each note's movement
 * (redeemed) names that transfer. *out written only on success; on a
 * refusal of a note *refused is its index. Refused, moving nothing:
 * FOGPAY_ERR_ENTITY_UNKNOWN, FOGPAY_ERR_NOTE_FORGED (not the
 * register's note), FOGPAY_ERR_NOTE_UNKNOWN, FOGPAY_ERR_NOTE_DOUBLE_SPEND
 * (no device holds it now), FOGPAY_ERR_CUSTODY_NOT_HOLDER,
 * FOGPAY_ERR_CUSTODY_BROKEN, FOGPAY_ERR_CUSTODY_OTHER_HOLDER (the entry
 * names another key than the gateway's), FOGPAY_ERR_NOTE_SUM_MISMATCH
 * (notes of two currencies). */
fogpay_error fogpay_ledger_note_redeem_entity(fogpay_ledger *l, const char *gateway_text,
                                              const char *entity_id, const fogpay_held_note *notes,
                                              size_t count, uint64_t now_ms,
                                              fogpay_note_entity_redemption *out, size_t *refused);

/* The serials of the notes a withdrawal (its transfer at
 * transfer_position) handed to device_id that the device still holds, at
 * most FOGPAY_NOTE_WITHDRAW_MAX, into serials; *count of them. What a
 * repeat of the withdrawal hands over again. */
fogpay_error fogpay_ledger_note_withdrawn(fogpay_ledger *l, const char *device_id,
                                          uint64_t transfer_position,
                                          uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES],
                                          size_t *count);

/* Visits the stock, by currency and then denomination ascending: the count
 * of notes of each. A nonzero return stops the walk. */
typedef int (*fogpay_note_stock_visit)(void *ctx, uint16_t currency, uint64_t denomination_minor,
                                       uint64_t count);
fogpay_error fogpay_ledger_note_stock(fogpay_ledger *l, fogpay_note_stock_visit visit, void *ctx);

/* The note movement chain's head: its last position (0 when empty) and
 * hash there. */
fogpay_error fogpay_ledger_note_movement_head(fogpay_ledger *l, uint64_t *position,
                                              uint8_t hash[FOGPAY_HASH_BYTES]);

#endif
