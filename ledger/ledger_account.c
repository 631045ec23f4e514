/*
 * ledger_account.c - accounts and their balances, and appending a transfer
 * to the hash chain.
 *
 * Design. A device has one wallet per currency and a legal entity one
 * account per currency, each created on first use; the system account of a
 * currency is the counterpart of funding and the only account whose balance
 * may go below zero (the schema refuses it for the others); the holds
 * account of a currency keeps the amounts of its open holds
 * (ledger_hold.c). A balance is
 * stored and moved in the same transaction as the transfer that moves it,
 * so it always equals the account's credits minus its debits, which
 * ledger_verify.c checks.
 *
 * Appending is the one way a transfer enters the ledger: the one chain
 * mechanism (ledger_chain.c), on the transfer chain's descriptor defined
 * here, takes the next position, encodes the record deterministically,
 * hashes it onto the chain head and inserts the row; then the balances
 * move. Policy checks are the caller's (ledger_settle.c); appending only
 * guards the chain.
 *
 * Ownership. Nothing here allocates; outputs are copied into the caller's
 * structs.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "fogpay_hash.h"
#include "ledger_internal.h"

const ledger_stmt_sql ledger_account__sql[] = {
    {LEDGER_STMT_ACCOUNT_GET,
     "SELECT kind, device_id, entity_id, currency, balance FROM accounts WHERE id = ?1"},
    {LEDGER_STMT_ACCOUNT_FIND_WALLET,
     "SELECT id, balance FROM accounts WHERE kind = 'wallet' AND device_id = ?1 "
     "AND currency = ?2"},
    {LEDGER_STMT_ACCOUNT_FIND_ENTITY,
     "SELECT id, balance FROM accounts WHERE kind = 'entity' AND entity_id = ?1 "
     "AND currency = ?2"},
    {LEDGER_STMT_ACCOUNT_FIND_SYSTEM,
     "SELECT id, balance FROM accounts WHERE kind = 'system' AND ?1 IS NULL AND currency = ?2"},
    {LEDGER_STMT_ACCOUNT_FIND_HOLDS,
     "SELECT id, balance FROM accounts WHERE kind = 'holds' AND ?1 IS NULL AND currency = ?2"},
    {LEDGER_STMT_ACCOUNT_FIND_NOTES,
     "SELECT id, balance FROM accounts WHERE kind = 'notes' AND ?1 IS NULL AND currency = ?2"},
    {LEDGER_STMT_ACCOUNT_INSERT,
     "INSERT INTO accounts (kind, device_id, entity_id, currency, balance) "
     "VALUES (?1, ?2, ?3, ?4, 0) RETURNING id"},
    {LEDGER_STMT_ACCOUNT_ADD, "UPDATE accounts SET balance = balance + ?2 WHERE id = ?1"},
    {LEDGER_STMT_TRANSFER_INSERT,
     "INSERT INTO transfers (position, kind, debit_account, credit_account, amount_minor, "
     "currency, time_ms, device_id, seq, payer_entity, payee_entity, intent_hash, reference, "
     "related_position, record, hash, meter_id, tariff_id, plan_id, instalment) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
     "?19, ?20)"},
    {LEDGER_STMT_LEG_INSERT,
     "INSERT INTO transfer_legs (position, leg, debit_account, credit_account, amount_minor) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {LEDGER_STMT_LEGS_GET,
     "SELECT leg, debit_account, credit_account, amount_minor FROM transfer_legs "
     "WHERE position = ?1 ORDER BY leg"},
};
const size_t ledger_account__sql_count = sizeof ledger_account__sql / sizeof ledger_account__sql[0];

static const char *const account__kind_names[] = {
    [LEDGER_ACCOUNT_WALLET] = "wallet", [LEDGER_ACCOUNT_ENTITY] = "entity",
    [LEDGER_ACCOUNT_SYSTEM] = "system", [LEDGER_ACCOUNT_HOLDS] = "holds",
    [LEDGER_ACCOUNT_NOTES] = "notes",
};

static bool account__kind_parse(const char *text, ledger_account_kind *kind)
{
    for (size_t i = 0; i < sizeof account__kind_names / sizeof account__kind_names[0]; i++) {
        if (strcmp(text, account__kind_names[i]) == 0) {
            *kind = (ledger_account_kind)i;
            return true;
        }
    }
    return false;
}

fogpay_error ledger__account_get(fogpay_ledger *l, uint64_t id, ledger_account *out)
{
    if (id == 0 || id > LEDGER_INT_MAX) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    ledger_account a;
    memset(&a, 0, sizeof a);
    a.id = id;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ACCOUNT_GET);
    ledger__bind_u64(l, s, 1, id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        char kind[8];
        int64_t currency = sqlite3_column_int64(s, 3);
        a.balance = sqlite3_column_int64(s, 4);
        if (!ledger__column_text(s, 0, kind, sizeof kind) || !account__kind_parse(kind, &a.kind) ||
            !ledger__column_text(s, 1, a.device_id, sizeof a.device_id) ||
            !ledger__column_text(s, 2, a.entity_id, sizeof a.entity_id) ||
            currency < FOGPAY_CURRENCY_MIN || currency > FOGPAY_CURRENCY_MAX) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        }
        a.currency = (uint16_t)currency;
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    if (err == FOGPAY_OK) {
        *out = a;
    }
    return err;
}

/* Fills out with an account of known kind, owner and currency. */
static void account__fill(ledger_account *out, ledger_account_kind kind, const char *owner,
                          uint16_t currency, uint64_t id, int64_t balance)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    out->kind = kind;
    out->currency = currency;
    out->balance = balance;
    if (kind == LEDGER_ACCOUNT_WALLET) {
        memcpy(out->device_id, owner, strnlen(owner, FOGPAY_DEVICE_ID_MAX));
    } else if (kind == LEDGER_ACCOUNT_ENTITY) {
        memcpy(out->entity_id, owner, strnlen(owner, FOGPAY_ENTITY_ID_MAX));
    }
}

