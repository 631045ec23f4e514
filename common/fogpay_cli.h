/*
 * fogpay_cli.h - the command-line scaffolding that fogpayctl, fogpay-cloud
 * and fogpay-agent share: exit statuses, strict number parsing, the
 * messages of a usage error and of a failure, reading a secret (or any
 * one-line value) from a file or standard input, and keygen.
 *
 * Messages go to stderr as "PROGRAM COMMAND: what happened", so that every
 * tool reads the same way. Nothing here allocates; strings are borrowed.
 */
#ifndef FOGPAY_CLI_H
#define FOGPAY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"

/* The exit statuses every tool shares; a tool may add its own above these
 * (fogpay-agent: 3 rejected, 4 timeout, 5 refused on the device). */
#define FOGPAY_CLI_EXIT_OK      0 /* done */
#define FOGPAY_CLI_EXIT_FAILURE 1 /* refused, corrupt, or an I/O or network failure */
#define FOGPAY_CLI_EXIT_USAGE   2 /* the command line (or the request it made) is malformed */

/* Parses text as a decimal unsigned integer that fills the whole text and
 * is at most max: no sign, no spaces, no hex. False for anything else;
 * *out is written only on success. */
bool fogpay_cli_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* Prints "PROGRAM COMMAND: message" (command may be NULL) and returns
 * FOGPAY_CLI_EXIT_USAGE. */
int fogpay_cli_usage_error(const char *program, const char *command, const char *message);

/* Prints "PROGRAM: WHAT failed: <sentence> (<name>)" and returns
 * FOGPAY_CLI_EXIT_FAILURE. */
int fogpay_cli_fail(const char *program, const char *what, fogpay_error err);

/* Reads the first line of path, or of standard input when path is "-",
 * into out (cap bytes) without its line end. A password is read this way
 * so that it never stands on a command line where ps shows it. False when
 * the file cannot be read, the line is empty, or it does not fit in cap - 1
 * bytes; out is then wiped. */
bool fogpay_cli_read_line(const char *path, char *out, size_t cap);

/* Writes a new private key (alg_name "ed25519" or "p256"; NULL is ed25519)
 * to out_path with mode 0600 and prints its public text ("ed25519:<hex>")
 * on stdout. Returns the exit status, with a message for a usage error or
 * a failure. */
int fogpay_cli_keygen(const char *program, const char *out_path, const char *alg_name);

/* The keygen subcommand with its own options, argv[0] being "keygen":
 * --out FILE (required) and --alg ed25519|p256. Uses getopt_long (the
 * caller resets optind). Returns the exit status. */
int fogpay_cli_keygen_command(const char *program, int argc, char **argv);

#endif
