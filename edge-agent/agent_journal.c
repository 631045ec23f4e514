/*
 * agent_journal.c - the journal of signed messages and the sequence
 * counter, on disk in the agent's state directory.
 *
 * Files (JOURNAL.md has the format and the crash-consistency argument):
 *   journal       append-only records: head, message, done
 *   journal.tmp   a compaction in progress; removed at open
 *   seq           one record: the highest sequence number reserved
 *   <name>.tmp    a state file being replaced; ignored at open
 *
 * Every write that matters is followed by fsync of the file, and every
 * create or rename by fsync of the directory. The index of pending
 * messages (seq, kind, length, offset, hash) is kept in memory; the message
 * bytes are read back from the file when they are resent.
 *
 * Memory. The index has room for FOGPAY_JOURNAL_ENTRIES_MAX entries from
 * open on, so that journaling never waits on an allocation; the journal is
 * mapped from the kernel's zeroed anonymous pages rather than taken from
 * malloc (whose calloc clears, and so makes resident, all 56 KiB of it at
 * once), so a page of the index costs memory only once a pending message
 * reaches it: a device that keeps a handful pending holds one page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_bytes.h"
#include "agent_journal.h"
#include "fogpay_hash.h"

#define JOURNAL_MAGIC    0x4a504746u /* "FGPJ" little endian */
#define JOURNAL_FILE     "journal"
#define JOURNAL_TMP_FILE "journal.tmp"
#define JOURNAL_SEQ_FILE "seq"

enum journal_record_type {
    JOURNAL_RECORD_HEAD = 1,     /* last seq and hash before this file's messages */
    JOURNAL_RECORD_MESSAGE = 2,  /* seq, kind, signed message */
    JOURNAL_RECORD_DONE = 3,     /* seq answered by a verified receipt */
    JOURNAL_RECORD_SEQ = 4,      /* the seq file's one record */
    JOURNAL_RECORD_UNLINKED = 5, /* seq answered, not on the gateway's chain: the link it held */
};

#define JOURNAL_HEAD_BODY     (1 + 8 + FOGPAY_HASH_BYTES)
#define JOURNAL_DONE_BODY     (1 + 8)
#define JOURNAL_UNLINKED_BODY (1 + 8 + FOGPAY_PREV_HASH_BYTES)
#define JOURNAL_SEQ_BODY      (1 + 8)

struct fogpay_journal {
    char dir[FOGPAY_JOURNAL_DIR_MAX + 1];
    int dir_fd;
    int fd;
    uint64_t size;
    uint64_t reserved_seq; /* highest number handed out */
    uint64_t last_seq;     /* highest number journaled */
    uint8_t last_hash[FOGPAY_HASH_BYTES];
    size_t count;
    fogpay_journal_entry entries[FOGPAY_JOURNAL_ENTRIES_MAX];
};

/* CRC-32 (IEEE 802.3, reflected), bit by bit: records are small, and a
 * table would cost a kilobyte of memory for nothing measurable. */
static uint32_t journal_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* Frames body into out (header + body); returns the record length. */
static size_t journal_frame(const uint8_t *body, size_t len, uint8_t *out)
{
    agent_store_le32(out, JOURNAL_MAGIC);
    agent_store_le32(out + 4, (uint32_t)len);
    agent_store_le32(out + 8, journal_crc32(body, len));
    memcpy(out + FOGPAY_JOURNAL_HEADER_BYTES, body, len);
    return FOGPAY_JOURNAL_HEADER_BYTES + len;
}

static fogpay_error journal_write_all(int fd, const uint8_t *p, size_t len, uint64_t offset)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FOGPAY_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return FOGPAY_OK;
}

