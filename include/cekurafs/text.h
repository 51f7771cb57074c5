/* text.h - small text helpers every layer shares. Pure.
 *
 *   text_scrub(line);          whatever the API sent: one line, no escape sequences
 */
#ifndef CEKURAFS_TEXT_H
#define CEKURAFS_TEXT_H

#include <stddef.h>

/* Whether byte c is a control byte (below 0x20, or DEL). */
#define TEXT_IS_CONTROL(c) ((unsigned char)(c) < 0x20 || (unsigned char)(c) == 0x7f)

/* Makes s one line in place: every control byte (newlines, escapes) becomes a space. */
void text_scrub(char *s);

#endif
