/*
 * agent_memory_bench.c - the device agent's memory, measured beside paho's
 * own sample publisher with the same TLS settings, in one run:
 *
 *   run      the real fogpay-agent in `run`, connected over TLS (CA file,
 *            password login, TLS 1.2, as deploy/mosquitto.conf's password
 *            listener) to a real Mosquitto with the fogpay plugin, idle for
 *            a few seconds;
 *   burst    the same device's `pay --count 1000`: each payment reserved,
 *            signed, journaled with fsync, sent, settled and its receipt
 *            verified;
 *   drain    a device back from an outage: `pay --count 1000` journaled
 *            while the gateway cannot be reached, then `run --drain`
 *            sending them all from the journal until every one settled
 *            (after each burst the ledger must hold every payment);
 *   paho     Debian's paho_cs_pub (paho's synchronous-client sample
 *            publisher, on libpaho-mqtt3cs like the agent) publishing
 *            intent-sized messages at QoS 1 over the same TLS listener
 *            settings, to a Mosquitto without the plugin (its messages are
 *            no device's).
 *
 * Each process is sampled every BENCH_MEM_SAMPLE_MS from /proc: its private
 * pages (Private_Clean + Private_Dirty of smaps_rollup), resident and
 * proportional sets; its peak resident set is the kernel's (ru_maxrss of
 * wait4, as /usr/bin/time reports it) or the largest sampled one, which
 * ever is larger. The agent's private memory at its
 * largest sample is split by mapping (bench_process_mappings), so that
 * what holds it can be read off.
 *
 * Usage: agent_memory_bench [--quick] [--results DIR] with FOGPAY_PLUGIN
 * naming the plugin and FOGPAY_AGENT the fogpay-agent program
 * (bench/run.sh --agent-memory sets both). Ends with one line
 * "fogpay-agent-memory agent_private_kib=N agent_peak_rss_kib=N
 * paho_pub_peak_rss_kib=N ratio=X"; --results writes the run as JSON
 * there. Exits 1 only when it cannot run (a program missing or failing,
 * a payment not settled), never on a figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_host.h"
#include "broker.h"
#include "certs.h"
#include "fogpay_key.h"
#include "fogpay_password.h"
#include "ledger.h"
#include "testutil.h"

#define EUR 978
/* The burst of the issue's target, and the quick mode's. */
#define BENCH_MEM_PAYMENTS       1000
#define BENCH_MEM_PAYMENTS_QUICK 100
/* Seconds `run` is sampled once connected (the README's 3 s), quick 1. */
#define BENCH_MEM_RUN_S       3
#define BENCH_MEM_RUN_S_QUICK 1
/* paho_cs_pub sleeps a 100 ms yield after each QoS 1 publish, so its
 * messages are fewer than the burst's: its memory after the handshake
 * does not grow with them (each line costs it one small buffer). */
#define BENCH_MEM_PAHO_MESSAGES       50
#define BENCH_MEM_PAHO_MESSAGES_QUICK 10
/* A line of the publisher: the size of a signed intent (README, Measured:
 * 128 bytes), newline included. */
#define BENCH_MEM_PAHO_LINE_BYTES 128
#define BENCH_MEM_SAMPLE_MS       10
/* Rounds of the three phases, one after the other (the quick mode's one):
 * resident figures move by about 100 KiB from run to run with what the
 * page cache and the other processes hold, so the summary takes each
 * figure's median. */
#define BENCH_MEM_ROUNDS 3
/* Bounds on a program that goes wrong: the agent's connection, and any
 * one phase. */
#define BENCH_MEM_CONNECT_WAIT_MS 15000
#define BENCH_MEM_PHASE_WAIT_MS   300000
/* Mappings printed with the agent's split. */
#define BENCH_MEM_MAPPINGS_SHOWN 14
#define BENCH_MEM_ARGS_MAX       32
/* fogpay-agent's exit status when a payment's receipt did not come: the
 * payment stays journaled (its usage text). */
