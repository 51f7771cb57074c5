/* tree.h - a path of the mount, parsed into what it names. Pure: no I/O, no state.
 *
 *   "/"                      TREE_ROOT
 *   "/agents"                TREE_AGENTS
 *   "/agents/42"             TREE_AGENT   agent_id 42
 *   "/agents/42/progress"    TREE_FILE    agent_id 42, name "progress"
 *
 * Which file names exist inside an agent directory is the nodes module's
 * business (its table); the tree only splits the path.
 */
#ifndef CEKURAFS_TREE_H
#define CEKURAFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tree_kind { TREE_ROOT, TREE_AGENTS, TREE_AGENT, TREE_FILE };

/* Largest agent id accepted: ids are positive and fit a signed 64-bit integer. */
#define TREE_MAX_ID INT64_MAX

struct tree_path {
	enum tree_kind kind;
	uint64_t agent_id; /* TREE_AGENT, TREE_FILE */
	const char *name;  /* TREE_FILE: points into the parsed path, NUL-terminated there */
};

/* Parses an absolute path. Returns 0, or -ENOENT when it names nothing that
 * can exist (bad shape, a non-canonical or out-of-range id). */
int tree_parse(const char *path, struct tree_path *out);

/* Parses a canonical decimal agent id of exactly len bytes: no sign, no
 * leading zero, not 0, at most TREE_MAX_ID. */
bool tree_parse_id(const char *s, size_t len, uint64_t *id);

#endif
