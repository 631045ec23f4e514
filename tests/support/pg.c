/*
 * pg.c - a throwaway PostgreSQL server for tests (see pg.h).
 *
 * Every command runs through /bin/sh with its output in <dir>/commands.log,
 * which is printed when one fails. Paths are made here (mkdtemp, the
 * version directories of /usr/lib/postgresql) and database names are
 * checked, so nothing from outside reaches a command line unchecked.
 */
#include <ctype.h>
#include <dirent.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "pg.h"

/* Where Debian puts each major version's server binaries. */
#define TEST_PG_LIB "/usr/lib/postgresql"
/* Ports tried when the free one is taken between the probe and the start. */
#define TEST_PG_START_ATTEMPTS 3
/* Seconds pg_ctl waits for the server to start or stop. */
#define TEST_PG_WAIT_S      60
#define TEST_PG_COMMAND_MAX 2048
#define TEST_PG_NAME_MAX    63

/* The server still running at exit, stopped by the atexit handler. */
static test_pg *test_pg_running;

static void test_pg_at_exit(void)
{
    if (test_pg_running != NULL) {
        test_pg_stop(test_pg_running);
    }
}

/* Runs a command line through /bin/sh in pg->dir, as the server's user,
 * appending its output to the log. True when it exits with 0. */
