/*
 * ledger_internal.h - what the ledger's files share and nothing else sees:
 * the struct behind fogpay_ledger, the table of prepared statements, the
 * helpers that bind, step and convert SQLite codes, and the internal calls
 * one noun makes into another.
 *
 * Files. ledger.c opens and closes the database, prepares every statement,
 * converts SQLite codes and runs transactions; ledger_registry.c holds legal
 * entities, devices, keys and ownership; ledger_account.c accounts,
 * balances and appending to the chain; ledger_settle.c settlement, funding
 * and refunds; ledger_message.c device messages, usage readings and the
 * rejection log; ledger_query.c reading transfers; ledger_event.c the
 * event chain; ledger_note.c bearer notes' register and movement chain;
 * ledger_fee.c fee schedules and transfers of several legs;
 * ledger_plan.c and ledger_schedule.c financing plans, ledger_collect.c
 * their collections and arrears, ledger_plan_statement.c their statements
 * and early settlement; ledger_sync.c the upstream sync state;
 * ledger_gauge.c the figures the gateway's metrics publish; ledger_verify.c
 * verification; ledger_hot.c the hot state of settlement in memory;
 * ledger_checkpoint.c the WAL checkpoints on a thread of their own;
 * ledger_statement.c an entity account's statement over a period;
 * ledger_payout.c payouts to an entity's bank account and their list;
 * ledger_personal.c personal data: erasure and an access request's reads.
 *
 * Statements. Each file keeps its SQL in a table of {id, text}; ledger.c
 * prepares all of them once at open with SQLITE_PREPARE_PERSISTENT. A
 * statement is used as bind, step, check, then ledger__finish() (reset and
 * clear bindings) on every path, so text bound without copying never
 * outlives the call that bound it.
 */
#ifndef FOGPAY_LEDGER_INTERNAL_H
#define FOGPAY_LEDGER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <sqlite3.h>

#include "fogpay_note.h"
#include "fogpay_sqlite.h"
#include "ledger.h"

/* How long a call waits for another connection's write lock (fogpayctl
 * working offline on the same file) before it gives up with
 * FOGPAY_ERR_STORAGE_BUSY. Long enough for another process's single
 * transaction to commit, short enough that the broker thread calling the
 * ledger is never stalled for long. */
#define LEDGER_BUSY_TIMEOUT_MS 2000

/* The last SQLite message kept for fogpay_ledger_last_message(). SQLite's
 * messages are one sentence naming a table or constraint; the opener's name
 * the file's path too (FOGPAY_LEDGER_WHY_MAX); longer ones are cut. */
#define LEDGER_MESSAGE_MAX FOGPAY_LEDGER_WHY_MAX

/* Savepoints the caller may nest with fogpay_ledger_savepoint(). The plugin
 * needs one (a settlement inside a group commit); the bound turns a missing
 * release into an error instead of unbounded growth. */
#define LEDGER_SAVEPOINT_DEPTH_MAX 8

/* Attempts at a fresh random entity id. 64 random bits make even one
 * collision unlikely before billions of entities; a few attempts make a
 * failure a sign of a broken random source, reported as FOGPAY_ERR_STORAGE. */
#define LEDGER_ENTITY_ID_ATTEMPTS 4

/* The writer's page cache. A settlement touches the last pages of the
 * transfers table and of its indexes, one leaf of each per-device index
 * (device and sequence, debit, credit, messages, the day totals) for each of
 * the devices paying, and the accounts: for a few thousand active devices
 * that is a few thousand pages of 4 KiB, which SQLite's 2 MiB default
 * cannot hold (it re-read 25 pages an intent). 64 MiB holds them with room
 * for the reads of a sync or a list. */
#define LEDGER_CACHE_KIB 65536

/* WAL checkpoints (ledger_checkpoint.c): the WAL's length in frames (a
 * page each, 4 KiB) past which the checkpoint thread copies it into the
 * database (32 MiB: the pages settlements rewrite over and over, a
 * device's leaves, are copied once a pass, so a longer pass copies fewer
 * pages an intent), the length at which the writer restarts it itself
 * (the bound, 128 MiB), and the size the WAL file is cut back to when it
 * restarts past it. */
#define LEDGER_WAL_CHECKPOINT_FRAMES 8192
#define LEDGER_WAL_HARD_FRAMES       32768
#define LEDGER_WAL_LIMIT_BYTES       (16 * 1024 * 1024)

/* Milliseconds in a UTC day: the per-day limit counts from midnight UTC. */
#define LEDGER_DAY_MS 86400000ull

/* Largest value an INTEGER column holds: every uint64_t stored is checked
 * against it. */
#define LEDGER_INT_MAX ((uint64_t)INT64_MAX)

/* Retired keys of one device still valid at a time: a rotation ends the
 * earlier window, so one; more is a ledger written by something else. */
#define LEDGER_KEYS_ENDED_MAX 4
/* Fee schedules the hot state holds (ledger_fee.c), each about 200 bytes:
 * one for each of ten thousand devices and several changes of each fit;
 * beyond it a new schedule is refused (FOGPAY_ERR_FIELD_RANGE). */
#define LEDGER_FEE_SCHEDULES_MAX 65536
/* Bounds of the hot state (ledger_hot.c): currencies kept a device,
 * meters kept a device (a charger's or a vehicle's one or two; another
 * takes the oldest slot),
 * devices kept before the state is emptied at a transaction's start, undo
 * records a transaction before a rollback in it empties the state instead,
 * and savepoint marks (the caller's and the ledger's own). */
#define LEDGER_HOT_WALLETS     4
#define LEDGER_HOT_METERS      2
#define LEDGER_HOT_DEVICES_MAX 100000
#define LEDGER_HOT_JOURNAL_MAX 16384
#define LEDGER_HOT_MARKS_MAX   (LEDGER_SAVEPOINT_DEPTH_MAX + 8)
/* Holds accounts whose ids the hot state remembers: one a currency, and
 * a gateway settles at most FOGPAY_CURRENCIES_MAX (8) of them. */
#define LEDGER_HOT_HOLD_ACCOUNTS 8

