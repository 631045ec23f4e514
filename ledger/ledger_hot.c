/*
 * ledger_hot.c - the hot state of settlement in memory: for each device in
 * use its registry row and active key, who holds it now, its wallets with
 * their balances and today's paid total per currency, the highest seq it
 * has had answered, whether a plan of it is in arrears; and the transfer
 * chain's head with the transfer there. A settlement reads all of it from
 * here and runs no SELECT.
 *
 * Design. Memory follows the database, never the other way: an entry is
 * loaded from the database on first use (inside a transaction it sees that
 * transaction's own writes), and changed only right after the ledger's own
 * statement that changed the row succeeded. Every change inside a
 * transaction is journaled first (a copy of the entry as it was), so that
 * a rolled-back savepoint or transaction restores exactly what the
 * database restores: savepoints push a mark, release pops it, a rollback
 * to a savepoint undoes the journal back to its mark, a rollback undoes it
 * all, a commit forgets it. Registry writes (status, limits, key, command
 * seq, ownership) mark the device's entry stale instead of patching it,
 * so its next use reloads it. Another connection's commits (fogpayctl on
 * the same file while the gateway runs) are seen through PRAGMA
 * data_version, read when a transaction of this handle starts and before
 * a read outside one: when it moved, everything here is forgotten and
 * reloads on use.
 *
 * Bounds. At most LEDGER_HOT_DEVICES_MAX devices: past that the state is
 * emptied when the next transaction starts. Wallets: LEDGER_HOT_WALLETS
 * currencies a device, the oldest slot reused for another. The journal:
 * LEDGER_HOT_JOURNAL_MAX records a transaction; past that it stops
 * recording and any rollback in that transaction empties the state
 * instead of undoing it (the database is right either way; the cost is a
 * reload). Unknown devices are never cached, so a flood of made-up ids
 * cannot fill the table.
 *
 * Ownership. The ledger handle owns the one ledger_hot and every entry;
 * entries are freed only when the state is emptied with no journal
 * pointing at them. Callers get pointers valid until the handle's next
 * call.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

#define HOT_DAY_UNKNOWN UINT64_MAX
#define HOT_SLOTS_MIN   64

static uint64_t hot__hash(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ull;
    }
    return h;
}

static bool hot__in_transaction(fogpay_ledger *l)
{
    return !sqlite3_get_autocommit(l->db);
}

fogpay_error ledger__hot_init(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    memset(h, 0, sizeof *h);
    h->slots = calloc(HOT_SLOTS_MIN, sizeof *h->slots);
    if (h->slots == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    h->cap = HOT_SLOTS_MIN;
    return FOGPAY_OK;
}

static void hot__forget_all(ledger_hot *h)
{
    for (size_t i = 0; i < h->cap; i++) {
        free(h->slots[i]);
        h->slots[i] = NULL;
    }
    h->count = 0;
    free(h->by_account);
    h->by_account = NULL;
    h->account_cap = 0;
    memset(&h->head, 0, sizeof h->head);
    h->holds.loaded = false;
    h->holds.count = 0;
    h->holds.open = 0;
    h->holds.account_count = 0;
    h->fees_known = false;
    h->journal_len = 0;
    h->journal_overflow = false;
    h->mark_depth = 0;
}

void ledger__hot_free(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    if (h->slots != NULL) {
        hot__forget_all(h);
    }
    free(h->slots);
    free(h->journal);
    free(h->holds.entries);
    free(h->fees);
    memset(h, 0, sizeof *h);
}

/* The journal. */

/* The next record of the journal, or NULL when it is full (it overflows:
 * any rollback in this transaction then empties the state). */
static ledger_hot_record *hot__record(ledger_hot *h)
{
    if (h->journal_len == h->journal_cap) {
        size_t cap = h->journal_cap == 0 ? 64 : h->journal_cap * 2;
        ledger_hot_record *grown = NULL;
        if (cap <= LEDGER_HOT_JOURNAL_MAX) {
            grown = realloc(h->journal, cap * sizeof *grown);
        }
        if (grown == NULL) {
            h->journal_overflow = true;
            h->journal_len = 0;
            return NULL;
        }
        h->journal = grown;
        h->journal_cap = cap;
    }
    return &h->journal[h->journal_len++];
}

