/*
 * torture_world.c - what the torture runs on (torture.h): the gateway's
 * key, ledger and devices provisioned through the ledger API, its broker
 * started with the powercut shim preloaded, the agents as fogpay-agent
 * processes, and with sync a cloud broker, its store and one ingest.
 */
#include "torture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fogpay_password.h"
#include "ledger.h"
#include "power_loss.h"
#include "powercut_log.h"
#include "testutil.h"

#define TORTURE_ARGS_MAX 32

/* dir/name into out (TORTURE_PATH_MAX bytes); the directory is copied
 * first, as out may lie in the same struct. Every path here is far under
 * the limit: a longer one is cut, and the file it names is not found. */
static void world_join(char *out, const char *dir, const char *name)
{
    char copy[TORTURE_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", dir);
    if (snprintf(out, TORTURE_PATH_MAX, "%s/%s", copy, name) >= TORTURE_PATH_MAX) {
        fprintf(stderr, "torture: path too long: %s/%s\n", copy, name);
    }
}

static void world_path(const torture_world *w, const char *name, char *out)
{
    world_join(out, w->broker.dir, name);
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "torture: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    fputs(text, f);
    fclose(f);
    return chmod(path, 0600) == 0;
}

/* A directory for name inside the broker's, on a tmpfs of its own when the
 * mount works (as root). */
static bool world_dir(const torture_world *w, const char *name, const char *size, char *out,
                      bool *mounted)
{
    world_path(w, name, out);
    if (mkdir(out, 0700) != 0) {
        fprintf(stderr, "torture: mkdir %s: %s\n", out, strerror(errno));
        return false;
    }
    *mounted = mount("tmpfs", out, "tmpfs", 0, size) == 0;
    return true;
}

static bool world_key(const char *path, char *text, size_t cap)
{
    fogpay_key *key = NULL;
    bool ok = fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) == FOGPAY_OK &&
              fogpay_key_save(key, path, false) == FOGPAY_OK &&
              (!text || fogpay_key_public_text(key, text, cap) == FOGPAY_OK);
    fogpay_key_free(key);
    return ok;
}

static bool world_device(torture_world *w, fogpay_ledger *l, unsigned i, const char *entity)
{
    torture_device *d = &w->devices[i];
    snprintf(d->id, sizeof d->id, "dev-%u", i);
    char name[64], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX];
    snprintf(name, sizeof name, "%s.key", d->id);
    world_path(w, name, d->key_path);
    snprintf(name, sizeof name, "%s.pass", d->id);
    world_path(w, name, d->password_path);
    snprintf(name, sizeof name, "%s.out", d->id);
    world_path(w, name, d->out_path);
    snprintf(name, sizeof name, "%s.log", d->id);
    world_path(w, name, d->log_path);
    world_join(d->state_dir, w->device_dir, d->id);
    fogpay_key *key = NULL;
    fogpay_device_limits none = {0, 0, 0};
    fogpay_transfer t;
    bool ok =
        fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) == FOGPAY_OK &&
        fogpay_key_save(key, d->key_path, false) == FOGPAY_OK &&
        write_text(d->password_path, d->id) &&
        fogpay_password_hash(d->id, strlen(d->id), 1000, hash, sizeof hash) == FOGPAY_OK &&
        fogpay_ledger_device_register(l, d->id, key, hash, entity, &none, 1000) == FOGPAY_OK &&
        fogpay_ledger_fund(l, d->id, TORTURE_EUR, TORTURE_FUND_MINOR, "initial", 2000, &t) ==
            FOGPAY_OK;
    fogpay_key_free(key);
    if (!ok) {
        fprintf(stderr, "torture: cannot provision %s: %s\n", d->id, fogpay_ledger_last_message(l));
    }
    return ok;
}

