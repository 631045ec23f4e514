/*
 * fogpayctl_import.c - "fogpayctl import-devices --file FILE
 * [--secrets-out FILE]": provisioning many devices at once through the
 * importDevices control command, online or offline like every control
 * command.
 *
 * The file has one JSON object a line (blank lines and lines starting with
 * "#" are skipped): {"device", "publicKey", "owner", "limits":{...}} and at
 * most one of "password" (a secret chosen elsewhere, checked for entropy
 * here), "passwordVerifier" (a "sha256$" verifier made elsewhere) and
 * "certificateOnly": true. A line with none of them gets a generated
 * secret. Every line is read before anything is sent: a bad one is
 * reported as FILE:LINE and nothing is imported; so is a line that the
 * gateway refuses, from the position its reply names. Secrets never travel:
 * each becomes its verifier here, and the generated ones are written to the
 * secrets file (created new, mode 0600, "DEVICE SECRET" a line) before the
 * import is sent, and removed again for devices the import skipped (they
 * exist already as the line says and keep their secret) or when the import
 * fails.
 *
 * Ownership: cJSON trees, lines and the secrets list are freed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "fogpay_cli.h"
#include "fogpay_password.h"
#include "fogpayctl.h"

#define IMPORT_COMMAND "import-devices"

/* What the lines of the file became: the request's devices, the file line
 * of each, and the generated secrets (NULL where none was generated). */
typedef struct import_file {
    cJSON *devices;
    size_t count;
    size_t cap;
    unsigned long *lines;
    char (*secrets)[FOGPAY_DEVICE_SECRET_TEXT_SIZE];
    bool *generated;
    size_t generated_count;
} import_file;

static int import__line_error(const char *path, unsigned long line, const char *message)
{
    fprintf(stderr, "%s %s: %s:%lu: %s\n", FOGPAYCTL_PROGRAM, IMPORT_COMMAND, path, line, message);
    return FOGPAY_CLI_EXIT_USAGE;
}

static bool import__grow(import_file *f)
{
    if (f->count < f->cap) {
        return true;
    }
    size_t cap = f->cap ? 2 * f->cap : 256;
    unsigned long *lines = realloc(f->lines, cap * sizeof *lines);
    f->lines = lines ? lines : f->lines;
    char(*secrets)[FOGPAY_DEVICE_SECRET_TEXT_SIZE] = realloc(f->secrets, cap * sizeof *secrets);
    f->secrets = secrets ? secrets : f->secrets;
    bool *generated = realloc(f->generated, cap * sizeof *generated);
    f->generated = generated ? generated : f->generated;
    if (!lines || !secrets || !generated) {
        return false;
    }
    f->cap = cap;
    return true;
}

/* Turns a line's secret into its verifier: the given password (checked), a
 * generated one, or none (certificateOnly). NULL when fine, else why not. */
static const char *import__secret(cJSON *o, import_file *f)
{
    size_t i = f->count;
    f->generated[i] = false;
    const cJSON *cert = cJSON_GetObjectItemCaseSensitive(o, "certificateOnly");
    const cJSON *password = cJSON_GetObjectItemCaseSensitive(o, "password");
    const cJSON *verifier = cJSON_GetObjectItemCaseSensitive(o, "passwordVerifier");
    if ((cert != NULL) + (password != NULL) + (verifier != NULL) > 1) {
        return "give at most one of password, passwordVerifier and certificateOnly";
    }
    if (cert != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "certificateOnly");
        return cJSON_IsTrue(cert) ? NULL : "certificateOnly is true or absent";
    }
    if (verifier != NULL) {
        return NULL; /* checked by the control handler, with its line */
    }
    const char *secret = f->secrets[i];
    if (password != NULL) {
        if (!cJSON_IsString(password) ||
            fogpay_device_secret_check(password->valuestring, strlen(password->valuestring)) !=
                FOGPAY_OK) {
            return "a device password is a generated secret of at least 32 characters, of at "
                   "least 8 different ones (128 bits); leave it out to have one generated";
        }
        secret = password->valuestring;
    } else if (fogpay_device_secret_generate(f->secrets[i]) != FOGPAY_OK) {
        return "no random secret could be generated";
    } else {
        f->generated[i] = true;
        f->generated_count++;
    }
    char text[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    if (fogpay_device_secret_verifier(secret, strlen(secret), text, sizeof text) != FOGPAY_OK) {
        return "the secret could not be hashed";
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, "password");
    cJSON_AddStringToObject(o, "passwordVerifier", text);
    return NULL;
}