void ledger__hot_hold_journal(fogpay_ledger *l, size_t index)
{
    ledger_hot *h = &l->hot;
    if (!hot__in_transaction(l) || h->journal_overflow) {
        return;
    }
    ledger_hot_record *r = hot__record(h);
    if (r == NULL) {
        return;
    }
    r->device = NULL;
    r->hold = true;
    r->before.hold.index = index;
    r->before.hold.count = h->holds.count;
    r->before.hold.open = h->holds.open;
    if (index < h->holds.count) {
        r->before.hold.hold = h->holds.entries[index];
    }
}

/* Undoes one hold record. The earliest expiry may have been raised past a
 * restored hold's: 0 makes the next expiry look scan again. */
static void hot__undo_hold(ledger_hot *h, const ledger_hot_hold_before *b)
{
    if (b->index < b->count) {
        h->holds.entries[b->index] = b->hold;
    }
    h->holds.count = b->count;
    h->holds.open = b->open;
    h->holds.earliest_expiry_ms = 0;
}

/* Drops the resolved holds from the table, keeping the order; only with
 * an empty journal, whose indexes it would move. */
static void hot__holds_compact(ledger_hot *h)
{
    ledger_hot_holds *hh = &h->holds;
    size_t kept = 0;
    for (size_t i = 0; i < hh->count; i++) {
        if (hh->entries[i].state == FOGPAY_HOLD_OPEN) {
            hh->entries[kept++] = hh->entries[i];
        }
    }
    hh->count = kept;
    hh->open = kept;
}

static void hot__journal(fogpay_ledger *l, ledger_hot_device *d)
{
    ledger_hot *h = &l->hot;
    if (!hot__in_transaction(l) || h->journal_overflow) {
        return;
    }
    size_t floor = h->mark_depth > 0 ? h->marks[h->mark_depth - 1] : 0;
    if (h->journal_len > floor && h->journal[h->journal_len - 1].device == d && d != NULL) {
        return; /* the copy from before this savepoint's first change is there */
    }
    ledger_hot_record *r = hot__record(h);
    if (r == NULL) {
        return;
    }
    r->device = d;
    r->hold = false;
    if (d != NULL) {
        r->before.device = *d;
    } else {
        r->before.head = h->head;
    }
}

/* Undoes the journal back to length to. */
static void hot__undo(ledger_hot *h, size_t to)
{
    h->holds.account_count = 0; /* a holds account made in what is undone is gone */
    while (h->journal_len > to) {
        ledger_hot_record *r = &h->journal[--h->journal_len];
        if (r->hold) {
            hot__undo_hold(h, &r->before.hold);
        } else if (r->device != NULL) {
            *r->device = r->before.device;
        } else {
            h->head = r->before.head;
        }
    }
}

/* Forgets everything when the journal cannot undo: mid-transaction after
 * an overflow, or outside one. No journal points at an entry then. */
static void hot__reset(ledger_hot *h)
{
    uint32_t depth = h->mark_depth;
    bool overflow = h->journal_overflow;
    hot__forget_all(h);
    h->mark_depth = depth;
    h->journal_overflow = overflow;
}

/* PRAGMA data_version: forgets everything when another connection has
 * committed since the last look. Outside the journal's reach only. */
static fogpay_error hot__check_version(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DATA_VERSION);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t version = sqlite3_column_int64(s, 0);
        if (h->version_known && version != h->data_version && h->journal_len == 0) {
            hot__reset(h);
        }
        h->data_version = version;
        h->version_known = true;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__hot_begin(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    h->journal_len = 0;
    h->journal_overflow = false;
    h->mark_depth = 0;
    hot__holds_compact(h);
    if (h->count > LEDGER_HOT_DEVICES_MAX) {
        hot__reset(h);
    }
    return hot__check_version(l);
}

void ledger__hot_mark(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    assert(h->mark_depth < LEDGER_HOT_MARKS_MAX);
    if (h->mark_depth < LEDGER_HOT_MARKS_MAX) {
        h->marks[h->mark_depth++] = h->journal_len;
    }
}

void ledger__hot_release(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    if (h->mark_depth > 0) {
        h->mark_depth--;
    }
}

