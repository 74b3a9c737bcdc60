/*
 * control_commands.c — the control server's production command table: which
 * commands exist on the wire, which need admin, which are audited (logged
 * at info), which argument names each accepts, and their handlers.
 *
 * Owns: control_cmds[] only. Does not own the handlers (control_cluster.c,
 * control_mail.c, control_analyze.c, control_service.c, control_service_set.c,
 * control_config.c,
 * control_submit.c, control_tlspolicy.c) or dispatch (control_dispatch.c). The test hooks
 * ("debug ..." commands) are not here: a test build adds their table at
 * start-up (src/testhooks/testhooks.c, control_register_cmds).
 * tests/unit/test_command_tables.c checks this table against smtpctl's
 * grammar (cli/grammar_table.c).
 */
#include <stddef.h>

#include "src/control/control_impl.h"

/* The command table: name on the wire, admin, audit, argument names,
 * handler (struct control_cmd). smtpctl's grammar (cli/grammar_table.c) has the
 * matching words (checked by tests/unit/test_command_tables.c). */
const struct control_cmd control_cmds[] = {
    {"cluster status", 1, 0, "", ctl_cluster_status},
    {"cluster add", 1, 1, "id,address", ctl_cluster_add},
    {"cluster remove", 1, 1, "id", ctl_cluster_remove},
    {"cluster transfer", 1, 1, "id", ctl_cluster_transfer},
    {"set alias", 1, 1, "domain", ctl_set_alias},
    {"remove alias", 1, 1, "domain", ctl_remove_alias},
    {"show aliases", 1, 0, "", ctl_show_aliases},
    {"show mail", 0, 0, "user,entry,name,full,recipient", ctl_show_mail},
    {"send mail", 0, 1, "user,entry,name,after", ctl_send_mail},
    {"remove mail", 0, 1, "user,entry,name,force,all", ctl_remove_mail},
    {"analyze mail", 1, 1, "user,repair,delete_before,delete_since,hold",
     ctl_analyze_mail},
    {"start mail", 1, 1, "node", ctl_start_mail},
    {"stop mail", 1, 1, "node", ctl_stop_mail},
    {"enable service", 1, 1, "node", ctl_enable_service},
    {"disable service", 1, 1, "node", ctl_disable_service},
    {"show service smtp", 0, 0, "node", ctl_show_service},
    {"set service smtp", 1, 1,
     "node,listen,max_sessions,max_per_ip,trusted,tls_cert,tls_key",
     ctl_set_service},
    {"set configuration smtp", 1, 1, "items", ctl_set_config},
    {"show configuration smtp", 0, 0, "", ctl_show_config},
    {"show mx", 1, 0, "domain", ctl_show_mx},
    {"set mx", 1, 1, "domain,gateway,pref", ctl_set_mx},
    {"remove mx", 1, 1, "domain,gateway", ctl_remove_mx},
    {"show host", 1, 0, "name", ctl_show_host},
    {"set host", 1, 1, "name,addresses", ctl_set_host},
    {"remove host", 1, 1, "name", ctl_remove_host},
    {"import aliases", 1, 1, "domains,source", ctl_import_aliases},
    {"show forward", 1, 0, "", ctl_show_forward},
    {"set forward", 1, 1, "user,target", ctl_set_forward},
    {"remove forward", 1, 1, "user", ctl_remove_forward},
    {"submit", 0, 0, "body,more,sender,full_name,recipients", ctl_submit},
    {"show tls-policy", 1, 0, "domain", ctl_show_tls_policy},
    {"set tls-policy", 1, 1, "domain,level", ctl_set_tls_policy},
    {"remove tls-policy", 1, 1, "domain", ctl_remove_tls_policy},
    {NULL, 0, 0, NULL, NULL},
};
