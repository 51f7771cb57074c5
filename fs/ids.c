/* ids.c - agent ids and progress ids, checked (ids.h). Pure. */
#include "cekurafs/ids.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static uint64_t id_of(const void *record, size_t id_at)
{
	uint64_t id;

	memcpy(&id, (const char *)record + id_at, sizeof(id));
	return id;
}

/* Ascending id; for one id, the record earlier in add (lower address) first. */
static int by_id_then_place(const void *x, const void *y, void *arg)
{
	const char *a = *(const char *const *)x, *b = *(const char *const *)y;
	uint64_t ia = id_of(a, *(const size_t *)arg), ib = id_of(b, *(const size_t *)arg);

	if(ia != ib)
		return ia < ib ? -1 : 1;
	return a < b ? -1 : a > b ? 1 : 0;
}

int ids_merge(void **v, size_t *n, void *add, size_t k, size_t size, size_t id_at, void (*drop)(void *))
{
	char **order, *out, *old = *v;
	size_t i = 0, j = 0, o = 0;

	if(k == 0)
		return 0;
	order = calloc(k, sizeof(*order));
	out = calloc(*n + k, size);
	if(!order || !out) {
		free(order);
		free(out);
		for(size_t a = 0; a < k; a++)
			drop((char *)add + a * size);
		return -ENOMEM;
	}
	for(size_t a = 0; a < k; a++)
		order[a] = (char *)add + a * size;
	qsort_r(order, k, sizeof(*order), by_id_then_place, &id_at);
	while(i < *n || j < k) {
		if(j < k && o > 0 && id_of(order[j], id_at) == id_of(out + (o - 1) * size, id_at)) {
			drop(order[j++]); /* a later record of the same id */
			continue;
		}
		if(j == k || (i < *n && id_of(old + i * size, id_at) < id_of(order[j], id_at)))
			memcpy(out + o++ * size, old + i++ * size, size);
		else
			memcpy(out + o++ * size, order[j++], size);
	}
	free(order);
	free(old);
	*v = out;
	*n = o;
	return 0;
}
