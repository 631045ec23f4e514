/*
 * fogpay_cloud.c - the back office's command-line tool for the cloud store,
 * in the manner of fogpayctl: create the store, make the cloud's
 * ack-signing key, register gateways, show each gateway's sync status,
 * export transfers and events, verify every chain.
 *
 * The store is named by --store CONNINFO or, failing that, the environment
 * variable FOGPAY_STORE ("sqlite:/path", a plain path, or
 * "postgresql://..."). Every subcommand is a row of one table
 * {name, handler, need, usage}; each handler parses its own options with
 * getopt_long and returns the process exit status: 0 on success, 1 when the
 * store refused or is corrupt, 2 for a usage error. Messages name what
 * happened, with the store's own sentence.
 *
 * Export. `transfers --gateway G --format csv` prints exactly what
 * `fogpayctl --db LEDGER export --format csv` prints for that gateway's
 * ledger (both write through common/fogpay_export.c), so the two compare
 * row for row. Without --gateway, each CSV line starts with a gateway
 * column; JSON objects always name their gateway. `events` does the same
 * for the event chain with the event writers, so that `events --gateway G`
 * prints what `fogpayctl export-events` prints from G's ledger.
 *
 * Ownership: main opens the store for the commands that need it and closes
 * it; handlers free everything else they allocate.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fogpay_cli.h"
#include "fogpay_clock.h"
#include "fogpay_error.h"
#include "fogpay_export.h"
#include "fogpay_hash.h"
#include "store.h"

#define CLOUD_EXIT_OK    FOGPAY_CLI_EXIT_OK
#define CLOUD_EXIT_FAIL  FOGPAY_CLI_EXIT_FAILURE
#define CLOUD_EXIT_USAGE FOGPAY_CLI_EXIT_USAGE

/* The environment variable naming the store when --store is not given. */
#define CLOUD_STORE_ENV "FOGPAY_STORE"

/* The longest problem sentence verify prints. */
#define CLOUD_PROBLEM_MAX 512

static const char *cloud_program = "fogpay-cloud";

/* Wall-clock time in unix milliseconds. */
/* Reports a store error with the operation that failed and the store's
 * sentence; returns the failure exit status. */
static int cloud_fail(fogpay_store *s, const char *what, fogpay_error err)
{
    fprintf(stderr, "%s: %s failed: %s (%s): %s\n", cloud_program, what, fogpay_error_string(err),
            fogpay_error_name(err), fogpay_store_last_message(s));
    return CLOUD_EXIT_FAIL;
}

static int cloud_usage_error(const char *command, const char *message)
{
    return fogpay_cli_usage_error(cloud_program, command, message);
}

static int cloud_init(fogpay_store *s, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("initialised (%s)\n", fogpay_store_engine(s));
    return CLOUD_EXIT_OK;
}

/* Writes the cloud's ack-signing key to --out and prints its public text,
 * which each gateway is configured with. */
static int cloud_keygen(fogpay_store *s, int argc, char **argv)
{
    (void)s;
    return fogpay_cli_keygen_command(cloud_program, argc, argv);
}

/* The --id GATEWAY --public-key KEY of add-gateway and set-gateway-key:
 * 0, or the exit status of a usage error. */
static int cloud_gateway_key_options(const char *command, int argc, char **argv, const char **id,
                                     const char **public_key)
{
    static const struct option options[] = {
        {"id", required_argument, NULL, 'i'},
        {"public-key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'i') {
            *id = optarg;
        } else if (opt == 'k') {
            *public_key = optarg;
        } else {
            return CLOUD_EXIT_USAGE;
        }
    }
    if (*id == NULL || *public_key == NULL) {
        return cloud_usage_error(command, "--id and --public-key are required");
    }
    return 0;
}

static int cloud_add_gateway(fogpay_store *s, int argc, char **argv)
{
    const char *id = NULL, *public_key = NULL;
    int rc = cloud_gateway_key_options("add-gateway", argc, argv, &id, &public_key);
    if (rc != 0) {
        return rc;
    }
    fogpay_error err = fogpay_store_gateway_add(s, id, public_key, fogpay_clock_wall_ms());
    if (err != FOGPAY_OK) {
        return cloud_fail(s, "add-gateway", err);
    }
    printf("added %s\n", id);
    return CLOUD_EXIT_OK;
}

/* After the gateway's rotateGatewayKey: its new key, from then on the only
 * one its batches are accepted under. */
