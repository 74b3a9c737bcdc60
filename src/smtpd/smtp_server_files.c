/*
 * smtp_server_files.c — the files the receiver reads itself: the
 * node-local alias file (at start) and the sender-login map (at start and
 * again on SIGHUP, smtp_server_reload). Parsing is the pure codecs'
 * (spool/codec/aliases.c, smtp_senderlogin.c); this file opens, bounds,
 * reads and logs. A bad file is refused with its name and line logged;
 * at SIGHUP the map in use is kept.
 *
 * Owns: the map it builds until it is handed to the server (which owns
 * it after, freed by smtp_server_drop_sender_map).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"
#include "src/base/log.h"
#include "src/base/readfile.h"
#include "src/smtpd/smtp_server_impl.h"

#define ALIASES_FILE_MAX (1 << 20)

/* Read and parse the node-local alias file. */
int smtp_server_load_aliases(struct smtp_server *s, const char *path)
{
	char *text;
	size_t n;
	int rc;

	rc = readfile(path, ALIASES_FILE_MAX, &text, &n);
	if (rc != 0) {
		log_error("smtp: cannot read the alias file %s: %s", path,
			  strerror(-rc));
		return rc == -ENOMEM ? SPOOL_E_NOMEM : SPOOL_E_INVAL;
	}
	rc = aliases_parse(text, n, &s->local_aliases);
	free(text);
	if (rc != 0) {
		log_error("smtp: %s:%d: %s", path, s->local_aliases.err_line,
			  s->local_aliases.err);
		return SPOOL_E_INVAL;
	}
	log_info("smtp: %zu node-local alias(es) from %s", s->local_aliases.n,
		 path);
	return 0;
}

/* Read and parse the sender-login map at path into a new *out. 0, or
 * SPOOL_E_* with the reason logged (the file, and the line if it is one
 * that is refused). */
int smtp_server_read_sender_logins(const char *path,
				   struct senderlogin_map **out)
{
	struct senderlogin_map *m;
	char *text;
	size_t n;
	int rc;

	rc = readfile(path, SENDERLOGIN_FILE_MAX, &text, &n);
	if (rc != 0) {
		log_error("smtp: cannot read the sender-login map %s: %s", path,
			  rc == -EFBIG ? "over the size limit" : strerror(-rc));
		return rc == -ENOMEM ? SPOOL_E_NOMEM : SPOOL_E_INVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		free(text);
		return SPOOL_E_NOMEM;
	}
	rc = senderlogin_parse(text, n, m);
	if (rc == SPOOL_E_INVAL)
		log_error("smtp: sender-login map %s:%d: %s", path, m->err_line,
			  m->err);
	free(text);
	if (rc != 0) {
		free(m);
		return rc;
	}
	log_info("smtp: %zu sender-login entr%s from %s", m->n,
		 m->n == 1 ? "y" : "ies", path);
	*out = m;
	return 0;
}

void smtp_server_drop_sender_map(struct smtp_server *s)
{
	senderlogin_free(s->sender_map);
	free(s->sender_map);
	s->sender_map = NULL;
}

int smtp_server_reload(struct smtp_server *s)
{
	struct senderlogin_map *m;
	int rc;

	if (s->sender_logins[0] == '\0')
		return 0;
	if ((rc = smtp_server_read_sender_logins(s->sender_logins, &m)) != 0) {
		log_error("smtp: keeping the sender-login map in use");
		return rc;
	}
	smtp_server_drop_sender_map(s);
	s->sender_map = m;
	return 0;
}
