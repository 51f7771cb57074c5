/* fuzz_auto_fetch.c - libFuzzer: an auto-fetch answer -> progress id, and an
 * error body -> the one-line detail the error file shows. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *id = NULL;
	char detail[400];

	if(api_decode_auto_fetch((const char *)data, size, &id) == 0 && strlen(id) > 128)
		abort(); /* a progress id is validated before it is kept */
	free(id);
	api_decode_detail((const char *)data, size, detail, sizeof(detail));
	if(strchr(detail, '\n'))
		abort(); /* the error file is one line */
	return 0;
}
