/* test_api.c - the Cekura endpoints against the fake transport: the exact
 * requests made, the decoders (the stage rules of the API reference), and the
 * words an error leaves for the agent's `error` file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/api.h"
#include "cekurafs/json.h"
#include "cekurafs/log.h"
#include "cekurafs/text.h"
#include "fake_transport.h"

#define AGENTS FAKE_BASE_URL "/test_framework/v2/aiagents/"

struct rig {
	struct fake *f;
	struct api *api;
	struct api_error e;
};

static int setup(void **state)
{
	static struct rig rig;

	memset(&rig, 0, sizeof(rig));
	rig.f = fake_new();
	rig.api = api_new(fake_transport(rig.f), FAKE_BASE_URL, FAKE_KEY, fake_policy());
	if(!rig.api)
		return -1;
	*state = &rig;
	return 0;
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	api_free(rig->api);
	fake_free(rig->f);
	return 0;
}

static int decode(const char *body, struct progress *p)
{
	return api_decode_progress(body, strlen(body), p);
}

/* ---- the progress decoder ---- */

static void test_progress_decodes_every_field(void **state)
{
	const char *body = "{\"agent_id\": 42, \"status\": \"in_progress\", \"current_stage\": \"tools\", "
			   "\"stages\": [{\"name\": \"system_prompt\", \"status\": \"completed\"}, "
			   "{\"name\": \"tools\", \"status\": \"in_progress\"}], \"error\": null}";
	struct progress p;

	(void)state;
	assert_int_equal(decode(body, &p), 0);
	assert_string_equal(p.status, "in_progress");
	assert_string_equal(p.current_stage, "tools");
	assert_null(p.error);
	assert_int_equal(p.nstages, 2);
	assert_string_equal(p.stages[0].name, "system_prompt");
	assert_string_equal(p.stages[0].state, "completed");
	assert_string_equal(p.stages[1].name, "tools");
	assert_string_equal(p.stages[1].state, "in_progress");
	progress_free(&p);
}

static void test_stage_name_comes_from_any_of_the_documented_keys(void **state)
{
	static const char *const keys[] = {"name", "key", "stage", "label", "title"};

	(void)state;
	for(size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *body = NULL;
		struct progress p;

		assert_true(
			asprintf(&body,
				 "{\"status\": \"in_progress\", \"current_stage\": \"\", \"error\": null, "
				 "\"stages\": [{\"%s\": \"tools\", \"status\": \"pending\"}]}",
				 keys[i]) > 0);
		assert_int_equal(decode(body, &p), 0);
		assert_int_equal(p.nstages, 1);
		if(!p.stages[0].name || strcmp(p.stages[0].name, "tools") != 0)
			fail_msg("stage name from \"%s\" not taken", keys[i]);
		progress_free(&p);
		free(body);
	}
}

static void test_stage_name_is_the_first_present_in_documented_order(void **state)
{
	const char *body =
		"{\"status\": \"s\", \"current_stage\": \"\", \"error\": null, \"stages\": ["
		"{\"title\": \"t\", \"label\": \"l\", \"stage\": \"s\", \"key\": \"k\", \"name\": \"n\"},"
		"{\"title\": \"t\", \"label\": \"l\", \"stage\": \"s\", \"key\": \"k\"},"
		"{\"title\": \"t\", \"label\": \"l\", \"stage\": \"s\"},"
		"{\"title\": \"t\", \"label\": \"l\"},"
		"{\"title\": \"t\"},"
		"{\"name\": 5, \"key\": null, \"stage\": \"from-stage\"}]}";
	static const char *const want[] = {"n", "k", "s", "l", "t", "from-stage"};
	struct progress p;

	(void)state;
	assert_int_equal(decode(body, &p), 0);
	assert_int_equal(p.nstages, 6);
	for(size_t i = 0; i < 6; i++) {
		assert_string_equal(p.stages[i].name, want[i]);
	}
	progress_free(&p);
}

static void test_stage_state_comes_from_status_then_state(void **state)
{
	const char *body = "{\"status\": \"s\", \"current_stage\": \"\", \"error\": null, \"stages\": ["
			   "{\"name\": \"a\", \"status\": \"completed\", \"state\": \"pending\"},"
			   "{\"name\": \"b\", \"state\": \"skipped\"},"
			   "{\"name\": \"c\", \"status\": 3, \"state\": \"failed\"},"
			   "{\"name\": \"d\"}]}";
	struct progress p;

	(void)state;
	assert_int_equal(decode(body, &p), 0);
	assert_string_equal(p.stages[0].state, "completed");
	assert_string_equal(p.stages[1].state, "skipped");
	assert_string_equal(p.stages[2].state, "failed");
	assert_null(p.stages[3].state);
	progress_free(&p);
}

static void test_other_stage_keys_are_ignored(void **state)
{
	const char *body =
		"{\"status\": \"failed\", \"current_stage\": \"tools\", \"error\": \"x\", \"stages\": ["
		"{\"name\": \"tools\", \"status\": \"failed\", \"error\": \"Bad key\", \"count\": 3, "
		"\"nested\": {\"message\": \"no\"}, \"message\": \"caf\\u00e9\", \"ok\": true},"
		"{}]}";
	struct progress p;

	(void)state;
	assert_int_equal(decode(body, &p), 0);
	assert_int_equal(p.nstages, 2);
	assert_string_equal(p.stages[0].name, "tools");
	assert_string_equal(p.stages[0].state, "failed");
	assert_null(p.stages[1].name);
	assert_null(p.stages[1].state);
	progress_free(&p);
}

static void test_null_or_missing_error_and_current_stage_are_accepted(void **state)
{
	struct progress p;

	(void)state;
	assert_int_equal(decode("{\"status\": \"queued\", \"current_stage\": null, \"error\": null, "
				"\"stages\": []}",
				&p),
			 0);
	assert_string_equal(p.current_stage, "");
	assert_null(p.error);
	assert_int_equal(p.nstages, 0);
	progress_free(&p);
	assert_int_equal(decode("{\"status\": \"queued\", \"stages\": []}", &p), 0);
	assert_string_equal(p.current_stage, "");
	assert_null(p.error);
	progress_free(&p);
	assert_int_equal(decode("{\"status\": \"failed\", \"current_stage\": \"\", \"error\": \"boom\", "
				"\"stages\": [], \"agent_id\": 1, \"unknown\": {\"a\": [1]}}",
				&p),
			 0);
	assert_string_equal(p.error, "boom");
	progress_free(&p);
}

static void test_progress_of_the_wrong_shape_is_eproto(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"\"in_progress\"",
		"{\"stages\": []}",
		"{\"status\": \"s\"}",
		"{\"status\": 1, \"stages\": []}",
		"{\"status\": null, \"stages\": []}",
		"{\"status\": \"s\", \"stages\": {}}",
		"{\"status\": \"s\", \"stages\": \"none\"}",
		"{\"status\": \"s\", \"stages\": null}",
		"{\"status\": \"s\", \"stages\": [], \"current_stage\": 5}",
		"{\"status\": \"s\", \"stages\": [], \"current_stage\": []}",
		"{\"status\": \"s\", \"stages\": [], \"error\": 5}",
		"{\"status\": \"s\", \"stages\": [], \"error\": {\"msg\": \"x\"}}",
		"{\"status\": \"s\", \"stages\": [\"tools\"]}",
		"{\"status\": \"s\", \"stages\": [{\"name\": \"a\"}, 1]}",
		"{\"status\": \"s\", \"stages\": [[]]}",
		"{\"status\": \"s\", \"stages\": []",
		"{\"status\": \"s\", \"stages\": []} {}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct progress p;
		int rc = decode(bad[i], &p);

		if(rc != -EPROTO)
			fail_msg("decoding %s gave %d", bad[i], rc);
		assert_null(p.status);
		assert_null(p.stages);
	}
}

/* ---- the other decoders ---- */

static void test_auto_fetch_decoder_takes_a_valid_progress_id(void **state)
{
	const char *body = "{\"progress_id\": \"6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a\"}";
	char *id = NULL;

	(void)state;
	assert_int_equal(api_decode_auto_fetch(body, strlen(body), &id), 0);
	assert_string_equal(id, "6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a");
	free(id);
}

static void test_auto_fetch_decoder_rejects_unusable_ids(void **state)
{
	static const char *const bad[] = {
		"{\"progress_id\": \"\"}",
		"{\"progress_id\": \"a b\"}",
		"{\"progress_id\": \"a/../b\"}",
		"{\"progress_id\": \"a&x=1\"}",
		"{\"progress_id\": \"a\\nb\"}",
		"{\"progress_id\": 42}",
		"{\"progress_id\": null}",
		"{\"id\": \"p\"}",
		"[\"p\"]",
		"{\"progress_id\": \"caf\\u00e9\"}",
		"not json",
		"",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *id = (char *)"untouched";

		if(api_decode_auto_fetch(bad[i], strlen(bad[i]), &id) != -EPROTO)
			fail_msg("accepted %s", bad[i]);
		assert_null(id);
	}
}

static void test_agent_page_decoder_appends_ids_and_returns_next(void **state)
{
	const char *p1 = "{\"count\": 3, \"next\": \"" AGENTS "short_list/?page=2\", \"previous\": null, "
			 "\"results\": [{\"id\": 5, \"agent_name\": \"a\\/\\u00e9\"}, {\"agent_name\": "
			 "\"b\", \"id\": 3}]}";
	const char *p2 = "{\"count\": 3, \"next\": null, \"results\": [{\"id\": 9}, {\"id\": 8, "
			 "\"agent_name\": null}, {\"id\": 7, \"agent_name\": 12}]}";
	const char *p3 = "{\"count\": null, \"next\": null, \"results\": []}";
	struct agent_list l = {0};
	char *next = NULL;
	int64_t count = 0;

	(void)state;
	assert_int_equal(api_decode_agent_page(p1, strlen(p1), &l, &next, &count), 0);
	assert_string_equal(next, AGENTS "short_list/?page=2");
	assert_int_equal(count, 3);
	free(next);
	assert_int_equal(api_decode_agent_page(p2, strlen(p2), &l, &next, &count), 0);
	assert_null(next);
	assert_int_equal(api_decode_agent_page(p3, strlen(p3), &l, &next, &count), 0);
	assert_int_equal(count, -1); /* null or absent: none */
	assert_int_equal(l.n, 5);
	assert_int_equal(l.items[0].id, 5);
	assert_string_equal(agent_list_name(&l, 0), "a/\xc3\xa9"); /* decoded */
	assert_int_equal(l.items[1].id, 3);
	assert_string_equal(agent_list_name(&l, 1), "b");
	assert_int_equal(l.items[2].id, 9);
	assert_null(agent_list_name(&l, 2)); /* absent, null, or not a string: no name */
	assert_null(agent_list_name(&l, 3));
	assert_null(agent_list_name(&l, 4));
	agent_list_free(&l);
}

