#!/bin/sh
# lab.sh up|start|down|info — drive the docker-compose lab (docs/lab.md).
#   up    lab-deps.sh, dockerd-up.sh, build-image.sh, gen-conf.sh, then
#         docker-compose up (containers recreated: a fresh cluster), wait
#         (bounded) for a leader, set the cluster domain lab.test and the
#         node domains' aliases, print how to use it
#   start up without the usage text (make lab-test)
#   down  remove the containers and the network (the image and the
#         cached rootfs stay)
#   info  print how to send mail with swaks and use smtpctl in the lab
# Exits non-zero when a step fails (with the nodes' logs when no leader).
set -u
cd "$(dirname "$0")/../.." || exit 1
PROJECT=smtpcluster-lab
COMPOSE="docker-compose -p $PROJECT -f deploy/lab/docker-compose.yml"
LEADER_WAIT=60 # seconds

die() {
	echo "lab: $*" >&2
	exit 1
}

info() {
	cat <<'EOT'
lab: running. Hosts on network smtpcluster-lab (172.30.13.0/24, reachable from this machine):
  node1-3  172.30.13.11-13 (SMTP port 25, raft 7001)    dns 172.30.13.2
  dovecot  172.30.13.4 (LMTP 24; users alice, bob @lab.test)
  farend   172.30.13.3 = mx.far.test (records whatever it accepts)
Send mail (local -> Dovecot, far.test -> far end via MX):
  swaks --server 172.30.13.11 --from bob@lab.test --to alice@lab.test
  swaks --server 172.30.13.12 --from bob@lab.test --to someone@far.test
Look at it:
  docker exec lab-node1 smtpctl cluster status
  docker exec lab-node1 smtpctl show mail
  docker exec lab-dovecot find /var/mail/lab -type f -path '*/new/*'
  docker exec lab-farend cat /tmp/farend.json
  docker logs lab-node2
Faults by hand: docker kill lab-node3 / docker start lab-node3;
  docker network disconnect smtpcluster-lab lab-node2
  docker network connect --ip 172.30.13.12 smtpcluster-lab lab-node2
Remove it all: make lab-down
EOT
}

ctl() { # ctl N ARGS... — smtpctl inside node N's container
	n=$1
	shift
	docker exec "lab-node$n" smtpctl "$@"
}

up() {
	sh deploy/lab/lab-deps.sh || die "lab-deps failed"
	sh deploy/lab/dockerd-up.sh || die "no docker daemon"
	sh deploy/lab/build-image.sh || die "image build failed"
	sh deploy/lab/gen-conf.sh || die "gen-conf failed"
	$COMPOSE up -d --force-recreate --remove-orphans || die "docker-compose up failed"
	i=0
	leader=
	while [ $i -lt $((LEADER_WAIT * 2)) ]; do
		leader=$(ctl 1 --json cluster status 2>/dev/null |
			tr -d ' \n' | sed -n 's/.*"leader":{"id":\([0-9][0-9]*\).*/\1/p')
		[ -n "$leader" ] && break
		sleep 0.5
		i=$((i + 1))
	done
	if [ -z "$leader" ]; then
		for n in 1 2 3; do
			echo "---- lab-node$n" >&2
			docker logs --tail 10 "lab-node$n" >&2 2>&1
		done
		die "no leader after ${LEADER_WAIT}s"
	fi
	i=0
	until ctl 1 set configuration smtp --cluster-domain lab.test \
		--zone lab.test >/dev/null; do
		i=$((i + 1))
		[ $i -lt 40 ] || die "could not set the cluster domain"
		sleep 0.5
	done
	for n in 1 2 3; do
		ctl 1 set alias "node$n.lab.test" >/dev/null 2>&1 || true
	done
	echo "lab: leader is node $leader; cluster domain lab.test"
}

case "${1:-}" in
up) up && info ;;
start) up ;;
down)
	if docker info >/dev/null 2>&1; then
		$COMPOSE down --remove-orphans -t 5 || die "docker-compose down failed"
	else
		echo "lab: no docker daemon answers; nothing to remove"
	fi
	;;
info) info ;;
*) die "usage: lab.sh up|start|down|info" ;;
esac
