/*
 * test_notes.c - bearer notes in the ledger (ledger/ledger_note.h): the
 * stock loaded, a device's withdrawal (the wallet debited by a transfer of
 * kind 14 to the notes account, the notes handed to the device's key by
 * custody entries the gateway signs, the register and the movement chain
 * updated), and each refusal of a withdrawal moving no money and no note;
 * a payment with notes from one device to another (the payer's custody
 * entries rebuilt around its signatures), all notes or none, and each of
 * its refusals moving no note.
 */
#include <string.h>

#include "fogpay_cose.h"
#include "ledger_fixture.h"
#include "ledger_note.h"

static fogpay_key *issuer;
static fogpay_key *gateway;
static fogpay_note_issuers issuers;
static char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];

/* A note of denomination (EUR) handed by the issuer to the gateway. */
static fogpay_held_note stock_note(uint64_t denomination)
{
    fogpay_held_note h;
    memset(&h, 0, sizeof h);
    fogpay_note n;
    memset(&n, 0, sizeof n);
    CU_ASSERT_EQUAL(fogpay_note_serial_new(n.serial), FOGPAY_OK);
    n.currency = EUR;
    n.denomination_minor = denomination;
    n.issued_s = NOW_MS / 1000u - 60;
    CU_ASSERT_EQUAL(fogpay_note_sign(issuer, &n, h.note, sizeof h.note, &h.note_len), FOGPAY_OK);
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, n.serial, sizeof c.serial);
    fogpay_note_link(h.note, h.note_len, c.prev_link);
    snprintf(c.holder_key, sizeof c.holder_key, "%s", gateway_text);
    c.time_s = n.issued_s;
    CU_ASSERT_EQUAL(fogpay_custody_sign(issuer, &c, h.custody, sizeof h.custody, &h.custody_len),
                    FOGPAY_OK);
    return h;
}

/* A ledger with a stock of 2 x 5.00, 3 x 1.00 and 2 x 0.50 EUR. */
static void stock_open(fixture *fx)
{
    if (issuer == NULL) {
        CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &issuer), FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway), FOGPAY_OK);
        fogpay_key_public_text(gateway, gateway_text, sizeof gateway_text);
        char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
        fogpay_key_public_text(issuer, text, sizeof text);
        CU_ASSERT_EQUAL_FATAL(fogpay_note_issuers_add(&issuers, text, false), FOGPAY_OK);
    }
    fixture_open(fx);
    static const uint64_t values[] = {500, 500, 100, 100, 100, 50, 50};
    fogpay_held_note held[7];
    for (size_t i = 0; i < 7; i++) {
        held[i] = stock_note(values[i]);
    }
    size_t refused = 99;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_load(fx->l, &issuers, gateway_text, held, 7, NOW_MS, &refused),
        FOGPAY_OK);
}

/* The count of notes in stock of denomination (EUR). */
static uint64_t stock_of(fixture *fx, uint64_t denomination)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM notes WHERE state = 0 AND denomination_minor = %llu",
             (unsigned long long)denomination);
    return (uint64_t)raw_long(fx->path, sql);
}

static uint64_t movements(fixture *fx)
{
    uint64_t head = 0;
    uint8_t hash[FOGPAY_HASH_BYTES];
    CU_ASSERT_EQUAL(fogpay_ledger_note_movement_head(fx->l, &head, hash), FOGPAY_OK);
    return head;
}

static void test_withdraw(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 2000);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 1, hash);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 750, 1, hash, NOW_MS + 1000, &w),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(w.transfer.kind, FOGPAY_TRANSFER_NOTE_WITHDRAWAL);
    CU_ASSERT_EQUAL(w.transfer.amount_minor, 750);
    CU_ASSERT_STRING_EQUAL(w.transfer.device_id, "dev-a");
    CU_ASSERT_EQUAL(w.balance_after_minor, 1250);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1250);
    CU_ASSERT_EQUAL(w.count, 4); /* 5.00 + 1.00 + 1.00 + 0.50 */
    char device_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_key_public_text(key_one, device_text, sizeof device_text);
    uint64_t total = 0;
    for (size_t i = 0; i < w.count; i++) {
        fogpay_note n;
        CU_ASSERT_EQUAL_FATAL(fogpay_note_open(w.notes[i].note, w.notes[i].note_len, &issuers,
                                               NOW_MS / 1000u, &n, NULL),
                              FOGPAY_OK);
        total += n.denomination_minor;
        fogpay_cose_sign1 cose;
        fogpay_custody c;
        CU_ASSERT_EQUAL(fogpay_cose_sign1_parse(w.notes[i].custody, w.notes[i].custody_len, &cose),
                        FOGPAY_OK);
        CU_ASSERT_EQUAL(fogpay_cose_sign1_verify(&cose, gateway, NULL, 0), FOGPAY_OK);
        CU_ASSERT_EQUAL(fogpay_custody_decode(cose.payload.ptr, cose.payload.len, &c), FOGPAY_OK);
        CU_ASSERT_STRING_EQUAL(c.holder_key, device_text);
    }
    CU_ASSERT_EQUAL(total, 750);
    CU_ASSERT_EQUAL(stock_of(&fx, 500), 1);
    CU_ASSERT_EQUAL(stock_of(&fx, 100), 1);
    CU_ASSERT_EQUAL(stock_of(&fx, 50), 1);
    CU_ASSERT_EQUAL(movements(&fx), 7 + 4);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM notes WHERE state = 1 AND "
                                      "holder_device = 'dev-a'"),
                    4);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT balance FROM accounts WHERE kind = 'notes'"), 750);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A refused withdrawal: reason err, and nothing moved. */
