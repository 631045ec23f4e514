/*
 * test_notes.c - bearer notes into a gateway's stock through a real
 * Mosquitto with the plugin (plugin_opt_note_issuers): notes issued by
 * fogpay-issuer to the gateway's key, loaded with fogpayctl online, the
 * stock listed; and each refusal of a load, with its reason, loading
 * nothing (a load is all or none): a serial loaded before, an unknown
 * issuer, a retired issuer key, a forged note, a note its issuer still
 * holds, a note handed to another key. A device withdraws notes against
 * its wallet over MQTT (a signed withdrawal on dev/D/withdraw): its receipt
 * counts them, each arrives on dev/D/note handed to its key by the
 * gateway, the wallet and the stock are down by their value; a withdrawal
 * the stock cannot make is refused (note_stock_short) and moves nothing.
 * The real agent withdraws too (fogpay-agent withdraw): its note store
 * holds the notes handed to it, which `fogpay-agent notes` lists; the
 * register and the history of a withdrawn note name the device
 * (fogpayctl notes register, notes history). The agent then pays another
 * agent with a note (fogpay-agent pay --notes): the note leaves the
 * payer's store with the stored receipt, the payee's holds it, the
 * register names the payee; an amount the store cannot make is refused on
 * the device.
 * Then offline on the same ledger: refused without the issuers' trust
 * file, loaded with it, and the ledger verifies.
 *
 * The programs under test are the built plugin ($FOGPAY_PLUGIN), fogpayctl
 * and fogpay-issuer (argv[1], argv[2]).
 */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <MQTTClient.h>

#include "broker.h"
#include "fogpay_cose.h"
#include "fogpay_message.h"
#include "fogpay_note.h"
#include "test_chain.h"
#include "testutil.h"

#define CMD_MAX 8192
#define OUT_MAX 65536

static const char *fogpayctl;
static const char *issuer;
static const char *agent;
static test_broker broker;
static char dir[TEST_BROKER_DIR_MAX];
static char out[OUT_MAX];

/* Runs a shell command line in the broker's directory, stderr joined to
 * stdout, into out; its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char inner[CMD_MAX], cmd[CMD_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof inner) {
        return -1;
    }
    snprintf(cmd, sizeof cmd, "cd %s && { %s; } 2>&1", dir, inner);
    return testutil_shell(out, sizeof out, "%s", cmd);
}

/* fogpayctl online as the operator, with the arguments. */
static int online(const char *args)
{
    return run("%s -h 127.0.0.1 -p %d -u ops --password-file ops.pw %s", fogpayctl, broker.port,
               args);
}

/* fogpay-issuer on the issuer's ledger db, with the arguments. */
static int issue(const char *db, const char *args)
{
    return run("%s --db %s %s", issuer, db, args);
}

/* The gateway's stock as fogpayctl prints it, on one line. */
static const char *stock(void)
{
    CU_ASSERT_EQUAL(online("notes stock | tr -d ' \\t\\n'"), 0);
    return out;
}

static char gateway_key[256];

/* The first line of out, without its newline, into text. */
static void first_line(char *text, size_t cap)
{
    size_t n = strcspn(out, "\n");
    n = n < cap - 1 ? n : cap - 1;
    memcpy(text, out, n);
    text[n] = '\0';
}

static int suite_init(void)
{
    if (!test_broker_init(&broker)) {
        return 1;
    }
    snprintf(dir, sizeof dir, "%s", broker.dir);
    char conf[TEST_BROKER_CONF_MAX], path[TEST_BROKER_PATH_MAX];
    if (run("%s --db l.db init && echo ops-pass > ops.pw && %s passwd --user ops "
            "--password-file ops.pw > operators",
            fogpayctl, fogpayctl) != 0 ||
        run("%s keygen --out gateway.key", fogpayctl) != 0) {
        return 1;
    }
    first_line(gateway_key, sizeof gateway_key);
    /* The issuer: a key that issued the notes of r.txt and was retired after a
     * rotation, and its second key, which issues the rest; another issuer the
     * gateway does not know. */
    char issue_to[512];
    snprintf(issue_to, sizeof issue_to, "issue --key k2.key --currency EUR --to %s", gateway_key);
    char args[1024];
    char k1[256] = "";
    bool ok = issue("i.db", "init") == 0 && issue("i.db", "keygen --out k1.key") == 0;
    first_line(k1, sizeof k1);
    snprintf(args, sizeof args,
             "issue --key k1.key --currency EUR --denomination 5.00 --count 1 --to %s --out r.txt",
             gateway_key);
    ok = ok && issue("i.db", args) == 0 && issue("i.db", "rotate --out k2.key") == 0;
    snprintf(args, sizeof args, "retire --public-key %s", k1);
    ok = ok && issue("i.db", args) == 0;
    static const char *const runs[] = {
        "--denomination 5.00 --count 3 --out a.txt",
        "--denomination 0.50 --count 2 --expiry-days 30 --out b.txt",
        "--denomination 1.00 --count 1 --out f.txt",
        "--denomination 2.00 --count 1 --out g.txt",
    };
    for (size_t i = 0; ok && i < sizeof runs / sizeof runs[0]; i++) {
        snprintf(args, sizeof args, "%s %s", issue_to, runs[i]);
        ok = issue("i.db", args) == 0;
    }
    ok = ok && issue("i.db", "issue --key k2.key --currency EUR --denomination 5.00 --count 1 "
                             "--out d.txt") == 0; /* the issuer holds it */
    ok = ok && run("%s keygen --out dev.key > dev.pub", fogpayctl) == 0;
    ok = ok && run("%s --db i.db issue --key k2.key --currency EUR --denomination 5.00 --count 1 "
                   "--to \"$(cat dev.pub)\" --out e.txt",
                   issuer) == 0; /* handed to a device's key */
    ok = ok && issue("o.db", "init") == 0 && issue("o.db", "keygen --out o.key") == 0;
    snprintf(args, sizeof args,
             "issue --key o.key --currency EUR --denomination 5.00 --count 1 --to %s --out c.txt",
             gateway_key);
    ok = ok && issue("o.db", args) == 0 && issue("i.db", "keys --out issuers.txt") == 0;
    /* A forged note: a.txt's first with its value byte changed (5.00 to 50.00). */
    ok = ok && run("head -1 a.txt | sed -E 's/031901f4/03191388/' > forged.txt && "
                   "cmp -s forged.txt a.txt; test $? -eq 1") == 0;
    /* f's good note and the forged one in one file: all or none. */
    ok = ok && run("cat f.txt forged.txt > mixed.txt") == 0;
    if (!ok) {
        fprintf(stderr, "test_notes: setting up the issuers failed:\n%s\n", out);
        return 1;
    }
    test_broker_path(&broker, "l.db", path, sizeof path);
    char key[TEST_BROKER_PATH_MAX], operators[TEST_BROKER_PATH_MAX], trust[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, "gateway.key", key, sizeof key);
    test_broker_path(&broker, "operators", operators, sizeof operators);
    test_broker_path(&broker, "issuers.txt", trust, sizeof trust);
    if (!test_broker_gateway_conf(conf, sizeof conf, "gw-notes", path, key, operators)) {
        return 1;
    }
    size_t used = strlen(conf);
    snprintf(conf + used, sizeof conf - used, "plugin_opt_note_issuers %s\n", trust);
    return test_broker_start(&broker, conf) ? 0 : 1;
}