fogpay_error ledger__account_find(fogpay_ledger *l, ledger_account_kind kind, const char *owner,
                                  uint16_t currency, ledger_account *out)
{
    if (kind != LEDGER_ACCOUNT_WALLET) {
        return ledger__account_find_db(l, kind, owner, currency, out);
    }
    ledger_hot_device *d = NULL;
    ledger_hot_wallet *w = NULL;
    fogpay_error err = ledger__hot_device(l, owner, &d);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return ledger__account_find_db(l, kind, owner, currency, out);
    }
    if (err == FOGPAY_OK) {
        err = ledger__hot_wallet(l, d, currency, &w);
    }
    if (err == FOGPAY_OK && w->account == 0) {
        err = FOGPAY_ERR_NOT_FOUND;
    }
    if (err == FOGPAY_OK) {
        account__fill(out, kind, owner, currency, w->account, w->balance);
    }
    return err;
}

fogpay_error ledger__account_find_db(fogpay_ledger *l, ledger_account_kind kind, const char *owner,
                                     uint16_t currency, ledger_account *out)
{
    static const ledger_stmt_id finders[] = {
        [LEDGER_ACCOUNT_WALLET] = LEDGER_STMT_ACCOUNT_FIND_WALLET,
        [LEDGER_ACCOUNT_ENTITY] = LEDGER_STMT_ACCOUNT_FIND_ENTITY,
        [LEDGER_ACCOUNT_SYSTEM] = LEDGER_STMT_ACCOUNT_FIND_SYSTEM,
        [LEDGER_ACCOUNT_HOLDS] = LEDGER_STMT_ACCOUNT_FIND_HOLDS,
        [LEDGER_ACCOUNT_NOTES] = LEDGER_STMT_ACCOUNT_FIND_NOTES,
    };
    assert((size_t)kind < sizeof finders / sizeof finders[0]);
    assert((kind == LEDGER_ACCOUNT_SYSTEM || kind == LEDGER_ACCOUNT_HOLDS ||
            kind == LEDGER_ACCOUNT_NOTES) == (owner == NULL));
    sqlite3_stmt *s = ledger__stmt(l, finders[kind]);
    ledger__bind_text_or_null(l, s, 1, owner);
    ledger__bind_int64(l, s, 2, currency);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        int64_t balance = sqlite3_column_int64(s, 1);
        if (id < 1) {
            err = FOGPAY_ERR_LEDGER_CORRUPT;
        } else {
            account__fill(out, kind, owner, currency, (uint64_t)id, balance);
        }
    } else if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_NOT_FOUND;
    } else {
        err = ledger__error(l, rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__account_ensure(fogpay_ledger *l, ledger_account_kind kind, const char *owner,
                                    uint16_t currency, ledger_account *out)
{
    fogpay_error err = ledger__account_find(l, kind, owner, currency, out);
    if (err != FOGPAY_ERR_NOT_FOUND) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ACCOUNT_INSERT);
    ledger__bind_text(l, s, 1, account__kind_names[kind]);
    ledger__bind_text_or_null(l, s, 2, kind == LEDGER_ACCOUNT_WALLET ? owner : NULL);
    ledger__bind_text_or_null(l, s, 3, kind == LEDGER_ACCOUNT_ENTITY ? owner : NULL);
    ledger__bind_int64(l, s, 4, currency);
    int rc = ledger__step(l, s);
    if (rc == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        err = id >= 1 ? ledger__complete(l, s) : FOGPAY_ERR_LEDGER_CORRUPT;
        if (err == FOGPAY_OK) {
            account__fill(out, kind, owner, currency, (uint64_t)id, 0);
            if (kind == LEDGER_ACCOUNT_WALLET) {
                ledger__hot_wallet_created(l, owner, currency, (uint64_t)id);
            }
        }
    } else {
        err = ledger__error(l, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    }
    ledger__finish(s);
    return err;
}

fogpay_error ledger__account_entity(fogpay_ledger *l, const ledger_account *a, uint64_t time_ms,
                                    char entity_out[FOGPAY_ENTITY_ID_MAX + 1])
{
    entity_out[0] = '\0';
    switch (a->kind) {
    case LEDGER_ACCOUNT_WALLET: {
        fogpay_error err = fogpay_ledger_owner_at(l, a->device_id, time_ms, entity_out);
        return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_OK : err;
    }
    case LEDGER_ACCOUNT_ENTITY:
        memcpy(entity_out, a->entity_id, sizeof a->entity_id);
        return FOGPAY_OK;
    case LEDGER_ACCOUNT_SYSTEM:
    case LEDGER_ACCOUNT_HOLDS:
    case LEDGER_ACCOUNT_NOTES:
        return FOGPAY_OK;
    }
    return FOGPAY_ERR_LEDGER_CORRUPT;
}

/* Adds delta to an account's balance; *balance_after (may be NULL) is the
 * result: from the hot state for a wallet held there (which moves with
 * it), else read back. The schema's floor refuses a wallet or entity
 * account below zero. A plain UPDATE: RETURNING would cost it three times
 * as much. */
static fogpay_error account__add(fogpay_ledger *l, uint64_t id, int64_t delta,
                                 int64_t *balance_after)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_ACCOUNT_ADD);
    ledger__bind_u64(l, s, 1, id);
    ledger__bind_int64(l, s, 2, delta);
    fogpay_error err = ledger__exec(l, s);
    if (err == FOGPAY_OK && sqlite3_changes(l->db) != 1) {
        err = FOGPAY_ERR_NOT_FOUND;
    }
    int64_t balance = 0;
    if (err != FOGPAY_OK || ledger__hot_balance_add(l, id, delta, &balance)) {
        if (err == FOGPAY_OK && balance_after != NULL) {
            *balance_after = balance;
        }
        return err;
    }
    if (balance_after != NULL) {
        ledger_account a;
        err = ledger__account_get(l, id, &a);
        if (err == FOGPAY_OK) {
            *balance_after = a.balance;
        }
    }
    return err;
}

