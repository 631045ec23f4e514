/*
 * ledger_payout.c - payouts: money leaving a legal entity's account for
 * the entity's bank account (machine-to-person), and the list of a
 * period's payouts that a credit transfer initiation (pain.001,
 * control/iso20022_payout.c) asks the gateway operator's bank to execute.
 *
 * Design. A payout is a withdrawal (FOGPAY_TRANSFER_WITHDRAWAL) from the
 * entity's account to the currency's system account, the counterpart of
 * money entering and leaving the gateway, as funding is the other way:
 * the sum of balances stays zero, and the chain records it like every
 * transfer. Where the money goes is the entity's bank reference, which is
 * personal data and stays in entity_personal: the transfer names the
 * entity by its pseudonymous id only, and the initiation reads the IBAN
 * when it is made. A payout needs a bank reference that is an IBAN; an
 * initiation over a payout whose entity has erased its data since is
 * refused (bank_reference_missing), as the money cannot be sent anywhere.
 * Payouts are found through transfers_credit: they credit the system
 * account, which only refunds of a funding credit besides.
 *
 * Ownership. Nothing here allocates; the personal data read for a visit
 * live in a stack buffer during the visitor's call.
 */
#include <ctype.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_payout__sql[] = {
    {LEDGER_STMT_PERSONAL_GET,
     "SELECT p.name, p.contact, p.bank_ref, e.created_ms FROM entities AS e "
     "LEFT JOIN entity_personal AS p ON p.entity_id = e.id WHERE e.id = ?1"},
    /* ?1 the system account, ?2 from, ?3 to. */
    {LEDGER_STMT_PAYOUT_COUNT,
     "SELECT count(*) FROM transfers WHERE credit_account = ?1 AND kind = 4 "
     "AND payer_entity IS NOT NULL AND time_ms >= ?2 AND time_ms < ?3"},
    {LEDGER_STMT_PAYOUT_LIST,
     "SELECT " LEDGER_TRANSFER_COLUMNS " FROM transfers WHERE credit_account = ?1 AND kind = 4 "
     "AND payer_entity IS NOT NULL AND time_ms >= ?2 AND time_ms < ?3 ORDER BY position"},
};
const size_t ledger_payout__sql_count = sizeof ledger_payout__sql / sizeof ledger_payout__sql[0];

/* The value of an IBAN character in the mod-97 check: digits themselves,
 * letters 10..35. */
static unsigned payout__iban_value(char c)
{
    return isdigit((unsigned char)c) ? (unsigned)(c - '0') : (unsigned)(c - 'A') + 10;
}

bool fogpay_iban_parse(const char *text, char out[FOGPAY_IBAN_MAX + 1])
{
    char iban[FOGPAY_IBAN_MAX + 1];
    size_t n = 0;
    for (const char *p = text; p != NULL && *p != '\0'; p++) {
        if (*p == ' ') {
            continue;
        }
        if (n == FOGPAY_IBAN_MAX || !isalnum((unsigned char)*p) || (unsigned char)*p > 127) {
            return false;
        }
        iban[n++] = (char)toupper((unsigned char)*p);
    }
    iban[n] = '\0';
    if (n < 5 || !isalpha((unsigned char)iban[0]) || !isalpha((unsigned char)iban[1]) ||
        !isdigit((unsigned char)iban[2]) || !isdigit((unsigned char)iban[3])) {
        return false;
    }
    /* The country and check digits move to the end; the number mod 97 is 1. */
    unsigned remainder = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = payout__iban_value(iban[(i + 4) % n]);
        remainder = (v >= 10 ? remainder * 100 + v : remainder * 10 + v) % 97;
    }
    if (remainder != 1) {
        return false;
    }
    if (out != NULL) {
        memcpy(out, iban, n + 1);
    }
    return true;
}

fogpay_error ledger__personal_read(fogpay_ledger *l, const char *entity_id,
                                   fogpay_entity_personal_copy *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PERSONAL_GET);
    ledger__bind_text(l, s, 1, entity_id);
    int rc = ledger__step(l, s);
    fogpay_error err = FOGPAY_OK;
    if (rc == SQLITE_DONE) {
        err = FOGPAY_ERR_ENTITY_UNKNOWN;
    } else if (rc != SQLITE_ROW) {
        err = ledger__error(l, rc);
    } else if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        out->created_ms = (uint64_t)sqlite3_column_int64(s, 3);
        err = FOGPAY_ERR_PERSONAL_DATA_ERASED;
    } else if (!ledger__column_text(s, 0, out->name, sizeof out->name) ||
               !ledger__column_text(s, 1, out->contact, sizeof out->contact) ||
               !ledger__column_text(s, 2, out->bank_ref, sizeof out->bank_ref)) {
        err = FOGPAY_ERR_LEDGER_CORRUPT;
    } else {
        out->created_ms = (uint64_t)sqlite3_column_int64(s, 3);
    }
    ledger__finish(s);
    return err;
}

/* The entity's IBAN from its personal data. */
static fogpay_error payout__iban(fogpay_ledger *l, const char *entity_id,
                                 fogpay_entity_personal_copy *p, char iban[FOGPAY_IBAN_MAX + 1])
{
    fogpay_error err = ledger__personal_read(l, entity_id, p);
    if (err == FOGPAY_ERR_PERSONAL_DATA_ERASED || (err == FOGPAY_OK && p->bank_ref[0] == '\0')) {
        return FOGPAY_ERR_BANK_REFERENCE_MISSING;
    }
    if (err == FOGPAY_OK && !fogpay_iban_parse(p->bank_ref, iban)) {
        err = FOGPAY_ERR_BANK_REFERENCE_NOT_IBAN;
    }
    return err;
}

