/*
 * store_verify.c - fogpay_store_verify(): every gateway's three chains read in
 * bounded pages inside one read transaction, each chain recomputed from the
 * stored record bytes, each record checked against its row's columns, each
 * head against the last row (store.h). The engine-independent rules, as in
 * store.c; the engines only read pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_hash.h"
#include "store_engine.h"

/* The first field in which the decoded record a differs from the columns
 * b, or NULL when they are the same transfer. */
static const char *store__transfer_difference(const fogpay_transfer *a, const fogpay_transfer *b)
{
    if (a->position != b->position) {
        return "position";
    }
    if (a->kind != b->kind || a->related_position != b->related_position) {
        return "kind or related position";
    }
    if (a->debit_account != b->debit_account || a->credit_account != b->credit_account) {
        return "accounts";
    }
    if (a->amount_minor != b->amount_minor || a->currency != b->currency) {
        return "amount or currency";
    }
    if (a->time_ms != b->time_ms) {
        return "time";
    }
    if (strcmp(a->device_id, b->device_id) != 0 || a->seq != b->seq ||
        memcmp(a->intent_hash, b->intent_hash, FOGPAY_HASH_BYTES) != 0) {
        return "device, seq or intent hash";
    }
    if (strcmp(a->payer_entity, b->payer_entity) != 0 ||
        strcmp(a->payee_entity, b->payee_entity) != 0) {
        return "entities";
    }
    if (strcmp(a->reference, b->reference) != 0) {
        return "reference";
    }
    if (a->leg_count != b->leg_count ||
        memcmp(a->legs, b->legs, a->leg_count * sizeof a->legs[0]) != 0) {
        return "legs";
    }
    return NULL;
}

/* The walk of one gateway's chain: where it has got to and the first
 * problem found. */
typedef struct store_verify_walk {
    uint64_t position;
    uint8_t hash[FOGPAY_HASH_BYTES];
    uint64_t checked;
    uint64_t bad_position;
    char problem[STORE_MESSAGE_MAX];
} store_verify_walk;

static int store__verify_fail(store_verify_walk *w, uint64_t position, const char *problem)
{
    w->bad_position = position;
    snprintf(w->problem, sizeof w->problem, "%s", problem);
    return 1;
}

/* Whether position follows the walk's; a gap stops it. */
static bool store__verify_follows(store_verify_walk *w, uint64_t position)
{
    if (position == w->position + 1) {
        return true;
    }
    w->bad_position = w->position + 1;
    snprintf(w->problem, sizeof w->problem, "position %llu is missing (the next row is %llu)",
             (unsigned long long)(w->position + 1), (unsigned long long)position);
    return false;
}

/* Recomputes the chain hash over a row's record, compares it with the
 * stored one and moves the walk on: 0 to go on, 1 to stop. */
static int store__verify_link(store_verify_walk *w, uint64_t position, const uint8_t *record,
                              size_t record_len, const uint8_t stored[FOGPAY_HASH_BYTES])
{
    uint8_t hash[FOGPAY_HASH_BYTES];
    if (fogpay_sha256_pair(w->hash, FOGPAY_HASH_BYTES, record, record_len, hash) != FOGPAY_OK) {
        return store__verify_fail(w, position, "the chain hash could not be computed");
    }
    if (memcmp(hash, stored, FOGPAY_HASH_BYTES) != 0) {
        return store__verify_fail(w, position, "the stored chain hash is not the one recomputed");
    }
    memcpy(w->hash, hash, FOGPAY_HASH_BYTES);
    w->position = position;
    w->checked++;
    return 0;
}

static int store__verify_row(void *ctx, const store_row *row)
{
    store_verify_walk *w = ctx;
    uint64_t position = row->t.position;
    if (row->problem != NULL) {
        return store__verify_fail(w, position, row->problem);
    }
    if (!store__verify_follows(w, position)) {
        return 1;
    }
    fogpay_transfer decoded;
    if (fogpay_transfer_decode(row->record, row->record_len, &decoded) != FOGPAY_OK) {
        return store__verify_fail(w, position, "the record does not decode as a transfer");
    }
    const char *difference = store__transfer_difference(&decoded, &row->t);
    if (difference != NULL) {
        w->bad_position = position;
        snprintf(w->problem, sizeof w->problem, "the record and the columns differ in: %s",
                 difference);
        return 1;
    }
    return store__verify_link(w, position, row->record, row->record_len, row->hash);
}

