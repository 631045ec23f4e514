/*
 * iso20022.c - the bank-to-customer statement (camt.053.001.08) of a legal
 * entity's account over a period, and the document mechanics both ISO
 * 20022 writers share (iso20022.h).
 *
 * A statement, as a bank would send it for the account the gateway keeps:
 * the opening (OPBD) and closing (CLBD) booked balances at the period's
 * ends, the totals of its entries, and one booked entry per transfer that
 * moved the account: its chain position as entry and servicer reference,
 * the transfer's own reference as end-to-end id, its kind as a
 * proprietary bank transaction code, the counterparty (the other side's
 * legal entity) by its pseudonymous id only, and for a device's payment
 * the device and its sequence number as remittance information. The
 * account is identified as fogpay account N; no personal data is written.
 *
 * Ownership: the tree is built and freed here; the text is the caller's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlmemory.h>

#include "fogpay_currency.h"
#include "iso20022.h"

xmlNodePtr iso20022__begin(iso20022_doc *d, const char *ns, const char *message)
{
    d->failed = false;
    d->doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = d->doc != NULL ? xmlNewNode(NULL, BAD_CAST "Document") : NULL;
    d->ns = root != NULL ? xmlNewNs(root, BAD_CAST ns, NULL) : NULL;
    if (d->ns == NULL) {
        xmlFreeNode(root);
        d->failed = true;
        return NULL;
    }
    xmlSetNs(root, d->ns);
    xmlDocSetRootElement(d->doc, root);
    return iso20022__add(d, root, message, NULL);
}

xmlNodePtr iso20022__add(iso20022_doc *d, xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr node =
        parent != NULL ? xmlNewTextChild(parent, d->ns, BAD_CAST name, BAD_CAST text) : NULL;
    if (node == NULL) {
        d->failed = true;
    }
    return node;
}

xmlNodePtr iso20022__amount(iso20022_doc *d, xmlNodePtr parent, const char *name, int64_t minor,
                            uint16_t currency)
{
    int exponent = 0;
    const char *code = fogpay_currency_code(currency, &exponent);
    char text[32];
    fogpay_amount_format(minor < 0 ? -minor : minor, exponent, text, sizeof text);
    xmlNodePtr node = iso20022__add(d, parent, name, text);
    if (node != NULL && xmlNewProp(node, BAD_CAST "Ccy", BAD_CAST(code ? code : "XXX")) == NULL) {
        d->failed = true;
    }
    return node;
}

void iso20022__datetime(uint64_t time_ms, char out[ISO20022_DATETIME_MAX])
{
    time_t s = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, ISO20022_DATETIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(time_ms % 1000));
}

void iso20022__date(uint64_t time_ms, char out[ISO20022_DATETIME_MAX])
{
    iso20022__datetime(time_ms, out);
    out[10] = '\0';
}

void iso20022__entity_id(iso20022_doc *d, xmlNodePtr party, const char *entity_id)
{
    xmlNodePtr other = iso20022__add(
        d, iso20022__add(d, iso20022__add(d, party, "Id", NULL), "PrvtId", NULL), "Othr", NULL);
    iso20022__add(d, other, "Id", entity_id);
    iso20022__add(d, other, "Issr", ISO20022_ENTITY_ISSUER);
}

fogpay_error iso20022__finish(iso20022_doc *d, char **xml_out, size_t *len_out)
{
    xmlChar *text = NULL;
    int len = 0;
    if (!d->failed) {
        xmlDocDumpFormatMemoryEnc(d->doc, &text, &len, "UTF-8", 1);
    }
    xmlFreeDoc(d->doc);
    d->doc = NULL;
    if (text == NULL || len <= 0) {
        xmlFree(text);
        return FOGPAY_ERR_NO_MEMORY;
    }
    *xml_out = (char *)text;
    *len_out = (size_t)len;
    return FOGPAY_OK;
}

void iso20022__adopt(iso20022_doc *d, xmlNodePtr parent, xmlNodePtr holder)
{
    for (xmlNodePtr e = holder->children; e != NULL; e = holder->children) {
        xmlUnlinkNode(e);
        if (parent == NULL || xmlAddChild(parent, e) == NULL) {
            xmlFreeNode(e);
            d->failed = true;
        }
    }
}

fogpay_error iso20022__end(iso20022_doc *d, fogpay_error err, xmlNodePtr holder, char **xml_out,
                           size_t *len_out)
{
    xmlFreeNode(holder);
    if (err != FOGPAY_OK) {
        xmlFreeDoc(d->doc);
        d->doc = NULL;
        return err;
    }
    return iso20022__finish(d, xml_out, len_out);
}

void iso20022_free(char *xml)
{
    xmlFree(xml);
}

/* A booked balance of type code (OPBD, CLBD) at time_ms. */
static void statement__balance(iso20022_doc *d, xmlNodePtr stmt, const char *code, int64_t minor,
                               uint16_t currency, uint64_t time_ms)
{
    char when[ISO20022_DATETIME_MAX];
    iso20022__datetime(time_ms, when);
    xmlNodePtr bal = iso20022__add(d, stmt, "Bal", NULL);
    iso20022__add(d, iso20022__add(d, iso20022__add(d, bal, "Tp", NULL), "CdOrPrtry", NULL), "Cd",
                  code);
    iso20022__amount(d, bal, "Amt", minor, currency);
    iso20022__add(d, bal, "CdtDbtInd", minor < 0 ? "DBIT" : "CRDT");
    iso20022__add(d, iso20022__add(d, bal, "Dt", NULL), "DtTm", when);
}

