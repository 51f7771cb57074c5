/* test_names.c - file names from API names: '/' and control bytes made safe,
 * never empty or a dot entry, cut without splitting a UTF-8 sequence, shared
 * names told apart by id, and an index that finds each of 100,000 names.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/names.h"
#include "fake_transport.h"

static void assert_safe(const char *raw, const char *want)
{
	char buf[NAMES_MAX + 1];
	size_t len = names_safe(raw, buf);

	if(strcmp(buf, want) != 0)
		fail_msg("names_safe(\"%s\") = \"%s\", want \"%s\"", raw, buf, want);
	assert_int_equal(len, strlen(want));
}

/* n copies of c, then tail */
static char *repeated(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	assert_non_null(s);
	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

/* The length names_safe() keeps of n 'a's followed by tail. */
static size_t kept(size_t n, const char *tail)
{
	char *raw = repeated('a', n, tail);
	char buf[NAMES_MAX + 1];
	size_t len = names_safe(raw, buf);

	assert_int_equal(len, strlen(buf));
	assert_true(len <= NAMES_MAX);
	assert_memory_equal(buf, raw, len);
	free(raw);
	return len;
}

static void test_slash_becomes_an_underscore(void **state)
{
	(void)state;
	assert_safe("Sales/Support", "Sales_Support");
	assert_safe("/", "_");
	assert_safe("a//b/", "a__b_");
}

static void test_control_bytes_become_underscores(void **state)
{
	(void)state;
	assert_safe("tab\there", "tab_here");
	assert_safe("line\nbreak\r", "line_break_");
	assert_safe("\x01\x1f\x7f", "___");
	assert_safe("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"); /* UTF-8 and spaces kept */
	assert_safe("a\\b:c*?", "a\\b:c*?");
}

static void test_empty_and_dot_names_get_a_leading_underscore(void **state)
{
	(void)state;
	assert_safe("", "_");
	assert_safe(".", "_.");
	assert_safe("..", "_..");
	assert_safe("...", "...");
	assert_safe(".hidden", ".hidden");
	assert_safe("./", "._");
}

static void test_long_names_are_cut_at_names_max(void **state)
{
	(void)state;
	assert_int_equal(kept(NAMES_MAX, ""), NAMES_MAX);
	assert_int_equal(kept(NAMES_MAX + 100, ""), NAMES_MAX);
	assert_int_equal(kept(NAMES_MAX - 1, "b"), NAMES_MAX);
}

static void test_cuts_never_split_a_utf8_sequence(void **state)
{
	(void)state;
	/* a sequence that would cross the cut is left out whole */
	assert_int_equal(kept(NAMES_MAX - 1, "\xc3\xa9"), NAMES_MAX - 1);	  /* é */
	assert_int_equal(kept(NAMES_MAX - 2, "\xe2\x82\xac"), NAMES_MAX - 2);	  /* € */
	assert_int_equal(kept(NAMES_MAX - 1, "\xe2\x82\xac"), NAMES_MAX - 1);	  /* € */
	assert_int_equal(kept(NAMES_MAX - 3, "\xf0\x9f\x98\x80"), NAMES_MAX - 3); /* U+1F600 */
	assert_int_equal(kept(NAMES_MAX - 1, "\xf0\x9f\x98\x80"), NAMES_MAX - 1); /* U+1F600 */
	/* one that ends at the cut is kept */
	assert_int_equal(kept(NAMES_MAX - 2, "\xc3\xa9z"), NAMES_MAX);
	assert_int_equal(kept(NAMES_MAX - 4, "\xf0\x9f\x98\x80zz"), NAMES_MAX);
	assert_int_equal(kept(NAMES_MAX, "\xc3\xa9"), NAMES_MAX);
}

static void test_bytes_that_are_not_utf8_are_cut_near_the_limit(void **state)
{
	char *raw = repeated('\x80', NAMES_MAX + 50, "");
	char buf[NAMES_MAX + 1];

	(void)state;
	/* no sequence to keep whole: the cut backs off at most three bytes */
	assert_in_range(names_safe(raw, buf), NAMES_MAX - 3, NAMES_MAX);
	free(raw);
}

/* An index of n names with the given ids and suffix; fails the test on error. */
static void build(struct name_index *x, const char *const *raw, const uint64_t *ids, size_t n,
		  const char *suffix)
{
	assert_int_equal(names_index(raw, ids, n, suffix, x), 0);
	assert_int_equal(x->n, n);
	for(size_t i = 1; i < x->n; i++) {
		if(strcmp(x->v[i - 1].name, x->v[i].name) >= 0)
			fail_msg("not sorted or not unique: \"%s\" then \"%s\"", x->v[i - 1].name,
				 x->v[i].name);
	}
}

/* The file name given to the thing at position at. */
static const char *name_of(const struct name_index *x, size_t at)
{
	for(size_t i = 0; i < x->n; i++) {
		if(x->v[i].at == at)
			return x->v[i].name;
	}
	fail_msg("no entry for position %zu", at);
	return NULL;
}

static void test_every_thing_sharing_a_name_gets_its_id(void **state)
{
	const char *raw[] = {"Duplicate", "Unique", "Duplicate", "Duplicate"};
	const uint64_t ids[] = {27, 3, 28, 5};
	struct name_index x;

	(void)state;
	build(&x, raw, ids, 4, "");
	assert_string_equal(name_of(&x, 0), "Duplicate-27");
	assert_string_equal(name_of(&x, 1), "Unique");
	assert_string_equal(name_of(&x, 2), "Duplicate-28");
	assert_string_equal(name_of(&x, 3), "Duplicate-5");
	names_index_free(&x);
}

static void test_names_shared_once_made_safe_get_ids_too(void **state)
{
	const char *raw[] = {"a/b", "a_b", NULL, "", "."};
	const uint64_t ids[] = {1, 2, 3, 4, 5};
	struct name_index x;

	(void)state;
	build(&x, raw, ids, 5, ".json");
	assert_string_equal(name_of(&x, 0), "a_b-1.json");
	assert_string_equal(name_of(&x, 1), "a_b-2.json");
	assert_string_equal(name_of(&x, 2), "_-3.json"); /* NULL is "" */
	assert_string_equal(name_of(&x, 3), "_-4.json");
	assert_string_equal(name_of(&x, 4), "_..json");
	names_index_free(&x);
}

static void test_a_name_like_an_id_name_stays_unless_it_clashes(void **state)
{
	/* "x-3" is no one's name after the ids are added: it stays. "x-1" is
	 * taken by the first "x", so it gets its own id, which takes "x-1-9"
	 * from the last one, which gets its id in turn. */
	const char *raw[] = {"x", "x", "x-1", "x-1-9", "x-3"};
	const uint64_t ids[] = {1, 2, 9, 4, 7};
	struct name_index x;

	(void)state;
	build(&x, raw, ids, 5, ".json");
	assert_string_equal(name_of(&x, 0), "x-1.json");
	assert_string_equal(name_of(&x, 1), "x-2.json");
	assert_string_equal(name_of(&x, 2), "x-1-9.json");
	assert_string_equal(name_of(&x, 3), "x-1-9-4.json");
	assert_string_equal(name_of(&x, 4), "x-3.json");
	names_index_free(&x);
}

static void test_the_suffix_follows_the_name_and_the_id(void **state)
{
	const char *raw[] = {"lookup", "book", "book"};
	const uint64_t ids[] = {1, 18446744073709551615u, 0};
	struct name_index x;

	(void)state;
	build(&x, raw, ids, 3, ".json");
	assert_string_equal(name_of(&x, 0), "lookup.json");
	assert_string_equal(name_of(&x, 1), "book-18446744073709551615.json");
	assert_string_equal(name_of(&x, 2), "book-0.json");
	names_index_free(&x);
}

static void test_long_shared_names_keep_their_id(void **state)
{
	char *longest = repeated('n', NAMES_MAX + 20, "");
	const char *raw[] = {longest, longest};
	const uint64_t ids[] = {1, 22};
	struct name_index x;
	char want[NAMES_MAX + 32];

	(void)state;
	build(&x, raw, ids, 2, ".json");
	snprintf(want, sizeof(want), "%.*s-22.json", NAMES_MAX, longest);
	assert_string_equal(name_of(&x, 1), want);
	assert_true(strlen(want) <= 255);
	names_index_free(&x);
	free(longest);
}

static void test_find_hits_whole_names_only(void **state)
{
	const char *raw[] = {"Sales/Support", "Duplicate", "Duplicate", "alpha"};
	const uint64_t ids[] = {10, 27, 28, 40};
	struct name_index x;
	const struct name_entry *e;

	(void)state;
	build(&x, raw, ids, 4, ".json");
	e = names_find(&x, "Duplicate-28.json");
	assert_non_null(e);
	assert_int_equal(e->at, 2);
	assert_int_equal(e->id, 28);
	e = names_find(&x, "Sales_Support.json");
	assert_non_null(e);
	assert_int_equal(e->at, 0);
	assert_non_null(names_find(&x, "alpha.json"));
	assert_null(names_find(&x, "Duplicate.json")); /* shared names are not names */
	assert_null(names_find(&x, "Sales/Support.json"));
	assert_null(names_find(&x, "alpha"));
	assert_null(names_find(&x, "alpha.jso"));
	assert_null(names_find(&x, "0"));
	assert_null(names_find(&x, "zzz"));
	assert_null(names_find(&x, ""));
	names_index_free(&x);
}

static void test_a_repeated_id_gets_a_copy_number(void **state)
{
	/* the API repeated ids 5 and 0: each thing still has a name of its own */
	const char *raw[] = {"x", "x", "x", "x", "y", "x", "y"};
	const uint64_t ids[] = {5, 5, 6, 5, 0, 0, 0};
	struct name_index x;
	const struct name_entry *e;

	(void)state;
	build(&x, raw, ids, 7, ".json"); /* checks that no name is there twice */
	assert_int_equal(x.n, 7);
	assert_string_equal(name_of(&x, 0), "x-5.json");
	assert_string_equal(name_of(&x, 1), "x-5.2.json");
	assert_string_equal(name_of(&x, 2), "x-6.json");
	assert_string_equal(name_of(&x, 3), "x-5.3.json");
	assert_string_equal(name_of(&x, 4), "y-0.json");
	assert_string_equal(name_of(&x, 5), "x-0.json");
	assert_string_equal(name_of(&x, 6), "y-0.2.json");
	e = names_find(&x, "x-5.2.json");
	assert_non_null(e);
	assert_int_equal(e->at, 1);
	assert_int_equal(e->id, 5);
	names_index_free(&x);
}

static void test_a_copy_name_clashing_with_a_name_renames_that_one(void **state)
{
	/* "x-5.2" is a tool's own name and the second "x" with id 5's name */
	const char *raw[] = {"x", "x", "x-5.2", "x-5.2-3"};
	const uint64_t ids[] = {5, 5, 3, 5};
	struct name_index x;

	(void)state;
	build(&x, raw, ids, 4, "");
	assert_string_equal(name_of(&x, 0), "x-5");
	assert_string_equal(name_of(&x, 1), "x-5.2");
	assert_string_equal(name_of(&x, 2), "x-5.2-3");
	assert_string_equal(name_of(&x, 3), "x-5.2-3-5");
	names_index_free(&x);
}

static void test_the_same_name_and_id_many_times_stays_unique(void **state)
{
	enum { N = 1000 };
	const char *raw[N];
	uint64_t ids[N];
	struct name_index x;

	(void)state;
	for(size_t i = 0; i < N; i++) {
		raw[i] = i % 3 ? "tool" : "tool/";
		ids[i] = i % 2;
	}
	build(&x, raw, ids, N, ".json");
	assert_int_equal(x.n, N);
	for(size_t i = 0; i < N; i++)
		assert_true(strlen(name_of(&x, i)) <= 255);
	names_index_free(&x);
}

static void test_an_empty_index_finds_nothing(void **state)
{
	struct name_index x;

	(void)state;
	assert_int_equal(names_index(NULL, NULL, 0, ".json", &x), 0);
	assert_int_equal(x.n, 0);
	assert_null(names_find(&x, "a.json"));
	assert_null(names_find(&x, ""));
	names_index_free(&x);
	names_index_free(&x); /* twice: it leaves an empty index */
}

static void test_100000_names_are_indexed_fast_and_each_found(void **state)
{
	const size_t n = 100000;
	const char **raw = calloc(n, sizeof(*raw));
	uint64_t *ids = calloc(n, sizeof(*ids));
	char *text = malloc(n * 16);
	struct name_index x;
	double start;
	size_t arena = 0;

	(void)state;
	assert_true(raw && ids && text);
	for(size_t i = 0; i < n; i++) {
		/* every tenth name is shared by two agents */
		snprintf(text + 16 * i, 16, "agent %zu", i % 10 == 1 ? i - 1 : i);
		raw[i] = text + 16 * i;
		ids[i] = 1000000 + i;
	}
	start = fake_now();
	build(&x, raw, ids, n, "");
	for(size_t i = 0; i < n; i++) {
		char name[64];
		const struct name_entry *e;

		if(i % 10 <= 1)
			snprintf(name, sizeof(name), "%s-%" PRIu64, raw[i], ids[i]);
		else
			snprintf(name, sizeof(name), "%s", raw[i]);
		e = names_find(&x, name);
		if(!e || e->at != i || e->id != ids[i])
			fail_msg("\"%s\" not found as %zu", name, i);
		arena += strlen(name) + 1;
	}
	/* O(n log n): a quadratic pass would take minutes (generous for valgrind) */
	assert_true(fake_now() - start < 5.0);
	/* every name is in the one arena */
	for(size_t i = 0; i < n; i++)
		assert_true(x.v[i].name >= x.arena && x.v[i].name < x.arena + arena);
	names_index_free(&x);
	free(raw);
	free(ids);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slash_becomes_an_underscore),
		cmocka_unit_test(test_control_bytes_become_underscores),
		cmocka_unit_test(test_empty_and_dot_names_get_a_leading_underscore),
		cmocka_unit_test(test_long_names_are_cut_at_names_max),
		cmocka_unit_test(test_cuts_never_split_a_utf8_sequence),
		cmocka_unit_test(test_bytes_that_are_not_utf8_are_cut_near_the_limit),
		cmocka_unit_test(test_every_thing_sharing_a_name_gets_its_id),
		cmocka_unit_test(test_names_shared_once_made_safe_get_ids_too),
		cmocka_unit_test(test_a_name_like_an_id_name_stays_unless_it_clashes),
		cmocka_unit_test(test_the_suffix_follows_the_name_and_the_id),
		cmocka_unit_test(test_long_shared_names_keep_their_id),
		cmocka_unit_test(test_find_hits_whole_names_only),
		cmocka_unit_test(test_a_repeated_id_gets_a_copy_number),
		cmocka_unit_test(test_a_copy_name_clashing_with_a_name_renames_that_one),
		cmocka_unit_test(test_the_same_name_and_id_many_times_stays_unique),
		cmocka_unit_test(test_an_empty_index_finds_nothing),
		cmocka_unit_test(test_100000_names_are_indexed_fast_and_each_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
