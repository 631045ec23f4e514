/*
 * fogpay_message.c - encode and decode of the messages of the wire contract.
 *
 * Design. Each message is described once, by a table of its fields (key,
 * kind, whether required, range, where it lives in the struct). One decoder
 * walks a map against such a table and one encoder writes a struct from it,
 * so the CDDL in schemas/ and this file have one shape to agree on. Rules
 * that tie fields together (exactly one payee, a chain hash only with a
 * position) live in a small check function per message, run by the decoder.
 * The encoder validates by decoding what it wrote: whatever it emits, the
 * decoder accepts, and whatever the decoder refuses, the encoder refuses
 * with the same error.
 *
 * Optional fields are absent exactly when their value is zero or empty, so
 * a decoded message re-encodes byte for byte; an optional field sent with a
 * zero or empty value is refused (FOGPAY_ERR_FIELD_RANGE). The one signed
 * integer, a receipt's balance (key 7), is the exception: its presence is a
 * flag of its own, it is present exactly when the receipt is settled, and 0
 * is a balance like any other.
 */
#include "fogpay_message.h"
#include "fogpay_note.h"
#include "fogpay_topic.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef enum field_kind {
    FIELD_UINT,   /* unsigned integer stored in 1, 2, 4 or 8 bytes */
    FIELD_INT,    /* signed 64-bit integer with a presence flag */
    FIELD_ID,     /* text of [A-Za-z0-9._:-] */
    FIELD_PRINT,  /* text of printable ASCII */
    FIELD_BYTES,  /* byte string of exactly size bytes */
    FIELD_TUPLES, /* array of 1.. arrays of unsigned integers (tuple_spec) */
    FIELD_IDS,    /* array of 1.. distinct texts of FIELD_ID's alphabet */
} field_kind;

/* The tuples of a FIELD_TUPLES field: each an array of width unsigned
 * integers, held as a struct of width uint64_t members, min[i] and max[i]
 * bounding member i; the field's count is a uint8_t at its flag_offset,
 * at most its size over the tuple's. */
#define TUPLE_WIDTH_MAX 3
typedef struct tuple_spec {
    uint8_t width;
    uint64_t min[TUPLE_WIDTH_MAX];
    uint64_t max[TUPLE_WIDTH_MAX];
} tuple_spec;

typedef struct field_spec {
    uint8_t key;
    uint8_t kind;
    bool required;
    size_t offset;
    size_t size;
    uint64_t min;
    uint64_t max;
    fogpay_error below; /* error for a value under min (FIELD_RANGE if 0) */
    fogpay_error above; /* error for a value over max */
    size_t flag_offset; /* FIELD_INT: its bool presence flag; FIELD_TUPLES, FIELD_IDS: its
                         * count (a uint8_t) */
    const tuple_spec *tuples;
} field_spec;

#define MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#define UINT_FIELD(type, k, member, req, lo, hi)                                                   \
    {                                                                                              \
        .key = k, .kind = FIELD_UINT, .required = req, .offset = offsetof(type, member),           \
        .size = MEMBER_SIZE(type, member), .min = lo, .max = hi                                    \
    }
#define TEXT_FIELD(type, k, member, req, text_kind)                                                \
    {                                                                                              \
        .key = k, .kind = text_kind, .required = req, .offset = offsetof(type, member),            \
        .size = MEMBER_SIZE(type, member)                                                          \
    }
#define BYTES_FIELD(type, k, member, req)                                                          \
    {                                                                                              \
        .key = k, .kind = FIELD_BYTES, .required = req, .offset = offsetof(type, member),          \
        .size = MEMBER_SIZE(type, member)                                                          \
    }

#define TUPLES_FIELD(type, k, member, count_member, spec)                                          \
    {                                                                                              \
        .key = k, .kind = FIELD_TUPLES, .required = false, .offset = offsetof(type, member),       \
        .size = MEMBER_SIZE(type, member), .flag_offset = offsetof(type, count_member),            \
        .tuples = &spec                                                                            \
    }

/* A FIELD_IDS field: an array of char[width] members (each text with its
 * NUL), size / width of them at most. */
#define IDS_FIELD(type, k, member, count_member)                                                   \
    {                                                                                              \
        .key = k, .kind = FIELD_IDS, .required = false, .offset = offsetof(type, member),          \
        .size = MEMBER_SIZE(type, member), .max = MEMBER_SIZE(type, member[0]),                    \
        .flag_offset = offsetof(type, count_member)                                                \
    }

#define U8_MAX_VALUE  0xffu
#define U16_MAX_VALUE 0xffffu
#define TIME_MS_MAX   0x7fffffffffffull /* year 6429: any real time, and exact in JSON */
#define TIME_S_MAX    0xffffffffffull

/* Keys of a fogpay map are below this, so presence fits in a bit mask of
 * 64 bits (the event's key 39 is the highest so far); a map of more pairs
 * than that is refused before its keys are read. */
#define FIELD_KEY_LIMIT 64

