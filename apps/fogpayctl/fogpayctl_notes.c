/*
 * fogpayctl_notes.c - "fogpayctl notes load --file FILE": the notes of a
 * note file (fogpay-issuer issue --out, one note line each) into the
 * gateway's stock, online or offline; and "fogpayctl notes redeem
 * --entity LE --file FILE": the notes of a note file handed back by a
 * legal entity (each line's custody entry naming the gateway's key) into
 * the entity's account, in redeemNotes commands the same way; and,
 * offline, "fogpayctl notes export-returned --key GATEWAY-KEY --out FILE":
 * the stock's notes that came back from devices handed back to their
 * issuers, as a note file for fogpay-issuer redeem.
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
#include "fogpay_clock.h"
#include "fogpayctl.h"
#include "ledger_note.h"

/* What a note file is sent as: the subcommand's words, the control
 * command, its entity (NULL: none), the reply's count of notes taken. */
typedef struct notes_send {
    const char *words;
    const char *command;
    const char *entity;
    const char *counted;
} notes_send;

/* The reply's one response; prints a refusal naming file line first + its
 * index. Returns the exit status. */
static int notes__reply(const notes_send *how, const char *text, unsigned long first,
                        unsigned long *loaded)
{
    cJSON *reply = cJSON_Parse(text);
    const cJSON *resp = cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "responses"), 0);
    const cJSON *error = cJSON_GetObjectItem(resp, "error");
    const cJSON *data = cJSON_GetObjectItem(resp, "data");
    int status = FOGPAY_CLI_EXIT_OK;
    if (resp == NULL) {
        fprintf(stderr, "%s %s: the reply is not a control reply\n", FOGPAYCTL_PROGRAM, how->words);
        status = FOGPAY_CLI_EXIT_FAILURE;
    } else if (cJSON_IsString(error)) {
        const cJSON *refused = cJSON_GetObjectItem(data, "refused");
        const cJSON *message = cJSON_GetObjectItem(resp, "errorMessage");
        fprintf(stderr, "%s %s: line %lu refused: %s (%s)\n", FOGPAYCTL_PROGRAM, how->words,
                first + (cJSON_IsNumber(refused) ? (unsigned long)refused->valuedouble : 0),
                cJSON_GetStringValue(message), error->valuestring);
        status = FOGPAY_CLI_EXIT_FAILURE;
    } else {
        *loaded += (unsigned long)cJSON_GetNumberValue(cJSON_GetObjectItem(data, how->counted));
    }
    cJSON_Delete(reply);
    return status;
}

/* Sends the lines of batch (their first is line first of the file). */
static int notes__send(const fogpayctl_target *target, const notes_send *how, cJSON *batch,
                       unsigned long first, unsigned long *loaded)
{
    char correlation[64];
    snprintf(correlation, sizeof correlation, "fogpayctl-%ld-%ld-%lu", (long)getpid(),
             (long)time(NULL), first);
    cJSON *request = cJSON_CreateObject();
    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(request, "commands"), cmd);
    cJSON_AddStringToObject(cmd, "command", how->command);
    if (how->entity != NULL) {
        cJSON_AddStringToObject(cmd, "entity", how->entity);
    }
    cJSON_AddItemReferenceToObject(cmd, "notes", batch);
    cJSON_AddStringToObject(cmd, "correlationData", correlation);
    char *payload = cJSON_PrintUnformatted(request);
    char *reply = payload ? fogpayctl_exchange(target, payload, correlation) : NULL;
    int status = reply ? notes__reply(how, reply, first, loaded) : FOGPAY_CLI_EXIT_FAILURE;
    free(reply);
    free(payload);
    cJSON_Delete(request);
    return status;
}

