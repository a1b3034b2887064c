#!/usr/bin/env bash
# Prove that the README quick start installs wfc on a truly fresh Debian 12 (docs/install.md).
# In a new container of the bare local base image (debootstrap minbase: no python3, no pip; built
# by scripts/make-base-image.sh when missing), from a `git archive` of the repository:
#   1. the install part of the quick start: scripts/quickstart.sh --no-docker (Debian packages,
#      .venv/, pip install -e '.[test]'; the Docker engine is skipped: no Docker in Docker);
#   2. every install step left its mark: the Debian packages, .venv/, `pip check`, nothing
#      installed into the system Python, a working `.venv/bin/wfc`;
#   3. a second run installs nothing;
#   4. the tests that need no Docker, in a git repository as a clone would be:
#      .venv/bin/python -m pytest -m "not docker".
# The host's CA bundle, its pip settings that reach a registry (index-url, extra-index-url,
# trusted-host, proxy, timeout, retries: from `pip config list`, so from its files and PIP_*
# variables, without local paths), *_proxy variables and apt's Acquire::*::Proxy are passed in; the
# container shares the host's network to reach the package registries.
# The container is labelled wfc.check=fresh-install-PID and removed at the end, whatever happens.
#
# Usage: scripts/check-fresh-install.sh [--ref REF | --worktree]
#   --ref REF    the commit to install (default HEAD): uncommitted work is not in it
#   --worktree   the working tree instead, as it is: tracked and untracked files not ignored by
#                .gitignore, uncommitted changes included (to try a change before committing it)
# Env:  WFC_BASE_IMAGE  the bare image (default wfc-base:bookworm)
#       WFC_CA_BUNDLE   the host's CA bundle (default /etc/ssl/certs/ca-certificates.crt)
# Exit: 0 installed and the tests passed, 1 a check failed (named on the error line), 2 bad usage,
#       3 Docker or the base image unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
ref=HEAD
worktree=0
while [ $# -gt 0 ]; do
    case "$1" in
        --ref)
            [ $# -ge 2 ] || { echo "error: --ref needs a commit; hint: --ref HEAD" >&2; exit 2; }
            ref="$2"
            shift 2
            ;;
        --worktree) worktree=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument $1; hint: scripts/check-fresh-install.sh --help" >&2; exit 2 ;;
    esac
done