static int suite_clean(void)
{
    if (getenv("FOGPAY_TEST_KEEP_LOG")) {
        test_broker_dump_log(&broker);
    }
    test_broker_cleanup(&broker);
    return 0;
}

static void test_load_and_stock(void)
{
    const char *s = stock();
    if (strcmp(s, "{\"stock\":[]}") != 0) {
        printf("\n  stock: %s\n", s);
    }
    CU_ASSERT_STRING_EQUAL(s, "{\"stock\":[]}");
    CU_ASSERT_EQUAL(online("notes load --file a.txt"), 0);
    CU_ASSERT_STRING_EQUAL(out, "loaded 3 notes\n");
    CU_ASSERT_EQUAL(online("notes load --file b.txt"), 0);
    CU_ASSERT_STRING_EQUAL(stock(), "{\"stock\":[{\"currency\":\"EUR\",\"denomination\":\"0.50\","
                                    "\"count\":2},{\"currency\":\"EUR\",\"denomination\":\"5.00\","
                                    "\"count\":3}]}");
}

/* Loads file, which must be refused at line with reason. */
static void refused(const char *file, int line, const char *reason)
{
    char args[256], want[128];
    snprintf(args, sizeof args, "notes load --file %s", file);
    CU_ASSERT_EQUAL(online(args), 1);
    snprintf(want, sizeof want, "line %d refused: ", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    snprintf(want, sizeof want, "(%s)", reason);
    if (strstr(out, want) == NULL) {
        printf("\n  %s: %s", file, out);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
}

static void test_refusals(void)
{
    refused("a.txt", 1, "note_serial_seen");
    refused("c.txt", 1, "note_issuer_unknown");
    refused("r.txt", 1, "note_issuer_retired");
    refused("forged.txt", 1, "note_forged");
    refused("d.txt", 1, "custody_other_holder");
    refused("e.txt", 1, "custody_other_holder");
    refused("mixed.txt", 2, "note_forged");
    /* Nothing of those moved: the 1.00 note of mixed.txt loads alone now. */
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*) FROM note_movements'"), 0);
    CU_ASSERT_STRING_EQUAL(out, "5\n");
    CU_ASSERT_EQUAL(online("notes load --file f.txt"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(stock(), "{\"currency\":\"EUR\",\"denomination\":\"1.00\","
                                           "\"count\":1}"));
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*), sum(denomination_minor) FROM notes "
                        "WHERE state = 0'"),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "6|1700\n");
}

/* ---- a device withdrawing, by hand ---------------------------------------- */

#define DEVICE      "dev-w"
#define DEVICE_PASS "0123456789abcdef0123456789abcdef"
#define EUR         978
#define WAIT_MS     5000

static fogpay_key *device_key;
static MQTTClient device;
static char device_entity[64];     /* the device's holder */
static fogpay_key *gateway_verify; /* the gateway's public key */

/* Registers and funds the device (20.00 EUR) online, connects it and
 * subscribes to its receipts and notes. */
