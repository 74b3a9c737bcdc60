/*
 * ctlname.c — making and parsing control-file names
 * yymmddhhmmsscc_user-name_seq.TCPIP_scnode (DESIGN.md "Control files",
 * after the seed's section 18.1.2).
 *
 * Owns: the name syntax, and the UTC calendar conversion it needs (done
 * here with the days-from-civil algorithms, never gmtime(), so the result
 * depends on nothing but the arguments).
 * Rules chosen here:
 *   - yy is the year minus 2000, so only times in 2000-01-01T00:00:00Z ..
 *     2099-12-31T23:59:59.99Z can be named; ctlname_make() returns
 *     SPOOL_E_INVAL for any other time.
 *   - Seconds are 00..59: names are made from POSIX time, which has no leap
 *     seconds, so "60" is refused by ctlname_parse().
 *   - The day is checked against the month's real length (leap years
 *     included): 000230... is refused.
 *   - ".TCPIP_" is matched case-sensitively; seq is exactly 8 lower-case
 *     hex digits.
 * Fails with negative SPOOL_E_* codes; never writes past the caller's
 * buffer.
 */
#include <stdio.h>
#include <string.h>

#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"
#include "spool/codec/record.h"

#define STAMP_LEN 14 /* yymmddhhmmsscc */
#define SEQ_LEN 8
#define TAG ".TCPIP_"
#define TAG_LEN 7

#define DAY_MS 86400000ull
#define MS_2000 946684800000ull	 /* 2000-01-01T00:00:00Z */
#define MS_2100 4102444800000ull /* 2100-01-01T00:00:00Z */

/* Civil date (proleptic Gregorian) of day z since 1970-01-01
 * (H. Hinnant's civil_from_days, for z >= 0). */
static void civil_from_days(uint64_t z, int *y, int *m, int *d)
{
	uint64_t zz = z + 719468;
	uint64_t era = zz / 146097;
	uint64_t doe = zz - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	uint64_t dd = doy - (153 * mp + 2) / 5 + 1;
	uint64_t mm = mp < 10 ? mp + 3 : mp - 9;
	uint64_t yy = yoe + era * 400 + (mm <= 2 ? 1 : 0);

	*y = (int)yy;
	*m = (int)mm;
	*d = (int)dd;
}

/* Days in month m (1..12) of year y. */
static int month_days(int y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : len[m - 1];
}

/* 1 if c may appear in a user-name. */
static int user_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '$' || c == '.' || c == '_' ||
	       c == '-';
}

/* 1 if c may appear in a node name. */
static int node_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* 1 if the n bytes at s are 1..max characters accepted by ok(). */
static int span_ok(const char *s, size_t n, size_t max, int (*ok)(int))
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return 0;
	return 1;
}

int ctlname_user_ok(const char *s)
{
	if (s == NULL)
		return 0;
	return span_ok(s, strnlen(s, CTLNAME_USER_MAX + 1), CTLNAME_USER_MAX,
		       user_char);
}

int ctlname_node_ok(const char *s)
{
	if (s == NULL)
		return 0;
	return span_ok(s, strnlen(s, CTLNAME_NODE_MAX + 1), CTLNAME_NODE_MAX,
		       node_char);
}

int ctlname_make(char *buf, size_t size, uint64_t ms, const char *user,
		 uint32_t seq, const char *node)
{
	int y, mo, d, n;
	uint64_t in_day;

	if (buf != NULL && size > 0)
		buf[0] = '\0';
	if (!ctlname_user_ok(user) || !ctlname_node_ok(node))
		return SPOOL_E_BADNAME;
	if (ms < MS_2000 || ms >= MS_2100)
		return SPOOL_E_INVAL;
	if (buf == NULL || size == 0)
		return SPOOL_E_LIMIT;
	civil_from_days(ms / DAY_MS, &y, &mo, &d);
	in_day = ms % DAY_MS;
	n = snprintf(buf, size, "%02d%02d%02d%02u%02u%02u%02u_%s_%08x" TAG "%s",
		     y - 2000, mo, d, (unsigned)(in_day / 3600000),
		     (unsigned)(in_day / 60000 % 60),
		     (unsigned)(in_day / 1000 % 60),
		     (unsigned)(in_day % 1000 / 10), user, (unsigned)seq, node);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return SPOOL_E_LIMIT;
	}
	return 0;
}

/* Value of the two decimal digits at s, or -1. */
static int two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Value of hex digit c (lower case only), or -1. */
static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse the 14-digit stamp at s into out's time fields; 0 or -1. */
static int parse_stamp(const char *s, struct ctlname *out)
{
	int v[7];

	for (int i = 0; i < 7; i++)
		if ((v[i] = two_digits(s + 2 * i)) < 0)
			return -1;
	out->year = 2000 + v[0];
	out->month = v[1];
	out->day = v[2];
	out->hour = v[3];
	out->min = v[4];
	out->sec = v[5];
	out->centi = v[6];
	if (out->month < 1 || out->month > 12 || out->day < 1 ||
	    out->day > month_days(out->year, out->month) || out->hour > 23 ||
	    out->min > 59 || out->sec > 59)
		return -1;
	return 0;
}

int ctlname_parse(const char *name, struct ctlname *out)
{
	struct ctlname tmp;
	size_t len, node_len, user_len;
	const char *dot, *seq_at;
	uint32_t seq = 0;

	if (name == NULL)
		return SPOOL_E_BADNAME;
	len = strnlen(name, SPOOL_NAME_MAX + 1);
	if (len > SPOOL_NAME_MAX)
		return SPOOL_E_BADNAME;
	/* The node has no '.', so the last '.' starts ".TCPIP_". */
	dot = strrchr(name, '.');
	if (dot == NULL || strncmp(dot, TAG, TAG_LEN) != 0)
		return SPOOL_E_BADNAME;
	node_len = len - (size_t)(dot + TAG_LEN - name);
	if (!span_ok(dot + TAG_LEN, node_len, CTLNAME_NODE_MAX, node_char))
		return SPOOL_E_BADNAME;
	/* "_" seq immediately before the dot; the stamp and "_" before user. */
	if ((size_t)(dot - name) < STAMP_LEN + 1 + 1 + 1 + SEQ_LEN)
		return SPOOL_E_BADNAME;
	seq_at = dot - SEQ_LEN;
	if (seq_at[-1] != '_' || name[STAMP_LEN] != '_')
		return SPOOL_E_BADNAME;
	for (int i = 0; i < SEQ_LEN; i++) {
		int h = hex_digit((unsigned char)seq_at[i]);

		if (h < 0)
			return SPOOL_E_BADNAME;
		seq = seq << 4 | (uint32_t)h;
	}
	user_len = (size_t)(seq_at - 1 - (name + STAMP_LEN + 1));
	if (!span_ok(name + STAMP_LEN + 1, user_len, CTLNAME_USER_MAX,
		     user_char))
		return SPOOL_E_BADNAME;
	memset(&tmp, 0, sizeof(tmp));
	if (parse_stamp(name, &tmp) < 0)
		return SPOOL_E_BADNAME;
	memcpy(tmp.user, name + STAMP_LEN + 1, user_len);
	tmp.user[user_len] = '\0';
	tmp.seq = seq;
	memcpy(tmp.node, dot + TAG_LEN, node_len);
	tmp.node[node_len] = '\0';
	if (out != NULL)
		*out = tmp;
	return 0;
}
