/*
 * iso20022_payout.c - the customer credit transfer initiation
 * (pain.001.001.09, in the EPC's SEPA profile) of a period's payouts: the
 * file a gateway operator hands its bank so that the money each payout
 * took out of a legal entity's account reaches the entity's bank account.
 *
 * One payment information block, from the operator's account (the debtor,
 * named in the request), executed on the document's date, charges shared
 * (SLEV, as SEPA requires), with one credit transfer per payout: its chain
 * position as instruction id, "FOGPAY-<position>" as end-to-end id (the
 * same payout in two files carries the same id, so the bank can refuse a
 * repeat), the amount, the creditor's name and IBAN from the entity's
 * personal data (read now: this file is where they are needed, and the
 * ledger keeps no copy), and the payout's reference as remittance
 * information. The number of transactions and the control sum are written
 * twice, in the group header and in the payment information, as the
 * message requires.
 *
 * Ownership: the tree is built and freed here; the text is the caller's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fogpay_currency.h"
#include "iso20022.h"

/* The longest name SEPA carries for a party, in characters. */
#define PAYOUT_NAME_CHARS_MAX 70

/* Payouts as they are written: into holder, moved under the payment
 * information after its header (whose figures are known only then). */
typedef struct payout_writer {
    iso20022_doc *d;
    xmlNodePtr holder;
    uint16_t currency;
} payout_writer;

/* name cut to PAYOUT_NAME_CHARS_MAX UTF-8 characters into out. */
static void payout__name(const char *name, char *out, size_t cap)
{
    size_t chars = 0;
    size_t n = 0;
    for (; name[n] != '\0' && n + 1 < cap; n++) {
        if (((unsigned char)name[n] & 0xc0) != 0x80 && chars++ == PAYOUT_NAME_CHARS_MAX) {
            break;
        }
    }
    memcpy(out, name, n);
    out[n] = '\0';
}

static int payout__transaction(void *ctx, const fogpay_transfer *t, const char *name,
                               const char *iban)
{
    payout_writer *w = ctx;
    iso20022_doc *d = w->d;
    char position[24];
    char end_to_end[32];
    char creditor[4 * PAYOUT_NAME_CHARS_MAX + 1];
    snprintf(position, sizeof position, "%" PRIu64, t->position);
    snprintf(end_to_end, sizeof end_to_end, "FOGPAY-%" PRIu64, t->position);
    payout__name(name, creditor, sizeof creditor);
    xmlNodePtr tx = iso20022__add(d, w->holder, "CdtTrfTxInf", NULL);
    xmlNodePtr id = iso20022__add(d, tx, "PmtId", NULL);
    iso20022__add(d, id, "InstrId", position);
    iso20022__add(d, id, "EndToEndId", end_to_end);
    iso20022__amount(d, iso20022__add(d, tx, "Amt", NULL), "InstdAmt", (int64_t)t->amount_minor,
                     w->currency);
    iso20022__add(d, iso20022__add(d, tx, "Cdtr", NULL), "Nm", creditor);
    iso20022__add(d, iso20022__add(d, iso20022__add(d, tx, "CdtrAcct", NULL), "Id", NULL), "IBAN",
                  iban);
    iso20022__add(d, iso20022__add(d, tx, "RmtInf", NULL), "Ustrd",
                  t->reference[0] ? t->reference : end_to_end);
    return d->failed;
}

/* The group header, once the payouts are counted. */
static void payout__header(iso20022_doc *d, xmlNodePtr message, const char *id, uint64_t now_ms,
                           const char *count, const char *sum, const iso20022_debtor *debtor)
{
    char created[ISO20022_DATETIME_MAX];
    char name[4 * PAYOUT_NAME_CHARS_MAX + 1];
    iso20022__datetime(now_ms, created);
    payout__name(debtor->name, name, sizeof name);
    xmlNodePtr header = iso20022__add(d, message, "GrpHdr", NULL);
    iso20022__add(d, header, "MsgId", id);
    iso20022__add(d, header, "CreDtTm", created);
    iso20022__add(d, header, "NbOfTxs", count);
    iso20022__add(d, header, "CtrlSum", sum);
    iso20022__add(d, iso20022__add(d, header, "InitgPty", NULL), "Nm", name);
}

