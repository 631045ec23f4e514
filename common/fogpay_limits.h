/*
 * fogpay_limits.h - every size and count limit of fogpay, in one place.
 *
 * Each limit is a named constant with the reason for its value. Input over a
 * limit is refused with a specific error; it never reaches a fixed buffer.
 * The static assertions at the end state how the limits relate.
 */
#ifndef FOGPAY_LIMITS_H
#define FOGPAY_LIMITS_H

#include <assert.h>

/* A device id is its MQTT client id. MQTT 3.1.1 guarantees servers accept
 * 23 bytes; fogpay holds device ids to that so any broker takes them. */
#define FOGPAY_DEVICE_ID_MAX 23

/* Gateway ids appear in topics and receipts; same reasoning as devices. */
#define FOGPAY_GATEWAY_ID_MAX 23

/* A payment reference is a short purpose code, not free text: keeping it
 * short keeps personal data out of messages and intents small. */
#define FOGPAY_REFERENCE_MAX 32

/* Meter ids and units of pay-per-use readings ("kWh", "h", "L"). */
#define FOGPAY_METER_ID_MAX 23
#define FOGPAY_UNIT_MAX     8

/* Tariff ids are names an operator chooses ("ev-ac-2026"), as short as
 * device ids so that a transfer record with both still fits its bound. */
#define FOGPAY_TARIFF_ID_MAX 23

/* Financing plans are named like tariffs ("charger-7-loan"). */
#define FOGPAY_PLAN_ID_MAX 23

/* A plan's instalments: fifty years of monthly ones, more than any device
 * lives; it bounds a schedule listed in full by the control API. */
#define FOGPAY_PLAN_INSTALMENTS_MAX 600

/* Plans whose notice the gateway publishes again after its start, one
 * batch a tick (the plan ids are read, then each notice numbered, signed
 * and sent): the retained notices do not survive a broker without
 * persistence, and a plan defined offline (fogpayctl --db) has none yet.
 * Each notice commits its command seq (an fsync) on the broker's thread,
 * so a batch of 16 holds the broker for tens of milliseconds at most; a
 * gateway's plans are announced over as many ticks as they need. */
#define FOGPAY_PLAN_ANNOUNCE_BATCH 16

/* The payees a plan version whose shortfall is limit names (device ids
 * or entity ids, each at most FOGPAY_PLAN_PAYEE_ID_MAX bytes): the few a
 * device in arrears may still pay (its energy supplier, the site's
 * operator), listed in full in the plan's event and by the control API. */
#define FOGPAY_PLAN_PAYEES_MAX   6
#define FOGPAY_PLAN_PAYEE_ID_MAX 23

/* A plan's period, from a minute (so that a test runs a whole plan in
 * minutes) to a leap year; its grace at most one period, so that an
 * instalment is late before the next falls due. */
#define FOGPAY_PLAN_PERIOD_MS_MIN 60000ull
#define FOGPAY_PLAN_PERIOD_MS_MAX 31622400000ull

/* The year an annual rate is counted over: 365 days, exactly, in ms. */
#define FOGPAY_PLAN_YEAR_MS 31536000000ull

/* A fixed annual rate in basis points: at most 1000 % a year, above any
 * lawful rate; with the limits above, principal * rate * term stays under
 * 2^40 * 2^17 * 2^45 = 2^102, exact in 128 bits. */
#define FOGPAY_PLAN_RATE_BP_MAX 100000u

/* Collection and arrears on the gateway's tick (ledger_collect.c): the
 * plans one pass looks at, in plan id order, the next pass going on after
 * the last (each costs a few indexed reads, so a pass stays well under a
 * millisecond of the broker's thread); the instalments one pass collects
 * of one plan (a wallet funded after several missed periods catches up
 * over a few passes); and the real time between passes, off the path of
 * every message. */
#define FOGPAY_PLAN_COLLECT_PER_TICK    64
#define FOGPAY_PLAN_COLLECT_INSTALMENTS 8
#define FOGPAY_PLAN_COLLECT_INTERVAL_MS 200

/* A tariff's price as text, "<num>/<den>": two decimal integers of at most
 * 19 digits (each at most 2^63-1) and the slash. */
#define FOGPAY_PRICE_TEXT_MAX 39

/* The plausibility limit of a bound meter: the most a reading may lie
 * above the meter's last settled one. A billion units is a gigawatt-hour
 * read in Wh, more than any one meter runs between two readings; a jump
 * beyond it is a broken or forged meter, refused (reading_implausible)
 * rather than charged. */
