#!/bin/sh
# run-local.sh — `make run`: a real three-node smtpcluster on this machine,
# in the foreground until Ctrl-C.
#
# Layout (scripts and docs rely on it; paths are relative to the repository,
# where this script runs the nodes):
#   node N (1..3): state under run/nodeN/, config run/nodeN/node.conf,
#   control socket run/nodeN/control.sock, log run/nodeN/smtpclusterd.log,
#   activity log (one line per delivery attempt) run/nodeN/activity.log,
#   receive log (one line per message received) run/nodeN/receive.log,
#   SMTP on 127.0.0.N:2525, raft on 127.0.0.N:7001 (forwarding 7002),
#   Prometheus metrics on http://127.0.0.N:9100/metrics.
# Mail: the cluster serves the local domain cluster.test (and the node
# domains nodeN.cluster.test, as local aliases) with Maildirs for
# postmaster, system, alice and bob under run/mail/<user>/; it relays only
# for clients connecting from 127.0.0.1 (127.0.0.200 and the other loopback
# addresses play outside clients). Mail for other domains goes to the
# alternate gateway 127.0.0.10, where Postfix's smtp-sink listens on port
# 2526 and dumps each message into run/sink/ (this demo's nodes reach remote
# hosts on port 2526: [delivery] smtp_port).
# A missing node.conf is written (static peers: all three, identical on
# every node; mutual TLS on the cluster ports with the CA and node
# certificates in run/ca/, made by deploy/cluster-ca.sh); an existing one is kept, so a second `make run` reuses the
# state of the first (a [delivery] section is added to an older one). Ctrl-C
# (or SIGTERM) stops the nodes cleanly: SIGTERM (a leader hands leadership
# over first), a bounded wait, then SIGKILL.
set -u
cd "$(dirname "$0")/.." || exit 1

DAEMON=build/smtpclusterd
SMTPCTL=build/smtpctl
NODES="1 2 3"
USERS="postmaster system alice bob"
SINK_HOST=127.0.0.10
SINK_PORT=2526
START_WAIT=30 # seconds to wait for a leader
STOP_WAIT=15  # seconds to wait for the nodes to stop

for b in "$DAEMON" "$SMTPCTL"; do
	if [ ! -x "$b" ]; then
		echo "run-local: $b is missing; run make first" >&2
		exit 1
	fi
done

