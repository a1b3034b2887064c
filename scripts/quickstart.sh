#!/usr/bin/env bash
# The README quick start, first command: install everything wfc needs on a fresh Debian 12 machine
# (scripts/install.sh: Debian packages, the virtual environment .venv/ with wfc and its test tools,
# the Docker engine), start Docker, create a local base image and the example environments, then
# run the example pipeline twice: every step executes in a container, then every step is cached.
# What it installs and how to remove it: docs/install.md. Re-running it is safe and quick.
#
# Usage: scripts/quickstart.sh [--no-docker]
#   --no-docker  only the install part, without the Docker engine, and stop there
#                (scripts/check-fresh-install.sh runs it in a bare Debian container)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    "") ;;
    --no-docker)
        bash scripts/install.sh --no-docker
        echo "== --no-docker: skipping the Docker engine, the images and the example pipeline"
        exit 0
        ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1; hint: scripts/quickstart.sh --help" >&2; exit 2 ;;
esac

bash scripts/install.sh
python=.venv/bin/python  # wfc lives in the project's virtual environment

echo "== starting Docker"
bash scripts/start-docker.sh

echo "== creating the local base image (debootstrap + docker import; no registry needed)"
bash scripts/make-base-image.sh

wfc() { "$python" -m wfc "$@"; }
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
"$python" - <<'PY'
import json, pathlib
run = json.loads(pathlib.Path(".wfc/quickstart-run.json").read_text())
print(f"pipeline run {run['pipeline_run']}: {run['status']}, {run['counts']['cached']} of {len(run['steps'])} steps cached")
report = next(s for s in run["steps"] if s["name"] == "report")
print(f"report step: {report['status']} ({report['why']})")
PY

echo "== one step by hand: wfc run-step gives the same answer as the pipeline run"
wfc run-step "$pipeline" --node report --json >.wfc/quickstart-report.json
echo "== the report (from the content-addressed store):"
"$python" - <<'PY'
import json, pathlib
doc = json.loads(pathlib.Path(".wfc/quickstart-report.json").read_text())
digest = doc["outputs"]["report"]["hash"]
print(pathlib.Path(".wfc/store/objects", digest[7:9], digest[9:]).read_text())
PY