static void refused(fixture *fx, const fogpay_key *key, const char *device, uint64_t amount,
                    fogpay_error want)
{
    snapshot before;
    snapshot_take(fx, &before);
    uint64_t head = movements(fx);
    uint64_t in_stock = (uint64_t)raw_long(fx->path, "SELECT count(*) FROM notes WHERE state = 0");
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL(
        fogpay_ledger_note_withdraw(fx->l, key, device, EUR, amount, 0, NULL, NOW_MS, &w), want);
    CU_ASSERT(snapshot_same(fx, &before));
    CU_ASSERT_EQUAL(movements(fx), head);
    CU_ASSERT_EQUAL((uint64_t)raw_long(fx->path, "SELECT count(*) FROM notes WHERE state = 0"),
                    in_stock);
}

static void test_refusals(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 5000);
    refused(&fx, gateway, "dev-a", 20, FOGPAY_ERR_NOTE_STOCK_SHORT);    /* no 0.20 made of these */
    refused(&fx, gateway, "dev-a", 4000, FOGPAY_ERR_NOTE_STOCK_SHORT);  /* the stock is 13.00 */
    refused(&fx, gateway, "dev-b", 500, FOGPAY_ERR_INSUFFICIENT_FUNDS); /* no money */
    refused(&fx, gateway, "dev-z", 500, FOGPAY_ERR_UNKNOWN_DEVICE);
    refused(&fx, gateway, "dev-a", 0, FOGPAY_ERR_AMOUNT_ZERO);
    refused(&fx, key_two, "dev-a", 500, FOGPAY_ERR_NOTE_STOCK_SHORT); /* held by another key */
    fogpay_device_limits limits = {.wallet_max_minor = 600};
    device_new(fx.l, "dev-c", fx.entity_a, &limits);
    fund(fx.l, "dev-c", EUR, 600);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-c", EUR, 500, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    refused(&fx, gateway, "dev-c", 100 + 50, FOGPAY_ERR_WALLET_MAX); /* 6.50 in notes over 6.00 */
    CU_ASSERT_EQUAL(fogpay_ledger_device_set_status(fx.l, "dev-a", FOGPAY_DEVICE_SUSPENDED, NOW_MS),
                    FOGPAY_OK);
    refused(&fx, gateway, "dev-a", 500, FOGPAY_ERR_DEVICE_SUSPENDED);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A payment of the withdrawn notes w from dev-a to payee for amount,
 * each custody entry signed with signer. */
static fogpay_note_payment payment_of(const fogpay_note_withdrawal *w, const char *payee,
                                      const fogpay_key *payee_key, const fogpay_key *signer,
                                      uint64_t amount)
{
    fogpay_note_payment p;
    memset(&p, 0, sizeof p);
    strcpy(p.device_id, "dev-a");
    p.seq = 2;
    strcpy(p.payee_device, payee);
    p.currency = EUR;
    p.amount_minor = amount;
    p.created_s = NOW_MS / 1000u;
    p.custody_s = NOW_MS / 1000u + 5;
    p.count = (uint8_t)w->count;
    for (size_t i = 0; i < w->count; i++) {
        fogpay_custody c;
        memset(&c, 0, sizeof c);
        memcpy(c.serial, w->serials[i], FOGPAY_NOTE_SERIAL_BYTES);
        fogpay_note_link(w->notes[i].custody, w->notes[i].custody_len, c.prev_link);
        fogpay_key_public_text(payee_key, c.holder_key, sizeof c.holder_key);
        c.time_s = p.custody_s;
        uint8_t entry[FOGPAY_CUSTODY_SIGNED_MAX];
        size_t len = 0;
        CU_ASSERT_EQUAL(fogpay_custody_sign(signer, &c, entry, sizeof entry, &len), FOGPAY_OK);
        memcpy(p.notes[i].serial, c.serial, FOGPAY_NOTE_SERIAL_BYTES);
        CU_ASSERT_EQUAL(fogpay_custody_signature(entry, len, p.notes[i].signature), FOGPAY_OK);
    }
    return p;
}

