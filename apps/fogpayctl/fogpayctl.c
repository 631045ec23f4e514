/*
 * fogpayctl.c - the operator's command-line tool for a fogpay gateway, in the
 * manner of mosquitto_ctrl.
 *
 * Offline mode (--db FILE) works directly on a ledger file, so a gateway can
 * be initialised, provisioned, verified and exported while its broker is
 * stopped. Every subcommand is a row of one table {name, handler, usage};
 * each handler parses its own options with getopt_long and returns the
 * process exit status: 0 on success, 1 when the ledger refused or is
 * corrupt, 2 for a usage error. Messages name what happened; personal data
 * given on the command line is passed to the ledger and never printed.
 *
 * Ownership: the ledger handle is opened by main for the commands that need
 * it and closed by main; handlers free everything else they allocate.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_clock.h"
#include "fogpay_error.h"
#include "fogpay_export.h"
#include "fogpay_key.h"
#include "fogpay_password.h"
#include "fogpay_limits.h"
#include "fogpay_message.h"
#include "fogpayctl.h"
#include "ledger.h"

#define CTL_EXIT_OK    0
#define CTL_EXIT_FAIL  1
#define CTL_EXIT_USAGE 2

/* Export pages through the ledger this many transfers (or events) at a
 * time (the ledger's own maximum per list call). */
#define CTL_EXPORT_PAGE 1000u

static const char *ctl_program = "fogpayctl";

/* Parses a decimal unsigned integer that must fill the whole text.
 * Returns false for anything else. */
static bool ctl_parse_u64(const char *text, uint64_t *out)
{
    if (text == NULL || *text < '0' || *text > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* Reports a ledger error with the operation that failed; returns the
 * failure exit status. */
static int ctl_fail(const char *what, fogpay_error err)
{
    fprintf(stderr, "%s: %s failed: %s (%s)\n", ctl_program, what, fogpay_error_string(err),
            fogpay_error_name(err));
    return CTL_EXIT_FAIL;
}

static int ctl_usage_error(const char *command, const char *message)
{
    fprintf(stderr, "%s %s: %s\n", ctl_program, command, message);
    return CTL_EXIT_USAGE;
}

/* Parses amount_text in currency_code into minor units and the numeric
 * currency. Prints why on failure. */
static bool ctl_parse_amount(const char *command, const char *amount_text,
                             const char *currency_code, uint64_t *amount_minor, uint16_t *currency)
{
    int exponent = 0;
    if (currency_code == NULL || !fogpay_currency_from_code(currency_code, currency, &exponent)) {
        fprintf(stderr, "%s %s: unknown currency code \"%s\"\n", ctl_program, command,
                currency_code ? currency_code : "");
        return false;
    }
    fogpay_error err = fogpay_amount_parse(amount_text, exponent, amount_minor);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "%s %s: \"%s\" is not an amount in %s: %s\n", ctl_program, command,
                amount_text, currency_code, fogpay_error_string(err));
        return false;
    }
    return true;
}

static int ctl_init(fogpay_ledger *l, int argc, char **argv)
{
    (void)l;
    (void)argc;
    (void)argv;
    printf("initialised\n");
    return CTL_EXIT_OK;
}

/* Prints the count of transfers and events checked, or the problem (exit
 * 1): with the first bad transfer position when the fault is at one, alone
 * when it is in an account or the event chain (the sentence names it). */
static int ctl_verify(fogpay_ledger *l, int argc, char **argv)
{
    uint64_t checked = 0;
    uint64_t bad_position = 0;
    char problem[256] = "";
    fogpay_error err = fogpay_ledger_verify(l, &checked, &bad_position, problem, sizeof problem);
    if (err == FOGPAY_ERR_LEDGER_CORRUPT) {
        if (bad_position != 0) {
            printf("corrupt at position %" PRIu64 ": %s\n", bad_position, problem);
        } else {
            printf("corrupt: %s\n", problem);
        }
        return CTL_EXIT_FAIL;
    }
    if (err != FOGPAY_OK) {
        return ctl_fail("verify", err);
    }
    /* Verification passed, so the event chain is whole up to its head. */
    uint64_t events = 0;
    uint8_t head_hash[FOGPAY_HASH_BYTES];
    err = fogpay_ledger_event_head(l, &events, head_hash);
    if (err != FOGPAY_OK) {
        return ctl_fail("reading the event chain head", err);
    }
    printf("ok: %" PRIu64 " transfers checked, %" PRIu64 " events checked\n", checked, events);
    return CTL_EXIT_OK;
}

