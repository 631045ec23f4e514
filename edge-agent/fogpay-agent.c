/*
 * fogpay-agent.c - the command-line agent on libfogpay-agent, for scripts,
 * tests and the README's demo.
 *
 *   fogpay-agent keygen --out FILE
 *   fogpay-agent --key FILE rotate-key     (a new key in FILE.next, its public key printed)
 *   fogpay-agent --key FILE switch-key     (FILE.next becomes FILE)
 *   fogpay-agent [options] pay --to PAYEE --amount 1.50 --currency EUR [--ref TEXT] [--count N]
 *   fogpay-agent [options] authorise --to PAYEE --amount 30.00 --currency EUR --hold-s S
 *   fogpay-agent [options] capture --hold ID --amount 12.40 --currency EUR
 *   fogpay-agent [options] void --hold ID
 *   fogpay-agent [options] pay --to-account N ...   (an account: a legal entity's)
 *   fogpay-agent [options] usage --meter ID --quantity N --unit kWh
 *   fogpay-agent [options] bind --meter ID --tariff ID [--hold ID]
 *   fogpay-agent [options] withdraw --amount 6.50 --currency EUR   (bearer notes)
 *   fogpay-agent [options] pay --notes --to PAYEE --to-key KEY --amount 5.50 --currency EUR
 *   fogpay-agent [options] redeem --amount 0.50 --currency EUR     (notes back into the wallet)
 *   fogpay-agent [options] notes                                  (the notes held)
 *   fogpay-agent [options] run [--drain]
 *   fogpay-agent [options] status
 *
 * Exit status: 0 settled (or stored, or done); 1 a failure (I/O, network in
 * run, key or state files); 2 a usage error (bad option, amount, currency,
 * reference); 3 rejected by the gateway; 4 no receipt in time (the message
 * stays journaled and is resent); 5 refused on the device before signing
 * (suspended, over a limit the gateway set, journal full, more in notes
 * than the wallet maximum).
 *
 * Options and subcommand may come in any order (GNU getopt permutes). The
 * password is read from a file so it never shows in the process list.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "fogpay_cli.h"
#include "fogpay_clock.h"
#include "fogpay_hash.h"
#include "fogpay_key.h"
#include "fogpay_password.h"

#define CLI_EXIT_OK       FOGPAY_CLI_EXIT_OK
#define CLI_EXIT_FAILURE  FOGPAY_CLI_EXIT_FAILURE
#define CLI_EXIT_USAGE    FOGPAY_CLI_EXIT_USAGE
#define CLI_EXIT_REJECTED 3
#define CLI_EXIT_TIMEOUT  4
#define CLI_EXIT_REFUSED  5

/* Payments one `pay --count` makes: a burst for measurements and tests,
 * bounded like everything else. */
#define CLI_COUNT_MAX 100000

#define CLI_KEY_TEXT_MAX (FOGPAY_PUBLIC_KEY_TEXT_MAX + 2)

typedef struct cli_options {
    fogpay_agent_config config;
    const char *command;
    const char *out;
    const char *to;
    const char *to_account;
    const char *to_key; /* pay --notes: the payee's public key */
    bool notes;         /* pay --notes: with bearer notes */
    const char *amount;
    const char *currency;
    const char *reference;
    const char *meter;
    const char *quantity;
    const char *unit;
    const char *tariff;
    const char *hold;
    const char *hold_s;
    unsigned long count;
    bool drain;
    char password[FOGPAY_PASSWORD_MAX + 2];
    char gateway_key[CLI_KEY_TEXT_MAX];
} cli_options;

static volatile sig_atomic_t cli_stop;

static void cli_on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

