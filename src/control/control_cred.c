/*
 * control_cred.c — who is on the other end of a control connection: the
 * peer's credentials (SO_PEERCRED: uid, gid, pid) and what they are worth,
 * admin or not, plus the uid's user name for the commands that act on the
 * caller's own mail (show/send/remove mail, submit).
 *
 * Admin is uid 0, or the configured admin group as the peer's primary
 * group or among its user's groups in the group database (getgrouplist of
 * the uid's user name). A missing group makes root the only admin.
 *
 * Off the loop: the group and passwd lookups (getgrnam_r, getpwuid_r,
 * getgrouplist) may block on NSS (LDAP, NIS, sssd), so they run on libuv's
 * thread pool (uv_queue_work) once per connection, before the connection
 * is read: the loop thread never waits on them. The replies are the same
 * as when they ran on the loop: privilege was already decided once, at
 * accept, and the first request is read only after the lookup; the user
 * name, looked up per request before, is now looked up once per
 * connection (a passwd change during one connection is seen by the next).
 * A name longer than CTL_USER_NAME_MAX counts as no name, as it did for
 * every caller (their buffers are CTLNAME_USER_MAX + 1 bytes).
 *
 * Owns: the lookup's work item (struct ctl_cred_work), detached when its
 * connection closes first. Does not own the connection (control.c) or what
 * the commands allow (the admin flags of control_commands.c).
 *
 * Failures: a lookup that fails (no such group or user, out of memory, an
 * NSS error) counts as "not admin" / "no user name"; never an error reply
 * of its own.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "src/base/nodeconf.h"
#include "src/control/control_conn.h"
#include "src/control/control_impl.h"

/* One privilege lookup on the thread pool. The worker reads only the
 * inputs and writes only the results; conn is touched on the loop thread
 * only, and is NULL once the connection closed. */
struct ctl_cred_work {
	uv_work_t w;
	struct ctl_conn *conn;
	/* inputs */
	uid_t uid;
	gid_t gid;
	char group[sizeof(((struct nodeconf *)0)->admin_group)];
	/* results */
	int admin;
	int has_user;
	char user[CTL_USER_NAME_MAX + 1];
};

#define NSS_BUF_MIN 16384
#define NSS_BUF_MAX (1024 * 1024)

/* getgrnam_r into a buffer grown on ERANGE; *buf is the caller's to free. */
static struct group *group_lookup(const char *name, struct group *gr,
				  char **buf)
{
	struct group *res = NULL;

	for (size_t size = NSS_BUF_MIN; size <= NSS_BUF_MAX; size *= 2) {
		char *p = realloc(*buf, size);
		if (p == NULL)
			return NULL;
		*buf = p;
		if (getgrnam_r(name, gr, p, size, &res) != ERANGE)
			return res;
	}
	return NULL;
}

/* getpwuid_r into a buffer grown on ERANGE; *buf is the caller's to free. */
static struct passwd *passwd_lookup(uid_t uid, struct passwd *pw, char **buf)
{
	struct passwd *res = NULL;

	for (size_t size = NSS_BUF_MIN; size <= NSS_BUF_MAX; size *= 2) {
		char *p = realloc(*buf, size);
		if (p == NULL)
			return NULL;
		*buf = p;
		if (getpwuid_r(uid, pw, p, size, &res) != ERANGE)
			return res;
	}
	return NULL;
}

/* 1 if gid is among the groups of user (primary group pgid) in the group
 * database. */
static int user_in_group(const char *user, gid_t pgid, gid_t gid)
{
	gid_t *groups = NULL;
	int ngroups = 64, found = 0;

	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(groups, (size_t)ngroups * sizeof(*g));
		int n = ngroups;
		if (g == NULL)
			break;
		groups = g;
		if (getgrouplist(user, pgid, groups, &n) >= 0) {
			for (int i = 0; i < n; i++)
				if (groups[i] == gid)
					found = 1;
			break;
		}
		ngroups = n > ngroups ? n : ngroups * 2;
	}
	free(groups);
	return found;
}

