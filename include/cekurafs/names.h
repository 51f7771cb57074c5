/* names.h - names from the API made into file names, unique within a directory. Pure.
 *
 *   "Sales/Support"  ->  "Sales_Support"        '/' and control characters -> '_'
 *   "" "." ".."      ->  "_" "_." "_.."         never empty, never a dot entry
 *   two "Duplicate"  ->  "Duplicate-27", "Duplicate-28"   told apart with the id
 *   "book" twice, id 5 each  ->  "book-5", "book-5.2"      a repeated id gets a copy number
 *
 * Used for agents/by-name/<name>, tools/<name>.json and knowledge_base/<file_name>.json.
 */
#ifndef CEKURAFS_NAMES_H
#define CEKURAFS_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Longest safe name in bytes, before a "-<id>" and a suffix are added (NAME_MAX is 255). */
#define NAMES_MAX 200

/* Writes the safe form of raw (NUL-terminated, UTF-8 or not) into buf (at
 * least NAMES_MAX + 1 bytes): '/', bytes below 0x20 and 0x7f become '_'; a
 * result that would be "", "." or ".." gets a leading '_'; it is cut to at
 * most NAMES_MAX bytes, never inside a UTF-8 sequence. Returns its length. */
size_t names_safe(const char *raw, char *buf);

struct name_entry {
	const char *name; /* into the index's arena */
	uint64_t id;
	size_t at; /* position of the thing in the input arrays */
};

/* Unique file names for n things with raw names and ids, sorted by name for lookups. */
struct name_index {
	struct name_entry *v;
	size_t n;
	char *arena; /* owned: every name */
};

/* Builds the index: each name is names_safe(raw[i]) followed by suffix;
 * when several things share a safe name, each of them is named
 * "<safe>-<id>" followed by suffix instead, and the second, third, ... of
 * them with one id (the API repeated it) "<safe>-<id>.2", "<safe>-<id>.3",
 * in input order. Every name in the index is unique, whatever the ids.
 * Returns 0 or -ENOMEM. raw[i] may be NULL (as ""). */
int names_index(const char *const *raw, const uint64_t *ids, size_t n, const char *suffix,
		struct name_index *out);

/* The entry named name, or NULL. O(log n). */
const struct name_entry *names_find(const struct name_index *x, const char *name);

void names_index_free(struct name_index *x);

#endif
