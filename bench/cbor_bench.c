/*
 * cbor_bench.c - the rate of the CBOR layer on the payload vectors of
 * schemas/vectors/payloads.json: every valid vector decoded by its message
 * decoder, encoded again from the decoded struct, and walked by the strict
 * reader (fogpay_cbor_skip), each in a loop, printed as messages and
 * megabytes per second. Prints figures; never passes or fails on a timing.
 *
 *   cbor_bench [ROUNDS]      (default 20000 passes over the vectors)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "fogpay_cbor.h"
#include "fogpay_message.h"
#include "testutil.h"

#define BENCH_VECTORS_MAX 128

/* One valid vector: its type's decoder and encoder behind one signature. */
typedef struct bench_vector {
    const char *type;
    uint8_t *bytes;
    size_t len;
} bench_vector;

/* Decodes v by its type into m (a buffer big enough for any message
 * struct), or when encode is set encodes m into out. */
static fogpay_error round_trip(const bench_vector *v, void *m, int encode, uint8_t *out, size_t cap,
                               size_t *out_len)
{
#define ROUND_TRIP(name, st)                                                                       \
    if (strcmp(v->type, #name) == 0) {                                                             \
        fogpay_error e = encode ? fogpay_##name##_encode((const st *)m, out, cap, out_len)         \
                                : fogpay_##name##_decode(v->bytes, v->len, (st *)m);               \
        return e;                                                                                  \
    }
    ROUND_TRIP(intent, fogpay_intent)
    ROUND_TRIP(usage, fogpay_usage)
    ROUND_TRIP(receipt, fogpay_receipt)
    ROUND_TRIP(command, fogpay_command)
    ROUND_TRIP(transfer, fogpay_transfer)
    ROUND_TRIP(batch_ack, fogpay_batch_ack)
#undef ROUND_TRIP
    return FOGPAY_ERR_INVALID_ARGUMENT;
}

typedef union bench_message {
    fogpay_intent intent;
    fogpay_usage usage;
    fogpay_receipt receipt;
    fogpay_command command;
    fogpay_transfer transfer;
    fogpay_batch_ack batch_ack;
} bench_message;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t load_vectors(bench_vector *vs, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/schemas/vectors/payloads.json", getenv("FOGPAY_SOURCE_DIR"));
    char *text = testutil_read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "cbor_bench: cannot read %s\n", path);
        exit(1);
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    size_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(root, "vectors"))
    {
        if (cJSON_GetObjectItem(v, "error") || n == cap) {
            continue;
        }
        bench_vector *b = &vs[n];
        b->type = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(v, "type")));
        b->bytes = testutil_hex(cJSON_GetStringValue(cJSON_GetObjectItem(v, "hex")), &b->len);
        n++;
    }
    cJSON_Delete(root);
    return n;
}

static void report(const char *what, double seconds, size_t messages, size_t bytes)
{
    printf("%-28s %12.0f messages/s %9.1f MB/s\n", what, (double)messages / seconds,
           (double)bytes / seconds / 1e6);
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    static bench_vector vs[BENCH_VECTORS_MAX];
    static bench_message decoded[BENCH_VECTORS_MAX];
    size_t n = load_vectors(vs, BENCH_VECTORS_MAX);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += vs[i].len;
        if (round_trip(&vs[i], &decoded[i], 0, NULL, 0, NULL) != FOGPAY_OK) {
            fprintf(stderr, "cbor_bench: vector %zu (%s) does not decode\n", i, vs[i].type);
            return 1;
        }
    }
    printf("%zu valid vectors, %zu bytes, %ld rounds\n", n, total, rounds);

    bench_message m;
    double t0 = now_s();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            if (round_trip(&vs[i], &m, 0, NULL, 0, NULL) != FOGPAY_OK) {
                return 1;
            }
        }
    }
    report("decode (message decoders)", now_s() - t0, n * (size_t)rounds, total * (size_t)rounds);

    uint8_t out[FOGPAY_MESSAGE_MAX];
    size_t out_len;
    t0 = now_s();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            if (round_trip(&vs[i], &decoded[i], 1, out, sizeof out, &out_len) != FOGPAY_OK ||
                out_len != vs[i].len) {
                return 1;
            }
        }
    }
    report("encode (message encoders)", now_s() - t0, n * (size_t)rounds, total * (size_t)rounds);

    t0 = now_s();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            fogpay_cbor_reader rd;
            fogpay_cbor_reader_init(&rd, vs[i].bytes, vs[i].len);
            if (fogpay_cbor_skip(&rd) != FOGPAY_OK) {
                return 1;
            }
        }
    }
    report("walk (strict fogpay_cbor_skip)", now_s() - t0, n * (size_t)rounds,
           total * (size_t)rounds);
    return 0;
}
