/*
 * fogpayctl.c - the operator's command-line tool for a fogpay gateway, in the
 * manner of mosquitto_ctrl: main, and the commands that work only on a
 * ledger file.
 *
 * Two kinds of command. The control commands (createLegalEntity and the
 * rest of control/control.c's table, each also under a shell-friendly
 * alias such as create-entity) run through fogpayctl_command.c on either
 * path: online (-h HOST) to the gateway's $CONTROL/fogpay/v1, offline
 * (--db FILE) to the same control handler on the opened ledger, with the
 * same request, validation and messages. The offline-only commands (init,
 * verify, export, export-events, verify-receipt, keygen, passwd) are rows of one table
 * {name, handler, db, usage}; each handler parses its own options with
 * getopt_long and returns the process exit status: 0 on success, 1 when the
 * ledger refused or is corrupt, 2 for a usage error. Passwords are read
 * from a file or standard input, never from the command line.
 *
 * Ownership: the ledger handle is opened by main for the commands that need
 * it and closed by main; handlers free everything else they allocate.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_cli.h"
#include "fogpay_cose.h"
#include "fogpay_hash.h"
#include "fogpay_error.h"
#include "fogpay_export.h"
#include "fogpay_password.h"
#include "fogpay_limits.h"
#include "fogpayctl.h"
#include "fogpay_note.h"
#include "ledger.h"

#define CTL_EXIT_OK    FOGPAY_CLI_EXIT_OK
#define CTL_EXIT_FAIL  FOGPAY_CLI_EXIT_FAILURE
#define CTL_EXIT_USAGE FOGPAY_CLI_EXIT_USAGE

/* Export pages through the ledger this many transfers (or events) at a
 * time (the ledger's own maximum per list call). */
#define CTL_EXPORT_PAGE 1000u

static const char *ctl_program = FOGPAYCTL_PROGRAM;

/* Reports a ledger error with the operation that failed; returns the
 * failure exit status. */
static int ctl_fail(const char *what, fogpay_error err)
{
    return fogpay_cli_fail(ctl_program, what, err);
}

