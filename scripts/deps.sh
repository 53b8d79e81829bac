#!/bin/sh
# Install the Debian packages coffer needs to build and test, where missing.
# Runs as root on a fresh Debian 12 machine; a no-op when all are present.
set -e
PKGS="gcc clang make meson ninja-build pkg-config libssl-dev liblz4-dev
libzstd-dev libargon2-dev libfuse3-dev fuse3 libclang-rt-14-dev
xxd python3"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "coffer: installing missing packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "coffer: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