static void test_agent_page_decoder_rejects_bad_pages(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"results\": {}}",
		"{\"results\": [{\"name\": \"no id\"}]}",
		"{\"results\": [{\"id\": \"5\"}]}",
		"{\"results\": [{\"id\": 0}]}",
		"{\"results\": [{\"id\": -3}]}",
		"{\"results\": [{\"id\": 1.5}]}",
		"{\"results\": [5]}",
		"{\"results\": [], \"next\": 2}",
		"{\"results\": [], \"next\": {}}",
		"{\"results\": [], \"count\": \"3\"}",
		"{\"results\": [], \"count\": -1}",
		"{\"results\": [], \"count\": 1.5}",
		"{\"results\": [], \"count\": []}",
		"[]",
		"",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_list l = {0};
		char *next = NULL;
		int64_t count;

		if(api_decode_agent_page(bad[i], strlen(bad[i]), &l, &next, &count) != -EPROTO)
			fail_msg("accepted %s", bad[i]);
		assert_null(next);
		agent_list_free(&l);
	}
}

static void assert_detail(const char *body, const char *want)
{
	char buf[400];

	memset(buf, 'x', sizeof(buf));
	api_decode_detail(body, body ? strlen(body) : 0, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_detail_is_taken_word_for_word(void **state)
{
	(void)state;
	assert_detail("{\"detail\": \"Agent has no provider configured\"}",
		      "Agent has no provider configured");
	assert_detail("{\"detail\": \"Quote \\\"x\\\" and caf\\u00e9\"}", "Quote \"x\" and caf\xc3\xa9");
	assert_detail("{\"detail\": \"two\\nlines\"}", "two lines");
	assert_detail("{\"detail\": \"\"}", "");
}

static void test_field_errors_read_field_colon_message(void **state)
{
	(void)state;
	assert_detail("{\"progress_id\": [\"This field is required.\"]}",
		      "progress_id: This field is required.");
	assert_detail("{\"provider\": [\"first\", \"second\"], \"other\": [\"x\"]}",
		      "provider: first; provider: second; other: x");
	assert_detail("{\"provider\": \"not a list\"}", "provider: not a list");
	assert_detail("{\"non_field_errors\": [\"Bad\\ncombination\"]}", "Bad combination");
}

static void test_bodies_without_detail_say_so(void **state)
{
	(void)state;
	assert_detail("", "(no detail)");
	assert_detail(NULL, "(no detail)");
	assert_detail("<html>502 Bad Gateway</html>", "(no detail)");
	assert_detail("{}", "(no detail)");
	assert_detail("[]", "(no detail)");
	assert_detail("[5, null, [\"x\"], {\"a\": \"b\"}]", "(no detail)");
	assert_detail("\"a bare string\"", "(no detail)");
	assert_detail("42", "(no detail)");
	assert_detail("null", "(no detail)");
	assert_detail("{\"provider\": []}", "(no detail)");
	assert_detail("{\"provider\": [5]}", "(no detail)");
	assert_detail("{\"detail\": {\"x\": 1}}", "(no detail)");
}

/* DESIGN.md "Jobs": the examples it gives, word for word. */
static void test_the_4xx_examples_of_the_design(void **state)
{
	(void)state;
	assert_detail("{\"provider\": [\"\\\"synthflow\\\" is not a valid choice.\"]}",
		      "provider: \"synthflow\" is not a valid choice.");
	assert_detail("{\"a\": [\"x\", \"y\"], \"non_field_errors\": [\"z\"]}", "a: x; a: y; z");
	assert_detail("[\"Invalid personalities provided.\", \"b\"]", "Invalid personalities provided.; b");
}

static void test_detail_wins_over_field_errors(void **state)
{
	(void)state;
	assert_detail("{\"provider\": [\"p\"], \"detail\": \"A tools import is already running\"}",
		      "A tools import is already running");
	/* a detail that is not a string is one more field, of no usable value */
	assert_detail("{\"detail\": null, \"provider\": [\"p\"]}", "provider: p");
	assert_detail("{\"detail\": [\"d\"], \"provider\": [\"p\"]}", "detail: d; provider: p");
}

static void test_every_field_error_is_shown_in_the_order_received(void **state)
{
	(void)state;
	assert_detail("{\"provider\": [\"This field is required.\"], \"assistant_id\": [\"This field is "
		      "required.\"], \"mcp_server_url\": \"Enter a valid URL.\"}",
		      "provider: This field is required.; assistant_id: This field is required.; "
		      "mcp_server_url: Enter a valid URL.");
	assert_detail("{\"z\": [\"1\"], \"a\": [\"2\"]}", "z: 1; a: 2");
	assert_detail("{\"caf\\u00e9\": [\"\"]}", "caf\xc3\xa9: ");
}

static void test_non_field_errors_show_the_message_alone(void **state)
{
	(void)state;
	assert_detail("{\"non_field_errors\": [\"Invalid data. Expected a dictionary, but got list.\"]}",
		      "Invalid data. Expected a dictionary, but got list.");
	assert_detail("{\"non_field_errors\": [\"m1\", \"m2\"], \"f\": [\"m3\"]}", "m1; m2; f: m3");
	assert_detail("{\"non_field_errors\": \"alone\"}", "alone");
}

static void test_a_bare_array_of_strings_is_joined(void **state)
{
	(void)state;
	assert_detail("[\"Agent does not have a websocket URL\"]", "Agent does not have a websocket URL");
	assert_detail("[\"a\", 5, \"b\", null, [\"c\"], \"\"]", "a; b; ");
	assert_detail("[\"two\\nlines\", \"tab\\there\"]", "two lines; tab here");
}

static void test_nested_and_other_values_are_skipped(void **state)
{
	(void)state;
	assert_detail("{\"tools\": {\"0\": {\"name\": [\"required\"]}}, \"provider\": [\"p\"]}",
		      "provider: p");
	assert_detail(
		"{\"a\": 5, \"b\": true, \"c\": null, \"d\": [[\"x\"], {\"y\": \"z\"}, 3], \"e\": [\"ok\"]}",
		"e: ok");
	assert_detail("{\"a\": 5, \"b\": {\"c\": [\"x\"]}}", "(no detail)");
	assert_detail("{\"a\": [\"x\", 5, \"y\"]}", "a: x; a: y");
}

static void test_many_field_errors_are_cut_to_the_buffer(void **state)
{
	char buf[40];
	struct text_buf body = {0};
	char *text;

	(void)state;
	text_buf_printf(&body, "{");
	for(int i = 0; i < 10000; i++)
		text_buf_printf(&body, "%s\"f%d\": [\"m\"]", i ? ", " : "", i);
	text_buf_printf(&body, "}");
	text = text_buf_take(&body, NULL);
	assert_non_null(text);
	api_decode_detail(text, strlen(text), buf, sizeof(buf));
	assert_string_equal(buf, "f0: m; f1: m; f2: m; f3: m; f4: m; f5: "); /* 39 bytes */
	free(text);
}

static void test_a_long_detail_is_cut_to_the_buffer(void **state)
{
	char body[2000], buf[32];

	(void)state;
	snprintf(body, sizeof(body), "{\"detail\": \"%0900d\"}", 7);
	api_decode_detail(body, strlen(body), buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

/* ---- calls ---- */

static void test_auto_fetch_posts_and_returns_the_progress_id(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;
	const struct fake_request *req;

	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"p-1\"}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), 0);
	assert_string_equal(id, "p-1");
	free(id);
	assert_int_equal(fake_nrequests(rig->f), 1);
	req = fake_request(rig->f, 0);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->url, AGENTS "42/auto-fetch/");
	assert_string_equal(req->key, FAKE_KEY);
}

static void test_each_call_names_its_endpoint_for_the_stats(void **state)
{
	struct rig *rig = *state;
	struct agent_list l;
	struct progress p;
	char *id = NULL, *raw = NULL;

	fake_expect(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 1}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": null, \"results\": [{\"id\": 2}]}");
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), 0);
	agent_list_free(&l);
	fake_expect(rig->f, "GET", "/42/$", HTTP_DONE, 200, "{}");
	assert_int_equal(api_get_agent(rig->api, NULL, 42, &rig->e), 0);
	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"p-1\"}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), 0);
	free(id);
	fake_expect(rig->f, "GET", "/auto-fetch-progress/", HTTP_DONE, 200,
		    "{\"status\": \"queued\", \"current_stage\": null, \"stages\": []}");
	assert_int_equal(api_progress(rig->api, NULL, 42, "p-1", &p, &raw, &rig->e), 0);
	progress_free(&p);
	free(raw);
	fake_expect(rig->f, "GET", "short_list/?page_size=1$", HTTP_DONE, 200, "{\"results\": []}");
	assert_int_equal(api_check(rig->api, &rig->e), 0);
	assert_int_equal(fake_nrequests(rig->f), 6);
	assert_int_equal(fake_request(rig->f, 0)->endpoint, STATS_LIST);
	assert_int_equal(fake_request(rig->f, 1)->endpoint, STATS_LIST); /* a `next` page */
	assert_int_equal(fake_request(rig->f, 2)->endpoint, STATS_AGENT);
	assert_int_equal(fake_request(rig->f, 3)->endpoint, STATS_AUTO_FETCH);
	assert_int_equal(fake_request(rig->f, 4)->endpoint, STATS_PROGRESS);
	assert_int_equal(fake_request(rig->f, 5)->endpoint, STATS_LIST); /* the key check at start-up */
}

