/*
 * engine.c - the worker threads and the ring of jobs they share with the
 * broker's thread, and how a worker wakes that thread (gateway.h's top
 * comment has the design).
 *
 * The lock guards the two work queues, the counters of finished and seen
 * jobs, the group's deadline and the wake state. A job's own fields are
 * handed over by its state (release and acquire) and by the queues (the
 * lock): a worker writes only the job it popped, the broker's thread only
 * jobs that are not at a worker.
 *
 * Ownership: the ring (calloc) and the workers' keys are the engine's,
 * freed by fogpay_engine_stop().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "gateway.h"

#define NS_PER_US 1000ull
#define NS_PER_S  1000000000ull

static struct sigaction engine_old_action;
static bool engine_signal_installed;

uint64_t fogpay_engine_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Does nothing: its arrival is what ends the broker's epoll_wait. */
static void engine_on_wake(int signo)
{
    (void)signo;
}

fogpay_job *fogpay_engine_job(fogpay_engine *e, uint32_t number)
{
    return &e->jobs[number % FOGPAY_ENGINE_JOBS];
}

fogpay_job_state fogpay_engine_state(const fogpay_job *job)
{
    return (fogpay_job_state)atomic_load_explicit(&job->state, memory_order_acquire);
}

void fogpay_engine_set_state(fogpay_job *job, fogpay_job_state state)
{
    atomic_store_explicit(&job->state, (int)state, memory_order_release);
}

/* Under the lock: how long after the last wake signal the next is due,
 * doubling from FOGPAY_ENGINE_WAKE_FIRST_RETRY_US to
 * FOGPAY_ENGINE_WAKE_RETRY_US: a signal lost just before epoll_wait is
 * repeated soon, a broker busy in a long commit is not woken over and
 * over. */
static uint64_t engine_retry_ns(const fogpay_engine *e)
{
    uint64_t retry_us = FOGPAY_ENGINE_WAKE_FIRST_RETRY_US << (e->wakes < 8 ? e->wakes : 8);
    return (retry_us < FOGPAY_ENGINE_WAKE_RETRY_US ? retry_us : FOGPAY_ENGINE_WAKE_RETRY_US) *
           NS_PER_US;
}

/* Under the lock: sends the wake signal when results or a passed deadline
 * wait for the broker and none was sent since its last drain, or the last
 * one is a retry old. Returns when to look again (0: only when a job
 * finishes). */
static uint64_t engine_wake_due(fogpay_engine *e, uint64_t now_ns)
{
    bool late = e->deadline_ns != 0 && now_ns >= e->deadline_ns;
    if (e->finished == e->seen && !late) {
        return e->deadline_ns;
    }
    if (e->woken_ns == 0 || now_ns >= e->woken_ns + engine_retry_ns(e)) {
        pthread_kill(e->broker, FOGPAY_ENGINE_WAKE_SIGNAL);
        e->wakes = e->woken_ns == 0 ? 0 : e->wakes + 1;
        e->woken_ns = now_ns;
    }
    return e->woken_ns + engine_retry_ns(e);
}

/* Under the lock: the next job for a worker, signing first, or NULL. */
static fogpay_job *engine_pop(fogpay_engine *e, bool *sign)
{
    uint32_t *queue = NULL;
    uint32_t *first = NULL;
    uint32_t *count = NULL;
    if (e->sign_count > 0) {
        queue = e->sign_queue, first = &e->sign_first, count = &e->sign_count;
    } else if (e->verify_count > 0) {
        queue = e->verify_queue, first = &e->verify_first, count = &e->verify_count;
    } else {
        return NULL;
    }
    *sign = queue == e->sign_queue;
    uint32_t number = queue[*first];
    *first = (*first + 1) % FOGPAY_ENGINE_JOBS;
    (*count)--;
    return fogpay_engine_job(e, number);
}

static void engine_timed_wait(fogpay_engine *e, uint64_t until_ns)
{
    if (until_ns == 0) {
        pthread_cond_wait(&e->work, &e->lock);
        return;
    }
    /* The condition variable's clock is CLOCK_MONOTONIC (engine_start). */
    struct timespec ts = {.tv_sec = (time_t)(until_ns / NS_PER_S),
                          .tv_nsec = (long)(until_ns % NS_PER_S)};
    pthread_cond_timedwait(&e->work, &e->lock, &ts);
}

typedef struct engine_worker {
    fogpay_engine *engine;
    size_t index;
} engine_worker;