/* The walk's state: entries are written into holder, a detached node,
 * and moved under the statement after its balances and totals (the
 * schema's order), which are known only once the walk is done. */
typedef struct statement_writer {
    iso20022_doc *d;
    xmlNodePtr holder;
    uint16_t currency;
    uint32_t credits;
    uint32_t debits;
} statement_writer;

/* The entry's transaction details: references, amount, counterparty and
 * remittance information. */
static void statement__details(iso20022_doc *d, xmlNodePtr entry, const fogpay_transfer *t,
                               int64_t amount_minor, uint16_t currency)
{
    char position[24];
    snprintf(position, sizeof position, "%" PRIu64, t->position);
    xmlNodePtr tx = iso20022__add(d, iso20022__add(d, entry, "NtryDtls", NULL), "TxDtls", NULL);
    xmlNodePtr refs = iso20022__add(d, tx, "Refs", NULL);
    iso20022__add(d, refs, "AcctSvcrRef", position);
    iso20022__add(d, refs, "EndToEndId", t->reference[0] ? t->reference : "NOTPROVIDED");
    iso20022__amount(d, tx, "Amt", amount_minor, currency);
    iso20022__add(d, tx, "CdtDbtInd", amount_minor < 0 ? "DBIT" : "CRDT");
    /* A credit came from the payer, a debit went to the payee. */
    const char *counterparty = amount_minor < 0 ? t->payee_entity : t->payer_entity;
    if (counterparty[0] != '\0') {
        xmlNodePtr parties = iso20022__add(d, tx, "RltdPties", NULL);
        xmlNodePtr party = iso20022__add(
            d, iso20022__add(d, parties, amount_minor < 0 ? "Cdtr" : "Dbtr", NULL), "Pty", NULL);
        iso20022__entity_id(d, party, counterparty);
    }
    if (t->device_id[0] != '\0') {
        char remittance[80];
        snprintf(remittance, sizeof remittance, "device %s seq %" PRIu64, t->device_id, t->seq);
        iso20022__add(d, iso20022__add(d, tx, "RmtInf", NULL), "Ustrd", remittance);
    }
}

static int statement__entry(void *ctx, const fogpay_transfer *t, int64_t amount_minor)
{
    statement_writer *w = ctx;
    iso20022_doc *d = w->d;
    char position[24];
    char when[ISO20022_DATETIME_MAX];
    char code[24];
    snprintf(position, sizeof position, "%" PRIu64, t->position);
    snprintf(code, sizeof code, "FOGPAY-KIND-%u", (unsigned)t->kind);
    iso20022__datetime(t->time_ms, when);
    xmlNodePtr entry = iso20022__add(d, w->holder, "Ntry", NULL);
    if (amount_minor < 0) {
        w->debits++;
    } else {
        w->credits++;
    }
    iso20022__add(d, entry, "NtryRef", position);
    iso20022__amount(d, entry, "Amt", amount_minor, w->currency);
    iso20022__add(d, entry, "CdtDbtInd", amount_minor < 0 ? "DBIT" : "CRDT");
    iso20022__add(d, iso20022__add(d, entry, "Sts", NULL), "Cd", "BOOK");
    iso20022__add(d, iso20022__add(d, entry, "BookgDt", NULL), "DtTm", when);
    iso20022__add(d, entry, "AcctSvcrRef", position);
    xmlNodePtr proprietary =
        iso20022__add(d, iso20022__add(d, entry, "BkTxCd", NULL), "Prtry", NULL);
    iso20022__add(d, proprietary, "Cd", code);
    iso20022__add(d, proprietary, "Issr", ISO20022_ENTITY_ISSUER);
    statement__details(d, entry, t, amount_minor, w->currency);
    return d->failed;
}

