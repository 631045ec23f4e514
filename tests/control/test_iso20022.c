/*
 * test_iso20022.c - the ISO 20022 documents of the control API
 * (control/control_bank.c, control/iso20022*.c) on a real ledger file with
 * real transfers: a camt.053.001.08 statement of an entity's account and a
 * pain.001.001.09 initiation of payouts, each validated with libxml2
 * against the official schemas in ../shared/conformance/iso20022/ and its
 * sums checked against the ledger; and every refusal with its reason,
 * nothing moved.
 */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_fixture.h"
#include "ledger_fixture.h"

/* A valid IBAN (the ISO 13616 example) and one with a wrong check. */
#define IBAN_GOOD "DE89 3704 0044 0532 0130 00"
#define IBAN_BAD  "DE88370400440532013000"
#define DEBTOR_OPS                                                                                 \
    "\"debtorName\":\"Fog Gateway Operations\",\"debtorIban\":\"FR1420041010050500013M02606\""

/* The ledger: C (a person with an IBAN) is paid by dev-a three times and
 * by dev-b once, an hour apart. */
typedef struct world {
    fixture fx;
    char entity_c[FOGPAY_ENTITY_ID_MAX + 1];
    uint64_t account_c;
} world;

static void world_open(world *w)
{
    fixture_open(&w->fx);
    fogpay_entity_personal p = {.name = "Chloé Dupont", .bank_ref = IBAN_GOOD};
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(w->fx.l, &p, NOW_MS, w->entity_c), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_account(w->fx.l, w->entity_c, EUR, &w->account_c),
                          FOGPAY_OK);
    fund(w->fx.l, "dev-a", EUR, 100000);
    fund(w->fx.l, "dev-b", EUR, 100000);
    for (uint64_t i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(pay_full(w->fx.l, "dev-a", i + 1, NULL, w->account_c, 1250 + i, EUR,
                                       NOW_MS + (i + 1) * 3600000, NULL),
                              FOGPAY_OK);
    }
    CU_ASSERT_EQUAL_FATAL(
        pay_full(w->fx.l, "dev-b", 1, NULL, w->account_c, 999, EUR, NOW_MS + 4 * 3600000, NULL),
        FOGPAY_OK);
}

/* Sends one command as entity (NULL: an operator) at now_ms; the reply is
 * the caller's to free, *resp its first response. */
static cJSON *send_at(world *w, const char *entity, const char *json, uint64_t now_ms,
                      const cJSON **resp)
{
    return control_fixture_send(w->fx.l, entity, "login", json, now_ms, resp);
}

static const char *data_text(const cJSON *resp, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The document parsed and valid against the named official schema. */
static xmlDocPtr validated(const char *xml, const char *xsd_name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/conformance/iso20022/%s", testutil_shared_dir(), xsd_name);
    xmlSchemaParserCtxtPtr parser = xmlSchemaNewParserCtxt(path);
    xmlSchemaPtr schema = xmlSchemaParse(parser);
    CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "document.xml", "UTF-8", XML_PARSE_NONET);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    xmlSchemaValidCtxtPtr valid = xmlSchemaNewValidCtxt(schema);
    int rc = xmlSchemaValidateDoc(valid, doc);
    if (rc != 0) {
        fprintf(stderr, "\n%s\n", xml);
    }
    CU_ASSERT_EQUAL(rc, 0);
    xmlSchemaFreeValidCtxt(valid);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(parser);
    return doc;
}