typedef enum ledger_stmt_id {
    /* ledger.c: transactions and savepoints */
    LEDGER_STMT_BEGIN,
    LEDGER_STMT_BEGIN_READ,
    LEDGER_STMT_COMMIT,
    LEDGER_STMT_ROLLBACK,
    LEDGER_STMT_SAVEPOINT,
    LEDGER_STMT_RELEASE,
    LEDGER_STMT_ROLLBACK_TO,
    LEDGER_STMT_OP_SAVEPOINT,
    LEDGER_STMT_OP_RELEASE,
    LEDGER_STMT_OP_ROLLBACK_TO,
    LEDGER_STMT_DATA_VERSION,
    /* ledger_registry.c */
    LEDGER_STMT_ENTITY_INSERT,
    LEDGER_STMT_ENTITY_PERSONAL_INSERT,
    LEDGER_STMT_ENTITY_EXISTS,
    LEDGER_STMT_DEVICE_INSERT,
    LEDGER_STMT_DEVICE_GET,
    LEDGER_STMT_DEVICE_SET_STATUS,
    LEDGER_STMT_DEVICE_SET_LIMITS,
    LEDGER_STMT_DEVICE_NEXT_COMMAND_SEQ,
    LEDGER_STMT_KEY_INSERT,
    LEDGER_STMT_KEY_RETIRE,
    LEDGER_STMT_KEY_END,
    LEDGER_STMT_KEY_RETIRED_GET,
    LEDGER_STMT_DEVICE_IDS,
    LEDGER_STMT_OWNERSHIP_INSERT,
    LEDGER_STMT_OWNERSHIP_LATEST,
    LEDGER_STMT_OWNERSHIP_AT,
    LEDGER_STMT_OWNERSHIP_NEXT,
    LEDGER_STMT_ENTITY_LOGIN_INSERT,
    LEDGER_STMT_ENTITY_LOGIN_GET,
    LEDGER_STMT_ENTITY_LOGIN_DELETE,
    LEDGER_STMT_ENTITY_HELD_DEVICES,
    /* ledger_account.c */
    LEDGER_STMT_ACCOUNT_GET,
    LEDGER_STMT_ACCOUNT_FIND_WALLET,
    LEDGER_STMT_ACCOUNT_FIND_ENTITY,
    LEDGER_STMT_ACCOUNT_FIND_SYSTEM,
    LEDGER_STMT_ACCOUNT_FIND_HOLDS,
    LEDGER_STMT_ACCOUNT_FIND_NOTES,
    LEDGER_STMT_ACCOUNT_INSERT,
    LEDGER_STMT_ACCOUNT_ADD,
    LEDGER_STMT_TRANSFER_INSERT,
    LEDGER_STMT_LEG_INSERT,
    LEDGER_STMT_LEGS_GET,
    /* ledger_settle.c */
    LEDGER_STMT_DAY_TOTAL_GET,
    LEDGER_STMT_DAY_TOTAL_ADD,
    LEDGER_STMT_REFUNDED_SUM,
    /* ledger_message.c */
    LEDGER_STMT_MESSAGE_LOOKUP,
    LEDGER_STMT_MESSAGE_BEFORE,
    LEDGER_STMT_MESSAGE_FROM,
    LEDGER_STMT_MESSAGE_HEAD,
    LEDGER_STMT_MESSAGE_LAST_SEQ,
    LEDGER_STMT_MESSAGE_INSERT,
    LEDGER_STMT_USAGE_INSERT,
    LEDGER_STMT_REJECTION_INSERT,
    LEDGER_STMT_REJECTION_TRIM,
    /* ledger_query.c */
    LEDGER_STMT_CHAIN_HEAD,
    LEDGER_STMT_TRANSFER_GET,
    LEDGER_STMT_LIST_ALL,
    LEDGER_STMT_LIST_DEVICE,
    LEDGER_STMT_LIST_ENTITY,
    /* ledger_event.c */
    LEDGER_STMT_EVENT_HEAD,
    LEDGER_STMT_EVENT_INSERT,
    LEDGER_STMT_EVENT_GET,
    LEDGER_STMT_EVENT_LIST,
    /* ledger_fee.c */
    LEDGER_STMT_FEE_SCHEDULE_INSERT,
    LEDGER_STMT_FEE_LEG_INSERT,
    LEDGER_STMT_FEE_SCHEDULES_ALL,
    /* ledger_sync.c */
    LEDGER_STMT_SYNC_GET,
    LEDGER_STMT_SYNC_SET,
    /* ledger_gateway_key.c */
    LEDGER_STMT_GATEWAY_KEY_INSERT,
    LEDGER_STMT_GATEWAY_KEY_END,
    LEDGER_STMT_GATEWAY_KEY_GET,
    LEDGER_STMT_GATEWAY_KEY_ACTIVE,
    /* ledger_tariff.c */
    LEDGER_STMT_TARIFF_INSERT,
    LEDGER_STMT_TARIFF_LATEST,
    LEDGER_STMT_TARIFF_AT,
    LEDGER_STMT_BINDING_INSERT,
    LEDGER_STMT_BINDING_LATEST,
    LEDGER_STMT_BINDING_STATE_SET,
    /* ledger_hold.c */
    LEDGER_STMT_HOLD_INSERT,
    LEDGER_STMT_HOLD_RESOLVE,
    LEDGER_STMT_HOLD_GET,
    LEDGER_STMT_HOLD_CHARGED,
    LEDGER_STMT_HOLD_LAST_CHARGE,
    LEDGER_STMT_HOLD_OPEN,
    LEDGER_STMT_HOLD_LIST,
    /* ledger_plan.c */
    LEDGER_STMT_PLAN_INSERT,
    LEDGER_STMT_PLAN_LATEST,
    LEDGER_STMT_PLAN_AT,
    LEDGER_STMT_PLAN_LIST,
    LEDGER_STMT_PLAN_PAID,
    LEDGER_STMT_PLAN_USAGE,
    LEDGER_STMT_PLAN_PAYEE_INSERT,
    LEDGER_STMT_PLAN_PAYEES,
    /* ledger_collect.c */
    LEDGER_STMT_PLAN_OPEN_PAGE,
    LEDGER_STMT_ARREARS_OPEN,
    LEDGER_STMT_ARREARS_OF_DEVICE,
    LEDGER_STMT_ARREARS_INSERT,
    LEDGER_STMT_ARREARS_CLEAR,
    LEDGER_STMT_ARREARS_HAND_OVER,
    LEDGER_STMT_ARREARS_LIST,
    LEDGER_STMT_ARREARS_LIMITED,
    /* ledger_plan_statement.c */
    LEDGER_STMT_PLAN_PAID_BY,
    LEDGER_STMT_OWNERSHIP_HELD,
    /* ledger_verify.c */
    LEDGER_STMT_VERIFY_WALK,
    LEDGER_STMT_VERIFY_EVENTS,
    LEDGER_STMT_VERIFY_BALANCES,
    LEDGER_STMT_VERIFY_SUMS,
    LEDGER_STMT_VERIFY_FLOORS,
    LEDGER_STMT_VERIFY_HOLDS,
    LEDGER_STMT_VERIFY_NOTE_MOVEMENTS,
    LEDGER_STMT_VERIFY_NOTES,
    /* ledger_note.c */
    LEDGER_STMT_NOTE_GET,
    LEDGER_STMT_NOTE_INSERT,
    LEDGER_STMT_NOTE_STOCK,
    LEDGER_STMT_NOTE_PICK,
    LEDGER_STMT_NOTE_HAND_OUT,
    LEDGER_STMT_NOTE_HELD_SUM,
    LEDGER_STMT_NOTE_BYTES,
    LEDGER_STMT_NOTE_HELD,
    LEDGER_STMT_NOTE_ENTRY,
    LEDGER_STMT_NOTE_HISTORY,
    LEDGER_STMT_NOTE_LINK,
    LEDGER_STMT_NOTE_WITHDRAWN,
    LEDGER_STMT_NOTE_PASS_ON,
    LEDGER_STMT_NOTE_RETURNABLE,
    LEDGER_STMT_NOTE_RETURN,
    LEDGER_STMT_NOTE_BACK,
    LEDGER_STMT_NOTE_MOVEMENT_HEAD,
    LEDGER_STMT_NOTE_MOVEMENT_INSERT,
    LEDGER_STMT_NOTE_MOVEMENT_GET,
    /* ledger_gauge.c */
    LEDGER_STMT_GAUGE_HOLDS_OPEN,
    LEDGER_STMT_GAUGE_DEVICES,
    /* ledger_statement.c */
    LEDGER_STMT_STATEMENT_BALANCE_AT,
    LEDGER_STMT_STATEMENT_COUNT,
    LEDGER_STMT_STATEMENT_ENTRIES,
    /* ledger_payout.c */
    LEDGER_STMT_PERSONAL_GET,
    LEDGER_STMT_PAYOUT_COUNT,
    LEDGER_STMT_PAYOUT_LIST,
    /* ledger_personal.c */
    LEDGER_STMT_PERSONAL_DELETE,
    LEDGER_STMT_ENTITY_ACCOUNTS,
    LEDGER_STMT_ENTITY_HOLDINGS,
    LEDGER_STMT_COUNT
} ledger_stmt_id;

