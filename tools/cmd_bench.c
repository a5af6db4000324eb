/* cmd_bench.c - `tapegrad bench gan-step|mlp-step|gemm|ops`: how fast the
 * engine runs the workloads that matter. A benchmark, not a test: it prints
 * times and never judges them (bench/compare_torch.py sets them against
 * PyTorch on the same machine, side by side).
 *
 * Every figure is the best of --repeats repeats of --steps steps after a
 * warm-up: on a shared machine the minimum time is the one least disturbed. */
#include "bench_conv.h"
#include "cli.h"
#include "commands.h"
#include "gan_train.h"
#include "op.h" /* tg_exec_gemm, tg_zalloc: the engine's own GEMM split */
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CMD "bench"
#define NDATA 8            /* distinct random batches cycled through */
#define OPS_ELEMS 50000000 /* elements an ops repeat processes (when --steps is not given) */

void cmd_bench_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad bench gan-step|mlp-step|gemm|ops|peak|conv [options]\n"
            "\n"
            "  gan-step   one reference GAN iteration (D step on real + fake, G step\n"
            "             through D, Adam on both), random data in [-1, 1]\n"
            "  mlp-step   one training step of a 784-512-256-128-10 ReLU classifier,\n"
            "             softmax cross-entropy, Adam 1e-3\n"
            "  gemm       every GEMM shape of the GAN (forward, weight gradient,\n"
            "             input gradient of each layer) with the engine's kernel and\n"
            "             thread split, GFLOP/s\n"
            "  ops        ns/element of the f32 element-wise kernels, Adam, dropout\n"
            "  peak       the machine's FMA peak with the engine's kernel variant:\n"
            "             12 independent FMA chains per thread, 1..T threads, GFLOP/s\n"
            "  conv       a convolution layer's forward and backward (the DCGAN\n"
            "             discriminator's first: Bx1x28x28, 64 5x5 s2 'same', bias,\n"
            "             leaky_relu), without and with the input gradient\n"
            "\n"
            "Each figure is the best of R repeats of S steps after a warm-up.\n"
            "\n"
            "  --batch N     batch size (default 64)\n"
            "  --threads T   worker threads (default 2)\n"
            "  --steps S     steps per repeat (default: gan-step 100, mlp-step 200,\n"
            "                gemm 300 calls per shape, ops ~50M elements per row)\n"
            "  --repeats R   repeats (default 5)\n"
            "  --model M     gan-step preset: reference (default) or documents\n"
            "  --profile     gan-step, mlp-step: after the timed repeats, one more\n"
            "                repeat with the engine's profiler on: wall time per op and\n"
            "                pass (forward, backward, optimizer step), ms per iteration,\n"
            "                then each GEMM job by shape with its in-graph GFLOP/s\n"
            "  --json        one JSON object per line: a line per repeat, then a summary\n"
            "                line (gan-step, mlp-step: best samples_per_s and ms_per_iter,\n"
            "                GFLOP/s, peak_rss_kb); one line per shape (gemm) or row (ops)\n");
}

/* ------------------------------------------------------------------ util */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) ? -1 : u.ru_maxrss; /* KiB on Linux */
}

/* multiply-accumulates of the linear layers [k0, n_layers) of an MLP, per row */
static double macs_from(const tg_mlp_spec *s, int k0)
{
    double m = 0;
    for (int k = k0; k < s->n_layers; k++) m += (double)s->widths[k] * s->widths[k + 1];
    return m;
}

/* GEMM FLOPs of one GAN iteration at batch B, counting exactly the products
 * the two plans compute (a Linear IN->OUT costs 2*B*IN*OUT per product):
 *   D step (plan of loss_D, groups "D"):
 *     G forward                                    F(G)
 *     D forward on x and on detach(fake)           2 F(D)
 *     D weight gradients, both applications        2 F(D)
 *     D input gradients of layers 1.. (layer 0's input is x or detached fake,
 *     which need none), both applications          2 F(D, from layer 1)
 *   G step (plan of loss_G, groups "G", reusing the kept fake):
 *     D forward on fake                            F(D)
 *     D input gradients of every layer (down to fake), no D weight gradients
 *                                                  F(D)
 *     G weight gradients                           F(G)
 *     G input gradients of layers 1.. (z needs none) F(G, from layer 1)
 *     (+ F(G) again with fresh_z: the G step recomputes G on new noise)
 * where F(net, from k) = 2 B sum_{j>=k} w_j w_{j+1}. Reference GAN, B = 64:
 * 0.697 GFLOP. PyTorch's standard idiom also computes D's weight gradients in
 * the G step (D's parameters require grad), +F(D): 0.769 GFLOP, the 0.77 that
 * REFERENCE.md quotes. */
