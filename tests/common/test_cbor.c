/*
 * test_cbor.c - the CBOR reader and writer: RFC 8949 appendix A vectors
 * (../shared/conformance/cbor-test-vectors), strict-mode refusals, hostile
 * nesting and lengths, and the writer's shortest heads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fogpay_cbor.h"
#include "fogpay_limits.h"
#include "cbor_diag.h"
#include "testutil.h"

/* Builds the JSON value of the CBOR item at the reader, for comparison
 * with the vector's "decoded" member. Only the JSON-representable subset
 * occurs there: numbers, strings, booleans, null, arrays, maps with text
 * keys. Returns NULL for anything else. */
static cJSON *to_json(fogpay_cbor_reader *r, int depth)
{
    fogpay_cbor_item item;
    if (depth > 16 || fogpay_cbor_read(r, &item) != FOGPAY_OK) {
        return NULL;
    }
    switch (item.type) {
    case FOGPAY_CBOR_UINT:
        return cJSON_CreateNumber((double)item.value);
    case FOGPAY_CBOR_NEGINT:
        return cJSON_CreateNumber(-1.0 - (double)item.value);
    case FOGPAY_CBOR_FLOAT:
        return cJSON_CreateNumber(item.f);
    case FOGPAY_CBOR_TEXT: {
        char text[256] = "";
        size_t used = 0;
        fogpay_cbor_item chunk = item;
        bool chunked = item.value == FOGPAY_CBOR_INDEFINITE;
        if (chunked && fogpay_cbor_read(r, &chunk) != FOGPAY_OK) {
            return NULL;
        }
        while (chunk.type == FOGPAY_CBOR_TEXT && chunk.value != FOGPAY_CBOR_INDEFINITE &&
               used + chunk.bytes.len < sizeof text) {
            memcpy(text + used, chunk.bytes.ptr, chunk.bytes.len);
            used += chunk.bytes.len;
            text[used] = '\0';
            if (!chunked || fogpay_cbor_read(r, &chunk) != FOGPAY_OK) {
                break;
            }
        }
        return cJSON_CreateString(text);
    }
    case FOGPAY_CBOR_TAG: {
        /* Bignums (tags 2 and 3) as the nearest double, as JSON has them. */
        fogpay_cbor_item content;
        if ((item.value != 2 && item.value != 3) || fogpay_cbor_read(r, &content) != FOGPAY_OK ||
            content.type != FOGPAY_CBOR_BYTES) {
            return NULL;
        }
        double n = 0;
        for (size_t i = 0; i < content.bytes.len; i++) {
            n = n * 256 + content.bytes.ptr[i];
        }
        return cJSON_CreateNumber(item.value == 2 ? n : -1 - n);
    }
    case FOGPAY_CBOR_SIMPLE:
        if (item.value == 20 || item.value == 21) {
            return cJSON_CreateBool(item.value == 21);
        }
        return item.value == 22 ? cJSON_CreateNull() : NULL;
    case FOGPAY_CBOR_ARRAY: {
        cJSON *a = cJSON_CreateArray();
        for (uint64_t i = 0; item.value == FOGPAY_CBOR_INDEFINITE || i < item.value; i++) {
            if (item.value == FOGPAY_CBOR_INDEFINITE && r->pos < r->len && r->ptr[r->pos] == 0xff) {
                r->pos++;
                break;
            }
            cJSON *child = to_json(r, depth + 1);
            if (!child) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, child);
        }
        return a;
    }
    case FOGPAY_CBOR_MAP: {
        cJSON *m = cJSON_CreateObject();
        for (uint64_t i = 0; item.value == FOGPAY_CBOR_INDEFINITE || i < item.value; i++) {
            if (item.value == FOGPAY_CBOR_INDEFINITE && r->pos < r->len && r->ptr[r->pos] == 0xff) {
                r->pos++;
                break;
            }
            fogpay_cbor_item key;
            cJSON *value = NULL;
            if (fogpay_cbor_read(r, &key) == FOGPAY_OK && key.type == FOGPAY_CBOR_TEXT) {
                value = to_json(r, depth + 1);
            }
            if (!value) {
                cJSON_Delete(m);
                return NULL;
            }
            char *k = strndup((const char *)key.bytes.ptr, key.bytes.len);
            cJSON_AddItemToObject(m, k, value);
            free(k);
        }
        return m;
    }
    default:
        return NULL;
    }
}

static bool numbers_equal(const cJSON *a, const cJSON *b)
{
    double x = a->valuedouble, y = b->valuedouble;
    return x == y || fabs(x - y) <= fabs(y) * 1e-15;
}

