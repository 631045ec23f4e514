/*
 * fogpayctl_command.c - the control commands of fogpayctl, one path for
 * both ways: the request is built from the command line once, handed either
 * to the one control handler (control/control.c, fogpay_control_handle) on
 * the opened ledger or to the gateway over MQTT, and the reply is printed
 * once. Validation and messages are therefore the control handler's on
 * both paths.
 *
 * The request. "--per-payment 5.00" becomes "perPayment":"5.00". Amounts
 * stay decimal strings; the fields that are integers in the contract (id,
 * effective, from, to, after, limit, overlapSeconds, remainderLeg, at, and a
 * plan's rateBasisPoints, instalments, periodMs, graceMs, and bindMeter's
 * hold) become JSON numbers
 * effective, from, to, after but for listDevices and listEntityDevices,
 * whose after is a device id, limit, overlapSeconds, remainderLeg, at, and a
 * plan's rateBasisPoints, instalments, periodMs, graceMs) become JSON numbers
 * after a strict parse, "--certificate-only true", "--all true|false" and
 * "--collect true|false" JSON booleans, each "--leg BP:TARGET" of
 * setFeeSchedule one element of "legs", and each "--allowed-payee ID" of
 * createPlan (repeated, or a comma list "ID,ID") elements of
 * "allowedPayees". For registerDevice the limit fields
 * (--per-payment, --per-day, --wallet-max, --currency) go into a "limits"
 * object. A password is never
 * taken from the command line, where ps shows it: "--password-file FILE"
 * (or "-" for standard input) is read and sent as "password", and
 * "--password" is refused. Every request carries a correlationData unique
 * to this process.
 *
 * The reply. By default a line of text for each command that has one (the
 * summary templates of the table, filled from the reply's data or the
 * request's fields), the reply's data as JSON for the others, and on a
 * refusal "fogpayctl COMMAND: <errorMessage> (<error>)" on stderr. With
 * --json the whole reply is printed. The exit status is 2 when the reply's
 * error says the request was malformed (the malformed-input group of
 * fogpay_error, or an unknown currency), 1 for any other error.
 *
 * Ownership: cJSON trees and strings are freed here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "fogpay_cli.h"
#include "fogpay_clock.h"
#include "fogpay_limits.h"
#include "fogpay_password.h"
#include "fogpayctl.h"

/* Longest field name after camelCasing. */
#define COMMAND_FIELD_MAX 64

/* Longest line a summary template makes. */
#define COMMAND_SUMMARY_MAX 512

/* A control command: its name in the contract, the shell-friendly alias
 * fogpayctl also accepts, and its text form ({field} from data or the
 * request; NULL prints the data as JSON). */
typedef struct command_row {
    const char *name;
    const char *alias;
    const char *summary;
} command_row;

/* The commands whose text form is the reply's "document" (an ISO 20022
 * file) as it is, on stdout, with the summary on stderr. */
static const char *const command_document_commands[] = {"getStatement", "getPayoutInitiation"};
#define COMMAND_DOCUMENT_COMMANDS                                                                  \
    (sizeof command_document_commands / sizeof command_document_commands[0])

