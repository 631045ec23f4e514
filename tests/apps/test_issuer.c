/*
 * test_issuer.c - fogpay-issuer on a real ledger file: keygen, issue
 * (handed to a gateway's key, and held by the issuer), the circulation,
 * the trust file the gateways read, a rotation with its overlap and the
 * retirement of the old key; each refusal (a denomination the currency
 * lacks, a retired or unknown key, a second keygen, retiring the last key)
 * issues nothing.
 *
 * The program under test is the built fogpay-issuer, passed as argv[1];
 * the notes it writes are opened with the library (fogpay_note_open,
 * fogpay_custody_open) against the trust file it writes.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fogpay_note.h"
#include "testutil.h"

#define CMD_MAX   4096
#define OUT_MAX   65536
#define NOTES_MAX 8

static const char *issuer_bin;
static char dir[256];
static char out[OUT_MAX];

/* Runs fogpay-issuer --db DIR/i.db with the arguments, stdout into out;
 * its exit status. */
static int issuer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int issuer(const char *fmt, ...)
{
    char args[CMD_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char cmd[CMD_MAX];
    snprintf(cmd, sizeof cmd, "cd %s && %s --db i.db %s 2>err.txt", dir, issuer_bin, args);
    return testutil_shell(out, sizeof out, "%s", cmd);
}

/* The first line of out, its newline removed, into text. */
static void first_line(char *text, size_t cap)
{
    size_t n = strcspn(out, "\n");
    n = n < cap - 1 ? n : cap - 1;
    memcpy(text, out, n);
    text[n] = '\0';
}

/* Reads the notes of DIR/name; their count. */
static size_t read_notes(const char *name, fogpay_held_note *held)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    static char line[FOGPAY_NOTE_LINE_MAX + 2];
    size_t n = 0;
    while (n < NOTES_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        CU_ASSERT_EQUAL(fogpay_note_line_parse(line, &held[n]), FOGPAY_OK);
        n++;
    }
    fclose(f);
    return n;
}

