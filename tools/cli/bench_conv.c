/* bench_conv.c - `tapegrad bench conv`: one convolution layer's forward and
 * backward in an f32 plan, at the DCGAN discriminator's first layer by
 * default (x (B,1,28,28), 64 filters 5x5, stride 2, Keras 'same' padding
 * 1,2,1,2 -> (B,64,14,14), + bias, leaky_relu 0.2). Rows: the layer as a
 * first layer (weight and bias gradients only: no input gradient), and the
 * same with the input gradient (the data GEMM and col2im too). Each row: the
 * whole step's time (best of R repeats of S steps; it also holds the bias,
 * the activation and a sum as the loss), its GFLOP/s counting the
 * convolution's GEMMs only, and the conv2d node's own forward and backward
 * time from one more, profiled repeat. A benchmark: it prints times, never
 * judges them. */
#include "bench.h"

#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer { int Cin, H, W, Cout, k, s; tg_conv_opts o; } layer;

/* one row: returns 0, or -1 with a message printed */
static int row(const bench_opts *b, const layer *L, int input_grads, tg_pool *pool)
{
    const int B = b->batch;
    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "C", "w", 4, (int[]){L->Cout, L->Cin, L->k, L->k});
    tg_param *bias = tg_param_new(ps, "C", "b", 1, &L->Cout);
    tg_rng r;
    tg_rng_seed(&r, 7, 0);
    tg_rng_fill_uniform(&r, tg_param_data(w), tg_param_numel(w), -0.2f, 0.2f);
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 4, (int[]){B, L->Cin, L->H, L->W});
    tg_node y = tg_conv2d(g, x, tg_param_ref(g, w), &L->o);
    y = tg_leaky_relu(g, tg_bias_add_axis(g, y, tg_param_ref(g, bias), 1), 0.2f);
    const int OH = tg_node_dim(g, y, 2), OW = tg_node_dim(g, y, 3);
    tg_node loss = tg_sum(g, y); /* the cheapest scalar: a sum, and a fill in backward */
    const size_t nx = (size_t)B * L->Cin * L->H * L->W;
    float *xv = malloc(nx * sizeof *xv);
    tg_plan *p = NULL;
    int st = -1;
    if (!xv || tg_graph_status(g) != TG_OK) {
        cli_err("bench conv: %s", tg_graph_status(g) != TG_OK ? tg_graph_error(g) : "out of memory");
        goto done;
    }
    tg_rng_fill_uniform(&r, xv, nx, -1.0f, 1.0f);
    tg_bind(g, x, xv);
    p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "C", .input_grads = input_grads, .pool = pool});
    if (!p) {
        cli_err("bench conv: %s", tg_graph_error(g));
        goto done;
    }
    /* multiply-adds: forward and weight gradient K P Cout per image, input gradient the same */
    const double macs = (double)B * L->Cout * OH * OW * L->Cin * L->k * L->k;
    const double flops = 2.0 * macs * (input_grads ? 3 : 2);
    double best = INFINITY;
    for (int i = 0; i < b->steps / 5 + 3; i++) tg_plan_forward(p), tg_plan_backward(p);
    for (int rep = 0; rep < b->repeats; rep++) {
        const double t0 = bench_now();
        for (int i = 0; i < b->steps; i++) {
            if (tg_plan_forward(p) != TG_OK || tg_plan_backward(p) != TG_OK) {
                cli_err("bench conv: %s", tg_graph_error(g));
                goto done;
            }
        }
        const double s = (bench_now() - t0) / b->steps;
        best = s < best ? s : best;
    }
    /* one more repeat with the profiler: the conv node's own passes (the
     * step also holds the loss's sum, and the bias and activation backward) */
    tg_profile_reset();
    tg_profile_enable(1);
    for (int i = 0; i < b->steps; i++) tg_plan_forward(p), tg_plan_backward(p);
    tg_profile_enable(0);
    tg_profile_row rows[32];
    const int nr = tg_profile_rows(rows, 32);
    double cf = 0, cb = 0;
    for (int i = 0; i < nr && i < 32; i++)
        if (!strcmp(rows[i].what, "conv2d")) *(strcmp(rows[i].pass, "forward") ? &cb : &cf) += rows[i].seconds / b->steps;
    const char *what = input_grads ? "fwd+bwd (dW, db, dx)" : "fwd+bwd (dW, db)";
    if (b->json)
        printf("{\"bench\":\"conv\",\"layer\":\"%dx%dx%dx%d->%d k%d s%d\",\"input_grad\":%d,\"threads\":%d,"
               "\"kernel\":\"%s\",\"ms_per_iter\":%.6f,\"gflops\":%.3f,\"conv_fwd_ms\":%.6f,\"conv_bwd_ms\":%.6f}\n",
               B, L->Cin, L->H, L->W, L->Cout, L->k, L->s, input_grads, b->threads, tg_kernel_name(), best * 1e3,
               flops / best * 1e-9, cf * 1e3, cb * 1e3);
    else
        printf("%-22s %9.4f %8.1f %13.4f %13.4f\n", what, best * 1e3, flops / best * 1e-9, cf * 1e3, cb * 1e3);
    st = 0;
done:
    tg_plan_free(p);
    tg_graph_free(g);
    tg_params_free(ps);
    free(xv);
    return st;
}

int bench_conv(const bench_opts *b)
{
    /* the DCGAN discriminator's first layer: 28 -> 14, Keras 'same' */
    const layer L = {1, 28, 28, 64, 5, 2, {.stride = {2, 2}, .pad = {1, 2, 1, 2}}};
    tg_error e;
    tg_pool *pool = b->threads > 1 ? tg_pool_new(b->threads, &e) : NULL;
    if (b->threads > 1 && !pool) {
        cli_err("bench conv: %s", e.msg);
        return CLI_FAIL;
    }
    if (!b->json)
        printf("conv %dx%dx%dx%d -> %d 5x5 s2 'same' -> 14x14, + bias, leaky_relu  threads %d  kernel %s\n"
               "%-22s %9s %8s %13s %13s\n",
               b->batch, L.Cin, L.H, L.W, L.Cout, b->threads, tg_kernel_name(), "step", "ms/iter", "GFLOP/s",
               "conv fwd ms", "conv bwd ms");
    int st = row(b, &L, 0, pool) || row(b, &L, 1, pool) ? CLI_FAIL : CLI_OK;
    tg_pool_free(pool);
    return st;
}