static const command_row command_rows[] = {
    {"createLegalEntity", "create-entity", "{entity}"},
    {"registerDevice", "register-device", "registered {device}"},
    {"suspendDevice", "suspend-device", "suspended {device}"},
    {"resumeDevice", "resume-device", "resumed {device}"},
    {"revokeDevice", "revoke-device", "revoked {device}"},
    {"rotateDeviceKey", "rotate-device-key", "{device}: old key valid until {oldKeyValidUntil}"},
    {"revokeDeviceKey", "revoke-device-key", "{device}: old key revoked"},
    {"rotateGatewayKey", "rotate-gateway-key", "{publicKey} (announced to {announced} devices)"},
    {"setLimits", "set-limits", "limits set for {device}"},
    {"fundWallet", "fund", "transfer {transfer}, balance {balance} {currency}, held {held}"},
    {"transferOwnership", "transfer-ownership", "{device}: {role} {entity}"},
    {"getBalance", "balance", "{device}: balance {balance} {currency}, held {held}"},
    {"getTransfer", "get-transfer", NULL},
    {"listTransfers", "list-transfers", NULL},
    {"verifyLedger", "verify-ledger", "ok: {checked} transfers checked"},
    {"refund", NULL, "transfer {transfer}"},
    {"getSyncStatus", "sync-status", NULL},
    {"setFeeSchedule", "set-fee", "fee schedule set (event {event})"},
    {"listFeeSchedules", "list-fees", NULL},
    {"createEntityLogin", "create-entity-login", "login {login} for {entity}"},
    {"removeEntityLogin", "remove-entity-login", "removed login {login}"},
    {"getEntityAccount", "entity-account",
     "{entity}: account {account}, balance {balance} "
     "{currency}"},
    {"listEntityDevices", "entity-devices", NULL},
    {"payDevice", "pay-device", "transfer {transfer}, balance {balance} {currency}"},
    {"defineTariff", "define-tariff",
     "tariff {tariff} from {effective}: {price} {currency} per {unit}"},
    {"getTariff", "tariff", "tariff {tariff} from {effective}: {price} {currency} per {unit}"},
    {"bindMeter", "bind-meter", "{device} meter {meter} bound to {tariff}"},
    {"getMeter", "meter", NULL},
    {"holdList", "hold-list", NULL},
    {"holdCapture", "hold-capture", "hold {id} captured: transfer {transfer}"},
    {"holdVoid", "hold-void", "hold {id} voided: transfer {transfer}"},
    {"createPlan", "plan create",
     "plan {plan} for {device}: {principal} + {interest} {currency} in {instalments} "
     "instalments"},
    {"getPlan", "plan show", NULL},
    {"listPlans", "plan list", NULL},
    {"closePlan", "plan close", "plan {plan} closed from {effective}"},
    {"getPlanStatement", "plan statement",
     "{entity} on plan {plan}: paid {paid} {currency} in {paidCount}, owes {owed} "
     "({owedCount} of the {dueCount} due while it held the device)"},
    {"listArrears", "plan arrears", NULL},
    {"settlePlan", "plan settle",
     "plan {plan} settled: {amount} {currency} from instalment {fromInstalment} "
     "(transfer {transfer}), closed"},
    {"getStatement", "statement",
     "statement of account {account}: {entries} entries, {opening} to {closing} {currency}"},
    {"payout", "payout", "transfer {transfer}, balance {balance} {currency}"},
    {"getPayoutInitiation", "payout-initiation", "{payouts} payouts, {sum} {currency}"},
    {"eraseEntityData", "erase-entity", "personal data of {entity} erased (event {event})"},
    {"exportEntityData", "export-entity", NULL},
    {"listDevices", "list-devices", NULL},
    {"noteStock", "notes stock", NULL},
    {"noteRegister", "notes register", NULL},
    {"noteHistory", "notes history", NULL},
};

/* The two-word aliases ("plan create", "notes stock") start with one of
 * these words. */
#define COMMAND_GROUP_PLAN  "plan"
#define COMMAND_GROUP_NOTES "notes"

static const char *const command_number_fields[] = {
    "id",          "effective",      "from",         "to",  "after",
    "limit",       "overlapSeconds", "remainderLeg", "at",  "rateBasisPoints",
    "instalments", "periodMs",       "graceMs",      "hold"};
#define COMMAND_NUMBER_FIELDS (sizeof command_number_fields / sizeof command_number_fields[0])
static const char *const command_limit_fields[] = {"perPayment", "perDay", "walletMax", "currency"};
static const char *const command_bool_fields[] = {"certificateOnly", "all", "collect"};
#define COMMAND_BOOL_FIELDS (sizeof command_bool_fields / sizeof command_bool_fields[0])

