#!/usr/bin/env python3
"""embed_sql.py - turns a schema of schemas/ (ledger.sql, cloud.sql) into a C
source file defining `const char <name>[]`, the schema NUL-terminated, so the
programs carry their schema and never read schemas/ at run time.

Usage: embed_sql.py INPUT.sql OUTPUT.c NAME

The bytes are written as an initializer list rather than a string literal:
ISO C11 compilers need only accept string literals of 4095 characters, and
-Wpedantic says so for anything longer.
"""
import sys


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: embed_sql.py INPUT.sql OUTPUT.c NAME\n")
        return 2
    source, target, name = argv[1], argv[2], argv[3]
    with open(source, "rb") as f:
        data = f.read()
    if b"\0" in data:
        sys.stderr.write(f"{source}: a NUL byte would cut the schema short\n")
        return 1
    lines = [
        f"/* {name} - generated from {source.rsplit('/', 1)[-1]} by",
        " * embed_sql.py at build time; edit the .sql file, not this one. */",
        f"extern const char {name}[];",
        f"const char {name}[] = {{",
    ]
    data += b"\0"
    for start in range(0, len(data), 16):
        chunk = data[start:start + 16]
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    lines.append("};")
    with open(target, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
