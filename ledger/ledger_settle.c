/*
 * ledger_settle.c - moving money: settling a device's payment intent or a
 * usage charge (ledger__pay, the one way money leaves a device's wallet for
 * a payee), operator funding of a wallet, a legal entity's payment to a
 * device, and refunds or reversals of payments.
 *
 * Design. Every rule that needs stored state is checked before anything is
 * written, in the order ledger.h gives, each with its own fogpay_error; the
 * writes (a wallet created on first use, the transfer, both balances) then
 * run as one ledger operation, a savepoint inside the caller's transaction
 * or a transaction of their own, so a refusal or a storage fault leaves the
 * ledger as it was. A payment to a payee with a fee schedule
 * (ledger_fee.c) settles as one transfer of several legs through
 * ledger__split_append. The legal entities behind payer and payee are looked up
 * at the transfer's time and stored in it; a later change of ownership does
 * not change them.
 *
 * An intent with a hold timeout is an authorisation: the same checks,
 * and the same writes but that the amount goes to the currency's holds
 * account and the hold is kept (ledger_hold.c).
 *
 * Ownership. Nothing here allocates; the transfer is copied to the caller's
 * struct only on success.
 */
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

const ledger_stmt_sql ledger_settle__sql[] = {
    {LEDGER_STMT_DAY_TOTAL_GET,
     "SELECT coalesce(sum(paid_minor), 0) FROM device_day_totals WHERE device_id = ?1 "
     "AND currency = ?2 AND day = ?3"},
    {LEDGER_STMT_DAY_TOTAL_ADD,
     "INSERT INTO device_day_totals (device_id, currency, day, paid_minor) "
     "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (device_id, currency, day) "
     "DO UPDATE SET paid_minor = paid_minor + excluded.paid_minor"},
    {LEDGER_STMT_REFUNDED_SUM,
     "SELECT coalesce(sum(amount_minor), 0) FROM transfers WHERE related_position = ?1 "
     "AND kind IN (2, 3)"},
};
const size_t ledger_settle__sql_count = sizeof ledger_settle__sql / sizeof ledger_settle__sql[0];

/* What a settlement learns about its parties while checking. */
typedef struct settle_parties {
    ledger_device_state payer;
    ledger_account payer_wallet;                 /* id 0 when the payer has no wallet yet */
    ledger_account payee;                        /* id 0 when the payee device has no wallet yet */
    char payee_device[FOGPAY_DEVICE_ID_MAX + 1]; /* a wallet's device, or "" */
    uint64_t payee_wallet_max_minor;             /* 0: no maximum */
} settle_parties;