#define FOGPAY_METER_DELTA_MAX 1000000000ull

/* Key ids are short: a gateway key is named by 8 bytes of its hash. */
#define FOGPAY_KID_MAX 16

/* Unanswered messages (intents and readings) one device may have at a
 * gateway at once. A message beyond it is dropped unanswered, its seq not
 * used up, and sent again by the device later. Far more than any device's
 * honest window (an agent sends its whole journal again after a timeout),
 * few enough that a device flooding as fast as the network carries delays
 * another device's answer by at most this many signature checks. */
#define FOGPAY_DEVICE_PENDING_MAX 256

/* SHA-256 everywhere: chain hashes, intent hashes. */
#define FOGPAY_HASH_BYTES 32

/* An intent links to its predecessor by the first 8 bytes of the SHA-256 of
 * the previous signed intent. The link is inside the signed payload, so a
 * forger would need the device key; 8 bytes keep a signed intent under the
 * 128-byte wire target. */
#define FOGPAY_PREV_HASH_BYTES 8

/* Ed25519 and ES256 (raw r||s) signatures are both 64 bytes. */
#define FOGPAY_SIGNATURE_BYTES 64

/* Largest public key: an uncompressed P-256 point (0x04 || x || y). */
#define FOGPAY_PUBLIC_KEY_MAX 65

/* The messages of the contract nest at most a map inside an array inside a
 * map (a batch record); COSE adds one level. Deeper input is refused. */
#define FOGPAY_CBOR_DEPTH_MAX 8

/* Largest signed device or gateway message other than a batch (intent,
 * receipt, usage, command). Well above the largest valid one (about 260
 * bytes for a receipt with every field), well below any MQTT limit. Larger
 * payloads on device topics are refused before decoding. */
#define FOGPAY_MESSAGE_MAX 512

/* The wire target for a signed intent; the benchmark reports the real size. */
#define FOGPAY_INTENT_TARGET_BYTES 128

/* An intent may live at most a day; devices that are offline longer sign a
 * new intent when they return. */
#define FOGPAY_TTL_MAX_S 86400u

/* A hold (an intent with hold-s, intent.cddl key 11) lasts at most a
 * week: long enough for a rental or a charging session left over a
 * weekend, short enough that money is never parked out of its owner's
 * reach for long by a payee that never captures. */
#define FOGPAY_HOLD_TIMEOUT_MAX_S (7u * 86400u)

/* Open holds one gateway keeps at a time, all in memory (the ledger's hot
 * state): a site's charging sessions and rentals in progress are a few
 * hundred; 65,536 bounds the memory (about 10 MiB) and the tick's scan for
 * expiries. A hold over it is refused (hold_too_many). */
#define FOGPAY_HOLDS_OPEN_MAX 65536u

/* A device key replaced by a rotation stays valid at most this long (its
 * overlap window), so that intents it signed and journaled before the
 * rotation can still be sent: an intent lives at most FOGPAY_TTL_MAX_S, so a
 * longer window would only keep an old key alive for nothing. */
#define FOGPAY_KEY_OVERLAP_MAX_S FOGPAY_TTL_MAX_S

/* The gateway accepts intents created at most this far in its future. */
#define FOGPAY_CLOCK_SKEW_MAX_S 300u

/* Largest single amount in minor units: 10^12 (ten billion euros). Sums of
 * such amounts stay far from INT64_MAX, so balances never overflow. */
#define FOGPAY_AMOUNT_MAX_MINOR 1000000000000ull

/* ISO 4217 numeric currency codes run from 001 to 999. */
#define FOGPAY_CURRENCY_MIN 1u
#define FOGPAY_CURRENCY_MAX 999u

/* Upstream batches: count of transfer records and encoded size. A batch of
 * 500 records is about 75 KiB, comfortably inside an MQTT message. */
#define FOGPAY_BATCH_RECORDS_MAX 500
#define FOGPAY_BATCH_BYTES_MAX   (256 * 1024)

/* The record of one transfer in a batch, encoded. */
#define FOGPAY_RECORD_BYTES_MAX 384

/* Legs of one transfer (fees and splits): the payee's and up to five fees
 * (a platform, a site host, a network operator, a tax, a reserve) in one
 * chain position, all or none. Six keep the largest record, every optional
 * field at its longest and each further leg's two accounts and amount at
 * nine bytes, under FOGPAY_RECORD_BYTES_MAX (tests/common/test_message.c
 * encodes it): 222 bytes without legs, 28 a further leg, 2 for key 20. */
