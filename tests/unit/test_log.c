/* test_log.c - one line per message whatever the text: newlines, escape
 * sequences and every other control character become spaces, and so do those
 * an API detail or a `next` URL brings, on their way from api.c to the log.
 * stderr is captured by pointing fd 2 at a temporary file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <fuse_log.h>

#include "cekurafs/api.h"
#include "cekurafs/log.h"
#include "fake_transport.h"

#define AGENTS FAKE_BASE_URL "/test_framework/v2/aiagents/"

struct capture {
	FILE *file;
	int saved_fd;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved_fd = dup(STDERR_FILENO);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Puts stderr back and returns what was written to it (the caller frees it). */
static char *capture_end(struct capture *c)
{
	long size;
	char *text;

	fflush(stderr);
	assert_true(dup2(c->saved_fd, STDERR_FILENO) >= 0);
	close(c->saved_fd);
	size = ftell(c->file);
	assert_true(size >= 0);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	rewind(c->file);
	assert_int_equal(fread(text, 1, (size_t)size, c->file), (size_t)size);
	fclose(c->file);
	return text;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for(; *s; s++)
		n += *s == c;
	return n;
}

/* Every byte but the newlines that end lines is printable or part of UTF-8. */
static void assert_no_control_bytes(const char *text)
{
	for(const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if(c != '\n' && (c < 0x20 || c == 0x7f))
			fail_msg("control byte 0x%02x at %td in %s", c, p - text, text);
	}
}

static int reset_log(void **state)
{
	(void)state;
	log_init(LOGL_INFO, false);
	return 0;
}

static void test_a_message_is_one_line_whatever_it_holds(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	capture_start(&c);
	log_warn("a\x1b[31mb\nc\rd\te\x7f"
		 "f\x01g%s",
		 "\x1b]0;title\a\n");
	out = capture_end(&c);
	assert_string_equal(out, "cekurafs: warn: a [31mb c d e f g ]0;title  \n");
	free(out);
}

static void test_utf8_and_printable_bytes_are_kept(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	capture_start(&c);
	log_info("caf\xc3\xa9 \xe2\x82\xac ~!\"#$%%&'()*+,-./:;<=>?@[\\]^_`{|}");
	out = capture_end(&c);
	assert_string_equal(out,
			    "cekurafs: info: caf\xc3\xa9 \xe2\x82\xac ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}\n");
	free(out);
}

static void test_messages_below_the_level_are_not_written(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	capture_start(&c);
	log_debug("not shown");
	log_error("shown\n");
	out = capture_end(&c);
	assert_string_equal(out, "cekurafs: error: shown \n");
	free(out);
}

static void test_an_api_detail_and_a_next_url_reach_the_log_as_one_line_each(void **state)
{
	struct fake *f = fake_new();
	struct api *api = api_new(fake_transport(f), FAKE_BASE_URL, FAKE_KEY, fake_policy());
	struct agent_list l;
	struct api_error e;
	struct capture c;
	char *out;
	int rc;

	(void)state;
	assert_non_null(api);
	log_init(LOGL_DEBUG, false);
	/* a `next` URL with a terminal escape and a newline in it, then a 400 whose detail has both */
	fake_expect(f, "GET", "short_list/", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": \"" AGENTS "short_list/?page=2\\u001b[2J\\n\", "
		    "\"results\": [{\"id\": 1}]}");
	fake_expect(f, "GET", "page=2", HTTP_DONE, 400,
		    "{\"detail\": \"\\u001b[31mbad page\\nsecond line\\u001b[0m\"}");
	capture_start(&c);
	rc = api_list_agents(api, NULL, &l, &e);
	if(rc != 0)
		log_warn("listing agents: %s", e.msg); /* as the registry logs it */
	out = capture_end(&c);
	assert_int_equal(rc, -EREMOTEIO);
	assert_no_control_bytes(out);
	assert_null(strchr(out, '\x1b'));
	assert_int_equal(count_char(out, '\n'), 3); /* two requests, one warning */
	assert_non_null(strstr(out, "cekurafs: debug: GET " AGENTS "short_list/?page=2 [2J  -> "));
	assert_non_null(
		strstr(out, "cekurafs: warn: listing agents: HTTP 400:  [31mbad page second line [0m\n"));
	free(out);
	agent_list_free(&l);
	api_free(api);
	fake_free(f);
}

/* What libfuse's fuse_log() does with the handler main.c installs. */
static void fuse_says(enum fuse_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fuse_says(enum fuse_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_from_fuse(level, fmt, ap);
	va_end(ap);
}

static void test_libfuse_messages_are_one_line_each_at_our_levels(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	capture_start(&c);
	fuse_says(FUSE_LOG_ERR, "fuse: unknown option(s): `%s'\n", "-o poll_intervall=1");
	fuse_says(FUSE_LOG_CRIT, "fuse: \x1b[2Jbad\nworse\n");
	fuse_says(FUSE_LOG_WARNING, "fuse: warning\n");
	fuse_says(FUSE_LOG_NOTICE, "fuse: notice\n");
	fuse_says(FUSE_LOG_DEBUG, "unique: 2, opcode: LOOKUP (1)\n"); /* below info: not written */
	fuse_says(FUSE_LOG_ERR, "fuse: unknown option(s): `");	      /* as fuse_opt.c sends it, in pieces */
	fuse_says(FUSE_LOG_ERR, "-o ");
	fuse_says(FUSE_LOG_ERR, "%s", "foo=bar");
	fuse_says(FUSE_LOG_ERR, "'\n");
	log_init(LOGL_DEBUG, false);
	fuse_says(FUSE_LOG_DEBUG, "   unique: 2, success, outsize: 144\none\ntwo ");
	fuse_says(FUSE_LOG_DEBUG, "lines\n");
	out = capture_end(&c);
	assert_string_equal(out, "cekurafs: error: fuse: unknown option(s): `-o poll_intervall=1'\n"
				 "cekurafs: error: fuse:  [2Jbad\n" /* each line of it a line of ours */
				 "cekurafs: error: worse\n"
				 "cekurafs: warn: fuse: warning\n"
				 "cekurafs: info: fuse: notice\n"
				 "cekurafs: error: fuse: unknown option(s): `-o foo=bar'\n"
				 "cekurafs: debug:    unique: 2, success, outsize: 144\n"
				 "cekurafs: debug: one\n"
				 "cekurafs: debug: two lines\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_a_message_is_one_line_whatever_it_holds, reset_log),
		cmocka_unit_test_setup(test_utf8_and_printable_bytes_are_kept, reset_log),
		cmocka_unit_test_setup(test_messages_below_the_level_are_not_written, reset_log),
		cmocka_unit_test_setup_teardown(test_libfuse_messages_are_one_line_each_at_our_levels,
						reset_log, reset_log),
		cmocka_unit_test_setup_teardown(
			test_an_api_detail_and_a_next_url_reach_the_log_as_one_line_each, reset_log,
			reset_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
