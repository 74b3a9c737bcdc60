/*
 * grammar_types.c — the values smtpctl's grammar accepts (grammar.h):
 * placeholder types (node ids, addresses, domains, user names, control-file
 * names, entry numbers, ...), durations (90s, 30m, 1h30m, HH:MM; a plain
 * number is minutes, the OpenVMS unit) and times (now, a duration from
 * now, YYYY-MM-DD[THH:MM[:SS]][Z], OpenVMS DD-MMM-YYYY[:HH:MM[:SS]]).
 *
 * Owns: ph_types[] and the duration and time syntax. Pure but for the
 * clock (grammar_clock, replaceable by tests) and the local time zone of
 * times without Z. Refusals are NULL or -1 returns; nothing is printed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/grammar_impl.h"
#include "src/base/clock.h"
#include "spool/codec/aliases.h"
#include "spool/codec/ctlname.h"
#include "spool/codec/hostname.h"
#include "spool/codec/tlspolicy.h"
#include "spool/codec/hostport.h"
#include "spool/codec/record.h"

/* ---- the clock ---- */

static int64_t real_clock(void)
{
	return (int64_t)clock_wall_ms();
}

int64_t (*grammar_clock)(void) = real_clock;

/* ---- durations and times ---- */

#define MS_SEC 1000ull
#define MS_MIN (60 * MS_SEC)
#define MS_HOUR (60 * MS_MIN)
#define MS_DAY (24 * MS_HOUR)
#define DURATION_MAX (100 * 366 * MS_DAY)

/* Read a decimal number; the end in *end. 0 or -1. */
static int read_uint(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*end = p;
	*out = v;
	return 0;
}

/* "H:MM[:SS]" at p (hours of at most hdigits digits, 0: any), minutes and
 * seconds two digits each and at most 59; seconds 0 when absent. 0 and
 * the end in *end, or -1. */
static int read_hms(const char *p, const char **end, int hdigits, uint64_t *h,
		    uint64_t *m, uint64_t *sec)
{
	const char *e;

	if (read_uint(p, &e, h) != 0 || (hdigits > 0 && e - p > hdigits) ||
	    *e != ':')
		return -1;
	p = e + 1;
	if (read_uint(p, &e, m) != 0 || e - p != 2 || *m > 59)
		return -1;
	p = e;
	*sec = 0;
	if (*p == ':') {
		p++;
		if (read_uint(p, &e, sec) != 0 || e - p != 2 || *sec > 59)
			return -1;
		p = e;
	}
	*end = p;
	return 0;
}

int grammar_parse_duration(const char *s, uint64_t *ms)
{
	const char *p = s, *end;
	uint64_t total = 0, v;
	int parts = 0;

	if (s == NULL || *s == '\0')
		return -1;
	if (strchr(s, ':') != NULL) {
		uint64_t h, m, sec;
		if (read_hms(p, &end, 0, &h, &m, &sec) != 0 || *end != '\0' ||
		    h > DURATION_MAX / MS_HOUR)
			return -1;
		*ms = h * MS_HOUR + m * MS_MIN + sec * MS_SEC;
		return 0;
	}
	while (*p != '\0') {
		uint64_t unit;
		if (read_uint(p, &end, &v) != 0)
			return -1;
		p = end;
		switch (tolower((unsigned char)*p)) {
		case 's':
			unit = MS_SEC;
			break;
		case 'm':
			unit = MS_MIN;
			break;
		case 'h':
			unit = MS_HOUR;
			break;
		case 'd':
			unit = MS_DAY;
			break;
		case 'w':
			unit = 7 * MS_DAY;
			break;
		case '\0':
			if (parts > 0)
				return -1; /* "1h30": say what 30 is */
			unit = MS_MIN;	   /* the OpenVMS unit */
			p--;
			break;
		default:
			return -1;
		}
		p++;
		if (v > DURATION_MAX / unit || total + v * unit > DURATION_MAX)
			return -1;
		total += v * unit;
		parts++;
	}
	*ms = total;
	return 0;
}

static const char *const months[12] = {"JAN", "FEB", "MAR", "APR",
				       "MAY", "JUN", "JUL", "AUG",
				       "SEP", "OCT", "NOV", "DEC"};

