/* test_agent_config.c - an agent's configuration as files: every field of a full
 * AIAgentV2, escapes decoded, absent and null values empty, tools and
 * knowledge base files pretty-printed under safe, unique names, dynamic
 * variables one per line, and the wrong shapes refused with EPROTO. A version
 * of an agent (AIAgentHistory): its own keys, collections as arrays or as
 * strings holding arrays shown alike, and a collection that is neither failing
 * alone.
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

#include "cekurafs/agent_config.h"
#include "fake_transport.h"

/* GET /test_framework/v2/aiagents/42/, every field of AIAgentV2. */
static const char AGENT[] =
	"{\"id\": 42, \"name\": \"Front desk \\u2013 caf\\u00e9 \\\"VIP\\\"\", "
	"\"description\": \"You are the front desk of Caf\\u00e9 Lune.\\n"
	"Greet the caller by {{customer_name}}.\\n\\tBe brief \\ud83d\\ude00 \\\\ no more.\", "
	"\"project\": 7, \"language\": \"fr\", "
	"\"telephony\": {\"phone_number\": \"+14155550123\", \"inbound\": true, "
	"\"sip_uri\": null, \"sip_auth\": null, \"websocket_url\": null, "
	"\"websocket_auth\": null, \"outbound_numbers\": [\"+14155550124\"]}, "
	"\"provider\": {\"type\": \"vapi\", \"agent_id\": \"asst_8f2c1d\", \"credentials\": {}, "
	"\"auto_sync_prompt\": false}, \"agent_speaks_first\": true, "
	"\"knowledge_base_files\": [{\"id\": 501, \"agent\": 42, "
	"\"file_url\": \"https:\\/\\/files.cekura.ai\\/kb\\/501\\/menu.pdf\", "
	"\"file_name\": \"menu.pdf\", \"file_type\": \"application/pdf\", \"file_size\": 48213, "
	"\"created_at\": \"2026-05-01T09:00:00Z\", \"updated_at\": \"2026-05-01T09:00:00Z\"}, "
	"{\"id\": 502, \"agent\": 42, \"file_url\": \"https://files.cekura.ai/kb/502/faq.md\", "
	"\"file_name\": \"faq.md\", \"file_type\": \"text/markdown\", \"file_size\": 912, "
	"\"created_at\": \"2026-05-02T09:00:00Z\", \"updated_at\": \"2026-05-03T09:00:00Z\"}], "
	"\"mock_tools\": [{\"id\": 11, \"name\": \"lookup_order\", "
	"\"description\": \"Finds an order by id\", "
	"\"mock_data\": [{\"input\": {\"order_id\": \"A-1\"}, "
	"\"output\": {\"status\": \"shipped\", \"eta_days\": 2, \"items\": []}}], "
	"\"served_via\": {\"type\": \"webhook\", \"url\": \"https://mock.cekura.ai/t/11\", "
	"\"mock_index\": 0}}, {\"id\": 12, \"name\": \"transfer/escalate\", "
	"\"description\": \"Hands the call to a human\", \"mock_data\": [], "
	"\"served_via\": {\"type\": \"webhook\", \"url\": \"https://mock.cekura.ai/t/12\", "
	"\"mock_index\": 1}}], \"mock_tools_enabled\": true, \"mock_tools_provider\": \"vapi\", "
	"\"dynamic_variables\": [{\"id\": 3, \"name\": \"customer_name\", "
	"\"description\": \"Who is calling\"}, {\"id\": 4, \"name\": \"order_id\", "
	"\"description\": \"The order\\tnumber,\\nif any\"}, {\"id\": 5, \"name\": \"vip\", "
	"\"description\": null}], \"webhook_url\": null, \"email_id\": \"ops@example.com\", "
	"\"created_at\": \"2026-05-01T09:00:00Z\", "
	"\"updated_at\": \"2026-06-12T10:30:00.123456Z\"}";

static void decode(const char *body, struct agent_config *c)
{
	int rc = agent_config_decode(body, strlen(body), c);

	if(rc != 0)
		fail_msg("agent_config_decode(%s) = %d, want 0", body, rc);
}

static void assert_text(const struct config_text *t, const char *want)
{
	assert_non_null(t);
	assert_non_null(t->text);
	if(strcmp(t->text, want) != 0)
		fail_msg("text is\n'%s'\nwant\n'%s'", t->text, want);
	assert_int_equal(t->len, strlen(want));
}

static void assert_starts_with(const char *text, const char *head)
{
	if(strncmp(text, head, strlen(head)) != 0)
		fail_msg("text\n'%s'\ndoes not start with\n'%s'", text, head);
}

static void assert_field(const char *body, enum config_field f, const char *want)
{
	struct agent_config c;

	decode(body, &c);
	assert_text(&c.field[f], want);
	agent_config_free(&c);
}

