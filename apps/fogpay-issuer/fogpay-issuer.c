/*
 * fogpay-issuer.c - the issuer of digital fiat bearer notes: its keys, the
 * notes it issues, and its ledger of what is in circulation.
 *
 *   fogpay-issuer --db issuer.db init
 *   fogpay-issuer --db issuer.db keygen --out issuer.key
 *   fogpay-issuer --db issuer.db issue --key issuer.key --currency EUR \
 *       --denomination 5.00 --count 100 --out notes.txt [--to ed25519:<hex>]
 *       [--expiry-days 365]
 *   fogpay-issuer --db issuer.db rotate --out issuer-2.key
 *   fogpay-issuer --db issuer.db retire --public-key ed25519:<hex>
 *   fogpay-issuer --db issuer.db keys [--out issuers.txt]
 *   fogpay-issuer --db issuer.db circulation
 *   fogpay-issuer --db issuer.db redeem --file returned.txt --from ed25519:<gateway key>
 *
 * The commands are rows of one table {name, handler, usage}; each parses
 * its own options with getopt_long and returns the exit status (0 done, 1
 * refused or failed, 2 a usage error). `keys` writes the trust file that
 * gateways read (plugin_opt_note_issuers). `issue` writes one note a line
 * (fogpay_note_line_format), after the ledger has recorded them; with --to
 * each note's first custody entry hands it from the issuer to that key (a
 * gateway's, for its stock), else the issuer holds it. `redeem` takes
 * back the notes a gateway handed back (fogpayctl notes export-returned:
 * each line's custody entry signed by that gateway's key naming one of
 * the issuer's), all or none: they leave circulation.
 *
 * Ownership: main opens the ledger and closes it; handlers free what they
 * allocate.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fogpay_cli.h"
#include "fogpay_clock.h"
#include "fogpay_currency.h"
#include "fogpay_note.h"
#include "issuer.h"

#define PROGRAM "fogpay-issuer"

/* The longest expiry an issuer may print: fifty years. */
#define ISSUER_EXPIRY_DAYS_MAX 18250u

typedef int (*issuer_handler)(sqlite3 *db, int argc, char **argv);

static int issuer_init(sqlite3 *db, int argc, char **argv)
{
    (void)db;
    (void)argc;
    (void)argv;
    printf("initialised\n");
    return FOGPAY_CLI_EXIT_OK;
}

/* A new key written to out_path and recorded active; keygen wants none
 * before it, rotate one at least. */
static int issuer_new_key(sqlite3 *db, const char *command, int argc, char **argv, bool rotate)
{
    uint64_t active = 0;
    fogpay_error err = issuer_key_count(db, &active);
    if (err != FOGPAY_OK) {
        return fogpay_cli_fail(PROGRAM, command, err);
    }
    if (rotate ? active == 0 : active != 0) {
        return fogpay_cli_usage_error(PROGRAM, command,
                                      rotate ? "the issuer has no key yet: use keygen"
                                             : "the issuer has a key: use rotate");
    }
    if (argc != 3 || strcmp(argv[1], "--out") != 0) {
        return fogpay_cli_usage_error(PROGRAM, command, "--out FILE is required");
    }
    const char *out = argv[2];
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    err = fogpay_key_create_file(FOGPAY_ALG_EDDSA, out, text, sizeof text);
    fogpay_key *key = NULL;
    if (err == FOGPAY_OK) {
        err = fogpay_key_from_public_text(text, &key);
    }
    if (err == FOGPAY_OK) {
        err = issuer_key_add(db, key, fogpay_clock_wall_ms());
    }
    fogpay_key_free(key);
    if (err != FOGPAY_OK) {
        return fogpay_cli_fail(PROGRAM, command, err);
    }
    printf("%s\n", text);
    return FOGPAY_CLI_EXIT_OK;
}

static int issuer_keygen(sqlite3 *db, int argc, char **argv)
{
    return issuer_new_key(db, "keygen", argc, argv, false);
}

static int issuer_rotate(sqlite3 *db, int argc, char **argv)
{
    return issuer_new_key(db, "rotate", argc, argv, true);
}