typedef struct ctl_export_state {
    bool json;
    uint64_t count;
    uint64_t last_position;
} ctl_export_state;

/* Visitor of fogpay_ledger_transfer_list: one CSV line or JSON object per
 * transfer. */
static int ctl_export_visit(void *ctx, const fogpay_transfer *t,
                            const uint8_t hash[FOGPAY_HASH_BYTES])
{
    ctl_export_state *e = ctx;
    if (e->json) {
        fogpay_export_json(stdout, t, hash, e->count == 0);
    } else {
        fogpay_export_csv(stdout, t, hash);
    }
    e->count++;
    e->last_position = t->position;
    return 0;
}

static int ctl_export(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'}, {"device", required_argument, NULL, 'd'},
        {"entity", required_argument, NULL, 'e'}, {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},     {NULL, 0, NULL, 0},
    };
    fogpay_transfer_filter filter = {0};
    ctl_export_state e = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                e.json = true;
            } else if (strcmp(optarg, "csv") != 0) {
                return ctl_usage_error("export", "--format is csv or json");
            }
            break;
        case 'd':
            filter.device_id = optarg;
            break;
        case 'e':
            filter.entity_id = optarg;
            break;
        case 'F':
            if (!ctl_parse_u64(optarg, &filter.from_ms)) {
                return ctl_usage_error("export", "--from takes unix milliseconds");
            }
            break;
        case 'T':
            if (!ctl_parse_u64(optarg, &filter.to_ms)) {
                return ctl_usage_error("export", "--to takes unix milliseconds");
            }
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (e.json) {
        printf("[\n");
    } else {
        fogpay_export_csv_header(stdout);
    }
    filter.limit = CTL_EXPORT_PAGE;
    for (;;) {
        uint64_t before = e.count;
        fogpay_error err = fogpay_ledger_transfer_list(l, &filter, ctl_export_visit, &e);
        if (err != FOGPAY_OK) {
            return ctl_fail("export", err);
        }
        if (e.count - before < CTL_EXPORT_PAGE) {
            break;
        }
        filter.after_position = e.last_position;
    }
    if (e.json) {
        printf("\n]\n");
    }
    return CTL_EXIT_OK;
}

/* Visitor of fogpay_ledger_event_list: one CSV line or JSON object per
 * event. */
static int ctl_export_event_visit(void *ctx, const fogpay_event *ev,
                                  const uint8_t hash[FOGPAY_HASH_BYTES])
{
    ctl_export_state *e = ctx;
    if (e->json) {
        fogpay_export_event_json(stdout, ev, hash, e->count == 0);
    } else {
        fogpay_export_event_csv(stdout, ev, hash);
    }
    e->count++;
    e->last_position = ev->position;
    return 0;
}

/* The whole event chain in order, a page at a time. */
static int ctl_export_events(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    ctl_export_state e = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt != 'f') {
            return CTL_EXIT_USAGE;
        }
        if (strcmp(optarg, "json") == 0) {
            e.json = true;
        } else if (strcmp(optarg, "csv") != 0) {
            return ctl_usage_error("export-events", "--format is csv or json");
        }
    }
    if (e.json) {
        printf("[\n");
    } else {
        fogpay_export_event_csv_header(stdout);
    }
    for (;;) {
        uint64_t before = e.count;
        fogpay_error err = fogpay_ledger_event_list(l, e.last_position, CTL_EXPORT_PAGE,
                                                    ctl_export_event_visit, &e);
        if (err != FOGPAY_OK) {
            return ctl_fail("export-events", err);
        }
        if (e.count - before < CTL_EXPORT_PAGE) {
            break;
        }
    }
    if (e.json) {
        printf("\n]\n");
    }
    return CTL_EXIT_OK;
}

