/* fuzz_agent_config.c - libFuzzer: an agent body (GET /aiagents/{id}/) -> config decoder.
 * Nothing the API sends may crash the daemon or make it use unbounded memory,
 * and every file listed in tools/ and knowledge_base/ must be found by its name
 * (as the same thing, unless the body gave two of them one id). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/agent_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lists(const struct agent_config *c)
{
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++) {
		const struct name_index *x = &c->list[l].index;

		for(size_t i = 0; i < x->n; i++) {
			const struct name_entry *e = names_find(x, x->v[i].name);

			if(!e || strcmp(e->name, x->v[i].name) != 0 || (e->id != x->v[i].id && e != &x->v[i]))
				abort();
			if(agent_config_entry(c, (enum config_list)l, x->v[i].name) != &c->list[l].texts[e->at])
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c;

	if(agent_config_decode((const char *)data, size, &c) == 0) {
		for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++) {
			if(strlen(c.field[f].text) != c.field[f].len)
				abort();
		}
		check_lists(&c);
	}
	agent_config_free(&c);
	return 0;
}