/* Reads exactly len bytes at offset; FOGPAY_ERR_NOT_FOUND at a short read. */
static fogpay_error journal_read_all(int fd, uint8_t *p, size_t len, uint64_t offset)
{
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return FOGPAY_ERR_IO;
        }
        if (n == 0) {
            return FOGPAY_ERR_NOT_FOUND;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_journal_file_replace(const fogpay_journal *j, const char *name,
                                         const uint8_t *body, size_t len)
{
    char tmp[64];
    uint8_t record[FOGPAY_JOURNAL_RECORD_MAX];
    if (len > FOGPAY_JOURNAL_BODY_MAX || strlen(name) + 5 > sizeof tmp) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    size_t record_len = journal_frame(body, len, record);
    int fd = openat(j->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return FOGPAY_ERR_IO;
    }
    fogpay_error err = journal_write_all(fd, record, record_len, 0);
    if (err == FOGPAY_OK && fsync(fd) != 0) {
        err = FOGPAY_ERR_IO;
    }
    close(fd);
    if (err == FOGPAY_OK && renameat(j->dir_fd, tmp, j->dir_fd, name) != 0) {
        err = FOGPAY_ERR_IO;
    }
    if (err == FOGPAY_OK && fsync(j->dir_fd) != 0) {
        err = FOGPAY_ERR_IO;
    }
    return err;
}

fogpay_error fogpay_journal_file_load(const fogpay_journal *j, const char *name, uint8_t *body,
                                      size_t cap, size_t *len)
{
    int fd = openat(j->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? FOGPAY_ERR_NOT_FOUND : FOGPAY_ERR_IO;
    }
    uint8_t header[FOGPAY_JOURNAL_HEADER_BYTES];
    fogpay_error err = journal_read_all(fd, header, sizeof header, 0);
    uint32_t body_len = err == FOGPAY_OK ? agent_load_le32(header + 4) : 0;
    if (err == FOGPAY_OK && (agent_load_le32(header) != JOURNAL_MAGIC || body_len > cap)) {
        err = FOGPAY_ERR_STORAGE;
    }
    if (err == FOGPAY_OK) {
        err = journal_read_all(fd, body, body_len, sizeof header);
    }
    close(fd);
    if (err == FOGPAY_ERR_NOT_FOUND ||
        (err == FOGPAY_OK && journal_crc32(body, body_len) != agent_load_le32(header + 8))) {
        err = FOGPAY_ERR_STORAGE;
    }
    if (err == FOGPAY_OK) {
        *len = body_len;
    }
    return err;
}

/* Adds a message found at open or appended now to the index. */
static fogpay_error journal_index_add(fogpay_journal *j, uint64_t seq, uint8_t kind,
                                      const uint8_t *msg, size_t len, uint64_t offset)
{
    if (seq == 0 || (j->count > 0 && seq <= j->entries[j->count - 1].seq) ||
        j->count == FOGPAY_JOURNAL_ENTRIES_MAX) {
        return FOGPAY_ERR_STORAGE;
    }
    fogpay_journal_entry *e = &j->entries[j->count];
    e->seq = seq;
    e->kind = kind;
    e->len = (uint16_t)len;
    e->offset = offset;
    fogpay_error err = fogpay_sha256(msg, len, e->hash);
    if (err != FOGPAY_OK) {
        return err;
    }
    /* A compacted file's head may name a later message than its pending
     * ones (answered out of order); the chain continues from the latest. */
    if (seq > j->last_seq) {
        memcpy(j->last_hash, e->hash, FOGPAY_HASH_BYTES);
        j->last_seq = seq;
    }
    j->count++;
    return FOGPAY_OK;
}

static bool journal_index_remove(fogpay_journal *j, uint64_t seq)
{
    for (size_t i = 0; i < j->count; i++) {
        if (j->entries[i].seq == seq) {
            memmove(&j->entries[i], &j->entries[i + 1], (j->count - i - 1) * sizeof j->entries[0]);
            j->count--;
            return true;
        }
    }
    return false;
}

/* seq left the chain: when it was the last message, the next one links to
 * what seq linked to. */
static void journal_unlink(fogpay_journal *j, uint64_t seq,
                           const uint8_t prev[FOGPAY_PREV_HASH_BYTES])
{
    if (seq == j->last_seq) {
        memset(j->last_hash, 0, sizeof j->last_hash);
        memcpy(j->last_hash, prev, FOGPAY_PREV_HASH_BYTES);
    }
}

/* Applies one checked record body found at offset during open. */
static fogpay_error journal_replay(fogpay_journal *j, const uint8_t *body, size_t len,
                                   uint64_t offset)
{
    if (len < 9) {
        return FOGPAY_ERR_STORAGE;
    }
    uint64_t seq = agent_load_le64(body + 1);
    switch (body[0]) {
    case JOURNAL_RECORD_HEAD:
        if (len != JOURNAL_HEAD_BODY || offset != 0) {
            return FOGPAY_ERR_STORAGE;
        }
        j->last_seq = seq;
        memcpy(j->last_hash, body + 9, FOGPAY_HASH_BYTES);
        return FOGPAY_OK;
    case JOURNAL_RECORD_MESSAGE:
        if (len < 11) {
            return FOGPAY_ERR_STORAGE;
        }
        return journal_index_add(j, seq, body[9], body + 10, len - 10,
                                 offset + FOGPAY_JOURNAL_HEADER_BYTES + 10);
    case JOURNAL_RECORD_DONE:
        return len == JOURNAL_DONE_BODY && journal_index_remove(j, seq) ? FOGPAY_OK
                                                                        : FOGPAY_ERR_STORAGE;
    case JOURNAL_RECORD_UNLINKED:
        if (len != JOURNAL_UNLINKED_BODY || !journal_index_remove(j, seq)) {
            return FOGPAY_ERR_STORAGE;
        }
        journal_unlink(j, seq, body + 9);
        return FOGPAY_OK;
    default:
        return FOGPAY_ERR_STORAGE;
    }
}

/* True when every byte from offset to the end of the file is zero: a
 * filesystem may extend a file before the appended data reaches it. */
static bool journal_rest_is_zero(int fd, uint64_t offset, uint64_t size)
{
    uint8_t buf[256];
    while (offset < size) {
        size_t n = size - offset < sizeof buf ? (size_t)(size - offset) : sizeof buf;
        if (journal_read_all(fd, buf, n, offset) != FOGPAY_OK) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (buf[i] != 0) {
                return false;
            }
        }
        offset += n;
    }
    return true;
}