static int ctl_create_entity(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {"contact", required_argument, NULL, 'c'},
        {"bank-reference", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    fogpay_entity_personal personal = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            personal.name = optarg;
            break;
        case 'c':
            personal.contact = optarg;
            break;
        case 'b':
            personal.bank_ref = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (personal.name == NULL) {
        return ctl_usage_error("create-entity", "--name is required");
    }
    char id[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_error err = fogpay_ledger_entity_create(l, &personal, fogpay_clock_wall_ms(), id);
    if (err != FOGPAY_OK) {
        return ctl_fail("create-entity", err);
    }
    printf("%s\n", id);
    return CTL_EXIT_OK;
}

/* Options shared by register-device: the limits are amounts in one
 * currency. */
typedef struct ctl_limits_text {
    const char *per_payment;
    const char *per_day;
    const char *wallet_max;
    const char *currency;
} ctl_limits_text;

static bool ctl_limits_parse(const char *command, const ctl_limits_text *text,
                             fogpay_device_limits *limits)
{
    const char *amounts[3] = {text->per_payment, text->per_day, text->wallet_max};
    uint64_t *fields[3] = {&limits->per_payment_minor, &limits->per_day_minor,
                           &limits->wallet_max_minor};
    for (size_t i = 0; i < 3; i++) {
        *fields[i] = 0;
        if (amounts[i] == NULL) {
            continue;
        }
        uint16_t currency = 0;
        if (!ctl_parse_amount(command, amounts[i], text->currency, fields[i], &currency)) {
            return false;
        }
    }
    return true;
}

/* Reads the first line of path (the password, never taken on the command
 * line where ps would show it) and hashes it into out. */
static bool ctl_hash_password_file(const char *command, const char *path, char *out, size_t cap)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char line[FOGPAY_PASSWORD_MAX + 2];
    bool ok = f != NULL && fgets(line, sizeof line, f) != NULL;
    if (f != NULL && f != stdin) {
        fclose(f);
    }
    if (ok) {
        line[strcspn(line, "\r\n")] = '\0';
        ok = line[0] != '\0' && fogpay_password_hash(line, strlen(line), 0, out, cap) == FOGPAY_OK;
    }
    memset(line, 0, sizeof line);
    if (!ok) {
        fprintf(stderr, "%s %s: cannot read a non-empty password of at most %d bytes from %s\n",
                ctl_program, command, FOGPAY_PASSWORD_MAX, path);
    }
    return ok;
}

/* Prints "NAME:HASH", a line of the gateway's operators file. */
static int ctl_passwd(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"user", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *user = NULL;
    const char *password_file = "-";
    int opt;
    (void)l;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'u') {
            user = optarg;
        } else if (opt == 'P') {
            password_file = optarg;
        } else {
            return CTL_EXIT_USAGE;
        }
    }
    if (user == NULL || user[0] == '\0' || strchr(user, ':') != NULL) {
        return ctl_usage_error("passwd", "--user NAME (without ':') is required");
    }
    char hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    if (!ctl_hash_password_file("passwd", password_file, hash, sizeof hash)) {
        return CTL_EXIT_USAGE;
    }
    printf("%s:%s\n", user, hash);
    return CTL_EXIT_OK;
}

static int ctl_register_device(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"device", required_argument, NULL, 'd'},   {"public-key", required_argument, NULL, 'k'},
        {"owner", required_argument, NULL, 'o'},    {"per-payment", required_argument, NULL, 'p'},
        {"per-day", required_argument, NULL, 'D'},  {"wallet-max", required_argument, NULL, 'w'},
        {"currency", required_argument, NULL, 'c'}, {"password-file", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *device = NULL;
    const char *password_file = NULL;
    const char *public_key = NULL;
    const char *owner = NULL;
    ctl_limits_text limits_text = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd':
            device = optarg;
            break;
        case 'k':
            public_key = optarg;
            break;
        case 'o':
            owner = optarg;
            break;
        case 'p':
            limits_text.per_payment = optarg;
            break;
        case 'D':
            limits_text.per_day = optarg;
            break;
        case 'w':
            limits_text.wallet_max = optarg;
            break;
        case 'c':
            limits_text.currency = optarg;
            break;
        case 'P':
            password_file = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    char password_hash[FOGPAY_PASSWORD_HASH_TEXT_MAX] = "";
    if (password_file != NULL && !ctl_hash_password_file("register-device", password_file,
                                                         password_hash, sizeof password_hash)) {
        return CTL_EXIT_USAGE;
    }
    if (device == NULL || public_key == NULL || owner == NULL) {
        return ctl_usage_error("register-device",
                               "--device, --public-key and --owner are required");
    }
    fogpay_device_limits limits;
    if (!ctl_limits_parse("register-device", &limits_text, &limits)) {
        return CTL_EXIT_USAGE;
    }
    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_from_public_text(public_key, &key);
    if (err != FOGPAY_OK) {
        fprintf(stderr,
                "%s register-device: --public-key is not \"ed25519:<hex>\" or \"p256:<hex>\"\n",
                ctl_program);
        return CTL_EXIT_USAGE;
    }
    err = fogpay_ledger_device_register(l, device, key, password_hash, owner, &limits,
                                        fogpay_clock_wall_ms());
    fogpay_key_free(key);
    if (err != FOGPAY_OK) {
        return ctl_fail("register-device", err);
    }
    printf("registered %s\n", device);
    return CTL_EXIT_OK;
}

