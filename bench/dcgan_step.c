/* dcgan_step.c - one DCGAN training iteration on MNIST-shaped data, timed.
 *
 * The `dcgan` design (the layers of the dcgan preset in models/, which `tapegrad
 * bench gan-step --model dcgan` runs through the training code):
 *   G: in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7,
 *      conv_t 64 4 s2 p1 nobias, batch_norm, relu, conv_t 1 4 s2 p1, tanh
 *   D: in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, conv 128 5 s2,
 *      leaky_relu 0.2, flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1
 * DCGAN init (weights N(0, 0.02), batch_norm gamma N(1, 0.02)), Adam 2e-4
 * (0.5, 0.999), BCE with logits, real label 0.9. One iteration: a batch of
 * random data in [-1, 1] copied into the bound input (8 batches cycled, as
 * `tapegrad bench gan-step` does), z ~ N(0, I); D step on real and detached
 * fake, Adam on D; G step through the updated D reusing the D step's G(z)
 * (tg_plans_new with .reuse), Adam on G; both losses and the mean D outputs
 * read back.
 *
 *   build/bench/dcgan_step [--batch N] [--threads T] [--steps S] [--repeats R]
 *                          [--profile] [--json]
 *
 * Output as `tapegrad bench gan-step` (bench/README.md): a row per repeat and
 * the best; --json one object per line (bench/compare_torch.py reads it);
 * --profile one more repeat with the engine's profiler on: wall time per op
 * and pass, then every GEMM job with its in-graph GFLOP/s, and the GEMM
 * FLOPs the profiler counted per iteration next to the formula's. */
#include <tapegrad.h>
#include <tg_models.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define NDATA 8
#define PROF_MAX 96

static const char *const G_ARCH = "in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7, "
                                  "conv_t 64 4 s2 p1 nobias, batch_norm, relu, conv_t 1 4 s2 p1, tanh";
static const char *const D_ARCH = "in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, conv 128 5 s2, leaky_relu 0.2, "
                                  "flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1";

typedef struct opts { int batch, threads, steps, repeats, profile, json; } opts;

typedef struct run {
    tg_params *ps;
    tg_graph *g;
    tg_pool *pool;
    tg_plan *pd, *pg;
    tg_adam *ad, *ag;
    tg_node d_real, d_fake;
    tg_rng noise;
    float *z, *x, *data;
    size_t xlen;
    int B;
} run;

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of the whole process (every thread): on a shared machine, with
 * one thread, a steadier figure than the wall time */
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* GEMM FLOPs of one iteration at batch B: 2 per multiply-add of every
 * product the two plans compute. Per layer, the multiply-adds of one
 * product at batch B (forward, weight gradient and input gradient cost the
 * same):
 *   G:  l  = B 100 6272 (dense), t1 = B 128 49 (64 16) (conv_t 128->64,
 *       7x7 -> 14x14, 4x4), t2 = B 64 196 (1 16) (conv_t 64->1, 14 -> 28)
 *   D:  c1 = B 64 196 25 (conv 1->64, 28 -> 14, 5x5), c2 = B 128 25 1600
 *       (conv 64->128, 14 -> 5, 5x5), d1 = B 3200 256, d2 = B 256 1
 * D step: G forward (l + t1 + t2); D forward on x and on detached fake,
 * D weight gradients of both, D input gradients of both except into the
 * first layer (x and the detached fake need none): 4 c1 + 6 (c2 + d1 + d2).
 * G step: D forward on fake and D input gradients down to the fake, no D
 * weight gradients: 2 (c1 + c2 + d1 + d2); G weight gradients (l + t1 + t2)
 * and input gradients except into z (t1 + t2).
 * Total 2 (2 l + 3 t1 + 3 t2 + 6 c1 + 8 c2 + 8 d1 + 8 d2): 9.027 GFLOP at
 * B = 64. */
static double dcgan_flops(int B)
{
    const double l = 100.0 * 6272, t1 = 128.0 * 49 * 64 * 16, t2 = 64.0 * 196 * 16;
    const double c1 = 64.0 * 196 * 25, c2 = 128.0 * 25 * 1600, d1 = 3200.0 * 256, d2 = 256.0;
    return 2.0 * B * (2 * l + 3 * t1 + 3 * t2 + 6 * c1 + 8 * c2 + 8 * d1 + 8 * d2);
}

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "dcgan_step: %s: %s\n", what, msg);
    return -1;
}

