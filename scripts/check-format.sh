#!/usr/bin/env bash
# Fails if a C file under src/ or include/ differs from what .clang-format makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed"; exit 1; }
bad=0
for f in $(git ls-files 'src/*.c' 'src/*.h' 'include/*.h'); do
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        echo "check-format: $f differs from .clang-format" >&2
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "check-format: ok"
exit $bad
