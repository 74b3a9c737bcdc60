#!/bin/sh
# lab-deps.sh — install the Debian packages the docker-compose lab needs
# (docker.io with dockerd, containerd, docker-compose v1, debootstrap), only
# those that are missing. bookworm has no compose plugin, so the lab uses the
# python docker-compose 1.29. Runs as root, or through sudo when available.
# Fails (non-zero) when apt cannot install them.
set -eu
PKGS="docker.io containerd docker-compose debootstrap iptables"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "lab-deps: not root and no sudo; install: $PKGS" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
