/*
 * ledger_checkpoint.c - WAL checkpoints on a thread of their own, so that
 * the ledger's writer (in the gateway, the broker's one thread) never runs
 * one inside its commit.
 *
 * Design. The writer's connection checkpoints nothing itself: its WAL hook
 * is this file's, which replaces SQLite's automatic checkpoint and only
 * looks at the WAL's length after each commit. Once the WAL holds
 * LEDGER_WAL_CHECKPOINT_FRAMES frames or more, the hook wakes the thread,
 * which runs a PASSIVE checkpoint on a connection of its own: it copies
 * into the database file what no reader still needs and syncs it, and
 * takes no lock the writer would wait for. When the WAL has been copied
 * whole, the writer's next transaction starts it from the beginning again,
 * so it stays about that long. But a writer that commits back to back
 * (a busy gateway, a bulk load) appends while the thread copies, so the
 * copy never catches up and the WAL is never started over: PASSIVE alone
 * does not bound it (a load of 10 million transfers grew it to 7 GB). The
 * bound is the writer's: when a commit leaves the WAL at
 * LEDGER_WAL_HARD_FRAMES or more, the hook runs a RESTART checkpoint on the
 * writer's own connection, between its transactions. The thread has
 * copied nearly all of the WAL by then, so this copies the frames written
 * since its last pass and syncs the file, and the next transaction starts
 * the WAL from its beginning. (Should the thread be mid-pass, the RESTART
 * returns busy at once and the next commit tries again.) journal_size_limit
 * on the writer cuts the file back to LEDGER_WAL_LIMIT_BYTES when it
 * restarts past it.
 * Durability does not depend on any of this: every commit has synced the
 * WAL (synchronous=FULL) before it returns.
 *
 * Threads and ownership. The ledger handle owns its one checkpointer:
 * ledger__checkpoint_start() (from fogpay_ledger_open) opens the thread's
 * connection and starts it; ledger__checkpoint_stop() (from
 * fogpay_ledger_close, before the writer's connection closes) sets stop,
 * wakes the thread, joins it and closes its connection, and the writer's
 * own close then checkpoints what is left, as the last connection. The
 * thread uses nothing but its connection and the struct's fields under
 * its mutex; the hook runs on the writer's thread inside COMMIT and holds
 * the mutex only to store the length and signal.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

struct ledger_checkpointer {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    sqlite3 *db;       /* the thread's own connection */
    int frames;        /* the WAL's length after the writer's last commit */
    bool stop;         /* set by ledger__checkpoint_stop() */
    uint64_t runs;     /* checkpoints run by the thread */
    uint64_t restarts; /* RESTART checkpoints run by the writer at the bound */
};

static void *checkpoint__main(void *arg)
{
    ledger_checkpointer *c = arg;
    pthread_mutex_lock(&c->mutex);
    for (;;) {
        while (!c->stop && c->frames < LEDGER_WAL_CHECKPOINT_FRAMES) {
            pthread_cond_wait(&c->wake, &c->mutex);
        }
        if (c->stop) {
            break;
        }
        c->frames = 0;
        pthread_mutex_unlock(&c->mutex);
        /* Busy or a reader in the way: the next commit past the length
         * wakes the thread again. */
        (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mutex);
        c->runs++;
    }
    pthread_mutex_unlock(&c->mutex);
    return NULL;
}

/* The writer's WAL hook, after each commit, on the writer's thread: wakes
 * the thread past the length, restarts the WAL itself at the bound. */
static int checkpoint__hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    ledger_checkpointer *c = arg;
    if (frames >= LEDGER_WAL_HARD_FRAMES) {
        /* Busy (the thread mid-pass, a reader): tried again next commit. */
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        pthread_mutex_lock(&c->mutex);
        c->restarts += rc == SQLITE_OK;
        pthread_mutex_unlock(&c->mutex);
        return SQLITE_OK;
    }
    if (frames >= LEDGER_WAL_CHECKPOINT_FRAMES) {
        pthread_mutex_lock(&c->mutex);
        c->frames = frames;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->mutex);
    }
    return SQLITE_OK;
}

static fogpay_error checkpoint__connect(fogpay_ledger *l, ledger_checkpointer *c)
{
    const char *path = sqlite3_db_filename(l->db, "main");
    if (path == NULL || path[0] == '\0') {
        ledger__note(l, "the ledger has no file to checkpoint");
        return FOGPAY_ERR_STORAGE;
    }
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_busy_timeout(c->db, LEDGER_BUSY_TIMEOUT_MS);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        ledger__note(l, c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
        return fogpay_sqlite_error(rc);
    }
    return FOGPAY_OK;
}

fogpay_error ledger__checkpoint_start(fogpay_ledger *l)
{
    ledger_checkpointer *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    fogpay_error err = checkpoint__connect(l, c);
    if (err != FOGPAY_OK) {
        free(c);
        return err;
    }
    char limit[64];
    snprintf(limit, sizeof limit, "PRAGMA journal_size_limit = %d", LEDGER_WAL_LIMIT_BYTES);
    int rc = sqlite3_exec(l->db, limit, NULL, NULL, NULL);
    if (rc == SQLITE_OK &&
        (pthread_mutex_init(&c->mutex, NULL) != 0 || pthread_cond_init(&c->wake, NULL) != 0 ||
         pthread_create(&c->thread, NULL, checkpoint__main, c) != 0)) {
        rc = SQLITE_NOMEM;
    }
    if (rc != SQLITE_OK) {
        ledger__note(l, "the WAL checkpoint thread could not start");
        sqlite3_close(c->db);
        free(c);
        return fogpay_sqlite_error(rc);
    }
    /* From here on the writer leaves every checkpoint to the thread. */
    sqlite3_wal_hook(l->db, checkpoint__hook, c);
    l->checkpointer = c;
    return FOGPAY_OK;
}

void ledger__checkpoint_stop(fogpay_ledger *l)
{
    ledger_checkpointer *c = l->checkpointer;
    if (c == NULL) {
        return;
    }
    sqlite3_wal_hook(l->db, NULL, NULL);
    pthread_mutex_lock(&c->mutex);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mutex);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->mutex);
    sqlite3_close(c->db);
    free(c);
    l->checkpointer = NULL;
}

uint64_t fogpay_ledger_checkpoints(fogpay_ledger *l)
{
    if (l == NULL || l->checkpointer == NULL) {
        return 0;
    }
    ledger_checkpointer *c = l->checkpointer;
    pthread_mutex_lock(&c->mutex);
    uint64_t runs = c->runs;
    pthread_mutex_unlock(&c->mutex);
    return runs;
}
