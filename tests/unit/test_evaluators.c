/* test_evaluators.c - an agent's evaluators (ScenarioList pages of GET
 * /test_framework/v1/scenarios/?agent_id=) as the `evaluators` file: the
 * pages collected (each id once, the first seen winning, records without an
 * integer id skipped, pages of the wrong shape EPROTO and kept out), and the
 * text compared byte for byte (ascending id, id<TAB>name<TAB>folder<TAB>tags,
 * `-` for no folder, control bytes made spaces, tags joined with ',' in the
 * API's order, a line with no tags ending with its tab), and the ids that
 * `run all` sends.
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

#include "cekurafs/evaluators.h"

/* api.h's api_page_fn, as the spec writes it: evaluators_page() must be one
 * (evaluators is below api, so it cannot include api.h to say so). */
typedef int spec_page_fn(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);
static spec_page_fn *const evaluators_page_is_a_page_fn = evaluators_page;

/* ---- helpers ---- */

/* evaluators_page() of a page whose results are the given text (a JSON
 * array's inside); asserts it takes it, with count 3 and no next. */
static void page(struct evaluators *e, const char *results)
{
	char *body, *next = (char *)"unset";
	int64_t count = -2;
	size_t items = 12345;
	int rc;

	assert_true(asprintf(&body, "{\"count\": 3, \"next\": null, \"previous\": null, \"results\": [%s]}",
			     results) > 0);
	rc = evaluators_page(e, body, strlen(body), &next, &count, &items);
	if(rc != 0)
		fail_msg("evaluators_page(%s) = %d, want 0", body, rc);
	assert_null(next);
	assert_int_equal(count, 3);
	free(body);
}

static void assert_renders(const struct evaluators *e, const char *want)
{
	size_t len = 12345;
	char *got = evaluators_render(e, &len);

	if(!got)
		fail_msg("evaluators_render() = NULL");
	if(strcmp(got, want) != 0)
		fail_msg("evaluators is\n'%s'\nwant\n'%s'", got, want);
	assert_int_equal(len, strlen(want));
	free(got);
}

/* The text of `evaluators` for one page of results. */
static void assert_page_renders(const char *results, const char *want)
{
	struct evaluators *e = evaluators_new();

	assert_non_null(e);
	page(e, results);
	assert_renders(e, want);
	evaluators_free(e);
}

/* ---- the text ---- */

static void test_one_line_per_evaluator_in_ascending_id(void **state)
{
	(void)state;
	assert_page_renders(
		"{\"id\": 102, \"name\": \"Angry caller\", \"folder_path\": null, \"tags\": [\"smoke\"], "
		"\"agent\": 42, \"personality\": 3, \"instructions\": \"Be angry\"}, "
		"{\"id\": 101, \"name\": \"Refund request\", \"folder_path\": \"Sales.Inbound\", "
		"\"tags\": [\"smoke\", \"refunds\"]}, "
		"{\"id\": 1000, \"name\": \"Silent caller\", \"folder_path\": \"\", \"tags\": []}, "
		"{\"id\": 99, \"name\": \"No keys\"}",
		"99\tNo keys\t-\t\n"
		"101\tRefund request\tSales.Inbound\tsmoke,refunds\n"
		"102\tAngry caller\t-\tsmoke\n"
		"1000\tSilent caller\t-\t\n");
}

static void test_control_bytes_in_name_folder_and_tags_become_spaces(void **state)
{
	(void)state;
	assert_page_renders(
		"{\"id\": 7, \"name\": \"Tab\\there\\nand\\u001b[2J\", \"folder_path\": \"A\\tB\", "
		"\"tags\": [\"x\\ty\", \"new\\nline\", \"\\u007f\"]}",
		"7\tTab here and [2J\tA B\tx y,new line, \n");
}

static void test_tags_keep_their_order_and_commas(void **state)
{
	(void)state;
	/* Commas inside a tag are the API's: shown as sent. */
	assert_page_renders(
		"{\"id\": 7, \"name\": \"n\", \"tags\": [\"zeta\", \"alpha,beta\", \"\", \"mid\"]}",
		"7\tn\t-\tzeta,alpha,beta,,mid\n");
}

