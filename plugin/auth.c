/*
 * auth.c - password login of devices, legal entities and operators
 * (MOSQ_EVT_BASIC_AUTH).
 *
 * A device logs in with its device id as both client id and username, and
 * the password whose verifier the registry holds: a salted SHA-256 of a
 * generated secret (about a microsecond on the broker's thread, so a site
 * reconnecting at once does not stall settlement), or the PBKDF2 hash of a
 * device registered before that scheme (about 20 ms; fogpay_password.h). A device that logs in
 * with a TLS client certificate (use_identity_as_username) is authenticated
 * by the broker's TLS layer; the ACL then requires the same identity rules.
 * A legal entity logs in as itself under a login of the ledger
 * (entity_logins: its username and a PBKDF2 verifier of a person's
 * password, about 20 ms), or with a client certificate whose CN is the
 * login's username; it is looked up before the operators, so a login named
 * as an operator shadows the operator rather than lending it an operator's
 * rights. Operators are listed in the operators file. Anyone else is refused, or,
 * when plugin_opt_allow_other_clients is true, left to the broker's other
 * mechanisms (MOSQ_ERR_PLUGIN_DEFER).
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "fogpay_password.h"
#include "gateway.h"

static const fogpay_operator *auth_find_operator(const fogpay_gateway *gw, const char *username)
{
    for (size_t i = 0; username && i < gw->operator_count; i++) {
        if (strcmp(gw->operators[i].name, username) == 0) {
            return &gw->operators[i];
        }
    }
    return NULL;
}

bool fogpay_auth_is_operator(const fogpay_gateway *gw, const char *username)
{
    return auth_find_operator(gw, username) != NULL;
}

bool fogpay_auth_entity_login(fogpay_gateway *gw, const char *username, fogpay_entity_login *out)
{
    if (username == NULL) {
        return false;
    }
    fogpay_error err = fogpay_ledger_entity_login_get(gw->ledger, username, out);
    if (err != FOGPAY_OK && err != FOGPAY_ERR_NOT_FOUND) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: entity login %s: ledger: %s", username,
                             fogpay_ledger_last_message(gw->ledger));
    }
    return err == FOGPAY_OK;
}

/* A legal entity's password login: its PBKDF2 verifier, none for a login
 * by certificate only. */
static int auth_entity(const fogpay_entity_login *login, const char *password, size_t password_len)
{
    if (password != NULL && login->password_hash[0] != '\0' &&
        fogpay_password_check(password, password_len, login->password_hash) == FOGPAY_OK) {
        return MOSQ_ERR_SUCCESS;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: entity login %s (%s) refused: %s",
                         login->username, login->entity_id,
                         login->password_hash[0] == '\0' ? "certificate login only"
                                                         : "bad password");
    return MOSQ_ERR_AUTH;
}

int fogpay_auth_basic(fogpay_gateway *gw, struct mosquitto *client, const char *username,
                      const char *password)
{
    const char *client_id = mosquitto_client_id(client);
    size_t password_len = password ? strlen(password) : 0;
    if (!username) {
        return gw->options.allow_other_clients ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_AUTH;
    }
    fogpay_device device;
    fogpay_error err = fogpay_ledger_device_get(gw->ledger, username, &device);
    if (err == FOGPAY_OK) {
        if (!client_id || strcmp(client_id, username) != 0) {
            mosquitto_log_printf(MOSQ_LOG_NOTICE,
                                 "fogpay: device %s refused: client id %s is not its device id",
                                 username, client_id ? client_id : "(none)");
            return MOSQ_ERR_AUTH;
        }
        if (device.status == FOGPAY_DEVICE_REVOKED) {
            mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: device %s refused: revoked", username);
            return MOSQ_ERR_AUTH;
        }
        if (!password || device.password_hash[0] == '\0' ||
            fogpay_password_check(password, password_len, device.password_hash) != FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: device %s refused: bad password",
                                 username);
            return MOSQ_ERR_AUTH;
        }
        fogpay_metrics_connected(&gw->metrics, client);
        return MOSQ_ERR_SUCCESS;
    }
    if (err != FOGPAY_ERR_NOT_FOUND) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: login of %s: ledger: %s", username,
                             fogpay_ledger_last_message(gw->ledger));
        return MOSQ_ERR_AUTH;
    }
    fogpay_entity_login login;
    if (fogpay_auth_entity_login(gw, username, &login)) {
        return auth_entity(&login, password, password_len);
    }
    const fogpay_operator *op = auth_find_operator(gw, username);
    if (op) {
        if (password &&
            fogpay_password_check(password, password_len, op->password_hash) == FOGPAY_OK) {
            return MOSQ_ERR_SUCCESS;
        }
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "fogpay: operator %s refused: bad password",
                             username);
        return MOSQ_ERR_AUTH;
    }
    return gw->options.allow_other_clients ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_AUTH;
}