static bool json_equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        return numbers_equal(a, b);
    }
    if ((cJSON_IsArray(a) && cJSON_IsArray(b)) || (cJSON_IsObject(a) && cJSON_IsObject(b))) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            return false;
        }
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next) {
            if ((cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) || !json_equal(x, y)) {
                return false;
            }
        }
        return true;
    }
    return cJSON_Compare(a, b, true);
}

static void test_appendix_a(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/conformance/cbor-test-vectors/appendix_a.json",
             testutil_shared_dir());
    char *text = testutil_read_file(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    cJSON *vectors = cJSON_Parse(text);
    free(text);
    CU_ASSERT_FATAL(cJSON_IsArray(vectors));
    int checked = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vectors)
    {
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItem(v, "hex"));
        size_t len;
        uint8_t *bytes = testutil_hex(hex, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);

        char diag[1024];
        fogpay_error err = fogpay_cbor_diagnose(bytes, len, diag, sizeof diag);
        if (strcmp(hex, "f818") == 0) {
            /* simple(24) in two bytes comes from RFC 7049; RFC 8949 section
             * 3.3 made it not well-formed, and the reader follows 8949. */
            CU_ASSERT_EQUAL(err, FOGPAY_ERR_CBOR_ILL_FORMED);
            free(bytes);
            checked++;
            continue;
        }
        if (err != FOGPAY_OK) {
            printf("\n  %s: %s\n", hex, fogpay_error_name(err));
        }
        CU_ASSERT_EQUAL(err, FOGPAY_OK);

        const cJSON *expected_diag = cJSON_GetObjectItem(v, "diagnostic");
        const cJSON *decoded = cJSON_GetObjectItem(v, "decoded");
        if (expected_diag) {
            if (strcmp(diag, expected_diag->valuestring) != 0) {
                printf("\n  %s: got %s, expected %s\n", hex, diag, expected_diag->valuestring);
            }
            CU_ASSERT_STRING_EQUAL(diag, expected_diag->valuestring);
        } else {
            fogpay_cbor_reader r;
            fogpay_cbor_reader_init_generic(&r, bytes, len);
            cJSON *mine = to_json(&r, 0);
            CU_ASSERT_PTR_NOT_NULL(mine);
            bool same = mine && json_equal(mine, decoded) && fogpay_cbor_reader_done(&r);
            if (!same) {
                printf("\n  %s: decoded differently (diagnostic %s)\n", hex, diag);
            }
            CU_ASSERT(same);
            cJSON_Delete(mine);
        }

        /* The skip walk agrees with the diagnostic walk on every vector. */
        fogpay_cbor_reader r;
        fogpay_cbor_reader_init_generic(&r, bytes, len);
        CU_ASSERT_EQUAL(fogpay_cbor_skip(&r), FOGPAY_OK);
        CU_ASSERT(fogpay_cbor_reader_done(&r));

        /* Every truncation is refused. */
        for (size_t cut = 0; cut < len; cut++) {
            CU_ASSERT_NOT_EQUAL(fogpay_cbor_diagnose(bytes, cut, diag, sizeof diag), FOGPAY_OK);
        }
        free(bytes);
        checked++;
    }
    cJSON_Delete(vectors);
    CU_ASSERT_EQUAL(checked, 82);
}

/* The strict reader refuses what the generic one accepts, each with its
 * own error. */