static int ctl_usage_error(const char *command, const char *message)
{
    return fogpay_cli_usage_error(ctl_program, command, message);
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
    bool no_memory;
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
        if (!fogpay_export_json(stdout, t, hash, e->count == 0)) {
            e->no_memory = true;
            return 1;
        }
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
            if (!fogpay_cli_parse_u64(optarg, UINT64_MAX, &filter.from_ms)) {
                return ctl_usage_error("export", "--from takes unix milliseconds");
            }
            break;
        case 'T':
            if (!fogpay_cli_parse_u64(optarg, UINT64_MAX, &filter.to_ms)) {
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
        if (err == FOGPAY_OK && e.no_memory) {
            err = FOGPAY_ERR_NO_MEMORY;
        }
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
        if (!fogpay_export_event_json(stdout, ev, hash, e->count == 0)) {
            e->no_memory = true;
            return 1;
        }
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
        if (err == FOGPAY_OK && e.no_memory) {
            err = FOGPAY_ERR_NO_MEMORY;
        }
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

/* Reads the first line of path ("-": standard input) and hashes it into
 * out. */
static bool ctl_hash_password_file(const char *command, const char *path, char *out, size_t cap)
{
    char line[FOGPAY_PASSWORD_MAX + 2];
    bool ok = fogpay_cli_read_line(path, line, sizeof line) &&
              strlen(line) <= FOGPAY_PASSWORD_MAX &&
              fogpay_password_hash(line, strlen(line), 0, out, cap) == FOGPAY_OK;
    memset(line, 0, sizeof line);
    if (!ok) {
        fprintf(stderr, "%s %s: cannot read a non-empty password of at most %d bytes from %s\n",
                ctl_program, command, FOGPAY_PASSWORD_MAX, path);
    }
    return ok;
}

/* Prints "NAME:HASH", a line of the gateway's operators file. */
/* Reads a signed receipt of at most FOGPAY_MESSAGE_MAX bytes from path
 * ("-": standard input); its length, 0 when it cannot be read or is
 * larger. */
static size_t ctl_read_receipt(const char *path, uint8_t *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(out, 1, FOGPAY_MESSAGE_MAX + 1, f);
    if (f != stdin) {
        fclose(f);
    }
    return n <= FOGPAY_MESSAGE_MAX ? n : 0;
}

/* Checks a receipt as its device would, against the ledger's whole key
 * history: the key its kid names, the signature, and the receipt's time
 * within that key's validity. Exit 0 when it holds, 1 with the reason. */
static int ctl_verify_receipt(fogpay_ledger *l, int argc, char **argv)
{
    static const struct option options[] = {
        {"file", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt != 'f') {
            return CTL_EXIT_USAGE;
        }
        path = optarg;
    }
    if (path == NULL) {
        return ctl_usage_error("verify-receipt", "--file FILE (or - for standard input) is needed");
    }
    uint8_t msg[FOGPAY_MESSAGE_MAX + 1];
    size_t len = ctl_read_receipt(path, msg);
    if (len == 0) {
        fprintf(stderr, "%s verify-receipt: cannot read a receipt of 1 to %d bytes from %s\n",
                ctl_program, FOGPAY_MESSAGE_MAX, path);
        return CTL_EXIT_FAIL;
    }
    fogpay_cose_sign1 cose;
    fogpay_gateway_key key;
    fogpay_receipt r;
    fogpay_error err = fogpay_cose_sign1_parse(msg, len, &cose);
    if (err == FOGPAY_OK && cose.kid.len != FOGPAY_KID_BYTES) {
        err = FOGPAY_ERR_BAD_SIGNATURE;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_ledger_gateway_key_get(l, cose.kid.ptr, &key);
        err = err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_BAD_SIGNATURE : err;
    }
    if (err == FOGPAY_OK) {
        err = fogpay_cose_sign1_verify_gateway(&cose, &key);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_receipt_decode(cose.payload.ptr, cose.payload.len, &r);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_gateway_key_valid_at(&key, r.time_s);
    }
    if (err != FOGPAY_OK) {
        printf("refused: %s\n", fogpay_error_name(err));
        return CTL_EXIT_FAIL;
    }
    char kid[2 * FOGPAY_KID_BYTES + 1];
    fogpay_hex_encode(key.kid, FOGPAY_KID_BYTES, kid);
    printf("ok: %s seq %" PRIu64 " at %" PRIu64 " s, signed by key %s (from %" PRIu64
           " ms, %s%" PRIu64 ")\n",
           r.device_id, r.seq, r.time_s, kid, key.from_ms, key.until_ms ? "until " : "active",
           key.until_ms);
    return CTL_EXIT_OK;
}

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

/* Writes a new gateway (or device) key to --out and prints its public text. */
static int ctl_keygen(fogpay_ledger *l, int argc, char **argv)
{
    (void)l;
    return fogpay_cli_keygen_command(ctl_program, argc, argv);
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
    {"verify-receipt", ctl_verify_receipt, CTL_DB_OPEN, "--db FILE verify-receipt --file FILE|-"},
    {"keygen", ctl_keygen, CTL_DB_NONE, "keygen --out FILE [--alg ed25519|p256]"},
    {"passwd", ctl_passwd, CTL_DB_NONE, "passwd --user NAME [--password-file FILE|-]"},
};

static void ctl_print_usage(FILE *out)
{
    fprintf(
        out,
        "usage: %s -h HOST [-p PORT] [-u USER --password-file FILE|-] [--entity] [--cafile CA]\n"
        "              [--timeout MS] [--json] CONTROL-COMMAND [--field value]...\n"
        "       %s --db FILE [--json] CONTROL-COMMAND [--field value]...\n"
        "       %s [--db FILE] COMMAND [OPTIONS]\n\n"
        "control commands (online and offline, with their aliases):\n"
        "  createLegalEntity (create-entity) --name N [--contact C] [--bank-reference R]\n"
        "  registerDevice (register-device) --device D --public-key ed25519:HEX --owner LE\n"
        "      [--per-payment A] [--per-day A] [--wallet-max A] [--currency CUR]\n"
        "      [--password-file FILE|-]   (a secret of at least 32 characters)\n"
        "  importDevices (import-devices) --file FILE|- [--secrets-out FILE]\n"
        "      one JSON object a line: device, publicKey, owner, limits, and password,\n"
        "      passwordVerifier or certificateOnly; without them a secret is generated\n"
        "  suspendDevice (suspend-device), resumeDevice (resume-device),\n"
        "  revokeDevice (revoke-device) --device D [--reason R]\n"
        "  rotateDeviceKey (rotate-device-key) --device D --public-key ed25519:HEX\n"
        "      [--overlap-seconds S], revokeDeviceKey (revoke-device-key) --device D\n"
        "  rotateGatewayKey (rotate-gateway-key), online only\n"
        "  setLimits (set-limits) --device D --currency CUR [--per-payment A] [--per-day A]\n"
        "      [--wallet-max A]\n"
        "  fundWallet (fund) --device D --currency CUR --amount 1.50 [--reference R]\n"
        "  transferOwnership (transfer-ownership) --device D --entity LE --role owner|lessee\n"
        "      [--effective MS]\n"
        "  getBalance (balance) --device D --currency CUR\n"
        "  getTransfer (get-transfer) --id N\n"
        "  listTransfers (list-transfers) [--device D] [--entity LE] [--from MS] [--to MS]\n"
        "      [--after N] [--limit N]\n"
        "  verifyLedger (verify-ledger), getSyncStatus (sync-status)\n"
        "  refund --id N [--amount A]\n"
        "  createEntityLogin (create-entity-login) --entity LE --login NAME\n"
        "      --password-file FILE|- | --certificate-only true\n"
        "  removeEntityLogin (remove-entity-login) --login NAME\n"
        "  getEntityAccount (entity-account) --entity LE --currency CUR\n"
        "  listEntityDevices (entity-devices) --entity LE [--after D]\n"
        "  payDevice (pay-device) --entity LE --device D --currency CUR --amount A\n"
        "      [--reference R]\n"
        "  setFeeSchedule (set-fee) [--payee D | --payee-entity E] --currency CUR\n"
        "      [--leg BP:ACCOUNT|le-ENTITY|DEVICE ...] [--remainder-leg I] [--effective MS]\n"
        "  listFeeSchedules (list-fees)\n"
        "  defineTariff (define-tariff) --tariff T --device D --unit U --price NUM/DEN\n"
        "      --currency CUR [--minimum A] [--payee-entity LE] [--effective MS]\n"
        "      (NUM minor units per DEN units: 0.3917 EUR/kWh read in Wh is 3917/100000)\n"
        "  getTariff (tariff) --tariff T [--at MS]\n"
        "  bindMeter (bind-meter) --device D --meter M --tariff T [--hold ID]\n"
        "  getMeter (meter) --device D --meter M\n"
        "  holdList (hold-list) [--device D] [--all true] [--after N] [--limit N]\n"
        "  holdCapture (hold-capture) --id N [--amount A], holdVoid (hold-void) --id N\n"
        "  createPlan (plan create) --plan P --device D --lender LE --currency CUR\n"
        "      --principal A --rate-basis-points BP --instalments N --period-ms MS\n"
        "      [--grace-ms MS] [--shortfall suspend|limit] [--collect true|false]\n"
        "      [--usage-price NUM/DEN --meter M] [--effective MS]\n"
        "      [--allowed-payee ID[,ID]]... (shortfall limit: who it may pay in arrears)\n"
        "  getPlan (plan show) --plan P [--at MS]: the version then and its schedule\n"
        "  listPlans (plan list) [--device D]\n"
        "  closePlan (plan close) --plan P [--effective MS]\n",
        ctl_program, ctl_program, ctl_program);
    fputs("  listDevices (list-devices) --currency CUR [--after D] [--limit N]: status, limits,\n"
          "      balance and held of each device not revoked\n"
          "  notes load --file FILE (loadNotes: the lines of fogpay-issuer's note file),\n"
          "      noteStock (notes stock); offline, --note-issuers FILE names the trusted issuers\n"
          "  notes redeem --entity LE --file FILE (redeemNotes: notes handed back by the\n"
          "      entity, each custody entry naming the gateway's key, into its account)\n"
          "  notes export-returned --key GATEWAY-KEY --out FILE (offline, with --note-issuers:\n"
          "      the stock's notes back from devices handed to their issuers, for\n"
          "      fogpay-issuer redeem)\n"
          "  noteRegister (notes register) --serial HEX, noteHistory (notes history) --serial HEX\n"
          "  getPlanStatement (plan statement) --plan P --entity LE [--at MS]: what the\n"
          "      entity paid and owes (the instalments due while it held the device)\n"
          "  listArrears (plan arrears) [--device D] [--all true]\n"
          "  settlePlan (plan settle) --plan P [--payer device|entity]: the principal left\n"
          "      and the interest due, paid at once; the plan closes\n",
          out);
    fputs("  getStatement (statement) --entity LE --currency CUR --from MS --to MS\n"
          "      the camt.053 statement (XML) on stdout, its figures on stderr\n"
          "  payout --entity LE --currency CUR --amount A [--reference R]\n"
          "      to the IBAN of the entity's bank reference\n"
          "  getPayoutInitiation (payout-initiation) --currency EUR --from MS --to MS\n"
          "      --debtor-name NAME --debtor-iban IBAN [--debtor-bic BIC]: the pain.001 (XML)\n"
          "  eraseEntityData (erase-entity) --entity LE, exportEntityData (export-entity)\n"
          "      --entity LE: GDPR erasure of its personal data, and everything held about it\n"
          "as a legal entity's own login (-u LOGIN --entity, online): balance, entity-account,\n"
          "  entity-devices, list-transfers, get-transfer, pay-device, statement, plan statement,\n"
          "  erase-entity and export-entity, on its own accounts and devices; --entity LE may\n"
          "  then be left out\n\noffline commands:\n",
          out);
    for (size_t i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
        fprintf(out, "  %s %s\n", ctl_program, ctl_commands[i].usage);
    }
}

/* The note issuers trusted offline (--note-issuers FILE). */
static fogpay_note_issuers ctl_note_issuers;

/* The operator's password for the online path, from a file or "-". */
static char ctl_operator_password[FOGPAY_PASSWORD_MAX + 2];

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"db", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'H'},
        {"cafile", required_argument, NULL, 'C'},
        {"timeout", required_argument, NULL, 't'},
        {"password-file", required_argument, NULL, 'W'},
        {"json", no_argument, NULL, 'J'},
        {"entity", no_argument, NULL, 'E'},
        {"note-issuers", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = NULL;
    fogpayctl_connection conn = {.host = NULL, .port = 1883, .timeout_ms = 5000};
    fogpayctl_target target = {0};
    uint64_t number = 0;
    int opt;
    /* "+" stops at the command name, so its options are left for it. */
    while ((opt = getopt_long(argc, argv, "+h:p:u:P:", options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            conn.host = optarg;
            break;
        case 'p':
            if (!fogpay_cli_parse_u64(optarg, 65535, &number) || number == 0) {
                return ctl_usage_error(NULL, "-p takes a port number");
            }
            conn.port = (int)number;
            break;
        case 'u':
            conn.username = optarg;
            break;
        case 'P':
            return ctl_usage_error(NULL, "-P would show the password in the process list; use "
                                         "--password-file FILE, or - for standard input");
        case 'W':
            if (!fogpay_cli_read_line(optarg, ctl_operator_password,
                                      sizeof ctl_operator_password) ||
                strlen(ctl_operator_password) > FOGPAY_PASSWORD_MAX) {
                fprintf(stderr,
                        "%s: cannot read a non-empty password of at most %d bytes from %s\n",
                        ctl_program, FOGPAY_PASSWORD_MAX, optarg);
                return CTL_EXIT_USAGE;
            }
            conn.password = ctl_operator_password;
            target.stdin_taken = strcmp(optarg, "-") == 0;
            break;
        case 'C':
            conn.cafile = optarg;
            break;
        case 't':
            if (!fogpay_cli_parse_u64(optarg, 600000, &number) || number == 0) {
                return ctl_usage_error(NULL, "--timeout takes milliseconds (1 to 600000)");
            }
            conn.timeout_ms = (int)number;
            break;
        case 'D':
            db_path = optarg;
            break;
        case 'J':
            target.json = true;
            break;
        case 'E':
            conn.entity = true;
            break;
        case 'N':
            if (fogpay_note_issuers_load(optarg, &ctl_note_issuers) != FOGPAY_OK) {
                fprintf(stderr, "%s: --note-issuers %s is not a trust file of issuer keys\n",
                        ctl_program, optarg);
                return CTL_EXIT_USAGE;
            }
            target.note_issuers = &ctl_note_issuers;
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
    if (command == NULL && conn.host != NULL && db_path != NULL) {
        return ctl_usage_error(name, "give -h HOST (online) or --db FILE (offline), not both");
    }
    bool import = strcmp(name, "import-devices") == 0 || strcmp(name, "importDevices") == 0;
    bool notes_file =
        strcmp(name, "notes") == 0 && optind + 1 < argc &&
        (strcmp(argv[optind + 1], "load") == 0 || strcmp(argv[optind + 1], "redeem") == 0 ||
         strcmp(argv[optind + 1], "export-returned") == 0);
    bool notes_load = notes_file && strcmp(argv[optind + 1], "load") == 0;
    bool notes_export = notes_file && strcmp(argv[optind + 1], "export-returned") == 0;
    if (command == NULL && conn.host != NULL) {
        target.conn = &conn;
        int status =
            import         ? fogpayctl_import(&target, argc - optind, argv + optind)
            : notes_load   ? fogpayctl_notes_load(&target, argc - optind - 1, argv + optind + 1)
            : notes_export ? fogpayctl_notes_export(&target, argc - optind - 1, argv + optind + 1)
            : notes_file   ? fogpayctl_notes_redeem(&target, argc - optind - 1, argv + optind + 1)
                           : fogpayctl_command(&target, argc - optind, argv + optind);
        memset(ctl_operator_password, 0, sizeof ctl_operator_password);
        return status;
    }
    ctl_db_need need = command ? command->db : CTL_DB_OPEN;
    fogpay_ledger *ledger = NULL;
    if (need != CTL_DB_NONE) {
        if (db_path == NULL) {
            return ctl_usage_error(name, command ? "--db FILE is required"
                                                 : "--db FILE (offline) or -h HOST (online) is "
                                                   "required");
        }
        fogpay_error err = fogpay_ledger_open(db_path, need == CTL_DB_CREATE, &ledger);
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
    int status;
    if (command != NULL) {
        status = command->handler(ledger, sub_argc, sub_argv);
    } else {
        target.ledger = ledger;
        status = import         ? fogpayctl_import(&target, sub_argc, sub_argv)
                 : notes_load   ? fogpayctl_notes_load(&target, sub_argc - 1, sub_argv + 1)
                 : notes_export ? fogpayctl_notes_export(&target, sub_argc - 1, sub_argv + 1)
                 : notes_file   ? fogpayctl_notes_redeem(&target, sub_argc - 1, sub_argv + 1)
                                : fogpayctl_command(&target, sub_argc, sub_argv);
    }
    if (ledger != NULL) {
        fogpay_ledger_close(ledger);
    }
    return status;
}