static double gan_flops(const gan_cfg *c)
{
    const tg_mlp_spec *G = &c->spec.G, *D = &c->spec.D;
    double fg = macs_from(G, 0), fd = macs_from(D, 0);
    double dstep = fg + 2 * fd + 2 * fd + 2 * macs_from(D, 1);
    double gstep = fd + fd + fg + macs_from(G, 1) + (c->fresh_z ? fg : 0);
    return 2.0 * c->batch * (dstep + gstep);
}

/* classifier step: forward, weight gradients of every layer, input gradients
 * of layers 1.. (x needs none): 2.6 MFLOP per sample for 784-512-256-128-10 */
static double mlp_flops(const tg_mlp_spec *s, int B)
{
    return 2.0 * B * (2 * macs_from(s, 0) + macs_from(s, 1));
}

/* ------------------------------------------------------- timed reporting */
typedef struct step_bench {
    const char *name;
    void *ctx;
    int (*step)(void *ctx, int i, char *err, size_t len); /* one iteration */
    double flops;                                          /* GEMM FLOPs per iteration */
} step_bench;

/* One more repeat of S steps with the engine's profiler on: a row per op
 * and pass, ms per iteration and share of the repeat's wall time; the time
 * outside every node and optimizer step (the caller's own work: copying
 * batches, drawing noise, reading losses) is the "outside" row. */
#define PROF_MAX 64
static int profile_repeat(const bench_opts *o, const step_bench *sb, int i0)
{
    char err[512];
    tg_profile_row rows[PROF_MAX];
    tg_profile_reset();
    tg_profile_enable(1);
    double t0 = now_s();
    for (int i = 0; i < o->steps; i++)
        if (sb->step(sb->ctx, i0 + i, err, sizeof err)) {
            tg_profile_enable(0);
            cli_err("%s %s: %s", CMD, sb->name, err);
            return -1;
        }
    double wall = now_s() - t0;
    tg_profile_enable(0);
    int n = tg_profile_rows(rows, PROF_MAX);
    if (n > PROF_MAX) n = PROF_MAX;
    /* largest first */
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && rows[b].seconds > rows[b - 1].seconds; b--) {
            tg_profile_row t = rows[b];
            rows[b] = rows[b - 1];
            rows[b - 1] = t;
        }
    double inside = 0;
    for (int r = 0; r < n; r++) inside += rows[r].seconds;
    if (!o->json)
        printf("profile (one more repeat of %d steps, %.4f ms/iter with the profiler on)\n"
               "%-22s %-9s %10s %7s %10s\n", o->steps, wall / o->steps * 1e3, "op", "pass", "ms/iter",
               "share", "calls/iter");
    for (int r = 0; r <= n; r++) {
        const char *what = r < n ? rows[r].what : "outside";
        const char *pass = r < n ? rows[r].pass : "-";
        double sec = r < n ? rows[r].seconds : wall - inside;
        double calls = r < n ? (double)rows[r].calls / o->steps : 0.0;
        if (o->json)
            printf("{\"bench\":\"%s\",\"profile\":\"%s\",\"pass\":\"%s\",\"ms_per_iter\":%.6f,"
                   "\"share\":%.5f,\"calls_per_iter\":%.2f}\n",
                   sb->name, what, pass, sec / o->steps * 1e3, sec / wall, calls);
        else
            printf("%-22s %-9s %10.4f %6.1f%% %10.2f\n", what, pass, sec / o->steps * 1e3, 100.0 * sec / wall,
                   calls);
    }
    /* the GEMM jobs inside the matmul rows, by shape, in the order first run */
    tg_profile_gemm gr[PROF_MAX];
    int ng = tg_profile_gemm_rows(gr, PROF_MAX);
    if (ng > PROF_MAX) ng = PROF_MAX;
    if (!o->json && ng > 0)
        printf("GEMM jobs in the graph (M x N x K; in-graph GFLOP/s)\n%-46s %10s %10s %9s\n", "job", "ms/iter",
               "calls/iter", "GFLOP/s");
    for (int r = 0; r < ng; r++) {
        double gf = gr[r].seconds > 0 ? gr[r].flops * (double)gr[r].calls / gr[r].seconds * 1e-9 : 0.0;
        if (o->json)
            printf("{\"bench\":\"%s\",\"profile_gemm\":\"%s\",\"ms_per_iter\":%.6f,\"calls_per_iter\":%.2f,"
                   "\"gflops\":%.3f}\n",
                   sb->name, gr[r].shape, gr[r].seconds / o->steps * 1e3, (double)gr[r].calls / o->steps, gf);
        else
            printf("%-46s %10.4f %10.2f %9.1f\n", gr[r].shape, gr[r].seconds / o->steps * 1e3,
                   (double)gr[r].calls / o->steps, gf);
    }
    return 0;
}

