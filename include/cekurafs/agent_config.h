/* agent_config.h - an agent's configuration (GET /aiagents/{id}/, AIAgentV2) as the
 * texts of its files. Pure: decoded once, then immutable.
 *
 *   agents/42/agent.json                 the agent as received, pretty-printed, keys in order
 *   agents/42/name, system_prompt, ...   one value and a newline; "" when absent or null
 *   agents/42/dynamic_variables          "name<TAB>description" lines
 *   agents/42/tools/<name>.json          one mock tool, pretty-printed
 *   agents/42/knowledge_base/<file>.json one knowledge base file's metadata, pretty-printed
 *
 * The same files for a version of the agent (an AIAgentHistory record, its
 * collections arrays or strings holding arrays):
 *
 *   agents/42/history/42002/system_prompt   the record's description
 */
#ifndef CEKURAFS_AGENT_CONFIG_H
#define CEKURAFS_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cekurafs/names.h"

/* Items one list of an agent (tools, knowledge base files, dynamic
 * variables) may hold: more makes the agent EPROTO ("too large to show as files"). */
#define AGENT_CONFIG_MAX_ITEMS 100000

/* The one-value files, and where each value is in an agent; in a version
 * (AGENT_CONFIG_VERSION) only the first three have one. */
enum config_field {
	AGENT_CONFIG_NAME,		/* name; a version's agent_name */
	AGENT_CONFIG_SYSTEM_PROMPT,	/* description */
	AGENT_CONFIG_LANGUAGE,		/* language */
	AGENT_CONFIG_PROVIDER,		/* provider.type; "" in a version */
	AGENT_CONFIG_PROVIDER_AGENT_ID, /* provider.agent_id; "" in a version */
	AGENT_CONFIG_PHONE_NUMBER,	/* telephony.phone_number; "" in a version */
	AGENT_CONFIG_UPDATED_AT,	/* updated_at; "" in a version */
	AGENT_CONFIG_NFIELDS
};

/* Where the values are: an agent (AIAgentV2) or a version of it (an
 * AIAgentHistory record: name <- agent_name, system_prompt <- description,
 * language <- language, the other one-value fields empty; mock_tools,
 * knowledge_base_files and dynamic_variables each an array of objects or a
 * string holding one). */
enum agent_config_shape { AGENT_CONFIG_AGENT, AGENT_CONFIG_VERSION };

/* The lists shown as directories. */
enum config_list { AGENT_CONFIG_TOOLS, AGENT_CONFIG_KNOWLEDGE_BASE, AGENT_CONFIG_NLISTS };

/* A text the config owns. */
struct config_text {
	char *text;
	size_t len;
};

struct agent_config {
	struct config_text json;			/* agent.json (a version's record.json) */
	struct config_text field[AGENT_CONFIG_NFIELDS]; /* "<value>\n", or "" */
	struct config_text variables;			/* dynamic_variables */
	/* The agent's project (an integer > 0), else 0: a run by folder sends it. */
	int64_t project;
	/* 0, or -EPROTO / -EFBIG when a version's dynamic_variables could not be
	 * shown (variables is then ""); always 0 for an agent. */
	int variables_err;
	/* tools/ and knowledge_base/: file names (with ".json") in index, told
	 * apart by the tool's or file's id; texts[index.v[i].at] is entry i's text.
	 * err: 0, or -EPROTO / -EFBIG when a version's list could not be shown
	 * (the list is then empty); always 0 for an agent. */
	struct {
		struct name_index index;
		struct config_text *texts;
		size_t n;
		int err;
	} list[AGENT_CONFIG_NLISTS];
};

/* Decodes an AIAgentV2 body into *out (agent_config_free() it): the same as
 * agent_config_decode_shape(body, len, AGENT_CONFIG_AGENT, out). */
int agent_config_decode(const char *body, size_t len, struct agent_config *out);

/* Decodes a body of the given shape into *out (agent_config_free() it). A
 * value that is a string is shown decoded (escapes made UTF-8); a number or a
 * boolean as its JSON text; null or absent as an empty file.
 *
 * AGENT_CONFIG_AGENT returns 0, -EPROTO (not an object, or mock_tools /
 * knowledge_base_files / dynamic_variables present but not arrays of
 * objects), -EFBIG (a list past AGENT_CONFIG_MAX_ITEMS, or a text past
 * JSON_PRETTY_MAX), or -ENOMEM.
 *
 * AGENT_CONFIG_VERSION takes each collection as an array of objects, or as a
 * string whose text is one (read as a JSON document of its own, then shown
 * exactly as an array would be); null or absent is empty. Anything else
 * fails that collection alone: its list[l].err (or variables_err) is -EPROTO,
 * or -EFBIG past AGENT_CONFIG_MAX_ITEMS or JSON_PRETTY_MAX, and the rest
 * decodes. Returns 0, -EPROTO (not an object), -EFBIG (the record past
 * JSON_PRETTY_MAX), or -ENOMEM.
 *
 * Any other shape is -EINVAL. */
int agent_config_decode_shape(const char *body, size_t len, enum agent_config_shape shape,
			      struct agent_config *out);

void agent_config_free(struct agent_config *c);

/* The text of entry name in list l, or NULL when there is none. */
const struct config_text *agent_config_entry(const struct agent_config *c, enum config_list l,
					     const char *name);

#endif