static bool test_pg_run(const test_pg *pg, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static bool test_pg_run(const test_pg *pg, const char *format, ...)
{
    char inner[TEST_PG_COMMAND_MAX];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(inner, sizeof inner, format, ap);
    va_end(ap);
    char command[TEST_PG_COMMAND_MAX + TEST_PG_PATH_MAX];
    int m = snprintf(command, sizeof command, "cd '%s' && %s %s >>'%s/commands.log' 2>&1", pg->dir,
                     pg->as_postgres ? "runuser -u postgres --" : "", inner, pg->dir);
    if (n < 0 || (size_t)n >= sizeof inner || m < 0 || (size_t)m >= sizeof command) {
        fprintf(stderr, "test_pg: a command line is too long\n");
        return false;
    }
    int status = system(command);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_pg_dump_log(const test_pg *pg)
{
    char path[TEST_PG_PATH_MAX];
    snprintf(path, sizeof path, "%s/commands.log", pg->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        fprintf(stderr, "  postgresql: %s", line);
    }
    fclose(f);
}

/* The bin directory of the highest version under /usr/lib/postgresql that
 * has initdb and pg_ctl. */
static bool test_pg_find_bin(test_pg *pg)
{
    DIR *d = opendir(TEST_PG_LIB);
    if (d == NULL) {
        return false;
    }
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long version = strtol(e->d_name, &end, 10);
        char initdb[TEST_PG_PATH_MAX];
        char pg_ctl[TEST_PG_PATH_MAX];
        snprintf(initdb, sizeof initdb, TEST_PG_LIB "/%s/bin/initdb", e->d_name);
        snprintf(pg_ctl, sizeof pg_ctl, TEST_PG_LIB "/%s/bin/pg_ctl", e->d_name);
        if (end != e->d_name && *end == '\0' && version > best && access(initdb, X_OK) == 0 &&
            access(pg_ctl, X_OK) == 0) {
            best = version;
            snprintf(pg->bin, sizeof pg->bin, TEST_PG_LIB "/%ld/bin", version);
        }
    }
    closedir(d);
    return best >= 0;
}

/* The temporary directory, given to the postgres user when running as root. */
static bool test_pg_make_dir(test_pg *pg)
{
    const char *base = getenv("TMPDIR");
    snprintf(pg->dir, sizeof pg->dir, "%s/fogpay-pg-XXXXXX",
             base != NULL && base[0] != '\0' && strlen(base) < 32 ? base : "/tmp");
    if (mkdtemp(pg->dir) == NULL) {
        perror("test_pg: mkdtemp");
        pg->dir[0] = '\0';
        return false;
    }
    if (!pg->as_postgres) {
        return true;
    }
    struct passwd *user = getpwnam("postgres");
    if (user == NULL || chown(pg->dir, user->pw_uid, user->pw_gid) != 0) {
        fprintf(stderr, "test_pg: cannot give %s to the postgres user\n", pg->dir);
        return false;
    }
    return true;
}

static void test_pg_remove_dir(test_pg *pg)
{
    if (pg->dir[0] != '\0') {
        char command[TEST_PG_PATH_MAX];
        snprintf(command, sizeof command, "rm -rf '%s'", pg->dir);
        if (system(command) != 0) {
            fprintf(stderr, "test_pg: could not remove %s\n", pg->dir);
        }
        pg->dir[0] = '\0';
    }
}

bool test_pg_start(test_pg *pg)
{
    memset(pg, 0, sizeof *pg);
    if (!test_pg_find_bin(pg)) {
        fprintf(stderr, "test_pg: no PostgreSQL server binaries under " TEST_PG_LIB
                        " (Debian package postgresql)\n");
        return false;
    }
    if (geteuid() == 0) {
        if (getpwnam("postgres") == NULL || access("/usr/sbin/runuser", X_OK) != 0) {
            fprintf(stderr, "test_pg: running as root needs the postgres user and runuser\n");
            return false;
        }
        pg->as_postgres = true;
    }
    if (!test_pg_make_dir(pg)) {
        test_pg_remove_dir(pg);
        return false;
    }
    /* Trust on loopback and the socket only: the server listens nowhere
     * else and lives as long as the test. No fsync: the tests close and
     * reopen, they do not crash the server, so its own crash safety is not
     * under test and syncing would only slow them. */
    if (!test_pg_run(pg,
                     "'%s/initdb' -D '%s/data' -U postgres -A trust -E UTF8 --locale=C "
                     "--no-sync",
                     pg->bin, pg->dir)) {
        fprintf(stderr, "test_pg: initdb failed\n");
        test_pg_dump_log(pg);
        test_pg_remove_dir(pg);
        return false;
    }
    for (int attempt = 0; attempt < TEST_PG_START_ATTEMPTS && !pg->running; attempt++) {
        pg->port = test_free_port();
        pg->running = pg->port > 0 &&
                      test_pg_run(pg,
                                  "'%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t %d -o "
                                  "\"-p %d -k '%s' -c listen_addresses=127.0.0.1 -c fsync=off\" "
                                  "start",
                                  pg->bin, pg->dir, pg->dir, TEST_PG_WAIT_S, pg->port, pg->dir);
    }
    if (!pg->running) {
        fprintf(stderr, "test_pg: the server did not start\n");
        test_pg_dump_log(pg);
        test_pg_remove_dir(pg);
        return false;
    }
    static bool registered;
    if (!registered) {
        atexit(test_pg_at_exit);
        registered = true;
    }
    test_pg_running = pg;
    return true;
}

bool test_pg_create_db(test_pg *pg, const char *name, char *conninfo, size_t cap)
{
    size_t len = strlen(name);
    bool valid = pg->running && len > 0 && len <= TEST_PG_NAME_MAX;
    for (size_t i = 0; valid && i < len; i++) {
        valid =
            islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_';
    }
    if (!valid) {
        fprintf(stderr, "test_pg: \"%s\" is not a database name to create here\n", name);
        return false;
    }
    if (!test_pg_run(pg, "'%s/createdb' -h 127.0.0.1 -p %d -U postgres '%s'", pg->bin, pg->port,
                     name)) {
        fprintf(stderr, "test_pg: createdb %s failed\n", name);
        test_pg_dump_log(pg);
        return false;
    }
    int n = snprintf(conninfo, cap, "postgresql://postgres@127.0.0.1:%d/%s", pg->port, name);
    return n > 0 && (size_t)n < cap;
}

void test_pg_stop(test_pg *pg)
{
    if (pg->running) {
        if (!test_pg_run(pg, "'%s/pg_ctl' -D '%s/data' -m fast -w -t %d stop", pg->bin, pg->dir,
                         TEST_PG_WAIT_S)) {
            fprintf(stderr, "test_pg: pg_ctl stop failed\n");
            test_pg_dump_log(pg);
        }
        pg->running = false;
    }
    test_pg_remove_dir(pg);
    if (test_pg_running == pg) {
        test_pg_running = NULL;
    }
}
