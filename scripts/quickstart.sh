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
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)  # for the metrics tests
command -v git >/dev/null || missing+=(git)
command -v curl >/dev/null || missing+=(curl)  # docs/configuration.md uses it
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
echo "== first run: Snakemake runs every step in a container (unless an earlier run already did)"
wfc run-pipeline "$pipeline" --cores 2
echo "== second run: nothing changed, so every step is cached and no method runs"
wfc run-pipeline "$pipeline" --cores 2 --json >.wfc/quickstart-run.json
python3 - <<'PY'
import json, pathlib
run = json.loads(pathlib.Path(".wfc/quickstart-run.json").read_text())
print(f"pipeline run {run['pipeline_run']}: {run['status']}, {run['counts']['cached']} of {len(run['steps'])} steps cached")
report = next(s for s in run["steps"] if s["name"] == "report")
print(f"report step: {report['status']} ({report['why']})")
PY

echo "== one step by hand: wfc run-step gives the same answer as the pipeline run"
wfc run-step "$pipeline" --node report --json >.wfc/quickstart-report.json
echo "== the report (from the content-addressed store):"
python3 - <<'PY'
import json, pathlib
doc = json.loads(pathlib.Path(".wfc/quickstart-report.json").read_text())
digest = doc["outputs"]["report"]["hash"]
print(pathlib.Path(".wfc/store/objects", digest[7:9], digest[9:]).read_text())
PY