/* Reads every line of path into f; the exit status of a failure, or 0. */
static int import__read(const char *path, import_file *f)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "%s %s: cannot open %s: %s\n", FOGPAYCTL_PROGRAM, IMPORT_COMMAND, path,
                strerror(errno));
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    char *line = NULL;
    size_t line_cap = 0;
    unsigned long number = 0;
    int status = FOGPAY_CLI_EXIT_OK;
    while (status == FOGPAY_CLI_EXIT_OK && getline(&line, &line_cap, in) != -1) {
        number++;
        const char *p = line + strspn(line, " \t\r\n");
        if (*p == '\0' || *p == '#') {
            continue;
        }
        cJSON *o = cJSON_Parse(p);
        const char *why = !cJSON_IsObject(o) ? "not a JSON object"
                          : !import__grow(f) ? "out of memory"
                                             : import__secret(o, f);
        if (why != NULL) {
            cJSON_Delete(o);
            status = import__line_error(path, number, why);
        } else {
            cJSON_AddItemToArray(f->devices, o);
            f->lines[f->count++] = number;
        }
    }
    free(line);
    if (in != stdin) {
        fclose(in);
    }
    if (status == FOGPAY_CLI_EXIT_OK && f->count == 0) {
        status = import__line_error(path, number, "the file holds no device");
    }
    return status;
}

/* Writes the generated secrets of the devices not in skipped (a cJSON
 * array of ids, may be NULL) to path, created new or (replace) in place of
 * the earlier file. */
static bool import__write_secrets(const char *path, const import_file *f, const cJSON *skipped,
                                  bool replace)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    const char *target = replace ? tmp : path;
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (out == NULL) {
        fprintf(stderr, "%s %s: cannot create %s: %s\n", FOGPAYCTL_PROGRAM, IMPORT_COMMAND, target,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    /* The reply lists the skipped devices in the order of the request. */
    size_t i = 0;
    const cJSON *device = NULL;
    const cJSON *next_skipped = skipped ? skipped->child : NULL;
    cJSON_ArrayForEach(device, f->devices)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(device, "device"));
        bool skip =
            id && cJSON_IsString(next_skipped) && strcmp(next_skipped->valuestring, id) == 0;
        if (skip) {
            next_skipped = next_skipped->next;
        }
        if (f->generated[i] && !skip) {
            fprintf(out, "%s %s\n", id ? id : "?", f->secrets[i]);
        }
        i++;
    }
    bool empty = ftell(out) == 0;
    bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    ok = fclose(out) == 0 && ok;
    if (ok && replace) {
        ok = rename(tmp, path) == 0;
    }
    /* Every generated secret was of a skipped device: no file is left. */
    if (ok && replace && empty) {
        unlink(path);
    }
    if (!ok) {
        fprintf(stderr, "%s %s: cannot write %s\n", FOGPAYCTL_PROGRAM, IMPORT_COMMAND, target);
    }
    return ok;
}

