/*
 * options.c - the plugin_opt_* lines of mosquitto.conf.
 *
 * Every option is described once in a table (name, whether required, the
 * parser). A missing required option, an unknown option, or a value that
 * does not parse is logged with the option's name and stops the broker:
 * nothing is guessed, because a payment gateway that starts with a default
 * it was not told to use is worse than one that does not start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_clock.h"
#include "fogpay_password.h"
#include "gateway.h"

typedef bool (*option_parse_fn)(const char *value, fogpay_gateway_options *o);

typedef struct option_spec {
    const char *name;
    bool required;
    option_parse_fn parse;
    const char *expects; /* for the log line */
} option_spec;

static bool copy_text(const char *value, char *out, size_t cap)
{
    size_t n = strlen(value);
    if (n == 0 || n >= cap) {
        return false;
    }
    memcpy(out, value, n + 1);
    return true;
}

static bool parse_bool(const char *value, bool *out)
{
    if (strcmp(value, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(value, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool opt_database(const char *v, fogpay_gateway_options *o)
{
    return copy_text(v, o->db_path, sizeof o->db_path);
}

static bool opt_create_db(const char *v, fogpay_gateway_options *o)
{
    return parse_bool(v, &o->create_db);
}

static bool opt_gateway_id(const char *v, fogpay_gateway_options *o)
{
    return copy_text(v, o->gateway_id, sizeof o->gateway_id) && fogpay_gateway_id_valid(v);
}

static bool opt_gateway_key(const char *v, fogpay_gateway_options *o)
{
    return copy_text(v, o->gateway_key_path, sizeof o->gateway_key_path);
}

static bool opt_topic_prefix(const char *v, fogpay_gateway_options *o)
{
    return copy_text(v, o->topic_prefix, sizeof o->topic_prefix) && fogpay_topic_prefix_valid(v);
}

static bool opt_currencies(const char *v, fogpay_gateway_options *o)
{
    char list[64];
    if (!copy_text(v, list, sizeof list)) {
        return false;
    }
    o->currency_count = 0;
    char *save = NULL;
    for (char *code = strtok_r(list, ",", &save); code; code = strtok_r(NULL, ",", &save)) {
        uint16_t numeric;
        if (o->currency_count == FOGPAY_CURRENCIES_MAX ||
            !fogpay_currency_from_code(code, &numeric, NULL)) {
            return false;
        }
        o->currencies[o->currency_count++] = numeric;
    }
    return o->currency_count > 0;
}

static bool opt_operators(const char *v, fogpay_gateway_options *o)
{
    return copy_text(v, o->operators_path, sizeof o->operators_path);
}

static bool opt_note_issuers(const char *v, fogpay_gateway_options *o)
{
    return copy_text(v, o->note_issuers_path, sizeof o->note_issuers_path);
}

static bool opt_allow_other_clients(const char *v, fogpay_gateway_options *o)
{
    return parse_bool(v, &o->allow_other_clients);
}

/* A whole number of milliseconds or records within [min, max]. */
static bool parse_u32(const char *value, uint32_t min, uint32_t max, uint32_t *out)
{
    if (*value < '0' || *value > '9') {
        return false;
    }
    char *end = NULL;
    unsigned long long n = strtoull(value, &end, 10);
    if (*end != '\0' || n < min || n > max) {
        return false;
    }
    *out = (uint32_t)n;
    return true;
}

static bool opt_cloud_key(const char *v, fogpay_gateway_options *o)
{
    fogpay_key *key = NULL;
    if (!copy_text(v, o->cloud_key, sizeof o->cloud_key) ||
        fogpay_key_from_public_text(v, &key) != FOGPAY_OK) {
        return false;
    }
    fogpay_key_free(key);
    return true;
}

static bool opt_sync_batch(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, 1, FOGPAY_BATCH_RECORDS_MAX, &o->sync_batch);
}

static bool opt_sync_interval(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, FOGPAY_SYNC_INTERVAL_MIN_MS, FOGPAY_SYNC_INTERVAL_MAX_MS,
                     &o->sync_interval_ms);
}

static bool opt_sync_window(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, 1, FOGPAY_SYNC_WINDOW_MAX, &o->sync_window);
}

static bool opt_sync_timeout(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, FOGPAY_SYNC_TIMEOUT_MIN_MS, FOGPAY_SYNC_TIMEOUT_MAX_MS,
                     &o->sync_timeout_ms);
}