/* The ledger with one legal entity and the funded devices. */
static bool world_ledger(torture_world *w)
{
    fogpay_ledger *l = NULL;
    if (fogpay_ledger_open(w->db, true, &l) != FOGPAY_OK) {
        fprintf(stderr, "torture: cannot create the ledger %s\n", w->db);
        return false;
    }
    fogpay_entity_personal p = {"Example Torture Ltd", NULL, NULL};
    char entity[FOGPAY_ENTITY_ID_MAX + 1];
    bool ok = fogpay_ledger_entity_create(l, &p, 1000, entity) == FOGPAY_OK;
    for (unsigned i = 0; ok && i < w->device_count; i++) {
        ok = world_device(w, l, i, entity);
    }
    fogpay_ledger_close(l);
    sync(); /* what the torture wrote itself is on the disk before the shim watches */
    return ok;
}

static int world_cloud_tool(const torture_world *w, const char *out, const char *const *tail)
{
    const char *argv[TORTURE_ARGS_MAX] = {w->cloud_bin, "--store", w->store};
    size_t n = 3;
    for (size_t i = 0; tail[i] && n < TORTURE_ARGS_MAX - 1; i++) {
        argv[n++] = tail[i];
    }
    argv[n] = NULL;
    return testutil_command(argv, out);
}

static bool world_ingest_start(torture_world *w)
{
    char log[TORTURE_PATH_MAX], uri[64];
    world_path(w, "ingest.log", log);
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", w->cloud.port);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(w->ingest_bin, w->ingest_bin, "--broker", uri, "--store", w->store, "--key",
              w->cloud_key_path, "--client-id", "ingest-torture", (char *)NULL);
        _exit(127);
    }
    w->ingest_pid = pid;
    for (uint64_t end = testutil_now_ms() + 15000; testutil_now_ms() < end;) {
        char *text = testutil_read_file(log, NULL);
        bool ready = text && strstr(text, "fogpay-ingest: ready");
        free(text);
        if (ready) {
            return true;
        }
        testutil_sleep_ms(50);
    }
    fprintf(stderr, "torture: fogpay-ingest did not become ready (log %s)\n", log);
    return false;
}

/* The cloud: its key, store (SQLite, in the broker's directory), broker
 * and ingest; the gateway registered with its key. Appends the plugin's
 * sync options and the bridge to conf. */
static bool world_cloud(torture_world *w, char *conf, size_t cap)
{
    char pub[TORTURE_PATH_MAX], store_path[TORTURE_PATH_MAX];
    world_path(w, "cloud.key", w->cloud_key_path);
    world_path(w, "cloud.pub", pub);
    world_path(w, "cloud.db", store_path);
    snprintf(w->store, sizeof w->store, "%s", store_path);
    const char *keygen[] = {w->cloud_bin, "keygen", "--out", w->cloud_key_path, NULL};
    const char *init[] = {"init", NULL};
    const char *add[] = {"add-gateway",       "--id", TORTURE_GATEWAY_ID, "--public-key",
                         w->gateway_key_text, NULL};
    if (testutil_command(keygen, pub) != 0 || world_cloud_tool(w, NULL, init) != 0 ||
        world_cloud_tool(w, NULL, add) != 0) {
        fprintf(stderr, "torture: fogpay-cloud could not set up the store\n");
        return false;
    }
    char *key = testutil_read_file(pub, NULL);
    if (!key) {
        return false;
    }
    key[strcspn(key, "\r\n")] = '\0';
    if (!test_broker_init(&w->cloud) || !test_broker_start(&w->cloud, "allow_anonymous true\n") ||
        !world_ingest_start(w)) {
        free(key);
        return false;
    }
    size_t used = strlen(conf);
    int n = snprintf(conf + used, cap - used,
                     "plugin_opt_cloud_key %s\n"
                     "plugin_opt_sync_batch 50\n"
                     "plugin_opt_sync_interval 50\n"
                     "plugin_opt_sync_timeout 1000\n"
                     "connection cloud\n"
                     "address 127.0.0.1:%d\n"
                     "remote_clientid bridge-torture\n"
                     "cleansession false\n"
                     "restart_timeout 1\n"
                     "topic fogpay/v1/gw/%s/batch out 1\n"
                     "topic fogpay/v1/gw/%s/ack in 1\n",
                     key, w->cloud.port, TORTURE_GATEWAY_ID, TORTURE_GATEWAY_ID);
    free(key);
    return n > 0 && (size_t)n < cap - used;
}

