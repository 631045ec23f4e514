/*
 * bench_host.c - the machine's side of the benchmark (see bench_host.h).
 */
#include "bench_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fogpay_key.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t bench_process_cpu_us(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* Fields after the command name, which is in parentheses: state is
     * field 3, utime 14, stime 15. */
    const char *p = strrchr(line, ')');
    if (!p) {
        return 0;
    }
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2) {
        return 0;
    }
    long hz = sysconf(_SC_CLK_TCK);
    return (utime + stime) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100);
}

uint64_t bench_self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* Adds N of each "Key: N kB" line of a /proc file whose key is one of
 * keys[] to values[] of the same index. False when the file cannot be
 * opened. */
static bool proc_kib(const char *path, const char *const *keys, size_t nkeys, uint64_t *values)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < nkeys; i++) {
            size_t n = strlen(keys[i]);
            if (strncmp(line, keys[i], n) == 0 && line[n] == ':') {
                values[i] += strtoull(line + n + 1, NULL, 10);
            }
        }
    }
    fclose(f);
    return true;
}

bool bench_process_memory(pid_t pid, bench_memory *out)
{
    static const char *const rollup[] = {"Rss", "Pss", "Private_Clean", "Private_Dirty"};
    static const char *const status[] = {"VmHWM"};
    uint64_t v[4] = {0}, hwm = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    bool ok = proc_kib(path, rollup, 4, v);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    ok = ok && proc_kib(path, status, 1, &hwm);
    if (!ok || v[0] == 0) {
        return false; /* gone, or a zombie: no mappings */
    }
    out->rss_kib = v[0];
    out->pss_kib = v[1];
    out->private_kib = v[2] + v[3];
    out->private_dirty_kib = v[3];
    out->hwm_kib = hwm;
    return true;
}

/* The entry of out named name, added when new (the last one takes what
 * does not fit). */
static bench_mapping *mapping_named(bench_mappings *out, const char *name)
{
    for (size_t i = 0; i < out->count; i++) {
        if (strcmp(out->by_name[i].name, name) == 0) {
            return &out->by_name[i];
        }
    }
    if (out->count == BENCH_MAPPINGS_MAX) {
        bench_mapping *last = &out->by_name[BENCH_MAPPINGS_MAX - 1];
        snprintf(last->name, sizeof last->name, "other");
        return last;
    }
    bench_mapping *m = &out->by_name[out->count++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->private_kib = 0;
    m->rss_kib = 0;
    return m;
}

/* The name a mapping of /proc/PID/smaps is counted under: after is the
 * text after its inode (a path, [heap], or nothing); prev_file the base
 * name of the file mapping that ends where this one starts, or "". */
static void mapping_name(const char *after, const char *prev_file, char *out, size_t cap)
{
    while (*after == ' ') {
        after++;
    }
    const char *base = after;
    for (const char *p = after; *p && *p != '\n'; p++) {
        if (*p == '/') {
            base = p + 1;
        }
    }
    int len = (int)strcspn(base, "\n");
    if (len > 0) {
        snprintf(out, cap, "%.*s", len < (int)cap - 1 ? len : (int)cap - 1, base);
    } else if (prev_file[0]) {
        snprintf(out, cap, "%.*s bss", (int)cap - 5, prev_file);
    } else {
        snprintf(out, cap, "anonymous");
    }
}

static int mapping_cmp(const void *a, const void *b)
{
    const bench_mapping *x = a, *y = b;
    return x->private_kib < y->private_kib ? 1 : x->private_kib > y->private_kib ? -1 : 0;
}

bool bench_process_mappings(pid_t pid, bench_mappings *out)
{
    char path[64], line[1024], prev_file[BENCH_MAPPING_NAME_MAX] = "";
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    out->count = 0;
    bench_mapping *current = NULL;
    unsigned long prev_end = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end;
        int after = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s%n", &start, &end, &after) == 2 && after > 0) {
            char name[BENCH_MAPPING_NAME_MAX];
            mapping_name(line + after, start == prev_end ? prev_file : "", name, sizeof name);
            current = mapping_named(out, name);
            bool is_file = strchr(line + after, '/') != NULL;
            snprintf(prev_file, sizeof prev_file, "%s", is_file ? name : "");
            prev_end = end;
            continue;
        }
        unsigned long long kib;
        if (current && (sscanf(line, "Private_Clean: %llu kB", &kib) == 1 ||
                        sscanf(line, "Private_Dirty: %llu kB", &kib) == 1)) {
            current->private_kib += kib;
        } else if (current && sscanf(line, "Rss: %llu kB", &kib) == 1) {
            current->rss_kib += kib;
        }
    }
    fclose(f);
    qsort(out->by_name, out->count, sizeof out->by_name[0], mapping_cmp);
    return true;
}

