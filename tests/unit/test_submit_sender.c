/*
 * test_submit_sender.c — the sender rules of local submission
 * (src/control/submit_sender.c): the own-address rule of sendmail -f,
 * the From: field with a full name, /SUBSTITUTE_DOMAIN in the envelope
 * and in the From: and Sender: fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/control/submit_sender.h"

static const struct submit_domains doms = {
    .node = "node1.cluster.test",
    .cluster = "cluster.test",
    .substitute = "example.com",
};

static const struct submit_domains nosub = {
    .node = "node1.cluster.test",
    .cluster = "",
    .substitute = "",
};

static void test_own_address_is_the_user_at_a_local_domain(void **state)
{
	(void)state;
	assert_true(submit_sender_own("alice", "alice", &doms));
	assert_true(submit_sender_own("alice@cluster.test", "alice", &doms));
	assert_true(
	    submit_sender_own("alice@NODE1.cluster.test", "alice", &doms));
	assert_true(submit_sender_own("alice@example.com", "alice", &doms));
	assert_true(submit_sender_own("alice@cluster.test.", "alice", &doms));
	/* someone else, another domain, the null sender, a prefix */
	assert_false(submit_sender_own("bob@cluster.test", "alice", &doms));
	assert_false(submit_sender_own("alice@evil.test", "alice", &doms));
	assert_false(submit_sender_own("", "alice", &doms));
	assert_false(submit_sender_own("alic@cluster.test", "alice", &doms));
	assert_false(submit_sender_own("alicex@cluster.test", "alice", &doms));
	assert_false(submit_sender_own("Alice@cluster.test", "alice", &doms));
	assert_false(submit_sender_own("alice@cluster.test", "alice",
				       &(struct submit_domains){0}));
	assert_false(submit_sender_own("alice", "", &doms));
}

static void test_substitute_replaces_only_local_domains(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(submit_sender_substitute("alice@node1.cluster.test",
						  &doms, out, sizeof(out)),
			 0);
	assert_string_equal(out, "alice@example.com");
	assert_int_equal(submit_sender_substitute("alice@other.org", &doms, out,
						  sizeof(out)),
			 0);
	assert_string_equal(out, "alice@other.org");
	assert_int_equal(submit_sender_substitute("", &doms, out, sizeof(out)),
			 0);
	assert_string_equal(out, "");
	/* without a substitute domain nothing changes */
	assert_int_equal(submit_sender_substitute("alice@node1.cluster.test",
						  &nosub, out, sizeof(out)),
			 0);
	assert_string_equal(out, "alice@node1.cluster.test");
	assert_int_equal(submit_sender_substitute("alice@node1.cluster.test",
						  &doms, out, 10),
			 -1);
}

static void test_from_field_quotes_the_full_name(void **state)
{
	char out[128];

	(void)state;
	assert_int_equal(submit_from_field(NULL, "a@b.test", out, sizeof(out)),
			 0);
	assert_string_equal(out, "From: <a@b.test>\r\n");
	assert_int_equal(submit_from_field("Ann \"Q\" O\\Neil", "a@b.test", out,
					   sizeof(out)),
			 0);
	assert_string_equal(out,
			    "From: \"Ann \\\"Q\\\" O\\\\Neil\" <a@b.test>\r\n");
	assert_int_equal(submit_from_field("Ann", "a@b.test", out, 12), -1);
	assert_true(submit_fullname_ok("Ann O'Neil"));
	assert_true(submit_fullname_ok("Zo\xc3\xab"));
	assert_false(submit_fullname_ok("Ann\r\nBcc: x@y"));
	assert_false(submit_fullname_ok("tab\there"));
}

static char *rewrite(const char *msg, const struct submit_domains *d)
{
	struct wbuf w = {0};
	char *s;

	submit_rewrite_headers(&w, msg, strlen(msg), d);
	assert_false(w.err);
	s = malloc(w.len + 1);
	assert_non_null(s);
	memcpy(s, w.p, w.len);
	s[w.len] = '\0';
	free(w.p);
	return s;
}

static void test_headers_rewritten_in_from_and_sender_only(void **state)
{
	const char *msg = "From: Alice <alice@node1.cluster.test>,\r\n"
			  "\tbob@cluster.test, carol@other.org\r\n"
			  "Sender: alice@NODE1.cluster.test\r\n"
			  "To: dave@node1.cluster.test\r\n"
			  "Subject: mail from alice@node1.cluster.test\r\n"
			  "\r\n"
			  "From: alice@node1.cluster.test in the body\r\n";
	const char *want = "From: Alice <alice@example.com>,\r\n"
			   "\tbob@example.com, carol@other.org\r\n"
			   "Sender: alice@example.com\r\n"
			   "To: dave@node1.cluster.test\r\n"
			   "Subject: mail from alice@node1.cluster.test\r\n"
			   "\r\n"
			   "From: alice@node1.cluster.test in the body\r\n";
	char *s;

	(void)state;
	s = rewrite(msg, &doms);
	assert_string_equal(s, want);
	free(s);
	/* no substitute: the same bytes */
	s = rewrite(msg, &nosub);
	assert_string_equal(s, msg);
	free(s);
	/* a longer name that only ends like a local one is left alone */
	s = rewrite("From: a@xcluster.test\r\n\r\n", &doms);
	assert_string_equal(s, "From: a@xcluster.test\r\n\r\n");
	free(s);
	/* a message without a final CRLF keeps its bytes */
	s = rewrite("From: a@cluster.test", &doms);
	assert_string_equal(s, "From: a@example.com");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_own_address_is_the_user_at_a_local_domain),
	    cmocka_unit_test(test_substitute_replaces_only_local_domains),
	    cmocka_unit_test(test_from_field_quotes_the_full_name),
	    cmocka_unit_test(test_headers_rewritten_in_from_and_sender_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
