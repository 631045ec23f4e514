#!/usr/bin/env python3
"""Writes the payload test vectors of schemas/vectors/ (payloads.json).

This is a second, independent CBOR encoder (a few lines of Python, no
libraries) so that the vectors do not come from the C code they test. Run it
from the repository root after changing the contract:

    python3 schemas/vectors/generate.py > schemas/vectors/payloads.json

Each vector names a message type, its hex, and either "diagnostic" (the value
in RFC 8949 diagnostic notation; it must decode, and re-encode to the same
bytes) or "error" (the fogpay_error name the decoder must return).
"""
import json
import struct


def head(major, value, width=None):
    """A CBOR head; width forces a non-shortest encoding (1, 2, 4 or 8)."""
    if width is None:
        if value < 24:
            return bytes([major << 5 | value])
        width = 1 if value < 0x100 else 2 if value < 0x10000 else 4 if value < 0x100000000 else 8
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | ai]) + value.to_bytes(width, "big")


def enc(v):
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, bool):
        return bytes([0xF5 if v else 0xF4])
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, Pairs):
        return head(5, len(v.items)) + b"".join(enc(k) + enc(x) for k, x in v.items)
    if isinstance(v, dict):
        return enc(Pairs(sorted(v.items())))
    raise TypeError(v)


class Raw:
    def __init__(self, data):
        self.data = data


class Pairs:
    """A map in the given order, duplicates allowed (for invalid vectors)."""

    def __init__(self, items):
        self.items = items


