#!/usr/bin/env python3
"""control_schema.py - the operator API's contract (schemas/control.schema.json)
against the real control handler.

usage: control_schema.py CONTROL-EXAMPLES-PROGRAM SCHEMA EXAMPLES-DIR CONTROL-C TMPDIR

1. The schema is a valid JSON Schema (draft 2020-12).
2. Every example request validates as a request, except those named
   NN-invalid-*, which must not; every example reply validates as a reply.
3. Every example request is run through fogpay_control_handle on a real
   ledger file (the control_examples program); every reply it gives must
   validate as a reply and have the shape of the example reply (the same
   commands, errors, error messages, and the same keys and value types at
   every depth), so that a reply whose shape changes fails here.
4. The commands of control.c's table, the schema's command names and the
   commands of the examples are the same set.
Exits 0 when all hold, 1 with every failure printed.
"""
import json
import os
import re
import subprocess
import sys

import jsonschema

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def validator_for(schema, definition):
    """A validator of schema's $defs/<definition>."""
    return jsonschema.Draft202012Validator(
        {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/" + definition})


def errors_of(validator, document):
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message)
            for e in validator.iter_errors(document)]


def shape(value):
    """The keys and value types of value at every depth."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def answer(response):
    """What a response says, apart from its data's values."""
    return (response.get("command"), response.get("error"), response.get("errorMessage"),
            response.get("correlationData"))


def main():
    program, schema_path, examples, control_c, tmpdir = sys.argv[1:6]
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    requests = validator_for(schema, "request")
    replies = validator_for(schema, "reply")
    whole = jsonschema.Draft202012Validator(schema)

    names = sorted(n[:-len(".request.json")] for n in os.listdir(examples)
                   if n.endswith(".request.json"))
    expected = {}
    example_commands = set()
    for name in names:
        with open(os.path.join(examples, name + ".request.json")) as f:
            request = json.load(f)
        errors = errors_of(requests, request)
        if "-invalid-" in name:
            if not errors:
                fail("%s: an invalid request validates" % name)
        elif errors:
            fail("%s.request.json: %s" % (name, "; ".join(errors)))
        else:
            example_commands.update(c["command"] for c in request["commands"])
        reply_path = os.path.join(examples, name + ".reply.json")
        if not os.path.exists(reply_path):
            fail("%s: no example reply" % name)
            continue
        with open(reply_path) as f:
            expected[name] = json.load(f)
        for e in errors_of(replies, expected[name]) + errors_of(whole, expected[name]):
            fail("%s.reply.json: %s" % (name, e))

    run = subprocess.run([program, examples, tmpdir], stdout=subprocess.PIPE, text=True)
    if run.returncode != 0:
        fail("%s exited with %d" % (program, run.returncode))
    seen = set()
    for line in run.stdout.splitlines():
        got = json.loads(line)
        name, reply = got["example"], got["reply"]
        seen.add(name)
        for e in errors_of(replies, reply):
            fail("%s: the handler's reply %s: %s" % (name, json.dumps(reply), e))
        want = expected.get(name)
        if want is None:
            continue
        if [answer(r) for r in reply["responses"]] != [answer(r) for r in want["responses"]]:
            fail("%s: the handler answered %s, the example says %s"
                 % (name, [answer(r) for r in reply["responses"]],
                    [answer(r) for r in want["responses"]]))
        elif shape(reply) != shape(want):
            fail("%s: the reply's shape %s differs from the example's %s"
                 % (name, json.dumps(shape(reply)), json.dumps(shape(want))))
    for name in set(names) - seen:
        fail("%s: the handler gave no reply" % name)

    with open(control_c) as f:
        table = set(re.findall(r'\{"(\w+)", control__\w+\}', f.read()))
    in_schema = set(schema["$defs"]["commandName"]["enum"])
    if not table:
        fail("no command table found in %s" % control_c)
    if table != in_schema:
        fail("control.c's commands %s, the schema's %s" % (sorted(table), sorted(in_schema)))
    if table != example_commands:
        fail("commands without a valid example request: %s" % sorted(table - example_commands))

    print("%d examples, %d commands: %s" % (len(names), len(table),
                                             "ok" if not failures else "%d failures" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