static int issuer_retire(sqlite3 *db, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--public-key") != 0) {
        return fogpay_cli_usage_error(PROGRAM, "retire", "--public-key ed25519:<hex> is required");
    }
    fogpay_error err = issuer_key_retire(db, argv[2], fogpay_clock_wall_ms());
    if (err == FOGPAY_ERR_NOT_FOUND) {
        fprintf(stderr, "%s retire: %s is not an active key of this issuer\n", PROGRAM, argv[2]);
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    if (err == FOGPAY_ERR_INVALID_ARGUMENT) {
        fprintf(stderr, "%s retire: %s is the issuer's last active key: rotate first\n", PROGRAM,
                argv[2]);
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    if (err != FOGPAY_OK) {
        return fogpay_cli_fail(PROGRAM, "retire", err);
    }
    printf("retired %s\n", argv[2]);
    return FOGPAY_CLI_EXIT_OK;
}

static int issuer_keys(sqlite3 *db, int argc, char **argv)
{
    FILE *out = stdout;
    if (argc == 3 && strcmp(argv[1], "--out") == 0) {
        out = fopen(argv[2], "w");
        if (out == NULL) {
            return fogpay_cli_fail(PROGRAM, "keys", FOGPAY_ERR_IO);
        }
    } else if (argc != 1) {
        return fogpay_cli_usage_error(PROGRAM, "keys", "takes only --out FILE");
    }
    fogpay_error err = issuer_keys_write(db, out);
    if (out != stdout && fclose(out) != 0 && err == FOGPAY_OK) {
        err = FOGPAY_ERR_IO;
    }
    return err == FOGPAY_OK ? FOGPAY_CLI_EXIT_OK : fogpay_cli_fail(PROGRAM, "keys", err);
}

static int issuer_circulation(sqlite3 *db, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fogpay_error err = issuer_circulation_write(db, stdout);
    return err == FOGPAY_OK ? FOGPAY_CLI_EXIT_OK : fogpay_cli_fail(PROGRAM, "circulation", err);
}

/* The note lines of path (at most ISSUER_ISSUE_COUNT_MAX) into *held, on
 * the heap (the caller frees it). */
static fogpay_error redeem_read(const char *path, fogpay_held_note **held, size_t *count,
                                size_t *bad_line)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    *held = calloc(ISSUER_ISSUE_COUNT_MAX, sizeof **held);
    fogpay_error err = f == NULL ? FOGPAY_ERR_IO : *held == NULL ? FOGPAY_ERR_NO_MEMORY : FOGPAY_OK;
    static char line[FOGPAY_NOTE_LINE_MAX + 2];
    *count = 0;
    while (err == FOGPAY_OK && f != NULL && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (*count >= ISSUER_ISSUE_COUNT_MAX) {
            err = FOGPAY_ERR_FIELD_RANGE;
        } else if (fogpay_note_line_parse(line, &(*held)[*count]) != FOGPAY_OK) {
            err = FOGPAY_ERR_TEXT_INVALID;
        } else {
            (*count)++;
        }
        *bad_line = *count + 1;
    }
    if (f != NULL && f != stdin) {
        fclose(f);
    }
    return err;
}

/* redeem --file FILE --from ed25519:<gateway key>: the notes a gateway
 * handed back (fogpayctl notes export-returned) leave circulation. */
static int issuer_redeem(sqlite3 *db, int argc, char **argv)
{
    const char *path = NULL;
    const char *from_text = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--file") == 0) {
            path = argv[i + 1];
        } else if (strcmp(argv[i], "--from") == 0) {
            from_text = argv[i + 1];
        }
    }
    if (argc != 5 || path == NULL || from_text == NULL) {
        return fogpay_cli_usage_error(PROGRAM, "redeem",
                                      "--file FILE and --from <the gateway's key> are required");
    }
    fogpay_key *from = NULL;
    if (fogpay_key_from_public_text(from_text, &from) != FOGPAY_OK) {
        return fogpay_cli_usage_error(PROGRAM, "redeem", "--from is not a public key");
    }
    fogpay_held_note *held = NULL;
    size_t count = 0, line = 0, refused = 0;
    fogpay_error err = redeem_read(path, &held, &count, &line);
    if (err == FOGPAY_OK && count > 0) {
        err = issuer_notes_redeem(db, from, held, count, fogpay_clock_wall_ms(), &refused);
        line = refused + 1;
    }
    free(held);
    fogpay_key_free(from);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "%s redeem: line %zu refused: %s (%s)\n", PROGRAM, line,
                fogpay_error_string(err), fogpay_error_name(err));
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    printf("redeemed %zu notes\n", count);
    return FOGPAY_CLI_EXIT_OK;
}

