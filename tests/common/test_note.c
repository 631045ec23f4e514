/*
 * test_note.c - bearer notes (common/fogpay_note.h): denominations, the
 * issuer trust file, a note signed and opened, a custody chain handed on
 * twice, and each refusal with its own reason: an unknown issuer, a forged
 * or altered note, a retired issuer, a bad denomination, an expired note,
 * a custody entry signed by another key, and one that does not continue
 * the chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_cose.h"
#include "fogpay_note.h"
#include "testutil.h"

#define NOW_S 1764000000ull

static fogpay_note sample_note(void)
{
    fogpay_note n;
    memset(&n, 0, sizeof n);
    CU_ASSERT_EQUAL(fogpay_note_serial_new(n.serial), FOGPAY_OK);
    n.currency = 978;
    n.denomination_minor = 500;
    n.issued_s = NOW_S;
    n.expiry_s = NOW_S + 3600;
    return n;
}

static fogpay_key *new_key(void)
{
    fogpay_key *k = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &k), FOGPAY_OK);
    return k;
}

/* Adds key's public key to set. */
static void trust(fogpay_note_issuers *set, const fogpay_key *key, bool retired)
{
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_public_text(key, text, sizeof text), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_note_issuers_add(set, text, retired), FOGPAY_OK);
}

static void test_denominations(void)
{
    CU_ASSERT(fogpay_note_denomination_valid(978, 1));
    CU_ASSERT(fogpay_note_denomination_valid(978, 50000));
    CU_ASSERT(!fogpay_note_denomination_valid(978, 300));
    CU_ASSERT(fogpay_note_denomination_valid(840, 25));
    CU_ASSERT(!fogpay_note_denomination_valid(978, 25));
    CU_ASSERT(!fogpay_note_denomination_valid(392, 100)); /* JPY: no notes here */
    const uint64_t *list = NULL;
    size_t n = fogpay_note_denominations(978, &list);
    CU_ASSERT_EQUAL(n, 15);
    for (size_t i = 1; i < n; i++) {
        CU_ASSERT(list[i - 1] < list[i]);
    }
    CU_ASSERT_EQUAL(fogpay_note_denominations(392, &list), 0);
    uint8_t a[FOGPAY_NOTE_SERIAL_BYTES];
    uint8_t b[FOGPAY_NOTE_SERIAL_BYTES];
    CU_ASSERT_EQUAL(fogpay_note_serial_new(a), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_note_serial_new(b), FOGPAY_OK);
    CU_ASSERT(memcmp(a, b, sizeof a) != 0);
}

