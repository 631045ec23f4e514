/*
 * ledger_chain.c - the one mechanism of the ledger's hash chains: head, get,
 * append and the walk of a list, for any chain its descriptor describes
 * (ledger_chain in ledger_internal.h: its statements and its record codec).
 * The transfer chain (ledger_query.c, ledger_account.c) and the event chain
 * (ledger_event.c) are two descriptors; another chain is a table and a
 * descriptor.
 *
 * Design. Appending takes the next position, encodes the record
 * deterministically with the chain's encoder, hashes it onto the previous
 * record's hash (hash(n) = SHA-256(hash(n-1) || record(n)), hash(0) = 32
 * zero bytes) and inserts the row: with its record, or with a format byte
 * in its place for a chain whose record is the encoding of the row's own
 * columns (transfers), so that it is not stored twice. The schema's
 * triggers refuse anything but the next position. Reading a row is the chain's reader, which checks
 * every stored value against its limits.
 *
 * Ownership. Nothing here allocates; records are copied into the caller's
 * storage; a walk's visitor receives pointers valid only during its call.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "fogpay_hash.h"
#include "ledger_internal.h"

static uint64_t *chain__position(const ledger_chain *c, void *record)
{
    return (uint64_t *)((char *)record + c->position_offset);
}

fogpay_error ledger__chain_head_of(fogpay_ledger *l, const ledger_chain *c, uint64_t *position,
                                   uint8_t hash[FOGPAY_HASH_BYTES])
{
    if (c->hot) {
        return ledger__hot_head(l, position, hash);
    }
    return ledger__chain_head_db(l, c, position, hash);
}

fogpay_error ledger__chain_head_db(fogpay_ledger *l, const ledger_chain *c, uint64_t *position,
                                   uint8_t hash[FOGPAY_HASH_BYTES])
{
    sqlite3_stmt *s = ledger__stmt(l, c->head);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t head = sqlite3_column_int64(s, 0);
        const void *stored = sqlite3_column_blob(s, 1);
        if (head < 1 || stored == NULL || sqlite3_column_bytes(s, 1) != FOGPAY_HASH_BYTES) {
            snprintf(l->message, sizeof l->message,
                     "the %s chain head is not a position with a 32-byte hash", c->name);
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            *position = (uint64_t)head;
            memcpy(hash, stored, FOGPAY_HASH_BYTES);
        }
    } else if (rc == SQLITE_DONE) {
        *position = 0;
        memset(hash, 0, FOGPAY_HASH_BYTES);
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__chain_head_public(fogpay_ledger *l, const ledger_chain *c, uint64_t *position,
                                       uint8_t hash[FOGPAY_HASH_BYTES])
{
    if (l == NULL || position == NULL || hash == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    uint64_t head = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    fogpay_error err = ledger__chain_head_of(l, c, &head, head_hash);
    if (err == FOGPAY_OK) {
        *position = head;
        memcpy(hash, head_hash, FOGPAY_HASH_BYTES);
    }
    return err;
}

fogpay_error ledger__chain_get(fogpay_ledger *l, const ledger_chain *c, uint64_t position,
                               void *out, void *scratch, uint8_t hash_out[FOGPAY_HASH_BYTES])
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (position == 0 || position > LEDGER_INT_MAX) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    /* The transfer just appended is asked for at once (its receipt needs
     * its chain hash): it is the hot state's head. */
    if (c->hot && ledger__hot_head_transfer(l, position, scratch, hash)) {
        memcpy(out, scratch, c->record_size);
        if (hash_out != NULL) {
            memcpy(hash_out, hash, FOGPAY_HASH_BYTES);
        }
        return FOGPAY_OK;
    }
    sqlite3_stmt *s = ledger__stmt(l, c->get);
    ledger__bind_u64(l, s, 1, position);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        err = c->read(l, s, scratch, hash);
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        memcpy(out, scratch, c->record_size);
        if (hash_out != NULL) {
            memcpy(hash_out, hash, FOGPAY_HASH_BYTES);
        }
    }
    return err;
}

fogpay_error ledger__chain_walk(fogpay_ledger *l, const ledger_chain *c, sqlite3_stmt *s,
                                void *scratch, ledger_chain_visit visit, void *ctx)
{
    fogpay_error err = FOGPAY_OK;
    /* The SQL LIMIT bounds the walk to one page. */
    for (;;) {
        int rc = ledger__step(l, s);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            err = ledger__error(l, rc);
            break;
        }
        uint8_t hash[FOGPAY_HASH_BYTES];
        err = c->read(l, s, scratch, hash);
        if (err != FOGPAY_OK || visit(ctx, scratch, hash) != 0) {
            break;
        }
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__chain_append(fogpay_ledger *l, const ledger_chain *c, void *record)
{
    assert(!sqlite3_get_autocommit(l->db));
    uint64_t head = 0;
    uint8_t previous[FOGPAY_HASH_BYTES];
    fogpay_error err = ledger__chain_head_of(l, c, &head, previous);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (head >= LEDGER_INT_MAX || c->check(record, head) != FOGPAY_OK) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    *chain__position(c, record) = head + 1;
    uint8_t bytes[FOGPAY_RECORD_BYTES_MAX];
    size_t len = 0;
    err = c->encode(record, bytes, sizeof bytes, &len);
    if (err != FOGPAY_OK) {
        snprintf(l->message, sizeof l->message,
                 "the %s does not encode as a record of the contract", c->name);
        return err;
    }
    uint8_t hash[FOGPAY_HASH_BYTES];
    /* Bound without a copy: it lives until the statement has run. */
    uint8_t format = c->record_format != NULL ? c->record_format(record) : 0;
    err = fogpay_sha256_pair(previous, sizeof previous, bytes, len, hash);
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, c->insert);
        c->bind(l, s, record);
        if (c->record_format != NULL) {
            ledger__bind_blob(l, s, c->record_param, &format, 1);
        } else {
            ledger__bind_blob(l, s, c->record_param, bytes, len);
        }
        ledger__bind_blob(l, s, c->record_param + 1, hash, FOGPAY_HASH_BYTES);
        err = ledger__exec(l, s);
    }
    if (err == FOGPAY_OK && c->hot) {
        ledger__hot_appended(l, record, hash);
    }
    /* The chain's positions are the table's row ids: contiguous from 1. */
    assert(err != FOGPAY_OK || sqlite3_last_insert_rowid(l->db) == (sqlite3_int64)(head + 1));
    return err;
}