/* Sends the note file at path as how says; prints what was taken. */
static int notes__file(const fogpayctl_target *target, const notes_send *how, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        return fogpay_cli_fail(FOGPAYCTL_PROGRAM, how->words, FOGPAY_ERR_IO);
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
            status = notes__send(target, how, batch, first, &loaded);
            cJSON_Delete(batch);
            batch = cJSON_CreateArray();
            first = number + 1;
        }
    }
    if (status == FOGPAY_CLI_EXIT_OK && cJSON_GetArraySize(batch) > 0) {
        status = notes__send(target, how, batch, first, &loaded);
    }
    cJSON_Delete(batch);
    if (f != stdin) {
        fclose(f);
    }
    if (status == FOGPAY_CLI_EXIT_OK) {
        printf("%s %lu notes\n", how->counted, loaded);
    }
    return status;
}

int fogpayctl_notes_load(const fogpayctl_target *target, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--file") != 0) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, "notes load", "--file FILE is required");
    }
    static const notes_send load = {"notes load", "loadNotes", NULL, "loaded"};
    return notes__file(target, &load, argv[2]);
}

int fogpayctl_notes_redeem(const fogpayctl_target *target, int argc, char **argv)
{
    const char *entity = NULL;
    const char *path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--entity") == 0) {
            entity = argv[i + 1];
        } else if (strcmp(argv[i], "--file") == 0) {
            path = argv[i + 1];
        }
    }
    if (argc != 5 || entity == NULL || path == NULL) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, "notes redeem",
                                      "--entity LE and --file FILE are required");
    }
    notes_send redeem = {"notes redeem", "redeemNotes", entity, "redeemed"};
    return notes__file(target, &redeem, path);
}

/* Writes the count notes of held to f as note lines. */
static fogpay_error notes__write(FILE *f, const fogpay_held_note *held, size_t count)
{
    static char line[FOGPAY_NOTE_LINE_MAX];
    for (size_t i = 0; i < count; i++) {
        fogpay_error err = fogpay_note_line_format(&held[i], line, sizeof line);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (fprintf(f, "%s\n", line) < 0) {
            return FOGPAY_ERR_IO;
        }
    }
    return FOGPAY_OK;
}

int fogpayctl_notes_export(const fogpayctl_target *target, int argc, char **argv)
{
    static const char words[] = "notes export-returned";
    const char *key_path = NULL;
    const char *out_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--key") == 0) {
            key_path = argv[i + 1];
        } else if (strcmp(argv[i], "--out") == 0) {
            out_path = argv[i + 1];
        }
    }
    if (argc != 5 || key_path == NULL || out_path == NULL) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, words,
                                      "--key GATEWAY-KEY and --out FILE are required");
    }
    if (target->ledger == NULL || target->note_issuers == NULL) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, words,
                                      "offline only: --db FILE and --note-issuers FILE");
    }
    fogpay_key *key = NULL;
    fogpay_error err = fogpay_key_load(key_path, &key);
    FILE *f = err == FOGPAY_OK ? fopen(out_path, "w") : NULL;
    if (err == FOGPAY_OK && f == NULL) {
        err = FOGPAY_ERR_IO;
    }
    static fogpay_held_note held[FOGPAY_LEDGER_NOTE_LOAD_MAX];
    size_t count = 0;
    unsigned long total = 0;
    /* A batch a write operation: a note is marked returned only once the
     * batch before it is in the file. */
    do {
        err = err == FOGPAY_OK
                  ? fogpay_ledger_note_return(target->ledger, key, target->note_issuers,
                                              fogpay_clock_wall_ms(), held, &count)
                  : err;
        err = err == FOGPAY_OK ? notes__write(f, held, count) : err;
        total += err == FOGPAY_OK ? count : 0;
    } while (err == FOGPAY_OK && count == FOGPAY_LEDGER_NOTE_LOAD_MAX);
    if (f != NULL && fclose(f) != 0 && err == FOGPAY_OK) {
        err = FOGPAY_ERR_IO;
    }
    fogpay_key_free(key);
    if (err != FOGPAY_OK) {
        return fogpay_cli_fail(FOGPAYCTL_PROGRAM, words, err);
    }
    printf("returned %lu notes\n", total);
    return FOGPAY_CLI_EXIT_OK;
}
