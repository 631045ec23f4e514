/*
 * replay.c - runs every fuzz target of tests/fuzz/ on each payload vector of
 * schemas/vectors/payloads.json, on the committed seeds of tests/fuzz/seeds/
 * and on the regression vectors of tests/fuzz/regressions/ (each in the
 * directory of its target's name), so that the targets build and run in
 * every build (meson test fuzz_seeds), not only with -Dfuzz=true and clang.
 *
 * Each target is compiled into this program with LLVMFuzzerTestOneInput
 * renamed to fuzz_<name> (see meson.build). Every vector goes through every
 * target. Each vector is also wrapped the way fogpay signs it (COSE_Sign1
 * with a zero signature, without and with a kid) for fuzz_cose, and each
 * transfer vector as the one record of a batch for fuzz_batch, so that the
 * success paths of those two targets run too; fuzz_gateway gets each vector
 * also as the one message of a session, signed by a provisioned device on
 * the topic of its type. A target that finds a broken
 * property aborts. The program exits 1 when it cannot read the vectors or
 * finds none. Inputs are copied into buffers of their exact size, so the
 * sanitizers see any read past the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include <cjson/cJSON.h>

#include "fogpay_cbor.h"
#include "fogpay_hash.h"
#include "fogpay_message.h"

int fuzz_intent(const uint8_t *data, size_t size);
int fuzz_receipt(const uint8_t *data, size_t size);
int fuzz_usage(const uint8_t *data, size_t size);
int fuzz_bind(const uint8_t *data, size_t size);
int fuzz_hold_message(const uint8_t *data, size_t size);
int fuzz_command(const uint8_t *data, size_t size);
int fuzz_batch(const uint8_t *data, size_t size);
int fuzz_batch_ack(const uint8_t *data, size_t size);
int fuzz_transfer(const uint8_t *data, size_t size);
int fuzz_event(const uint8_t *data, size_t size);
int fuzz_cose(const uint8_t *data, size_t size);
int fuzz_cbor(const uint8_t *data, size_t size);
int fuzz_gateway(const uint8_t *data, size_t size);
int fuzz_note(const uint8_t *data, size_t size);
int fuzz_custody(const uint8_t *data, size_t size);
int fuzz_note_withdraw(const uint8_t *data, size_t size);
int fuzz_note_delivery(const uint8_t *data, size_t size);
int fuzz_note_payment(const uint8_t *data, size_t size);

typedef int (*fuzz_target)(const uint8_t *data, size_t size);

static const struct {
    const char *name; /* its directory under seeds/ and regressions/ */
    fuzz_target run;
} targets[] = {
    {"intent", fuzz_intent},
    {"receipt", fuzz_receipt},
    {"usage", fuzz_usage},
    {"bind", fuzz_bind},
    {"command", fuzz_command},
    {"batch", fuzz_batch},
    {"batch_ack", fuzz_batch_ack},
    {"transfer", fuzz_transfer},
    {"event", fuzz_event},
    {"cose", fuzz_cose},
    {"cbor", fuzz_cbor},
    {"gateway", fuzz_gateway},
    {"hold_message", fuzz_hold_message},
    {"note", fuzz_note},
    {"custody", fuzz_custody},
    {"note_withdraw", fuzz_note_withdraw},
    {"note_delivery", fuzz_note_delivery},
    {"note_payment", fuzz_note_payment},
};
#define TARGET_COUNT (sizeof targets / sizeof targets[0])

/* A fuzz_gateway message (fuzz_gateway.c): head, who, length 255 (the rest
 * of the input), then the payload. Head: signed with the sender's key
 * (mode 1) on its intent topic (topic 0) or usage topic (topic 1). */
#define GATEWAY_SIGNED_INTENT 0x01
#define GATEWAY_SIGNED_USAGE  0x09

/* payloads.json is a few kilobytes; anything near this is not it. */
#define VECTORS_FILE_MAX (4 * 1024 * 1024)

/* Room around a payload for the envelope or batch built around it. */
#define WRAP_EXTRA 512

static size_t inputs_run;