void ledger__hot_undo_to_mark(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    if (h->mark_depth == 0) {
        return;
    }
    size_t to = h->marks[--h->mark_depth];
    if (h->fees_uncommitted) {
        h->fees_known = false;
    }
    if (h->journal_overflow) {
        hot__reset(h);
    } else {
        hot__undo(h, to);
    }
}

void ledger__hot_undo_all(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    if (h->fees_uncommitted) {
        h->fees_known = false;
        h->fees_uncommitted = false;
    }
    if (h->journal_overflow) {
        hot__forget_all(h);
    } else {
        hot__undo(h, 0);
    }
    h->mark_depth = 0;
    h->journal_overflow = false;
}

void ledger__hot_fees_changed(fogpay_ledger *l)
{
    l->hot.fees_known = false;
    l->hot.fees_uncommitted = hot__in_transaction(l);
}

void ledger__hot_commit(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    h->fees_uncommitted = false;
    h->journal_len = 0;
    h->mark_depth = 0;
    h->journal_overflow = false;
    hot__holds_compact(h);
}

/* The table of devices. */

static ledger_hot_device **hot__slot(ledger_hot *h, const char *id)
{
    size_t mask = h->cap - 1;
    for (size_t i = (size_t)hot__hash(id) & mask;; i = (i + 1) & mask) {
        if (h->slots[i] == NULL || strcmp(h->slots[i]->device.device_id, id) == 0) {
            return &h->slots[i];
        }
    }
}

static fogpay_error hot__grow(ledger_hot *h)
{
    size_t cap = h->cap * 2;
    ledger_hot_device **slots = calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    ledger_hot_device **old = h->slots;
    size_t old_cap = h->cap;
    h->slots = slots;
    h->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] != NULL) {
            *hot__slot(h, old[i]->device.device_id) = old[i];
        }
    }
    free(old);
    return FOGPAY_OK;
}

/* Loads a device's registry row into d (marked loaded, the rest unknown). */
static fogpay_error hot__load(fogpay_ledger *l, const char *id, ledger_hot_device *d)
{
    fogpay_device device;
    fogpay_error err = ledger__device_read_db(l, id, &device);
    if (err != FOGPAY_OK) {
        return err;
    }
    hot__journal(l, d);
    memset(d, 0, sizeof *d);
    d->device = device;
    d->loaded = true;
    for (size_t i = 0; i < LEDGER_HOT_WALLETS; i++) {
        d->wallets[i].day = HOT_DAY_UNKNOWN;
    }
    return FOGPAY_OK;
}

