/* tree.c - path -> (kind, agent id, what follows). Pure.
 *
 * Only canonical ids exist (ids.h): "42" does, "042", "+42", "4 2" and "0"
 * do not, so every agent has exactly one path.
 */
#include "cekurafs/tree.h"

#include <errno.h>
#include <string.h>

#include "cekurafs/ids.h"

/* Returns the length of the component starting at p (up to '/' or the end). */
static size_t component_len(const char *p)
{
	const char *slash = strchr(p, '/');

	return slash ? (size_t)(slash - p) : strlen(p);
}

/* The last component starting at p: non-empty, no '/' after it. Returns its length or 0. */
static size_t last_component(const char *p)
{
	size_t len = component_len(p);

	return p[len] == '\0' ? len : 0;
}

/* A directory of named things at p ("" or "/<name>"): dir, or file with its name. */
static int parse_named(const char *p, struct tree_path *out, enum tree_kind dir, enum tree_kind file)
{
	if(*p == '\0') {
		out->kind = dir;
		return 0;
	}
	out->name = p + 1;
	out->name_len = last_component(out->name);
	if(out->name_len == 0)
		return -ENOENT;
	out->kind = file;
	return 0;
}

static int parse_byname(const char *p, struct tree_path *out)
{
	return parse_named(p, out, TREE_BYNAME, TREE_LINK);
}

static int parse_status(const char *p, struct tree_path *out)
{
	return parse_named(p, out, TREE_STATUS, TREE_STATUS_FILE);
}

/* What follows "/agents/<id>": nothing, or "/<name>[/<more>...]", each component non-empty. */
static int parse_in_agent(const char *p, struct tree_path *out)
{
	if(*p == '\0') {
		out->kind = TREE_AGENT;
		return 0;
	}
	p++;
	for(const char *c = p;; c += component_len(c) + 1) {
		if(component_len(c) == 0)
			return -ENOENT;
		if(c[component_len(c)] == '\0')
			break;
	}
	out->name = p;
	out->name_len = strlen(p);
	out->kind = TREE_IN_AGENT;
	return 0;
}

int tree_parse(const char *path, struct tree_path *out)
{
	const char *p;
	size_t len;

	memset(out, 0, sizeof(*out));
	if(!path || path[0] != '/')
		return -ENOENT;
	if(strcmp(path, "/") == 0) {
		out->kind = TREE_ROOT;
		return 0;
	}
	p = path + 1;
	len = component_len(p);
	if(len == strlen(TREE_STATUS_DIR) && strncmp(p, TREE_STATUS_DIR, len) == 0)
		return parse_status(p + len, out);
	if(len != strlen("agents") || strncmp(p, "agents", len) != 0)
		return -ENOENT;
	p += len;
	if(*p == '\0') {
		out->kind = TREE_AGENTS;
		return 0;
	}
	p++;
	len = component_len(p);
	if(len == strlen(TREE_BYNAME_DIR) && strncmp(p, TREE_BYNAME_DIR, len) == 0)
		return parse_byname(p + len, out);
	if(!ids_parse_agent(p, len, &out->agent_id))
		return -ENOENT;
	return parse_in_agent(p + len, out);
}