static int ctl_fund(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"device", required_argument, NULL, 'd'},
        {"currency", required_argument, NULL, 'c'},
        {"amount", required_argument, NULL, 'a'},
        {"reference", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *device = NULL;
    const char *currency_code = NULL;
    const char *amount_text = NULL;
    const char *reference = "";
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd':
            device = optarg;
            break;
        case 'c':
            currency_code = optarg;
            break;
        case 'a':
            amount_text = optarg;
            break;
        case 'r':
            reference = optarg;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (device == NULL || currency_code == NULL || amount_text == NULL) {
        return ctl_usage_error("fund", "--device, --currency and --amount are required");
    }
    uint64_t amount_minor = 0;
    uint16_t currency = 0;
    if (!ctl_parse_amount("fund", amount_text, currency_code, &amount_minor, &currency)) {
        return CTL_EXIT_USAGE;
    }
    fogpay_transfer transfer;
    fogpay_error err =
        fogpay_ledger_fund(l, device, currency, amount_minor, reference, fogpay_clock_wall_ms(),
                           &transfer);
    if (err != FOGPAY_OK) {
        return ctl_fail("fund", err);
    }
    uint64_t account = 0;
    int64_t balance = 0;
    err = fogpay_ledger_wallet(l, device, currency, &account);
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_balance(l, account, &balance);
    }
    if (err != FOGPAY_OK) {
        return ctl_fail("reading the balance", err);
    }
    int exponent = 0;
    fogpay_currency_code(currency, &exponent);
    char balance_text[32];
    fogpay_amount_format(balance, exponent, balance_text, sizeof balance_text);
    printf("transfer %" PRIu64 ", balance %s %s\n", transfer.position, balance_text, currency_code);
    return CTL_EXIT_OK;
}

/* Writes a new gateway (or device) key to --out and prints its public text. */
static int ctl_keygen(fogpay_ledger *l, int argc, char **argv)
{
    (void)l;
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"alg", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    fogpay_alg alg = FOGPAY_ALG_EDDSA;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'a':
            if (!fogpay_alg_from_name(optarg, &alg)) {
                return ctl_usage_error("keygen", "--alg is ed25519 or p256");
            }
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
    if (out == NULL) {
        return ctl_usage_error("keygen", "--out FILE is required");
    }
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_error err = fogpay_key_create_file(alg, out, text, sizeof text);
    if (err != FOGPAY_OK) {
        return ctl_fail("keygen", err);
    }
    printf("%s\n", text);
    return CTL_EXIT_OK;
}

/* How a subcommand reaches the ledger. */
typedef enum ctl_db_need {
    CTL_DB_NONE,   /* no database */
    CTL_DB_OPEN,   /* an existing, initialised database */
    CTL_DB_CREATE, /* created when absent */
} ctl_db_need;

typedef struct ctl_command {
    const char *name;
    int (*handler)(fogpay_ledger *l, int argc, char **argv);
    ctl_db_need db;
    const char *usage;
} ctl_command;