static void test_a_refused_auto_fetch_keeps_the_detail_word_for_word(void **state)
{
	struct rig *rig = *state;
	char *id = (char *)"untouched";

	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 400,
		    "{\"detail\": \"Agent has no provider configured\"}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -EREMOTEIO);
	assert_null(id);
	assert_int_equal(rig->e.err, EREMOTEIO);
	assert_int_equal(rig->e.status, 400);
	assert_string_equal(rig->e.msg, "HTTP 400: Agent has no provider configured");
	assert_int_equal(fake_count(rig->f, "POST", "/auto-fetch/"), 1);
}

static void test_a_field_error_body_becomes_field_colon_message(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_expect(rig->f, "POST", "/7/auto-fetch/", HTTP_DONE, 400,
		    "{\"provider\": [\"No credentials stored for this provider.\"]}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 7, &id, &rig->e), -EREMOTEIO);
	assert_string_equal(rig->e.msg, "HTTP 400: provider: No credentials stored for this provider.");
}

static void test_an_unusable_progress_id_is_eproto(void **state)
{
	struct rig *rig = *state;
	char *id = (char *)"untouched";

	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"../../etc\"}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -EPROTO);
	assert_null(id);
	assert_int_equal(rig->e.err, EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: no usable \"progress_id\" string");
	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 202, "<html>accepted</html>");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: not JSON (21 bytes)");
}

static void test_a_post_is_sent_once_even_when_it_fails(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_default(rig->f, "POST", "/auto-fetch/", HTTP_DONE, 503, "{\"detail\": \"down\"}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -EIO);
	assert_string_equal(rig->e.msg, "HTTP 503: down");
	assert_int_equal(fake_count(rig->f, "POST", NULL), 1);
}

static void test_an_auto_fetch_answered_429_is_resent_after_retry_after(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 429, "{\"detail\": \"Slow down\"}")
		->retry_after = 0.1;
	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"p-2\"}");
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), 0);
	assert_string_equal(id, "p-2");
	free(id);
	assert_int_equal(fake_count(rig->f, "POST", "/42/auto-fetch/"), 2);
	assert_true(fake_request(rig->f, 1)->at - fake_request(rig->f, 0)->at >= 0.1);
}

static void test_an_auto_fetch_answered_429_past_the_budget_is_eagain_with_one_post(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_default(rig->f, "POST", "/42/auto-fetch/", HTTP_DONE, 429, "{\"detail\": \"Come back later\"}")
		->retry_after = 60;
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -EAGAIN);
	assert_null(id);
	assert_string_equal(rig->e.msg, "HTTP 429: Come back later");
	assert_int_equal(fake_count(rig->f, "POST", NULL), 1);
}

static void test_an_auto_fetch_whose_answer_was_lost_says_it_may_have_started(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_RESET, 0, NULL);
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -ECONNRESET);
	assert_string_equal(rig->e.msg,
			    "connection reset by the API after the request was sent: the API may have "
			    "started an import; a retry will tell (EBUSY if it did)");
	fake_expect(rig->f, "POST", "/42/auto-fetch/", HTTP_TIMEOUT, 0, NULL);
	assert_int_equal(api_auto_fetch(rig->api, NULL, 42, &id, &rig->e), -ETIMEDOUT);
	assert_string_equal(rig->e.msg,
			    "timed out after 5 s waiting for the answer: the API may have started an "
			    "import; a retry will tell (EBUSY if it did)");
	assert_int_equal(fake_count(rig->f, "POST", NULL), 2); /* neither was sent again */
	/* never sent (refused every time): nothing may have started */
	fake_default(rig->f, "POST", "/43/auto-fetch/", HTTP_REFUSED, 0, NULL);
	assert_int_equal(api_auto_fetch(rig->api, NULL, 43, &id, &rig->e), -ECONNREFUSED);
	assert_string_equal(rig->e.msg, "cannot connect to the API: connection refused");
	/* a GET whose answer was lost started nothing */
	fake_default(rig->f, "GET", "/aiagents/44/", HTTP_RESET, 0, NULL);
	assert_int_equal(api_get_agent(rig->api, NULL, 44, &rig->e), -ECONNRESET);
	assert_string_equal(rig->e.msg, "connection reset by the API");
	assert_null(id);
}

static void test_progress_gets_the_id_in_the_query_and_keeps_the_raw_body(void **state)
{
	struct rig *rig = *state;
	const char *body = "{\"agent_id\": 42, \"status\": \"completed\", \"current_stage\": \"\", "
			   "\"stages\": [{\"key\": \"tools\", \"state\": \"completed\"}], \"error\": null}";
	struct progress p;
	char *raw = NULL;

	fake_expect(rig->f, "GET", "/42/auto-fetch-progress/?progress_id=p-1$", HTTP_DONE, 200, body);
	assert_int_equal(api_progress(rig->api, NULL, 42, "p-1", &p, &raw, &rig->e), 0);
	assert_string_equal(raw, body);
	assert_string_equal(p.status, "completed");
	assert_string_equal(p.stages[0].name, "tools");
	assert_string_equal(p.stages[0].state, "completed");
	assert_string_equal(fake_request(rig->f, 0)->url, AGENTS "42/auto-fetch-progress/?progress_id=p-1");
	progress_free(&p);
	free(raw);
}

static void test_progress_with_an_invalid_id_sends_nothing(void **state)
{
	struct rig *rig = *state;
	struct progress p;
	char *raw = NULL;

	assert_int_equal(api_progress(rig->api, NULL, 42, "a&b", &p, &raw, &rig->e), -EINVAL);
	assert_int_equal(api_progress(rig->api, NULL, 42, "", &p, &raw, &rig->e), -EINVAL);
	assert_int_equal(api_progress(rig->api, NULL, 42, NULL, &p, &raw, &rig->e), -EINVAL);
	assert_null(raw);
	assert_int_equal(fake_nrequests(rig->f), 0);
}

static void test_an_unknown_progress_id_is_eremoteio_with_the_detail(void **state)
{
	struct rig *rig = *state;
	struct progress p;
	char *raw = NULL;

	fake_expect(rig->f, "GET", "/auto-fetch-progress/", HTTP_DONE, 400,
		    "{\"detail\": \"Invalid progress_id\"}");
	assert_int_equal(api_progress(rig->api, NULL, 42, "gone", &p, &raw, &rig->e), -EREMOTEIO);
	assert_string_equal(rig->e.msg, "HTTP 400: Invalid progress_id");
	assert_null(raw);
	assert_null(p.status);
	assert_int_equal(fake_nrequests(rig->f), 1); /* a 400 is not retried */
}

static void test_a_progress_body_of_the_wrong_shape_is_eproto(void **state)
{
	struct rig *rig = *state;
	struct progress p;
	char *raw = NULL;

	fake_expect(rig->f, "GET", "/auto-fetch-progress/", HTTP_DONE, 200,
		    "{\"status\": 3, \"stages\": []}");
	assert_int_equal(api_progress(rig->api, NULL, 42, "p", &p, &raw, &rig->e), -EPROTO);
	assert_string_equal(
		rig->e.msg,
		"malformed response: not a progress object (status, current_stage, stages, error)");
	assert_null(raw);
	fake_expect_raw(rig->f, "GET", "/auto-fetch-progress/", HTTP_DONE, 200, "{\"status\"\0", 10);
	assert_int_equal(api_progress(rig->api, NULL, 42, "p", &p, &raw, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: not JSON (10 bytes)");
}

/* ---- the tools-only import ---- */

#define TOOLS FAKE_BASE_URL "/test_framework/v1/aiagents/"
#define TOOLS_BODY                                                                                           \
	"{\"provider\": \"custom\", \"mcp_server_url\": \"https://mcp.example/\",\n \"api_key\": "           \
	"\"sk-provider-secret\"}"

static void test_tools_fetch_posts_the_body_unchanged_to_v1(void **state)
{
	struct rig *rig = *state;
	const struct fake_request *req;
	char *id = NULL;

	fake_expect(rig->f, "POST", "/42/tools/auto-fetch/$", HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, TOOLS_BODY, &id, &rig->e), 0);
	assert_string_equal(id, "t-1");
	free(id);
	assert_int_equal(fake_nrequests(rig->f), 1);
	req = fake_request(rig->f, 0);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->url, TOOLS "42/tools/auto-fetch/");
	assert_string_equal(req->key, FAKE_KEY);
	assert_int_equal(req->endpoint, STATS_TOOLS_FETCH);
	/* byte for byte, newline and all; the content type is the curl transport's (test_http) */
	assert_string_equal(fake_body(rig->f, 0), TOOLS_BODY);
	assert_int_equal(req->body_len, strlen(TOOLS_BODY));
	assert_string_equal(fake_request_body(rig->f, "POST", "/tools/auto-fetch/"), TOOLS_BODY);
}

static void test_tools_fetch_takes_any_2xx(void **state)
{
	static const long statuses[] = {200, 201, 202};
	struct rig *rig = *state;

	for(size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char *id = NULL;

		fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, statuses[i],
			    "{\"progress_id\": \"t-2\"}");
		assert_int_equal(api_tools_fetch(rig->api, NULL, 7, "{}", &id, &rig->e), 0);
		assert_string_equal(id, "t-2");
		free(id);
	}
}

static void test_tools_fetch_with_no_body_sends_nothing(void **state)
{
	struct rig *rig = *state;
	char *id = (char *)"untouched";

	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, NULL, &id, &rig->e), -EINVAL);
	assert_null(id);
	assert_int_equal(fake_nrequests(rig->f), 0);
}

static void test_a_refused_tools_fetch_shows_every_field_error_and_never_the_body(void **state)
{
	struct rig *rig = *state;
	char *id = (char *)"untouched";

	fake_expect(
		rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 400,
		"{\"provider\": [\"\\\"synthflow\\\" is not a valid choice.\"], \"assistant_id\": [\"This "
		"field is required.\"]}");
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, TOOLS_BODY, &id, &rig->e), -EREMOTEIO);
	assert_null(id);
	assert_int_equal(rig->e.status, 400);
	assert_string_equal(rig->e.msg,
			    "HTTP 400: provider: \"synthflow\" is not a valid choice.; assistant_id: "
			    "This field is required.");
	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 400,
		    "{\"detail\": \"A tools import is already running for this agent\"}");
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, TOOLS_BODY, &id, &rig->e), -EREMOTEIO);
	assert_string_equal(rig->e.msg, "HTTP 400: A tools import is already running for this agent");
	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 500, NULL);
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, TOOLS_BODY, &id, &rig->e), -EIO);
	assert_null(strstr(rig->e.msg, "sk-provider-secret"));
	assert_int_equal(fake_count(rig->f, "POST", NULL), 3); /* a 5xx POST is not sent again */
}

