/* fuzz_progress.c - libFuzzer: a progress response body -> decoder -> renderer.
 * Nothing the API sends may crash the daemon or make it use unbounded memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cekurafs/api.h"
#include "cekurafs/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct progress p;

	if(api_decode_progress((const char *)data, size, &p) == 0) {
		free(render_progress(&p, "6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a"));
		progress_free(&p);
	}
	return 0;
}