/* Reads every record; cuts off a torn tail (fsync'd), refuses other damage. */
static fogpay_error journal_scan(fogpay_journal *j, uint64_t size)
{
    uint64_t offset = 0;
    uint8_t header[FOGPAY_JOURNAL_HEADER_BYTES];
    uint8_t body[FOGPAY_JOURNAL_BODY_MAX];
    while (offset < size) {
        bool torn = size - offset < sizeof header;
        uint32_t len = 0;
        if (!torn) {
            if (journal_read_all(j->fd, header, sizeof header, offset) != FOGPAY_OK) {
                return FOGPAY_ERR_IO;
            }
            len = agent_load_le32(header + 4);
            torn = agent_load_le32(header) != JOURNAL_MAGIC || len > FOGPAY_JOURNAL_BODY_MAX ||
                   size - offset - sizeof header < len;
        }
        if (!torn) {
            if (journal_read_all(j->fd, body, len, offset + sizeof header) != FOGPAY_OK) {
                return FOGPAY_ERR_IO;
            }
            torn = journal_crc32(body, len) != agent_load_le32(header + 8);
        }
        if (torn) {
            uint64_t end = offset + sizeof header + len;
            if (end < size && !journal_rest_is_zero(j->fd, end, size)) {
                return FOGPAY_ERR_STORAGE; /* damage before valid data: not a crash tail */
            }
            fprintf(stderr, "fogpay-agent: journal: cutting a torn record at byte %llu\n",
                    (unsigned long long)offset);
            if (ftruncate(j->fd, (off_t)offset) != 0 || fsync(j->fd) != 0) {
                return FOGPAY_ERR_IO;
            }
            break;
        }
        fogpay_error err = journal_replay(j, body, len, offset);
        if (err != FOGPAY_OK) {
            return err;
        }
        offset += sizeof header + len;
    }
    j->size = offset;
    return FOGPAY_OK;
}