static void device_start(void)
{
    char path[TEST_BROKER_PATH_MAX], text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    test_broker_path(&broker, "dev-w.key", path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_create_file(FOGPAY_ALG_EDDSA, path, text, sizeof text),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_load(path, &device_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_from_public_text(gateway_key, &gateway_verify), FOGPAY_OK);
    char args[1024], entity[64];
    CU_ASSERT_EQUAL_FATAL(online("create-entity --name 'Note Holder Ltd'"), 0);
    first_line(entity, sizeof entity);
    snprintf(device_entity, sizeof device_entity, "%s", entity);
    snprintf(args, sizeof args,
             "register-device --device %s --public-key %s --owner %s --password-file dev-w.pw",
             DEVICE, text, entity);
    CU_ASSERT_EQUAL_FATAL(run("echo %s > dev-w.pw", DEVICE_PASS), 0);
    CU_ASSERT_EQUAL_FATAL(online(args), 0);
    CU_ASSERT_EQUAL_FATAL(online("fund --device " DEVICE " --currency EUR --amount 20.00"), 0);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient_create(&device, uri, DEVICE, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    opts.username = DEVICE;
    opts.password = DEVICE_PASS;
    CU_ASSERT_EQUAL_FATAL(MQTTClient_connect(device, &opts), MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(MQTTClient_subscribe(device, "fogpay/v1/dev/" DEVICE "/receipt", 1),
                          MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(MQTTClient_subscribe(device, "fogpay/v1/dev/" DEVICE "/note", 1),
                          MQTTCLIENT_SUCCESS);
}

static uint8_t last_withdraw[FOGPAY_MESSAGE_MAX];
static size_t last_withdraw_len;

/* Publishes a signed withdrawal of amount (EUR), linked to the device's
 * last recorded message. */
static void withdraw(uint64_t amount)
{
    char db[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, "l.db", db, sizeof db);
    fogpay_note_withdraw m;
    memset(&m, 0, sizeof m);
    strcpy(m.device_id, DEVICE);
    m.seq = test_chain_prev(db, DEVICE, m.prev_hash) + 1;
    m.amount_minor = amount;
    m.currency = EUR;
    m.created_s = (uint64_t)time(NULL);
    uint8_t payload[FOGPAY_MESSAGE_MAX], signed_msg[FOGPAY_MESSAGE_MAX];
    size_t len = 0, signed_len = 0;
    CU_ASSERT_EQUAL_FATAL(fogpay_note_withdraw_encode(&m, payload, sizeof payload, &len),
                          FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(device_key, NULL, 0, payload, len, NULL, 0,
                                                 signed_msg, sizeof signed_msg, &signed_len),
                          FOGPAY_OK);
    MQTTClient_deliveryToken token;
    MQTTClient_publish(device, "fogpay/v1/dev/" DEVICE "/withdraw", (int)signed_len, signed_msg, 1,
                       0, &token);
    MQTTClient_waitForCompletion(device, token, WAIT_MS);
    memcpy(last_withdraw, signed_msg, signed_len);
    last_withdraw_len = signed_len;
}

/* Publishes the last withdrawal again, byte for byte. */
static void republish_last(void)
{
    MQTTClient_deliveryToken token;
    MQTTClient_publish(device, "fogpay/v1/dev/" DEVICE "/withdraw", (int)last_withdraw_len,
                       last_withdraw, 1, 0, &token);
    MQTTClient_waitForCompletion(device, token, WAIT_MS);
}

static uint8_t last_payment[FOGPAY_MESSAGE_MAX], stored_payment[FOGPAY_MESSAGE_MAX];
static size_t last_payment_len, stored_payment_len;

/* Publishes a payment of amount by the device with the count notes of h
 * (held by it) to dev-p, each custody entry naming holder_text and signed
 * with signer. */
static void pay_notes(const fogpay_held_note *h, size_t count, uint64_t amount,
                      const char *holder_text, const fogpay_key *signer)
{
    char db[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, "l.db", db, sizeof db);
    fogpay_note_payment p;
    memset(&p, 0, sizeof p);
    strcpy(p.device_id, DEVICE);
    p.seq = test_chain_prev(db, DEVICE, p.prev_hash) + 1;
    strcpy(p.payee_device, "dev-p");
    p.currency = EUR;
    p.amount_minor = amount;
    p.created_s = (uint64_t)time(NULL);
    p.custody_s = p.created_s;
    p.count = (uint8_t)count;
    uint8_t payload[FOGPAY_MESSAGE_MAX], signed_msg[FOGPAY_MESSAGE_MAX];
    size_t len = 0, signed_len = 0;
    for (size_t i = 0; i < count; i++) {
        fogpay_cose_sign1 cose;
        fogpay_note n;
        CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(h[i].note, h[i].note_len, &cose), FOGPAY_OK);
        CU_ASSERT_EQUAL_FATAL(fogpay_note_decode(cose.payload.ptr, cose.payload.len, &n),
                              FOGPAY_OK);
        fogpay_custody c;
        memset(&c, 0, sizeof c);
        memcpy(c.serial, n.serial, sizeof c.serial);
        fogpay_note_link(h[i].custody, h[i].custody_len, c.prev_link);
        snprintf(c.holder_key, sizeof c.holder_key, "%s", holder_text);
        c.time_s = p.custody_s;
        uint8_t entry[FOGPAY_CUSTODY_SIGNED_MAX];
        CU_ASSERT_EQUAL_FATAL(fogpay_custody_sign(signer, &c, entry, sizeof entry, &len),
                              FOGPAY_OK);
        memcpy(p.notes[i].serial, n.serial, sizeof n.serial);
        CU_ASSERT_EQUAL_FATAL(fogpay_custody_signature(entry, len, p.notes[i].signature),
                              FOGPAY_OK);
    }
    CU_ASSERT_EQUAL_FATAL(fogpay_note_payment_encode(&p, payload, sizeof payload, &len), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_sign(device_key, NULL, 0, payload, len, NULL, 0,
                                                 signed_msg, sizeof signed_msg, &signed_len),
                          FOGPAY_OK);
    MQTTClient_deliveryToken token;
    MQTTClient_publish(device, "fogpay/v1/dev/" DEVICE "/notepay", (int)signed_len, signed_msg, 1,
                       0, &token);
    MQTTClient_waitForCompletion(device, token, WAIT_MS);
    memcpy(last_payment, signed_msg, signed_len);
    last_payment_len = signed_len;
}

/* The value of a held note. */
static uint64_t note_value(const fogpay_held_note *h)
{
    fogpay_cose_sign1 cose;
    fogpay_note n;
    if (fogpay_cose_sign1_parse(h->note, h->note_len, &cose) != FOGPAY_OK ||
        fogpay_note_decode(cose.payload.ptr, cose.payload.len, &n) != FOGPAY_OK) {
        return 0;
    }
    return n.denomination_minor;
}

/* Publishes a payment by the device of note h (held by it), its whole
 * value, to dev-p, whose key is payee_text, signed with signer. */
static void pay_note(const fogpay_held_note *h, const char *payee_text, const fogpay_key *signer)
{
    pay_notes(h, 1, note_value(h), payee_text, signer);
}

/* The notes that reach the payee's client within the wait. */
static int payee_notes(MQTTClient payee)
{
    int n = 0;
    for (;;) {
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *msg = NULL;
        if (MQTTClient_receive(payee, &topic, &topic_len, &msg, 2000) != MQTTCLIENT_SUCCESS ||
            msg == NULL) {
            return n;
        }
        fogpay_held_note h;
        n += fogpay_note_delivery_decode(msg->payload, (size_t)msg->payloadlen, &h) == FOGPAY_OK;
        MQTTClient_freeMessage(&msg);
        MQTTClient_free(topic);
    }
}

/* The next message to the device: a note (into *held, true in *is_note)
 * or a receipt, verified with the gateway's key (into *r). */
static bool receive(fogpay_receipt *r, fogpay_held_note *held, bool *is_note)
{
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *msg = NULL;
    if (MQTTClient_receive(device, &topic, &topic_len, &msg, WAIT_MS) != MQTTCLIENT_SUCCESS ||
        msg == NULL) {
        return false;
    }
    *is_note = strstr(topic, "/note") != NULL;
    bool ok;
    if (*is_note) {
        ok = fogpay_note_delivery_decode(msg->payload, (size_t)msg->payloadlen, held) == FOGPAY_OK;
    } else {
        fogpay_bytes payload;
        ok = fogpay_cose_sign1_open(msg->payload, (size_t)msg->payloadlen, gateway_verify, NULL,
                                    &payload) == FOGPAY_OK &&
             fogpay_receipt_decode(payload.ptr, payload.len, r) == FOGPAY_OK;
    }
    MQTTClient_freeMessage(&msg);
    MQTTClient_free(topic);
    return ok;
}

/* Writes file: the note line of h handed on by the device to holder_text
 * (its custody entry signed with signer). */
static void hand_back_file(const char *file, const fogpay_held_note *h, const char *holder_text,
                           const fogpay_key *signer)
{
    fogpay_cose_sign1 cose;
    fogpay_note n;
    CU_ASSERT_EQUAL_FATAL(fogpay_cose_sign1_parse(h->note, h->note_len, &cose), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_note_decode(cose.payload.ptr, cose.payload.len, &n), FOGPAY_OK);
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, n.serial, sizeof c.serial);
    fogpay_note_link(h->custody, h->custody_len, c.prev_link);
    snprintf(c.holder_key, sizeof c.holder_key, "%s", holder_text);
    c.time_s = (uint64_t)time(NULL);
    fogpay_held_note back = *h;
    CU_ASSERT_EQUAL_FATAL(
        fogpay_custody_sign(signer, &c, back.custody, sizeof back.custody, &back.custody_len),
        FOGPAY_OK);
    static char line[FOGPAY_NOTE_LINE_MAX];
    CU_ASSERT_EQUAL_FATAL(fogpay_note_line_format(&back, line, sizeof line), FOGPAY_OK);
    char path[TEST_BROKER_PATH_MAX];
    test_broker_path(&broker, file, path, sizeof path);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "%s\n", line);
    fclose(f);
}

/* The device's holder hands the device's 1.00 note h back into its
 * account (fogpayctl notes redeem, redeemNotes): refused when the custody
 * entry is not the holder's or names another key than the gateway's,
 * then taken: the entity's account is credited by a transfer of kind 17,
 * the note is in the stock, the notes account down by its value; the same
 * file again is a note spent. */
static void redeem_to_entity(const fogpay_held_note *h)
{
    fogpay_key *thief = NULL;
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &thief), FOGPAY_OK);
    char args[512], thief_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_key_public_text(thief, thief_text, sizeof thief_text);
    hand_back_file("back-thief.txt", h, gateway_key, thief);
    hand_back_file("back-other.txt", h, thief_text, device_key);
    hand_back_file("back.txt", h, gateway_key, device_key);
    static const struct {
        const char *file;
        const char *reason;
    } refusals[] = {{"back-thief.txt", "(custody_not_holder)"},
                    {"back-other.txt", "(custody_other_holder)"}};
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        snprintf(args, sizeof args, "notes redeem --entity %s --file %s", device_entity,
                 refusals[i].file);
        CU_ASSERT_EQUAL(online(args), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "line 1 refused"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, refusals[i].reason));
    }
    CU_ASSERT_EQUAL(online("notes redeem --entity le-0000000000000000 --file back.txt"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(entity_unknown)"));
    snprintf(args, sizeof args, "notes redeem --entity %s --file back.txt", device_entity);
    CU_ASSERT_EQUAL(online(args), 0);
    CU_ASSERT_STRING_EQUAL(out, "redeemed 1 notes\n");
    CU_ASSERT_EQUAL(run("sqlite3 l.db \"SELECT kind, amount_minor, payee_entity = '%s' FROM "
                        "transfers ORDER BY position DESC LIMIT 1; SELECT balance FROM accounts "
                        "WHERE kind = 'notes'; SELECT balance FROM accounts WHERE kind = "
                        "'entity' AND entity_id = '%s'; SELECT count(*), sum(denomination_minor) "
                        "FROM notes WHERE state = 0\"",
                        device_entity, device_entity),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "17|100|1\n550\n100\n4|1150\n");
    CU_ASSERT_EQUAL(online(args), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(note_double_spend)"));
    fogpay_key_free(thief);
}

/* The device, holding the 1.00 and the 0.50 note of tender (in either
 * order; the stock 5.00 x 2 and 0.50 x 1), pays dev-p 0.50 with change.
 * With the 1.00 note alone the stock, the note in it, cannot make both
 * the payee's 0.50 and the payer's 0.50: refused (note_change_short),
 * nothing moves. With both notes the payee gets 0.50 and the payer 1.00
 * back, each by a custody entry the gateway signs; the value out with
 * devices is what it was. */
static void pay_with_change(const fogpay_held_note *tender, const char *device_text)
{
    const fogpay_held_note *one = note_value(&tender[0]) == 100 ? &tender[0] : &tender[1];
    CU_ASSERT_EQUAL_FATAL(note_value(one), 100);
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*) FROM note_movements; SELECT balance FROM "
                        "accounts WHERE kind = \"notes\"'"),
                    0);
    static char before[OUT_MAX];
    memcpy(before, out, sizeof before);
    pay_notes(one, 1, 50, gateway_key, device_key);
    fogpay_receipt r;
    fogpay_held_note change;
    bool is_note = true;
    CU_ASSERT_FATAL(receive(&r, &change, &is_note));
    CU_ASSERT(!is_note);
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_NOTE_CHANGE_SHORT);
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*) FROM note_movements; SELECT balance FROM "
                        "accounts WHERE kind = \"notes\"'"),
                    0);
    CU_ASSERT_STRING_EQUAL(out, before);
    pay_notes(tender, 2, 50, gateway_key, device_key);
    CU_ASSERT_FATAL(receive(&r, &change, &is_note));
    CU_ASSERT_FATAL(is_note); /* the change before the receipt */
    CU_ASSERT_EQUAL(note_value(&change), 100);
    fogpay_held_note kept = change;
    fogpay_bytes payload;
    fogpay_custody c;
    CU_ASSERT_EQUAL(
        fogpay_cose_sign1_open(change.custody, change.custody_len, gateway_verify, NULL, &payload),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_custody_decode(payload.ptr, payload.len, &c), FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(c.holder_key, device_text);
    CU_ASSERT_FATAL(receive(&r, &change, &is_note));
    CU_ASSERT(!is_note);
    CU_ASSERT_EQUAL(r.kind, FOGPAY_RECEIPT_NOTE_PAYMENT);
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_STORED);
    CU_ASSERT_EQUAL(r.note_count, 2);
    CU_ASSERT_EQUAL(run("sqlite3 l.db \"SELECT holder_device, count(*), sum(denomination_minor) "
                        "FROM notes WHERE state = 1 AND holder_device IN ('" DEVICE "', 'dev-p') "
                        "GROUP BY holder_device ORDER BY holder_device; SELECT balance FROM "
                        "accounts WHERE kind = 'notes'; SELECT count(*), sum(denomination_minor) "
                        "FROM notes WHERE state = 0\""),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "dev-p|2|550\n" DEVICE "|1|100\n650\n3|1050\n");
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT kind, count(*) FROM note_movements WHERE kind >= 4 "
                        "GROUP BY kind'"),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "4|2\n5|2\n");
    redeem_to_entity(&kept);
}