static int cloud_set_gateway_key(fogpay_store *s, int argc, char **argv)
{
    const char *id = NULL, *public_key = NULL;
    int rc = cloud_gateway_key_options("set-gateway-key", argc, argv, &id, &public_key);
    if (rc != 0) {
        return rc;
    }
    fogpay_error err = fogpay_store_gateway_set_key(s, id, public_key);
    if (err != FOGPAY_OK) {
        return cloud_fail(s, "set-gateway-key", err);
    }
    printf("key of %s set\n", id);
    return CLOUD_EXIT_OK;
}

typedef struct cloud_gateways_state {
    bool json;
    uint64_t now_ms;
    uint64_t count;
} cloud_gateways_state;

/* One gateway's sync status: a text line or a JSON object. The lag is how
 * far its newest stored transfer lies behind now ("-" or null before its
 * first). The event chain's head comes last, after the transfer chain's
 * hash, so that the columns before it read as they always did. */
static int cloud_gateways_visit(void *ctx, const fogpay_store_gateway *g)
{
    cloud_gateways_state *st = ctx;
    char hash[2 * FOGPAY_HASH_BYTES + 1];
    fogpay_hex_encode(g->hash, FOGPAY_HASH_BYTES, hash);
    char event_hash[2 * FOGPAY_HASH_BYTES + 1];
    fogpay_hex_encode(g->event_hash, FOGPAY_HASH_BYTES, event_hash);
    bool has_lag = g->last_transfer_ms != 0;
    uint64_t lag_ms =
        has_lag && st->now_ms > g->last_transfer_ms ? st->now_ms - g->last_transfer_ms : 0;
    char lag[32] = "-";
    if (has_lag) {
        snprintf(lag, sizeof lag, "%" PRIu64, lag_ms);
    }
    if (st->json) {
        printf("%s{\"gateway\":\"%s\",\"publicKey\":\"%s\",\"position\":%" PRIu64
               ",\"hash\":\"%s\",\"batchSeq\":%" PRIu64 ",\"batches\":%" PRIu64
               ",\"lastBatchMs\":%" PRIu64 ",\"lastTransferMs\":%" PRIu64 ",\"lagMs\":%s"
               ",\"addedMs\":%" PRIu64 ",\"eventPosition\":%" PRIu64 ",\"eventHash\":\"%s\"}",
               st->count ? ",\n" : "", g->gateway_id, g->public_key, g->position, hash,
               g->batch_seq, g->batches, g->last_batch_ms, g->last_transfer_ms,
               has_lag ? lag : "null", g->added_ms, g->event_position, event_hash);
    } else {
        printf("%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\t%" PRIu64 "\t%s\n",
               g->gateway_id, g->position, g->batches, g->batch_seq, g->last_batch_ms, lag, hash,
               g->event_position, event_hash);
    }
    st->count++;
    return 0;
}

static int cloud_gateways(fogpay_store *s, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    cloud_gateways_state st = {.now_ms = fogpay_clock_wall_ms()};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt != 'f') {
            return CLOUD_EXIT_USAGE;
        }
        if (strcmp(optarg, "json") == 0) {
            st.json = true;
        } else if (strcmp(optarg, "text") != 0) {
            return cloud_usage_error("gateways", "--format is text or json");
        }
    }
    if (st.json) {
        printf("[\n");
    } else {
        printf("gateway\tposition\tbatches\tbatch_seq\tlast_batch_ms\tlag_ms\thash"
               "\tevent_position\tevent_hash\n");
    }
    fogpay_error err = fogpay_store_gateway_list(s, cloud_gateways_visit, &st);
    if (err != FOGPAY_OK) {
        return cloud_fail(s, "gateways", err);
    }
    if (st.json) {
        printf("%s]\n", st.count ? "\n" : "");
    }
    return CLOUD_EXIT_OK;
}

typedef struct cloud_export_state {
    bool json;
    bool no_memory;
    bool one_gateway; /* --gateway given: fogpayctl's CSV exactly */
    uint64_t count;
    char last_gateway[FOGPAY_GATEWAY_ID_MAX + 1];
    uint64_t last_position;
} cloud_export_state;

static int cloud_export_visit(void *ctx, const char *gateway_id, const fogpay_transfer *t,
                              const uint8_t hash[FOGPAY_HASH_BYTES])
{
    cloud_export_state *e = ctx;
    if (e->json) {
        printf("%s{\"gateway\":\"%s\",\"transfer\":", e->count ? ",\n" : "", gateway_id);
        if (!fogpay_export_json(stdout, t, hash, true)) {
            e->no_memory = true;
            return 1;
        }
        putchar('}');
    } else {
        if (!e->one_gateway) {
            printf("%s,", gateway_id);
        }
        fogpay_export_csv(stdout, t, hash);
    }
    e->count++;
    snprintf(e->last_gateway, sizeof e->last_gateway, "%s", gateway_id);
    e->last_position = t->position;
    return 0;
}

