/*
 * submit.c — smtpctl's client-side commands (submit.h): submit and import
 * aliases, and the submission requests the sendmail entry point
 * (sendmail.c) uses too.
 *
 * Owns: reading the message (file or stdin; in sendmail mode a line of one
 * "." ends it unless -i), the -t header rule (To:, Cc:, Bcc: recipients;
 * Bcc: fields removed), the chunked "submit" requests on one connection,
 * sendmail's option syntax, and finding and parsing the alias file (seed
 * 18.3: TCPIP$SMTP_LOCAL_ALIASES.TXT, then UCX$SMTP_LOCAL_ALIASES.TXT).
 * Not sendmail's option syntax nor -bs (sendmail.c, submit_bs.c).
 * Does not own: the control file (the node builds it: user-name from the
 * socket's credentials, Received: header, hop count) or the alias format
 * (spool/codec/aliases.c).
 *
 * Fails with a message on stderr and smtpctl's exit status; in sendmail
 * mode usage errors exit with EX_USAGE (64), as sendmail does.
 */
#include "cli/submit.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/exec.h"
#include "cli/output.h"
#include "spool/codec/aliases.h"
#include "spool/codec/err.h"
#include "spool/codec/msghdr.h"

/* ---- recipients ---- */

int submit_rcpt_add(struct submit_rcpts *r, const char *addr, size_t len)
{
	char *s;

	while (len > 0 && isspace((unsigned char)*addr)) {
		addr++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)addr[len - 1]))
		len--;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->v[i]) == len &&
		    strncasecmp(r->v[i], addr, len) == 0)
			return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		char **v = realloc(r->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	s = strndup(addr, len);
	if (s == NULL)
		return -1;
	r->v[r->n++] = s;
	return 0;
}

void submit_rcpts_free(struct submit_rcpts *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* RFC 5322 quoted strings and (nested) comments while scanning p[0..len):
 * 1 when p[*i] is inside one (it and a quoted-pair's second character are
 * consumed), 0 when it is outside. */
struct rfc5322_scan {
	int depth; /* comment nesting */
	int quote; /* inside a quoted string */
};

static int scan_skip(struct rfc5322_scan *sc, const char *p, size_t len,
		     size_t *i)
{
	char c = p[*i];

	if (!sc->quote && sc->depth == 0)
		return 0;
	if (c == '\\' && *i + 1 < len)
		(*i)++;
	else if (sc->quote && c == '"')
		sc->quote = 0;
	else if (!sc->quote && c == '(')
		sc->depth++;
	else if (!sc->quote && c == ')')
		sc->depth--;
	return 1;
}

/* One element of an address list: the <angle> address, else the text
 * without comments and quoted parts. */
static int take_element(const char *p, size_t len, struct submit_rcpts *r)
{
	const char *lt = NULL, *gt = NULL;
	char buf[1100];
	size_t n = 0;
	struct rfc5322_scan sc = {0, 0};
	int depth;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (scan_skip(&sc, p, len, &i))
			continue;
		if (c == '"')
			sc.quote = 1;
		else if (c == '(')
			sc.depth = 1;
		else if (c == '<')
			lt = p + i;
		else if (c == '>' && lt != NULL)
			gt = p + i;
	}
	if (lt != NULL && gt != NULL && gt > lt)
		return submit_rcpt_add(r, lt + 1, (size_t)(gt - lt - 1));
	/* a bare addr-spec: drop comments and white space */
	depth = 0;
	for (size_t i = 0; i < len && n < sizeof(buf) - 1; i++) {
		char c = p[i];
		if (depth > 0) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		if (!isspace((unsigned char)c))
			buf[n++] = c;
	}
	return submit_rcpt_add(r, buf, n);
}

