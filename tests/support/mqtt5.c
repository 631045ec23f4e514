/*
 * mqtt5.c - see mqtt5.h.
 */
#include <string.h>

#include "mqtt5.h"

void test_mqtt5_publish(MQTTClient client, const char *topic, const uint8_t *msg, size_t len,
                        const char *response_topic, const void *corr, int corr_len,
                        unsigned long wait_ms)
{
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty p;
    p.identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC;
    p.value.data.data = (char *)response_topic;
    p.value.data.len = (int)strlen(response_topic);
    MQTTProperties_add(&props, &p);
    if (corr) {
        p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
        p.value.data.data = (char *)corr;
        p.value.data.len = corr_len;
        MQTTProperties_add(&props, &p);
    }
    MQTTClient_deliveryToken token;
    MQTTResponse resp =
        MQTTClient_publish5(client, topic, (int)len, (void *)msg, 1, 0, &props, &token);
    MQTTResponse_free(resp);
    MQTTProperties_free(&props);
    MQTTClient_waitForCompletion(client, token, wait_ms);
}
