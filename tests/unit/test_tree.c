/* test_tree.c - every path form the mount can be asked about, and what it names.
 *
 *   /                     the root
 *   /agents               the agent list
 *   /agents/42            one agent (canonical decimal ids only)
 *   /agents/42/progress   a file of that agent
 *   anything else         ENOENT
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/tree.h"

static void assert_enoent(const char *path)
{
	struct tree_path p;

	if(tree_parse(path, &p) != -ENOENT)
		fail_msg("tree_parse(\"%s\") should be ENOENT", path);
}

static void test_root_is_the_root(void **state)
{
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse("/", &p), 0);
	assert_int_equal(p.kind, TREE_ROOT);
	assert_null(p.name);
}

static void test_agents_is_the_agent_list(void **state)
{
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse("/agents", &p), 0);
	assert_int_equal(p.kind, TREE_AGENTS);
	assert_null(p.name);
}

static void test_agent_directory_carries_its_id(void **state)
{
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse("/agents/42", &p), 0);
	assert_int_equal(p.kind, TREE_AGENT);
	assert_int_equal(p.agent_id, 42);
	assert_null(p.name);
	assert_int_equal(tree_parse("/agents/1", &p), 0);
	assert_int_equal(p.agent_id, 1);
}

static void test_agent_file_carries_id_and_name(void **state)
{
	const char *path = "/agents/42/progress";
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse(path, &p), 0);
	assert_int_equal(p.kind, TREE_IN_AGENT);
	assert_int_equal(p.agent_id, 42);
	assert_string_equal(p.name, "progress");
	assert_ptr_equal(p.name, path + strlen("/agents/42/"));
	/* the tree splits the path; which names exist is the nodes table's business */
	assert_int_equal(tree_parse("/agents/7/no-such-file", &p), 0);
	assert_string_equal(p.name, "no-such-file");
	assert_int_equal(tree_parse("/agents/7/progress.json", &p), 0);
	assert_string_equal(p.name, "progress.json");
}

static void test_trailing_slashes_name_nothing(void **state)
{
	(void)state;
	assert_enoent("/agents/");
	assert_enoent("/agents/42/");
	assert_enoent("/agents/42/progress/");
	assert_enoent("//");
}

static void test_empty_components_name_nothing(void **state)
{
	(void)state;
	assert_enoent("//agents");
	assert_enoent("/agents//42");
	assert_enoent("/agents/42//progress");
	assert_enoent("/agents//");
	assert_enoent("///");
}

static void test_only_absolute_paths_parse(void **state)
{
	struct tree_path p;

	(void)state;
	assert_enoent("");
	assert_enoent("agents");
	assert_enoent("agents/42");
	assert_int_equal(tree_parse(NULL, &p), -ENOENT);
}

static void test_other_top_level_names_do_not_exist(void **state)
{
	(void)state;
	assert_enoent("/Agents");
	assert_enoent("/AGENTS");
	assert_enoent("/agentsx");
	assert_enoent("/agent");
	assert_enoent("/agentsx/42");
	assert_enoent("/agen/42");
	assert_enoent("/42");
	assert_enoent("/.");
	assert_enoent("/..");
}

static void test_non_canonical_ids_do_not_exist(void **state)
{
	static const char *const bad[] = {
		"/agents/042",	       "/agents/+42",	 "/agents/-1",	   "/agents/0",
		"/agents/00",	       "/agents/ 42",	 "/agents/42 ",	   "/agents/4a",
		"/agents/4 2",	       "/agents/0x2a",	 "/agents/42.0",   "/agents/1e3",
		"/agents/.",	       "/agents/..",	 "/agents/%34%32", "/agents/042/progress",
		"/agents/-1/progress", "/agents/0/wait",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_enoent(bad[i]);
}

static void test_ids_up_to_int64_max_exist(void **state)
{
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse("/agents/9223372036854775807", &p), 0);
	assert_int_equal(p.kind, TREE_AGENT);
	assert_true(p.agent_id == (uint64_t)INT64_MAX);
	assert_int_equal(tree_parse("/agents/9223372036854775807/wait", &p), 0);
	assert_true(p.agent_id == (uint64_t)INT64_MAX);
	assert_int_equal(tree_parse("/agents/1000000000000000000", &p), 0); /* 19 digits */
	assert_true(p.agent_id == 1000000000000000000u);
}

