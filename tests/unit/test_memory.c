/* test_memory.c - freed memory is given back once enough was let go, and not before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cekurafs/memory.h"

static void test_memory_is_given_back_once_enough_was_released(void **state)
{
	(void)state;
	assert_int_equal(memory_give_back(), 0); /* nothing let go yet */
	memory_released(MEMORY_TRIM_AFTER - 1);
	assert_int_equal(memory_give_back(), 0);
	memory_released(1);
	assert_int_equal(memory_give_back(), 1);
	assert_int_equal(memory_give_back(), 0); /* counted anew from there */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_is_given_back_once_enough_was_released),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
