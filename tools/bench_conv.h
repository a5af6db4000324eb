/* bench_conv.h - `tapegrad bench conv` (bench_conv.c), dispatched by
 * cmd_bench.c with its options. */
#ifndef TG_BENCH_CONV_H
#define TG_BENCH_CONV_H

#include "tapegrad.h"

typedef struct bench_conv_opts { int batch, threads, steps, repeats, json; } bench_conv_opts;

/* print the rows; returns a CLI exit status */
int bench_conv_run(const bench_conv_opts *b);

#endif