/* The nodes of an XPath expression over prefix d in namespace ns. */
static xmlXPathObjectPtr nodes(xmlDocPtr doc, const char *ns, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "d", BAD_CAST ns);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlXPathFreeContext(ctx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

/* The text of the first node of expr as minor units of a 2-decimal amount
 * (or as a plain number when whole is true), -1 when there is none. */
static long long number_at(xmlDocPtr doc, const char *ns, const char *expr)
{
    xmlXPathObjectPtr o = nodes(doc, ns, expr);
    long long v = -1;
    if (o->nodesetval != NULL && o->nodesetval->nodeNr > 0) {
        xmlChar *text = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
        double d = strtod((const char *)text, NULL);
        v = strchr((const char *)text, '.') ? (long long)(d * 100 + 0.5) : (long long)d;
        xmlFree(text);
    }
    xmlXPathFreeObject(o);
    return v;
}

static int count_at(xmlDocPtr doc, const char *ns, const char *expr)
{
    xmlXPathObjectPtr o = nodes(doc, ns, expr);
    int n = o->nodesetval != NULL ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

#define CAMT "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
#define PAIN "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

/* The net of a statement's entries (credits less debits), in cents. */
static long long entries_net(xmlDocPtr doc)
{
    long long net = 0;
    int n = count_at(doc, CAMT, "//d:Ntry");
    for (int i = 1; i <= n; i++) {
        char expr[128];
        snprintf(expr, sizeof expr, "(//d:Ntry)[%d]/d:Amt", i);
        long long amount = number_at(doc, CAMT, expr);
        snprintf(expr, sizeof expr, "(//d:Ntry)[%d]/d:CdtDbtInd[text()='DBIT']", i);
        net += count_at(doc, CAMT, expr) ? -amount : amount;
    }
    return net;
}

/* A statement over the middle two payments and a payout, valid, its
 * balances and entries those of the ledger. */
static void test_statement(void)
{
    world w;
    world_open(&w);
    char json[768];
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"amount\":\"10.00\",\"reference\":\"payout-1\"}]}",
             w.entity_c);
    const cJSON *resp = NULL;
    cJSON *reply = send_at(&w, NULL, json, NOW_MS + 2 * 3600000 + 1000, &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    cJSON_Delete(reply);
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"from\":%llu,\"to\":%llu}]}",
             w.entity_c, (unsigned long long)(NOW_MS + 2 * 3600000),
             (unsigned long long)(NOW_MS + 4 * 3600000));
    reply = send_at(&w, NULL, json, NOW_MS + 5 * 3600000, &resp);
    CU_ASSERT_STRING_EQUAL_FATAL(control_fixture_error(resp), "");
    /* Opening: the first payment; the period: the second, the payout, the third. */
    CU_ASSERT_STRING_EQUAL(data_text(resp, "opening"), "12.50");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "closing"), "27.53");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "credits"), "25.03");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "debits"), "10.00");
    xmlDocPtr doc = validated(data_text(resp, "document"), "camt.053.001.08.xsd");
    CU_ASSERT_EQUAL(count_at(doc, CAMT, "//d:Ntry"), 3);
    long long opening = number_at(doc, CAMT, "//d:Bal[d:Tp/d:CdOrPrtry/d:Cd='OPBD']/d:Amt");
    long long closing = number_at(doc, CAMT, "//d:Bal[d:Tp/d:CdOrPrtry/d:Cd='CLBD']/d:Amt");
    CU_ASSERT_EQUAL(opening, 1250);
    CU_ASSERT_EQUAL(closing - opening, entries_net(doc));
    /* The counterparty by its pseudonymous id, the device and seq, the reference. */
    char expr[256];
    snprintf(expr, sizeof expr, "//d:Dbtr/d:Pty/d:Id/d:PrvtId/d:Othr[d:Id='%s']", w.fx.entity_a);
    CU_ASSERT_EQUAL(count_at(doc, CAMT, expr), 2);
    CU_ASSERT_EQUAL(count_at(doc, CAMT, "//d:RmtInf[d:Ustrd='device dev-a seq 2']"), 1);
    CU_ASSERT_EQUAL(count_at(doc, CAMT, "//d:Refs[d:EndToEndId='payout-1']"), 1);
    CU_ASSERT_EQUAL(count_at(doc, CAMT, "//d:Nm"), 0); /* no personal data */
    xmlFreeDoc(doc);
    cJSON_Delete(reply);
    /* Over everything, the closing balance is the account's. */
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"from\":0,\"to\":%llu}]}",
             w.entity_c, (unsigned long long)(NOW_MS + 5 * 3600000));
    reply = send_at(&w, NULL, json, NOW_MS + 5 * 3600000, &resp);
    int64_t balance = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(w.fx.l, w.account_c, &balance), FOGPAY_OK);
    char expected[32];
    snprintf(expected, sizeof expected, "%lld.%02lld", (long long)balance / 100,
             (long long)balance % 100);
    CU_ASSERT_STRING_EQUAL(data_text(resp, "closing"), expected);
    CU_ASSERT_STRING_EQUAL(data_text(resp, "opening"), "0.00");
    doc = validated(data_text(resp, "document"), "camt.053.001.08.xsd");
    CU_ASSERT_EQUAL(count_at(doc, CAMT, "//d:Ntry"), 5);
    CU_ASSERT_EQUAL(entries_net(doc), balance);
    xmlFreeDoc(doc);
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

