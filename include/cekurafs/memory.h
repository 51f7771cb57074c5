/* memory.h - freed memory given back to the system.
 *
 *   memory_released(bytes);    a cache let go of a large text (any thread, any lock)
 *   memory_give_back();        the notifier, between its rounds: malloc_trim(0) once enough was let go
 *
 * glibc keeps what is freed in its heaps; after many large texts came and
 * went (agents' configurations of a megabyte each), the holes stay in the
 * process's RSS. malloc_trim(0) hands the free pages back (MADV_DONTNEED).
 * It walks every heap, so it runs outside any request and only once
 * MEMORY_TRIM_AFTER bytes were let go since the last time.
 */
#ifndef CEKURAFS_MEMORY_H
#define CEKURAFS_MEMORY_H

#include <stddef.h>

#define MEMORY_TRIM_AFTER ((size_t)16 << 20)

/* Notes that about bytes of large blocks were (or are about to be) freed. Lock-free. */
void memory_released(size_t bytes);

/* Gives free memory back when MEMORY_TRIM_AFTER bytes were released since the
 * last time. Returns whether it did. Call from a thread that serves no request. */
int memory_give_back(void);

#endif
