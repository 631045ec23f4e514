/*
 * agent_note.c - the device's note store: the bearer notes it holds, kept
 * in the state directory's "notes" file, one note line each (the signed
 * note and the custody entry that handed it to the device, in hex:
 * fogpay_note_line_format), appended and synced as each arrives.
 *
 * A note comes on the device's note topic after a withdrawal settled and
 * before its receipt. It is kept only when its custody entry is signed by
 * a gateway key the device knows (agent_gateway_open), at a time within
 * that key's validity, and names the device's own key: a note handed to
 * anyone else is no use to this device. A note arrives again when the
 * broker delivers it twice (QoS 1): its serial is in the store, and it is
 * kept once. The store holds no personal data: notes are serials, values
 * and keys. The device bounds what it withdraws by its wallet maximum
 * (fogpay_agent_withdraw), so a compromised device loses at most that.
 *
 * Ownership: nothing here allocates; lines are read into a static buffer
 * on the agent's one thread.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent_internal.h"
#include "fogpay_cose.h"
#include "fogpay_note.h"

/* The note of a stored or delivered note, its issuer unchecked: the
 * gateway checked it when it took the note, and the device trusts the
 * gateway that handed it over. */
static fogpay_error note_payload(const fogpay_held_note *h, fogpay_note *out)
{
    fogpay_cose_sign1 cose;
    fogpay_error err = fogpay_cose_sign1_parse(h->note, h->note_len, &cose);
    return err == FOGPAY_OK ? fogpay_note_decode(cose.payload.ptr, cose.payload.len, out) : err;
}

/* Checks a delivered note: the custody entry for this note's serial,
 * naming the device's key, and signed by a known gateway key within its
 * validity (a withdrawal) or by the payer (a payment with notes, whose
 * entry the gateway opened with the payer's key before it handed the note
 * on: the note topic is the gateway's alone to publish on). */
