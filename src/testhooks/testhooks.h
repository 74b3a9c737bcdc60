/*
 * testhooks.h — the test hooks of a test build of smtpclusterd
 * (build/test/smtpclusterd): the control server's "debug" commands
 * (control_debug.c). Never linked into the production daemon; main.c calls
 * testhooks_register() only when compiled with -DSMTPCLUSTER_TESTHOOKS.
 */
#ifndef SRC_TESTHOOKS_H
#define SRC_TESTHOOKS_H

struct control_cmd;

/* Add the hooks' commands to every control server of this process (call
 * before control_start). 0, or -1 if the control server has no room. */
int testhooks_register(void);

/* The hooks' command table (ends with name NULL), for the unit tests. */
const struct control_cmd *testhooks_control_cmds(void);

#endif