static void test_ids_beyond_int64_max_do_not_exist(void **state)
{
	(void)state;
	assert_enoent("/agents/9223372036854775808");	   /* INT64_MAX + 1 */
	assert_enoent("/agents/9999999999999999999");	   /* 19 digits, too big */
	assert_enoent("/agents/18446744073709551615");	   /* UINT64_MAX */
	assert_enoent("/agents/18446744073709551616");	   /* wraps a uint64_t to 0 */
	assert_enoent("/agents/12345678901234567890");	   /* 20 digits */
	assert_enoent("/agents/100000000000000000000000"); /* 24 digits */
}

static void test_what_follows_an_agent_directory_is_left_whole(void **state)
{
	const char *path = "/agents/42/tools/lookup_order.json";
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse(path, &p), 0);
	assert_int_equal(p.kind, TREE_IN_AGENT);
	assert_int_equal(p.agent_id, 42);
	assert_string_equal(p.name, "tools/lookup_order.json");
	assert_int_equal(p.name_len, strlen("tools/lookup_order.json"));
	/* what exists below is the node tables' business, not the tree's */
	assert_int_equal(tree_parse("/agents/42/progress/x", &p), 0);
	assert_string_equal(p.name, "progress/x");
	assert_int_equal(tree_parse("/agents/42/history/9001/tools/a.json", &p), 0);
	assert_string_equal(p.name, "history/9001/tools/a.json");
}

static void test_the_status_directory_and_its_files(void **state)
{
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse("/.cekurafs", &p), 0);
	assert_int_equal(p.kind, TREE_STATUS);
	assert_int_equal(tree_parse("/.cekurafs/stats", &p), 0);
	assert_int_equal(p.kind, TREE_STATUS_FILE);
	assert_string_equal(p.name, "stats");
	assert_int_equal(p.name_len, strlen("stats"));
	assert_enoent("/.cekurafs/stats/x");
	assert_enoent("/.cekurafs/");
	assert_enoent("/.cekurafsx");
	assert_enoent("/agents/.cekurafs");
}

static void test_empty_components_inside_an_agent_name_nothing(void **state)
{
	(void)state;
	assert_enoent("/agents/42/a/");
	assert_enoent("/agents/42/a/b//c");
	assert_enoent("/agents/42/a/b/c/");
	assert_enoent("/agents/42//b");
	assert_enoent("/agents/by-name/a/b");
	assert_enoent("/agents/by-name/");
}

static void test_by_name_and_its_links(void **state)
{
	struct tree_path p;

	(void)state;
	assert_int_equal(tree_parse("/agents/by-name", &p), 0);
	assert_int_equal(p.kind, TREE_BYNAME);
	assert_int_equal(tree_parse("/agents/by-name/Sales Bot 7", &p), 0);
	assert_int_equal(p.kind, TREE_LINK);
	assert_string_equal(p.name, "Sales Bot 7");
	assert_int_equal(p.name_len, strlen("Sales Bot 7"));
	assert_enoent("/agents/by-names");
	assert_enoent("/agents/by-name/x/progress");
}

static void test_parse_leaves_out_untouched_fields_zero(void **state)
{
	struct tree_path p;

	(void)state;
	memset(&p, 0xff, sizeof(p));
	assert_int_equal(tree_parse("/agents", &p), 0);
	assert_int_equal(p.agent_id, 0);
	assert_null(p.name);
	memset(&p, 0xff, sizeof(p));
	assert_int_equal(tree_parse("/nothing", &p), -ENOENT);
	assert_null(p.name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_is_the_root),
		cmocka_unit_test(test_agents_is_the_agent_list),
		cmocka_unit_test(test_agent_directory_carries_its_id),
		cmocka_unit_test(test_agent_file_carries_id_and_name),
		cmocka_unit_test(test_trailing_slashes_name_nothing),
		cmocka_unit_test(test_empty_components_name_nothing),
		cmocka_unit_test(test_only_absolute_paths_parse),
		cmocka_unit_test(test_other_top_level_names_do_not_exist),
		cmocka_unit_test(test_non_canonical_ids_do_not_exist),
		cmocka_unit_test(test_ids_up_to_int64_max_exist),
		cmocka_unit_test(test_ids_beyond_int64_max_do_not_exist),
		cmocka_unit_test(test_what_follows_an_agent_directory_is_left_whole),
		cmocka_unit_test(test_empty_components_inside_an_agent_name_nothing),
		cmocka_unit_test(test_the_status_directory_and_its_files),
		cmocka_unit_test(test_by_name_and_its_links),
		cmocka_unit_test(test_parse_leaves_out_untouched_fields_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
