/* test_errmap.c - the README's "Errors a caller sees", row by row: what errno a caller sees
 * for each answer of the API and each way a transfer fails, and the words
 * the error file uses for them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/errmap.h"

static void assert_status(long status, int want)
{
	int got = errmap_errno(HTTP_DONE, status);

	if(got != want)
		fail_msg("HTTP %ld -> %d (%s), want %d (%s)", status, got, strerror(got), want,
			 strerror(want));
}

static void test_success_statuses_are_no_error(void **state)
{
	(void)state;
	assert_status(200, 0);
	assert_status(201, 0);
	assert_status(202, 0);
	assert_status(204, 0);
	assert_status(299, 0);
}

static void test_400_is_eremoteio(void **state)
{
	(void)state;
	assert_status(400, EREMOTEIO);
}

static void test_401_and_403_are_eacces(void **state)
{
	(void)state;
	assert_status(401, EACCES);
	assert_status(403, EACCES);
}

static void test_404_is_enoent(void **state)
{
	(void)state;
	assert_status(404, ENOENT);
}

static void test_409_is_ebusy(void **state)
{
	(void)state;
	assert_status(409, EBUSY);
}

static void test_429_is_eagain(void **state)
{
	(void)state;
	assert_status(429, EAGAIN);
}

static void test_5xx_is_eio(void **state)
{
	(void)state;
	assert_status(500, EIO);
	assert_status(502, EIO);
	assert_status(503, EIO);
	assert_status(504, EIO);
	assert_status(599, EIO);
}

static void test_other_4xx_are_refusals(void **state)
{
	(void)state;
	assert_status(405, EREMOTEIO);
	assert_status(422, EREMOTEIO);
}

static void test_statuses_we_never_ask_for_are_eproto(void **state)
{
	(void)state;
	assert_status(100, EPROTO);
	assert_status(301, EPROTO);
	assert_status(304, EPROTO);
	assert_status(0, EPROTO);
}

static void test_timeouts_are_etimedout(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_CONNECT_TIMEOUT, 0), ETIMEDOUT);
	assert_int_equal(errmap_errno(HTTP_TIMEOUT, 0), ETIMEDOUT);
}

static void test_refused_is_econnrefused(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_REFUSED, 0), ECONNREFUSED);
}

static void test_unresolvable_is_ehostunreach(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_UNREACHABLE, 0), EHOSTUNREACH);
}

static void test_reset_is_econnreset(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_RESET, 0), ECONNRESET);
}

static void test_oversized_and_malformed_responses_are_eproto(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_TOO_LARGE, 0), EPROTO);
	assert_int_equal(errmap_errno(HTTP_BAD_RESPONSE, 0), EPROTO);
}

static void test_interrupted_is_eintr_and_other_failures_eio(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_INTERRUPTED, 0), EINTR);
	assert_int_equal(errmap_errno(HTTP_FAILED, 0), EIO);
}

static void test_an_unverified_certificate_is_eio(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_TLS_VERIFY, 0), EIO);
	assert_int_equal(errmap_errno(HTTP_TLS_VERIFY, 200), EIO);
}

static void test_status_is_ignored_when_there_was_no_answer(void **state)
{
	(void)state;
	assert_int_equal(errmap_errno(HTTP_REFUSED, 200), ECONNREFUSED);
	assert_int_equal(errmap_errno(HTTP_TIMEOUT, 404), ETIMEDOUT);
}

static void assert_describes(enum http_outcome outcome, double timeout, const char *want)
{
	char buf[128];

	memset(buf, 'x', sizeof(buf));
	errmap_describe(outcome, timeout, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_timeouts_name_the_budget(void **state)
{
	(void)state;
	assert_describes(HTTP_TIMEOUT, 30, "timed out after 30 s");
	assert_describes(HTTP_TIMEOUT, 2.5, "timed out after 2.5 s");
	assert_describes(HTTP_TIMEOUT, 0.25, "timed out after 0.25 s");
	assert_describes(HTTP_TIMEOUT, 600, "timed out after 600 s");
	assert_describes(HTTP_CONNECT_TIMEOUT, 30, "cannot connect to the API: timed out");
}

static void test_connection_failures_are_described(void **state)
{
	(void)state;
	assert_describes(HTTP_REFUSED, 30, "cannot connect to the API: connection refused");
	assert_describes(HTTP_UNREACHABLE, 30, "cannot reach the API host");
	assert_describes(HTTP_RESET, 30, "connection reset by the API");
	assert_describes(HTTP_TOO_LARGE, 30, "response larger than 16 MiB");
	assert_describes(HTTP_BAD_RESPONSE, 30, "malformed or truncated HTTP response");
	assert_describes(HTTP_INTERRUPTED, 30, "interrupted");
	assert_describes(HTTP_TLS_VERIFY, 30, "TLS certificate verification failed");
	assert_describes(HTTP_FAILED, 30, "transfer failed");
}

static void test_describe_respects_a_small_buffer(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	errmap_describe(HTTP_TIMEOUT, 30, buf, sizeof(buf));
	assert_string_equal(buf, "timed o");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_statuses_are_no_error),
		cmocka_unit_test(test_400_is_eremoteio),
		cmocka_unit_test(test_401_and_403_are_eacces),
		cmocka_unit_test(test_404_is_enoent),
		cmocka_unit_test(test_409_is_ebusy),
		cmocka_unit_test(test_429_is_eagain),
		cmocka_unit_test(test_5xx_is_eio),
		cmocka_unit_test(test_other_4xx_are_refusals),
		cmocka_unit_test(test_statuses_we_never_ask_for_are_eproto),
		cmocka_unit_test(test_timeouts_are_etimedout),
		cmocka_unit_test(test_refused_is_econnrefused),
		cmocka_unit_test(test_unresolvable_is_ehostunreach),
		cmocka_unit_test(test_reset_is_econnreset),
		cmocka_unit_test(test_oversized_and_malformed_responses_are_eproto),
		cmocka_unit_test(test_interrupted_is_eintr_and_other_failures_eio),
		cmocka_unit_test(test_an_unverified_certificate_is_eio),
		cmocka_unit_test(test_status_is_ignored_when_there_was_no_answer),
		cmocka_unit_test(test_timeouts_name_the_budget),
		cmocka_unit_test(test_connection_failures_are_described),
		cmocka_unit_test(test_describe_respects_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
