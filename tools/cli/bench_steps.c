/* bench_steps.c - `tapegrad bench gan-step | mlp-step`: whole training
 * steps, timed as the best of --repeats repeats of --steps steps after a
 * warm-up, with the GEMM FLOPs they do, and an optional profiled repeat. */
#include "bench.h"

#include "cli.h"
#include "gan_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CMD "bench"

/* ------------------------------------------------------------------ util */
double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

long bench_peak_rss_kb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) ? -1 : u.ru_maxrss; /* KiB on Linux */
}

/* multiply-accumulates per sample of the layers with weights k0, k0 + 1,
 * ... of a layer list (numbered from 0; batch_norm counts as a layer with
 * weights but does no product): dense IN OUT; conv Cout OH OW Cin kh kw;
 * conv_t Cin H W Cout kh kw (each input pixel scatters a window) */
static double macs_from(const tg_seq_spec *s, int k0)
{
    double m = 0;
    for (int i = 0, k = 0; i < s->n; i++) {
        const tg_layer *l = &s->l[i];
        if (l->kind != TG_LAYER_DENSE && l->kind != TG_LAYER_CONV && l->kind != TG_LAYER_CONV_T &&
            l->kind != TG_LAYER_BATCH_NORM)
            continue;
        int nd, in[3], out[3];
        if (k++ < k0 || l->kind == TG_LAYER_BATCH_NORM || tg_seq_shape(s, i - 1, &nd, in, NULL) != TG_OK ||
            tg_seq_shape(s, i, &nd, out, NULL) != TG_OK)
            continue;
        const double win = (double)l->kernel[0] * l->kernel[1];
        if (l->kind == TG_LAYER_DENSE) m += (double)in[0] * l->units;
        else if (l->kind == TG_LAYER_CONV) m += (double)out[0] * out[1] * out[2] * in[0] * win;
        else m += (double)in[0] * in[1] * in[2] * out[0] * win;
    }
    return m;
}