static fogpay_error settle__check_amount(uint64_t amount_minor, uint16_t currency)
{
    if (amount_minor == 0) {
        return FOGPAY_ERR_AMOUNT_ZERO;
    }
    if (amount_minor > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    if (currency < FOGPAY_CURRENCY_MIN || currency > FOGPAY_CURRENCY_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* The arguments of a settlement, as the decoder would have left them. */
static fogpay_error settle__check_intent(const fogpay_intent *in, uint64_t now_ms)
{
    if (memchr(in->device_id, '\0', sizeof in->device_id) == NULL ||
        memchr(in->payee_device, '\0', sizeof in->payee_device) == NULL ||
        memchr(in->reference, '\0', sizeof in->reference) == NULL) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_error err = ledger__check_device_id(in->device_id);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (in->seq == 0 || in->seq > LEDGER_INT_MAX || now_ms > LEDGER_INT_MAX ||
        in->payee_account > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->hold_s > FOGPAY_HOLD_TIMEOUT_MAX_S) {
        return FOGPAY_ERR_HOLD_TIMEOUT_TOO_LONG;
    }
    if (in->hold_s != 0 && now_ms > LEDGER_INT_MAX - (uint64_t)in->hold_s * 1000) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    /* Exactly one of payee_device and payee_account names the payee. */
    if ((in->payee_device[0] != '\0') == (in->payee_account != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return settle__check_amount(in->amount_minor, in->currency);
}

/* Rules 1-3: the payer is a known device, not revoked, not suspended; a
 * device suspended for the arrears of its plan pays its instalments, and
 * nothing else (plan_arrears). */
static fogpay_error settle__check_payer(fogpay_ledger *l, const ledger_payment *pay,
                                        settle_parties *p)
{
    const fogpay_intent *in = pay->intent;
    fogpay_error err = ledger__device_state(l, in->device_id, &p->payer);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_UNKNOWN_DEVICE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (p->payer.status == FOGPAY_DEVICE_REVOKED) {
        return FOGPAY_ERR_DEVICE_REVOKED;
    }
    if (p->payer.status == FOGPAY_DEVICE_SUSPENDED) {
        err = ledger__plan_arrears_of(l, in->device_id);
        if (err == FOGPAY_ERR_PLAN_ARREARS && pay->kind == FOGPAY_TRANSFER_INSTALMENT) {
            return FOGPAY_OK;
        }
        return err == FOGPAY_OK ? FOGPAY_ERR_DEVICE_SUSPENDED : err;
    }
    return FOGPAY_OK;
}

/* The payee's device, when the payee is a device's wallet: known, not the
 * payer, not revoked (a suspended device may still receive). */
static fogpay_error settle__check_payee_device(fogpay_ledger *l, const fogpay_intent *in,
                                               const char *device_id, settle_parties *p)
{
    ledger_device_state payee;
    fogpay_error err = ledger__device_state(l, device_id, &payee);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_UNKNOWN_PAYEE;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (strcmp(device_id, in->device_id) == 0) {
        return FOGPAY_ERR_PAYEE_SELF;
    }
    if (payee.status == FOGPAY_DEVICE_REVOKED) {
        return FOGPAY_ERR_PAYEE_INACTIVE;
    }
    memcpy(p->payee_device, device_id, strlen(device_id) + 1);
    p->payee_wallet_max_minor = payee.limits.wallet_max_minor;
    return FOGPAY_OK;
}

fogpay_error ledger__payee_wallet_max(fogpay_ledger *l, const char *device_id,
                                      uint64_t *wallet_max_minor)
{
    ledger_device_state payee;
    fogpay_error err = ledger__device_state(l, device_id, &payee);
    if (err == FOGPAY_OK) {
        *wallet_max_minor = payee.limits.wallet_max_minor;
    }
    return err;
}

/* Rules 4-6: the payee exists in the intent's currency, is not the payer,
 * is not revoked. Resolves the payee account where it exists already. */
static fogpay_error settle__check_payee(fogpay_ledger *l, const fogpay_intent *in,
                                        settle_parties *p)
{
    fogpay_error err = FOGPAY_OK;
    if (in->payee_device[0] != '\0') {
        err = settle__check_payee_device(l, in, in->payee_device, p);
        if (err == FOGPAY_OK) {
            err = ledger__account_find(l, LEDGER_ACCOUNT_WALLET, in->payee_device, in->currency,
                                       &p->payee);
        }
        return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_OK : err;
    }
    err = ledger__account_get(l, in->payee_account, &p->payee);
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK &&
         (p->payee.kind == LEDGER_ACCOUNT_SYSTEM || p->payee.currency != in->currency))) {
        return FOGPAY_ERR_UNKNOWN_PAYEE;
    }
    if (err == FOGPAY_OK && p->payee.kind == LEDGER_ACCOUNT_WALLET) {
        err = settle__check_payee_device(l, in, p->payee.device_id, p);
    }
    return err;
}

/* Rule 6a: a device in arrears on a plan whose shortfall is limit pays
 * only the payees the plan names (plan_limited); its instalments always
 * pass. */
static fogpay_error settle__check_plan_limit(fogpay_ledger *l, const ledger_payment *pay,
                                             uint64_t now_ms, const settle_parties *p)
{
    if (pay->kind == FOGPAY_TRANSFER_INSTALMENT) {
        return FOGPAY_OK;
    }
    const char *entity = p->payee.kind == LEDGER_ACCOUNT_ENTITY ? p->payee.entity_id : "";
    return ledger__plan_limit_check(l, pay->intent->device_id, p->payee_device, entity, now_ms);
}

/* Rules 7-8: the payer's per-payment limit, and its per-day limit over the
 * payments of the same currency in the UTC day of now_ms: the day's running
 * total (device_day_totals), kept with each payment by settle__write. */
static fogpay_error settle__check_limits(fogpay_ledger *l, const fogpay_intent *in, uint64_t now_ms,
                                         const settle_parties *p)
{
    const fogpay_device_limits *limits = &p->payer.limits;
    if (limits->per_payment_minor != 0 && in->amount_minor > limits->per_payment_minor) {
        return FOGPAY_ERR_LIMIT_PER_PAYMENT;
    }
    if (limits->per_day_minor == 0) {
        return FOGPAY_OK;
    }
    ledger_hot_device *d = NULL;
    ledger_hot_wallet *w = NULL;
    uint64_t spent = 0;
    fogpay_error err = ledger__hot_device(l, in->device_id, &d);
    if (err == FOGPAY_OK) {
        err = ledger__hot_wallet(l, d, in->currency, &w);
    }
    if (err == FOGPAY_OK) {
        err = ledger__hot_paid(l, d, w, now_ms / LEDGER_DAY_MS, &spent);
    }
    if (err == FOGPAY_OK &&
        (spent > limits->per_day_minor || in->amount_minor > limits->per_day_minor - spent)) {
        err = FOGPAY_ERR_LIMIT_PER_DAY;
    }
    return err;
}

fogpay_error ledger__day_total_db(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                  uint64_t day, uint64_t *paid_minor)
{
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DAY_TOTAL_GET);
    ledger__bind_text(l, s, 1, device_id);
    ledger__bind_int64(l, s, 2, currency);
    ledger__bind_u64(l, s, 3, day);
    return ledger__scalar(l, s, paid_minor);
}

/* Rules 9-10: the payer's wallet holds the amount, and the payee's wallet
 * stays within its maximum. */
static fogpay_error settle__check_funds(fogpay_ledger *l, const fogpay_intent *in,
                                        settle_parties *p)
{
    fogpay_error err = ledger__account_find(l, LEDGER_ACCOUNT_WALLET, in->device_id, in->currency,
                                            &p->payer_wallet);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    if (p->payer_wallet.balance < 0 || (uint64_t)p->payer_wallet.balance < in->amount_minor) {
        return FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    /* A payee account not created yet holds zero. */
    int64_t payee_balance = p->payee.id != 0 ? p->payee.balance : 0;
    if (p->payee_wallet_max_minor != 0 &&
        (payee_balance < 0 ||
         (uint64_t)payee_balance + in->amount_minor > p->payee_wallet_max_minor)) {
        return FOGPAY_ERR_WALLET_MAX;
    }
    return FOGPAY_OK;
}

/* The writes of a checked payment, inside an operation: the transfer of
 * pay's kind (a usage charge with its meter and tariff), split by the
 * payee's fee schedule, and, for a payment, the payer's day total. */
static fogpay_error settle__write(fogpay_ledger *l, const ledger_payment *pay, uint64_t now_ms,
                                  settle_parties *p, fogpay_transfer *t, int64_t *balance_after)
{
    const fogpay_intent *in = pay->intent;
    fogpay_error err = FOGPAY_OK;
    if (p->payee.id == 0) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_WALLET, p->payee_device, in->currency,
                                     &p->payee);
    }
    memset(t, 0, sizeof *t);
    /* An instalment is owed by the holder of the device when it falls due. */
    uint64_t owed_ms = pay->kind == FOGPAY_TRANSFER_INSTALMENT ? pay->due_ms : now_ms;
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &p->payer_wallet, owed_ms, t->payer_entity);
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &p->payee, now_ms, t->payee_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = pay->kind;
    t->debit_account = p->payer_wallet.id;
    t->credit_account = p->payee.id;
    if (in->hold_s != 0) {
        /* An authorisation: the amount waits in the holds account. */
        ledger_account holds;
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_HOLDS, NULL, in->currency, &holds);
        if (err != FOGPAY_OK) {
            return err;
        }
        t->kind = FOGPAY_TRANSFER_AUTHORISATION;
        t->credit_account = holds.id;
        t->payee_entity[0] = '\0';
    }
    t->amount_minor = in->amount_minor;
    t->currency = in->currency;
    t->time_ms = now_ms;
    memcpy(t->device_id, in->device_id, sizeof t->device_id);
    t->seq = in->seq;
    memcpy(t->intent_hash, pay->hash, FOGPAY_HASH_BYTES);
    memcpy(t->reference, in->reference, sizeof t->reference);
    if (pay->kind == FOGPAY_TRANSFER_USAGE_CHARGE) {
        snprintf(t->meter_id, sizeof t->meter_id, "%s", pay->meter_id);
        snprintf(t->tariff_id, sizeof t->tariff_id, "%s", pay->tariff_id);
    }
    if (pay->kind == FOGPAY_TRANSFER_INSTALMENT) {
        memcpy(t->plan_id, in->plan_id, sizeof t->plan_id);
        t->instalment = pay->instalment;
    }
    fogpay_fee_schedule schedule;
    bool fees = false;
    if (in->hold_s == 0) {
        /* An authorisation is split when it is captured (ledger_hold.c). */
        err = ledger__fee_schedule_for(l, &p->payee, in->currency, now_ms, &schedule, &fees);
    }
    if (err == FOGPAY_OK) {
        err = ledger__split_append(l, t, fees ? &schedule : NULL, balance_after);
    }
    if (err != FOGPAY_OK || pay->kind != FOGPAY_TRANSFER_PAYMENT) {
        return err;
    }
    sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_DAY_TOTAL_ADD);
    ledger__bind_text(l, s, 1, t->device_id);
    ledger__bind_int64(l, s, 2, t->currency);
    ledger__bind_u64(l, s, 3, now_ms / LEDGER_DAY_MS);
    ledger__bind_u64(l, s, 4, in->amount_minor);
    err = ledger__exec(l, s);
    if (err == FOGPAY_OK) {
        ledger__hot_paid_add(l, t->device_id, t->currency, now_ms / LEDGER_DAY_MS,
                             in->amount_minor);
    }
    if (err == FOGPAY_OK && in->hold_s != 0) {
        err = ledger__hold_insert(l, t, p->payee_device, p->payee.id,
                                  now_ms + (uint64_t)in->hold_s * 1000);
    }
    return err;
}