static bool opt_device_answers(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, 1, FOGPAY_FLOW_ANSWERS_MAX, &o->device_answers_max);
}

static bool opt_listen_backlog(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, 0, FOGPAY_LISTEN_BACKLOG_MAX, &o->listen_backlog);
}

static bool opt_workers(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, 1, FOGPAY_WORKERS_MAX, &o->workers);
}

/* 0 (no metrics) or a publication interval within the bounds. */
static bool opt_metrics_interval(const char *v, fogpay_gateway_options *o)
{
    return parse_u32(v, 0, FOGPAY_METRICS_INTERVAL_MAX_MS, &o->metrics_interval_ms) &&
           (o->metrics_interval_ms == 0 ||
            o->metrics_interval_ms >= FOGPAY_METRICS_INTERVAL_MIN_MS);
}

static bool opt_metrics_live(const char *v, fogpay_gateway_options *o)
{
    return parse_bool(v, &o->metrics_live);
}

/* Tests only: the compressed wall clock of fogpay_clock.h, set at once. */
static bool opt_test_clock(const char *v, fogpay_gateway_options *o)
{
    (void)o;
    uint32_t rate = 0;
    uint64_t epoch_ms = 0;
    if (!fogpay_clock_parse_test(v, &rate, &epoch_ms)) {
        return false;
    }
    fogpay_clock_set_test(rate, epoch_ms);
    return true;
}

static const option_spec option_specs[] = {
    {"database", true, opt_database,
     "the path of the ledger database (Mosquitto needs option names of three letters or more)"},
    {"create_db", false, opt_create_db, "true or false"},
    {"gateway_id", true, opt_gateway_id, "1 to 23 of [A-Za-z0-9._:-]"},
    {"gateway_key", true, opt_gateway_key, "the path of the gateway's key file"},
    {"topic_prefix", false, opt_topic_prefix,
     "1 to 64 bytes of topic without wildcards, empty levels, leading $ or slashes"},
    {"currencies", true, opt_currencies, "comma-separated ISO 4217 codes, e.g. EUR,USD"},
    {"operators", false, opt_operators, "the path of the operators file"},
    {"allow_other_clients", false, opt_allow_other_clients, "true or false"},
    {"note_issuers", false, opt_note_issuers,
     "the path of the note issuers' trust file (fogpay-issuer keys --out FILE)"},
    {"cloud_key", false, opt_cloud_key,
     "the cloud's public key as <alg>:<hex> (fogpay-cloud keygen prints it); without it there is "
     "no upstream sync"},
    {"sync_batch", false, opt_sync_batch, "transfers per batch, 1 to 500"},
    {"sync_interval", false, opt_sync_interval,
     "milliseconds before a partial batch is sent, 10 to 3600000"},
    {"sync_window", false, opt_sync_window, "batches awaiting their ack at once, 1 to 16"},
    {"sync_timeout", false, opt_sync_timeout,
     "milliseconds before unacknowledged batches are sent again, 100 to 600000"},
    {"device_answers_per_s", false, opt_device_answers,
     "messages answered per device a second before too_many_pending, 1 to 500"},
    {"listen_backlog", false, opt_listen_backlog,
     "connections waiting to be accepted, 0 (the broker's 100) to 65535"},
    {"workers", false, opt_workers,
     "threads that check signatures and sign receipts, 1 to 16 (default: the online cores)"},
    {"metrics_interval", false, opt_metrics_interval,
     "milliseconds between publications of the metrics under $SYS/broker/fogpay/, 0 (none) or "
     "100 to 3600000"},
    {"metrics_live", false, opt_metrics_live,
     "true or false: describe every answered device message on $SYS/broker/fogpay/live"},
    {"test_clock", false, opt_test_clock,
     "RATE@EPOCH_MS, a wall clock RATE times faster from EPOCH_MS (tests only; RATE 1 to 1000)"},
};

#define OPTION_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

