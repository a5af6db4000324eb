/* gc_build.h - what the gradient-check registry's case builders share
 * (gc_cases.c, gc_cases_conv.c); internal to the registry. Data come from
 * the case context's seeded stream, in memory the context owns. */
#ifndef TG_GC_BUILD_H
#define TG_GC_BUILD_H

#include "gc_cases.h"

enum gc_fill_kind {
    F_U1,    /* U(-1, 1) */
    F_U3,    /* U(-3, 3) */
    F_AWAY,  /* +-U(0.1, 1): away from relu's kink */
    F_WIDE,  /* U(-30, 30) */
    F_U01,   /* U(0, 1): targets */
    F_BIG,   /* +-1000, alternating, then shuffled signs */
    F_FIFTY  /* +-50 likewise */
};

/* n values of the given kind */
void gc_fill(tg_gc_ctx *c, float *x, size_t n, int kind);
/* zeroed memory freed with the context (NULL when it holds too many) */
void *gc_mem(tg_gc_ctx *c, size_t bytes);
/* a float input / a parameter group/name of any shape, filled */
tg_node gc_input_nd(tg_gc_ctx *c, const char *name, int ndim, const int *dims, int kind);
tg_node gc_param_nd(tg_gc_ctx *c, const char *group, const char *name, int ndim, const int *dims, int kind);
/* sum(y * R), R a constant input of y's shape: a distinct upstream
 * gradient per element of y */
tg_node gc_weigh(tg_gc_ctx *c, tg_node y);

/* the cases of gc_cases_conv.c (convolutions, reshape, batch_norm), listed
 * after gc_cases.c's own */
extern const tg_gc_case tg_gc_conv_cases[];
extern const int tg_gc_conv_ncases;

#endif