fogpay_error ledger__pay(fogpay_ledger *l, const ledger_payment *pay, uint64_t now_ms,
                         fogpay_transfer *out, int64_t *balance_after)
{
    const fogpay_intent *intent = pay->intent;
    fogpay_error err = settle__check_intent(intent, now_ms);
    if (err != FOGPAY_OK) {
        return err;
    }
    settle_parties p;
    memset(&p, 0, sizeof p);
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    /* A device's intent naming a plan is an instalment of it, or refused. */
    ledger_payment instalment = *pay;
    if (pay->kind == FOGPAY_TRANSFER_PAYMENT && intent->plan_id[0] != '\0') {
        instalment.kind = FOGPAY_TRANSFER_INSTALMENT;
        err = ledger__plan_instalment_for(l, intent, now_ms, &instalment.instalment,
                                          &instalment.due_ms);
        pay = &instalment;
    }
    if (err == FOGPAY_OK) {
        err = settle__check_payer(l, pay, &p);
    }
    if (err == FOGPAY_OK) {
        err = settle__check_payee(l, intent, &p);
    }
    if (err == FOGPAY_OK) {
        err = settle__check_plan_limit(l, pay, now_ms, &p);
    }
    if (err == FOGPAY_OK && pay->kind == FOGPAY_TRANSFER_PAYMENT) {
        err = settle__check_limits(l, intent, now_ms, &p);
    }
    if (err == FOGPAY_OK) {
        err = settle__check_funds(l, intent, &p);
    }
    if (err == FOGPAY_OK && intent->hold_s != 0) {
        err = ledger__hold_room(l);
    }
    fogpay_transfer t;
    int64_t balance = 0;
    if (err == FOGPAY_OK) {
        err = settle__write(l, pay, now_ms, &p, &t, &balance);
    }
    err = ledger__op_end(l, &op, err);
    if (err == FOGPAY_OK) {
        *out = t;
        if (balance_after != NULL) {
            *balance_after = balance;
        }
    }
    return err;
}

