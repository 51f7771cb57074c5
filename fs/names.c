/* names.c - names from the API made into file names, unique within a directory.
 *
 *   $ ls agents/42/tools/
 *   Duplicate-27.json  Duplicate-28.json  Sales_Support.json  _.json
 *
 * The index is built with a few allocations whatever the number of names
 * (the entries, one arena for every name, and scratch freed before
 * returning), sorted once by safe name to find the shared ones and once by
 * final name for names_find(): O(n log n) for 100,000 agents.
 *
 * A thing renamed "<safe>-<id>" may take the name another thing has as it is
 * (two "x" with ids 1 and 2 beside one "x-1"): the thing whose name clashes
 * is then renamed "<safe>-<id>" too, so names stay unique. The API may send
 * one id twice (two copies of a tool): the second thing with a safe name and
 * an id already taken is "<safe>-<id>.2", the third "<safe>-<id>.3", and so
 * on. Two such names never clash: what follows the last '-' ("5" or "5.2",
 * no '-' in it) gives back the id and the copy, and the rest the safe name.
 */
#include "cekurafs/names.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/text.h"

/* "-" and the 20 digits of UINT64_MAX, then "." and the 20 digits of a copy's number */
#define ID_MAX 42

static bool is_continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* How many bytes of raw to keep: all, or at most NAMES_MAX, backing off over
 * at most the three continuation bytes a UTF-8 sequence can have. */
static size_t cut_length(const char *raw)
{
	size_t n = strnlen(raw, NAMES_MAX + 1);

	if(n <= NAMES_MAX)
		return n;
	n = NAMES_MAX;
	while(n > NAMES_MAX - 3 && is_continuation((unsigned char)raw[n]))
		n--;
	return n;
}

size_t names_safe(const char *raw, char *buf)
{
	size_t n = cut_length(raw), o = 0;

	if(n == 0 || (n == 1 && raw[0] == '.') || (n == 2 && raw[0] == '.' && raw[1] == '.'))
		buf[o++] = '_';
	for(size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		buf[o++] = c == '/' || TEXT_IS_CONTROL(c) ? '_' : (char)c;
	}
	buf[o] = '\0';
	return o;
}

static int by_name(const void *a, const void *b)
{
	const struct name_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	/* final names are unique; safe names are equal for things that share one */
	if(c == 0)
		c = (x->at > y->at) - (x->at < y->at);
	return c;
}

/* By name, then id, then position: copies of one (name, id) side by side, in input order. */
static int by_name_and_id(const void *a, const void *b)
{
	const struct name_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if(c == 0)
		c = (x->id > y->id) - (x->id < y->id);
	if(c == 0)
		c = (x->at > y->at) - (x->at < y->at);
	return c;
}

static int name_is(const void *name, const void *entry)
{
	return strcmp(name, ((const struct name_entry *)entry)->name);
}

/* An entry named name in v (n entries sorted by name), or NULL. While the
 * index is built, several may share a safe name: any of them is as good, as
 * they are all marked to get their id. */
static const struct name_entry *find_entry(const struct name_entry *v, size_t n, const char *name)
{
	if(n == 0)
		return NULL; /* v may be NULL: bsearch() must not see it */
	return bsearch(name, v, n, sizeof(*v), name_is);
}

const struct name_entry *names_find(const struct name_index *x, const char *name)
{
	return find_entry(x->v, x->n, name);
}

/* Scratch while building: entries named by their safe names, in arena. */
struct build {
	struct name_entry *v;
	size_t n;
	char *arena;
	bool *with_id; /* per position in v */
	size_t *copy;  /* per position in v: 0, or n for the n-th thing with this safe name and id (n >= 2) */
};

static const char *raw_name(const char *const *raw, size_t i)
{
	return raw[i] ? raw[i] : "";
}

static int build_safe_names(struct build *b, const char *const *raw, const uint64_t *ids)
{
	size_t size = 0, off = 0;

	for(size_t i = 0; i < b->n; i++)
		size += cut_length(raw_name(raw, i)) + 2; /* a leading '_' and the NUL */
	b->arena = malloc(size);
	b->v = calloc(b->n, sizeof(*b->v));
	b->with_id = calloc(b->n, sizeof(*b->with_id));
	b->copy = calloc(b->n, sizeof(*b->copy));
	if(!b->arena || !b->v || !b->with_id || !b->copy)
		return -ENOMEM;
	for(size_t i = 0; i < b->n; i++) {
		char buf[NAMES_MAX + 1];
		size_t len = names_safe(raw_name(raw, i), buf);

		memcpy(b->arena + off, buf, len + 1);
		b->v[i] = (struct name_entry){.name = b->arena + off, .id = ids[i], .at = i};
		off += len + 1;
	}
	qsort(b->v, b->n, sizeof(*b->v), by_name_and_id);
	return 0;
}

