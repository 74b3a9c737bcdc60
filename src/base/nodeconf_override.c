/*
 * nodeconf_override.c — the service override of the node's configuration
 * (nodeconf.h): <data_dir>/service.conf, written by smtpctl set service
 * smtp and read by nodeconf_load() after node.conf. It holds only the
 * receiver settings SET SERVICE SMTP changes, so a restart keeps them while
 * node.conf (often root's, read-only to the daemon after privdrop) is never
 * rewritten.
 *
 * Owns: which keys the override may hold (their NODECONF_OV_* bits), its
 * path, setting one of them from text with node.conf's own checks,
 * copying them between configurations, and
 * writing the file atomically (temporary file, fsync, rename, fsync of the
 * directory). Does not own reading it (nodeconf.c) or applying the values
 * to the running receiver (src/smtpd/smtp_server_reconf.c).
 *
 * Fails with -1 and a message; never exits, never logs. A failed write
 * leaves the old file as it was and removes the temporary one.
 */
#include "src/base/fsync_dir.h"
#include "src/base/nodeconf.h"
#include "src/base/nodeconf_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OVERRIDE_NAME "service.conf"
#define OVERRIDE_LINE_MAX 196 /* what nodeconf.c's reader accepts */

/* The keys, in the order they are written. */
static const struct {
	unsigned bit;
	const char *key;
} ov_keys[] = {
    {NODECONF_OV_LISTEN, "listen"},
    {NODECONF_OV_MAX_SESSIONS, "max_sessions"},
    {NODECONF_OV_MAX_PER_IP, "max_per_ip"},
    {NODECONF_OV_TRUSTED, "trusted"},
    {NODECONF_OV_TLS_CERT, "tls_cert"},
    {NODECONF_OV_TLS_KEY, "tls_key"},
};

#define NOV (sizeof(ov_keys) / sizeof(ov_keys[0]))

unsigned nodeconf_override_bit(const char *section, const char *key)
{
	if (strcmp(section, "smtp") != 0)
		return 0;
	for (size_t i = 0; i < NOV; i++)
		if (strcmp(ov_keys[i].key, key) == 0)
			return ov_keys[i].bit;
	return 0;
}

const char *nodeconf_override_key(unsigned bit)
{
	for (size_t i = 0; i < NOV; i++)
		if (ov_keys[i].bit == bit)
			return ov_keys[i].key;
	return NULL;
}

int nodeconf_override_path(const struct nodeconf *c, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/" OVERRIDE_NAME, c->data_dir);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int nodeconf_override_set(struct nodeconf *c, unsigned bit, const char *value,
			  char *why, size_t whysize)
{
	const char *key = nodeconf_override_key(bit);
	struct nodeconf copy;
	char reason[300];
	int i;

	if (key == NULL || (i = nodeconf_key_find("smtp", key)) < 0) {
		snprintf(why, whysize, "internal: no override key %#x", bit);
		return -1;
	}
	copy = *c;
	if (nodeconf_set_value(&copy, &nodeconf_keys[i], value, reason,
			       sizeof(reason)) != 0) {
		snprintf(why, whysize, "[smtp] %s: %s", key, reason);
		return -1;
	}
	*c = copy;
	return 0;
}

void nodeconf_override_copy(struct nodeconf *dst, const struct nodeconf *src,
			    unsigned mask)
{
	if (mask & NODECONF_OV_LISTEN)
		memcpy(dst->smtp_listen, src->smtp_listen,
		       sizeof(dst->smtp_listen));
	if (mask & NODECONF_OV_MAX_SESSIONS)
		dst->smtp_max_sessions = src->smtp_max_sessions;
	if (mask & NODECONF_OV_MAX_PER_IP)
		dst->smtp_max_per_ip = src->smtp_max_per_ip;
	if (mask & NODECONF_OV_TRUSTED)
		memcpy(dst->smtp_trusted, src->smtp_trusted,
		       sizeof(dst->smtp_trusted));
	if (mask & NODECONF_OV_TLS_CERT)
		memcpy(dst->smtp_tls_cert, src->smtp_tls_cert,
		       sizeof(dst->smtp_tls_cert));
	if (mask & NODECONF_OV_TLS_KEY)
		memcpy(dst->smtp_tls_key, src->smtp_tls_key,
		       sizeof(dst->smtp_tls_key));
	dst->smtp_override |= mask;
}

