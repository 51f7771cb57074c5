/* test_ids.c - which agent ids and progress ids exist (ids.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/ids.h"

static void test_parse_agent_takes_exactly_len_bytes(void **state)
{
	uint64_t id = 0;

	(void)state;
	assert_true(ids_parse_agent("42/progress", 2, &id));
	assert_int_equal(id, 42);
	assert_false(ids_parse_agent("42/progress", 3, &id));
	assert_false(ids_parse_agent("", 0, &id));
	assert_true(ids_parse_agent("9223372036854775807", 19, &id));
	assert_false(ids_parse_agent("9223372036854775808", 19, &id));
	assert_false(ids_parse_agent("0", 1, &id));
}

static void test_valid_progress_ids_are_url_and_file_safe(void **state)
{
	char longest[129], too_long[130];

	(void)state;
	memset(longest, 'a', 128);
	longest[128] = '\0';
	memset(too_long, 'a', 129);
	too_long[129] = '\0';
	assert_true(ids_valid_job("6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a"));
	assert_true(ids_valid_job("A.b_c~d-1"));
	assert_true(ids_valid_job("x"));
	assert_true(ids_valid_job(longest));
	assert_false(ids_valid_job(too_long));
	assert_false(ids_valid_job(""));
	assert_false(ids_valid_job(NULL));
	assert_false(ids_valid_job("a b"));
	assert_false(ids_valid_job("a/b"));
	assert_false(ids_valid_job("a&b=c"));
	assert_false(ids_valid_job("a?b"));
	assert_false(ids_valid_job("a#b"));
	assert_false(ids_valid_job("a%2Fb"));
	assert_false(ids_valid_job("a\nb"));
	assert_false(ids_valid_job("a+b"));
	assert_false(ids_valid_job("caf\xc3\xa9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_agent_takes_exactly_len_bytes),
		cmocka_unit_test(test_valid_progress_ids_are_url_and_file_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