static const ctl_command ctl_commands[] = {
    {"init", ctl_init, CTL_DB_CREATE, "--db FILE init"},
    {"verify", ctl_verify, CTL_DB_OPEN, "--db FILE verify"},
    {"export", ctl_export, CTL_DB_OPEN,
     "--db FILE export [--format csv|json] [--device D] [--entity E] [--from MS] [--to MS]"},
    {"export-events", ctl_export_events, CTL_DB_OPEN,
     "--db FILE export-events [--format csv|json]"},
    {"create-entity", ctl_create_entity, CTL_DB_OPEN,
     "--db FILE create-entity --name NAME [--contact C] [--bank-reference R]"},
    {"register-device", ctl_register_device, CTL_DB_OPEN,
     "--db FILE register-device --device D --public-key ed25519:HEX --owner ENTITY\n"
     "              [--per-payment A] [--per-day A] [--wallet-max A] [--currency CUR]\n"
     "              [--password-file FILE|-]"},
    {"fund", ctl_fund, CTL_DB_OPEN,
     "--db FILE fund --device D --currency CUR --amount 1.50 [--reference R]"},
    {"keygen", ctl_keygen, CTL_DB_NONE, "keygen --out FILE [--alg ed25519|p256]"},
    {"passwd", ctl_passwd, CTL_DB_NONE, "passwd --user NAME [--password-file FILE|-]"},
};

static void ctl_print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s -h HOST [-p PORT] [-u USER] [-P PASS] [--cafile CA] [--timeout MS]\n"
            "              CONTROL-COMMAND [--field value]...\n"
            "       %s [--db FILE] COMMAND [OPTIONS]\n\n"
            "control commands (online): createLegalEntity registerDevice suspendDevice\n"
            "  resumeDevice revokeDevice setLimits fundWallet transferOwnership getBalance\n"
            "  getTransfer listTransfers verifyLedger refund getSyncStatus\n\noffline commands:\n",
            ctl_program, ctl_program);
    for (size_t i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
        fprintf(out, "  %s %s\n", ctl_program, ctl_commands[i].usage);
    }
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"db", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'H'},
        {"cafile", required_argument, NULL, 'C'},
        {"timeout", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = NULL;
    fogpayctl_connection conn = {.host = NULL, .port = 1883, .timeout_ms = 5000};
    uint64_t number = 0;
    int opt;
    /* "+" stops at the command name, so its options are left for it. */
    while ((opt = getopt_long(argc, argv, "+h:p:u:P:", options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            conn.host = optarg;
            break;
        case 'p':
            if (!ctl_parse_u64(optarg, &number) || number == 0 || number > 65535) {
                fprintf(stderr, "%s: -p takes a port number\n", ctl_program);
                return CTL_EXIT_USAGE;
            }
            conn.port = (int)number;
            break;
        case 'u':
            conn.username = optarg;
            break;
        case 'P':
            conn.password = optarg;
            break;
        case 'C':
            conn.cafile = optarg;
            break;
        case 't':
            if (!ctl_parse_u64(optarg, &number) || number == 0 || number > 600000) {
                fprintf(stderr, "%s: --timeout takes milliseconds (1 to 600000)\n", ctl_program);
                return CTL_EXIT_USAGE;
            }
            conn.timeout_ms = (int)number;
            break;
        case 'D':
            db_path = optarg;
            break;
        case 'H':
            ctl_print_usage(stdout);
            return CTL_EXIT_OK;
        default:
            ctl_print_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        ctl_print_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *name = argv[optind];
    const ctl_command *command = NULL;
    for (size_t i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
        if (strcmp(ctl_commands[i].name, name) == 0) {
            command = &ctl_commands[i];
        }
    }
    if (command == NULL && conn.host != NULL) {
        return fogpayctl_online(&conn, argc - optind, argv + optind);
    }
    if (command == NULL) {
        fprintf(stderr, "%s: unknown command \"%s\"\n", ctl_program, name);
        ctl_print_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    fogpay_ledger *ledger = NULL;
    if (command->db != CTL_DB_NONE) {
        if (db_path == NULL) {
            fprintf(stderr, "%s %s: --db FILE is required\n", ctl_program, name);
            return CTL_EXIT_USAGE;
        }
        fogpay_error err = fogpay_ledger_open(db_path, command->db == CTL_DB_CREATE, &ledger);
        if (err != FOGPAY_OK) {
            fprintf(stderr, "%s: cannot open the ledger %s: %s (%s)\n", ctl_program, db_path,
                    fogpay_error_string(err), fogpay_error_name(err));
            return CTL_EXIT_FAIL;
        }
    }
    /* The command's own options start after its name. */
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 1;
    int status = command->handler(ledger, sub_argc, sub_argv);
    if (ledger != NULL) {
        fogpay_ledger_close(ledger);
    }
    return status;
}