static void test_withdraw(void)
{
    device_start();
    fogpay_note_issuers set = {0};
    char trust[TEST_BROKER_PATH_MAX], device_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    test_broker_path(&broker, "issuers.txt", trust, sizeof trust);
    CU_ASSERT_EQUAL_FATAL(fogpay_note_issuers_load(trust, &set), FOGPAY_OK);
    fogpay_key_public_text(device_key, device_text, sizeof device_text);
    withdraw(650); /* 5.00 + 1.00 + 0.50 */
    fogpay_receipt r;
    fogpay_held_note notes[4];
    size_t count = 0;
    bool is_note = true;
    while (is_note && count < 4) {
        CU_ASSERT_FATAL(receive(&r, &notes[count], &is_note));
        count += is_note;
    }
    CU_ASSERT(!is_note);
    CU_ASSERT_EQUAL(count, 3);
    CU_ASSERT_EQUAL(r.kind, FOGPAY_RECEIPT_WITHDRAW);
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_SETTLED);
    CU_ASSERT_EQUAL(r.note_count, 3);
    CU_ASSERT_EQUAL(r.balance_after_minor, 1350);
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        fogpay_note n;
        CU_ASSERT_EQUAL_FATAL(fogpay_note_open(notes[i].note, notes[i].note_len, &set,
                                               (uint64_t)time(NULL), &n, NULL),
                              FOGPAY_OK);
        total += n.denomination_minor;
        fogpay_bytes payload;
        fogpay_custody c;
        CU_ASSERT_EQUAL(fogpay_cose_sign1_open(notes[i].custody, notes[i].custody_len,
                                               gateway_verify, NULL, &payload),
                        FOGPAY_OK);
        CU_ASSERT_EQUAL(fogpay_custody_decode(payload.ptr, payload.len, &c), FOGPAY_OK);
        CU_ASSERT_STRING_EQUAL(c.holder_key, device_text);
    }
    CU_ASSERT_EQUAL(total, 650);
    /* The same withdrawal again (as after a gateway stopped before its
     * notes went out): the original receipt, and the same notes again. */
    republish_last();
    size_t again = 0;
    fogpay_held_note note_again;
    fogpay_receipt r_again;
    is_note = true;
    while (is_note && again < 4) {
        CU_ASSERT_FATAL(receive(&r_again, &note_again, &is_note));
        again += is_note;
    }
    CU_ASSERT_EQUAL(again, 3);
    CU_ASSERT_EQUAL(r_again.transfer_id, r.transfer_id);
    CU_ASSERT_EQUAL(r_again.note_count, 3);
    static fogpay_held_note notes_kept[4];
    memcpy(notes_kept, notes, sizeof notes_kept);
    CU_ASSERT_EQUAL(run("sqlite3 l.db \"SELECT count(*), sum(denomination_minor) FROM notes "
                        "WHERE state = 1 AND holder_device = '" DEVICE "'\""),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "3|650\n");
    /* 0.20 cannot be made of the stock: refused, nothing moves. */
    withdraw(20);
    CU_ASSERT_FATAL(receive(&r, &notes[0], &is_note));
    CU_ASSERT(!is_note);
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_REJECTED);
    CU_ASSERT_EQUAL(r.reason, FOGPAY_ERR_NOTE_STOCK_SHORT);
    CU_ASSERT_EQUAL(online("balance --device " DEVICE " --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 13.50 EUR"));
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT count(*) FROM notes WHERE state = 0'"), 0);
    CU_ASSERT_STRING_EQUAL(out, "3\n");

    /* A payment with the first note to dev-p: signed by another key than
     * the holder's, refused; by the holder's, stored; the same note
     * again, spent. */
    fogpay_key *payee_key = NULL, *thief = NULL;
    char payee_text[FOGPAY_PUBLIC_KEY_TEXT_MAX], args[512];
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &payee_key), FOGPAY_OK);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_generate(FOGPAY_ALG_EDDSA, &thief), FOGPAY_OK);
    fogpay_key_public_text(payee_key, payee_text, sizeof payee_text);
    char entity[64];
    CU_ASSERT_EQUAL_FATAL(online("create-entity --name 'Note Payee Ltd'"), 0);
    first_line(entity, sizeof entity);
    snprintf(args, sizeof args,
             "register-device --device dev-p --public-key %s --owner %s --password-file dev-w.pw",
             payee_text, entity);
    CU_ASSERT_EQUAL_FATAL(online(args), 0);
    MQTTClient payee;
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", broker.port);
    MQTTClient_create(&payee, uri, "dev-p", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
    opts.username = "dev-p";
    opts.password = DEVICE_PASS;
    CU_ASSERT_EQUAL_FATAL(MQTTClient_connect(payee, &opts), MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(MQTTClient_subscribe(payee, "fogpay/v1/dev/dev-p/note", 1),
                          MQTTCLIENT_SUCCESS);
    static const struct {
        bool thief;
        uint8_t status;
        fogpay_error reason;
    } steps[] = {
        {true, FOGPAY_STATUS_REJECTED, FOGPAY_ERR_CUSTODY_NOT_HOLDER},
        {false, FOGPAY_STATUS_STORED, FOGPAY_OK},
        {false, FOGPAY_STATUS_REJECTED, FOGPAY_ERR_NOTE_DOUBLE_SPEND},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        pay_note(&notes_kept[0], payee_text, steps[i].thief ? thief : device_key);
        if (steps[i].status == FOGPAY_STATUS_STORED) {
            memcpy(stored_payment, last_payment, last_payment_len);
            stored_payment_len = last_payment_len;
        }
        CU_ASSERT_FATAL(receive(&r, &notes[0], &is_note));
        CU_ASSERT(!is_note);
        CU_ASSERT_EQUAL(r.kind, FOGPAY_RECEIPT_NOTE_PAYMENT);
        CU_ASSERT_EQUAL(r.status, steps[i].status);
        CU_ASSERT_EQUAL(r.reason, steps[i].reason);
        CU_ASSERT_EQUAL(r.note_count, steps[i].status == FOGPAY_STATUS_STORED ? 1 : 0);
    }
    CU_ASSERT_EQUAL(run("sqlite3 l.db \"SELECT count(*) FROM notes WHERE holder_device = "
                        "'dev-p'\""),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "1\n");
    /* The payee got the note; the stored payment sent again gets its
     * original receipt, and the payee the note again. */
    CU_ASSERT_EQUAL(payee_notes(payee), 1);
    MQTTClient_deliveryToken token;
    MQTTClient_publish(device, "fogpay/v1/dev/" DEVICE "/notepay", (int)stored_payment_len,
                       stored_payment, 1, 0, &token);
    MQTTClient_waitForCompletion(device, token, WAIT_MS);
    CU_ASSERT_FATAL(receive(&r, &notes[0], &is_note));
    CU_ASSERT_EQUAL(r.status, FOGPAY_STATUS_STORED);
    CU_ASSERT_EQUAL(r.note_count, 1);
    CU_ASSERT_EQUAL(payee_notes(payee), 1);
    pay_with_change(&notes_kept[1], device_text);
    CU_ASSERT_EQUAL(payee_notes(payee), 1);
    MQTTClient_disconnect(payee, 1000);
    MQTTClient_destroy(&payee);
    fogpay_key_free(payee_key);
    fogpay_key_free(thief);
    MQTTClient_disconnect(device, 1000);
    MQTTClient_destroy(&device);
    fogpay_note_issuers_clear(&set);
    fogpay_key_free(device_key);
    fogpay_key_free(gateway_verify);
}

/* fogpay-agent as the device dev-g (its key and state in the directory),
 * with the arguments. */
static int agent_run(const char *args)
{
    return run("%s --dir dev-g.state --key dev-g.key --device dev-g --gateway-key %s -p %d "
               "--password-file dev-g.pw %s",
               agent, gateway_key, broker.port, args);
}

/* fogpay-agent as the payee dev-h. */
static int payee_run(const char *args)
{
    return run("%s --dir dev-h.state --key dev-h.key --device dev-h --gateway-key %s -p %d "
               "--password-file dev-h.pw %s",
               agent, gateway_key, broker.port, args);
}

static void test_agent_withdraw(void)
{
    char args[1024], entity[64];
    CU_ASSERT_EQUAL_FATAL(run("mkdir dev-g.state && %s keygen --out dev-g.key > dev-g.pub && "
                              "echo %s > dev-g.pw",
                              agent, DEVICE_PASS),
                          0);
    CU_ASSERT_EQUAL_FATAL(online("create-entity --name 'Agent Holder Ltd'"), 0);
    first_line(entity, sizeof entity);
    snprintf(args, sizeof args,
             "register-device --device dev-g --public-key \"$(cat dev-g.pub)\" --owner %s "
             "--password-file dev-g.pw",
             entity);
    CU_ASSERT_EQUAL_FATAL(online(args), 0);
    CU_ASSERT_EQUAL_FATAL(online("fund --device dev-g --currency EUR --amount 8.00"), 0);
    /* The stock holds 5.00 x 2 and 0.50 x 1: 5.50 is two notes. */
    CU_ASSERT_EQUAL(agent_run("withdraw --amount 5.50 --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 2.50 EUR notes 2"));
    CU_ASSERT_EQUAL(agent_run("notes"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "note EUR 5.00 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "note EUR 0.50 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "2 notes\n"));
    /* The gateway refuses what its stock cannot make: exit 3, nothing stored. */
    CU_ASSERT_EQUAL(agent_run("withdraw --amount 0.50 --currency EUR"), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "note_stock_short"));
    CU_ASSERT_EQUAL(agent_run("notes"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "2 notes\n"));
    /* A wallet maximum of 6.00 from the gateway (a limits command, queued
     * for the device's session): 5.50 in notes and 1.00 more is over it,
     * refused on the device before anything is signed (exit 5). */
    CU_ASSERT_EQUAL(online("set-limits --device dev-g --wallet-max 6.00 --currency EUR"), 0);
    CU_ASSERT_EQUAL(agent_run("withdraw --amount 1.00 --currency EUR"), 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "refused: wallet_max"));
    CU_ASSERT_EQUAL(agent_run("status"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "wallet_max 600"));
    /* The register and the history of the agent's 0.50 note. */
    char serial[64];
    CU_ASSERT_EQUAL_FATAL(run("sqlite3 l.db \"SELECT lower(hex(serial)) FROM notes WHERE "
                              "holder_device = 'dev-g' AND denomination_minor = 50\""),
                          0);
    first_line(serial, sizeof serial);
    snprintf(args, sizeof args, "notes register --serial %s | tr -d ' \\t\\n'", serial);
    CU_ASSERT_EQUAL(online(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"denomination\":\"0.50\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"state\":\"held\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\"dev-g\""));
    snprintf(args, sizeof args, "notes history --serial %s | tr -d ' \\t\\n'", serial);
    CU_ASSERT_EQUAL(online(args), 0);
    char *loaded = strstr(out, "\"kind\":\"loaded\"");
    char *withdrawn = strstr(out, "\"kind\":\"withdrawn\"");
    CU_ASSERT(loaded != NULL && withdrawn != NULL && loaded < withdrawn);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"device\":\"dev-g\""));
    CU_ASSERT_EQUAL(online("notes history --serial 00000000000000000000000000000000"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(not_found)"));

    /* dev-g pays dev-h 5.00 with its 5.00 note, device to device. */
    CU_ASSERT_EQUAL_FATAL(run("mkdir dev-h.state && %s keygen --out dev-h.key > dev-h.pub && "
                              "echo %s > dev-h.pw",
                              agent, DEVICE_PASS),
                          0);
    snprintf(args, sizeof args,
             "register-device --device dev-h --public-key \"$(cat dev-h.pub)\" --owner %s "
             "--password-file dev-h.pw",
             entity);
    CU_ASSERT_EQUAL_FATAL(online(args), 0);
    CU_ASSERT_EQUAL(payee_run("run --drain"), 0);
    CU_ASSERT_EQUAL(agent_run("pay --notes --to dev-h --to-key \"$(cat dev-h.pub)\" --amount "
                              "5.00 --currency EUR"),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "stored seq"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "notes 1"));
    CU_ASSERT_EQUAL(agent_run("pay --notes --to dev-h --to-key \"$(cat dev-h.pub)\" --amount "
                              "0.20 --currency EUR"),
                    5); /* the store cannot make 0.20: refused on the device */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "note_sum_mismatch"));
    CU_ASSERT_EQUAL(agent_run("notes"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 notes\n"));
    CU_ASSERT_PTR_NULL(strstr(out, "EUR 5.00"));
    CU_ASSERT_EQUAL(payee_run("run --drain"), 0);
    CU_ASSERT_EQUAL(payee_run("notes"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "note EUR 5.00 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 notes\n"));
    CU_ASSERT_EQUAL(run("sqlite3 l.db \"SELECT count(*) FROM notes WHERE holder_device = 'dev-h' "
                        "AND denomination_minor = 500\""),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "1\n");
    /* dev-g gives its 0.50 note back: its wallet is credited, the note is
     * in the stock again, the store empty. */
    CU_ASSERT_EQUAL(agent_run("redeem --amount 0.50 --currency EUR"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "balance 3.00 EUR notes 1"));
    CU_ASSERT_EQUAL(agent_run("notes"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0 notes\n"));
    CU_ASSERT_EQUAL(run("sqlite3 l.db \"SELECT state, holder_device IS NULL FROM notes WHERE "
                        "lower(hex(serial)) = '%s'\"",
                        serial),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "0|1\n");
}

static void test_offline(void)
{
    test_broker_stop(&broker);
    CU_ASSERT_EQUAL(run("%s --db l.db notes load --file g.txt", fogpayctl), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(config)"));
    CU_ASSERT_EQUAL(
        run("%s --db l.db --note-issuers issuers.txt notes load --file g.txt", fogpayctl), 0);
    CU_ASSERT_STRING_EQUAL(out, "loaded 1 notes\n");
    CU_ASSERT_EQUAL(run("%s --db l.db verify", fogpayctl), 0);
}

/* The notes that came back from devices into the stock (the entity's
 * 1.00, the agent's 0.50) go back to the issuer: exported by the gateway
 * (fogpayctl notes export-returned), taken back by the issuer
 * (fogpay-issuer redeem), so that circulation falls by their value; the
 * issuer's circulation is then the gateway's register of notes out of the
 * issuer's hands plus the three notes the gateway never took (r, d, e:
 * 15.00). The same file again is refused; nothing is left to export. */
static void test_back_to_issuer(void)
{
    CU_ASSERT_EQUAL(issue("i.db", "circulation"), 0);
    CU_ASSERT_STRING_EQUAL(out, "EUR 10 34.00\n");
    CU_ASSERT_EQUAL(run("%s --db l.db --note-issuers issuers.txt notes export-returned --key "
                        "gateway.key --out returned.txt",
                        fogpayctl),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "returned 2 notes\n");
    CU_ASSERT_EQUAL(run("wc -l < returned.txt"), 0);
    CU_ASSERT_STRING_EQUAL(out, "2\n");
    char args[512];
    snprintf(args, sizeof args, "redeem --file a.txt --from %s", gateway_key);
    CU_ASSERT_EQUAL(issue("i.db", args), 1); /* not handed back: the issuer's own entries */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "line 1 refused"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(custody_not_holder)"));
    snprintf(args, sizeof args, "redeem --file returned.txt --from %s", gateway_key);
    CU_ASSERT_EQUAL(issue("i.db", args), 0);
    CU_ASSERT_STRING_EQUAL(out, "redeemed 2 notes\n");
    CU_ASSERT_EQUAL(issue("i.db", "circulation"), 0);
    CU_ASSERT_STRING_EQUAL(out, "EUR 8 32.50\n");
    CU_ASSERT_EQUAL(run("sqlite3 l.db 'SELECT state, count(*), sum(denomination_minor) FROM notes "
                        "GROUP BY state = 2 ORDER BY state = 2'"),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "0|5|1750\n2|2|150\n"); /* 17.50 + 15.00 = 32.50 */
    CU_ASSERT_EQUAL(issue("i.db", args), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "(note_double_spend)"));
    CU_ASSERT_EQUAL(run("%s --db l.db --note-issuers issuers.txt notes export-returned --key "
                        "gateway.key --out again.txt",
                        fogpayctl),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "returned 0 notes\n");
    CU_ASSERT_EQUAL(run("%s --db l.db verify", fogpayctl), 0);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s FOGPAYCTL FOGPAY_ISSUER FOGPAY_AGENT\n", argv[0]);
        return 2;
    }
    static char ctl[4096], iss[4096], agt[4096];
    if (realpath(argv[1], ctl) == NULL || realpath(argv[2], iss) == NULL ||
        realpath(argv[3], agt) == NULL) {
        perror("realpath");
        return 2;
    }
    fogpayctl = ctl;
    issuer = iss;
    agent = agt;
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("notes", suite_init, suite_clean);
    CU_add_test(s, "notes loaded into the stock online, the stock listed", test_load_and_stock);
    CU_add_test(s, "each refusal of a load, and a load is all or none", test_refusals);
    CU_add_test(s, "a device withdraws notes over MQTT; a refusal moves nothing", test_withdraw);
    CU_add_test(s, "the agent withdraws notes and lists them", test_agent_withdraw);
    CU_add_test(s, "offline: refused without the issuers, loaded with them", test_offline);
    CU_add_test(s, "the stock's returned notes back to the issuer: circulation falls",
                test_back_to_issuer);
    return testutil_run();
}