image="${WFC_BASE_IMAGE:-wfc-base:bookworm}"
ca="${WFC_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
label="wfc.check=fresh-install-$$"
started=$SECONDS
container=""
scratch="$(mktemp -d /tmp/wfc-fresh.XXXXXX)"
cleanup() {
    [ -z "$container" ] || docker rm --force "$container" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step() { echo "== [$((SECONDS - started))s] $*"; }
fail() {
    echo "error: fresh install check failed: $1" >&2
    echo "hint: $2" >&2
    exit 1
}

git rev-parse --git-dir >/dev/null 2>&1 || {
    echo "error: $(pwd) is not a git checkout: the check installs a git archive of it; hint: git clone" >&2
    exit 2
}
if [ "$worktree" = 1 ]; then
    # A throwaway index: the real index and the working tree are left alone.
    cp "$(git rev-parse --git-path index)" "$scratch/index" 2>/dev/null || true
    GIT_INDEX_FILE="$scratch/index" git add --all
    tree="$(GIT_INDEX_FILE="$scratch/index" git write-tree)"
    what="the working tree"
else
    tree="$(git rev-parse --verify --quiet "$ref^{tree}")" || {
        echo "error: $ref is not a commit of this repository; hint: --ref HEAD" >&2
        exit 2
    }
    what="$ref ($(git rev-parse --short "$ref"); uncommitted changes are not included, see --worktree)"
fi

bash scripts/start-docker.sh || exit 3
bash scripts/make-base-image.sh "$image" || exit 3

# What the container needs from the host to reach the package registries.
run_args=(--detach --label "$label" --network host --workdir /root/wfc)  # --workdir creates it
passed=()
if [ -f "$ca" ]; then
    run_args+=(--volume "$ca:/run/wfc-host/ca.crt:ro" --env PIP_CERT=/run/wfc-host/ca.crt)
    passed+=("CA bundle $ca")
fi
# pip's settings that reach a registry, from its configuration files and PIP_* variables (those
# last: they win), without local paths (file:// indexes, find-links directories) the container lacks.
host_python="$(command -v .venv/bin/python || command -v python3 || true)"
pip_settings() {
    [ -n "$host_python" ] || return 0
    local all
    all="$("$host_python" -m pip config list 2>/dev/null || true)"
    { grep -v '^:env:' <<<"$all" || true; grep '^:env:' <<<"$all" || true; } |
        sed -nE "s/^[^=]*\.([a-z-]+)='(.*)'$/\1 \2/p"
}
while read -r key values; do
    case "$key" in
        index-url | extra-index-url | trusted-host | proxy | timeout | default-timeout | retries)
            kept=()
            for value in $values; do
                case "$value" in file:* | /*) ;; *) kept+=("$value") ;; esac
            done
            if [ ${#kept[@]} -gt 0 ]; then
                name="PIP_$(tr 'a-z-' 'A-Z_' <<<"$key")"
                run_args+=(--env "$name=${kept[*]}")
                passed+=("pip $key")
            fi
            ;;
    esac
done < <(pip_settings)
for var in $(compgen -e); do
    case "$var" in
        http_proxy | https_proxy | no_proxy | all_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY | ALL_PROXY)
            run_args+=(--env "$var")
            passed+=("$var")
            ;;
    esac
done
if command -v apt-config >/dev/null && apt-config dump | grep -iE '^Acquire::[a-z]+::Proxy' >"$scratch/apt-proxy"; then
    run_args+=(--volume "$scratch/apt-proxy:/etc/apt/apt.conf.d/99wfc-host-proxy:ro")
    passed+=("apt proxy settings")
fi

step "starting a container of $image (bare Debian 12, label $label)"
(IFS=,; echo "   passed in from the host: ${passed[*]:-nothing}" | sed 's/,/, /g')
container="$(docker run "${run_args[@]}" "$image" sleep infinity)" || exit 3
in_container() {  # in the background, so that Ctrl-C stops the check at once (the trap removes the container)
    docker exec "$container" "$@" &
    wait $!
}
in_container sh -c '! command -v python3 && ! command -v pip3' >/dev/null ||
    fail "$image is not bare: it already has python3 or pip" "WFC_FORCE=1 scripts/make-base-image.sh $image"

step "copying $what into /root/wfc (git archive)"
git archive --format=tar "$tree" | docker cp - "$container:/root/wfc" >/dev/null

step "installing: bash scripts/quickstart.sh --no-docker"
in_container bash scripts/quickstart.sh --no-docker ||
    fail "the install part of the quick start exited $? (its output is above)" \
        "fix scripts/install.sh, then try the fix: scripts/check-fresh-install.sh --worktree"

step "committing /root/wfc into a new git repository, as a clone has one"
in_container bash -c 'git init -q && git add --all &&
    git -c user.name=wfc -c user.email=wfc@localhost commit -q -m "fresh install check"' ||
    fail "git could not make a repository of the copy" "the install must provide git"

step "checking what each install step left"
# shellcheck disable=SC2016  # the script runs in the container: its $ are expanded there
in_container bash -c '
    status=0
    problem() { echo "$*"; status=1; }
    for pkg in python3 python3-venv git curl jq postgresql prometheus-pushgateway chromium libatomic1 strace; do
        dpkg-query -W -f="\${Status}" "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            problem "missing: the Debian package $pkg"
    done
    ! command -v dockerd >/dev/null || problem "--no-docker was not honoured: docker.io is installed"
    .venv/bin/python -c "import sys; sys.exit(sys.prefix == sys.base_prefix)" ||
        problem "missing: .venv/ as a virtual environment"
    .venv/bin/python -m pip check || problem "broken: the packages in .venv (pip check, above)"
    (cd / && ! python3 -c "import wfc" 2>/dev/null) || problem "wfc went into the system Python, not .venv"
    .venv/bin/wfc --version || problem "missing: a working .venv/bin/wfc"
    exit $status
' || fail "an install step is missing or wrong (listed above)" "see scripts/install.sh and docs/install.md"

step "running the install again: nothing to do"
again="$(in_container bash scripts/quickstart.sh --no-docker)" ||
    fail "the second run of the install exited $?" "the install must be safe to re-run"
# shellcheck disable=SC2001  # indent every line of it
sed 's/^/   /' <<<"$again"
! grep -qE '^== (installing|creating)' <<<"$again" ||
    fail "the second run installed again" "scripts/install.sh must reuse what is there"

step "the tests that need no Docker: .venv/bin/python -m pytest -m 'not docker'"
in_container .venv/bin/python -m pytest -m "not docker" -q -p no:cacheprovider --durations=5 ||
    fail "tests failed on the fresh install (above)" \
        "tests that need Docker must use the docker_engine fixture or be marked docker"

step "fresh install check passed in $((SECONDS - started))s"
