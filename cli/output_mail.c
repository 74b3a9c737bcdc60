/*
 * output_mail.c — smtpctl's printers for the mail commands (output.h):
 * show mail, send mail / remove mail, analyze mail and submit.
 *
 * Owns: the layout of those results, after the OpenVMS SHOW MAIL and
 * ANALYZE MAIL displays (one block per control file: entry, user, size,
 * date, sender, then its recipients; ANALYZE: files checked, problems by
 * kind, what was done). Does not own the data (the node's result).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/output.h"

#define BUF 128

/* Recipients of one entry, one line each. */
static void print_recipients(json_object *e, int full)
{
	json_object *rcpts;
	char t[BUF];

	if (!json_object_object_get_ex(e, "recipients", &rcpts) ||
	    !json_object_is_type(rcpts, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(rcpts); i++) {
		json_object *r = json_object_array_get_idx(rcpts, i);
		printf("    Recipient: <%s>  %s", output_str(r, "address"),
		       output_str(r, "state"));
		if (full) {
			int64_t n = output_int(r, "attempts", 0);
			printf(", %" PRId64 " attempt%s", n, n == 1 ? "" : "s");
			if (output_int(r, "last", 0) > 0)
				printf(", last %s",
				       output_time(output_int(r, "last", 0), t,
						   sizeof(t)));
			if (output_str(r, "reply")[0] != '\0')
				printf("\n      Last reply: %s",
				       output_str(r, "reply"));
		}
		printf("\n");
	}
}

/* One control file. */
static void print_entry(json_object *e, int full)
{
	json_object *claim;
	char t[BUF], t2[BUF];

	printf("Entry %" PRId64 ", user %s, %" PRId64
	       " bytes, created %s, %s\n",
	       output_int(e, "entry", 0), output_str(e, "user"),
	       output_int(e, "size", 0),
	       output_time(output_int(e, "created", 0), t, sizeof(t)),
	       output_str(e, "state"));
	printf("    Sender: %s", output_str(e, "sender")[0] != '\0'
				     ? output_str(e, "sender")
				     : "<>");
	if (output_str(e, "sender_header")[0] != '\0')
		printf("  (%s:)", output_str(e, "sender_header"));
	printf("\n");
	if (!json_object_object_get_ex(e, "claim", &claim) ||
	    !json_object_is_type(claim, json_type_object))
		claim = NULL;
	if (claim != NULL && output_int(claim, "live", 0))
		printf("    Being delivered by node %" PRId64
		       " (lease until %s)\n",
		       output_int(claim, "node", 0),
		       output_time(output_int(claim, "lease_end", 0), t,
				   sizeof(t)));
	else if (strcmp(output_str(e, "state"), "held") != 0)
		printf("    Next attempt: %s\n",
		       output_time(output_int(e, "next_attempt", 0), t,
				   sizeof(t)));
	if (claim != NULL && !output_int(claim, "live", 0))
		printf("    Claimed by node %" PRId64 ", lease ended %s "
		       "(remove mail needs --force)\n",
		       output_int(claim, "node", 0),
		       output_time(output_int(claim, "lease_end", 0), t,
				   sizeof(t)));
	if (full) {
		printf("    Control file: %s\n", output_str(e, "name"));
		printf("    Envelope sender: <%s>  kind: %s  attempts: %" PRId64
		       "  hops: %" PRId64 "\n",
		       output_str(e, "envelope_sender"), output_str(e, "kind"),
		       output_int(e, "attempts", 0), output_int(e, "hops", 0));
		printf("    From client %s (%s), received by node %" PRId64
		       "\n",
		       output_str(e, "client"), output_str(e, "helo"),
		       output_int(e, "origin_node", 0));
		if (output_str(e, "login")[0] != '\0')
			printf("    Authenticated as %s\n",
			       output_str(e, "login"));
		if (claim != NULL)
			printf("    Claim: node %" PRId64 ", fence %" PRId64
			       ", lease end %s\n",
			       output_int(claim, "node", 0),
			       output_int(claim, "fence", 0),
			       output_time(output_int(claim, "lease_end", 0),
					   t2, sizeof(t2)));
	}
	print_recipients(e, full);
}

int output_show_mail(json_object *result)
{
	json_object *entries, *v;
	int full = 0;
	size_t n = 0;

	if (json_object_object_get_ex(result, "full", &v))
		full = json_object_get_boolean(v);
	if (json_object_object_get_ex(result, "entries", &entries) &&
	    json_object_is_type(entries, json_type_array))
		n = json_object_array_length(entries);
	if (n == 0) {
		if (output_str(result, "user")[0] != '\0')
			printf("No mail queued for user %s\n",
			       output_str(result, "user"));
		else
			printf("No mail queued\n");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			printf("\n");
		print_entry(json_object_array_get_idx(entries, i), full);
	}
	return 0;
}

int output_mail_action(json_object *result)
{
	json_object *failed;
	const char *action = output_str(result, "action");
	int64_t done = output_int(result, "done", 0);
	size_t nf = 0;
	char t[BUF];

	if (json_object_object_get_ex(result, "failed", &failed) &&
	    json_object_is_type(failed, json_type_array))
		nf = json_object_array_length(failed);
	if (output_int(result, "selected", 0) == 0) {
		printf("No control files selected\n");
		return 0;
	}
	printf("%s %" PRId64 " control file%s", action, done,
	       done == 1 ? "" : "s");
	if (output_int(result, "after", 0) > 0)
		printf(
		    ", next attempt %s",
		    output_time(output_int(result, "after", 0), t, sizeof(t)));
	printf("\n");
	for (size_t i = 0; i < nf; i++) {
		json_object *f = json_object_array_get_idx(failed, i);
		fprintf(stderr, "smtpctl: %s\n", output_str(f, "error"));
	}
	return nf > 0 ? 1 : 0;
}

/* Problem kinds in the order and words of the summary. */
static const struct {
	const char *key;
	const char *text;
} kinds[] = {
    {"due_missing", "control files missing from the queue"},
    {"due_orphan", "queue entries without a valid control file"},
    {"byuser_missing", "control files missing from the user index"},
    {"byuser_orphan", "user index entries without a control file"},
    {"body_missing", "control files without their message"},
    {"body_orphan", "messages without a control file"},
    {"ctl_corrupt", "corrupt control files"},
    {"claim_unknown_node", "claims held by unknown nodes"},
    {"ctl_done", "control files with nothing left to deliver"},
};

int output_analyze_mail(json_object *result)
{
	json_object *probs = NULL, *list, *v;
	size_t nlist = 0;
	int rc = 0;

	json_object_object_get_ex(result, "problems", &probs);
	printf("Analyzed node %" PRId64 "'s spool: %" PRId64
	       " control files checked\n",
	       output_int(result, "node", 0),
	       output_int(result, "files_checked", 0));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		printf("  %-46s %" PRId64 "\n", kinds[i].text,
		       output_int(probs, kinds[i].key, 0));
	printf("  %-46s %" PRId64 "\n", "problems found",
	       output_int(result, "total", 0));
	if (json_object_object_get_ex(result, "list", &list) &&
	    json_object_is_type(list, json_type_array))
		nlist = json_object_array_length(list);
	for (size_t i = 0; i < nlist; i++) {
		json_object *p = json_object_array_get_idx(list, i);
		printf("    %s: %s\n", output_str(p, "kind"),
		       output_str(p, "name"));
	}
	if (json_object_object_get_ex(result, "repaired", &v)) {
		printf("Repaired %" PRId64 " problem%s on this node (the "
		       "repair ran on every node)\n",
		       json_object_get_int64(v),
		       json_object_get_int64(v) == 1 ? "" : "s");
		if (output_int(result, "remaining", 0) > 0) {
			printf("%" PRId64 " problems remain\n",
			       output_int(result, "remaining", 0));
			rc = 1;
		}
	}
	if (json_object_object_get_ex(result, "deleted", &v))
		printf("Deleted %" PRId64 " control file%s\n",
		       json_object_get_int64(v),
		       json_object_get_int64(v) == 1 ? "" : "s");
	if (json_object_object_get_ex(result, "held", &v))
		printf("Held %" PRId64 " control file%s\n",
		       json_object_get_int64(v),
		       json_object_get_int64(v) == 1 ? "" : "s");
	if (json_object_object_get_ex(result, "failed", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *f = json_object_array_get_idx(list, i);
			fprintf(stderr, "smtpctl: %s\n",
				output_str(f, "error"));
			rc = 1;
		}
	}
	return rc;
}

int output_submit(json_object *result)
{
	int64_t n = output_int(result, "recipients", 0);

	printf("queued as %s (%" PRId64 " recipient%s, %" PRId64 " bytes)\n",
	       output_str(result, "name"), n, n == 1 ? "" : "s",
	       output_int(result, "size", 0));
	return 0;
}