static fogpay_error payout__write(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                  uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                  fogpay_transfer *t)
{
    fogpay_entity_personal_copy p;
    char iban[FOGPAY_IBAN_MAX + 1];
    ledger_account account;
    ledger_account system;
    fogpay_error err = payout__iban(l, entity_id, &p, iban);
    if (err == FOGPAY_OK) {
        err = ledger__account_find_db(l, LEDGER_ACCOUNT_ENTITY, entity_id, currency, &account);
    }
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK && (account.balance < 0 || (uint64_t)account.balance < amount_minor))) {
        err = FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_SYSTEM, NULL, currency, &system);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    memset(t, 0, sizeof *t);
    t->kind = FOGPAY_TRANSFER_WITHDRAWAL;
    t->debit_account = account.id;
    t->credit_account = system.id;
    t->amount_minor = amount_minor;
    t->currency = currency;
    t->time_ms = now_ms;
    memcpy(t->payer_entity, entity_id, strlen(entity_id) + 1);
    memcpy(t->reference, reference, strlen(reference) + 1);
    return ledger__transfer_append(l, t, NULL);
}

fogpay_error fogpay_ledger_payout(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                  uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                  fogpay_transfer *out, int64_t *balance_after)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    reference = reference != NULL ? reference : "";
    fogpay_error err = ledger__check_id(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err == FOGPAY_OK && amount_minor == 0) {
        err = FOGPAY_ERR_AMOUNT_ZERO;
    }
    if (err == FOGPAY_OK && amount_minor > FOGPAY_AMOUNT_MAX_MINOR) {
        err = FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    if (err == FOGPAY_OK && (strlen(reference) > FOGPAY_REFERENCE_MAX || now_ms > LEDGER_INT_MAX ||
                             currency < FOGPAY_CURRENCY_MIN || currency > FOGPAY_CURRENCY_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    ledger_op op;
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, &op);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    err = payout__write(l, entity_id, currency, amount_minor, reference, now_ms, &t);
    return ledger__op_end_transfer(l, &op, err, &t, out, balance_after);
}

typedef struct payout_walk {
    fogpay_payout_visit visit;
    void *ctx;
    fogpay_ledger *l;
    fogpay_error err;
    uint32_t count;
    uint64_t sum_minor;
} payout_walk;

static int payout__visit(void *ctx, const void *record, const uint8_t hash[FOGPAY_HASH_BYTES])
{
    (void)hash;
    payout_walk *w = ctx;
    const fogpay_transfer *t = record;
    fogpay_entity_personal_copy p;
    char iban[FOGPAY_IBAN_MAX + 1];
    w->err = payout__iban(w->l, t->payer_entity, &p, iban);
    if (w->err == FOGPAY_OK && w->visit(w->ctx, t, p.name, iban) != 0) {
        w->err = FOGPAY_ERR_NO_MEMORY;
    }
    w->count++;
    w->sum_minor += t->amount_minor;
    return w->err != FOGPAY_OK;
}

/* Inside the read: the count, then the payouts. */
static fogpay_error payout__read(fogpay_ledger *l, uint16_t currency, uint64_t from_ms,
                                 uint64_t to_ms, payout_walk *w)
{
    ledger_account system;
    uint64_t count = 0;
    fogpay_error err = ledger__account_find_db(l, LEDGER_ACCOUNT_SYSTEM, NULL, currency, &system);
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PAYOUT_COUNT);
        ledger__bind_u64(l, s, 1, system.id);
        ledger__bind_u64(l, s, 2, from_ms);
        ledger__bind_u64(l, s, 3, to_ms);
        err = ledger__scalar(l, s, &count);
    }
    if (err == FOGPAY_ERR_NOT_FOUND || (err == FOGPAY_OK && count == 0)) {
        return FOGPAY_ERR_PAYOUT_NONE;
    }
    if (err == FOGPAY_OK && count > FOGPAY_BANK_DOCUMENT_ENTRIES_MAX) {
        ledger__note(l, "the period holds more payouts than one initiation");
        return FOGPAY_ERR_DOCUMENT_TOO_LONG;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_PAYOUT_LIST);
    ledger__bind_u64(l, s, 1, system.id);
    ledger__bind_u64(l, s, 2, from_ms);
    ledger__bind_u64(l, s, 3, to_ms);
    fogpay_transfer scratch;
    err = ledger__chain_walk(l, &ledger_transfer_chain, s, &scratch, payout__visit, w);
    return err == FOGPAY_OK ? w->err : err;
}

fogpay_error fogpay_ledger_payout_list(fogpay_ledger *l, uint16_t currency, uint64_t from_ms,
                                       uint64_t to_ms, fogpay_payout_visit visit, void *ctx,
                                       uint32_t *count, uint64_t *sum_minor)
{
    if (l == NULL || visit == NULL || count == NULL || sum_minor == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = ledger__period_check(from_ms, to_ms);
    if (err != FOGPAY_OK) {
        return err;
    }
    payout_walk w = {.visit = visit, .ctx = ctx, .l = l};
    bool own = false;
    err = ledger__read_begin(l, &own);
    if (err == FOGPAY_OK) {
        err = payout__read(l, currency, from_ms, to_ms, &w);
        ledger__read_end(l, own);
    }
    if (err == FOGPAY_OK) {
        *count = w.count;
        *sum_minor = w.sum_minor;
    }
    return err;
}
