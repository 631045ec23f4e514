/*
 * agent_journal.h - the edge agent's journal: the device's store and
 * forward on disk, and its persistent sequence counter.
 *
 * Design (the whole argument is in JOURNAL.md). Every signed message the
 * device sends is appended to STATEDIR/journal as a framed record (length
 * and CRC-32) and fsync'd before the first send; it stays pending until a
 * verified receipt answers it, which appends a "done" record. The sequence
 * counter lives in STATEDIR/seq, replaced atomically (write, fsync, rename,
 * fsync the directory) to reserve a number before anything is signed with
 * it, so no number is ever used twice, even across a power cut between
 * signing and sending. When nothing is pending and the file has grown, or
 * when a new record would not fit, the journal is compacted into a new file
 * that replaces the old one by rename.
 *
 * Bounds: at most FOGPAY_JOURNAL_ENTRIES_MAX pending messages and
 * FOGPAY_JOURNAL_BYTES_MAX bytes of file; a full journal refuses new
 * messages with FOGPAY_ERR_JOURNAL_FULL and never drops an old one.
 *
 * Ownership: fogpay_journal_open() returns a journal the caller frees with
 * fogpay_journal_close(). It holds two file descriptors (directory and
 * journal) and an index of the pending messages in memory; the message
 * bytes stay on disk and are read back with fogpay_journal_read(). One
 * thread, one process at a time per directory.
 */
#ifndef FOGPAY_AGENT_JOURNAL_H
#define FOGPAY_AGENT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fogpay_error.h"
#include "fogpay_limits.h"

/* Pending messages at most: at one payment a second this is a quarter of an
 * hour offline; a device that is offline longer should stop paying rather
 * than pile up intents that may expire (their ttl is at most a day). */
#define FOGPAY_JOURNAL_ENTRIES_MAX 1024

/* A record: magic, body length, CRC-32 of the body (each 4 bytes, little
 * endian), then the body. */
#define FOGPAY_JOURNAL_HEADER_BYTES 12
/* A message body: type, seq (8), kind, then the signed message. */
#define FOGPAY_JOURNAL_BODY_MAX   (1 + 8 + 1 + FOGPAY_MESSAGE_MAX)
#define FOGPAY_JOURNAL_RECORD_MAX (FOGPAY_JOURNAL_HEADER_BYTES + FOGPAY_JOURNAL_BODY_MAX)

/* The journal file's size limit. A compacted journal holds one head record
 * and the pending messages, so it always fits below this with room for new
 * records (the static assertion below). */
#define FOGPAY_JOURNAL_BYTES_MAX (1024u * 1024u)

/* With nothing pending, a journal larger than this is compacted to its head
 * record, so a healthy device's file stays small. */
#define FOGPAY_JOURNAL_COMPACT_BYTES (64u * 1024u)

/* Longest state directory path; file names inside are short. */
#define FOGPAY_JOURNAL_DIR_MAX 400

static_assert(FOGPAY_JOURNAL_RECORD_MAX * (FOGPAY_JOURNAL_ENTRIES_MAX + 2) <
                  FOGPAY_JOURNAL_BYTES_MAX,
              "a compacted journal of full entries leaves room for a new record");
static_assert(FOGPAY_JOURNAL_COMPACT_BYTES < FOGPAY_JOURNAL_BYTES_MAX,
              "compaction starts below the limit");

/* One pending message, as the index in memory holds it. */
typedef struct fogpay_journal_entry {
    uint64_t seq;
    uint8_t kind;                    /* fogpay_receipt_kind: intent or usage */
    uint16_t len;                    /* bytes of the signed message */
    uint64_t offset;                 /* of the message bytes in the journal file */
    uint8_t hash[FOGPAY_HASH_BYTES]; /* SHA-256 of the signed message */
} fogpay_journal_entry;

typedef struct fogpay_journal fogpay_journal;

/* Opens (creating the directory, mode 0700, and files when absent) the
 * journal in dir. A torn last record, the trace of a crash during an
 * append, is cut off; any other damage is FOGPAY_ERR_STORAGE, because
 * cutting it off could lose a message that was sent. Errors also:
 * FOGPAY_ERR_IO, FOGPAY_ERR_NO_MEMORY, FOGPAY_ERR_CONFIG (dir too long).
 * *out is the caller's to close. */
fogpay_error fogpay_journal_open(const char *dir, fogpay_journal **out);
void fogpay_journal_close(fogpay_journal *j);

/* Reserves the next sequence number durably and returns it in *seq: the
 * seq file is replaced (fsync'd) before this returns, so a number handed
 * out is never handed out again. FOGPAY_ERR_JOURNAL_FULL when no new
 * message could be journaled. */
fogpay_error fogpay_journal_reserve(fogpay_journal *j, uint64_t *seq);

/* The previous-message link for the next message: the first
 * FOGPAY_PREV_HASH_BYTES of the SHA-256 of the last journaled message,
 * zeros when there was none. */
void fogpay_journal_prev_hash(const fogpay_journal *j, uint8_t out[FOGPAY_PREV_HASH_BYTES]);

/* Appends a signed message under a reserved seq (greater than any
 * journaled before) and fsyncs it. FOGPAY_ERR_JOURNAL_FULL,
 * FOGPAY_ERR_INVALID_ARGUMENT, FOGPAY_ERR_IO. */
fogpay_error fogpay_journal_append(fogpay_journal *j, uint64_t seq, uint8_t kind,
                                   const uint8_t *msg, size_t len);

/* Marks seq answered: appends a done record (fsync'd) and drops it from
 * the index. FOGPAY_ERR_NOT_FOUND when seq is not pending. */
fogpay_error fogpay_journal_complete(fogpay_journal *j, uint64_t seq);
/* The same for a message the gateway refused without putting it on the
 * device's chain (fogpay_error_is_off_chain): when seq is the last message
 * journaled, the next one links to prev, the link seq held, as the
 * gateway's chain still ends there. */
fogpay_error fogpay_journal_complete_unlinked(fogpay_journal *j, uint64_t seq,
                                              const uint8_t prev[FOGPAY_PREV_HASH_BYTES]);

/* The pending entry for seq, or NULL. The pointer is valid until the next
 * call that changes the journal. */
const fogpay_journal_entry *fogpay_journal_find(const fogpay_journal *j, uint64_t seq);

/* Pending entries in seq order: count, and the i-th (i < count). */
size_t fogpay_journal_count(const fogpay_journal *j);
const fogpay_journal_entry *fogpay_journal_at(const fogpay_journal *j, size_t i);

/* Reads an entry's message bytes into buf (at least e->len bytes). */
fogpay_error fogpay_journal_read(const fogpay_journal *j, const fogpay_journal_entry *e,
                                 uint8_t *buf, size_t cap);

/* The number the next fogpay_journal_reserve() will return. */
uint64_t fogpay_journal_next_seq(const fogpay_journal *j);

/* Bytes in the journal file now. */
uint64_t fogpay_journal_size(const fogpay_journal *j);

/* Small state files beside the journal, framed like its records: replaced
 * atomically (write name.tmp, fsync, rename, fsync the directory), read
 * back with their checksum checked. Load returns FOGPAY_ERR_NOT_FOUND when
 * the file does not exist, FOGPAY_ERR_STORAGE when it does not check. */
fogpay_error fogpay_journal_file_replace(const fogpay_journal *j, const char *name,
                                         const uint8_t *body, size_t len);
fogpay_error fogpay_journal_file_load(const fogpay_journal *j, const char *name, uint8_t *body,
                                      size_t cap, size_t *len);

#endif
