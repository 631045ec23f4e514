/*
 * test_topic.c - the topics of common/fogpay_topic.h: every kind built and
 * parsed back, every refusal (wrong prefix, overlong, bad id characters,
 * extra and empty levels, wildcards), the boundary lengths, and the id
 * alphabet the codec shares.
 */
#include <stdio.h>
#include <string.h>

#include "fogpay_message.h"
#include "fogpay_topic.h"
#include "testutil.h"

/* Writes n copies of c and a NUL into buf (n + 1 bytes or more). */
static void fill(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

/* "{prefix}/dev/{device}/reply/", in a static buffer. */
static const char *topic_reply_head(const char *prefix, const char *device)
{
    static char head[2 * FOGPAY_TOPIC_MAX];
    snprintf(head, sizeof head, "%s/dev/%s/reply/", prefix, device);
    return head;
}

static void test_build_and_parse(void)
{
    static const struct {
        fogpay_topic_kind kind;
        const char *id;
        const char *reply;
        const char *topic;
    } cases[] = {
        {FOGPAY_TOPIC_INTENT, "dev-1", NULL, "fogpay/v1/dev/dev-1/intent"},
        {FOGPAY_TOPIC_USAGE, "dev-1", NULL, "fogpay/v1/dev/dev-1/usage"},
        {FOGPAY_TOPIC_RECEIPT, "dev-1", NULL, "fogpay/v1/dev/dev-1/receipt"},
        {FOGPAY_TOPIC_COMMAND, "dev-1", NULL, "fogpay/v1/dev/dev-1/cmd"},
        {FOGPAY_TOPIC_REPLY, "dev-1", "receipt", "fogpay/v1/dev/dev-1/reply/receipt"},
        {FOGPAY_TOPIC_REPLY, "dev-1", "a/b", "fogpay/v1/dev/dev-1/reply/a/b"},
        {FOGPAY_TOPIC_BATCH, "site-4", NULL, "fogpay/v1/gw/site-4/batch"},
        {FOGPAY_TOPIC_ACK, "site-4", NULL, "fogpay/v1/gw/site-4/ack"},
        {FOGPAY_TOPIC_INTENT, "urn:dev.A_9", NULL, "fogpay/v1/dev/urn:dev.A_9/intent"},
        {FOGPAY_TOPIC_BATCH, "gw:1", NULL, "fogpay/v1/gw/gw:1/batch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char topic[FOGPAY_TOPIC_MAX];
        CU_ASSERT_EQUAL(fogpay_topic_build("fogpay/v1", cases[i].kind, cases[i].id, cases[i].reply,
                                           topic, sizeof topic),
                        FOGPAY_OK);
        CU_ASSERT_STRING_EQUAL(topic, cases[i].topic);
        char id[FOGPAY_TOPIC_ID_MAX + 1];
        CU_ASSERT_EQUAL(fogpay_topic_parse_id("fogpay/v1", topic, id), cases[i].kind);
        CU_ASSERT_STRING_EQUAL(id, cases[i].id);
    }
    char filter[FOGPAY_TOPIC_MAX];
    CU_ASSERT_EQUAL(fogpay_topic_filter("acme/pay", FOGPAY_TOPIC_BATCH, filter, sizeof filter),
                    FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(filter, "acme/pay/gw/+/batch");
    CU_ASSERT_EQUAL(fogpay_topic_filter("acme/pay", FOGPAY_TOPIC_ACK, filter, sizeof filter),
                    FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(filter, "acme/pay/gw/+/ack");
    CU_ASSERT_EQUAL(fogpay_topic_filter("acme/pay", FOGPAY_TOPIC_INTENT, filter, sizeof filter),
                    FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_TRUE(fogpay_topic_is_gateway(FOGPAY_TOPIC_GATEWAY));
    CU_ASSERT_FALSE(fogpay_topic_is_gateway(FOGPAY_TOPIC_REPLY));
}

static void test_parse_refusals(void)
{
    static const struct {
        const char *topic;
        fogpay_topic_kind kind;
    } cases[] = {
        {"fogpay/v2/dev/d1/intent", FOGPAY_TOPIC_NONE},  /* wrong prefix */
        {"fogpay/v1x/dev/d1/intent", FOGPAY_TOPIC_NONE}, /* prefix is not a level */
        {"fogpay/v1", FOGPAY_TOPIC_NONE},                /* the prefix alone */
        {"other/dev/d1/intent", FOGPAY_TOPIC_NONE},
        {"fogpay/v1/dev/d1/intent/x", FOGPAY_TOPIC_OTHER},   /* extra level */
        {"fogpay/v1/dev/d1/reply/a//b", FOGPAY_TOPIC_OTHER}, /* empty level */
        {"fogpay/v1/dev/d1/reply//a", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev/d1/reply/a/", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev/d1/reply", FOGPAY_TOPIC_OTHER}, /* reply without a name */
        {"fogpay/v1/dev/d1/reply/", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev//intent", FOGPAY_TOPIC_OTHER}, /* empty id */
        {"fogpay/v1/dev/d1/", FOGPAY_TOPIC_OTHER},     /* empty leaf */
        {"fogpay/v1/dev/d1", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev/d1/batch", FOGPAY_TOPIC_OTHER},   /* a gateway leaf */
        {"fogpay/v1/dev/d 1/intent", FOGPAY_TOPIC_OTHER}, /* bad id characters */
        {"fogpay/v1/dev/d*1/intent", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev/+/intent", FOGPAY_TOPIC_OTHER}, /* wildcards */
        {"fogpay/v1/dev/d+/intent", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev/#", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/dev/d1/reply/#", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/gw/+/batch", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/gw/g1/batch/x", FOGPAY_TOPIC_GATEWAY}, /* under gw/, not batch or ack */
        {"fogpay/v1/gw//batch", FOGPAY_TOPIC_GATEWAY},
        {"fogpay/v1/gw/g1/intent", FOGPAY_TOPIC_GATEWAY},
        {"fogpay/v1/gw/g 1/ack", FOGPAY_TOPIC_GATEWAY},
        {"fogpay/v1/gw/g1", FOGPAY_TOPIC_GATEWAY},
        {"fogpay/v1/gw/", FOGPAY_TOPIC_GATEWAY},
        {"fogpay/v1/x/d1/intent", FOGPAY_TOPIC_OTHER},
        {"fogpay/v1/", FOGPAY_TOPIC_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[FOGPAY_TOPIC_ID_MAX + 1] = "junk";
        fogpay_topic_kind kind = fogpay_topic_parse_id("fogpay/v1", cases[i].topic, id);
        if (kind != cases[i].kind) {
            fprintf(stderr, "%s: kind %d, expected %d\n", cases[i].topic, kind, cases[i].kind);
        }
        CU_ASSERT_EQUAL(kind, cases[i].kind);
        CU_ASSERT_STRING_EQUAL(id, "");
    }
}

static void test_build_refusals(void)
{
    char topic[FOGPAY_TOPIC_MAX];
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_INTENT, "d+1", NULL, topic, sizeof topic),
        FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_INTENT, "d/1", NULL, topic, sizeof topic),
        FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_ACK, "", NULL, topic, sizeof topic),
        FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_ACK, "g#", NULL, topic, sizeof topic),
        FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_REPLY, "d1", NULL, topic, sizeof topic),
        FOGPAY_ERR_INVALID_ARGUMENT);
    static const char *bad_names[] = {"", "a//b", "/a", "a/", "a+", "#", "a b"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        CU_ASSERT_EQUAL(fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_REPLY, "d1", bad_names[i],
                                           topic, sizeof topic),
                        FOGPAY_ERR_INVALID_ARGUMENT);
    }
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_INTENT, "d1", "x", topic, sizeof topic),
        FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_OTHER, "d1", NULL, topic, sizeof topic),
        FOGPAY_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(
        fogpay_topic_build("fogpay/v1", FOGPAY_TOPIC_GATEWAY, "g1", NULL, topic, sizeof topic),
        FOGPAY_ERR_INVALID_ARGUMENT);
    static const char *bad_prefixes[] = {"", "/fogpay", "fogpay/", "$SYS", "a/+/b", "a/#", "a//b"};
    for (size_t i = 0; i < sizeof bad_prefixes / sizeof bad_prefixes[0]; i++) {
        CU_ASSERT_FALSE(fogpay_topic_prefix_valid(bad_prefixes[i]));
        CU_ASSERT_EQUAL(fogpay_topic_build(bad_prefixes[i], FOGPAY_TOPIC_INTENT, "d1", NULL, topic,
                                           sizeof topic),
                        FOGPAY_ERR_INVALID_ARGUMENT);
    }
    CU_ASSERT_EQUAL(fogpay_topic_build("acme/pay", FOGPAY_TOPIC_ACK, "gw-1", NULL, topic, 20),
                    FOGPAY_ERR_BUFFER_TOO_SMALL);
    CU_ASSERT_STRING_EQUAL(topic, "");
    CU_ASSERT_EQUAL(fogpay_topic_build("acme/pay", FOGPAY_TOPIC_ACK, "gw-1", NULL, topic, 21),
                    FOGPAY_OK);
    CU_ASSERT_STRING_EQUAL(topic, "acme/pay/gw/gw-1/ack");
}

/* The longest prefix, id and reply name build into FOGPAY_TOPIC_MAX and
 * parse back; one byte more of each is refused. */
static void test_boundaries(void)
{
    char prefix[FOGPAY_TOPIC_PREFIX_MAX + 2];
    fill(prefix, 'p', FOGPAY_TOPIC_PREFIX_MAX);
    CU_ASSERT_TRUE(fogpay_topic_prefix_valid(prefix));
    char device[FOGPAY_DEVICE_ID_MAX + 2];
    fill(device, 'd', FOGPAY_DEVICE_ID_MAX);
    char gateway[FOGPAY_GATEWAY_ID_MAX + 2];
    fill(gateway, 'g', FOGPAY_GATEWAY_ID_MAX);
    char name[FOGPAY_TOPIC_REPLY_NAME_MAX + 2];
    fill(name, 'r', FOGPAY_TOPIC_REPLY_NAME_MAX);

    char topic[FOGPAY_TOPIC_MAX];
    char id[FOGPAY_TOPIC_ID_MAX + 1];
    CU_ASSERT_EQUAL(
        fogpay_topic_build(prefix, FOGPAY_TOPIC_REPLY, device, name, topic, sizeof topic),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id(prefix, topic, id), FOGPAY_TOPIC_REPLY);
    CU_ASSERT_STRING_EQUAL(id, device);
    CU_ASSERT_EQUAL(
        fogpay_topic_build(prefix, FOGPAY_TOPIC_BATCH, gateway, NULL, topic, sizeof topic),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id(prefix, topic, id), FOGPAY_TOPIC_BATCH);
    CU_ASSERT_STRING_EQUAL(id, gateway);

    /* One byte more of the id, in a topic and to the builder. */
    char longer[2 * FOGPAY_TOPIC_MAX];
    snprintf(longer, sizeof longer, "fogpay/v1/dev/%sd/intent", device);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id("fogpay/v1", longer, id), FOGPAY_TOPIC_OTHER);
    snprintf(longer, sizeof longer, "fogpay/v1/gw/%sg/batch", gateway);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id("fogpay/v1", longer, id), FOGPAY_TOPIC_GATEWAY);
    /* A longer reply name is taken while the topic fits. */
    snprintf(longer, sizeof longer, "fogpay/v1/dev/d1/reply/%sr", name);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id("fogpay/v1", longer, id), FOGPAY_TOPIC_REPLY);
    strcat(device, "d");
    strcat(gateway, "g");
    strcat(name, "r");
    strcat(prefix, "p");
    CU_ASSERT_FALSE(fogpay_device_id_valid(device));
    CU_ASSERT_FALSE(fogpay_gateway_id_valid(gateway));
    CU_ASSERT_FALSE(fogpay_topic_prefix_valid(prefix));
    CU_ASSERT_EQUAL(fogpay_topic_build("p", FOGPAY_TOPIC_INTENT, device, NULL, topic, sizeof topic),
                    FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(fogpay_topic_build("p", FOGPAY_TOPIC_ACK, gateway, NULL, topic, sizeof topic),
                    FOGPAY_ERR_TEXT_INVALID);
    CU_ASSERT_EQUAL(
        fogpay_topic_build(prefix, FOGPAY_TOPIC_INTENT, "d1", NULL, topic, sizeof topic),
        FOGPAY_ERR_INVALID_ARGUMENT);

    /* Under the longest prefix and id, a reply name past what the topic
     * buffer holds. */
    prefix[FOGPAY_TOPIC_PREFIX_MAX] = '\0';
    device[FOGPAY_DEVICE_ID_MAX] = '\0';
    char long_name[FOGPAY_TOPIC_MAX];
    fill(long_name, 'r', FOGPAY_TOPIC_MAX - strlen(topic_reply_head(prefix, device)));
    CU_ASSERT_EQUAL(
        fogpay_topic_build(prefix, FOGPAY_TOPIC_REPLY, device, long_name, topic, sizeof topic),
        FOGPAY_ERR_BUFFER_TOO_SMALL);
    long_name[strlen(long_name) - 1] = '\0';
    CU_ASSERT_EQUAL(
        fogpay_topic_build(prefix, FOGPAY_TOPIC_REPLY, device, long_name, topic, sizeof topic),
        FOGPAY_OK);
    CU_ASSERT_EQUAL(strlen(topic), FOGPAY_TOPIC_MAX - 1);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id(prefix, topic, id), FOGPAY_TOPIC_REPLY);

    /* A topic of FOGPAY_TOPIC_MAX bytes or more is OTHER even where each
     * level would pass: parsing under a prefix longer than a valid one. */
    char big[FOGPAY_TOPIC_MAX];
    size_t leaf_len = strlen("/dev/d1/intent");
    fill(big, 'a', FOGPAY_TOPIC_MAX - 1 - leaf_len);
    snprintf(longer, sizeof longer, "%s/dev/d1/intent", big);
    CU_ASSERT_EQUAL(strlen(longer), FOGPAY_TOPIC_MAX - 1);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id(big, longer, id), FOGPAY_TOPIC_INTENT);
    strcat(big, "a");
    snprintf(longer, sizeof longer, "%s/dev/d1/intent", big);
    CU_ASSERT_EQUAL(fogpay_topic_parse_id(big, longer, id), FOGPAY_TOPIC_OTHER);
}

/* The alphabet of schemas/common.cddl: letters, digits and "._:-". */
static void test_alphabet(void)
{
    for (int c = 0; c < 256; c++) {
        bool expected = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || (c != 0 && strchr("._:-", c) != NULL);
        CU_ASSERT_EQUAL(fogpay_id_char((uint8_t)c), expected);
    }
    CU_ASSERT_TRUE(fogpay_device_id_valid("a"));
    CU_ASSERT_TRUE(fogpay_device_id_valid("urn:dev:1"));
    CU_ASSERT_FALSE(fogpay_device_id_valid(""));
    CU_ASSERT_FALSE(fogpay_device_id_valid(NULL));
    CU_ASSERT_FALSE(fogpay_gateway_id_valid("g/1"));
    CU_ASSERT_FALSE(fogpay_gateway_id_valid("g\xc3\xa9"));
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("topic", NULL, NULL);
    CU_add_test(s, "every kind built and parsed back", test_build_and_parse);
    CU_add_test(s, "topics that are not what they seem", test_parse_refusals);
    CU_add_test(s, "topics that cannot be built", test_build_refusals);
    CU_add_test(s, "the boundary lengths", test_boundaries);
    CU_add_test(s, "the id alphabet", test_alphabet);
    return testutil_run();
}
