/* text.c - small text helpers every layer shares (text.h). */
#include "cekurafs/text.h"

void text_scrub(char *s)
{
	for(; *s; s++)
		if(TEXT_IS_CONTROL(*s))
			*s = ' ';
}
