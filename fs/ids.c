/* ids.c - agent ids and progress ids, checked (ids.h). Pure. */
#include "cekurafs/ids.h"

#include <string.h>

bool ids_parse_agent(const char *s, size_t len, uint64_t *id)
{
	uint64_t v = 0;

	if(len == 0 || len > 19 || s[0] == '0')
		return false;
	for(size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if(d > 9)
			return false;
		if(v > ((uint64_t)IDS_AGENT_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*id = v;
	return true;
}

bool ids_valid_job(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if(n == 0 || n > IDS_JOB_MAX)
		return false;
	/* RFC 3986's unreserved characters: nothing to escape in a query */
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") == n;
}
