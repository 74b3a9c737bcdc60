#!/bin/sh
# gen-conf.sh — write the lab's configuration into build/lab/conf/ (mounted
# read-only at /lab/conf in every container; rewritten on every run):
#   nodeN/node.conf   the three smtpcluster nodes (static peers)
#   dnsmasq.conf      A records for the lab's hosts, MX records for lab.test
#                     (the cluster) and far.test (the far end)
#   dovecot.conf, dovecot.users   Dovecot, LMTP only, users alice and bob
#   ca/               the cluster CA and node certificates, when
#                     deploy/cluster-ca.sh exists (cluster_tls below)
# The addresses are fixed on the user-defined network smtpcluster-lab,
# 172.30.13.0/24 (docker-compose.yml must agree):
#   .2 dns  .3 farend (mx.far.test)  .4 dovecot  .11-.13 node1-3
# Fails when build/lab/conf cannot be written.
set -eu
cd "$(dirname "$0")/../.."
CONF=build/lab/conf
NET=172.30.13
NODES="1 2 3"
mkdir -p "$CONF"

# cluster_tls N — the [cluster] lines for node N's cluster-port mutual TLS.
# THE ONE PLACE FOR mTLS: when deploy/cluster-ca.sh exists (the cluster CA
# tool), the lab's CA is made once in $CONF/ca and node N's certificate
# next to it (both kept across runs), and node.conf points [cluster]
# tls_ca, tls_cert and tls_key at them as the container sees them
# (/lab/conf/ca). Without that script the cluster ports are plain TCP and
# nothing is printed.
cluster_tls() {
	[ -f deploy/cluster-ca.sh ] || return 0
	[ -f "$CONF/ca/ca.pem" ] || sh deploy/cluster-ca.sh ca "$CONF/ca" >&2
	[ -f "$CONF/ca/node-$1.pem" ] || sh deploy/cluster-ca.sh node "$CONF/ca" "$1" >&2
	cat <<EOC
; mutual TLS on the raft and forwarding ports (deploy/cluster-ca.sh)
tls_ca = /lab/conf/ca/ca.pem
tls_cert = /lab/conf/ca/node-$1.pem
tls_key = /lab/conf/ca/node-$1.key
EOC
}

for n in $NODES; do
	mkdir -p "$CONF/node$n"
	{
		cat <<EOC
; node.conf of lab node $n — written by deploy/lab/gen-conf.sh (rewritten
; on every make lab / lab-test; edit the script, not this file).
[node]
id = $n
name = NODE$n
data_dir = /var/lib/smtpcluster
domain = node$n.lab.test
; a lab container's disk is the host's: keep the reserve small
min_free_mb = 16

[smtp]
listen = $NET.1$n:25
; the lab network (the host is $NET.1) may relay
trusted = 127.0.0.1/32, $NET.0/24

[delivery]
backend = lmtp
lmtp = $NET.4:24
dns_servers = $NET.2:53
helo = node$n.lab.test
scan_interval_ms = 200
activity_log = /var/log/smtpcluster/activity.log

[cluster]
address = $NET.1$n:7001
EOC
		for p in $NODES; do
			echo "peer = $p $NET.1$p:7001"
		done
		cluster_tls "$n"
		cat <<EOC

[control]
socket = /run/smtpcluster/control.sock

[log]
; standard error: docker logs lab-nodeN
level = info
EOC
	} >"$CONF/node$n/node.conf"
done

cat >"$CONF/dnsmasq.conf" <<EOC
# dnsmasq.conf of the lab's DNS server — written by deploy/lab/gen-conf.sh
no-resolv
no-hosts
listen-address=$NET.2
bind-interfaces
log-queries
host-record=dns.lab.test,$NET.2
host-record=mx.far.test,$NET.3
host-record=dovecot.lab.test,$NET.4
host-record=node1.lab.test,$NET.11
host-record=node2.lab.test,$NET.12
host-record=node3.lab.test,$NET.13
mx-host=lab.test,node1.lab.test,10
mx-host=lab.test,node2.lab.test,10
mx-host=lab.test,node3.lab.test,10
mx-host=far.test,mx.far.test,10
EOC

printf '%s\n' "alice:{PLAIN}unused:65534:65534::/var/lib/dovecot-lab/home/alice::" \
	"bob:{PLAIN}unused:65534:65534::/var/lib/dovecot-lab/home/bob::" \
	>"$CONF/dovecot.users"
cat >"$CONF/dovecot.conf" <<EOC
# dovecot.conf of the lab's mail store — written by deploy/lab/gen-conf.sh
protocols = lmtp
ssl = no
listen = *
log_path = /dev/stderr
first_valid_uid = 1
mail_location = maildir:/var/mail/lab/%n
# "alice@lab.test" -> "alice" for the passwd-file lookup
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = /lab/conf/dovecot.users
}
userdb {
  driver = passwd-file
  args = /lab/conf/dovecot.users
}
service lmtp {
  inet_listener lmtp {
    address = *
    port = 24
  }
}
EOC
echo "gen-conf: $CONF written"