/* Runs target on a copy of [data, data+size) of exactly that size. */
static void run(fuzz_target target, const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (!copy) {
        fprintf(stderr, "fuzz_seeds: out of memory\n");
        exit(1);
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    target(copy, size);
    free(copy);
    inputs_run++;
}

/* A COSE_Sign1 around payload as fogpay writes it: EdDSA, the kid when
 * with_kid, and a signature of zeros (the targets parse, never verify). */
static void run_cose(const uint8_t *payload, size_t len, bool with_kid)
{
    static const uint8_t protected_header[] = {0xa1, 0x01, 0x27};
    static const uint8_t kid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t signature[64];
    uint8_t *buf = malloc(len + WRAP_EXTRA);
    if (!buf) {
        fprintf(stderr, "fuzz_seeds: out of memory\n");
        exit(1);
    }
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, len + WRAP_EXTRA);
    fogpay_cbor_put_tag(&w, 18);
    fogpay_cbor_put_array(&w, 4);
    fogpay_cbor_put_bytes(&w, protected_header, sizeof protected_header);
    fogpay_cbor_put_map(&w, with_kid ? 1 : 0);
    if (with_kid) {
        fogpay_cbor_put_uint(&w, 4);
        fogpay_cbor_put_bytes(&w, kid, sizeof kid);
    }
    fogpay_cbor_put_bytes(&w, payload, len);
    fogpay_cbor_put_bytes(&w, signature, sizeof signature);
    size_t out_len = 0;
    if (fogpay_cbor_writer_finish(&w, &out_len) == FOGPAY_OK) {
        run(fuzz_cose, buf, out_len);
    }
    free(buf);
}

/* A batch whose one record is the given bytes, at the record's own
 * position when it decodes. */
static void run_batch(const uint8_t *record, size_t len)
{
    static const uint8_t hash_before[FOGPAY_HASH_BYTES];
    uint8_t hash_after[FOGPAY_HASH_BYTES];
    memset(hash_after, 0x11, sizeof hash_after);
    fogpay_transfer t;
    uint64_t position = fogpay_transfer_decode(record, len, &t) == FOGPAY_OK ? t.position : 1;
    uint8_t *buf = malloc(len + WRAP_EXTRA);
    if (!buf) {
        fprintf(stderr, "fuzz_seeds: out of memory\n");
        exit(1);
    }
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, len + WRAP_EXTRA);
    fogpay_cbor_put_map(&w, 8);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_text(&w, "gw-1", 4);
    fogpay_cbor_put_uint(&w, 2);
    fogpay_cbor_put_uint(&w, 1);
    fogpay_cbor_put_uint(&w, 3);
    fogpay_cbor_put_uint(&w, position);
    fogpay_cbor_put_uint(&w, 4);
    fogpay_cbor_put_uint(&w, position);
    fogpay_cbor_put_uint(&w, 5);
    fogpay_cbor_put_bytes(&w, hash_before, sizeof hash_before);
    fogpay_cbor_put_uint(&w, 6);
    fogpay_cbor_put_bytes(&w, hash_after, sizeof hash_after);
    fogpay_cbor_put_uint(&w, 7);
    fogpay_cbor_put_uint(&w, 1764000000000ull);
    fogpay_cbor_put_uint(&w, 8);
    fogpay_cbor_put_array(&w, 1);
    fogpay_cbor_put_raw(&w, record, len);
    size_t out_len = 0;
    if (fogpay_cbor_writer_finish(&w, &out_len) == FOGPAY_OK) {
        run(fuzz_batch, buf, out_len);
    }
    free(buf);
}

/* One session of fuzz_gateway whose one message is payload, signed by the
 * first device on the topic of the vector's type. */
static void run_gateway(const char *type, const uint8_t *payload, size_t len)
{
    uint8_t *buf = malloc(len + 3);
    if (!buf) {
        fprintf(stderr, "fuzz_seeds: out of memory\n");
        exit(1);
    }
    buf[0] = strcmp(type, "usage") == 0 ? GATEWAY_SIGNED_USAGE : GATEWAY_SIGNED_INTENT;
    buf[1] = 0;
    buf[2] = 255;
    memcpy(buf + 3, payload, len);
    run(fuzz_gateway, buf, len + 3);
    free(buf);
}

