/* memory.c - freed memory given back to the system (memory.h). */
#include "cekurafs/memory.h"

#include <malloc.h>
#include <stdatomic.h>

static atomic_size_t released; /* bytes let go since the last trim */

void memory_released(size_t bytes)
{
	atomic_fetch_add(&released, bytes);
}

int memory_give_back(void)
{
	if(atomic_load(&released) < MEMORY_TRIM_AFTER)
		return 0;
	atomic_store(&released, 0);
	malloc_trim(0);
	return 1;
}
