#!/bin/sh
# cluster-ca.sh — the cluster CA and the nodes' certificates for the mutual
# TLS of the cluster ports (raft port and forwarding port), with the
# openssl command line only.
#
#   deploy/cluster-ca.sh ca DIR          make DIR/ca.pem and DIR/ca.key (the
#                                        CA; refuses to overwrite one)
#   deploy/cluster-ca.sh node DIR ID     make DIR/node-ID.pem and
#                                        DIR/node-ID.key, issued by DIR's CA
#                                        (replaces an older pair: rotation)
#
# A node's certificate names its node id as subject CN "node-<ID>" (what
# smtpclusterd checks against the id a peer claims); it carries both TLS
# purposes, since every node accepts and connects. Keys are EC P-256,
# mode 0600. Validity: $CA_DAYS (default 3650) for the CA, $NODE_DAYS
# (default 825) for a node. Point [cluster] tls_ca, tls_cert and tls_key
# of node.conf at ca.pem, node-ID.pem and node-ID.key; after replacing a
# node's pair, SIGHUP the daemon (systemctl reload) to use it.
# Exit 0 on success, 1 on failure, 2 on bad usage.
set -eu

usage() {
	echo "usage: $0 ca DIR | $0 node DIR ID" >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
command -v openssl >/dev/null 2>&1 || {
	echo "$0: openssl not found (apt-get install openssl)" >&2
	exit 1
}
umask 077

case $cmd in
ca)
	[ $# -eq 2 ] || usage
	mkdir -p "$dir"
	if [ -e "$dir/ca.pem" ] || [ -e "$dir/ca.key" ]; then
		echo "$0: $dir/ca.pem or ca.key exists; not replacing the CA" >&2
		exit 1
	fi
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$dir/ca.key.tmp" -out "$dir/ca.pem.tmp" \
		-days "${CA_DAYS:-3650}" -subj "/CN=smtpcluster cluster CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	mv "$dir/ca.key.tmp" "$dir/ca.key"
	chmod 644 "$dir/ca.pem.tmp"
	mv "$dir/ca.pem.tmp" "$dir/ca.pem"
	echo "$dir/ca.pem"
	;;
node)
	[ $# -eq 3 ] || usage
	id=$3
	case $id in
	'' | 0* | *[!0-9]*)
		echo "$0: node id must be a decimal number from 1" >&2
		exit 2
		;;
	esac
	[ -r "$dir/ca.pem" ] && [ -r "$dir/ca.key" ] || {
		echo "$0: no CA in $dir (run: $0 ca $dir)" >&2
		exit 1
	}
	tmp=$(mktemp -d "$dir/.node-$id.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	cat >"$tmp/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:node-$id
EXT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/key" -out "$tmp/csr" -subj "/CN=node-$id" \
		2>/dev/null
	openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.pem" \
		-CAkey "$dir/ca.key" -CAcreateserial -CAserial "$dir/ca.srl" \
		-days "${NODE_DAYS:-825}" -extfile "$tmp/ext" \
		-out "$tmp/pem" 2>/dev/null
	chmod 644 "$tmp/pem"
	# the key first: a reload between the two renames would fail its
	# key check and keep the old pair, never mix them
	mv "$tmp/key" "$dir/node-$id.key"
	mv "$tmp/pem" "$dir/node-$id.pem"
	echo "$dir/node-$id.pem"
	;;
*)
	usage
	;;
esac
