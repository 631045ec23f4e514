/*
 * test_web_monitor.c - the web monitor (web/) end to end: a real Mosquitto
 * with the plugin and a websockets listener serving web/dist with
 * http_dir, the page in Debian's headless Chromium driven by
 * tests/web/monitor.mjs (playwright-core), and payments by the real
 * fogpay-agent made while the page watches:
 *
 * - a wrong password is refused on the page; the operator's logs in and
 *   the page lists the devices;
 * - three payments settle, one is refused over the per-payment limit and
 *   charger-1 authorises a hold: the page shows them live (the refusal
 *   with its reason), the figures (settled, refused, backlog, holds, plans
 *   in arrears: meter-9's), a rate above zero on the chart, car-7's
 *   balance after them, the open hold and the plan;
 * - meter-9's plan is named among the plans in arrears (listArrears) with
 *   what it owes and since when, the time the ledger recorded;
 * - Suspend clicked on the page suspends car-7, Fund and Set limits fund
 *   charger-1 and change its per-payment limit: the page shows each, and
 *   so does the ledger (fogpayctl list-devices, online);
 * - a screenshot is kept in FOGPAY_MONITOR_SCREENSHOT.
 *
 * Skipped (77) with the reason when node, Chromium, web/node_modules or
 * the bundle (web/dist) is missing: tests/run.sh installs and builds them.
 *
 * usage: test_web_monitor (FOGPAY_PLUGIN, FOGPAYCTL, FOGPAY_AGENT,
 * FOGPAY_WEB_DIR, FOGPAY_NODE, FOGPAY_CHROMIUM, FOGPAY_MONITOR_SCRIPT and
 * FOGPAY_MONITOR_SCREENSHOT)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "site.h"
#include "testutil.h"

#define MONITOR_WAIT_MS 120000
#define SKIP            77
/* What meter-9's plan owes when it goes into arrears: its ten daily
 * instalments, all late (the plan took effect ten days before the test). */
#define MONITOR_ARREARS "100.00"

static test_site site;
static char sync_dir[TEST_BROKER_PATH_MAX];

static bool exists(const char *path)
{
    struct stat st;
    return path != NULL && stat(path, &st) == 0;
}

/* The reason to skip, or NULL when everything the test needs is there. */
static const char *missing(void)
{
    char path[TEST_BROKER_PATH_MAX];
    const char *web = getenv("FOGPAY_WEB_DIR");
    if (!exists(getenv("FOGPAY_NODE"))) {
        return "node is not installed (Debian's nodejs)";
    }
    if (!exists(getenv("FOGPAY_CHROMIUM"))) {
        return "chromium is not installed (Debian's chromium)";
    }
    snprintf(path, sizeof path, "%s/node_modules/playwright-core", web ? web : "");
    if (!exists(path)) {
        return "web/node_modules is missing (npm ci in web/)";
    }
    snprintf(path, sizeof path, "%s/dist/monitor.js", web ? web : "");
    if (!exists(path)) {
        return "the bundle web/dist is missing (npm run build in web/)";
    }
    return NULL;
}