static engine_worker engine_workers[FOGPAY_WORKERS_MAX];

static void *engine_worker_main(void *arg)
{
    engine_worker *w = arg;
    fogpay_engine *e = w->engine;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        bool sign = false;
        fogpay_job *job = engine_pop(e, &sign);
        if (!job) {
            e->idle++;
            engine_timed_wait(e, engine_wake_due(e, fogpay_engine_now_ns()));
            e->idle--;
            continue;
        }
        pthread_mutex_unlock(&e->lock);
        if (sign) {
            fogpay_receipt_sign_job(e->keys[w->index], e->kid, job);
            fogpay_engine_set_state(job, FOGPAY_JOB_SIGNED);
        } else {
            fogpay_device_message_verify(job);
            fogpay_engine_set_state(job, FOGPAY_JOB_VERIFIED);
        }
        pthread_mutex_lock(&e->lock);
        e->finished++;
        if (e->broker_waiting) {
            pthread_cond_signal(&e->done);
        }
        engine_wake_due(e, fogpay_engine_now_ns());
    }
    pthread_mutex_unlock(&e->lock);
    fogpay_key_thread_done();
    return NULL;
}

static void engine_push(fogpay_engine *e, uint32_t *queue, uint32_t first, uint32_t *count,
                        fogpay_job *job)
{
    uint32_t number = (uint32_t)(job - e->jobs);
    queue[(first + *count) % FOGPAY_ENGINE_JOBS] = number;
    (*count)++;
    if (e->idle > 0) {
        pthread_cond_signal(&e->work);
    }
}

fogpay_job *fogpay_engine_reserve(fogpay_engine *e)
{
    if (e->tail - e->head >= FOGPAY_ENGINE_JOBS) {
        return NULL;
    }
    fogpay_job *job = fogpay_engine_job(e, e->tail);
    memset(job, 0, sizeof *job);
    return job;
}

void fogpay_engine_submit_verify(fogpay_engine *e, fogpay_job *job)
{
    e->tail++;
    fogpay_engine_set_state(job, FOGPAY_JOB_VERIFY);
    pthread_mutex_lock(&e->lock);
    engine_push(e, e->verify_queue, e->verify_first, &e->verify_count, job);
    pthread_mutex_unlock(&e->lock);
}

void fogpay_engine_submit_sign(fogpay_engine *e, fogpay_job *job)
{
    fogpay_engine_set_state(job, FOGPAY_JOB_SIGN);
    pthread_mutex_lock(&e->lock);
    engine_push(e, e->sign_queue, e->sign_first, &e->sign_count, job);
    pthread_mutex_unlock(&e->lock);
}

void fogpay_engine_seen(fogpay_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->seen = e->finished;
    e->woken_ns = 0;
    pthread_mutex_unlock(&e->lock);
}

void fogpay_engine_set_deadline(fogpay_engine *e, uint64_t deadline_ns)
{
    pthread_mutex_lock(&e->lock);
    e->deadline_ns = deadline_ns;
    if (deadline_ns != 0) {
        pthread_cond_signal(&e->work); /* an idle worker waits for it */
    }
    pthread_mutex_unlock(&e->lock);
}

void fogpay_engine_wait(fogpay_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->broker_waiting = true;
    if (e->finished == e->seen) {
        uint64_t until_ns = fogpay_engine_now_ns() + FOGPAY_ENGINE_WAKE_RETRY_US * NS_PER_US;
        struct timespec ts = {.tv_sec = (time_t)(until_ns / NS_PER_S),
                              .tv_nsec = (long)(until_ns % NS_PER_S)};
        pthread_cond_timedwait(&e->done, &e->lock, &ts);
    }
    e->broker_waiting = false;
    pthread_mutex_unlock(&e->lock);
}

static size_t engine_worker_count(const fogpay_gateway *gw)
{
    if (gw->options.workers > 0) {
        return gw->options.workers;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > FOGPAY_WORKERS_MAX ? FOGPAY_WORKERS_MAX : (size_t)cores;
}

static fogpay_error engine_sync_init(fogpay_engine *e)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return FOGPAY_ERR_NO_MEMORY;
    }
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_mutex_init(&e->lock, NULL) == 0 && pthread_cond_init(&e->work, &attr) == 0 &&
              pthread_cond_init(&e->done, &attr) == 0;
    pthread_condattr_destroy(&attr);
    return ok ? FOGPAY_OK : FOGPAY_ERR_NO_MEMORY;
}