static int cloud_export_event_visit(void *ctx, const char *gateway_id, const fogpay_event *ev,
                                    const uint8_t hash[FOGPAY_HASH_BYTES])
{
    cloud_export_state *e = ctx;
    if (e->json) {
        printf("%s{\"gateway\":\"%s\",\"event\":", e->count ? ",\n" : "", gateway_id);
        if (!fogpay_export_event_json(stdout, ev, hash, true)) {
            e->no_memory = true;
            return 1;
        }
        putchar('}');
    } else {
        if (!e->one_gateway) {
            printf("%s,", gateway_id);
        }
        fogpay_export_event_csv(stdout, ev, hash);
    }
    e->count++;
    snprintf(e->last_gateway, sizeof e->last_gateway, "%s", gateway_id);
    e->last_position = ev->position;
    return 0;
}

/* Parses the options of transfers or events (command) into the filter;
 * returns an exit status other than CLOUD_EXIT_OK for a usage error. */
static int cloud_export_options(const char *command, int argc, char **argv, fogpay_store_filter *f,
                                cloud_export_state *e)
{
    static const struct option options[] = {
        {"gateway", required_argument, NULL, 'g'},
        {"device", required_argument, NULL, 'd'},
        {"entity", required_argument, NULL, 'e'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'g':
            f->gateway_id = optarg;
            e->one_gateway = true;
            break;
        case 'd':
            f->device_id = optarg;
            break;
        case 'e':
            f->entity_id = optarg;
            break;
        case 'F':
            if (!fogpay_cli_parse_u64(optarg, UINT64_MAX, &f->from_ms)) {
                return cloud_usage_error(command, "--from takes unix milliseconds");
            }
            break;
        case 'T':
            if (!fogpay_cli_parse_u64(optarg, UINT64_MAX, &f->to_ms)) {
                return cloud_usage_error(command, "--to takes unix milliseconds");
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                e->json = true;
            } else if (strcmp(optarg, "csv") != 0) {
                return cloud_usage_error(command, "--format is csv or json");
            }
            break;
        default:
            return CLOUD_EXIT_USAGE;
        }
    }
    return CLOUD_EXIT_OK;
}

/* Every matching transfer (or, with events, event), page after page. */
static int cloud_export(fogpay_store *s, bool events, int argc, char **argv)
{
    const char *command = events ? "events" : "transfers";
    fogpay_store_filter f = {0};
    cloud_export_state e = {0};
    int status = cloud_export_options(command, argc, argv, &f, &e);
    if (status != CLOUD_EXIT_OK) {
        return status;
    }
    if (e.json) {
        printf("[\n");
    } else {
        if (!e.one_gateway) {
            printf("gateway,");
        }
        if (events) {
            fogpay_export_event_csv_header(stdout);
        } else {
            fogpay_export_csv_header(stdout);
        }
    }
    f.limit = FOGPAY_STORE_LIST_MAX;
    for (;;) {
        uint64_t before = e.count;
        fogpay_error err = events ? fogpay_store_events(s, &f, cloud_export_event_visit, &e)
                                  : fogpay_store_transfers(s, &f, cloud_export_visit, &e);
        if (err == FOGPAY_OK && e.no_memory) {
            err = FOGPAY_ERR_NO_MEMORY;
        }
        if (err != FOGPAY_OK) {
            return cloud_fail(s, command, err);
        }
        if (e.count - before < FOGPAY_STORE_LIST_MAX) {
            break;
        }
        f.after_gateway = e.last_gateway;
        f.after_position = e.last_position;
    }
    if (e.json) {
        printf("%s]\n", e.count ? "\n" : "");
    }
    return CLOUD_EXIT_OK;
}

static int cloud_transfers(fogpay_store *s, int argc, char **argv)
{
    return cloud_export(s, false, argc, argv);
}

static int cloud_events(fogpay_store *s, int argc, char **argv)
{
    return cloud_export(s, true, argc, argv);
}

/* Prints the count of transfers checked (both chains are), or the
 * gateway, the first bad position and the problem, which names the event
 * chain when the fault is there (exit 1). */
static int cloud_verify(fogpay_store *s, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint64_t checked = 0;
    uint64_t bad_position = 0;
    char bad_gateway[FOGPAY_GATEWAY_ID_MAX + 1] = "";
    char problem[CLOUD_PROBLEM_MAX] = "";
    fogpay_error err =
        fogpay_store_verify(s, &checked, bad_gateway, &bad_position, problem, sizeof problem);
    if (err == FOGPAY_ERR_LEDGER_CORRUPT) {
        printf("corrupt: gateway %s at position %" PRIu64 ": %s\n", bad_gateway, bad_position,
               problem);
        return CLOUD_EXIT_FAIL;
    }
    if (err != FOGPAY_OK) {
        return cloud_fail(s, "verify", err);
    }
    printf("ok: %" PRIu64 " transfers checked\n", checked);
    return CLOUD_EXIT_OK;
}