static bool wait_file(const char *name, pid_t child)
{
    char path[TEST_BROKER_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", sync_dir, name);
    uint64_t until = testutil_now_ms() + MONITOR_WAIT_MS;
    while (!exists(path) && testutil_now_ms() < until) {
        if (waitpid(child, NULL, WNOHANG) == child) {
            return false;
        }
        testutil_sleep_ms(100);
    }
    return exists(path);
}

static pid_t monitor_start(int ws_port)
{
    char url[128], port[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", ws_port);
    snprintf(port, sizeof port, "%d", ws_port);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("FOGPAY_MONITOR_URL", url, 1);
        setenv("FOGPAY_OPERATOR", TEST_SITE_OPERATOR, 1);
        setenv("FOGPAY_OPERATOR_PASSWORD", site.operator_password, 1);
        setenv("FOGPAY_SYNC_DIR", sync_dir, 1);
        setenv("FOGPAY_EXPECT_BALANCE", "43.45", 1);
        setenv("FOGPAY_EXPECT_ARREARS", MONITOR_ARREARS, 1);
        execl(getenv("FOGPAY_NODE"), "node", getenv("FOGPAY_MONITOR_SCRIPT"), (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits for the monitor script; its exit status (it is killed late). */
static int monitor_wait(pid_t pid)
{
    uint64_t until = testutil_now_ms() + MONITOR_WAIT_MS;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (testutil_now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 128 + SIGKILL;
        }
        testutil_sleep_ms(100);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The ledger's time of meter-9's arrears (listArrears' entered, unix ms)
 * as the page shows it, ISO 8601 in UTC with milliseconds, into iso. */
static bool arrears_entered(char *iso, size_t iso_size)
{
    char out[TEST_BROKER_PATH_MAX];
    test_broker_path(&site.broker, "arrears.json", out, sizeof out);
    const char *list[] = {"plan", "arrears", "--device", "meter-9", NULL};
    if (test_site_ctl(&site, true, list, out) != 0) {
        return false;
    }
    char *text = testutil_read_file(out, NULL);
    const char *entered = text ? strstr(text, "\"entered\":") : NULL;
    bool ok = entered != NULL && strstr(text, "\"meter-9-loan\"") != NULL &&
              strstr(text, "\"owed\":\t\"" MONITOR_ARREARS "\"") != NULL;
    if (ok) {
        unsigned long long ms = strtoull(entered + strlen("\"entered\":"), NULL, 10);
        time_t seconds = (time_t)(ms / 1000);
        struct tm tm;
        char at[32];
        ok = gmtime_r(&seconds, &tm) != NULL &&
             strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm) > 0;
        if (ok) {
            snprintf(iso, iso_size, "%s.%03lluZ", at, ms % 1000);
        }
    }
    free(text);
    return ok;
}

static void test_monitor(void)
{
    int ws_port = test_free_port();
    char conf[TEST_BROKER_CONF_MAX];
    snprintf(conf, sizeof conf,
             "plugin_opt_metrics_interval 500\n"
             "plugin_opt_metrics_live true\n"
             "listener %d 127.0.0.1\n"
             "protocol websockets\n"
             "http_dir %s/dist\n",
             ws_port, getenv("FOGPAY_WEB_DIR"));
    CU_ASSERT_TRUE_FATAL(test_site_start(&site, conf));
    test_broker_path(&site.broker, "sync", sync_dir, sizeof sync_dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(sync_dir, 0700), 0);

    pid_t monitor = monitor_start(ws_port);
    CU_ASSERT_TRUE_FATAL(monitor > 0);
    bool ready = wait_file("ready", monitor);
    CU_ASSERT_TRUE(ready);
    if (ready) {
        CU_ASSERT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "4.20", "kWh 12.0"), 0);
        CU_ASSERT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "3.85", "kWh 11.0"), 0);
        CU_ASSERT_EQUAL(test_site_pay(&site, "charger-1", "car-7", "1.50", "coffee"), 0);
        CU_ASSERT_NOT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "25.00", "too much"), 0);
        CU_ASSERT_EQUAL(test_site_authorise(&site, "charger-1", "car-7", "5.00", "3600"), 0);
        char paid[TEST_BROKER_PATH_MAX + 16];
        snprintf(paid, sizeof paid, "%s/paid", sync_dir);
        FILE *f = fopen(paid, "w");
        CU_ASSERT_PTR_NOT_NULL(f);
        if (f) {
            fclose(f);
        }
    }
    CU_ASSERT_EQUAL(monitor_wait(monitor), 0);

    /* The plan in arrears the page named is the ledger's, since then. */
    char since[TEST_BROKER_PATH_MAX + 16], entered[64] = "";
    snprintf(since, sizeof since, "%s/arrears-since", sync_dir);
    char *shown = testutil_read_file(since, NULL);
    CU_ASSERT_TRUE(arrears_entered(entered, sizeof entered));
    CU_ASSERT_TRUE(shown != NULL && strcmp(shown, entered) == 0);
    free(shown);

    /* The suspension clicked on the page is the ledger's. */
    char out[TEST_BROKER_PATH_MAX];
    test_broker_path(&site.broker, "devices.json", out, sizeof out);
    const char *list[] = {"list-devices", "--currency", "EUR", NULL};
    CU_ASSERT_EQUAL(test_site_ctl(&site, true, list, out), 0);
    char *text = testutil_read_file(out, NULL);
    char *car = text ? strstr(text, "\"car-7\"") : NULL;
    char *charger = text ? strstr(text, "\"charger-1\"") : NULL;
    CU_ASSERT_TRUE(car != NULL && charger != NULL);
    if (car != NULL && charger != NULL) {
        /* car-7 comes first in id order: its entry ends where charger-1's starts. */
        CU_ASSERT_PTR_NOT_NULL(strstr(charger, "\"active\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(charger, "\"53.55\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(charger, "\"held\":\t\"5.00\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(charger, "\"perPayment\":\t\"15.00\""));
        *charger = '\0';
        CU_ASSERT_PTR_NOT_NULL(strstr(car, "\"suspended\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(car, "\"43.45\""));
    }
    free(text);
}

int main(void)
{
    const char *why = missing();
    if (why != NULL) {
        printf("web_monitor skipped: %s\n", why);
        return SKIP;
    }
    const char *devices[] = {"car-7", "charger-1", "meter-9", NULL};
    if (!test_site_provision(&site, devices) || !test_site_plan_in_arrears(&site, "meter-9")) {
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("web monitor", NULL, NULL);
    CU_add_test(s, "payments and a suspension seen and made on the page", test_monitor);
    int status = testutil_run();
    if (status != 0) {
        test_broker_dump_log(&site.broker);
    }
    test_site_cleanup(&site);
    return status;
}
