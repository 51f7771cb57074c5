/* tree.h - a path of the mount, parsed into what it names. Pure: no I/O, no state.
 *
 *   "/"                      TREE_ROOT
 *   "/agents"                TREE_AGENTS
 *   "/agents/42"             TREE_AGENT   agent_id 42
 *   "/agents/42/progress"    TREE_IN_AGENT agent_id 42, name "progress"
 *   "/agents/42/tools/a.json" TREE_IN_AGENT agent_id 42, name "tools/a.json"
 *   "/agents/by-name"        TREE_BYNAME
 *   "/agents/by-name/Bot 1"  TREE_LINK    name "Bot 1"
 *   "/.cekurafs"             TREE_STATUS
 *   "/.cekurafs/stats"       TREE_STATUS_FILE name "stats"
 *
 * What exists inside an agent directory is the nodes module's business (its
 * tables, nodes_resolve()); the tree only finds the agent. "by-name" is never
 * an id, so it cannot hide an agent.
 */
#ifndef CEKURAFS_TREE_H
#define CEKURAFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tree_kind {
	TREE_ROOT,
	TREE_AGENTS,
	TREE_AGENT,
	TREE_IN_AGENT,
	TREE_BYNAME,
	TREE_LINK,
	TREE_STATUS,
	TREE_STATUS_FILE
};

#define TREE_BYNAME_DIR "by-name"
#define TREE_STATUS_DIR ".cekurafs"

struct tree_path {
	enum tree_kind kind;
	uint64_t agent_id; /* TREE_AGENT, TREE_IN_AGENT */
	/* TREE_IN_AGENT (what follows "/agents/<id>/": one or more non-empty
	 * components), TREE_LINK, TREE_STATUS_FILE: points into the parsed path,
	 * name_len bytes, NUL-terminated there */
	const char *name;
	size_t name_len;
};

/* Parses an absolute path. Returns 0, or -ENOENT when it names nothing that
 * can exist (bad shape, an id ids_parse_agent() refuses). */
int tree_parse(const char *path, struct tree_path *out);

#endif