/* The payment information block's head: the debtor and its account. */
static xmlNodePtr payout__information(iso20022_doc *d, xmlNodePtr message, const char *id,
                                      uint64_t now_ms, const char *count, const char *sum,
                                      const iso20022_debtor *debtor, const char *debtor_iban)
{
    char date[ISO20022_DATETIME_MAX];
    char name[4 * PAYOUT_NAME_CHARS_MAX + 1];
    iso20022__date(now_ms, date);
    payout__name(debtor->name, name, sizeof name);
    xmlNodePtr info = iso20022__add(d, message, "PmtInf", NULL);
    iso20022__add(d, info, "PmtInfId", id);
    iso20022__add(d, info, "PmtMtd", "TRF");
    iso20022__add(d, info, "NbOfTxs", count);
    iso20022__add(d, info, "CtrlSum", sum);
    xmlNodePtr type = iso20022__add(d, info, "PmtTpInf", NULL);
    iso20022__add(d, iso20022__add(d, type, "SvcLvl", NULL), "Cd", "SEPA");
    iso20022__add(d, iso20022__add(d, info, "ReqdExctnDt", NULL), "Dt", date);
    iso20022__add(d, iso20022__add(d, info, "Dbtr", NULL), "Nm", name);
    iso20022__add(d, iso20022__add(d, iso20022__add(d, info, "DbtrAcct", NULL), "Id", NULL), "IBAN",
                  debtor_iban);
    xmlNodePtr agent =
        iso20022__add(d, iso20022__add(d, info, "DbtrAgt", NULL), "FinInstnId", NULL);
    if (debtor->bic != NULL) {
        iso20022__add(d, agent, "BICFI", debtor->bic);
    } else {
        iso20022__add(d, iso20022__add(d, agent, "Othr", NULL), "Id", "NOTPROVIDED");
    }
    iso20022__add(d, info, "ChrgBr", "SLEV");
    return info;
}

fogpay_error iso20022_payout_initiation(fogpay_ledger *l, const iso20022_debtor *debtor,
                                        uint16_t currency, uint64_t from_ms, uint64_t to_ms,
                                        uint64_t now_ms, char **xml_out, size_t *len_out,
                                        uint32_t *count, uint64_t *sum_minor)
{
    int exponent = 0;
    const char *code = fogpay_currency_code(currency, &exponent);
    if (code == NULL || strcmp(code, "EUR") != 0) {
        return FOGPAY_ERR_PAYOUT_CURRENCY;
    }
    char debtor_iban[FOGPAY_IBAN_MAX + 1];
    if (!fogpay_iban_parse(debtor->iban, debtor_iban)) {
        return FOGPAY_ERR_BANK_REFERENCE_NOT_IBAN;
    }
    iso20022_doc d;
    xmlNodePtr message = iso20022__begin(&d, ISO20022_PAIN001_NS, "CstmrCdtTrfInitn");
    payout_writer w = {.d = &d, .currency = currency};
    w.holder = d.doc != NULL ? xmlNewDocNode(d.doc, d.ns, BAD_CAST "Payouts", NULL) : NULL;
    fogpay_error err = message != NULL && w.holder != NULL ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_payout_list(l, currency, from_ms, to_ms, payout__transaction, &w, count,
                                        sum_minor);
    }
    if (err == FOGPAY_OK) {
        char id[36];
        char number[16];
        char sum[32];
        snprintf(id, sizeof id, "PAYOUT-%" PRIu64 "-%" PRIu64, from_ms,
                 (uint64_t)(to_ms % 10000000000000u));
        snprintf(number, sizeof number, "%u", *count);
        fogpay_amount_format((int64_t)*sum_minor, exponent, sum, sizeof sum);
        payout__header(&d, message, id, now_ms, number, sum, debtor);
        xmlNodePtr info =
            payout__information(&d, message, id, now_ms, number, sum, debtor, debtor_iban);
        iso20022__adopt(&d, info, w.holder);
    }
    return iso20022__end(&d, err, w.holder, xml_out, len_out);
}
