/* fuzz_trigger.c - libFuzzer: what a user writes to `refetch`. Only "1" with
 * surrounding whitespace, at offset 0, is accepted. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/nodes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	off_t off = size > 0 ? data[0] % 3 : 0;
	const char *buf = size > 0 ? (const char *)data + 1 : "";
	size_t len = size > 0 ? size - 1 : 0;
	int rc = nodes_parse_trigger(buf, len, off);
	size_t ones = 0, others = 0;

	for(size_t i = 0; i < len; i++) {
		if(buf[i] == '1')
			ones++;
		else if(!strchr(" \t\r\n", buf[i]) || buf[i] == '\0')
			others++;
	}
	if(rc == 0 && (off != 0 || ones != 1 || others != 0))
		abort();
	if(rc != 0 && rc != -EINVAL)
		abort();
	return 0;
}