static void assert_eproto(const char *body)
{
	struct agent_config c;
	int rc = agent_config_decode(body, strlen(body), &c);

	if(rc != -EPROTO)
		fail_msg("agent_config_decode(%s) = %d, want -EPROTO", body, rc);
	/* nothing is left to free, and freeing is still safe */
	assert_null(c.json.text);
	assert_null(c.variables.text);
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
		assert_null(c.field[f].text);
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++)
		assert_int_equal(c.list[l].n, 0);
	agent_config_free(&c);
}

static void test_every_field_of_a_full_agent(void **state)
{
	struct agent_config c;

	(void)state;
	decode(AGENT, &c);
	assert_text(&c.field[AGENT_CONFIG_NAME], "Front desk \xe2\x80\x93 caf\xc3\xa9 \"VIP\"\n");
	assert_text(&c.field[AGENT_CONFIG_SYSTEM_PROMPT], "You are the front desk of Caf\xc3\xa9 Lune.\n"
							  "Greet the caller by {{customer_name}}.\n"
							  "\tBe brief \xf0\x9f\x98\x80 \\ no more.\n");
	assert_text(&c.field[AGENT_CONFIG_LANGUAGE], "fr\n");
	assert_text(&c.field[AGENT_CONFIG_PROVIDER], "vapi\n");
	assert_text(&c.field[AGENT_CONFIG_PROVIDER_AGENT_ID], "asst_8f2c1d\n");
	assert_text(&c.field[AGENT_CONFIG_PHONE_NUMBER], "+14155550123\n");
	assert_text(&c.field[AGENT_CONFIG_UPDATED_AT], "2026-06-12T10:30:00.123456Z\n");
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].n, 2);
	assert_int_equal(c.list[AGENT_CONFIG_KNOWLEDGE_BASE].n, 2);
	agent_config_free(&c);
}

static void test_absent_fields_are_empty_texts(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{}", &c);
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
		assert_text(&c.field[f], "");
	assert_text(&c.variables, "");
	assert_text(&c.json, "{}\n");
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++) {
		assert_int_equal(c.list[l].n, 0);
		assert_null(agent_config_entry(&c, (enum config_list)l, "anything.json"));
	}
	agent_config_free(&c);
}

static void test_null_fields_and_parents_are_empty_texts(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{\"name\": null, \"description\": null, \"language\": null, \"provider\": null, "
	       "\"telephony\": {\"phone_number\": null}, \"updated_at\": null, \"dynamic_variables\": null, "
	       "\"mock_tools\": null, \"knowledge_base_files\": null}",
	       &c);
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
		assert_text(&c.field[f], "");
	assert_text(&c.variables, "");
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].n, 0);
	assert_int_equal(c.list[AGENT_CONFIG_KNOWLEDGE_BASE].n, 0);
	agent_config_free(&c);
	/* a parent that is not an object holds nothing */
	assert_field("{\"provider\": \"vapi\"}", AGENT_CONFIG_PROVIDER, "");
	assert_field("{\"provider\": [{\"type\": \"vapi\"}]}", AGENT_CONFIG_PROVIDER, "");
	assert_field("{\"telephony\": 5}", AGENT_CONFIG_PHONE_NUMBER, "");
	assert_field("{\"provider\": {}}", AGENT_CONFIG_PROVIDER_AGENT_ID, "");
}

static void test_an_empty_string_is_an_empty_line(void **state)
{
	(void)state;
	assert_field("{\"name\": \"\"}", AGENT_CONFIG_NAME, "\n");
}

static void test_numbers_and_booleans_are_shown_as_json(void **state)
{
	(void)state;
	assert_field("{\"name\": 12.5e3}", AGENT_CONFIG_NAME, "12.5e3\n");
	assert_field("{\"language\": true}", AGENT_CONFIG_LANGUAGE, "true\n");
	assert_field("{\"description\": false}", AGENT_CONFIG_SYSTEM_PROMPT, "false\n");
	assert_field("{\"provider\": {\"agent_id\": 12345678901234567890}}", AGENT_CONFIG_PROVIDER_AGENT_ID,
		     "12345678901234567890\n");
	assert_field("{\"telephony\": {\"phone_number\": -0}}", AGENT_CONFIG_PHONE_NUMBER, "-0\n");
}

static void test_objects_where_a_value_is_expected_are_compact_json(void **state)
{
	(void)state;
	assert_field("{\"name\": {\"first\": \"Ada \\\" L\", \"tags\": [1, 2, { }]}}", AGENT_CONFIG_NAME,
		     "{\"first\":\"Ada \\\" L\",\"tags\":[1,2,{}]}\n");
	assert_field("{\"updated_at\": [ \"2026\" ,\n 6 ]}", AGENT_CONFIG_UPDATED_AT, "[\"2026\",6]\n");
}

