/*
 * acl.c - who may publish and read what (MOSQ_EVT_ACL_CHECK).
 *
 *   a device D (client id = username = D, registered)
 *       publish:   <prefix>/dev/D/intent, <prefix>/dev/D/usage, <prefix>/dev/D/bind,
 *                  <prefix>/dev/D/hold
 *       subscribe and read: <prefix>/dev/D/receipt, <prefix>/dev/D/cmd, <prefix>/dev/D/plan,
 *                  <prefix>/dev/D/reply/... (MQTT 5 response topics)
 *       nothing else, no wildcards
 *   a legal entity's own login L (entity_logins; auth.c)
 *       publish:   $CONTROL/fogpay/v1 (its commands, scoped to its entity
 *                  by control/control_entity.c)
 *       subscribe and read: $CONTROL/fogpay/v1/response/L, its replies
 *       nothing else: no device topic, no other client's replies
 *   an operator (operators file)
 *       publish $CONTROL/fogpay/v1, read its response and every fogpay
 *       topic except the devices' intent and usage topics' write side,
 *       and read the gateway's metrics, $SYS/broker/fogpay/... (metrics.c)
 *   anyone else
 *       no fogpay topic; other topics as the broker's own rules say when
 *       plugin_opt_allow_other_clients is true, else nothing
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "control.h"
#include "gateway.h"

static bool acl_is_control(const char *topic)
{
    return strcmp(topic, FOGPAY_CONTROL_TOPIC) == 0 ||
           strcmp(topic, FOGPAY_CONTROL_RESPONSE_TOPIC) == 0;
}

/* A metrics topic, or a filter within them. */
static bool acl_is_metrics(const char *topic)
{
    return strncmp(topic, FOGPAY_METRICS_TOPIC_ROOT, strlen(FOGPAY_METRICS_TOPIC_ROOT)) == 0;
}

/* True when the client is the registered device it claims to be. */
static bool acl_client_device(fogpay_gateway *gw, struct mosquitto *client, char *device)
{
    const char *id = mosquitto_client_id(client);
    const char *username = mosquitto_client_username(client);
    if (!id || !username || strcmp(id, username) != 0 || strlen(id) > FOGPAY_DEVICE_ID_MAX) {
        return false;
    }
    fogpay_device d;
    if (fogpay_ledger_device_get(gw->ledger, id, &d) != FOGPAY_OK ||
        d.status == FOGPAY_DEVICE_REVOKED) {
        return false;
    }
    strcpy(device, id);
    return true;
}

static int acl_device(const char *self, fogpay_topic_kind kind, const char *owner, int access)
{
    if (kind == FOGPAY_TOPIC_NONE || kind == FOGPAY_TOPIC_OTHER || fogpay_topic_is_gateway(kind) ||
        strcmp(owner, self) != 0) {
        return MOSQ_ERR_ACL_DENIED;
    }
    if (access == MOSQ_ACL_WRITE) {
        return kind == FOGPAY_TOPIC_INTENT || kind == FOGPAY_TOPIC_USAGE ||
                       kind == FOGPAY_TOPIC_BIND || kind == FOGPAY_TOPIC_HOLD ||
                       kind == FOGPAY_TOPIC_WITHDRAW || kind == FOGPAY_TOPIC_NOTEPAY ||
                       kind == FOGPAY_TOPIC_REDEEM
                   ? MOSQ_ERR_SUCCESS
                   : MOSQ_ERR_ACL_DENIED;
    }
    return kind == FOGPAY_TOPIC_RECEIPT || kind == FOGPAY_TOPIC_COMMAND ||
                   kind == FOGPAY_TOPIC_REPLY || kind == FOGPAY_TOPIC_PLAN ||
                   kind == FOGPAY_TOPIC_NOTE
               ? MOSQ_ERR_SUCCESS
               : MOSQ_ERR_ACL_DENIED;
}

static int acl_entity(const fogpay_entity_login *login, const char *topic, int access)
{
    if (access == MOSQ_ACL_WRITE) {
        return strcmp(topic, FOGPAY_CONTROL_TOPIC) == 0 ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
    }
    char own[FOGPAY_CONTROL_ENTITY_RESPONSE_TOPIC_MAX];
    if (fogpay_control_entity_response_topic(login->username, own, sizeof own) != FOGPAY_OK) {
        return MOSQ_ERR_ACL_DENIED;
    }
    return strcmp(topic, own) == 0 ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}

int fogpay_acl_check(fogpay_gateway *gw, struct mosquitto *client, const char *topic, int access)
{
    if (access == MOSQ_ACL_UNSUBSCRIBE) {
        return MOSQ_ERR_SUCCESS;
    }
    char owner[FOGPAY_TOPIC_ID_MAX + 1];
    fogpay_topic_kind kind = fogpay_topic_parse_id(gw->options.topic_prefix, topic, owner);
    bool fogpay_topic = kind != FOGPAY_TOPIC_NONE || acl_is_control(topic) || acl_is_metrics(topic);

    char self[FOGPAY_DEVICE_ID_MAX + 1];
    if (acl_client_device(gw, client, self)) {
        return acl_device(self, kind, owner, access);
    }
    fogpay_entity_login login;
    if (fogpay_auth_entity_login(gw, mosquitto_client_username(client), &login)) {
        return acl_entity(&login, topic, access);
    }
    if (fogpay_auth_is_operator(gw, mosquitto_client_username(client))) {
        if (acl_is_control(topic)) {
            bool request = strcmp(topic, FOGPAY_CONTROL_TOPIC) == 0;
            return (access == MOSQ_ACL_WRITE) == request ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
        }
        if (kind != FOGPAY_TOPIC_NONE || acl_is_metrics(topic)) {
            return access == MOSQ_ACL_WRITE ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_SUCCESS;
        }
    }
    if (fogpay_topic) {
        return MOSQ_ERR_ACL_DENIED;
    }
    return gw->options.allow_other_clients ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_ACL_DENIED;
}