/* What one issue run prints: its options, parsed and checked. */
typedef struct issue_request {
    const char *key_path;
    const char *out_path;
    const char *to_text;
    uint16_t currency;
    uint64_t denomination_minor;
    uint64_t count;
    uint64_t expiry_days;
} issue_request;

static int issue_parse(int argc, char **argv, issue_request *r)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"currency", required_argument, NULL, 'c'},
        {"denomination", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"to", required_argument, NULL, 't'},
        {"expiry-days", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    const char *denomination = NULL;
    int exponent = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'k':
            r->key_path = optarg;
            break;
        case 'o':
            r->out_path = optarg;
            break;
        case 't':
            r->to_text = optarg;
            break;
        case 'c':
            if (!fogpay_currency_from_code(optarg, &r->currency, &exponent)) {
                return fogpay_cli_usage_error(PROGRAM, "issue", "--currency is an ISO 4217 code");
            }
            break;
        case 'd':
            denomination = optarg;
            break;
        case 'n':
            if (!fogpay_cli_parse_u64(optarg, ISSUER_ISSUE_COUNT_MAX, &r->count) || r->count == 0) {
                return fogpay_cli_usage_error(PROGRAM, "issue", "--count is 1 to 10000");
            }
            break;
        case 'e':
            if (!fogpay_cli_parse_u64(optarg, ISSUER_EXPIRY_DAYS_MAX, &r->expiry_days) ||
                r->expiry_days == 0) {
                return fogpay_cli_usage_error(PROGRAM, "issue", "--expiry-days is 1 to 18250");
            }
            break;
        default:
            return FOGPAY_CLI_EXIT_USAGE;
        }
    }
    if (!r->key_path || !r->out_path || r->currency == 0 || !denomination || r->count == 0) {
        return fogpay_cli_usage_error(PROGRAM, "issue",
                                      "--key, --currency, --denomination, --count and --out are "
                                      "required");
    }
    if (fogpay_amount_parse(denomination, exponent, &r->denomination_minor) != FOGPAY_OK) {
        return fogpay_cli_usage_error(PROGRAM, "issue", "--denomination is an amount, e.g. 5.00");
    }
    return FOGPAY_CLI_EXIT_OK;
}

/* Signs note i of the run with issuer (and hands it to `to` when given). */
static fogpay_error issue_one(const fogpay_key *issuer, const fogpay_key *to,
                              const issue_request *r, uint64_t now_s, fogpay_note *n,
                              fogpay_held_note *held)
{
    memset(n, 0, sizeof *n);
    memset(held, 0, sizeof *held);
    n->currency = r->currency;
    n->denomination_minor = r->denomination_minor;
    n->issued_s = now_s;
    n->expiry_s = r->expiry_days ? now_s + r->expiry_days * 86400u : 0;
    fogpay_error err = fogpay_note_serial_new(n->serial);
    if (err == FOGPAY_OK) {
        err = fogpay_note_sign(issuer, n, held->note, sizeof held->note, &held->note_len);
    }
    if (err != FOGPAY_OK || to == NULL) {
        return err;
    }
    fogpay_custody c;
    memset(&c, 0, sizeof c);
    memcpy(c.serial, n->serial, sizeof c.serial);
    c.time_s = now_s;
    err = fogpay_note_link(held->note, held->note_len, c.prev_link);
    if (err == FOGPAY_OK) {
        err = fogpay_key_public_text(to, c.holder_key, sizeof c.holder_key);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_custody_sign(issuer, &c, held->custody, sizeof held->custody,
                                  &held->custody_len);
    }
    return err;
}

/* Writes the run's notes to path, created exclusively, and syncs it. */
static fogpay_error issue_write(const char *path, const fogpay_held_note *held, size_t count)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return FOGPAY_ERR_IO;
    }
    static char line[FOGPAY_NOTE_LINE_MAX];
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; err == FOGPAY_OK && i < count; i++) {
        err = fogpay_note_line_format(&held[i], line, sizeof line);
        if (err == FOGPAY_OK && fprintf(f, "%s\n", line) < 0) {
            err = FOGPAY_ERR_IO;
        }
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        err = err == FOGPAY_OK ? FOGPAY_ERR_IO : err;
    }
    if (fclose(f) != 0 && err == FOGPAY_OK) {
        err = FOGPAY_ERR_IO;
    }
    return err;
}

