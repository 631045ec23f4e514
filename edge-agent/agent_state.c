/*
 * agent_state.c - the device's persisted state (suspended, a hook pending,
 * the last command applied, limits, last known balances) in
 * STATEDIR/state.
 *
 * The file is replaced atomically through fogpay_journal_file_replace(),
 * so after a crash it holds either the old or the new state, never a mix;
 * the agent's state in memory changes only once the new one is durable.
 * Its body is deterministic CBOR (common/fogpay_cbor.h), a map whose keys
 * are all present, in order:
 *   1 format (3), 2 suspended (bool), 3 hook pending (agent_hook_pending),
 *   4 last command seq, 5 per-payment, 6 per-day, 7 wallet-max limits,
 *   8 balances: [* [currency, balance (int), chain position]],
 *   9 gateway keys: [* [alg (int), public key (bytes), from ms, until ms]]
 * Format 2 is format 3 without key 9 (no gateway key announced yet) and is
 * read as such.
 * Format 1, the hand-packed layout of earlier versions (a version byte 1,
 * then big-endian fields), is read once at open and written again as
 * format 2, so a device keeps its suspension, limits and balances across
 * the upgrade. Anything else is FOGPAY_ERR_STORAGE.
 *
 * What each remembered balance has in open holds lives in STATEDIR/held,
 * replaced the same way, as [* [currency, held]]: the state's framed body
 * has no room left beside three gateway keys. It is written after the
 * state, only when it changed; a crash in between leaves the message that
 * brought it pending, and its receipt, sent again, writes both again.
 */
#include <string.h>

#include "agent_bytes.h"
#include "agent_internal.h"
#include "fogpay_cbor.h"

#define STATE_FORMAT    3
#define STATE_PAIRS     9
#define STATE_FORMAT_V2 2 /* without key 9 */
/* Format 1: version, suspended, hook, four u64, count, then per balance a
 * u16 currency and two u64. */
#define STATE_V1_HEAD    36
#define STATE_V1_BALANCE (2 + 8 + 8)
/* Each key and scalar at most 10 bytes, each balance at most 23, each
 * gateway key at most 87 (array head, alg, bytes head and key, two times). */
#define STATE_GATEWAY_KEY_MAX (1 + 1 + 2 + FOGPAY_PUBLIC_KEY_MAX + 9 + 9)
#define STATE_BYTES_MAX                                                                            \
    (1 + 7 * 10 + 2 + FOGPAY_AGENT_CURRENCIES_MAX * 23 + 2 +                                       \
     FOGPAY_AGENT_GATEWAY_KEYS_MAX * STATE_GATEWAY_KEY_MAX)
static_assert(STATE_BYTES_MAX <= FOGPAY_JOURNAL_BODY_MAX, "the state fits a framed file");
static_assert(STATE_V1_HEAD + FOGPAY_AGENT_CURRENCIES_MAX * STATE_V1_BALANCE <= STATE_BYTES_MAX,
              "a format 1 file fits the buffer");

static size_t state_encode(const agent_state *s, uint8_t *buf, size_t cap)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, cap);
    fogpay_cbor_put_map(&w, STATE_PAIRS);
    uint64_t values[] = {STATE_FORMAT,         0,
                         s->hook_pending,      s->last_command_seq,
                         s->per_payment_minor, s->per_day_minor,
                         s->wallet_max_minor};
    for (uint64_t k = 1; k <= 7; k++) {
        fogpay_cbor_put_uint(&w, k);
        if (k == 2) {
            fogpay_cbor_put_bool(&w, s->suspended);
        } else {
            fogpay_cbor_put_uint(&w, values[k - 1]);
        }
    }
    fogpay_cbor_put_uint(&w, 8);
    fogpay_cbor_put_array(&w, s->balance_count);
    for (size_t i = 0; i < s->balance_count; i++) {
        fogpay_cbor_put_array(&w, 3);
        fogpay_cbor_put_uint(&w, s->balances[i].currency);
        fogpay_cbor_put_int(&w, s->balances[i].balance_minor);
        fogpay_cbor_put_uint(&w, s->balances[i].position);
    }
    fogpay_cbor_put_uint(&w, 9);
    fogpay_cbor_put_array(&w, s->gateway_key_count);
    for (size_t i = 0; i < s->gateway_key_count; i++) {
        const fogpay_gateway_key *k = &s->gateway_keys[i];
        fogpay_cbor_put_array(&w, 4);
        fogpay_cbor_put_int(&w, k->alg);
        fogpay_cbor_put_bytes(&w, k->public_key, k->public_key_len);
        fogpay_cbor_put_uint(&w, k->from_ms);
        fogpay_cbor_put_uint(&w, k->until_ms);
    }
    size_t len = 0;
    return fogpay_cbor_writer_finish(&w, &len) == FOGPAY_OK ? len : 0;
}

