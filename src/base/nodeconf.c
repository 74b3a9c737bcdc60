/*
 * nodeconf.c — reading the node's own configuration file (see nodeconf.h)
 * with libinih.
 *
 * Owns: the defaults, the line reader and handler given to libinih, and
 * the error text "FILE:LINE: [section] key: reason" (the first error
 * wins). Does not own: the table of keys and how each value is checked
 * (nodeconf_keys.c), the checks that need the whole file
 * (nodeconf_check.c), or what the values mean to raft, the receiver or the
 * control server. Also reads the service override (<data_dir>/service.conf,
 * nodeconf.h) after the file, with the same reader, keys limited to
 * nodeconf_override_bit()'s.
 *
 * Line numbers: Debian's libinih is built without INI_HANDLER_LINENO, so
 * the file is fed to ini_parse_stream() through our own line reader, which
 * counts lines; the handler reads the current line from the loader. The
 * reader also strips leading white space (so an indented line is never
 * taken as a continuation of the previous value) and refuses lines longer
 * than libinih's buffer instead of letting it split them.
 *
 * Fails with -1 and a message; never exits, never logs.
 */
#include "src/base/nodeconf.h"
#include "src/base/nodeconf_impl.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define LINE_MAX_LEN 196 /* libinih's default 200-byte buffer, minus EOL */

/* State of one load: the file, the current line and the first error. */
struct loader {
	struct nodeconf *c;
	FILE *f;
	const char *path;
	int override;  /* the service override: only its keys */
	int line;      /* line being parsed (1-based) */
	int err_line;  /* line of the first error, 0 = none yet */
	char err[512]; /* first error, already formatted */
	int seen
	    [NODECONF_KEYS_MAX]; /* line where each key was set, 0 = not set */
	char *buf;		 /* getline buffer */
	size_t bufsize;
};

/* Record the first error at the current line, for section/key. */
static void fail(struct loader *ld, const char *section, const char *key,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail(struct loader *ld, const char *section, const char *key,
		 const char *fmt, ...)
{
	char why[300];
	va_list ap;

	if (ld->err_line != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ld->err_line = ld->line;
	if (key != NULL)
		snprintf(ld->err, sizeof(ld->err), "%s:%d: [%s] %s: %s",
			 ld->path, ld->line, section, key, why);
	else
		snprintf(ld->err, sizeof(ld->err), "%s:%d: [%s]: %s", ld->path,
			 ld->line, section, why);
}

/* libinih handler: one "key = value" of section. Nonzero = ok. */
static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct loader *ld = user;
	char why[300];
	int known_section = 0;

	for (size_t i = 0; i < nodeconf_nkeys; i++) {
		const struct nodeconf_key *k = &nodeconf_keys[i];
		if (strcmp(k->section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(k->key, key) != 0)
			continue;
		if (ld->override && nodeconf_override_bit(section, key) == 0) {
			fail(ld, section, key,
			     "not one of the keys set service smtp may set "
			     "(listen, tls_cert, tls_key, trusted, "
			     "max_sessions, max_per_ip)");
			return 0;
		}
		if (k->type != KT_PEER && ld->seen[i] != 0) {
			fail(ld, section, key, "set twice (first at line %d)",
			     ld->seen[i]);
			return 0;
		}
		ld->seen[i] = ld->line;
		if (nodeconf_set_value(ld->c, k, value, why, sizeof(why)) !=
		    0) {
			fail(ld, section, key, "%s", why);
			return 0;
		}
		if (ld->override)
			ld->c->smtp_override |=
			    nodeconf_override_bit(section, key);
		return 1;
	}
	if (!known_section) {
		if (*section == '\0')
			fail(ld, "", key, "key outside of any [section]");
		else
			fail(ld, section, NULL, "unknown section");
	} else {
		fail(ld, section, key, "unknown key");
	}
	return 0;
}

/* 1 if section is one of the table's sections. */
static int section_known(const char *section, size_t n)
{
	for (size_t i = 0; i < nodeconf_nkeys; i++)
		if (strlen(nodeconf_keys[i].section) == n &&
		    strncmp(nodeconf_keys[i].section, section, n) == 0)
			return 1;
	return 0;
}

/* libinih reader: the next line, with leading white space removed; counts
 * lines, refuses those that do not fit libinih's buffer and reports an
 * unknown "[section]" even when it holds no key. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	ssize_t n;
	char *p;
	size_t len;

	n = getline(&ld->buf, &ld->bufsize, ld->f);
	if (n < 0)
		return NULL;
	ld->line++;
	p = ld->buf;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	if (len > LINE_MAX_LEN || (int)len >= num - 1) {
		if (ld->err_line == 0) {
			ld->err_line = ld->line;
			snprintf(ld->err, sizeof(ld->err),
				 "%s:%d: line longer than %d characters",
				 ld->path, ld->line, LINE_MAX_LEN);
		}
		return NULL; /* stop: libinih would split the line */
	}
	if (p[0] == '[') {
		const char *close = strchr(p, ']');
		if (close != NULL &&
		    !section_known(p + 1, (size_t)(close - p - 1))) {
			char sect[LINE_MAX_LEN + 1];
			size_t sl = (size_t)(close - p - 1);
			memcpy(sect, p + 1, sl);
			sect[sl] = '\0';
			fail(ld, sect, NULL, "unknown section");
		}
	}
	memcpy(str, p, len + 1);
	return str;
}

