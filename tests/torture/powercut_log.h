/*
 * powercut_log.h - the record of writes a file has not made durable yet,
 * shared by the LD_PRELOAD shim that writes it (powercut.c) and the power
 * cut that reads it (power_loss.c).
 *
 * For each watched file F the shim keeps F.plog: one record for every
 * write and truncation of F since F's last successful fsync or fdatasync,
 * in the order they were made. A record carries the bytes it replaced, so
 * the file as of its last fsync can be rebuilt by undoing the records
 * newest first, and the bytes it wrote, so any prefix or subset of them can
 * be laid on top again. The shim empties F.plog once an fsync of F
 * returned. The log outlives the process that wrote it: a broker killed and
 * started again appends to it, as the page cache still holds what the dead
 * process wrote and a power cut can still lose it.
 *
 * A record is a powercut_record header, then old_len bytes that were at
 * offset before (for a truncation: at new size), then, for a write, len
 * bytes written. A short last record (the process killed while it was
 * appended) is ignored: the shim appends the record before the write it
 * describes.
 */
#ifndef FOGPAY_POWERCUT_LOG_H
#define FOGPAY_POWERCUT_LOG_H

#include <stdint.h>

#define POWERCUT_MAGIC 0x50434c47u /* "GLCP" */

/* The unit a disk writes whole: a write may reach the disk torn at these
 * boundaries (of the file's offsets). */
#define POWERCUT_SECTOR 512u

/* Environment of the shim: the database whose files are watched (F is the
 * path, F-wal and F-journal); when set to 1, fsync and fdatasync that
 * return success without syncing or emptying the log (the self-test's
 * broken durability). */
#define POWERCUT_ENV_DB  "FOGPAY_POWERCUT_DB"
#define POWERCUT_ENV_LIE "FOGPAY_POWERCUT_LIE"

/* Microseconds each fsync of a watched file waits before it syncs: a slow
 * disk, whose window between a write and its sync a power cut can hit. */
#define POWERCUT_ENV_SYNC_DELAY_US "FOGPAY_POWERCUT_SYNC_DELAY_US"

/* The suffix of a watched file's log. */
#define POWERCUT_LOG_SUFFIX ".plog"

enum powercut_kind {
    POWERCUT_WRITE = 1,
    POWERCUT_TRUNCATE = 2,
};

typedef struct powercut_record {
    uint32_t magic;
    uint32_t kind;        /* powercut_kind */
    uint64_t offset;      /* a write: where; a truncation: the new size */
    uint64_t size_before; /* the file's size before this record */
    uint32_t len;         /* bytes written (0 for a truncation) */
    uint32_t old_len;     /* bytes of old content kept */
} powercut_record;

#endif