static const char LOOKUP_ORDER[] = "{\n"
				   "  \"id\": 11,\n"
				   "  \"name\": \"lookup_order\",\n"
				   "  \"description\": \"Finds an order by id\",\n"
				   "  \"mock_data\": [\n"
				   "    {\n"
				   "      \"input\": {\n"
				   "        \"order_id\": \"A-1\"\n"
				   "      },\n"
				   "      \"output\": {\n"
				   "        \"status\": \"shipped\",\n"
				   "        \"eta_days\": 2,\n"
				   "        \"items\": []\n"
				   "      }\n"
				   "    }\n"
				   "  ],\n"
				   "  \"served_via\": {\n"
				   "    \"type\": \"webhook\",\n"
				   "    \"url\": \"https://mock.cekura.ai/t/11\",\n"
				   "    \"mock_index\": 0\n"
				   "  }\n"
				   "}\n";

static void test_a_tool_file_is_the_tool_pretty_printed(void **state)
{
	struct agent_config c;

	(void)state;
	decode(AGENT, &c);
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "lookup_order.json"), LOOKUP_ORDER);
	assert_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "lookup_order"));
	assert_null(agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "lookup_order.json"));
	agent_config_free(&c);
}

static void test_a_slash_in_a_tool_name_becomes_an_underscore(void **state)
{
	struct agent_config c;
	const struct config_text *t;

	(void)state;
	decode(AGENT, &c);
	t = agent_config_entry(&c, AGENT_CONFIG_TOOLS, "transfer_escalate.json");
	assert_non_null(t);
	assert_non_null(strstr(t->text, "  \"name\": \"transfer/escalate\",\n"));
	assert_non_null(strstr(t->text, "  \"mock_data\": [],\n"));
	assert_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "transfer/escalate.json"));
	agent_config_free(&c);
}

static void test_tools_sharing_a_name_are_told_apart_by_id(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{\"mock_tools\": [{\"id\": 7, \"name\": \"book\", \"v\": 1}, {\"id\": 9, \"name\": \"book\", "
	       "\"v\": 2}, "
	       "{\"name\": \"book\", \"v\": 3}, {\"id\": 4, \"name\": \"cancel\", \"v\": 4}]}",
	       &c);
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].n, 4);
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book-7.json"),
		    "{\n  \"id\": 7,\n  \"name\": \"book\",\n  \"v\": 1\n}\n");
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book-9.json"),
		    "{\n  \"id\": 9,\n  \"name\": \"book\",\n  \"v\": 2\n}\n");
	/* no id: its position from 1 */
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book-3.json"),
		    "{\n  \"name\": \"book\",\n  \"v\": 3\n}\n");
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "cancel.json"));
	assert_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book.json"));
	agent_config_free(&c);
}

static void test_tools_with_a_repeated_id_get_a_name_each(void **state)
{
	/* two copies of one tool, and a tool without an id at position 2 beside an id 2 */
	struct agent_config c;
	const struct name_index *x;

	(void)state;
	decode("{\"mock_tools\": [{\"id\": 2, \"name\": \"book\", \"v\": 1}, {\"name\": \"book\", \"v\": 2}, "
	       "{\"id\": 2, \"name\": \"book\", \"v\": 3}]}",
	       &c);
	x = &c.list[AGENT_CONFIG_TOOLS].index;
	assert_int_equal(x->n, 3);
	for(size_t i = 1; i < x->n; i++)
		if(strcmp(x->v[i - 1].name, x->v[i].name) == 0)
			fail_msg("tools/ lists \"%s\" twice", x->v[i].name);
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book-2.json"),
		    "{\n  \"id\": 2,\n  \"name\": \"book\",\n  \"v\": 1\n}\n");
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book-2.2.json"),
		    "{\n  \"name\": \"book\",\n  \"v\": 2\n}\n");
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "book-2.3.json"),
		    "{\n  \"id\": 2,\n  \"name\": \"book\",\n  \"v\": 3\n}\n");
	agent_config_free(&c);
}

static void test_tools_without_a_string_name_are_named_underscore(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{\"mock_tools\": [{\"id\": 1}, {\"id\": 2, \"name\": 5}, {\"id\": 3, \"name\": \"\"}, "
	       "{\"id\": 4, \"name\": \"..\"}, {\"name\": \"\\u00e9t\\u00e9\\n\"}]}",
	       &c);
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "_-1.json"));
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "_-2.json"));
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "_-3.json"));
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "_...json"));
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "\xc3\xa9t\xc3\xa9_.json"));
	agent_config_free(&c);
}