/* A payment that must be refused with want, moving no note. */
static void pay_refused(fixture *fx, const fogpay_note_payment *p, fogpay_error want)
{
    uint64_t head = movements(fx);
    fogpay_note_paid paid;
    CU_ASSERT_EQUAL(fogpay_ledger_note_pay(fx->l, gateway, p, NOW_MS, &paid), want);
    CU_ASSERT_EQUAL(movements(fx), head);
    CU_ASSERT_EQUAL(raw_long(fx->path, "SELECT count(*) FROM notes WHERE holder_device = 'dev-a'"),
                    2);
}

static void test_pay(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 2000);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_register(fx.l, "dev-q", key_two, "", fx.entity_b, NULL, NOW_MS),
        FOGPAY_OK);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 1, NULL, NOW_MS, &w),
        FOGPAY_ERR_INVALID_ARGUMENT); /* a seq needs its message's hash */
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    fogpay_note_payment p = payment_of(&w, "dev-q", key_two, key_one, 600);
    fogpay_note_payment bad = p;
    bad.amount_minor = 700; /* more than the notes make */
    pay_refused(&fx, &bad, FOGPAY_ERR_NOTE_SUM_MISMATCH);
    bad = payment_of(&w, "dev-q", key_two, key_two, 600); /* not the holder's signature */
    pay_refused(&fx, &bad, FOGPAY_ERR_CUSTODY_NOT_HOLDER);
    bad = payment_of(&w, "dev-q", key_one, key_one, 600); /* names another key than dev-q's */
    pay_refused(&fx, &bad, FOGPAY_ERR_CUSTODY_NOT_HOLDER);
    bad = p;
    bad.notes[1].serial[0] ^= 1;
    pay_refused(&fx, &bad, FOGPAY_ERR_NOTE_UNKNOWN);
    bad = p;
    strcpy(bad.payee_device, "dev-a");
    pay_refused(&fx, &bad, FOGPAY_ERR_PAYEE_SELF);
    bad = p;
    strcpy(bad.payee_device, "dev-z");
    pay_refused(&fx, &bad, FOGPAY_ERR_UNKNOWN_PAYEE);
    fogpay_note_paid paid;
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_note_pay(fx.l, gateway, &p, NOW_MS, &paid), FOGPAY_OK);
    CU_ASSERT_EQUAL(paid.count, 2);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT count(*) FROM notes WHERE holder_device = 'dev-q'"),
                    2);
    /* The same notes again: spent. */
    uint64_t head = movements(&fx);
    CU_ASSERT_EQUAL(fogpay_ledger_note_pay(fx.l, gateway, &p, NOW_MS, &paid),
                    FOGPAY_ERR_NOTE_DOUBLE_SPEND);
    CU_ASSERT_EQUAL(movements(&fx), head);
    /* The payee's history: loaded, withdrawn, paid; the wallets untouched. */
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1400);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* A payment with notes summing to more than its amount settles with
 * change: 5.00 + 1.00 for 5.50 takes both into the stock and hands the
 * payee 5.00 + 0.50 and the payer 0.50. Refused, moving nothing: without
 * the gateway's key, with entries naming the payee, and when the stock
 * cannot make the change. */