static void cli_usage(FILE *out)
{
    fprintf(out, "usage: fogpay-agent keygen --out FILE\n"
                 "       fogpay-agent --key FILE rotate-key | switch-key\n"
                 "       fogpay-agent [options] pay --to PAYEE|--to-account N --amount 1.50 "
                 "--currency EUR [--ref TEXT] [--count N]\n"
                 "       fogpay-agent [options] authorise --to PAYEE --amount 30.00 --currency EUR "
                 "--hold-s S [--ref TEXT]\n"
                 "       fogpay-agent [options] capture --hold ID --amount 12.40 --currency EUR\n"
                 "       fogpay-agent [options] void --hold ID\n"
                 "       fogpay-agent [options] usage --meter ID --quantity N --unit kWh\n"
                 "       fogpay-agent [options] bind --meter ID --tariff ID [--hold ID]\n"
                 "       fogpay-agent [options] pay-instalment\n"
                 "       fogpay-agent [options] withdraw --amount 6.50 --currency EUR\n"
                 "       fogpay-agent [options] notes\n"
                 "       fogpay-agent [options] pay --notes --to PAYEE --to-key ed25519:HEX "
                 "--amount 5.50 --currency EUR\n"
                 "       fogpay-agent [options] redeem --amount 0.50 --currency EUR\n"
                 "       fogpay-agent [options] run [--drain]\n"
                 "       fogpay-agent [options] status\n"
                 "options: --dir STATEDIR --key FILE --device ID --gateway-key ed25519:HEX|FILE\n"
                 "         -h HOST -p PORT --password-file F --cafile CA [--cert C --keyfile K]\n"
                 "         --mqtt 5|3 --prefix fogpay/v1 --timeout MS --hook PROGRAM --verbose\n"
                 "         --test-clock RATE@EPOCH_MS (tests only: a compressed wall clock)\n"
                 "exit: 0 settled, 1 failure, 2 usage, 3 rejected, 4 timeout (journaled), "
                 "5 refused on the device\n");
}

static int cli_usage_error(const char *message)
{
    fprintf(stderr, "fogpay-agent: %s\n", message);
    cli_usage(stderr);
    return CLI_EXIT_USAGE;
}

static bool cli_parse_ulong(const char *text, unsigned long max, unsigned long *out)
{
    uint64_t v = 0;
    if (!fogpay_cli_parse_u64(text, max, &v)) {
        return false;
    }
    *out = (unsigned long)v;
    return true;
}

enum cli_option_id {
    OPT_DIR = 256,
    OPT_KEY,
    OPT_DEVICE,
    OPT_GATEWAY_KEY,
    OPT_PASSWORD_FILE,
    OPT_CAFILE,
    OPT_CERT,
    OPT_KEYFILE,
    OPT_MQTT,
    OPT_PREFIX,
    OPT_TIMEOUT,
    OPT_HOOK,
    OPT_OUT,
    OPT_TO,
    OPT_TO_ACCOUNT,
    OPT_TO_KEY,
    OPT_NOTES,
    OPT_AMOUNT,
    OPT_CURRENCY,
    OPT_REF,
    OPT_METER,
    OPT_QUANTITY,
    OPT_UNIT,
    OPT_TARIFF,
    OPT_COUNT,
    OPT_HOLD,
    OPT_HOLD_S,
    OPT_DRAIN,
    OPT_TEST_CLOCK,
    OPT_VERBOSE,
    OPT_HELP,
};

static const struct option cli_long_options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"key", required_argument, NULL, OPT_KEY},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"gateway-key", required_argument, NULL, OPT_GATEWAY_KEY},
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"keyfile", required_argument, NULL, OPT_KEYFILE},
    {"mqtt", required_argument, NULL, OPT_MQTT},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"hook", required_argument, NULL, OPT_HOOK},
    {"out", required_argument, NULL, OPT_OUT},
    {"to", required_argument, NULL, OPT_TO},
    {"to-account", required_argument, NULL, OPT_TO_ACCOUNT},
    {"to-key", required_argument, NULL, OPT_TO_KEY},
    {"notes", no_argument, NULL, OPT_NOTES},
    {"amount", required_argument, NULL, OPT_AMOUNT},
    {"currency", required_argument, NULL, OPT_CURRENCY},
    {"ref", required_argument, NULL, OPT_REF},
    {"meter", required_argument, NULL, OPT_METER},
    {"quantity", required_argument, NULL, OPT_QUANTITY},
    {"unit", required_argument, NULL, OPT_UNIT},
    {"tariff", required_argument, NULL, OPT_TARIFF},
    {"count", required_argument, NULL, OPT_COUNT},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"hold-s", required_argument, NULL, OPT_HOLD_S},
    {"drain", no_argument, NULL, OPT_DRAIN},
    {"test-clock", required_argument, NULL, OPT_TEST_CLOCK},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Options that name files or numbers needing a look before use. */