# delivery_section N — the [delivery] section of node N
delivery_section() {
	cat <<EOF
[delivery]
; local delivery into run/mail/<user>/{tmp,new,cur}
backend = maildir
mail_root = run/mail
; a demo on loopback: remote hosts (the gateway's smtp-sink) on port $SINK_PORT
smtp_port = $SINK_PORT
; one line per delivery attempt and recipient (TCPIP\$SMTP_LOGFILE)
activity_log = run/node$1/activity.log
EOF
}

# admin_group — the group whose members are admin on the local nodes:
# smtpadm for root, else the primary group of the user who runs the
# cluster (so that their smtpctl may manage it)
admin_group() {
	if [ "$(id -u)" -eq 0 ]; then
		echo smtpadm
	else
		id -gn
	fi
}

# write_conf N — run/nodeN/node.conf, unless it exists
write_conf() {
	n=$1
	conf=run/node$n/node.conf
	[ -f "$conf" ] && return 0
	mkdir -p "run/node$n"
	cat >"$conf" <<EOF
; $conf — written by deploy/run-local.sh; kept on later runs (edit freely).
; Relative paths are relative to the repository, where the node runs.
[node]
id = $n
name = NODE$n
data_dir = run/node$n
domain = node$n.cluster.test

[smtp]
listen = 127.0.0.$n:2525
; relaying is allowed for these clients only
trusted = 127.0.0.1/32

[cluster]
address = 127.0.0.$n:7001
peer = 1 127.0.0.1:7001
peer = 2 127.0.0.2:7001
peer = 3 127.0.0.3:7001
tls_ca = run/ca/ca.pem
tls_cert = run/ca/node-$n.pem
tls_key = run/ca/node-$n.key

[control]
socket = run/node$n/control.sock
admin_group = $(admin_group)

[log]
level = info

[metrics]
listen = 127.0.0.$n:9100

EOF
	delivery_section "$n" >>"$conf"
	echo "run-local: wrote $conf"
}

# add_delivery N — a node.conf written before delivery existed gets its
# [delivery] section; the rest of the file is kept
add_delivery() {
	conf=run/node$1/node.conf
	grep -q '^\[delivery\]' "$conf" && return 0
	{
		echo
		delivery_section "$1"
	} >>"$conf"
	echo "run-local: added a [delivery] section to $conf"
}

# make_certs N — the cluster CA (run/ca, once) and node N's certificate
# (deploy/cluster-ca.sh); a node.conf written before mutual TLS gets the
# [cluster] tls_* keys
make_certs() {
	[ -f run/ca/ca.pem ] || deploy/cluster-ca.sh ca run/ca >/dev/null ||
		exit 1
	[ -f "run/ca/node-$1.pem" ] ||
		deploy/cluster-ca.sh node run/ca "$1" >/dev/null || exit 1
	conf=run/node$1/node.conf
	grep -q '^tls_ca' "$conf" && return 0
	sed -i "/^\[cluster\]/a tls_ca = run/ca/ca.pem\\
tls_cert = run/ca/node-$1.pem\\
tls_key = run/ca/node-$1.key" "$conf"
	echo "run-local: added [cluster] tls_* keys to $conf"
}

# add_metrics N — a node.conf written before the metrics endpoint existed
# gets its [metrics] section
add_metrics() {
	conf=run/node$1/node.conf
	grep -q '^\[metrics\]' "$conf" && return 0
	printf '\n[metrics]\nlisten = 127.0.0.%s:9100\n' "$1" >>"$conf"
	echo "run-local: added a [metrics] section to $conf"
}

# make_maildirs — run/mail/<user>/{tmp,new,cur} for the demo users
make_maildirs() {
	for u in $USERS; do
		mkdir -p "run/mail/$u/tmp" "run/mail/$u/new" "run/mail/$u/cur"
	done
}

pids=""
sink_pid=""

# start_sink — Postfix's smtp-sink on the gateway, dumping into run/sink/
start_sink() {
	if ! command -v smtp-sink >/dev/null 2>&1; then
		echo "run-local: smtp-sink not installed (package postfix): no" \
			"remote sink; mail for other domains stays queued"
		return 0
	fi
	mkdir -p run/sink
	if [ "$(id -u)" -eq 0 ]; then
		chmod 1777 run/sink # smtp-sink drops root for nobody
		setsid smtp-sink -u nobody -d "$(pwd)/run/sink/%Y%m%d%H%M%S." \
			"$SINK_HOST:$SINK_PORT" 64 </dev/null >>run/sink.log 2>&1 &
	else
		setsid smtp-sink -d "$(pwd)/run/sink/%Y%m%d%H%M%S." \
			"$SINK_HOST:$SINK_PORT" 64 </dev/null >>run/sink.log 2>&1 &
	fi
	sink_pid=$!
	echo "run-local: smtp-sink on $SINK_HOST:$SINK_PORT (pid $sink_pid)," \
		"messages in run/sink/"
}

# stop_nodes — SIGTERM, bounded wait, SIGKILL; then exit
stop_nodes() {
	trap '' INT TERM
	echo
	echo "run-local: stopping the nodes"
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	alive=""
	i=0
	while [ $i -lt $((STOP_WAIT * 10)) ]; do
		alive=""
		for p in $pids; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in $alive; do
		echo "run-local: pid $p did not stop in ${STOP_WAIT}s, SIGKILL"
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$sink_pid" ] && kill -TERM "$sink_pid" 2>/dev/null
	wait 2>/dev/null
	echo "run-local: stopped; state kept in run/ (make run reuses it)"
	exit 0
}

# setup_mail — once a leader exists: the cluster domain, the zone and the
# gateway (only when no cluster domain is set yet, so later changes made
# with smtpctl are kept), and the node domains as local aliases
setup_mail() {
	s=run/node1/control.sock
	cur=$("$SMTPCTL" -s "$s" --json show configuration smtp 2>/dev/null |
		tr -d ' \n' | grep -o '"cluster_domain"[^}]*' |
		sed -n 's/.*"value":"\([^"]*\)".*/\1/p')
	if [ -z "$cur" ]; then
		i=0
		until "$SMTPCTL" -s "$s" set configuration smtp \
			--cluster-domain cluster.test --zone cluster.test \
			--gateway-alternate "$SINK_HOST" >/dev/null; do
			i=$((i + 1))
			if [ $i -ge 20 ]; then
				echo "run-local: could not set the cluster domain" >&2
				return 1
			fi
			sleep 0.5
		done
		echo "run-local: cluster domain cluster.test, zone cluster.test," \
			"gateway $SINK_HOST"
	fi
	for n in $NODES; do
		"$SMTPCTL" -s "$s" set alias "node$n.cluster.test" >/dev/null 2>&1
	done
}

for n in $NODES; do
	sock=run/node$n/control.sock
	if [ -S "$sock" ] && "$SMTPCTL" -s "$sock" cluster status >/dev/null 2>&1; then
		echo "run-local: node $n is already running ($sock answers);" \
			"stop it first" >&2
		exit 1
	fi
done

trap stop_nodes INT TERM
make_maildirs
start_sink
for n in $NODES; do
	write_conf "$n"
	add_delivery "$n"
	make_certs "$n"
	add_metrics "$n"
	log=run/node$n/smtpclusterd.log
	echo "==== run-local: start $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
	# own session: a Ctrl-C reaches this script only, which then stops the
	# nodes in order (a node's second signal would make it exit at once)
	setsid "$DAEMON" -c "run/node$n/node.conf" </dev/null >>"$log" 2>&1 &
	pids="$pids $!"
	echo "run-local: node $n started (pid $!), log $log"
done

# wait (bounded) for node 1 to report a leader
leader=""
i=0
while [ $i -lt $((START_WAIT * 10)) ]; do
	out=$("$SMTPCTL" -s run/node1/control.sock cluster status --json 2>/dev/null)
	leader=$(printf '%s' "$out" |
		sed -n 's/.*"leader":{"id":\([0-9][0-9]*\).*/\1/p')
	[ -n "$leader" ] && break
	for p in $pids; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "run-local: a node exited during start-up (pid $p);" \
				"see run/node*/smtpclusterd.log" >&2
			tail -n 5 run/node*/smtpclusterd.log >&2
			stop_nodes
		fi
	done
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$leader" ]; then
	echo "run-local: no leader after ${START_WAIT}s; logs:" >&2
	tail -n 10 run/node*/smtpclusterd.log >&2
	stop_nodes
fi
setup_mail

# smtp_state N — whether anything listens on 127.0.0.N:2525
smtp_state() {
	if ! command -v ss >/dev/null 2>&1; then
		echo "unknown"
	elif ss -Hltn 2>/dev/null | grep -q "127\.0\.0\.$1:2525 "; then
		echo "listening"
	else
		echo "not listening"
	fi
}

echo
echo "smtpcluster: 3 nodes running, leader is node $leader"
for n in $NODES; do
	echo "  node $n: SMTP 127.0.0.$n:2525 ($(smtp_state "$n"))," \
		"raft 127.0.0.$n:7001, socket run/node$n/control.sock"
done
cat <<EOF

Send mail (from $(pwd)):
  swaks --server 127.0.0.1:2525 --to alice@cluster.test
      -> delivered to a local Maildir: ls run/mail/alice/new/
  swaks --server 127.0.0.2:2525 --to someone@example.org
      -> relayed (127.0.0.1 is trusted) to the gateway's smtp-sink: ls run/sink/
  swaks --server 127.0.0.3:2525 --from x@example.org --to nobody@cluster.test
      -> refused at RCPT: unknown user
  swaks --server 127.0.0.1:2525 --local-interface 127.0.0.200 --to someone@example.org
      -> 550 5.7.1 relaying denied (an outside client)
  tail -f run/node*/activity.log           one line per delivery attempt
  tail -f run/node*/receive.log            one line per message received
  curl -s http://127.0.0.1:9100/metrics     Prometheus metrics (9100 on each node's address)

Manage:
  $SMTPCTL -s run/node2/control.sock cluster status
  $SMTPCTL -s run/node1/control.sock show mail
  $SMTPCTL -s run/node1/control.sock show service smtp
  $SMTPCTL -s run/node1/control.sock stop mail --node 2     (STOP MAIL)
  $SMTPCTL -s run/node3/control.sock show configuration smtp
  SMTPCTL_SOCKET=run/node1/control.sock $SMTPCTL help

Ctrl-C stops the cluster.
EOF

# wait for Ctrl-C; a node that dies is reported, the others keep running
while :; do
	wait
	alive=""
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && alive="$alive $p"
	done
	if [ -z "$alive" ]; then
		echo "run-local: every node has exited; see run/node*/smtpclusterd.log"
		exit 1
	fi
	sleep 1
done