#define BENCH_MEM_AGENT_EXIT_TIMEOUT 4
#define BENCH_MEM_TARGET_KIB         1024
/* The payer's funds: every payment of 0.01 EUR with room to spare. */
#define BENCH_MEM_FUND_MINOR 1000000
#define BENCH_MEM_PAYER      "mem-payer"
#define BENCH_MEM_PAYEE      "mem-payee"
#define BENCH_MEM_SECRET     "mem-payer-secret-0123456789abcdef"

typedef struct options {
    bool quick;
    const char *results;
} options;

/* What one process's samples and its exit say. */
typedef struct process_figures {
    uint64_t private_kib;       /* largest sample */
    uint64_t private_dirty_kib; /* largest sample of the dirty part */
    uint64_t pss_kib;           /* at that sample */
    uint64_t rss_kib;           /* at that sample */
    uint64_t rss_max_kib;       /* largest sample */
    uint64_t peak_rss_kib;
    double seconds;
    int exit_status;
    bench_mappings mappings; /* at the largest private sample */
} process_figures;

static options opt;
static test_broker gateway, plain;
static char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
static char db_path[TEST_BROKER_PATH_MAX];
static int64_t expected_paid_minor; /* the payee's balance once all settled */

/* Says why the run cannot go on (printf-style) and ends it. */
__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("agent_memory_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* At exit: test_broker_cleanup() leaves a broker never started alone. */
static void cleanup(void)
{
    test_broker_cleanup(&gateway);
    test_broker_cleanup(&plain);
}

static void path_in(const char *name, char *out)
{
    test_broker_path(&gateway, name, out, TEST_BROKER_PATH_MAX);
}

/* ---- the gateway and its devices ------------------------------------------ */

static void write_text(const char *name, const char *text)
{
    char path[TEST_BROKER_PATH_MAX];
    path_in(name, path);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        die("cannot write a file in the gateway's directory");
    }
}

/* Registers id with a fresh key in <id>.sign and, with secret, that
 * password's verifier. */
static void register_device(fogpay_ledger *l, const char *id, const char *secret,
                            const char *entity, uint64_t fund_minor)
{
    fogpay_key *key = NULL;
    char path[TEST_BROKER_PATH_MAX], name[64], verifier[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    snprintf(name, sizeof name, "%s.sign", id);
    path_in(name, path);
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) != FOGPAY_OK ||
        fogpay_key_save(key, path, false) != FOGPAY_OK ||
        (secret && fogpay_device_secret_verifier(secret, strlen(secret), verifier,
                                                 sizeof verifier) != FOGPAY_OK)) {
        die("cannot make a device's key or verifier");
    }
    fogpay_device_limits none = {0, 0, 0};
    fogpay_transfer t;
    if (fogpay_ledger_device_register(l, id, key, secret ? verifier : NULL, entity, &none, 1000) !=
            FOGPAY_OK ||
        (fund_minor > 0 &&
         fogpay_ledger_fund(l, id, EUR, fund_minor, "bench", 2000, &t) != FOGPAY_OK)) {
        die("cannot provision %s: %s", id, fogpay_ledger_last_message(l));
    }
    fogpay_key_free(key);
}

static void provision(const char *key_path)
{
    fogpay_key *gateway_key = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &gateway_key) != FOGPAY_OK ||
        fogpay_key_save(gateway_key, key_path, false) != FOGPAY_OK ||
        fogpay_key_public_text(gateway_key, gateway_text, sizeof gateway_text) != FOGPAY_OK) {
        die("cannot make the gateway key");
    }
    fogpay_key_free(gateway_key);
    fogpay_ledger *l;
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    fogpay_entity_personal p = {"Bench Devices Ltd", NULL, NULL};
    if (fogpay_ledger_open(db_path, true, &l) != FOGPAY_OK ||
        fogpay_ledger_entity_create(l, &p, 1000, entity) != FOGPAY_OK) {
        die("cannot create the ledger");
    }
    register_device(l, BENCH_MEM_PAYER, BENCH_MEM_SECRET, entity, BENCH_MEM_FUND_MINOR);
    register_device(l, BENCH_MEM_PAYEE, NULL, entity, 0);
    fogpay_ledger_close(l);
    write_text(BENCH_MEM_PAYER ".pass", BENCH_MEM_SECRET);
}

