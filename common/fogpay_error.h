/*
 * fogpay_error.h - the one error enum of fogpay.
 *
 * Every function that can fail returns a fogpay_error. Values are grouped by
 * where the fault lies: malformed input (1..29), a policy rejection of a
 * well-formed message (30..59, and 100..199 for the payment products:
 * holds 100..109, tariffs and metered use 110..119, fees and splits
 * 120..129, legal entities' own logins 130..139, financing 140..154,
 * bearer notes 160..179, bank documents and personal data 180..189,
 * pay-per-use from a hold 195..199),
 * storage (60..79), and internal faults (80..99). The numeric values are
 * part of the wire contract: the reason code in a rejection receipt is one
 * of these values (schemas/reason.cddl), so a value is never renumbered or
 * reused; new values are appended to their group.
 *
 * Codes of libcbor, wolfSSL, SQLite and Mosquitto are converted to these at
 * the boundary where they are met and never travel further.
 */
#ifndef FOGPAY_ERROR_H
#define FOGPAY_ERROR_H

typedef enum fogpay_error {
    FOGPAY_OK = 0,

    /* Malformed input: the bytes are not a message of the contract. */
    FOGPAY_ERR_CBOR_TRUNCATED = 1,         /* input ends inside an item */
    FOGPAY_ERR_CBOR_ILL_FORMED = 2,        /* reserved additional info, bad simple value */
    FOGPAY_ERR_CBOR_INDEFINITE = 3,        /* indefinite length is not accepted */
    FOGPAY_ERR_CBOR_NOT_DETERMINISTIC = 4, /* non-shortest head or unsorted map keys */
    FOGPAY_ERR_CBOR_TYPE = 5,              /* an item of the wrong major type */
    FOGPAY_ERR_CBOR_TOO_DEEP = 6,          /* nesting over FOGPAY_CBOR_DEPTH_MAX */
    FOGPAY_ERR_CBOR_TOO_LONG = 7,          /* a length or count over its limit */
    FOGPAY_ERR_CBOR_TRAILING = 8,          /* bytes after the top-level item */
    FOGPAY_ERR_DUPLICATE_KEY = 9,
    FOGPAY_ERR_MISSING_FIELD = 10,
    FOGPAY_ERR_UNKNOWN_FIELD = 11,
    FOGPAY_ERR_FIELD_RANGE = 12,          /* an integer outside its allowed range */
    FOGPAY_ERR_TEXT_INVALID = 13,         /* text not UTF-8, or characters not allowed */
    FOGPAY_ERR_PAYLOAD_TOO_LARGE = 14,    /* a whole message over its size limit */
    FOGPAY_ERR_COSE_STRUCTURE = 15,       /* not a COSE_Sign1 array of four */
    FOGPAY_ERR_COSE_TAG = 16,             /* tagged with something other than 18 */
    FOGPAY_ERR_COSE_ALG_UNSUPPORTED = 17, /* algorithm absent or not EdDSA/ES256 */
    FOGPAY_ERR_COSE_HEADER = 18,          /* header parameters malformed */
    FOGPAY_ERR_WRONG_TOPIC = 19,          /* topic not of the form the message needs */

    /* Policy: a well-formed message that is refused. */
    FOGPAY_ERR_BAD_SIGNATURE = 30,
    FOGPAY_ERR_UNKNOWN_DEVICE = 31,
    FOGPAY_ERR_DEVICE_MISMATCH = 32, /* payload device differs from the client id */
    FOGPAY_ERR_KEY_REVOKED = 33,
    FOGPAY_ERR_DEVICE_SUSPENDED = 34,
    FOGPAY_ERR_DEVICE_REVOKED = 35,
    FOGPAY_ERR_SEQ_CONFLICT = 36, /* (device, seq) reused with other content */
    FOGPAY_ERR_EXPIRED = 37,
    FOGPAY_ERR_NOT_YET_VALID = 38, /* created further in the future than the skew */
    FOGPAY_ERR_CURRENCY_UNSUPPORTED = 39,
    FOGPAY_ERR_UNKNOWN_PAYEE = 40,
    FOGPAY_ERR_AMOUNT_ZERO = 41,
    FOGPAY_ERR_AMOUNT_TOO_LARGE = 42,
    FOGPAY_ERR_LIMIT_PER_PAYMENT = 43,
    FOGPAY_ERR_LIMIT_PER_DAY = 44,
    FOGPAY_ERR_INSUFFICIENT_FUNDS = 45,
    FOGPAY_ERR_WALLET_MAX = 46, /* the payee's wallet would exceed its maximum */
    FOGPAY_ERR_PAYEE_SELF = 47,
    FOGPAY_ERR_PAYEE_INACTIVE = 48,
    FOGPAY_ERR_NOT_AUTHORISED = 49, /* identity may not do this (ACL, control) */
    FOGPAY_ERR_NOT_FOUND = 50,      /* an operator command names nothing that exists */
    FOGPAY_ERR_EXISTS = 51,         /* an operator command would create a duplicate */
    FOGPAY_ERR_CHAIN_MISMATCH = 52, /* a batch or ledger chain does not continue */
    FOGPAY_ERR_GAP = 53,            /* a batch starts after the expected position */
    FOGPAY_ERR_UNKNOWN_GATEWAY = 54,
    FOGPAY_ERR_TOO_MANY_PENDING = 55, /* the device's answers are over its limit: send later */
    FOGPAY_ERR_CHAIN_FORK = 56,       /* a second message continues the device's chain */
    FOGPAY_ERR_CHAIN_GAP = 57,        /* the message's predecessor has not arrived: send it */
    FOGPAY_ERR_SECRET_WEAK = 59,      /* a device secret too short or too uniform */

    /* Policy, the payment products (FOGPAY_ERR_PRODUCT_FIRST..LAST). */
    /* Holds (conditional payments): */
    FOGPAY_ERR_HOLD_UNKNOWN = 100,          /* no hold has that id */
    FOGPAY_ERR_HOLD_VOIDED = 101,           /* the hold was voided already */
    FOGPAY_ERR_HOLD_CAPTURED = 102,         /* the hold was captured already */
    FOGPAY_ERR_HOLD_EXPIRED = 103,          /* the hold's time is over */
    FOGPAY_ERR_HOLD_OVER_AMOUNT = 104,      /* a capture above the held amount */
    FOGPAY_ERR_HOLD_NOT_PARTY = 105,        /* the device is neither payer nor payee */
    FOGPAY_ERR_HOLD_PAYER_CAPTURE = 106,    /* the payer may void its hold, not capture it */
    FOGPAY_ERR_HOLD_TIMEOUT_TOO_LONG = 107, /* hold-s over FOGPAY_HOLD_TIMEOUT_MAX_S */
    FOGPAY_ERR_HOLD_TOO_MANY = 108,         /* the gateway holds FOGPAY_HOLDS_OPEN_MAX open */
    /* Tariffs and metered use: readings of bound meters and meter bindings. */
    FOGPAY_ERR_READING_BACKWARDS = 110,    /* below the meter's last settled reading */
    FOGPAY_ERR_READING_REPEATED = 111,     /* equal to the meter's last settled reading */
    FOGPAY_ERR_READING_IMPLAUSIBLE = 112,  /* more than FOGPAY_METER_DELTA_MAX since the last */
    FOGPAY_ERR_TARIFF_UNKNOWN = 113,       /* no tariff of that id is defined */
    FOGPAY_ERR_TARIFF_NOT_EFFECTIVE = 114, /* the tariff applies only from a later time */
    FOGPAY_ERR_UNIT_MISMATCH = 115,        /* the reading's unit is not the tariff's */
    FOGPAY_ERR_CHARGE_UNPAID = 116,        /* the payer's wallet cannot pay the charge */
    FOGPAY_ERR_CHARGE_TOO_LARGE = 117,     /* one charge over FOGPAY_AMOUNT_MAX_MINOR */
    FOGPAY_ERR_METER_UNKNOWN = 118,        /* the meter is not bound to a tariff */
    FOGPAY_ERR_TARIFF_OWN_PAYEE = 119,     /* the tariff would pay the payer's own wallet */
    /* Fees and splits: */
    FOGPAY_ERR_FEE_ACCOUNT_UNKNOWN = 120, /* a fee leg's account is absent, system or foreign */
    FOGPAY_ERR_FEE_ACCOUNT_CLOSED = 121,  /* a fee leg's account is a revoked device's wallet */
    FOGPAY_ERR_FEE_OVER_TOTAL = 122,      /* the fee legs take 100% or more */
    FOGPAY_ERR_FEE_LEGS_TOO_MANY = 123,   /* more fee legs than a transfer holds */
    FOGPAY_ERR_FEE_REMAINDER_LEG = 124,   /* the remainder names a leg the schedule lacks */
    FOGPAY_ERR_FEE_NOT_IN_ORDER = 125,    /* effective before the payee's latest schedule */
    FOGPAY_ERR_FEE_LEG_PAYEE = 126,       /* a fee leg credits the payee's own account */
    FOGPAY_ERR_FEE_LEG_PAYER = 127,       /* a fee leg credits the paying wallet itself */
    FOGPAY_ERR_FEE_WALLET_MAX = 128,      /* a fee leg would take its wallet over its maximum */
    FOGPAY_ERR_FEE_LEG_ZERO = 129,        /* a fee leg of zero basis points */
    /* Entity logins: what a legal entity logged in as itself may not do. */
    FOGPAY_ERR_ENTITY_FOREIGN_DEVICE = 130,   /* a device the entity does not hold now */
    FOGPAY_ERR_ENTITY_FOREIGN_ACCOUNT = 131,  /* another entity's account or money */
    FOGPAY_ERR_ENTITY_FOREIGN_TRANSFER = 132, /* a transfer the entity is no party to */
    FOGPAY_ERR_ENTITY_COMMAND = 133,          /* a control command not open to entities */
    /* Financing: device plans and their instalments. */
    FOGPAY_ERR_PLAN_UNKNOWN = 140,      /* no financing plan of that id */
    FOGPAY_ERR_PLAN_CLOSED = 141,       /* the plan is closed: nothing more is owed or paid */
    FOGPAY_ERR_PLAN_TERMS = 142,        /* a term of the plan is out of its range */
    FOGPAY_ERR_PLAN_NOT_IN_ORDER = 143, /* effective before the plan's latest version */
    FOGPAY_ERR_PLAN_DEVICE = 144,       /* the plan finances another device */
    FOGPAY_ERR_PLAN_PAYEE = 145,        /* an instalment not to the lender's account */
    FOGPAY_ERR_INSTALMENT_AMOUNT = 146, /* not the amount of the instalment due */
    FOGPAY_ERR_PLAN_PAID = 147,         /* every instalment of the plan is paid */
    /* Financing: collection, arrears, statements and early settlement. */
    FOGPAY_ERR_PLAN_ARREARS = 148,       /* the device is in arrears: only instalments are taken */
    FOGPAY_ERR_COLLECTION_REFUSED = 149, /* the plan does not let the gateway collect */
    FOGPAY_ERR_SETTLEMENT_FUNDS = 150,   /* the payer does not hold the settlement amount */
    FOGPAY_ERR_STATEMENT_ENTITY = 151,   /* the entity never held the financed device */
    FOGPAY_ERR_PLAN_NOT_STARTED = 152,   /* the plan is not in effect yet */
    FOGPAY_ERR_PLAN_LIMITED = 153,       /* in arrears: a payee the plan does not name */
    /* The financed device's own refusals (edge-agent/README.md). */
    FOGPAY_ERR_PLAN_LAPSED = 155, /* paid up to a time now past: only instalments are paid */
    /* Bearer notes: the issuer's notes and their custody chains. */
    FOGPAY_ERR_NOTE_FORGED = 160,          /* the issuer's signature does not verify */
    FOGPAY_ERR_NOTE_ISSUER_UNKNOWN = 161,  /* signed by a key no trusted issuer holds */
    FOGPAY_ERR_NOTE_ISSUER_RETIRED = 162,  /* signed by an issuer key retired since */
    FOGPAY_ERR_NOTE_DENOMINATION = 163,    /* not a denomination of its currency */
    FOGPAY_ERR_NOTE_EXPIRED = 164,         /* the note's expiry is past */
    FOGPAY_ERR_CUSTODY_NOT_HOLDER = 165,   /* a custody entry not signed by the holder */
    FOGPAY_ERR_CUSTODY_BROKEN = 166,       /* a custody entry that does not continue the chain */
    FOGPAY_ERR_NOTE_SERIAL_SEEN = 167,     /* the serial is in the register, or twice in one */
    FOGPAY_ERR_CUSTODY_OTHER_HOLDER = 168, /* handed to another key than the receiver's */
    FOGPAY_ERR_NOTE_STOCK_SHORT = 169,     /* the stock cannot make the amount in notes */
    FOGPAY_ERR_NOTE_UNKNOWN = 170,         /* the register holds no note of that serial */
    FOGPAY_ERR_NOTE_DOUBLE_SPEND = 171,    /* the note was spent already: its holder moved on */
    FOGPAY_ERR_NOTE_SUM_MISMATCH = 172,    /* the notes do not sum to the amount in its currency */
    FOGPAY_ERR_NOTE_CHANGE_SHORT = 173,    /* the stock cannot make a payment's change in notes */
    /* Bank documents and personal data: statements, payouts, GDPR requests. */
    FOGPAY_ERR_ENTITY_UNKNOWN = 180,          /* no legal entity has that id */
    FOGPAY_ERR_PERIOD_EMPTY = 181,            /* the period ends where it starts */
    FOGPAY_ERR_PERIOD_REVERSED = 182,         /* the period ends before it starts */
    FOGPAY_ERR_BANK_REFERENCE_MISSING = 183,  /* the entity holds no bank reference */
    FOGPAY_ERR_BANK_REFERENCE_NOT_IBAN = 184, /* the bank reference is not an IBAN */
    FOGPAY_ERR_PAYOUT_CURRENCY = 185,         /* a SEPA credit transfer is in euro */
    FOGPAY_ERR_DOCUMENT_TOO_LONG = 186,       /* over FOGPAY_BANK_DOCUMENT_ENTRIES_MAX */
    FOGPAY_ERR_PERSONAL_DATA_ERASED = 187,    /* the entity's personal data are erased */
    FOGPAY_ERR_PAYOUT_NONE = 188,             /* no payout in the period to initiate */
    /* Pay-per-use from a hold: a meter bound to a tariff and a hold. */
    FOGPAY_ERR_HOLD_INSUFFICIENT = 195,    /* the reading's charge is over what the hold has left */
    FOGPAY_ERR_HOLD_FOREIGN = 196,         /* the hold's payer is another device */
    FOGPAY_ERR_HOLD_RESOLVED = 197,        /* the hold is captured, voided or expired */
    FOGPAY_ERR_HOLD_TARIFF_PAYEE = 198,    /* the hold pays another payee than the tariff */
    FOGPAY_ERR_HOLD_TARIFF_CURRENCY = 199, /* the hold is in another currency than the tariff */

    /* Storage: the ledger, journal or store could not do its part. */
    FOGPAY_ERR_STORAGE = 60,
    FOGPAY_ERR_STORAGE_BUSY = 61,
    FOGPAY_ERR_SCHEMA_VERSION = 62,
    FOGPAY_ERR_LEDGER_CORRUPT = 63, /* verify found an invariant broken */
    FOGPAY_ERR_JOURNAL_FULL = 64,
    FOGPAY_ERR_IO = 65,

    /* Internal: faults of this process, not of its input. */
    FOGPAY_ERR_NO_MEMORY = 80,
    FOGPAY_ERR_CRYPTO = 81,
    FOGPAY_ERR_BUFFER_TOO_SMALL = 82,
    FOGPAY_ERR_INVALID_ARGUMENT = 83,
    FOGPAY_ERR_KEY_FILE = 84, /* key file missing, unreadable, or too open */
    FOGPAY_ERR_CONFIG = 85,   /* an option is missing or invalid */
    FOGPAY_ERR_TIMEOUT = 86,
    FOGPAY_ERR_NETWORK = 87,
} fogpay_error;