static bool command__in(const char *name, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* The commands that page by device id: their "after" is a device id, not
 * a number. */
static const char *const command_after_device[] = {"listDevices", "listEntityDevices"};
#define COMMAND_AFTER_DEVICE (sizeof command_after_device / sizeof command_after_device[0])

static bool command__number_field(const cJSON *cmd, const char *name)
{
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(cmd, "command");
    if (strcmp(name, "after") == 0 && cJSON_IsString(command) &&
        command__in(command->valuestring, command_after_device, COMMAND_AFTER_DEVICE)) {
        return false;
    }
    return command__in(name, command_number_fields, COMMAND_NUMBER_FIELDS);
}

/* The row of name (a control name or an alias), or NULL: an unknown name
 * is still sent, so that the handler answers it as it answers any. */
static const command_row *command__find(const char *name)
{
    for (size_t i = 0; i < sizeof command_rows / sizeof command_rows[0]; i++) {
        const command_row *row = &command_rows[i];
        if (strcmp(row->name, name) == 0 || (row->alias && strcmp(row->alias, name) == 0)) {
            return row;
        }
    }
    return NULL;
}

/* "--per-payment" to "perPayment"; false when it is not an option name. */
static bool command__field_name(const char *arg, char out[COMMAND_FIELD_MAX])
{
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || strlen(arg) - 2 >= COMMAND_FIELD_MAX) {
        return false;
    }
    size_t n = 0;
    bool upper = false;
    for (const char *p = arg + 2; *p != '\0'; p++) {
        if (*p == '-') {
            upper = true;
            continue;
        }
        out[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        upper = false;
    }
    out[n] = '\0';
    return n > 0;
}

/* Adds "--leg BP:TARGET" to the command's "legs": basis points and an
 * account number (digits), an entity ("le-...") or a device id. Returns
 * false after printing why. */
static bool command__add_leg(cJSON *cmd, const char *option, const char *value)
{
    const char *colon = strchr(value, ':');
    char bp_text[8];
    uint64_t bp = 0;
    uint64_t account = 0;
    size_t bp_len = colon != NULL ? (size_t)(colon - value) : 0;
    if (colon == NULL || bp_len == 0 || bp_len >= sizeof bp_text || colon[1] == '\0') {
        fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, option,
                               "a fee leg is BASIS_POINTS:ACCOUNT, :le-ENTITY or :DEVICE");
        return false;
    }
    memcpy(bp_text, value, bp_len);
    bp_text[bp_len] = '\0';
    if (!fogpay_cli_parse_u64(bp_text, UINT64_MAX, &bp)) {
        fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, option, "the basis points are a whole number");
        return false;
    }
    cJSON *legs = cJSON_GetObjectItemCaseSensitive(cmd, "legs");
    if (legs == NULL) {
        legs = cJSON_AddArrayToObject(cmd, "legs");
    }
    cJSON *leg = cJSON_CreateObject();
    if (legs == NULL || leg == NULL || !cJSON_AddItemToArray(legs, leg)) {
        cJSON_Delete(leg);
        return false;
    }
    const char *target = colon + 1;
    bool ok = cJSON_AddNumberToObject(leg, "basisPoints", (double)bp) != NULL;
    if (fogpay_cli_parse_u64(target, UINT64_MAX, &account)) {
        return ok && cJSON_AddNumberToObject(leg, "account", (double)account) != NULL;
    }
    const char *kind = strncmp(target, "le-", 3) == 0 ? "entity" : "device";
    return ok && cJSON_AddStringToObject(leg, kind, target) != NULL;
}

/* Adds "--allowed-payee ID[,ID...]" to the command's "allowedPayees", one
 * element an id; the control handler checks them. Returns false after
 * printing why. */
static bool command__add_payees(cJSON *cmd, const char *option, const char *value)
{
    cJSON *list = cJSON_GetObjectItemCaseSensitive(cmd, "allowedPayees");
    if (list == NULL) {
        list = cJSON_AddArrayToObject(cmd, "allowedPayees");
    }
    for (const char *p = value; list != NULL;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char id[FOGPAY_PLAN_PAYEE_ID_MAX + 1];
        if (len == 0 || len >= sizeof id) {
            fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, option,
                                   "a payee is a device or entity id of 1 to 23 characters");
            return false;
        }
        memcpy(id, p, len);
        id[len] = '\0';
        cJSON *item = cJSON_CreateString(id);
        if (item == NULL || !cJSON_AddItemToArray(list, item)) {
            cJSON_Delete(item);
            return false;
        }
        if (comma == NULL) {
            return true;
        }
        p = comma + 1;
    }
    return false;
}

/* Adds one "--field value" to the command object (or its limits). Returns
 * false after printing why. */
static bool command__add_field(const fogpayctl_target *target, cJSON *cmd, bool limits_nested,
                               const char *option, const char *name, const char *value)
{
    cJSON *dest = cmd;
    if (limits_nested && command__in(name, command_limit_fields, 4)) {
        dest = cJSON_GetObjectItemCaseSensitive(cmd, "limits");
        if (dest == NULL) {
            dest = cJSON_AddObjectToObject(cmd, "limits");
        }
    }
    if (strcmp(name, "password") == 0) {
        fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, option,
                               "a password on the command line shows in the process list; use "
                               "--password-file FILE, or - for standard input");
        return false;
    }
    if (strcmp(name, "passwordFile") == 0) {
        if (strcmp(value, "-") == 0 && target->stdin_taken) {
            fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, option,
                                   "standard input already holds the operator's password");
            return false;
        }
        char password[FOGPAY_PASSWORD_MAX + 2];
        bool ok = fogpay_cli_read_line(value, password, sizeof password) &&
                  strlen(password) <= FOGPAY_PASSWORD_MAX;
        if (ok) {
            ok = cJSON_AddStringToObject(dest, "password", password) != NULL;
        } else {
            fprintf(stderr, "%s: cannot read a non-empty password of at most %d bytes from %s\n",
                    FOGPAYCTL_PROGRAM, FOGPAY_PASSWORD_MAX, value);
        }
        memset(password, 0, sizeof password);
        return ok;
    }
    if (strcmp(name, "leg") == 0) {
        return command__add_leg(cmd, option, value);
    }
    if (strcmp(name, "allowedPayee") == 0) {
        return command__add_payees(cmd, option, value);
    }
    if (command__in(name, command_bool_fields, COMMAND_BOOL_FIELDS)) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            fprintf(stderr, "%s: %s takes true or false, got \"%s\"\n", FOGPAYCTL_PROGRAM, option,
                    value);
            return false;
        }
        return cJSON_AddBoolToObject(dest, name, strcmp(value, "true") == 0) != NULL;
    }
    if (command__number_field(cmd, name)) {
        uint64_t n = 0;
        if (!fogpay_cli_parse_u64(value, UINT64_MAX, &n)) {
            fprintf(stderr, "%s: %s takes a whole number, got \"%s\"\n", FOGPAYCTL_PROGRAM, option,
                    value);
            return false;
        }
        char text[24];
        snprintf(text, sizeof text, "%" PRIu64, n);
        return cJSON_AddRawToObject(dest, name, text) != NULL;
    }
    return cJSON_AddStringToObject(dest, name, value) != NULL;
}

