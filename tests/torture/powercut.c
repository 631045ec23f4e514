/*
 * powercut.c - an LD_PRELOAD shim for the broker under torture: it watches
 * the ledger's files (FOGPAY_POWERCUT_DB: the database, its -wal and its
 * -journal) and records in F.plog every write and truncation of a watched
 * file F since F's last fsync (the format in powercut_log.h), so that a
 * power cut can later keep exactly what was synced and any prefix or subset
 * of the rest (power_loss.c).
 *
 * It wraps what SQLite's unix VFS calls: open/open64 (to learn which
 * descriptors are watched), close, write, pwrite/pwrite64,
 * ftruncate/ftruncate64, fsync, fdatasync, unlink. Writes through mmap
 * are not seen; fogpay's SQLite writes only the -shm that way, which a
 * power cut discards. Each wrapped call takes one lock, so the log keeps
 * the order of the writes.
 *
 * A write is logged before it is made. If the log cannot be appended (a
 * full disk), the write fails with that error and is not made, as a disk
 * would refuse it. With FOGPAY_POWERCUT_LIE=1 fsync and fdatasync of a
 * watched file return success and do nothing: the broken durability of the
 * torture's self-test. FOGPAY_POWERCUT_SYNC_DELAY_US makes each sync of a
 * watched file wait that long first, as a slow disk does.
 */
/* The shim defines both the plain and the 64-bit names, which glibc would
 * otherwise map onto each other. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "powercut_log.h"

/* Descriptors below this are tracked; SQLite's stay far under it. */
#define SHIM_FDS_MAX  4096
#define SHIM_PATH_MAX 1024
/* The watched files: the database, -wal, -journal. */
#define SHIM_FILES 3
/* A truncation that would drop more than this is logged without its old
 * bytes and therefore refused (SQLite never shrinks a ledger file so far). */
#define SHIM_TRUNCATE_KEEP_MAX (64u << 20)

typedef struct shim_file {
    char path[SHIM_PATH_MAX];
    char log_path[SHIM_PATH_MAX + sizeof POWERCUT_LOG_SUFFIX];
    int log_fd; /* O_APPEND, opened on first use, kept open */
} shim_file;

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static shim_file shim_files[SHIM_FILES];
static bool shim_on;
static bool shim_lie;
static unsigned shim_sync_delay_us;
static signed char shim_fd_file[SHIM_FDS_MAX]; /* 0: not watched, else index + 1 */

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);

/* dlsym's object pointer into a function pointer, without the cast ISO C
 * does not define (POSIX guarantees the representation). */
#define SHIM_BIND(var, name)                                                                       \
    do {                                                                                           \
        void *sym_ = dlsym(RTLD_NEXT, name);                                                       \
        memcpy(&(var), &sym_, sizeof sym_);                                                        \
    } while (0)

__attribute__((constructor)) static void shim_init(void)
{
    if (real_write) {
        return;
    }
    SHIM_BIND(real_open, "open");
    SHIM_BIND(real_open64, "open64");
    SHIM_BIND(real_close, "close");
    SHIM_BIND(real_write, "write");
    SHIM_BIND(real_pwrite, "pwrite");
    SHIM_BIND(real_pwrite64, "pwrite64");
    SHIM_BIND(real_ftruncate, "ftruncate");
    SHIM_BIND(real_ftruncate64, "ftruncate64");
    SHIM_BIND(real_fsync, "fsync");
    SHIM_BIND(real_fdatasync, "fdatasync");
    SHIM_BIND(real_unlink, "unlink");
    const char *db = getenv(POWERCUT_ENV_DB);
    const char *lie = getenv(POWERCUT_ENV_LIE);
    shim_lie = lie && strcmp(lie, "1") == 0;
    const char *delay = getenv(POWERCUT_ENV_SYNC_DELAY_US);
    shim_sync_delay_us = delay ? (unsigned)strtoul(delay, NULL, 10) % 1000000u : 0;
    if (!db || strlen(db) + sizeof "-journal" > SHIM_PATH_MAX) {
        return;
    }
    static const char *const suffixes[SHIM_FILES] = {"", "-wal", "-journal"};
    for (int i = 0; i < SHIM_FILES; i++) {
        shim_file *f = &shim_files[i];
        int n = snprintf(f->path, sizeof f->path, "%s%s", db, suffixes[i]);
        int m = snprintf(f->log_path, sizeof f->log_path, "%s%s", f->path, POWERCUT_LOG_SUFFIX);
        if (n < 0 || (size_t)n >= sizeof f->path || m < 0 || (size_t)m >= sizeof f->log_path) {
            return;
        }
        f->log_fd = -1;
    }
    shim_on = true;
}

