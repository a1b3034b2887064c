#!/usr/bin/env bash
# The install part of the README quick start (scripts/quickstart.sh runs it first; docs/install.md).
# On Debian 12, as root or with sudo:
#   1. Debian packages, only those missing: python3 + python3-venv (unless `python3` on PATH is
#      already >= 3.11 with venv and ensurepip), git, curl, jq, postgresql, prometheus-pushgateway
#      and SLURM (slurmctld, slurmd, munge, slurm-client) (for the tests, which start their own
#      servers: under systemd, the services of these packages are stopped and disabled when this
#      script installed them), chromium (the canvas tests drive it headless), docker.io and
#      debootstrap (the Docker engine and the local base image).
#   2. A virtual environment .venv/ at the repository root, reused when it is healthy.
#   3. wfc, editable, with its test tools, into .venv (`pip install -e '.[test]'`); skipped when
#      pyproject.toml has not changed since the last install into this .venv.
# Re-running installs nothing new and takes about a second.
#
# Usage: scripts/install.sh [--no-docker]
#   --no-docker  do not install docker.io and debootstrap (scripts/check-fresh-install.sh uses it:
#                no Docker inside its container)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
docker=1
for arg in "$@"; do
    case "$arg" in
        --no-docker) docker=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument $arg; hint: scripts/install.sh --help" >&2; exit 2 ;;
    esac
done

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
VENV=.venv
STAMP="$VENV/.wfc-install"  # what was installed into .venv: this checkout's path and pyproject.toml's hash

# A Python able to hold wfc: 3.11 or newer, with venv and ensurepip (Debian ships ensurepip in
# python3-venv, so a bare python3 cannot make a virtual environment).
python_ok() { "$1" -c 'import ensurepip, sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
venv_ok() {  # a .venv whose interpreter still runs (its base Python may be gone), with pip
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 &&
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

missing=()
python=""
if ! venv_ok; then
    if command -v python3 >/dev/null && python_ok python3; then
        python=python3
    else
        missing+=(python3 python3-venv)
        python=/usr/bin/python3  # Debian's, whatever else comes first on PATH
    fi
fi
command -v git >/dev/null || missing+=(git)
command -v curl >/dev/null || missing+=(curl)  # docs/configuration.md uses it
command -v jq >/dev/null || missing+=(jq)  # the docs use it to read JSON output
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)  # for the PostgreSQL tests
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)  # for the metrics tests
# for the SLURM test, which starts its own one-node cluster (daemons in /usr/sbin, maybe not on PATH)
[ -x /usr/sbin/slurmctld ] || missing+=(slurmctld)
[ -x /usr/sbin/slurmd ] || missing+=(slurmd)
[ -x /usr/sbin/munged ] || missing+=(munge)
command -v sbatch >/dev/null || missing+=(slurm-client)
command -v chromium >/dev/null || missing+=(chromium)  # for the canvas tests (headless, driven by playwright)
# playwright's own node driver needs libatomic, which chromium does not pull in
dpkg-query -W -f='${Status}' libatomic1 2>/dev/null | grep -q "install ok installed" || missing+=(libatomic1)
command -v strace >/dev/null || missing+=(strace)  # the fault-injection tests inject system-call errors
if [ "$docker" = 1 ]; then
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
else
    echo "== skipping the Docker engine and debootstrap (--no-docker)"
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} from Debian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    # The tests start their own servers (and need the Pushgateway's port 9091 free): under systemd,
    # stop the services of the packages just installed for them.
    if [ -d /run/systemd/system ]; then
        for unit in postgresql prometheus-pushgateway munge slurmctld slurmd; do
            if [[ " ${missing[*]} " == *" $unit "* ]]; then
                echo "== stopping and disabling the $unit service (the tests start their own)"
                $SUDO systemctl disable --now --quiet "$unit" || true
            fi
        done
    fi
fi

if [ -n "$python" ]; then
    python_ok "$python" || {
        echo "error: $python is not Python >= 3.11 with venv; hint: apt-get install python3 python3-venv" >&2
        exit 2
    }
    echo "== creating the virtual environment $VENV ($("$python" --version))"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    # Debian's ensurepip brings pip 23.0, which builds some sdists the legacy way, with warnings.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
else
    echo "== reusing the virtual environment $VENV ($("$VENV/bin/python" --version))"
fi

want="$(pwd) $(sha256sum pyproject.toml | cut -d' ' -f1)"
# -I: import wfc as installed, not from the current directory or PYTHONPATH.
if [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && "$VENV/bin/python" -I -c 'import wfc' 2>/dev/null; then
    echo "== wfc and its test tools are installed in $VENV (pyproject.toml unchanged)"
else
    echo "== installing wfc and its test tools into $VENV (pip install -e '.[test]')"
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'
    echo "$want" >"$STAMP"
fi
