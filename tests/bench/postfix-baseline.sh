#!/usr/bin/env bash
# Postfix baseline for side-by-side throughput runs (adapted from the
# project's shared bench script; used by tests/bench/run.sh).
# Starts a throw-away Postfix instance on 127.0.0.1:$PF_PORT that relays
# everything to an smtp-sink on 127.0.0.1:$SINK_PORT, pushes $MSGS messages
# of $SIZE bytes through it with smtp-source ($SESSIONS parallel sessions),
# and prints accept and end-to-end rates; with PF_LATENCY (the path of
# tests/bench/bench_smtp.py) also its p50/p99 end of DATA to 250.
#
# Needs Debian's postfix package (smtp-source and smtp-sink come with it):
#   echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
#   DEBIAN_FRONTEND=noninteractive apt-get install -y postfix
# Must run as root (Postfix drops to the postfix user).
set -euo pipefail
MSGS=${MSGS:-5000}; SIZE=${SIZE:-4096}; SESSIONS=${SESSIONS:-20}
PF_PORT=${PF_PORT:-2625}; SINK_PORT=${SINK_PORT:-2626}
work=/tmp/pfbase
rm -rf "$work"; mkdir -p "$work"
# postfix only runs a non-default configuration listed in the default one
[ -f /etc/postfix/main.cf ] || printf 'compatibility_level = 3.6\n' > /etc/postfix/main.cf
grep -q "^alternate_config_directories.*$work/conf" /etc/postfix/main.cf || echo "alternate_config_directories = $work/conf" >> /etc/postfix/main.cf
conf=$work/conf; q=$work/queue; d=$work/data
mkdir -p "$conf" "$q" "$d"
cp /etc/postfix/master.cf "$conf/master.cf"
sed -i 's/^smtp      inet/#smtp      inet/' "$conf/master.cf"
echo "127.0.0.1:$PF_PORT inet n - y - - smtpd" >> "$conf/master.cf"
cat > "$conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $q
data_directory = $d
myhostname = bench.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtpd_relay_restrictions = permit_mynetworks, reject
default_destination_concurrency_limit = $SESSIONS
smtp_destination_concurrency_limit = $SESSIONS
maillog_file_prefixes = /tmp
maillog_file = $work/maillog
smtputf8_enable = no
CF
chown postfix "$d"
postfix -c "$conf" set-permissions >/dev/null 2>&1 || true
postfix -c "$conf" check >/dev/null 2>&1 || true
smtp-sink -u postfix -c 127.0.0.1:$SINK_PORT 1000 > "$work/sink.log" 2>&1 &
sink=$!
cleanup() { postfix -c "$conf" stop >/dev/null 2>&1 || true; kill "$sink" 2>/dev/null || true; wait "$sink" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$SINK_PORT) 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$SINK_PORT) 2>/dev/null && break; sleep 0.1; done
postfix -c "$conf" start >/dev/null 2>&1
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PF_PORT) 2>/dev/null && break; sleep 0.2; done
t0=$(date +%s.%N)
smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f bench@example.com -t rcpt@remote.example 127.0.0.1:$PF_PORT
t1=$(date +%s.%N)
# wait until the queue is empty (end-to-end)
for _ in $(seq 600); do
  n=$(find "$q/incoming" "$q/active" "$q/deferred" "$q/maildrop" -type f 2>/dev/null | wc -l)
  [ "$n" -eq 0 ] && break; sleep 0.1
done
t2=$(date +%s.%N)
awk -v m="$MSGS" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN{printf "postfix accept: %.0f msg/s  end-to-end: %.0f msg/s  (%d msgs, accept %.2fs, total %.2fs)\n", m/(b-a), m/(c-a), m, b-a, c-a}'
# the latency probe of the cluster's bench (end of DATA to 250), when given
if [ -n "${PF_LATENCY:-}" ]; then
	python3 "$PF_LATENCY" --latency "127.0.0.1:$PF_PORT" postfix
fi