static void test_odd_tags_and_names(void **state)
{
	(void)state;
	/* tags: non-strings left out; a string holding a JSON array read as one;
	 * any other string, a number, an object or null: none. A name that is no
	 * string is empty; a folder that is no string is none. */
	assert_page_renders("{\"id\": 1, \"name\": 5, \"folder_path\": 3, \"tags\": [\"a\", 2, null, {\"b\": "
			    "1}, \"c\"]}, "
			    "{\"id\": 2, \"name\": null, \"tags\": \"[\\\"x\\\", \\\"y\\\"]\"}, "
			    "{\"id\": 3, \"name\": \"n\", \"tags\": \"smoke\"}, "
			    "{\"id\": 4, \"name\": \"n\", \"tags\": {\"a\": \"b\"}}, "
			    "{\"id\": 5, \"name\": \"n\", \"tags\": null}, "
			    "{\"id\": 6, \"name\": \"n\", \"tags\": \"[1, \\\"z\\\"]\"}",
			    "1\t\t-\ta,c\n"
			    "2\t\t-\tx,y\n"
			    "3\tn\t-\t\n"
			    "4\tn\t-\t\n"
			    "5\tn\t-\t\n"
			    "6\tn\t-\tz\n");
}

static void test_no_evaluators_is_an_empty_text(void **state)
{
	struct evaluators *e = evaluators_new();
	uint64_t dummy = 1, *ids = &dummy;
	size_t n = 9;

	(void)state;
	assert_renders(e, "");
	page(e, "");
	assert_renders(e, "");
	assert_int_equal(evaluators_count(e), 0);
	assert_null(evaluators_at(e, 0));
	assert_int_equal(evaluators_ids(e, &ids, &n), 0);
	assert_null(ids);
	assert_int_equal(n, 0);
	evaluators_free(e);
	evaluators_free(NULL);
}

/* ---- the pages ---- */