static int cli_option_value(cli_options *o, int opt, const char *arg)
{
    unsigned long v = 0;
    switch (opt) {
    case 'p':
        if (!cli_parse_ulong(arg, 65535, &v) || v == 0) {
            return cli_usage_error("-p takes a port number");
        }
        o->config.port = (int)v;
        return 0;
    case OPT_MQTT:
        if (strcmp(arg, "5") != 0 && strcmp(arg, "3") != 0) {
            return cli_usage_error("--mqtt is 5 or 3");
        }
        o->config.mqtt_version = arg[0] - '0';
        return 0;
    case OPT_TIMEOUT:
        if (!cli_parse_ulong(arg, 3600000, &v) || v == 0) {
            return cli_usage_error("--timeout takes milliseconds (1..3600000)");
        }
        o->config.timeout_ms = (uint32_t)v;
        return 0;
    case OPT_COUNT:
        if (!cli_parse_ulong(arg, CLI_COUNT_MAX, &o->count) || o->count == 0) {
            return cli_usage_error("--count takes 1..100000");
        }
        return 0;
    case OPT_PASSWORD_FILE:
        if (!fogpay_cli_read_line(arg, o->password, sizeof o->password) ||
            strlen(o->password) > FOGPAY_PASSWORD_MAX) {
            fprintf(stderr, "fogpay-agent: cannot read a password from %s\n", arg);
            return CLI_EXIT_FAILURE;
        }
        o->config.password = o->password;
        return 0;
    case OPT_GATEWAY_KEY:
        if (strchr(arg, ':') && strncmp(arg, "/", 1) != 0 && strncmp(arg, ".", 1) != 0) {
            if (strlen(arg) >= sizeof o->gateway_key) {
                return cli_usage_error("--gateway-key is too long");
            }
            strcpy(o->gateway_key, arg);
        } else if (!fogpay_cli_read_line(arg, o->gateway_key, sizeof o->gateway_key)) {
            fprintf(stderr, "fogpay-agent: cannot read the gateway key from %s\n", arg);
            return CLI_EXIT_FAILURE;
        }
        o->config.gateway_key = o->gateway_key;
        return 0;
    case OPT_TEST_CLOCK: {
        uint32_t rate = 0;
        uint64_t epoch_ms = 0;
        if (!fogpay_clock_parse_test(arg, &rate, &epoch_ms)) {
            return cli_usage_error(
                "--test-clock takes RATE@EPOCH_MS (RATE 1..1000, EPOCH_MS not after now)");
        }
        fogpay_clock_set_test(rate, epoch_ms);
        return 0;
    }
    default:
        return cli_usage_error("unknown option");
    }
}

static int cli_parse(cli_options *o, int argc, char **argv)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "h:p:", cli_long_options, NULL)) != -1) {
        const char **slot = NULL;
        switch (opt) {
        case OPT_DIR:
            slot = &o->config.state_dir;
            break;
        case OPT_KEY:
            slot = &o->config.key_path;
            break;
        case OPT_DEVICE:
            slot = &o->config.device_id;
            break;
        case 'h':
            slot = &o->config.host;
            break;
        case OPT_CAFILE:
            slot = &o->config.cafile;
            break;
        case OPT_CERT:
            slot = &o->config.certfile;
            break;
        case OPT_KEYFILE:
            slot = &o->config.keyfile;
            break;
        case OPT_PREFIX:
            slot = &o->config.prefix;
            break;
        case OPT_HOOK:
            slot = &o->config.hook;
            break;
        case OPT_OUT:
            slot = &o->out;
            break;
        case OPT_TO:
            slot = &o->to;
            break;
        case OPT_TO_ACCOUNT:
            slot = &o->to_account;
            break;
        case OPT_TO_KEY:
            slot = &o->to_key;
            break;
        case OPT_NOTES:
            o->notes = true;
            break;
        case OPT_AMOUNT:
            slot = &o->amount;
            break;
        case OPT_CURRENCY:
            slot = &o->currency;
            break;
        case OPT_REF:
            slot = &o->reference;
            break;
        case OPT_METER:
            slot = &o->meter;
            break;
        case OPT_QUANTITY:
            slot = &o->quantity;
            break;
        case OPT_UNIT:
            slot = &o->unit;
            break;
        case OPT_TARIFF:
            slot = &o->tariff;
            break;
        case OPT_HOLD:
            slot = &o->hold;
            break;
        case OPT_HOLD_S:
            slot = &o->hold_s;
            break;
        case OPT_DRAIN:
            o->drain = true;
            break;
        case OPT_VERBOSE:
            o->config.verbose = true;
            break;
        case OPT_HELP:
            cli_usage(stdout);
            exit(CLI_EXIT_OK);
        case '?':
            return CLI_EXIT_USAGE;
        default: {
            int rc = cli_option_value(o, opt, optarg);
            if (rc != 0) {
                return rc;
            }
        }
        }
        if (slot) {
            *slot = optarg;
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("one subcommand is required");
    }
    o->command = argv[optind];
    return 0;
}