/* The broker's start and restart, with the shim preloaded for it alone. */
static bool world_broker(torture_world *w, const char *conf)
{
    setenv("LD_PRELOAD", w->shim, 1);
    setenv(POWERCUT_ENV_DB, w->db, 1);
    setenv(POWERCUT_ENV_LIE, w->self_test ? "1" : "0", 1);
    setenv(POWERCUT_ENV_SYNC_DELAY_US, TORTURE_SYNC_DELAY_US, 1);
    bool ok = conf ? test_broker_start(&w->broker, conf) : test_broker_restart(&w->broker);
    unsetenv("LD_PRELOAD");
    return ok;
}

bool torture_world_start(torture_world *w)
{
    if (!test_broker_init(&w->broker)) {
        return false;
    }
    if (!world_dir(w, "gateway-fs", TORTURE_GATEWAY_FS_SIZE, w->gateway_dir, &w->gateway_fs) ||
        !world_dir(w, "device-fs", TORTURE_DEVICE_FS_SIZE, w->device_dir, &w->device_fs)) {
        return false;
    }
    world_join(w->db, w->gateway_dir, "ledger.db");
    char operators[TORTURE_PATH_MAX], hash[FOGPAY_PASSWORD_HASH_TEXT_MAX], line[256];
    world_path(w, "gateway.key", w->gateway_key_path);
    world_path(w, "operators", operators);
    if (!world_key(w->gateway_key_path, w->gateway_key_text, sizeof w->gateway_key_text) ||
        fogpay_password_hash("ops-pass", 8, 1000, hash, sizeof hash) != FOGPAY_OK) {
        return false;
    }
    snprintf(line, sizeof line, "ops:%s\n", hash);
    if (!write_text(operators, line) || !world_ledger(w)) {
        return false;
    }
    char conf[TEST_BROKER_CONF_MAX];
    if (!test_broker_gateway_conf(conf, sizeof conf, TORTURE_GATEWAY_ID, w->db, w->gateway_key_path,
                                  operators)) {
        fprintf(stderr, "torture: FOGPAY_PLUGIN names no plugin\n");
        return false;
    }
    strncat(conf, "set_tcp_nodelay true\n", sizeof conf - strlen(conf) - 1);
    if (w->sync && !world_cloud(w, conf, sizeof conf)) {
        return false;
    }
    return world_broker(w, conf);
}

/* A copy of the tmpfs at dir as dir-kept, before it is unmounted. */
static void world_keep(const char *dir)
{
    char kept[TORTURE_PATH_MAX + 8];
    snprintf(kept, sizeof kept, "%s-kept", dir);
    const char *argv[] = {"/bin/cp", "-a", dir, kept, NULL};
    if (testutil_command(argv, NULL) != 0) {
        fprintf(stderr, "torture: cannot keep a copy of %s\n", dir);
    }
}

void torture_world_stop(torture_world *w, bool keep)
{
    for (unsigned i = 0; i < w->device_count; i++) {
        torture_agent_kill(w, i);
    }
    test_broker_stop(&w->broker);
    if (w->ingest_pid > 0) {
        kill(w->ingest_pid, SIGTERM);
        waitpid(w->ingest_pid, NULL, 0);
        w->ingest_pid = 0;
    }
    if (w->sync) {
        test_broker_cleanup(&w->cloud);
    }
    if (w->gateway_fs) {
        if (keep) {
            world_keep(w->gateway_dir);
        }
        umount(w->gateway_dir);
    }
    if (w->device_fs) {
        if (keep) {
            world_keep(w->device_dir);
        }
        umount(w->device_dir);
    }
    if (keep) {
        printf("torture: the gateway's and devices' files are kept in %s\n", w->broker.dir);
    } else {
        test_broker_cleanup(&w->broker);
    }
}