/* Prints the reply's outcome; its exit status. */
static int import__outcome(const char *path, const import_file *f, const cJSON *resp,
                           const char *secrets_out)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(resp, "error");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(resp, "errorMessage");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp, "data");
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(data, "line");
    if (cJSON_IsString(error)) {
        const char *text = cJSON_IsString(message) ? message->valuestring : "refused";
        if (cJSON_IsNumber(line) && line->valuedouble >= 1 && line->valuedouble <= f->count) {
            fprintf(stderr, "%s %s: %s:%lu: %s (%s); nothing imported\n", FOGPAYCTL_PROGRAM,
                    IMPORT_COMMAND, path, f->lines[(size_t)line->valuedouble - 1], text,
                    error->valuestring);
        } else {
            fprintf(stderr, "%s %s: %s (%s); nothing imported\n", FOGPAYCTL_PROGRAM, IMPORT_COMMAND,
                    text, error->valuestring);
        }
        if (secrets_out != NULL) {
            unlink(secrets_out);
        }
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(data, "skipped");
    const cJSON *imported = cJSON_GetObjectItemCaseSensitive(data, "imported");
    int skipped_count = cJSON_GetArraySize(skipped);
    if (secrets_out != NULL && skipped_count > 0 &&
        !import__write_secrets(secrets_out, f, skipped, true)) {
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    printf("imported %.0f devices, skipped %d registered already as the file says\n",
           cJSON_IsNumber(imported) ? imported->valuedouble : 0.0, skipped_count);
    return FOGPAY_CLI_EXIT_OK;
}

/* Sends the import and handles the reply; the exit status. */
static int import__send(const fogpayctl_target *target, const char *path, import_file *f,
                        const char *secrets_out)
{
    char correlation[64];
    snprintf(correlation, sizeof correlation, "fogpayctl-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    cJSON *request = cJSON_CreateObject();
    cJSON *commands = cJSON_AddArrayToObject(request, "commands");
    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddItemToArray(commands, cmd);
    cJSON_AddStringToObject(cmd, "command", "importDevices");
    cJSON_AddItemToObject(cmd, "devices", f->devices);
    cJSON_AddStringToObject(cmd, "correlationData", correlation);
    char *payload = cJSON_PrintUnformatted(request);
    cJSON_DetachItemFromObjectCaseSensitive(cmd, "devices");
    cJSON_Delete(request);
    char *reply = payload ? fogpayctl_exchange(target, payload, correlation) : NULL;
    free(payload);
    if (reply == NULL) {
        if (secrets_out != NULL) {
            unlink(secrets_out);
        }
        return FOGPAY_CLI_EXIT_FAILURE;
    }
    if (target->json) {
        printf("%s\n", reply);
    }
    cJSON *parsed = cJSON_Parse(reply);
    free(reply);
    const cJSON *resp = cJSON_GetArrayItem(cJSON_GetObjectItem(parsed, "responses"), 0);
    int status = import__outcome(path, f, resp, secrets_out);
    cJSON_Delete(parsed);
    return status;
}

int fogpayctl_import(const fogpayctl_target *target, int argc, char **argv)
{
    static const struct option options[] = {
        {"file", required_argument, NULL, 'f'},
        {"secrets-out", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *secrets_out = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'f') {
            path = optarg;
        } else if (opt == 's') {
            secrets_out = optarg;
        } else {
            return FOGPAY_CLI_EXIT_USAGE;
        }
    }
    if (path == NULL || optind != argc) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, IMPORT_COMMAND,
                                      "usage: import-devices --file FILE [--secrets-out FILE]");
    }
    if (strcmp(path, "-") == 0 && target->stdin_taken) {
        return fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, IMPORT_COMMAND,
                                      "standard input already holds the operator's password");
    }
    import_file f = {.devices = cJSON_CreateArray()};
    int status = f.devices ? import__read(path, &f) : FOGPAY_CLI_EXIT_FAILURE;
    if (status == FOGPAY_CLI_EXIT_OK && f.generated_count > 0 && secrets_out == NULL) {
        status = fogpay_cli_usage_error(FOGPAYCTL_PROGRAM, IMPORT_COMMAND,
                                        "lines without a secret get a generated one: "
                                        "--secrets-out FILE says where it is written");
    }
    if (status == FOGPAY_CLI_EXIT_OK && f.generated_count == 0) {
        secrets_out = NULL;
    }
    if (status == FOGPAY_CLI_EXIT_OK && secrets_out != NULL &&
        !import__write_secrets(secrets_out, &f, NULL, false)) {
        status = FOGPAY_CLI_EXIT_FAILURE;
    }
    if (status == FOGPAY_CLI_EXIT_OK) {
        status = import__send(target, path, &f, secrets_out);
    }
    if (f.secrets != NULL) {
        memset(f.secrets, 0, f.cap * sizeof *f.secrets);
    }
    cJSON_Delete(f.devices);
    free(f.lines);
    free(f.secrets);
    free(f.generated);
    return status;
}