static void test_change(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 2000);
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_device_register(fx.l, "dev-q", key_two, "", fx.entity_b, NULL, NOW_MS),
        FOGPAY_OK);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    uint64_t head = movements(&fx);
    static fogpay_note_paid paid;
    fogpay_note_payment p = payment_of(&w, "dev-q", gateway, key_one, 550);
    CU_ASSERT_EQUAL(fogpay_ledger_note_pay(fx.l, NULL, &p, NOW_MS, &paid),
                    FOGPAY_ERR_NOTE_SUM_MISMATCH);
    fogpay_note_payment named = payment_of(&w, "dev-q", key_two, key_one, 550);
    CU_ASSERT_EQUAL(fogpay_ledger_note_pay(fx.l, gateway, &named, NOW_MS, &paid),
                    FOGPAY_ERR_CUSTODY_NOT_HOLDER);
    fogpay_note_payment short_change = payment_of(&w, "dev-q", gateway, key_one, 10);
    CU_ASSERT_EQUAL(fogpay_ledger_note_pay(fx.l, gateway, &short_change, NOW_MS, &paid),
                    FOGPAY_ERR_NOTE_CHANGE_SHORT); /* 0.10 for the payee: no such note */
    CU_ASSERT_EQUAL(movements(&fx), head);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_note_pay(fx.l, gateway, &p, NOW_MS, &paid), FOGPAY_OK);
    CU_ASSERT_EQUAL(paid.count, 2);
    CU_ASSERT_EQUAL(paid.change_count, 1);
    CU_ASSERT_EQUAL(movements(&fx), head + 5); /* 2 tendered, 3 handed out */
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT sum(denomination_minor) FROM notes WHERE state = 1 "
                                      "AND holder_device = 'dev-q'"),
                    550);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT sum(denomination_minor) FROM notes WHERE state = 1 "
                                      "AND holder_device = 'dev-a'"),
                    50);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT balance FROM accounts WHERE kind = 'notes'"), 600);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1400);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Note i of w handed on by dev-a (key_one) to holder, as a note line
 * holds it. */
static fogpay_held_note handed_back(const fogpay_note_withdrawal *w, size_t i, const char *holder)
{
    fogpay_held_note h = w->notes[i];
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, w->serials[i], FOGPAY_NOTE_SERIAL_BYTES);
    fogpay_note_link(w->notes[i].custody, w->notes[i].custody_len, c.prev_link);
    snprintf(c.holder_key, sizeof c.holder_key, "%s", holder);
    c.time_s = NOW_MS / 1000u + 5;
    CU_ASSERT_EQUAL(fogpay_custody_sign(key_one, &c, h.custody, sizeof h.custody, &h.custody_len),
                    FOGPAY_OK);
    return h;
}

/* Notes handed back by a legal entity into its account: the transfer of
 * kind 17 from the notes account, the notes in stock again. Refused,
 * moving nothing, naming the note: other bytes than the register's note,
 * an entry naming another key than the gateway's, an unknown entity; the
 * same notes again are spent. */
static void test_redeem_entity(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 2000);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    fogpay_held_note back[2] = {handed_back(&w, 0, gateway_text), handed_back(&w, 1, gateway_text)};
    fogpay_held_note bad[2] = {back[0], back[1]};
    bad[1].note[bad[1].note_len - 1] ^= 1;
    uint64_t head = movements(&fx);
    static fogpay_note_entity_redemption r;
    size_t refused = 99;
    CU_ASSERT_EQUAL(fogpay_ledger_note_redeem_entity(fx.l, gateway_text, fx.entity_a, bad, 2,
                                                     NOW_MS, &r, &refused),
                    FOGPAY_ERR_NOTE_FORGED);
    CU_ASSERT_EQUAL(refused, 1);
    char key_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_key_public_text(key_two, key_text, sizeof key_text);
    bad[1] = handed_back(&w, 1, key_text);
    CU_ASSERT_EQUAL(fogpay_ledger_note_redeem_entity(fx.l, gateway_text, fx.entity_a, bad, 2,
                                                     NOW_MS, &r, &refused),
                    FOGPAY_ERR_CUSTODY_OTHER_HOLDER);
    CU_ASSERT_EQUAL(fogpay_ledger_note_redeem_entity(fx.l, gateway_text, "le-0000000000000000",
                                                     back, 2, NOW_MS, &r, &refused),
                    FOGPAY_ERR_ENTITY_UNKNOWN);
    CU_ASSERT_EQUAL(movements(&fx), head);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_note_redeem_entity(fx.l, gateway_text, fx.entity_a, back, 2,
                                                           NOW_MS, &r, &refused),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(r.count, 2);
    CU_ASSERT_EQUAL(r.transfer.kind, FOGPAY_TRANSFER_NOTE_ENTITY_REDEMPTION);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 600);
    CU_ASSERT_EQUAL(r.balance_after_minor, 600);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT balance FROM accounts WHERE kind = 'notes'"), 0);
    CU_ASSERT_EQUAL(stock_of(&fx, 500), 2);
    CU_ASSERT_EQUAL(fogpay_ledger_note_redeem_entity(fx.l, gateway_text, fx.entity_a, back, 2,
                                                     NOW_MS, &r, &refused),
                    FOGPAY_ERR_NOTE_DOUBLE_SPEND);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* Notes given back into a wallet: the value credited from the notes
 * account, the notes in stock again; the same note twice is spent. */