static void test_strict_refusals(void)
{
    static const struct {
        const char *hex;
        fogpay_error err;
    } cases[] = {
        {"1817", FOGPAY_ERR_CBOR_NOT_DETERMINISTIC},       /* 23 in two bytes */
        {"190017", FOGPAY_ERR_CBOR_NOT_DETERMINISTIC},     /* 23 in three bytes */
        {"1a0000ffff", FOGPAY_ERR_CBOR_NOT_DETERMINISTIC}, /* 65535 in five bytes */
        {"1b00000000ffffffff", FOGPAY_ERR_CBOR_NOT_DETERMINISTIC},
        {"5f4101ff", FOGPAY_ERR_CBOR_INDEFINITE},
        {"9fff", FOGPAY_ERR_CBOR_INDEFINITE},
        {"f93c00", FOGPAY_ERR_CBOR_TYPE},
        {"fb3ff199999999999a", FOGPAY_ERR_CBOR_TYPE},
        {"1c", FOGPAY_ERR_CBOR_ILL_FORMED},   /* reserved additional information */
        {"f800", FOGPAY_ERR_CBOR_ILL_FORMED}, /* simple value below 32 in two bytes */
        {"1f", FOGPAY_ERR_CBOR_ILL_FORMED},   /* indefinite unsigned integer */
        {"62c328", FOGPAY_ERR_TEXT_INVALID},
        {"63eda080", FOGPAY_ERR_TEXT_INVALID},     /* a UTF-16 surrogate */
        {"5a00010000", FOGPAY_ERR_CBOR_TRUNCATED}, /* 65536 bytes announced, none present */
        {"1b", FOGPAY_ERR_CBOR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *bytes = testutil_hex(cases[i].hex, &len);
        fogpay_cbor_reader r;
        fogpay_cbor_item item;
        fogpay_cbor_reader_init(&r, bytes, len);
        fogpay_error err = fogpay_cbor_read(&r, &item);
        if (err != cases[i].err) {
            printf("\n  %s: %s, expected %s\n", cases[i].hex, fogpay_error_name(err),
                   fogpay_error_name(cases[i].err));
        }
        CU_ASSERT_EQUAL(err, cases[i].err);
        free(bytes);
    }
}

static void test_hostile_nesting(void)
{
    /* A million nested arrays would overflow a recursive decoder's stack. */
    size_t depth = 1000000;
    uint8_t *deep = malloc(depth + 1);
    memset(deep, 0x81, depth);
    deep[depth] = 0x01;
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init_generic(&r, deep, depth + 1);
    CU_ASSERT_EQUAL(fogpay_cbor_skip(&r), FOGPAY_ERR_CBOR_TOO_DEEP);
    char diag[64];
    CU_ASSERT_EQUAL(fogpay_cbor_diagnose(deep, depth + 1, diag, sizeof diag),
                    FOGPAY_ERR_CBOR_TOO_DEEP);

    /* Nesting at the limit is fine. */
    fogpay_cbor_reader_init(&r, deep + depth - FOGPAY_CBOR_DEPTH_MAX, FOGPAY_CBOR_DEPTH_MAX + 1);
    CU_ASSERT_EQUAL(fogpay_cbor_skip(&r), FOGPAY_OK);
    free(deep);

    /* Counts that promise more items than bytes exist. */
    static const char *liars[] = {"9bffffffffffffffff", "bbffffffffffffffff", "99ffff00",
                                  "bb7fffffffffffffff01"};
    for (size_t i = 0; i < sizeof liars / sizeof liars[0]; i++) {
        size_t len;
        uint8_t *bytes = testutil_hex(liars[i], &len);
        fogpay_cbor_reader_init(&r, bytes, len);
        CU_ASSERT_EQUAL(fogpay_cbor_skip(&r), FOGPAY_ERR_CBOR_TRUNCATED);
        free(bytes);
    }

    /* A break where none may be. */
    static const char *breaks[] = {"ff", "81ff", "bf01ff"};
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        size_t len;
        uint8_t *bytes = testutil_hex(breaks[i], &len);
        CU_ASSERT_EQUAL(fogpay_cbor_diagnose(bytes, len, diag, sizeof diag),
                        FOGPAY_ERR_CBOR_ILL_FORMED);
        free(bytes);
    }
}

static void test_writer(void)
{
    uint8_t buf[64];
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, sizeof buf);
    fogpay_cbor_put_uint(&w, 23);
    fogpay_cbor_put_uint(&w, 24);
    fogpay_cbor_put_uint(&w, 255);
    fogpay_cbor_put_uint(&w, 256);
    fogpay_cbor_put_uint(&w, 65536);
    fogpay_cbor_put_uint(&w, 4294967296ull);
    fogpay_cbor_put_int(&w, -1);
    fogpay_cbor_put_int(&w, INT64_MIN);
    fogpay_cbor_put_text(&w, "a", 1);
    fogpay_cbor_put_bool(&w, true);
    fogpay_cbor_put_null(&w);
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fogpay_cbor_writer_finish(&w, &len), FOGPAY_OK);
    size_t want_len;
    uint8_t *want = testutil_hex("17181818ff1901001a000100001b000000010000000020"
                                 "3b7fffffffffffffff6161f5f6",
                                 &want_len);
    CU_ASSERT_EQUAL(len, want_len);
    CU_ASSERT(memcmp(buf, want, want_len) == 0);
    free(want);

    /* The first error sticks and nothing is written past the buffer. */
    uint8_t small[4];
    fogpay_cbor_writer_init(&w, small, sizeof small);
    fogpay_cbor_put_text(&w, "hello", 5);
    fogpay_cbor_put_uint(&w, 1);
    CU_ASSERT_EQUAL(fogpay_cbor_writer_finish(&w, &len), FOGPAY_ERR_BUFFER_TOO_SMALL);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("cbor", NULL, NULL);
    CU_add_test(s, "RFC 8949 appendix A vectors", test_appendix_a);
    CU_add_test(s, "strict mode refusals", test_strict_refusals);
    CU_add_test(s, "hostile nesting and lengths", test_hostile_nesting);
    CU_add_test(s, "writer shortest heads", test_writer);
    return testutil_run();
}