/* 1 if uid (primary group gid) is admin: root, or the admin group is its
 * primary group or one of its user's groups. A missing group: root only. */
static int cred_is_admin(uid_t uid, gid_t gid, const char *group)
{
	struct group grbuf, *gr;
	struct passwd pwbuf, *pw;
	char *gbuf = NULL, *pbuf = NULL;
	int admin = 0;

	if (uid == 0)
		return 1;
	if (group == NULL || group[0] == '\0')
		return 0;
	gr = group_lookup(group, &grbuf, &gbuf);
	if (gr == NULL)
		goto out_free;
	if (gid == gr->gr_gid) {
		admin = 1;
		goto out_free;
	}
	pw = passwd_lookup(uid, &pwbuf, &pbuf);
	if (pw != NULL)
		admin = user_in_group(pw->pw_name, pw->pw_gid, gr->gr_gid);
out_free:
	free(gbuf);
	free(pbuf);
	return admin;
}

/* The uid's user name into buf. 0, or -1 when it has none or it does not
 * fit. */
static int uid_name(uid_t uid, char *buf, size_t size)
{
	struct passwd pwbuf, *pw;
	char *pbuf = NULL;
	int rc = -1;

	pw = passwd_lookup(uid, &pwbuf, &pbuf);
	if (pw != NULL && pw->pw_name != NULL && strlen(pw->pw_name) < size) {
		memcpy(buf, pw->pw_name, strlen(pw->pw_name) + 1);
		rc = 0;
	}
	free(pbuf);
	return rc;
}

int ctl_cred_read(struct ctl_conn *conn)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;

	if (conn_fileno(&conn->conn, &fd) != 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    len != sizeof(cr))
		return -1;
	conn->uid = cr.uid;
	conn->gid = cr.gid;
	conn->pid = cr.pid;
	return 0;
}

/* On the thread pool: the blocking NSS calls. */
static void cred_work(uv_work_t *w)
{
	struct ctl_cred_work *cw = w->data;

	cw->admin = cred_is_admin(cw->uid, cw->gid, cw->group);
	cw->has_user = uid_name(cw->uid, cw->user, sizeof(cw->user)) == 0;
}

/* On the loop thread: hand the results to the connection, if it is still
 * there (a cancelled lookup counts as not admin, no name). */
static void cred_done(uv_work_t *w, int status)
{
	struct ctl_cred_work *cw = w->data;
	struct ctl_conn *conn = cw->conn;

	if (conn != NULL) {
		conn->cred = NULL;
		if (status == 0) {
			conn->admin = cw->admin;
			conn->has_user = cw->has_user;
			memcpy(conn->user, cw->user, sizeof(conn->user));
		}
		ctl_conn_ready(conn);
	}
	free(cw);
}

int ctl_cred_lookup(struct ctl_conn *conn)
{
	struct ctl_cred_work *cw = calloc(1, sizeof(*cw));
	int rc;

	if (cw == NULL)
		return UV_ENOMEM;
	cw->w.data = cw;
	cw->conn = conn;
	cw->uid = conn->uid;
	cw->gid = conn->gid;
	memcpy(cw->group, conn->ctl->conf.admin_group, sizeof(cw->group));
	cw->group[sizeof(cw->group) - 1] = '\0';
	rc = uv_queue_work(conn->ctl->loop, &cw->w, cred_work, cred_done);
	if (rc < 0) {
		free(cw);
		return rc;
	}
	conn->cred = cw;
	return 0;
}

void ctl_cred_detach(struct ctl_conn *conn)
{
	struct ctl_cred_work *cw = conn->cred;

	if (cw == NULL)
		return;
	conn->cred = NULL;
	cw->conn = NULL;
	/* not started yet: cred_done runs with UV_ECANCELED and frees it */
	uv_cancel((uv_req_t *)&cw->w);
}