/* Two payouts, their pain.001 valid, its counts and sums the ledger's. */
static void test_payout_initiation(void)
{
    world w;
    world_open(&w);
    int64_t before = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(w.fx.l, w.account_c, &before), FOGPAY_OK);
    char json[768];
    snprintf(
        json, sizeof json,
        "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
        "\"amount\":\"20.00\",\"reference\":\"week 46\"},"
        "{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\",\"amount\":\"7.49\"}]}",
        w.entity_c, w.entity_c);
    const cJSON *resp = NULL;
    cJSON *reply = send_at(&w, NULL, json, NOW_MS + 5 * 3600000, &resp);
    const cJSON *responses = cJSON_GetObjectItem(reply, "responses");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 0)), "");
    CU_ASSERT_STRING_EQUAL(control_fixture_error(cJSON_GetArrayItem(responses, 1)), "");
    CU_ASSERT_STRING_EQUAL(data_text(cJSON_GetArrayItem(responses, 1), "balance"), "20.03");
    uint64_t position =
        (uint64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(responses, 0), "data"),
                                      "transfer")
            ->valuedouble;
    cJSON_Delete(reply);
    fogpay_transfer t;
    CU_ASSERT_EQUAL(fogpay_ledger_transfer_get(w.fx.l, position, &t, NULL), FOGPAY_OK);
    CU_ASSERT_EQUAL(t.kind, FOGPAY_TRANSFER_WITHDRAWAL);
    CU_ASSERT_STRING_EQUAL(t.payer_entity, w.entity_c);
    CU_ASSERT_STRING_EQUAL(t.reference, "week 46");
    int64_t after = 0;
    CU_ASSERT_EQUAL(fogpay_ledger_balance(w.fx.l, w.account_c, &after), FOGPAY_OK);
    CU_ASSERT_EQUAL(before - after, 2749);
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
             "\"from\":%llu,\"to\":%llu," DEBTOR_OPS "}]}",
             (unsigned long long)NOW_MS, (unsigned long long)(NOW_MS + 6 * 3600000));
    reply = send_at(&w, NULL, json, NOW_MS + 6 * 3600000, &resp);
    CU_ASSERT_STRING_EQUAL_FATAL(control_fixture_error(resp), "");
    CU_ASSERT_STRING_EQUAL(data_text(resp, "sum"), "27.49");
    xmlDocPtr doc = validated(data_text(resp, "document"), "pain.001.001.09.xsd");
    CU_ASSERT_EQUAL(count_at(doc, PAIN, "//d:CdtTrfTxInf"), 2);
    CU_ASSERT_EQUAL(number_at(doc, PAIN, "//d:GrpHdr/d:NbOfTxs"), 2);
    CU_ASSERT_EQUAL(number_at(doc, PAIN, "//d:GrpHdr/d:CtrlSum"), before - after);
    CU_ASSERT_EQUAL(number_at(doc, PAIN, "//d:PmtInf/d:CtrlSum"), before - after);
    CU_ASSERT_EQUAL(
        count_at(doc, PAIN, "//d:CdtTrfTxInf[d:CdtrAcct/d:Id/d:IBAN='DE89370400440532013000']"), 2);
    CU_ASSERT_EQUAL(count_at(doc, PAIN, "//d:Cdtr[d:Nm='Chloé Dupont']"), 2);
    CU_ASSERT_EQUAL(count_at(doc, PAIN, "//d:RmtInf[d:Ustrd='week 46']"), 1);
    xmlFreeDoc(doc);
    cJSON_Delete(reply);
    CU_ASSERT_EQUAL(verify(w.fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(w.fx.l);
}

/* An operator's command refused with error, nothing moved. */
static void refused(world *w, const char *json, const char *error)
{
    snapshot before;
    snapshot_take(&w->fx, &before);
    const cJSON *resp = NULL;
    cJSON *reply = send_at(w, NULL, json, NOW_MS + 5 * 3600000, &resp);
    if (strcmp(control_fixture_error(resp), error) != 0) {
        fprintf(stderr, "\n%s -> \"%s\", expected \"%s\"\n", json, control_fixture_error(resp),
                error);
    }
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), error);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "document"));
    CU_ASSERT(snapshot_same(&w->fx, &before));
    cJSON_Delete(reply);
}

