/* tree.c - path -> (kind, agent id, file name). Pure.
 *
 * Only canonical ids exist: "42" does, "042", "+42", "4 2" and "0" do not,
 * so every agent has exactly one path and ids reach URLs already validated.
 */
#include "cekurafs/tree.h"

#include <errno.h>
#include <string.h>

bool tree_parse_id(const char *s, size_t len, uint64_t *id)
{
	uint64_t v = 0;

	if(len == 0 || len > 19 || s[0] == '0')
		return false;
	for(size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if(d > 9)
			return false;
		if(v > ((uint64_t)TREE_MAX_ID - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*id = v;
	return true;
}

/* Returns the length of the component starting at p (up to '/' or the end). */
static size_t component_len(const char *p)
{
	const char *slash = strchr(p, '/');

	return slash ? (size_t)(slash - p) : strlen(p);
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
	if(len != strlen("agents") || strncmp(p, "agents", len) != 0)
		return -ENOENT;
	p += len;
	if(*p == '\0') {
		out->kind = TREE_AGENTS;
		return 0;
	}
	p++;
	len = component_len(p);
	if(!tree_parse_id(p, len, &out->agent_id))
		return -ENOENT;
	p += len;
	if(*p == '\0') {
		out->kind = TREE_AGENT;
		return 0;
	}
	p++;
	len = component_len(p);
	if(len == 0 || p[len] != '\0')
		return -ENOENT;
	out->kind = TREE_FILE;
	out->name = p;
	return 0;
}