fogpay_error fogpay_ledger_settle(fogpay_ledger *l, const fogpay_intent *intent,
                                  const uint8_t intent_hash[FOGPAY_HASH_BYTES], uint64_t now_ms,
                                  fogpay_transfer *out, int64_t *balance_after)
{
    if (l == NULL || intent == NULL || intent_hash == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    ledger_payment pay = {.intent = intent, .hash = intent_hash, .kind = FOGPAY_TRANSFER_PAYMENT};
    return ledger__pay(l, &pay, now_ms, out, balance_after);
}

/* Funding, and entity payments. */

/* The arguments of money credited to a device's wallet by an operator or
 * an entity. */
static fogpay_error settle__check_credit(const char *device_id, uint16_t currency,
                                         uint64_t amount_minor, const char *reference,
                                         uint64_t now_ms)
{
    fogpay_error err = ledger__check_text(device_id, FOGPAY_DEVICE_ID_MAX);
    if (err == FOGPAY_OK) {
        err = settle__check_amount(amount_minor, currency);
    }
    if (err == FOGPAY_OK && (strnlen(reference, FOGPAY_REFERENCE_MAX + 1) > FOGPAY_REFERENCE_MAX ||
                             now_ms > LEDGER_INT_MAX)) {
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    return err;
}

static fogpay_error settle__fund_write(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                       uint64_t amount_minor, const char *reference,
                                       uint64_t now_ms, fogpay_transfer *t)
{
    ledger_device_state device;
    fogpay_error err = ledger__device_state(l, device_id, &device);
    if (err == FOGPAY_OK && device.status == FOGPAY_DEVICE_REVOKED) {
        /* Money in a revoked device's wallet could never be spent. */
        err = FOGPAY_ERR_DEVICE_REVOKED;
    }
    ledger_account wallet;
    ledger_account system;
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_WALLET, device_id, currency, &wallet);
    }
    uint64_t wallet_max = device.limits.wallet_max_minor;
    if (err == FOGPAY_OK && wallet_max != 0 &&
        (wallet.balance < 0 || (uint64_t)wallet.balance + amount_minor > wallet_max)) {
        err = FOGPAY_ERR_WALLET_MAX;
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_SYSTEM, NULL, currency, &system);
    }
    memset(t, 0, sizeof *t);
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &wallet, now_ms, t->payee_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = FOGPAY_TRANSFER_FUNDING;
    t->debit_account = system.id;
    t->credit_account = wallet.id;
    t->amount_minor = amount_minor;
    t->currency = currency;
    t->time_ms = now_ms;
    memcpy(t->reference, reference, strlen(reference) + 1);
    return ledger__transfer_append(l, t, NULL);
}