/* Builds {"commands":[{...}]} from argv; NULL with a message on bad usage. */
static cJSON *command__request(const fogpayctl_target *target, const char *name, int argc,
                               char **argv, const char *correlation)
{
    cJSON *request = cJSON_CreateObject();
    cJSON *commands = cJSON_AddArrayToObject(request, "commands");
    cJSON *cmd = cJSON_CreateObject();
    if (commands == NULL || cmd == NULL || !cJSON_AddItemToArray(commands, cmd)) {
        cJSON_Delete(cmd);
        cJSON_Delete(request);
        return NULL;
    }
    cJSON_AddStringToObject(cmd, "command", name);
    bool limits_nested = strcmp(name, "registerDevice") == 0;
    for (int i = 1; i < argc; i += 2) {
        char field[COMMAND_FIELD_MAX];
        if (!command__field_name(argv[i], field) || i + 1 >= argc) {
            fprintf(stderr, "%s %s: expected \"--field value\" pairs, got \"%s\"\n",
                    FOGPAYCTL_PROGRAM, argv[0], argv[i]);
            cJSON_Delete(request);
            return NULL;
        }
        if (!command__add_field(target, cmd, limits_nested, argv[i], field, argv[i + 1])) {
            cJSON_Delete(request);
            return NULL;
        }
    }
    cJSON_AddStringToObject(cmd, "correlationData", correlation);
    return request;
}

/* The value of {field} for a summary: from data, else from the request. */
static void command__value(const cJSON *data, const cJSON *cmd, const char *field, char *out,
                           size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, field);
    if (v == NULL) {
        v = cJSON_GetObjectItemCaseSensitive(cmd, field);
    }
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
        return;
    }
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    snprintf(out, cap, "%s", text ? text : "?");
    free(text);
}

/* Fills template with {field} values into out. */
static void command__summary(const char *template, const cJSON *data, const cJSON *cmd, char *out,
                             size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = template; *p != '\0' && n + 1 < cap;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (close == NULL || (size_t)(close - p - 1) >= COMMAND_FIELD_MAX) {
            out[n++] = *p++;
            out[n] = '\0';
            continue;
        }
        char field[COMMAND_FIELD_MAX];
        memcpy(field, p + 1, (size_t)(close - p - 1));
        field[close - p - 1] = '\0';
        command__value(data, cmd, field, out + n, cap - n);
        n += strlen(out + n);
        p = close + 1;
    }
}

/* The exit status for an error name: 2 for a malformed request. */
static int command__error_status(const char *name)
{
    for (int e = 1; e < 100; e++) {
        if (strcmp(fogpay_error_name((fogpay_error)e), name) == 0) {
            bool malformed = e < FOGPAY_ERR_BAD_SIGNATURE || e == FOGPAY_ERR_CURRENCY_UNSUPPORTED;
            return malformed ? FOGPAY_CLI_EXIT_USAGE : FOGPAY_CLI_EXIT_FAILURE;
        }
    }
    return FOGPAY_CLI_EXIT_FAILURE;
}

