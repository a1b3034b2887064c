#!/usr/bin/env bash
# Write "<label>: <revenue> from <n> samples" from a totals.json input.
set -euo pipefail
totals="$(jq -r '.totals[0]' <<<"$WFC_INPUT_PATHS")"
label="$(jq -r '.label' <<<"$WFC_PARAMS")"
jq -r --arg text "$label" '"\($text): \(.revenue) from \(.samples | length) samples"' "$totals" \
    >"$WFC_RUN_DIR/badge.txt"
cat "$WFC_RUN_DIR/badge.txt"