static int run_steps(const bench_opts *o, const step_bench *sb, const char *extra_json, const char *extra_text)
{
    char err[512];
    const int warm = o->steps / 5 + 3;
    for (int i = 0; i < warm; i++)
        if (sb->step(sb->ctx, i, err, sizeof err)) {
            cli_err("%s %s: %s", CMD, sb->name, err);
            return CLI_FAIL;
        }
    double best = INFINITY;
    if (!o->json) {
        printf("%s  batch %d  threads %d  kernel %s  %s%.4f GFLOP of GEMM per iteration\n", sb->name, o->batch,
               o->threads, tg_kernel_name(), extra_text, sb->flops * 1e-9);
        printf("%-8s %6s %10s %12s %9s\n", "repeat", "steps", "ms/iter", "samples/s", "GFLOP/s");
    }
    for (int r = 0; r < o->repeats; r++) {
        double t0 = now_s();
        for (int i = 0; i < o->steps; i++)
            if (sb->step(sb->ctx, warm + r * o->steps + i, err, sizeof err)) {
                cli_err("%s %s: %s", CMD, sb->name, err);
                return CLI_FAIL;
            }
        double s = (now_s() - t0) / o->steps;
        if (s < best) best = s;
        if (o->json)
            printf("{\"bench\":\"%s\",%s\"batch\":%d,\"threads\":%d,\"repeat\":%d,\"steps\":%d,"
                   "\"ms_per_iter\":%.6f,\"samples_per_s\":%.2f,\"gflops\":%.3f}\n",
                   sb->name, extra_json, o->batch, o->threads, r + 1, o->steps, s * 1e3, o->batch / s,
                   sb->flops / s * 1e-9);
        else
            printf("%-8d %6d %10.4f %12.1f %9.1f\n", r + 1, o->steps, s * 1e3, o->batch / s, sb->flops / s * 1e-9);
        fflush(stdout);
    }
    long rss = peak_rss_kb();
    if (o->profile && profile_repeat(o, sb, warm + o->repeats * o->steps)) return CLI_FAIL;
    if (o->json)
        printf("{\"bench\":\"%s\",%s\"batch\":%d,\"threads\":%d,\"repeats\":%d,\"steps\":%d,\"kernel\":\"%s\","
               "\"gflop_per_iter\":%.6f,\"gflops\":%.3f,\"peak_rss_kb\":%ld,"
               "\"ms_per_iter\":%.6f,\"samples_per_s\":%.2f}\n",
               sb->name, extra_json, o->batch, o->threads, o->repeats, o->steps, tg_kernel_name(), sb->flops * 1e-9,
               sb->flops / best * 1e-9, rss, best * 1e3, o->batch / best);
    else
        printf("%-8s %6s %10.4f %12.1f %9.1f\npeak RSS %.1f MiB\n", "best", "", best * 1e3, o->batch / best,
               sb->flops / best * 1e-9, rss / 1024.0);
    return CLI_OK;
}

/* ------------------------------------------------------------- gan-step */
typedef struct gan_ctx { gan_run r; float *data; size_t xlen; } gan_ctx;

static int gan_one(void *ctx, int i, char *err, size_t len)
{
    gan_ctx *c = ctx;
    gan_stats st;
    /* a batch is copied into r.x, as the trainer copies each shuffled batch */
    memcpy(c->r.x, c->data + (size_t)(i % NDATA) * c->xlen, c->xlen * sizeof(float));
    return gan_step(&c->r, &st, err, len);
}

static int bench_gan(const bench_opts *o)
{
    gan_cfg cfg;
    if (gan_cfg_defaults(&cfg, o->model)) {
        cli_err("%s gan-step: unknown model '%s' (reference, documents)", CMD, o->model);
        return CLI_USAGE;
    }
    cfg.batch = o->batch;
    cfg.threads = o->threads;
    gan_ctx c;
    char err[512];
    int status = CLI_FAIL;
    c.xlen = (size_t)o->batch * cfg.spec.D.widths[0];
    c.data = malloc(NDATA * c.xlen * sizeof(float));
    if (gan_init(&c.r, &cfg, err, sizeof err) || !c.data) {
        cli_err("%s gan-step: %s", CMD, c.data ? err : "out of memory");
        goto done;
    }
    tg_rng rng;
    tg_rng_seed(&rng, 7, 0);
    tg_rng_fill_uniform(&rng, c.data, NDATA * c.xlen, -1.0f, 1.0f);
    step_bench sb = {"gan-step", &c, gan_one, gan_flops(&cfg)};
    char ej[64], et[64];
    snprintf(ej, sizeof ej, "\"model\":\"%s\",", o->model);
    snprintf(et, sizeof et, "model %s  ", o->model);
    status = run_steps(o, &sb, ej, et);
done:
    gan_free(&c.r);
    free(c.data);
    return status;
}

