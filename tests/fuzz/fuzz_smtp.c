/*
 * fuzz_smtp.c — libFuzzer target for the SMTP receiver's pure parts: the
 * command-line parsers, the DATA reader and the whole session state
 * machine (with a fake transport and a fake cluster). The first input
 * octet picks the mode. Invariants that must hold for every input abort
 * when broken:
 *   - parsers: a parsed path fits its buffers, "<addr>" of a parsed
 *     mailbox parses again to the same address, and without relaying
 *     only a local domain with a plain local part is accepted;
 *   - DATA: feeding in arbitrary pieces gives exactly what feeding all at
 *     once gives (message, verdict, octets used, Received: count), and the
 *     octets used end with <CRLF>.<CRLF> (or are ".<CRLF>") when done;
 *   - session: every reply is "ddd" + ' ' or '-' + text + CRLF, and every
 *     proposal decodes as an ENQUEUE.
 *
 * The Makefile links only the spool/ sources with a fuzz target, so the pure
 * receiver sources are included here.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/clock.c"
#include "src/base/ctlalloc.c"
#include "src/base/log.c"
#include "src/base/maildate.c"
#include "src/smtpd/smtp_policy.c"
#include "src/smtpd/smtp_data.c"
#include "src/smtpd/smtp_parse.c"
#include "src/smtpd/smtp_session.c"
#include "src/smtpd/smtp_verbs.c"
#include "src/smtpd/smtp_verb_auth.c"
#include "src/smtpd/smtp_recvlog.c"
#include "src/metrics/metrics.c"

#include "spool/codec/cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- mode 0: parsers ---- */

static void check_reparse(const struct smtp_mailbox *mb, int rcpt)
{
	char args[SMTP_ADDR_MAX + 16];
	struct smtp_mailbox again;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	int rc;

	if (mb->null || mb->postmaster)
		return;
	if (strlen(mb->addr) > SMTP_ADDR_MAX ||
	    strlen(mb->local) > SMTP_LOCAL_MAX ||
	    strlen(mb->domain) > SMTP_DOMAIN_MAX)
		abort();
	if (rcpt) {
		snprintf(args, sizeof(args), "TO:<%s>", mb->addr);
		rc = smtp_parse_rcpt(args, &again, &rp);
	} else {
		snprintf(args, sizeof(args), "FROM:<%s>", mb->addr);
		rc = smtp_parse_mail(args, &again, &mp);
	}
	if (rc != 0 || strcmp(again.addr, mb->addr) != 0)
		abort();
}

static void fuzz_parsers(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	char verb[SMTP_VERB_MAX + 1], out[256];
	const char *args;
	struct smtp_mailbox mb;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;

	if (line == NULL)
		return;
	memcpy(line, data, size);
	line[size] = '\0';
	(void)smtp_split_command(line, verb, sizeof(verb), &args);
	if (smtp_parse_mail(line, &mb, &mp) == 0)
		check_reparse(&mb, 0);
	if (smtp_parse_rcpt(line, &mb, &rp) == 0) {
		struct smtp_policy pol = {"node1.test", "cluster.test", 0, NULL,
					  NULL};

		check_reparse(&mb, 1);
		/* without relaying, only a local domain with a plain local
		 * part (or the postmaster) is accepted */
		switch (policy_check(&pol, &mb)) {
		case POLICY_RELAY:
			abort();
		case POLICY_LOCAL:
			if (!mb.postmaster &&
			    ((!policy_domain_eq(mb.domain, "node1.test") &&
			      !policy_domain_eq(mb.domain, "cluster.test")) ||
			     strpbrk(mb.local_plain, "@%!") != NULL))
				abort();
			break;
		default:
			break;
		}
	}
	if (smtp_xtext_decode(line, out, sizeof(out)) > (int)sizeof(out))
		abort();
	free(line);
}

/* ---- mode 1: DATA reader ---- */