void bench_cores_read(bench_cores *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen("/proc/stat", "r");
    if (!f) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f) && out->count < BENCH_CORES_MAX) {
        int cpu;
        unsigned long long v[8] = {0};
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) < 5) {
            continue;
        }
        uint64_t total = 0;
        for (int i = 0; i < 8; i++) {
            total += v[i];
        }
        out->busy[out->count] = total - v[3] - v[4]; /* idle and iowait */
        out->total[out->count] = total;
        out->count++;
    }
    fclose(f);
}

double bench_core_share(const bench_cores *before, const bench_cores *after, int i)
{
    uint64_t total = after->total[i] - before->total[i];
    return total ? (double)(after->busy[i] - before->busy[i]) / (double)total : 0;
}

double bench_fsync_rate(const char *dir, double seconds)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fsync-bench.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench: fsync database: %s\n", db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return 0;
    }
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES (randomblob(100))", -1, &s, NULL);
    double start = bench_now(), now = start;
    uint64_t n = 0;
    while (now - start < seconds) {
        if (sqlite3_step(s) != SQLITE_DONE) {
            break;
        }
        sqlite3_reset(s);
        n++;
        now = bench_now();
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    unlink(path);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return now > start ? (double)n / (now - start) : 0;
}

void bench_ed25519_rates(size_t msg_len, double seconds, double *sign_per_s, double *verify_per_s)
{
    *sign_per_s = *verify_per_s = 0;
    fogpay_key *key = NULL;
    if (fogpay_key_generate(FOGPAY_ALG_EDDSA, &key) != FOGPAY_OK) {
        return;
    }
    uint8_t msg[1024] = {0}, sig[FOGPAY_SIGNATURE_BYTES];
    if (msg_len > sizeof msg) {
        msg_len = sizeof msg;
    }
    uint64_t n = 0;
    double start = bench_now(), now = start;
    while (now - start < seconds) {
        msg[0] = (uint8_t)n;
        fogpay_key_sign(key, msg, msg_len, sig);
        n++;
        now = bench_now();
    }
    *sign_per_s = (double)n / (now - start);
    n = 0;
    start = now = bench_now();
    while (now - start < seconds) {
        if (fogpay_key_verify(key, msg, msg_len, sig, sizeof sig) != FOGPAY_OK) {
            fprintf(stderr, "bench: a good Ed25519 signature did not verify\n");
            break;
        }
        n++;
        now = bench_now();
    }
    *verify_per_s = (double)n / (now - start);
    fogpay_key_free(key);
}

/* The value of "key<spaces>:" or "key:" in a /proc text file, trimmed. */
static void proc_field(const char *path, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    char line[512];
    size_t key_len = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, key_len) == 0) {
            const char *v = strchr(line, ':');
            if (v) {
                v++;
                while (*v == ' ' || *v == '\t') {
                    v++;
                }
                snprintf(out, cap, "%s", v);
                out[strcspn(out, "\n\"\\")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

void bench_machine_json(char *out, size_t cap)
{
    char model[256], mem[64], date[32];
    proc_field("/proc/cpuinfo", "model name", model, sizeof model);
    proc_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    struct utsname u;
    uname(&u);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(out, cap,
             "\"nproc\": %ld, \"cpu_model\": \"%s\", \"memory\": \"%s\", "
             "\"kernel\": \"%s %s %s\", \"date\": \"%s\"",
             sysconf(_SC_NPROCESSORS_ONLN), model, mem, u.sysname, u.release, u.machine, date);
}

FILE *bench_results_open(const char *dir, const char *prefix, char *path, size_t path_cap)
{
    char stamp[32], machine[1024];
    bench_machine_json(machine, sizeof machine);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    mkdir(dir, 0755);
    snprintf(path, path_cap, "%s/%s-%s.json", dir, prefix, stamp);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    fprintf(out, "{\n  \"machine\": {%s},\n", machine);
    return out;
}

uint64_t bench_listen_overflows(void)
{
    /* Two "TcpExt:" lines: the names, then the values in the same order. */
    FILE *f = fopen("/proc/net/netstat", "r");
    char names[4096], values[4096];
    uint64_t found = 0;
    while (f && fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
        if (strncmp(names, "TcpExt:", 7) != 0) {
            continue;
        }
        char *name_save = NULL, *value_save = NULL;
        char *name = strtok_r(names, " \n", &name_save);
        char *value = strtok_r(values, " \n", &value_save);
        while (name && value && strcmp(name, "ListenOverflows") != 0) {
            name = strtok_r(NULL, " \n", &name_save);
            value = strtok_r(NULL, " \n", &value_save);
        }
        if (name && value) {
            found = strtoull(value, NULL, 10);
        }
        break;
    }
    if (f) {
        fclose(f);
    }
    return found;
}
