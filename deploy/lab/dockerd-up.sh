#!/bin/sh
# dockerd-up.sh — make sure a docker daemon answers: when `docker info`
# fails, start dockerd in the background (no systemd on a build machine),
# storage driver overlay2, or vfs when overlay2 does not come up, its log in
# build/lab/dockerd.log, and wait for it (at most 60 s per attempt). Exits
# non-zero, with the log's tail, when no daemon answers.
set -u
cd "$(dirname "$0")/../.." || exit 1
LOG_DIR=build/lab
mkdir -p "$LOG_DIR"

answers() { docker info >/dev/null 2>&1; }

answers && exit 0
command -v dockerd >/dev/null 2>&1 || {
	echo "dockerd-up: dockerd is missing; run deploy/lab/lab-deps.sh" >&2
	exit 1
}

try_start() { # try_start DRIVER
	echo "dockerd-up: starting dockerd --storage-driver=$1 (log $LOG_DIR/dockerd.log)"
	setsid dockerd --storage-driver="$1" >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
	echo $! >"$LOG_DIR/dockerd.pid"
	i=0
	while [ $i -lt 120 ]; do
		answers && return 0
		kill -0 "$(cat "$LOG_DIR/dockerd.pid")" 2>/dev/null || return 1
		sleep 0.5
		i=$((i + 1))
	done
	kill "$(cat "$LOG_DIR/dockerd.pid")" 2>/dev/null
	return 1
}

try_start overlay2 && exit 0
echo "dockerd-up: overlay2 did not come up; trying vfs" >&2
sleep 2
try_start vfs && exit 0
echo "dockerd-up: no docker daemon; the end of $LOG_DIR/dockerd.log:" >&2
tail -n 20 "$LOG_DIR/dockerd.log" >&2
exit 1