typedef struct ledger_stmt_sql {
    ledger_stmt_id id;
    const char *sql;
} ledger_stmt_sql;

/* The SQL of each file, prepared by ledger.c. */
extern const ledger_stmt_sql ledger_core__sql[];
extern const size_t ledger_core__sql_count;
extern const ledger_stmt_sql ledger_registry__sql[];
extern const size_t ledger_registry__sql_count;
extern const ledger_stmt_sql ledger_entity_login__sql[];
extern const size_t ledger_entity_login__sql_count;
extern const ledger_stmt_sql ledger_account__sql[];
extern const size_t ledger_account__sql_count;
extern const ledger_stmt_sql ledger_settle__sql[];
extern const size_t ledger_settle__sql_count;
extern const ledger_stmt_sql ledger_message__sql[];
extern const size_t ledger_message__sql_count;
extern const ledger_stmt_sql ledger_query__sql[];
extern const size_t ledger_query__sql_count;
extern const ledger_stmt_sql ledger_event__sql[];
extern const size_t ledger_event__sql_count;
extern const ledger_stmt_sql ledger_fee__sql[];
extern const size_t ledger_fee__sql_count;
extern const ledger_stmt_sql ledger_gauge__sql[];
extern const size_t ledger_gauge__sql_count;
extern const ledger_stmt_sql ledger_sync__sql[];
extern const size_t ledger_sync__sql_count;
extern const ledger_stmt_sql ledger_gateway_key__sql[];
extern const size_t ledger_gateway_key__sql_count;
extern const ledger_stmt_sql ledger_tariff__sql[];
extern const size_t ledger_tariff__sql_count;
extern const ledger_stmt_sql ledger_hold__sql[];
extern const size_t ledger_hold__sql_count;
extern const ledger_stmt_sql ledger_plan__sql[];
extern const size_t ledger_plan__sql_count;
extern const ledger_stmt_sql ledger_collect__sql[];
extern const size_t ledger_collect__sql_count;
extern const ledger_stmt_sql ledger_plan_statement__sql[];
extern const size_t ledger_plan_statement__sql_count;
extern const ledger_stmt_sql ledger_note__sql[];
extern const size_t ledger_note__sql_count;
extern const ledger_stmt_sql ledger_verify__sql[];
extern const size_t ledger_verify__sql_count;
extern const ledger_stmt_sql ledger_statement__sql[];
extern const size_t ledger_statement__sql_count;
extern const ledger_stmt_sql ledger_payout__sql[];
extern const size_t ledger_payout__sql_count;
extern const ledger_stmt_sql ledger_personal__sql[];
extern const size_t ledger_personal__sql_count;

/* schemas/ledger.sql and schemas/ledger_migrate_N.sql, NUL-terminated,
 * generated at build time by schemas/embed_sql.py. */
extern const char ledger_schema_sql[];
extern const char ledger_migrate_1_sql[];
extern const char ledger_migrate_2_sql[];
extern const char ledger_migrate_3_sql[];
extern const char ledger_migrate_4_sql[];
extern const char ledger_migrate_5_sql[];
extern const char ledger_migrate_6_sql[];

/* The hot state (ledger_hot.c). A wallet of a device in one currency:
 * account 0 when the device has none; paid_minor is what the device paid
 * in the currency on day (UINT64_MAX: not loaded). */
typedef struct ledger_hot_wallet {
    uint16_t currency; /* 0: an unused slot */
    uint64_t account;
    int64_t balance;
    uint64_t day;
    uint64_t paid_minor;
} ledger_hot_wallet;

/* A meter of a device as settlement needs it: its binding and state
 * (binding_id 0: not bound), and the tariff version applying on
 * [tariff.effective_ms, tariff_until_ms) once known. */
typedef struct ledger_hot_meter {
    char meter_id[FOGPAY_METER_ID_MAX + 1]; /* "": an unused slot */
    fogpay_meter meter;
    bool tariff_known;
    fogpay_tariff tariff;
    uint64_t tariff_until_ms;
} ledger_hot_meter;

/* A device as settlement needs it. Stale (loaded false) entries reload on
 * use; holder is the entity ("" nobody) that holds the device on
 * [holder_from_ms, holder_until_ms); last_message_seq the highest seq in
 * messages. */
typedef struct ledger_hot_device {
    bool loaded;
    fogpay_device device;
    bool holder_known;
    char holder[FOGPAY_ENTITY_ID_MAX + 1];
    uint64_t holder_from_ms;
    uint64_t holder_until_ms;
    bool seq_known;
    uint64_t last_message_seq;
    bool arrears_known;
    bool arrears;         /* a plan of the device is in arrears (plan_arrears open) */
    uint32_t next_wallet; /* the slot the next currency takes */
    ledger_hot_wallet wallets[LEDGER_HOT_WALLETS];
    uint32_t next_meter; /* the slot the next meter takes */
    ledger_hot_meter meters[LEDGER_HOT_METERS];
} ledger_hot_device;

/* The transfer chain's head, with the transfer there once appended here. */
typedef struct ledger_hot_head {
    bool known;
    uint64_t position;
    uint8_t hash[FOGPAY_HASH_BYTES];
    bool transfer_known;
    fogpay_transfer transfer;
} ledger_hot_head;

/* The open holds (ledger_hold.c), in position order (holds are made in
 * chain order, so appending keeps it): entries[0..count) from one
 * allocation of FOGPAY_HOLDS_OPEN_MAX, loaded on first use. A resolved
 * hold stays in place with its new state until the state is compacted at
 * a commit, so that the journal's indexes stay valid; open counts the
 * open ones. earliest_expiry_ms is at most the earliest expiry of an open
 * hold (UINT64_MAX: none), so the tick scans only when one may be due. */
typedef struct ledger_hot_holds {
    bool loaded;
    fogpay_hold *entries;
    size_t count;
    size_t open;
    uint64_t earliest_expiry_ms;
    size_t account_count;
    uint16_t account_currency[LEDGER_HOT_HOLD_ACCOUNTS];
    uint64_t account_id[LEDGER_HOT_HOLD_ACCOUNTS];
} ledger_hot_holds;