static void test_redeem(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 2000);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1400);
    fogpay_note_payment p = payment_of(&w, "dev-a", gateway, key_one, 600);
    uint8_t hash[FOGPAY_HASH_BYTES];
    intent_hash_of("dev-a", 2, hash);
    fogpay_note_redemption r;
    fogpay_note_payment wrong = payment_of(&w, "dev-a", key_two, key_one, 600);
    CU_ASSERT_EQUAL(fogpay_ledger_note_redeem(fx.l, gateway_text, &wrong, hash, NOW_MS, &r),
                    FOGPAY_ERR_CUSTODY_NOT_HOLDER); /* handed to another key than the gateway's */
    CU_ASSERT_EQUAL(balance_of(fx.l, "dev-a", EUR), 1400);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_note_redeem(fx.l, gateway_text, &p, hash, NOW_MS, &r),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL(r.transfer.kind, FOGPAY_TRANSFER_NOTE_REDEMPTION);
    CU_ASSERT_EQUAL(r.transfer.amount_minor, 600);
    CU_ASSERT_EQUAL(r.balance_after_minor, 2000);
    CU_ASSERT_EQUAL(r.paid.count, 2);
    CU_ASSERT_EQUAL(stock_of(&fx, 500), 2);
    CU_ASSERT_EQUAL(stock_of(&fx, 100), 3);
    CU_ASSERT_EQUAL(raw_long(fx.path, "SELECT balance FROM accounts WHERE kind = 'notes'"), 0);
    CU_ASSERT_EQUAL(fogpay_ledger_note_redeem(fx.l, gateway_text, &p, hash, NOW_MS, &r),
                    FOGPAY_ERR_NOTE_DOUBLE_SPEND);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    /* Back in stock, the notes are withdrawn again. */
    CU_ASSERT_EQUAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    fogpay_ledger_close(fx.l);
}

/* verify walks the note movement chain and checks the notes account. */
static void test_verify(void)
{
    fixture fx;
    stock_open(&fx);
    fund(fx.l, "dev-a", EUR, 2000);
    static fogpay_note_withdrawal w;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_ledger_note_withdraw(fx.l, gateway, "dev-a", EUR, 600, 0, NULL, NOW_MS, &w),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, NULL, 0), FOGPAY_OK);
    fogpay_ledger_close(fx.l);
    char copy[512];
    path_new(copy, sizeof copy, "copy");
    copy_file(fx.path, copy);
    /* A note handed back into the stock by hand: the account no longer matches. */
    CU_ASSERT_EQUAL(raw_exec(fx.path, "UPDATE notes SET state = 0, holder_device = NULL "
                                      "WHERE denomination_minor = 100 AND state = 1"),
                    0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(fx.path, false, &fx.l), FOGPAY_OK);
    char problem[256] = "";
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, problem, sizeof problem), FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(problem, "but the notes out with devices sum to 500"));
    fogpay_ledger_close(fx.l);
    /* A movement's record altered: its chain hash no longer follows. */
    CU_ASSERT_EQUAL(raw_exec(copy,
                             "DROP TRIGGER note_movements_no_update;"
                             "UPDATE note_movements SET hash = zeroblob(32) WHERE position = 3"),
                    0);
    CU_ASSERT_EQUAL_FATAL(fogpay_ledger_open(copy, false, &fx.l), FOGPAY_OK);
    CU_ASSERT_EQUAL(verify(fx.l, NULL, NULL, problem, sizeof problem), FOGPAY_ERR_LEDGER_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(problem, "note movement 3: its chain hash"));
    fogpay_ledger_close(fx.l);
}

int main(void)
{
    static const ledger_test tests[] = {
        {"a withdrawal of notes against the wallet", test_withdraw},
        {"every refusal of a withdrawal moves nothing", test_refusals},
        {"verify checks the note chain and the notes account", test_verify},
        {"a payment with notes, device to device, and its refusals", test_pay},
        {"a payment with notes settled with change from the stock", test_change},
        {"notes given back into a wallet", test_redeem},
        {"notes handed back into a legal entity's account", test_redeem_entity},
    };
    int status = ledger_fixture_run("ledger_notes", tests, sizeof tests / sizeof tests[0]);
    fogpay_note_issuers_clear(&issuers);
    fogpay_key_free(issuer);
    fogpay_key_free(gateway);
    return status;
}
