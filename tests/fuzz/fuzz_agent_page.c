/* fuzz_agent_page.c - libFuzzer: an agent list page -> ids and `next`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cekurafs/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	char *next = NULL;

	api_decode_agent_page((const char *)data, size, &ids, &n, &cap, &next);
	free(ids);
	free(next);
	return 0;
}