/* The TLS lines of deploy/mosquitto.conf's password listener, with the
 * certificates made in the gateway's directory (both brokers use them). */
static void tls_lines(char *out, size_t cap)
{
    char ca[TEST_BROKER_PATH_MAX], crt[TEST_BROKER_PATH_MAX], key[TEST_BROKER_PATH_MAX];
    path_in("ca.crt", ca);
    path_in("server.crt", crt);
    path_in("server.key", key);
    snprintf(out, cap, "cafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n", ca, crt, key);
}

static void start_brokers(void)
{
    if (!test_certs_config(gateway.dir) ||
        !test_certs_ca(gateway.dir, "ca", "/CN=fogpay bench CA") ||
        !test_certs_issue(gateway.dir, "server", "/CN=127.0.0.1", "ca", TEST_CERT_SERVER, "1")) {
        die("cannot make the certificates (the openssl program)");
    }
    char key_path[TEST_BROKER_PATH_MAX], tls[TEST_BROKER_CONF_MAX / 2];
    char conf[TEST_BROKER_CONF_MAX];
    path_in("ledger.db", db_path);
    path_in("gateway.key", key_path);
    provision(key_path);
    tls_lines(tls, sizeof tls);
    snprintf(conf, sizeof conf,
             "%sallow_anonymous false\nset_tcp_nodelay true\n"
             "plugin %s\nplugin_opt_database %s\nplugin_opt_gateway_id gw-mem\n"
             "plugin_opt_gateway_key %s\nplugin_opt_currencies EUR\n",
             tls, getenv("FOGPAY_PLUGIN"), db_path, key_path);
    if (!test_broker_start(&gateway, conf)) {
        die("the gateway did not start");
    }
    snprintf(conf, sizeof conf, "%sallow_anonymous true\nset_tcp_nodelay true\n", tls);
    if (!test_broker_start(&plain, conf)) {
        die("the plain Mosquitto did not start");
    }
}

/* ---- the processes and their samples -------------------------------------- */

/* Starts argv[0] (a path, or a name found on PATH) with stdin from in_path
 * (or /dev/null) and stdout and stderr appended to log. */
static pid_t spawn(const char *const *argv, const char *in_path, const char *log)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0) {
            _exit(127);
        }
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0) {
        die("cannot fork");
    }
    return pid;
}

/* True when the file at path contains text. */
static bool file_has(const char *path, const char *text)
{
    char *all = testutil_read_file(path, NULL);
    bool found = all && strstr(all, text);
    free(all);
    return found;
}

/* When to end a process that does not end by itself: once ready (a line of
 * its log) has been in log for run_s seconds, it gets SIGTERM. ready NULL:
 * the process ends by itself. */
typedef struct process_end {
    const char *log;
    const char *ready;
    double run_s;
} process_end;

/* Takes one sample of pid into out, keeping the largest private figure and
 * the split by mapping at it. */
static void sample(pid_t pid, process_figures *out)
{
    bench_memory m;
    if (!bench_process_memory(pid, &m)) {
        return;
    }
    if (m.rss_kib > out->rss_max_kib) {
        out->rss_max_kib = m.rss_kib;
    }
    if (m.private_dirty_kib > out->private_dirty_kib) {
        out->private_dirty_kib = m.private_dirty_kib;
    }
    if (m.private_kib <= out->private_kib) {
        return;
    }
    out->private_kib = m.private_kib;
    out->pss_kib = m.pss_kib;
    out->rss_kib = m.rss_kib;
    bench_process_mappings(pid, &out->mappings);
}

/* Samples pid every BENCH_MEM_SAMPLE_MS until it has exited and been
 * reaped; its exit status and peak resident set into out. */