static fogpay_error note_check(const fogpay_agent *a, const fogpay_held_note *h, fogpay_note *n)
{
    fogpay_bytes payload;
    fogpay_gateway_key signer;
    fogpay_custody c;
    fogpay_cose_sign1 cose;
    char own[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_error err = note_payload(h, n);
    bool by_gateway = err == FOGPAY_OK && agent_gateway_open(a, h->custody, h->custody_len,
                                                             &payload, &signer) == FOGPAY_OK;
    if (err == FOGPAY_OK && !by_gateway) {
        err = fogpay_cose_sign1_parse(h->custody, h->custody_len, &cose);
        payload = cose.payload;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_custody_decode(payload.ptr, payload.len, &c);
    }
    if (err == FOGPAY_OK && by_gateway) {
        err = fogpay_gateway_key_valid_at(&signer, c.time_s);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(a->key, own, sizeof own);
    }
    if (err == FOGPAY_OK && memcmp(c.serial, n->serial, FOGPAY_NOTE_SERIAL_BYTES) != 0) {
        err = FOGPAY_ERR_CUSTODY_BROKEN;
    }
    if (err == FOGPAY_OK && strcmp(c.holder_key, own) != 0) {
        err = FOGPAY_ERR_CUSTODY_OTHER_HOLDER;
    }
    return err;
}

/* Calls visit for each note of the store (a missing store holds none). */
typedef int (*note_line_visit)(void *ctx, const fogpay_held_note *h, const fogpay_note *n);
static fogpay_error notes_each(const fogpay_agent *a, note_line_visit visit, void *ctx)
{
    FILE *f = fopen(a->notes_path, "r");
    if (f == NULL) {
        return access(a->notes_path, F_OK) == 0 ? FOGPAY_ERR_IO : FOGPAY_OK;
    }
    static char line[FOGPAY_NOTE_LINE_MAX + 2];
    fogpay_error err = FOGPAY_OK;
    while (err == FOGPAY_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        fogpay_held_note h;
        fogpay_note n;
        err = fogpay_note_line_parse(line, &h);
        if (err == FOGPAY_OK) {
            err = note_payload(&h, &n);
        }
        if (err == FOGPAY_OK && visit(ctx, &h, &n) != 0) {
            break;
        }
    }
    fclose(f);
    return err == FOGPAY_OK ? FOGPAY_OK : FOGPAY_ERR_STORAGE;
}

/* Visitor: is the serial of ctx in the store? */
static int note_same_serial(void *ctx, const fogpay_held_note *h, const fogpay_note *n)
{
    (void)h;
    fogpay_note *wanted = ctx;
    if (memcmp(n->serial, wanted->serial, FOGPAY_NOTE_SERIAL_BYTES) == 0) {
        wanted->denomination_minor = 0; /* marks it found */
        return 1;
    }
    return 0;
}

/* Appends one note line and syncs the store. */
static fogpay_error note_append(const fogpay_agent *a, const fogpay_held_note *h)
{
    static char line[FOGPAY_NOTE_LINE_MAX];
    fogpay_error err = fogpay_note_line_format(h, line, sizeof line);
    FILE *f = err == FOGPAY_OK ? fopen(a->notes_path, "a") : NULL;
    if (f == NULL) {
        return err == FOGPAY_OK ? FOGPAY_ERR_IO : err;
    }
    bool ok = fprintf(f, "%s\n", line) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    return ok ? FOGPAY_OK : FOGPAY_ERR_IO;
}

void agent_note_handle(fogpay_agent *a, const uint8_t *msg, size_t len)
{
    fogpay_held_note h;
    fogpay_note n;
    memset(&n, 0, sizeof n);
    fogpay_error err = fogpay_note_delivery_decode(msg, len, &h);
    if (err == FOGPAY_OK) {
        err = note_check(a, &h, &n);
    }
    fogpay_note seen = n;
    if (err == FOGPAY_OK) {
        err = notes_each(a, note_same_serial, &seen);
    }
    if (err == FOGPAY_OK && seen.denomination_minor == 0) {
        return; /* delivered again: kept once */
    }
    if (err == FOGPAY_OK) {
        err = note_append(a, &h);
    }
    if (err != FOGPAY_OK) {
        agent_log("note ignored: %s", fogpay_error_name(err));
    }
}

typedef struct note_sum {
    uint16_t currency;
    uint64_t sum_minor;
} note_sum;

static int note_add(void *ctx, const fogpay_held_note *h, const fogpay_note *n)
{
    (void)h;
    note_sum *s = ctx;
    if (n->currency == s->currency) {
        s->sum_minor += n->denomination_minor;
    }
    return 0;
}

fogpay_error agent_notes_held(const fogpay_agent *a, uint16_t currency, uint64_t *sum_minor)
{
    note_sum s = {currency, 0};
    fogpay_error err = notes_each(a, note_add, &s);
    *sum_minor = s.sum_minor;
    return err;
}

typedef struct note_list {
    fogpay_agent_note_visit visit;
    void *ctx;
} note_list;

static int note_list_one(void *ctx, const fogpay_held_note *h, const fogpay_note *n)
{
    (void)h;
    const note_list *l = ctx;
    return l->visit(l->ctx, n->serial, n->currency, n->denomination_minor);
}

fogpay_error fogpay_agent_notes(const fogpay_agent *a, fogpay_agent_note_visit visit, void *ctx)
{
    if (!a || !visit) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    note_list l = {visit, ctx};
    return notes_each(a, note_list_one, &l);
}

typedef struct note_choice {
    uint16_t currency;
    uint64_t need;
    uint64_t denomination; /* the value taken in this pass */
    uint8_t (*serials)[FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t (*links)[FOGPAY_HASH_BYTES];
    size_t count;
    bool full;
} note_choice;

/* Takes notes of the pass's denomination while they fit. */
static int note_take(void *ctx, const fogpay_held_note *h, const fogpay_note *n)
{
    note_choice *c = ctx;
    if (n->currency != c->currency || n->denomination_minor != c->denomination ||
        n->denomination_minor > c->need) {
        return 0;
    }
    if (c->count == FOGPAY_NOTE_PAYMENT_NOTES_MAX) {
        c->full = true;
        return 1;
    }
    memcpy(c->serials[c->count], n->serial, FOGPAY_NOTE_SERIAL_BYTES);
    fogpay_note_link(h->custody, h->custody_len, c->links[c->count]);
    c->count++;
    c->need -= n->denomination_minor;
    return c->need == 0;
}

fogpay_error agent_notes_choose(const fogpay_agent *a, uint16_t currency, uint64_t amount_minor,
                                uint8_t serials[][FOGPAY_NOTE_SERIAL_BYTES],
                                uint8_t links[][FOGPAY_HASH_BYTES], size_t *count)
{
    const uint64_t *list = NULL;
    size_t n = fogpay_note_denominations(currency, &list);
    note_choice c = {currency, amount_minor, 0, serials, links, 0, false};
    fogpay_error err = FOGPAY_OK;
    for (size_t i = n; err == FOGPAY_OK && i > 0 && c.need > 0 && !c.full; i--) {
        c.denomination = list[i - 1];
        err = notes_each(a, note_take, &c);
    }
    *count = c.count;
    return err == FOGPAY_OK && c.need != 0 ? FOGPAY_ERR_NOTE_SUM_MISMATCH : err;
}

/* Copies every note line of the store but those of p into f. */
static fogpay_error notes_copy_but(const fogpay_agent *a, const fogpay_note_payment *p, FILE *f)
{
    FILE *in = fopen(a->notes_path, "r");
    if (in == NULL) {
        return FOGPAY_OK; /* nothing to take out */
    }
    static char line[FOGPAY_NOTE_LINE_MAX + 2];
    fogpay_error err = FOGPAY_OK;
    while (err == FOGPAY_OK && fgets(line, sizeof line, in)) {
        char copy[FOGPAY_NOTE_LINE_MAX + 2];
        memcpy(copy, line, sizeof copy);
        copy[strcspn(copy, "\n")] = '\0';
        fogpay_held_note h;
        fogpay_note n;
        err = fogpay_note_line_parse(copy, &h);
        err = err == FOGPAY_OK ? note_payload(&h, &n) : err;
        bool paid = false;
        for (uint8_t i = 0; err == FOGPAY_OK && i < p->count; i++) {
            paid = paid || memcmp(p->notes[i].serial, n.serial, FOGPAY_NOTE_SERIAL_BYTES) == 0;
        }
        if (err == FOGPAY_OK && !paid && fputs(line, f) < 0) {
            err = FOGPAY_ERR_IO;
        }
    }
    fclose(in);
    return err;
}

/* Syncs the state directory, so that the rename of the store is durable. */
static fogpay_error notes_sync_dir(const fogpay_agent *a)
{
    char dir[sizeof a->notes_path];
    snprintf(dir, sizeof dir, "%s", a->notes_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        return FOGPAY_ERR_IO;
    }
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok ? FOGPAY_OK : FOGPAY_ERR_IO;
}

fogpay_error agent_notes_remove(const fogpay_agent *a, const uint8_t *msg, size_t len)
{
    fogpay_cose_sign1 cose;
    fogpay_note_payment p;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    err =
        err == FOGPAY_OK ? fogpay_note_payment_decode(cose.payload.ptr, cose.payload.len, &p) : err;
    if (err != FOGPAY_OK) {
        return err;
    }
    char tmp[sizeof a->notes_path + 8];
    snprintf(tmp, sizeof tmp, "%s.next", a->notes_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return FOGPAY_ERR_IO;
    }
    err = notes_copy_but(a, &p, f);
    bool ok = err == FOGPAY_OK && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, a->notes_path) != 0) {
        remove(tmp);
        return err != FOGPAY_OK ? err : FOGPAY_ERR_IO;
    }
    return notes_sync_dir(a);
}
