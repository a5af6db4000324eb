/* bench.h - the benchmarks of `tapegrad bench` (cmd_bench.c dispatches):
 * training steps (bench_steps.c), kernels (bench_kernels.c) and a
 * convolution layer (bench_conv.c). Each prints its rows and returns an
 * exit status. They time the engine, so they may use its internals
 * (op.h's GEMM split, kernels.h): the CLI floor sees every header. */
#ifndef TG_BENCH_H
#define TG_BENCH_H

#include "commands.h"

#define BENCH_NDATA 8 /* distinct random batches cycled through */

double bench_now(void);     /* monotonic seconds */
long bench_peak_rss_kb(void);

int bench_gan(const bench_opts *o);
int bench_mlp(const bench_opts *o);
int bench_gemm(const bench_opts *o);
int bench_ops(const bench_opts *o);
int bench_peak(const bench_opts *o);
int bench_conv(const bench_opts *o);

#endif
