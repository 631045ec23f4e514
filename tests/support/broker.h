/*
 * broker.h - a real Mosquitto for tests: written config, free loopback
 * port, start, wait until it accepts connections, stop (SIGTERM) or kill
 * (SIGKILL), restart on the same port and files.
 *
 * A test_broker lives in the caller's struct; test_broker_stop() ends the
 * process and test_broker_cleanup() removes the temporary directory. The
 * broker's log is kept in <dir>/mosquitto.log for failed tests to print.
 */
#ifndef FOGPAY_TEST_BROKER_H
#define FOGPAY_TEST_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The directory is short enough that every file path inside it fits. */
#define TEST_BROKER_DIR_MAX  256
#define TEST_BROKER_PATH_MAX 512
#define TEST_BROKER_CONF_MAX 8192

typedef struct test_broker {
    char dir[TEST_BROKER_DIR_MAX]; /* temporary directory, owned */
    char conf_path[TEST_BROKER_PATH_MAX];
    char log_path[TEST_BROKER_PATH_MAX];
    int port;
    pid_t pid;
} test_broker;

/* A free TCP port on 127.0.0.1 (bound and released), or -1. */
int test_free_port(void);

/* Creates a temporary directory and picks a free port. */
bool test_broker_init(test_broker *b);

/* Writes mosquitto.conf in b->dir: "listener <port> 127.0.0.1",
 * "allow_anonymous ..." as given in extra_conf, "log_dest file <log>", then
 * extra_conf verbatim (plugin lines, persistence...). Starts mosquitto and
 * waits up to 10 s for the port to accept connections. False on failure,
 * with the log printed to stderr. */
bool test_broker_start(test_broker *b, const char *extra_conf);

/* Starts again with the config already written (after stop or kill). */
bool test_broker_restart(test_broker *b);

/* SIGTERM and wait (up to 10 s, then SIGKILL). */
void test_broker_stop(test_broker *b);

/* SIGKILL and wait: a crash. */
void test_broker_kill(test_broker *b);

/* True while the process runs. */
bool test_broker_running(test_broker *b);

/* Prints the broker log to stderr. */
void test_broker_dump_log(const test_broker *b);

/* Stops if running and removes the directory. */
void test_broker_cleanup(test_broker *b);

/* The configuration of a gateway: no anonymous clients, the deployment's
 * per-client queue (FOGPAY_BROKER_QUEUED), the plugin of
 * $FOGPAY_PLUGIN on the ledger db (not created), gateway_id and its key,
 * EUR, and the operators file, into out. False when it does not fit. */
bool test_broker_gateway_conf(char *out, size_t cap, const char *gateway_id, const char *db,
                              const char *key, const char *operators);

/* Path of a file inside the broker's directory, into out. */
void test_broker_path(const test_broker *b, const char *name, char *out, size_t cap);

#endif