#define FOGPAY_LEGS_MAX 6

/* Legal-entity pseudonymous ids ("le-" followed by 16 hex digits). */
#define FOGPAY_ENTITY_ID_MAX 23

/* The username of a legal entity's own login: of the alphabet of ids and
 * as long as a device id, so that it is a valid MQTT username, client id
 * and topic level (its control replies come on a topic that names it) and
 * the ledger can refuse a login named as a device. */
#define FOGPAY_LOGIN_NAME_MAX 23

/* Sequence numbers, chain positions, account ids and meter quantities are
 * stored as SQLite integers, which are signed 64-bit: messages carrying a
 * larger one are refused when decoded (2^63-1). */
#define FOGPAY_STORED_INT_MAX 0x7fffffffffffffffull

/* The topic prefix ("fogpay/v1" by default) is one per deployment and must
 * be the same on the gateway, its devices and the cloud ingest, so the
 * narrowest of the three bounds is the one that holds: 64 bytes, room for
 * a tenant and a site level or two in front of "fogpay/v1". Topics are
 * built into fixed buffers of FOGPAY_TOPIC_MAX bytes (with the NUL). */
#define FOGPAY_TOPIC_PREFIX_MAX 64
#define FOGPAY_TOPIC_MAX        (FOGPAY_TOPIC_PREFIX_MAX + FOGPAY_DEVICE_ID_MAX + 32)

/* The name of an MQTT 5 response topic {prefix}/dev/{device}/reply/{name}
 * is the device's choice ("receipt"); a name of this many bytes fits a
 * topic buffer under any prefix and id. Longer names are taken as long as
 * the whole topic is under FOGPAY_TOPIC_MAX. */
#define FOGPAY_TOPIC_REPLY_NAME_MAX 16

/* Room for the COSE_Sign1 around a batch payload: the tag, array and
 * headers, the kid, the payload's bstr head and the signature come to
 * under 100 bytes. The gateway sends and the ingest accepts a signed batch
 * of at most FOGPAY_BATCH_SIGNED_MAX bytes; a larger one is refused before
 * it is parsed. */
#define FOGPAY_BATCH_COSE_OVERHEAD_MAX 256
#define FOGPAY_BATCH_SIGNED_MAX        (FOGPAY_BATCH_BYTES_MAX + FOGPAY_BATCH_COSE_OVERHEAD_MAX)

/* A signed batch acknowledgement: the payload (under 100 bytes) and the
 * COSE_Sign1 around it fit a device-sized message, which is what the
 * gateway accepts on its ack topic. */
#define FOGPAY_BATCH_ACK_MAX FOGPAY_MESSAGE_MAX

/* The answers a gateway owes one device (plugin/flow.c): at most
 * FOGPAY_FLOW_ANSWERS_MAX messages answered per window of
 * FOGPAY_FLOW_WINDOW_MS (a device at 500 payments a second is far beyond
 * any machine's need; the agent's whole journal is resent within three
 * windows), one refusal answered after them, and a device refused in
 * FOGPAY_FLOW_STRIKES_MAX windows in a row disconnected. So the broker must
 * queue at least FOGPAY_BROKER_QUEUED_MIN messages per client
 * (max_queued_messages; deploy/mosquitto.conf sets FOGPAY_BROKER_QUEUED,
 * and a test checks it), with room for the device's commands. The table
 * of devices holds at most FOGPAY_FLOW_DEVICES_MAX devices active in the
 * last two windows; beyond it, new devices are refused until entries idle. */
#define FOGPAY_FLOW_WINDOW_MS       1000u
#define FOGPAY_FLOW_ANSWERS_MAX     500u
#define FOGPAY_FLOW_STRIKES_MAX     3u
#define FOGPAY_FLOW_DEVICES_MIN     64u
#define FOGPAY_FLOW_DEVICES_MAX     (1u << 20)
#define FOGPAY_DEVICE_COMMANDS_ROOM 16u
#define FOGPAY_BROKER_QUEUED_MIN                                                                   \
    ((FOGPAY_FLOW_ANSWERS_MAX + 1) * (FOGPAY_FLOW_STRIKES_MAX + 1) + FOGPAY_DEVICE_COMMANDS_ROOM)
