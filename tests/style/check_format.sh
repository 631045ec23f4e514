#!/usr/bin/env bash
# check_format.sh SOURCE_ROOT - fails, naming each file, when clang-format
# (with the committed .clang-format) would change a C source or header of
# the project. Fix a file with: clang-format -i FILE
set -euo pipefail
root=${1:?usage: check_format.sh SOURCE_ROOT}
cd "$root"
command -v clang-format >/dev/null || { echo "check_format: clang-format is not installed" >&2; exit 1; }
dirs=(common schemas ledger control plugin apps edge-agent cloud tests bench)
bad=0
count=0
while IFS= read -r -d '' f; do
  count=$((count + 1))
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check_format: $f differs from .clang-format (clang-format -i $f)"
    bad=$((bad + 1))
  fi
done < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null | sort -z)
echo "check_format: $count files, $bad to format"
[ "$bad" -eq 0 ]