/* Marks every thing whose safe name another shares, and numbers the copies
 * of one safe name and id (v is sorted by name, then id, then position). */
static void mark_shared_names(struct build *b)
{
	for(size_t i = 1; i < b->n; i++) {
		if(strcmp(b->v[i - 1].name, b->v[i].name) == 0) {
			b->with_id[i - 1] = true;
			b->with_id[i] = true;
			if(b->v[i - 1].id == b->v[i].id)
				b->copy[i] = b->copy[i - 1] ? b->copy[i - 1] + 1 : 2;
		}
	}
}

/* "<safe>-<id>", or "<safe>-<id>.<copy>" for a copy, into buf (NAMES_MAX + ID_MAX + 1 bytes). */
static size_t with_id_name(const struct build *b, size_t i, char *buf)
{
	const struct name_entry *e = &b->v[i];

	if(b->copy[i])
		return (size_t)snprintf(buf, NAMES_MAX + ID_MAX + 1, "%s-%" PRIu64 ".%zu", e->name, e->id,
					b->copy[i]);
	return (size_t)snprintf(buf, NAMES_MAX + ID_MAX + 1, "%s-%" PRIu64, e->name, e->id);
}

/* Renames whatever a "-<id>" name clashes with, and whatever that new name
 * clashes with in turn: a chain, as names without an id are unique (and a
 * thing renamed here shares its safe name with nothing, so it is no copy).
 * Each entry is renamed once at most, so this is O(n log n) in all. */
static void rename_clashes(struct build *b)
{
	for(size_t i = 0; i < b->n; i++) {
		size_t k = i;

		while(b->with_id[k]) {
			char buf[NAMES_MAX + ID_MAX + 1];
			const struct name_entry *clash;

			with_id_name(b, k, buf);
			clash = find_entry(b->v, b->n, buf);
			if(!clash || b->with_id[clash - b->v])
				break;
			k = (size_t)(clash - b->v);
			b->with_id[k] = true;
		}
	}
}

static int build_final_names(struct build *b, const char *suffix, struct name_index *out)
{
	size_t suffix_len = strlen(suffix), size = 0, off = 0;

	for(size_t i = 0; i < b->n; i++)
		size += strlen(b->v[i].name) + (b->with_id[i] ? ID_MAX : 0) + suffix_len + 1;
	out->arena = malloc(size);
	if(!out->arena)
		return -ENOMEM;
	for(size_t i = 0; i < b->n; i++) {
		char *name = out->arena + off;
		size_t len;

		if(b->with_id[i]) {
			len = with_id_name(b, i, name);
		} else {
			len = strlen(b->v[i].name);
			memcpy(name, b->v[i].name, len);
		}
		memcpy(name + len, suffix, suffix_len + 1);
		b->v[i].name = name;
		off += len + suffix_len + 1;
	}
	qsort(b->v, b->n, sizeof(*b->v), by_name);
	out->v = b->v;
	out->n = b->n;
	b->v = NULL;
	return 0;
}

int names_index(const char *const *raw, const uint64_t *ids, size_t n, const char *suffix,
		struct name_index *out)
{
	struct build b = {.n = n};
	int rc;

	memset(out, 0, sizeof(*out));
	if(n == 0)
		return 0;
	/* every size below is at most n times this */
	if(n > SIZE_MAX / (NAMES_MAX + ID_MAX + strlen(suffix) + sizeof(struct name_entry) + 2))
		return -ENOMEM;
	rc = build_safe_names(&b, raw, ids);
	if(rc == 0) {
		mark_shared_names(&b);
		rename_clashes(&b);
		rc = build_final_names(&b, suffix, out);
	}
	free(b.v);
	free(b.arena);
	free(b.with_id);
	free(b.copy);
	return rc;
}

void names_index_free(struct name_index *x)
{
	free(x->v);
	free(x->arena);
	memset(x, 0, sizeof(*x));
}