/* A hold entry as it was, with the table's counts: undoing restores the
 * entry at index and the counts (an appended hold leaves with them). */
typedef struct ledger_hot_hold_before {
    size_t index;
    size_t count;
    size_t open;
    fogpay_hold hold;
} ledger_hot_hold_before;

/* An undo record: an entry as it was before a change (device NULL and
 * hold false: the head). */
typedef struct ledger_hot_record {
    ledger_hot_device *device;
    bool hold;
    union {
        ledger_hot_device device;
        ledger_hot_head head;
        ledger_hot_hold_before hold;
    } before;
} ledger_hot_record;

typedef struct ledger_hot {
    ledger_hot_device **slots; /* open addressing by device id; cap a power of 2 */
    size_t cap;
    size_t count;
    ledger_hot_device **by_account; /* a wallet's account id to its device */
    size_t account_cap;
    ledger_hot_head head;
    ledger_hot_holds holds;
    ledger_hot_record *journal;
    size_t journal_len;
    size_t journal_cap;
    bool journal_overflow;
    size_t marks[LEDGER_HOT_MARKS_MAX];
    uint32_t mark_depth;
    int64_t data_version;
    bool version_known;
    /* Every fee schedule, loaded on first use (ledger_fee.c); forgotten
     * with the rest, and on a rollback after one was written. */
    bool fees_known;
    bool fees_uncommitted;
    fogpay_fee_schedule *fees;
    size_t fee_count;
    size_t fee_cap;
} ledger_hot;

typedef struct ledger_checkpointer ledger_checkpointer;

struct fogpay_ledger {
    sqlite3 *db;
    sqlite3_stmt *stmt[LEDGER_STMT_COUNT];
    /* The first failed bind since the last ledger__step (SQLITE_OK if none). */
    int bind_rc;
    /* Savepoints opened by the caller and not yet released. */
    uint32_t savepoint_depth;
    ledger_hot hot;
    ledger_checkpointer *checkpointer; /* NULL: none runs */
    char message[LEDGER_MESSAGE_MAX];
};

/* The columns of a transfer in the order ledger__transfer_read() reads
 * them, for every SELECT that returns transfers. */
#define LEDGER_TRANSFER_COLUMNS                                                                    \
    "position, kind, debit_account, credit_account, amount_minor, currency, time_ms, device_id, "  \
    "seq, payer_entity, payee_entity, intent_hash, reference, related_position, hash, record, "    \
    "meter_id, tariff_id, plan_id, instalment"
#define LEDGER_TRANSFER_COLUMN_COUNT  20
#define LEDGER_TRANSFER_COLUMN_RECORD 15

/* The columns of an event in the order ledger__event_read() reads them. */
#define LEDGER_EVENT_COLUMNS "position, kind, time_ms, device_id, record, hash"

/* ledger.c: statements, binding, stepping, errors. */

/* The prepared statement id (never NULL once the ledger is open). */
sqlite3_stmt *ledger__stmt(fogpay_ledger *l, ledger_stmt_id id);

/* Binders: the first failure sticks in l->bind_rc and is returned by the
 * next ledger__step(); later binds do nothing. Text and blobs are bound
 * without copying, so they must stay alive until ledger__finish(). */
void ledger__bind_int64(fogpay_ledger *l, sqlite3_stmt *s, int index, int64_t value);
void ledger__bind_u64(fogpay_ledger *l, sqlite3_stmt *s, int index, uint64_t value);
void ledger__bind_text(fogpay_ledger *l, sqlite3_stmt *s, int index, const char *text);
/* Binds NULL for NULL or an empty string: optional text is stored as NULL. */
void ledger__bind_text_or_null(fogpay_ledger *l, sqlite3_stmt *s, int index, const char *text);
void ledger__bind_blob(fogpay_ledger *l, sqlite3_stmt *s, int index, const void *data, size_t len);
void ledger__bind_null(fogpay_ledger *l, sqlite3_stmt *s, int index);

/* Steps s, or returns the stuck bind error without stepping; clears it. */
int ledger__step(fogpay_ledger *l, sqlite3_stmt *s);

/* Resets s and clears its bindings; every use of a statement ends here. */
void ledger__finish(sqlite3_stmt *s);

/* Converts a SQLite result code to a fogpay_error and keeps the database's
 * message for fogpay_ledger_last_message(). Busy and locked become
 * FOGPAY_ERR_STORAGE_BUSY, a unique or primary-key violation
 * FOGPAY_ERR_EXISTS, a foreign key naming nothing FOGPAY_ERR_NOT_FOUND,
 * everything else FOGPAY_ERR_STORAGE. */
fogpay_error ledger__error(fogpay_ledger *l, int rc);

/* Steps a statement that returns no row, finishes it, and converts a
 * failure. */
fogpay_error ledger__exec(fogpay_ledger *l, sqlite3_stmt *s);

/* After the one row of an INSERT or UPDATE ... RETURNING has been read:
 * steps it to completion (so its change is whole before the reset) and
 * converts a failure. Does not finish s. */
fogpay_error ledger__complete(fogpay_ledger *l, sqlite3_stmt *s);

/* Steps s (bound by the caller), reads the one row's first column, a
 * count or sum never negative (FOGPAY_ERR_LEDGER_CORRUPT otherwise), and
 * finishes s. No row is a failure of the statement. */
fogpay_error ledger__scalar(fogpay_ledger *l, sqlite3_stmt *s, uint64_t *out);

/* Keeps a sentence of the ledger's own for fogpay_ledger_last_message(). */
void ledger__note(fogpay_ledger *l, const char *sentence);

/* An operation that writes: its own transaction when none is open (so a
 * registry call or funding is durable on its own), otherwise a savepoint
 * inside the caller's transaction (so a refusal leaves the caller's other
 * work intact). ledger__op_end() commits or releases on FOGPAY_OK and rolls
 * back otherwise; it returns err, or the commit's failure. */
typedef struct ledger_op {
    bool own_transaction;
} ledger_op;
fogpay_error ledger__op_begin(fogpay_ledger *l, ledger_op *op);
fogpay_error ledger__op_end(fogpay_ledger *l, ledger_op *op, fogpay_error err);

/* A consistent read over several statements: a read transaction when none
 * is open (in WAL mode it never blocks the writer), otherwise nothing. */
fogpay_error ledger__read_begin(fogpay_ledger *l, bool *own);
void ledger__read_end(fogpay_ledger *l, bool own);

/* Copies a text column into out (capacity cap, NUL-terminated); NULL reads
 * as "". False if it does not fit: stored data over its limit. */
bool ledger__column_text(sqlite3_stmt *s, int column, char *out, size_t cap);

/* Checks text is present and 1..max bytes long (FOGPAY_ERR_INVALID_ARGUMENT
 * for NULL, FOGPAY_ERR_FIELD_RANGE for empty or too long). */
fogpay_error ledger__check_text(const char *text, size_t max);

/* ledger_registry.c */

/* What settlement needs of a device. */
typedef struct ledger_device_state {
    uint8_t status;
    fogpay_device_limits limits;
} ledger_device_state;