int submit_parse_addresses(const char *value, size_t len,
			   struct submit_rcpts *r)
{
	size_t start = 0;
	struct rfc5322_scan sc = {0, 0};
	int angle = 0;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? value[i] : ',';
		if (sc.quote || sc.depth > 0) {
			/* unterminated at the end: the last element is dropped */
			if (i < len)
				scan_skip(&sc, value, len, &i);
			continue;
		}
		switch (c) {
		case '"':
			sc.quote = 1;
			break;
		case '(':
			sc.depth = 1;
			break;
		case '<':
			angle = 1;
			break;
		case '>':
			angle = 0;
			break;
		case ':': /* "group: a, b;": the display name goes */
			if (!angle)
				start = i + 1;
			break;
		case ',':
		case ';':
			if (angle)
				break;
			if (take_element(value + start, i - start, r) != 0)
				return -1;
			start = i + 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

int submit_read_headers(char *msg, size_t *len, struct submit_rcpts *r)
{
	struct msghdr_iter it;
	struct msghdr_field f;
	size_t out = 0, body, n = *len;

	msghdr_iter_init(&it, msg, n);
	while (msghdr_iter_next(&it, &f)) {
		size_t nl = f.name_len;
		int bcc = msghdr_field_is(&f, "bcc");
		int want = bcc || msghdr_field_is(&f, "to") ||
			   msghdr_field_is(&f, "cc");

		if (want && r != NULL) {
			/* unfold: line ends become spaces */
			size_t vl = f.len - nl - 1;
			char *v = malloc(vl + 1);
			if (v == NULL)
				return -1;
			memcpy(v, f.p + nl + 1, vl);
			for (size_t i = 0; i < vl; i++)
				if (v[i] == '\r' || v[i] == '\n')
					v[i] = ' ';
			v[vl] = '\0';
			if (submit_parse_addresses(v, vl, r) != 0) {
				free(v);
				return -1;
			}
			free(v);
		}
		if (!bcc) {
			/* out <= the field's offset: nothing unread moves */
			memmove(msg + out, f.p, f.len);
			out += f.len;
		}
	}
	body = msghdr_iter_pos(&it);
	memmove(msg + out, msg + body, n - body);
	*len = out + (n - body);
	return 0;
}

/* ---- reading the message ---- */

/* Read f to its end (or, with dot_ends, to a line of one "."). 0 or -1
 * after a message. */
static int read_message(FILE *f, const char *what, int dot_ends, char **out,
			size_t *outlen)
{
	size_t cap = 65536, n = 0, line_start = 0;
	char *buf = malloc(cap);
	int c;

	if (buf == NULL)
		goto err_nomem;
	while ((c = getc(f)) != EOF) {
		if (n + 2 > cap) {
			char *p;
			if (cap >= SUBMIT_MAX) {
				fprintf(stderr,
					"smtpctl: %s: message larger than "
					"%u bytes\n",
					what, SUBMIT_MAX);
				free(buf);
				return -1;
			}
			p = realloc(buf, cap * 2);
			if (p == NULL)
				goto err_nomem;
			buf = p;
			cap *= 2;
		}
		buf[n++] = (char)c;
		if (c != '\n')
			continue;
		if (dot_ends &&
		    ((n - line_start == 2 && buf[line_start] == '.') ||
		     (n - line_start == 3 && buf[line_start] == '.' &&
		      buf[line_start + 1] == '\r'))) {
			n = line_start;
			break;
		}
		line_start = n;
	}
	if (ferror(f)) {
		fprintf(stderr, "smtpctl: reading %s: %s\n", what,
			strerror(errno));
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
err_nomem:
	free(buf);
	fprintf(stderr, "smtpctl: out of memory reading %s\n", what);
	return -1;
}

/* ---- sending ---- */

/* base64 of n bytes as a JSON string. */
static json_object *b64(const char *p, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	unsigned char *out = malloc(cap);
	json_object *s;

	if (out == NULL)
		return NULL;
	EVP_EncodeBlock(out, (const unsigned char *)p, (int)n);
	s = json_object_new_string((const char *)out);
	free(out);
	return s;
}

/* Send the message in chunks on one connection: 0 and the node's last
 * answer in *out, or a client error (CLIENT_E_*, the reason in err). */
int submission_exchange(struct submission *s, json_object **out, char *err,
			size_t errsize)
{
	struct client_conn *c = NULL;
	json_object *answer = NULL;
	size_t off = 0, ri = 0;
	int rc;

	*out = NULL;
	rc = client_open(s->sock, &c, err, errsize);
	if (rc != 0)
		return rc;
	for (;;) {
		json_object *args = json_object_new_object(), *list;
		size_t rbytes = 0, chunk;
		int last;

		list = json_object_new_array();
		while (ri < s->rcpts.n && rbytes < SUBMIT_RCPT_BATCH) {
			rbytes += strlen(s->rcpts.v[ri]) * 6 + 4;
			json_object_array_add(
			    list, json_object_new_string(s->rcpts.v[ri++]));
		}
		json_object_object_add(args, "recipients", list);
		chunk = ri < s->rcpts.n ? 0 : s->len - off;
		if (chunk > SUBMIT_CHUNK)
			chunk = SUBMIT_CHUNK;
		last = ri == s->rcpts.n && off + chunk == s->len;
		json_object_object_add(args, "body", b64(s->msg + off, chunk));
		off += chunk;
		if (!last)
			json_object_object_add(args, "more",
					       json_object_new_boolean(1));
		if (last && s->sender != NULL)
			json_object_object_add(
			    args, "sender", json_object_new_string(s->sender));
		if (last && s->fullname != NULL)
			json_object_object_add(
			    args, "full_name",
			    json_object_new_string(s->fullname));
		rc = client_request(c, "submit", args, exec_timeout_ms(),
				    &answer, err, errsize);
		json_object_put(args);
		if (rc != 0) {
			client_close(c);
			return rc;
		}
		if (last || !client_answer_ok(answer))
			break;
		json_object_put(answer);
		answer = NULL;
	}
	client_close(c);
	*out = answer;
	return 0;
}

/* Send the message; the exit status (the answer printed). */
static int submission_send(struct submission *s)
{
	json_object *answer = NULL;
	char err[512];
	int rc = submission_exchange(s, &answer, err, sizeof(err));

	if (rc != 0)
		return exec_client_error("submit", rc, err);
	rc = exec_answer(answer, output_submit, s->json, s->quiet);
	json_object_put(answer);
	return rc;
}

void submission_free(struct submission *s)
{
	submit_rcpts_free(&s->rcpts);
	free(s->msg);
}

/* Read the message from path ("-" or NULL: stdin), apply -t, send. */
int submission_run(struct submission *s, const char *path, int dot_ends,
		   int read_rcpts, int usage_status)
{
	FILE *f = stdin;
	int rc;

	if (path != NULL && strcmp(path, "-") != 0) {
		f = fopen(path, "rb");
		if (f == NULL) {
			fprintf(stderr, "smtpctl: cannot open %s: %s\n", path,
				strerror(errno));
			return EXEC_FAILED;
		}
	}
	rc = read_message(
	    f, path != NULL && strcmp(path, "-") ? path : "standard input",
	    dot_ends, &s->msg, &s->len);
	if (f != stdin)
		fclose(f);
	if (rc != 0)
		return EXEC_FAILED;
	/* Bcc: is always removed; its recipients are added only with -t */
	if (submit_read_headers(s->msg, &s->len,
				read_rcpts ? &s->rcpts : NULL) != 0) {
		fprintf(stderr, "smtpctl: out of memory\n");
		return EXEC_FAILED;
	}
	if (s->rcpts.n == 0) {
		fprintf(stderr,
			"smtpctl: submit: no recipients (give them as "
			"arguments, or -t to read To:, Cc: and Bcc:)\n");
		return usage_status;
	}
	return submission_send(s);
}

/* 1 if the last argument names the message file. */
static int is_message_file(const char *s)
{
	struct stat st;

	if (strcmp(s, "-") == 0)
		return 1;
	return strchr(s, '@') == NULL && stat(s, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

int submit_run(const char *sock, const struct grammar_match *m, int json)
{
	struct submission s;
	json_object *v, *list = NULL;
	const char *path = NULL;
	size_t n = 0;
	int read_rcpts = 0, rc;

	memset(&s, 0, sizeof(s));
	s.sock = sock;
	s.json = json;
	if (json_object_object_get_ex(m->args, "sender", &v))
		s.sender = json_object_get_string(v);
	if (json_object_object_get_ex(m->args, "full_name", &v))
		s.fullname = json_object_get_string(v);
	if (json_object_object_get_ex(m->args, "read_recipients", &v))
		read_rcpts = json_object_get_boolean(v);
	if (json_object_object_get_ex(m->args, "file", &v))
		path = json_object_get_string(v);
	if (json_object_object_get_ex(m->args, "recipients", &list))
		n = json_object_array_length(list);
	if (path == NULL && n > 0 &&
	    is_message_file(
		json_object_get_string(json_object_array_get_idx(list, n - 1))))
		path = json_object_get_string(
		    json_object_array_get_idx(list, --n));
	for (size_t i = 0; i < n; i++) {
		const char *a =
		    json_object_get_string(json_object_array_get_idx(list, i));
		if (submit_rcpt_add(&s.rcpts, a, strlen(a)) != 0) {
			submission_free(&s);
			fprintf(stderr, "smtpctl: out of memory\n");
			return EXEC_FAILED;
		}
	}
	rc = submission_run(&s, path, 0, read_rcpts, EXEC_USAGE);
	submission_free(&s);
	return rc;
}

/* ---- import aliases ---- */

/* The alias file: the one named, else the seed's names in the current
 * directory. NULL after a message. */
static const char *aliases_path(const struct grammar_match *m)
{
	static const char *const names[] = {
	    "TCPIP$SMTP_LOCAL_ALIASES.TXT", "UCX$SMTP_LOCAL_ALIASES.TXT",
	    "tcpip$smtp_local_aliases.txt", "ucx$smtp_local_aliases.txt"};
	json_object *v;

	if (json_object_object_get_ex(m->args, "file", &v))
		return json_object_get_string(v);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (access(names[i], R_OK) == 0)
			return names[i];
	fprintf(stderr,
		"smtpctl: import aliases: no file named and neither "
		"TCPIP$SMTP_LOCAL_ALIASES.TXT nor UCX$SMTP_LOCAL_ALIASES.TXT "
		"is in the current directory\n");
	return NULL;
}

int import_aliases_run(const char *sock, const struct grammar_match *m,
		       int json)
{
	struct aliases al;
	json_object *args, *list;
	const char *path = aliases_path(m);
	FILE *f;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL)
		return EXEC_USAGE;
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "smtpctl: cannot open %s: %s\n", path,
			strerror(errno));
		return EXEC_FAILED;
	}
	rc = read_message(f, path, 0, &text, &len);
	fclose(f);
	if (rc != 0)
		return EXEC_FAILED;
	if (len > ALIASES_FILE_MAX) {
		fprintf(stderr, "smtpctl: %s: larger than %u bytes\n", path,
			ALIASES_FILE_MAX);
		free(text);
		return EXEC_USAGE;
	}
	memset(&al, 0, sizeof(al));
	rc = aliases_parse(text, len, &al);
	free(text);
	if (rc != 0) {
		if (rc == SPOOL_E_INVAL)
			fprintf(stderr, "smtpctl: %s: %s\n", path,
				al.err); /* "line N: why" */
		else
			fprintf(stderr, "smtpctl: %s: %s\n", path,
				spool_strerror(rc));
		aliases_free(&al);
		return rc == SPOOL_E_INVAL ? EXEC_USAGE : EXEC_FAILED;
	}
	args = json_object_new_object();
	list = json_object_new_array();
	for (size_t i = 0; i < al.n; i++)
		json_object_array_add(list,
				      json_object_new_string(al.names[i]));
	json_object_object_add(args, "domains", list);
	json_object_object_add(args, "source", json_object_new_string(path));
	aliases_free(&al);
	rc = exec_request(sock, m->name, args, m->cmd->print, json);
	json_object_put(args);
	return rc;
}