bool torture_broker_restart(torture_world *w)
{
    return world_broker(w, NULL);
}

void torture_broker_kill(torture_world *w)
{
    test_broker_kill(&w->broker);
}

/* Starts device i's agent with the subcommand words in tail. */
static bool world_agent(torture_world *w, unsigned i, const char *const *tail)
{
    torture_device *d = &w->devices[i];
    char port[16], timeout[16];
    snprintf(port, sizeof port, "%d", w->broker.port);
    snprintf(timeout, sizeof timeout, "%d", TORTURE_AGENT_TIMEOUT_MS);
    const char *argv[TORTURE_ARGS_MAX] = {
        w->agent_bin, "--dir",           d->state_dir,        "--key",     d->key_path, "--device",
        d->id,        "--gateway-key",   w->gateway_key_text, "-h",        "127.0.0.1", "-p",
        port,         "--password-file", d->password_path,    "--timeout", timeout};
    size_t n = 17;
    for (size_t k = 0; tail[k] && n < TORTURE_ARGS_MAX - 1; k++) {
        argv[n++] = tail[k];
    }
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return false;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(d->out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int log = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execv(w->agent_bin, (char *const *)argv);
        _exit(127);
    }
    d->pid = pid;
    return true;
}

bool torture_agent_pay(torture_world *w, unsigned i, unsigned payee, uint64_t amount_minor)
{
    char amount[32], count[16];
    snprintf(amount, sizeof amount, "%llu.%02llu", (unsigned long long)(amount_minor / 100),
             (unsigned long long)(amount_minor % 100));
    snprintf(count, sizeof count, "%d", TORTURE_PAYMENTS_PER_PROCESS);
    const char *tail[] = {
        "pay", "--to", w->devices[payee].id, "--amount", amount, "--currency", "EUR", "--count",
        count, NULL};
    return world_agent(w, i, tail);
}

bool torture_agent_drain(torture_world *w, unsigned i)
{
    const char *tail[] = {"run", "--drain", NULL};
    return world_agent(w, i, tail);
}

bool torture_agent_kill(torture_world *w, unsigned i)
{
    torture_device *d = &w->devices[i];
    if (d->pid <= 0) {
        return false;
    }
    bool alive = kill(d->pid, SIGKILL) == 0;
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
    return alive;
}

bool torture_agent_reap(torture_world *w, unsigned i)
{
    torture_device *d = &w->devices[i];
    if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == d->pid) {
        d->pid = 0;
    }
    return d->pid == 0;
}

/* The tmpfs at dir shrunk to what it holds (tmpfs refuses a size under
 * its use, so the use is read again and the shrink retried while files
 * grow), the last blocks taken by dir/filler. */
bool torture_fill(const char *dir)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        struct statvfs st;
        if (statvfs(dir, &st) != 0) {
            return false;
        }
        unsigned long long used = (unsigned long long)(st.f_blocks - st.f_bfree) * st.f_frsize;
        char size[64];
        snprintf(size, sizeof size, "size=%llu", used + (attempt + 1) * 65536ull);
        if (mount("tmpfs", dir, "tmpfs", MS_REMOUNT, size) == 0) {
            break;
        }
    }
    char path[TORTURE_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return errno == ENOSPC;
    }
    static const uint8_t block[4096];
    while (write(fd, block, sizeof block) > 0) {
    }
    bool full = errno == ENOSPC;
    close(fd);
    return full;
}

void torture_unfill(const char *dir, const char *size)
{
    char path[TORTURE_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/filler", dir);
    unlink(path);
    if (mount("tmpfs", dir, "tmpfs", MS_REMOUNT, size) != 0) {
        fprintf(stderr, "torture: cannot grow the tmpfs at %s again: %s\n", dir, strerror(errno));
    }
}