fogpay_error ledger__hot_device(fogpay_ledger *l, const char *id, ledger_hot_device **out)
{
    ledger_hot *h = &l->hot;
    fogpay_error err = FOGPAY_OK;
    if (!hot__in_transaction(l)) {
        err = hot__check_version(l);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_hot_device **slot = hot__slot(h, id);
    if (*slot != NULL && (*slot)->loaded) {
        *out = *slot;
        return FOGPAY_OK;
    }
    if (*slot != NULL) {
        err = hot__load(l, id, *slot);
        *out = *slot;
        return err;
    }
    ledger_hot_device *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    /* A new entry journals as not loaded, so a rollback leaves it stale. */
    memcpy(d->device.device_id, id, strnlen(id, FOGPAY_DEVICE_ID_MAX));
    err = hot__load(l, id, d);
    if (err == FOGPAY_OK && (h->count + 1) * 2 > h->cap) {
        err = hot__grow(h);
        slot = hot__slot(h, id);
    }
    if (err != FOGPAY_OK) {
        /* Not in the table: drop what the journal holds of it. */
        for (size_t i = h->journal_len; i > 0; i--) {
            if (h->journal[i - 1].device == d) {
                memmove(&h->journal[i - 1], &h->journal[i],
                        (h->journal_len - i) * sizeof h->journal[0]);
                h->journal_len--;
            }
        }
        free(d);
        return err;
    }
    *slot = d;
    h->count++;
    *out = d;
    return FOGPAY_OK;
}

void ledger__hot_forget(fogpay_ledger *l, const char *id)
{
    ledger_hot_device *d = *hot__slot(&l->hot, id);
    if (d != NULL && d->loaded) {
        hot__journal(l, d);
        d->loaded = false;
    }
}

/* Wallets, balances and today's totals. */

static void hot__by_account(ledger_hot *h, uint64_t account, ledger_hot_device *d)
{
    if (account >= h->account_cap) {
        size_t cap = h->account_cap == 0 ? 256 : h->account_cap;
        while (cap <= account) {
            cap *= 2;
        }
        ledger_hot_device **grown = realloc(h->by_account, cap * sizeof *grown);
        if (grown == NULL) {
            return; /* the balance is then read from the database */
        }
        memset(grown + h->account_cap, 0, (cap - h->account_cap) * sizeof *grown);
        h->by_account = grown;
        h->account_cap = cap;
    }
    h->by_account[account] = d;
}

fogpay_error ledger__hot_wallet(fogpay_ledger *l, ledger_hot_device *d, uint16_t currency,
                                ledger_hot_wallet **out)
{
    for (size_t i = 0; i < LEDGER_HOT_WALLETS; i++) {
        if (d->wallets[i].currency == currency) {
            *out = &d->wallets[i];
            return FOGPAY_OK;
        }
    }
    ledger_account a;
    fogpay_error err =
        ledger__account_find_db(l, LEDGER_ACCOUNT_WALLET, d->device.device_id, currency, &a);
    if (err != FOGPAY_OK && err != FOGPAY_ERR_NOT_FOUND) {
        return err;
    }
    hot__journal(l, d);
    ledger_hot_wallet *w = &d->wallets[d->next_wallet];
    d->next_wallet = (d->next_wallet + 1) % LEDGER_HOT_WALLETS;
    *w = (ledger_hot_wallet){currency, err == FOGPAY_OK ? a.id : 0,
                             err == FOGPAY_OK ? a.balance : 0, HOT_DAY_UNKNOWN, 0};
    if (w->account != 0) {
        hot__by_account(&l->hot, w->account, d);
    }
    *out = w;
    return FOGPAY_OK;
}

/* The cached wallet of account, or NULL. */
static ledger_hot_wallet *hot__wallet_of(fogpay_ledger *l, uint64_t account, ledger_hot_device **d)
{
    ledger_hot *h = &l->hot;
    *d = account < h->account_cap ? h->by_account[account] : NULL;
    if (*d == NULL || !(*d)->loaded) {
        return NULL;
    }
    for (size_t i = 0; i < LEDGER_HOT_WALLETS; i++) {
        if ((*d)->wallets[i].currency != 0 && (*d)->wallets[i].account == account) {
            return &(*d)->wallets[i];
        }
    }
    return NULL;
}

bool ledger__hot_balance_add(fogpay_ledger *l, uint64_t account, int64_t delta, int64_t *balance)
{
    ledger_hot_device *d = NULL;
    ledger_hot_wallet *w = hot__wallet_of(l, account, &d);
    if (w == NULL) {
        return false;
    }
    hot__journal(l, d);
    w->balance += delta;
    *balance = w->balance;
    return true;
}

void ledger__hot_wallet_created(fogpay_ledger *l, const char *id, uint16_t currency,
                                uint64_t account)
{
    ledger_hot_device *d = *hot__slot(&l->hot, id);
    if (d == NULL || !d->loaded) {
        return;
    }
    for (size_t i = 0; i < LEDGER_HOT_WALLETS; i++) {
        if (d->wallets[i].currency == currency) {
            hot__journal(l, d);
            d->wallets[i].account = account;
            d->wallets[i].balance = 0;
            hot__by_account(&l->hot, account, d);
        }
    }
}

fogpay_error ledger__hot_paid(fogpay_ledger *l, ledger_hot_device *d, ledger_hot_wallet *w,
                              uint64_t day, uint64_t *paid_minor)
{
    if (w->day != day) {
        uint64_t paid = 0;
        fogpay_error err = ledger__day_total_db(l, d->device.device_id, w->currency, day, &paid);
        if (err != FOGPAY_OK) {
            return err;
        }
        hot__journal(l, d);
        w->day = day;
        w->paid_minor = paid;
    }
    *paid_minor = w->paid_minor;
    return FOGPAY_OK;
}

void ledger__hot_paid_add(fogpay_ledger *l, const char *id, uint16_t currency, uint64_t day,
                          uint64_t amount_minor)
{
    ledger_hot_device *d = *hot__slot(&l->hot, id);
    if (d == NULL || !d->loaded) {
        return;
    }
    for (size_t i = 0; i < LEDGER_HOT_WALLETS; i++) {
        ledger_hot_wallet *w = &d->wallets[i];
        if (w->currency == currency && w->day == day) {
            hot__journal(l, d);
            w->paid_minor += amount_minor;
        }
    }
}

/* Holders and message sequences. */

fogpay_error ledger__hot_holder(fogpay_ledger *l, ledger_hot_device *d, uint64_t time_ms,
                                char entity_out[FOGPAY_ENTITY_ID_MAX + 1])
{
    if (!d->holder_known || time_ms < d->holder_from_ms || time_ms >= d->holder_until_ms) {
        char entity[FOGPAY_ENTITY_ID_MAX + 1];
        uint64_t from_ms = 0, until_ms = 0;
        fogpay_error err =
            ledger__holder_read_db(l, d->device.device_id, time_ms, entity, &from_ms, &until_ms);
        if (err != FOGPAY_OK) {
            return err;
        }
        hot__journal(l, d);
        memcpy(d->holder, entity, sizeof entity);
        d->holder_from_ms = from_ms;
        d->holder_until_ms = until_ms;
        d->holder_known = true;
    }
    memcpy(entity_out, d->holder, sizeof d->holder);
    return FOGPAY_OK;
}

fogpay_error ledger__hot_last_seq(fogpay_ledger *l, ledger_hot_device *d, uint64_t *seq)
{
    if (!d->seq_known) {
        uint64_t last = 0;
        fogpay_error err = ledger__last_seq_db(l, d->device.device_id, &last);
        if (err != FOGPAY_OK) {
            return err;
        }
        hot__journal(l, d);
        d->last_message_seq = last;
        d->seq_known = true;
    }
    *seq = d->last_message_seq;
    return FOGPAY_OK;
}

fogpay_error ledger__hot_arrears(fogpay_ledger *l, ledger_hot_device *d, bool *arrears)
{
    if (!d->arrears_known) {
        fogpay_error err = ledger__plan_arrears_of(l, d->device.device_id);
        if (err != FOGPAY_OK && err != FOGPAY_ERR_PLAN_ARREARS) {
            return err;
        }
        hot__journal(l, d);
        d->arrears = err == FOGPAY_ERR_PLAN_ARREARS;
        d->arrears_known = true;
    }
    *arrears = d->arrears;
    return FOGPAY_OK;
}

void ledger__hot_message(fogpay_ledger *l, const char *id, uint64_t seq)
{
    ledger_hot_device *d = *hot__slot(&l->hot, id);
    if (d != NULL && d->loaded && d->seq_known && seq > d->last_message_seq) {
        hot__journal(l, d);
        d->last_message_seq = seq;
    }
}

/* The chain head. */

fogpay_error ledger__hot_head(fogpay_ledger *l, uint64_t *position, uint8_t hash[FOGPAY_HASH_BYTES])
{
    ledger_hot *h = &l->hot;
    fogpay_error err = FOGPAY_OK;
    if (!hot__in_transaction(l)) {
        err = hot__check_version(l);
    }
    if (err == FOGPAY_OK && !h->head.known) {
        uint64_t head = 0;
        uint8_t head_hash[FOGPAY_HASH_BYTES];
        err = ledger__chain_head_db(l, &ledger_transfer_chain, &head, head_hash);
        if (err == FOGPAY_OK) {
            hot__journal(l, NULL);
            h->head.known = true;
            h->head.position = head;
            memcpy(h->head.hash, head_hash, FOGPAY_HASH_BYTES);
            h->head.transfer_known = false;
        }
    }
    if (err == FOGPAY_OK) {
        *position = h->head.position;
        memcpy(hash, h->head.hash, FOGPAY_HASH_BYTES);
    }
    return err;
}

void ledger__hot_appended(fogpay_ledger *l, const fogpay_transfer *t,
                          const uint8_t hash[FOGPAY_HASH_BYTES])
{
    ledger_hot *h = &l->hot;
    hot__journal(l, NULL);
    h->head.known = true;
    h->head.position = t->position;
    memcpy(h->head.hash, hash, FOGPAY_HASH_BYTES);
    h->head.transfer = *t;
    h->head.transfer_known = true;
}

bool ledger__hot_head_transfer(fogpay_ledger *l, uint64_t position, fogpay_transfer *t,
                               uint8_t hash[FOGPAY_HASH_BYTES])
{
    ledger_hot *h = &l->hot;
    if (!hot__in_transaction(l) && hot__check_version(l) != FOGPAY_OK) {
        return false;
    }
    if (!h->head.known || !h->head.transfer_known || h->head.position != position) {
        return false;
    }
    *t = h->head.transfer;
    if (hash != NULL) {
        memcpy(hash, h->head.hash, FOGPAY_HASH_BYTES);
    }
    return true;
}

/* Meters and their tariffs. */

static ledger_hot_meter *hot__meter_of(ledger_hot_device *d, const char *meter_id)
{
    for (size_t i = 0; i < LEDGER_HOT_METERS; i++) {
        if (d->meters[i].meter_id[0] != '\0' && strcmp(d->meters[i].meter_id, meter_id) == 0) {
            return &d->meters[i];
        }
    }
    return NULL;
}

/* Takes the next slot of d for meter_id (journaled first). */
static ledger_hot_meter *hot__meter_take(fogpay_ledger *l, ledger_hot_device *d,
                                         const char *meter_id, const fogpay_meter *m)
{
    hot__journal(l, d);
    ledger_hot_meter *hm = &d->meters[d->next_meter];
    d->next_meter = (d->next_meter + 1) % LEDGER_HOT_METERS;
    memset(hm, 0, sizeof *hm);
    memcpy(hm->meter_id, meter_id, strnlen(meter_id, FOGPAY_METER_ID_MAX));
    hm->meter = *m;
    return hm;
}

fogpay_error ledger__hot_meter(fogpay_ledger *l, ledger_hot_device *d, const char *meter_id,
                               ledger_hot_meter **out)
{
    ledger_hot_meter *hm = hot__meter_of(d, meter_id);
    if (hm != NULL) {
        *out = hm;
        return FOGPAY_OK;
    }
    fogpay_meter m;
    fogpay_error err = ledger__meter_read_db(l, d->device.device_id, meter_id, &m);
    if (err == FOGPAY_ERR_METER_UNKNOWN) {
        memset(&m, 0, sizeof m);
        err = FOGPAY_OK;
    }
    if (err == FOGPAY_OK) {
        *out = hot__meter_take(l, d, meter_id, &m);
    }
    return err;
}

void ledger__hot_meter_set(fogpay_ledger *l, const char *device_id, const char *meter_id,
                           const fogpay_meter *m)
{
    ledger_hot_device *d = *hot__slot(&l->hot, device_id);
    if (d == NULL || !d->loaded) {
        return;
    }
    ledger_hot_meter *hm = hot__meter_of(d, meter_id);
    if (hm == NULL) {
        hot__meter_take(l, d, meter_id, m);
        return;
    }
    hot__journal(l, d);
    if (hm->meter.binding_id != m->binding_id) {
        hm->tariff_known = false;
    }
    hm->meter = *m;
}

fogpay_error ledger__hot_meter_tariff(fogpay_ledger *l, ledger_hot_device *d, ledger_hot_meter *hm,
                                      uint64_t time_ms, const fogpay_tariff **out)
{
    if (hm->tariff_known && time_ms >= hm->tariff.effective_ms && time_ms < hm->tariff_until_ms) {
        *out = &hm->tariff;
        return FOGPAY_OK;
    }
    fogpay_tariff t;
    uint64_t until_ms = 0;
    fogpay_error err = fogpay_ledger_tariff_at(l, hm->meter.tariff_id, time_ms, &t, &until_ms);
    if (err != FOGPAY_OK) {
        return err;
    }
    hot__journal(l, d);
    hm->tariff = t;
    hm->tariff_until_ms = until_ms;
    hm->tariff_known = true;
    *out = &hm->tariff;
    return FOGPAY_OK;
}

void ledger__hot_tariffs_changed(fogpay_ledger *l)
{
    ledger_hot *h = &l->hot;
    for (size_t i = 0; i < h->cap; i++) {
        ledger_hot_device *d = h->slots[i];
        for (size_t k = 0; d != NULL && k < LEDGER_HOT_METERS; k++) {
            d->meters[k].tariff_known = false;
        }
    }
}
