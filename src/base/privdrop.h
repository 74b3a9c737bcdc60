/*
 * privdrop.h — the daemon's least privilege: [node] user (and group).
 *
 * Started as root with a user set, the daemon becomes that user (its
 * group, or [node] group, and no other group) before it opens or creates
 * anything: the log file, data_dir, the raft log, the spool, the control
 * socket and every Maildir file are the user's. It keeps one capability,
 * CAP_NET_BIND_SERVICE, so the SMTP port may still be 25; every other
 * capability leaves the bounding set, and no exec can gain one back
 * (PR_SET_NO_NEW_PRIVS). Started as that user already (systemd's User=),
 * nothing changes. Started as another user, it refuses.
 *
 * Fails with -1 and a reason in the caller's buffer; never logs (it runs
 * before the log is open).
 */
#ifndef SRC_BASE_PRIVDROP_H
#define SRC_BASE_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/* Become user (group: "" = the user's own). user "" = no change. 0, or
 * -1 with a reason. */
int privdrop_become(const char *user, const char *group, char *why,
		    size_t whysize);

/* The data directory must be this process's own and not writable by
 * others (so no other account can swap the raft log under it). 0, or -1
 * with a reason. */
int privdrop_check_dir(const char *dir, char *why, size_t whysize);

#endif