static void sample_until_exit(pid_t pid, const process_end *end, process_figures *out)
{
    memset(out, 0, sizeof *out);
    double start = bench_now(), ready_at = 0;
    bool termed = false;
    for (;;) {
        int status = 0;
        struct rusage ru;
        if (wait4(pid, &status, WNOHANG, &ru) == pid) {
            out->seconds = bench_now() - start;
            /* The kernel's high-water mark is kept from per-thread counters
             * that lag the page tables a little; a sample of smaps, which
             * walks them, can be above it. The larger is the peak. */
            out->peak_rss_kib = (uint64_t)ru.ru_maxrss > out->rss_max_kib ? (uint64_t)ru.ru_maxrss
                                                                          : out->rss_max_kib;
            out->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return;
        }
        sample(pid, out);
        double now = bench_now();
        if (end->ready && ready_at == 0 && file_has(end->log, end->ready)) {
            ready_at = now;
        }
        if (ready_at > 0 && !termed && now - ready_at >= end->run_s) {
            kill(pid, SIGTERM);
            termed = true;
        }
        bool late =
            (end->ready && ready_at == 0 && now - start > BENCH_MEM_CONNECT_WAIT_MS / 1000.0) ||
            now - start > BENCH_MEM_PHASE_WAIT_MS / 1000.0;
        if (late) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            char *text = testutil_read_file(end->log, NULL);
            die("%s did not %s in time; its log:\n%s", end->log, end->ready ? "connect" : "finish",
                text ? text : "(none)");
        }
        testutil_sleep_ms(BENCH_MEM_SAMPLE_MS);
    }
}

/* Runs fogpay-agent as the payer over TLS to the given port with extra
 * arguments (NULL-terminated), sampled until it ends. */
