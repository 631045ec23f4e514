/*
 * control_bank.c - bank connectivity on the control API: the ISO 20022
 * statement of a legal entity's account (getStatement), payouts from an
 * entity's account to its bank account (payout), and the credit transfer
 * initiation of a period's payouts (getPayoutInitiation).
 *
 * A document travels in the reply's data as one string, "document", the
 * XML as written (iso20022.h), beside its figures, so a script can check
 * the sums without parsing XML. A period is "from" and "to" in unix
 * milliseconds, to exclusive. getStatement is open to an entity's own
 * login for its own account (control_entity.c); payouts and their
 * initiation are the operator's.
 *
 * Ownership: the document's text is freed here once copied into the
 * reply.
 */
#include <string.h>

#include "control_internal.h"
#include "iso20022.h"

/* The period of cmd: "from" and "to", both required. */
static fogpay_error bank__period(const cJSON *cmd, uint64_t *from_ms, uint64_t *to_ms,
                                 control_reply *r)
{
    fogpay_error err = control__u64(cmd, "from", true, from_ms, r);
    if (err == FOGPAY_OK) {
        err = control__u64(cmd, "to", true, to_ms, r);
    }
    return err;
}

/* The sentence of a refusal the bank documents share. */
static void bank__explain(fogpay_error err, control_reply *r)
{
    if (r->message == NULL && err != FOGPAY_OK && err != FOGPAY_ERR_NO_MEMORY) {
        r->message = fogpay_error_string(err);
    }
}

/* Adds the document (NUL-terminated) under "document" and frees it. */
static fogpay_error bank__document(char *xml, control_reply *r)
{
    cJSON *item = cJSON_AddStringToObject(r->data, "document", xml);
    iso20022_free(xml);
    return item != NULL ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
}

fogpay_error control__get_statement(const fogpay_control_context *c, const cJSON *cmd,
                                    uint64_t now_ms, control_reply *r)
{
    const char *entity = NULL;
    uint16_t currency = 0;
    int exponent = 0;
    uint64_t from_ms = 0;
    uint64_t to_ms = 0;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &currency, &exponent, r);
    }
    if (err == FOGPAY_OK) {
        err = bank__period(cmd, &from_ms, &to_ms, r);
    }
    char *xml = NULL;
    size_t len = 0;
    fogpay_statement st;
    if (err == FOGPAY_OK) {
        err = iso20022_statement(c->ledger, entity, currency, from_ms, to_ms, now_ms, &xml, &len,
                                 &st);
    }
    bank__explain(err, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddStringToObject(r->data, "entity", entity);
    cJSON_AddStringToObject(r->data, "currency", fogpay_currency_code(currency, &exponent));
    cJSON_AddNumberToObject(r->data, "account", (double)st.account);
    control__add_amount(r->data, "opening", st.opening_minor, exponent);
    control__add_amount(r->data, "closing", st.closing_minor, exponent);
    control__add_amount(r->data, "credits", (int64_t)st.credits_minor, exponent);
    control__add_amount(r->data, "debits", (int64_t)st.debits_minor, exponent);
    cJSON_AddNumberToObject(r->data, "entries", st.entries);
    return bank__document(xml, r);
}

fogpay_error control__payout(const fogpay_control_context *c, const cJSON *cmd, uint64_t now_ms,
                             control_reply *r)
{
    const char *entity = NULL;
    const char *reference = NULL;
    uint16_t currency = 0;
    int exponent = 0;
    uint64_t amount = 0;
    fogpay_error err = control__text(cmd, "entity", true, FOGPAY_ENTITY_ID_MAX, &entity, r);
    if (err == FOGPAY_OK) {
        err = control__currency(cmd, &currency, &exponent, r);
    }
    if (err == FOGPAY_OK) {
        err = control__amount(cmd, "amount", true, exponent, &amount, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "reference", false, FOGPAY_REFERENCE_MAX, &reference, r);
    }
    fogpay_transfer t;
    int64_t balance = 0;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_payout(c->ledger, entity, currency, amount, reference, now_ms, &t,
                                   &balance);
    }
    if (err == FOGPAY_ERR_INSUFFICIENT_FUNDS) {
        r->message = "the entity's account does not hold the amount";
    }
    bank__explain(err, r);
    if (err == FOGPAY_OK) {
        cJSON_AddNumberToObject(r->data, "transfer", (double)t.position);
        control__add_amount(r->data, "balance", balance, exponent);
        cJSON_AddStringToObject(r->data, "currency", fogpay_currency_code(currency, &exponent));
    }
    return err;
}

/* The operator's own account the payouts leave from. */
static fogpay_error bank__debtor(const cJSON *cmd, iso20022_debtor *debtor, control_reply *r)
{
    fogpay_error err =
        control__text(cmd, "debtorName", true, FOGPAY_BANK_NAME_MAX, &debtor->name, r);
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "debtorIban", true, FOGPAY_IBAN_TEXT_MAX, &debtor->iban, r);
    }
    if (err == FOGPAY_OK) {
        err = control__text(cmd, "debtorBic", false, FOGPAY_BIC_MAX, &debtor->bic, r);
    }
    return err;
}

fogpay_error control__get_payout_initiation(const fogpay_control_context *c, const cJSON *cmd,
                                            uint64_t now_ms, control_reply *r)
{
    uint16_t currency = 0;
    int exponent = 0;
    uint64_t from_ms = 0;
    uint64_t to_ms = 0;
    iso20022_debtor debtor = {0};
    fogpay_error err = control__currency(cmd, &currency, &exponent, r);
    if (err == FOGPAY_OK) {
        err = bank__period(cmd, &from_ms, &to_ms, r);
    }
    if (err == FOGPAY_OK) {
        err = bank__debtor(cmd, &debtor, r);
    }
    char *xml = NULL;
    size_t len = 0;
    uint32_t count = 0;
    uint64_t sum = 0;
    if (err == FOGPAY_OK) {
        err = iso20022_payout_initiation(c->ledger, &debtor, currency, from_ms, to_ms, now_ms, &xml,
                                         &len, &count, &sum);
    }
    if (err == FOGPAY_ERR_BANK_REFERENCE_NOT_IBAN) {
        r->message = "debtorIban is not an IBAN";
    }
    bank__explain(err, r);
    if (err != FOGPAY_OK) {
        return err;
    }
    cJSON_AddStringToObject(r->data, "currency", fogpay_currency_code(currency, &exponent));
    cJSON_AddNumberToObject(r->data, "payouts", count);
    control__add_amount(r->data, "sum", (int64_t)sum, exponent);
    return bank__document(xml, r);
}