fogpay_error fogpay_ledger_fund(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                fogpay_transfer *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (reference == NULL) {
        reference = "";
    }
    fogpay_error err = settle__check_credit(device_id, currency, amount_minor, reference, now_ms);
    if (err != FOGPAY_OK) {
        return err;
    }
    ledger_op op;
    err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    err = settle__fund_write(l, device_id, currency, amount_minor, reference, now_ms, &t);
    return ledger__op_end_transfer(l, &op, err, &t, out, NULL);
}

/* The entity's account pays the device's wallet: the device exists and is
 * not revoked, the account holds the amount, the wallet stays within its
 * maximum. */
static fogpay_error settle__entity_pay_write(fogpay_ledger *l, const char *entity_id,
                                             const char *device_id, uint16_t currency,
                                             uint64_t amount_minor, const char *reference,
                                             uint64_t now_ms, fogpay_transfer *t)
{
    ledger_device_state device;
    ledger_account account;
    ledger_account wallet;
    fogpay_error err = ledger__entity_exists(l, entity_id);
    if (err == FOGPAY_OK) {
        err = ledger__device_state(l, device_id, &device);
    }
    if (err == FOGPAY_OK && device.status == FOGPAY_DEVICE_REVOKED) {
        err = FOGPAY_ERR_PAYEE_INACTIVE;
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_ENTITY, entity_id, currency, &account);
    }
    if (err == FOGPAY_OK && (account.balance < 0 || (uint64_t)account.balance < amount_minor)) {
        err = FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_ensure(l, LEDGER_ACCOUNT_WALLET, device_id, currency, &wallet);
    }
    uint64_t wallet_max = err == FOGPAY_OK ? device.limits.wallet_max_minor : 0;
    if (wallet_max != 0 &&
        (wallet.balance < 0 || (uint64_t)wallet.balance + amount_minor > wallet_max)) {
        err = FOGPAY_ERR_WALLET_MAX;
    }
    memset(t, 0, sizeof *t);
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &wallet, now_ms, t->payee_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind = FOGPAY_TRANSFER_ENTITY_PAYMENT;
    t->debit_account = account.id;
    t->credit_account = wallet.id;
    t->amount_minor = amount_minor;
    t->currency = currency;
    t->time_ms = now_ms;
    memcpy(t->payer_entity, entity_id, strlen(entity_id) + 1);
    memcpy(t->reference, reference, strlen(reference) + 1);
    return ledger__transfer_append(l, t, NULL);
}

