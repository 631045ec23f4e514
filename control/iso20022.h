/*
 * iso20022.h - the ISO 20022 documents the control API writes with libxml2,
 * shared by control_bank.c and the two writers: the bank-to-customer
 * statement of a legal entity's account (camt.053.001.08, iso20022.c) and
 * the customer credit transfer initiation of a period's payouts
 * (pain.001.001.09 in the EPC's SEPA profile, iso20022_payout.c).
 *
 * A document is built as a libxml2 tree and serialised once, as UTF-8 with
 * its XML declaration. Every text goes through xmlNewTextChild, which
 * escapes it. Ownership: *xml_out is the caller's, freed with
 * iso20022_free(); nothing else outlives a call.
 */
#ifndef FOGPAY_ISO20022_H
#define FOGPAY_ISO20022_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "ledger.h"

/* Namespaces of the two messages. */
#define ISO20022_CAMT053_NS "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
#define ISO20022_PAIN001_NS "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

/* The scheme that names a legal entity by its pseudonymous id, as the
 * issuer of a party's other identification. */
#define ISO20022_ENTITY_ISSUER "fogpay"

/* A document under construction: the first failure sticks, so a writer
 * adds its elements and checks once at the end. */
typedef struct iso20022_doc {
    xmlDocPtr doc;
    xmlNsPtr ns;
    bool failed;
} iso20022_doc;

/* Starts a document of namespace ns with root Document and its one child
 * named message; the message element, or NULL with d->failed. */
xmlNodePtr iso20022__begin(iso20022_doc *d, const char *ns, const char *message);
/* Adds <name>text</name> (text NULL: an empty element) under parent; a
 * NULL parent or a failure gives NULL and sets d->failed. */
xmlNodePtr iso20022__add(iso20022_doc *d, xmlNodePtr parent, const char *name, const char *text);
/* Adds <name Ccy="EUR">12.50</name> of the absolute value of minor. */
xmlNodePtr iso20022__amount(iso20022_doc *d, xmlNodePtr parent, const char *name, int64_t minor,
                            uint16_t currency);
/* ISO 8601 UTC of unix milliseconds: "2023-11-14T22:13:20.000Z" (25 bytes)
 * and the date alone "2023-11-14" (11 bytes). */
#define ISO20022_DATETIME_MAX 64
void iso20022__datetime(uint64_t time_ms, char out[ISO20022_DATETIME_MAX]);
void iso20022__date(uint64_t time_ms, char out[ISO20022_DATETIME_MAX]);
/* A party named by a legal entity's pseudonymous id:
 * <Id><PrvtId><Othr><Id>le-...</Id><Issr>fogpay</Issr></Othr></PrvtId></Id>. */
void iso20022__entity_id(iso20022_doc *d, xmlNodePtr party, const char *entity_id);
/* Serialises and frees the tree: FOGPAY_ERR_NO_MEMORY after any failure. */
fogpay_error iso20022__finish(iso20022_doc *d, char **xml_out, size_t *len_out);
/* Moves every child of holder (a node of d's outside its tree) under
 * parent, in order; a NULL parent or a failure sets d->failed. */
void iso20022__adopt(iso20022_doc *d, xmlNodePtr parent, xmlNodePtr holder);
/* Frees holder (may be NULL) and ends d as err says: serialised by
 * iso20022__finish() on FOGPAY_OK, else freed and err returned. */
fogpay_error iso20022__end(iso20022_doc *d, fogpay_error err, xmlNodePtr holder, char **xml_out,
                           size_t *len_out);

/* The camt.053 statement of entity_id's account in currency over
 * [from_ms, to_ms), created at now_ms. Errors of fogpay_ledger_statement;
 * *st is the statement's figures. */
fogpay_error iso20022_statement(fogpay_ledger *l, const char *entity_id, uint16_t currency,
                                uint64_t from_ms, uint64_t to_ms, uint64_t now_ms, char **xml_out,
                                size_t *len_out, fogpay_statement *st);

/* The account the payouts are paid from: the gateway operator's own, given
 * with the request (the operator's business data, not a person's). bic may
 * be NULL ("NOTPROVIDED" is written, as the SEPA rulebook allows). */
typedef struct iso20022_debtor {
    const char *name;
    const char *iban; /* checked by fogpay_iban_parse */
    const char *bic;
} iso20022_debtor;

/* The pain.001 initiation of every payout in currency (euro only:
 * FOGPAY_ERR_PAYOUT_CURRENCY) over [from_ms, to_ms), created at now_ms,
 * executed on its date. Errors of fogpay_ledger_payout_list; *count and
 * *sum_minor are the payouts'. */
fogpay_error iso20022_payout_initiation(fogpay_ledger *l, const iso20022_debtor *debtor,
                                        uint16_t currency, uint64_t from_ms, uint64_t to_ms,
                                        uint64_t now_ms, char **xml_out, size_t *len_out,
                                        uint32_t *count, uint64_t *sum_minor);

/* Frees a document's text (NULL is allowed). */
void iso20022_free(char *xml);

#endif