/* Loads the trust file DIR/issuers.txt that `keys --out` wrote. */
static void load_trust(fogpay_note_issuers *set)
{
    fogpay_note_issuers_clear(set);
    CU_ASSERT_EQUAL_FATAL(issuer("keys --out issuers.txt"), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/issuers.txt", dir);
    CU_ASSERT_EQUAL_FATAL(fogpay_note_issuers_load(path, set), FOGPAY_OK);
}

static bool file_exists(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_issue_rotate_retire(void)
{
    static fogpay_held_note held[NOTES_MAX];
    fogpay_note_issuers set = {0};
    char k1[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    char k2[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    char gw[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    uint64_t now_s = (uint64_t)time(NULL);

    CU_ASSERT_EQUAL_FATAL(issuer("init"), 0);
    CU_ASSERT_EQUAL_FATAL(issuer("keygen --out k1.key"), 0);
    first_line(k1, sizeof k1);
    CU_ASSERT_EQUAL(issuer("keygen --out k1b.key"), 2); /* one keygen; then rotate */
    char path[512];
    snprintf(path, sizeof path, "%s/gw.key", dir);
    CU_ASSERT_EQUAL_FATAL(fogpay_key_create_file(FOGPAY_ALG_EDDSA, path, gw, sizeof gw), FOGPAY_OK);

    /* Three 5.00 EUR notes for the gateway's stock. */
    CU_ASSERT_EQUAL_FATAL(issuer("issue --key k1.key --currency EUR --denomination 5.00 "
                                 "--count 3 --to %s --expiry-days 365 --out a.txt",
                                 gw),
                          0);
    CU_ASSERT_EQUAL_FATAL(read_notes("a.txt", held), 3);
    load_trust(&set);
    CU_ASSERT_EQUAL(set.count, 1);
    fogpay_key *issuer_key = set.issuer[0].key;
    for (size_t i = 0; i < 3; i++) {
        fogpay_note n;
        CU_ASSERT_EQUAL(fogpay_note_open(held[i].note, held[i].note_len, &set, now_s, &n, NULL),
                        FOGPAY_OK);
        CU_ASSERT_EQUAL(n.currency, 978);
        CU_ASSERT_EQUAL(n.denomination_minor, 500);
        CU_ASSERT(n.expiry_s >= now_s + 364 * 86400u);
        uint8_t link[FOGPAY_HASH_BYTES];
        fogpay_note_link(held[i].note, held[i].note_len, link);
        fogpay_custody c;
        CU_ASSERT_EQUAL(fogpay_custody_open(held[i].custody, held[i].custody_len, issuer_key,
                                            n.serial, link, &c),
                        FOGPAY_OK);
        CU_ASSERT_STRING_EQUAL(c.holder_key, gw);
    }
    CU_ASSERT(memcmp(held[0].note, held[1].note, held[0].note_len) != 0);
    CU_ASSERT_EQUAL(issuer("circulation"), 0);
    CU_ASSERT_STRING_EQUAL(out, "EUR 3 15.00\n");

    /* A 3.00 EUR note does not exist: nothing is issued or written. */
    CU_ASSERT_EQUAL(issuer("issue --key k1.key --currency EUR --denomination 3.00 --count 2 "
                           "--out bad.txt"),
                    1);
    CU_ASSERT(!file_exists("bad.txt"));
    CU_ASSERT_EQUAL(issuer("circulation"), 0);
    CU_ASSERT_STRING_EQUAL(out, "EUR 3 15.00\n");

    /* Rotation: the new key issues, the old one's notes stay good. */
    CU_ASSERT_EQUAL(issuer("retire --public-key %s", k1), 1); /* the last active key */
    CU_ASSERT_EQUAL_FATAL(issuer("rotate --out k2.key"), 0);
    first_line(k2, sizeof k2);
    CU_ASSERT_EQUAL_FATAL(issuer("issue --key k2.key --currency USD --denomination 0.25 --count "
                                 "2 --out b.txt"),
                          0);
    load_trust(&set);
    CU_ASSERT_EQUAL(set.count, 2);
    fogpay_note n;
    CU_ASSERT_EQUAL(fogpay_note_open(held[0].note, held[0].note_len, &set, now_s, &n, NULL),
                    FOGPAY_OK);
    static fogpay_held_note usd[NOTES_MAX];
    CU_ASSERT_EQUAL_FATAL(read_notes("b.txt", usd), 2);
    CU_ASSERT_EQUAL(usd[0].custody_len, 0); /* held by its issuer */
    CU_ASSERT_EQUAL(fogpay_note_open(usd[0].note, usd[0].note_len, &set, now_s, &n, NULL),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(n.expiry_s, 0);

    /* The old key retired: its notes are refused, it issues no more. */
    CU_ASSERT_EQUAL(issuer("retire --public-key %s", k1), 0);
    CU_ASSERT_EQUAL(issuer("keys"), 0);
    char line[2 * FOGPAY_PUBLIC_KEY_TEXT_MAX + 32];
    snprintf(line, sizeof line, "%s retired\n%s active\n", k1, k2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, line));
    load_trust(&set);
    CU_ASSERT_EQUAL(fogpay_note_open(held[0].note, held[0].note_len, &set, now_s, &n, NULL),
                    FOGPAY_ERR_NOTE_ISSUER_RETIRED);
    CU_ASSERT_EQUAL(fogpay_note_open(usd[1].note, usd[1].note_len, &set, now_s, &n, NULL),
                    FOGPAY_OK);
    CU_ASSERT_EQUAL(issuer("issue --key k1.key --currency EUR --denomination 5.00 --count 1 "
                           "--out c.txt"),
                    1);
    CU_ASSERT(!file_exists("c.txt"));
    CU_ASSERT_EQUAL(issuer("issue --key gw.key --currency EUR --denomination 5.00 --count 1 "
                           "--out c.txt"),
                    1); /* a key the issuer never had */
    CU_ASSERT(!file_exists("c.txt"));
    CU_ASSERT_EQUAL(issuer("retire --public-key %s", k2), 1);
    CU_ASSERT_EQUAL(issuer("circulation"), 0);
    CU_ASSERT_STRING_EQUAL(out, "USD 2 0.50\nEUR 3 15.00\n");
    fogpay_note_issuers_clear(&set);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FOGPAY_ISSUER\n", argv[0]);
        return 2;
    }
    static char bin[4096];
    if (realpath(argv[1], bin) == NULL) {
        perror(argv[1]);
        return 2;
    }
    issuer_bin = bin; /* the test runs it from its own directory */
    testutil_tempdir(dir, sizeof dir);
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("issuer", NULL, NULL);
    CU_add_test(s, "issue, rotate, retire; refusals issue nothing", test_issue_rotate_retire);
    int status = testutil_run();
    testutil_rmtree(dir);
    return status;
}