/* The whole file at path, NUL-terminated, or NULL; *len is its length. The
 * caller frees it. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *text = malloc(VECTORS_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, VECTORS_FILE_MAX + 1, f) : 0;
    bool failed = !text || ferror(f) || n > VECTORS_FILE_MAX;
    fclose(f);
    if (failed) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* Runs target on every file of dir (an absent dir has none); false when a
 * file cannot be read. */
static bool replay_dir(const char *dir, fuzz_target target, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        return true;
    }
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *bytes = n > 0 && (size_t)n < sizeof path ? read_file(path, &len) : NULL;
        if (!bytes) {
            fprintf(stderr, "fuzz_seeds: cannot read %s\n", path);
            ok = false;
            break;
        }
        run(target, (const uint8_t *)bytes, len);
        free(bytes);
        (*count)++;
    }
    closedir(d);
    return ok;
}

/* The committed seeds and regression vectors of every target. */
static bool replay_committed(const char *source_dir, size_t *count)
{
    static const char *const kinds[] = {"seeds", "regressions"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (size_t i = 0; i < TARGET_COUNT; i++) {
            char dir[4096];
            int n = snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", source_dir, kinds[k],
                             targets[i].name);
            if (n < 0 || (size_t)n >= sizeof dir || !replay_dir(dir, targets[i].run, count)) {
                return false;
            }
        }
    }
    return true;
}

/* Runs every target on one vector; false when the vector is malformed. */
static bool replay_vector(const cJSON *vector)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(vector, "type");
    const cJSON *hex = cJSON_GetObjectItemCaseSensitive(vector, "hex");
    if (!cJSON_IsString(type) || !cJSON_IsString(hex)) {
        return false;
    }
    size_t hex_len = strlen(hex->valuestring);
    if (hex_len % 2 != 0) {
        return false;
    }
    size_t len = hex_len / 2;
    uint8_t *bytes = malloc(len > 0 ? len : 1);
    if (!bytes || fogpay_hex_decode(hex->valuestring, bytes, len) != FOGPAY_OK) {
        free(bytes);
        return false;
    }
    for (size_t i = 0; i < TARGET_COUNT; i++) {
        run(targets[i].run, bytes, len);
    }
    run_gateway(type->valuestring, bytes, len);
    run_cose(bytes, len, false);
    run_cose(bytes, len, true);
    if (strcmp(type->valuestring, "transfer") == 0) {
        run_batch(bytes, len);
    }
    free(bytes);
    return true;
}

int main(void)
{
    const char *source_dir = getenv("FOGPAY_SOURCE_DIR");
    if (!source_dir) {
        fprintf(stderr, "fuzz_seeds: FOGPAY_SOURCE_DIR is not set\n");
        return 1;
    }
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/schemas/vectors/payloads.json", source_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "fuzz_seeds: FOGPAY_SOURCE_DIR is too long\n");
        return 1;
    }
    size_t text_len = 0;
    char *text = read_file(path, &text_len);
    if (!text) {
        fprintf(stderr, "fuzz_seeds: cannot read %s\n", path);
        return 1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(root, "vectors");
    if (!cJSON_IsArray(vectors) || cJSON_GetArraySize(vectors) == 0) {
        fprintf(stderr, "fuzz_seeds: no vectors in %s\n", path);
        cJSON_Delete(root);
        return 1;
    }
    size_t count = 0;
    const cJSON *vector;
    cJSON_ArrayForEach(vector, vectors)
    {
        if (!replay_vector(vector)) {
            fprintf(stderr, "fuzz_seeds: vector %zu of %s is malformed\n", count, path);
            cJSON_Delete(root);
            return 1;
        }
        count++;
    }
    cJSON_Delete(root);
    size_t committed = 0;
    if (!replay_committed(source_dir, &committed)) {
        return 1;
    }
    printf("fuzz_seeds: %zu vectors, %zu committed seeds and regressions, %zu inputs through %zu "
           "fuzz targets\n",
           count, committed, inputs_run, TARGET_COUNT);
    return 0;
}