#define FOGPAY_BROKER_QUEUED 2048u

/* Bearer notes (common/fogpay_note.h). A note's serial is 16 random
 * bytes: 128 bits, so that no one guesses a serial in circulation and two
 * issuances never meet by chance. */
#define FOGPAY_NOTE_SERIAL_BYTES 16

/* Issuer keys a gateway trusts at once: the active key of each issuer
 * and the keys overlapping it during a rotation; a handful of issuers
 * (a central bank, e-money institutions) is the whole of a currency area. */
#define FOGPAY_NOTE_ISSUERS_MAX 16

/* A note's denominations, per currency: a fixed list as a currency's
 * coins and notes are, at most this many. */
#define FOGPAY_NOTE_DENOMINATIONS_MAX 16

/* A signed note (about 140 bytes) and a signed custody entry (about 230
 * bytes, most of it the next holder's key as text) each fit a device
 * message. */
#define FOGPAY_NOTE_SIGNED_MAX    FOGPAY_MESSAGE_MAX
#define FOGPAY_CUSTODY_SIGNED_MAX FOGPAY_MESSAGE_MAX

/* A line of a note file: a signed note and a custody entry in hex, a
 * space between them, and the NUL. */
#define FOGPAY_NOTE_LINE_MAX (2 * (FOGPAY_NOTE_SIGNED_MAX + FOGPAY_CUSTODY_SIGNED_MAX) + 2)

/* Notes handed out by one withdrawal: sixteen, so that any amount up to
 * a wallet's daily needs is made of few notes and every custody entry the
 * gateway signs for it is signed within one settlement. */
#define FOGPAY_NOTE_WITHDRAW_MAX 16

/* Notes paid in one note payment (note.cddl note-payment): each costs
 * its serial and the payer's signature of its custody entry (about 85
 * bytes), and four keep the signed message under FOGPAY_MESSAGE_MAX. */
#define FOGPAY_NOTE_PAYMENT_NOTES_MAX 4

/* An issuer's trust file (plugin_opt_note_issuers): one key a line. */
#define FOGPAY_NOTE_ISSUER_LINE_MAX 256
/* The gateway's metrics (plugin/metrics.c), published retained under
 * $SYS/broker/fogpay/ every plugin_opt_metrics_interval milliseconds: by
 * default every ten seconds as Mosquitto's own $SYS figures are, at most
 * ten times a second (each publication reads a few figures of the ledger)
 * and at least once an hour. The last minute's figures are kept in
 * FOGPAY_METRICS_SLICES slices of FOGPAY_METRICS_SLICE_MS, so "the last
 * minute" means the last 55 to 60 seconds. Device connections counted at
 * once: a table of FOGPAY_METRICS_CLIENTS_MAX slots (a power of two, half
 * of them at most in use, 512 KiB), twice a site's thousands of devices;
 * a connection beyond it is not counted, and the log says so. A refusal
 * reason is a fogpay_error below FOGPAY_METRICS_REASONS; any other is
 * counted under FOGPAY_METRICS_REASONS - 1's slot as "other". */
#define FOGPAY_METRICS_INTERVAL_DEFAULT_MS 10000u
#define FOGPAY_METRICS_INTERVAL_MIN_MS     100u
#define FOGPAY_METRICS_INTERVAL_MAX_MS     3600000u
#define FOGPAY_METRICS_SLICES              12u
#define FOGPAY_METRICS_SLICE_MS            5000u
#define FOGPAY_METRICS_CLIENTS_MAX         (1u << 16)
#define FOGPAY_METRICS_REASONS             256u

/* Devices in one listDevices page (control/control_device.c): a reply of
 * about 25 KiB, well under the control topic's limits; a site of a
 * thousand devices in ten pages. */
#define FOGPAY_CONTROL_DEVICES_PAGE 100

/* fogpay-exporter (apps/fogpay-exporter): the port it serves /metrics on
 * by default (next to the node exporter's 9100 family, unclaimed in
 * Prometheus' list of default ports), the figures it keeps (the gateway
 * publishes about sixty, one a reason code seen), the bytes of a figure's
 * text (a histogram's bucket lines) and of one /metrics page, and how long
 * it waits before logging in to the broker again. */
#define FOGPAY_EXPORTER_PORT_DEFAULT 9853
#define FOGPAY_EXPORTER_FIGURES_MAX  512
#define FOGPAY_EXPORTER_TEXT_MAX     1024
#define FOGPAY_EXPORTER_PAGE_MAX     (256 * 1024)
#define FOGPAY_EXPORTER_RECONNECT_MS 1000

