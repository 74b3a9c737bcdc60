#!/bin/sh
# install-deps.sh — install the Debian packages smtpcluster builds and tests
# with, only those that are missing. libsystemd-dev: sd_notify (the unit is
# Type=notify); systemd, man-db, mandoc, logrotate: make check-install
# (systemd-analyze verify, mandoc -T lint, logrotate -f). libmicrohttpd-dev:
# the metrics endpoint; prometheus: its promtool checks the format in the
# tests (the prometheus server itself is not used). libsasl2-dev and the
# modules: SMTP AUTH on the submission listeners; sasl2-bin: saslpasswd2
# for the tests' per-node sasldb.
#
# libraft must be >= 0.17 (0.22 from bookworm-backports on bookworm: 0.15 has
# known safety bugs). When the release's own libraft is older, the script
# enables the release's -backports suite, deriving the mirror from the apt
# sources the machine already has, so no host name is written here.
# Runs as root, or through sudo when it is available.
set -eu

PKGS="build-essential pkg-config libuv1-dev libc-ares-dev libssl-dev \
liblmdb-dev lmdb-utils libcmocka-dev libinih-dev libjson-c-dev \
clang libclang-rt-14-dev cppcheck clang-format clang-tidy python3 iproute2 procps \
openssl swaks libnet-ssleay-perl postfix dnsmasq-base dovecot-lmtpd \
faketime \
libsystemd-dev systemd man-db mandoc logrotate \
libmicrohttpd-dev prometheus \
libsasl2-dev libsasl2-modules libsasl2-modules-db sasl2-bin"

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: not root and no sudo; install: $PKGS libraft-dev" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# postfix (for the test tools smtp-sink / smtp-source and the benchmark
# baseline) must not configure itself as this machine's MTA
echo "postfix postfix/main_mailer_type select No configuration" |
	$SUDO debconf-set-selections 2>/dev/null || true

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

# libraft: the installed one is fine when >= 0.17.
raft_ok=no
if pkg-config --exists 'raft >= 0.17' 2>/dev/null; then raft_ok=yes; fi

[ -z "$missing" ] && [ "$raft_ok" = yes ] && exit 0

updated=no
apt_update() { [ "$updated" = yes ] || { $SUDO apt-get update -qq; updated=yes; }; }

raft_target=
if [ "$raft_ok" = no ]; then
	apt_update
	cand=$(apt-cache policy libraft-dev 2>/dev/null | awk '/Candidate:/{print $2}')
	if [ -n "$cand" ] && [ "$cand" != "(none)" ] &&
		dpkg --compare-versions "$cand" ge 0.17; then
		raft_target=libraft-dev
	else
		# Derive the Debian mirror and codename from existing sources.
		. /etc/os-release
		codename=${VERSION_CODENAME:-bookworm}
		mirror=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk -v c="$codename" '
				/^URIs:/ {u=$2}
				/^Suites:/ {for(i=2;i<=NF;i++) if($i==c) {print u; exit}}';
			cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk -v c="$codename" '$1=="deb" && $3==c {print $2; exit}') | head -n 1)
		if [ -z "$mirror" ]; then
			echo "install-deps: cannot find the Debian mirror for $codename in apt sources" >&2
			exit 1
		fi
		echo "install-deps: enabling $codename-backports from $mirror"
		printf 'deb %s %s-backports main\n' "$mirror" "$codename" |
			$SUDO tee /etc/apt/sources.list.d/smtpcluster-backports.list >/dev/null
		updated=no
		apt_update
		raft_target="-t $codename-backports libraft-dev"
	fi
fi

apt_update
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if [ -n "$raft_target" ]; then
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $raft_target
fi
pkg-config --exists 'raft >= 0.17' || {
	echo "install-deps: libraft >= 0.17 is still missing" >&2
	exit 1
}
echo "install-deps: raft $(pkg-config --modversion raft) ready"
