/* fuzz_agent_page.c - libFuzzer: an agent list page -> agents, `next` and `count`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cekurafs/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_list l = {0};
	char *next = NULL;
	int64_t count;

	api_decode_agent_page((const char *)data, size, &l, &next, &count);
	agent_list_free(&l);
	free(next);
	return 0;
}