/* Parse the time of day after a date: [sep HH:MM[:SS]][Z]. */
static int parse_clock(const char *p, struct tm *tm, int *utc)
{
	uint64_t h, m, sec = 0;
	const char *end;

	*utc = 0;
	if (*p == 'T' || *p == 't' || *p == ' ' || *p == ':') {
		if (read_hms(p + 1, &end, 2, &h, &m, &sec) != 0 || h > 23)
			return -1;
		p = end;
		tm->tm_hour = (int)h;
		tm->tm_min = (int)m;
		tm->tm_sec = (int)sec;
	}
	if (*p == 'Z' || *p == 'z') {
		*utc = 1;
		p++;
	}
	return *p == '\0' ? 0 : -1;
}

/* YYYY-MM-DD... or DD-MMM-YYYY... into ms; 0 or -1. */
static int parse_date(const char *s, int64_t *out)
{
	struct tm tm, check;
	const char *p = s, *end;
	uint64_t a, b, c;
	time_t t;
	int utc;

	memset(&tm, 0, sizeof(tm));
	if (read_uint(p, &end, &a) != 0 || *end != '-')
		return -1;
	p = end + 1;
	if (end - s == 4) { /* YYYY-MM-DD */
		if (read_uint(p, &end, &b) != 0 || end - p != 2 || *end != '-')
			return -1;
		p = end + 1;
		if (read_uint(p, &end, &c) != 0 || end - p != 2)
			return -1;
		tm.tm_year = (int)a - 1900;
		tm.tm_mon = (int)b - 1;
		tm.tm_mday = (int)c;
	} else if (end - s <= 2) { /* DD-MMM-YYYY (OpenVMS) */
		int mon = -1;
		for (int i = 0; i < 12; i++)
			if (strncasecmp(p, months[i], 3) == 0)
				mon = i;
		if (mon < 0 || p[3] != '-')
			return -1;
		p += 4;
		if (read_uint(p, &end, &c) != 0 || end - p != 4)
			return -1;
		tm.tm_year = (int)c - 1900;
		tm.tm_mon = mon;
		tm.tm_mday = (int)a;
	} else {
		return -1;
	}
	p = end;
	if (tm.tm_year < 70 || tm.tm_year > 1100 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	if (parse_clock(p, &tm, &utc) != 0)
		return -1;
	check = tm;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || tm.tm_mday != check.tm_mday ||
	    tm.tm_mon != check.tm_mon)
		return -1; /* 31-FEB and the like */
	*out = (int64_t)t * 1000;
	return 0;
}

int grammar_parse_time(const char *s, int future, int64_t now_ms, int64_t *out)
{
	uint64_t d;
	int dir = future ? 1 : -1;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcasecmp(s, "now") == 0) {
		*out = now_ms;
		return 0;
	}
	if (parse_date(s, out) == 0)
		return 0;
	if (*s == '+' || *s == '-') {
		dir = *s == '+' ? 1 : -1;
		s++;
	}
	if (grammar_parse_duration(s, &d) != 0)
		return -1;
	*out = now_ms + dir * (int64_t)d;
	return *out > 0 ? 0 : -1;
}

/* ---- placeholder and value types ---- */

/* 1 if s is HOST:PORT or [V6]:PORT with a port in 1..65535. */
static int addr_ok(const char *s)
{
	struct hostport hp;

	if (hostport_parse(s, &hp) != 0)
		return 0;
	return hp.bracketed ? hostname_loose6_ok(hp.host, hp.host_len)
			    : hostname_loose_ok(hp.host, hp.host_len);
}

/* 1 if s is a domain name fit for the alias table. */
static int domain_ok(const char *s)
{
	return strlen(s) <= ALIASES_NAME_MAX && aliases_domain_ok(s);
}

/* 1 for a host name or an IP address (an MX gateway). */
static int gateway_ok(const char *s)
{
	return hostname_ip_ok(s) || aliases_domain_ok(s);
}

/* 1 if s is printable ASCII without blanks, 1..max bytes. */
static int word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s > '~')
			return 0;
	return 1;
}

static int target_ok(const char *s)
{
	return word_ok(s, 255);
}

static int rcpt_ok(const char *s)
{
	return word_ok(s, SPOOL_ADDR_MAX);
}

static int file_ok(const char *s)
{
	return s[0] != '\0' && strlen(s) < 4096;
}

/* A full name for From: (sendmail -F): one line; the node checks the
 * rest (length, control characters). */
static int text_ok(const char *s)
{
	return strchr(s, '\n') == NULL && strchr(s, '\r') == NULL;
}

static int ctlname_ok(const char *s)
{
	return ctlname_parse(s, NULL) == 0;
}

/* The one word of list (case-insensitive, unambiguous prefix) s stands
 * for, or NULL. */
