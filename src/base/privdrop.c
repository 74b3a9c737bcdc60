/*
 * privdrop.c — becoming [node] user with only CAP_NET_BIND_SERVICE kept
 * (privdrop.h), and the data directory's ownership check.
 *
 * Owns: the order of the switch (resolve, bounding set, keep-caps,
 * groups, gid, uid, the one capability, no new privileges) and its
 * checks (root cannot come back). Does not own when it runs
 * (src/daemon/main.c: right after node.conf is read). Fails with -1 and
 * a reason; a half-done switch is never left running: the caller exits.
 */
#include "src/base/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Keep CAP_NET_BIND_SERVICE only, as permitted and effective. */
static int keep_bind_cap(char *why, size_t whysize)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	unsigned cap = CAP_NET_BIND_SERVICE;

	memset(data, 0, sizeof(data));
	data[cap / 32].permitted = 1u << (cap % 32);
	data[cap / 32].effective = 1u << (cap % 32);
	if (syscall(SYS_capset, &hdr, data) != 0) {
		snprintf(why, whysize, "capset(CAP_NET_BIND_SERVICE): %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove every capability but CAP_NET_BIND_SERVICE from the bounding
 * set (needs CAP_SETPCAP, so before the uid changes). */
static int drop_bounding(char *why, size_t whysize)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (cap == CAP_NET_BIND_SERVICE)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			snprintf(why, whysize, "PR_CAPBSET_DROP %d: %s", cap,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

int privdrop_become(const char *user, const char *group, char *why,
		    size_t whysize)
{
	struct passwd *pw;
	gid_t gid;

	if (user == NULL || user[0] == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(why, whysize, "[node] user: no user \"%.64s\"%s%s",
			 user, errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	gid = pw->pw_gid;
	if (group != NULL && group[0] != '\0') {
		struct group *gr;
		errno = 0;
		gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(why, whysize,
				 "[node] group: no group \"%.64s\"", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (pw->pw_uid == 0) {
		snprintf(why, whysize,
			 "[node] user: \"%.64s\" is root (uid 0): name an "
			 "unprivileged user",
			 user);
		return -1;
	}
	if (geteuid() != 0) {
		if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid &&
		    getgid() == gid)
			return 0; /* started as the user already */
		snprintf(why, whysize,
			 "[node] user: running as uid %ld, cannot become %.64s "
			 "(uid %ld) without root",
			 (long)geteuid(), user, (long)pw->pw_uid);
		return -1;
	}
	if (drop_bounding(why, whysize) != 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
		snprintf(why, whysize, "PR_SET_KEEPCAPS: %s", strerror(errno));
		return -1;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0) {
		snprintf(why, whysize, "setting group %ld: %s", (long)gid,
			 strerror(errno));
		return -1;
	}
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		snprintf(why, whysize, "setting user %.64s: %s", user,
			 strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(why, whysize,
			 "root could be regained after the switch");
		return -1;
	}
	if (keep_bind_cap(why, whysize) != 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(why, whysize, "prctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int privdrop_check_dir(const char *dir, char *why, size_t whysize)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		snprintf(why, whysize, "%.200s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whysize, "%.200s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whysize,
			 "%.200s is owned by uid %ld, not by the daemon's user "
			 "(uid %ld): chown -R it",
			 dir, (long)st.st_uid, (long)geteuid());
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(why, whysize,
			 "%.200s is writable by every user (mode %04o)", dir,
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}