static void test_refusals(void)
{
    world w;
    world_open(&w);
    char json[768];
    refused(&w,
            "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"le-0123456789abcdef\","
            "\"currency\":\"EUR\",\"from\":0,\"to\":10}]}",
            "entity_unknown");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"%s\","
             "\"currency\":\"EUR\",\"from\":10,\"to\":10}]}",
             w.entity_c);
    refused(&w, json, "period_empty");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"%s\","
             "\"currency\":\"EUR\",\"from\":11,\"to\":10}]}",
             w.entity_c);
    refused(&w, json, "period_reversed");
    /* A has a contact but no bank reference. */
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"amount\":\"1.00\"}]}",
             w.fx.entity_a);
    refused(&w, json, "bank_reference_missing");
    refused(&w,
            "{\"commands\":[{\"command\":\"payout\",\"entity\":\"le-0123456789abcdef\","
            "\"currency\":\"EUR\",\"amount\":\"1.00\"}]}",
            "entity_unknown");
    fogpay_entity_personal p = {.name = "Dora Bad-Iban", .bank_ref = IBAN_BAD};
    char entity_d[FOGPAY_ENTITY_ID_MAX + 1];
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_entity_create(w.fx.l, &p, NOW_MS, entity_d), FOGPAY_OK);
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"amount\":\"1.00\"}]}",
             entity_d);
    refused(&w, json, "bank_reference_not_iban");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"payout\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"amount\":\"1000.00\"}]}",
             w.entity_c);
    refused(&w, json, "insufficient_funds");
    refused(&w,
            "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
            "\"from\":0,\"to\":1700000000000," DEBTOR_OPS "}]}",
            "payout_none");
    refused(&w,
            "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"USD\","
            "\"from\":0,\"to\":1700000000000," DEBTOR_OPS "}]}",
            "payout_currency");
    refused(&w,
            "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
            "\"from\":5,\"to\":4," DEBTOR_OPS "}]}",
            "period_reversed");
    refused(&w,
            "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
            "\"from\":0,\"to\":4,\"debtorName\":\"Ops\",\"debtorIban\":\"" IBAN_BAD "\"}]}",
            "bank_reference_not_iban");
    /* An entity's login asks for its own statement only. */
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"%s\","
             "\"currency\":\"EUR\",\"from\":0,\"to\":10}]}",
             w.entity_c);
    const cJSON *resp = NULL;
    cJSON *reply = send_at(&w, w.fx.entity_a, json, NOW_MS, &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "entity_foreign_account");
    cJSON_Delete(reply);
    reply = send_at(&w, w.fx.entity_a,
                    "{\"commands\":[{\"command\":\"payout\",\"currency\":\"EUR\","
                    "\"amount\":\"1.00\"}]}",
                    NOW_MS, &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "entity_command");
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