/* ------------------------------------------------------------- mlp-step */
typedef struct mlp_ctx {
    tg_plan *plan;
    tg_adam *adam;
    float *x, *data;       /* bound input; NDATA batches */
    int32_t *y, *labels;   /* bound labels; NDATA batches */
    size_t xlen;
    int B;
} mlp_ctx;

static int mlp_one(void *ctx, int i, char *err, size_t len)
{
    mlp_ctx *c = ctx;
    memcpy(c->x, c->data + (size_t)(i % NDATA) * c->xlen, c->xlen * sizeof(float));
    memcpy(c->y, c->labels + (size_t)(i % NDATA) * c->B, (size_t)c->B * sizeof(int32_t));
    tg_status s;
    if ((s = tg_plan_forward(c->plan)) != TG_OK || (s = tg_plan_backward(c->plan)) != TG_OK ||
        (s = tg_adam_step(c->adam)) != TG_OK) {
        snprintf(err, len, "%s", tg_status_str(s));
        return -1;
    }
    return 0;
}

static int bench_mlp(const bench_opts *o)
{
    tg_mlp_spec s = {.n_layers = 4, .widths = {784, 512, 256, 128, 10}, .hidden = TG_ACT_RELU,
                     .output = TG_ACT_NONE, .group = "C"};
    const int B = o->batch, C = s.widths[s.n_layers];
    mlp_ctx c = {0};
    c.B = B;
    c.xlen = (size_t)B * s.widths[0];
    tg_params *ps = tg_params_new();
    tg_graph *g = NULL;
    tg_pool *pool = tg_pool_new(o->threads, NULL);
    int status = CLI_FAIL;
    tg_rng rng;
    tg_rng_seed(&rng, 7, 0);
    c.x = malloc(c.xlen * sizeof(float));
    c.data = malloc(NDATA * c.xlen * sizeof(float));
    c.y = malloc((size_t)B * sizeof(int32_t));
    c.labels = malloc((size_t)NDATA * B * sizeof(int32_t));
    if (!ps || !pool || !c.x || !c.data || !c.y || !c.labels) {
        cli_err("%s mlp-step: out of memory", CMD);
        goto done;
    }
    if (tg_mlp_params(ps, &s, TG_INIT_PYTORCH, 0, &rng) != TG_OK || !(g = tg_graph_new(ps))) {
        cli_err("%s mlp-step: parameters: %s", CMD, tg_params_error(ps));
        goto done;
    }
    tg_rng_fill_uniform(&rng, c.data, NDATA * c.xlen, 0.0f, 1.0f);
    for (int i = 0; i < NDATA * B; i++) c.labels[i] = (int32_t)(tg_rng_u64(&rng) % (uint64_t)C);
    tg_node x = tg_input(g, "x", 2, (int[]){B, s.widths[0]});
    tg_node y = tg_input_labels(g, "y", B);
    tg_node loss = tg_softmax_xent(g, tg_mlp(g, &s, x), y);
    tg_bind(g, x, c.x);
    tg_bind(g, y, c.y);
    c.plan = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "C", .pool = pool});
    c.adam = tg_adam_new(ps, "C", 1e-3f, 0.9f, 0.999f, 1e-8f, NULL);
    if (!c.plan || !c.adam || tg_adam_set_pool(c.adam, pool) != TG_OK) {
        cli_err("%s mlp-step: %s", CMD, c.plan ? "adam" : tg_graph_error(g));
        goto done;
    }
    step_bench sb = {"mlp-step", &c, mlp_one, mlp_flops(&s, B)};
    status = run_steps(o, &sb, "\"model\":\"784-512-256-128-10\",", "model 784-512-256-128-10  ");
done:
    tg_adam_free(c.adam);
    tg_plan_free(c.plan);
    tg_graph_free(g);
    tg_pool_free(pool);
    tg_params_free(ps);
    free(c.x);
    free(c.data);
    free(c.y);
    free(c.labels);
    return status;
}

/* ----------------------------------------------------------------- gemm */
/* The three products of a Linear IN->OUT at batch B, as matmul.c issues them:
 *   fwd  NN  y(B,OUT)   = x(B,IN) W(IN,OUT)          M=B  N=OUT K=IN
 *   dW   TN  dW(IN,OUT) = x^T dy, x stored (B,IN)     M=IN N=OUT K=B
 *   dx   NT  dx(B,IN)   = dy(B,OUT) W^T, W (IN,OUT)   M=B  N=IN  K=OUT
 * G's first layer has no dx (z needs no gradient), so it is left out. */
static const char *const kind_name[3] = {"fwd", "dW", "dx"};
static const char *const kind_trans[3] = {"NN", "TN", "NT"};

