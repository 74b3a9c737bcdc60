/*
 * smtp_server_reconf.c — SET SERVICE SMTP on the running receiver (see
 * smtp_server.h): a change is prepared first (the new listener bound and
 * listening next to the old one, the TLS files loaded, the trusted
 * networks parsed), so a bad address, a port in use or an unreadable
 * certificate is refused before anything is touched; then committed (the
 * new values take the server's, the old listener is closed) or abandoned.
 *
 * Owns: struct smtp_change, and the order of smtp_server_reconfigure:
 * prepare, write the override file (src/base/nodeconf_override.c, which
 * owns its format), commit. Does not own the sessions (smtp_inbound.c): a
 * session in progress keeps its connection, its trust decision and the
 * limits it was admitted under; the new limits count it from the next
 * connection on.
 *
 * Fails: prepare returns -1 with the reason; commit and abort cannot fail.
 */
#include "src/smtpd/smtp_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"
#include "src/base/nodeconf.h"
#include "src/smtpd/smtp_server_impl.h"

struct smtp_change {
	struct smtp_listener *lst; /* the new MX listener, or NULL */
	struct tls_ctx *tls;	   /* the new STARTTLS context, or NULL */
	char tls_cert[256], tls_key[256];
	int set_trusted;
	struct policy_net trusted[SMTP_TRUSTED_MAX];
	size_t ntrusted;
	char trusted_text[256];
	unsigned max_sessions, max_per_ip; /* 0: unchanged */
};

/* Copy v into a field of size n; -1 when it does not fit. */
static int copy_str(char *dst, size_t n, const char *v, const char *what,
		    char *err, size_t errsize)
{
	if (strlen(v) >= n) {
		snprintf(err, errsize, "%s: too long (at most %zu bytes)", what,
			 n - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int smtp_server_prepare(struct smtp_server *s, const struct smtp_settings *n,
			struct smtp_change **out, char *err, size_t errsize)
{
	struct smtp_change *ch;
	char why[512];
	int has_cert = n->tls_cert != NULL && n->tls_cert[0] != '\0';
	int has_key = n->tls_key != NULL && n->tls_key[0] != '\0';

	*out = NULL;
	if (s->stopping) {
		snprintf(err, errsize, "the receiver is stopping");
		return -1;
	}
	if (has_cert != has_key) {
		snprintf(err, errsize, "tls_cert and tls_key go together");
		return -1;
	}
	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	ch->max_sessions = n->max_sessions;
	ch->max_per_ip = n->max_per_ip;
	if (n->trusted != NULL) {
		if (copy_str(ch->trusted_text, sizeof(ch->trusted_text),
			     n->trusted, "trusted", err, errsize) != 0 ||
		    smtp_trusted_parse(n->trusted, ch->trusted, &ch->ntrusted,
				       err, errsize) != 0)
			goto err_after_alloc;
		ch->set_trusted = 1;
	}
	if (has_cert) {
		if (copy_str(ch->tls_cert, sizeof(ch->tls_cert), n->tls_cert,
			     "tls_cert", err, errsize) != 0 ||
		    copy_str(ch->tls_key, sizeof(ch->tls_key), n->tls_key,
			     "tls_key", err, errsize) != 0)
			goto err_after_alloc;
		if (tls_ctx_new_server(&ch->tls, n->tls_cert, n->tls_key, why,
				       sizeof(why)) != 0) {
			snprintf(err, errsize, "STARTTLS: %s", why);
			goto err_after_alloc;
		}
	}
	/* last: a bound listener is the one thing abort must undo */
	if (n->listen != NULL && (s->lst[LST_MX] == NULL ||
				  strcmp(n->listen, s->lst[LST_MX]->addr))) {
		ch->lst =
		    smtp_listener_open(s, LST_MX, n->listen, err, errsize);
		if (ch->lst == NULL)
			goto err_after_tls;
	}
	*out = ch;
	return 0;

err_after_tls:
	tls_ctx_free(ch->tls);
err_after_alloc:
	free(ch);
	return -1;
}

void smtp_server_commit(struct smtp_server *s, struct smtp_change *ch)
{
	if (ch->max_sessions != 0)
		s->max_sessions = ch->max_sessions;
	if (ch->max_per_ip != 0)
		s->max_per_ip = ch->max_per_ip;
	if (ch->set_trusted) {
		memcpy(s->trusted, ch->trusted,
		       ch->ntrusted * sizeof(ch->trusted[0]));
		s->ntrusted = ch->ntrusted;
		memcpy(s->trusted_text, ch->trusted_text,
		       sizeof(s->trusted_text));
	}
	if (ch->tls != NULL) {
		/* a session's TLS holds its own reference to the old
		 * SSL_CTX (SSL_new): freeing ours ends nothing */
		tls_ctx_free(s->tls);
		s->tls = ch->tls;
		s->host.tls = ch->tls;
		memcpy(s->tls_cert, ch->tls_cert, sizeof(s->tls_cert));
		memcpy(s->tls_key, ch->tls_key, sizeof(s->tls_key));
	}
	if (ch->lst != NULL) {
		struct smtp_listener *old = s->lst[LST_MX];

		s->lst[LST_MX] = ch->lst;
		log_info("smtp: now listening on %s%s%s", ch->lst->addr,
			 old ? ", closed " : "", old ? old->addr : "");
		if (old != NULL)
			smtp_listener_close(old);
	}
	log_info("smtp: settings changed: %s, %u sessions (%u per address), "
		 "%zu trusted network(s)%s",
		 s->lst[LST_MX] ? s->lst[LST_MX]->addr : "-", s->max_sessions,
		 s->max_per_ip, s->ntrusted, s->tls ? ", STARTTLS" : "");
	free(ch);
}

void smtp_server_abort(struct smtp_server *s, struct smtp_change *ch)
{
	(void)s;
	if (ch->lst != NULL)
		smtp_listener_close(ch->lst);
	tls_ctx_free(ch->tls);
	free(ch);
}

int smtp_server_reconfigure(struct smtp_server *s, const struct nodeconf *next,
			    unsigned mask, char *err, size_t errsize)
{
	struct smtp_settings st;
	struct smtp_change *ch;

	memset(&st, 0, sizeof(st));
	if (mask & NODECONF_OV_LISTEN)
		st.listen = next->smtp_listen;
	if (mask & NODECONF_OV_MAX_SESSIONS)
		st.max_sessions = next->smtp_max_sessions;
	if (mask & NODECONF_OV_MAX_PER_IP)
		st.max_per_ip = next->smtp_max_per_ip;
	if (mask & NODECONF_OV_TRUSTED)
		st.trusted = next->smtp_trusted;
	if (mask & (NODECONF_OV_TLS_CERT | NODECONF_OV_TLS_KEY)) {
		st.tls_cert = next->smtp_tls_cert;
		st.tls_key = next->smtp_tls_key;
	}
	if (smtp_server_prepare(s, &st, &ch, err, errsize) != 0)
		return -1;
	if (nodeconf_override_write(next, next->smtp_override | mask, err,
				    errsize) != 0) {
		smtp_server_abort(s, ch);
		return -1;
	}
	smtp_server_commit(s, ch);
	return 0;
}

void smtp_server_settings(const struct smtp_server *s,
			  struct smtp_settings *out)
{
	memset(out, 0, sizeof(*out));
	out->listen = s->lst[LST_MX] ? s->lst[LST_MX]->addr : "";
	out->tls_cert = s->tls_cert;
	out->tls_key = s->tls_key;
	out->trusted = s->trusted_text;
	out->max_sessions = s->max_sessions;
	out->max_per_ip = s->max_per_ip;
}
