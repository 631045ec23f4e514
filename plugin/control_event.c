/*
 * control_event.c - the broker's side of operator control: turns one
 * MOSQ_EVT_CONTROL event into a reply on $CONTROL/fogpay/v1/response.
 *
 * Kept apart from control.c so the commands themselves link without the
 * broker (tests, tools). The plugin core registers the control callback for
 * FOGPAY_CONTROL_TOPIC and checks that the client is an operator before
 * calling fogpay_control_event(), and names the entity of a legal
 * entity's own login in the context.
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "control.h"

int fogpay_control_event(const fogpay_control_context *c, const struct mosquitto_evt_control *ev,
                         uint64_t now_ms)
{
    const char *payload = ev->payload != NULL ? ev->payload : "";
    size_t len = ev->payload != NULL && ev->payloadlen > 0 ? (size_t)ev->payloadlen : 0;
    char *reply = fogpay_control_handle(c, payload, len, now_ms);
    if (reply == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: control: out of memory building a reply");
        return MOSQ_ERR_NOMEM;
    }
    /* An entity login's reply goes to that client alone, on its own topic;
     * an operator's on the shared response topic. */
    char topic[FOGPAY_CONTROL_ENTITY_RESPONSE_TOPIC_MAX] = FOGPAY_CONTROL_RESPONSE_TOPIC;
    const char *client_id = NULL;
    if (c->login != NULL &&
        fogpay_control_entity_response_topic(c->login, topic, sizeof topic) == FOGPAY_OK) {
        client_id = mosquitto_client_id(ev->client);
    } else if (c->login != NULL) {
        free(reply);
        return MOSQ_ERR_INVAL;
    }
    /* publish_copy copies the payload, so the reply is freed here. */
    int rc =
        mosquitto_broker_publish_copy(client_id, topic, (int)strlen(reply), reply, 0, false, NULL);
    free(reply);
    return rc;
}
