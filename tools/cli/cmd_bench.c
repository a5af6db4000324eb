/* cmd_bench.c - `tapegrad bench gan-step|mlp-step|gemm|ops|peak|conv`: how
 * fast the engine runs the workloads that matter. A benchmark, not a test:
 * it prints times and never judges them (bench/compare_torch.py sets them
 * against PyTorch on the same machine, side by side). This file is its
 * table of settings and the dispatch; bench.h lists the benchmarks.
 *
 * Every figure is the best of --repeats repeats of --steps steps after a
 * warm-up: on a shared machine the minimum time is the one least disturbed. */
#include "bench.h"
#include "cli.h"
#include "dp.h"
#include "opts.h"

#include <stddef.h>
#include <string.h>

const char *const bench_names[] = {"gan-step", "mlp-step", "gemm", "ops", "peak", "conv", NULL};
const char *const bench_models[] = {"reference", "documents", "dcgan", "dcgan-tuned", "keras-d", NULL};
const char *const bench_overlap[] = {"on", "off", NULL};
/* each benchmark's --steps when it is not given (ops and peak size their own) */
static const int default_steps[] = {100, 200, 300, 0, 0, 50};

#define O(member) offsetof(bench_opts, member)

static const set_row rows[] = {
    {.arg = "WHAT", .type = &set_choice, .off = O(what), .aux = bench_names,
     .help = "gan-step: one reference GAN iteration (D step on real + fake, G step through D, Adam on both), random "
             "data in [-1, 1]; under mpirun with several processes, data parallel as train-gan (--batch is the "
             "global batch, rank 0 prints)\n"
             "mlp-step: one training step of a 784-512-256-128-10 ReLU classifier, softmax cross-entropy, Adam 1e-3\n"
             "gemm: every GEMM shape of the GAN (forward, weight gradient, input gradient of each layer) with the "
             "engine's kernel and thread split, GFLOP/s\n"
             "ops: ns/element of the f32 element-wise kernels, Adam, dropout\n"
             "peak: the machine's FMA peak with the engine's kernel variant: 12 independent FMA chains per thread, "
             "1..T threads, GFLOP/s\n"
             "conv: a convolution layer's forward and backward (the DCGAN discriminator's first: Bx1x28x28, 64 5x5 "
             "s2 'same', bias, leaky_relu), without and with the input gradient",
     .flags = SET_POSITIONAL | SET_REQUIRED},
    {.flag = "--batch", .type = &set_int, .off = O(batch), .lo = 1, .hi = 65536, .def = "64", .arg = "N",
     .help = "batch size"},
    {.flag = "--threads", .type = &set_int, .off = O(threads), .lo = 1, .hi = 64, .def = "2", .arg = "T",
     .help = "worker threads"},
    {.flag = "--steps", .type = &set_int, .off = O(steps), .lo = 1, .hi = 100000000, .arg = "S",
     .help = "steps per repeat (default: gan-step 100, mlp-step 200, gemm 300 calls per shape, conv 50, ops ~50M "
             "elements per row)"},
    {.flag = "--repeats", .type = &set_int, .off = O(repeats), .lo = 1, .hi = 10000, .def = "5", .arg = "R",
     .help = "repeats"},
    {.flag = "--model", .type = &set_choice, .off = O(model), .aux = bench_models, .def = "reference", .arg = "M",
     .help = "gan-step's preset"},
    {.flag = "--overlap", .type = &set_choice, .off = O(overlap), .aux = bench_overlap, .def = "on", .arg = "on|off",
     .help = "gan-step on several processes (mpirun): on, the gradients' all-reduces start during backward, as "
             "train-gan runs them; off, they start after backward (the communication backward did not hide). One "
             "process: no effect"},
    {.flag = "--profile", .type = &set_switch, .off = O(profile),
     .help = "gan-step, mlp-step: after the timed repeats, one more repeat with the engine's profiler on: wall time "
             "per op and pass (forward, backward, optimizer step), ms per iteration, then each GEMM job by shape "
             "with its in-graph GFLOP/s"},
    {.flag = "--json", .type = &set_switch, .off = O(json),
     .help = "one JSON object per line: a line per repeat, then a summary line (gan-step, mlp-step: best "
             "samples_per_s and ms_per_iter, GFLOP/s, peak_rss_kb); one line per shape (gemm) or row (ops)"},
};

static const set_table table = {
    .name = "bench",
    .usage = "tapegrad bench gan-step|mlp-step|gemm|ops|peak|conv [options]",
    .about = "Each figure is the best of R repeats of S steps after a warm-up.",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
};

static void defaults(bench_opts *o)
{
    memset(o, 0, sizeof *o);
    set_defaults(&table, o);
}

void cmd_bench_help(FILE *out)
{
    bench_opts d;
    defaults(&d);
    opts_help(&table, &d, out);
}

int cmd_bench_parse(int argc, char **argv, bench_opts *o)
{
    defaults(o);
    int rc = opts_parse(&table, argc, argv, o, o->given, NULL);
    if (rc) return rc;
    o->steps_set = o->given[set_find(&table, "--steps", NULL)];
    if (!o->steps_set) o->steps = default_steps[o->what];
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = cmd_bench_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    /* under mpirun with several processes (main.c lets bench through):
     * gan-step splits the batch over them; the others would run as copies */
    const int procs = dp_launched();
    if ((procs > 1 || procs < 0) && strcmp(bench_names[o.what], "gan-step")) {
        cli_err("bench %s runs as one process, not under mpirun (only bench gan-step runs on several processes)",
                bench_names[o.what]);
        return CLI_USAGE;
    }
    static int (*const run[])(const bench_opts *) = {bench_gan, bench_mlp, bench_gemm, bench_ops, bench_peak,
                                                      bench_conv};
    return run[o.what](&o);
}