static void test_knowledge_base_files_by_file_name(void **state)
{
	struct agent_config c;
	const struct config_text *t;

	(void)state;
	decode(AGENT, &c);
	t = agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "menu.pdf.json");
	assert_non_null(t);
	/* escapes stay as the API sent them */
	assert_non_null(
		strstr(t->text, "  \"file_url\": \"https:\\/\\/files.cekura.ai\\/kb\\/501\\/menu.pdf\",\n"));
	assert_text(agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "faq.md.json"),
		    "{\n"
		    "  \"id\": 502,\n"
		    "  \"agent\": 42,\n"
		    "  \"file_url\": \"https://files.cekura.ai/kb/502/faq.md\",\n"
		    "  \"file_name\": \"faq.md\",\n"
		    "  \"file_type\": \"text/markdown\",\n"
		    "  \"file_size\": 912,\n"
		    "  \"created_at\": \"2026-05-02T09:00:00Z\",\n"
		    "  \"updated_at\": \"2026-05-03T09:00:00Z\"\n"
		    "}\n");
	assert_null(agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "menu.pdf"));
	assert_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "menu.pdf.json"));
	assert_null(agent_config_entry(&c, AGENT_CONFIG_NLISTS, "menu.pdf.json"));
	agent_config_free(&c);
}

static void test_knowledge_base_files_sharing_a_name(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{\"knowledge_base_files\": [{\"id\": 501, \"file_name\": \"a/b.txt\"}, "
	       "{\"id\": 502, \"file_name\": \"a_b.txt\"}, {\"id\": 503, \"file_name\": null}]}",
	       &c);
	assert_text(agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "a_b.txt-501.json"),
		    "{\n  \"id\": 501,\n  \"file_name\": \"a/b.txt\"\n}\n");
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "a_b.txt-502.json"));
	assert_non_null(agent_config_entry(&c, AGENT_CONFIG_KNOWLEDGE_BASE, "_.json"));
	agent_config_free(&c);
}

static void test_dynamic_variables_are_one_line_each_in_order(void **state)
{
	struct agent_config c;

	(void)state;
	decode(AGENT, &c);
	assert_text(&c.variables, "customer_name\tWho is calling\n"
				  "order_id\tThe order number, if any\n"
				  "vip\t\n");
	agent_config_free(&c);
}

static void test_control_characters_in_variables_become_spaces(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{\"dynamic_variables\": [{\"name\": \"z\\tz\", \"description\": \"a\\r\\nb\\u0001\\u007f\"}, "
	       "{\"name\": \"a\"}, {\"description\": \"no name\"}, {\"name\": 3, \"description\": true}, "
	       "{}]}",
	       &c);
	assert_text(&c.variables, "z z\ta  b  \n"
				  "a\t\n"
				  "\tno name\n"
				  "3\ttrue\n"
				  "\t\n");
	agent_config_free(&c);
	decode("{\"dynamic_variables\": []}", &c);
	assert_text(&c.variables, "");
	agent_config_free(&c);
}

static void test_wrong_shapes_are_eproto(void **state)
{
	static const char *const bad[] = {
		"[]",
		"[{\"name\": \"x\"}]",
		"\"agent\"",
		"42 ",
		"null ",
		"",
		"{\"name\": \"x\"",
		"{\"name\": \"x\"} {}",
		"{\"mock_tools\": {}}",
		"{\"mock_tools\": \"lookup\"}",
		"{\"mock_tools\": 1}",
		"{\"mock_tools\": false}",
		"{\"mock_tools\": [1]}",
		"{\"mock_tools\": [{\"id\": 1}, null]}",
		"{\"mock_tools\": [[]]}",
		"{\"mock_tools\": [\"lookup\"]}",
		"{\"knowledge_base_files\": {\"id\": 1}}",
		"{\"knowledge_base_files\": [{}, \"faq.md\"]}",
		"{\"dynamic_variables\": {\"name\": \"x\"}}",
		"{\"dynamic_variables\": \"x\"}",
		"{\"dynamic_variables\": [{\"name\": \"x\"}, []]}",
		"{\"dynamic_variables\": [null]}",
		"{\"name\": \"ok\", \"mock_tools\": [{\"id\": 1, \"name\": \"a\"}], "
		"\"knowledge_base_files\": 0}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_eproto(bad[i]);
}

static void test_agent_json_keeps_key_order_and_escapes(void **state)
{
	struct agent_config c;

	(void)state;
	decode("{\"zeta\":1,\"name\":\"caf\\u00e9 \\/ "
	       "\\\"q\\\"\",\"alpha\":[],\"mid\":{\"b\":2.50,\"a\":null}}",
	       &c);
	assert_text(&c.json, "{\n"
			     "  \"zeta\": 1,\n"
			     "  \"name\": \"caf\\u00e9 \\/ \\\"q\\\"\",\n"
			     "  \"alpha\": [],\n"
			     "  \"mid\": {\n"
			     "    \"b\": 2.50,\n"
			     "    \"a\": null\n"
			     "  }\n"
			     "}\n");
	agent_config_free(&c);
	decode(AGENT, &c);
	assert_starts_with(c.json.text,
			   "{\n  \"id\": 42,\n  \"name\": \"Front desk \\u2013 caf\\u00e9 \\\"VIP\\\"\",\n"
			   "  \"description\": \"You are the front desk of Caf\\u00e9 Lune.\\nGreet");
	assert_non_null(strstr(c.json.text, "\n  \"updated_at\": \"2026-06-12T10:30:00.123456Z\"\n}\n"));
	agent_config_free(&c);
}

static void test_free_is_safe_on_a_zeroed_config_and_twice(void **state)
{
	struct agent_config c;

	(void)state;
	memset(&c, 0, sizeof(c));
	agent_config_free(&c);
	decode(AGENT, &c);
	agent_config_free(&c);
	agent_config_free(&c);
	assert_null(c.json.text);
	assert_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "lookup_order.json"));
}