static void account__transfer_bind(fogpay_ledger *l, sqlite3_stmt *s, const void *record)
{
    const fogpay_transfer *t = record;
    bool by_device = t->device_id[0] != '\0';
    ledger__bind_u64(l, s, 1, t->position);
    ledger__bind_int64(l, s, 2, t->kind);
    ledger__bind_u64(l, s, 3, t->debit_account);
    ledger__bind_u64(l, s, 4, t->credit_account);
    ledger__bind_u64(l, s, 5, t->amount_minor);
    ledger__bind_int64(l, s, 6, t->currency);
    ledger__bind_u64(l, s, 7, t->time_ms);
    ledger__bind_text_or_null(l, s, 8, t->device_id);
    if (by_device) {
        ledger__bind_u64(l, s, 9, t->seq);
        ledger__bind_blob(l, s, 12, t->intent_hash, FOGPAY_HASH_BYTES);
    } else {
        ledger__bind_null(l, s, 9);
        ledger__bind_null(l, s, 12);
    }
    ledger__bind_text_or_null(l, s, 10, t->payer_entity);
    ledger__bind_text_or_null(l, s, 11, t->payee_entity);
    ledger__bind_text_or_null(l, s, 13, t->reference);
    if (t->related_position != 0) {
        ledger__bind_u64(l, s, 14, t->related_position);
    } else {
        ledger__bind_null(l, s, 14);
    }
    ledger__bind_text_or_null(l, s, 17, t->meter_id);
    ledger__bind_text_or_null(l, s, 18, t->tariff_id);
    ledger__bind_text_or_null(l, s, 19, t->plan_id);
    if (t->instalment != 0) {
        ledger__bind_u64(l, s, 20, t->instalment);
    } else {
        ledger__bind_null(l, s, 20);
    }
}

