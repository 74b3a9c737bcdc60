/*
 * enqueue.c — the ENQUEUE builder (see enqueue.h).
 */
#include "spool/codec/enqueue.h"

#include <string.h>

/* s, or "" for NULL. */
static const char *str(const char *s)
{
	return s != NULL ? s : "";
}

void enqueue_fill(struct spool_cmd_enqueue *e, const struct enqueue_msg *m)
{
	memset(e, 0, sizeof(*e));
	e->name = m->name;
	e->rec.user = str(m->user);
	e->rec.sender = str(m->sender);
	e->rec.client = str(m->client);
	e->rec.helo = str(m->helo);
	e->rec.envid = str(m->envid);
	e->rec.login = str(m->login);
	e->rec.ret = m->ret;
	e->rec.flags = m->flags;
	e->rec.kind = m->kind;
	e->rec.hops = m->hops;
	e->rec.origin_node = m->origin_node;
	e->rec.body_size = m->body_size;
	e->rec.nrcpt = m->nrcpt;
	e->rec.rcpt = m->rcpt;
	e->body = m->body;
	e->body_len = m->body_len;
}

void enqueue_cmd(struct spool_cmd *cmd, uint64_t stamp,
		 const struct enqueue_msg *m)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->type = CMD_ENQUEUE;
	cmd->stamp = stamp;
	enqueue_fill(&cmd->u.enqueue, m);
}

int enqueue_encode(uint64_t stamp, const struct enqueue_msg *m, struct wbuf *wb)
{
	struct spool_cmd cmd;
	int rc;

	enqueue_cmd(&cmd, stamp, m);
	wbuf_init(wb);
	rc = spool_cmd_encode(&cmd, wb);
	if (rc != 0)
		wbuf_free(wb);
	return rc;
}
