#!/usr/bin/env bash
# Start the Docker engine in the background when none is reachable, and wait for it.
# Log: ${WFC_DOCKERD_LOG:-/tmp/wfc-dockerd.log}
set -euo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi
command -v dockerd >/dev/null || {
    echo "error: dockerd is not installed; hint: apt-get install -y docker.io" >&2
    exit 3
}
log="${WFC_DOCKERD_LOG:-/tmp/wfc-dockerd.log}"
echo "starting dockerd (log: $log) ..."
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo "dockerd is up"
        exit 0
    fi
    sleep 1
done
tail -n 20 "$log" >&2
echo "error: dockerd did not come up within 60 s; hint: see $log" >&2
exit 3