static_assert(FOGPAY_METRICS_SLICES * FOGPAY_METRICS_SLICE_MS == 60000u,
              "the slices cover one minute");
static_assert((FOGPAY_METRICS_CLIENTS_MAX & (FOGPAY_METRICS_CLIENTS_MAX - 1)) == 0,
              "the connection table is a power of two");
/* Bank documents (control/iso20022*.c): the entries of one camt.053
 * statement and the credit transfers of one pain.001 initiation. A
 * document is one control reply, and an entry takes about 1.2 KiB of XML,
 * so 1000 keep a reply near a megabyte, which a broker and a bank's upload
 * both take; a longer period is asked for in parts (document_too_long). */
#define FOGPAY_BANK_DOCUMENT_ENTRIES_MAX 1000u

/* Bank identifiers (ISO 13616, ISO 9362): an IBAN is at most 34
 * characters (two letters, two check digits, up to 30 letters and
 * digits), written with spaces in groups of four at most 42; a BIC is 8 or
 * 11; a party's name in an ISO 20022 message at most 140 characters. */
#define FOGPAY_IBAN_MAX      34
#define FOGPAY_IBAN_TEXT_MAX 42
#define FOGPAY_BIC_MAX       11
#define FOGPAY_BANK_NAME_MAX 140

/* An access request's export (control/control_entity_data.c): the
 * transfers and the events naming the entity that one reply carries. The
 * transfers past them are read with listTransfers from the cursor the
 * export names; the events are few (registrations, ownership, logins). */
#define FOGPAY_ENTITY_EXPORT_TRANSFERS_MAX 1000u
#define FOGPAY_ENTITY_EXPORT_EVENTS_MAX    1000u
/* The devices of an entity's ownership history one export lists. */
#define FOGPAY_ENTITY_EXPORT_OWNERSHIP_MAX 1000u

static_assert(FOGPAY_BROKER_QUEUED >= FOGPAY_BROKER_QUEUED_MIN,
              "the broker queues every answer a device can be owed");
static_assert((FOGPAY_FLOW_DEVICES_MIN & (FOGPAY_FLOW_DEVICES_MIN - 1)) == 0 &&
                  (FOGPAY_FLOW_DEVICES_MAX & (FOGPAY_FLOW_DEVICES_MAX - 1)) == 0,
              "the flow table doubles between powers of two");
static_assert(FOGPAY_PREV_HASH_BYTES <= FOGPAY_HASH_BYTES, "prev hash is a prefix of a hash");
static_assert(FOGPAY_INTENT_TARGET_BYTES <= FOGPAY_MESSAGE_MAX, "an intent is a message");
static_assert(FOGPAY_RECORD_BYTES_MAX * FOGPAY_BATCH_RECORDS_MAX <= FOGPAY_BATCH_BYTES_MAX,
              "a full batch of the largest records fits the batch size");
static_assert(222 + 2 + (FOGPAY_LEGS_MAX - 1) * 28 <= FOGPAY_RECORD_BYTES_MAX,
              "the largest transfer with every leg fits a record");
static_assert(FOGPAY_AMOUNT_MAX_MINOR < (1ull << 53), "amounts stay exact in JSON numbers");
static_assert(FOGPAY_GATEWAY_ID_MAX <= FOGPAY_DEVICE_ID_MAX,
              "a gateway id fits wherever a device id does in a topic buffer");
static_assert(FOGPAY_TOPIC_PREFIX_MAX + sizeof "/dev/" - 1 + FOGPAY_DEVICE_ID_MAX +
                      sizeof "/reply/" - 1 + FOGPAY_TOPIC_REPLY_NAME_MAX <
                  FOGPAY_TOPIC_MAX,
              "the longest device topic (a reply topic) and its NUL fit a topic buffer");
static_assert(FOGPAY_TOPIC_PREFIX_MAX + sizeof "/gw/" - 1 + FOGPAY_GATEWAY_ID_MAX +
                      sizeof "/batch" - 1 <
                  FOGPAY_TOPIC_MAX,
              "the longest gateway topic and its NUL fit a topic buffer");
static_assert(FOGPAY_MESSAGE_MAX <= FOGPAY_BATCH_SIGNED_MAX, "a signed batch holds any message");

#endif