/* The second policy group, the refusals of the payment products. */
#define FOGPAY_ERR_PRODUCT_FIRST 100
#define FOGPAY_ERR_PRODUCT_LAST  199

/* The stable snake_case name of err ("bad_signature"), used in logs, JSON and
 * the CDDL. Returns "unknown_error" for a value not in the enum. Static
 * storage; the caller frees nothing. */
const char *fogpay_error_name(fogpay_error err);
/* True for the refusals that mean "not now": too_many_pending and
 * chain_gap. The gateway records nothing for them; the device sends the
 * same message again later (and its predecessors first). */
int fogpay_error_is_transient(fogpay_error err);
/* True for the refusals after which the refused message takes no place on
 * the device's chain (schemas/README.md, "Device chain"): the transient
 * ones, seq_conflict, chain_fork, and the refusals of a message whose
 * bytes, signature or device did not check (the malformed-input group,
 * bad_signature, key_revoked, device_mismatch, unknown_device). The next
 * message links to what the refused one linked to. */
int fogpay_error_is_off_chain(fogpay_error err);

/* A sentence describing err for people. Static storage. */
const char *fogpay_error_string(fogpay_error err);

/* Non-zero when err may be sent to a device as a rejection reason, that is,
 * it is in the malformed-input group or one of the two policy groups. */
int fogpay_error_is_reason(fogpay_error err);

#endif