/* The handler without SA_RESTART would make Mosquitto's other calls fail
 * with EINTR too; epoll_wait fails with it either way (signal(7)). */
static fogpay_error engine_install_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = engine_on_wake;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(FOGPAY_ENGINE_WAKE_SIGNAL, &sa, &engine_old_action) != 0) {
        return FOGPAY_ERR_CONFIG;
    }
    engine_signal_installed = true;
    return FOGPAY_OK;
}

/* Starts the threads with every signal blocked (they inherit the mask). */
static fogpay_error engine_spawn(fogpay_engine *e, size_t count)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; i < count && err == FOGPAY_OK; i++) {
        engine_workers[i] = (engine_worker){e, i};
        if (pthread_create(&e->threads[i], NULL, engine_worker_main, &engine_workers[i]) != 0) {
            err = FOGPAY_ERR_NO_MEMORY;
        } else {
            e->thread_count++;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

fogpay_error fogpay_engine_start(fogpay_gateway *gw)
{
    fogpay_engine *e = &gw->engine;
    size_t count = engine_worker_count(gw);
    e->jobs = calloc(FOGPAY_ENGINE_JOBS, sizeof *e->jobs);
    if (!e->jobs || engine_sync_init(e) != FOGPAY_OK) {
        free(e->jobs);
        e->jobs = NULL;
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: cannot allocate the job ring of %d jobs",
                             FOGPAY_ENGINE_JOBS);
        return FOGPAY_ERR_NO_MEMORY;
    }
    e->started = true;
    e->broker = pthread_self();
    memcpy(e->kid, gw->kid, sizeof e->kid);
    for (size_t i = 0; i < count; i++) {
        if (fogpay_key_load(gw->options.gateway_key_path, &e->keys[i]) != FOGPAY_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: cannot load the gateway key for worker %zu",
                                 i);
            return FOGPAY_ERR_CONFIG;
        }
    }
    fogpay_error err = engine_install_signal();
    if (err == FOGPAY_OK) {
        err = engine_spawn(e, count);
    }
    if (err != FOGPAY_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: cannot start %zu worker threads: %s", count,
                             strerror(errno));
        return err;
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "fogpay: %zu worker threads", count);
    return FOGPAY_OK;
}

fogpay_error fogpay_engine_rekey(fogpay_gateway *gw, const char *path)
{
    fogpay_engine *e = &gw->engine;
    if (!e->started) {
        return FOGPAY_OK; /* fogpay_engine_start() loads the key */
    }
    fogpay_key *fresh[FOGPAY_WORKERS_MAX] = {NULL};
    fogpay_error err = FOGPAY_OK;
    for (size_t i = 0; i < e->thread_count && err == FOGPAY_OK; i++) {
        err = fogpay_key_load(path, &fresh[i]);
    }
    if (err != FOGPAY_OK) {
        for (size_t i = 0; i < e->thread_count; i++) {
            fogpay_key_free(fresh[i]);
        }
        mosquitto_log_printf(MOSQ_LOG_ERR, "fogpay: the workers cannot load the gateway key %s",
                             path);
        return err;
    }
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->thread_count; i++) {
        fogpay_key_free(e->keys[i]);
        e->keys[i] = fresh[i];
    }
    memcpy(e->kid, gw->kid, sizeof e->kid);
    pthread_mutex_unlock(&e->lock);
    return FOGPAY_OK;
}

void fogpay_engine_stop(fogpay_gateway *gw)
{
    fogpay_engine *e = &gw->engine;
    if (!e->started) {
        return;
    }
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_cond_broadcast(&e->work);
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->thread_count; i++) {
        pthread_join(e->threads[i], NULL);
    }
    if (engine_signal_installed) {
        sigaction(FOGPAY_ENGINE_WAKE_SIGNAL, &engine_old_action, NULL);
        engine_signal_installed = false;
    }
    for (size_t i = 0; i < FOGPAY_WORKERS_MAX; i++) {
        fogpay_key_free(e->keys[i]);
        e->keys[i] = NULL;
    }
    for (uint32_t n = e->head; n != e->tail; n++) {
        fogpay_outbox_job_free(fogpay_engine_job(e, n));
    }
    pthread_cond_destroy(&e->work);
    pthread_cond_destroy(&e->done);
    pthread_mutex_destroy(&e->lock);
    free(e->jobs);
    e->jobs = NULL;
    e->started = false;
}
