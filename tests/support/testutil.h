/*
 * testutil.h - small helpers shared by the CUnit programs: files, hex,
 * base64url, temporary directories, and running a suite.
 */
#ifndef FOGPAY_TESTUTIL_H
#define FOGPAY_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

/* Reads a whole file into a NUL-terminated heap buffer the caller frees;
 * NULL on failure. *len may be NULL. */
char *testutil_read_file(const char *path, size_t *len);

/* The number after key in the last line of text (may be NULL) starting
 * with key, as agents' `status` prints its values; -1 when none does. */
long long testutil_line_value(const char *text, const char *key);

/* Decodes hex (either case) into a heap buffer the caller frees; NULL for
 * invalid hex. An empty string gives a 1-byte buffer and *len 0. */
uint8_t *testutil_hex(const char *hex, size_t *len);

/* Decodes base64url without padding (COSE JWK fields); returns the byte
 * count or 0 on error. */
size_t testutil_base64url(const char *text, uint8_t *out, size_t cap);

/* Creates a fresh directory under $TMPDIR (or /tmp) into dir (cap bytes). */
void testutil_tempdir(char *dir, size_t cap);
/* Removes dir and everything in it. */
void testutil_rmtree(const char *dir);

/* Path of the shared conformance data, from FOGPAY_SHARED_DIR. */
const char *testutil_shared_dir(void);

/* Runs argv (argv[0] a path) to completion with its stdout into out_path
 * (created or truncated; /dev/null when NULL) and stderr inherited. The
 * exit status, or 128 + the signal that ended it. */
int testutil_command(const char *const *argv, const char *out_path);
/* Runs argv (argv[0] found on PATH) to completion with its stdout and
 * stderr appended to log (created if missing; /dev/null when NULL). The
 * exit status, 127 when it could not start, or 128 + the signal. */
int testutil_command_logged(const char *const *argv, const char *log);
/* The longest shell command line testutil_shell runs. */
#define TESTUTIL_SHELL_MAX 16384
/* Runs the shell command line fmt (printf-style) with /bin/sh, its stdout
 * into out (cap bytes, NUL-terminated; the rest is dropped); its exit
 * status, or -1 when it could not run or did not exit. */
int testutil_shell(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Waits for a child; its exit status, or 128 + the signal that ended it. */
int testutil_wait_exit(int pid);
/* A monotonic clock in milliseconds, and a sleep in milliseconds. */
uint64_t testutil_now_ms(void);
void testutil_sleep_ms(unsigned ms);

/* Runs the registered suites verbosely and returns the process exit code:
 * 0 only when every test passed. */
int testutil_run(void);

#endif