static int cli_keygen(const cli_options *o)
{
    return fogpay_cli_keygen("fogpay-agent", o->out, NULL);
}

/* Key rotation on the device, in two steps around the operator's
 * rotateDeviceKey: rotate-key writes a new key beside the current one
 * (KEY.next, created exclusively, mode 0600) and prints its public key for
 * the operator; switch-key, once the gateway has it, puts it in KEY's place
 * with one rename, so the device signs with one key or the other, never
 * none. Messages journaled before keep the bytes the old key signed, and
 * the gateway takes them within the rotation's overlap window. */
static int cli_key_next_path(const cli_options *o, char *out, size_t cap)
{
    if (!o->config.key_path) {
        return cli_usage_error("rotate-key and switch-key need --key");
    }
    if ((size_t)snprintf(out, cap, "%s.next", o->config.key_path) >= cap) {
        return cli_usage_error("--key is too long");
    }
    return 0;
}

static int cli_rotate_key(const cli_options *o)
{
    char next[FOGPAY_AGENT_PATH_MAX + 8];
    int rc = cli_key_next_path(o, next, sizeof next);
    return rc != 0 ? rc : fogpay_cli_keygen("fogpay-agent rotate-key", next, NULL);
}

static int cli_switch_key(const cli_options *o)
{
    char next[FOGPAY_AGENT_PATH_MAX + 8];
    int rc = cli_key_next_path(o, next, sizeof next);
    if (rc != 0) {
        return rc;
    }
    fogpay_key *key = NULL;
    if (fogpay_key_load(next, &key) != FOGPAY_OK) {
        fprintf(stderr, "fogpay-agent switch-key: no usable new key in %s (run rotate-key)\n",
                next);
        return CLI_EXIT_FAILURE;
    }
    fogpay_key_free(key);
    if (fogpay_key_file_replace(next, o->config.key_path) != FOGPAY_OK) {
        fprintf(stderr, "fogpay-agent switch-key: cannot rename %s to %s\n", next,
                o->config.key_path);
        return CLI_EXIT_FAILURE;
    }
    printf("signing with the key in %s\n", o->config.key_path);
    return CLI_EXIT_OK;
}

static void cli_on_journaled(void *ctx, uint64_t seq, uint8_t kind)
{
    (void)ctx;
    printf("journaled seq %" PRIu64 " %s\n", seq,
           kind == FOGPAY_RECEIPT_USAGE      ? "usage"
           : kind == FOGPAY_RECEIPT_BIND     ? "bind"
           : kind == FOGPAY_RECEIPT_HOLD     ? "hold"
           : kind == FOGPAY_RECEIPT_WITHDRAW ? "withdraw"
                                             : "intent");
    fflush(stdout);
}