/* FOGPAY_ERR_NOT_FOUND for an unknown device. From the hot state. */
fogpay_error ledger__device_state(fogpay_ledger *l, const char *device_id,
                                  ledger_device_state *out);

/* The database's answers behind the hot state: the device with its active
 * key (FOGPAY_ERR_NOT_FOUND), and the entity ("" nobody) holding it at
 * time_ms with the span [*from_ms, *until_ms) over which that answer holds. */
fogpay_error ledger__device_read_db(fogpay_ledger *l, const char *device_id, fogpay_device *out);
fogpay_error ledger__holder_read_db(fogpay_ledger *l, const char *device_id, uint64_t time_ms,
                                    char entity_out[FOGPAY_ENTITY_ID_MAX + 1], uint64_t *from_ms,
                                    uint64_t *until_ms);

/* Checks a device id: 1..FOGPAY_DEVICE_ID_MAX bytes of letters, digits and
 * '.', '_', ':', '-' (FOGPAY_ERR_FIELD_RANGE, FOGPAY_ERR_TEXT_INVALID). */
fogpay_error ledger__check_device_id(const char *device_id);

/* Checks an id of the contract's alphabet (fogpay_id_valid): a tariff's,
 * plan's, meter's or entity's, 1..max bytes (FOGPAY_ERR_FIELD_RANGE,
 * FOGPAY_ERR_TEXT_INVALID). */
fogpay_error ledger__check_id(const char *id, size_t max);

/* FOGPAY_OK when the entity exists, FOGPAY_ERR_NOT_FOUND otherwise. */
fogpay_error ledger__entity_exists(fogpay_ledger *l, const char *entity_id);

/* ledger_account.c */

typedef enum ledger_account_kind {
    LEDGER_ACCOUNT_WALLET = 0,
    LEDGER_ACCOUNT_ENTITY = 1,
    LEDGER_ACCOUNT_SYSTEM = 2,
    LEDGER_ACCOUNT_HOLDS = 3, /* one a currency: the held amounts of its open holds */
    LEDGER_ACCOUNT_NOTES = 4, /* one a currency: the bearer notes devices hold */
} ledger_account_kind;

typedef struct ledger_account {
    uint64_t id;
    ledger_account_kind kind;
    char device_id[FOGPAY_DEVICE_ID_MAX + 1]; /* wallets */
    char entity_id[FOGPAY_ENTITY_ID_MAX + 1]; /* entity accounts */
    uint16_t currency;
    int64_t balance;
} ledger_account;

/* Reads account id; FOGPAY_ERR_NOT_FOUND if there is none. */
fogpay_error ledger__account_get(fogpay_ledger *l, uint64_t id, ledger_account *out);

/* Finds an account without creating it; FOGPAY_ERR_NOT_FOUND if absent.
 * owner is the device id (wallet), entity id (entity) or NULL (system).
 * Wallets come from the hot state; _db asks the database. */
fogpay_error ledger__account_find(fogpay_ledger *l, ledger_account_kind kind, const char *owner,
                                  uint16_t currency, ledger_account *out);
fogpay_error ledger__account_find_db(fogpay_ledger *l, ledger_account_kind kind, const char *owner,
                                     uint16_t currency, ledger_account *out);

/* Finds or creates the account; the owner must exist (the caller checks).
 * Call inside a write operation. */
fogpay_error ledger__account_ensure(fogpay_ledger *l, ledger_account_kind kind, const char *owner,
                                    uint16_t currency, ledger_account *out);

/* The legal entity behind an account at time_ms: the holder of a wallet's
 * device, an entity account's entity, "" for the system account or a device
 * nobody holds. */
fogpay_error ledger__account_entity(fogpay_ledger *l, const ledger_account *a, uint64_t time_ms,
                                    char entity_out[FOGPAY_ENTITY_ID_MAX + 1]);

/* Appends t at the next chain position: sets t->position, encodes the
 * record, chains its hash, inserts it with its further legs and moves each
 * leg's amount from its debit to its credit account. Every policy check
 * has been made by the caller; call inside a write operation.
 * *debit_balance (may be NULL) receives the balance of the first leg's
 * debit account after every leg. */
fogpay_error ledger__transfer_append(fogpay_ledger *l, fogpay_transfer *t, int64_t *debit_balance);

/* ledger_fee.c: fee schedules and the split of a transfer into legs. */

/* The one way a transfer of several legs enters the ledger, for any kind:
 * splits t's amount (its first leg: t->debit_account pays, t->credit_account
 * is the payee) by the schedule (NULL or without legs: one leg) with
 * fogpay_fee_split(), drops legs of zero, checks each fee account (it
 * exists in t's currency and is open: FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN,
 * FOGPAY_ERR_FEE_ACCOUNT_CLOSED; it is not the paying account:
 * FOGPAY_ERR_FEE_LEG_PAYER; a fee wallet stays within its maximum:
 * FOGPAY_ERR_FEE_WALLET_MAX), then appends t with its legs. The payer's
 * funds and the payee's wallet maximum (for the whole amount) are the
 * caller's checks. On an error nothing is written. */
fogpay_error ledger__split_append(fogpay_ledger *l, fogpay_transfer *t,
                                  const fogpay_fee_schedule *schedule, int64_t *debit_balance);

/* The schedule in force at time_ms for a payment in currency to the payee
 * account (a wallet of payee_device, or an entity account): the payee's
 * own, else the default; *found false when neither applies. From the hot
 * state. */
fogpay_error ledger__fee_schedule_for(fogpay_ledger *l, const ledger_account *payee,
                                      uint16_t currency, uint64_t time_ms, fogpay_fee_schedule *out,
                                      bool *found);

/* ledger_settle.c */

/* A payment from a device's wallet: intent names payer, payee, amount,
 * currency, seq and reference (decoded or built by the ledger), hash the
 * signed message that caused it. kind FOGPAY_TRANSFER_PAYMENT (the
 * device's own intent: its per-payment and per-day limits apply, and the
 * day total grows) or FOGPAY_TRANSFER_USAGE_CHARGE (a reading's charge at
 * a tariff: meter_id and tariff_id go into the transfer; the intent limits
 * do not apply, the tariff and the plausibility limit bound it). */
typedef struct ledger_payment {
    const fogpay_intent *intent;
    const uint8_t *hash;
    uint8_t kind;
    const char *meter_id;
    const char *tariff_id;
    uint32_t instalment; /* an instalment: its number (the plan is the intent's) */
    uint64_t due_ms;     /* an instalment: when it falls due (its payer is the holder then) */
} ledger_payment;

/* The next unpaid instalment of version p with its usage part up to
 * now_ms; FOGPAY_ERR_PLAN_PAID when every one is paid. */
fogpay_error ledger__plan_next(fogpay_ledger *l, const fogpay_plan *p, uint64_t now_ms,
                               fogpay_instalment *out);
