/*
 * plugin.c - the entry points of the fogpay Mosquitto plugin (plugin API
 * version 5) and its one table of callbacks, used both to register and to
 * unregister. Everything else lives in the modules listed in gateway.h.
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "control.h"
#include "fogpay_clock.h"
#include "gateway.h"

static mosquitto_plugin_id_t *plugin_id;

static int plugin_on_basic_auth(int event, void *event_data, void *user_data)
{
    struct mosquitto_evt_basic_auth *ev = event_data;
    (void)event;
    return fogpay_auth_basic(user_data, ev->client, ev->username, ev->password);
}

static int plugin_on_acl_check(int event, void *event_data, void *user_data)
{
    struct mosquitto_evt_acl_check *ev = event_data;
    (void)event;
    return fogpay_acl_check(user_data, ev->client, ev->topic, ev->access);
}

static int plugin_on_message(int event, void *event_data, void *user_data)
{
    (void)event;
    uint64_t now_ms = fogpay_clock_wall_ms();
    if (fogpay_sync_on_message(user_data, event_data, now_ms)) {
        return MOSQ_ERR_SUCCESS;
    }
    return fogpay_device_message_handle(user_data, event_data, now_ms);
}

static int plugin_on_control(int event, void *event_data, void *user_data)
{
    struct mosquitto_evt_control *ev = event_data;
    fogpay_gateway *gw = user_data;
    (void)event;
    const char *username = mosquitto_client_username(ev->client);
    fogpay_entity_login login;
    bool entity = fogpay_auth_entity_login(gw, username, &login);
    if (!entity && !fogpay_auth_is_operator(gw, username)) {
        return MOSQ_ERR_ACL_DENIED;
    }
    /* The reply must not report what a later failed commit would undo. */
    fogpay_outbox_flush(gw);
    fogpay_control_context ctx = {gw->ledger,
                                  fogpay_command_send,
                                  gw,
                                  fogpay_gateway_key_rotate,
                                  entity ? login.entity_id : NULL,
                                  entity ? login.username : NULL,
                                  fogpay_command_send_plan,
                                  &gw->note_issuers};
    return fogpay_control_event(&ctx, ev, fogpay_clock_wall_ms());
}

static int plugin_on_disconnect(int event, void *event_data, void *user_data)
{
    struct mosquitto_evt_disconnect *ev = event_data;
    fogpay_gateway *gw = user_data;
    (void)event;
    fogpay_metrics_disconnected(&gw->metrics, ev->client);
    return MOSQ_ERR_SUCCESS;
}

static int plugin_on_tick(int event, void *event_data, void *user_data)
{
    fogpay_gateway *gw = user_data;
    (void)event;
    (void)event_data;
    if (!gw->backlog_done) {
        fogpay_backlog_raise(gw);
    }
    fogpay_outbox_run(gw);
    fogpay_command_announce_plans(gw); /* after the start, a batch a tick */
    fogpay_gateway_key_tick(gw);
    fogpay_hold_tick(gw, fogpay_clock_wall_ms());    /* does nothing while a group is open */
    fogpay_collect_tick(gw, fogpay_clock_wall_ms()); /* nor this */
    fogpay_sync_tick(gw, fogpay_clock_wall_ms());    /* does nothing while a group is open */
    fogpay_metrics_tick(gw);                         /* does nothing while a group is open */
    return MOSQ_ERR_SUCCESS;
}

static const struct {
    int event;
    MOSQ_FUNC_generic_callback callback;
    const char *event_data;
} plugin_callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, plugin_on_basic_auth, NULL},
    {MOSQ_EVT_ACL_CHECK, plugin_on_acl_check, NULL},
    {MOSQ_EVT_MESSAGE, plugin_on_message, NULL},
    {MOSQ_EVT_CONTROL, plugin_on_control, FOGPAY_CONTROL_TOPIC},
    {MOSQ_EVT_TICK, plugin_on_tick, NULL},
    {MOSQ_EVT_DISCONNECT, plugin_on_disconnect, NULL},
};

#define CALLBACK_COUNT (sizeof(plugin_callbacks) / sizeof(plugin_callbacks[0]))

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++) {
        if (supported_versions[i] == 5) {
            return 5;
        }
    }
    return -1;
}

static void plugin_free(fogpay_gateway *gw)
{
    if (!gw) {
        return;
    }
    fogpay_outbox_flush(gw);
    fogpay_engine_stop(gw);
    fogpay_sync_close(gw);
    fogpay_ledger_close(gw->ledger);
    fogpay_key_free(gw->key);
    fogpay_flow_free(&gw->flow);
    fogpay_key_free(gw->announce_key);
    fogpay_metrics_close(&gw->metrics);
    fogpay_note_issuers_clear(&gw->note_issuers);
    free(gw);
}

static fogpay_error plugin_open(fogpay_gateway *gw)
{
    char why[FOGPAY_LEDGER_WHY_MAX];
    fogpay_error err = fogpay_ledger_open_why(gw->options.db_path, gw->options.create_db,
                                              &gw->ledger, why, sizeof why);
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: plugin_opt_database %s: %s (%s)%s",
                             gw->options.db_path, fogpay_error_string(err), why,
                             err == FOGPAY_ERR_SCHEMA_VERSION && !gw->options.create_db
                                 ? "; fogpayctl --db FILE init, or plugin_opt_create_db true, "
                                   "creates a ledger in an empty file"
                                 : "");
        return err;
    }
    err = fogpay_gateway_key_open(gw);
    if (err == FOGPAY_OK) {
        err = fogpay_metrics_open(&gw->metrics, gw->options.metrics_interval_ms);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_options_load_operators(gw);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_options_load_note_issuers(gw);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_sync_open(gw);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_engine_start(gw);
    }
    return err;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data,
                          struct mosquitto_opt *opts, int opt_count)
{
    fogpay_gateway *gw = calloc(1, sizeof *gw);
    if (!gw) {
        return MOSQ_ERR_NOMEM;
    }
    if (fogpay_options_parse(opts, opt_count, &gw->options) != FOGPAY_OK ||
        plugin_open(gw) != FOGPAY_OK) {
        plugin_free(gw);
        return MOSQ_ERR_INVAL;
    }
    plugin_id = identifier;
    for (size_t i = 0; i < CALLBACK_COUNT; i++) {
        int rc = mosquitto_callback_register(identifier, plugin_callbacks[i].event,
                                             plugin_callbacks[i].callback,
                                             plugin_callbacks[i].event_data, gw);
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: cannot register callback %d",
                                 plugin_callbacks[i].event);
            return rc;
        }
    }
    *user_data = gw;
    char public_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_key_public_text(gw->key, public_text, sizeof public_text);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: gateway %s ready on %s, key %s",
                         gw->options.gateway_id, gw->options.db_path, public_text);
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
    (void)opts;
    (void)opt_count;
    for (size_t i = 0; plugin_id && i < CALLBACK_COUNT; i++) {
        mosquitto_callback_unregister(plugin_id, plugin_callbacks[i].event,
                                      plugin_callbacks[i].callback, plugin_callbacks[i].event_data);
    }
    plugin_free(user_data);
    return MOSQ_ERR_SUCCESS;
}
