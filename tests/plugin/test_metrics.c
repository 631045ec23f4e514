/*
 * test_metrics.c - the gateway's metrics under $SYS/broker/fogpay/,
 * through a real Mosquitto with the plugin and payments made by the real
 * fogpay-agent:
 *
 * - after three settled payments and one refused over the per-payment
 *   limit, an operator subscribed to $SYS/broker/fogpay/# reads three
 *   settled, one refused under limit_per_payment, commits with a group
 *   size and a latency whose buckets end in +Inf with the commit count,
 *   every funding and payment in the sync backlog (no cloud here), an
 *   empty outbox, no open hold, the devices registered, and the one
 *   financing plan with instalments overdue and unpaid in arrears;
 * - a device logged in counts as connected, and stops counting when it
 *   leaves; a device suspended by the operator counts as suspended (and
 *   its agent, told so, refuses by itself: nothing more is counted);
 * - the figures are retained: a late subscriber reads them at once;
 * - a device may not read them;
 * - with plugin_opt_metrics_live, every answer is described on
 *   $SYS/broker/fogpay/live as it is published: a settled payment with its
 *   amount, payee and transfer, a refusal with its reason.
 *
 * usage: test_metrics (FOGPAY_PLUGIN, FOGPAYCTL and FOGPAY_AGENT name the
 * programs)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTClient.h>

#include "site.h"
#include "testutil.h"

#define FIGURES_MAX 128
#define FIGURE_TEXT 512
#define WAIT_MS     5000
/* Two of the test's metrics intervals: every figure of a publication
 * has arrived after it. */
#define SETTLE_MS 400

typedef struct figure {
    char topic[128];
    char text[FIGURE_TEXT];
} figure;

static test_site site;
static figure figures[FIGURES_MAX];
static size_t figure_count;