static tg_gemm_desc gemm_shape(int kind, int B, int IN, int OUT, const float *x, const float *w, const float *dy,
                               float *out)
{
    if (kind == 0) return TG_GEMM(B, OUT, IN, x, IN, 0, w, OUT, 0, out, OUT, 0);
    if (kind == 1) return TG_GEMM(IN, OUT, B, x, IN, 1, dy, OUT, 0, out, OUT, 0);
    return TG_GEMM(B, IN, OUT, dy, OUT, 0, w, OUT, 1, out, IN, 0);
}

static int bench_gemm(const bench_opts *o)
{
    tg_gan_mlp s;
    tg_gan_mlp_preset("reference", &s, NULL);
    const tg_kern *k = tg_kern_best();
    tg_pool *pool = o->threads > 1 ? tg_pool_new(o->threads, NULL) : NULL;
    const int B = o->batch, maxw = 1024;
    float *x = tg_zalloc((size_t)B * maxw * 4), *w = tg_zalloc((size_t)maxw * maxw * 4);
    float *dy = tg_zalloc((size_t)B * maxw * 4), *out = tg_zalloc((size_t)(B > maxw ? B : maxw) * maxw * 4);
    float *ws[64] = {0};
    int status = CLI_FAIL;
    if ((o->threads > 1 && !pool) || !x || !w || !dy || !out) {
        cli_err("%s gemm: out of memory", CMD);
        goto done;
    }
    tg_rng rng;
    tg_rng_seed(&rng, 7, 0);
    tg_rng_fill_uniform(&rng, x, (size_t)B * maxw, -1, 1);
    tg_rng_fill_uniform(&rng, w, (size_t)maxw * maxw, -0.1f, 0.1f);
    tg_rng_fill_uniform(&rng, dy, (size_t)B * maxw, -1, 1);
    if (!o->json) {
        printf("gemm  batch %d  threads %d  kernel %s (nr %d), best of %d x %d calls\n", B, o->threads, k->name, k->nr,
               o->repeats, o->steps);
        printf("%-12s %-4s %5s %5s %5s %10s %9s\n", "shape", "op", "M", "N", "K", "us/call", "GFLOP/s");
    }
    const tg_mlp_spec *nets[2] = {&s.G, &s.D};
    for (int ni = 0; ni < 2; ni++) {
        const tg_mlp_spec *net = nets[ni];
        for (int l = 0; l < net->n_layers; l++)
            for (int kind = 0; kind < 3; kind++) {
                if (ni == 0 && l == 0 && kind == 2) continue;
                const int IN = net->widths[l], OUT = net->widths[l + 1];
                tg_gemm_desc d = gemm_shape(kind, B, IN, OUT, x, w, dy, out);
                size_t wsf = tg_exec_gemm_ws(k, &d);
                for (int t = 0; t < o->threads; t++) {
                    tg_free(ws[t]);
                    ws[t] = tg_zalloc((wsf ? wsf : 1) * sizeof(float));
                    if (!ws[t]) {
                        cli_err("%s gemm: out of memory", CMD);
                        goto done;
                    }
                }
                tg_exec ex = {k, pool, o->threads, ws, wsf};
                for (int i = 0; i < o->steps / 5 + 3; i++) tg_exec_gemm(&ex, &d);
                double best = INFINITY;
                for (int r = 0; r < o->repeats; r++) {
                    double t0 = now_s();
                    for (int i = 0; i < o->steps; i++) tg_exec_gemm(&ex, &d);
                    double t = (now_s() - t0) / o->steps;
                    if (t < best) best = t;
                }
                const double fl = 2.0 * d.M * d.N * d.K;
                char name[96];
                snprintf(name, sizeof name, "%s.l%d.%s", net->group, l, kind_name[kind]);
                if (o->json)
                    printf("{\"bench\":\"gemm\",\"shape\":\"%s\",\"trans\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,"
                           "\"batch\":%d,\"threads\":%d,\"kernel\":\"%s\",\"us_per_call\":%.4f,\"gflops\":%.3f}\n",
                           name, kind_trans[kind], d.M, d.N, d.K, B, o->threads, k->name, best * 1e6, fl / best * 1e-9);
                else
                    printf("%-12s %-4s %5d %5d %5d %10.3f %9.1f\n", name, kind_trans[kind], d.M, d.N, d.K, best * 1e6,
                           fl / best * 1e-9);
                fflush(stdout);
            }
    }
    status = CLI_OK;
done:
    for (int t = 0; t < 64; t++) tg_free(ws[t]);
    tg_free(x);
    tg_free(w);
    tg_free(dy);
    tg_free(out);
    tg_pool_free(pool);
    return status;
}

/* ------------------------------------------------------------------ ops */
enum { OP_ACT_FWD, OP_ACT_BWD, OP_BIAS_ACT, OP_BCE_SUM, OP_BCE_BWD, OP_ADAM, OP_ADAM_STEP, OP_DROPOUT };

