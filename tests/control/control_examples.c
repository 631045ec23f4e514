/*
 * control_examples.c - runs every example request of
 * schemas/control-examples/ (the files NN-name.request.json, in name
 * order) through the real control handler (fogpay_control_handle) on a
 * fresh ledger file, and prints one line per example:
 * {"example":"NN-name","reply":<the handler's reply>}. control_schema.py
 * validates the replies against schemas/control.schema.json.
 *
 * The examples name their legal entity le-0123456789abcdef; this program
 * puts the id that its ledger made for the first createLegalEntity in its
 * place. Every request is handled at one fixed time, as fogpayctl's offline
 * path handles it (no device commands are sent).
 *
 * usage: control_examples EXAMPLES-DIR LEDGER-DIR
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "testutil.h"

#define EXAMPLES_NOW_MS 1700000000000ull
#define EXAMPLES_ENTITY "le-0123456789abcdef"
#define EXAMPLES_SUFFIX ".request.json"

static int examples__is_request(const struct dirent *e)
{
    size_t n = strlen(e->d_name), s = strlen(EXAMPLES_SUFFIX);
    return n > s && strcmp(e->d_name + n - s, EXAMPLES_SUFFIX) == 0;
}

/* Replaces every EXAMPLES_ENTITY in text (same length as entity) in place. */
static void examples__put_entity(char *text, const char *entity)
{
    if (strlen(entity) != strlen(EXAMPLES_ENTITY)) {
        return;
    }
    for (char *p = strstr(text, EXAMPLES_ENTITY); p != NULL; p = strstr(p, EXAMPLES_ENTITY)) {
        memcpy(p, entity, strlen(entity));
    }
}

/* The entity id of a createLegalEntity reply into entity, if it is one. */
static void examples__take_entity(const char *reply, char *entity, size_t cap)
{
    cJSON *r = cJSON_Parse(reply);
    const cJSON *resp = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "responses"), 0);
    const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "data"), "entity");
    if (entity[0] == '\0' && cJSON_IsString(id)) {
        snprintf(entity, cap, "%s", id->valuestring);
    }
    cJSON_Delete(r);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s EXAMPLES-DIR LEDGER-DIR\n", argv[0]);
        return 2;
    }
    char db[1024];
    snprintf(db, sizeof db, "%s/examples.db", argv[2]);
    remove(db);
    fogpay_ledger *ledger = NULL;
    if (fogpay_ledger_open(db, true, &ledger) != FOGPAY_OK) {
        fprintf(stderr, "control_examples: cannot create the ledger %s\n", db);
        return 1;
    }
    fogpay_control_context ctx = {.ledger = ledger, .send_command = NULL};
    struct dirent **names = NULL;
    int count = scandir(argv[1], &names, examples__is_request, alphasort);
    if (count <= 0) {
        fprintf(stderr, "control_examples: no example requests in %s\n", argv[1]);
        return 1;
    }
    char entity[64] = "";
    int status = 0;
    for (int i = 0; i < count; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", argv[1], names[i]->d_name);
        size_t len = 0;
        char *request = testutil_read_file(path, &len);
        if (request == NULL) {
            fprintf(stderr, "control_examples: cannot read %s\n", path);
            status = 1;
            continue;
        }
        examples__put_entity(request, entity);
        char *reply = fogpay_control_handle(&ctx, request, len, EXAMPLES_NOW_MS);
        if (reply == NULL) {
            fprintf(stderr, "control_examples: no reply to %s\n", path);
            status = 1;
        } else {
            examples__take_entity(reply, entity, sizeof entity);
            names[i]->d_name[strlen(names[i]->d_name) - strlen(EXAMPLES_SUFFIX)] = '\0';
            printf("{\"example\":\"%s\",\"reply\":%s}\n", names[i]->d_name, reply);
        }
        free(reply);
        free(request);
        free(names[i]);
    }
    free(names);
    fogpay_ledger_close(ledger);
    return status;
}
