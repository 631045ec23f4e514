/*
 * fogpay_error.c - names and sentences for the one error enum.
 *
 * One table, indexed by searching, holds the snake_case name (stable: it is
 * what logs, JSON replies and schemas/reason.cddl use) and a sentence for
 * people. Every value of the enum has a row; the unit tests check it.
 */
#include "fogpay_error.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct error_row {
    fogpay_error err;
    const char *name;
    const char *text;
} error_row;

static const error_row error_rows[] = {
    {FOGPAY_OK, "ok", "success"},
    {FOGPAY_ERR_CBOR_TRUNCATED, "cbor_truncated", "the CBOR input ends inside an item"},
    {FOGPAY_ERR_CBOR_ILL_FORMED, "cbor_ill_formed", "the CBOR input is not well-formed"},
    {FOGPAY_ERR_CBOR_INDEFINITE, "cbor_indefinite", "indefinite-length CBOR is not accepted"},
    {FOGPAY_ERR_CBOR_NOT_DETERMINISTIC, "cbor_not_deterministic",
     "the CBOR is not deterministically encoded (non-shortest head or unsorted keys)"},
    {FOGPAY_ERR_CBOR_TYPE, "cbor_type", "a CBOR item has the wrong type"},
    {FOGPAY_ERR_CBOR_TOO_DEEP, "cbor_too_deep", "the CBOR input nests too deeply"},
    {FOGPAY_ERR_CBOR_TOO_LONG, "cbor_too_long", "a CBOR length or count is over its limit"},
    {FOGPAY_ERR_CBOR_TRAILING, "cbor_trailing", "bytes follow the end of the message"},
    {FOGPAY_ERR_DUPLICATE_KEY, "duplicate_key", "a map key appears twice"},
    {FOGPAY_ERR_MISSING_FIELD, "missing_field", "a required field is missing"},
    {FOGPAY_ERR_UNKNOWN_FIELD, "unknown_field",
     "the message has a field the contract does not define"},
    {FOGPAY_ERR_FIELD_RANGE, "field_range", "a field is outside its allowed range"},
    {FOGPAY_ERR_TEXT_INVALID, "text_invalid",
     "a text field is not valid UTF-8 or has characters not allowed"},
    {FOGPAY_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", "the message is larger than its limit"},
    {FOGPAY_ERR_COSE_STRUCTURE, "cose_structure",
     "the message is not a COSE_Sign1 array of four items"},
    {FOGPAY_ERR_COSE_TAG, "cose_tag", "the message carries a CBOR tag other than COSE_Sign1 (18)"},
    {FOGPAY_ERR_COSE_ALG_UNSUPPORTED, "cose_alg_unsupported",
     "the signature algorithm is absent or not EdDSA/ES256"},
    {FOGPAY_ERR_COSE_HEADER, "cose_header", "a COSE header is malformed"},
    {FOGPAY_ERR_WRONG_TOPIC, "wrong_topic",
     "the topic is not one this message may be published on"},
    {FOGPAY_ERR_BAD_SIGNATURE, "bad_signature", "the signature does not verify"},
    {FOGPAY_ERR_UNKNOWN_DEVICE, "unknown_device", "the device is not registered"},
    {FOGPAY_ERR_DEVICE_MISMATCH, "device_mismatch",
     "the message names another device than the sender"},
    {FOGPAY_ERR_KEY_REVOKED, "key_revoked", "the signing key has been revoked"},
    {FOGPAY_ERR_DEVICE_SUSPENDED, "device_suspended", "the device is suspended"},
    {FOGPAY_ERR_DEVICE_REVOKED, "device_revoked", "the device is revoked"},
    {FOGPAY_ERR_SEQ_CONFLICT, "seq_conflict",
     "the sequence number was already used for another message"},
    {FOGPAY_ERR_EXPIRED, "expired", "the message has expired"},
    {FOGPAY_ERR_NOT_YET_VALID, "not_yet_valid", "the message was created too far in the future"},
    {FOGPAY_ERR_CURRENCY_UNSUPPORTED, "currency_unsupported", "the currency is not accepted here"},
    {FOGPAY_ERR_UNKNOWN_PAYEE, "unknown_payee", "the payee does not exist"},
    {FOGPAY_ERR_AMOUNT_ZERO, "amount_zero", "the amount is zero"},
    {FOGPAY_ERR_AMOUNT_TOO_LARGE, "amount_too_large",
     "the amount is over the largest single amount"},
    {FOGPAY_ERR_LIMIT_PER_PAYMENT, "limit_per_payment",
     "the amount is over the device's per-payment limit"},
    {FOGPAY_ERR_LIMIT_PER_DAY, "limit_per_day",
     "the payment would exceed the device's daily limit"},
    {FOGPAY_ERR_INSUFFICIENT_FUNDS, "insufficient_funds", "the wallet does not hold enough funds"},
    {FOGPAY_ERR_WALLET_MAX, "wallet_max", "the payee's wallet would exceed its maximum"},
    {FOGPAY_ERR_PAYEE_SELF, "payee_self", "a device cannot pay itself"},
    {FOGPAY_ERR_PAYEE_INACTIVE, "payee_inactive", "the payee is revoked"},
    {FOGPAY_ERR_NOT_AUTHORISED, "not_authorised", "this identity may not do that"},
    {FOGPAY_ERR_NOT_FOUND, "not_found", "no such item"},
    {FOGPAY_ERR_EXISTS, "exists", "the item already exists"},
    {FOGPAY_ERR_CHAIN_MISMATCH, "chain_mismatch", "the hash chain does not continue"},
    {FOGPAY_ERR_GAP, "gap", "positions are missing before this batch"},
    {FOGPAY_ERR_UNKNOWN_GATEWAY, "unknown_gateway", "the gateway or its key is not registered"},
    {FOGPAY_ERR_TOO_MANY_PENDING, "too_many_pending",
     "the device has too many messages waiting for their answers; send again later"},
    {FOGPAY_ERR_CHAIN_FORK, "chain_fork",
     "another message already continues the device's chain from the same predecessor"},
    {FOGPAY_ERR_CHAIN_GAP, "chain_gap",
     "the message links to a predecessor the gateway has not received; send that first"},
    {FOGPAY_ERR_SECRET_WEAK, "secret_weak",
     "a device secret is at least 32 characters of at least 8 different ones (128 bits)"},
    {FOGPAY_ERR_HOLD_UNKNOWN, "hold_unknown", "no hold has that id"},
    {FOGPAY_ERR_HOLD_VOIDED, "hold_voided", "the hold was voided already"},
    {FOGPAY_ERR_HOLD_CAPTURED, "hold_captured", "the hold was captured already"},
    {FOGPAY_ERR_HOLD_EXPIRED, "hold_expired", "the hold's time is over; its amount goes back"},
    {FOGPAY_ERR_HOLD_OVER_AMOUNT, "hold_over_amount", "the capture is above the held amount"},
    {FOGPAY_ERR_HOLD_NOT_PARTY, "hold_not_party",
     "the device is neither the payer nor the payee of the hold"},
    {FOGPAY_ERR_HOLD_PAYER_CAPTURE, "hold_payer_capture",
     "the payer of a hold may void it but not capture it"},
    {FOGPAY_ERR_HOLD_TIMEOUT_TOO_LONG, "hold_timeout_too_long",
     "the hold's timeout is over the longest a hold may last"},
    {FOGPAY_ERR_HOLD_TOO_MANY, "hold_too_many",
     "the gateway holds as many open holds as it may; try again later"},
    {FOGPAY_ERR_READING_BACKWARDS, "reading_backwards",
     "the meter reading is below the meter's last settled reading"},
    {FOGPAY_ERR_READING_REPEATED, "reading_repeated",
     "the meter reading equals the meter's last settled reading; readings strictly increase"},
    {FOGPAY_ERR_READING_IMPLAUSIBLE, "reading_implausible",
     "the meter reading is further above the last settled one than a meter can run"},
    {FOGPAY_ERR_TARIFF_UNKNOWN, "tariff_unknown", "no tariff of that id is defined"},
    {FOGPAY_ERR_TARIFF_NOT_EFFECTIVE, "tariff_not_effective",
     "the tariff does not apply yet: its first version is effective from a later time"},
    {FOGPAY_ERR_UNIT_MISMATCH, "unit_mismatch",
     "the meter reading's unit is not the unit of the meter's tariff"},
    {FOGPAY_ERR_CHARGE_UNPAID, "charge_unpaid",
     "the wallet cannot pay the reading's charge; the next reading charges it"},
    {FOGPAY_ERR_CHARGE_TOO_LARGE, "charge_too_large",
     "the reading's charge is over the largest single amount"},
    {FOGPAY_ERR_METER_UNKNOWN, "meter_unknown", "the meter is not bound to a tariff"},
    {FOGPAY_ERR_TARIFF_OWN_PAYEE, "tariff_own_payee",
     "the tariff pays the binding device's own wallet; a device cannot pay itself"},
    {FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN, "fee_account_unknown",
     "a fee leg names an account that does not exist, is a system account or is in another "
     "currency"},
    {FOGPAY_ERR_FEE_ACCOUNT_CLOSED, "fee_account_closed",
     "a fee leg names the wallet of a revoked device"},
    {FOGPAY_ERR_FEE_OVER_TOTAL, "fee_over_total",
     "the fee legs together take 10000 basis points (the whole amount) or more"},
    {FOGPAY_ERR_FEE_LEGS_TOO_MANY, "fee_legs_too_many",
     "a fee schedule has more fee legs than a transfer holds beside the payee's"},
    {FOGPAY_ERR_FEE_REMAINDER_LEG, "fee_remainder_leg",
     "the rounding remainder is given to a leg the fee schedule does not have"},
    {FOGPAY_ERR_FEE_NOT_IN_ORDER, "fee_not_in_order",
     "a fee schedule may not take effect before the latest one of its payee and currency"},
    {FOGPAY_ERR_FEE_LEG_PAYEE, "fee_leg_payee", "a fee leg credits the payee's own account"},
    {FOGPAY_ERR_FEE_LEG_PAYER, "fee_leg_payer",
     "a fee leg of the payee's schedule credits the paying wallet itself"},
    {FOGPAY_ERR_FEE_WALLET_MAX, "fee_wallet_max",
     "a fee leg would take the wallet it credits over its maximum"},
    {FOGPAY_ERR_FEE_LEG_ZERO, "fee_leg_zero", "a fee leg of zero basis points"},
    {FOGPAY_ERR_ENTITY_FOREIGN_DEVICE, "entity_foreign_device",
     "the device is not held by the legal entity logged in, now"},
    {FOGPAY_ERR_ENTITY_FOREIGN_ACCOUNT, "entity_foreign_account",
     "the account or money belongs to another legal entity than the one logged in"},
    {FOGPAY_ERR_ENTITY_FOREIGN_TRANSFER, "entity_foreign_transfer",
     "the legal entity logged in is neither payer nor payee of that transfer"},
    {FOGPAY_ERR_ENTITY_COMMAND, "entity_command",
     "that control command is for operators; an entity login may not use it"},
    {FOGPAY_ERR_PLAN_UNKNOWN, "plan_unknown", "no financing plan of that id is defined"},
    {FOGPAY_ERR_PLAN_CLOSED, "plan_closed",
     "the financing plan is closed: nothing more is owed or paid under it"},
    {FOGPAY_ERR_PLAN_TERMS, "plan_terms",
     "a term of the financing plan (principal, rate, count, period, grace) is out of its range"},
    {FOGPAY_ERR_PLAN_NOT_IN_ORDER, "plan_not_in_order",
     "a plan version may not take effect before the plan's latest version"},
    {FOGPAY_ERR_PLAN_DEVICE, "plan_device", "the financing plan is another device's"},
    {FOGPAY_ERR_PLAN_PAYEE, "plan_payee",
     "an instalment is paid to the lender's account in the plan's currency, and only there"},
    {FOGPAY_ERR_INSTALMENT_AMOUNT, "instalment_amount",
     "the amount is not that of the plan's next instalment"},
    {FOGPAY_ERR_PLAN_PAID, "plan_paid", "every instalment of the financing plan is paid"},
    {FOGPAY_ERR_PLAN_ARREARS, "plan_arrears",
     "the device is in arrears on its financing plan: only its instalments are accepted"},
    {FOGPAY_ERR_COLLECTION_REFUSED, "collection_refused",
     "the financing plan does not let the gateway collect an instalment from the wallet"},
    {FOGPAY_ERR_SETTLEMENT_FUNDS, "settlement_funds",
     "the payer does not hold the amount that settles the financing plan"},
    {FOGPAY_ERR_STATEMENT_ENTITY, "statement_entity",
     "the legal entity never held the financed device"},
    {FOGPAY_ERR_PLAN_NOT_STARTED, "plan_not_started", "the financing plan is not in effect yet"},
    {FOGPAY_ERR_PLAN_LIMITED, "plan_limited",
     "the device is in arrears on a financing plan that limits it to named payees, and this payee "
     "is not one of them"},
    {FOGPAY_ERR_PLAN_LAPSED, "plan_lapsed",
     "the device is paid up to a time that has passed: it is out of action until an instalment "
     "is paid"},
    {FOGPAY_ERR_NOTE_FORGED, "note_forged",
     "the note's issuer signature does not verify: it is forged or altered"},
    {FOGPAY_ERR_NOTE_ISSUER_UNKNOWN, "note_issuer_unknown",
     "the note is signed by a key of no issuer trusted here"},
    {FOGPAY_ERR_NOTE_ISSUER_RETIRED, "note_issuer_retired",
     "the note is signed by an issuer key that is retired"},
    {FOGPAY_ERR_NOTE_DENOMINATION, "note_denomination",
     "the note's value is not a denomination of its currency"},
    {FOGPAY_ERR_NOTE_EXPIRED, "note_expired", "the note has expired"},
    {FOGPAY_ERR_CUSTODY_NOT_HOLDER, "custody_not_holder",
     "a custody entry is not signed by the note's current holder"},
    {FOGPAY_ERR_CUSTODY_BROKEN, "custody_broken",
     "a custody entry names another serial or does not follow the note's last entry"},
    {FOGPAY_ERR_NOTE_SERIAL_SEEN, "note_serial_seen",
     "the note's serial is in the register already, or appears twice in one message"},
    {FOGPAY_ERR_CUSTODY_OTHER_HOLDER, "custody_other_holder",
     "the note is not handed to the key that receives it"},
    {FOGPAY_ERR_NOTE_STOCK_SHORT, "note_stock_short",
     "the gateway's stock of notes cannot make the amount in at most 16 notes"},
    {FOGPAY_ERR_NOTE_UNKNOWN, "note_unknown",
     "the gateway's register holds no note of that serial"},
    {FOGPAY_ERR_NOTE_DOUBLE_SPEND, "note_double_spend",
     "the note was spent already: the payer no longer holds it"},
    {FOGPAY_ERR_NOTE_SUM_MISMATCH, "note_sum_mismatch",
     "the notes are not of the payment's currency or do not sum to its amount"},
    {FOGPAY_ERR_NOTE_CHANGE_SHORT, "note_change_short",
     "the gateway's stock cannot make the payee's amount and the payer's change in notes"},
    {FOGPAY_ERR_ENTITY_UNKNOWN, "entity_unknown", "no legal entity has that id"},
    {FOGPAY_ERR_PERIOD_EMPTY, "period_empty", "the period ends where it starts: it holds no time"},
    {FOGPAY_ERR_PERIOD_REVERSED, "period_reversed", "the period ends before it starts"},
    {FOGPAY_ERR_BANK_REFERENCE_MISSING, "bank_reference_missing",
     "the legal entity's personal data hold no bank reference to pay out to"},
    {FOGPAY_ERR_BANK_REFERENCE_NOT_IBAN, "bank_reference_not_iban",
     "the legal entity's bank reference is not an IBAN"},
    {FOGPAY_ERR_PAYOUT_CURRENCY, "payout_currency",
     "a SEPA credit transfer initiation moves euro only"},
    {FOGPAY_ERR_DOCUMENT_TOO_LONG, "document_too_long",
     "the period holds more entries than one bank document may: ask for a shorter one"},
    {FOGPAY_ERR_PERSONAL_DATA_ERASED, "personal_data_erased",
     "the legal entity's personal data are erased already"},
    {FOGPAY_ERR_PAYOUT_NONE, "payout_none", "no payout of the currency falls in the period"},
    {FOGPAY_ERR_HOLD_INSUFFICIENT, "hold_insufficient",
     "the reading's charge is over what is left of the meter's hold; nothing was charged"},
    {FOGPAY_ERR_HOLD_FOREIGN, "hold_foreign",
     "the hold named for the meter is another device's; a device pays only from its own holds"},
    {FOGPAY_ERR_HOLD_RESOLVED, "hold_resolved",
     "the meter's hold is captured, voided or past its expiry; it pays nothing more"},
    {FOGPAY_ERR_HOLD_TARIFF_PAYEE, "hold_tariff_payee",
     "the hold names another payee than the meter's tariff pays"},
    {FOGPAY_ERR_HOLD_TARIFF_CURRENCY, "hold_tariff_currency",
     "the hold is in another currency than the meter's tariff"},
    {FOGPAY_ERR_STORAGE, "storage", "the storage failed"},
    {FOGPAY_ERR_STORAGE_BUSY, "storage_busy", "the storage is busy"},
    {FOGPAY_ERR_SCHEMA_VERSION, "schema_version", "the database has another schema version"},
    {FOGPAY_ERR_LEDGER_CORRUPT, "ledger_corrupt", "the ledger fails verification"},
    {FOGPAY_ERR_JOURNAL_FULL, "journal_full", "the journal is full"},
    {FOGPAY_ERR_IO, "io", "an input/output operation failed"},
    {FOGPAY_ERR_NO_MEMORY, "no_memory", "out of memory"},
    {FOGPAY_ERR_CRYPTO, "crypto", "a cryptographic operation failed"},
    {FOGPAY_ERR_BUFFER_TOO_SMALL, "buffer_too_small", "the output buffer is too small"},
    {FOGPAY_ERR_INVALID_ARGUMENT, "invalid_argument", "an argument is invalid"},
    {FOGPAY_ERR_KEY_FILE, "key_file", "the key file is missing, malformed, or readable by others"},
    {FOGPAY_ERR_CONFIG, "config", "an option is missing or invalid"},
    {FOGPAY_ERR_TIMEOUT, "timeout", "the operation timed out"},
    {FOGPAY_ERR_NETWORK, "network", "the network operation failed"},
};

static const error_row *error_find(fogpay_error err)
{
    for (size_t i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
        if (error_rows[i].err == err) {
            return &error_rows[i];
        }
    }
    return NULL;
}

const char *fogpay_error_name(fogpay_error err)
{
    const error_row *row = error_find(err);
    return row ? row->name : "unknown_error";
}

const char *fogpay_error_string(fogpay_error err)
{
    const error_row *row = error_find(err);
    return row ? row->text : "unknown error";
}

int fogpay_error_is_transient(fogpay_error err)
{
    return err == FOGPAY_ERR_TOO_MANY_PENDING || err == FOGPAY_ERR_CHAIN_GAP;
}

int fogpay_error_is_off_chain(fogpay_error err)
{
    return fogpay_error_is_transient(err) ||
           (err >= FOGPAY_ERR_CBOR_TRUNCATED && err <= FOGPAY_ERR_WRONG_TOPIC) ||
           err == FOGPAY_ERR_BAD_SIGNATURE || err == FOGPAY_ERR_KEY_REVOKED ||
           err == FOGPAY_ERR_DEVICE_MISMATCH || err == FOGPAY_ERR_UNKNOWN_DEVICE ||
           err == FOGPAY_ERR_SEQ_CONFLICT || err == FOGPAY_ERR_CHAIN_FORK;
}

int fogpay_error_is_reason(fogpay_error err)
{
    bool group = (err >= FOGPAY_ERR_CBOR_TRUNCATED && err < FOGPAY_ERR_STORAGE) ||
                 (err >= FOGPAY_ERR_PRODUCT_FIRST && err <= FOGPAY_ERR_PRODUCT_LAST);
    return group && error_find(err) != NULL;
}