typedef struct op_row { const char *name; int op; tg_act act; } op_row;

typedef struct ops_ctx {
    const tg_kern *k;
    float *a, *b, *c, *d, *bias; /* n elements each (bias: N) */
    size_t n;
    int B, N;
    volatile double sink;
    tg_plan *drop;               /* x -> dropout(0.3), forward-only training plan */
    tg_adam *adam;               /* Adam over the reference GAN's parameters */
    tg_params *ps;
    float **pw, **pg, **pm, **pv;  /* per GAN parameter: value, grad, moments */
    size_t *pn;
    int np;
} ops_ctx;

static void op_once(ops_ctx *c, const op_row *r)
{
    const tg_kern *k = c->k;
    switch (r->op) {
    case OP_ACT_FWD: k->act_fwd(r->act, 0.2f, c->a, c->b, c->n); break;
    case OP_ACT_BWD: k->act_bwd(r->act, 0.2f, c->a, c->b, c->c, c->d, c->n, 1); break;
    case OP_BIAS_ACT: k->bias_act(c->a, c->bias, r->act, 0.2f, c->b, c->B, c->N); break;
    case OP_BCE_SUM: c->sink = k->bce_sum(c->a, NULL, 0.9f, c->n); break;
    case OP_BCE_BWD: k->bce_bwd(c->a, NULL, 0.9f, 1.0f / (float)c->n, c->d, NULL, c->n); break;
    case OP_ADAM:
        for (int i = 0; i < c->np; i++)
            k->adam(c->pw[i], c->pg[i], c->pm[i], c->pv[i], c->pn[i], 2e-4f, 0.5f, 0.999f, 1e-8f, 0.5f, 0.001f);
        break;
    case OP_ADAM_STEP: tg_adam_step(c->adam); break;
    case OP_DROPOUT: tg_plan_forward(c->drop); break;
    }
}

