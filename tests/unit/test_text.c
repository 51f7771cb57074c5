/* test_text.c - the one scrubber and the one text builder every layer uses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/text.h"

static void test_scrub_makes_every_control_byte_a_space(void **state)
{
	char s[] = "a\nb\rc\td\x1b[2Je\x7f"
		   "f\x01g";

	(void)state;
	text_scrub(s);
	assert_string_equal(s, "a b c d [2Je f g");
}

static void test_scrub_keeps_utf8_and_printable_bytes(void **state)
{
	char s[] = "caf\xc3\xa9 ~!";

	(void)state;
	text_scrub(s);
	assert_string_equal(s, "caf\xc3\xa9 ~!");
	assert_true(TEXT_IS_CONTROL('\0'));
	assert_true(TEXT_IS_CONTROL(0x1f));
	assert_true(TEXT_IS_CONTROL(0x7f));
	assert_false(TEXT_IS_CONTROL(' '));
	assert_false(TEXT_IS_CONTROL((char)0x80));
}

static void test_a_buffer_grows_over_many_pieces(void **state)
{
	struct text_buf b = {0};
	char *text;
	size_t len = 0;

	(void)state;
	for(int i = 0; i < 10000; i++)
		text_buf_printf(&b, "line %d\n", i);
	text_buf_add(&b, "end", 3);
	assert_int_equal(b.err, 0);
	text = text_buf_take(&b, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_true(strncmp(text, "line 0\nline 1\n", 14) == 0);
	assert_non_null(strstr(text, "line 9999\nend"));
	assert_null(b.text);
	assert_int_equal(b.len, 0);
	free(text);
}

static void test_add_line_scrubs_only_what_it_adds(void **state)
{
	struct text_buf b = {0};
	char *text;

	(void)state;
	text_buf_add(&b, "a\n", 2);
	text_buf_add_line(&b, "b\tc\r\n\x1b[31m");
	text_buf_add_line(&b, NULL);
	text_buf_add_line(&b, "");
	text_buf_add(&b, "\n", 1);
	text = text_buf_take(&b, NULL);
	assert_string_equal(text, "a\nb c   [31m\n");
	free(text);
}

static void test_a_long_printf_piece_is_whole(void **state)
{
	struct text_buf b = {0};
	char big[5000];
	char *text;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	text_buf_printf(&b, "<%s>", big);
	text_buf_printf(&b, "<%s>", big);
	text = text_buf_take(&b, NULL);
	assert_non_null(text);
	assert_int_equal(strlen(text), 2 * (sizeof(big) + 1));
	assert_int_equal(text[sizeof(big)], '>');
	free(text);
}

static void test_an_empty_buffer_gives_an_empty_string(void **state)
{
	struct text_buf b = {0};
	size_t len = 99;
	char *text = text_buf_take(&b, &len);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);
}

static void test_max_bounds_the_text_and_fails_the_rest(void **state)
{
	struct text_buf b = {.max = 10};
	size_t len = 99;

	(void)state;
	text_buf_add(&b, "0123456789", 10); /* exactly max: accepted */
	assert_int_equal(b.err, 0);
	assert_string_equal(b.text, "0123456789");
	text_buf_add(&b, "a", 1);
	assert_int_equal(b.err, -EFBIG);
	assert_int_equal(b.len, 10);
	text_buf_printf(&b, "%s", "");
	assert_int_equal(b.err, -EFBIG);
	assert_null(text_buf_take(&b, &len));
	assert_int_equal(len, 99); /* untouched on failure */
	assert_null(b.text);

	b = (struct text_buf){.max = 4};
	text_buf_printf(&b, "%d", 12345);
	assert_int_equal(b.err, -EFBIG);
	text_buf_free(&b);
}

static void test_a_failure_set_by_the_caller_fails_the_take(void **state)
{
	struct text_buf b = {0};

	(void)state;
	text_buf_add(&b, "kept?", 5);
	b.err = -ENOMEM; /* a piece the caller could not make */
	text_buf_add(&b, "more", 4);
	assert_int_equal(b.len, 5);
	assert_null(text_buf_take(&b, NULL));
}

static void test_a_piece_too_large_for_memory_fails(void **state)
{
	struct text_buf b = {0};

	(void)state;
	text_buf_add(&b, "x", 1);
	text_buf_add(&b, "y", SIZE_MAX); /* never read: refused first */
	assert_int_equal(b.err, -ENOMEM);
	text_buf_free(&b);
	assert_int_equal(b.err, 0);
	assert_null(b.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrub_makes_every_control_byte_a_space),
		cmocka_unit_test(test_scrub_keeps_utf8_and_printable_bytes),
		cmocka_unit_test(test_a_buffer_grows_over_many_pieces),
		cmocka_unit_test(test_add_line_scrubs_only_what_it_adds),
		cmocka_unit_test(test_a_long_printf_piece_is_whole),
		cmocka_unit_test(test_an_empty_buffer_gives_an_empty_string),
		cmocka_unit_test(test_max_bounds_the_text_and_fails_the_rest),
		cmocka_unit_test(test_a_failure_set_by_the_caller_fails_the_take),
		cmocka_unit_test(test_a_piece_too_large_for_memory_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