/* ledger_plan.c: the number of the instalment an intent naming a plan
 * pays, inside the payment's operation: the plan's version applying now,
 * open, of the paying device, paid to the lender's account in its
 * currency, and the amount that of its next unpaid instalment (the usage
 * part counted from the device's stored readings of the plan's meter in
 * the instalment's period, up to now). FOGPAY_ERR_PLAN_UNKNOWN,
 * FOGPAY_ERR_PLAN_CLOSED, FOGPAY_ERR_PLAN_DEVICE, FOGPAY_ERR_PLAN_PAYEE,
 * FOGPAY_ERR_PLAN_PAID, FOGPAY_ERR_INSTALMENT_AMOUNT. Instalments are
 * monthly events, not the payment path's load: it reads the database. */
fogpay_error ledger__plan_instalment_for(fogpay_ledger *l, const fogpay_intent *in, uint64_t now_ms,
                                         uint32_t *number, uint64_t *due_ms);
/* The instalments of version p paid so far (instalments and collections
 * from its effective time), at most its count. */
fogpay_error ledger__plan_paid(fogpay_ledger *l, const fogpay_plan *p, uint32_t *paid);
/* Instalment number of version p with its usage part metered up to now. */
fogpay_error ledger__plan_instalment_n(fogpay_ledger *l, const fogpay_plan *p, uint32_t number,
                                       uint64_t now_ms, fogpay_instalment *out);
/* ledger_collect.c: FOGPAY_OK when device_id has no open arrears,
 * FOGPAY_ERR_PLAN_ARREARS when it has (a suspended device in arrears may
 * still pay its instalments). */
fogpay_error ledger__plan_arrears_of(fogpay_ledger *l, const char *device_id);
/* A payment of device_id (not an instalment) to payee_device (a device's
 * wallet) or payee_entity (an entity's account), "" for neither, at
 * now_ms: FOGPAY_ERR_PLAN_LIMITED while a plan of the device is in arrears
 * whose version in force limits it to payees that name neither. From the
 * hot state for a device without arrears: no statement runs. */
fogpay_error ledger__plan_limit_check(fogpay_ledger *l, const char *device_id,
                                      const char *payee_device, const char *payee_entity,
                                      uint64_t now_ms);
/* Appends t (its kind, amount, instalment and payer_entity set), a plan's
 * transfer from payer to the lender's account in the plan's currency,
 * split by the lender's fee schedule in force now. Inside an operation. */
fogpay_error ledger__plan_transfer_append(fogpay_ledger *l, const fogpay_plan *p,
                                          ledger_account *payer, fogpay_transfer *t,
                                          uint64_t now_ms);
/* Clears the plan's open arrears (if any: *change is written only then)
 * as a pass that finds nothing late does. Inside an operation. */
fogpay_error ledger__plan_arrears_end(fogpay_ledger *l, const char *plan_id, uint64_t now_ms,
                                      fogpay_plan_change *change);

/* Checks the payer, payee and funds (ledger.h's rules) and appends the
 * transfer, as one operation; a refusal changes nothing. *out and
 * *balance_after (the payer's wallet, may be NULL) on FOGPAY_OK. */
fogpay_error ledger__pay(fogpay_ledger *l, const ledger_payment *pay, uint64_t now_ms,
                         fogpay_transfer *out, int64_t *balance_after);

/* Ends op with err (ledger__op_end()); on FOGPAY_OK *out is t and
 * *balance_after (may be NULL) the balance of t's debit account after it,
 * read before op ends. The end of the API's one-transfer operations. */
fogpay_error ledger__op_end_transfer(fogpay_ledger *l, ledger_op *op, fogpay_error err,
                                     const fogpay_transfer *t, fogpay_transfer *out,
                                     int64_t *balance_after);

/* What device_id paid in currency on day (a UTC day number), from
 * device_day_totals. */
fogpay_error ledger__day_total_db(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                  uint64_t day, uint64_t *paid_minor);

/* ledger_settle.c: the parties' checks shared with holds. The payee
 * device's limits of the wallet maximum (0: none) for a capture. */
fogpay_error ledger__payee_wallet_max(fogpay_ledger *l, const char *device_id,
                                      uint64_t *wallet_max_minor);

/* ledger_hold.c */

/* Inside a settlement's operation, after its authorisation t (kind 5) was
 * appended: the hold's row and its hot entry, expiring at expires_ms.
 * payee_device is "" for an account payee. */
fogpay_error ledger__hold_insert(fogpay_ledger *l, const fogpay_transfer *t,
                                 const char *payee_device, uint64_t payee_account,
                                 uint64_t expires_ms);
/* FOGPAY_ERR_HOLD_TOO_MANY when another hold cannot be kept open. */
fogpay_error ledger__hold_room(fogpay_ledger *l);
/* What the payer device's open holds in currency still hold (their
 * amounts less their charges), summed. */
fogpay_error ledger__hold_held(fogpay_ledger *l, const char *device_id, uint16_t currency,
                               uint64_t *held_minor);
/* Hold id, from the hot table when it is open (*index its entry there,
 * else SIZE_MAX); FOGPAY_ERR_NOT_FOUND when there is none. */
fogpay_error ledger__hold_find(fogpay_ledger *l, uint64_t id, fogpay_hold *out, size_t *index);
/* The holds account of currency, created on first use. */
fogpay_error ledger__hold_account(fogpay_ledger *l, uint16_t currency, uint64_t *account);
/* After a hold charge of charge_minor from the open hold h (its hot entry
 * at index): its row's and entry's charged total grow by it (journaled),
 * and h with them. The caller checked that the hold's rest covers it. */
fogpay_error ledger__hold_add_charge(fogpay_ledger *l, fogpay_hold *h, size_t index,
                                     uint64_t charge_minor);

/* ledger_hold_charge.c: pay-per-use from a hold. */
/* The hold hold_id as device_id's own and open at now_ms:
 * FOGPAY_ERR_HOLD_UNKNOWN, FOGPAY_ERR_HOLD_FOREIGN (another device's),
 * FOGPAY_ERR_HOLD_RESOLVED (resolved, or past its expiry). *out, and
 * *index (may be NULL) as ledger__hold_find. */
fogpay_error ledger__hold_payer_check(fogpay_ledger *l, uint64_t hold_id, const char *device_id,
                                      uint64_t now_ms, fogpay_hold *out, size_t *index);
/* Hold h as what pays at tariff t: FOGPAY_ERR_HOLD_TARIFF_CURRENCY,
 * FOGPAY_ERR_HOLD_TARIFF_PAYEE. */
fogpay_error ledger__hold_tariff_check(fogpay_ledger *l, const fogpay_hold *h,
                                       const fogpay_tariff *t);
/* Both checks, in that order. */
fogpay_error ledger__hold_charge_check(fogpay_ledger *l, uint64_t hold_id, const char *device_id,
                                       const fogpay_tariff *t, uint64_t now_ms, fogpay_hold *out,
                                       size_t *index);
/* Charges charge_minor (positive) of reading u (hash the signed reading)
 * at tariff t from hold hold_id, inside the reading's operation: the
 * checks above, FOGPAY_ERR_HOLD_INSUFFICIENT when the hold has less left,
 * the payee device's wallet maximum (FOGPAY_ERR_WALLET_MAX), then a
 * transfer of kind FOGPAY_TRANSFER_HOLD_CHARGE split by the payee's fee
 * schedule and the hold's charged total. out->transfer, its
 * balance_after_minor (the payer's wallet, which the charge leaves as it
 * is), hold_id and hold_left_minor on FOGPAY_OK. */