static void agent(int to_port, const char *const *extra, const process_end *end,
                  process_figures *out)
{
    char dir[TEST_BROKER_PATH_MAX], sign[TEST_BROKER_PATH_MAX], ca[TEST_BROKER_PATH_MAX],
        pass[TEST_BROKER_PATH_MAX], port[16];
    path_in("state-" BENCH_MEM_PAYER, dir);
    path_in(BENCH_MEM_PAYER ".sign", sign);
    path_in(BENCH_MEM_PAYER ".pass", pass);
    path_in("ca.crt", ca);
    snprintf(port, sizeof port, "%d", to_port);
    const char *argv[BENCH_MEM_ARGS_MAX] = {getenv("FOGPAY_AGENT"),
                                            "--dir",
                                            dir,
                                            "--key",
                                            sign,
                                            "--device",
                                            BENCH_MEM_PAYER,
                                            "--gateway-key",
                                            gateway_text,
                                            "-h",
                                            "127.0.0.1",
                                            "-p",
                                            port,
                                            "--password-file",
                                            pass,
                                            "--cafile",
                                            ca};
    size_t n = 17;
    for (size_t i = 0; extra[i] && n < BENCH_MEM_ARGS_MAX - 1; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    sample_until_exit(spawn(argv, NULL, end->log), end, out);
}

static void phase_run(process_figures *out)
{
    char log[TEST_BROKER_PATH_MAX];
    path_in("agent-run.log", log);
    const char *run[] = {"run", NULL};
    process_end end = {log, "connected;", opt.quick ? BENCH_MEM_RUN_S_QUICK : BENCH_MEM_RUN_S};
    agent(gateway.port, run, &end, out);
    if (out->exit_status != 0) {
        die("fogpay-agent run exited %d (agent-run.log)", out->exit_status);
    }
}

/* The payee's balance in the ledger, read beside the running broker. */
static int64_t payee_balance_minor(void)
{
    fogpay_ledger *l;
    uint64_t wallet = 0;
    int64_t balance = -1;
    if (fogpay_ledger_open(db_path, false, &l) != FOGPAY_OK) {
        die("cannot open the ledger");
    }
    if (fogpay_ledger_wallet(l, BENCH_MEM_PAYEE, EUR, &wallet) != FOGPAY_OK ||
        fogpay_ledger_balance(l, wallet, &balance) != FOGPAY_OK) {
        balance = -1;
    }
    fogpay_ledger_close(l);
    return balance;
}

/* Checks that the payee holds every cent the phases so far paid it. */
static void check_settled(const char *what, int exit_status, int payments)
{
    expected_paid_minor += payments;
    int64_t paid = payee_balance_minor();
    if (exit_status != 0 || paid != expected_paid_minor) {
        die("the %s did not settle: it exited %d and the payee holds %" PRId64 " of %" PRId64
            " cents (agent-%s.log)",
            what, exit_status, paid, expected_paid_minor, what);
    }
}

/* `pay --count payments` of 0.01 EUR each to the payee, to port, logged
 * in agent-<name>.log. */
static void agent_pay(int to_port, int payments, const char *name, process_figures *out)
{
    char log_name[64], log[TEST_BROKER_PATH_MAX], count[16];
    snprintf(log_name, sizeof log_name, "agent-%s.log", name);
    path_in(log_name, log);
    snprintf(count, sizeof count, "%d", payments);
    const char *pay[] = {"pay",        "--to", BENCH_MEM_PAYEE, "--amount", "0.01",
                         "--currency", "EUR",  "--count",       count,      NULL};
    process_end end = {log, NULL, 0};
    agent(to_port, pay, &end, out);
}

static void phase_burst(int payments, process_figures *out)
{
    agent_pay(gateway.port, payments, "burst", out);
    check_settled("burst", out->exit_status, payments);
}

/* A device back from an outage: `pay --count` journals the payments while
 * the gateway cannot be reached (a port nobody listens on; each payment
 * ends "timeout", exit 4, and stays journaled), then `run --drain` sends
 * them all from the journal and settles them: the journal's index full
 * and every message read back from its file. */
static void phase_drain(int payments, process_figures *journal, process_figures *drain)
{
    agent_pay(test_free_port(), payments, "drain", journal);
    if (journal->exit_status != BENCH_MEM_AGENT_EXIT_TIMEOUT) {
        die("journaling offline exited %d, not %d (agent-drain.log)", journal->exit_status,
            BENCH_MEM_AGENT_EXIT_TIMEOUT);
    }
    char log[TEST_BROKER_PATH_MAX];
    path_in("agent-drain.log", log);
    const char *run[] = {"run", "--drain", NULL};
    process_end end = {log, NULL, 0};
    agent(gateway.port, run, &end, drain);
    check_settled("drain", drain->exit_status, payments);
}

/* PUBLISH packets the plain Mosquitto logged from client. */
static int publishes_received(const char *client)
{
    char needle[64];
    snprintf(needle, sizeof needle, "Received PUBLISH from %s ", client);
    char *all = testutil_read_file(plain.log_path, NULL);
    int n = 0;
    for (const char *p = all; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    free(all);
    return n;
}

/* The round-th publisher run (from 1): the plain Mosquitto has logged
 * round runs' messages after. */
static void phase_paho(int messages, int round, process_figures *out)
{
    char lines[TEST_BROKER_PATH_MAX], log[TEST_BROKER_PATH_MAX], ca[TEST_BROKER_PATH_MAX], url[64];
    path_in("paho-lines.txt", lines);
    path_in("paho.log", log);
    path_in("ca.crt", ca);
    FILE *f = fopen(lines, "w");
    for (int i = 0; f && i < messages; i++) {
        fprintf(f, "%0*d\n", BENCH_MEM_PAHO_LINE_BYTES - 1, i);
    }
    if (!f || fclose(f) != 0) {
        die("cannot write the publisher's lines");
    }
    snprintf(url, sizeof url, "ssl://127.0.0.1:%d", plain.port);
    const char *argv[] = {"paho_cs_pub",
                          "-c",
                          url,
                          "--cafile",
                          ca,
                          "-t",
                          "bench/memory",
                          "-q",
                          "1",
                          "-V",
                          "5",
                          "-i",
                          "mem-paho",
                          "-u",
                          "mem-paho",
                          "-P",
                          BENCH_MEM_SECRET,
                          "--maxdatalen",
                          "256",
                          NULL};
    process_end end = {log, NULL, 0};
    sample_until_exit(spawn(argv, lines, log), &end, out);
    if (out->exit_status != 0 || publishes_received("mem-paho") != messages * round) {
        die("paho's sample publisher did not run: paho_cs_pub exited %d (Debian's "
            "paho.mqtt.c-examples; paho.log)",
            out->exit_status);
    }
}

/* ---- the report ------------------------------------------------------------ */

static void print_process(const char *what, const process_figures *p)
{
    printf("%-8s private %5" PRIu64 " KiB at most (PSS %" PRIu64 ", RSS %" PRIu64
           " there; dirty %" PRIu64 " at most), peak RSS %5" PRIu64 " KiB, %.1f s\n",
           what, p->private_kib, p->pss_kib, p->rss_kib, p->private_dirty_kib, p->peak_rss_kib,
           p->seconds);
}

static void print_mappings(const char *what, const process_figures *p)
{
    printf("%-8s private by mapping:", what);
    for (size_t i = 0; i < p->mappings.count && i < BENCH_MEM_MAPPINGS_SHOWN; i++) {
        const bench_mapping *m = &p->mappings.by_name[i];
        printf(" %s %" PRIu64 "/%" PRIu64, m->name, m->private_kib, m->rss_kib);
    }
    printf(" (private/resident KiB)\n");
}

static void json_process(FILE *out, const char *name, const process_figures *p, bool last)
{
    fprintf(out,
            "  \"%s\": {\"private_kib\": %" PRIu64 ", \"private_dirty_kib\": %" PRIu64
            ", \"pss_kib\": %" PRIu64 ", \"rss_kib\": %" PRIu64 ", \"peak_rss_kib\": %" PRIu64
            ", \"seconds\": %.2f, "
            "\"by_mapping_private_rss_kib\": {",
            name, p->private_kib, p->private_dirty_kib, p->pss_kib, p->rss_kib, p->peak_rss_kib,
            p->seconds);
    for (size_t i = 0; i < p->mappings.count; i++) {
        const bench_mapping *m = &p->mappings.by_name[i];
        fprintf(out, "%s\"%s\": [%" PRIu64 ", %" PRIu64 "]", i ? ", " : "", m->name, m->private_kib,
                m->rss_kib);
    }
    fprintf(out, "}}%s\n", last ? "" : ",");
}

/* One round's three processes and what the summary takes of them. */
typedef struct round_figures {
    process_figures run, burst, journal, drain, paho;
    uint64_t agent_private_kib;     /* the largest of the agent's processes */
    uint64_t agent_peak_rss_kib;    /* likewise */
    const process_figures *largest; /* the agent's process of the most private */
} round_figures;

static void write_results(const round_figures *rounds, int count, const round_figures *median,
                          int payments, int messages)
{
    char path[1024];
    FILE *out = bench_results_open(opt.results, "agent-memory", path, sizeof path);
    if (!out) {
        return;
    }
    fprintf(out,
            "  \"options\": {\"payments\": %d, \"run_s\": %d, "
            "\"paho_messages\": %d, \"sample_ms\": %d, \"rounds\": %d, "
            "\"tls\": \"TLS 1.2, CA file, password\"},\n  \"rounds\": [",
            payments, BENCH_MEM_RUN_S, messages, BENCH_MEM_SAMPLE_MS, count);
    for (int i = 0; i < count; i++) {
        fprintf(out,
                "%s{\"agent_private_kib\": %" PRIu64 ", \"agent_peak_rss_kib\": %" PRIu64
                ", \"paho_pub_peak_rss_kib\": %" PRIu64 "}",
                i ? ", " : "", rounds[i].agent_private_kib, rounds[i].agent_peak_rss_kib,
                rounds[i].paho.peak_rss_kib);
    }
    fprintf(out, "],\n  \"median_round\": {\n");
    json_process(out, "agent_run", &median->run, false);
    json_process(out, "agent_burst", &median->burst, false);
    json_process(out, "agent_journal_offline", &median->journal, false);
    json_process(out, "agent_drain", &median->drain, false);
    json_process(out, "paho_cs_pub", &median->paho, true);
    fprintf(out, "}}\n");
    fclose(out);
    printf("results  %s\n", path);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median of the figure at offset in each round's figures. */
static uint64_t median_of(const round_figures *rounds, int count, size_t offset)
{
    uint64_t v[BENCH_MEM_ROUNDS];
    for (int i = 0; i < count; i++) {
        memcpy(&v[i], (const char *)&rounds[i] + offset, sizeof v[i]);
    }
    qsort(v, (size_t)count, sizeof v[0], cmp_u64);
    return v[count / 2];
}

static void round_run(int round, int payments, int messages, round_figures *r)
{
    printf("round %d\n", round);
    phase_run(&r->run);
    print_process("run", &r->run);
    phase_burst(payments, &r->burst);
    print_process("burst", &r->burst);
    phase_drain(payments, &r->journal, &r->drain);
    print_process("journal", &r->journal);
    print_process("drain", &r->drain);
    phase_paho(messages, round, &r->paho);
    print_process("paho", &r->paho);
    const process_figures *agent[] = {&r->run, &r->burst, &r->journal, &r->drain};
    r->largest = agent[0];
    for (size_t i = 0; i < sizeof agent / sizeof agent[0]; i++) {
        if (agent[i]->private_kib > r->largest->private_kib) {
            r->largest = agent[i];
        }
        if (agent[i]->peak_rss_kib > r->agent_peak_rss_kib) {
            r->agent_peak_rss_kib = agent[i]->peak_rss_kib;
        }
    }
    r->agent_private_kib = r->largest->private_kib;
}

static void parse_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            opt.quick = true;
        } else if (strcmp(argv[i], "--results") == 0 && i + 1 < argc) {
            opt.results = argv[++i];
        } else if (strcmp(argv[i], "--agent-memory") != 0) {
            fprintf(stderr, "usage: agent_memory_bench [--quick] [--results DIR]\n");
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    if (!getenv("FOGPAY_PLUGIN") || !getenv("FOGPAY_AGENT")) {
        die("FOGPAY_PLUGIN and FOGPAY_AGENT must name the plugin and fogpay-agent "
            "(bench/run.sh --agent-memory sets them)");
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    atexit(cleanup);
    if (!test_certs_available()) {
        die("the openssl program is missing (it makes the certificates)");
    }
    if (!test_broker_init(&gateway) || !test_broker_init(&plain)) {
        die("cannot set up");
    }
    start_brokers();
    int payments = opt.quick ? BENCH_MEM_PAYMENTS_QUICK : BENCH_MEM_PAYMENTS;
    int messages = opt.quick ? BENCH_MEM_PAHO_MESSAGES_QUICK : BENCH_MEM_PAHO_MESSAGES;
    int count = opt.quick ? 1 : BENCH_MEM_ROUNDS;
    static round_figures rounds[BENCH_MEM_ROUNDS];
    for (int i = 0; i < count; i++) {
        round_run(i + 1, payments, messages, &rounds[i]);
    }
    uint64_t agent_private = median_of(rounds, count, offsetof(round_figures, agent_private_kib));
    uint64_t agent_peak = median_of(rounds, count, offsetof(round_figures, agent_peak_rss_kib));
    uint64_t paho_peak = median_of(
        rounds, count, offsetof(round_figures, paho) + offsetof(process_figures, peak_rss_kib));
    const round_figures *median = &rounds[0];
    for (int i = 0; i < count; i++) {
        if (rounds[i].agent_private_kib == agent_private) {
            median = &rounds[i];
        }
    }
    const process_figures *most = median->largest;
    print_mappings("agent", most);
    print_mappings("paho", &median->paho);
    printf("targets  agent private %" PRIu64 " KiB of %d; peak RSS %" PRIu64 " KiB of %" PRIu64
           " (paho_cs_pub's + 1 MiB); medians of %d round(s)\n",
           agent_private, BENCH_MEM_TARGET_KIB, agent_peak, paho_peak + BENCH_MEM_TARGET_KIB,
           count);
    printf("beside   paho_cs_pub: private %+" PRId64 " KiB (dirty %+" PRId64 "), peak RSS %+" PRId64
           " KiB\n",
           (int64_t)most->private_kib - (int64_t)median->paho.private_kib,
           (int64_t)most->private_dirty_kib - (int64_t)median->paho.private_dirty_kib,
           (int64_t)agent_peak - (int64_t)paho_peak);
    if (opt.results) {
        write_results(rounds, count, median, payments, messages);
    }
    printf("fogpay-agent-memory agent_private_kib=%" PRIu64 " agent_peak_rss_kib=%" PRIu64
           " paho_pub_peak_rss_kib=%" PRIu64 " ratio=%.3f\n",
           agent_private, agent_peak, paho_peak,
           paho_peak ? (double)agent_peak / (double)paho_peak : 0.0);
    return 0;
}