static void test_tools_endpoints_gone_are_eopnotsupp(void **state)
{
	static const long statuses[] = {404, 410};
	struct rig *rig = *state;

	for(size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char want[128], *id = NULL, *raw = (char *)"untouched";
		struct progress p;

		snprintf(want, sizeof(want), "HTTP %ld: the API no longer offers a tools-only import",
			 statuses[i]);
		fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, statuses[i],
			    "{\"detail\": \"Not found.\"}");
		assert_int_equal(api_tools_fetch(rig->api, NULL, 42, "{}", &id, &rig->e), -EOPNOTSUPP);
		assert_null(id);
		assert_int_equal(rig->e.err, EOPNOTSUPP);
		assert_int_equal(rig->e.status, statuses[i]);
		assert_string_equal(rig->e.msg, want);
		fake_expect(rig->f, "GET", "/tools/auto-fetch-progress/", HTTP_DONE, statuses[i], NULL);
		assert_int_equal(api_tools_progress(rig->api, NULL, 42, "t-1", &p, &raw, &rig->e),
				 -EOPNOTSUPP);
		assert_null(raw);
		assert_null(p.status);
		assert_int_equal(rig->e.status, statuses[i]);
		assert_string_equal(rig->e.msg, want);
	}
	assert_int_equal(fake_nrequests(rig->f), 4);
}

static void test_a_tools_fetch_whose_answer_was_lost_says_a_tools_import_may_have_started(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_RESET, 0, NULL);
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, "{}", &id, &rig->e), -ECONNRESET);
	assert_string_equal(rig->e.msg,
			    "connection reset by the API after the request was sent: the API may have "
			    "started a tools import; a retry will tell (EBUSY if it did)");
	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_TIMEOUT, 0, NULL);
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, "{}", &id, &rig->e), -ETIMEDOUT);
	assert_string_equal(rig->e.msg,
			    "timed out after 5 s waiting for the answer: the API may have started a "
			    "tools import; a retry will tell (EBUSY if it did)");
	assert_int_equal(fake_count(rig->f, "POST", NULL), 2);
	assert_null(id);
}

static void test_a_tools_fetch_answered_429_is_resent_with_the_same_body(void **state)
{
	struct rig *rig = *state;
	char *id = NULL;

	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 429, NULL)->retry_after = 0.01;
	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 200, "{\"progress_id\": \"t-3\"}");
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, TOOLS_BODY, &id, &rig->e), 0);
	assert_string_equal(id, "t-3");
	free(id);
	assert_int_equal(fake_nrequests(rig->f), 2);
	assert_string_equal(fake_body(rig->f, 0), TOOLS_BODY);
	assert_string_equal(fake_body(rig->f, 1), TOOLS_BODY);
}

static void test_a_tools_fetch_without_a_usable_progress_id_is_eproto(void **state)
{
	struct rig *rig = *state;
	char *id = (char *)"untouched";

	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 200, "{\"progress_id\": null}");
	assert_int_equal(api_tools_fetch(rig->api, NULL, 42, "{}", &id, &rig->e), -EPROTO);
	assert_null(id);
	assert_string_equal(rig->e.msg, "malformed response: no usable \"progress_id\" string");
}

static void test_tools_progress_gives_status_and_error_and_keeps_the_raw_body(void **state)
{
	static const struct {
		const char *body, *status, *error;
	} cases[] = {
		{"{\"status\": \"in_progress\", \"tools_created\": null, \"tools_updated\": null, "
		 "\"message\": "
		 "\"Discovering tools\", \"error\": null}",
		 "in_progress", NULL},
		{"{\"status\": \"completed\", \"tools_created\": 1, \"tools_updated\": 2, \"message\": "
		 "\"Imported 1 "
		 "tool, updated 2\", \"error\": null}",
		 "completed", NULL},
		{"{\"status\": \"failed\", \"tools_created\": null, \"tools_updated\": null, \"message\": "
		 "null, "
		 "\"error\": \"Provider returned 401: invalid API key\"}",
		 "failed", "Provider returned 401: invalid API key"},
		{"{\"status\": \"queued\"}", "queued", NULL},
	};
	struct rig *rig = *state;

	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct progress p;
		char *raw = NULL;

		fake_expect(rig->f, "GET", "/42/tools/auto-fetch-progress/?progress_id=t-1$", HTTP_DONE, 200,
			    cases[i].body);
		assert_int_equal(api_tools_progress(rig->api, NULL, 42, "t-1", &p, &raw, &rig->e), 0);
		assert_string_equal(raw, cases[i].body);
		assert_string_equal(p.status, cases[i].status);
		if(cases[i].error)
			assert_string_equal(p.error, cases[i].error);
		else
			assert_null(p.error);
		assert_string_equal(p.current_stage, "");
		assert_int_equal(p.nstages, 0);
		progress_free(&p);
		free(raw);
	}
	assert_string_equal(fake_request(rig->f, 0)->url,
			    TOOLS "42/tools/auto-fetch-progress/?progress_id=t-1");
	assert_int_equal(fake_request(rig->f, 0)->endpoint, STATS_TOOLS_PROGRESS);
	assert_null(fake_body(rig->f, 0));
}

static void test_an_unknown_tools_progress_id_is_eremoteio(void **state)
{
	struct rig *rig = *state;
	struct progress p;
	char *raw = NULL;

	fake_expect(rig->f, "GET", "/tools/auto-fetch-progress/", HTTP_DONE, 400,
		    "{\"detail\": \"Invalid or expired progress_id\"}");
	assert_int_equal(api_tools_progress(rig->api, NULL, 42, "gone", &p, &raw, &rig->e), -EREMOTEIO);
	assert_int_equal(rig->e.status, 400);
	assert_string_equal(rig->e.msg, "HTTP 400: Invalid or expired progress_id");
	assert_null(raw);
	assert_null(p.status);
	assert_int_equal(fake_nrequests(rig->f), 1);
}

