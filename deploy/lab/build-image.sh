#!/bin/sh
# build-image.sh — the lab's image, built with no registry:
#  1. build/lab/rootfs.tar (cached; rm it to rebuild): a Debian rootfs made
#     by `debootstrap --variant=minbase` of this machine's release, from the
#     mirror this machine's apt sources name (read at run time, never
#     written into the repository), with the lab's runtime packages
#     (python3 for the far end, dovecot-lmtpd, dnsmasq-base, swaks, ...);
#  2. `docker import` of it as smtpcluster-lab-base;
#  3. deploy/lab/Dockerfile on top: the shared libraries smtpclusterd and
#     smtpctl link against, as the very Debian packages (and versions) this
#     machine has (apt-get download, found with ldd + dpkg -S, so a new
#     library dependency needs no edit here), then the binaries from build/
#     (and the test daemon as smtpclusterd-test when build/test has it)
#     and the lab's scripts, as smtpcluster-lab.
# Fails (non-zero) on the first step that fails.
set -eu
cd "$(dirname "$0")/../.."
LAB=build/lab
BASE_IMAGE=smtpcluster-lab-base
IMAGE=smtpcluster-lab
INCLUDE="python3,dovecot-core,dovecot-lmtpd,dnsmasq-base,swaks,iproute2,procps,ca-certificates,libuv1,liblz4-1"
mkdir -p "$LAB"

for b in build/smtpclusterd build/smtpctl; do
	[ -x "$b" ] || { echo "build-image: $b is missing; run make" >&2; exit 1; }
done

# mirror — the Debian mirror that serves $codename in this machine's apt sources
mirror() {
	(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk -v c="$1" '
			/^URIs:/ {u=$2}
			/^Suites:/ {for(i=2;i<=NF;i++) if($i==c) {print u; exit}}'
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v c="$1" '$1=="deb" && $3==c {print $2; exit}') | head -n 1
}

if [ ! -s "$LAB/rootfs.tar" ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
	codename=${VERSION_CODENAME:-bookworm}
	m=$(mirror "$codename")
	[ -n "$m" ] || { echo "build-image: no mirror for $codename in apt sources" >&2; exit 1; }
	echo "build-image: debootstrap $codename (a few minutes; cached in $LAB/rootfs.tar)"
	rm -rf "$LAB/rootfs"
	debootstrap --variant=minbase --include="$INCLUDE" "$codename" \
		"$LAB/rootfs" "$m" >"$LAB/debootstrap.log" 2>&1 || {
		tail -n 20 "$LAB/debootstrap.log" >&2
		exit 1
	}
	rm -rf "$LAB/rootfs/var/cache/apt/archives/"*.deb "$LAB/rootfs/var/lib/apt/lists/"*
	tar -C "$LAB/rootfs" -cf "$LAB/rootfs.tar.part" .
	mv "$LAB/rootfs.tar.part" "$LAB/rootfs.tar"
	rm -rf "$LAB/rootfs"
fi

# re-import when the image is missing or the tarball changed since
stamp=$(stat -c '%Y.%s' "$LAB/rootfs.tar")
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 ||
	[ "$(cat "$LAB/base.stamp" 2>/dev/null)" != "$stamp" ]; then
	echo "build-image: docker import $LAB/rootfs.tar as $BASE_IMAGE"
	docker import "$LAB/rootfs.tar" "$BASE_IMAGE" >/dev/null
	echo "$stamp" >"$LAB/base.stamp"
fi

# the build context: binaries, lab scripts, the runtime library packages
ctx=$LAB/context
rm -rf "$ctx"
mkdir -p "$ctx/debs" "$ctx/bin" "$ctx/lab"
cp build/smtpclusterd build/smtpctl "$ctx/bin/"
# the test daemon (make test-daemon: ASan and the "debug" control
# commands, snapshot-hash among them) when built: lab-test runs it
bins="build/smtpclusterd build/smtpctl"
if [ -x build/test/smtpclusterd ]; then
	cp build/test/smtpclusterd "$ctx/bin/smtpclusterd-test"
	bins="$bins build/test/smtpclusterd"
fi
cp tests/integration/recorder.py deploy/lab/farend.py deploy/lab/entrypoint.sh "$ctx/lab/"
cp deploy/lab/Dockerfile "$ctx/"
# the packages of the libraries the binaries link against that the base
# lacks, in the versions this machine has (a version the mirror no longer
# serves: its current one)
# deps_closure PKG... — PKG... plus, repeatedly, the packages they depend
# on (first alternative of each Depends/Pre-Depends) that are installed
# here and not in the base; one per line, sorted
deps_closure() {
	todo=$*
	seen=" "
	while [ -n "$todo" ]; do
		next=
		for p in $todo; do
			case "$seen" in *" ${p%%:*} "*) continue ;; esac
			seen="$seen${p%%:*} "
			for d in $(dpkg-query -W -f='${Pre-Depends}, ${Depends}\n' "$p" 2>/dev/null |
				tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g'); do
				[ -n "$d" ] || continue
				grep -qx "$d" "$LAB/base.pkgs" && continue
				dpkg-query -W -f='${Status}' "$d" 2>/dev/null |
					grep -q "ok installed" || continue
				next="$next $d"
			done
		done
		todo=$next
	done
	echo "$seen" | tr ' ' '\n' | sed '/^$/d' | sort -u
}
tar -xOf "$LAB/rootfs.tar" ./var/lib/dpkg/status |
	awk '/^Package:/{p=$2} /^Status:.*ok installed/{print p}' | sort -u >"$LAB/base.pkgs"
# shellcheck disable=SC2086 # $bins is a list of paths without blanks
pkgs=$(ldd $bins | awk '/=> \//{print $3}' | sort -u |
	while read -r lib; do
		dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true
	done | sed 's/:[^:]*$//' | sort -u)
# and what those packages depend on that the base lacks (libsasl2-2 needs
# libsasl2-modules-db, which no binary links): the closure over Depends,
# first alternatives, packages this machine has installed
pkgs=$(deps_closure $pkgs)
(cd "$ctx/debs" && for p in $pkgs; do
	name=${p%%:*}
	grep -qx "$name" "../../base.pkgs" && continue
	v=$(dpkg-query -W -f='${Version}' "$p")
	echo "build-image: runtime package $p=$v"
	apt-get download "$p=$v" || apt-get download "$p" || exit 1
done) >"$LAB/apt-download.log" 2>&1 || {
	tail -n 20 "$LAB/apt-download.log" >&2
	exit 1
}
grep '^build-image:' "$LAB/apt-download.log" || true
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ctx" >"$LAB/docker-build.log" 2>&1 || {
	tail -n 20 "$LAB/docker-build.log" >&2
	exit 1
}
echo "build-image: $IMAGE ready"
