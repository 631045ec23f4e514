/*
 * fogpayctl_notes.c - "fogpayctl notes load --file FILE": the notes of a
 * note file (fogpay-issuer issue --out, one note line each) into the
 * gateway's stock, online or offline.
 *
 * The file is sent in loadNotes commands of at most
 * FOGPAY_LEDGER_NOTE_LOAD_MAX notes, one request each, in order; each
 * command loads all its notes or none, so on a refusal the lines of the
 * commands before it are loaded and the rest are not: the message names the
 * line refused, and loading the rest of the file again after it is safe
 * (a note loaded twice is refused as note_serial_seen).
 *
 * Ownership: cJSON trees and strings are freed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fogpay_cli.h"
#include "fogpayctl.h"
#include "ledger_note.h"

#define NOTES_COMMAND "notes load"

/* The reply's one response; prints a refusal naming file line first + its
 * index. Returns the exit status. */
static int notes__reply(const char *text, unsigned long first, unsigned long *loaded)
{
    cJSON *reply = cJSON_Parse(text);
    const cJSON *resp = cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "responses"), 0);
    const cJSON *error = cJSON_GetObjectItem(resp, "error");
    const cJSON *data = cJSON_GetObjectItem(resp, "data");
    int status = FOGPAY_CLI_EXIT_OK;
    if (resp == NULL) {
        fprintf(stderr, "%s %s: the reply is not a control reply\n", FOGPAYCTL_PROGRAM,
                NOTES_COMMAND);
        status = FOGPAY_CLI_EXIT_FAILURE;
    } else if (cJSON_IsString(error)) {
        const cJSON *refused = cJSON_GetObjectItem(data, "refused");
        const cJSON *message = cJSON_GetObjectItem(resp, "errorMessage");
        fprintf(stderr, "%s %s: line %lu refused: %s (%s)\n", FOGPAYCTL_PROGRAM, NOTES_COMMAND,
                first + (cJSON_IsNumber(refused) ? (unsigned long)refused->valuedouble : 0),
                cJSON_GetStringValue(message), error->valuestring);
        status = FOGPAY_CLI_EXIT_FAILURE;
    } else {
        *loaded += (unsigned long)cJSON_GetNumberValue(cJSON_GetObjectItem(data, "loaded"));
    }
    cJSON_Delete(reply);
    return status;
}

/* Sends the lines of batch (their first is line first of the file). */
static int notes__send(const fogpayctl_target *target, cJSON *batch, unsigned long first,
                       unsigned long *loaded)
{
    char correlation[64];
    snprintf(correlation, sizeof correlation, "fogpayctl-%ld-%ld-%lu", (long)getpid(),
             (long)time(NULL), first);
    cJSON *request = cJSON_CreateObject();
    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(request, "commands"), cmd);
    cJSON_AddStringToObject(cmd, "command", "loadNotes");
    cJSON_AddItemReferenceToObject(cmd, "notes", batch);
    cJSON_AddStringToObject(cmd, "correlationData", correlation);
    char *payload = cJSON_PrintUnformatted(request);
    char *reply = payload ? fogpayctl_exchange(target, payload, correlation) : NULL;
    int status = reply ? notes__reply(reply, first, loaded) : FOGPAY_CLI_EXIT_FAILURE;
    free(reply);
    free(payload);
    cJSON_Delete(request);
    return status;
}

int fogpayctl_notes_load(const fogpayctl_target *target, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--file") != 0) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, NOTES_COMMAND, "--file FILE is required");
    }
    FILE *f = strcmp(argv[2], "-") == 0 ? stdin : fopen(argv[2], "r");
    if (f == NULL) {
        return fogpay_cli_fail(FOGPAYCTL_PROGRAM, NOTES_COMMAND, FOGPAY_ERR_IO);
    }
    static char line[FOGPAY_NOTE_LINE_MAX + 2];
    unsigned long number = 0;
    unsigned long first = 1;
    unsigned long loaded = 0;
    int status = FOGPAY_CLI_EXIT_OK;
    cJSON *batch = cJSON_CreateArray();
    while (status == FOGPAY_CLI_EXIT_OK && fgets(line, sizeof line, f)) {
        number++;
        line[strcspn(line, "\r\n")] = '\0';
        cJSON_AddItemToArray(batch, cJSON_CreateString(line));
        if (cJSON_GetArraySize(batch) == FOGPAY_LEDGER_NOTE_LOAD_MAX) {
            status = notes__send(target, batch, first, &loaded);
            cJSON_Delete(batch);
            batch = cJSON_CreateArray();
            first = number + 1;
        }
    }
    if (status == FOGPAY_CLI_EXIT_OK && cJSON_GetArraySize(batch) > 0) {
        status = notes__send(target, batch, first, &loaded);
    }
    cJSON_Delete(batch);
    if (f != stdin) {
        fclose(f);
    }
    if (status == FOGPAY_CLI_EXIT_OK) {
        printf("loaded %lu notes\n", loaded);
    }
    return status;
}