static void test_a_tools_progress_of_the_wrong_shape_is_eproto(void **state)
{
	struct rig *rig = *state;
	struct progress p;
	char *raw = NULL;

	fake_expect(rig->f, "GET", "/tools/auto-fetch-progress/", HTTP_DONE, 200,
		    "{\"status\": \"completed\", \"tools_created\": \"1\"}");
	assert_int_equal(api_tools_progress(rig->api, NULL, 42, "t", &p, &raw, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg,
			    "malformed response: not a tools progress object (status, tools_created, "
			    "tools_updated, message, error)");
	assert_null(raw);
	assert_null(p.status);
	fake_expect(rig->f, "GET", "/tools/auto-fetch-progress/", HTTP_DONE, 200, "<html>");
	assert_int_equal(api_tools_progress(rig->api, NULL, 42, "t", &p, &raw, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: not JSON (6 bytes)");
	fake_expect(rig->f, "GET", "/tools/auto-fetch-progress/", HTTP_DONE, 200, NULL);
	assert_int_equal(api_tools_progress(rig->api, NULL, 42, "t", &p, &raw, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: not JSON (0 bytes)");
	assert_null(raw);
}

static void test_tools_progress_with_an_invalid_id_sends_nothing(void **state)
{
	struct rig *rig = *state;
	struct progress p;
	char *raw = NULL;

	assert_int_equal(api_tools_progress(rig->api, NULL, 42, "a&b", &p, &raw, &rig->e), -EINVAL);
	assert_int_equal(api_tools_progress(rig->api, NULL, 42, NULL, &p, &raw, &rig->e), -EINVAL);
	assert_null(raw);
	assert_int_equal(fake_nrequests(rig->f), 0);
}

/* ---- history ---- */

#define HISTORY AGENTS "42/history/"

/* A page reader for the tests: keeps every history_id, and fails with fail_rc
 * on page fail_on (1-based; 0: never). */
struct pages {
	int64_t ids[64];
	size_t n, pages, fail_on;
	int fail_rc;
	const char *key; /* each item's id field; NULL: "history_id" */
};

static int read_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items)
{
	struct pages *p = arg;
	struct json_doc d;
	int results, tok, next_tok, count_tok;

	*next = NULL;
	*count = -1;
	*items = 0;
	if(++p->pages == p->fail_on)
		return p->fail_rc;
	if(json_parse(&d, body, len) != 0)
		return -EPROTO;
	results = json_find(&d, 0, "results");
	next_tok = json_find(&d, 0, "next");
	count_tok = json_find(&d, 0, "count");
	if(json_type(&d, results) != JSON_ARRAY) {
		json_free(&d);
		return -EPROTO;
	}
	if(json_type(&d, count_tok) == JSON_NUMBER)
		assert_int_equal(json_int(&d, count_tok, count), 0);
	tok = results + 1;
	for(int i = 0; i < json_size(&d, results); i++) {
		assert_true(p->n < 64);
		assert_int_equal(
			json_int(&d, json_find(&d, tok, p->key ? p->key : "history_id"), &p->ids[p->n++]), 0);
		tok = json_next(&d, tok);
	}
	*items = (size_t)json_size(&d, results);
	if(json_type(&d, next_tok) == JSON_STRING)
		assert_int_equal(json_string(&d, next_tok, next), 0);
	json_free(&d);
	return 0;
}

static void test_history_gives_every_page_to_the_callers_reader(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_expect(rig->f, "GET", "/42/history/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 5, \"next\": \"" HISTORY "?page=2&page_size=1000\", \"results\": "
		    "[{\"history_id\": 42005}, {\"history_id\": 42004}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 5, \"next\": \"" HISTORY "?page=3&page_size=1000\", \"results\": "
		    "[{\"history_id\": 42003}, {\"history_id\": 42002}]}");
	fake_expect(rig->f, "GET", "page=3&", HTTP_DONE, 200,
		    "{\"count\": 5, \"next\": null, \"results\": [{\"history_id\": 42001}]}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), 0);
	assert_int_equal(p.pages, 3);
	assert_int_equal(p.n, 5);
	for(size_t i = 0; i < 5; i++)
		assert_int_equal(p.ids[i], 42005 - (int64_t)i);
	assert_int_equal(fake_nrequests(rig->f), 3);
	assert_string_equal(fake_request(rig->f, 0)->url, HISTORY "?page_size=1000");
	assert_string_equal(fake_request(rig->f, 1)->url, HISTORY "?page=2&page_size=1000");
	for(size_t i = 0; i < 3; i++) {
		assert_int_equal(fake_request(rig->f, i)->endpoint, STATS_HISTORY);
		assert_string_equal(fake_request(rig->f, i)->key, FAKE_KEY);
	}
}

static void test_history_of_one_page_without_a_count(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_expect(rig->f, "GET", "/42/history/", HTTP_DONE, 200, "{\"results\": [{\"history_id\": 1}]}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), 0);
	assert_int_equal(p.n, 1);
}

static void test_history_next_to_another_origin_is_eproto_and_not_followed(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_expect(rig->f, "GET", "/42/history/", HTTP_DONE, 200,
		    "{\"count\": 4, \"next\": "
		    "\"https://evil.example/test_framework/v2/aiagents/42/history/?page=2\", "
		    "\"results\": [{\"history_id\": 1}, {\"history_id\": 2}]}");
	fake_default(rig->f, NULL, "evil", HTTP_DONE, 200, "{\"next\": null, \"results\": []}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: `next` points away from api_url");
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_int_equal(fake_count(rig->f, NULL, "evil"), 0);
}

static void test_history_pages_in_a_loop_are_eproto(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_default(rig->f, "GET", "/42/history/?page_size=1000$", HTTP_DONE, 200,
		     "{\"count\": 100, \"next\": \"" HISTORY "?page=2&page_size=1000\", \"results\": "
		     "[{\"history_id\": 1}, {\"history_id\": 2}]}");
	fake_default(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		     "{\"count\": 100, \"next\": \"" HISTORY "?page_size=1000\", \"results\": "
		     "[{\"history_id\": 3}, {\"history_id\": 4}]}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: page 2 links back to an earlier page");
	assert_int_equal(fake_nrequests(rig->f), 2);
}

static void test_history_past_its_count_is_eproto(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_expect(rig->f, "GET", "/42/history/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": \"" HISTORY "?page=2&page_size=1000\", \"results\": "
		    "[{\"history_id\": 1}, {\"history_id\": 2}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": null, \"results\": [{\"history_id\": 3}, {\"history_id\": 4}, "
		    "{\"history_id\": 5}]}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg,
			    "malformed response: page 2 brings the versions to 5, more than the first "
			    "page's count of 2");
}

static void test_history_of_an_unknown_agent_is_enoent(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_expect(rig->f, "GET", "/43/history/", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(api_history(rig->api, NULL, 43, read_page, &p, &rig->e), -ENOENT);
	assert_int_equal(rig->e.status, 404);
	assert_string_equal(rig->e.msg, "HTTP 404: Not found.");
	assert_int_equal(p.pages, 0);
	assert_string_equal(fake_request(rig->f, 0)->url, AGENTS "43/history/?page_size=1000");
}

static void test_a_malformed_history_page_is_eproto(void **state)
{
	struct rig *rig = *state;
	struct pages p = {0};

	fake_expect(rig->f, "GET", "/42/history/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 3, \"next\": \"" HISTORY "?page=2&page_size=1000\", \"results\": "
		    "[{\"history_id\": 1}, {\"history_id\": 2}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200, "{\"count\": 3, \"results\": {}}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg,
			    "malformed response: a history page is not {\"count\": int, \"results\": "
			    "[...], \"next\": url}");
	fake_expect(rig->f, "GET", "/42/history/", HTTP_DONE, 200, "<html>oops</html>");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: not JSON (17 bytes)");
	assert_int_equal(fake_nrequests(rig->f), 3);
}

static void test_a_history_reader_out_of_memory_ends_the_walk(void **state)
{
	struct rig *rig = *state;
	struct pages p = {.fail_on = 1, .fail_rc = -ENOMEM};

	fake_expect(rig->f, "GET", "/42/history/", HTTP_DONE, 200, "{\"count\": 0, \"results\": []}");
	assert_int_equal(api_history(rig->api, NULL, 42, read_page, &p, &rig->e), -ENOMEM);
	assert_int_equal(rig->e.err, ENOMEM);
	assert_int_equal(api_history(rig->api, NULL, 42, NULL, &p, &rig->e), -EINVAL);
	assert_int_equal(fake_nrequests(rig->f), 1);
}

/* ---- evaluators, results, runs ---- */

#define SCENARIOS FAKE_BASE_URL "/test_framework/v1/scenarios/"
#define RESULTS	  FAKE_BASE_URL "/test_framework/v2/results/"
#define RUN_PATH  "/test_framework/v2/scenarios/run_scenarios_text/"
#define RUN_BODY  "{\"agent_id\": 42, \"scenarios\": [7, 8]}"
#define MAY_RUN	  "; the run may have started: look in results/ before running again"

static void test_scenarios_walks_every_page_of_the_agents_evaluators(void **state)
{
	struct rig *rig = *state;
	struct pages p = {.key = "id"};

	fake_expect(rig->f, "GET", "/v1/scenarios/?agent_id=42&page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 3, \"next\": \"" SCENARIOS "?agent_id=42&page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 7}, {\"id\": 8}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 3, \"next\": null, \"results\": [{\"id\": 9}]}");
	assert_int_equal(api_scenarios(rig->api, NULL, 42, read_page, &p, &rig->e), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.ids[0], 7);
	assert_int_equal(p.ids[2], 9);
	assert_int_equal(fake_nrequests(rig->f), 2);
	assert_string_equal(fake_request(rig->f, 0)->url, SCENARIOS "?agent_id=42&page_size=1000");
	for(size_t i = 0; i < 2; i++) {
		assert_int_equal(fake_request(rig->f, i)->endpoint, STATS_SCENARIOS);
		assert_int_equal(fake_request(rig->f, i)->max_body, 0);
	}
	assert_int_equal(fake_pending(rig->f), 0);
}

static void test_results_walks_every_page_of_the_agents_results(void **state)
{
	struct rig *rig = *state;
	struct pages p = {.key = "id"};

	fake_expect(rig->f, "GET", "/v2/results/?agent_id=42&page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 3, \"next\": \"" RESULTS "?agent_id=42&page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 31}, {\"id\": 30}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 3, \"next\": null, \"results\": [{\"id\": 29}]}");
	assert_int_equal(api_results(rig->api, NULL, 42, read_page, &p, &rig->e), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.ids[0], 31);
	assert_int_equal(p.ids[2], 29);
	assert_string_equal(fake_request(rig->f, 0)->url, RESULTS "?agent_id=42&page_size=1000");
	assert_string_equal(fake_request(rig->f, 1)->url, RESULTS "?agent_id=42&page=2&page_size=1000");
	for(size_t i = 0; i < 2; i++)
		assert_int_equal(fake_request(rig->f, i)->endpoint, STATS_RESULTS);
	assert_int_equal(fake_pending(rig->f), 0);
}

static void test_evaluator_and_result_listings_keep_the_walkers_bounds(void **state)
{
	struct rig *rig = *state;
	struct pages p = {.key = "id"};

	/* a `next` away from api_url is not followed */
	fake_expect(rig->f, "GET", "/v1/scenarios/", HTTP_DONE, 200,
		    "{\"count\": 4, \"next\": \"https://evil.example/test_framework/v1/scenarios/?page=2\", "
		    "\"results\": [{\"id\": 1}, {\"id\": 2}]}");
	assert_int_equal(api_scenarios(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "malformed response: `next` points away from api_url");
	/* a page of the wrong shape names what a page must be */
	fake_expect(rig->f, "GET", "/v2/results/", HTTP_DONE, 200, "{\"results\": 3}");
	assert_int_equal(api_results(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg,
			    "malformed response: a result page is not {\"count\": int, \"results\": "
			    "[...], \"next\": url}");
	/* no reader, nothing sent */
	assert_int_equal(api_results(rig->api, NULL, 42, NULL, &p, &rig->e), -EINVAL);
	assert_int_equal(api_scenarios(rig->api, NULL, 42, NULL, &p, &rig->e), -EINVAL);
	assert_int_equal(fake_nrequests(rig->f), 2);
}

static void test_result_gets_the_detail_as_sent_with_a_64_mib_cap(void **state)
{
	struct rig *rig = *state;
	char *body = (char *)1;
	size_t len = 99;

	fake_expect(rig->f, "GET", "/v2/results/7/$", HTTP_DONE, 200, "{\"id\": 7, \"runs\": {}}");
	assert_int_equal(api_result(rig->api, NULL, 7, &body, &len, &rig->e), 0);
	assert_string_equal(body, "{\"id\": 7, \"runs\": {}}");
	assert_int_equal(len, strlen(body));
	free(body);
	assert_string_equal(fake_request(rig->f, 0)->url, RESULTS "7/");
	assert_string_equal(fake_request(rig->f, 0)->method, "GET");
	assert_int_equal(fake_request(rig->f, 0)->endpoint, STATS_RESULT);
	assert_int_equal(fake_request(rig->f, 0)->max_body, API_RESULT_MAX_BODY);
	assert_int_equal(API_RESULT_MAX_BODY, 64u * 1024 * 1024);
}

static void test_an_unknown_result_is_enoent(void **state)
{
	struct rig *rig = *state;
	char *body = (char *)1;
	size_t len = 99;

	fake_expect(rig->f, "GET", "/v2/results/8/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(api_result(rig->api, NULL, 8, &body, &len, &rig->e), -ENOENT);
	assert_string_equal(rig->e.msg, "HTTP 404: Not found.");
	assert_null(body);
	assert_int_equal(len, 0);
}

/* A body of n bytes: a JSON string of n - 2 'x'. */
static char *big_body(size_t n)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	memset(b, 'x', n);
	b[0] = b[n - 1] = '"';
	b[n] = '\0';
	return b;
}

static void test_a_result_may_pass_16_mib_but_not_64(void **state)
{
	struct rig *rig = *state;
	size_t over16 = HTTP_MAX_BODY + 1, over64 = API_RESULT_MAX_BODY + 1;
	char *b16 = big_body(over16), *b64 = big_body(over64), *body = NULL;
	size_t len = 0;
	struct pages p = {.key = "id"};

	fake_expect_raw(rig->f, "GET", "/v2/results/7/$", HTTP_DONE, 200, b16, over16);
	assert_int_equal(api_result(rig->api, NULL, 7, &body, &len, &rig->e), 0);
	assert_int_equal(len, over16);
	free(body);
	fake_expect_raw(rig->f, "GET", "/v2/results/8/$", HTTP_DONE, 200, b64, over64);
	assert_int_equal(api_result(rig->api, NULL, 8, &body, &len, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "response larger than 64 MiB");
	assert_null(body);
	/* the cap is this request's: a listing page keeps 16 MiB */
	fake_expect_raw(rig->f, "GET", "/v2/results/?agent_id=42", HTTP_DONE, 200, b16, over16);
	assert_int_equal(api_results(rig->api, NULL, 42, read_page, &p, &rig->e), -EPROTO);
	assert_string_equal(rig->e.msg, "response larger than 16 MiB");
	free(b16);
	free(b64);
}

static void test_end_calls_posts_no_body_and_takes_any_2xx(void **state)
{
	struct rig *rig = *state;
	static const long codes[] = {200, 202, 204};

	for(size_t i = 0; i < 3; i++) {
		fake_expect(rig->f, "POST", "/v2/results/7/end_calls/$", HTTP_DONE, codes[i], NULL);
		assert_int_equal(api_end_calls(rig->api, NULL, 7, &rig->e), 0);
		assert_string_equal(fake_request(rig->f, i)->url, RESULTS "7/end_calls/");
		assert_null(fake_body(rig->f, i));
		assert_int_equal(fake_request(rig->f, i)->endpoint, STATS_END_CALLS);
	}
	fake_default(rig->f, "POST", "/v2/results/9/end_calls/", HTTP_DONE, 503, "{\"detail\": \"down\"}");
	assert_int_equal(api_end_calls(rig->api, NULL, 9, &rig->e), -EIO);
	assert_string_equal(rig->e.msg, "HTTP 503: down");
	assert_int_equal(fake_count(rig->f, "POST", "/9/end_calls/"), 1);
	fake_expect(rig->f, "POST", "/v2/results/10/end_calls/", HTTP_DONE, 404,
		    "{\"detail\": \"Not found.\"}");
	assert_int_equal(api_end_calls(rig->api, NULL, 10, &rig->e), -ENOENT);
}

static void test_run_posts_the_body_to_the_modes_endpoint_and_returns_the_reply(void **state)
{
	struct rig *rig = *state;
	char *reply = (char *)1;
	size_t len = 99;

	fake_expect(rig->f, "POST", RUN_PATH "$", HTTP_DONE, 201, "{\"id\": 77, \"status\": \"pending\"}");
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e), 0);
	assert_string_equal(reply, "{\"id\": 77, \"status\": \"pending\"}");
	assert_int_equal(len, strlen(reply));
	free(reply);
	assert_string_equal(fake_request(rig->f, 0)->url, FAKE_BASE_URL RUN_PATH);
	assert_string_equal(fake_request(rig->f, 0)->method, "POST");
	assert_string_equal(fake_body(rig->f, 0), RUN_BODY);
	assert_int_equal(fake_request(rig->f, 0)->endpoint, STATS_RUN);
	assert_true(fake_request(rig->f, 0)->keep_once_sent);
	/* its own budget: 30 s, not the policy's 5 */
	assert_true(fake_request(rig->f, 0)->timeout > 29 && fake_request(rig->f, 0)->timeout <= 30);
}

static void test_a_run_answered_429_is_resent_with_the_same_body(void **state)
{
	struct rig *rig = *state;
	char *reply = NULL;
	size_t len = 0;

	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 429, NULL)->retry_after = 0.01;
	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 201, "{\"id\": 78}");
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e), 0);
	assert_string_equal(reply, "{\"id\": 78}");
	free(reply);
	assert_int_equal(fake_nrequests(rig->f), 2);
	assert_string_equal(fake_body(rig->f, 0), RUN_BODY);
	assert_string_equal(fake_body(rig->f, 1), RUN_BODY);
}

static void test_a_run_that_failed_after_it_was_sent_is_not_resent_and_says_so(void **state)
{
	struct rig *rig = *state;
	char *reply = NULL;
	size_t len = 0;

	fake_expect(rig->f, "POST", RUN_PATH, HTTP_RESET, 0, NULL);
	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 201, "{\"id\": 1}"); /* must not be used */
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e), -ECONNRESET);
	assert_string_equal(rig->e.msg, "connection reset by the API" MAY_RUN);
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_int_equal(fake_pending(rig->f), 1);
	assert_null(reply);
	fake_default(rig->f, "POST", "/run_scenarios/", HTTP_DONE, 502, "{\"detail\": \"Bad gateway\"}");
	assert_int_equal(api_run(rig->api, NULL, "/test_framework/v2/scenarios/run_scenarios/", RUN_BODY, 30,
				 &reply, &len, &rig->e),
			 -EIO);
	assert_string_equal(rig->e.msg, "HTTP 502: Bad gateway" MAY_RUN);
	assert_int_equal(fake_count(rig->f, "POST", "/run_scenarios/"), 1);
	assert_null(reply);
}

static void test_a_run_refused_by_the_api_does_not_say_it_may_have_started(void **state)
{
	struct rig *rig = *state;
	char *reply = NULL;
	size_t len = 0;

	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 400, "{\"scenarios\": [\"Invalid pk \\\"9\\\"\"]}");
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e), -EREMOTEIO);
	assert_string_equal(rig->e.msg, "HTTP 400: scenarios: Invalid pk \"9\"");
	fake_default(rig->f, "POST", RUN_PATH, HTTP_REFUSED, 0, NULL);
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e),
			 -ECONNREFUSED);
	assert_string_equal(rig->e.msg, "cannot connect to the API: connection refused");
	assert_null(reply);
}