/* Maps the result of one pay or usage call to a line and an exit status. */
static int cli_report(fogpay_error err, const fogpay_agent_outcome *r)
{
    if (err == FOGPAY_ERR_TIMEOUT) {
        printf("timeout seq %" PRIu64 ": no receipt yet; it stays journaled and will be resent\n",
               r->seq);
        return CLI_EXIT_TIMEOUT;
    }
    if (err == FOGPAY_ERR_DEVICE_SUSPENDED || err == FOGPAY_ERR_LIMIT_PER_PAYMENT ||
        err == FOGPAY_ERR_JOURNAL_FULL || err == FOGPAY_ERR_WALLET_MAX ||
        err == FOGPAY_ERR_PLAN_LAPSED || err == FOGPAY_ERR_PLAN_UNKNOWN ||
        err == FOGPAY_ERR_PLAN_PAID || err == FOGPAY_ERR_NOTE_SUM_MISMATCH) {
        printf("refused: %s: %s\n", fogpay_error_name(err), fogpay_error_string(err));
        return CLI_EXIT_REFUSED;
    }
    if (err == FOGPAY_ERR_FIELD_RANGE || err == FOGPAY_ERR_TEXT_INVALID ||
        err == FOGPAY_ERR_CURRENCY_UNSUPPORTED || err == FOGPAY_ERR_AMOUNT_ZERO) {
        fprintf(stderr, "fogpay-agent: %s: %s\n", fogpay_error_name(err), fogpay_error_string(err));
        return CLI_EXIT_USAGE;
    }
    if (err != FOGPAY_OK) {
        fprintf(stderr, "fogpay-agent: %s: %s\n", fogpay_error_name(err), fogpay_error_string(err));
        return CLI_EXIT_FAILURE;
    }
    if (r->status == FOGPAY_STATUS_REJECTED) {
        printf("rejected seq %" PRIu64 ": %s: %s\n", r->seq, fogpay_error_name(r->reason),
               fogpay_error_string(r->reason));
        return CLI_EXIT_REJECTED;
    }
    if (r->status == FOGPAY_STATUS_STORED && r->tariff_id[0] != '\0') {
        /* A binding, or a bound reading whose charge is under one minor
         * unit so far (carried to the next). */
        printf("stored seq %" PRIu64 " tariff %s", r->seq, r->tariff_id);
        if (r->consumption != 0) {
            printf(" consumption %" PRIu64 " charge 0", r->consumption);
        }
        printf("\n");
        return CLI_EXIT_OK;
    }
    if (r->status == FOGPAY_STATUS_STORED) {
        if (r->note_count != 0) {
            printf("stored seq %" PRIu64 " notes %u\n", r->seq, (unsigned)r->note_count);
            return CLI_EXIT_OK;
        }
        printf("stored seq %" PRIu64 "\n", r->seq);
        return CLI_EXIT_OK;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(r->currency, &exponent);
    char balance[32] = "?";
    if (r->has_balance) {
        fogpay_amount_format(r->balance_after_minor, exponent, balance, sizeof balance);
    }
    char held[32] = "0";
    fogpay_amount_format((int64_t)r->held_minor, exponent, held, sizeof held);
    if (r->status == FOGPAY_STATUS_HELD) {
        printf("held seq %" PRIu64 " hold %" PRIu64 " expires %" PRIu64 " balance %s %s held %s\n",
               r->seq, r->hold_id, r->hold_expiry_s, balance, code ? code : "?", held);
        return CLI_EXIT_OK;
    }
    printf("settled seq %" PRIu64 " transfer %" PRIu64 " balance %s %s", r->seq, r->transfer_id,
           balance, code ? code : "?");
    if (r->note_count != 0) {
        printf(" notes %u", (unsigned)r->note_count);
    }
    if (r->legs_minor != 0) {
        char fees[32];
        fogpay_amount_format((int64_t)r->legs_minor, exponent, fees, sizeof fees);
        printf(" fees %s", fees);
    }
    if (r->charge_minor != 0) {
        char charge[32];
        fogpay_amount_format((int64_t)r->charge_minor, exponent, charge, sizeof charge);
        printf(" charge %s consumption %" PRIu64 " tariff %s", charge, r->consumption,
               r->tariff_id);
    }
    if (r->kind == FOGPAY_RECEIPT_USAGE && r->hold_id != 0) {
        char left[32];
        fogpay_amount_format((int64_t)r->hold_left_minor, exponent, left, sizeof left);
        printf(" hold %" PRIu64 " left %s held %s", r->hold_id, left, held);
    }
    if (r->kind == FOGPAY_RECEIPT_HOLD) {
        printf(" hold %" PRIu64 " held %s", r->hold_id, held);
    }
    putchar('\n');
    return CLI_EXIT_OK;
}

static int cli_pay(fogpay_agent *a, const cli_options *o)
{
    uint16_t currency = 0;
    int exponent = 0;
    uint64_t amount = 0;
    if (o->notes && (!o->to || !o->to_key || o->to_account)) {
        return cli_usage_error("pay --notes needs --to PAYEE and --to-key (the payee's key)");
    }
    if ((o->to == NULL) == (o->to_account == NULL) || !o->amount || !o->currency) {
        return cli_usage_error("pay needs --to or --to-account, --amount and --currency");
    }
    uint64_t account = 0;
    if (o->to_account &&
        (!fogpay_cli_parse_u64(o->to_account, FOGPAY_STORED_INT_MAX, &account) || account == 0)) {
        return cli_usage_error("--to-account is an account number of the gateway's ledger");
    }
    if (!fogpay_currency_from_code(o->currency, &currency, &exponent)) {
        return cli_usage_error("unknown currency");
    }
    fogpay_error err = fogpay_amount_parse(o->amount, exponent, &amount);
    if (err != FOGPAY_OK || amount == 0) {
        return cli_usage_error("bad amount: a positive decimal with at most the currency's "
                               "decimals");
    }
    if (o->reference && strlen(o->reference) > FOGPAY_REFERENCE_MAX) {
        return cli_usage_error("--ref is longer than 32 bytes");
    }
    int rc = CLI_EXIT_OK;
    for (unsigned long i = 0; i < (o->count ? o->count : 1); i++) {
        if (!fogpay_agent_connected(a)) {
            fogpay_agent_connect(a);
        }
        fogpay_agent_outcome r;
        err = o->notes ? fogpay_agent_pay_notes(a, o->to, o->to_key, amount, currency, &r)
              : o->to  ? fogpay_agent_pay(a, o->to, amount, currency, o->reference, &r)
                       : fogpay_agent_pay_account(a, account, amount, currency, o->reference, &r);
        int one = cli_report(err, &r);
        if (one != CLI_EXIT_OK) {
            rc = one;
        }
        if (one == CLI_EXIT_USAGE || one == CLI_EXIT_REFUSED || one == CLI_EXIT_FAILURE) {
            break;
        }
    }
    return rc;
}

/* --amount in --currency, positive; 0 with a message on bad usage. */
static int cli_amount(const cli_options *o, uint16_t *currency, uint64_t *amount)
{
    int exponent = 0;
    if (!fogpay_currency_from_code(o->currency, currency, &exponent)) {
        return cli_usage_error("unknown currency");
    }
    if (fogpay_amount_parse(o->amount, exponent, amount) != FOGPAY_OK || *amount == 0) {
        return cli_usage_error("bad amount: a positive decimal with at most the currency's "
                               "decimals");
    }
    return CLI_EXIT_OK;
}

static int cli_authorise(fogpay_agent *a, const cli_options *o)
{
    uint16_t currency = 0;
    uint64_t amount = 0;
    unsigned long hold_s = 0;
    if (!o->to || !o->amount || !o->currency || !o->hold_s) {
        return cli_usage_error("authorise needs --to, --amount, --currency and --hold-s");
    }
    if (!cli_parse_ulong(o->hold_s, FOGPAY_HOLD_TIMEOUT_MAX_S, &hold_s) || hold_s == 0) {
        return cli_usage_error("--hold-s takes 1..604800 seconds");
    }
    int rc = cli_amount(o, &currency, &amount);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err =
        fogpay_agent_authorise(a, o->to, amount, currency, (uint32_t)hold_s, o->reference, &r);
    return cli_report(err, &r);
}

/* capture (with --amount and --currency) or void of --hold. */
static int cli_hold(fogpay_agent *a, const cli_options *o, bool capture)
{
    unsigned long id = 0;
    if (!o->hold || !cli_parse_ulong(o->hold, ULONG_MAX, &id) || id == 0) {
        return cli_usage_error("--hold takes the hold's id from its held receipt");
    }
    uint16_t currency = 0;
    uint64_t amount = 0;
    if (capture && (!o->amount || !o->currency)) {
        return cli_usage_error("capture needs --hold, --amount and --currency");
    }
    int rc = capture ? cli_amount(o, &currency, &amount) : CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err =
        capture ? fogpay_agent_capture(a, id, amount, &r) : fogpay_agent_void(a, id, &r);
    return cli_report(err, &r);
}

static int cli_usage_report(fogpay_agent *a, const cli_options *o)
{
    unsigned long quantity = 0;
    if (!o->meter || !o->quantity || !o->unit) {
        return cli_usage_error("usage needs --meter, --quantity and --unit");
    }
    if (!cli_parse_ulong(o->quantity, ULONG_MAX, &quantity)) {
        return cli_usage_error("--quantity takes a whole number");
    }
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err = fogpay_agent_usage(a, o->meter, quantity, o->unit, &r);
    return cli_report(err, &r);
}

static int cli_bind(fogpay_agent *a, const cli_options *o)
{
    if (!o->meter || !o->tariff) {
        return cli_usage_error("bind needs --meter and --tariff");
    }
    unsigned long hold_id = 0;
    if (o->hold && (!cli_parse_ulong(o->hold, ULONG_MAX, &hold_id) || hold_id == 0)) {
        return cli_usage_error("bind --hold needs a hold id (the number authorise printed)");
    }
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err = fogpay_agent_bind_hold(a, o->meter, o->tariff, hold_id, &r);
    return cli_report(err, &r);
}

/* The plan's lines of status (none without a plan). */
static void cli_status_plan(const fogpay_agent_status *s)
{
    if (s->plan_id[0] == '\0') {
        return;
    }
    int exponent = 0;
    const char *code = fogpay_currency_code(s->plan_currency, &exponent);
    char amount[32] = "0";
    fogpay_amount_format((int64_t)s->plan_amount_minor, exponent, amount, sizeof amount);
    printf("plan %s\nplan_next_instalment %" PRIu32 "\nplan_next_due_ms %" PRIu64
           "\nplan_amount %" PRIu64 " %s %s\nplan_left %" PRIu32 "\nplan_arrears %" PRIu32
           "\nplan_paid_up_to_ms %" PRIu64 "\nplan_lapsed %s\nplan_clock_ms %" PRIu64 "\n",
           s->plan_id, s->plan_instalment, s->plan_next_due_ms, s->plan_amount_minor, amount,
           code ? code : "-", s->plan_left, s->plan_arrears, s->plan_paid_up_to_ms,
           s->plan_lapsed ? "yes" : "no", s->plan_clock_ms);
}

static int cli_pay_instalment(fogpay_agent *a)
{
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err = fogpay_agent_pay_instalment(a, &r);
    return cli_report(err, &r);
}

static int cli_withdraw(fogpay_agent *a, const cli_options *o)
{
    uint16_t currency = 0;
    uint64_t amount = 0;
    if (!o->amount || !o->currency) {
        return cli_usage_error("withdraw needs --amount and --currency");
    }
    int rc = cli_amount(o, &currency, &amount);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err = fogpay_agent_withdraw(a, amount, currency, &r);
    return cli_report(err, &r);
}

static int cli_redeem(fogpay_agent *a, const cli_options *o)
{
    uint16_t currency = 0;
    uint64_t amount = 0;
    if (!o->amount || !o->currency) {
        return cli_usage_error("redeem needs --amount and --currency");
    }
    int rc = cli_amount(o, &currency, &amount);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    fogpay_agent_connect(a);
    fogpay_agent_outcome r;
    fogpay_error err = fogpay_agent_redeem(a, amount, currency, &r);
    return cli_report(err, &r);
}

/* One line a note: its currency, value and serial. */
static int cli_note_line(void *ctx, const uint8_t *serial, uint16_t currency,
                         uint64_t denomination_minor)
{
    size_t *count = ctx;
    int exponent = 0;
    const char *code = fogpay_currency_code(currency, &exponent);
    char value[32];
    char hex[2 * FOGPAY_NOTE_SERIAL_BYTES + 1];
    fogpay_amount_format((int64_t)denomination_minor, exponent, value, sizeof value);
    fogpay_hex_encode(serial, FOGPAY_NOTE_SERIAL_BYTES, hex);
    printf("note %s %s %s\n", code ? code : "?", value, hex);
    (*count)++;
    return 0;
}

static int cli_notes(fogpay_agent *a)
{
    size_t count = 0;
    fogpay_error err = fogpay_agent_notes(a, cli_note_line, &count);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "fogpay-agent: %s: %s\n", fogpay_error_name(err), fogpay_error_string(err));
        return CLI_EXIT_FAILURE;
    }
    printf("%zu notes\n", count);
    return CLI_EXIT_OK;
}