/* the same for an MLP */
static double mlp_macs_from(const tg_mlp_spec *s, int k0)
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
 * where F(net, from k) = 2 B (the multiply-adds of layers k.. per sample,
 * macs_from). Reference GAN, B = 64:
 * 0.697 GFLOP. PyTorch's standard idiom also computes D's weight gradients in
 * the G step (D's parameters require grad), +F(D): 0.769 GFLOP, PyTorch's count.
 * dcgan at B = 64: 9.027 GFLOP (its layer k of G's
 * "from 1" is the first conv_t: batch_norm is numbered but does no product). */
static double gan_flops(const gan_cfg *c)
{
    const tg_seq_spec *G = &c->spec.G, *D = &c->spec.D;
    double fg = macs_from(G, 0), fd = macs_from(D, 0);
    double dstep = fg + 2 * fd + 2 * fd + 2 * macs_from(D, 1);
    double gstep = fd + fd + fg + macs_from(G, 1) + (c->fresh_z ? fg : 0);
    return 2.0 * c->batch * (dstep + gstep);
}

/* classifier step: forward, weight gradients of every layer, input gradients
 * of layers 1.. (x needs none): 2.6 MFLOP per sample for 784-512-256-128-10 */
static double mlp_flops(const tg_mlp_spec *s, int B)
{
    return 2.0 * B * (2 * mlp_macs_from(s, 0) + mlp_macs_from(s, 1));
}

/* ------------------------------------------------------- timed reporting */
/* Data parallel (several processes): what the gradient averagers and the
 * per-iteration status check have done so far, summed over the D and G
 * steps; run_steps takes differences over each timed repeat. */
typedef struct dist_count {
    double wait_s;  /* inside the averagers' waits (dp_avg_stats) */
    double check_s; /* inside the status check's all-reduce (dp_agree_seconds) */
    long early;     /* buckets started from backward's hook */
} dist_count;

typedef struct step_bench {
    const char *name;
    void *ctx;
    tg_status (*step)(void *ctx, int i, tg_error *err); /* one iteration */
    double flops;                                          /* GEMM FLOPs per iteration (all ranks) */
    /* data parallel: ranks > 1 adds the columns below; quiet on ranks other
     * than 0, which run every step but print only errors */
    int ranks, rows, quiet, overlap;
    int buckets;   /* all-reduces per iteration, D + G */
    size_t bytes;  /* gradient bytes handed to all-reduce per iteration, D + G */
    void (*dist)(void *ctx, dist_count *k);
} step_bench;

/* One more repeat of S steps with the engine's profiler on: a row per op
 * and pass, ms per iteration and share of the repeat's wall time; the time
 * outside every node and optimizer step (the caller's own work: copying
 * batches, drawing noise, reading losses) is the "outside" row. */
#define PROF_MAX 64
static int profile_repeat(const bench_opts *o, const step_bench *sb, int i0)
{
    tg_error err;
    tg_profile_row rows[PROF_MAX];
    tg_profile_reset();
    tg_profile_enable(1);
    double t0 = bench_now();
    for (int i = 0; i < o->steps; i++)
        if (sb->step(sb->ctx, i0 + i, &err) != TG_OK) {
            tg_profile_enable(0);
            cli_err("%s %s: %s", CMD, sb->name, err.msg);
            return -1;
        }
    double wall = bench_now() - t0;
    tg_profile_enable(0);
    if (sb->quiet) return 0;
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

static void dist_now(const step_bench *sb, dist_count *k)
{
    *k = (dist_count){0, 0, 0};
    if (sb->ranks > 1) sb->dist(sb->ctx, k);
}

static int run_steps(const bench_opts *o, const step_bench *sb, const char *extra_json, const char *extra_text)
{
    tg_error err;
    const int warm = o->steps / 5 + 3, dist = sb->ranks > 1, say = !sb->quiet;
    for (int i = 0; i < warm; i++)
        if (sb->step(sb->ctx, i, &err) != TG_OK) {
            cli_err("%s %s: %s", CMD, sb->name, err.msg);
            return CLI_FAIL;
        }
    /* data parallel: the fixed fields, and per repeat the averagers' wait and
     * the status check, per iteration */
    char dj[256] = "", dt[192] = "";
    if (dist) {
        snprintf(dj, sizeof dj,
                 "\"ranks\":%d,\"rows_per_rank\":%d,\"overlap\":\"%s\",\"allreduce_bytes_per_iter\":%zu,"
                 "\"buckets_per_iter\":%d,",
                 sb->ranks, sb->rows, sb->overlap ? "on" : "off", sb->bytes, sb->buckets);
        snprintf(dt, sizeof dt, "ranks %d x %d rows  overlap %s  all-reduce %zu bytes in %d buckets per iteration\n",
                 sb->ranks, sb->rows, sb->overlap ? "on" : "off", sb->bytes, sb->buckets);
    }
    double best = INFINITY, best_wait = 0, best_check = 0;
    dist_count k0, k1, kfirst;
    dist_now(sb, &kfirst);
    if (!o->json && say) {
        printf("%s  batch %d  threads %d  kernel %s  %s%.4f GFLOP of GEMM per iteration\n%s", sb->name, o->batch,
               o->threads, tg_kernel_name(), extra_text, sb->flops * 1e-9, dt);
        printf("%-8s %6s %10s %12s %9s", "repeat", "steps", "ms/iter", "samples/s", "GFLOP/s");
        if (dist) printf(" %9s %9s", "wait ms", "check ms");
        printf("\n");
    }
    for (int r = 0; r < o->repeats; r++) {
        dist_now(sb, &k0);
        double t0 = bench_now();
        for (int i = 0; i < o->steps; i++)
            if (sb->step(sb->ctx, warm + r * o->steps + i, &err) != TG_OK) {
                cli_err("%s %s: %s", CMD, sb->name, err.msg);
                return CLI_FAIL;
            }
        double s = (bench_now() - t0) / o->steps;
        dist_now(sb, &k1);
        const double wait = (k1.wait_s - k0.wait_s) / o->steps, check = (k1.check_s - k0.check_s) / o->steps;
        if (s < best) {
            best = s;
            best_wait = wait;
            best_check = check;
        }
        if (!say) continue;
        char rj[128] = "";
        if (dist)
            snprintf(rj, sizeof rj, ",\"allreduce_wait_ms_per_iter\":%.6f,\"status_check_ms_per_iter\":%.6f",
                     wait * 1e3, check * 1e3);
        if (o->json)
            printf("{\"bench\":\"%s\",%s%s\"batch\":%d,\"threads\":%d,\"repeat\":%d,\"steps\":%d,"
                   "\"ms_per_iter\":%.6f,\"samples_per_s\":%.2f,\"gflops\":%.3f%s}\n",
                   sb->name, extra_json, dj, o->batch, o->threads, r + 1, o->steps, s * 1e3, o->batch / s,
                   sb->flops / s * 1e-9, rj);
        else {
            printf("%-8d %6d %10.4f %12.1f %9.1f", r + 1, o->steps, s * 1e3, o->batch / s, sb->flops / s * 1e-9);
            if (dist) printf(" %9.4f %9.4f", wait * 1e3, check * 1e3);
            printf("\n");
        }
        fflush(stdout);
    }
    dist_now(sb, &k1);
    const double early = (double)(k1.early - kfirst.early) / ((double)o->repeats * o->steps);
    long rss = bench_peak_rss_kb();
    if (o->profile && profile_repeat(o, sb, warm + o->repeats * o->steps)) return CLI_FAIL;
    if (!say) return CLI_OK;
    char sj[192] = "";
    if (dist)
        snprintf(sj, sizeof sj,
                 ",\"early_buckets_per_iter\":%.3f,\"allreduce_wait_ms_per_iter\":%.6f,"
                 "\"status_check_ms_per_iter\":%.6f",
                 early, best_wait * 1e3, best_check * 1e3);
    if (o->json)
        printf("{\"bench\":\"%s\",%s%s\"batch\":%d,\"threads\":%d,\"repeats\":%d,\"steps\":%d,\"kernel\":\"%s\","
               "\"gflop_per_iter\":%.6f,\"gflops\":%.3f,\"peak_rss_kb\":%ld,"
               "\"ms_per_iter\":%.6f,\"samples_per_s\":%.2f%s}\n",
               sb->name, extra_json, dj, o->batch, o->threads, o->repeats, o->steps, tg_kernel_name(),
               sb->flops * 1e-9, sb->flops / best * 1e-9, rss, best * 1e3, o->batch / best, sj);
    else {
        printf("%-8s %6s %10.4f %12.1f %9.1f", "best", "", best * 1e3, o->batch / best, sb->flops / best * 1e-9);
        if (dist) printf(" %9.4f %9.4f", best_wait * 1e3, best_check * 1e3);
        printf("\npeak RSS %.1f MiB%s\n", rss / 1024.0, dist ? " (rank 0)" : "");
        if (dist)
            printf("buckets started during backward: %.2f of %d per iteration; wait: ms per iteration inside the "
                   "gradient averagers' waits (not hidden by backward); check: the per-iteration status "
                   "all-reduce\n",
                   early, sb->buckets);
    }
    return CLI_OK;
}

/* ------------------------------------------------------------- gan-step */
typedef struct gan_ctx { gan_run r; float *data; size_t xlen; } gan_ctx;

static tg_status gan_one(void *ctx, int i, tg_error *err)
{
    gan_ctx *c = ctx;
    gan_stats st;
    /* a batch is copied into r.x, as the trainer copies each shuffled batch */
    memcpy(c->r.x, c->data + (size_t)(i % BENCH_NDATA) * c->xlen, c->xlen * sizeof(float));
    return gan_step(&c->r, &st, err);
}

static void gan_dist(void *ctx, dist_count *k)
{
    gan_ctx *c = ctx;
    dp_stats d, g;
    dp_avg_stats(c->r.avg_d, &d);
    dp_avg_stats(c->r.avg_g, &g);
    k->wait_s = d.wait_seconds + g.wait_seconds;
    k->early = d.early_buckets + g.early_buckets;
    k->check_s = dp_agree_seconds(c->r.dp, NULL);
}

/* Under mpirun with several processes, data parallel as train-gan runs it
 * (gan_init_dp, gan_dp_start: the batch split, dropout rows, synchronized
 * batch_norm, gradient averaging): --batch is the global batch, rank 0
 * alone prints. */
int bench_gan(const bench_opts *o)
{
    gan_cfg cfg;
    gan_ctx c;
    tg_error err, e;
    const char *model = bench_models[o->model];
    memset(&c, 0, sizeof c);
    if (gan_cfg_defaults(&cfg, model, &err) != TG_OK) {
        cli_err("%s gan-step: %s", CMD, err.msg);
        return CLI_USAGE;
    }
    dp *d;
    if (dp_join(&d, &err) != TG_OK) {
        cli_err("%s gan-step: %s", CMD, err.msg);
        return CLI_FAIL;
    }
    const int rank = dp_rank(d), size = dp_size(d);
    cli_set_rank(rank);
    if (o->batch % size) {
        cli_err("%s gan-step: --batch %d is the global batch, split evenly over the %d processes, and %d does not "
                "divide by %d: give a multiple of %d", CMD, o->batch, size, o->batch, size, size);
        dp_free(d);
        return CLI_USAGE;
    }
    cfg.batch = o->batch;
    cfg.threads = o->threads;
    int status = CLI_FAIL;
    c.xlen = (size_t)(o->batch / size) * cfg.spec.D.in_features; /* this rank's rows */
    c.data = malloc(BENCH_NDATA * c.xlen * sizeof(float));
    tg_status st = c.data ? gan_init_dp(&c.r, &cfg, d, &err) : tg_error_set(&err, TG_ERR_NOMEM, "out of memory");
    /* every rank built its run (else all stop, naming the rank), then the collective start */
    if (st != TG_OK) cli_err("%s gan-step: %s", CMD, err.msg);
    if (dp_agree(d, st, &err, NULL, 0, &e) != TG_OK) {
        if (st == TG_OK) cli_err("%s gan-step: %s", CMD, e.msg);
        goto done;
    }
    c.r.no_overlap = o->overlap == 1;
    if (gan_dp_start(&c.r, &err) != TG_OK) {
        cli_err("%s gan-step: %s", CMD, err.msg);
        goto done;
    }
    tg_rng rng;
    tg_rng_seed(&rng, 7, (uint64_t)rank);
    tg_rng_fill_uniform(&rng, c.data, BENCH_NDATA * c.xlen, -1.0f, 1.0f);
    step_bench sb = {.name = "gan-step", .ctx = &c, .step = gan_one, .flops = gan_flops(&cfg)};
    if (size > 1) {
        dp_stats sd, sg;
        dp_avg_stats(c.r.avg_d, &sd);
        dp_avg_stats(c.r.avg_g, &sg);
        sb.ranks = size;
        sb.rows = c.r.rows;
        sb.quiet = rank != 0;
        sb.overlap = !c.r.no_overlap;
        sb.buckets = sd.buckets + sg.buckets;
        sb.bytes = sd.bytes_per_step + sg.bytes_per_step;
        sb.dist = gan_dist;
    }
    char ej[64], et[64];
    snprintf(ej, sizeof ej, "\"model\":\"%s\",", model);
    snprintf(et, sizeof et, "model %s  ", model);
    status = run_steps(o, &sb, ej, et);
done:
    gan_free(&c.r);
    free(c.data);
    dp_free(d);
    return status;
}

/* ------------------------------------------------------------- mlp-step */
typedef struct mlp_ctx {
    tg_plan *plan;
    tg_adam *adam;
    float *x, *data;       /* bound input; BENCH_NDATA batches */
    int32_t *y, *labels;   /* bound labels; BENCH_NDATA batches */
    size_t xlen;
    int B;
} mlp_ctx;

static tg_status mlp_one(void *ctx, int i, tg_error *err)
{
    mlp_ctx *c = ctx;
    memcpy(c->x, c->data + (size_t)(i % BENCH_NDATA) * c->xlen, c->xlen * sizeof(float));
    memcpy(c->y, c->labels + (size_t)(i % BENCH_NDATA) * c->B, (size_t)c->B * sizeof(int32_t));
    tg_status s;
    if ((s = tg_plan_forward(c->plan)) != TG_OK || (s = tg_plan_backward(c->plan)) != TG_OK ||
        (s = tg_adam_step(c->adam)) != TG_OK)
        return tg_error_set(err, s, "%s", tg_status_str(s));
    return TG_OK;
}

int bench_mlp(const bench_opts *o)
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
    c.data = malloc(BENCH_NDATA * c.xlen * sizeof(float));
    c.y = malloc((size_t)B * sizeof(int32_t));
    c.labels = malloc((size_t)BENCH_NDATA * B * sizeof(int32_t));
    if (!ps || !pool || !c.x || !c.data || !c.y || !c.labels) {
        cli_err("%s mlp-step: out of memory", CMD);
        goto done;
    }
    if (tg_mlp_params(ps, &s, TG_INIT_PYTORCH, 0, &rng) != TG_OK || !(g = tg_graph_new(ps))) {
        cli_err("%s mlp-step: parameters: %s", CMD, tg_params_error(ps));
        goto done;
    }
    tg_rng_fill_uniform(&rng, c.data, BENCH_NDATA * c.xlen, 0.0f, 1.0f);
    for (int i = 0; i < BENCH_NDATA * B; i++) c.labels[i] = (int32_t)(tg_rng_u64(&rng) % (uint64_t)C);
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
    step_bench sb = {.name = "mlp-step", .ctx = &c, .step = mlp_one, .flops = mlp_flops(&s, B)};
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