static int suite_init(void)
{
    const char *devices[] = {"car-7", "charger-1", "meter-9", NULL};
    if (!test_site_provision(&site, devices) || !test_site_plan_in_arrears(&site, "meter-9") ||
        !test_site_start(&site,
                         "plugin_opt_metrics_interval 200\nplugin_opt_metrics_live true\n")) {
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    test_site_cleanup(&site);
    return 0;
}

static bool connect_as(MQTTClient *c, const char *id, const char *user, const char *password)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", site.broker.port);
    MQTTClient_create(c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    o.username = user;
    o.password = password;
    o.cleansession = 1;
    if (MQTTClient_connect(*c, &o) != MQTTCLIENT_SUCCESS) {
        MQTTClient_destroy(c);
        return false;
    }
    return true;
}

static void close_client(MQTTClient *c)
{
    MQTTClient_disconnect(*c, 1000);
    MQTTClient_destroy(c);
}

static void keep(const char *topic, const char *payload, int len)
{
    size_t i = 0;
    while (i < figure_count && strcmp(figures[i].topic, topic) != 0) {
        i++;
    }
    if (i == FIGURES_MAX) {
        return;
    }
    if (i == figure_count) {
        figure_count++;
        snprintf(figures[i].topic, sizeof figures[i].topic, "%s", topic);
    }
    snprintf(figures[i].text, sizeof figures[i].text, "%.*s", len, payload);
}

/* The figure under $SYS/broker/fogpay/leaf, or NULL. */
static const char *figure_of(const char *leaf)
{
    char topic[160];
    snprintf(topic, sizeof topic, "$SYS/broker/fogpay/%s", leaf);
    for (size_t i = 0; i < figure_count; i++) {
        if (strcmp(figures[i].topic, topic) == 0) {
            return figures[i].text;
        }
    }
    return NULL;
}

static bool figure_is(const char *leaf, const char *want)
{
    const char *got = figure_of(leaf);
    return got != NULL && strcmp(got, want) == 0;
}

/* Reads the metrics as the operator until leaf reads want (or WAIT_MS). */
static bool read_until(const char *leaf, const char *want)
{
    MQTTClient c;
    if (!connect_as(&c, "ops-metrics", TEST_SITE_OPERATOR, site.operator_password)) {
        return false;
    }
    figure_count = 0;
    CU_ASSERT_EQUAL(MQTTClient_subscribe(c, "$SYS/broker/fogpay/#", 0), MQTTCLIENT_SUCCESS);
    uint64_t until = testutil_now_ms() + WAIT_MS;
    uint64_t settled = 0; /* when leaf read want: the rest of that publication follows */
    while ((settled == 0 || testutil_now_ms() < settled + SETTLE_MS) && testutil_now_ms() < until) {
        if (settled == 0 && figure_is(leaf, want)) {
            settled = testutil_now_ms();
        }
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        if (MQTTClient_receive(c, &topic, &topic_len, &m, 200) == MQTTCLIENT_SUCCESS && m) {
            keep(topic, m->payload, m->payloadlen);
            MQTTClient_freeMessage(&m);
            MQTTClient_free(topic);
        }
    }
    close_client(&c);
    if (!figure_is(leaf, want)) {
        const char *got = figure_of(leaf);
        printf("\n  %s: expected %s, got %s\n", leaf, want, got ? got : "(nothing)");
        return false;
    }
    return true;
}

static void test_payments_and_refusal(void)
{
    CU_ASSERT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "4.20", "kWh 12.0"), 0);
    CU_ASSERT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "3.85", "kWh 11.0"), 0);
    CU_ASSERT_EQUAL(test_site_pay(&site, "charger-1", "car-7", "1.50", "coffee"), 0);
    CU_ASSERT_NOT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "25.00", "too much"), 0);

    CU_ASSERT_TRUE(read_until("intents/refused/limit_per_payment", "1"));
    CU_ASSERT_TRUE(figure_is("intents/settled", "3"));
    CU_ASSERT_TRUE(figure_is("intents/refused", "1"));
    CU_ASSERT_TRUE(figure_is("holds/open", "0"));
    CU_ASSERT_TRUE(figure_is("outbox/depth", "0"));
    CU_ASSERT_TRUE(figure_is("sync/backlog", "6")); /* three fundings, three payments */
    CU_ASSERT_TRUE(figure_is("devices/registered", "3"));
    CU_ASSERT_TRUE(figure_is("plans/arrears", "1"));
    CU_ASSERT_TRUE(figure_is("devices/suspended", "0"));
    CU_ASSERT_TRUE(figure_is("devices/connected", "0"));

    /* Every answered message was committed in some group. */
    const char *commits = figure_of("commit/count");
    const char *sizes = figure_of("commit/group_size/sum");
    CU_ASSERT_PTR_NOT_NULL_FATAL(commits);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sizes);
    CU_ASSERT_TRUE(atoi(commits) >= 1 && atoi(commits) <= 4);
    CU_ASSERT_EQUAL(atoi(sizes), 4);
    CU_ASSERT_TRUE(figure_is("commit/latency/count", commits));
    CU_ASSERT_TRUE(figure_is("commit/group_size/p50", "1"));

    /* The buckets are cumulative and end in +Inf with the count. */
    const char *buckets = figure_of("commit/latency/buckets");
    CU_ASSERT_PTR_NOT_NULL_FATAL(buckets);
    char last[64];
    snprintf(last, sizeof last, "+Inf %s\n", commits);
    size_t n = strlen(buckets), m = strlen(last);
    CU_ASSERT_TRUE(n > m && strcmp(buckets + n - m, last) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buckets, "0.000001 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(buckets, "10.000000 "));
    const char *p99 = figure_of("commit/latency/p99");
    CU_ASSERT_TRUE(p99 != NULL && atof(p99) > 0 && atof(p99) <= 10.0);
    const char *minute = figure_of("commit/latency/minute/count");
    CU_ASSERT_TRUE(minute != NULL && strcmp(minute, commits) == 0);
    const char *age = figure_of("sync/oldest_unacked_age");
    CU_ASSERT_TRUE(age != NULL && atof(age) >= 0 && atof(age) < 60);
}

