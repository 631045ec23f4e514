/*
 * test_exporter.c - fogpay-exporter between a real Mosquitto with the
 * plugin (payments by the real fogpay-agent, one refused) and an HTTP
 * client:
 *
 * - GET /metrics answers Prometheus text: the settled counter, the
 *   refusals by reason, the devices, the commit latency as a histogram
 *   whose +Inf bucket equals its count, each metric with its TYPE line;
 * - the figures follow the gateway: a further payment shows up;
 * - when the broker stops, fogpay_exporter_broker_connected is 0 and the
 *   last figures stay; when it is back the exporter logs in again;
 * - another path is 404;
 * - without a valid operator login the exporter serves no figures, only
 *   fogpay_exporter_broker_connected 0.
 *
 * usage: test_exporter (FOGPAY_PLUGIN, FOGPAYCTL, FOGPAY_AGENT and
 * FOGPAY_EXPORTER name the programs)
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "site.h"
#include "testutil.h"

#define PAGE_MAX (256 * 1024)
#define WAIT_MS  5000

static test_site site;
static pid_t exporter = -1;
static int http_port;
static char page[PAGE_MAX];

/* Starts the exporter as user with password file pw on a free port. */
static void exporter_start(const char *user, const char *pw)
{
    char listen[32], port[16];
    http_port = test_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", http_port);
    snprintf(port, sizeof port, "%d", site.broker.port);
    exporter = fork();
    if (exporter == 0) {
        const char *program = getenv("FOGPAY_EXPORTER");
        execl(program, program, "-h", "127.0.0.1", "-p", port, "-u", user, "--password-file", pw,
              "--listen", listen, (char *)NULL);
        _exit(127);
    }
}

static void exporter_stop(void)
{
    if (exporter > 0) {
        kill(exporter, SIGTERM);
        CU_ASSERT_EQUAL(testutil_wait_exit(exporter), 0);
        exporter = -1;
    }
}

/* GET path; the HTTP status, the whole answer in page. */
static int http_get(const char *path)
{
    page[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    char request[256];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (write(fd, request, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t used = 0;
    ssize_t got;
    while (used < PAGE_MAX - 1 && (got = read(fd, page + used, PAGE_MAX - 1 - used)) > 0) {
        used += (size_t)got;
    }
    page[used] = '\0';
    close(fd);
    int status = -1;
    return sscanf(page, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

/* The value of the sample line "name value" on the page, or -1. */
static double sample(const char *name)
{
    size_t n = strlen(name);
    for (const char *line = page; line && *line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            return atof(line + n + 1);
        }
    }
    return -1;
}

/* GETs /metrics until the sample reads want (or WAIT_MS). */
static bool wait_sample(const char *name, double want)
{
    uint64_t until = testutil_now_ms() + WAIT_MS;
    while (testutil_now_ms() < until) {
        if (http_get("/metrics") == 200 && sample(name) == want) {
            return true;
        }
        testutil_sleep_ms(100);
    }
    printf("\n  %s: expected %g, got %g in:\n%s\n", name, want, sample(name), page);
    return false;
}

static int suite_init(void)
{
    const char *devices[] = {"car-7", "charger-1", NULL};
    if (!test_site_provision(&site, devices) ||
        !test_site_start(&site, "plugin_opt_metrics_interval 200\n")) {
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    exporter_stop();
    test_site_cleanup(&site);
    return 0;
}

static void test_metrics_page(void)
{
    CU_ASSERT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "4.20", "kWh 12.0"), 0);
    CU_ASSERT_EQUAL(test_site_pay(&site, "charger-1", "car-7", "1.50", "coffee"), 0);
    CU_ASSERT_NOT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "25.00", "too much"), 0);
    exporter_start(TEST_SITE_OPERATOR, site.operator_password_file);

    CU_ASSERT_TRUE(wait_sample("fogpay_intents_refused_total{reason=\"limit_per_payment\"}", 1));
    CU_ASSERT_EQUAL(sample("fogpay_intents_settled_total"), 2);
    CU_ASSERT_EQUAL(sample("fogpay_exporter_broker_connected"), 1);
    CU_ASSERT_EQUAL(sample("fogpay_devices_registered"), 2);
    CU_ASSERT_EQUAL(sample("fogpay_devices_suspended"), 0);
    CU_ASSERT_EQUAL(sample("fogpay_holds_open"), 0);
    CU_ASSERT_EQUAL(sample("fogpay_sync_backlog_transfers"), 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "Content-Type: text/plain; version=0.0.4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "# TYPE fogpay_intents_settled_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "# TYPE fogpay_intents_refused_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "# TYPE fogpay_devices_connected gauge\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(page, "# TYPE fogpay_commit_latency_seconds histogram\n"));
    double count = sample("fogpay_commit_latency_seconds_count");
    CU_ASSERT_TRUE(count >= 1);
    CU_ASSERT_EQUAL(sample("fogpay_commit_latency_seconds_bucket{le=\"+Inf\"}"), count);
    CU_ASSERT_TRUE(sample("fogpay_commit_latency_seconds_bucket{le=\"10.000000\"}") <= count);
    CU_ASSERT_TRUE(sample("fogpay_commit_latency_seconds_sum") > 0);
    CU_ASSERT_EQUAL(sample("fogpay_commit_group_size_messages_sum"), 3);
    CU_ASSERT_TRUE(
        sample("fogpay_commit_latency_seconds_quantile{quantile=\"0.99\",since=\"start\"}") > 0);

    CU_ASSERT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "2.00", "kWh 5.0"), 0);
    CU_ASSERT_TRUE(wait_sample("fogpay_intents_settled_total", 3));
    CU_ASSERT_EQUAL(http_get("/other"), 404);

    /* The broker goes away and comes back: the exporter says so, logs in
     * again and follows the restarted gateway's counters (from 0). */
    test_broker_stop(&site.broker);
    CU_ASSERT_TRUE(wait_sample("fogpay_exporter_broker_connected", 0));
    CU_ASSERT_EQUAL(sample("fogpay_intents_settled_total"), 3);
    CU_ASSERT_TRUE_FATAL(test_broker_restart(&site.broker));
    CU_ASSERT_TRUE(wait_sample("fogpay_exporter_broker_connected", 1));
    CU_ASSERT_TRUE(wait_sample("fogpay_intents_settled_total", 0));
    exporter_stop();
}

static void test_bad_login(void)
{
    char wrong[TEST_BROKER_PATH_MAX];
    test_broker_path(&site.broker, "wrong.password", wrong, sizeof wrong);
    FILE *f = fopen(wrong, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("not-the-password\n", f);
    fclose(f);
    exporter_start(TEST_SITE_OPERATOR, wrong);
    CU_ASSERT_TRUE(wait_sample("fogpay_exporter_broker_connected", 0));
    CU_ASSERT_EQUAL(sample("fogpay_intents_settled_total"), -1);
    exporter_stop();
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("exporter", suite_init, suite_clean);
    CU_add_test(s, "the /metrics page", test_metrics_page);
    CU_add_test(s, "a refused login", test_bad_login);
    return testutil_run();
}