/* The key's state as a note's reason: only an active key issues. */
static fogpay_error issue_key_check(sqlite3 *db, const fogpay_key *key)
{
    issuer_key_state state = ISSUER_KEY_ACTIVE;
    fogpay_error err = issuer_key_state_of(db, key, &state);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_ERR_NOTE_ISSUER_UNKNOWN;
    }
    return err == FOGPAY_OK && state == ISSUER_KEY_RETIRED ? FOGPAY_ERR_NOTE_ISSUER_RETIRED : err;
}

static int issuer_issue(sqlite3 *db, int argc, char **argv)
{
    issue_request r = {0};
    int status = issue_parse(argc, argv, &r);
    if (status != FOGPAY_CLI_EXIT_OK) {
        return status;
    }
    if (!fogpay_note_denomination_valid(r.currency, r.denomination_minor)) {
        return fogpay_cli_fail(PROGRAM, "issue", FOGPAY_ERR_NOTE_DENOMINATION);
    }
    fogpay_key *issuer = NULL;
    fogpay_key *to = NULL;
    fogpay_error err = fogpay_key_load(r.key_path, &issuer);
    if (err == FOGPAY_OK) {
        err = issue_key_check(db, issuer);
    }
    if (err == FOGPAY_OK && r.to_text) {
        err = fogpay_key_from_public_text(r.to_text, &to);
    }
    fogpay_note *notes = calloc(r.count, sizeof *notes);
    fogpay_held_note *held = calloc(r.count, sizeof *held);
    if (err == FOGPAY_OK && (!notes || !held)) {
        err = FOGPAY_ERR_NO_MEMORY;
    }
    uint64_t now_s = fogpay_clock_wall_ms() / 1000u;
    for (uint64_t i = 0; err == FOGPAY_OK && i < r.count; i++) {
        err = issue_one(issuer, to, &r, now_s, &notes[i], &held[i]);
    }
    if (err == FOGPAY_OK) {
        err = issuer_notes_record(db, issuer, notes, held, r.count);
    }
    if (err == FOGPAY_OK) {
        err = issue_write(r.out_path, held, r.count);
    }
    free(notes);
    free(held);
    fogpay_key_free(issuer);
    fogpay_key_free(to);
    if (err != FOGPAY_OK) {
        return fogpay_cli_fail(PROGRAM, "issue", err);
    }
    printf("issued %llu\n", (unsigned long long)r.count);
    return FOGPAY_CLI_EXIT_OK;
}

typedef struct issuer_command {
    const char *name;
    issuer_handler run;
    bool create; /* creates the ledger when it is missing */
    const char *usage;
} issuer_command;

static const issuer_command issuer_commands[] = {
    {"init", issuer_init, true, "init"},
    {"keygen", issuer_keygen, false, "keygen --out FILE"},
    {"rotate", issuer_rotate, false, "rotate --out FILE"},
    {"retire", issuer_retire, false, "retire --public-key ed25519:<hex>"},
    {"keys", issuer_keys, false, "keys [--out FILE]"},
    {"issue", issuer_issue, false,
     "issue --key FILE --currency EUR --denomination 5.00 --count N --out FILE\n"
     "        [--to ed25519:<hex>] [--expiry-days D]"},
    {"circulation", issuer_circulation, false, "circulation"},
    {"redeem", issuer_redeem, false, "redeem --file FILE --from ed25519:<gateway key>"},
};

static void issuer_usage(FILE *out)
{
    fprintf(out, "usage: %s --db FILE COMMAND [options]\n", PROGRAM);
    for (size_t i = 0; i < sizeof issuer_commands / sizeof issuer_commands[0]; i++) {
        fprintf(out, "  %s\n", issuer_commands[i].usage);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--db") != 0) {
        issuer_usage(stderr);
        return FOGPAY_CLI_EXIT_USAGE;
    }
    const issuer_command *command = NULL;
    for (size_t i = 0; i < sizeof issuer_commands / sizeof issuer_commands[0]; i++) {
        if (strcmp(issuer_commands[i].name, argv[3]) == 0) {
            command = &issuer_commands[i];
        }
    }
    if (command == NULL) {
        issuer_usage(stderr);
        return FOGPAY_CLI_EXIT_USAGE;
    }
    sqlite3 *db = NULL;
    char why[256] = "";
    fogpay_error err = issuer_open(argv[2], command->create, &db, why, sizeof why);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "%s: cannot open %s: %s\n", PROGRAM, argv[2], why);
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    optind = 1;
    int status = command->run(db, argc - 3, argv + 3);
    issuer_close(db);
    return status;
}
