/* check_main.h - what every suite's main() does: run the Check suite (Check's
 * summary line shows under `meson test -v`) and exit non-zero on any failure. */
#ifndef TG_CHECK_MAIN_H
#define TG_CHECK_MAIN_H

#include <check.h>

/* Debian 12's AArch64 cross compiler, GCC 12.2.0 (gcc-aarch64-linux-gnu
 * 12.2.0-14), stops with an internal compiler error (in
 * vect_transform_reduction, tree-vect-loop.cc:7457) when its loop vectorizer
 * runs on some test functions at -O3 (softmax cross-entropy in the kernels
 * suite, conv_core's paths in conv_plan); -O2 or -fno-tree-loop-vectorize
 * compile them. Every suite includes this header before its tests, so the
 * loop vectorizer is off for the suites' own code there; the library and the
 * kernels they check are compiled as always. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12 && defined(__aarch64__)
#pragma GCC optimize("no-tree-loop-vectorize")
#endif

static inline int tg_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

#endif