/* The text of the key of bit in c ("" if none) into buf. */
static void value_text(const struct nodeconf *c, unsigned bit, char *buf,
		       size_t size)
{
	switch (bit) {
	case NODECONF_OV_LISTEN:
		snprintf(buf, size, "%s", c->smtp_listen);
		return;
	case NODECONF_OV_MAX_SESSIONS:
		snprintf(buf, size, "%u", c->smtp_max_sessions);
		return;
	case NODECONF_OV_MAX_PER_IP:
		snprintf(buf, size, "%u", c->smtp_max_per_ip);
		return;
	case NODECONF_OV_TRUSTED:
		snprintf(buf, size, "%s", c->smtp_trusted);
		return;
	case NODECONF_OV_TLS_CERT:
		snprintf(buf, size, "%s", c->smtp_tls_cert);
		return;
	case NODECONF_OV_TLS_KEY:
		snprintf(buf, size, "%s", c->smtp_tls_key);
		return;
	}
	buf[0] = '\0';
}

/* The whole file for mask into out. 0, or -1 with a message. */
static int render(const struct nodeconf *c, unsigned mask, char *out,
		  size_t size, char *err, size_t errsize)
{
	size_t n;

	n = (size_t)snprintf(
	    out, size,
	    "; written by smtpctl set service smtp: this node's receiver\n"
	    "; settings, read after node.conf (each key here wins over\n"
	    "; node.conf's). Node-local, not replicated. Remove a line to\n"
	    "; go back to node.conf's value.\n"
	    "[smtp]\n");
	for (size_t i = 0; i < NOV; i++) {
		char val[NODECONF_STR], line[NODECONF_STR + 32];
		int len;

		if ((mask & ov_keys[i].bit) == 0)
			continue;
		value_text(c, ov_keys[i].bit, val, sizeof(val));
		len = snprintf(line, sizeof(line), "%s = %s\n", ov_keys[i].key,
			       val);
		if (len < 0 || (size_t)len > OVERRIDE_LINE_MAX ||
		    (size_t)len >= sizeof(line)) {
			snprintf(err, errsize,
				 "[smtp] %s: the value is too long for a line "
				 "of %s (at most %d characters)",
				 ov_keys[i].key, OVERRIDE_NAME,
				 OVERRIDE_LINE_MAX);
			return -1;
		}
		if (n + (size_t)len >= size) {
			snprintf(err, errsize, "%s: too long", OVERRIDE_NAME);
			return -1;
		}
		memcpy(out + n, line, (size_t)len + 1);
		n += (size_t)len;
	}
	return 0;
}

int nodeconf_override_write(const struct nodeconf *c, unsigned mask, char *err,
			    size_t errsize)
{
	char text[4096], path[NODECONF_STR + 32], tmp[NODECONF_STR + 48];
	size_t len, off = 0;
	int fd;

	if (render(c, mask, text, sizeof(text), err, errsize) != 0)
		return -1;
	if (nodeconf_override_path(c, path, sizeof(path)) != 0 ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errsize, "[node] data_dir: too long for %s",
			 OVERRIDE_NAME);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errsize, "cannot create %s: %s", tmp,
			 strerror(errno));
		return -1;
	}
	len = strlen(text);
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsize, "cannot write %s: %s", tmp,
				 strerror(errno));
			goto err_after_create;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errsize, "cannot fsync %s: %s", tmp,
			 strerror(errno));
		goto err_after_create;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errsize, "cannot close %s: %s", tmp,
			 strerror(errno));
		goto err_after_create;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errsize, "cannot rename %s to %s: %s", tmp, path,
			 strerror(errno));
		goto err_after_create;
	}
	/* renamed: the new file is in place. A directory that cannot be
	 * synced only risks the old file after a power loss; failing now
	 * would tell the caller "not written" about a file that is. */
	(void)fsync_dir(c->data_dir);
	return 0;

err_after_create:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}
