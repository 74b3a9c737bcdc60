/*
 * tlspolicy.c — the outbound TLS policy levels and table keys
 * (tlspolicy.h): level names both ways, the key rule and its folding.
 *
 * Owns: the names and the key syntax. Does not own the table (spool/store
 * apply_tables.c, spool.c's lookup) nor what a level does on the wire
 * (src/delivery). Pure; nothing here fails beyond returning "no".
 */
#include "spool/codec/tlspolicy.h"

#include <string.h>
#include <strings.h>

#include "spool/codec/aliases.h"

static const char *const level_names[TLSPOL__COUNT] = {
    [TLSPOL_DEFAULT] = "default", [TLSPOL_NONE] = "none",
    [TLSPOL_MAY] = "may",	  [TLSPOL_ENCRYPT] = "encrypt",
    [TLSPOL_VERIFY] = "verify",
};

const char *tlspol_level_name(int level)
{
	if (level < 0 || level >= TLSPOL__COUNT)
		return "?";
	return level_names[level];
}

int tlspol_level_parse(const char *s)
{
	for (int i = TLSPOL_NONE; i < TLSPOL__COUNT; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

size_t tlspol_fold(char *out, size_t size, const char *s)
{
	size_t n = strnlen(s, TLSPOL_KEY_MAX + 2);

	if (n > 1 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > TLSPOL_KEY_MAX || n + 1 > size)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a')
						      : s[i];
	out[n] = '\0';
	return n;
}

int tlspol_key_ok(const char *s)
{
	char low[TLSPOL_KEY_MAX + 1];
	size_t n = tlspol_fold(low, sizeof(low), s);
	const char *d = low;

	if (n == 0)
		return 0;
	if (d[0] == '.')
		d++;
	/* a domain of at most 253 octets by the alias table's rule */
	return strlen(d) > 0 && strlen(d) <= 253 && aliases_domain_ok(d);
}
