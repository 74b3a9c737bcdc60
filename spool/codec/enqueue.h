/*
 * enqueue.h — the one ENQUEUE builder: every producer of a control file
 * (the SMTP receiver, smtpctl submit, bounces, the debug enqueue) fills a
 * struct enqueue_msg with what it knows and gets the command (or its
 * encoding) from here, so the fields the state machine sets itself
 * (created, next, attempts, claim, hold, recipient state) are zero in
 * every ENQUEUE and a missing string is always "".
 *
 * Owns: struct enqueue_msg -> struct spool_cmd_enqueue / struct spool_cmd
 * / its bytes. Not: the encoding (cmd.h), the name (ctlname.h and the
 * node's allocator), what goes into the body. Pure; borrows every pointer
 * of m until the command is encoded or dropped.
 * Fails: enqueue_encode returns spool_cmd_encode()'s errors.
 */
#ifndef SPOOL_ENQUEUE_H
#define SPOOL_ENQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "spool/codec/cmd.h"
#include "spool/codec/record.h"
#include "spool/codec/wire.h"

struct enqueue_msg {
	const char *name;     /* control-file name */
	const char *user;     /* TCPIP$SMTP, SYSTEM, a unix user */
	const char *sender;   /* reverse-path, "" for <> */
	const char *client;   /* NULL = "" */
	const char *helo;     /* NULL = "" */
	const char *envid;    /* NULL = "" */
	const char *login;    /* SMTP AUTH login; NULL = "" (none) */
	uint8_t ret;	      /* DSN_RET_* */
	uint8_t flags;	      /* MSG_F_* */
	uint8_t kind;	      /* enum spool_kind */
	uint32_t hops;	      /* Received: headers counted */
	uint64_t origin_node; /* this node's id */
	uint64_t body_size;   /* as the producer states it (apply recounts) */
	uint32_t nrcpt;
	struct spool_rcpt *rcpt; /* the recipients, state fields zero */
	const void *body;
	size_t body_len;
};

/* Fill e (wholly overwritten) from m. */
void enqueue_fill(struct spool_cmd_enqueue *e, const struct enqueue_msg *m);

/* Fill cmd (wholly overwritten) as the ENQUEUE of m stamped stamp. */
void enqueue_cmd(struct spool_cmd *cmd, uint64_t stamp,
		 const struct enqueue_msg *m);

/* Encode the ENQUEUE of m into wb (initialised here; freed on error).
 * 0 or spool_cmd_encode()'s error. */
int enqueue_encode(uint64_t stamp, const struct enqueue_msg *m,
		   struct wbuf *wb);

#endif