static void test_texts_are_copies_that_outlive_the_body(void **state)
{
	char *body = strdup(AGENT);
	struct agent_config c;

	(void)state;
	assert_non_null(body);
	decode(body, &c);
	memset(body, 'x', strlen(body));
	free(body);
	assert_text(&c.field[AGENT_CONFIG_LANGUAGE], "fr\n");
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "lookup_order.json"), LOOKUP_ORDER);
	agent_config_free(&c);
}

static void test_a_large_agent_decodes_in_linear_time(void **state)
{
	const int n = 50000;
	char *body = malloc((size_t)n * 100 + 100);
	size_t len = 0;
	struct agent_config c;
	double start;

	(void)state;
	assert_non_null(body);
	len += (size_t)sprintf(body + len, "{\"mock_tools\": [");
	for(int i = 0; i < n; i++)
		len += (size_t)sprintf(body + len, "%s{\"id\": %d, \"name\": \"tool %d\"}", i ? ", " : "", i,
				       i / 2);
	len += (size_t)sprintf(body + len, "], \"dynamic_variables\": [");
	for(int i = 0; i < n; i++)
		len += (size_t)sprintf(body + len, "%s{\"name\": \"v%d\", \"description\": \"d\"}",
				       i ? ", " : "", i);
	len += (size_t)sprintf(body + len, "]}");
	start = fake_now();
	assert_int_equal(agent_config_decode(body, len, &c), 0);
	assert_true(fake_now() - start < 5.0); /* generous for valgrind; quadratic takes minutes */
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].n, (size_t)n);
	assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "tool 7-15.json"),
		    "{\n  \"id\": 15,\n  \"name\": \"tool 7\"\n}\n");
	assert_starts_with(c.variables.text, "v0\td\nv1\td\n");
	assert_int_equal(c.variables.len, strlen(c.variables.text));
	agent_config_free(&c);
	free(body);
}

/* ---- the VERSION shape (AIAgentHistory records) ---- */

static void decode_version(const char *body, struct agent_config *c)
{
	int rc = agent_config_decode_shape(body, strlen(body), AGENT_CONFIG_VERSION, c);

	if(rc != 0)
		fail_msg("agent_config_decode_shape(%s, VERSION) = %d, want 0", body, rc);
}

/* The collections of a version, as arrays. */
#define VERSION_TOOLS                                                                                        \
	"[{\"id\": 11, \"name\": \"lookup_order\", \"description\": \"Finds an order by id\", "              \
	"\"mock_data\": [{\"input\": {\"order_id\": \"A-1\"}, \"output\": {\"status\": \"shipped\", "        \
	"\"eta_days\": 2, \"items\": []}}], \"served_via\": {\"type\": \"webhook\", "                        \
	"\"url\": \"https://mock.cekura.ai/t/11\", \"mock_index\": 0}}, {\"id\": 12, "                       \
	"\"name\": \"transfer/escalate\", \"mock_data\": []}]"
#define VERSION_KB "[{\"id\": 502, \"file_name\": \"faq.md\", \"file_size\": 912}]"
#define VERSION_VARS                                                                                         \
	"[{\"id\": 3, \"name\": \"customer_name\", \"description\": \"Who is calling\"}, "                   \
	"{\"name\": \"order_id\", \"description\": \"The order\\tnumber\"}]"

