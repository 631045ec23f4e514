/*
 * ledger_statement.c - the statement of a legal entity's account over a
 * period: its balance at the start and at the end, and every transfer in
 * between that moved it, for the bank statement (camt.053) that
 * control/iso20022.c writes.
 *
 * Design. The account's transfers are found through the accounts' indexes
 * as listTransfers finds them (ledger_query.c): transfers_credit,
 * transfers_debit (an entity account is never debited by a device's
 * payment, kind 0, so the partial index holds all its debits) and the legs'
 * own two indexes. The opening balance is the sum of what moved the
 * account before from_ms, each entry's amount its net over the transfer's
 * legs, and the closing balance the opening plus the entries, all inside
 * one read transaction and on the same times, so that
 * closing - opening is exactly the entries' sum and, for a period that
 * reaches past the last transfer, the closing balance is the account's.
 * The entries are counted before any is visited, so a period over
 * FOGPAY_BANK_DOCUMENT_ENTRIES_MAX is refused before a document is begun.
 *
 * Ownership. Nothing here allocates; a visited transfer is valid during
 * the visitor's call only.
 */
#include <string.h>

#include "ledger_internal.h"

/* The positions of the transfers that moved account ?1 (legs included). */
#define STATEMENT_POSITIONS                                                                        \
    "SELECT position FROM transfers WHERE credit_account = ?1 "                                    \
    "UNION SELECT position FROM transfers WHERE kind <> 0 AND debit_account = ?1 "                 \
    "UNION SELECT position FROM transfer_legs WHERE credit_account = ?1 "                          \
    "UNION SELECT position FROM transfer_legs WHERE debit_account = ?1"

const ledger_stmt_sql ledger_statement__sql[] = {
    /* ?1 account, ?2 before: credits minus debits of the account's rows. */
    {LEDGER_STMT_STATEMENT_BALANCE_AT,
     "SELECT coalesce((SELECT sum(amount_minor) FROM transfers WHERE credit_account = ?1 "
     "AND time_ms < ?2), 0) "
     "- coalesce((SELECT sum(amount_minor) FROM transfers WHERE kind <> 0 "
     "AND debit_account = ?1 AND time_ms < ?2), 0) "
     "+ coalesce((SELECT sum(g.amount_minor) FROM transfer_legs AS g JOIN transfers AS t "
     "ON t.position = g.position WHERE g.credit_account = ?1 AND t.time_ms < ?2), 0) "
     "- coalesce((SELECT sum(g.amount_minor) FROM transfer_legs AS g JOIN transfers AS t "
     "ON t.position = g.position WHERE g.debit_account = ?1 AND t.time_ms < ?2), 0)"},
    /* ?1 account, ?2 from, ?3 to. */
    {LEDGER_STMT_STATEMENT_COUNT,
     "SELECT count(*) FROM transfers WHERE position IN (" STATEMENT_POSITIONS ") "
     "AND time_ms >= ?2 AND time_ms < ?3"},
    {LEDGER_STMT_STATEMENT_ENTRIES,
     "SELECT " LEDGER_TRANSFER_COLUMNS " FROM transfers WHERE position IN (" STATEMENT_POSITIONS
     ") AND time_ms >= ?2 AND time_ms < ?3 ORDER BY position"},
};
const size_t ledger_statement__sql_count =
    sizeof ledger_statement__sql / sizeof ledger_statement__sql[0];