static int store__verify_event_row(void *ctx, const store_row *row)
{
    store_verify_walk *w = ctx;
    uint64_t position = row->e.position;
    if (row->problem != NULL) {
        return store__verify_fail(w, position, row->problem);
    }
    if (!store__verify_follows(w, position)) {
        return 1;
    }
    fogpay_event decoded;
    const char *difference = NULL;
    const char *problem = store__event_decode(row, &decoded, &difference);
    if (problem != NULL) {
        w->bad_position = position;
        snprintf(w->problem, sizeof w->problem, "%s%s%s", problem, difference ? " in: " : "",
                 difference ? difference : "");
        return 1;
    }
    return store__verify_link(w, position, row->record, row->record_len, row->hash);
}

/* The first field in which the decoded movement a differs from the
 * columns b, or NULL when they agree. */
static const char *store__note_difference(const fogpay_note_movement *a,
                                          const fogpay_note_movement *b)
{
    if (a->position != b->position) {
        return "position";
    }
    if (a->kind != b->kind || a->time_ms != b->time_ms) {
        return "kind or time";
    }
    if (memcmp(a->serial, b->serial, FOGPAY_NOTE_SERIAL_BYTES) != 0) {
        return "serial";
    }
    if (strcmp(a->device_id, b->device_id) != 0) {
        return "device";
    }
    return NULL;
}

static int store__verify_note_row(void *ctx, const store_row *row)
{
    store_verify_walk *w = ctx;
    uint64_t position = row->m.position;
    if (row->problem != NULL) {
        return store__verify_fail(w, position, row->problem);
    }
    if (!store__verify_follows(w, position)) {
        return 1;
    }
    fogpay_note_movement decoded;
    if (fogpay_note_movement_decode(row->record, row->record_len, &decoded) != FOGPAY_OK) {
        return store__verify_fail(w, position, "the record does not decode as a note movement");
    }
    const char *difference = store__note_difference(&decoded, &row->m);
    if (difference != NULL) {
        w->bad_position = position;
        snprintf(w->problem, sizeof w->problem, "the record and the columns differ in: %s",
                 difference);
        return 1;
    }
    return store__verify_link(w, position, row->record, row->record_len, row->hash);
}

/* Walks one of a gateway's chains in pages and compares its end with that
 * chain's head. FOGPAY_ERR_LEDGER_CORRUPT with w->bad_position and
 * w->problem set; a problem of the event chain says so. */
static fogpay_error store__verify_chain(fogpay_store *s, const fogpay_store_gateway *g,
                                        fogpay_stream stream, store_verify_walk *w)
{
    bool events = stream == FOGPAY_STREAM_EVENTS;
    bool notes = stream == FOGPAY_STREAM_NOTES;
    store_row_visit visit = notes    ? store__verify_note_row
                            : events ? store__verify_event_row
                                     : store__verify_row;
    fogpay_store_filter f = {
        .gateway_id = g->gateway_id,
        .after_gateway = g->gateway_id,
        .to_ms = STORE_INT_MAX,
        .limit = STORE_VERIFY_PAGE,
    };
    uint64_t head = events ? g->event_position : g->position;
    const uint8_t *head_hash = events ? g->event_hash : g->hash;
    for (;;) {
        f.after_position = w->position;
        uint32_t count = 0;
        fogpay_error err = s->engine->page(s, stream, &f, visit, w, &count);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (w->problem[0] != '\0') {
            break;
        }
        if (count < STORE_VERIFY_PAGE) {
            break;
        }
    }
    /* The note chain's head is its last row: nothing apart to compare. */
    if (notes) {
        head = w->position;
        head_hash = w->hash;
    }
    if (w->problem[0] == '\0' &&
        (w->position != head || memcmp(w->hash, head_hash, FOGPAY_HASH_BYTES) != 0)) {
        w->bad_position = w->position < head ? w->position + 1 : head + 1;
        snprintf(w->problem, sizeof w->problem,
                 "the head is at position %llu but the rows end at %llu%s",
                 (unsigned long long)head, (unsigned long long)w->position,
                 w->position == head ? " with another hash" : "");
    }
    if (w->problem[0] == '\0') {
        return FOGPAY_OK;
    }
    if (events || notes) {
        char problem[STORE_MESSAGE_MAX];
        memcpy(problem, w->problem, sizeof problem);
        snprintf(w->problem, sizeof w->problem, "in the %s chain: %.*s",
                 notes ? "note movement" : "event", (int)(sizeof w->problem - 40), problem);
    }
    return FOGPAY_ERR_LEDGER_CORRUPT;
}