static void test_trust_file(void)
{
    fogpay_key *k1 = new_key();
    fogpay_key *k2 = new_key();
    char t1[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    char t2[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_key_public_text(k1, t1, sizeof t1);
    fogpay_key_public_text(k2, t2, sizeof t2);
    char dir[256];
    testutil_tempdir(dir, sizeof dir);
    char path[512];
    snprintf(path, sizeof path, "%s/issuers", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# issuers of EUR notes\n\n%s retired\n%s active  # since the rotation\n", t1, t2);
    fclose(f);
    fogpay_note_issuers set = {0};
    CU_ASSERT_EQUAL(fogpay_note_issuers_load(path, &set), FOGPAY_OK);
    CU_ASSERT_EQUAL(set.count, 2);
    CU_ASSERT(set.issuer[0].retired && !set.issuer[1].retired);
    CU_ASSERT_STRING_EQUAL(set.issuer[1].public_text, t2);
    CU_ASSERT_EQUAL(fogpay_note_issuers_add(&set, t2, false), FOGPAY_ERR_EXISTS);
    fogpay_note_issuers_clear(&set);

    f = fopen(path, "w");
    fprintf(f, "%s active\n%s standby\n", t1, t2);
    fclose(f);
    CU_ASSERT_EQUAL(fogpay_note_issuers_load(path, &set), FOGPAY_ERR_CONFIG);
    CU_ASSERT_EQUAL(set.count, 0);
    f = fopen(path, "w");
    fprintf(f, "ed25519:00 active\n");
    fclose(f);
    CU_ASSERT_EQUAL(fogpay_note_issuers_load(path, &set), FOGPAY_ERR_CONFIG);
    snprintf(path, sizeof path, "%s/absent", dir);
    CU_ASSERT_EQUAL(fogpay_note_issuers_load(path, &set), FOGPAY_ERR_IO);
    testutil_rmtree(dir);
    fogpay_key_free(k1);
    fogpay_key_free(k2);
}

static void test_note_open(void)
{
    fogpay_key *issuer = new_key();
    fogpay_key *stranger = new_key();
    fogpay_note_issuers set = {0};
    trust(&set, issuer, false);
    fogpay_note n = sample_note();
    uint8_t msg[FOGPAY_NOTE_SIGNED_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_note_sign(issuer, &n, msg, sizeof msg, &len), FOGPAY_OK);
    fogpay_note back;
    const fogpay_note_issuer *who = NULL;
    CU_ASSERT_EQUAL(fogpay_note_open(msg, len, &set, NOW_S, &back, &who), FOGPAY_OK);
    CU_ASSERT(memcmp(&back, &n, sizeof n) == 0);
    CU_ASSERT_PTR_EQUAL(who, &set.issuer[0]);
    CU_ASSERT_EQUAL(fogpay_note_open(msg, len, &set, NOW_S + 3600, &back, NULL),
                    FOGPAY_ERR_NOTE_EXPIRED);

    /* The value changed from 5.00 to 500.00 in the signed bytes. */
    fogpay_cose_sign1 parsed;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(msg, len, &parsed), FOGPAY_OK);
    uint8_t altered[FOGPAY_NOTE_SIGNED_MAX];
    memcpy(altered, msg, len);
    uint8_t *p = altered + (parsed.payload.ptr - msg);
    uint8_t *at = memchr(p, 0x19, parsed.payload.len); /* 500 as a two-byte head */
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    at[1] = 0xc3, at[2] = 0x50; /* 50000 */
    CU_ASSERT_EQUAL(fogpay_note_open(altered, len, &set, NOW_S, &back, NULL),
                    FOGPAY_ERR_NOTE_FORGED);

    /* Signed by a stranger under the issuer's kid: forged; under its own: unknown. */
    uint8_t payload[FOGPAY_MESSAGE_MAX];
    size_t plen = 0;
    CU_ASSERT_EQUAL(fogpay_note_encode(&n, payload, sizeof payload, &plen), FOGPAY_OK);
    uint8_t forged[FOGPAY_NOTE_SIGNED_MAX];
    size_t flen = 0;
    CU_ASSERT_EQUAL(fogpay_cose_sign1_sign(stranger, set.issuer[0].kid, FOGPAY_KID_BYTES, payload,
                                           plen, NULL, 0, forged, sizeof forged, &flen),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_note_open(forged, flen, &set, NOW_S, &back, NULL),
                    FOGPAY_ERR_NOTE_FORGED);
    CU_ASSERT_EQUAL(fogpay_note_sign(stranger, &n, forged, sizeof forged, &flen), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_note_open(forged, flen, &set, NOW_S, &back, NULL),
                    FOGPAY_ERR_NOTE_ISSUER_UNKNOWN);
    CU_ASSERT_EQUAL(fogpay_cose_sign1_sign(issuer, NULL, 0, payload, plen, NULL, 0, forged,
                                           sizeof forged, &flen),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_note_open(forged, flen, &set, NOW_S, &back, NULL),
                    FOGPAY_ERR_NOTE_ISSUER_UNKNOWN);

    /* The issuer's key retired after a rotation: its notes are refused. */
    set.issuer[0].retired = true;
    CU_ASSERT_EQUAL(fogpay_note_open(msg, len, &set, NOW_S, &back, NULL),
                    FOGPAY_ERR_NOTE_ISSUER_RETIRED);
    set.issuer[0].retired = false;

    /* A 3.00 EUR note is no note, however well signed. */
    n.denomination_minor = 300;
    CU_ASSERT_EQUAL(fogpay_note_sign(issuer, &n, forged, sizeof forged, &flen),
                    FOGPAY_ERR_NOTE_DENOMINATION);
    CU_ASSERT_EQUAL(fogpay_note_encode(&n, payload, sizeof payload, &plen),
                    FOGPAY_ERR_NOTE_DENOMINATION);
    fogpay_note_issuers_clear(&set);
    fogpay_key_free(issuer);
    fogpay_key_free(stranger);
}

/* Hands the note whose last link is link from holder to next. */
static size_t hand_on(const fogpay_key *holder, const fogpay_key *next, const uint8_t *serial,
                      const uint8_t *link, uint8_t *out)
{
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, serial, FOGPAY_NOTE_SERIAL_BYTES);
    memcpy(c.prev_link, link, FOGPAY_HASH_BYTES);
    CU_ASSERT_EQUAL(fogpay_key_public_text(next, c.holder_key, sizeof c.holder_key), FOGPAY_OK);
    c.time_s = NOW_S + 10;
    size_t len = 0;
    CU_ASSERT_EQUAL(fogpay_custody_sign(holder, &c, out, FOGPAY_CUSTODY_SIGNED_MAX, &len),
                    FOGPAY_OK);
    return len;
}

static void test_custody_chain(void)
{
    fogpay_key *issuer = new_key();
    fogpay_key *gateway = new_key();
    fogpay_key *device = new_key();
    fogpay_note n = sample_note();
    uint8_t note[FOGPAY_NOTE_SIGNED_MAX];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_note_sign(issuer, &n, note, sizeof note, &len), FOGPAY_OK);
    uint8_t link0[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_note_link(note, len, link0), FOGPAY_OK);

    /* The issuer hands the note to the gateway, the gateway to the device. */
    uint8_t step1[FOGPAY_CUSTODY_SIGNED_MAX];
    size_t len1 = hand_on(issuer, gateway, n.serial, link0, step1);
    fogpay_custody c;
    CU_ASSERT_EQUAL(fogpay_custody_open(step1, len1, issuer, n.serial, link0, &c), FOGPAY_OK);
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_key_public_text(gateway, gateway_text, sizeof gateway_text);
    CU_ASSERT_STRING_EQUAL(c.holder_key, gateway_text);
    uint8_t link1[FOGPAY_HASH_BYTES];
    fogpay_note_link(step1, len1, link1);
    uint8_t step2[FOGPAY_CUSTODY_SIGNED_MAX];
    size_t len2 = hand_on(gateway, device, n.serial, link1, step2);
    CU_ASSERT_EQUAL(fogpay_custody_open(step2, len2, gateway, n.serial, link1, &c), FOGPAY_OK);

    /* A thief with the note's bytes but not the gateway's key. */
    uint8_t stolen[FOGPAY_CUSTODY_SIGNED_MAX];
    size_t stolen_len = hand_on(device, device, n.serial, link1, stolen);
    CU_ASSERT_EQUAL(fogpay_custody_open(stolen, stolen_len, gateway, n.serial, link1, &c),
                    FOGPAY_ERR_CUSTODY_NOT_HOLDER);
    /* The holder's own entry, replayed after the chain moved on or for another note. */
    CU_ASSERT_EQUAL(fogpay_custody_open(step1, len1, issuer, n.serial, link1, &c),
                    FOGPAY_ERR_CUSTODY_BROKEN);
    uint8_t other[FOGPAY_NOTE_SERIAL_BYTES];
    fogpay_note_serial_new(other);
    CU_ASSERT_EQUAL(fogpay_custody_open(step2, len2, gateway, other, link1, &c),
                    FOGPAY_ERR_CUSTODY_BROKEN);
    CU_ASSERT_EQUAL(fogpay_custody_open(step2, len2 - 1, gateway, n.serial, link1, &c),
                    FOGPAY_ERR_CBOR_TRUNCATED);
    fogpay_key_free(issuer);
    fogpay_key_free(gateway);
    fogpay_key_free(device);
}

