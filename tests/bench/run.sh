#!/bin/sh
# run.sh — `make bench`: side-by-side numbers, measured in the same run.
#  1. the spool state machine's own rate (the FSM's share of a message);
#  2. SMTP accept rate of a 3-node cluster and of Postfix under the same
#     smtp-source load (20 sessions, 4 KiB messages, MSGS messages), their
#     ratio, and both p50/p99 latencies from end of DATA to 250;
#  3. end-to-end: the rate at which all MSGS messages reach a counting
#     smtp-sink, for a cluster with default settings and for Postfix,
#     and their ratio;
#  4. the cost of mutual TLS on the cluster ports: the cluster accept rate
#     again with [cluster] insecure_plaintext = true (IT_CLUSTER_PLAINTEXT,
#     cluster.py), and the ratio mTLS/plaintext. BENCH_TLS=0 skips it.
#  5. the drain of a queued backlog (raft entries per delivered message)
#     and the backlog sweep (2k, 20k, 100k queued; BENCH_BACKLOG_MAX
#     leaves the larger steps out), tests/bench/bench_backlog.py.
# Postfix needs root (it drops to the postfix user); without root the
# ratio is not printed rather than made up.
set -eu
cd "$(dirname "$0")/../.."
MSGS=${MSGS:-5000}; SIZE=${SIZE:-4096}; SESSIONS=${SESSIONS:-20}
export MSGS SIZE SESSIONS
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -I. -o build/bench/bench_spool tests/bench/bench_spool.c build/libspool.a -llmdb
build/bench/bench_spool 10000
out=$(python3 tests/bench/bench_smtp.py)
echo "$out"
if [ "$(id -u)" -eq 0 ]; then
	pf=$(PF_LATENCY=tests/bench/bench_smtp.py PF_PORT=${PF_PORT:-2625} SINK_PORT=${SINK_PORT:-2626} bash tests/bench/postfix-baseline.sh)
	echo "$pf"
	c=$(echo "$out" | awk '/^cluster accept:/{print $3}')
	p=$(echo "$pf" | awk '/^postfix accept:/{print $3}')
	if [ -n "$c" ] && [ -n "$p" ]; then
		awk -v c="$c" -v p="$p" 'BEGIN{printf "ratio cluster/postfix accept: %.2f\n", c/p}'
	fi
	c=$(echo "$out" | awk '/^cluster end-to-end:/{print $3}')
	p=$(echo "$pf" | awk '/^postfix accept:/{print $6}')
	if [ -n "$c" ] && [ -n "$p" ]; then
		awk -v c="$c" -v p="$p" 'BEGIN{printf "ratio cluster/postfix end-to-end: %.2f\n", c/p}'
	fi
else
	echo "bench: not root: Postfix baseline skipped, no ratio"
fi
if [ "${BENCH_TLS:-1}" != 0 ]; then
	plain=$(IT_CLUSTER_PLAINTEXT=1 python3 tests/bench/bench_smtp.py |
		sed 's/^cluster /plaintext cluster /')
	echo "$plain"
	c=$(echo "$out" | awk '/^cluster accept:/{print $3}')
	p=$(echo "$plain" | awk '/^plaintext cluster accept:/{print $4}')
	if [ -n "$c" ] && [ -n "$p" ]; then
		awk -v c="$c" -v p="$p" 'BEGIN{printf "ratio mTLS/plaintext cluster accept: %.2f\n", c/p}'
	fi
fi
python3 tests/bench/bench_backlog.py drain
python3 tests/bench/bench_backlog.py