static int run_init(run *r, const opts *o)
{
    tg_error e;
    tg_seq_spec G = {.group = "G"}, D = {.group = "D"};
    memset(r, 0, sizeof *r);
    r->B = o->batch;
    if (tg_seq_parse(G_ARCH, "G", &G, &e) || tg_seq_parse(D_ARCH, "D", &D, &e)) return fail("model", e.msg);
    r->ps = tg_params_new();
    tg_rng init;
    tg_rng_seed(&init, 1, 0);
    if (tg_seq_params(r->ps, &G, TG_INIT_NORMAL, 0.02f, &init, &e) ||
        tg_seq_params(r->ps, &D, TG_INIT_NORMAL, 0.02f, &init, &e))
        return fail("parameters", e.msg);
    const int B = r->B;
    r->xlen = (size_t)B * 784;
    r->z = malloc((size_t)B * 100 * sizeof(float));
    r->x = malloc(r->xlen * sizeof(float));
    r->data = malloc(NDATA * r->xlen * sizeof(float));
    if (!r->z || !r->x || !r->data) return fail("setup", "out of memory");
    tg_rng_seed(&r->noise, 7, 1);
    tg_rng data;
    tg_rng_seed(&data, 7, 0);
    tg_rng_fill_uniform(&data, r->data, NDATA * r->xlen, -1.0f, 1.0f);
    memcpy(r->x, r->data, r->xlen * sizeof(float));

    tg_graph *g = r->g = tg_graph_new(r->ps);
    tg_node z = tg_input(g, "z", 2, (int[]){B, 100}), x = tg_input(g, "x", 4, (int[]){B, 1, 28, 28});
    tg_node fake = tg_keep(g, tg_seq(g, &G, z));
    tg_node f4 = tg_reshape(g, fake, 4, (int[]){B, 1, 28, 28});
    r->d_real = tg_seq(g, &D, x);
    r->d_fake = tg_seq(g, &D, tg_detach(g, f4));
    tg_node ld = tg_add(g, tg_bce_logits_const(g, r->d_real, 0.9f), tg_bce_logits_const(g, r->d_fake, 0.0f));
    tg_node lg = tg_gen_loss(g, tg_seq(g, &D, f4));
    tg_bind(g, z, r->z);
    tg_bind(g, x, r->x);
    if (tg_graph_status(g)) return fail("graph", tg_graph_error(g));
    r->pool = tg_pool_new(o->threads, &e);
    if (!r->pool) return fail("pool", e.msg);
    const tg_node outs[2] = {r->d_real, r->d_fake};
    const tg_plan_opts po[2] = {{.groups = "D", .pool = r->pool, .outputs = outs, .n_outputs = 2},
                                {.groups = "G", .pool = r->pool, .reuse = &fake, .n_reuse = 1}};
    tg_plan *pl[2];
    if (tg_plans_new(g, 2, (tg_node[]){ld, lg}, po, pl)) return fail("plans", tg_graph_error(g));
    r->pd = pl[0];
    r->pg = pl[1];
    r->ad = tg_adam_new(r->ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    r->ag = tg_adam_new(r->ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    if (!r->ad || !r->ag) return fail("adam", "could not create the optimizers");
    tg_adam_set_pool(r->ad, r->pool);
    tg_adam_set_pool(r->ag, r->pool);
    return 0;
}

static void run_free(run *r)
{
    tg_adam_free(r->ad);
    tg_adam_free(r->ag);
    tg_plan_free(r->pd);
    tg_plan_free(r->pg);
    tg_pool_free(r->pool);
    tg_graph_free(r->g);
    tg_params_free(r->ps);
    free(r->z);
    free(r->x);
    free(r->data);
}

static double mean_sigmoid(const float *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += 1.0 / (1.0 + exp(-(double)v[i]));
    return s / n;
}

/* one iteration; the numbers a training loop logs land in st[4] */
static int step(run *r, int i, double st[4])
{
    tg_status s;
    memcpy(r->x, r->data + (size_t)(i % NDATA) * r->xlen, r->xlen * sizeof(float));
    tg_rng_fill_normal(&r->noise, r->z, (size_t)r->B * 100, 0.0f, 1.0f);
    if ((s = tg_plan_forward(r->pd)) || (s = tg_plan_backward(r->pd)) || (s = tg_adam_step(r->ad)))
        return fail("D step", tg_status_str(s));
    st[0] = tg_plan_loss(r->pd);
    st[2] = mean_sigmoid(tg_plan_value(r->pd, r->d_real), r->B);
    st[3] = mean_sigmoid(tg_plan_value(r->pd, r->d_fake), r->B);
    if ((s = tg_plan_forward(r->pg)) || (s = tg_plan_backward(r->pg)) || (s = tg_adam_step(r->ag)))
        return fail("G step", tg_status_str(s));
    st[1] = tg_plan_loss(r->pg);
    return isfinite(st[0]) && isfinite(st[1]) ? 0 : fail("step", "a loss is not finite");
}

static int cmp_rows(const void *a, const void *b)
{
    const double x = ((const tg_profile_row *)a)->seconds, y = ((const tg_profile_row *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int profile(run *r, const opts *o, int i0, double flops)
{
    double st[4];
    tg_profile_row rows[PROF_MAX];
    tg_profile_gemm gr[PROF_MAX];
    tg_profile_reset();
    tg_profile_enable(1);
    const double t0 = now_s();
    for (int i = 0; i < o->steps; i++)
        if (step(r, i0 + i, st)) return -1;
    const double wall = now_s() - t0;
    tg_profile_enable(0);
    int n = tg_profile_rows(rows, PROF_MAX), ng = tg_profile_gemm_rows(gr, PROF_MAX);
    n = n < PROF_MAX ? n : PROF_MAX;
    ng = ng < PROF_MAX ? ng : PROF_MAX;
    qsort(rows, (size_t)n, sizeof rows[0], cmp_rows);
    double inside = 0, gflop = 0, gsec = 0;
    for (int k = 0; k < n; k++) inside += rows[k].seconds;
    for (int k = 0; k < ng; k++) gflop += gr[k].flops * (double)gr[k].calls, gsec += gr[k].seconds;
    if (!o->json)
        printf("profile (one more repeat of %d steps, %.3f ms/iter with the profiler on)\n%-20s %-9s %10s %7s %8s\n",
               o->steps, wall / o->steps * 1e3, "op", "pass", "ms/iter", "share", "calls");
    for (int k = 0; k <= n; k++) {
        const char *what = k < n ? rows[k].what : "outside", *pass = k < n ? rows[k].pass : "-";
        const double sec = k < n ? rows[k].seconds : wall - inside, calls = k < n ? (double)rows[k].calls : 0.0;
        if (o->json)
            printf("{\"bench\":\"dcgan-step\",\"profile\":\"%s\",\"pass\":\"%s\",\"ms_per_iter\":%.6f,"
                   "\"share\":%.5f,\"calls_per_iter\":%.2f}\n",
                   what, pass, sec / o->steps * 1e3, sec / wall, calls / o->steps);
        else
            printf("%-20s %-9s %10.3f %6.1f%% %8.2f\n", what, pass, sec / o->steps * 1e3, 100 * sec / wall,
                   calls / o->steps);
    }
    if (!o->json) printf("GEMM jobs (M x N x K; in-graph GFLOP/s)\n%-60s %9s %7s %8s\n", "job", "ms/iter", "calls",
                         "GFLOP/s");
    for (int k = 0; k < ng; k++) {
        const double gf = gr[k].seconds > 0 ? gr[k].flops * (double)gr[k].calls / gr[k].seconds * 1e-9 : 0;
        if (o->json)
            printf("{\"bench\":\"dcgan-step\",\"profile_gemm\":\"%s\",\"ms_per_iter\":%.6f,\"calls_per_iter\":%.2f,"
                   "\"gflops\":%.3f}\n",
                   gr[k].shape, gr[k].seconds / o->steps * 1e3, (double)gr[k].calls / o->steps, gf);
        else
            printf("%-60s %9.3f %7.2f %8.1f\n", gr[k].shape, gr[k].seconds / o->steps * 1e3,
                   (double)gr[k].calls / o->steps, gf);
    }
    if (o->json)
        printf("{\"bench\":\"dcgan-step\",\"profile_gemm_gflop_per_iter\":%.6f,\"gemm_ms_per_iter\":%.6f}\n",
               gflop / o->steps * 1e-9, gsec / o->steps * 1e3);
    else
        printf("GEMM work counted by the profiler %.6f GFLOP per iteration (formula %.6f), %.3f ms/iter in GEMMs "
               "(%.1f%% of the iteration)\n",
               gflop / o->steps * 1e-9, flops * 1e-9, gsec / o->steps * 1e3, 100 * gsec / wall);
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.batch = 64, .threads = 2, .steps = 20, .repeats = 5};
    for (int i = 1; i < argc; i++) {
        int *v = !strcmp(argv[i], "--batch")     ? &o->batch
                 : !strcmp(argv[i], "--threads") ? &o->threads
                 : !strcmp(argv[i], "--steps")   ? &o->steps
                 : !strcmp(argv[i], "--repeats") ? &o->repeats
                                                 : NULL;
        if (v && i + 1 < argc) {
            char *end;
            long x = strtol(argv[++i], &end, 10);
            if (*end || x < 1 || x > 100000) return -1;
            *v = (int)x;
        } else if (!strcmp(argv[i], "--profile")) {
            o->profile = 1;
        } else if (!strcmp(argv[i], "--json")) {
            o->json = 1;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: dcgan_step [--batch N] [--threads T] [--steps S] [--repeats R] [--profile] [--json]\n");
        return 2;
    }
    run r;
    if (run_init(&r, &o)) return 1;
    const double flops = dcgan_flops(o.batch);
    double st[4] = {0}, best = INFINITY;
    const int warm = o.steps / 5 + 3;
    int status = 1, i = 0;
    for (; i < warm; i++)
        if (step(&r, i, st)) goto done;
    if (!o.json)
        printf("dcgan-step  batch %d  threads %d  kernel %s  %.6f GFLOP of GEMM per iteration\n%-8s %6s %10s %12s "
               "%9s %10s\n",
               o.batch, o.threads, tg_kernel_name(), flops * 1e-9, "repeat", "steps", "ms/iter", "samples/s", "GFLOP/s",
               "cpu ms/iter");
    for (int rep = 0; rep < o.repeats; rep++) {
        const double t0 = now_s(), c0 = cpu_s();
        for (int k = 0; k < o.steps; k++, i++)
            if (step(&r, i, st)) goto done;
        const double s = (now_s() - t0) / o.steps, c = (cpu_s() - c0) / o.steps;
        best = s < best ? s : best;
        if (o.json)
            printf("{\"bench\":\"dcgan-step\",\"batch\":%d,\"threads\":%d,\"repeat\":%d,\"steps\":%d,"
                   "\"ms_per_iter\":%.6f,\"cpu_ms_per_iter\":%.6f,\"samples_per_s\":%.2f,\"gflops\":%.3f}\n",
                   o.batch, o.threads, rep + 1, o.steps, s * 1e3, c * 1e3, o.batch / s, flops / s * 1e-9);
        else
            printf("%-8d %6d %10.3f %12.1f %9.1f %10.3f\n", rep + 1, o.steps, s * 1e3, o.batch / s, flops / s * 1e-9,
                   c * 1e3);
        fflush(stdout);
    }
    struct rusage u;
    const long rss = getrusage(RUSAGE_SELF, &u) ? -1 : u.ru_maxrss;
    if (o.profile && profile(&r, &o, i, flops)) goto done;
    if (o.json)
        printf("{\"bench\":\"dcgan-step\",\"batch\":%d,\"threads\":%d,\"repeats\":%d,\"steps\":%d,\"kernel\":\"%s\","
               "\"gflop_per_iter\":%.6f,\"gflops\":%.3f,\"peak_rss_kb\":%ld,\"ms_per_iter\":%.6f,"
               "\"samples_per_s\":%.2f,\"loss_d\":%.5f,\"loss_g\":%.5f,\"d_real\":%.5f,\"d_fake\":%.5f}\n",
               o.batch, o.threads, o.repeats, o.steps, tg_kernel_name(), flops * 1e-9, flops / best * 1e-9, rss,
               best * 1e3, o.batch / best, st[0], st[1], st[2], st[3]);
    else
        printf("%-8s %6s %10.3f %12.1f %9.1f\npeak RSS %.1f MiB; last iteration: loss_D %.4f loss_G %.4f D(x) %.3f "
               "D(G(z)) %.3f\n",
               "best", "", best * 1e3, o.batch / best, flops / best * 1e-9, rss / 1024.0, st[0], st[1], st[2], st[3]);
    status = 0;
done:
    run_free(&r);
    return status;
}
