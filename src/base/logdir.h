/*
 * logdir.h — where SET CONFIGURATION SMTP /LOG=file may write: inside the
 * node's [node] log_dir, one file directly in it, opened without
 * following a link.
 *
 * /LOG is replicated, so any admin of any node sets it for every node; it
 * must not name the raft log, node.conf or anything else the daemon can
 * write. A value is either a bare file name (taken in each node's own
 * log_dir) or an absolute path whose directory is exactly log_dir. The
 * name may not be "", "." or "..", hold a '/' or a control character,
 * or be longer than NAME_MAX. The file is opened with openat() on the
 * directory, O_NOFOLLOW (a symbolic link is refused, ELOOP) and
 * O_NONBLOCK, and must be a regular file.
 *
 * Pure apart from logdir_open(). Fails with -1 (check) or a negative
 * errno (open) and a reason in the caller's buffer; never logs.
 */
#ifndef SRC_BASE_LOGDIR_H
#define SRC_BASE_LOGDIR_H

#include <stddef.h>

/* Check value against dir ("" = no log directory: every value refused).
 * 0 with the file name (inside dir) in name; -1 with a reason in why. */
int logdir_check(const char *dir, const char *value, char *name,
		 size_t namesize, char *why, size_t whysize);

/* logdir_check(), and if the file exists, it must be a regular file and
 * no link (what a node receiving SET CONFIGURATION checks up-front, so
 * the change is refused before it is replicated). 0, or -1 with a
 * reason. */
int logdir_verify(const char *dir, const char *value, char *why,
		  size_t whysize);

/* Open value for appending inside dir (mode 0640 when created). The
 * descriptor (>= 0), or a negative errno with a reason in why. */
int logdir_open(const char *dir, const char *value, char *why, size_t whysize);

#endif
