/*
 * issuer.h - the issuer's ledger (schemas/issuer.sql): its keys and the
 * notes it has put into circulation, for fogpay-issuer.
 *
 * The issuer stands for the central bank or e-money institution of a
 * currency: it alone creates notes. Each issuance is recorded here, in one
 * transaction, before the notes leave in a file, so that the ledger never
 * counts less than is in circulation. Keys rotate with an overlap: a new
 * key is added active beside the old, both are trusted, and the old is
 * retired when its notes have come home.
 *
 * Ownership: issuer_open gives the caller a handle to close with
 * issuer_close; the functions borrow their arguments.
 */
#ifndef FOGPAY_ISSUER_H
#define FOGPAY_ISSUER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fogpay_error.h"
#include "fogpay_key.h"
#include "fogpay_note.h"

#define ISSUER_SCHEMA_VERSION 1

/* Notes issued in one run: a day's print of one denomination. */
#define ISSUER_ISSUE_COUNT_MAX 10000u

/* The state of an issuer key in the ledger. */
typedef enum issuer_key_state {
    ISSUER_KEY_ACTIVE = 0,
    ISSUER_KEY_RETIRED = 1,
} issuer_key_state;

/* Opens (and with create, creates) the issuer's ledger at path. why holds
 * a sentence on failure. */
fogpay_error issuer_open(const char *path, bool create, sqlite3 **db, char *why, size_t cap);
void issuer_close(sqlite3 *db);

/* Records key as active from now_ms; FOGPAY_ERR_EXISTS when it is known. */
fogpay_error issuer_key_add(sqlite3 *db, const fogpay_key *key, uint64_t now_ms);
/* The count of active keys into *active. */
fogpay_error issuer_key_count(sqlite3 *db, uint64_t *active);
/* The state of key: FOGPAY_ERR_NOT_FOUND for a key the issuer never had. */
fogpay_error issuer_key_state_of(sqlite3 *db, const fogpay_key *key, issuer_key_state *state);
/* Retires the active key of public_text at now_ms: FOGPAY_ERR_NOT_FOUND for
 * a key that is not active here, FOGPAY_ERR_INVALID_ARGUMENT when it is the
 * last active key (the issuer would have none to issue with). */
fogpay_error issuer_key_retire(sqlite3 *db, const char *public_text, uint64_t now_ms);
/* Writes the trust file of every key: "<alg>:<hex> active|retired" lines. */
fogpay_error issuer_keys_write(sqlite3 *db, FILE *out);

/* Records the signed notes of one issuance in one transaction: each note
 * and its bytes, signed by key. */
fogpay_error issuer_notes_record(sqlite3 *db, const fogpay_key *key, const fogpay_note *notes,
                                 const fogpay_held_note *held, size_t count);
/* Prints the notes in circulation per currency: "<code> <count> <total>". */
fogpay_error issuer_circulation_write(sqlite3 *db, FILE *out);

/* Marks count notes handed back by a gateway (held: each signed note and
 * the custody entry, signed with from, the gateway's key, naming one of
 * the issuer's keys) redeemed at now_ms, all or none, so that they leave
 * circulation. On a refusal *refused is the note's index: not the
 * gateway's entry (FOGPAY_ERR_CUSTODY_NOT_HOLDER), another note's entry
 * (FOGPAY_ERR_CUSTODY_BROKEN), naming another key than the issuer's
 * (FOGPAY_ERR_CUSTODY_OTHER_HOLDER), a note never issued here
 * (FOGPAY_ERR_NOTE_UNKNOWN), redeemed before
 * (FOGPAY_ERR_NOTE_DOUBLE_SPEND), other bytes than the note issued
 * (FOGPAY_ERR_NOTE_FORGED). */
fogpay_error issuer_notes_redeem(sqlite3 *db, const fogpay_key *from, const fogpay_held_note *held,
                                 size_t count, uint64_t now_ms, size_t *refused);

#endif