/* Prints one response and returns its exit status. */
static int command__print_response(const fogpayctl_target *target, const command_row *row,
                                   const char *typed, const cJSON *resp, const cJSON *cmd)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(resp, "error");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(resp, "errorMessage");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp, "data");
    if (cJSON_IsString(error)) {
        if (!target->json) {
            fprintf(stderr, "%s %s: %s (%s)\n", FOGPAYCTL_PROGRAM, typed,
                    cJSON_IsString(message) ? message->valuestring : "refused", error->valuestring);
        }
        return command__error_status(error->valuestring);
    }
    if (target->json) {
        return FOGPAY_CLI_EXIT_OK;
    }
    const cJSON *document = cJSON_GetObjectItemCaseSensitive(data, "document");
    if (row != NULL && cJSON_IsString(document) &&
        command__in(row->name, command_document_commands, COMMAND_DOCUMENT_COMMANDS)) {
        char line[COMMAND_SUMMARY_MAX];
        command__summary(row->summary, data, cmd, line, sizeof line);
        fputs(document->valuestring, stdout);
        fprintf(stderr, "%s\n", line);
    } else if (row != NULL && row->summary != NULL) {
        char line[COMMAND_SUMMARY_MAX];
        command__summary(row->summary, data, cmd, line, sizeof line);
        printf("%s\n", line);
    } else {
        char *text = data ? cJSON_Print(data) : NULL;
        printf("%s\n", text ? text : "{}");
        free(text);
    }
    return FOGPAY_CLI_EXIT_OK;
}

/* Prints the reply (text or JSON) and returns the exit status: the worst
 * of its responses. */
static int command__print(const fogpayctl_target *target, const command_row *row, const char *typed,
                          const char *reply_text, const cJSON *cmd)
{
    cJSON *reply = cJSON_Parse(reply_text);
    const cJSON *responses = cJSON_GetObjectItemCaseSensitive(reply, "responses");
    if (!cJSON_IsArray(responses) || cJSON_GetArraySize(responses) == 0) {
        fprintf(stderr, "%s %s: the reply is not a control reply\n", FOGPAYCTL_PROGRAM, typed);
        cJSON_Delete(reply);
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    if (target->json) {
        char *text = cJSON_Print(reply);
        printf("%s\n", text ? text : "");
        free(text);
    }
    int status = FOGPAY_CLI_EXIT_OK;
    const cJSON *resp = NULL;
    cJSON_ArrayForEach(resp, responses)
    {
        int one = command__print_response(target, row, typed, resp, cmd);
        status = one > status ? one : status;
    }
    cJSON_Delete(reply);
    return status;
}

char *fogpayctl_exchange(const fogpayctl_target *target, const char *request,
                         const char *correlation)
{
    if (target->conn != NULL) {
        return fogpayctl_online_exchange(target->conn, request, correlation);
    }
    /* Offline no broker runs to send a device its signed command (suspend,
     * resume, limits): the ledger changes, and the gateway enforces it. */
    fogpay_control_context c = {
        .ledger = target->ledger, .send_command = NULL, .note_issuers = target->note_issuers};
    char *reply = fogpay_control_handle(&c, request, strlen(request), fogpay_clock_wall_ms());
    if (reply == NULL) {
        fogpay_cli_fail(FOGPAYCTL_PROGRAM, "handling the command", FOGPAY_ERR_NO_MEMORY);
    }
    return reply;
}

int fogpayctl_command(const fogpayctl_target *target, int argc, char **argv)
{
    /* "plan create --plan P ...": the two words name the command, the
     * options follow the second. */
    char typed[COMMAND_FIELD_MAX];
    snprintf(typed, sizeof typed, "%s", argv[0]);
    bool group =
        strcmp(argv[0], COMMAND_GROUP_PLAN) == 0 || strcmp(argv[0], COMMAND_GROUP_NOTES) == 0;
    if (group && argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        snprintf(typed, sizeof typed, "%s %s", argv[0], argv[1]);
        argc--;
        argv++;
    }
    const command_row *row = command__find(typed);
    const char *name = row ? row->name : typed;
    char correlation[64];
    snprintf(correlation, sizeof correlation, "fogpayctl-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    cJSON *request = command__request(target, name, argc, argv, correlation);
    if (request == NULL) {
        return FOGPAY_CLI_EXIT_USAGE;
    }
    char *payload = cJSON_PrintUnformatted(request);
    char *reply = payload ? fogpayctl_exchange(target, payload, correlation) : NULL;
    int status = FOGPAY_CLI_EXIT_FAILURE;
    if (reply != NULL) {
        const cJSON *cmd = cJSON_GetArrayItem(cJSON_GetObjectItem(request, "commands"), 0);
        status = command__print(target, row, typed, reply, cmd);
    }
    /* The request may hold a device password. */
    if (payload != NULL) {
        memset(payload, 0, strlen(payload));
    }
    free(payload);
    free(reply);
    cJSON_Delete(request);
    return status;
}