/* The group header, and the statement's id, creation and period. */
static xmlNodePtr statement__head(iso20022_doc *d, xmlNodePtr message, uint64_t from_ms,
                                  uint64_t to_ms, uint64_t now_ms, const char *id)
{
    char created[ISO20022_DATETIME_MAX];
    char from[ISO20022_DATETIME_MAX];
    char to[ISO20022_DATETIME_MAX];
    iso20022__datetime(now_ms, created);
    iso20022__datetime(from_ms, from);
    iso20022__datetime(to_ms, to);
    xmlNodePtr header = iso20022__add(d, message, "GrpHdr", NULL);
    iso20022__add(d, header, "MsgId", id);
    iso20022__add(d, header, "CreDtTm", created);
    xmlNodePtr stmt = iso20022__add(d, message, "Stmt", NULL);
    iso20022__add(d, stmt, "Id", id);
    iso20022__add(d, stmt, "CreDtTm", created);
    xmlNodePtr period = iso20022__add(d, stmt, "FrToDt", NULL);
    iso20022__add(d, period, "FrDtTm", from);
    iso20022__add(d, period, "ToDtTm", to);
    return stmt;
}

/* The account: fogpay account N in its currency, owned by the entity. */
static void statement__account(iso20022_doc *d, xmlNodePtr stmt, const char *entity_id,
                               uint16_t currency, uint64_t account)
{
    char number[34];
    int exponent = 0;
    snprintf(number, sizeof number, "FOGPAY-%" PRIu64, account);
    xmlNodePtr acct = iso20022__add(d, stmt, "Acct", NULL);
    iso20022__add(d, iso20022__add(d, iso20022__add(d, acct, "Id", NULL), "Othr", NULL), "Id",
                  number);
    iso20022__add(d, acct, "Ccy", fogpay_currency_code(currency, &exponent));
    iso20022__entity_id(d, iso20022__add(d, acct, "Ownr", NULL), entity_id);
}

/* The number and sum of some entries under name. */
static void statement__total(iso20022_doc *d, xmlNodePtr summary, const char *name, uint32_t count,
                             uint64_t sum_minor, uint16_t currency)
{
    char text[32];
    int exponent = 0;
    fogpay_currency_code(currency, &exponent);
    xmlNodePtr total = iso20022__add(d, summary, name, NULL);
    snprintf(text, sizeof text, "%u", count);
    iso20022__add(d, total, "NbOfNtries", text);
    fogpay_amount_format((int64_t)sum_minor, exponent, text, sizeof text);
    iso20022__add(d, total, "Sum", text);
}

/* The totals of the entries, credits and debits. */
static void statement__summary(iso20022_doc *d, xmlNodePtr stmt, const statement_writer *w,
                               const fogpay_statement *st)
{
    xmlNodePtr summary = iso20022__add(d, stmt, "TxsSummry", NULL);
    statement__total(d, summary, "TtlCdtNtries", w->credits, st->credits_minor, w->currency);
    statement__total(d, summary, "TtlDbtNtries", w->debits, st->debits_minor, w->currency);
}

fogpay_error iso20022_statement(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                uint64_t from_ms, uint64_t to_ms, uint64_t now_ms, char **xml_out,
                                size_t *len_out, fogpay_statement *st)
{
    iso20022_doc d;
    char id[36];
    snprintf(id, sizeof id, "STMT-%.19s-%" PRIu64, entity_id,
             (uint64_t)(to_ms / 1000 % 10000000000u));
    xmlNodePtr message = iso20022__begin(&d, ISO20022_CAMT053_NS, "BkToCstmrStmt");
    xmlNodePtr stmt = statement__head(&d, message, from_ms, to_ms, now_ms, id);
    statement_writer w = {.d = &d, .currency = currency};
    w.holder = d.doc != NULL ? xmlNewDocNode(d.doc, d.ns, BAD_CAST "Entries", NULL) : NULL;
    fogpay_error err = stmt != NULL && w.holder != NULL ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_statement(l, entity_id, currency, from_ms, to_ms, statement__entry, &w,
                                      st);
    }
    if (err == FOGPAY_OK) {
        statement__account(&d, stmt, entity_id, currency, st->account);
        statement__balance(&d, stmt, "OPBD", st->opening_minor, currency, from_ms);
        statement__balance(&d, stmt, "CLBD", st->closing_minor, currency, to_ms);
        statement__summary(&d, stmt, &w, st);
        iso20022__adopt(&d, stmt, w.holder);
    }
    return iso20022__end(&d, err, w.holder, xml_out, len_out);
}