static int cli_status(fogpay_agent *a, const cli_options *o)
{
    fogpay_agent_status s;
    fogpay_agent_status_get(a, &s);
    printf("device %s\npending %zu\nnext_seq %" PRIu64 "\njournal_bytes %" PRIu64
           "\nsuspended %s\nlast_command_seq %" PRIu64 "\n",
           o->config.device_id, s.pending, s.next_seq, s.journal_bytes, s.suspended ? "yes" : "no",
           s.last_command_seq);
    printf("limits per_payment %" PRIu64 " per_day %" PRIu64 " wallet_max %" PRIu64 "\n",
           s.per_payment_minor, s.per_day_minor, s.wallet_max_minor);
    for (size_t i = 0; i < s.balance_count; i++) {
        int exponent = 0;
        const char *code = fogpay_currency_code(s.balances[i].currency, &exponent);
        char text[32];
        fogpay_amount_format(s.balances[i].balance_minor, exponent, text, sizeof text);
        printf("balance %s %" PRId64 " %s\n", code ? code : "?", s.balances[i].balance_minor, text);
        fogpay_amount_format((int64_t)s.balances[i].held_minor, exponent, text, sizeof text);
        printf("held %s %" PRIu64 " %s\n", code ? code : "?", s.balances[i].held_minor, text);
    }
    cli_status_plan(&s);
    return CLI_EXIT_OK;
}