static void test_a_run_times_out_after_its_own_budget(void **state)
{
	struct rig *rig = *state;
	char *reply = NULL;
	size_t len = 0;
	double start = fake_now();

	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 201, "{\"id\": 1}")->delay = 2;
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 0.25, &reply, &len, &rig->e),
			 -ETIMEDOUT);
	assert_true(fake_now() - start < 1.5);
	assert_string_equal(rig->e.msg, "timed out after 0.25 s" MAY_RUN);
	assert_true(fake_request(rig->f, 0)->timeout <= 0.25);
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_null(reply);
}

static bool always_cancelled(void *arg)
{
	int *looks = arg;

	(*looks)++;
	return true;
}

static void test_an_interrupt_does_not_abandon_a_run_once_sent(void **state)
{
	struct rig *rig = *state;
	int looks = 0;
	const struct api_cancel c = {.cancelled = always_cancelled, .arg = &looks};
	char *reply = NULL;
	size_t len = 0;

	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 201, "{\"id\": 79}")->delay = 0.2;
	assert_int_equal(api_run(rig->api, &c, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e), 0);
	assert_string_equal(reply, "{\"id\": 79}");
	free(reply);
	assert_int_equal(looks, 0);
	/* another POST in the same case is abandoned */
	fake_expect(rig->f, "POST", "/tools/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"p\"}")->delay =
		0.2;
	assert_int_equal(api_tools_fetch(rig->api, &c, 42, "{}", &reply, &rig->e), -EINTR);
	assert_true(looks > 0);
}

static void test_an_interrupt_in_the_backoff_after_a_429_stops_the_run(void **state)
{
	struct rig *rig = *state;
	int looks = 0;
	const struct api_cancel c = {.cancelled = always_cancelled, .arg = &looks};
	char *reply = NULL;
	size_t len = 0;

	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 429, NULL)->retry_after = 0.5;
	fake_expect(rig->f, "POST", RUN_PATH, HTTP_DONE, 201, "{\"id\": 80}");
	assert_int_equal(api_run(rig->api, &c, RUN_PATH, RUN_BODY, 30, &reply, &len, &rig->e), -EINTR);
	assert_string_equal(rig->e.msg, "interrupted"); /* nothing started: no warning */
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_null(reply);
}

static void test_a_run_without_path_body_or_budget_sends_nothing(void **state)
{
	struct rig *rig = *state;
	char *reply = NULL;
	size_t len = 0;

	assert_int_equal(api_run(rig->api, NULL, NULL, RUN_BODY, 30, &reply, &len, &rig->e), -EINVAL);
	assert_int_equal(api_run(rig->api, NULL, "run/", RUN_BODY, 30, &reply, &len, &rig->e), -EINVAL);
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, NULL, 30, &reply, &len, &rig->e), -EINVAL);
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, 0, &reply, &len, &rig->e), -EINVAL);
	assert_int_equal(api_run(rig->api, NULL, RUN_PATH, RUN_BODY, -1, &reply, &len, &rig->e), -EINVAL);
	assert_int_equal(fake_nrequests(rig->f), 0);
	assert_null(reply);
}

/* ---- the rest ---- */

static void test_listing_follows_next_over_every_page_and_sorts(void **state)
{
	struct rig *rig = *state;
	struct agent_list l;

	fake_expect(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 6, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 40, \"agent_name\": \"forty\"}, {\"id\": 3}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 6, \"next\": \"" AGENTS "short_list/?page=3&page_size=1000\", "
		    "\"results\": [{\"id\": 9223372036854775807}, {\"id\": 1}]}");
	fake_expect(rig->f, "GET", "page=3&", HTTP_DONE, 200,
		    "{\"count\": 6, \"next\": null, \"results\": [{\"id\": 17}, {\"id\": 2}, {\"id\": 3}]}");
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), 0);
	assert_int_equal(l.n, 6); /* 3 came twice (pages shifted): listed once */
	assert_int_equal(l.items[0].id, 1);
	assert_int_equal(l.items[1].id, 2);
	assert_int_equal(l.items[2].id, 3);
	assert_int_equal(l.items[3].id, 17);
	assert_int_equal(l.items[4].id, 40);
	assert_string_equal(agent_list_name(&l, 4), "forty"); /* names follow their ids */
	assert_true(l.items[5].id == (uint64_t)INT64_MAX);
	agent_list_free(&l);
	assert_int_equal(fake_nrequests(rig->f), 3);
	assert_string_equal(fake_request(rig->f, 0)->url, AGENTS "short_list/?page_size=1000");
	assert_string_equal(fake_request(rig->f, 1)->url, AGENTS "short_list/?page=2&page_size=1000");
	assert_int_equal(fake_pending(rig->f), 0);
}

