/*
 * bench_host.h - what the benchmark measures of the machine rather than of
 * fogpay: CPU time of a process and of each core from /proc, the disk's
 * fsync rate through SQLite, single-core Ed25519 sign and verify rates
 * through common/, a process's memory from /proc, and the machine's
 * description for the results file.
 */
#ifndef FOGPAY_BENCH_HOST_H
#define FOGPAY_BENCH_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BENCH_CORES_MAX 64

/* User plus system CPU time of a process (/proc/PID/stat), in microseconds;
 * 0 when it cannot be read. */
uint64_t bench_process_cpu_us(pid_t pid);

/* This process's own CPU time (getrusage), in microseconds. */
uint64_t bench_self_cpu_us(void);

/* A process's memory now, in KiB: its private pages (Private_Clean +
 * Private_Dirty of /proc/PID/smaps_rollup: what no other process maps, its
 * unique set), the dirty part of them (written: the heap, the stack,
 * relocated data; a clean private page is a file's page that no other
 * process happens to map now), its resident and proportional set sizes,
 * and its peak resident set so far (VmHWM of /proc/PID/status). */
typedef struct bench_memory {
    uint64_t private_kib;
    uint64_t private_dirty_kib;
    uint64_t rss_kib;
    uint64_t pss_kib;
    uint64_t hwm_kib;
} bench_memory;
/* False when the process is gone or its files cannot be read. */
bool bench_process_memory(pid_t pid, bench_memory *out);

/* Mappings of a process by where they come from, each with the private KiB
 * it holds and its resident KiB (private and shared): a file's mappings under the file's base name,
 * the anonymous mapping that follows a file's (its .bss) as "NAME bss", [heap], [stack] and the
 * other anonymous mappings as "anonymous". */
#define BENCH_MAPPING_NAME_MAX 64
#define BENCH_MAPPINGS_MAX     64
typedef struct bench_mapping {
    char name[BENCH_MAPPING_NAME_MAX];
    uint64_t private_kib;
    uint64_t rss_kib;
} bench_mapping;
typedef struct bench_mappings {
    size_t count;
    bench_mapping by_name[BENCH_MAPPINGS_MAX]; /* largest first */
} bench_mappings;
/* Reads /proc/PID/smaps into out. False when it cannot be read. */
bool bench_process_mappings(pid_t pid, bench_mappings *out);

/* Busy and total jiffies of each core (/proc/stat "cpuN" lines). */
typedef struct bench_cores {
    int count;
    uint64_t busy[BENCH_CORES_MAX];
    uint64_t total[BENCH_CORES_MAX];
} bench_cores;
void bench_cores_read(bench_cores *out);
/* Utilisation of core i between two readings, 0..1. */
double bench_core_share(const bench_cores *before, const bench_cores *after, int i);

/* Small committed transactions per second for about seconds, in a SQLite
 * database in dir (WAL, synchronous=FULL). 0 on failure. */
double bench_fsync_rate(const char *dir, double seconds);

/* Ed25519 signatures made and checked per second on one core, over a
 * message of msg_len bytes, each for about seconds. */
void bench_ed25519_rates(size_t msg_len, double seconds, double *sign_per_s, double *verify_per_s);

/* nproc, CPU model, memory, kernel and the UTC date, as JSON members
 * ("nproc": 2, ...) without the braces, into out. */
void bench_machine_json(char *out, size_t cap);

/* Creates dir if missing, opens dir/<prefix>-<UTC stamp>.json (its path
 * into path) and writes the opening of a results object with the
 * machine's description: '{\n  "machine": {...},\n'. The caller writes
 * the other members and the closing brace, and closes the file. NULL, with
 * the reason on stderr, when it cannot. */
FILE *bench_results_open(const char *dir, const char *prefix, char *path, size_t path_cap);

/* The kernel's count of connections dropped because a listen queue was
 * full (/proc/net/netstat, TcpExt ListenOverflows), for the whole machine;
 * 0 when it cannot be read. */
uint64_t bench_listen_overflows(void);

/* Monotonic seconds. */
double bench_now(void);

#endif