static int cli_run(fogpay_agent *a, const cli_options *o)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fogpay_error err = fogpay_agent_run(a, &cli_stop, o->drain);
    return err == FOGPAY_OK ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int cli_with_agent(cli_options *o)
{
    if (!o->config.state_dir || !o->config.key_path || !o->config.device_id ||
        !o->config.gateway_key) {
        return cli_usage_error("--dir, --key, --device and --gateway-key are required");
    }
    o->config.journaled = cli_on_journaled;
    fogpay_agent *a = NULL;
    fogpay_error err = fogpay_agent_open(&o->config, &a);
    if (err != FOGPAY_OK) {
        fprintf(stderr, "fogpay-agent: cannot start: %s: %s\n", fogpay_error_name(err),
                fogpay_error_string(err));
        return err == FOGPAY_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    int rc;
    if (strcmp(o->command, "pay") == 0) {
        rc = cli_pay(a, o);
    } else if (strcmp(o->command, "usage") == 0) {
        rc = cli_usage_report(a, o);
    } else if (strcmp(o->command, "bind") == 0) {
        rc = cli_bind(a, o);
    } else if (strcmp(o->command, "authorise") == 0) {
        rc = cli_authorise(a, o);
    } else if (strcmp(o->command, "capture") == 0 || strcmp(o->command, "void") == 0) {
        rc = cli_hold(a, o, strcmp(o->command, "capture") == 0);
    } else if (strcmp(o->command, "withdraw") == 0) {
        rc = cli_withdraw(a, o);
    } else if (strcmp(o->command, "notes") == 0) {
        rc = cli_notes(a);
    } else if (strcmp(o->command, "redeem") == 0) {
        rc = cli_redeem(a, o);
    } else if (strcmp(o->command, "run") == 0) {
        rc = cli_run(a, o);
    } else if (strcmp(o->command, "pay-instalment") == 0) {
        rc = cli_pay_instalment(a);
    } else {
        rc = cli_status(a, o);
    }
    fogpay_agent_close(a);
    return rc;
}

int main(int argc, char **argv)
{
    cli_options o;
    memset(&o, 0, sizeof o);
    int rc = cli_parse(&o, argc, argv);
    if (rc != 0) {
        return rc;
    }
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (strcmp(o.command, "keygen") == 0) {
        return cli_keygen(&o);
    }
    if (strcmp(o.command, "rotate-key") == 0) {
        return cli_rotate_key(&o);
    }
    if (strcmp(o.command, "switch-key") == 0) {
        return cli_switch_key(&o);
    }
    static const char *const commands[] = {"pay",     "usage", "bind",   "authorise",
                                           "capture", "void",  "redeem", "withdraw",
                                           "notes",   "run",   "status", "pay-instalment"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(o.command, commands[i]) == 0) {
            return cli_with_agent(&o);
        }
    }
    return cli_usage_error("unknown subcommand");
}
