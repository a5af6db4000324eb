/* bench_kernels.c - `tapegrad bench gemm | ops | peak`: the engine's
 * kernels on their own: every GEMM shape of the reference GAN through the
 * engine's split (op.h's tg_exec_gemm), the element-wise kernels and Adam
 * in ns per element, and the machine's FMA peak. */
#include "bench.h"

#include "cli.h"
#include "kernels.h"
#include "op.h" /* tg_exec_gemm, tg_zalloc: the engine's own GEMM split */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "bench"
#define OPS_ELEMS 50000000 /* elements an ops repeat processes (when --steps is not given) */

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

int bench_gemm(const bench_opts *o)
{
    tg_gan_spec s;
    tg_gan_preset("reference", &s, NULL);
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
    const tg_seq_spec *nets[2] = {&s.G, &s.D};
    for (int ni = 0; ni < 2; ni++) {
        const tg_seq_spec *net = nets[ni];
        for (int i = 0, l = 0, in = net->in_features; i < net->n; i++) {
            if (net->l[i].kind != TG_LAYER_DENSE) continue;
            const int IN = in, OUT = net->l[i].units;
            in = OUT;
            for (int kind = 0; kind < 3; kind++) {
                if (ni == 0 && l == 0 && kind == 2) continue;
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
                    double t0 = bench_now();
                    for (int i = 0; i < o->steps; i++) tg_exec_gemm(&ex, &d);
                    double t = (bench_now() - t0) / o->steps;
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
            l++;
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

int bench_ops(const bench_opts *o)
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
            double t0 = bench_now();
            for (long i = 0; i < calls; i++) {
                op_once(&c, r);
                if (r->op == OP_ADAM_STEP) tg_adam_step(ad);
            }
            double t = (bench_now() - t0) / calls;
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
int bench_peak(const bench_opts *o)
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
            double t0 = bench_now();
            tg_pool_run(pool, peak_task, &j, t);
            double s = bench_now() - t0, f = 0;
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