/* The same, each as a JSON string holding the array (as json.dumps() sends it). */
#define VERSION_TOOLS_STRING                                                                                 \
	"\"[{\\\"id\\\": 11, \\\"name\\\": \\\"lookup_order\\\", \\\"description\\\": \\\"Finds an order "   \
	"by "                                                                                                \
	"id\\\", \\\"mock_data\\\": [{\\\"input\\\": {\\\"order_id\\\": \\\"A-1\\\"}, \\\"output\\\": "      \
	"{\\\"status\\\": \\\"shipped\\\", \\\"eta_days\\\": 2, \\\"items\\\": []}}], \\\"served_via\\\": "  \
	"{\\\"type\\\": \\\"webhook\\\", \\\"url\\\": \\\"https://mock.cekura.ai/t/11\\\", "                 \
	"\\\"mock_index\\\": 0}}, {\\\"id\\\": 12, \\\"name\\\": \\\"transfer/escalate\\\", "                \
	"\\\"mock_data\\\": []}]\""
#define VERSION_KB_STRING "\"[{\\\"id\\\": 502, \\\"file_name\\\": \\\"faq.md\\\", \\\"file_size\\\": 912}]\""
#define VERSION_VARS_STRING                                                                                  \
	"\"[{\\\"id\\\": 3, \\\"name\\\": \\\"customer_name\\\", \\\"description\\\": \\\"Who is "           \
	"calling\\\"}, {\\\"name\\\": \\\"order_id\\\", \\\"description\\\": \\\"The "                       \
	"order\\\\tnumber\\\"}]\""

#define VERSION_HEAD                                                                                         \
	"{\"history_id\": 42002, \"history_date\": \"2026-06-12T10:30:00Z\", \"history_type\": \"~\", "      \
	"\"history_change_reason\": \"Auto-fetch\", \"history_user\": null, \"version_id\": null, "          \
	"\"version_name\": null, \"id\": 42, \"agent_name\": \"Front desk\", \"language\": \"fr\", "         \
	"\"description\": \"You are the front desk.\\nBe brief.\", "

static const char VERSION_ARRAYS[] =
	VERSION_HEAD "\"mock_tools\": " VERSION_TOOLS ", \"knowledge_base_files\": " VERSION_KB
		     ", \"dynamic_variables\": " VERSION_VARS "}";
static const char VERSION_STRINGS[] =
	VERSION_HEAD "\"mock_tools\": " VERSION_TOOLS_STRING ", \"knowledge_base_files\": " VERSION_KB_STRING
		     ", \"dynamic_variables\": " VERSION_VARS_STRING "}";

static void test_a_version_takes_name_prompt_and_language_from_its_record(void **state)
{
	struct agent_config c;

	(void)state;
	decode_version(VERSION_ARRAYS, &c);
	assert_text(&c.field[AGENT_CONFIG_NAME], "Front desk\n");
	assert_text(&c.field[AGENT_CONFIG_SYSTEM_PROMPT], "You are the front desk.\nBe brief.\n");
	assert_text(&c.field[AGENT_CONFIG_LANGUAGE], "fr\n");
	assert_text(&c.field[AGENT_CONFIG_PROVIDER], "");
	assert_text(&c.field[AGENT_CONFIG_PROVIDER_AGENT_ID], "");
	assert_text(&c.field[AGENT_CONFIG_PHONE_NUMBER], "");
	assert_text(&c.field[AGENT_CONFIG_UPDATED_AT], "");
	assert_int_equal(c.variables_err, 0);
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++)
		assert_int_equal(c.list[l].err, 0);
	/* record.json: the whole record pretty-printed, like agent.json */
	assert_starts_with(c.json.text,
			   "{\n  \"history_id\": 42002,\n  \"history_date\": \"2026-06-12T10:30:00Z\",\n");
	assert_non_null(strstr(c.json.text, "\n  \"agent_name\": \"Front desk\",\n"));
	agent_config_free(&c);
	/* a version's "name" is not agent_name; an agent's agent_name is not its name */
	decode_version("{\"name\": \"x\", \"updated_at\": \"2026\", \"provider\": {\"type\": \"vapi\"}}", &c);
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
		assert_text(&c.field[f], "");
	agent_config_free(&c);
	assert_field("{\"agent_name\": \"x\"}", AGENT_CONFIG_NAME, "");
}