/* The three chains of one gateway, transfers first; *checked_transfers
 * receives how many transfers held. */
static fogpay_error store__verify_gateway(fogpay_store *s, const fogpay_store_gateway *g,
                                          store_verify_walk *w, uint64_t *checked_transfers)
{
    memset(w, 0, sizeof *w);
    fogpay_error err = store__verify_chain(s, g, FOGPAY_STREAM_TRANSFERS, w);
    *checked_transfers = w->checked;
    if (err != FOGPAY_OK) {
        return err;
    }
    memset(w, 0, sizeof *w);
    err = store__verify_chain(s, g, FOGPAY_STREAM_EVENTS, w);
    if (err != FOGPAY_OK) {
        return err;
    }
    memset(w, 0, sizeof *w);
    return store__verify_chain(s, g, FOGPAY_STREAM_NOTES, w);
}

/* A page of gateways copied out, so their chains are walked with no other
 * statement open. */
typedef struct store_gateway_page {
    fogpay_store_gateway *gateways; /* STORE_GATEWAY_PAGE, owned by verify */
    uint32_t count;
} store_gateway_page;

static int store__gateway_page_visit(void *ctx, const fogpay_store_gateway *g)
{
    store_gateway_page *p = ctx;
    assert(p->count < STORE_GATEWAY_PAGE);
    p->gateways[p->count++] = *g;
    return 0;
}

/* The walk over every gateway, inside the read transaction. */
static fogpay_error store__verify_all(fogpay_store *s, store_gateway_page *page, uint64_t *checked,
                                      char bad_gateway[FOGPAY_GATEWAY_ID_MAX + 1],
                                      uint64_t *bad_position, char *problem, size_t problem_cap)
{
    char after[FOGPAY_GATEWAY_ID_MAX + 1] = "";
    for (;;) {
        uint32_t count = 0;
        page->count = 0;
        fogpay_error err = s->engine->gateway_page(s, after, STORE_GATEWAY_PAGE,
                                                   store__gateway_page_visit, page, &count);
        if (err != FOGPAY_OK) {
            return err;
        }
        for (uint32_t i = 0; i < page->count; i++) {
            const fogpay_store_gateway *g = &page->gateways[i];
            store_verify_walk w;
            uint64_t transfers = 0;
            err = store__verify_gateway(s, g, &w, &transfers);
            *checked += transfers;
            if (err == FOGPAY_ERR_LEDGER_CORRUPT) {
                if (bad_gateway != NULL) {
                    memcpy(bad_gateway, g->gateway_id, FOGPAY_GATEWAY_ID_MAX + 1);
                }
                if (bad_position != NULL) {
                    *bad_position = w.bad_position;
                }
                if (problem != NULL && problem_cap > 0) {
                    snprintf(problem, problem_cap, "%s", w.problem);
                }
                store__note(s, "gateway %s, position %llu: %s", g->gateway_id,
                            (unsigned long long)w.bad_position, w.problem);
            }
            if (err != FOGPAY_OK) {
                return err;
            }
            memcpy(after, g->gateway_id, sizeof after);
        }
        if (count < STORE_GATEWAY_PAGE) {
            return FOGPAY_OK;
        }
    }
}

fogpay_error fogpay_store_verify(fogpay_store *s, uint64_t *checked,
                                 char bad_gateway[FOGPAY_GATEWAY_ID_MAX + 1],
                                 uint64_t *bad_position, char *problem, size_t problem_cap)
{
    fogpay_error err = store__enter(s);
    if (err != FOGPAY_OK) {
        return err;
    }
    store_gateway_page page = {.gateways = calloc(STORE_GATEWAY_PAGE, sizeof *page.gateways)};
    if (page.gateways == NULL) {
        store__note(s, "no memory for a page of gateways");
        return FOGPAY_ERR_NO_MEMORY;
    }
    uint64_t count = 0;
    err = store__begin(s, STORE_TXN_READ);
    if (err == FOGPAY_OK) {
        err = store__verify_all(s, &page, &count, bad_gateway, bad_position, problem, problem_cap);
        /* A read transaction wrote nothing: ending it either way loses
         * nothing, and a corrupt store is not a failure to read it. */
        fogpay_error end = store__end(s, FOGPAY_OK);
        err = err != FOGPAY_OK ? err : end;
    }
    free(page.gateways);
    if (checked != NULL) {
        *checked = count;
    }
    return err;
}
