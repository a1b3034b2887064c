#!/usr/bin/env bash
# Render a summary CSV as a Markdown table, reading the wfc contract with jq.
set -euo pipefail

summary="$(jq -r '.summary[0]' <<<"$WFC_INPUT_PATHS")"
title="$(jq -r '.title' <<<"$WFC_PARAMS")"
out="$WFC_RUN_DIR/report.md"

{
    printf '# %s\n\n' "$title"
    awk -F, 'NR == 1 { printf "| %s | %s | %s |\n|---|---:|---:|\n", $1, $2, $3; next }
             { printf "| %s | %s | %s |\n", $1, $2, $3; total += $3 }
             END { printf "\nTotal revenue: %.2f\n", total }' "$summary"
} >"$out"
echo "wrote $(wc -l <"$out") lines to report.md"