static void fuzz_data(const uint8_t *data, size_t size)
{
	struct smtp_data whole, parts;
	size_t used_whole, used_parts = 0, i = 0, k = 0;
	uint64_t limit;

	if (size < 2)
		return;
	limit = (uint64_t)data[0] * 16; /* small limits reach SIZE too */
	data++;
	size--;
	smtp_data_init(&whole, limit);
	used_whole = smtp_data_feed(&whole, (const char *)data, size);
	smtp_data_init(&parts, limit);
	while (i < size && !parts.done) {
		size_t n = 1 + (size_t)(data[k++ % size] % 7);

		if (n > size - i)
			n = size - i;
		used_parts += smtp_data_feed(&parts, (const char *)data + i, n);
		i += n;
	}
	if (used_whole > size || used_whole != used_parts ||
	    whole.done != parts.done || whole.len != parts.len ||
	    whole.received != parts.received ||
	    smtp_data_status(&whole) != smtp_data_status(&parts) ||
	    (whole.len > 0 && memcmp(whole.buf, parts.buf, whole.len) != 0))
		abort();
	if (whole.done &&
	    !(used_whole >= 5 &&
	      memcmp(data + used_whole - 5, "\r\n.\r\n", 5) == 0) &&
	    !(used_whole == 3 && memcmp(data, ".\r\n", 3) == 0))
		abort();
	if (smtp_data_status(&whole) == 0 && whole.done) {
		/* an accepted message has only CRLF line ends */
		for (size_t j = 0; j < whole.len; j++) {
			if (whole.buf[j] == '\n' &&
			    (j == 0 || whole.buf[j - 1] != '\r'))
				abort();
			if (whole.buf[j] == '\r' &&
			    (j + 1 >= whole.len || whole.buf[j + 1] != '\n'))
				abort();
		}
	}
	smtp_data_free(&whole);
	smtp_data_free(&parts);
}

/* ---- mode 2: the session ---- */

struct fake {
	struct smtp_session *s;
	int closed, pending;
	const uint8_t *ctl; /* outcome bytes */
	size_t nctl, ictl;
};

static uint8_t next_ctl(struct fake *f)
{
	return f->nctl ? f->ctl[f->ictl++ % f->nctl] : 0;
}

static void f_write(void *arg, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *e = memchr(p + i, '\n', n - i);
		size_t len;

		if (e == NULL)
			abort(); /* a reply without its line end */
		len = (size_t)(e - (p + i)) + 1;
		if (len < 6 || p[i] < '2' || p[i] > '5' || p[i + 1] < '0' ||
		    p[i + 1] > '9' || p[i + 2] < '0' || p[i + 2] > '9' ||
		    (p[i + 3] != ' ' && p[i + 3] != '-') || e[-1] != '\r')
			abort();
		i += len;
	}
}

static int f_propose(void *arg, const void *cmd, size_t len)
{
	struct fake *f = arg;
	struct spool_cmd c;

	if (spool_cmd_decode(&c, cmd, len) != 0 || c.type != CMD_ENQUEUE)
		abort();
	spool_cmd_free(&c);
	switch (next_ctl(f) % 4) {
	case 0:
		f->pending = 1; /* answered later */
		return 0;
	case 1:
		smtp_session_proposed(f->s, 1, 0, 0); /* synchronous */
		return 0;
	case 2:
		return SMTP_PROPOSE_E_TOOBIG;
	default:
		return SMTP_PROPOSE_E_FAILED;
	}
}

static int f_starttls(void *arg)
{
	return (next_ctl(arg) & 1) ? 0 : -1;
}

static void f_close(void *arg)
{
	((struct fake *)arg)->closed = 1;
}

static int f_alias_has(void *arg, const char *domain)
{
	return strcmp(domain, "alias.test") == 0;
}

static uint64_t f_now(void *arg)
{
	return 1709214307890ull;
}

static uint32_t f_seq(void *arg)
{
	static uint32_t seq;

	return ++seq;
}