static void test_a_version_s_collections_as_strings_show_as_arrays_do(void **state)
{
	struct agent_config a, s;

	(void)state;
	decode_version(VERSION_ARRAYS, &a);
	decode_version(VERSION_STRINGS, &s);
	assert_text(&s.variables, a.variables.text);
	assert_text(&a.variables, "customer_name\tWho is calling\norder_id\tThe order number\n");
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++) {
		const struct name_index *x = &a.list[l].index;

		assert_int_equal(s.list[l].err, 0);
		assert_int_equal(s.list[l].n, a.list[l].n);
		assert_int_equal(s.list[l].index.n, x->n);
		for(size_t i = 0; i < x->n; i++) {
			assert_string_equal(s.list[l].index.v[i].name, x->v[i].name);
			assert_text(agent_config_entry(&s, (enum config_list)l, x->v[i].name),
				    agent_config_entry(&a, (enum config_list)l, x->v[i].name)->text);
		}
	}
	assert_int_equal(a.list[AGENT_CONFIG_TOOLS].n, 2);
	assert_text(agent_config_entry(&s, AGENT_CONFIG_TOOLS, "lookup_order.json"), LOOKUP_ORDER);
	assert_non_null(agent_config_entry(&s, AGENT_CONFIG_TOOLS, "transfer_escalate.json"));
	assert_text(agent_config_entry(&s, AGENT_CONFIG_KNOWLEDGE_BASE, "faq.md.json"),
		    "{\n  \"id\": 502,\n  \"file_name\": \"faq.md\",\n  \"file_size\": 912\n}\n");
	/* record.json is the record as sent: the strings stay strings */
	assert_non_null(strstr(s.json.text, "\n  \"knowledge_base_files\": " VERSION_KB_STRING ",\n"));
	agent_config_free(&a);
	agent_config_free(&s);
}

static void test_a_version_s_null_or_absent_collections_are_empty(void **state)
{
	static const char *const bodies[] = {
		"{\"mock_tools\": null, \"knowledge_base_files\": null, \"dynamic_variables\": null}",
		"{}",
		"{\"mock_tools\": \"[]\", \"knowledge_base_files\": \" [ ] \", \"dynamic_variables\": []}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct agent_config c;

		decode_version(bodies[i], &c);
		assert_text(&c.variables, "");
		assert_int_equal(c.variables_err, 0);
		for(int l = 0; l < AGENT_CONFIG_NLISTS; l++) {
			assert_int_equal(c.list[l].n, 0);
			assert_int_equal(c.list[l].err, 0);
		}
		agent_config_free(&c);
	}
}

/* Decodes a version whose key holds value and the other two collections
 * good ones; checks that only key failed, with want. */
static void assert_collection_fails_alone(const char *key, const char *value, int want)
{
	char body[1024];
	struct agent_config c;
	int tools = strcmp(key, "mock_tools") == 0, kb = strcmp(key, "knowledge_base_files") == 0;
	int vars = strcmp(key, "dynamic_variables") == 0;

	snprintf(body, sizeof(body),
		 "{\"agent_name\": \"A\", \"mock_tools\": %s, \"knowledge_base_files\": %s, "
		 "\"dynamic_variables\": %s, \"language\": \"en\"}",
		 tools ? value : VERSION_TOOLS_STRING, kb ? value : VERSION_KB,
		 vars ? value : VERSION_VARS_STRING);
	decode_version(body, &c);
	assert_text(&c.field[AGENT_CONFIG_NAME], "A\n");
	assert_text(&c.field[AGENT_CONFIG_LANGUAGE], "en\n");
	assert_non_null(strstr(c.json.text, "\"agent_name\": \"A\""));
	if(c.list[AGENT_CONFIG_TOOLS].err != (tools ? want : 0) ||
	   c.list[AGENT_CONFIG_KNOWLEDGE_BASE].err != (kb ? want : 0) || c.variables_err != (vars ? want : 0))
		fail_msg("%s: %s gave tools %d, knowledge base %d, variables %d", key, value,
			 c.list[AGENT_CONFIG_TOOLS].err, c.list[AGENT_CONFIG_KNOWLEDGE_BASE].err,
			 c.variables_err);
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].n, tools ? 0 : 2);
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].index.n, tools ? 0 : 2);
	assert_int_equal(c.list[AGENT_CONFIG_KNOWLEDGE_BASE].n, kb ? 0 : 1);
	assert_text(&c.variables, vars ? "" : "customer_name\tWho is calling\norder_id\tThe order number\n");
	if(!tools)
		assert_text(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "lookup_order.json"), LOOKUP_ORDER);
	else
		assert_null(agent_config_entry(&c, AGENT_CONFIG_TOOLS, "lookup_order.json"));
	agent_config_free(&c);
}