static void test_an_empty_listing_is_no_agents(void **state)
{
	struct rig *rig = *state;
	struct agent_list l;

	fake_expect(rig->f, "GET", "short_list/", HTTP_DONE, 200,
		    "{\"count\": 0, \"next\": null, \"results\": []}");
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), 0);
	assert_int_equal(l.n, 0);
	agent_list_free(&l);
}

static void test_next_pointing_elsewhere_is_refused_and_gets_no_key(void **state)
{
	static const char *const away[] = {
		"https://evil.example/test_framework/v2/aiagents/short_list/?page=2",
		"https://api.test.evil.example/test_framework/v2/aiagents/short_list/?page=2",
		"https://api.test@evil.example/test_framework/v2/aiagents/short_list/?page=2",
		"https://api.test:8443/test_framework/v2/aiagents/short_list/?page=2",
		"http://api.test/test_framework/v2/aiagents/short_list/?page=2",
		"/test_framework/v2/aiagents/short_list/?page=2",
		"https://api.test",
	};
	struct rig *rig = *state;

	for(size_t i = 0; i < sizeof(away) / sizeof(away[0]); i++) {
		struct agent_list l;
		char *page = NULL;

		assert_true(asprintf(&page, "{\"next\": \"%s\", \"results\": [{\"id\": 1}]}", away[i]) > 0);
		fake_expect(rig->f, "GET", "short_list/?page_size=1000", HTTP_DONE, 200, page);
		fake_default(rig->f, NULL, "page=2", HTTP_DONE, 200, "{\"next\": null, \"results\": []}");
		if(api_list_agents(rig->api, NULL, &l, &rig->e) != -EPROTO)
			fail_msg("followed %s", away[i]);
		assert_null(l.items);
		assert_int_equal(l.n, 0);
		assert_string_equal(rig->e.msg, "malformed response: `next` points away from api_url");
		free(page);
	}
	/* only the first pages were asked for: nothing went elsewhere, with or without the key */
	assert_int_equal(fake_nrequests(rig->f), sizeof(away) / sizeof(away[0]));
	assert_int_equal(fake_count(rig->f, NULL, "page=2"), 0);
	assert_int_equal(fake_count(rig->f, NULL, "evil"), 0);
}

static void test_a_failing_page_fails_the_listing(void **state)
{
	struct rig *rig = *state;
	struct agent_list l;

	fake_expect(rig->f, "GET", "short_list/?page_size=1000", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": \"" AGENTS "short_list/?page=2\", \"results\": [{\"id\": 1}]}");
	fake_default(rig->f, "GET", "page=2", HTTP_DONE, 503, NULL);
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), -EIO);
	assert_null(l.items);
	assert_int_equal(l.n, 0);
	assert_string_equal(rig->e.msg, "HTTP 503: (no detail)");
	fake_expect(rig->f, "GET", "short_list/?page_size=1000", HTTP_DONE, 200,
		    "{\"results\": [{\"id\": \"1\"}]}");
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), -EPROTO);
	assert_null(l.items);
}

/* Lists with the fake, expecting EPROTO with msg after exactly requests GETs. */
static void assert_listing_eproto(struct rig *rig, size_t requests, const char *msg)
{
	struct agent_list l;

	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), -EPROTO);
	assert_null(l.items);
	assert_int_equal(l.n, 0);
	assert_string_equal(rig->e.msg, msg);
	assert_int_equal(fake_nrequests(rig->f), requests);
	assert_int_equal(fake_unexpected(rig->f), 0);
}

static void test_a_page_linking_to_itself_is_eproto_at_once(void **state)
{
	struct rig *rig = *state;

	/* the first page links to its own URL, and would answer it forever */
	fake_default(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		     "{\"count\": 100000, \"next\": \"" AGENTS "short_list/?page_size=1000\", "
		     "\"results\": [{\"id\": 1}]}");
	assert_listing_eproto(rig, 1, "malformed response: page 1 links back to an earlier page");
}

static void test_a_later_page_linking_to_itself_is_eproto(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 3000, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 1}, {\"id\": 2}]}");
	fake_default(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		     "{\"count\": 3000, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		     "\"results\": [{\"id\": 3}]}");
	assert_listing_eproto(rig, 2, "malformed response: page 2 links back to an earlier page");
}

static void test_a_loop_back_to_page_1_is_eproto(void **state)
{
	struct rig *rig = *state;

	/* 1 -> 2 -> 3 -> 1 -> ...: each page brings agents, so memory grew with every turn */
	fake_default(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		     "{\"count\": 100000, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		     "\"results\": [{\"id\": 1}, {\"id\": 2}]}");
	fake_default(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		     "{\"count\": 100000, \"next\": \"" AGENTS "short_list/?page=3&page_size=1000\", "
		     "\"results\": [{\"id\": 3}, {\"id\": 4}]}");
	fake_default(rig->f, "GET", "page=3&", HTTP_DONE, 200,
		     "{\"count\": 100000, \"next\": \"" AGENTS "short_list/?page_size=1000\", "
		     "\"results\": [{\"id\": 5}, {\"id\": 6}]}");
	assert_listing_eproto(rig, 3, "malformed response: page 3 links back to an earlier page");
}

static void test_more_pages_than_count_allows_is_eproto(void **state)
{
	struct rig *rig = *state;
	char *page = NULL;

	/* count 4 in pages of 2: 2 pages, 3 with one of slack; every page links to a new one */
	for(int i = 2; i <= 10; i++) {
		char match[32];

		snprintf(match, sizeof(match), "page=%d&", i);
		assert_true(asprintf(&page,
				     "{\"count\": 4, \"next\": \"" AGENTS
				     "short_list/?page=%d&page_size=1000\", "
				     "\"results\": [{\"id\": %d}, {\"id\": %d}]}",
				     i + 1, 2 * i + 1, 2 * i + 2) > 0);
		fake_default(rig->f, "GET", match, HTTP_DONE, 200, page);
		free(page);
	}
	fake_default(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		     "{\"count\": 4, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		     "\"results\": [{\"id\": 1}, {\"id\": 2}]}");
	assert_listing_eproto(
		rig, 3,
		"malformed response: page 3 links to page 4, more than a count of 4 in pages of 2 "
		"allows");
}

static void test_more_agents_than_count_is_eproto(void **state)
{
	struct rig *rig = *state;

	/* count 2 and pages of 2: a page of slack allows 4 agents, the second page brings 5 */
	fake_expect(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 1}, {\"id\": 2}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 2, \"next\": null, \"results\": [{\"id\": 3}, {\"id\": 4}, {\"id\": 5}]}");
	assert_listing_eproto(rig, 2,
			      "malformed response: page 2 brings the agents to 5, more than the first page's "
			      "count of 2");
}

static void test_a_next_without_a_count_is_eproto(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		    "{\"next\": \"" AGENTS
		    "short_list/?page=2&page_size=1000\", \"results\": [{\"id\": 1}]}");
	assert_listing_eproto(rig, 1, "malformed response: page 1 has a `next` but no `count`");
}

static void test_pages_that_shift_by_one_page_are_followed(void **state)
{
	struct rig *rig = *state;
	struct agent_list l;

	/* count 4 in pages of 2 when the listing began; an agent was added meanwhile */
	fake_expect(rig->f, "GET", "short_list/?page_size=1000$", HTTP_DONE, 200,
		    "{\"count\": 4, \"next\": \"" AGENTS "short_list/?page=2&page_size=1000\", "
		    "\"results\": [{\"id\": 1}, {\"id\": 2}]}");
	fake_expect(rig->f, "GET", "page=2&", HTTP_DONE, 200,
		    "{\"count\": 5, \"next\": \"" AGENTS "short_list/?page=3&page_size=1000\", "
		    "\"results\": [{\"id\": 2}, {\"id\": 3}]}");
	fake_expect(rig->f, "GET", "page=3&", HTTP_DONE, 200,
		    "{\"count\": 5, \"next\": null, \"results\": [{\"id\": 4}, {\"id\": 5}]}");
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), 0);
	assert_int_equal(l.n, 5);
	agent_list_free(&l);
}

