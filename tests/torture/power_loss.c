/*
 * power_loss.c - a power cut from the powercut shim's logs (power_loss.h).
 *
 * For each watched file: read its log (records in write order), undo them
 * newest first (old bytes back, the size before), which leaves the file as
 * of its last fsync; then lay on again either the first k records and a
 * torn part of record k (a prefix: the disk wrote in order and stopped), or
 * each record with even odds, each of those whole or torn (a subset: the
 * disk reordered its cache). A torn write keeps a random choice of its
 * sectors, cut at the file's 512-byte boundaries.
 */
#include "power_loss.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powercut_log.h"

/* Room for a watched file's path and its log's. */
#define POWER_LOSS_PATH_MAX 1100

typedef struct pl_record {
    powercut_record head;
    const uint8_t *old;  /* head.old_len bytes, inside the log buffer */
    const uint8_t *data; /* head.len bytes */
} pl_record;

typedef struct pl_log {
    uint8_t *bytes; /* the whole log, owned */
    pl_record *records;
    size_t count;
} pl_log;

static void pl_log_free(pl_log *log)
{
    free(log->bytes);
    free(log->records);
    memset(log, 0, sizeof *log);
}

/* Reads path into log; a missing log is an empty one. A short last record
 * is dropped (see powercut_log.h). */
static bool pl_log_read(const char *path, pl_log *log)
{
    memset(log, 0, sizeof *log);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return errno == ENOENT;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return false;
    }
    size_t size = (size_t)st.st_size;
    log->bytes = malloc(size + 1);
    bool ok = log->bytes && fread(log->bytes, 1, size, f) == size;
    fclose(f);
    size_t cap = 0;
    for (size_t at = 0; ok && at + sizeof(powercut_record) <= size;) {
        pl_record r;
        memcpy(&r.head, log->bytes + at, sizeof r.head);
        size_t body = (size_t)r.head.old_len + r.head.len;
        if (r.head.magic != POWERCUT_MAGIC) {
            fprintf(stderr, "power loss: %s: no record at byte %zu\n", path, at);
            ok = false;
            break;
        }
        if (at + sizeof r.head + body > size) {
            break; /* the torn last record */
        }
        r.old = log->bytes + at + sizeof r.head;
        r.data = r.old + r.head.old_len;
        if (log->count == cap) {
            cap = cap ? cap * 2 : 64;
            pl_record *grown = realloc(log->records, cap * sizeof *grown);
            if (!grown) {
                ok = false;
                break;
            }
            log->records = grown;
        }
        log->records[log->count++] = r;
        at += sizeof r.head + body;
    }
    if (!ok) {
        pl_log_free(log);
    }
    return ok;
}

static bool pl_pwrite(int fd, const uint8_t *p, size_t n, uint64_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return true;
}

static bool pl_undo(int fd, const pl_record *r)
{
    if (r->head.kind == POWERCUT_TRUNCATE) {
        return ftruncate(fd, (off_t)r->head.size_before) == 0 &&
               pl_pwrite(fd, r->old, r->head.old_len, r->head.offset);
    }
    return pl_pwrite(fd, r->old, r->head.old_len, r->head.offset) &&
           ftruncate(fd, (off_t)r->head.size_before) == 0;
}

/* Lays record r on again: whole, or (torn) only some of its sectors; a
 * prefix cut stops after the first sector it leaves out. */
static bool pl_redo(int fd, const pl_record *r, bool torn, bool prefix, torture_random *rng)
{
    if (r->head.kind == POWERCUT_TRUNCATE) {
        return ftruncate(fd, (off_t)r->head.offset) == 0;
    }
    uint64_t start = r->head.offset, end = start + r->head.len;
    for (uint64_t at = start; at < end;) {
        uint64_t next = (at / POWERCUT_SECTOR + 1) * POWERCUT_SECTOR;
        if (next > end) {
            next = end;
        }
        bool keep = !torn || torture_random_chance(rng, 50);
        if (!keep && prefix) {
            break;
        }
        if (keep && !pl_pwrite(fd, r->data + (at - start), (size_t)(next - at), at)) {
            return false;
        }
        at = next;
    }
    return true;
}

static bool pl_cut_file(const char *path, const char *log_path, power_loss_mode mode,
                        torture_random *rng, power_loss_stats *stats)
{
    pl_log log;
    if (!pl_log_read(log_path, &log)) {
        fprintf(stderr, "power loss: cannot read %s\n", log_path);
        return false;
    }
    if (log.count == 0) {
        pl_log_free(&log);
        return true;
    }
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        /* The file went and its log stayed: nothing to put back. */
        pl_log_free(&log);
        return errno == ENOENT;
    }
    bool ok = true;
    for (size_t i = log.count; ok && i-- > 0;) {
        ok = pl_undo(fd, &log.records[i]);
    }
    stats->unsynced += log.count;
    bool prefix = torture_random_chance(rng, 50);
    size_t cut = (size_t)torture_random_below(rng, log.count + 1);
    for (size_t i = 0; ok && mode == POWER_LOSS_RANDOM && i < log.count; i++) {
        bool keep, torn;
        if (prefix) {
            keep = i <= cut;
            torn = i == cut;
        } else {
            keep = torture_random_chance(rng, 50);
            torn = keep && torture_random_chance(rng, 30);
        }
        if (keep) {
            ok = pl_redo(fd, &log.records[i], torn, prefix, rng);
            stats->kept++;
            stats->torn += torn;
        }
        if (prefix && i >= cut) {
            break;
        }
    }
    ok = fsync(fd) == 0 && ok;
    close(fd);
    if (!ok) {
        fprintf(stderr, "power loss: cannot rewrite %s: %s\n", path, strerror(errno));
    }
    pl_log_free(&log);
    return ok;
}

static const char *const pl_suffixes[] = {"", "-wal", "-journal"};
#define PL_FILES (sizeof pl_suffixes / sizeof pl_suffixes[0])

bool power_loss_cut(const char *db, power_loss_mode mode, torture_random *rng,
                    power_loss_stats *stats)
{
    bool ok = true;
    char path[POWER_LOSS_PATH_MAX], log_path[POWER_LOSS_PATH_MAX + 8];
    for (size_t i = 0; i < PL_FILES; i++) {
        snprintf(path, sizeof path, "%s%s", db, pl_suffixes[i]);
        snprintf(log_path, sizeof log_path, "%s%s", path, POWERCUT_LOG_SUFFIX);
        ok = pl_cut_file(path, log_path, mode, rng, stats) && ok;
    }
    for (size_t i = 0; i < PL_FILES; i++) {
        snprintf(log_path, sizeof log_path, "%s%s%s", db, pl_suffixes[i], POWERCUT_LOG_SUFFIX);
        unlink(log_path);
    }
    snprintf(path, sizeof path, "%s-shm", db);
    unlink(path);
    return ok;
}

bool power_loss_pending(const char *db)
{
    char log_path[POWER_LOSS_PATH_MAX + 8];
    for (size_t i = 0; i < PL_FILES; i++) {
        struct stat st;
        snprintf(log_path, sizeof log_path, "%s%s%s", db, pl_suffixes[i], POWERCUT_LOG_SUFFIX);
        if (stat(log_path, &st) == 0 && st.st_size > 0) {
            return true;
        }
    }
    return false;
}
