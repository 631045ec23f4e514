/*
 * mqtt5.h - publishing an MQTT 5 request for the tests: a message with a
 * response topic and correlation data, as devices send intents.
 */
#ifndef FOGPAY_TEST_MQTT5_H
#define FOGPAY_TEST_MQTT5_H

#include <stddef.h>
#include <stdint.h>

#include <MQTTClient.h>

/* Publishes len bytes on topic at QoS 1 from an MQTT 5 client with
 * response_topic and corr_len bytes of correlation data (corr NULL: none),
 * and waits up to wait_ms for the PUBACK. */
void test_mqtt5_publish(MQTTClient client, const char *topic, const uint8_t *msg, size_t len,
                        const char *response_topic, const void *corr, int corr_len,
                        unsigned long wait_ms);

#endif
