/*
 * smtp_recvlog.h — the receive log, after the seed's
 * TCPIP$SMTP_RECV_RUN.LOG ("log of incoming mail"): one line per message
 * whose DATA was answered after a proposal, with the time, the node, the
 * client address and HELO name, MAIL FROM, the recipients, the size, the
 * control-file name and the reply sent:
 *
 *   2026-12-04T00:55:01.123Z NODE1 [127.0.0.1] helo=client.test
 *     from=<alice@a.test> to=<bob@b.test>,<carol@c.test> size=312
 *     name=NODE1... reply="250 2.0.0 Ok: queued as NODE1..."
 *
 * (one line in the file). One per process, like the daemon log: the
 * receiver writes it on the loop; SIGHUP reopens it (log rotation).
 */
#ifndef SRC_SMTP_RECVLOG_H
#define SRC_SMTP_RECVLOG_H

#include <stdint.h>

struct smtp_recv_entry {
	const char *node_name;
	const char *client_ip;
	const char *helo;
	const char *sender; /* "" for <> */
	const char *const *rcpt;
	uint32_t nrcpt;
	uint64_t size;
	const char *name;  /* control-file name, "" when none */
	const char *reply; /* the reply line sent, without CRLF */
};

/* Open path for appending ("" or "none": no receive log). Failure is
 * logged and leaves the log off. */
void smtp_recvlog_open(const char *path);
/* Close and open the same path again (SIGHUP). */
void smtp_recvlog_reopen(void);
void smtp_recvlog_close(void);
/* Append one line; nothing when the log is off. */
void smtp_recvlog_write(const struct smtp_recv_entry *e);

#endif