static fogpay_error account__transfer_check(const void *record, uint64_t head)
{
    const fogpay_transfer *t = record;
    for (uint32_t i = 1; i <= t->leg_count && i < FOGPAY_LEGS_MAX; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        if (leg.debit_account > LEDGER_INT_MAX || leg.credit_account > LEDGER_INT_MAX) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
    }
    return t->time_ms > LEDGER_INT_MAX || t->seq > LEDGER_INT_MAX ||
                   t->debit_account > LEDGER_INT_MAX || t->credit_account > LEDGER_INT_MAX ||
                   t->related_position > head || t->leg_count >= FOGPAY_LEGS_MAX
               ? FOGPAY_ERR_FIELD_RANGE
               : FOGPAY_OK;
}

static fogpay_error account__transfer_encode(const void *record, uint8_t *out, size_t cap,
                                             size_t *len)
{
    return fogpay_transfer_encode(record, out, cap, len);
}

static fogpay_error account__transfer_read(fogpay_ledger *l, sqlite3_stmt *s, void *record,
                                           uint8_t hash[FOGPAY_HASH_BYTES])
{
    return ledger__transfer_read(l, s, record, hash);
}

/* A row's record byte: format 2 when transfer_legs holds further legs. */
static uint8_t account__transfer_format(const void *record)
{
    const fogpay_transfer *t = record;
    return t->leg_count > 0 ? LEDGER_TRANSFER_RECORD_LEGS : LEDGER_TRANSFER_RECORD_COLUMNS;
}

/* The transfer chain as a descriptor of the one chain mechanism
 * (ledger_chain.c). */
const ledger_chain ledger_transfer_chain = {
    .name = "transfer",
    .head = LEDGER_STMT_CHAIN_HEAD,
    .get = LEDGER_STMT_TRANSFER_GET,
    .insert = LEDGER_STMT_TRANSFER_INSERT,
    .record_param = 15,
    .record_format = account__transfer_format,
    .hot = true,
    .record_size = sizeof(fogpay_transfer),
    .position_offset = offsetof(fogpay_transfer, position),
    .check = account__transfer_check,
    .encode = account__transfer_encode,
    .bind = account__transfer_bind,
    .read = account__transfer_read,
};

