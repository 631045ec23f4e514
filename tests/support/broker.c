/*
 * broker.c - a real Mosquitto for tests (see broker.h).
 *
 * The broker runs as a child process with a config written into a fresh
 * temporary directory, on a port found free on 127.0.0.1 just before. The
 * harness polls the port until it accepts a TCP connection, so a test starts
 * only once the broker (and the plugin it loads) is ready. Every process the
 * harness starts it also ends, by its pid.
 */
#include "broker.h"
#include "fogpay_limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a broker may take to accept connections or to stop. Loading the
 * plugin opens the ledger; on a loaded shared machine that can take a few
 * seconds. */
#define TEST_BROKER_START_TIMEOUT_MS 10000
#define TEST_BROKER_STOP_TIMEOUT_MS  10000
#define TEST_BROKER_POLL_MS          20

static const char *mosquitto_path(void)
{
    const char *env = getenv("FOGPAY_TEST_MOSQUITTO");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    if (access("/usr/sbin/mosquitto", X_OK) == 0) {
        return "/usr/sbin/mosquitto";
    }
    return "mosquitto";
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

/* True when something accepts a TCP connection on 127.0.0.1:port. */
static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

bool test_broker_init(test_broker *b)
{
    memset(b, 0, sizeof(*b));
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof(b->dir), "%s/fogpay-broker-XXXXXX",
             (tmp != NULL && tmp[0] != '\0') ? tmp : "/tmp");
    if (mkdtemp(b->dir) == NULL) {
        perror("test_broker_init: mkdtemp");
        return false;
    }
    /* The broker may drop privileges to the mosquitto user when run as
     * root; let it write its log and database in this directory. */
    chmod(b->dir, 0777);
    snprintf(b->conf_path, sizeof(b->conf_path), "%s/mosquitto.conf", b->dir);
    snprintf(b->log_path, sizeof(b->log_path), "%s/mosquitto.log", b->dir);
    b->port = test_free_port();
    b->pid = 0;
    return b->port > 0;
}

bool test_broker_gateway_conf(char *out, size_t cap, const char *gateway_id, const char *db,
                              const char *key, const char *operators)
{
    const char *plugin = getenv("FOGPAY_PLUGIN");
    int n = snprintf(out, cap,
                     "allow_anonymous false\n"
                     "max_queued_messages %u\n"
                     "plugin %s\n"
                     "plugin_opt_database %s\n"
                     "plugin_opt_create_db false\n"
                     "plugin_opt_gateway_id %s\n"
                     "plugin_opt_gateway_key %s\n"
                     "plugin_opt_currencies EUR\n"
                     "plugin_opt_operators %s\n",
                     FOGPAY_BROKER_QUEUED, plugin ? plugin : "", db, gateway_id, key, operators);
    return plugin != NULL && n > 0 && (size_t)n < cap;
}

void test_broker_path(const test_broker *b, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", b->dir, name);
}

bool test_broker_running(test_broker *b)
{
    if (b->pid <= 0) {
        return false;
    }
    int status;
    pid_t r = waitpid(b->pid, &status, WNOHANG);
    if (r == b->pid) {
        b->pid = 0;
        return false;
    }
    return r == 0;
}

void test_broker_dump_log(const test_broker *b)
{
    FILE *f = fopen(b->log_path, "r");
    if (f == NULL) {
        fprintf(stderr, "(no broker log at %s)\n", b->log_path);
        return;
    }
    char line[1024];
    fprintf(stderr, "---- %s ----\n", b->log_path);
    while (fgets(line, sizeof(line), f) != NULL) {
        fputs(line, stderr);
    }
    fprintf(stderr, "---- end of broker log ----\n");
    fclose(f);
}

bool test_broker_restart(test_broker *b)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("test_broker_restart: fork");
        return false;
    }
    if (pid == 0) {
        /* A test that dies (an abort, a fatal signal) takes its broker
         * along instead of leaving it holding the runner's pipes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
        execl(mosquitto_path(), "mosquitto", "-c", b->conf_path, (char *)NULL);
        perror("test_broker_restart: exec mosquitto");
        _exit(127);
    }
    b->pid = pid;
    for (int waited = 0; waited < TEST_BROKER_START_TIMEOUT_MS; waited += TEST_BROKER_POLL_MS) {
        if (!test_broker_running(b)) {
            fprintf(stderr, "test_broker: mosquitto exited during start\n");
            test_broker_dump_log(b);
            return false;
        }
        if (port_accepts(b->port)) {
            return true;
        }
        sleep_ms(TEST_BROKER_POLL_MS);
    }
    fprintf(stderr, "test_broker: mosquitto did not accept connections on %d\n", b->port);
    test_broker_dump_log(b);
    test_broker_kill(b);
    return false;
}

bool test_broker_start(test_broker *b, const char *extra_conf)
{
    FILE *f = fopen(b->conf_path, "w");
    if (f == NULL) {
        perror("test_broker_start: config");
        return false;
    }
    /* Run as root, Mosquitto drops to the mosquitto user unless told not
     * to; the tests' files (ledger, keys with mode 0600) belong to the user
     * running the tests, so the broker stays that user. */
    if (geteuid() == 0) {
        fputs("user root\n", f);
    }
    fprintf(f,
            "per_listener_settings false\n"
            "listener %d 127.0.0.1\n"
            "log_dest file %s\n"
            "log_type all\n"
            "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n"
            "%s\n",
            b->port, b->log_path, extra_conf != NULL ? extra_conf : "");
    if (fclose(f) != 0) {
        perror("test_broker_start: config");
        return false;
    }
    return test_broker_restart(b);
}

static void signal_and_wait(test_broker *b, int sig, int timeout_ms)
{
    if (b->pid <= 0) {
        return;
    }
    kill(b->pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += TEST_BROKER_POLL_MS) {
        int status;
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            return;
        }
        sleep_ms(TEST_BROKER_POLL_MS);
    }
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
}

void test_broker_stop(test_broker *b)
{
    signal_and_wait(b, SIGTERM, TEST_BROKER_STOP_TIMEOUT_MS);
}

void test_broker_kill(test_broker *b)
{
    signal_and_wait(b, SIGKILL, TEST_BROKER_STOP_TIMEOUT_MS);
}

void test_broker_cleanup(test_broker *b)
{
    test_broker_stop(b);
    if (b->dir[0] == '\0' || getenv("FOGPAY_TEST_KEEP") != NULL) {
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", b->dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        waitpid(pid, NULL, 0);
    }
    b->dir[0] = '\0';
}