static void test_get_agent_maps_404_to_enoent(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", "/aiagents/42/$", HTTP_DONE, 200, "{\"id\": 42}");
	fake_expect(rig->f, "GET", "/aiagents/43/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	fake_expect(rig->f, "GET", "/aiagents/44/$", HTTP_DONE, 403, "{\"detail\": \"Forbidden\"}");
	assert_int_equal(api_get_agent(rig->api, NULL, 42, &rig->e), 0);
	assert_int_equal(api_get_agent(rig->api, NULL, 43, &rig->e), -ENOENT);
	assert_string_equal(rig->e.msg, "HTTP 404: Not found.");
	assert_int_equal(api_get_agent(rig->api, NULL, 44, &rig->e), -EACCES);
	assert_string_equal(fake_request(rig->f, 0)->url, AGENTS "42/");
	assert_int_equal(fake_nrequests(rig->f), 3);
}

static void test_get_agent_body_keeps_the_body_as_sent(void **state)
{
	struct rig *rig = *state;
	char *body = (char *)1;
	size_t len = 99;

	fake_expect(rig->f, "GET", "/aiagents/42/$", HTTP_DONE, 200, "{\"id\": 42, \"name\": \"B\\u00e9\"}");
	fake_expect(rig->f, "GET", "/aiagents/43/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(api_get_agent_body(rig->api, NULL, 42, &body, &len, &rig->e), 0);
	assert_string_equal(body, "{\"id\": 42, \"name\": \"B\\u00e9\"}");
	assert_int_equal(len, strlen(body));
	free(body);
	assert_int_equal(api_get_agent_body(rig->api, NULL, 43, &body, &len, &rig->e), -ENOENT);
	assert_null(body);
	assert_int_equal(len, 0);
}

static void test_check_asks_for_one_agent_and_reports_a_rejected_key(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", "short_list/?page_size=1$", HTTP_DONE, 401,
		    "{\"detail\": \"Invalid API key\"}");
	assert_int_equal(api_check(rig->api, &rig->e), -EACCES);
	assert_string_equal(rig->e.msg, "HTTP 401: Invalid API key");
	fake_expect(rig->f, "GET", "short_list/?page_size=1$", HTTP_DONE, 200, "{\"results\": []}");
	assert_int_equal(api_check(rig->api, &rig->e), 0);
}

static void test_transport_failures_are_described_with_the_budget(void **state)
{
	struct http_policy policy = *fake_policy();
	struct fake *f = fake_new();
	struct api *api;
	struct api_error e;

	(void)state;
	policy.timeout = 0.1;
	api = api_new(fake_transport(f), FAKE_BASE_URL, FAKE_KEY, &policy);
	assert_non_null(api);
	assert_true(api_timeout(api) == 0.1);
	fake_expect(f, "GET", "/aiagents/1/", HTTP_DONE, 200, "{}")->delay = 5;
	assert_int_equal(api_get_agent(api, NULL, 1, &e), -ETIMEDOUT);
	assert_string_equal(e.msg, "timed out after 0.1 s");
	assert_int_equal(e.status, 0);
	fake_default(f, "GET", "/aiagents/2/", HTTP_REFUSED, 0, NULL);
	assert_int_equal(api_get_agent(api, NULL, 2, &e), -ECONNREFUSED);
	assert_string_equal(e.msg, "cannot connect to the API: connection refused");
	api_free(api);
	fake_free(f);
}

static void test_an_unverified_certificate_says_so_with_the_transport_words(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", "/aiagents/1/", HTTP_TLS_VERIFY, 0, NULL)->detail =
		"SSL certificate problem: unable to get local issuer certificate";
	assert_int_equal(api_get_agent(rig->api, NULL, 1, &rig->e), -EIO);
	assert_string_equal(rig->e.msg, "TLS certificate verification failed: SSL certificate problem: "
					"unable to get local issuer certificate");
	assert_int_equal(rig->e.status, 0);
	/* Not retried: the same certificate would be refused again. */
	assert_int_equal(fake_count(rig->f, "GET", "/aiagents/1/"), 1);
	fake_expect(rig->f, "GET", "/aiagents/2/", HTTP_TLS_VERIFY, 0, NULL);
	assert_int_equal(api_get_agent(rig->api, NULL, 2, &rig->e), -EIO);
	assert_string_equal(rig->e.msg, "TLS certificate verification failed");
}

static void test_the_key_is_sent_on_every_request_and_nowhere_else(void **state)
{
	struct rig *rig = *state;
	struct agent_list l;
	char *id = NULL, *raw = NULL;
	struct progress p;

	fake_expect(rig->f, "GET", "short_list/", HTTP_DONE, 200,
		    "{\"count\": 1, \"next\": \"" AGENTS "short_list/?page=2\", \"results\": [{\"id\": 1}]}");
	fake_expect(rig->f, "GET", "page=2", HTTP_DONE, 200, "{\"next\": null, \"results\": []}");
	fake_expect(rig->f, "GET", "/aiagents/1/$", HTTP_DONE, 503, NULL);
	fake_expect(rig->f, "GET", "/aiagents/1/$", HTTP_DONE, 200, "{}");
	fake_expect(rig->f, "POST", "/1/auto-fetch/", HTTP_DONE, 400, "{\"detail\": \"no\"}");
	fake_expect(rig->f, "GET", "progress_id=p", HTTP_DONE, 200,
		    "{\"status\": \"queued\", \"stages\": []}");
	assert_int_equal(api_list_agents(rig->api, NULL, &l, &rig->e), 0);
	agent_list_free(&l);
	assert_int_equal(api_get_agent(rig->api, NULL, 1, &rig->e), 0);
	assert_int_equal(api_auto_fetch(rig->api, NULL, 1, &id, &rig->e), -EREMOTEIO);
	assert_null(strstr(rig->e.msg, FAKE_KEY));
	assert_int_equal(api_progress(rig->api, NULL, 1, "p", &p, &raw, &rig->e), 0);
	progress_free(&p);
	free(raw);
	assert_int_equal(fake_nrequests(rig->f), 6);
	for(size_t i = 0; i < fake_nrequests(rig->f); i++) {
		const struct fake_request *req = fake_request(rig->f, i);

		assert_non_null(req->key);
		assert_string_equal(req->key, FAKE_KEY);
		assert_null(strstr(req->url, FAKE_KEY));
	}
}

static void test_base_url_trailing_slashes_are_dropped(void **state)
{
	struct fake *f = fake_new();
	struct api *api = api_new(fake_transport(f), FAKE_BASE_URL "//", FAKE_KEY, fake_policy());
	struct api_error e;

	(void)state;
	fake_expect(f, "GET", "/aiagents/5/", HTTP_DONE, 200, "{}");
	assert_int_equal(api_get_agent(api, NULL, 5, &e), 0);
	assert_string_equal(fake_request(f, 0)->url, AGENTS "5/");
	api_free(api);
	fake_free(f);
}

static void test_api_free_destroys_the_transport(void **state)
{
	struct fake *f = fake_new();
	struct api *api = api_new(fake_transport(f), FAKE_BASE_URL, FAKE_KEY, fake_policy());

	(void)state;
	assert_false(fake_destroyed(f));
	api_free(api);
	assert_true(fake_destroyed(f));
	fake_free(f);
	api_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_decodes_every_field),
		cmocka_unit_test(test_stage_name_comes_from_any_of_the_documented_keys),
		cmocka_unit_test(test_stage_name_is_the_first_present_in_documented_order),
		cmocka_unit_test(test_stage_state_comes_from_status_then_state),
		cmocka_unit_test(test_other_stage_keys_are_ignored),
		cmocka_unit_test(test_null_or_missing_error_and_current_stage_are_accepted),
		cmocka_unit_test(test_progress_of_the_wrong_shape_is_eproto),
		cmocka_unit_test(test_auto_fetch_decoder_takes_a_valid_progress_id),
		cmocka_unit_test(test_auto_fetch_decoder_rejects_unusable_ids),
		cmocka_unit_test(test_agent_page_decoder_appends_ids_and_returns_next),
		cmocka_unit_test(test_agent_page_decoder_rejects_bad_pages),
		cmocka_unit_test(test_detail_is_taken_word_for_word),
		cmocka_unit_test(test_field_errors_read_field_colon_message),
		cmocka_unit_test(test_bodies_without_detail_say_so),
		cmocka_unit_test(test_the_4xx_examples_of_the_design),
		cmocka_unit_test(test_detail_wins_over_field_errors),
		cmocka_unit_test(test_every_field_error_is_shown_in_the_order_received),
		cmocka_unit_test(test_non_field_errors_show_the_message_alone),
		cmocka_unit_test(test_a_bare_array_of_strings_is_joined),
		cmocka_unit_test(test_nested_and_other_values_are_skipped),
		cmocka_unit_test(test_many_field_errors_are_cut_to_the_buffer),
		cmocka_unit_test(test_a_long_detail_is_cut_to_the_buffer),
		cmocka_unit_test_setup_teardown(test_each_call_names_its_endpoint_for_the_stats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_auto_fetch_posts_and_returns_the_progress_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_refused_auto_fetch_keeps_the_detail_word_for_word,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_field_error_body_becomes_field_colon_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_unusable_progress_id_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_post_is_sent_once_even_when_it_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_auto_fetch_answered_429_is_resent_after_retry_after,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_an_auto_fetch_answered_429_past_the_budget_is_eagain_with_one_post, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_an_auto_fetch_whose_answer_was_lost_says_it_may_have_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_progress_gets_the_id_in_the_query_and_keeps_the_raw_body,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_progress_with_an_invalid_id_sends_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_unknown_progress_id_is_eremoteio_with_the_detail,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_progress_body_of_the_wrong_shape_is_eproto, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tools_fetch_posts_the_body_unchanged_to_v1, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tools_fetch_takes_any_2xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_fetch_with_no_body_sends_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_refused_tools_fetch_shows_every_field_error_and_never_the_body, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_tools_endpoints_gone_are_eopnotsupp, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_tools_fetch_whose_answer_was_lost_says_a_tools_import_may_have_started, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_a_tools_fetch_answered_429_is_resent_with_the_same_body,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_tools_fetch_without_a_usable_progress_id_is_eproto,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tools_progress_gives_status_and_error_and_keeps_the_raw_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_unknown_tools_progress_id_is_eremoteio, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_tools_progress_of_the_wrong_shape_is_eproto, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tools_progress_with_an_invalid_id_sends_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_history_gives_every_page_to_the_callers_reader, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_history_of_one_page_without_a_count, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_history_next_to_another_origin_is_eproto_and_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_pages_in_a_loop_are_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_past_its_count_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_of_an_unknown_agent_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_malformed_history_page_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_history_reader_out_of_memory_ends_the_walk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_scenarios_walks_every_page_of_the_agents_evaluators,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_results_walks_every_page_of_the_agents_results, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_evaluator_and_result_listings_keep_the_walkers_bounds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_result_gets_the_detail_as_sent_with_a_64_mib_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_unknown_result_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_result_may_pass_16_mib_but_not_64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_calls_posts_no_body_and_takes_any_2xx, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_run_posts_the_body_to_the_modes_endpoint_and_returns_the_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_run_answered_429_is_resent_with_the_same_body, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_a_run_that_failed_after_it_was_sent_is_not_resent_and_says_so, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_run_refused_by_the_api_does_not_say_it_may_have_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_run_times_out_after_its_own_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_interrupt_does_not_abandon_a_run_once_sent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_interrupt_in_the_backoff_after_a_429_stops_the_run,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_run_without_path_body_or_budget_sends_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_listing_follows_next_over_every_page_and_sorts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_empty_listing_is_no_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_pointing_elsewhere_is_refused_and_gets_no_key,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_failing_page_fails_the_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_page_linking_to_itself_is_eproto_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_later_page_linking_to_itself_is_eproto, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_loop_back_to_page_1_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_pages_than_count_allows_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_agents_than_count_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_next_without_a_count_is_eproto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_that_shift_by_one_page_are_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_get_agent_maps_404_to_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_agent_body_keeps_the_body_as_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_asks_for_one_agent_and_reports_a_rejected_key,
						setup, teardown),
		cmocka_unit_test(test_transport_failures_are_described_with_the_budget),
		cmocka_unit_test_setup_teardown(
			test_an_unverified_certificate_says_so_with_the_transport_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_key_is_sent_on_every_request_and_nowhere_else, setup,
						teardown),
		cmocka_unit_test(test_base_url_trailing_slashes_are_dropped),
		cmocka_unit_test(test_api_free_destroys_the_transport),
	};

	log_init(LOGL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
