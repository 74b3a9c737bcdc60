/*
 * grammar_table.c — every command smtpctl knows (grammar.h): one line of
 * grammar_cmds[] each, with its pattern, who may run it (for help), its
 * help line, its printer, the options it takes and, for the commands the
 * client runs itself, its run function.
 *
 * Owns: the table only. Does not own parsing the patterns
 * (grammar_pattern.c), the options' definitions (grammar_opts.c) or the
 * value types (grammar_types.c). Data only: nothing here runs or fails; a
 * malformed line is found when grammar_pattern.c parses it (it aborts).
 */
#include "cli/grammar.h"

#include <stddef.h>

#include "cli/output.h"
#include "cli/submit.h"

#define MAIL_SEL "user entry name"
#define CFG_OPTS                                                               \
	"gateway-alternate zone interval-initial interval-retry "              \
	"interval-maximum address-retries hop-count-maximum options queues "   \
	"receive-timeout send-timeout-data send-timeout-initial "              \
	"send-timeout-mail send-timeout-receipt send-timeout-termination "     \
	"substitute-domain postmaster-alias cluster-domain max-message-size "  \
	"max-recipients delay-warning log default"

const struct grammar_cmd grammar_cmds[] = {
    {"cluster status", GRAMMAR_ADMIN,
     "show every member: role, state, addresses, applied and match index",
     output_cluster_status, NULL, NULL},
    {"cluster add <id> <address>", GRAMMAR_ADMIN,
     "join the running node <id> listening at <address> (its raft "
     "HOST:PORT)",
     output_cluster_change, NULL, NULL},
    {"cluster remove <id>", GRAMMAR_ADMIN, "remove node <id> from the cluster",
     output_cluster_change, NULL, NULL},
    {"cluster transfer [<id>]", GRAMMAR_ADMIN,
     "hand leadership to node <id> (default: let raft choose)",
     output_cluster_change, NULL, NULL},
    {"show mail [<user>]", GRAMMAR_OWN,
     "SHOW MAIL: queued control files with entry, user, size, date, "
     "sender, recipients",
     output_show_mail, MAIL_SEL " full recipient", NULL},
    {"send mail [<user>]", GRAMMAR_OWN,
     "SEND MAIL: requeue now (or --after TIME); releases held mail",
     output_mail_action, MAIL_SEL " after", NULL},
    {"remove mail [<user>]", GRAMMAR_OWN,
     "REMOVE MAIL: delete control files (not while being delivered)",
     output_mail_action, MAIL_SEL " force all", NULL},
    {"analyze mail [<user>]", GRAMMAR_ADMIN,
     "ANALYZE MAIL: check the spool; --repair fixes it cluster-wide",
     output_analyze_mail, "user repair delete-before delete-since hold", NULL},
    {"start mail", GRAMMAR_ADMIN,
     "START MAIL: start a node's sender (symbiont); default this node",
     output_node_change, "node", NULL},
    {"stop mail", GRAMMAR_ADMIN,
     "STOP MAIL: stop a node's sender (symbiont); default this node",
     output_node_change, "node", NULL},
    {"enable service [smtp]", GRAMMAR_ADMIN,
     "ENABLE SERVICE SMTP: start a node's SMTP receiver", output_node_change,
     "node", NULL},
    {"disable service [smtp]", GRAMMAR_ADMIN,
     "DISABLE SERVICE SMTP: stop a node's SMTP receiver", output_node_change,
     "node", NULL},
    {"show service smtp", GRAMMAR_ANYONE,
     "SHOW SERVICE SMTP: every node's state, a node's settings (--node: "
     "another member's) and this node's statistics",
     output_show_service, "node", NULL},
    {"set service smtp", GRAMMAR_ADMIN,
     "SET SERVICE SMTP: change a node's receiver settings without a "
     "restart (kept in its data_dir/service.conf; --node: another member)",
     output_set_service,
     "node listen max-sessions max-per-ip trusted "
     "tls-cert tls-key",
     NULL},
    {"set configuration smtp", GRAMMAR_ADMIN,
     "SET CONFIGURATION SMTP: change cluster-wide settings (see its help)",
     output_set_config, CFG_OPTS, NULL},
    {"show configuration smtp", GRAMMAR_ANYONE,
     "SHOW CONFIGURATION SMTP: every setting, (default) marked",
     output_show_config, NULL, NULL},
    {"show mx [<domain:host>]", GRAMMAR_ADMIN,
     "the local MX database (all domains, or one)", output_show_mx, NULL, NULL},
    {"set mx <domain:host> <gateway> <pref>", GRAMMAR_ADMIN,
     "add an MX record: mail for <domain> goes to <gateway>",
     output_table_change, NULL, NULL},
    {"remove mx <domain:host> [<gateway>]", GRAMMAR_ADMIN,
     "remove a domain's MX records (all, or those to <gateway>)",
     output_table_change, NULL, NULL},
    {"show host [<name:host>]", GRAMMAR_ADMIN,
     "the local hosts database (all names, or one)", output_show_host, NULL,
     NULL},
    {"set host <name:host> <addresses:ip>...", GRAMMAR_ADMIN,
     "set the addresses of a host name (replaces them)", output_table_change,
     NULL, NULL},
    {"remove host <name:host>", GRAMMAR_ADMIN,
     "remove a host name from the hosts database", output_table_change, NULL,
     NULL},
    {"set alias <domain>", GRAMMAR_ADMIN,
     "add <domain> to the local alias domains (mail to it is local)",
     output_set_alias, NULL, NULL},
    {"remove alias <domain>", GRAMMAR_ADMIN,
     "remove <domain> from the alias domains", output_remove_alias, NULL, NULL},
    {"show aliases", GRAMMAR_ADMIN, "list the alias domains (this node's copy)",
     output_show_aliases, NULL, NULL},
    {"import aliases [<file>]", GRAMMAR_ADMIN,
     "replace the alias domains with a TCPIP$SMTP_LOCAL_ALIASES.TXT file",
     output_table_change, NULL, import_aliases_run},
    {"show forward", GRAMMAR_ADMIN,
     "MAIL SHOW FORWARD: the forwarded local users", output_show_forward, NULL,
     NULL},
    {"set forward <target>", GRAMMAR_ADMIN,
     "MAIL SET FORWARD/USER=U: forward local user U's mail to <target>",
     output_table_change, "user!", NULL},
    {"remove forward", GRAMMAR_ADMIN,
     "MAIL SET NOFORWARD/USER=U: stop forwarding user U's mail",
     output_table_change, "user!", NULL},
    {"submit [<recipients:rcpt>...]", GRAMMAR_ANYONE,
     "send a message from a file or stdin (Send From File; also sendmail)",
     output_submit, "from full-name read-recipients ignore-dots file",
     submit_run},
    {"show tls-policy [<domain:tlsdomain>]", GRAMMAR_ADMIN,
     "the outbound TLS policy table (all, or the policy mail to <domain> "
     "gets)",
     output_show_tls_policy, NULL, NULL},
    {"set tls-policy <domain:tlsdomain> <level:tlslevel>", GRAMMAR_ADMIN,
     "mail to <domain> goes with TLS none, may (default), encrypt or "
     "verify",
     output_table_change, NULL, NULL},
    {"remove tls-policy <domain:tlsdomain>", GRAMMAR_ADMIN,
     "remove <domain>'s TLS policy (its mail gets the default, may)",
     output_table_change, NULL, NULL},
    {"debug noop", GRAMMAR_ADMIN,
     "commit a no-op through raft; show this node's applied count",
     output_debug_noop, NULL, NULL},
    {"debug snapshot-hash", GRAMMAR_ADMIN,
     "SHA-256 of this node's spool snapshot (compare nodes)",
     output_debug_snapshot_hash, NULL, NULL},
    {"debug enqueue <count> <size>", GRAMMAR_ADMIN,
     "enqueue <count> test messages of <size> bytes to "
     "bench@remote.test",
     output_debug_enqueue, NULL, NULL},
    {"debug damage <kind> <name:ctlname>", GRAMMAR_ADMIN,
     "damage THIS node's spool (not replicated), to test analyze mail",
     output_debug_damage, NULL, NULL},
    {"debug claim <name:ctlname> <lease:duration>", GRAMMAR_ADMIN,
     "claim a control file for this node, as its sender would (tests)",
     output_cluster_change, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, NULL},
};
