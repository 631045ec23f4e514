/*
 * pg.h - a throwaway PostgreSQL server for tests: Debian's initdb and
 * pg_ctl, a temporary directory, trust authentication on loopback only, a
 * free port, a fresh database per caller, and everything stopped and
 * removed at the end.
 *
 * As root the server runs as the `postgres` user (initdb refuses root),
 * through runuser; as any other user it runs as that user. The server's
 * superuser is always named `postgres`. A test_pg lives in the caller's
 * struct; test_pg_stop() stops the server and removes the directory, and
 * is also run at exit for a server still running, so a failed test leaves
 * nothing behind.
 */
#ifndef FOGPAY_TEST_PG_H
#define FOGPAY_TEST_PG_H

#include <stdbool.h>
#include <stddef.h>

/* The directory is short enough that the socket path inside it stays under
 * the 107 bytes of sun_path. */
#define TEST_PG_DIR_MAX  64
#define TEST_PG_PATH_MAX 512

typedef struct test_pg {
    char bin[TEST_PG_PATH_MAX]; /* Debian's bin directory of the newest version */
    char dir[TEST_PG_DIR_MAX];  /* temporary directory, owned; data/ and the socket inside */
    int port;
    bool as_postgres; /* commands run through runuser -u postgres */
    bool running;
} test_pg;

/* Finds the binaries, initialises a cluster and starts it on a free
 * loopback port, waiting until it accepts connections. False with the
 * reason printed on stderr when PostgreSQL cannot be run here; nothing is
 * left behind then. */
bool test_pg_start(test_pg *pg);

/* Creates the database name (lower-case letters, digits and '_', at most
 * 63) and writes its connection string
 * "postgresql://postgres@127.0.0.1:PORT/NAME" into conninfo. */
bool test_pg_create_db(test_pg *pg, const char *name, char *conninfo, size_t cap);

/* Stops the server (pg_ctl stop -m fast) and removes the directory. Safe to
 * call twice. */
void test_pg_stop(test_pg *pg);

#endif
