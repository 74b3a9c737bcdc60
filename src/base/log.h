/*
 * log.h — the daemon's log: one line per event, "TIMESTAMP NODE LEVEL
 * message", to stderr or to a file. Shared by every src/ module.
 *
 * log_init may be called again (e.g. once the config is read); log_reopen
 * opens the same path again (log rotation); before log_init is
 * called lines go to stderr at level info with node name "-". Messages
 * longer than a few KiB are truncated. Thread-safe enough for the libuv
 * thread pool (one write(2) per line).
 */
#ifndef SRC_LOG_H
#define SRC_LOG_H

/* node_name: printed on each line; level: "debug"|"info"|"warn"|"error"
 * (NULL or unknown: info); file: NULL or "" for stderr, else appended to. */
void log_init(const char *node_name, const char *level, const char *file);

/* Reopen the log file at the path given to log_init (after logrotate
 * moved it away: SIGHUP). Nothing to do when logging to stderr. 0, or a
 * negative errno (logged; the old file stays in use). */
int log_reopen(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