/* Inserts the further legs of the transfer just appended at t->position. */
static fogpay_error account__legs_insert(fogpay_ledger *l, const fogpay_transfer *t)
{
    fogpay_error err = FOGPAY_OK;
    for (uint32_t i = 1; i <= t->leg_count && err == FOGPAY_OK; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_LEG_INSERT);
        ledger__bind_u64(l, s, 1, t->position);
        ledger__bind_int64(l, s, 2, (int64_t)i + 1);
        ledger__bind_u64(l, s, 3, leg.debit_account);
        ledger__bind_u64(l, s, 4, leg.credit_account);
        ledger__bind_u64(l, s, 5, leg.amount_minor);
        err = ledger__exec(l, s);
    }
    return err;
}

fogpay_error ledger__transfer_append(fogpay_ledger *l, fogpay_transfer *t, int64_t *debit_balance)
{
    assert(t->leg_count < FOGPAY_LEGS_MAX);
    for (uint32_t i = 0; i <= t->leg_count; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        assert(leg.amount_minor >= 1 && leg.amount_minor <= FOGPAY_AMOUNT_MAX_MINOR);
        assert(leg.debit_account != leg.credit_account);
        (void)leg;
    }
    fogpay_error err = ledger__chain_append(l, &ledger_transfer_chain, t);
    if (err == FOGPAY_OK) {
        err = account__legs_insert(l, t);
    }
    for (uint32_t i = 0; i <= t->leg_count && err == FOGPAY_OK; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        int64_t amount = (int64_t)leg.amount_minor;
        bool payer = leg.debit_account == t->debit_account;
        err = account__add(l, leg.debit_account, -amount, payer ? debit_balance : NULL);
        if (err == FOGPAY_OK) {
            err = account__add(l, leg.credit_account, amount, NULL);
        }
    }
    return err;
}

/* Public accounts API. */

static fogpay_error account__check_currency(uint16_t currency)
{
    return currency >= FOGPAY_CURRENCY_MIN && currency <= FOGPAY_CURRENCY_MAX
               ? FOGPAY_OK
               : FOGPAY_ERR_FIELD_RANGE;
}

/* Finds the account, or creates it in an operation of its own after checking
 * that its owner exists (FOGPAY_ERR_NOT_FOUND otherwise). */
static fogpay_error account__get_or_create(fogpay_ledger *l, ledger_account_kind kind,
                                           const char *owner, uint16_t currency,
                                           uint64_t *account_out)
{
    ledger_account a;
    fogpay_error err = ledger__account_find(l, kind, owner, currency, &a);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        ledger_op op;
        err = ledger__op_begin(l, &op);
        if (err != FOGPAY_OK) {
            return err;
        }
        ledger_device_state state;
        err = kind == LEDGER_ACCOUNT_WALLET ? ledger__device_state(l, owner, &state)
                                            : ledger__entity_exists(l, owner);
        if (err == FOGPAY_OK) {
            err = ledger__account_ensure(l, kind, owner, currency, &a);
        }
        err = ledger__op_end(l, &op, err);
    }
    if (err == FOGPAY_OK) {
        *account_out = a.id;
    }
    return err;
}

fogpay_error fogpay_ledger_wallet(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                  uint64_t *account_out)
{
    if (l == NULL || account_out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK) {
        err = account__check_currency(currency);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return account__get_or_create(l, LEDGER_ACCOUNT_WALLET, device_id, currency, account_out);
}

fogpay_error fogpay_ledger_entity_account(fogpay_ledger *l, const char *entity_id,
                                          uint16_t currency, uint64_t *account_out)
{
    if (l == NULL || account_out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_text(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err == FOGPAY_OK) {
        err = account__check_currency(currency);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    return account__get_or_create(l, LEDGER_ACCOUNT_ENTITY, entity_id, currency, account_out);
}

fogpay_error fogpay_ledger_balance(fogpay_ledger *l, uint64_t account, int64_t *balance_out)
{
    if (l == NULL || balance_out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    ledger_account a;
    fogpay_error err = ledger__account_get(l, account, &a);
    if (err == FOGPAY_OK) {
        *balance_out = a.balance;
    }
    return err;
}