fogpay_error ledger__hold_charge(fogpay_ledger *l, uint64_t hold_id, const fogpay_usage *u,
                                 const uint8_t hash[FOGPAY_HASH_BYTES], const fogpay_tariff *t,
                                 uint64_t charge_minor, uint64_t now_ms,
                                 fogpay_usage_settlement *out);

/* ledger_message.c: the highest seq of device_id in messages, 0 for none. */
fogpay_error ledger__last_seq_db(fogpay_ledger *l, const char *device_id, uint64_t *seq);

/* ledger_query.c */

/* The last chain position (0 for an empty chain) and the hash there (32
 * zero bytes for an empty chain). FOGPAY_ERR_LEDGER_CORRUPT if the stored
 * hash is not 32 bytes. */
fogpay_error ledger__chain_head(fogpay_ledger *l, uint64_t *position,
                                uint8_t hash[FOGPAY_HASH_BYTES]);

/* Reads the transfer at the statement's current row (columns
 * LEDGER_TRANSFER_COLUMNS from column 0), with its further legs from
 * transfer_legs when its record byte says it has some, and its chain hash
 * (may be NULL). FOGPAY_ERR_LEDGER_CORRUPT for stored values outside their
 * limits. */
fogpay_error ledger__transfer_read(fogpay_ledger *l, sqlite3_stmt *s, fogpay_transfer *t,
                                   uint8_t hash[FOGPAY_HASH_BYTES]);

/* The chain hash at position (a transfer's): FOGPAY_ERR_NOT_FOUND when
 * there is none. */
fogpay_error ledger__transfer_hash(fogpay_ledger *l, uint64_t position,
                                   uint8_t hash[FOGPAY_HASH_BYTES]);

/* ledger_chain.c: the one mechanism of the hash chains. */

/* A chain: its statements and its record codec. The record is a struct of
 * record_size bytes with a uint64_t position at position_offset. */
typedef struct ledger_chain {
    const char *name;      /* "transfer", "event": in sentences */
    ledger_stmt_id head;   /* SELECT position, hash ... the last row */
    ledger_stmt_id get;    /* the row at position ?1 */
    ledger_stmt_id insert; /* the row, the record at ?record_param, its hash next */
    int record_param;
    /* NULL: the row stores its record. Otherwise the record is the encoding
     * of the row's own columns (and of rows beside it), and the row stores
     * the one format byte this returns in its place rather than a second
     * copy. */
    uint8_t (*record_format)(const void *record);
    /* True when the hot state keeps the head and the transfer appended
     * last (the transfer chain: every settlement reads and moves it). */
    bool hot;
    size_t record_size;
    size_t position_offset;
    /* FOGPAY_OK when record may be appended onto a chain of head rows. */
    fogpay_error (*check)(const void *record, uint64_t head);
    fogpay_error (*encode)(const void *record, uint8_t *out, size_t cap, size_t *len);
    /* Binds every insert parameter but the record and its hash. */
    void (*bind)(fogpay_ledger *l, sqlite3_stmt *s, const void *record);
    /* Reads the current row into record and its stored chain hash. */
    fogpay_error (*read)(fogpay_ledger *l, sqlite3_stmt *s, void *record,
                         uint8_t hash[FOGPAY_HASH_BYTES]);
} ledger_chain;

typedef int (*ledger_chain_visit)(void *ctx, const void *record,
                                  const uint8_t hash[FOGPAY_HASH_BYTES]);

extern const ledger_chain ledger_transfer_chain;

/* What a transfer row written from schema version 5 on keeps in its record
 * column: this one byte, format 1, "the record is fogpay_transfer_encode()
 * of the row's columns". A stored record is a CBOR map (0xa0..0xbf), so
 * never this byte. */
#define LEDGER_TRANSFER_RECORD_COLUMNS 0x01
/* Format 2 (schema version 6): the record is fogpay_transfer_encode() of
 * the row's columns and of its further legs in transfer_legs (key 20). */
#define LEDGER_TRANSFER_RECORD_LEGS 0x02
extern const ledger_chain ledger_event_chain;
extern const ledger_chain ledger_note_movement_chain;
/* Reads a note_movements row (position, kind, time_ms, serial, record,
 * hash): decodes its record, requires its columns to agree, and gives its
 * stored hash and a view of its record (may be NULL).
 * FOGPAY_ERR_LEDGER_CORRUPT otherwise. */
fogpay_error ledger__note_movement_read(sqlite3_stmt *s, fogpay_note_movement *m,
                                        uint8_t hash[FOGPAY_HASH_BYTES], const uint8_t **record,
                                        size_t *record_len);

/* The last position (0 for an empty chain) and the hash there (32 zero
 * bytes then). FOGPAY_ERR_LEDGER_CORRUPT if the stored head is not a
 * position with a 32-byte hash. _public also checks its arguments; _db
 * asks the database where the chain's head is kept in the hot state. */
fogpay_error ledger__chain_head_db(fogpay_ledger *l, const ledger_chain *c, uint64_t *position,
                                   uint8_t hash[FOGPAY_HASH_BYTES]);
fogpay_error ledger__chain_head_of(fogpay_ledger *l, const ledger_chain *c, uint64_t *position,
                                   uint8_t hash[FOGPAY_HASH_BYTES]);
fogpay_error ledger__chain_head_public(fogpay_ledger *l, const ledger_chain *c, uint64_t *position,
                                       uint8_t hash[FOGPAY_HASH_BYTES]);

/* The record at position into out (scratch: the same size, used while
 * reading, so that out is written only on success) and its hash (may be
 * NULL). FOGPAY_ERR_NOT_FOUND when there is none. */
fogpay_error ledger__chain_get(fogpay_ledger *l, const ledger_chain *c, uint64_t position,
                               void *out, void *scratch, uint8_t hash_out[FOGPAY_HASH_BYTES]);

/* Steps the bound statement s (a page of c's rows), reading each row into
 * scratch and handing it to visit until visit returns nonzero; finishes s. */
fogpay_error ledger__chain_walk(fogpay_ledger *l, const ledger_chain *c, sqlite3_stmt *s,
                                void *scratch, ledger_chain_visit visit, void *ctx);

/* Appends record at the next position: sets its position, encodes it,
 * chains its hash and inserts the row. Call inside a write operation. */
fogpay_error ledger__chain_append(fogpay_ledger *l, const ledger_chain *c, void *record);

/* ledger_event.c */

/* Appends e (its position ignored) at the next event position: encodes the
 * record, chains its hash onto the previous event's and inserts the row.
 * Call inside the write operation of the change the event records, after
 * that change, so that a failure here fails the change as a whole.
 * FOGPAY_ERR_FIELD_RANGE (or another codec error) when e is not a valid
 * event of its kind. */
fogpay_error ledger__event_append(fogpay_ledger *l, const fogpay_event *e);

/* The last event position (0 for an empty chain) and the hash there (32
 * zero bytes then). */
fogpay_error ledger__event_head(fogpay_ledger *l, uint64_t *position,
                                uint8_t hash[FOGPAY_HASH_BYTES]);