static fogpay_error journal_load_seq(fogpay_journal *j)
{
    uint8_t body[JOURNAL_SEQ_BODY];
    size_t len = 0;
    fogpay_error err = fogpay_journal_file_load(j, JOURNAL_SEQ_FILE, body, sizeof body, &len);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        j->reserved_seq = 0;
        return FOGPAY_OK;
    }
    if (err == FOGPAY_OK && (len != JOURNAL_SEQ_BODY || body[0] != JOURNAL_RECORD_SEQ)) {
        err = FOGPAY_ERR_STORAGE;
    }
    if (err == FOGPAY_OK) {
        j->reserved_seq = agent_load_le64(body + 1);
    }
    return err;
}

static fogpay_error journal_open_files(fogpay_journal *j, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return FOGPAY_ERR_IO;
    }
    j->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dir_fd < 0) {
        return FOGPAY_ERR_IO;
    }
    if (unlinkat(j->dir_fd, JOURNAL_TMP_FILE, 0) != 0 && errno != ENOENT) {
        return FOGPAY_ERR_IO;
    }
    bool created = faccessat(j->dir_fd, JOURNAL_FILE, F_OK, 0) != 0;
    j->fd = openat(j->dir_fd, JOURNAL_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        return FOGPAY_ERR_IO;
    }
    if (created && (fsync(j->fd) != 0 || fsync(j->dir_fd) != 0)) {
        return FOGPAY_ERR_IO;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_journal_open(const char *dir, fogpay_journal **out)
{
    if (!dir || !out) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (strlen(dir) > FOGPAY_JOURNAL_DIR_MAX) {
        return FOGPAY_ERR_CONFIG;
    }
    fogpay_journal *j =
        mmap(NULL, sizeof *j, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (j == MAP_FAILED) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    strcpy(j->dir, dir);
    j->dir_fd = -1;
    j->fd = -1;
    fogpay_error err = journal_open_files(j, dir);
    struct stat st;
    if (err == FOGPAY_OK && fstat(j->fd, &st) != 0) {
        err = FOGPAY_ERR_IO;
    }
    if (err == FOGPAY_OK) {
        err = journal_scan(j, (uint64_t)st.st_size);
    }
    if (err == FOGPAY_OK) {
        err = journal_load_seq(j);
    }
    if (err != FOGPAY_OK) {
        fogpay_journal_close(j);
        return err;
    }
    *out = j;
    return FOGPAY_OK;
}

void fogpay_journal_close(fogpay_journal *j)
{
    if (!j) {
        return;
    }
    if (j->fd >= 0) {
        close(j->fd);
    }
    if (j->dir_fd >= 0) {
        close(j->dir_fd);
    }
    munmap(j, sizeof *j);
}

uint64_t fogpay_journal_next_seq(const fogpay_journal *j)
{
    uint64_t top = j->reserved_seq > j->last_seq ? j->reserved_seq : j->last_seq;
    return top + 1;
}

fogpay_error fogpay_journal_reserve(fogpay_journal *j, uint64_t *seq)
{
    if (j->count >= FOGPAY_JOURNAL_ENTRIES_MAX) {
        return FOGPAY_ERR_JOURNAL_FULL;
    }
    uint64_t next = fogpay_journal_next_seq(j);
    uint8_t body[JOURNAL_SEQ_BODY];
    body[0] = JOURNAL_RECORD_SEQ;
    agent_store_le64(body + 1, next);
    fogpay_error err = fogpay_journal_file_replace(j, JOURNAL_SEQ_FILE, body, sizeof body);
    if (err != FOGPAY_OK) {
        return err;
    }
    j->reserved_seq = next;
    *seq = next;
    return FOGPAY_OK;
}

void fogpay_journal_prev_hash(const fogpay_journal *j, uint8_t out[FOGPAY_PREV_HASH_BYTES])
{
    memcpy(out, j->last_hash, FOGPAY_PREV_HASH_BYTES);
}

/* Writes the head and every pending message into journal.tmp, then
 * replaces the journal with it. On failure the old journal stays. */
static fogpay_error journal_compact(fogpay_journal *j)
{
    int fd = openat(j->dir_fd, JOURNAL_TMP_FILE, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return FOGPAY_ERR_IO;
    }
    uint8_t body[FOGPAY_JOURNAL_BODY_MAX];
    uint8_t record[FOGPAY_JOURNAL_RECORD_MAX];
    body[0] = JOURNAL_RECORD_HEAD;
    agent_store_le64(body + 1, j->last_seq);
    memcpy(body + 9, j->last_hash, FOGPAY_HASH_BYTES);
    uint64_t offset = 0;
    size_t n = journal_frame(body, JOURNAL_HEAD_BODY, record);
    fogpay_error err = journal_write_all(fd, record, n, offset);
    offset += n;
    uint64_t new_offsets[FOGPAY_JOURNAL_ENTRIES_MAX];
    for (size_t i = 0; err == FOGPAY_OK && i < j->count; i++) {
        const fogpay_journal_entry *e = &j->entries[i];
        body[0] = JOURNAL_RECORD_MESSAGE;
        agent_store_le64(body + 1, e->seq);
        body[9] = e->kind;
        err = journal_read_all(j->fd, body + 10, e->len, e->offset);
        if (err == FOGPAY_OK) {
            n = journal_frame(body, 10 + (size_t)e->len, record);
            err = journal_write_all(fd, record, n, offset);
            new_offsets[i] = offset + FOGPAY_JOURNAL_HEADER_BYTES + 10;
            offset += n;
        }
    }
    if (err == FOGPAY_OK && fsync(fd) != 0) {
        err = FOGPAY_ERR_IO;
    }
    if (err == FOGPAY_OK && renameat(j->dir_fd, JOURNAL_TMP_FILE, j->dir_fd, JOURNAL_FILE) != 0) {
        err = FOGPAY_ERR_IO;
    }
    if (err == FOGPAY_OK && fsync(j->dir_fd) != 0) {
        err = FOGPAY_ERR_IO;
    }
    if (err != FOGPAY_OK) {
        close(fd);
        unlinkat(j->dir_fd, JOURNAL_TMP_FILE, 0);
        return err;
    }
    close(j->fd);
    j->fd = fd;
    j->size = offset;
    for (size_t i = 0; i < j->count; i++) {
        j->entries[i].offset = new_offsets[i];
    }
    return FOGPAY_OK;
}

/* Appends one framed record and fsyncs. A failed write is cut off again so
 * the file ends on a record boundary. */
static fogpay_error journal_append_record(fogpay_journal *j, const uint8_t *body, size_t len)
{
    uint8_t record[FOGPAY_JOURNAL_RECORD_MAX];
    size_t n = journal_frame(body, len, record);
    fogpay_error err = journal_write_all(j->fd, record, n, j->size);
    if (err == FOGPAY_OK && fdatasync(j->fd) != 0) {
        err = FOGPAY_ERR_IO;
    }
    if (err != FOGPAY_OK) {
        if (ftruncate(j->fd, (off_t)j->size) != 0) {
            fprintf(stderr, "fogpay-agent: journal: cannot cut a failed append\n");
        }
        return err;
    }
    j->size += n;
    return FOGPAY_OK;
}

fogpay_error fogpay_journal_append(fogpay_journal *j, uint64_t seq, uint8_t kind,
                                   const uint8_t *msg, size_t len)
{
    if (!msg || len == 0 || len > FOGPAY_MESSAGE_MAX || seq <= j->last_seq) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (j->count >= FOGPAY_JOURNAL_ENTRIES_MAX) {
        return FOGPAY_ERR_JOURNAL_FULL;
    }
    size_t body_len = 10 + len;
    if (j->size + FOGPAY_JOURNAL_HEADER_BYTES + body_len > FOGPAY_JOURNAL_BYTES_MAX) {
        fogpay_error err = journal_compact(j);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (j->size + FOGPAY_JOURNAL_HEADER_BYTES + body_len > FOGPAY_JOURNAL_BYTES_MAX) {
            return FOGPAY_ERR_JOURNAL_FULL;
        }
    }
    uint8_t body[FOGPAY_JOURNAL_BODY_MAX];
    body[0] = JOURNAL_RECORD_MESSAGE;
    agent_store_le64(body + 1, seq);
    body[9] = kind;
    memcpy(body + 10, msg, len);
    uint64_t offset = j->size + FOGPAY_JOURNAL_HEADER_BYTES + 10;
    fogpay_error err = journal_append_record(j, body, body_len);
    if (err == FOGPAY_OK) {
        err = journal_index_add(j, seq, kind, msg, len, offset);
    }
    return err;
}

/* Marks seq answered; prev, when not NULL, is the link seq held, which the
 * next message takes when the gateway did not put seq on the chain. */
static fogpay_error journal_answer(fogpay_journal *j, uint64_t seq,
                                   const uint8_t prev[FOGPAY_PREV_HASH_BYTES])
{
    if (!fogpay_journal_find(j, seq)) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    uint8_t body[JOURNAL_UNLINKED_BODY];
    size_t len = prev ? JOURNAL_UNLINKED_BODY : JOURNAL_DONE_BODY;
    body[0] = prev ? JOURNAL_RECORD_UNLINKED : JOURNAL_RECORD_DONE;
    agent_store_le64(body + 1, seq);
    if (prev) {
        memcpy(body + 9, prev, FOGPAY_PREV_HASH_BYTES);
    }
    if (j->size + FOGPAY_JOURNAL_HEADER_BYTES + len > FOGPAY_JOURNAL_BYTES_MAX) {
        fogpay_error err = journal_compact(j);
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    fogpay_error err = journal_append_record(j, body, len);
    if (err != FOGPAY_OK) {
        return err;
    }
    journal_index_remove(j, seq);
    if (prev) {
        journal_unlink(j, seq, prev);
    }
    if (j->count == 0 && j->size > FOGPAY_JOURNAL_COMPACT_BYTES) {
        err = journal_compact(j);
        if (err != FOGPAY_OK) {
            /* The done record is durable; a later compaction will retry. */
            fprintf(stderr, "fogpay-agent: journal: compaction failed: %s\n",
                    fogpay_error_name(err));
        }
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_journal_complete(fogpay_journal *j, uint64_t seq)
{
    return journal_answer(j, seq, NULL);
}

fogpay_error fogpay_journal_complete_unlinked(fogpay_journal *j, uint64_t seq,
                                              const uint8_t prev[FOGPAY_PREV_HASH_BYTES])
{
    return prev ? journal_answer(j, seq, prev) : FOGPAY_ERR_INVALID_ARGUMENT;
}

const fogpay_journal_entry *fogpay_journal_find(const fogpay_journal *j, uint64_t seq)
{
    for (size_t i = 0; i < j->count; i++) {
        if (j->entries[i].seq == seq) {
            return &j->entries[i];
        }
    }
    return NULL;
}

size_t fogpay_journal_count(const fogpay_journal *j)
{
    return j->count;
}

const fogpay_journal_entry *fogpay_journal_at(const fogpay_journal *j, size_t i)
{
    return i < j->count ? &j->entries[i] : NULL;
}

fogpay_error fogpay_journal_read(const fogpay_journal *j, const fogpay_journal_entry *e,
                                 uint8_t *buf, size_t cap)
{
    if (e->len > cap) {
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    fogpay_error err = journal_read_all(j->fd, buf, e->len, e->offset);
    return err == FOGPAY_ERR_NOT_FOUND ? FOGPAY_ERR_STORAGE : err;
}

uint64_t fogpay_journal_size(const fogpay_journal *j)
{
    return j->size;
}
