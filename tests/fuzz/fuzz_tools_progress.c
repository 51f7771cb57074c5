/* fuzz_tools_progress.c - libFuzzer: a tools import's progress answer ->
 * decoder -> the text of tools-progress; and the same bytes as a refused
 * tools import's error body -> the one-line detail. Nothing the API sends
 * may crash the daemon, and the text keeps its shape whatever it sends. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/api.h"
#include "cekurafs/text.h"
#include "cekurafs/tools_progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The text of tools-progress: 4 to 6 lines, each ended by '\n', none with a
 * control byte; the first is one word. */
static void check_text(const char *text)
{
	size_t lines = 0;

	for(const char *p = text; *p; p++) {
		if(*p == '\n')
			lines++;
		else if(TEXT_IS_CONTROL(*p) || (lines == 0 && *p == ' '))
			abort();
	}
	if(lines < 4 || lines > 6 || text[strlen(text) - 1] != '\n')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tools_progress t;
	char detail[400], *json, *text;
	int rc;

	if(tools_progress_decode((const char *)data, size, &t) == 0) {
		if(!t.status)
			abort();
		tools_progress_free(&t);
	}
	json = malloc(size + 1);
	if(!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	rc = tools_progress_decode(json, strlen(json), &t);
	tools_progress_free(&t);
	text = tools_progress_render(json, "6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a");
	if(text)
		check_text(text);
	else if(rc == 0)
		abort(); /* a decodable answer renders (memory is not short here) */
	free(text);
	free(json);
	api_decode_detail((const char *)data, size, detail, sizeof(detail));
	if(strchr(detail, '\n'))
		abort(); /* the error file is one line */
	return 0;
}
