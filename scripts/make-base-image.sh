#!/usr/bin/env bash
# Create a local Debian base image offline-from-registries: debootstrap a minimal root file
# system from the Debian mirror, then `docker import` it. No image registry is contacted.
#
# Usage: scripts/make-base-image.sh [TAG] [SUITE]
#   TAG    image reference to create (default: wfc-base:bookworm, or $WFC_BASE_IMAGE)
#   SUITE  Debian suite (default: bookworm)
# Env:   WFC_DEBIAN_MIRROR  mirror URL (default: http://deb.debian.org/debian)
#        WFC_FORCE=1        rebuild even when the image already exists
set -euo pipefail

tag="${1:-${WFC_BASE_IMAGE:-wfc-base:bookworm}}"
suite="${2:-bookworm}"
mirror="${WFC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ "${WFC_FORCE:-0}" != "1" ] && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag already exists (set WFC_FORCE=1 to rebuild)"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "error: debootstrap is not installed; hint: apt-get install -y debootstrap" >&2
    exit 2
}

rootfs="$(mktemp -d /tmp/wfc-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap $suite into $rootfs (a few minutes) ..."
debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 20 "$rootfs.log" >&2
    echo "error: debootstrap failed (log above); hint: check that $mirror is reachable" >&2
    exit 3
}
rm -f "$rootfs.log"
# Slim the image: package caches and docs are not needed at run time.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$tag" >/dev/null
echo "created base image $tag ($(docker image inspect --format '{{.Id}}' "$tag"))"