static const char *pick_word(const char *s, const char *const *list)
{
	const char *found = NULL;
	size_t n = strlen(s);

	if (n == 0)
		return NULL;
	for (int i = 0; list[i] != NULL; i++) {
		if (strcasecmp(list[i], s) == 0)
			return list[i];
		if (strncasecmp(list[i], s, n) == 0) {
			if (found != NULL)
				return NULL;
			found = list[i];
		}
	}
	return found;
}

static json_object *conv_rcptfilter(const char *s)
{
	static const char *const words[] = {"all", "failed", "sent", "unsent",
					    NULL};
	const char *w = pick_word(s, words);

	return w != NULL ? json_object_new_string(w) : NULL;
}

static const char *const damage_kinds[] = {
    "ctl-corrupt",   "ctl-delete",    "body-delete",
    "body-orphan",   "due-delete",    "due-orphan",
    "byuser-delete", "byuser-orphan", NULL};

static json_object *conv_damage(const char *s)
{
	for (int i = 0; damage_kinds[i] != NULL; i++)
		if (strcmp(s, damage_kinds[i]) == 0)
			return json_object_new_string(s);
	return NULL;
}

static json_object *conv_time(const char *s, int future)
{
	int64_t t;

	if (grammar_parse_time(s, future, grammar_clock(), &t) != 0)
		return NULL;
	return json_object_new_int64(t);
}

static json_object *conv_future(const char *s)
{
	return conv_time(s, 1);
}

static json_object *conv_past(const char *s)
{
	return conv_time(s, 0);
}

static json_object *conv_duration(const char *s)
{
	uint64_t ms;

	if (grammar_parse_duration(s, &ms) != 0 || ms == 0)
		return NULL;
	return json_object_new_int64((int64_t)ms);
}

static json_object *conv_sender(const char *s)
{
	if (s[0] == '\0' || strcmp(s, "<>") == 0)
		return json_object_new_string("");
	return rcpt_ok(s) ? json_object_new_string(s) : NULL;
}

/* An outbound TLS policy key (example.com or .example.com). */
static int tlsdomain_ok(const char *s)
{
	return tlspol_key_ok(s);
}

/* A file the node reads (a certificate, a key): made absolute here, as the
 * daemon's working directory is not the caller's. NULL if it does not
 * exist. */
static json_object *conv_abspath(const char *s)
{
	char *p;
	json_object *o;

	if (s[0] == '\0' || (p = realpath(s, NULL)) == NULL)
		return NULL;
	o = strlen(p) < 256 ? json_object_new_string(p) : NULL;
	free(p);
	return o;
}

/* A list of networks (ADDR/BITS separated by commas) or "none"; the node
 * checks each one. */
static int nets_ok(const char *s)
{
	if (strcmp(s, "none") == 0)
		return 1;
	if (s[0] == '\0' || strlen(s) > 255)
		return 0;
	for (; *s != '\0'; s++)
		if (!isxdigit((unsigned char)*s) && strchr("./:, ", *s) == NULL)
			return 0;
	return 1;
}

/* none, may, encrypt or verify, as the daemon names them. */
static json_object *conv_tlslevel(const char *s)
{
	int lv = tlspol_level_parse(s);

	return lv < 0 ? NULL : json_object_new_string(tlspol_level_name(lv));
}