void nodeconf_defaults(struct nodeconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->smtp_listen, sizeof(c->smtp_listen), "127.0.0.1:2525");
	c->election_timeout_ms = 1000;
	c->heartbeat_timeout_ms = 100;
	c->snapshot_threshold = 256;
	c->snapshot_trailing = 128;
	c->propose_timeout_ms = 10000;
	c->max_frame = 32ull * 1024 * 1024 + 64 * 1024;
	c->min_free_mb = 128;
	snprintf(c->admin_group, sizeof(c->admin_group), "smtpadm");
	c->ctl_idle_timeout_s = 300;
	c->ctl_max_per_user = 16;
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->smtp_trusted, sizeof(c->smtp_trusted), "127.0.0.1/32");
	c->smtp_max_sessions = 100;
	c->smtp_max_per_ip = 20;
	c->smtp_reply_timeout_ms = 30000;
	c->dlv_enabled = 1;
	snprintf(c->dlv_backend, sizeof(c->dlv_backend), "maildir");
	c->dlv_max_per_host = 10;
	c->dlv_smtp_port = 25;
	/* a dead node's mail is taken over within lease + grace (+ a scan):
	 * under 10 s (issue #10); the holder renews every lease / 2 */
	c->dlv_lease_ms = 7000;
	c->dlv_grace_ms = 2000;
	c->dlv_scan_interval_ms = 500;
	c->dlv_claim_batch = 16;
}

/* Read one file into c with the loader's mode (ld->override); ld's other
 * fields are zero. 1 when the file does not exist and missing_ok, else 0,
 * or -1 with a message in err. */
static int load_file(struct loader *ld, const char *path, int missing_ok,
		     char *err, unsigned errsize)
{
	int rc;

	ld->path = path;
	ld->f = fopen(path, "r");
	if (ld->f == NULL) {
		if (missing_ok && errno == ENOENT)
			return 1;
		snprintf(err, errsize, "%s: cannot open: %s", path,
			 strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(reader, ld, handler, ld);
	if (ferror(ld->f) && ld->err_line == 0) {
		snprintf(err, errsize, "%s: read error", path);
		goto err_after_open;
	}
	if (rc > 0 && (ld->err_line == 0 || rc < ld->err_line)) {
		/* libinih's own syntax error, before any of ours */
		snprintf(err, errsize,
			 "%s:%d: syntax error (expected \"[section]\" or "
			 "\"key = value\")",
			 path, rc);
		goto err_after_open;
	}
	if (ld->err_line != 0) {
		snprintf(err, errsize, "%s", ld->err);
		goto err_after_open;
	}
	if (rc < 0) {
		snprintf(err, errsize, "%s: cannot parse (libinih error %d)",
			 path, rc);
		goto err_after_open;
	}
	fclose(ld->f);
	free(ld->buf);
	ld->buf = NULL;
	return 0;

err_after_open:
	fclose(ld->f);
	free(ld->buf);
	ld->buf = NULL;
	return -1;
}

int nodeconf_load(struct nodeconf *c, const char *path, char *err,
		  unsigned errsize)
{
	struct loader ld, ov;
	char ovpath[NODECONF_STR + 32];
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.c = c;
	if (nodeconf_set_str(c->path, sizeof(c->path), path, ld.err,
			     sizeof(ld.err))) {
		snprintf(err, errsize, "%s: path too long", path);
		return -1;
	}
	if (load_file(&ld, path, 0, err, errsize) != 0)
		return -1;
	c->smtp_override = 0;
	if (c->data_dir[0] != '\0' &&
	    nodeconf_override_path(c, ovpath, sizeof(ovpath)) == 0) {
		memset(&ov, 0, sizeof(ov));
		ov.c = c;
		ov.override = 1;
		rc = load_file(&ov, ovpath, 1, err, errsize);
		if (rc < 0)
			return -1;
	}
	return nodeconf_check_whole(c, path, ld.seen, err, errsize);
}
