/*
 * logdir.c — the /LOG rule (logdir.h): a value is a file directly inside
 * the node's log directory, opened on the directory's descriptor without
 * following links.
 *
 * Owns: the rule and its reasons. Does not own: when /LOG is followed
 * (src/delivery/symbiont_actlog.c) or where a set is refused
 * (src/control/control_config.c). Fails with -1 or a negative errno and
 * a reason; never logs.
 */
#include "src/base/logdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Length of dir without its trailing slashes (the root stays "/"). */
static size_t dir_len(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n;
}

int logdir_check(const char *dir, const char *value, char *name,
		 size_t namesize, char *why, size_t whysize)
{
	const char *base = value, *slash = strrchr(value, '/');
	size_t dn = dir_len(dir), n;

	if (dir[0] == '\0') {
		snprintf(why, whysize,
			 "this node has no [node] log_dir: /LOG files are "
			 "refused");
		return -1;
	}
	if (slash != NULL) {
		size_t pn = (size_t)(slash - value);
		if (value[0] != '/') {
			snprintf(why, whysize,
				 "\"%.200s\" is neither a file name nor an "
				 "absolute path",
				 value);
			return -1;
		}
		if (pn == 0)
			pn = 1; /* "/name": the root */
		if (pn != dn || strncmp(value, dir, dn) != 0 ||
		    (pn > 1 && value[pn - 1] == '/')) {
			snprintf(why, whysize,
				 "\"%.200s\" is not directly inside the log "
				 "directory %.200s",
				 value, dir);
			return -1;
		}
		base = slash + 1;
	}
	n = strlen(base);
	if (n == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    n > NAME_MAX) {
		snprintf(why, whysize, "\"%.200s\" names no file", value);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)base[i] < 0x20 || base[i] == 0x7f) {
			snprintf(why, whysize,
				 "the file name holds a control character");
			return -1;
		}
	if (n >= namesize) {
		snprintf(why, whysize, "file name too long");
		return -1;
	}
	memcpy(name, base, n + 1);
	return 0;
}

int logdir_verify(const char *dir, const char *value, char *why, size_t whysize)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int dfd, rc;

	if (logdir_check(dir, value, name, sizeof(name), why, whysize) != 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(why, whysize, "log directory %.200s: %s", dir,
			 strerror(errno));
		return -1;
	}
	rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	if (rc != 0)
		return 0; /* created when first opened */
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whysize,
			 "%.200s/%.200s is a symbolic link (not followed)", dir,
			 name);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whysize, "%.200s/%.200s is not a regular file",
			 dir, name);
		return -1;
	}
	return 0;
}

int logdir_open(const char *dir, const char *value, char *why, size_t whysize)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int dfd, fd, e;

	if (logdir_check(dir, value, name, sizeof(name), why, whysize) != 0)
		return -EINVAL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		e = errno;
		snprintf(why, whysize, "log directory %.200s: %s", dir,
			 strerror(e));
		return -e;
	}
	fd = openat(dfd, name,
		    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
			O_NOCTTY | O_CLOEXEC,
		    0640);
	e = errno;
	close(dfd);
	if (fd < 0) {
		snprintf(why, whysize, "%.200s/%.200s: %s", dir, name,
			 e == ELOOP ? "is a symbolic link (not followed)"
				    : strerror(e));
		return -e;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whysize, "%.200s/%.200s: not a regular file", dir,
			 name);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) != 0) {
		e = errno;
		close(fd);
		snprintf(why, whysize, "%.200s/%.200s: %s", dir, name,
			 strerror(e));
		return -e;
	}
	return fd;
}