static const field_spec intent_fields[] = {
    TEXT_FIELD(fogpay_intent, 1, device_id, true, FIELD_ID),
    UINT_FIELD(fogpay_intent, 2, seq, true, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_intent, 3, payee_device, false, FIELD_ID),
    UINT_FIELD(fogpay_intent, 4, payee_account, false, 1, FOGPAY_STORED_INT_MAX),
    {.key = 5,
     .kind = FIELD_UINT,
     .required = true,
     .offset = offsetof(fogpay_intent, amount_minor),
     .size = MEMBER_SIZE(fogpay_intent, amount_minor),
     .min = 1,
     .max = FOGPAY_AMOUNT_MAX_MINOR,
     .below = FOGPAY_ERR_AMOUNT_ZERO,
     .above = FOGPAY_ERR_AMOUNT_TOO_LARGE},
    UINT_FIELD(fogpay_intent, 6, currency, true, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    UINT_FIELD(fogpay_intent, 7, created_s, true, 1, TIME_S_MAX),
    UINT_FIELD(fogpay_intent, 8, ttl_s, true, 1, FOGPAY_TTL_MAX_S),
    TEXT_FIELD(fogpay_intent, 9, reference, false, FIELD_PRINT),
    BYTES_FIELD(fogpay_intent, 10, prev_hash, true),
    {.key = 11,
     .kind = FIELD_UINT,
     .required = false,
     .offset = offsetof(fogpay_intent, hold_s),
     .size = MEMBER_SIZE(fogpay_intent, hold_s),
     .min = 1,
     .max = FOGPAY_HOLD_TIMEOUT_MAX_S,
     .above = FOGPAY_ERR_HOLD_TIMEOUT_TOO_LONG},
    TEXT_FIELD(fogpay_intent, 12, plan_id, false, FIELD_ID),
};

static const field_spec hold_message_fields[] = {
    TEXT_FIELD(fogpay_hold_message, 1, device_id, true, FIELD_ID),
    UINT_FIELD(fogpay_hold_message, 2, seq, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_hold_message, 3, op, true, 0, FOGPAY_HOLD_VOID),
    UINT_FIELD(fogpay_hold_message, 4, hold_id, true, 1, FOGPAY_STORED_INT_MAX),
    {.key = 5,
     .kind = FIELD_UINT,
     .required = false,
     .offset = offsetof(fogpay_hold_message, amount_minor),
     .size = MEMBER_SIZE(fogpay_hold_message, amount_minor),
     .min = 1,
     .max = FOGPAY_AMOUNT_MAX_MINOR,
     .below = FOGPAY_ERR_AMOUNT_ZERO,
     .above = FOGPAY_ERR_AMOUNT_TOO_LARGE},
    UINT_FIELD(fogpay_hold_message, 6, created_s, true, 1, TIME_S_MAX),
    BYTES_FIELD(fogpay_hold_message, 7, prev_hash, true),
};

static const field_spec usage_fields[] = {
    TEXT_FIELD(fogpay_usage, 1, device_id, true, FIELD_ID),
    UINT_FIELD(fogpay_usage, 2, seq, true, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_usage, 3, meter_id, true, FIELD_ID),
    UINT_FIELD(fogpay_usage, 4, quantity, true, 0, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_usage, 5, unit, true, FIELD_ID),
    UINT_FIELD(fogpay_usage, 6, created_s, true, 1, TIME_S_MAX),
    BYTES_FIELD(fogpay_usage, 7, prev_hash, true),
};

static const field_spec bind_fields[] = {
    TEXT_FIELD(fogpay_bind, 1, device_id, true, FIELD_ID),
    UINT_FIELD(fogpay_bind, 2, seq, true, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_bind, 3, meter_id, true, FIELD_ID),
    TEXT_FIELD(fogpay_bind, 4, tariff_id, true, FIELD_ID),
    UINT_FIELD(fogpay_bind, 5, created_s, true, 1, TIME_S_MAX),
    BYTES_FIELD(fogpay_bind, 6, prev_hash, true),
    UINT_FIELD(fogpay_bind, 7, hold_id, false, 1, FOGPAY_STORED_INT_MAX),
};

static const field_spec receipt_fields[] = {
    TEXT_FIELD(fogpay_receipt, 1, device_id, true, FIELD_ID),
    /* The seq as the answered message carried it, even one refused as out
     * of range, so that the device can match the refusal. */
    UINT_FIELD(fogpay_receipt, 2, seq, true, 0, UINT64_MAX),
    UINT_FIELD(fogpay_receipt, 3, kind, true, 0, FOGPAY_RECEIPT_NOTE_REDEEM),
    UINT_FIELD(fogpay_receipt, 4, status, true, 0, FOGPAY_STATUS_HELD),
    UINT_FIELD(fogpay_receipt, 5, reason, false, 1, FOGPAY_ERR_PRODUCT_LAST),
    UINT_FIELD(fogpay_receipt, 6, transfer_id, false, 1, FOGPAY_STORED_INT_MAX),
    {.key = 7,
     .kind = FIELD_INT,
     .required = false,
     .offset = offsetof(fogpay_receipt, balance_after_minor),
     .size = sizeof(int64_t),
     .flag_offset = offsetof(fogpay_receipt, has_balance)},
    UINT_FIELD(fogpay_receipt, 8, position, false, 1, FOGPAY_STORED_INT_MAX),
    BYTES_FIELD(fogpay_receipt, 9, chain_hash, false),
    TEXT_FIELD(fogpay_receipt, 10, gateway_id, true, FIELD_ID),
    UINT_FIELD(fogpay_receipt, 11, time_s, true, 1, TIME_S_MAX),
    BYTES_FIELD(fogpay_receipt, 12, intent_hash, true),
    UINT_FIELD(fogpay_receipt, 13, currency, false, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    UINT_FIELD(fogpay_receipt, 14, hold_id, false, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_receipt, 15, hold_expiry_s, false, 1, TIME_S_MAX),
    UINT_FIELD(fogpay_receipt, 16, held_minor, false, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_receipt, 17, charge_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_receipt, 18, consumption, false, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_receipt, 19, tariff_id, false, FIELD_ID),
    UINT_FIELD(fogpay_receipt, 20, legs_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_receipt, 21, hold_left_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_receipt, 22, paid_up_to_s, false, 1, TIME_S_MAX),
    TEXT_FIELD(fogpay_receipt, 23, plan_id, false, FIELD_ID),
    UINT_FIELD(fogpay_receipt, 24, plan_arrears, false, 1, FOGPAY_PLAN_INSTALMENTS_MAX),
    UINT_FIELD(fogpay_receipt, 25, plan_left, false, 1, FOGPAY_PLAN_INSTALMENTS_MAX),
    UINT_FIELD(fogpay_receipt, 26, note_count, false, 1, FOGPAY_NOTE_WITHDRAW_MAX),
};

static const field_spec command_fields[] = {
    TEXT_FIELD(fogpay_command, 1, device_id, true, FIELD_ID),
    UINT_FIELD(fogpay_command, 2, command_seq, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_command, 3, kind, true, 0, FOGPAY_COMMAND_PLAN),
    UINT_FIELD(fogpay_command, 4, issued_s, true, 1, TIME_S_MAX),
    TEXT_FIELD(fogpay_command, 5, gateway_id, true, FIELD_ID),
    UINT_FIELD(fogpay_command, 6, reason, false, 1, FOGPAY_ERR_PRODUCT_LAST),
    UINT_FIELD(fogpay_command, 7, per_payment_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_command, 8, per_day_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_command, 9, wallet_max_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    TEXT_FIELD(fogpay_command, 10, gateway_key, false, FIELD_ID),
    TEXT_FIELD(fogpay_command, 22, plan_id, false, FIELD_ID),
    UINT_FIELD(fogpay_command, 23, next_due_s, false, 1, TIME_S_MAX),
    UINT_FIELD(fogpay_command, 24, amount_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_command, 25, paid_up_to_s, false, 1, TIME_S_MAX),
    UINT_FIELD(fogpay_command, 26, lender_account, false, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_command, 27, currency, false, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    UINT_FIELD(fogpay_command, 28, instalment, false, 1, FOGPAY_PLAN_INSTALMENTS_MAX),
    UINT_FIELD(fogpay_command, 29, plan_left, false, 1, FOGPAY_PLAN_INSTALMENTS_MAX),
    UINT_FIELD(fogpay_command, 30, plan_arrears, false, 1, FOGPAY_PLAN_INSTALMENTS_MAX),
};

/* A further leg of a transfer: [debit, credit, amount]. */
static const tuple_spec transfer_leg_spec = {
    .width = 3,
    .min = {1, 1, 1},
    .max = {FOGPAY_STORED_INT_MAX, FOGPAY_STORED_INT_MAX, FOGPAY_AMOUNT_MAX_MINOR},
};

/* A fee leg of a fee schedule: [account, basis points]. */
/* A plan's schedule [rate_bp, instalment_count, period_ms] and terms
 * [grace_ms, shortfall, collect] (ledger.h, fogpay_plan); grace at most a
 * period is a rule across fields of the ledger's. */
static const tuple_spec plan_schedule_spec = {
    .width = 3,
    .min = {0, 1, FOGPAY_PLAN_PERIOD_MS_MIN},
    .max = {FOGPAY_PLAN_RATE_BP_MAX, FOGPAY_PLAN_INSTALMENTS_MAX, FOGPAY_PLAN_PERIOD_MS_MAX},
};
static const tuple_spec plan_terms_spec = {
    .width = 3,
    .min = {0, 0, 0},
    .max = {FOGPAY_PLAN_PERIOD_MS_MAX, 1, 1},
};

static const tuple_spec fee_leg_spec = {
    .width = 2,
    .min = {1, 1},
    .max = {FOGPAY_STORED_INT_MAX, FOGPAY_BASIS_POINTS - 1},
};

static const field_spec transfer_fields[] = {
    UINT_FIELD(fogpay_transfer, 1, position, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_transfer, 2, kind, true, 0, FOGPAY_TRANSFER_HOLD_CHARGE),
    UINT_FIELD(fogpay_transfer, 3, debit_account, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_transfer, 4, credit_account, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_transfer, 5, amount_minor, true, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_transfer, 6, currency, true, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    UINT_FIELD(fogpay_transfer, 7, time_ms, true, 1, TIME_MS_MAX),
    TEXT_FIELD(fogpay_transfer, 8, device_id, false, FIELD_ID),
    UINT_FIELD(fogpay_transfer, 9, seq, false, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_transfer, 10, payer_entity, false, FIELD_ID),
    TEXT_FIELD(fogpay_transfer, 11, payee_entity, false, FIELD_ID),
    BYTES_FIELD(fogpay_transfer, 12, intent_hash, false),
    TEXT_FIELD(fogpay_transfer, 13, reference, false, FIELD_PRINT),
    UINT_FIELD(fogpay_transfer, 14, related_position, false, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_transfer, 18, meter_id, false, FIELD_ID),
    TEXT_FIELD(fogpay_transfer, 19, tariff_id, false, FIELD_ID),
    TUPLES_FIELD(fogpay_transfer, 20, legs, leg_count, transfer_leg_spec),
    TEXT_FIELD(fogpay_transfer, 24, plan_id, false, FIELD_ID),
    UINT_FIELD(fogpay_transfer, 25, instalment, false, 1, FOGPAY_PLAN_INSTALMENTS_MAX),
};

static const field_spec event_fields[] = {
    UINT_FIELD(fogpay_event, 1, position, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_event, 2, kind, true, 0, FOGPAY_EVENT_ERASURE),
    UINT_FIELD(fogpay_event, 3, time_ms, true, 1, TIME_MS_MAX),
    TEXT_FIELD(fogpay_event, 4, device_id, false, FIELD_ID),
    UINT_FIELD(fogpay_event, 5, seq, false, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_event, 6, meter_id, false, FIELD_ID),
    UINT_FIELD(fogpay_event, 7, quantity, false, 1, FOGPAY_STORED_INT_MAX),
    TEXT_FIELD(fogpay_event, 8, unit, false, FIELD_ID),
    TEXT_FIELD(fogpay_event, 9, entity_id, false, FIELD_ID),
    UINT_FIELD(fogpay_event, 10, role, false, 1, 1),
    UINT_FIELD(fogpay_event, 11, effective_ms, false, 1, TIME_MS_MAX),
    UINT_FIELD(fogpay_event, 12, status, false, 1, 2),
    BYTES_FIELD(fogpay_event, 13, usage_hash, false),
    BYTES_FIELD(fogpay_event, 14, kid, false),
    UINT_FIELD(fogpay_event, 15, reason, false, 1, FOGPAY_ERR_PRODUCT_LAST),
    UINT_FIELD(fogpay_event, 20, fee_currency, false, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    TUPLES_FIELD(fogpay_event, 21, fee_legs, fee_leg_count, fee_leg_spec),
    UINT_FIELD(fogpay_event, 22, fee_remainder, false, 1, FOGPAY_LEGS_MAX - 1),
    TEXT_FIELD(fogpay_event, 23, login, false, FIELD_ID),
    UINT_FIELD(fogpay_event, 24, login_removed, false, 1, 1),
    TEXT_FIELD(fogpay_event, 16, tariff_id, false, FIELD_ID),
    TEXT_FIELD(fogpay_event, 17, price, false, FIELD_PRINT),
    UINT_FIELD(fogpay_event, 18, minimum_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_event, 19, currency, false, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    /* After 16..19: a plan event carries keys of both blocks, in order. */
    TEXT_FIELD(fogpay_event, 25, plan_id, false, FIELD_ID),
    UINT_FIELD(fogpay_event, 26, principal_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    TUPLES_FIELD(fogpay_event, 27, plan_schedule, plan_schedule_count, plan_schedule_spec),
    TUPLES_FIELD(fogpay_event, 28, plan_terms, plan_terms_count, plan_terms_spec),
    UINT_FIELD(fogpay_event, 29, arrears_minor, false, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_event, 36, erased_fields, false, 1, 7),
    IDS_FIELD(fogpay_event, 37, plan_payees, plan_payee_count),
    UINT_FIELD(fogpay_event, 39, hold_id, false, 1, FOGPAY_STORED_INT_MAX),
};

/* Keys 1..7 of a batch; key 8 or 9, the records, is read by
 * fogpay_batch_next() or fogpay_batch_next_event(). */
static const field_spec batch_header_fields[] = {
    TEXT_FIELD(fogpay_batch_header, 1, gateway_id, true, FIELD_ID),
    UINT_FIELD(fogpay_batch_header, 2, batch_seq, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_batch_header, 3, first_position, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_batch_header, 4, last_position, true, 1, FOGPAY_STORED_INT_MAX),
    BYTES_FIELD(fogpay_batch_header, 5, hash_before, true),
    BYTES_FIELD(fogpay_batch_header, 6, hash_after, true),
    UINT_FIELD(fogpay_batch_header, 7, created_ms, true, 1, TIME_MS_MAX),
};

static const field_spec batch_ack_fields[] = {
    TEXT_FIELD(fogpay_batch_ack, 1, gateway_id, true, FIELD_ID),
    UINT_FIELD(fogpay_batch_ack, 2, batch_seq, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_batch_ack, 3, status, true, 0, FOGPAY_ACK_RESEND),
    UINT_FIELD(fogpay_batch_ack, 4, reason, false, 1, 99),
    UINT_FIELD(fogpay_batch_ack, 5, stored_position, true, 0, FOGPAY_STORED_INT_MAX),
    BYTES_FIELD(fogpay_batch_ack, 6, stored_hash, true),
    UINT_FIELD(fogpay_batch_ack, 7, resend_from, false, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_batch_ack, 8, stream, false, 1, FOGPAY_STREAM_NOTES),
};

#define COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* ---- field access ------------------------------------------------------ */

static uint64_t uint_get(const void *base, const field_spec *f)
{
    const uint8_t *p = (const uint8_t *)base + f->offset;
    switch (f->size) {
    case 1:
        return *p;
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

static void uint_set(void *base, const field_spec *f, uint64_t value)
{
    uint8_t *p = (uint8_t *)base + f->offset;
    switch (f->size) {
    case 1:
        *p = (uint8_t)value;
        break;
    case 2: {
        uint16_t v = (uint16_t)value;
        memcpy(p, &v, 2);
        break;
    }
    case 4: {
        uint32_t v = (uint32_t)value;
        memcpy(p, &v, 4);
        break;
    }
    default:
        memcpy(p, &value, 8);
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* True when the field has a value to send (required fields always do). */
static bool field_present(const void *base, const field_spec *f)
{
    const uint8_t *p = (const uint8_t *)base + f->offset;
    if (f->required) {
        return true;
    }
    switch (f->kind) {
    case FIELD_UINT:
        return uint_get(base, f) != 0;
    case FIELD_INT:
        return *((const bool *)((const uint8_t *)base + f->flag_offset));
    case FIELD_BYTES:
        return !all_zero(p, f->size);
    case FIELD_TUPLES:
    case FIELD_IDS:
        return *((const uint8_t *)base + f->flag_offset) != 0;
    default:
        return p[0] != '\0';
    }
}

/* The most tuples a FIELD_TUPLES field holds. */
static size_t tuples_max(const field_spec *f)
{
    return f->size / (f->tuples->width * sizeof(uint64_t));
}

static bool text_allowed(uint8_t kind, uint8_t c)
{
    if (kind == FIELD_PRINT) {
        return c >= 0x20 && c <= 0x7e;
    }
    return fogpay_id_char(c);
}

/* ---- decoding ---------------------------------------------------------- */

/* Reads the array of a FIELD_TUPLES field whose head is item. */
static fogpay_error read_tuples(fogpay_cbor_reader *r, const fogpay_cbor_item *item,
                                const field_spec *f, void *base)
{
    const tuple_spec *t = f->tuples;
    if (item->type != FOGPAY_CBOR_ARRAY) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (item->value == 0 || item->value > tuples_max(f)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t *members = (uint64_t *)(void *)((uint8_t *)base + f->offset);
    for (uint64_t i = 0; i < item->value; i++) {
        fogpay_cbor_item head;
        fogpay_error err = fogpay_cbor_read(r, &head);
        if (err == FOGPAY_OK && head.type != FOGPAY_CBOR_ARRAY) {
            err = FOGPAY_ERR_CBOR_TYPE;
        }
        if (err == FOGPAY_OK && head.value != t->width) {
            err = FOGPAY_ERR_FIELD_RANGE;
        }
        for (uint8_t m = 0; err == FOGPAY_OK && m < t->width; m++) {
            fogpay_cbor_item v;
            err = fogpay_cbor_read(r, &v);
            if (err == FOGPAY_OK && v.type != FOGPAY_CBOR_UINT) {
                err = FOGPAY_ERR_CBOR_TYPE;
            }
            if (err == FOGPAY_OK && (v.value < t->min[m] || v.value > t->max[m])) {
                err = FOGPAY_ERR_FIELD_RANGE;
            }
            members[i * t->width + m] = v.value;
        }
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    *((uint8_t *)base + f->flag_offset) = (uint8_t)item->value;
    return FOGPAY_OK;
}

/* Reads one text of FIELD_ID's alphabet, shorter than cap, into out. */
static fogpay_error read_id(fogpay_cbor_reader *r, char *out, size_t cap)
{
    fogpay_cbor_item v;
    fogpay_error err = fogpay_cbor_read(r, &v);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (v.type != FOGPAY_CBOR_TEXT) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (v.bytes.len >= cap) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    if (v.bytes.len == 0) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    for (size_t i = 0; i < v.bytes.len; i++) {
        if (!text_allowed(FIELD_ID, v.bytes.ptr[i])) {
            return FOGPAY_ERR_TEXT_INVALID;
        }
    }
    memcpy(out, v.bytes.ptr, v.bytes.len);
    out[v.bytes.len] = '\0';
    return FOGPAY_OK;
}

/* Reads the array of a FIELD_IDS field whose head is item: 1.. texts,
 * each once. */
static fogpay_error read_ids(fogpay_cbor_reader *r, const fogpay_cbor_item *item,
                             const field_spec *f, void *base)
{
    if (item->type != FOGPAY_CBOR_ARRAY) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (item->value == 0 || item->value > f->size / f->max) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    char *ids = (char *)base + f->offset;
    for (uint64_t i = 0; i < item->value; i++) {
        fogpay_error err = read_id(r, ids + i * f->max, f->max);
        for (uint64_t j = 0; err == FOGPAY_OK && j < i; j++) {
            if (strcmp(ids + i * f->max, ids + j * f->max) == 0) {
                err = FOGPAY_ERR_FIELD_RANGE;
            }
        }
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    *((uint8_t *)base + f->flag_offset) = (uint8_t)item->value;
    return FOGPAY_OK;
}

static fogpay_error read_value(fogpay_cbor_reader *r, const field_spec *f, void *base)
{
    fogpay_cbor_item item;
    fogpay_error err = fogpay_cbor_read(r, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    uint8_t *p = (uint8_t *)base + f->offset;
    switch (f->kind) {
    case FIELD_TUPLES:
        return read_tuples(r, &item, f, base);
    case FIELD_IDS:
        return read_ids(r, &item, f, base);
    case FIELD_UINT:
        if (item.type != FOGPAY_CBOR_UINT) {
            return FOGPAY_ERR_CBOR_TYPE;
        }
        if (item.value < f->min) {
            return f->below ? f->below : FOGPAY_ERR_FIELD_RANGE;
        }
        if (item.value > f->max) {
            return f->above ? f->above : FOGPAY_ERR_FIELD_RANGE;
        }
        if (!f->required && item.value == 0) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
        uint_set(base, f, item.value);
        return FOGPAY_OK;
    case FIELD_INT: {
        if (item.type != FOGPAY_CBOR_UINT && item.type != FOGPAY_CBOR_NEGINT) {
            return FOGPAY_ERR_CBOR_TYPE;
        }
        if (item.value > (uint64_t)INT64_MAX) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
        int64_t v = item.type == FOGPAY_CBOR_UINT ? (int64_t)item.value : -1 - (int64_t)item.value;
        memcpy(p, &v, sizeof v);
        *((bool *)((uint8_t *)base + f->flag_offset)) = true;
        return FOGPAY_OK;
    }
    case FIELD_BYTES:
        if (item.type != FOGPAY_CBOR_BYTES) {
            return FOGPAY_ERR_CBOR_TYPE;
        }
        if (item.bytes.len != f->size) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
        if (!f->required && all_zero(item.bytes.ptr, item.bytes.len)) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
        memcpy(p, item.bytes.ptr, f->size);
        return FOGPAY_OK;
    default:
        if (item.type != FOGPAY_CBOR_TEXT) {
            return FOGPAY_ERR_CBOR_TYPE;
        }
        if (item.bytes.len >= f->size) {
            return FOGPAY_ERR_CBOR_TOO_LONG;
        }
        if (item.bytes.len == 0) {
            return FOGPAY_ERR_FIELD_RANGE;
        }
        for (size_t i = 0; i < item.bytes.len; i++) {
            if (!text_allowed(f->kind, item.bytes.ptr[i])) {
                return FOGPAY_ERR_TEXT_INVALID;
            }
        }
        memcpy(p, item.bytes.ptr, item.bytes.len);
        p[item.bytes.len] = '\0';
        return FOGPAY_OK;
    }
}

/* Reads pairs key/value pairs into base (zeroed by the caller) following
 * the table; keys must ascend. */
static fogpay_error decode_pairs(fogpay_cbor_reader *r, uint64_t pairs, const field_spec *fields,
                                 size_t count, void *base)
{
    /* One bit a key: the keys of every message are below 64. */
    uint64_t seen = 0;
    uint64_t last_key = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        fogpay_cbor_item key;
        fogpay_error err = fogpay_cbor_read(r, &key);
        if (err != FOGPAY_OK) {
            return err;
        }
        if (key.type != FOGPAY_CBOR_UINT) {
            return FOGPAY_ERR_CBOR_TYPE;
        }
        const field_spec *f = NULL;
        for (size_t k = 0; k < count; k++) {
            if (fields[k].key == key.value) {
                f = &fields[k];
                break;
            }
        }
        if (!f) {
            return FOGPAY_ERR_UNKNOWN_FIELD;
        }
        assert(f->key < 64); /* a table's key beyond what seen can mark */
        if (seen & (1ull << f->key)) {
            return FOGPAY_ERR_DUPLICATE_KEY;
        }
        if (i > 0 && key.value < last_key) {
            return FOGPAY_ERR_CBOR_NOT_DETERMINISTIC;
        }
        seen |= 1ull << f->key;
        last_key = key.value;
        err = read_value(r, f, base);
        if (err != FOGPAY_OK) {
            return err;
        }
    }
    for (size_t k = 0; k < count; k++) {
        if (fields[k].required && !(seen & (1ull << fields[k].key))) {
            return FOGPAY_ERR_MISSING_FIELD;
        }
    }
    return FOGPAY_OK;
}

/* Opens the top-level map of a message of at most max_len bytes. */
static fogpay_error open_map(fogpay_cbor_reader *r, const uint8_t *buf, size_t len, size_t max_len,
                             uint64_t *pairs)
{
    if (!buf) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (len > max_len) {
        return FOGPAY_ERR_PAYLOAD_TOO_LARGE;
    }
    fogpay_cbor_reader_init(r, buf, len);
    fogpay_cbor_item item;
    fogpay_error err = fogpay_cbor_read(r, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.type != FOGPAY_CBOR_MAP) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (item.value >= FIELD_KEY_LIMIT) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    *pairs = item.value;
    return FOGPAY_OK;
}

static fogpay_error decode_message(const uint8_t *buf, size_t len, size_t max_len,
                                   const field_spec *fields, size_t count, void *base)
{
    fogpay_cbor_reader r;
    uint64_t pairs;
    fogpay_error err = open_map(&r, buf, len, max_len, &pairs);
    if (err == FOGPAY_OK) {
        err = decode_pairs(&r, pairs, fields, count, base);
    }
    if (err == FOGPAY_OK && !fogpay_cbor_reader_done(&r)) {
        err = FOGPAY_ERR_CBOR_TRAILING;
    }
    return err;
}

/* ---- encoding ---------------------------------------------------------- */

static void write_tuples(fogpay_cbor_writer *w, const field_spec *f, const void *base)
{
    const tuple_spec *t = f->tuples;
    uint8_t count = *((const uint8_t *)base + f->flag_offset);
    const uint64_t *members = (const uint64_t *)(const void *)((const uint8_t *)base + f->offset);
    fogpay_cbor_put_array(w, count);
    for (size_t i = 0; i < count && i < tuples_max(f); i++) {
        fogpay_cbor_put_array(w, t->width);
        for (uint8_t m = 0; m < t->width; m++) {
            fogpay_cbor_put_uint(w, members[i * t->width + m]);
        }
    }
}

static void write_ids(fogpay_cbor_writer *w, const field_spec *f, const void *base)
{
    uint8_t count = *((const uint8_t *)base + f->flag_offset);
    const char *ids = (const char *)base + f->offset;
    fogpay_cbor_put_array(w, count);
    for (size_t i = 0; i < count && i < f->size / f->max; i++) {
        fogpay_cbor_put_text(w, ids + i * f->max, strnlen(ids + i * f->max, f->max));
    }
}

static void write_pairs(fogpay_cbor_writer *w, const field_spec *fields, size_t count,
                        const void *base)
{
    for (size_t k = 0; k < count; k++) {
        const field_spec *f = &fields[k];
        if (!field_present(base, f)) {
            continue;
        }
        const uint8_t *p = (const uint8_t *)base + f->offset;
        fogpay_cbor_put_uint(w, f->key);
        switch (f->kind) {
        case FIELD_UINT:
            fogpay_cbor_put_uint(w, uint_get(base, f));
            break;
        case FIELD_INT: {
            int64_t v;
            memcpy(&v, p, sizeof v);
            fogpay_cbor_put_int(w, v);
            break;
        }
        case FIELD_BYTES:
            fogpay_cbor_put_bytes(w, p, f->size);
            break;
        case FIELD_TUPLES:
            write_tuples(w, f, base);
            break;
        case FIELD_IDS:
            write_ids(w, f, base);
            break;
        default:
            fogpay_cbor_put_text(w, (const char *)p, strnlen((const char *)p, f->size));
        }
    }
}

static uint64_t count_present(const field_spec *fields, size_t count, const void *base)
{
    uint64_t n = 0;
    for (size_t k = 0; k < count; k++) {
        n += field_present(base, &fields[k]);
    }
    return n;
}

static fogpay_error encode_message(const field_spec *fields, size_t count, const void *base,
                                   uint8_t *buf, size_t cap, size_t *len)
{
    if (!base || !buf || !len) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_cbor_writer w;
    fogpay_cbor_writer_init(&w, buf, cap);
    fogpay_cbor_put_map(&w, count_present(fields, count, base));
    write_pairs(&w, fields, count, base);
    return fogpay_cbor_writer_finish(&w, len);
}

/* ---- rules across fields ----------------------------------------------- */

static fogpay_error intent_check(const fogpay_intent *in)
{
    bool to_device = in->payee_device[0] != '\0';
    bool to_account = in->payee_account != 0;
    if (!to_device && !to_account) {
        return FOGPAY_ERR_MISSING_FIELD;
    }
    return to_device && to_account ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

static bool hash_present(const uint8_t hash[FOGPAY_HASH_BYTES])
{
    return !all_zero(hash, FOGPAY_HASH_BYTES);
}

/* The metered fields of a receipt: a charge exactly on a settled reading,
 * a consumption only on a reading (of a bound meter: settled, or stored
 * with no charge), a tariff with either and on a stored binding. */
static fogpay_error receipt_metered_check(const fogpay_receipt *in)
{
    bool usage = in->kind == FOGPAY_RECEIPT_USAGE;
    bool settled = in->status == FOGPAY_STATUS_SETTLED;
    bool stored = in->status == FOGPAY_STATUS_STORED;
    bool tariff = in->tariff_id[0] != '\0';
    if ((usage && settled) != (in->charge_minor != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if ((usage && settled && in->consumption == 0) || (!usage && in->consumption != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->kind == FOGPAY_RECEIPT_BIND && tariff != stored) {
        return FOGPAY_ERR_FIELD_RANGE; /* a stored binding names its tariff */
    }
    if (usage && tariff != (in->consumption != 0)) {
        return FOGPAY_ERR_FIELD_RANGE; /* a bound reading names its tariff */
    }
    return in->kind == FOGPAY_RECEIPT_INTENT && tariff ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

/* The plan fields: on a settled intent only, the plan and its paid-up-to
 * time together, its arrears and instalments left only with them. */
static fogpay_error receipt_plan_check(const fogpay_receipt *in)
{
    bool plan = in->plan_id[0] != '\0';
    if (plan != (in->paid_up_to_s != 0) || (!plan && (in->plan_arrears || in->plan_left))) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    bool instalment = in->kind == FOGPAY_RECEIPT_INTENT && in->status == FOGPAY_STATUS_SETTLED;
    return plan && !instalment ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

static fogpay_error receipt_check(const fogpay_receipt *in)
{
    bool rejected = in->status == FOGPAY_STATUS_REJECTED;
    if (rejected != (in->reason != 0)) {
        return FOGPAY_ERR_FIELD_RANGE; /* a reason exactly when rejected */
    }
    if (rejected && !fogpay_error_is_reason((fogpay_error)in->reason)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if ((in->position != 0) != hash_present(in->chain_hash)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->has_balance != (in->currency != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    bool held = in->status == FOGPAY_STATUS_HELD;
    bool settled = in->status == FOGPAY_STATUS_SETTLED;
    bool moved = settled || held; /* a transfer was committed */
    if (moved != (in->transfer_id != 0) || (settled && in->kind == FOGPAY_RECEIPT_BIND) ||
        (held && in->kind != FOGPAY_RECEIPT_INTENT)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->status == FOGPAY_STATUS_STORED && in->kind == FOGPAY_RECEIPT_INTENT) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (moved != (in->position != 0) || moved != in->has_balance) {
        return FOGPAY_ERR_FIELD_RANGE; /* chain entry and balance exactly when money moved */
    }
    /* The hold's id on what names a hold, its expiry on a held receipt,
     * and the sender's held amount on both (a held one holds this hold,
     * so it is never 0 there; elsewhere 0 is absent). A settled reading
     * charged from a hold names it too, with what it has left (key 21)
     * and the sender's held amount. */
    bool names_hold = held || (settled && in->kind == FOGPAY_RECEIPT_HOLD);
    bool from_hold = settled && in->kind == FOGPAY_RECEIPT_USAGE && in->hold_id != 0;
    if ((!from_hold && names_hold != (in->hold_id != 0)) ||
        (!from_hold && in->hold_left_minor != 0) || held != (in->hold_expiry_s != 0) ||
        (held && in->held_minor == 0) || (!names_hold && !from_hold && in->held_minor != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (!settled && in->legs_minor != 0) {
        return FOGPAY_ERR_FIELD_RANGE; /* a settled transfer's legs only */
    }
    bool withdraw = in->kind == FOGPAY_RECEIPT_WITHDRAW || in->kind == FOGPAY_RECEIPT_NOTE_REDEEM;
    bool note_payment = in->kind == FOGPAY_RECEIPT_NOTE_PAYMENT;
    bool stored = in->status == FOGPAY_STATUS_STORED;
    if (((withdraw && settled) || (note_payment && stored)) != (in->note_count != 0) ||
        (withdraw && stored) || (note_payment && moved)) {
        return FOGPAY_ERR_FIELD_RANGE; /* a withdrawal settles, a note payment is stored */
    }
    fogpay_error err = receipt_plan_check(in);
    return err == FOGPAY_OK ? receipt_metered_check(in) : err;
}

/* A plan notice: its plan and paid-up-to time always, its next
 * instalment exactly while one is left; none of them in another command. */
static fogpay_error command_plan_check(const fogpay_command *in)
{
    bool notice = in->kind == FOGPAY_COMMAND_PLAN;
    bool next =
        in->next_due_s || in->amount_minor || in->lender_account || in->currency || in->instalment;
    bool whole =
        in->next_due_s && in->amount_minor && in->lender_account && in->currency && in->instalment;
    if (!notice) {
        return next || in->plan_id[0] || in->paid_up_to_s || in->plan_left || in->plan_arrears
                   ? FOGPAY_ERR_FIELD_RANGE
                   : FOGPAY_OK;
    }
    if (in->plan_id[0] == '\0' || in->paid_up_to_s == 0 || (next && !whole) ||
        whole != (in->plan_left != 0) || (in->plan_left == 0 && in->plan_arrears != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

static fogpay_error command_check(const fogpay_command *in)
{
    bool limits = in->per_payment_minor || in->per_day_minor || in->wallet_max_minor;
    if (limits && in->kind != FOGPAY_COMMAND_LIMITS) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if ((in->kind == FOGPAY_COMMAND_GATEWAY_KEY) != (in->gateway_key[0] != '\0')) {
        return FOGPAY_ERR_FIELD_RANGE; /* the new key exactly in a gateway-key command */
    }
    return command_plan_check(in);
}

static fogpay_error transfer_check(const fogpay_transfer *in)
{
    bool device = in->device_id[0] != '\0';
    if (in->debit_account == in->credit_account) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (device != (in->seq != 0) || device != hash_present(in->intent_hash)) {
        return FOGPAY_ERR_FIELD_RANGE; /* device, seq and intent hash come together */
    }
    bool corrects = in->kind == FOGPAY_TRANSFER_REFUND || in->kind == FOGPAY_TRANSFER_REVERSAL ||
                    in->kind == FOGPAY_TRANSFER_CAPTURE || in->kind == FOGPAY_TRANSFER_RELEASE ||
                    in->kind == FOGPAY_TRANSFER_EXPIRY || in->kind == FOGPAY_TRANSFER_HOLD_CHARGE;
    if (corrects != (in->related_position != 0) || in->related_position >= in->position) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->leg_count > FOGPAY_LEGS_MAX - 1) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    for (uint8_t i = 0; i < in->leg_count; i++) {
        if (in->legs[i].debit_account == in->legs[i].credit_account) {
            return FOGPAY_ERR_FIELD_RANGE; /* every leg moves money between two accounts */
        }
    }
    /* A usage charge and a hold charge name their reading (device origin),
     * meter and tariff; no other kind carries a meter or a tariff. */
    bool charge =
        in->kind == FOGPAY_TRANSFER_USAGE_CHARGE || in->kind == FOGPAY_TRANSFER_HOLD_CHARGE;
    if (charge != (in->meter_id[0] != '\0') || charge != (in->tariff_id[0] != '\0') ||
        (charge && !device)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    /* An instalment, an early settlement and a collection name their plan
     * and instalment number; an instalment is paid by its device, the
     * others by the gateway (no device origin). No other kind carries them. */
    if (in->kind > FOGPAY_TRANSFER_NOTE_WITHDRAWAL && in->kind != FOGPAY_TRANSFER_NOTE_REDEMPTION &&
        in->kind != FOGPAY_TRANSFER_NOTE_ENTITY_REDEMPTION &&
        in->kind != FOGPAY_TRANSFER_HOLD_CHARGE) {
        return FOGPAY_ERR_FIELD_RANGE; /* not a kind of this contract's version */
    }
    bool instalment = in->kind == FOGPAY_TRANSFER_INSTALMENT;
    bool planned = instalment || in->kind == FOGPAY_TRANSFER_EARLY_SETTLEMENT ||
                   in->kind == FOGPAY_TRANSFER_COLLECTION;
    if (planned != (in->plan_id[0] != '\0') || planned != (in->instalment != 0) ||
        (planned && instalment != device)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

fogpay_leg fogpay_transfer_leg(const fogpay_transfer *t, uint32_t i)
{
    if (i == 0 || i > t->leg_count || i >= FOGPAY_LEGS_MAX) {
        return (fogpay_leg){t->debit_account, t->credit_account, t->amount_minor};
    }
    return t->legs[i - 1];
}

uint64_t fogpay_transfer_total(const fogpay_transfer *t)
{
    uint64_t total = t->amount_minor;
    for (uint8_t i = 0; i < t->leg_count && i < FOGPAY_LEGS_MAX - 1; i++) {
        total += t->legs[i].amount_minor;
    }
    return total;
}

/* A fee schedule's own fields: a currency, its legs' basis points under
 * the whole, a remainder leg it has, at most one payee; absent elsewhere. */
static fogpay_error event_fee_check(const fogpay_event *in)
{
    bool fee = in->kind == FOGPAY_EVENT_FEE_SCHEDULE;
    if (!fee) {
        return in->fee_currency == 0 && in->fee_leg_count == 0 && in->fee_remainder == 0
                   ? FOGPAY_OK
                   : FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t basis_points = 0;
    for (uint8_t i = 0; i < in->fee_leg_count && i < FOGPAY_LEGS_MAX - 1; i++) {
        basis_points += in->fee_legs[i].basis_points;
    }
    if (in->fee_currency == 0 || basis_points >= FOGPAY_BASIS_POINTS ||
        in->fee_remainder > in->fee_leg_count || in->effective_ms == 0 ||
        (in->device_id[0] != '\0' && in->entity_id[0] != '\0')) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* The fields of the plan kinds: each names its plan; a plan version its
 * currency, principal, schedule and terms, and a usage price (key 17)
 * exactly with the meter it counts (key 6), and a version whose shortfall
 * is limit the payees it names (key 37); arrears entered its currency and
 * what was owed (key 29). No other kind carries them. */
static fogpay_error event_plan_check(const fogpay_event *in)
{
    bool plan = in->kind == FOGPAY_EVENT_PLAN;
    bool closed = in->kind == FOGPAY_EVENT_PLAN_CLOSED;
    bool arrears = in->kind == FOGPAY_EVENT_ARREARS_ENTERED;
    bool others = closed || arrears || in->kind == FOGPAY_EVENT_ARREARS_CLEARED;
    if ((plan || others) != (in->plan_id[0] != '\0') || plan != (in->principal_minor != 0) ||
        plan != (in->plan_schedule_count == 1) || plan != (in->plan_terms_count == 1) ||
        arrears != (in->arrears_minor != 0) || ((plan || arrears) && in->currency == 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->plan_payee_count != 0 && (!plan || in->plan_terms[1] != 1)) {
        return FOGPAY_ERR_FIELD_RANGE; /* payees are a limit plan version's */
    }
    if (others && (in->meter_id[0] != '\0' || in->price[0] != '\0')) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t num = 0;
    uint64_t den = 0;
    if (plan && ((in->meter_id[0] != '\0') != (in->price[0] != '\0') ||
                 (in->price[0] != '\0' && fogpay_price_parse(in->price, &num, &den) != FOGPAY_OK) ||
                 in->plan_terms[0] > in->plan_schedule[2])) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* The fields of the tariff kinds: a tariff names its id, price, currency,
 * unit and effective time (a minimum charge and a payee entity optional); a
 * binding its meter and tariff, and, made by a device's message, that
 * message's seq and hash together. No other kind carries them. */
static fogpay_error event_tariff_check(const fogpay_event *in)
{
    bool tariff = in->kind == FOGPAY_EVENT_TARIFF;
    bool bound = in->kind == FOGPAY_EVENT_METER_BOUND;
    bool plan = in->kind == FOGPAY_EVENT_PLAN || in->kind == FOGPAY_EVENT_ARREARS_ENTERED;
    if ((tariff || bound) != (in->tariff_id[0] != '\0')) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if ((!plan && tariff != (in->price[0] != '\0')) || (!plan && tariff != (in->currency != 0)) ||
        (!tariff && in->minimum_minor != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    uint64_t num = 0;
    uint64_t den = 0;
    if (tariff && fogpay_price_parse(in->price, &num, &den) != FOGPAY_OK) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (bound && (in->meter_id[0] == '\0' || (in->seq != 0) != hash_present(in->usage_hash))) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return !bound && in->hold_id != 0 ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

/* Which fields an event carries follows from its kind; the others are
 * absent. Fields whose zero is a value (quantity 0, role owner, status
 * active) are absent then, and so not required. */
static fogpay_error event_check(const fogpay_event *in)
{
    bool usage = in->kind == FOGPAY_EVENT_USAGE;
    bool ownership = in->kind == FOGPAY_EVENT_OWNERSHIP;
    bool tariff = in->kind == FOGPAY_EVENT_TARIFF;
    bool bound = in->kind == FOGPAY_EVENT_METER_BOUND;
    bool rotated = in->kind == FOGPAY_EVENT_KEY_ROTATED;
    bool key = rotated || in->kind == FOGPAY_EVENT_KEY_REVOKED;
    bool fee = in->kind == FOGPAY_EVENT_FEE_SCHEDULE;
    bool login = in->kind == FOGPAY_EVENT_ENTITY_LOGIN;
    bool plan = in->kind == FOGPAY_EVENT_PLAN || in->kind == FOGPAY_EVENT_PLAN_CLOSED;
    bool erasure = in->kind == FOGPAY_EVENT_ERASURE;
    bool entity = ownership || login || erasure || in->kind == FOGPAY_EVENT_REGISTERED ||
                  in->kind == FOGPAY_EVENT_PLAN;
    bool device = in->device_id[0] != '\0';
    if (in->kind == 4 ||
        (in->kind > FOGPAY_EVENT_ARREARS_CLEARED && in->kind < FOGPAY_EVENT_ERASURE)) {
        return FOGPAY_ERR_FIELD_RANGE; /* not a kind of this contract's version */
    }
    /* A device in every event but a login's and an erasure's (none) and a
     * fee schedule's (its payee, if a device); a login exactly in login
     * events; the erased fields exactly in an erasure. */
    if (((login || erasure) && device) || (!login && !fee && !erasure && !device) ||
        login != (in->login[0] != '\0') || (!login && in->login_removed != 0) ||
        erasure != (in->erased_fields != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_error err = event_fee_check(in);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (key != !all_zero(in->kid, sizeof in->kid)) {
        return FOGPAY_ERR_FIELD_RANGE; /* a kid exactly in key events */
    }
    if (!bound && (usage != (in->seq != 0) || (!plan && usage != (in->meter_id[0] != '\0')) ||
                   usage != hash_present(in->usage_hash))) {
        return FOGPAY_ERR_FIELD_RANGE; /* seq, meter, unit and hash make a usage event */
    }
    if ((usage || tariff) != (in->unit[0] != '\0') || (!usage && in->quantity != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    /* Arrears entered names the holder when one held the device. */
    bool holder = in->kind == FOGPAY_EVENT_ARREARS_ENTERED;
    if ((!fee && !tariff && !holder && entity != (in->entity_id[0] != '\0')) ||
        (ownership || rotated || fee || tariff || plan) != (in->effective_ms != 0) ||
        (!ownership && in->role != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->kind != FOGPAY_EVENT_STATUS && (in->status != 0 || in->reason != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if (in->reason != 0 && !fogpay_error_is_reason((fogpay_error)in->reason)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    err = event_plan_check(in);
    return err == FOGPAY_OK ? event_tariff_check(in) : err;
}

static fogpay_error batch_header_check(const fogpay_batch_header *h)
{
    if (h->last_position < h->first_position ||
        h->last_position - h->first_position >= FOGPAY_BATCH_RECORDS_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

static fogpay_error batch_ack_check(const fogpay_batch_ack *a)
{
    if ((a->status == FOGPAY_ACK_REFUSED) != (a->reason != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    if ((a->status == FOGPAY_ACK_RESEND) != (a->resend_from != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

/* ---- the public encoders and decoders ----------------------------------- */

/* Generates the decode and encode pair of a flat message. The encoder
 * checks its output by decoding it. */
#define FLAT_MESSAGE(name, type, table, max_len, check)                                            \
    fogpay_error fogpay_##name##_decode(const uint8_t *buf, size_t len, type *out)                 \
    {                                                                                              \
        type tmp;                                                                                  \
        memset(&tmp, 0, sizeof tmp);                                                               \
        fogpay_error err = decode_message(buf, len, max_len, table, COUNT(table), &tmp);           \
        if (err == FOGPAY_OK) {                                                                    \
            err = check(&tmp);                                                                     \
        }                                                                                          \
        if (err == FOGPAY_OK && out) {                                                             \
            *out = tmp;                                                                            \
        }                                                                                          \
        return err;                                                                                \
    }                                                                                              \
    fogpay_error fogpay_##name##_encode(const type *in, uint8_t *buf, size_t cap, size_t *len)     \
    {                                                                                              \
        size_t n = 0;                                                                              \
        fogpay_error err = encode_message(table, COUNT(table), in, buf, cap, &n);                  \
        if (err == FOGPAY_OK) {                                                                    \
            err = fogpay_##name##_decode(buf, n, NULL);                                            \
        }                                                                                          \
        if (err == FOGPAY_OK) {                                                                    \
            *len = n;                                                                              \
        }                                                                                          \
        return err;                                                                                \
    }

static fogpay_error no_check(const void *in)
{
    (void)in;
    return FOGPAY_OK;
}

static fogpay_error usage_check(const fogpay_usage *in)
{
    return no_check(in);
}

/* An amount exactly with a capture. */
static fogpay_error hold_message_check(const fogpay_hold_message *in)
{
    if (in->op == FOGPAY_HOLD_CAPTURE && in->amount_minor == 0) {
        return FOGPAY_ERR_MISSING_FIELD;
    }
    return in->op == FOGPAY_HOLD_VOID && in->amount_minor != 0 ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

FLAT_MESSAGE(intent, fogpay_intent, intent_fields, FOGPAY_MESSAGE_MAX, intent_check)
FLAT_MESSAGE(usage, fogpay_usage, usage_fields, FOGPAY_MESSAGE_MAX, usage_check)
FLAT_MESSAGE(bind, fogpay_bind, bind_fields, FOGPAY_MESSAGE_MAX, no_check)
FLAT_MESSAGE(hold_message, fogpay_hold_message, hold_message_fields, FOGPAY_MESSAGE_MAX,
             hold_message_check)
FLAT_MESSAGE(receipt, fogpay_receipt, receipt_fields, FOGPAY_MESSAGE_MAX, receipt_check)
FLAT_MESSAGE(command, fogpay_command, command_fields, FOGPAY_MESSAGE_MAX, command_check)
FLAT_MESSAGE(transfer, fogpay_transfer, transfer_fields, FOGPAY_RECORD_BYTES_MAX, transfer_check)
FLAT_MESSAGE(event, fogpay_event, event_fields, FOGPAY_RECORD_BYTES_MAX, event_check)
FLAT_MESSAGE(batch_ack, fogpay_batch_ack, batch_ack_fields, FOGPAY_MESSAGE_MAX, batch_ack_check)

/* ---- bearer notes (fogpay_note.h) --------------------------------------- */

static const field_spec note_fields[] = {
    BYTES_FIELD(fogpay_note, 1, serial, true),
    UINT_FIELD(fogpay_note, 2, currency, true, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    UINT_FIELD(fogpay_note, 3, denomination_minor, true, 1, FOGPAY_AMOUNT_MAX_MINOR),
    UINT_FIELD(fogpay_note, 4, issued_s, true, 1, TIME_S_MAX),
    UINT_FIELD(fogpay_note, 5, expiry_s, false, 1, TIME_S_MAX),
};

static const field_spec custody_fields[] = {
    BYTES_FIELD(fogpay_custody, 1, serial, true),
    BYTES_FIELD(fogpay_custody, 2, prev_link, true),
    TEXT_FIELD(fogpay_custody, 3, holder_key, true, FIELD_ID),
    UINT_FIELD(fogpay_custody, 4, time_s, true, 1, TIME_S_MAX),
};

/* A value of the currency's list; an expiry after the issue. */
static fogpay_error note_check(const fogpay_note *in)
{
    if (!fogpay_note_denomination_valid(in->currency, in->denomination_minor)) {
        return FOGPAY_ERR_NOTE_DENOMINATION;
    }
    return in->expiry_s != 0 && in->expiry_s <= in->issued_s ? FOGPAY_ERR_FIELD_RANGE : FOGPAY_OK;
}

/* Whether text is n lower-case hex digits. */
static bool hex_digits(const char *text, size_t n)
{
    size_t i = 0;
    for (; text[i] != '\0'; i++) {
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))) {
            return false;
        }
    }
    return i == n;
}

/* The next holder's key is public key text of either algorithm:
 * "ed25519:" and 32 bytes, or "p256:" and an uncompressed point. */
static fogpay_error custody_check(const fogpay_custody *in)
{
    const char *k = in->holder_key;
    bool ed = strncmp(k, "ed25519:", 8) == 0 && hex_digits(k + 8, 64);
    bool p256 = strncmp(k, "p256:", 5) == 0 && hex_digits(k + 5, 2 * FOGPAY_PUBLIC_KEY_MAX);
    return ed || p256 ? FOGPAY_OK : FOGPAY_ERR_TEXT_INVALID;
}

static const field_spec note_movement_fields[] = {
    UINT_FIELD(fogpay_note_movement, 1, position, true, 1, FOGPAY_STORED_INT_MAX),
    UINT_FIELD(fogpay_note_movement, 2, kind, true, 0, FOGPAY_NOTE_RETURNED),
    UINT_FIELD(fogpay_note_movement, 3, time_ms, true, 1, TIME_MS_MAX),
    BYTES_FIELD(fogpay_note_movement, 4, serial, true),
    BYTES_FIELD(fogpay_note_movement, 5, link, true),
    BYTES_FIELD(fogpay_note_movement, 6, holder_kid, true),
    TEXT_FIELD(fogpay_note_movement, 7, device_id, false, FIELD_ID),
    UINT_FIELD(fogpay_note_movement, 8, transfer_position, false, 1, FOGPAY_STORED_INT_MAX),
};

/* A device exactly when one holds the note after it, a transfer exactly
 * when its value moved in the ledger. */
static fogpay_error note_movement_check(const fogpay_note_movement *in)
{
    bool to_device = in->kind == FOGPAY_NOTE_WITHDRAWN || in->kind == FOGPAY_NOTE_PAID ||
                     in->kind == FOGPAY_NOTE_CHANGE;
    bool valued = in->kind == FOGPAY_NOTE_WITHDRAWN || in->kind == FOGPAY_NOTE_REDEEMED;
    if (to_device != (in->device_id[0] != '\0') || valued != (in->transfer_position != 0)) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    return FOGPAY_OK;
}

static const field_spec note_withdraw_fields[] = {
    TEXT_FIELD(fogpay_note_withdraw, 1, device_id, true, FIELD_ID),
    UINT_FIELD(fogpay_note_withdraw, 2, seq, true, 1, FOGPAY_STORED_INT_MAX),
    {.key = 3,
     .kind = FIELD_UINT,
     .required = true,
     .offset = offsetof(fogpay_note_withdraw, amount_minor),
     .size = MEMBER_SIZE(fogpay_note_withdraw, amount_minor),
     .min = 1,
     .max = FOGPAY_AMOUNT_MAX_MINOR,
     .below = FOGPAY_ERR_AMOUNT_ZERO,
     .above = FOGPAY_ERR_AMOUNT_TOO_LARGE},
    UINT_FIELD(fogpay_note_withdraw, 4, currency, true, FOGPAY_CURRENCY_MIN, FOGPAY_CURRENCY_MAX),
    UINT_FIELD(fogpay_note_withdraw, 5, created_s, true, 1, TIME_S_MAX),
    BYTES_FIELD(fogpay_note_withdraw, 6, prev_hash, true),
};

FLAT_MESSAGE(note, fogpay_note, note_fields, FOGPAY_MESSAGE_MAX, note_check)
FLAT_MESSAGE(note_withdraw, fogpay_note_withdraw, note_withdraw_fields, FOGPAY_MESSAGE_MAX,
             no_check)
FLAT_MESSAGE(note_movement, fogpay_note_movement, note_movement_fields, FOGPAY_RECORD_BYTES_MAX,
             note_movement_check)
FLAT_MESSAGE(custody, fogpay_custody, custody_fields, FOGPAY_MESSAGE_MAX, custody_check)

/* ---- prices ------------------------------------------------------------- */

fogpay_error fogpay_price_format(uint64_t num, uint64_t den, char text[FOGPAY_PRICE_TEXT_MAX + 1])
{
    if (text == NULL || num == 0 || den == 0 || num > FOGPAY_STORED_INT_MAX ||
        den > FOGPAY_STORED_INT_MAX) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    snprintf(text, FOGPAY_PRICE_TEXT_MAX + 1, "%llu/%llu", (unsigned long long)num,
             (unsigned long long)den);
    return FOGPAY_OK;
}

/* Reads a decimal of 1..19 digits without a leading zero, up to end or a
 * '/', into *value (at most 2^63-1); the character after it in *rest. */
static bool price_number(const char *text, uint64_t *value, const char **rest)
{
    uint64_t v = 0;
    size_t digits = 0;
    for (; text[digits] >= '0' && text[digits] <= '9'; digits++) {
        if (digits == 19 || (digits == 0 && text[0] == '0')) {
            return false;
        }
        uint64_t d = (uint64_t)(text[digits] - '0');
        if (v > (FOGPAY_STORED_INT_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *value = v;
    *rest = text + digits;
    return digits > 0;
}

fogpay_error fogpay_price_parse(const char *text, uint64_t *num, uint64_t *den)
{
    uint64_t n = 0;
    uint64_t d = 0;
    const char *rest = NULL;
    if (text == NULL || num == NULL || den == NULL || !price_number(text, &n, &rest) ||
        *rest != '/' || !price_number(rest + 1, &d, &rest) || *rest != '\0') {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    *num = n;
    *den = d;
    return FOGPAY_OK;
}

/* ---- batches ------------------------------------------------------------ */

/* The records of a batch: key 8 for transfers, key 9 for events, key 10
 * for note movements; a stream's key is BATCH_RECORDS_KEY + its value. */
#define BATCH_RECORDS_KEY 8
#define BATCH_EVENTS_KEY  9
#define BATCH_NOTES_KEY   10

fogpay_error fogpay_batch_begin(fogpay_batch_writer *bw, const fogpay_batch_header *h, uint8_t *buf,
                                size_t cap)
{
    if (!bw || !h || !buf) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    fogpay_error err = batch_header_check(h);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (h->record_count != h->last_position - h->first_position + 1 ||
        h->stream > FOGPAY_STREAM_NOTES) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    fogpay_cbor_writer_init(&bw->cbor, buf,
                            cap < FOGPAY_BATCH_BYTES_MAX ? cap : FOGPAY_BATCH_BYTES_MAX);
    bw->expected = h->record_count;
    bw->written = 0;
    bw->stream = h->stream;
    fogpay_cbor_put_map(&bw->cbor, COUNT(batch_header_fields) + 1);
    write_pairs(&bw->cbor, batch_header_fields, COUNT(batch_header_fields), h);
    fogpay_cbor_put_uint(&bw->cbor, BATCH_RECORDS_KEY + (uint64_t)h->stream);
    fogpay_cbor_put_array(&bw->cbor, h->record_count);
    return bw->cbor.err == FOGPAY_ERR_BUFFER_TOO_SMALL ? FOGPAY_ERR_PAYLOAD_TOO_LARGE
                                                       : bw->cbor.err;
}

/* Appends one encoded record. */
static fogpay_error batch_put_record(fogpay_batch_writer *bw, const uint8_t *record, size_t len)
{
    fogpay_cbor_put_raw(&bw->cbor, record, len);
    if (bw->cbor.err != FOGPAY_OK) {
        return bw->cbor.err == FOGPAY_ERR_BUFFER_TOO_SMALL ? FOGPAY_ERR_PAYLOAD_TOO_LARGE
                                                           : bw->cbor.err;
    }
    bw->written++;
    return FOGPAY_OK;
}

fogpay_error fogpay_batch_add(fogpay_batch_writer *bw, const fogpay_transfer *t)
{
    if (bw->stream != FOGPAY_STREAM_TRANSFERS) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (bw->written >= bw->expected) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t len;
    fogpay_error err = fogpay_transfer_encode(t, record, sizeof record, &len);
    return err == FOGPAY_OK ? batch_put_record(bw, record, len) : err;
}

fogpay_error fogpay_batch_add_event(fogpay_batch_writer *bw, const fogpay_event *e)
{
    if (bw->stream != FOGPAY_STREAM_EVENTS) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (bw->written >= bw->expected) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t len;
    fogpay_error err = fogpay_event_encode(e, record, sizeof record, &len);
    return err == FOGPAY_OK ? batch_put_record(bw, record, len) : err;
}

fogpay_error fogpay_batch_add_note(fogpay_batch_writer *bw, const fogpay_note_movement *m)
{
    if (bw->stream != FOGPAY_STREAM_NOTES) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (bw->written >= bw->expected) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    uint8_t record[FOGPAY_RECORD_BYTES_MAX];
    size_t len;
    fogpay_error err = fogpay_note_movement_encode(m, record, sizeof record, &len);
    return err == FOGPAY_OK ? batch_put_record(bw, record, len) : err;
}

fogpay_error fogpay_batch_finish(fogpay_batch_writer *bw, size_t *len)
{
    if (bw->written != bw->expected) {
        return FOGPAY_ERR_MISSING_FIELD;
    }
    return fogpay_cbor_writer_finish(&bw->cbor, len);
}

fogpay_error fogpay_batch_open(fogpay_batch_reader *br, const uint8_t *buf, size_t len,
                               fogpay_batch_header *out)
{
    fogpay_batch_header h;
    memset(&h, 0, sizeof h);
    uint64_t pairs;
    fogpay_error err = open_map(&br->cbor, buf, len, FOGPAY_BATCH_BYTES_MAX, &pairs);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (pairs != COUNT(batch_header_fields) + 1) {
        return pairs < COUNT(batch_header_fields) + 1 ? FOGPAY_ERR_MISSING_FIELD
                                                      : FOGPAY_ERR_UNKNOWN_FIELD;
    }
    err = decode_pairs(&br->cbor, pairs - 1, batch_header_fields, COUNT(batch_header_fields), &h);
    if (err != FOGPAY_OK) {
        return err;
    }
    fogpay_cbor_item item;
    err = fogpay_cbor_read(&br->cbor, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.type != FOGPAY_CBOR_UINT ||
        (item.value < BATCH_RECORDS_KEY || item.value > BATCH_NOTES_KEY)) {
        return item.type != FOGPAY_CBOR_UINT ? FOGPAY_ERR_CBOR_TYPE : FOGPAY_ERR_UNKNOWN_FIELD;
    }
    h.stream = (uint8_t)(item.value - BATCH_RECORDS_KEY);
    err = fogpay_cbor_read(&br->cbor, &item);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.type != FOGPAY_CBOR_ARRAY) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (item.value > FOGPAY_BATCH_RECORDS_MAX) {
        return FOGPAY_ERR_CBOR_TOO_LONG;
    }
    err = batch_header_check(&h);
    if (err != FOGPAY_OK) {
        return err;
    }
    if (item.value != h.last_position - h.first_position + 1) {
        return FOGPAY_ERR_FIELD_RANGE;
    }
    h.record_count = (uint32_t)item.value;
    br->remaining = h.record_count;
    br->stream = h.stream;
    if (out) {
        *out = h;
    }
    return FOGPAY_OK;
}

/* The next record's bytes, or FOGPAY_ERR_NOT_FOUND after the last one
 * (when nothing trails). */
static fogpay_error batch_next_record(fogpay_batch_reader *br, uint8_t stream, fogpay_bytes *record)
{
    if (br->stream != stream) {
        return FOGPAY_ERR_CBOR_TYPE;
    }
    if (br->remaining == 0) {
        return fogpay_cbor_reader_done(&br->cbor) ? FOGPAY_ERR_NOT_FOUND : FOGPAY_ERR_CBOR_TRAILING;
    }
    size_t start = br->cbor.pos;
    fogpay_error err = fogpay_cbor_skip(&br->cbor);
    if (err == FOGPAY_OK) {
        *record = (fogpay_bytes){br->cbor.ptr + start, br->cbor.pos - start};
    }
    return err;
}

fogpay_error fogpay_batch_next(fogpay_batch_reader *br, fogpay_transfer *out,
                               fogpay_bytes *record_cbor)
{
    fogpay_bytes record;
    fogpay_error err = batch_next_record(br, FOGPAY_STREAM_TRANSFERS, &record);
    if (err == FOGPAY_OK) {
        err = fogpay_transfer_decode(record.ptr, record.len, out);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    br->remaining--;
    if (record_cbor) {
        *record_cbor = record;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_batch_next_event(fogpay_batch_reader *br, fogpay_event *out,
                                     fogpay_bytes *record_cbor)
{
    fogpay_bytes record;
    fogpay_error err = batch_next_record(br, FOGPAY_STREAM_EVENTS, &record);
    if (err == FOGPAY_OK) {
        err = fogpay_event_decode(record.ptr, record.len, out);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    br->remaining--;
    if (record_cbor) {
        *record_cbor = record;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_batch_next_note(fogpay_batch_reader *br, fogpay_note_movement *out,
                                    fogpay_bytes *record_cbor)
{
    fogpay_bytes record;
    fogpay_error err = batch_next_record(br, FOGPAY_STREAM_NOTES, &record);
    if (err == FOGPAY_OK) {
        err = fogpay_note_movement_decode(record.ptr, record.len, out);
    }
    if (err != FOGPAY_OK) {
        return err;
    }
    br->remaining--;
    if (record_cbor) {
        *record_cbor = record;
    }
    return FOGPAY_OK;
}

/* ---- peeking ------------------------------------------------------------ */

fogpay_error fogpay_message_peek_seq(const uint8_t *buf, size_t len, uint64_t *seq)
{
    fogpay_cbor_reader r;
    fogpay_cbor_reader_init_generic(&r, buf, len > FOGPAY_MESSAGE_MAX ? FOGPAY_MESSAGE_MAX : len);
    fogpay_cbor_item item;
    if (fogpay_cbor_read(&r, &item) != FOGPAY_OK || item.type != FOGPAY_CBOR_MAP ||
        item.value >= FIELD_KEY_LIMIT) {
        return FOGPAY_ERR_NOT_FOUND;
    }
    for (uint64_t i = 0; i < item.value; i++) {
        fogpay_cbor_item key;
        if (fogpay_cbor_read(&r, &key) != FOGPAY_OK) {
            return FOGPAY_ERR_NOT_FOUND;
        }
        if (key.type == FOGPAY_CBOR_UINT && key.value == 2) {
            fogpay_cbor_item value;
            if (fogpay_cbor_read(&r, &value) == FOGPAY_OK && value.type == FOGPAY_CBOR_UINT) {
                *seq = value.value;
                return FOGPAY_OK;
            }
            return FOGPAY_ERR_NOT_FOUND;
        }
        if (fogpay_cbor_skip(&r) != FOGPAY_OK) {
            return FOGPAY_ERR_NOT_FOUND;
        }
    }
    return FOGPAY_ERR_NOT_FOUND;
}