static void test_a_version_s_collection_that_is_not_an_array_of_objects_fails_alone(void **state)
{
	static const char *const keys[] = {"mock_tools", "knowledge_base_files", "dynamic_variables"};
	static const char *const bad[] = {
		"\"not json\"",
		"\"\"",
		"\"null\"",
		"\"{}\"",
		"\"{\\\"id\\\": 1}\"",
		"\"[1]\"",
		"\"[{}, null]\"",
		"\"[{}] []\"",
		"\"[{}\"",
		"\"\\\"[]\\\"\"", /* a string holding a string holding an array */
		"{}",
		"5",
		"true",
		"[1]",
		"[{}, \"x\"]",
	};

	(void)state;
	for(size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_collection_fails_alone(keys[k], bad[i], -EPROTO);
}

static void test_a_version_s_collection_past_the_item_bound_is_efbig_alone(void **state)
{
	const size_t n = AGENT_CONFIG_MAX_ITEMS + 1;
	char *array = malloc(n * 3 + 2), *body;
	size_t len = 0;
	struct agent_config c;

	(void)state;
	assert_non_null(array);
	array[len++] = '[';
	for(size_t i = 0; i < n; i++)
		len += (size_t)sprintf(array + len, "%s{}", i ? "," : "");
	array[len++] = ']';
	array[len] = '\0';
	/* the string form for tools, the array form for knowledge base files */
	assert_true(asprintf(&body, "{\"mock_tools\": \"%s\", \"knowledge_base_files\": %s}", array, array) >
		    0);
	decode_version(body, &c);
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].err, -EFBIG);
	assert_int_equal(c.list[AGENT_CONFIG_KNOWLEDGE_BASE].err, -EFBIG);
	assert_int_equal(c.list[AGENT_CONFIG_TOOLS].n, 0);
	assert_int_equal(c.list[AGENT_CONFIG_KNOWLEDGE_BASE].n, 0);
	assert_int_equal(c.variables_err, 0);
	agent_config_free(&c);
	free(body);
	free(array);
}

static void test_a_version_that_is_not_an_object_is_eproto(void **state)
{
	static const char *const bad[] = {"[]", "\"x\"", "null", "", "{\"a\": 1"};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_config c;

		assert_int_equal(agent_config_decode_shape(bad[i], strlen(bad[i]), AGENT_CONFIG_VERSION, &c),
				 -EPROTO);
		assert_null(c.json.text);
		agent_config_free(&c);
	}
}

static void test_an_agent_still_fails_whole_on_a_string_collection(void **state)
{
	struct agent_config c;

	(void)state;
	/* what a version takes, an agent refuses: the AGENT shape is unchanged */
	assert_eproto(VERSION_STRINGS);
	assert_int_equal(
		agent_config_decode_shape(VERSION_STRINGS, strlen(VERSION_STRINGS), AGENT_CONFIG_AGENT, &c),
		-EPROTO);
	agent_config_free(&c);
	decode(VERSION_ARRAYS, &c);
	assert_int_equal(c.variables_err, 0);
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++)
		assert_int_equal(c.list[l].err, 0);
	agent_config_free(&c);
	assert_int_equal(agent_config_decode_shape("{}", 2, (enum agent_config_shape)7, &c), -EINVAL);
	agent_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_of_a_full_agent),
		cmocka_unit_test(test_absent_fields_are_empty_texts),
		cmocka_unit_test(test_null_fields_and_parents_are_empty_texts),
		cmocka_unit_test(test_an_empty_string_is_an_empty_line),
		cmocka_unit_test(test_numbers_and_booleans_are_shown_as_json),
		cmocka_unit_test(test_objects_where_a_value_is_expected_are_compact_json),
		cmocka_unit_test(test_a_tool_file_is_the_tool_pretty_printed),
		cmocka_unit_test(test_a_slash_in_a_tool_name_becomes_an_underscore),
		cmocka_unit_test(test_tools_sharing_a_name_are_told_apart_by_id),
		cmocka_unit_test(test_tools_with_a_repeated_id_get_a_name_each),
		cmocka_unit_test(test_tools_without_a_string_name_are_named_underscore),
		cmocka_unit_test(test_knowledge_base_files_by_file_name),
		cmocka_unit_test(test_knowledge_base_files_sharing_a_name),
		cmocka_unit_test(test_dynamic_variables_are_one_line_each_in_order),
		cmocka_unit_test(test_control_characters_in_variables_become_spaces),
		cmocka_unit_test(test_wrong_shapes_are_eproto),
		cmocka_unit_test(test_agent_json_keeps_key_order_and_escapes),
		cmocka_unit_test(test_free_is_safe_on_a_zeroed_config_and_twice),
		cmocka_unit_test(test_texts_are_copies_that_outlive_the_body),
		cmocka_unit_test(test_a_large_agent_decodes_in_linear_time),
		cmocka_unit_test(test_a_version_takes_name_prompt_and_language_from_its_record),
		cmocka_unit_test(test_a_version_s_collections_as_strings_show_as_arrays_do),
		cmocka_unit_test(test_a_version_s_null_or_absent_collections_are_empty),
		cmocka_unit_test(test_a_version_s_collection_that_is_not_an_array_of_objects_fails_alone),
		cmocka_unit_test(test_a_version_s_collection_past_the_item_bound_is_efbig_alone),
		cmocka_unit_test(test_a_version_that_is_not_an_object_is_eproto),
		cmocka_unit_test(test_an_agent_still_fails_whole_on_a_string_collection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
