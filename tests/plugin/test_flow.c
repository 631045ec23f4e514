/*
 * test_flow.c - the per-device limit of answers owed (plugin/flow.c) on
 * the clock it is given: answers per window, the one answered refusal, the
 * silent ones, strikes in consecutive windows and the disconnection, other
 * devices untouched, idle entries reused, a table of many devices; and the
 * deployment's broker queue, which must hold every answer a device can be
 * owed (deploy/mosquitto.conf, max_queued_messages).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "gateway.h"
#include "testutil.h"

#define T0 1000000ull
#define W  FOGPAY_FLOW_WINDOW_MS

/* Offers n messages of id at now; counts each verdict. */
static void offer(fogpay_flow *f, const char *id, uint32_t limit, uint64_t now, int n, int *counts)
{
    for (int i = 0; i < n; i++) {
        counts[fogpay_flow_admit(f, id, limit, now)]++;
    }
}

static void test_window(void)
{
    fogpay_flow f = {0};
    int c[4] = {0};
    offer(&f, "dev-a", 5, T0, 8, c);
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_ADMIT], 5);
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_REFUSE_ANSWER], 1);
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_REFUSE_SILENT], 2);
    /* Another device has its own window. */
    CU_ASSERT_EQUAL(fogpay_flow_admit(&f, "dev-b", 5, T0), FOGPAY_FLOW_ADMIT);
    /* The next window answers again. */
    CU_ASSERT_EQUAL(fogpay_flow_admit(&f, "dev-a", 5, T0 + W - 1), FOGPAY_FLOW_REFUSE_SILENT);
    CU_ASSERT_EQUAL(fogpay_flow_admit(&f, "dev-a", 5, T0 + W), FOGPAY_FLOW_ADMIT);
    /* The limit never exceeds FOGPAY_FLOW_ANSWERS_MAX, whatever asked. */
    memset(c, 0, sizeof c);
    offer(&f, "dev-c", UINT32_MAX, T0, FOGPAY_FLOW_ANSWERS_MAX + 1, c);
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_ADMIT], FOGPAY_FLOW_ANSWERS_MAX);
    fogpay_flow_free(&f);
}

static void test_strikes(void)
{
    fogpay_flow f = {0};
    int c[4] = {0};
    /* Over the limit in FOGPAY_FLOW_STRIKES_MAX windows in a row. */
    for (unsigned w = 0; w < FOGPAY_FLOW_STRIKES_MAX; w++) {
        offer(&f, "dev-a", 2, T0 + w * W, 4, c);
    }
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_REFUSE_ANSWER], FOGPAY_FLOW_STRIKES_MAX - 1);
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_REFUSE_DISCONNECT], 1);
    /* A window in between without a refusal starts the count afresh. */
    memset(c, 0, sizeof c);
    uint64_t t = T0 + 10 * W;
    for (unsigned w = 0; w < 2 * FOGPAY_FLOW_STRIKES_MAX; w++) {
        offer(&f, "dev-b", 2, t + 2 * w * W, 4, c);
        offer(&f, "dev-b", 2, t + (2 * w + 1) * W, 1, c);
    }
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_REFUSE_DISCONNECT], 0);
    /* A pause of two windows does too. */
    memset(c, 0, sizeof c);
    for (unsigned w = 0; w < 2 * FOGPAY_FLOW_STRIKES_MAX; w++) {
        offer(&f, "dev-c", 2, t + 2 * w * W, 4, c);
    }
    CU_ASSERT_EQUAL(c[FOGPAY_FLOW_REFUSE_DISCONNECT], 0);
    fogpay_flow_free(&f);
}

static void test_many_devices(void)
{
    fogpay_flow f = {0};
    char id[FOGPAY_DEVICE_ID_MAX + 1];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "dev-%d", i);
        CU_ASSERT_EQUAL(fogpay_flow_admit(&f, id, 1, T0), FOGPAY_FLOW_ADMIT);
    }
    size_t capacity = f.capacity;
    CU_ASSERT(capacity >= 2 * 5000 && capacity <= 4 * 8192);
    /* Each device still has its own count. */
    for (int i = 0; i < 5000; i += 499) {
        snprintf(id, sizeof id, "dev-%d", i);
        CU_ASSERT_EQUAL(fogpay_flow_admit(&f, id, 1, T0), FOGPAY_FLOW_REFUSE_ANSWER);
    }
    /* Two windows later they are idle: new devices take their slots. */
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "new-%d", i);
        CU_ASSERT_EQUAL(fogpay_flow_admit(&f, id, 1, T0 + 2 * W), FOGPAY_FLOW_ADMIT);
    }
    CU_ASSERT_EQUAL(f.capacity, capacity);
    fogpay_flow_free(&f);
    CU_ASSERT_PTR_NULL(f.entries);
}

/* max_queued_messages in deploy/mosquitto.conf. */
static long deployed_queue(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/deploy/mosquitto.conf", getenv("FOGPAY_SOURCE_DIR"));
    size_t len = 0;
    char *conf = testutil_read_file(path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    long value = -1;
    for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) {
        sscanf(line, "max_queued_messages %ld", &value);
    }
    free(conf);
    return value;
}

static void test_deployed_queue(void)
{
    long queued = deployed_queue();
    CU_ASSERT_EQUAL(queued, FOGPAY_BROKER_QUEUED);
    CU_ASSERT(queued >= (long)FOGPAY_BROKER_QUEUED_MIN);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("flow", NULL, NULL);
    CU_add_test(s, "answers per window, one answered refusal, the rest silent", test_window);
    CU_add_test(s, "strikes in consecutive windows disconnect", test_strikes);
    CU_add_test(s, "many devices; idle entries reused", test_many_devices);
    CU_add_test(s, "the deployment's broker queue holds every answer owed", test_deployed_queue);
    return testutil_run();
}