/* The held file: a currency (3 bytes) and an amount (9) in a pair. */
#define HELD_FILE      "held"
#define HELD_BYTES_MAX (1 + FOGPAY_AGENT_CURRENCIES_MAX * (1 + 3 + 9))
static_assert(HELD_BYTES_MAX <= FOGPAY_JOURNAL_BODY_MAX, "the held amounts fit a framed file");

static size_t held_encode(const agent_state *s, uint8_t *buf, size_t cap)
{
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, cap);
    fogpay_cbor_put_array(&w, s->balance_count);
    for (size_t i = 0; i < s->balance_count; i++) {
        fogpay_cbor_put_array(&w, 2);
        fogpay_cbor_put_uint(&w, s->balances[i].currency);
        fogpay_cbor_put_uint(&w, s->balances[i].held_minor);
    }
    size_t len = 0;
    return fogpay_cbor_writer_finish(&w, &len) == FOGPAY_OK ? len : 0;
}

static bool held_changed(const agent_state *before, const agent_state *next)
{
    if (before->balance_count != next->balance_count) {
        return true;
    }
    for (size_t i = 0; i < next->balance_count; i++) {
        if (before->balances[i].held_minor != next->balances[i].held_minor) {
            return true;
        }
    }
    return false;
}

fogpay_error agent_state_store(fogpay_agent *a, const agent_state *next)
{
    uint8_t body[STATE_BYTES_MAX];
    size_t n = state_encode(next, body, sizeof body);
    fogpay_error err = n ? fogpay_journal_file_replace(a->journal, FOGPAY_AGENT_STATE_FILE, body, n)
                         : FOGPAY_ERR_BUFFER_TOO_SMALL;
    if (err == FOGPAY_OK && held_changed(&a->state, next)) {
        uint8_t held[HELD_BYTES_MAX];
        n = held_encode(next, held, sizeof held);
        err = n ? fogpay_journal_file_replace(a->journal, HELD_FILE, held, n)
                : FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    if (err != FOGPAY_OK) {
        agent_log("saving the state failed (%s); the state stays as it was",
                  fogpay_error_name(err));
        return err;
    }
    a->state = *next;
    return FOGPAY_OK;
}

/* Reads an unsigned integer of at most max; false otherwise. */
static bool state_uint(fogpay_cbor_reader *r, uint64_t max, uint64_t *out)
{
    fogpay_cbor_item it;
    if (fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_UINT || it.value > max) {
        return false;
    }
    *out = it.value;
    return true;
}

static bool state_key(fogpay_cbor_reader *r, uint64_t key)
{
    uint64_t k = 0;
    return state_uint(r, UINT64_MAX, &k) && k == key;
}

static bool state_balance(fogpay_cbor_reader *r, fogpay_agent_balance *b)
{
    fogpay_cbor_item it;
    uint64_t currency = 0;
    if (fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_ARRAY || it.value != 3 ||
        !state_uint(r, UINT16_MAX, &currency) || fogpay_cbor_read(r, &it) != FOGPAY_OK ||
        (it.type != FOGPAY_CBOR_UINT && it.type != FOGPAY_CBOR_NEGINT) ||
        it.value > (uint64_t)INT64_MAX) {
        return false;
    }
    b->currency = (uint16_t)currency;
    b->balance_minor = it.type == FOGPAY_CBOR_UINT ? (int64_t)it.value : -1 - (int64_t)it.value;
    return state_uint(r, UINT64_MAX, &b->position);
}

/* One gateway key [alg, public key, from, until], its kid computed. */
static bool state_gateway_key(fogpay_cbor_reader *r, fogpay_gateway_key *k)
{
    fogpay_cbor_item it;
    memset(k, 0, sizeof *k);
    if (fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_ARRAY || it.value != 4 ||
        fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_NEGINT ||
        (it.value != 7 && it.value != 6)) {
        return false;
    }
    k->alg = -1 - (int)it.value;
    if (fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_BYTES ||
        it.bytes.len == 0 || it.bytes.len > FOGPAY_PUBLIC_KEY_MAX) {
        return false;
    }
    memcpy(k->public_key, it.bytes.ptr, it.bytes.len);
    k->public_key_len = it.bytes.len;
    fogpay_key *key = NULL;
    bool ok = fogpay_key_from_public((fogpay_alg)k->alg, k->public_key, k->public_key_len, &key) ==
                  FOGPAY_OK &&
              fogpay_key_id(key, k->kid) == FOGPAY_OK;
    fogpay_key_free(key);
    return ok && state_uint(r, UINT64_MAX, &k->from_ms) && state_uint(r, UINT64_MAX, &k->until_ms);
}

static bool state_gateway_keys(fogpay_cbor_reader *r, agent_state *s)
{
    fogpay_cbor_item it;
    if (!state_key(r, 9) || fogpay_cbor_read(r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_ARRAY ||
        it.value > FOGPAY_AGENT_GATEWAY_KEYS_MAX) {
        return false;
    }
    for (size_t i = 0; i < it.value; i++) {
        if (!state_gateway_key(r, &s->gateway_keys[i])) {
            return false;
        }
    }
    s->gateway_key_count = (size_t)it.value;
    return true;
}

static bool state_decode(const uint8_t *body, size_t len, agent_state *s)
{
    fogpay_cbor_reader r;
    fogpay_cbor_item it;
    uint64_t format = 0, hook = 0, count = 0, pairs = 0;
    fogpay_cbor_reader_init(&r, body, len);
    if (fogpay_cbor_read(&r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_MAP) {
        return false;
    }
    pairs = it.value;
    if (!state_key(&r, 1) || !state_uint(&r, UINT64_MAX, &format) ||
        !((format == STATE_FORMAT && pairs == STATE_PAIRS) ||
          (format == STATE_FORMAT_V2 && pairs == STATE_PAIRS - 1)) ||
        !state_key(&r, 2) || fogpay_cbor_read(&r, &it) != FOGPAY_OK ||
        it.type != FOGPAY_CBOR_SIMPLE || (it.value != 20 && it.value != 21)) {
        return false;
    }
    s->suspended = it.value == 21;
    if (!state_key(&r, 3) || !state_uint(&r, AGENT_HOOK_RESUME, &hook) || !state_key(&r, 4) ||
        !state_uint(&r, UINT64_MAX, &s->last_command_seq) || !state_key(&r, 5) ||
        !state_uint(&r, UINT64_MAX, &s->per_payment_minor) || !state_key(&r, 6) ||
        !state_uint(&r, UINT64_MAX, &s->per_day_minor) || !state_key(&r, 7) ||
        !state_uint(&r, UINT64_MAX, &s->wallet_max_minor) || !state_key(&r, 8) ||
        fogpay_cbor_read(&r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_ARRAY ||
        it.value > FOGPAY_AGENT_CURRENCIES_MAX) {
        return false;
    }
    s->hook_pending = (uint8_t)hook;
    count = it.value;
    for (size_t i = 0; i < count; i++) {
        if (!state_balance(&r, &s->balances[i])) {
            return false;
        }
    }
    s->balance_count = (size_t)count;
    if (format == STATE_FORMAT && !state_gateway_keys(&r, s)) {
        return false;
    }
    return fogpay_cbor_reader_done(&r);
}

/* Format 1, hand-packed with big-endian fields. */
static bool state_decode_v1(const uint8_t *body, size_t len, agent_state *s)
{
    if (len < STATE_V1_HEAD || body[0] != 1 || body[35] > FOGPAY_AGENT_CURRENCIES_MAX ||
        len != STATE_V1_HEAD + (size_t)body[35] * STATE_V1_BALANCE) {
        return false;
    }
    s->suspended = body[1] != 0;
    s->hook_pending = body[2];
    s->last_command_seq = agent_load_be64(body + 3);
    s->per_payment_minor = agent_load_be64(body + 11);
    s->per_day_minor = agent_load_be64(body + 19);
    s->wallet_max_minor = agent_load_be64(body + 27);
    s->balance_count = body[35];
    for (size_t i = 0; i < s->balance_count; i++) {
        const uint8_t *p = body + STATE_V1_HEAD + i * STATE_V1_BALANCE;
        s->balances[i].currency = (uint16_t)(p[0] << 8 | p[1]);
        s->balances[i].balance_minor = (int64_t)agent_load_be64(p + 2);
        s->balances[i].position = agent_load_be64(p + 10);
    }
    return true;
}

/* Reads the held file into the balances of s whose currency it names
 * (none: nothing held). */
static fogpay_error held_load(fogpay_agent *a, agent_state *s)
{
    uint8_t body[HELD_BYTES_MAX];
    size_t len = 0;
    fogpay_error err = fogpay_journal_file_load(a->journal, HELD_FILE, body, sizeof body, &len);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK;
    }
    fogpay_cbor_reader r;
    fogpay_cbor_item it;
    fogpay_cbor_reader_init(&r, body, len);
    if (err != FOGPAY_OK || fogpay_cbor_read(&r, &it) != FOGPAY_OK ||
        it.type != FOGPAY_CBOR_ARRAY || it.value > FOGPAY_AGENT_CURRENCIES_MAX) {
        return err != FOGPAY_OK ? err : FOGPAY_ERR_STORAGE;
    }
    for (uint64_t n = it.value, i = 0; i < n; i++) {
        uint64_t currency = 0, held = 0;
        if (fogpay_cbor_read(&r, &it) != FOGPAY_OK || it.type != FOGPAY_CBOR_ARRAY ||
            it.value != 2 || !state_uint(&r, UINT16_MAX, &currency) ||
            !state_uint(&r, INT64_MAX, &held)) {
            return FOGPAY_ERR_STORAGE;
        }
        for (size_t b = 0; b < s->balance_count; b++) {
            if (s->balances[b].currency == currency) {
                s->balances[b].held_minor = held;
            }
        }
    }
    return fogpay_cbor_reader_done(&r) ? FOGPAY_OK : FOGPAY_ERR_STORAGE;
}

fogpay_error agent_state_load(fogpay_agent *a)
{
    uint8_t body[STATE_BYTES_MAX];
    size_t len = 0;
    memset(&a->state, 0, sizeof a->state);
    fogpay_error err =
        fogpay_journal_file_load(a->journal, FOGPAY_AGENT_STATE_FILE, body, sizeof body, &len);
    if (err == FOGPAY_ERR_NOT_FOUND) {
        return FOGPAY_OK;
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    agent_state s;
    memset(&s, 0, sizeof s);
    if (len > 0 && body[0] == 1) {
        if (!state_decode_v1(body, len, &s)) {
            return FOGPAY_ERR_STORAGE;
        }
        a->state = s;
        /* When this fails the file stays in format 1 and is read again. */
        if (agent_state_store(a, &s) == FOGPAY_OK) {
            agent_log("state file migrated from format 1 to %d", STATE_FORMAT);
        }
        return FOGPAY_OK;
    }
    if (!state_decode(body, len, &s)) {
        agent_log("the state file is not one of formats 1 to %d", STATE_FORMAT);
        return FOGPAY_ERR_STORAGE;
    }
    err = held_load(a, &s);
    if (err == FOGPAY_OK) {
        a->state = s;
    }
    return err;
}