/* How a subcommand reaches the store. */
typedef enum cloud_store_need {
    CLOUD_STORE_NONE,   /* no store */
    CLOUD_STORE_OPEN,   /* an existing, initialised store */
    CLOUD_STORE_CREATE, /* created when empty */
} cloud_store_need;

typedef struct cloud_command {
    const char *name;
    int (*handler)(fogpay_store *s, int argc, char **argv);
    cloud_store_need need;
    const char *usage;
} cloud_command;

static const cloud_command cloud_commands[] = {
    {"init", cloud_init, CLOUD_STORE_CREATE, "--store CONNINFO init"},
    {"keygen", cloud_keygen, CLOUD_STORE_NONE, "keygen --out FILE [--alg ed25519|p256]"},
    {"add-gateway", cloud_add_gateway, CLOUD_STORE_OPEN,
     "--store CONNINFO add-gateway --id GATEWAY --public-key ed25519:HEX"},
    {"set-gateway-key", cloud_set_gateway_key, CLOUD_STORE_OPEN,
     "--store CONNINFO set-gateway-key --id GATEWAY --public-key ed25519:HEX"},
    {"gateways", cloud_gateways, CLOUD_STORE_OPEN,
     "--store CONNINFO gateways [--format text|json]"},
    {"transfers", cloud_transfers, CLOUD_STORE_OPEN,
     "--store CONNINFO transfers [--gateway G] [--device D] [--entity E]\n"
     "              [--from MS] [--to MS] [--format csv|json]"},
    {"events", cloud_events, CLOUD_STORE_OPEN,
     "--store CONNINFO events [--gateway G] [--device D] [--entity E]\n"
     "              [--from MS] [--to MS] [--format csv|json]"},
    {"verify", cloud_verify, CLOUD_STORE_OPEN, "--store CONNINFO verify"},
};

static void cloud_print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s [--store CONNINFO] COMMAND [OPTIONS]\n\n"
            "CONNINFO is sqlite:PATH, a plain PATH, or postgresql://...; without --store it\n"
            "is taken from $" CLOUD_STORE_ENV ".\n\ncommands:\n",
            cloud_program);
    for (size_t i = 0; i < sizeof cloud_commands / sizeof cloud_commands[0]; i++) {
        fprintf(out, "  %s %s\n", cloud_program, cloud_commands[i].usage);
    }
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"store", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    const char *conninfo = getenv(CLOUD_STORE_ENV);
    int opt;
    /* "+" stops at the command name, so its options are left for it. */
    while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        if (opt == 's') {
            conninfo = optarg;
        } else if (opt == 'H') {
            cloud_print_usage(stdout);
            return CLOUD_EXIT_OK;
        } else {
            cloud_print_usage(stderr);
            return CLOUD_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cloud_print_usage(stderr);
        return CLOUD_EXIT_USAGE;
    }
    const char *name = argv[optind];
    const cloud_command *command = NULL;
    for (size_t i = 0; i < sizeof cloud_commands / sizeof cloud_commands[0]; i++) {
        if (strcmp(cloud_commands[i].name, name) == 0) {
            command = &cloud_commands[i];
        }
    }
    if (command == NULL) {
        fprintf(stderr, "%s: unknown command \"%s\"\n", cloud_program, name);
        cloud_print_usage(stderr);
        return CLOUD_EXIT_USAGE;
    }
    fogpay_store *store = NULL;
    if (command->need != CLOUD_STORE_NONE) {
        if (conninfo == NULL || conninfo[0] == '\0') {
            fprintf(stderr, "%s %s: --store CONNINFO (or $" CLOUD_STORE_ENV ") is required\n",
                    cloud_program, name);
            return CLOUD_EXIT_USAGE;
        }
        fogpay_error err = fogpay_store_open(conninfo, command->need == CLOUD_STORE_CREATE, &store);
        if (err != FOGPAY_OK) {
            fprintf(stderr, "%s: cannot open the store: %s (%s): %s\n", cloud_program,
                    fogpay_error_string(err), fogpay_error_name(err),
                    fogpay_store_last_message(store));
            fogpay_store_close(store);
            return CLOUD_EXIT_FAIL;
        }
    }
    /* The command's own options start after its name. */
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 1;
    int status = command->handler(store, sub_argc, sub_argv);
    fogpay_store_close(store);
    return status;
}