fogpay_error fogpay_options_parse(const struct mosquitto_opt *opts, int count,
                                  fogpay_gateway_options *out)
{
    memset(out, 0, sizeof *out);
    strcpy(out->topic_prefix, "fogpay/v1");
    out->sync_batch = FOGPAY_SYNC_BATCH_DEFAULT;
    out->sync_interval_ms = FOGPAY_SYNC_INTERVAL_DEFAULT_MS;
    out->sync_window = FOGPAY_SYNC_WINDOW_DEFAULT;
    out->sync_timeout_ms = FOGPAY_SYNC_TIMEOUT_DEFAULT_MS;
    out->device_answers_max = FOGPAY_FLOW_ANSWERS_MAX;
    out->listen_backlog = FOGPAY_LISTEN_BACKLOG_DEFAULT;
    out->metrics_interval_ms = FOGPAY_METRICS_INTERVAL_DEFAULT_MS;
    bool seen[OPTION_COUNT] = {false};
    fogpay_error err = FOGPAY_OK;
    for (int i = 0; i < count; i++) {
        size_t k = 0;
        while (k < OPTION_COUNT && strcmp(opts[i].key, option_specs[k].name) != 0) {
            k++;
        }
        if (k == OPTION_COUNT) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: unknown option plugin_opt_%s", opts[i].key);
            err = FOGPAY_ERR_CONFIG;
            continue;
        }
        if (seen[k]) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: plugin_opt_%s is given twice", opts[i].key);
            err = FOGPAY_ERR_CONFIG;
            continue;
        }
        seen[k] = true;
        if (!opts[i].value || !option_specs[k].parse(opts[i].value, out)) {
            mosquitto_log_printf(
                MOSQ_LOG_ERR, "fogpay: plugin_opt_%s \"%s\" is invalid: expected %s", opts[i].key,
                opts[i].value ? opts[i].value : "", option_specs[k].expects);
            err = FOGPAY_ERR_CONFIG;
        }
    }
    for (size_t k = 0; k < OPTION_COUNT; k++) {
        if (option_specs[k].required && !seen[k]) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: plugin_opt_%s is required: %s",
                                 option_specs[k].name, option_specs[k].expects);
            err = FOGPAY_ERR_CONFIG;
        }
    }
    return err;
}

bool fogpay_options_currency_enabled(const fogpay_gateway_options *o, uint16_t currency)
{
    for (size_t i = 0; i < o->currency_count; i++) {
        if (o->currencies[i] == currency) {
            return true;
        }
    }
    return false;
}

fogpay_error fogpay_options_load_note_issuers(fogpay_gateway *gw)
{
    if (gw->options.note_issuers_path[0] == '\0') {
        return FOGPAY_OK;
    }
    fogpay_error err = fogpay_note_issuers_load(gw->options.note_issuers_path, &gw->note_issuers);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "fogpay: plugin_opt_note_issuers: %s is not a trust file of "
                             "\"<alg>:<hex> active|retired\" lines: %s",
                             gw->options.note_issuers_path, fogpay_error_string(err));
    }
    return err;
}

fogpay_error fogpay_options_load_operators(fogpay_gateway *gw)
{
    gw->operator_count = 0;
    if (gw->options.operators_path[0] == '\0') {
        return FOGPAY_OK;
    }
    FILE *f = fopen(gw->options.operators_path, "r");
    if (!f) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: plugin_opt_operators: cannot read %s",
                             gw->options.operators_path);
        return FOGPAY_ERR_CONFIG;
    }
    char line[512];
    int number = 0;
    fogpay_error err = FOGPAY_OK;
    while (err == FOGPAY_OK && fgets(line, sizeof line, f)) {
        number++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        char *colon = strchr(line, ':');
        fogpay_operator *op = &gw->operators[gw->operator_count];
        if (gw->operator_count == FOGPAY_OPERATORS_MAX) {
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: plugin_opt_operators: line %d of %s is one operator too "
                                 "many: at most %d operators",
                                 number, gw->options.operators_path, FOGPAY_OPERATORS_MAX);
            err = FOGPAY_ERR_CONFIG;
            break;
        }
        if (!colon || colon == line || (size_t)(colon - line) > FOGPAY_OPERATOR_NAME_MAX ||
            strlen(colon + 1) >= sizeof op->password_hash ||
            fogpay_password_hash_parse(colon + 1) != FOGPAY_OK ||
            fogpay_password_is_device_verifier(colon + 1)) {
            mosquitto_log_printf(MOSQ_LOG_ERR,
                                 "fogpay: plugin_opt_operators: line %d of %s is malformed: "
                                 "expected name:pbkdf2-sha256$<iterations>$<salt>$<hash>",
                                 number, gw->options.operators_path);
            err = FOGPAY_ERR_CONFIG;
            break;
        }
        memcpy(op->name, line, (size_t)(colon - line));
        op->name[colon - line] = '\0';
        strcpy(op->password_hash, colon + 1);
        gw->operator_count++;
    }
    fclose(f);
    return err;
}
