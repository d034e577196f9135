#!/usr/bin/env bash
# Fails if C sources use a banned function (STYLE.md "Build and checks").
# memcmp is allowed only where comparing public data; secrets use evi_ct_equal.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|rand|srand|system|tmpnam|mktemp)\s*\('
if grep -nE "$banned" $(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'fuzz/*.c' 'bench/*.c' 2>/dev/null); then
    echo "check-banned: banned function used (see lines above)" >&2
    exit 1
fi
# Secret material must never be compared with memcmp: tags, keys.
secret_names='(tag|seed|secret|record_key|epoch_key|next_epoch_key|verification_key)'
if grep -nE "memcmp\\([^;]*\\b${secret_names}\\b" $(git ls-files 'src/*.c'); then
    echo "check-banned: memcmp on secret data; use evi_ct_equal" >&2
    exit 1
fi
echo "check-banned: ok"