static void test_pages_are_merged_each_id_once_the_first_seen_winning(void **state)
{
	struct evaluators *e = evaluators_new();
	uint64_t *ids;
	size_t n;

	(void)state;
	assert_ptr_equal(evaluators_page_is_a_page_fn, evaluators_page);
	page(e, "{\"id\": 30, \"name\": \"thirty\"}, {\"id\": 10, \"name\": \"ten\"}, "
		"{\"id\": 30, \"name\": \"thirty again\"}");
	/* Pages shift while they are read: an id of an earlier page is ignored. */
	page(e, "{\"id\": 20, \"name\": \"twenty\"}, {\"id\": 10, \"name\": \"ten later\"}, "
		"{\"id\": 5, \"name\": \"five\"}, {\"id\": 40, \"name\": \"forty\"}");
	assert_renders(e, "5\tfive\t-\t\n"
			  "10\tten\t-\t\n"
			  "20\ttwenty\t-\t\n"
			  "30\tthirty\t-\t\n"
			  "40\tforty\t-\t\n");
	assert_int_equal(evaluators_count(e), 5);
	assert_string_equal(evaluators_find(e, 30)->name, "thirty");
	assert_null(evaluators_find(e, 31));
	assert_int_equal(evaluators_at(e, 4)->id, 40);
	assert_null(evaluators_at(e, 5));
	assert_int_equal(evaluators_ids(e, &ids, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(ids[0], 5);
	assert_int_equal(ids[1], 10);
	assert_int_equal(ids[2], 20);
	assert_int_equal(ids[3], 30);
	assert_int_equal(ids[4], 40);
	free(ids);
	assert_true(evaluators_bytes(e) > 5 * sizeof(struct evaluator));
	evaluators_free(e);
}

static void test_a_record_s_fields_are_kept_as_sent(void **state)
{
	struct evaluators *e = evaluators_new();
	const struct evaluator *ev;

	(void)state;
	page(e, "{\"id\": 9, \"name\": \"a\\tb\", \"folder_path\": \"\", \"tags\": [\"t\\n\"]}");
	ev = evaluators_find(e, 9);
	assert_non_null(ev);
	assert_string_equal(ev->name, "a\tb");
	assert_string_equal(ev->folder, "");
	assert_int_equal(ev->ntags, 1);
	assert_string_equal(ev->tags[0], "t\n");
	evaluators_free(e);
}

static void test_records_without_an_integer_id_are_skipped(void **state)
{
	struct evaluators *e = evaluators_new();
	const char *body =
		"{\"results\": [{\"id\": \"4\"}, {\"id\": 0}, {\"id\": -2}, {\"id\": 1.5}, 17, null, "
		"{\"name\": \"x\"}, {\"id\": 3, \"name\": \"kept\"}]}";
	char *next = (char *)"unset";
	int64_t count = 5;
	size_t items = 0;

	(void)state;
	assert_int_equal(evaluators_page(e, body, strlen(body), &next, &count, &items), 0);
	assert_null(next);
	assert_int_equal(count, -1); /* absent */
	assert_int_equal(items, 8);
	assert_int_equal(evaluators_skipped(e), 7);
	assert_renders(e, "3\tkept\t-\t\n");
	evaluators_free(e);
}

static void test_a_page_gives_its_next_and_count(void **state)
{
	struct evaluators *e = evaluators_new();
	const char *body = "{\"count\": 250, \"next\": "
			   "\"https://api.cekura.ai/test_framework/v1/scenarios/?agent_id=42&page=2\", "
			   "\"results\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}]}";
	char *next = NULL;
	int64_t count = 0;
	size_t items = 0;

	(void)state;
	assert_int_equal(evaluators_page(e, body, strlen(body), &next, &count, &items), 0);
	assert_string_equal(next, "https://api.cekura.ai/test_framework/v1/scenarios/?agent_id=42&page=2");
	assert_int_equal(count, 250);
	assert_int_equal(items, 2);
	free(next);
	evaluators_free(e);
}

static void test_a_page_of_the_wrong_shape_is_eproto_and_keeps_nothing(void **state)
{
	const char *bad[] = {
		"",
		"[]",
		"{}",
		"{\"results\": null}",
		"{\"results\": {\"id\": 1}}",
		"{\"results\": [{\"id\": 1}], \"next\": 3}",
		"{\"results\": [{\"id\": 1}], \"count\": \"3\"}",
		"{\"results\": [{\"id\": 1}], \"count\": -1}",
		"{\"results\": [{\"id\": 1}], \"count\": 1.5}",
		"{\"results\": [{\"id\": 1}]",
		"{\"results\": [{\"id\": 1}]} x",
	};
	struct evaluators *e = evaluators_new();

	(void)state;
	page(e, "{\"id\": 5, \"name\": \"before\"}");
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *next = (char *)"unset";
		int64_t count = 5;
		size_t items = 5;
		int rc = evaluators_page(e, bad[i], strlen(bad[i]), &next, &count, &items);

		if(rc != -EPROTO)
			fail_msg("evaluators_page(%s) = %d, want -EPROTO", bad[i], rc);
		assert_null(next);
		assert_int_equal(count, -1);
		assert_int_equal(items, 0);
	}
	assert_renders(e, "5\tbefore\t-\t\n");
	assert_int_equal(evaluators_skipped(e), 0);
	evaluators_free(e);
}

static void test_a_page_with_a_nul_byte_is_eproto(void **state)
{
	const char body[] = "{\"results\": [{\"id\": 1, \"name\": \"a\0b\"}]}";
	struct evaluators *e = evaluators_new();
	char *next;
	int64_t count;
	size_t items;

	(void)state;
	assert_int_equal(evaluators_page(e, body, sizeof(body) - 1, &next, &count, &items), -EPROTO);
	assert_int_equal(evaluators_count(e), 0);
	evaluators_free(e);
}

static void test_many_pages_stay_sorted(void **state)
{
	struct evaluators *e = evaluators_new();
	char *results = NULL;

	(void)state;
	/* 20 pages of 50 ids each, interleaved and overlapping (ids 1..1000 each
	 * seen twice), given from the largest down. */
	for(int p = 19; p >= 0; p--) {
		size_t len = 0;

		results = realloc(results, 50 * 48);
		assert_non_null(results);
		results[0] = '\0';
		for(int i = 0; i < 50; i++)
			len += (size_t)sprintf(results + len, "%s{\"id\": %d, \"name\": \"p%d\"}",
					       i ? ", " : "", 1 + (p + 20 * i) % 1000, p);
		page(e, results);
		page(e, results);
	}
	free(results);
	assert_int_equal(evaluators_count(e), 1000);
	for(size_t i = 0; i < 1000; i++)
		assert_int_equal(evaluators_at(e, i)->id, i + 1);
	evaluators_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line_per_evaluator_in_ascending_id),
		cmocka_unit_test(test_control_bytes_in_name_folder_and_tags_become_spaces),
		cmocka_unit_test(test_tags_keep_their_order_and_commas),
		cmocka_unit_test(test_odd_tags_and_names),
		cmocka_unit_test(test_no_evaluators_is_an_empty_text),
		cmocka_unit_test(test_pages_are_merged_each_id_once_the_first_seen_winning),
		cmocka_unit_test(test_a_record_s_fields_are_kept_as_sent),
		cmocka_unit_test(test_records_without_an_integer_id_are_skipped),
		cmocka_unit_test(test_a_page_gives_its_next_and_count),
		cmocka_unit_test(test_a_page_of_the_wrong_shape_is_eproto_and_keeps_nothing),
		cmocka_unit_test(test_a_page_with_a_nul_byte_is_eproto),
		cmocka_unit_test(test_many_pages_stay_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
