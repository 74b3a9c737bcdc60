#!/bin/sh
# entrypoint.sh ROLE [N] — what one lab container runs, in the foreground
# (its config comes from /lab/conf, written on the host by gen-conf.sh):
#   node N   smtpclusterd -c /lab/conf/nodeN/node.conf ($SMTPCLUSTERD, from
#            LAB_DAEMON in docker-compose.yml, picks smtpclusterd-test)
#   dns      dnsmasq with the lab's A and MX records
#   farend   the recording far-end SMTP server on port 25 (farend.py)
#   dovecot  Dovecot, LMTP only, on port 24, Maildirs under /var/mail/lab
# Exits with the role's status; an unknown role exits 2.
set -eu
role=${1:-}
case "$role" in
node)
	n=${2:?node number}
	mkdir -p /run/smtpcluster /var/lib/smtpcluster /var/log/smtpcluster
	exec "${SMTPCLUSTERD:-smtpclusterd}" -c "/lab/conf/node$n/node.conf"
	;;
dns)
	exec dnsmasq -k --conf-file=/lab/conf/dnsmasq.conf
	;;
farend)
	exec python3 -u /lab/farend.py
	;;
dovecot)
	mkdir -p /var/mail/lab /var/lib/dovecot-lab/home
	cut -d: -f1 /lab/conf/dovecot.users | while read -r u; do
		mkdir -p "/var/lib/dovecot-lab/home/$u"
		chown nobody:nogroup "/var/lib/dovecot-lab/home/$u"
	done
	chown nobody:nogroup /var/mail/lab
	exec dovecot -F -c /lab/conf/dovecot.conf
	;;
*)
	echo "entrypoint: role node N | dns | farend | dovecot" >&2
	exit 2
	;;
esac