/* The authentication service of a submission session: each step's
 * outcome (and the login's name) comes from the control bytes. */
static const char *fa_mechs(void *arg)
{
	return "PLAIN LOGIN";
}

static int fa_outcome(void *arg, const char **out)
{
	static const int results[] = {SMTP_AUTH_CONTINUE, SMTP_AUTH_OK,
				      SMTP_AUTH_E_FAIL,	  SMTP_AUTH_E_MECH,
				      SMTP_AUTH_E_SYNTAX, SMTP_AUTH_E_TEMP};

	*out = (next_ctl(arg) & 1) ? "VXNlcm5hbWU6" : "";
	return results[next_ctl(arg) % 6];
}

static int fa_start(void *arg, const char *mech, const char *initial,
		    const char **out)
{
	return fa_outcome(arg, out);
}

static int fa_step(void *arg, const char *response, const char **out)
{
	return fa_outcome(arg, out);
}

static const char *fa_user(void *arg)
{
	switch (next_ctl(arg) % 4) {
	case 0:
		return NULL;
	case 1:
		return "";
	case 2:
		return "odd (user)\\\x01";
	default:
		return "alice@realm.test";
	}
}

static void fuzz_session(const uint8_t *data, size_t size)
{
	struct smtp_session_conf conf = {
	    .node_name = "NODE1",
	    .node_domain = "node1.test",
	    .cluster_domain = "cluster.test",
	    .client_ip = "192.0.2.1",
	    .node_id = 1,
	    .max_size = 2000,
	    .max_rcpt = 5,
	    .hop_max = 3,
	    .tls_available = 1,
	};
	struct smtp_session_env env = {
	    .write = f_write,
	    .propose = f_propose,
	    .starttls = f_starttls,
	    .close = f_close,
	    .alias_has = f_alias_has,
	    .now_ms = f_now,
	    .next_seq = f_seq,
	};
	struct fake f = {0};
	struct smtp_auth_ops auth;
	size_t i = 0, cut;

	if (size < 2)
		return;
	conf.policy_allowed = data[0] & 1;
	conf.submission = (data[0] & 2) != 0;
	conf.implicit_tls = (data[0] & 4) != 0;
	auth = (struct smtp_auth_ops){.arg = &f,
				      .mechs = fa_mechs,
				      .start = fa_start,
				      .step = fa_step,
				      .user = fa_user};
	if (data[0] & 8)
		conf.auth = &auth;
	cut = 1 + size / 8 < size ? 1 + size / 8 : size;
	f.ctl = data + 1; /* outcome choices: the input's first eighth */
	f.nctl = cut - 1;
	env.arg = &f;
	f.s = smtp_session_new(&conf, &env);
	if (f.s == NULL)
		return;
	smtp_session_start(f.s);
	i = cut;
	while (i < size && !f.closed) {
		size_t n = 1 + (size_t)(next_ctl(&f) % 64);

		if (n > size - i)
			n = size - i;
		smtp_session_input(f.s, (const char *)data + i, n);
		i += n;
		if (f.pending && smtp_session_state(f.s) == SMTP_S_QUEUEING) {
			uint8_t o = next_ctl(&f);

			f.pending = 0;
			smtp_session_proposed(f.s, o & 1, -(int)(o % 19),
					      o & 2 ? 1u : 0u);
		}
		if (next_ctl(&f) == 0xff)
			smtp_session_timeout(f.s);
	}
	if (f.pending && smtp_session_state(f.s) == SMTP_S_QUEUEING)
		smtp_session_proposed(f.s, 0, 0, 0);
	smtp_session_free(f.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;

	if (!quiet) {
		log_init("fuzz", "error", NULL);
		quiet = 1;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_parsers(data + 1, size - 1);
		break;
	case 1:
		fuzz_data(data + 1, size - 1);
		break;
	default:
		fuzz_session(data + 1, size - 1);
		break;
	}
	return 0;
}