/* A custody entry rebuilt around its signature is the signed entry, byte
 * for byte; a note payment round-trips and refuses a serial twice. */
static void test_payment(void)
{
    fogpay_key *payer = new_key();
    fogpay_key *payee = new_key();
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    fogpay_note_serial_new(c.serial);
    memset(c.prev_link, 7, sizeof c.prev_link);
    fogpay_key_public_text(payee, c.holder_key, sizeof c.holder_key);
    c.time_s = NOW_S;
    uint8_t signed_entry[FOGPAY_CUSTODY_SIGNED_MAX], rebuilt[FOGPAY_CUSTODY_SIGNED_MAX];
    size_t len = 0, rebuilt_len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_custody_sign(payer, &c, signed_entry, sizeof signed_entry, &len),
                          FOGPAY_OK);
    fogpay_note_payment p;
    memset(&p, 0, sizeof p);
    CU_ASSERT_EQUAL(fogpay_custody_signature(signed_entry, len, p.notes[0].signature), FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_custody_assemble(payer, &c, p.notes[0].signature, rebuilt,
                                            sizeof rebuilt, &rebuilt_len),
                    FOGPAY_OK);
    CU_ASSERT(rebuilt_len == len && memcmp(rebuilt, signed_entry, len) == 0);
    strcpy(p.device_id, "car-7");
    p.seq = 9;
    strcpy(p.payee_device, "charger-1");
    p.currency = 978;
    p.amount_minor = 1000;
    p.created_s = NOW_S;
    p.custody_s = NOW_S;
    p.count = 4;
    for (int i = 0; i < 4; i++) {
        fogpay_note_serial_new(p.notes[i].serial);
        memcpy(p.notes[i].signature, p.notes[0].signature, FOGPAY_SIGNATURE_BYTES);
    }
    uint8_t buf[FOGPAY_MESSAGE_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_note_payment_encode(&p, buf, sizeof buf, &len), FOGPAY_OK);
    CU_ASSERT(len + FOGPAY_COSE_OVERHEAD + 1 <= FOGPAY_MESSAGE_MAX); /* signed, it fits */
    fogpay_note_payment back;
    CU_ASSERT_EQUAL(fogpay_note_payment_decode(buf, len, &back), FOGPAY_OK);
    CU_ASSERT(memcmp(&back, &p, sizeof p) == 0);
    memcpy(p.notes[3].serial, p.notes[1].serial, FOGPAY_NOTE_SERIAL_BYTES);
    CU_ASSERT_EQUAL(fogpay_note_payment_encode(&p, buf, sizeof buf, &len),
                    FOGPAY_ERR_NOTE_SERIAL_SEEN);
    p.count = 5;
    CU_ASSERT_NOT_EQUAL(fogpay_note_payment_encode(&p, buf, sizeof buf, &len), FOGPAY_OK);
    fogpay_key_free(payer);
    fogpay_key_free(payee);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("note", NULL, NULL);
    CU_add_test(s, "denominations and serials", test_denominations);
    CU_add_test(s, "the issuers' trust file", test_trust_file);
    CU_add_test(s, "a note opened, forged, of an unknown or retired issuer", test_note_open);
    CU_add_test(s, "a custody chain and its refusals", test_custody_chain);
    CU_add_test(s, "note payments: entries rebuilt, the codec", test_payment);
    return testutil_run();
}