fogpay_error fogpay_ledger_entity_pay(fogpay_ledger *l, const char *entity_id,
                                      const char *device_id, uint16_t currency,
                                      uint64_t amount_minor, const char *reference, uint64_t now_ms,
                                      fogpay_transfer *out, int64_t *balance_after)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (reference == NULL) {
        reference = "";
    }
    fogpay_error err = ledger__check_text(entity_id, FOGPAY_ENTITY_ID_MAX);
    if (err == FOGPAY_OK) {
        err = settle__check_credit(device_id, currency, amount_minor, reference, now_ms);
    }
    ledger_op op;
    if (err == FOGPAY_OK) {
        err = ledger__op_begin(l, &op);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    err = settle__entity_pay_write(l, entity_id, device_id, currency, amount_minor, reference,
                                   now_ms, &t);
    return ledger__op_end_transfer(l, &op, err, &t, out, balance_after);
}

fogpay_error ledger__op_end_transfer(fogpay_ledger *l, ledger_op *op, fogpay_error err,
                                     const fogpay_transfer *t, fogpay_transfer *out,
                                     int64_t *balance_after)
{
    int64_t balance = 0;
    if (err == FOGPAY_OK && balance_after != NULL) {
        err = fogpay_ledger_balance(l, t->debit_account, &balance);
    }
    err = ledger__op_end(l, op, err);
    if (err == FOGPAY_OK) {
        *out = *t;
        if (balance_after != NULL) {
            *balance_after = balance;
        }
    }
    return err;
}

/* Refunds. */

static fogpay_error settle__refund_write(fogpay_ledger *l, uint64_t position, uint64_t amount_minor,
                                         uint64_t now_ms, fogpay_transfer *t)
{
    fogpay_transfer original;
    fogpay_error err = fogpay_ledger_transfer_get(l, position, &original, NULL);
    if (err == FOGPAY_OK && original.kind != FOGPAY_TRANSFER_PAYMENT) {
        ledger__note(l, "only a payment can be refunded");
        err = FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t refunded = 0;
    if (err == FOGPAY_OK) {
        sqlite3_stmt *s = ledger__stmt(l, LEDGER_STMT_REFUNDED_SUM);
        ledger__bind_u64(l, s, 1, position);
        err = ledger__scalar(l, s, &refunded);
    }
    if (err == FOGPAY_OK && refunded + amount_minor > original.amount_minor) {
        ledger__note(l, "the refunds would exceed the payment");
        err = FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    /* The money goes back: the payee's account pays, the payer's receives. */
    ledger_account payer;
    ledger_account payee;
    if (err == FOGPAY_OK) {
        err = ledger__account_get(l, original.credit_account, &payer);
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_get(l, original.debit_account, &payee);
    }
    if (err == FOGPAY_OK && payer.kind != LEDGER_ACCOUNT_SYSTEM &&
        (payer.balance < 0 || (uint64_t)payer.balance < amount_minor)) {
        err = FOGPAY_ERR_INSUFFICIENT_FUNDS;
    }
    memset(t, 0, sizeof *t);
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &payer, now_ms, t->payer_entity);
    }
    if (err == FOGPAY_OK) {
        err = ledger__account_entity(l, &payee, now_ms, t->payee_entity);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    t->kind =
        amount_minor == original.amount_minor ? FOGPAY_TRANSFER_REVERSAL : FOGPAY_TRANSFER_REFUND;
    t->debit_account = payer.id;
    t->credit_account = payee.id;
    t->amount_minor = amount_minor;
    t->currency = original.currency;
    t->time_ms = now_ms;
    memcpy(t->reference, original.reference, sizeof t->reference);
    t->related_position = position;
    return ledger__transfer_append(l, t, NULL);
}

fogpay_error fogpay_ledger_refund(fogpay_ledger *l, uint64_t position, uint64_t amount_minor,
                                  uint64_t now_ms, fogpay_transfer *out)
{
    if (l == NULL || out == NULL) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (amount_minor == 0) {
        return FOGPAY_ERR_AMOUNT_ZERO;
    }
    if (amount_minor > FOGPAY_AMOUNT_MAX_MINOR) {
        return FOGPAY_ERR_AMOUNT_TOO_LARGE;
    }
    if (now_ms > LEDGER_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    ledger_op op;
    fogpay_error err = ledger__op_begin(l, &op);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_transfer t;
    err = settle__refund_write(l, position, amount_minor, now_ms, &t);
    return ledger__op_end_transfer(l, &op, err, &t, out, NULL);
}
