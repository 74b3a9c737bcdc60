#!/bin/sh
# run.sh — `make bench`. Today: the spool state machine's own rate (the
# FSM's share of each message). The SMTP side-by-side with Postfix
# (../shared/bench/postfix-baseline.sh) needs the receiver of issue #4 and
# is added with it; this script says so rather than print a made-up ratio.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -I. -o build/bench/bench_spool tests/bench/bench_spool.c build/libspool.a -llmdb
build/bench/bench_spool "${BENCH_MSGS:-10000}"
echo "bench: SMTP accept rate vs Postfix: not measured yet (needs the SMTP receiver, issue #4)"