static int bench_ops(const bench_opts *o)
{
    static const op_row rows[] = {
        {"act_fwd", OP_ACT_FWD, TG_ACT_LEAKY_RELU},   {"act_bwd", OP_ACT_BWD, TG_ACT_LEAKY_RELU},
        {"act_fwd", OP_ACT_FWD, TG_ACT_TANH},    {"act_bwd", OP_ACT_BWD, TG_ACT_TANH},
        {"act_fwd", OP_ACT_FWD, TG_ACT_SIGMOID}, {"act_bwd", OP_ACT_BWD, TG_ACT_SIGMOID},
        {"bias_act", OP_BIAS_ACT, TG_ACT_LEAKY_RELU}, {"bias_act", OP_BIAS_ACT, TG_ACT_TANH},
        {"bce_sum", OP_BCE_SUM, TG_ACT_NONE},    {"bce_bwd", OP_BCE_BWD, TG_ACT_NONE},
        {"adam", OP_ADAM, TG_ACT_NONE},          {"adam_step", OP_ADAM_STEP, TG_ACT_NONE},
        {"dropout", OP_DROPOUT, TG_ACT_NONE},
    };
    ops_ctx c = {0};
    c.k = tg_kern_best();
    c.B = o->batch;
    c.N = 784;
    c.n = (size_t)c.B * c.N;
    tg_pool *pool = tg_pool_new(o->threads, NULL);
    tg_graph *g = NULL;
    int status = CLI_FAIL;
    float **bufs[5] = {&c.a, &c.b, &c.c, &c.d, &c.bias};
    for (int i = 0; i < 5; i++) *bufs[i] = tg_zalloc(c.n * sizeof(float));
    tg_rng rng;
    tg_rng_seed(&rng, 7, 0);
    tg_gan_spec spec;
    tg_gan_preset("reference", &spec, NULL);
    c.ps = tg_params_new();
    if (!pool || !c.a || !c.b || !c.c || !c.d || !c.bias || !c.ps || tg_gan_params(c.ps, &spec, &rng, NULL) != TG_OK) {
        cli_err("%s ops: out of memory", CMD);
        goto done;
    }
    tg_rng_fill_uniform(&rng, c.a, c.n, -3, 3);
    c.k->act_fwd(TG_ACT_TANH, 0, c.a, c.b, c.n);
    tg_rng_fill_uniform(&rng, c.c, c.n, -1, 1);
    tg_rng_fill_uniform(&rng, c.bias, (size_t)c.N, -1, 1);
    /* Adam: every GAN parameter with its own moments, gradients random */
    c.np = tg_params_count(c.ps);
    c.pw = calloc((size_t)c.np, sizeof *c.pw);
    c.pg = calloc((size_t)c.np, sizeof *c.pg);
    c.pm = calloc((size_t)c.np, sizeof *c.pm);
    c.pv = calloc((size_t)c.np, sizeof *c.pv);
    c.pn = calloc((size_t)c.np, sizeof *c.pn);
    if (!c.pw || !c.pg || !c.pm || !c.pv || !c.pn) {
        cli_err("%s ops: out of memory", CMD);
        goto done;
    }
    for (int i = 0; i < c.np; i++) {
        tg_param *p = tg_params_at(c.ps, i);
        c.pn[i] = tg_param_numel(p);
        c.pw[i] = tg_param_data(p);
        c.pg[i] = tg_param_grad(p);
        tg_rng_fill_uniform(&rng, c.pg[i], c.pn[i], -1e-2f, 1e-2f);
        c.pm[i] = tg_zalloc(c.pn[i] * sizeof(float));
        c.pv[i] = tg_zalloc(c.pn[i] * sizeof(float));
        if (!c.pm[i] || !c.pv[i]) {
            cli_err("%s ops: out of memory", CMD);
            goto done;
        }
    }
    const size_t nparams = tg_params_numel(c.ps, NULL);
    /* tg_adam on one group holding every parameter would need a store of its
     * own; two optimizers (G, D) are what training steps, so time G + D */
    tg_adam *ad = tg_adam_new(c.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    c.adam = tg_adam_new(c.ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    g = tg_graph_new(NULL);
    if (!ad || !c.adam || !g || tg_adam_set_pool(ad, pool) != TG_OK || tg_adam_set_pool(c.adam, pool) != TG_OK) {
        tg_adam_free(ad);
        cli_err("%s ops: out of memory", CMD);
        goto done;
    }
    tg_node dx = tg_input(g, "x", 2, (int[]){c.B, c.N});
    tg_node dyn = tg_dropout(g, dx, 0.3f);
    tg_bind(g, dx, c.c);
    c.drop = tg_plan_new(g, dyn, &(tg_plan_opts){.forward_only = 1, .pool = pool});
    if (!c.drop) {
        tg_adam_free(ad);
        cli_err("%s ops: %s", CMD, tg_graph_error(g));
        goto done;
    }
    if (!o->json) {
        printf("ops  kernel %s  (B %d x N %d = %zu elements; adam: %zu parameters)\n", c.k->name, c.B, c.N, c.n,
               nparams);
        printf("%-10s %-11s %8s %8s %9s\n", "op", "act", "elements", "threads", "ns/elem");
    }
    for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++) {
        const op_row *r = &rows[ri];
        int adam_row = r->op == OP_ADAM || r->op == OP_ADAM_STEP;
        size_t n = adam_row ? nparams : c.n;
        int thr = r->op == OP_ADAM_STEP || r->op == OP_DROPOUT ? o->threads : 1;
        long calls = o->steps_set ? o->steps : (long)(OPS_ELEMS / n) + 1;
        double best = INFINITY;
        for (int i = 0; i < 3; i++) {
            op_once(&c, r);
            if (r->op == OP_ADAM_STEP) tg_adam_step(ad);
        }
        for (int rep = 0; rep < o->repeats; rep++) {
            double t0 = now_s();
            for (long i = 0; i < calls; i++) {
                op_once(&c, r);
                if (r->op == OP_ADAM_STEP) tg_adam_step(ad);
            }
            double t = (now_s() - t0) / calls;
            if (t < best) best = t;
        }
        const char *an = r->op <= OP_BIAS_ACT ? tg_act_name(r->act) : "-";
        if (o->json)
            printf("{\"bench\":\"ops\",\"op\":\"%s\",\"act\":\"%s\",\"n\":%zu,\"threads\":%d,\"kernel\":\"%s\","
                   "\"ns_per_elem\":%.5f}\n",
                   r->name, an, n, thr, c.k->name, best / (double)n * 1e9);
        else
            printf("%-10s %-11s %8zu %8d %9.4f\n", r->name, an, n, thr, best / (double)n * 1e9);
        fflush(stdout);
    }
    tg_adam_free(ad);
    status = CLI_OK;
done:
    tg_plan_free(c.drop);
    tg_graph_free(g);
    tg_adam_free(c.adam);
    for (int i = 0; i < 5; i++) tg_free(*bufs[i]);
    for (int i = 0; c.pm && c.pv && i < c.np; i++) {
        tg_free(c.pm[i]);
        tg_free(c.pv[i]);
    }
    free(c.pw);
    free(c.pg);
    free(c.pm);
    free(c.pv);
    free(c.pn);
    tg_params_free(c.ps);
    tg_pool_free(pool);
    return status;
}

/* ----------------------------------------------------------------- main */
/* ----------------------------------------------------------------- peak */
typedef struct peak_job { const tg_kern *k; long n; double flops[64]; float sink[64]; } peak_job;

static void peak_task(void *ctx, int task, int thread)
{
    peak_job *j = ctx;
    (void)thread;
    j->flops[task] = j->k->fma_peak(j->n, &j->sink[task]);
}

/* The FMA rate the engine's kernel variant can reach: T threads each run
 * 12 independent FMA chains; GFLOP/s = all threads' FLOPs / wall time.
 * The machine's real ceiling for GEMM-bound work, measured rather than
 * taken from a data sheet (a VM may not give what the CPU model promises). */
static int bench_peak(const bench_opts *o)
{
    const tg_kern *k = tg_kern_current();
    const long n = o->steps_set ? o->steps : 20000000L;
    if (!o->json)
        printf("peak  kernel %s  12 FMA chains per thread, %ld rounds, best of %d\n%-8s %10s %12s\n",
               tg_kernel_name(), n, o->repeats, "threads", "GFLOP/s", "per thread");
    for (int t = 1; t <= o->threads; t++) {
        tg_pool *pool = t > 1 ? tg_pool_new(t, NULL) : NULL;
        if (t > 1 && !pool) {
            cli_err("%s peak: cannot start %d threads", CMD, t);
            return CLI_FAIL;
        }
        peak_job j = {.k = k, .n = n};
        double best = 0;
        for (int r = 0; r < o->repeats + 1; r++) { /* the first run warms up */
            double t0 = now_s();
            tg_pool_run(pool, peak_task, &j, t);
            double s = now_s() - t0, f = 0;
            for (int q = 0; q < t; q++) f += j.flops[q];
            if (r > 0 && f / s > best) best = f / s;
        }
        tg_pool_free(pool);
        if (o->json)
            printf("{\"bench\":\"peak\",\"kernel\":\"%s\",\"threads\":%d,\"gflops\":%.3f,"
                   "\"gflops_per_thread\":%.3f}\n", tg_kernel_name(), t, best * 1e-9, best * 1e-9 / t);
        else
            printf("%-8d %10.1f %12.1f\n", t, best * 1e-9, best * 1e-9 / t);
    }
    return CLI_OK;
}

int cmd_bench_parse(int argc, char **argv, bench_opts *o)
{
    const char *v;
    *o = (bench_opts){.batch = 64, .threads = 2, .steps = 0, .repeats = 5, .model = "reference"};
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            cmd_bench_help(stdout);
            return -1;
        }
        if ((r = cli_opt(CMD, argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--batch", v, 1, 65536, &o->batch)) return CLI_USAGE;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--threads", v, 1, 64, &o->threads)) return CLI_USAGE;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--steps", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--steps", v, 1, 100000000, &o->steps)) return CLI_USAGE;
            o->steps_set = 1;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--repeats", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--repeats", v, 1, 10000, &o->repeats)) return CLI_USAGE;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            if (strcmp(v, "reference") && strcmp(v, "documents")) {
                cli_err("%s: --model: '%s' is not a GAN preset (reference, documents)", CMD, v);
                return CLI_USAGE;
            }
            o->model = v;
        } else if (!strcmp(argv[i], "--json")) {
            o->json = 1;
        } else if (!strcmp(argv[i], "--profile")) {
            o->profile = 1;
        } else if (argv[i][0] != '-' && !o->what) {
            o->what = argv[i];
        } else {
            return cli_bad_arg(CMD, argv[i]);
        }
    }
    if (!o->what) {
        cli_err("%s: which benchmark? gan-step, mlp-step, gemm, ops, peak or conv (see 'tapegrad bench --help')", CMD);
        return CLI_USAGE;
    }
    /* the default number of steps of each benchmark (ops and peak size their own) */
    static const struct {
        const char *name;
        int steps;
    } benches[] = {{"gan-step", 100}, {"mlp-step", 200}, {"gemm", 300}, {"ops", 0}, {"peak", 0}, {"conv", 50}};
    for (size_t k = 0; k < sizeof benches / sizeof benches[0]; k++)
        if (!strcmp(o->what, benches[k].name)) {
            if (!o->steps_set) o->steps = benches[k].steps;
            return 0;
        }
    cli_err("%s: unknown benchmark '%s' (gan-step, mlp-step, gemm, ops, peak, conv)", CMD, o->what);
    return CLI_USAGE;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = cmd_bench_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *what = o.what;
    if (!strcmp(what, "gan-step")) return bench_gan(&o);
    if (!strcmp(what, "mlp-step")) return bench_mlp(&o);
    if (!strcmp(what, "gemm")) return bench_gemm(&o);
    if (!strcmp(what, "ops")) return bench_ops(&o);
    if (!strcmp(what, "conv"))
        return bench_conv_run(&(bench_conv_opts){o.batch, o.threads, o.steps, o.repeats, o.json});
    return bench_peak(&o);
}