static void test_connected_and_suspended(void)
{
    char password[64];
    MQTTClient device;
    CU_ASSERT_TRUE_FATAL(test_site_device_password(&site, "charger-1", password, sizeof password));
    CU_ASSERT_TRUE_FATAL(connect_as(&device, "charger-1", "charger-1", password));
    CU_ASSERT_TRUE(read_until("devices/connected", "1"));
    /* A device may not read the gateway's figures. */
    CU_ASSERT_NOT_EQUAL(MQTTClient_subscribe(device, "$SYS/broker/fogpay/#", 0),
                        MQTTCLIENT_SUCCESS);
    close_client(&device);
    CU_ASSERT_TRUE(read_until("devices/connected", "0"));

    const char *suspend[] = {"suspend-device", "--device", "car-7", NULL};
    CU_ASSERT_EQUAL(test_site_ctl(&site, true, suspend, NULL), 0);
    CU_ASSERT_TRUE(read_until("devices/suspended", "1"));
    /* The agent was told by the gateway's command and refuses by itself:
     * nothing reaches the gateway, nothing is counted. */
    CU_ASSERT_NOT_EQUAL(test_site_pay(&site, "car-7", "charger-1", "1.00", "suspended"), 0);
    CU_ASSERT_TRUE(read_until("intents/settled", "3"));
    CU_ASSERT_TRUE(figure_is("intents/refused", "1"));
    CU_ASSERT_PTR_NULL(figure_of("intents/refused/device_suspended"));
}

/* The next live message (QoS 0, not retained) into text, or false. */
static bool next_live(MQTTClient c, char *text, size_t cap)
{
    uint64_t until = testutil_now_ms() + WAIT_MS;
    while (testutil_now_ms() < until) {
        char *topic = NULL;
        int topic_len = 0;
        MQTTClient_message *m = NULL;
        if (MQTTClient_receive(c, &topic, &topic_len, &m, 200) != MQTTCLIENT_SUCCESS || !m) {
            continue;
        }
        bool live = strcmp(topic, "$SYS/broker/fogpay/live") == 0;
        snprintf(text, cap, "%.*s", m->payloadlen, (const char *)m->payload);
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
        if (live) {
            return true;
        }
    }
    return false;
}

static void test_live_feed(void)
{
    const char *resume[] = {"resume-device", "--device", "car-7", NULL};
    CU_ASSERT_EQUAL(test_site_ctl(&site, true, resume, NULL), 0);
    MQTTClient c;
    CU_ASSERT_TRUE_FATAL(connect_as(&c, "ops-live", TEST_SITE_OPERATOR, site.operator_password));
    CU_ASSERT_EQUAL(MQTTClient_subscribe(c, "$SYS/broker/fogpay/live", 0), MQTTCLIENT_SUCCESS);
    CU_ASSERT_EQUAL(test_site_pay(&site, "charger-1", "car-7", "1.25", "live"), 0);
    CU_ASSERT_NOT_EQUAL(test_site_pay(&site, "charger-1", "car-7", "30.00", "live"), 0);
    char text[FIGURE_TEXT];
    CU_ASSERT_TRUE_FATAL(next_live(c, text, sizeof text));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"device\":\"charger-1\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"status\":\"settled\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"amount\":\"1.25\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"payee\":\"car-7\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"transfer\":"));
    CU_ASSERT_TRUE_FATAL(next_live(c, text, sizeof text));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"status\":\"rejected\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"reason\":\"limit_per_payment\""));
    CU_ASSERT_PTR_NULL(strstr(text, "\"transfer\":"));
    close_client(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("metrics", suite_init, suite_clean);
    CU_add_test(s, "payments and a refusal", test_payments_and_refusal);
    CU_add_test(s, "connected and suspended devices", test_connected_and_suspended);
    CU_add_test(s, "the live feed", test_live_feed);
    return testutil_run();
}