def diag(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return "h'" + v.hex() + "'"
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, list):
        return "[" + ", ".join(diag(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(diag(k) + ": " + diag(x) for k, x in sorted(v.items())) + "}"
    raise TypeError(v)


PREV = bytes.fromhex("0011223344556677")
HASH_A = bytes(range(1, 33))
HASH_B = bytes(range(33, 65))

INTENT = {1: "meter-07", 2: 42, 3: "charger-1", 5: 150, 6: 978, 7: 1764000000, 8: 300, 10: PREV}
INTENT_ACCOUNT = {1: "meter-07", 2: 43, 4: 17, 5: 99, 6: 840, 7: 1764000000, 8: 60,
                  9: "coffee", 10: PREV}
USAGE = {1: "meter-07", 2: 44, 3: "m1", 4: 1250, 5: "kWh", 6: 1764000100, 7: PREV}
RECEIPT_SETTLED = {1: "meter-07", 2: 42, 3: 0, 4: 0, 6: 7, 7: 850, 8: 7, 9: HASH_A,
                   10: "gw-1", 11: 1764000001, 12: HASH_B, 13: 978}
RECEIPT_REJECTED = {1: "meter-07", 2: 42, 3: 0, 4: 1, 5: 45, 10: "gw-1", 11: 1764000001,
                    12: HASH_B}
RECEIPT_NEGATIVE = {1: "meter-07", 2: 42, 3: 0, 4: 0, 6: 7, 7: -5, 8: 7, 9: HASH_A,
                    10: "gw-1", 11: 1764000001, 12: HASH_B, 13: 978}
RECEIPT_STORED = {1: "meter-07", 2: 44, 3: 1, 4: 2, 10: "gw-1", 11: 1764000101, 12: HASH_A}
RECEIPT_USAGE_REJECTED = {1: "meter-07", 2: 44, 3: 1, 4: 1, 5: 12, 10: "gw-1",
                          11: 1764000101, 12: HASH_A}
COMMAND_SUSPEND = {1: "meter-07", 2: 1, 3: 0, 4: 1764000200, 5: "gw-1"}
COMMAND_LIMITS = {1: "meter-07", 2: 2, 3: 2, 4: 1764000300, 5: "gw-1", 7: 500, 8: 5000,
                  9: 100000}
TRANSFER = {1: 7, 2: 0, 3: 3, 4: 5, 5: 150, 6: 978, 7: 1764000000123, 8: "meter-07", 9: 42,
            10: "le-00112233445566aa", 11: "le-8899aabbccddeeff", 12: HASH_B}
TRANSFER_FUNDING = {1: 1, 2: 1, 3: 1, 4: 3, 5: 10000, 6: 978, 7: 1764000000000}
# A payment of 30.01 split by a fee schedule of 300 bp, the remainder to the
# fee leg: 29.10 to the payee (first leg), 0.91 to account 9 (key 20).
TRANSFER_LEGS = {**TRANSFER, 5: 2910, 20: [[3, 9, 91]]}
EVENT_FEE = {1: 9, 2: 9, 3: 1764000000000, 4: "charger-1", 11: 1764000000000, 20: 978,
             21: [[9, 300]], 22: 1}
EVENT_STATUS = {1: 2, 2: 1, 3: 1764000000000, 4: "charger-1", 12: 1}
TRANSFER_ENTITY = {1: 9, 2: 10, 3: 12, 4: 5, 5: 2000, 6: 978, 7: 1764000000456,
                   10: "le-00112233445566aa", 11: "le-00112233445566aa", 13: "top-up"}
EVENT_LOGIN = {1: 4, 2: 10, 3: 1764000000789, 9: "le-00112233445566aa", 23: "alice"}
# Tariffs and metered use: a binding, a charged reading's receipt (charge,
# consumption, tariff), one whose charge is under a cent so far, a usage
# charge (kind 9 with meter and tariff), a tariff's and a binding's events.
BIND = {1: "car-7", 2: 45, 3: "dc-1", 4: "ev-ac-2026", 5: 1764000200, 6: PREV}
RECEIPT_BOUND = {1: "car-7", 2: 45, 3: 3, 4: 2, 10: "gw-1", 11: 1764000201, 12: HASH_A,
                 19: "ev-ac-2026"}
RECEIPT_CHARGED = {1: "car-7", 2: 47, 3: 1, 4: 0, 6: 9, 7: 4988, 8: 9, 9: HASH_A, 10: "gw-1",
                   11: 1764000261, 12: HASH_B, 13: 978, 17: 12, 18: 30000, 19: "ev-ac-2026"}
RECEIPT_CARRIED = {1: "car-7", 2: 48, 3: 1, 4: 2, 10: "gw-1", 11: 1764000321, 12: HASH_B,
                   18: 1, 19: "ev-ac-2026"}
TRANSFER_CHARGE = {1: 9, 2: 9, 3: 3, 4: 5, 5: 12, 6: 978, 7: 1764000261000, 8: "car-7", 9: 47,
                   12: HASH_B, 18: "dc-1", 19: "ev-ac-2026"}
EVENT_TARIFF = {1: 4, 2: 7, 3: 1764000000000, 4: "charger-1", 8: "Wh", 11: 1764000000000,
                16: "ev-ac-2026", 17: "3917/100000", 18: 50, 19: 978}
EVENT_BOUND = {1: 5, 2: 8, 3: 1764000200500, 4: "car-7", 5: 45, 6: "dc-1", 13: HASH_A,
               16: "ev-ac-2026"}
# Financing: a plan of 1200.00 EUR at 950 bp in 12 instalments of 30 days,
# 3 days' grace, suspend on shortfall, collected after grace; its closing.
EVENT_PLAN = {1: 6, 2: 11, 3: 1764000000000, 4: "charger-1", 9: "le-8899aabbccddeeff",
              11: 1764000000000, 19: 978, 25: "charger-1-loan", 26: 120000,
              27: [[950, 12, 2592000000]], 28: [[259200000, 0, 1]]}
INTENT_INSTALMENT = {1: "charger-1", 2: 7, 4: 17, 5: 10936, 6: 978, 7: 1764000000, 8: 60,
                     10: PREV, 12: "charger-1-loan"}
TRANSFER_INSTALMENT = {1: 12, 2: 11, 3: 3, 4: 17, 5: 10936, 6: 978, 7: 1764000000123,
                       8: "charger-1", 9: 7, 12: HASH_A, 24: "charger-1-loan", 25: 1}
# The device's side of financing: the receipt of instalment 1 (paid up to
# the grace end of instalment 2, 11 left), the plan notice that follows it
# (instalment 2 due, its amount and payee), and the notice of a plan paid off.
RECEIPT_INSTALMENT = {1: "charger-1", 2: 7, 3: 0, 4: 0, 6: 12, 7: 89064, 8: 12, 9: HASH_A,
                      10: "gw-1", 11: 1764000001, 12: HASH_B, 13: 978, 22: 1769443200,
                      23: "charger-1-loan", 25: 11}
COMMAND_PLAN = {1: "charger-1", 2: 3, 3: 4, 4: 1764000002, 5: "gw-1", 22: "charger-1-loan",
                23: 1769184000, 24: 10936, 25: 1769443200, 26: 17, 27: 978, 28: 2, 29: 11}
COMMAND_PLAN_PAID = {1: "charger-1", 2: 14, 3: 4, 4: 1795104002, 5: "gw-1",
                     22: "charger-1-loan", 25: 1795363200}
# The same plan limiting its device in arrears to a device and an entity.
EVENT_PLAN_LIMIT = dict(EVENT_PLAN)
EVENT_PLAN_LIMIT.update({28: [[259200000, 1, 1]], 37: ["charger-2", "le-0011223344556677"]})
EVENT_PLAN_CLOSED = {1: 7, 2: 12, 3: 1764000000001, 4: "charger-1", 11: 1764000000001,
                     25: "charger-1-loan"}
# Financing by the gateway: a late instalment collected from the wallet,
# the plan's arrears entered and cleared, an early settlement.
TRANSFER_COLLECTION = {1: 13, 2: 13, 3: 3, 4: 17, 5: 10936, 6: 978, 7: 1766851200000,
                       10: "le-0011223344556677", 11: "le-8899aabbccddeeff",
                       24: "charger-1-loan", 25: 1}
EVENT_ARREARS = {1: 8, 2: 13, 3: 1766851200000, 4: "charger-1", 9: "le-0011223344556677",
                 19: 978, 25: "charger-1-loan", 29: 10936}
EVENT_ARREARS_CLEARED = {1: 9, 2: 14, 3: 1766851400000, 4: "charger-1", 25: "charger-1-loan"}
TRANSFER_SETTLEMENT = {1: 14, 2: 12, 3: 3, 4: 17, 5: 100936, 6: 978, 7: 1766851500000,
                       10: "le-0011223344556677", 11: "le-8899aabbccddeeff",
                       24: "charger-1-loan", 25: 2}
# GDPR: the erasure of an entity's personal data (kind 18): the entity and
# which fields were held (1 name, 2 contact, 4 bank reference), no device.
EVENT_ERASURE = {1: 8, 2: 18, 3: 1764000000002, 9: "le-00112233445566aa", 36: 5}
ACK = {1: "gw-1", 2: 3, 3: 0, 5: 7, 6: HASH_A}
ACK_RESEND = {1: "gw-1", 2: 4, 3: 2, 5: 7, 6: HASH_A, 7: 8}

# Holds (hold.cddl): an authorisation, its held receipt, a capture and a
# void, the settled receipt of a capture, the transfers of a hold.
INTENT_HOLD = {1: "car-7", 2: 45, 3: "charger-1", 5: 3000, 6: 978, 7: 1764000000, 8: 300,
               10: PREV, 11: 7200}
RECEIPT_HELD = {1: "car-7", 2: 45, 3: 0, 4: 3, 6: 9, 7: 2000, 8: 9, 9: HASH_A, 10: "gw-1",
                11: 1764000001, 12: HASH_B, 13: 978, 14: 9, 15: 1764007201, 16: 3000}
HOLD_CAPTURE = {1: "charger-1", 2: 12, 3: 0, 4: 9, 5: 1240, 6: 1764003600, 7: PREV}
HOLD_VOID = {1: "car-7", 2: 46, 3: 1, 4: 9, 6: 1764003600, 7: PREV}
RECEIPT_CAPTURED = {1: "charger-1", 2: 12, 3: 2, 4: 0, 6: 10, 7: 1240, 8: 10, 9: HASH_A,
                    10: "gw-1", 11: 1764003601, 12: HASH_B, 13: 978, 14: 9}
TRANSFER_AUTHORISATION = {1: 9, 2: 5, 3: 5, 4: 12, 5: 3000, 6: 978, 7: 1764000000123,
                          8: "car-7", 9: 45, 10: "le-00112233445566aa", 12: HASH_B}
TRANSFER_CAPTURE = {1: 10, 2: 6, 3: 12, 4: 6, 5: 1240, 6: 978, 7: 1764003600456,
                    8: "charger-1", 9: 12, 11: "le-8899aabbccddeeff", 12: HASH_A, 14: 9}
TRANSFER_EXPIRY = {1: 11, 2: 8, 3: 12, 4: 5, 5: 3000, 6: 978, 7: 1764007201000,
                   10: "le-00112233445566aa", 14: 9}

# Pay-per-use from a hold: a binding naming hold 9, the settled receipt of
# a reading charged from it (the hold, what the sender holds, what the hold
# has left), the hold charge (kind 18 from the holds account 12, naming the
# hold) and the binding's event naming it (key 39).
BIND_HOLD = {**BIND, 7: 9}
RECEIPT_HOLD_CHARGED = {**RECEIPT_CHARGED, 7: 2000, 14: 9, 16: 2988, 21: 2988}
TRANSFER_HOLD_CHARGE = {1: 13, 2: 18, 3: 12, 4: 5, 5: 12, 6: 978, 7: 1764000261000,
                        8: "car-7", 9: 47, 11: "le-8899aabbccddeeff", 12: HASH_B, 14: 9,
                        18: "dc-1", 19: "ev-ac-2026"}
EVENT_BOUND_HOLD = {**EVENT_BOUND, 39: 9}
# Bearer notes (note.cddl): a 5.00 EUR note with an expiry, a 0.25 USD
# note without, and the custody entry that hands the first to a device.
SERIAL = bytes(range(0xA0, 0xB0))
NOTE = {1: SERIAL, 2: 978, 3: 500, 4: 1764000000, 5: 1795536000}
NOTE_USD = {1: SERIAL, 2: 840, 3: 25, 4: 1764000000}
HOLDER = "ed25519:" + bytes(range(32)).hex()
CUSTODY = {1: SERIAL, 2: HASH_A, 3: HOLDER, 4: 1764000500}
KID = bytes(range(1, 9))
WITHDRAW = {1: "car-7", 2: 49, 3: 750, 4: 978, 5: 1764000600, 6: PREV}
NOTE_PAYMENT = {1: "car-7", 2: 50, 3: "charger-1", 4: 978, 5: 600, 6: 1764000700, 7: PREV,
                8: 1764000700, 9: [[SERIAL, bytes(range(64))], [bytes(range(16)), bytes(64)]]}
RECEIPT_NOTES_PAID = {1: "car-7", 2: 50, 3: 5, 4: 2, 10: "gw-1", 11: 1764000701, 12: HASH_A,
                      26: 2}
RECEIPT_WITHDRAWN = {1: "car-7", 2: 49, 3: 4, 4: 0, 6: 13, 7: 1250, 8: 13, 9: HASH_A,
                     10: "gw-1", 11: 1764000601, 12: HASH_B, 13: 978, 26: 4}
MOVEMENT_LOADED = {1: 1, 2: 0, 3: 1764000000123, 4: SERIAL, 5: HASH_A, 6: KID}
MOVEMENT_WITHDRAWN = {1: 2, 2: 1, 3: 1764000600123, 4: SERIAL, 5: HASH_B, 6: KID,
                      7: "car-7", 8: 12}

# Sequence numbers, positions, account ids and quantities are SQLite
# integers: 2^63-1 is the largest (common.cddl, stored-int).
STORED_INT_MAX = 2**63 - 1


def with_(base, **changes):
    out = dict(base)
    for k, v in changes.items():
        key = int(k[1:])
        if v is None:
            out.pop(key, None)
        else:
            out[key] = v
    return out


valid = [
    ("intent", "intent to a device", INTENT),
    ("intent", "intent to an account with a reference", INTENT_ACCOUNT),
    ("usage", "meter reading", USAGE),
    ("bind", "a meter bound to a tariff", BIND),
    ("receipt", "stored binding naming its tariff", RECEIPT_BOUND),
    ("receipt", "settled reading of a bound meter: charge, consumption, tariff", RECEIPT_CHARGED),
    ("receipt", "stored reading of a bound meter, its charge carried", RECEIPT_CARRIED),
    ("receipt", "rejection of a reading: reading_backwards",
     with_(RECEIPT_USAGE_REJECTED, k5=110)),
    ("transfer", "usage charge record", TRANSFER_CHARGE),
    ("event", "tariff defined", EVENT_TARIFF),
    ("event", "tariff defined with a payee entity and no minimum",
     with_(EVENT_TARIFF, k9="le-8899aabbccddeeff", k18=None)),
    ("event", "meter bound by a device's message", EVENT_BOUND),
    ("event", "meter bound by an operator", with_(EVENT_BOUND, k5=None, k13=None)),
    ("receipt", "settled receipt", RECEIPT_SETTLED),
    ("receipt", "rejection receipt: insufficient funds", RECEIPT_REJECTED),
    ("receipt", "settled receipt with a negative balance field", RECEIPT_NEGATIVE),
    ("command", "suspend", COMMAND_SUSPEND),
    ("command", "new limits", COMMAND_LIMITS),
    ("command", "suspend for a plan's arrears", with_(COMMAND_SUSPEND, k6=148)),
    ("command", "resume when the arrears are paid", with_(COMMAND_SUSPEND, k3=1, k6=148)),
    ("transfer", "payment record", TRANSFER),
    ("transfer", "funding record", TRANSFER_FUNDING),
    ("transfer", "entity payment record: an entity's account tops up its device",
     TRANSFER_ENTITY),
    ("event", "entity login created", EVENT_LOGIN),
    ("event", "entity login removed", with_(EVENT_LOGIN, k24=1)),
    ("batch_ack", "stored", ACK),
    ("batch_ack", "resend from a gap", ACK_RESEND),
    ("receipt", "settled receipt with balance 0", with_(RECEIPT_SETTLED, k7=0)),
    ("receipt", "settled receipt with the smallest balance", with_(RECEIPT_SETTLED, k7=-2**63)),
    ("receipt", "settled receipt with the largest balance", with_(RECEIPT_SETTLED, k7=2**63 - 1)),
    ("receipt", "stored receipt for a meter reading", RECEIPT_STORED),
    ("receipt", "rejection of a meter reading", RECEIPT_USAGE_REJECTED),
    ("receipt", "rejection naming a seq over 2^63-1 as sent", with_(RECEIPT_REJECTED, k2=2**63, k5=12)),
    ("receipt", "rejection of a message whose seq could not be read", with_(RECEIPT_REJECTED, k2=0, k5=1)),
    ("intent", "seq 2^63-1, the largest", with_(INTENT, k2=STORED_INT_MAX)),
    ("intent", "payee account 2^63-1, the largest", with_(INTENT_ACCOUNT, k4=STORED_INT_MAX)),
    ("usage", "quantity 0", with_(USAGE, k4=0)),
    ("usage", "quantity 2^63-1, the largest", with_(USAGE, k4=STORED_INT_MAX)),
    ("usage", "seq 2^63-1, the largest", with_(USAGE, k2=STORED_INT_MAX)),
    ("transfer", "position 2^63-1, the largest", with_(TRANSFER, k1=STORED_INT_MAX)),
    ("batch_ack", "stored position 2^63-1, the largest", with_(ACK, k5=STORED_INT_MAX)),
    ("intent", "an authorisation held two hours", INTENT_HOLD),
    ("intent", "an authorisation held a week, the longest", with_(INTENT_HOLD, k11=604800)),
    ("receipt", "held receipt of an authorisation", RECEIPT_HELD),
    ("hold_message", "capture of part of a hold", HOLD_CAPTURE),
    ("hold_message", "void of a hold", HOLD_VOID),
    ("receipt", "settled receipt of a capture", RECEIPT_CAPTURED),
    ("receipt", "settled receipt of a void, the sender holding more", with_(RECEIPT_CAPTURED, k16=500)),
    ("receipt", "settled receipt of a capture split by a fee schedule", with_(RECEIPT_CAPTURED, k20=75)),
    ("receipt", "rejection of a capture: hold_captured", {1: "charger-1", 2: 13, 3: 2, 4: 1,
        5: 102, 10: "gw-1", 11: 1764003602, 12: HASH_B}),
    ("transfer", "authorisation record", TRANSFER_AUTHORISATION),
    ("transfer", "capture record", TRANSFER_CAPTURE),
    ("transfer", "expiry record", TRANSFER_EXPIRY),
    ("transfer", "payment of two legs: the payee's and a 3% fee", TRANSFER_LEGS),
    ("transfer", "payment of six legs, the most", with_(TRANSFER, k20=[[3, 9 + i, 1] for i in range(5)])),
    ("receipt", "settled receipt of a payment with fees", with_(RECEIPT_SETTLED, k20=91)),
    ("receipt", "rejection: a fee leg credits the paying wallet", with_(RECEIPT_REJECTED, k5=127)),
    ("event", "status: suspended", EVENT_STATUS),
    ("event", "fee schedule of a device, remainder to the fee leg", EVENT_FEE),
    ("event", "fee schedule of an entity, no fee from then",
     with_(EVENT_FEE, k4=None, k9="le-8899aabbccddeeff", k21=None, k22=None)),
    ("event", "default fee schedule of two legs",
     with_(EVENT_FEE, k4=None, k21=[[9, 250], [12, 50]], k22=None)),
    ("event", "financing plan created", EVENT_PLAN),
    ("event", "financing plan with usage-dependent interest",
     with_(EVENT_PLAN, k6="dc-1", k17="3/100")),
    ("event", "financing plan closed", EVENT_PLAN_CLOSED),
    ("event", "financing plan limiting its device to two payees in arrears", EVENT_PLAN_LIMIT),
    ("event", "personal data of an entity erased", EVENT_ERASURE),
    ("intent", "instalment of a financing plan", INTENT_INSTALMENT),
    ("transfer", "instalment record", TRANSFER_INSTALMENT),
    ("note", "a 5.00 EUR note with an expiry", NOTE),
    ("note", "a 0.25 USD note without an expiry", NOTE_USD),
    ("note", "a 500.00 EUR note, the largest of its currency", with_(NOTE, k3=50000)),
    ("custody", "a note handed to a device's Ed25519 key", CUSTODY),
    ("note_movement", "a note loaded into the gateway's stock", MOVEMENT_LOADED),
    ("note_withdraw", "a withdrawal of 7.50 EUR in notes", WITHDRAW),
    ("receipt", "settled withdrawal of four notes", RECEIPT_WITHDRAWN),
    ("note_payment", "6.00 EUR in two notes to a device", NOTE_PAYMENT),
    ("receipt", "stored payment with two notes", RECEIPT_NOTES_PAID),
    ("receipt", "settled redemption of two notes", with_(RECEIPT_WITHDRAWN, k3=6, k26=2)),
    ("transfer", "note redemption record", {1: 14, 2: 16, 3: 21, 4: 3, 5: 550, 6: 978,
                                            7: 1764000800123, 8: "car-7", 9: 51, 12: HASH_A}),
    ("transfer", "note redemption into an entity's account", {1: 15, 2: 17, 3: 21, 4: 5, 5: 100,
                                                             6: 978, 7: 1764000800456,
                                                             11: "le-0123456789abcdef"}),
    ("note_delivery", "a note and its custody entry (their bytes shortened)",
     [bytes.fromhex("d28443a10127"), bytes.fromhex("d28443a10127a0")]),
    ("receipt", "rejection of a withdrawal: note_stock_short",
     {1: "car-7", 2: 49, 3: 4, 4: 1, 5: 169, 10: "gw-1", 11: 1764000601, 12: HASH_B}),
    ("note_movement", "a note withdrawn by a device", MOVEMENT_WITHDRAWN),
    ("note_movement", "a note paid to a device", with_(MOVEMENT_WITHDRAWN, k2=2, k8=None)),
    ("note_movement", "a note redeemed into a wallet", with_(MOVEMENT_WITHDRAWN, k2=3, k7=None)),
    ("note_movement", "a note tendered into the stock for change",
     with_(MOVEMENT_WITHDRAWN, k2=4, k7=None, k8=None)),
    ("note_movement", "a note handed to a device as change", with_(MOVEMENT_WITHDRAWN, k2=5, k8=None)),
    ("note_movement", "a note returned to its issuer",
     with_(MOVEMENT_WITHDRAWN, k2=6, k7=None, k8=None)),
    ("custody", "a note handed to a P-256 key",
     with_(CUSTODY, k3="p256:04" + bytes(range(64)).hex())),
    ("transfer", "collection of a late instalment", TRANSFER_COLLECTION),
    ("transfer", "early settlement of a plan", TRANSFER_SETTLEMENT),
    ("event", "plan in arrears", EVENT_ARREARS),
    ("event", "plan in arrears, the device held by nobody", with_(EVENT_ARREARS, k9=None)),
    ("event", "plan's arrears cleared", EVENT_ARREARS_CLEARED),
    ("receipt", "settled instalment: paid-up-to, plan, instalments left", RECEIPT_INSTALMENT),
    ("receipt", "settled instalment of a plan in arrears", with_(RECEIPT_INSTALMENT, k24=2)),
    ("receipt", "settled last instalment: the plan paid off", with_(RECEIPT_INSTALMENT, k25=None)),
    ("command", "plan notice: the next instalment and the paid-up-to time", COMMAND_PLAN),
    ("command", "plan notice with arrears", with_(COMMAND_PLAN, k30=1)),
    ("command", "plan notice of a plan paid off", COMMAND_PLAN_PAID),
]

invalid = [
    ("note", "a 3.00 EUR note", with_(NOTE, k3=300), "note_denomination"),
    ("note", "a 0.25 EUR note", with_(NOTE, k3=25), "note_denomination"),
    ("note", "a note of a currency without notes", with_(NOTE, k2=392), "note_denomination"),
    ("note", "an expiry at the issue time", with_(NOTE, k5=1764000000), "field_range"),
    ("note", "a serial of 15 bytes", with_(NOTE, k1=SERIAL[:15]), "field_range"),
    ("note", "no serial", with_(NOTE, k1=None), "missing_field"),
    ("note", "no issue time", with_(NOTE, k4=None), "missing_field"),
    ("note", "a holder's key in a note", with_(NOTE, k6=HOLDER), "unknown_field"),
    ("custody", "no next holder", with_(CUSTODY, k3=None), "missing_field"),
    ("custody", "a next holder of upper-case hex", with_(CUSTODY, k3=HOLDER.upper()),
     "text_invalid"),
    ("custody", "a next holder's key one digit short", with_(CUSTODY, k3=HOLDER[:-1]),
     "text_invalid"),
    ("custody", "a next holder named by a device id", with_(CUSTODY, k3="meter-07"),
     "text_invalid"),
    ("custody", "a link of 8 bytes", with_(CUSTODY, k2=PREV), "field_range"),
    ("note_movement", "a load naming a device", with_(MOVEMENT_LOADED, k7="car-7"),
     "field_range"),
    ("note_movement", "a withdrawal without its transfer", with_(MOVEMENT_WITHDRAWN, k8=None),
     "field_range"),
    ("note_movement", "a payment without its payee", with_(MOVEMENT_WITHDRAWN, k2=2, k7=None,
                                                            k8=None), "field_range"),
    ("note_movement", "kind 7", with_(MOVEMENT_LOADED, k2=7), "field_range"),
    ("note_movement", "change without its device", with_(MOVEMENT_WITHDRAWN, k2=5, k7=None,
                                                          k8=None), "field_range"),
    ("note_withdraw", "a withdrawal of nothing", with_(WITHDRAW, k3=0), "amount_zero"),
    ("note_withdraw", "a withdrawal over the largest amount", with_(WITHDRAW, k3=10**12 + 1),
     "amount_too_large"),
    ("note_withdraw", "no previous hash", with_(WITHDRAW, k6=None), "missing_field"),
    ("note_withdraw", "seq 0", with_(WITHDRAW, k2=0), "field_range"),
    ("note_delivery", "a note without its custody entry", [bytes.fromhex("d28443a10127")],
     "cbor_type"),
    ("note_delivery", "a custody entry as text", [bytes.fromhex("d28443a10127"), "d284"],
     "cbor_type"),
    ("note_delivery", "a note of 513 bytes", [bytes(513), bytes(1)], "cbor_too_long"),
    ("receipt", "settled withdrawal without its notes", with_(RECEIPT_WITHDRAWN, k26=None),
     "field_range"),
    ("receipt", "notes on a payment's receipt", with_(RECEIPT_SETTLED, k26=2), "field_range"),
    ("receipt", "seventeen notes", with_(RECEIPT_WITHDRAWN, k26=17), "field_range"),
    ("receipt", "a settled note payment", with_(RECEIPT_WITHDRAWN, k3=5), "field_range"),
    ("receipt", "a stored note payment without its notes", with_(RECEIPT_NOTES_PAID, k26=None),
     "field_range"),
    ("note_payment", "no notes", with_(NOTE_PAYMENT, k9=[]), "field_range"),
    ("note_payment", "five notes", with_(NOTE_PAYMENT, k9=[[bytes([i]) * 16, bytes(64)]
                                                           for i in range(5)]), "cbor_too_long"),
    ("note_payment", "a serial twice", with_(NOTE_PAYMENT, k9=[[SERIAL, bytes(64)],
                                                               [SERIAL, bytes(64)]]),
     "note_serial_seen"),
    ("note_payment", "a signature of 63 bytes", with_(NOTE_PAYMENT, k9=[[SERIAL, bytes(63)]]),
     "field_range"),
    ("note_payment", "no custody time", with_(NOTE_PAYMENT, k8=None), "missing_field"),
    ("note_movement", "a kid of 16 bytes", with_(MOVEMENT_LOADED, k6=KID + KID), "field_range"),
    ("intent", "not a map", [1, 2], "cbor_type"),
    ("intent", "empty input", Raw(b""), "cbor_truncated"),
    ("intent", "truncated in the middle", Raw(enc(INTENT)[:20]), "cbor_truncated"),
    ("intent", "trailing byte", Raw(enc(INTENT) + b"\x00"), "cbor_trailing"),
    ("intent", "indefinite-length map", Raw(b"\xbf" + enc(INTENT)[1:] + b"\xff"), "cbor_indefinite"),
    ("intent", "non-shortest seq", with_(INTENT, k2=Raw(head(0, 42, 2))), "cbor_not_deterministic"),
    ("intent", "keys out of order", Pairs([(2, 42), (1, "meter-07")] +
        [(k, v) for k, v in sorted(INTENT.items()) if k > 2]), "cbor_not_deterministic"),
    ("intent", "duplicate key", Pairs(sorted(INTENT.items()) + [(1, "meter-07")]), "duplicate_key"),
    ("intent", "missing seq", with_(INTENT, k2=None), "missing_field"),
    ("intent", "missing payee", with_(INTENT, k3=None), "missing_field"),
    ("intent", "two payees", with_(INTENT, k4=5), "field_range"),
    ("intent", "unknown key 20", with_(INTENT, k20=1), "unknown_field"),
    ("intent", "zero amount", with_(INTENT, k5=0), "amount_zero"),
    ("intent", "amount over 10^12", with_(INTENT, k5=10**12 + 1), "amount_too_large"),
    ("intent", "negative amount", with_(INTENT, k5=-150), "cbor_type"),
    ("intent", "amount as text", with_(INTENT, k5="1.50"), "cbor_type"),
    ("intent", "currency 1000", with_(INTENT, k6=1000), "field_range"),
    ("intent", "ttl over a day", with_(INTENT, k8=86401), "field_range"),
    ("intent", "seq zero", with_(INTENT, k2=0), "field_range"),
    ("intent", "device id of 24 characters", with_(INTENT, k1="d" * 24), "cbor_too_long"),
    ("intent", "device id with a slash", with_(INTENT, k1="meter/07"), "text_invalid"),
    ("intent", "empty device id", with_(INTENT, k1=""), "field_range"),
    ("intent", "reference of 33 characters", with_(INTENT, k9="r" * 33), "cbor_too_long"),
    ("intent", "empty optional reference", with_(INTENT, k9=""), "field_range"),
    ("intent", "prev hash of 7 bytes", with_(INTENT, k10=PREV[:7]), "field_range"),
    ("intent", "invalid UTF-8 in the reference", Raw(enc(with_(INTENT, k9="ab")).replace(b"\x62ab", b"\x62\xc3\x28")), "text_invalid"),
    ("intent", "float amount", Raw(enc(with_(INTENT, k5=150)).replace(b"\x05\x18\x96", b"\x05\xf9\x3c\x00")), "cbor_type"),
    ("intent", "nested map as amount", with_(INTENT, k5={1: 1}), "cbor_type"),
    ("intent", "oversized: 600 bytes", Raw(head(5, 1) + enc(9) + head(3, 595, 2) + b"x" * 595), "payload_too_large"),
    ("receipt", "settled with a reason", with_(RECEIPT_SETTLED, k5=45), "field_range"),
    ("receipt", "rejected without a reason", with_(RECEIPT_REJECTED, k5=None), "field_range"),
    ("receipt", "reason that is not a rejection reason", with_(RECEIPT_REJECTED, k5=60), "field_range"),
    ("receipt", "position without a chain hash", with_(RECEIPT_SETTLED, k9=None), "field_range"),
    ("receipt", "balance without currency", with_(RECEIPT_SETTLED, k13=None), "field_range"),
    ("receipt", "rejection with a chain position", with_(RECEIPT_REJECTED, k8=7, k9=HASH_A), "field_range"),
    ("receipt", "rejection with a balance", with_(RECEIPT_REJECTED, k7=850, k13=978), "field_range"),
    ("receipt", "settled without a chain position", with_(RECEIPT_SETTLED, k8=None, k9=None), "field_range"),
    ("receipt", "settled without a balance", with_(RECEIPT_SETTLED, k7=None, k13=None), "field_range"),
    ("receipt", "currency without a balance", with_(RECEIPT_SETTLED, k7=None), "field_range"),
    ("receipt", "balance of 2^63", with_(RECEIPT_SETTLED, k7=2**63), "field_range"),
    ("receipt", "balance of -2^63-1", with_(RECEIPT_SETTLED, k7=-2**63 - 1), "field_range"),
    ("receipt", "settled with a chain hash alone", with_(RECEIPT_SETTLED, k8=None), "field_range"),
    ("receipt", "rejection with a transfer id", with_(RECEIPT_REJECTED, k6=7), "field_range"),
    ("receipt", "stored with a chain position", with_(RECEIPT_STORED, k8=7, k9=HASH_A), "field_range"),
    ("receipt", "stored with a balance", with_(RECEIPT_STORED, k7=0, k13=978), "field_range"),
    ("receipt", "stored for an intent", with_(RECEIPT_STORED, k3=0), "field_range"),
    ("receipt", "settled for a meter reading", with_(RECEIPT_SETTLED, k3=1), "field_range"),
    ("receipt", "transfer id 2^63", with_(RECEIPT_SETTLED, k6=2**63), "field_range"),
    ("intent", "seq 2^63", with_(INTENT, k2=2**63), "field_range"),
    ("intent", "seq 2^64-1", with_(INTENT, k2=2**64 - 1), "field_range"),
    ("intent", "payee account 2^63", with_(INTENT_ACCOUNT, k4=2**63), "field_range"),
    ("usage", "quantity 2^63", with_(USAGE, k4=2**63), "field_range"),
    ("usage", "seq 2^63", with_(USAGE, k2=2**63), "field_range"),
    ("command", "command seq 2^63", with_(COMMAND_SUSPEND, k2=2**63), "field_range"),
    ("transfer", "position 2^63", with_(TRANSFER, k1=2**63), "field_range"),
    ("transfer", "debit account 2^63", with_(TRANSFER, k3=2**63), "field_range"),
    ("batch_ack", "stored position 2^63", with_(ACK, k5=2**63), "field_range"),
    ("command", "limits on a suspend", with_(COMMAND_SUSPEND, k7=5), "field_range"),
    ("command", "unknown kind", with_(COMMAND_SUSPEND, k3=3), "field_range"),
    ("command", "reason 200", with_(COMMAND_SUSPEND, k6=200), "field_range"),
    ("transfer", "debit equals credit", with_(TRANSFER, k4=3), "field_range"),
    ("transfer", "device without seq", with_(TRANSFER, k9=None), "field_range"),
    ("transfer", "kind 11", with_(TRANSFER_FUNDING, k2=11), "field_range"),
    ("event", "entity login naming a device", with_(EVENT_LOGIN, k4="charger-1"), "field_range"),
    ("event", "entity login without its username", with_(EVENT_LOGIN, k23=None), "field_range"),
    ("event", "entity login without its entity", with_(EVENT_LOGIN, k9=None), "field_range"),
    ("event", "removal flag on a status event",
     {1: 5, 2: 1, 3: 1764000000789, 4: "charger-1", 12: 1, 24: 1}, "field_range"),
    ("usage", "unit of 9 characters", with_(USAGE, k5="kilowatth"), "cbor_too_long"),
    ("bind", "no tariff", with_(BIND, k4=None), "missing_field"),
    ("bind", "tariff id with a space", with_(BIND, k4="ev ac"), "text_invalid"),
    ("bind", "seq 0", with_(BIND, k2=0), "field_range"),
    ("receipt", "kind 7, not of this version", with_(RECEIPT_REJECTED, k3=7), "field_range"),
    ("receipt", "stored binding without its tariff", with_(RECEIPT_BOUND, k19=None), "field_range"),
    ("receipt", "settled binding", with_(RECEIPT_SETTLED, k3=3), "field_range"),
    ("receipt", "settled reading without a charge", with_(RECEIPT_CHARGED, k17=None), "field_range"),
    ("receipt", "settled reading without its consumption", with_(RECEIPT_CHARGED, k18=None),
     "field_range"),
    ("receipt", "charge on an intent", with_(RECEIPT_SETTLED, k17=5), "field_range"),
    ("receipt", "tariff on an intent", with_(RECEIPT_SETTLED, k19="ev"), "field_range"),
    ("receipt", "consumption without a tariff", with_(RECEIPT_CARRIED, k19=None), "field_range"),
    ("receipt", "reason 200, past the products' group", with_(RECEIPT_REJECTED, k5=200),
     "field_range"),
    ("transfer", "usage charge without a meter", with_(TRANSFER_CHARGE, k18=None), "field_range"),
    ("transfer", "usage charge without its reading", with_(TRANSFER_CHARGE, k8=None, k9=None,
                                                          k12=None), "field_range"),
    ("transfer", "payment naming a tariff", with_(TRANSFER, k18="dc-1", k19="ev"), "field_range"),
    ("event", "tariff without a price", with_(EVENT_TARIFF, k17=None), "field_range"),
    ("event", "price with a leading zero", with_(EVENT_TARIFF, k17="03917/100000"),
     "field_range"),
    ("event", "price over 2^63-1", with_(EVENT_TARIFF, k17="9223372036854775808/1"),
     "field_range"),
    ("event", "price of zero", with_(EVENT_TARIFF, k17="0/1"), "field_range"),
    ("event", "tariff without its effective time", with_(EVENT_TARIFF, k11=None), "field_range"),
    ("event", "binding without a meter", with_(EVENT_BOUND, k6=None), "field_range"),
    ("event", "binding with a seq and no hash", with_(EVENT_BOUND, k13=None), "field_range"),
    ("event", "usage event naming a tariff", with_(EVENT_BOUND, k2=3, k7=5, k8="Wh"),
     "field_range"),
    ("batch_ack", "refused without a reason", with_(ACK, k3=1), "field_range"),
    ("batch_ack", "resend without a position", with_(ACK_RESEND, k7=None), "field_range"),
    ("intent", "hold over a week", with_(INTENT_HOLD, k11=604801), "hold_timeout_too_long"),
    ("intent", "hold of 0 seconds", with_(INTENT_HOLD, k11=0), "field_range"),
    ("hold_message", "capture without an amount", with_(HOLD_CAPTURE, k5=None), "missing_field"),
    ("hold_message", "capture of 0", with_(HOLD_CAPTURE, k5=0), "amount_zero"),
    ("hold_message", "capture over 10^12", with_(HOLD_CAPTURE, k5=10**12 + 1), "amount_too_large"),
    ("hold_message", "void with an amount", with_(HOLD_VOID, k5=5), "field_range"),
    ("hold_message", "unknown op 2", with_(HOLD_VOID, k3=2), "field_range"),
    ("hold_message", "hold id 0", with_(HOLD_VOID, k4=0), "field_range"),
    ("hold_message", "missing hold id", with_(HOLD_VOID, k4=None), "missing_field"),
    ("hold_message", "unknown key 8", with_(HOLD_VOID, k8=1), "unknown_field"),
    ("receipt", "held without its hold", with_(RECEIPT_HELD, k14=None), "field_range"),
    ("receipt", "held without an expiry", with_(RECEIPT_HELD, k15=None), "field_range"),
    ("receipt", "held without the held amount", with_(RECEIPT_HELD, k16=None), "field_range"),
    ("receipt", "held for a hold message", with_(RECEIPT_HELD, k3=2), "field_range"),
    ("receipt", "settled capture without its hold", with_(RECEIPT_CAPTURED, k14=None), "field_range"),
    ("receipt", "plain settled receipt naming a hold", with_(RECEIPT_SETTLED, k14=9), "field_range"),
    ("receipt", "plain settled receipt with a held amount", with_(RECEIPT_SETTLED, k16=9), "field_range"),
    ("receipt", "expiry on a settled capture", with_(RECEIPT_CAPTURED, k15=1764007201), "field_range"),
    ("transfer", "capture without the authorisation", with_(TRANSFER_CAPTURE, k14=None), "field_range"),
    ("transfer", "authorisation naming a transfer", with_(TRANSFER_AUTHORISATION, k14=3), "field_range"),
    ("transfer", "a leg from an account to itself", with_(TRANSFER_LEGS, k20=[[3, 3, 91]]), "field_range"),
    ("transfer", "seven legs", with_(TRANSFER, k20=[[3, 9 + i, 1] for i in range(6)]), "field_range"),
    ("transfer", "an empty array of legs", with_(TRANSFER, k20=[]), "field_range"),
    ("transfer", "a leg of two numbers", with_(TRANSFER, k20=[[3, 9]]), "field_range"),
    ("transfer", "a leg of zero", with_(TRANSFER, k20=[[3, 9, 0]]), "field_range"),
    ("transfer", "a leg as a map", with_(TRANSFER, k20=[{1: 3}]), "cbor_type"),
    ("receipt", "rejection with fees", with_(RECEIPT_REJECTED, k20=91), "field_range"),
    ("event", "fee legs of 100%", with_(EVENT_FEE, k21=[[9, 6000], [10, 4000]]), "field_range"),
    ("event", "fee leg of 10000 basis points", with_(EVENT_FEE, k21=[[9, 10000]]), "field_range"),
    ("event", "remainder to a leg it lacks", with_(EVENT_FEE, k22=2), "field_range"),
    ("event", "fee schedule of a device and an entity", with_(EVENT_FEE, k9="le-8899aabbccddeeff"), "field_range"),
    ("event", "fee schedule without a currency", with_(EVENT_FEE, k20=None), "field_range"),
    ("event", "fee schedule without its effective time", with_(EVENT_FEE, k11=None), "field_range"),
    ("event", "a currency on a status event", with_(EVENT_STATUS, k20=978), "field_range"),
    ("event", "status event without a device", with_(EVENT_STATUS, k4=None), "field_range"),
    ("event", "plan without its principal", with_(EVENT_PLAN, k26=None), "field_range"),
    ("event", "plan without its lender", with_(EVENT_PLAN, k9=None), "field_range"),
    ("event", "plan without its currency", with_(EVENT_PLAN, k19=None), "field_range"),
    ("event", "plan of no instalments", with_(EVENT_PLAN, k27=[[950, 0, 2592000000]]),
     "field_range"),
    ("event", "plan of a rate over 100000 bp", with_(EVENT_PLAN, k27=[[100001, 12, 2592000000]]),
     "field_range"),
    ("event", "plan whose grace is longer than its period",
     with_(EVENT_PLAN, k28=[[2592000001, 0, 1]]), "field_range"),
    ("event", "plan with a usage price and no meter", with_(EVENT_PLAN, k17="3/100"),
     "field_range"),
    ("event", "closed plan carrying a principal", with_(EVENT_PLAN_CLOSED, k26=5), "field_range"),
    ("event", "payees on a plan that suspends", with_(EVENT_PLAN_LIMIT, k28=[[259200000, 0, 1]]),
     "field_range"),
    ("event", "payees on a closed plan", with_(EVENT_PLAN_CLOSED, k37=["charger-2"]),
     "field_range"),
    ("event", "plan of an empty set of payees", with_(EVENT_PLAN_LIMIT, k37=[]), "field_range"),
    ("event", "plan naming a payee twice", with_(EVENT_PLAN_LIMIT, k37=["charger-2", "charger-2"]),
     "field_range"),
    ("event", "plan of seven payees", with_(EVENT_PLAN_LIMIT, k37=["p%d" % i for i in range(7)]),
     "field_range"),
    ("event", "plan payee of a space", with_(EVENT_PLAN_LIMIT, k37=["charger 2"]), "text_invalid"),
    ("event", "erasure naming a device", with_(EVENT_ERASURE, k4="charger-1"), "field_range"),
    ("event", "erasure without its entity", with_(EVENT_ERASURE, k9=None), "field_range"),
    ("event", "erasure without its fields", with_(EVENT_ERASURE, k36=None), "field_range"),
    ("event", "erased fields on a login event", with_(EVENT_LOGIN, k36=1), "field_range"),
    ("event", "erased fields out of range", with_(EVENT_ERASURE, k36=8), "field_range"),
    ("event", "kind 13, not yet of this contract", with_(EVENT_ERASURE, k2=13), "field_range"),
    ("event", "plan id on a status event", with_(EVENT_STATUS, k25="charger-1-loan"),
     "field_range"),
    ("transfer", "instalment without its number", with_(TRANSFER_INSTALMENT, k25=None),
     "field_range"),
    ("transfer", "instalment without its plan", with_(TRANSFER_INSTALMENT, k24=None),
     "field_range"),
    ("transfer", "instalment number 0", with_(TRANSFER_INSTALMENT, k25=0), "field_range"),
    ("transfer", "payment naming a plan", with_(TRANSFER_INSTALMENT, k2=0), "field_range"),
    ("receipt", "paid-up-to without its plan", with_(RECEIPT_INSTALMENT, k23=None),
     "field_range"),
    ("receipt", "plan without its paid-up-to", with_(RECEIPT_INSTALMENT, k22=None),
     "field_range"),
    ("receipt", "plan fields on a rejection",
     with_(RECEIPT_REJECTED, k22=1769443200, k23="charger-1-loan"), "field_range"),
    ("receipt", "instalments left 0 sent", with_(RECEIPT_INSTALMENT, k25=0), "field_range"),
    ("command", "plan notice without its paid-up-to", with_(COMMAND_PLAN, k25=None),
     "field_range"),
    ("command", "plan notice without its plan", with_(COMMAND_PLAN, k22=None), "field_range"),
    ("command", "plan notice of a next instalment without its payee",
     with_(COMMAND_PLAN, k26=None), "field_range"),
    ("command", "plan notice of a next instalment and none left", with_(COMMAND_PLAN, k29=None),
     "field_range"),
    ("command", "plan notice of a plan paid off in arrears", with_(COMMAND_PLAN_PAID, k30=1),
     "field_range"),
    ("command", "plan fields on a suspend", with_(COMMAND_SUSPEND, k22="charger-1-loan"),
     "field_range"),
    ("command", "unknown kind 5", with_(COMMAND_PLAN_PAID, k3=5), "field_range"),
    ("transfer", "instalment without its device", with_(TRANSFER_INSTALMENT, k8=None, k9=None,
                                                         k12=None), "field_range"),
    ("transfer", "collection with a device origin",
     with_(TRANSFER_COLLECTION, k8="charger-1", k9=7, k12=HASH_A), "field_range"),
    ("transfer", "collection without its number", with_(TRANSFER_COLLECTION, k25=None),
     "field_range"),
    ("transfer", "early settlement without its plan", with_(TRANSFER_SETTLEMENT, k24=None),
     "field_range"),
    ("event", "arrears without what is owed", with_(EVENT_ARREARS, k29=None), "field_range"),
    ("event", "arrears without a currency", with_(EVENT_ARREARS, k19=None), "field_range"),
    ("event", "arrears cleared carrying an amount", with_(EVENT_ARREARS_CLEARED, k29=5),
     "field_range"),
    ("event", "arrears without its plan", with_(EVENT_ARREARS, k25=None), "field_range"),
    ("event", "owed amount on a plan event", with_(EVENT_PLAN, k29=5), "field_range"),
]

valid += [
    ("bind", "a meter bound to a tariff and a hold", BIND_HOLD),
    ("receipt", "settled reading charged from a hold: the hold, held, what it has left",
     RECEIPT_HOLD_CHARGED),
    ("receipt", "settled reading that took what its hold had left",
     with_(RECEIPT_HOLD_CHARGED, k16=None, k21=None)),
    ("transfer", "hold charge record", TRANSFER_HOLD_CHARGE),
    ("event", "meter bound to a tariff and a hold", EVENT_BOUND_HOLD),
]

invalid += [
    ("bind", "hold id 0", with_(BIND_HOLD, k7=0), "field_range"),
    ("bind", "hold id 2^63", with_(BIND_HOLD, k7=2**63), "field_range"),
    ("receipt", "what a hold has left without the hold", with_(RECEIPT_HOLD_CHARGED, k14=None),
     "field_range"),
    ("receipt", "what a hold has left on a capture", with_(RECEIPT_CAPTURED, k21=5), "field_range"),
    ("receipt", "a hold on a stored reading", with_(RECEIPT_CARRIED, k14=9), "field_range"),
    ("transfer", "hold charge without its hold", with_(TRANSFER_HOLD_CHARGE, k14=None),
     "field_range"),
    ("transfer", "hold charge without its meter", with_(TRANSFER_HOLD_CHARGE, k18=None),
     "field_range"),
    ("transfer", "hold charge without its reading", with_(TRANSFER_HOLD_CHARGE, k8=None, k9=None,
                                                         k12=None), "field_range"),
    ("transfer", "kind 19", with_(TRANSFER_FUNDING, k2=19), "field_range"),
    ("event", "a hold on a tariff event", with_(EVENT_TARIFF, k39=9), "field_range"),
]


def main():
    vectors = []
    for kind, name, value in valid:
        vectors.append({"type": kind, "name": name, "hex": enc(value).hex(), "diagnostic": diag(value)})
    for kind, name, value, error in invalid:
        vectors.append({"type": kind, "name": name, "hex": enc(value).hex(), "error": error})
    print(json.dumps({"vectors": vectors}, indent=1))


if __name__ == "__main__":
    main()
