/*
 * test_config.c - the agent's configuration at open: a topic prefix or a
 * device id the wire contract does not take (fogpay_topic) is refused with
 * FOGPAY_ERR_CONFIG before anything is opened. No broker: opening the agent
 * does not connect.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "fogpay_key.h"
#include "testutil.h"

static char dir[256], state_dir[300], key_path[300], gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];

static fogpay_error open_with(const char *prefix, const char *device_id)
{
    fogpay_agent_config cfg = {.state_dir = state_dir,
                               .key_path = key_path,
                               .device_id = device_id,
                               .gateway_key = gateway_text,
                               .prefix = prefix,
                               .port = 1};
    fogpay_agent *a = NULL;
    fogpay_error err = fogpay_agent_open(&cfg, &a);
    if (err == FOGPAY_OK) {
        fogpay_agent_close(a);
    }
    return err;
}

static void test_prefix(void)
{
    CU_ASSERT_EQUAL(open_with("fogpay/v1", "dev-c"), FOGPAY_OK);
    CU_ASSERT_EQUAL(open_with("site:1/fogpay", "dev-c"), FOGPAY_OK);
    const char *bad[] = {"fogpay/+/v1", "fogpay/#", "fogpay//v1", "/fogpay", "fogpay/",
                         "$SYS/fogpay", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(open_with(bad[i], "dev-c"), FOGPAY_ERR_CONFIG);
    }
    char longest[FOGPAY_TOPIC_PREFIX_MAX + 2];
    memset(longest, 'p', sizeof longest - 1);
    longest[FOGPAY_TOPIC_PREFIX_MAX] = '\0';
    CU_ASSERT_EQUAL(open_with(longest, "dev-c"), FOGPAY_OK);
    longest[FOGPAY_TOPIC_PREFIX_MAX] = 'p';
    longest[FOGPAY_TOPIC_PREFIX_MAX + 1] = '\0';
    CU_ASSERT_EQUAL(open_with(longest, "dev-c"), FOGPAY_ERR_CONFIG);
}

static void test_device_id(void)
{
    CU_ASSERT_EQUAL(open_with(NULL, "site.1:dev_c-2"), FOGPAY_OK);
    const char *bad[] = {"dev/c", "dev+c", "dev#c", "dev c", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(open_with(NULL, bad[i]), FOGPAY_ERR_CONFIG);
    }
}

int main(void)
{
    testutil_tempdir(dir, sizeof dir);
    snprintf(state_dir, sizeof state_dir, "%s/state", dir);
    snprintf(key_path, sizeof key_path, "%s/dev.key", dir);
    fogpay_key *k = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &k) != FOGPAY_OK ||
        fogpay_key_save(k, key_path, false) != FOGPAY_OK ||
        fogpay_key_public_text(k, gateway_text, sizeof gateway_text) != FOGPAY_OK) {
        return 1;
    }
    fogpay_key_free(k);
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("agent_config", NULL, NULL);
    CU_add_test(s, "a prefix the contract does not take is refused", test_prefix);
    CU_add_test(s, "a device id the contract does not take is refused", test_device_id);
    int rc = testutil_run();
    testutil_rmtree(dir);
    return rc;
}