fogpay_error ledger__period_check(uint64_t from_ms, uint64_t to_ms)
{
    if (to_ms < from_ms) {
        return FOGPAY_ERR_PERIOD_REVERSED;
    }
    if (to_ms == from_ms) {
        return FOGPAY_ERR_PERIOD_EMPTY;
    }
    return from_ms > LEDGER_INT_MAX || to_ms > LEDGER_INT_MAX ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

/* What t moved on account, net over its legs (credits positive). */
static int64_t statement__net(const fogpay_transfer *t, uint64_t account)
{
    int64_t net = 0;
    for (uint32_t i = 0; i <= t->leg_count; i++) {
        fogpay_leg leg = fogpay_transfer_leg(t, i);
        if (leg.credit_account == account) {
            net += (int64_t)leg.amount_minor;
        } else if (leg.debit_account == account) {
            net -= (int64_t)leg.amount_minor;
        }
    }
    return net;
}

typedef struct statement_walk {
    fogpay_statement_visit visit;
    void *ctx;
    fogpay_statement *st;
    bool stopped;
} statement_walk;

static int statement__visit(void *ctx, const void *record, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)hash;
    statement_walk *w = ctx;
    const fogpay_transfer *t = record;
    int64_t net = statement__net(t, w->st->account);
    if (net > 0) {
        w->st->credits_minor += (uint64_t)net;
    } else {
        w->st->debits_minor += (uint64_t)-net;
    }
    w->st->entries++;
    if (w->visit(w->ctx, t, net) != 0) {
        w->stopped = true;
        return 1;
    }
    return 0;
}

/* The balance of account before time_ms. */
static fogpay_error statement__balance_at(fogpay_ledger *l, uint64_t account, uint64_t time_ms,
                                          int64_t *out)
{
    uint64_t balance = 0;
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_STATEMENT_BALANCE_AT);
    ledger__bind_u64(l, s, 1, account);
    ledger__bind_u64(l, s, 2, time_ms);
    fogpay_error err = ledger__scalar(l, s, &balance);
    if (err == FOGPAY_OK && balance > LEDGER_INT_MAX) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    }
    *out = (int64_t)balance;
    return err;
}

/* Inside the read: the account's balances, the count, then the entries. */
static fogpay_error statement__read(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                    uint64_t from_ms, uint64_t to_ms, statement_walk *w)
{
    fogpay_error err = ledger__entity_exists(l, entity_id);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_ENTITY_UNKNOWN;
    }
    ledger_account account;
    if (err == FOGPAY_OK) {
        err = ledger__account_find_db(l, LEDGER_ACCOUNT_ENTITY, entity_id, currency, &account);
    }
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK; /* no account: nothing moved, balances 0 */
    }
    w->st->account = account.id;
    if (err == FOGPAY_OK) {
        err = statement__balance_at(l, account.id, from_ms, &w->st->opening_minor);
    }
    uint64_t count = 0;
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_STATEMENT_COUNT);
        ledger__bind_u64(l, s, 1, account.id);
        ledger__bind_u64(l, s, 2, from_ms);
        ledger__bind_u64(l, s, 3, to_ms);
        err = ledger__scalar(l, s, &count);
    }
    if (err == FOGPAY_OK && count > FOGPAY_BANK_DOCUMENT_ENTRIES_MAX) {
        ledger__note(l, "the period holds more entries than one statement");
        return FOGPAY_ERR_DOCUMENT_TOO_LONG;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_STATEMENT_ENTRIES);
    ledger__bind_u64(l, s, 1, account.id);
    ledger__bind_u64(l, s, 2, from_ms);
    ledger__bind_u64(l, s, 3, to_ms);
    fogpay_transfer scratch;
    err = ledger__chain_walk(l, &ledger_transfer_chain, s, &scratch, statement__visit, w);
    if (err == FOGPAY_OK && w->stopped) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    return err;
}

fogpay_error fogpay_ledger_statement(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                     uint64_t from_ms, uint64_t to_ms, fogpay_statement_visit visit,
                                     void *ctx, fogpay_statement *out)
{
    if (l == NULL || visit == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err == FOGPAY_OK) {
        err = ledger__period_check(from_ms, to_ms);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_statement st = {0};
    statement_walk w = {.visit = visit, .ctx = ctx, .st = &st};
    bool own = false;
    err = ledger__read_begin(l, &own);
    if (err == FOGPAY_OK) {
        err = statement__read(l, entity_id, currency, from_ms, to_ms, &w);
        ledger__read_end(l, own);
    }
    if (err == FOGPAY_OK) {
        st.closing_minor = st.opening_minor + (int64_t)st.credits_minor - (int64_t)st.debits_minor;
        *out = st;
    }
    return err;
}
