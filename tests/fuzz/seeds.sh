#!/usr/bin/env bash
# seeds.sh - writes the seed corpus of the fuzz targets from the payload
# vectors (schemas/vectors/payloads.json) into DIR/<target>/, one file per
# input: each vector into the corpus of its own message type; every vector,
# and every vector wrapped in a COSE_Sign1 (zero signature, without and with
# a kid), into cose/; every vector into cbor/; each transfer vector as the
# one record of a batch, and both valid transfers as a batch of two, into
# batch/; every vector as the one message of a fuzz_gateway session, signed
# by the first device on the intent topic (the usage topic for readings),
# into gateway/. Existing files of the same name are replaced; others are
# kept. The committed seeds of tests/fuzz/seeds/ are read from there.
#
# Usage: bash tests/fuzz/seeds.sh DIR
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

python3 - "$root/schemas/vectors/payloads.json" "$1" <<'PY'
import json, os, sys

vectors = json.load(open(sys.argv[1]))["vectors"]
out = sys.argv[2]
targets = ["intent", "receipt", "usage", "bind", "hold_message", "command", "batch", "batch_ack", "transfer", "event", "cose", "cbor",
           "gateway", "note", "custody", "note_withdraw", "note_delivery", "note_payment"]
for t in targets:
    os.makedirs(os.path.join(out, t), exist_ok=True)

def head(major, value):
    if value < 24:
        return bytes([major << 5 | value])
    for ai, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * width):
            return bytes([major << 5 | ai]) + value.to_bytes(width, "big")

def bstr(b):
    return head(2, len(b)) + b

def cose(payload, kid):
    unprotected = b"\xa1\x04" + bstr(kid) if kid else b"\xa0"
    return b"\xd2\x84" + bstr(b"\xa1\x01\x27") + unprotected + bstr(payload) + bstr(bytes(64))

def uint_at(data, i):
    """The unsigned integer whose head starts at data[i], and its head's length."""
    ai = data[i] & 31
    if ai < 24:
        return ai, 1
    width = 1 << (ai - 24)
    return int.from_bytes(data[i + 1:i + 1 + width], "big"), 1 + width

def position(record):
    # A transfer record opens with its map head and key 1, then the position.
    return uint_at(record, 2)[0]

def renumber(record, new_position):
    return record[:2] + head(0, new_position) + record[2 + uint_at(record, 2)[1]:]

def batch(records):
    first = position(records[0])
    last = first + len(records) - 1
    header = (b"\xa8" + b"\x01" + head(3, 4) + b"gw-1" + b"\x02\x01" + b"\x03" + head(0, first) +
              b"\x04" + head(0, last) + b"\x05" + bstr(bytes(32)) + b"\x06" + bstr(bytes(range(32))) +
              b"\x07" + head(0, 1764000000000) + b"\x08" + head(4, len(records)))
    return header + b"".join(records)

def session(payload, usage):
    """One fuzz_gateway message (fuzz_gateway.c): mode 1 (signed by the
    sender's key), topic 0 (intent) or 1 (usage); who 0; length 255 (the
    rest)."""
    return bytes([0x09 if usage else 0x01, 0, 255]) + payload

def write(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

valid_transfers = []
for i, v in enumerate(vectors):
    data = bytes.fromhex(v["hex"])
    name = "v%02d" % i
    if v["type"] in targets:
        write(v["type"], name, data)
    write("cbor", name, data)
    write("cose", name, cose(data, None))
    write("cose", name + "-kid", cose(data, bytes(range(1, 9))))
    write("gateway", name, session(data, v["type"] == "usage"))
    if v["type"] == "transfer":
        write("batch", name, batch([data]))
        if "diagnostic" in v:
            valid_transfers.append(data)
if len(valid_transfers) >= 2:
    first, second = valid_transfers[:2]
    write("batch", "two", batch([first, renumber(second, position(first) + 1)]))
count = sum(len(os.listdir(os.path.join(out, t))) for t in targets)
print("seeds: %d files in %s" % (count, out))
PY
