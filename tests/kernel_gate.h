/* kernel_gate.h - a suite run with TG_KERNEL=portable|avx2|avx512|neon (meson's
 * gemm-avx2, ops-portable, ... tests) runs that kernel variant or reports
 * itself skipped, never passes on another one:
 *   - the CPU or build lacks the variant named: exit 77 (meson: SKIP);
 *   - the name is unknown, or the dispatcher picked another variant: fail;
 *   - otherwise the suite runs, and says which variant.
 * Without TG_KERNEL the suite runs on the variant the CPU would pick. */
#ifndef TG_KERNEL_GATE_H
#define TG_KERNEL_GATE_H

#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_EXIT_SKIP 77

/* -1: run the suite; otherwise the exit status main() returns. */
static inline int tg_kernel_gate(const char *suite)
{
    char msg[192];
    const tg_kern *chosen;
    const int r = tg_kern_request(&chosen, msg, sizeof msg);
    if (r == TG_KREQ_UNAVAILABLE) {
        printf("%s: SKIP: %s\n", suite, msg);
        return TG_EXIT_SKIP;
    }
    if (r == TG_KREQ_UNKNOWN) {
        fprintf(stderr, "%s: %s\n", suite, msg);
        return 1;
    }
    const char *want = getenv("TG_KERNEL");
    if (r == TG_KREQ_OK && (strcmp(chosen->name, want) != 0 || tg_kern_best() != chosen)) {
        fprintf(stderr, "%s: TG_KERNEL=%s but the dispatcher uses %s\n", suite, want, tg_kern_best()->name);
        return 1;
    }
    printf("%s: f32 kernel variant %s%s\n", suite, tg_kern_best()->name, r == TG_KREQ_OK ? " (forced by TG_KERNEL)" : "");
    fflush(stdout); /* before Check forks */
    return -1;
}

/* The variant TG_KERNEL names, or NULL when unset: suites that loop over
 * every variant test only this one then. */
static inline const char *tg_kernel_wanted(void)
{
    const char *w = getenv("TG_KERNEL");
    return w && *w ? w : NULL;
}

#endif