static const struct ph_type ph_types[] = {
    {"id", PH_NUM, 0, 1, INT64_MAX, NULL, NULL,
     "a node id (a positive integer)", "ID"},
    {"address", PH_STR, 0, 0, 0, addr_ok, NULL,
     "HOST:PORT (IPv6 as [ADDR]:PORT)", "HOST:PORT"},
    {"domain", PH_STR, 0, 0, 0, domain_ok, NULL,
     "a domain name (at most 64 characters)", "DOMAIN"},
    {"count", PH_NUM, 0, 1, 1000000, NULL, NULL, "a count (1..1000000)", "N"},
    {"size", PH_NUM, 1, 0, 1024ull * 1024 * 1024, NULL, NULL,
     "a size in bytes (suffix k, m or g for KiB, MiB, GiB)", "SIZE"},
    {"user", PH_STR, 0, 0, 0, ctlname_user_ok, NULL,
     "a user name (letters, digits, $ . _ -)", "USER"},
    {"host", PH_STR, 0, 0, 0, aliases_domain_ok, NULL, "a host or domain name",
     "NAME"},
    {"gateway", PH_STR, 0, 0, 0, gateway_ok, NULL,
     "a host name or an IP address", "HOST"},
    {"pref", PH_NUM, 0, 0, 65535, NULL, NULL,
     "an MX preference (0..65535, lower is tried first)", "N"},
    {"ip", PH_STR, 0, 0, 0, hostname_ip_ok, NULL, "an IPv4 or IPv6 address",
     "ADDR"},
    {"target", PH_STR, 0, 0, 0, target_ok, NULL, "a user name or mail address",
     "TARGET"},
    {"rcpt", PH_STR, 0, 0, 0, rcpt_ok, NULL,
     "a mail address (a bare name gets the cluster's domain)", "ADDRESS"},
    {"file", PH_STR, 0, 0, 0, file_ok, NULL, "a file name", "FILE"},
    {"text", PH_STR, 0, 0, 0, text_ok, NULL, "one line of text", "TEXT"},
    {"ctlname", PH_STR, 0, 0, 0, ctlname_ok, NULL,
     "a control-file name (yymmddhhmmsscc_user_seq.TCPIP_node)", "NAME"},
    {"entry", PH_NUM, 0, 1, UINT32_MAX, NULL, NULL,
     "an entry number as shown by show mail (1, 2, ...)", "N"},
    {"rcptfilter", PH_CONV, 0, 0, 0, NULL, conv_rcptfilter,
     "all, failed, sent or unsent", "WHICH"},
    {"after", PH_CONV, 0, 0, 0, NULL, conv_future,
     "a time: now, a duration from now (30m, 2h), YYYY-MM-DD[THH:MM[:SS]]"
     "[Z] or DD-MMM-YYYY[:HH:MM]",
     "TIME"},
    {"past", PH_CONV, 0, 0, 0, NULL, conv_past,
     "a time: a duration back from now (3d, 12h), YYYY-MM-DD[THH:MM[:SS]]"
     "[Z] or DD-MMM-YYYY[:HH:MM]",
     "TIME"},
    {"kind", PH_CONV, 0, 0, 0, NULL, conv_damage,
     "ctl-corrupt, ctl-delete, body-delete, body-orphan, due-delete, "
     "due-orphan, byuser-delete or byuser-orphan",
     "KIND"},
    {"duration", PH_CONV, 0, 0, 0, NULL, conv_duration,
     "a duration: 90s, 30m, 1h, 3d, 1h30m or HH:MM (a plain number is "
     "minutes)",
     "DURATION"},
    {"sender", PH_CONV, 0, 0, 0, NULL, conv_sender,
     "a mail address, or <> (or \"\") for the null sender", "ADDRESS"},
    {"tlsdomain", PH_STR, 0, 0, 0, tlsdomain_ok, NULL,
     "a domain (example.com) or every domain below one (.example.com)",
     "DOMAIN"},
    {"tlslevel", PH_CONV, 0, 0, 0, NULL, conv_tlslevel,
     "none, may, encrypt or verify", "LEVEL"},
    {"sessions", PH_NUM, 0, 1, 100000, NULL, NULL,
     "a number of sessions (1..100000)", "N"},
    {"nets", PH_STR, 0, 0, 0, nets_ok, NULL,
     "networks ADDR/BITS separated by commas, or none", "LIST"},
    {"abspath", PH_CONV, 0, 0, 0, NULL, conv_abspath,
     "an existing file (at most 255 bytes once made absolute)", "FILE"},
    {NULL, PH_STR, 0, 0, 0, NULL, NULL, NULL, NULL},
};

const struct ph_type *grammar_ph_find(const char *name)
{
	for (const struct ph_type *p = ph_types; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* Parse a number with optional binary suffix; 0 or -1. */
int grammar_parse_num(const char *s, int suffixes, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (!suffixes || end[1] != '\0')
			return -1;
		switch (*end) {
		case 'k':
		case 'K':
			mult = 1024;
			break;
		case 'm':
		case 'M':
			mult = 1024 * 1024;
			break;
		case 'g':
		case 'G':
			mult = 1024 * 1024 * 1024;
			break;
		default:
			return -1;
		}
		if (v > UINT64_MAX / mult)
			return -1;
	}
	*out = (uint64_t)v * mult;
	return 0;
}

/* The JSON value of word s for type t, or NULL if refused. */
json_object *grammar_ph_value(const struct ph_type *t, const char *s)
{
	uint64_t v;

	switch (t->kind) {
	case PH_NUM:
		if (grammar_parse_num(s, t->suffixes, &v) != 0 || v < t->min ||
		    v > t->max)
			return NULL;
		return json_object_new_int64((int64_t)v);
	case PH_STR:
		return t->check(s) ? json_object_new_string(s) : NULL;
	default:
		return t->conv(s);
	}
}