/* A period of more entries than one document holds is refused, for a
 * statement and for an initiation; the period before the last is not. */
static void test_too_long(void)
{
    world w;
    world_open(&w);
    fund(w.fx.l, "dev-a", EUR, 10000000);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_begin(w.fx.l), FOGPAY_OK);
    for (uint64_t i = 0; i < FOGPAY_BANK_DOCUMENT_ENTRIES_MAX; i++) {
        CU_ASSERT_EQUAL_FATAL(pay_full(w.fx.l, "dev-a", 4 + i, NULL, w.account_c, 100, EUR,
                                       NOW_MS + 5 * 3600000 + i, NULL),
                              FOGPAY_OK);
        fogpay_transfer t;
        CU_ASSERT_EQUAL_FATAL(fogpay_ledger_payout(w.fx.l, w.entity_c, EUR, 1, "",
                                                   NOW_MS + 5 * 3600000 + i, &t, NULL),
                              FOGPAY_OK);
    }
    fogpay_transfer last;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_payout(w.fx.l, w.entity_c, EUR, 1, "",
                             NOW_MS + 5 * 3600000 + FOGPAY_BANK_DOCUMENT_ENTRIES_MAX, &last, NULL),
        FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_commit(w.fx.l), FOGPAY_OK);
    char json[768];
    unsigned long long from = NOW_MS + 5 * 3600000;
    unsigned long long to = from + FOGPAY_BANK_DOCUMENT_ENTRIES_MAX;
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getStatement\",\"entity\":\"%s\",\"currency\":\"EUR\","
             "\"from\":%llu,\"to\":%llu}]}",
             w.entity_c, from, to);
    refused(&w, json, "document_too_long");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
             "\"from\":%llu,\"to\":%llu," DEBTOR_OPS "}]}",
             from, to + 1);
    refused(&w, json, "document_too_long");
    snprintf(json, sizeof json,
             "{\"commands\":[{\"command\":\"getPayoutInitiation\",\"currency\":\"EUR\","
             "\"from\":%llu,\"to\":%llu," DEBTOR_OPS "}]}",
             from, to);
    const cJSON *resp = NULL;
    cJSON *reply = send_at(&w, NULL, json, to, &resp);
    CU_ASSERT_STRING_EQUAL(control_fixture_error(resp), "");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "payouts")->valueint,
                    (int)FOGPAY_BANK_DOCUMENT_ENTRIES_MAX);
    xmlDocPtr doc = validated(data_text(resp, "document"), "pain.001.001.09.xsd");
    xmlFreeDoc(doc);
    cJSON_Delete(reply);
    fogpay_ledger_close(w.fx.l);
}

/* The IBAN check: spaces and case, the check digits. */
static void test_iban(void)
{
    char out[FOGPAY_IBAN_MAX + 1];
    CU_ASSERT(fogpay_iban_parse(IBAN_GOOD, out));
    CU_ASSERT_STRING_EQUAL(out, "DE89370400440532013000");
    CU_ASSERT(fogpay_iban_parse("gb82 west 1234 5698 7654 32", out));
    CU_ASSERT_STRING_EQUAL(out, "GB82WEST12345698765432");
    CU_ASSERT(!fogpay_iban_parse(IBAN_BAD, out));
    CU_ASSERT(!fogpay_iban_parse("DE89-3704", out));
    CU_ASSERT(!fogpay_iban_parse("", out));
    CU_ASSERT(!fogpay_iban_parse("DE89370400440532013000123456789012345", out));
}

int main(void)
{
    static const ledger_test tests[] = {
        {"a camt.053 statement, valid, its sums the ledger's", test_statement},
        {"payouts and their pain.001, valid, their sums the ledger's", test_payout_initiation},
        {"refusals of statements and payouts, nothing moved", test_refusals},
        {"a period of more entries than a document holds", test_too_long},
        {"IBANs", test_iban},
    };
    return ledger_fixture_run("iso20022", tests, sizeof tests / sizeof tests[0]);
}