/* Reads the event at the statement's current row (columns
 * LEDGER_EVENT_COLUMNS from column 0): decodes its record, requires the
 * row's position, kind, time and device to be the record's, and copies the
 * stored chain hash (hash may be NULL). The record's bytes are left in
 * *record and *record_len (may be NULL), valid until the statement moves.
 * FOGPAY_ERR_LEDGER_CORRUPT otherwise. */
fogpay_error ledger__event_read(sqlite3_stmt *s, fogpay_event *e, uint8_t hash[FOGPAY_HASH_BYTES],
                                const uint8_t **record, size_t *record_len);

/* ledger_statement.c: FOGPAY_OK for a period [from_ms, to_ms) of some
 * length, FOGPAY_ERR_PERIOD_EMPTY, FOGPAY_ERR_PERIOD_REVERSED, or
 * FOGPAY_ERR_FIELD_RANGE for a time past what a column holds. */
fogpay_error ledger__period_check(uint64_t from_ms, uint64_t to_ms);

/* ledger_payout.c: the entity's personal data (FOGPAY_ERR_ENTITY_UNKNOWN,
 * FOGPAY_ERR_PERSONAL_DATA_ERASED with out->created_ms set). */
fogpay_error ledger__personal_read(fogpay_ledger *l, const char *entity_id,
                                   fogpay_entity_personal_copy *out);

/* ledger_tariff.c: the meter's latest binding with its state from the
 * database (FOGPAY_ERR_METER_UNKNOWN when it has none), and the write of a
 * binding's new state (with the hot state's). */
fogpay_error ledger__meter_read_db(fogpay_ledger *l, const char *device_id, const char *meter_id,
                                   fogpay_meter *out);
fogpay_error ledger__meter_state_write(fogpay_ledger *l, const char *device_id,
                                       const char *meter_id, const fogpay_meter *m);

/* ledger_checkpoint.c: starts the checkpoint thread with its connection
 * and hands it the writer's checkpoints; stops it (before the writer's
 * connection closes). */
fogpay_error ledger__checkpoint_start(fogpay_ledger *l);
void ledger__checkpoint_stop(fogpay_ledger *l);

/* ledger_hot.c: the hot state of settlement (see its top comment). */

fogpay_error ledger__hot_init(fogpay_ledger *l);
void ledger__hot_free(fogpay_ledger *l);

/* Transactions: begin (after BEGIN, of a write or a read transaction:
 * reads PRAGMA data_version), mark and release (a savepoint), undo to the
 * innermost mark and pop it (a rolled-back savepoint), undo all (a rolled-
 * back transaction, also one SQLite rolled back itself), commit. */
fogpay_error ledger__hot_begin(fogpay_ledger *l);
void ledger__hot_mark(fogpay_ledger *l);
void ledger__hot_release(fogpay_ledger *l);
void ledger__hot_undo_to_mark(fogpay_ledger *l);
void ledger__hot_undo_all(fogpay_ledger *l);
void ledger__hot_commit(fogpay_ledger *l);
/* After a fee schedule was written: the schedules are loaded again. */
void ledger__hot_fees_changed(fogpay_ledger *l);

/* The device, loaded on first use; FOGPAY_ERR_NOT_FOUND (not cached) for
 * an unknown one. Valid until the ledger's next call. */
fogpay_error ledger__hot_device(fogpay_ledger *l, const char *device_id, ledger_hot_device **out);
/* Marks the device stale after a registry write changed its row. */
void ledger__hot_forget(fogpay_ledger *l, const char *device_id);
/* The device's wallet in currency (account 0: none), loaded on first use. */
fogpay_error ledger__hot_wallet(fogpay_ledger *l, ledger_hot_device *d, uint16_t currency,
                                ledger_hot_wallet **out);
/* After the ledger's own writes: delta added to an account's balance
 * (false when the account is not a wallet held here; else *balance is the
 * new one), a wallet created, a payment added to a day's total, a message
 * recorded, a transfer appended with its chain hash. Each changes only
 * what is cached. */
bool ledger__hot_balance_add(fogpay_ledger *l, uint64_t account, int64_t delta, int64_t *balance);
void ledger__hot_wallet_created(fogpay_ledger *l, const char *device_id, uint16_t currency,
                                uint64_t account);
void ledger__hot_paid_add(fogpay_ledger *l, const char *device_id, uint16_t currency, uint64_t day,
                          uint64_t amount_minor);
void ledger__hot_message(fogpay_ledger *l, const char *device_id, uint64_t seq);
void ledger__hot_appended(fogpay_ledger *l, const fogpay_transfer *t,
                          const uint8_t hash[FOGPAY_HASH_BYTES]);
/* Holds: journals the open holds' entry at index (index == count: one
 * about to be appended) before a change. */
void ledger__hot_hold_journal(fogpay_ledger *l, size_t index);
/* What the device paid in w's currency on day. */
fogpay_error ledger__hot_paid(fogpay_ledger *l, ledger_hot_device *d, ledger_hot_wallet *w,
                              uint64_t day, uint64_t *paid_minor);
/* The entity holding the device at time_ms ("" nobody). */
fogpay_error ledger__hot_holder(fogpay_ledger *l, ledger_hot_device *d, uint64_t time_ms,
                                char entity_out[FOGPAY_ENTITY_ID_MAX + 1]);
/* The highest seq of the device's answered messages (0: none). */
fogpay_error ledger__hot_last_seq(fogpay_ledger *l, ledger_hot_device *d, uint64_t *seq);
/* Whether a plan of the device is in arrears, read once and kept until
 * arrears of the device are entered or cleared (ledger__hot_forget). */
fogpay_error ledger__hot_arrears(fogpay_ledger *l, ledger_hot_device *d, bool *arrears);
/* The meter meter_id of device d, its binding loaded on first use (also
 * when it is not bound, binding_id 0). Valid until the ledger's next call. */
fogpay_error ledger__hot_meter(fogpay_ledger *l, ledger_hot_device *d, const char *meter_id,
                               ledger_hot_meter **out);
/* After the ledger's write of a binding or its state: the meter's new
 * binding and state (a new binding forgets the tariff held with it). */
void ledger__hot_meter_set(fogpay_ledger *l, const char *device_id, const char *meter_id,
                           const fogpay_meter *m);
/* The tariff version of hm's binding applying at time_ms, loaded when the
 * one held does not apply then. Errors as fogpay_ledger_tariff_at(). */
fogpay_error ledger__hot_meter_tariff(fogpay_ledger *l, ledger_hot_device *d, ledger_hot_meter *hm,
                                      uint64_t time_ms, const fogpay_tariff **out);
/* After a tariff version is defined: every tariff held is forgotten. */
void ledger__hot_tariffs_changed(fogpay_ledger *l);
/* The transfer chain's head; and the transfer at position when it is the
 * head appended by this handle (false otherwise: read the database). */
fogpay_error ledger__hot_head(fogpay_ledger *l, uint64_t *position,
                              uint8_t hash[FOGPAY_HASH_BYTES]);
bool ledger__hot_head_transfer(fogpay_ledger *l, uint64_t position, fogpay_transfer *t,
                               uint8_t hash[FOGPAY_HASH_BYTES]);

#endif
