/*
 * fogpay_cli.c - the command-line scaffolding shared by fogpayctl,
 * fogpay-cloud and fogpay-agent (see fogpay_cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fogpay_cli.h"
#include "fogpay_key.h"

bool fogpay_cli_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    if (text == NULL || *text < '0' || *text > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

int fogpay_cli_usage_error(const char *program, const char *command, const char *message)
{
    if (command != NULL) {
        fprintf(stderr, "%s %s: %s\n", program, command, message);
    } else {
        fprintf(stderr, "%s: %s\n", program, message);
    }
    return FOGPAY_CLI_EXIT_USAGE;
}

int fogpay_cli_fail(const char *program, const char *what, fogpay_error err)
{
    fprintf(stderr, "%s: %s failed: %s (%s)\n", program, what, fogpay_error_string(err),
            fogpay_error_name(err));
    return FOGPAY_CLI_EXIT_FAILURE;
}

bool fogpay_cli_read_line(const char *path, char *out, size_t cap)
{
    if (cap < 2 || cap > (size_t)INT32_MAX) {
        return false;
    }
    bool from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    bool ok = f != NULL && fgets(out, (int)cap, f) != NULL;
    if (ok) {
        size_t n = strcspn(out, "\r\n");
        /* A line that filled the buffer fits only if its end comes next. */
        if (out[n] == '\0' && n + 1 == cap) {
            int next = fgetc(f);
            ok = next == EOF || next == '\n' || next == '\r';
        }
        ok = ok && n > 0;
        out[n] = '\0';
    }
    if (f != NULL && !from_stdin) {
        fclose(f);
    }
    if (!ok) {
        memset(out, 0, cap);
    }
    return ok;
}

int fogpay_cli_keygen(const char *program, const char *out_path, const char *alg_name)
{
    fogpay_alg alg = FOGPAY_ALG_EDDSA;
    if (alg_name != NULL && !fogpay_alg_from_name(alg_name, &alg)) {
        return fogpay_cli_usage_error(program, "keygen", "--alg is ed25519 or p256");
    }
    if (out_path == NULL) {
        return fogpay_cli_usage_error(program, "keygen", "--out FILE is required");
    }
    char text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
    fogpay_error err = fogpay_key_create_file(alg, out_path, text, sizeof text);
    if (err != FOGPAY_OK) {
        return fogpay_cli_fail(program, "keygen", err);
    }
    printf("%s\n", text);
    return FOGPAY_CLI_EXIT_OK;
}

int fogpay_cli_keygen_command(const char *program, int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"alg", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    const char *alg = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'o') {
            out = optarg;
        } else if (opt == 'a') {
            alg = optarg;
        } else {
            return FOGPAY_CLI_EXIT_USAGE;
        }
    }
    return fogpay_cli_keygen(program, out, alg);
}
