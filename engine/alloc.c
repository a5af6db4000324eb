/* alloc.c - the engine's only allocation functions. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *tg_zalloc(size_t bytes)
{
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (rounded < bytes) return NULL; /* overflow */
    void *p = aligned_alloc(64, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void tg_free(void *ptr) { free(ptr); }
