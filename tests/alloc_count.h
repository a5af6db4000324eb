/* alloc_count.h - counts every allocation a suite's binary makes through the
 * C library's allocator. The suite links with -Wl,--wrap=malloc,
 * --wrap=calloc, --wrap=realloc and --wrap=aligned_alloc (tests/meson.build),
 * so tapegrad's code and the suite's own calls reach these wrappers; a
 * library that calls the allocator from its own shared object (MPI) does not.
 * Include it in one file of the suite only. */
#ifndef TG_TEST_ALLOC_COUNT_H
#define TG_TEST_ALLOC_COUNT_H

#include <stddef.h>
#include <stdint.h>

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_aligned_alloc(size_t, size_t);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

static uint64_t n_alloc; /* allocations so far */
void *__wrap_malloc(size_t n) { n_alloc++; return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { n_alloc++; return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { n_alloc++; return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { n_alloc++; return __real_aligned_alloc(a, n); }

#endif
