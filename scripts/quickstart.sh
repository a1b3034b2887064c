#!/usr/bin/env bash
# The README quick start, first command: install everything wfc needs on a fresh Debian machine
# (Python packages, the Docker engine, PostgreSQL for the tests, a local base image, the example
# environments), then run the example pipeline twice: every step executes in a container, then
# every step is cached.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)  # for the PostgreSQL tests
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} from Debian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== installing wfc and its test tools"
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "== starting Docker"
bash scripts/start-docker.sh

echo "== creating the local base image (debootstrap + docker import; no registry needed)"
bash scripts/make-base-image.sh

wfc() { python3 -m wfc "$@"; }
echo "== building the example environments"
wfc env build python --quiet
wfc env build shell --quiet

echo "== registering the example samples"
for s in east north south; do wfc sample add "$s" "examples/data/$s.csv"; done

pipeline=examples/pipelines/quickstart.json
run_all() {
    for s in east north south; do wfc run-step "$pipeline" --node clean --sample "$s" >/dev/null; done
    wfc run-step "$pipeline" --node summarise >/dev/null
    wfc run-step "$pipeline" --node report --json >.wfc/quickstart-report.json
    python3 -c 'import json; d = json.load(open(".wfc/quickstart-report.json")); print(d["name"] + ": " + d["status"])'
}
echo "== first run: each step executes in a container (unless an earlier run already did it)"
run_all
echo "== second run: nothing changed, so every step is cached and no method runs"
run_all

echo "== the report (from the content-addressed store):"
python3 - <<'PY'
import json, pathlib
doc = json.loads(pathlib.Path(".wfc/quickstart-report.json").read_text())
digest = doc["outputs"]["report"]["hash"]
print(pathlib.Path(".wfc/store/objects", digest[7:9], digest[9:]).read_text())
PY