static int shim_file_of_path(const char *path)
{
    if (!shim_on || !path) {
        return -1;
    }
    for (int i = 0; i < SHIM_FILES; i++) {
        if (strcmp(path, shim_files[i].path) == 0) {
            return i;
        }
    }
    return -1;
}

/* The watched file behind fd, or NULL. */
static shim_file *shim_file_of_fd(int fd)
{
    if (fd < 0 || fd >= SHIM_FDS_MAX || shim_fd_file[fd] == 0) {
        return NULL;
    }
    return &shim_files[shim_fd_file[fd] - 1];
}

static void shim_watch(int fd, const char *path)
{
    int i = shim_file_of_path(path);
    if (fd >= 0 && fd < SHIM_FDS_MAX) {
        pthread_mutex_lock(&shim_lock);
        shim_fd_file[fd] = (signed char)(i + 1);
        pthread_mutex_unlock(&shim_lock);
    }
}

static bool shim_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = real_write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = EIO;
            }
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Appends one record: the header, old_len bytes of fd at old_at, then data
 * (len bytes). False with errno set when the log cannot take it. Called
 * with the lock held. */
static bool shim_log(shim_file *f, int fd, const powercut_record *r, uint64_t old_at,
                     const void *data)
{
    if (f->log_fd < 0) {
        f->log_fd = real_open(f->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (f->log_fd < 0) {
            return false;
        }
    }
    size_t total = sizeof *r + r->old_len + r->len;
    uint8_t *buf = malloc(total);
    if (!buf) {
        errno = ENOMEM;
        return false;
    }
    memcpy(buf, r, sizeof *r);
    size_t got = 0;
    while (got < r->old_len) {
        ssize_t n = pread(fd, buf + sizeof *r + got, r->old_len - got, (off_t)(old_at + got));
        if (n <= 0) {
            free(buf);
            errno = n == 0 ? EIO : errno;
            return false;
        }
        got += (size_t)n;
    }
    if (r->len > 0) {
        memcpy(buf + sizeof *r + r->old_len, data, r->len);
    }
    /* A record the disk took only in part is taken back, so that the log
     * stays a sequence of whole records followed by at most one torn one. */
    off_t before = lseek(f->log_fd, 0, SEEK_END);
    bool ok = shim_write_all(f->log_fd, buf, total);
    int saved = errno;
    if (!ok && before >= 0) {
        real_ftruncate(f->log_fd, before);
    }
    free(buf);
    errno = saved;
    return ok;
}

static uint64_t shim_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

typedef ssize_t (*shim_pwrite_fn)(int, const void *, size_t, off_t);

static ssize_t shim_pwrite(shim_pwrite_fn real, int fd, const void *buf, size_t n, off_t off)
{
    shim_file *f = shim_file_of_fd(fd);
    if (!f || n == 0 || n > UINT32_MAX || off < 0) {
        return real(fd, buf, n, off);
    }
    pthread_mutex_lock(&shim_lock);
    powercut_record r = {.magic = POWERCUT_MAGIC,
                         .kind = POWERCUT_WRITE,
                         .offset = (uint64_t)off,
                         .size_before = shim_size(fd),
                         .len = (uint32_t)n};
    if (r.offset < r.size_before) {
        uint64_t left = r.size_before - r.offset;
        r.old_len = (uint32_t)(left < n ? left : n);
    }
    ssize_t w = -1;
    if (shim_log(f, fd, &r, r.offset, buf)) {
        w = real(fd, buf, n, off);
    }
    int saved = errno;
    pthread_mutex_unlock(&shim_lock);
    errno = saved;
    return w;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    shim_init();
    return shim_pwrite(real_pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    shim_init();
    return shim_pwrite(real_pwrite64, fd, buf, n, off);
}

static ssize_t shim_pwrite_via_write(int fd, const void *buf, size_t n, off_t off)
{
    (void)off; /* the descriptor's position is off: write() goes there */
    return real_write(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    shim_init();
    if (!shim_file_of_fd(fd)) {
        return real_write(fd, buf, n);
    }
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0 || (fcntl(fd, F_GETFL) & O_APPEND)) {
        at = (off_t)shim_size(fd);
    }
    return shim_pwrite(shim_pwrite_via_write, fd, buf, n, at);
}

static int shim_ftruncate(int (*real)(int, off_t), int fd, off_t size)
{
    shim_file *f = shim_file_of_fd(fd);
    if (!f || size < 0) {
        return real(fd, size);
    }
    pthread_mutex_lock(&shim_lock);
    powercut_record r = {.magic = POWERCUT_MAGIC,
                         .kind = POWERCUT_TRUNCATE,
                         .offset = (uint64_t)size,
                         .size_before = shim_size(fd)};
    int rc = -1;
    if (r.size_before > r.offset && r.size_before - r.offset > SHIM_TRUNCATE_KEEP_MAX) {
        errno = EFBIG;
    } else {
        r.old_len = r.size_before > r.offset ? (uint32_t)(r.size_before - r.offset) : 0;
        if (shim_log(f, fd, &r, r.offset, NULL)) {
            rc = real(fd, size);
        }
    }
    int saved = errno;
    pthread_mutex_unlock(&shim_lock);
    errno = saved;
    return rc;
}

int ftruncate(int fd, off_t size)
{
    shim_init();
    return shim_ftruncate(real_ftruncate, fd, size);
}

int ftruncate64(int fd, off64_t size)
{
    shim_init();
    return shim_ftruncate(real_ftruncate64, fd, size);
}

/* After a sync of a watched file returned, nothing before it can be lost:
 * the log is emptied. */
static int shim_sync(int (*real)(int), int fd)
{
    shim_file *f = shim_file_of_fd(fd);
    if (!f) {
        return real(fd);
    }
    if (shim_lie) {
        return 0;
    }
    if (shim_sync_delay_us > 0) {
        usleep(shim_sync_delay_us);
    }
    pthread_mutex_lock(&shim_lock);
    int rc = real(fd);
    int saved = errno;
    if (rc == 0 && f->log_fd >= 0 && real_ftruncate(f->log_fd, 0) != 0) {
        rc = -1; /* cannot say it is durable when the log still says it is not */
        saved = errno;
    }
    if (rc == 0 && f->log_fd < 0) {
        real_unlink(f->log_path); /* a log left by an earlier process */
    }
    pthread_mutex_unlock(&shim_lock);
    errno = saved;
    return rc;
}

int fsync(int fd)
{
    shim_init();
    return shim_sync(real_fsync, fd);
}

int fdatasync(int fd)
{
    shim_init();
    return shim_sync(real_fdatasync, fd);
}

/* A deleted file has nothing left to lose (directory changes are taken as
 * durable): its log goes with it. */
int unlink(const char *path)
{
    shim_init();
    int i = shim_file_of_path(path);
    int rc = real_unlink(path);
    if (rc == 0 && i >= 0) {
        int saved = errno;
        pthread_mutex_lock(&shim_lock);
        shim_file *f = &shim_files[i];
        if (f->log_fd >= 0) {
            real_close(f->log_fd);
            f->log_fd = -1;
        }
        real_unlink(f->log_path);
        pthread_mutex_unlock(&shim_lock);
        errno = saved;
    }
    return rc;
}

static int shim_open(int (*real)(const char *, int, ...), const char *path, int flags, mode_t mode)
{
    int fd = real(path, flags, mode);
    if (fd >= 0 && shim_file_of_path(path) >= 0) {
        shim_watch(fd, path);
    }
    return fd;
}

/* The mode argument of open, present only when the flags create a file. */
#define SHIM_MODE_ARG(flags, mode)                                                                 \
    do {                                                                                           \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                                                     \
            va_list ap_;                                                                           \
            va_start(ap_, flags);                                                                  \
            (mode) = (mode_t)va_arg(ap_, int);                                                     \
            va_end(ap_);                                                                           \
        }                                                                                          \
    } while (0)

int open(const char *path, int flags, ...)
{
    shim_init();
    mode_t mode = 0;
    SHIM_MODE_ARG(flags, mode);
    return shim_open(real_open, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    shim_init();
    mode_t mode = 0;
    SHIM_MODE_ARG(flags, mode);
    return shim_open(real_open64, path, flags, mode);
}

int close(int fd)
{
    shim_init();
    if (fd >= 0 && fd < SHIM_FDS_MAX && shim_fd_file[fd] != 0) {
        pthread_mutex_lock(&shim_lock);
        shim_fd_file[fd] = 0;
        pthread_mutex_unlock(&shim_lock);
    }
    return real_close(fd);
}
