/* test_conv_plan.c - plans over convolutional graphs: no allocation per
 * step, fused = unfused bit for bit, 1 thread = 2 threads bit for bit, views
 * (reshape) that alias their input's memory, and when batch_norm's running
 * statistics move. Run once per kernel variant; like the plan suite, this
 * binary wraps the allocator at link time to count allocations.
 *
 * The network is a small DCGAN: D = conv 5x5 s2 'same' + bias, leaky_relu,
 * conv 3x3 s2 p1, batch_norm, leaky_relu, flatten, linear; G = linear,
 * reshape, batch_norm, relu, conv_transpose 4x4 s2 p1 + bias, relu,
 * conv_transpose 4x4 s2 p1 + bias, tanh (12x12 images). D is applied to
 * real images, to the detached fake and to the fake; its three batch_norm
 * nodes share one pair of running statistics. */
#include "tapegrad.h"
#include "internal.h" /* tg_pool_set_strict */

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"

/* ------------------------------------------------------- the small DCGAN */
typedef struct net {
    tg_params *ps;
    tg_graph *g;
    tg_node z, x, fake, loss_d, loss_g;
    float *zb, *xb;
    int B;
} net;

static tg_param *par(tg_params *ps, const char *grp, const char *name, int nd, const int *d, tg_rng *r, float a)
{
    tg_param *p = tg_param_new(ps, grp, name, nd, d);
    ck_assert_ptr_nonnull(p);
    tg_rng_fill_uniform(r, tg_param_data(p), tg_param_numel(p), -a, a);
    return p;
}

static void state(tg_params *ps, const char *grp, const char *name, int C)
{
    tg_param *p = tg_param_new_state(ps, grp, name, 1, &C);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_param_init(p, strstr(name, "var") ? TG_INIT_ONES : TG_INIT_ZEROS, 0, 0, 0, NULL), TG_OK);
}

static tg_node P(net *n, const char *grp, const char *name) { return tg_param_ref(n->g, tg_param_find(n->ps, grp, name)); }
static tg_param *S(net *n, const char *grp, const char *name) { return tg_param_find(n->ps, grp, name); }

static tg_node disc(net *n, tg_node x)
{
    tg_graph *g = n->g;
    tg_node h = tg_conv2d(g, x, P(n, "D", "c1.w"), &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 2, 1, 2}});
    h = tg_leaky_relu(g, tg_bias_add_axis(g, h, P(n, "D", "c1.b"), 1), 0.2f);
    h = tg_conv2d(g, h, P(n, "D", "c2.w"), &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 1, 1, 1}});
    h = tg_batch_norm(g, h, P(n, "D", "bn.g"), P(n, "D", "bn.b"), S(n, "D", "bn.mean"), S(n, "D", "bn.var"), 1e-5f,
                      0.1f);
    h = tg_flatten(g, tg_leaky_relu(g, h, 0.2f));
    return tg_bias_add(g, tg_matmul(g, h, P(n, "D", "l.w")), P(n, "D", "l.b"));
}

static tg_node gen(net *n, tg_node z)
{
    tg_graph *g = n->g;
    const tg_conv_opts up = {.stride = {2, 2}, .pad = {1, 1, 1, 1}};
    tg_node h = tg_reshape(g, tg_matmul(g, z, P(n, "G", "l.w")), 4, (int[]){n->B, 8, 3, 3});
    h = tg_relu(g, tg_batch_norm(g, h, P(n, "G", "bn.g"), P(n, "G", "bn.b"), S(n, "G", "bn.mean"),
                                 S(n, "G", "bn.var"), 1e-5f, 0.1f));
    h = tg_relu(g, tg_bias_add_axis(g, tg_conv_transpose2d(g, h, P(n, "G", "t1.w"), &up), P(n, "G", "t1.b"), 1));
    h = tg_conv_transpose2d(g, h, P(n, "G", "t2.w"), &up);
    return tg_tanh(g, tg_bias_add_axis(g, h, P(n, "G", "t2.b"), 1));
}

static void net_init(net *n, int B, uint64_t seed)
{
    memset(n, 0, sizeof *n);
    n->B = B;
    n->ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, seed, 0);
    par(n->ps, "D", "c1.w", 4, (int[]){4, 1, 5, 5}, &r, 0.3f);
    par(n->ps, "D", "c1.b", 1, (int[]){4}, &r, 0.1f);
    par(n->ps, "D", "c2.w", 4, (int[]){8, 4, 3, 3}, &r, 0.3f);
    par(n->ps, "D", "bn.g", 1, (int[]){8}, &r, 1.0f);
    par(n->ps, "D", "bn.b", 1, (int[]){8}, &r, 0.1f);
    state(n->ps, "D", "bn.mean", 8);
    state(n->ps, "D", "bn.var", 8);
    par(n->ps, "D", "l.w", 2, (int[]){72, 1}, &r, 0.2f);
    par(n->ps, "D", "l.b", 1, (int[]){1}, &r, 0.1f);
    par(n->ps, "G", "l.w", 2, (int[]){6, 72}, &r, 0.4f);
    par(n->ps, "G", "bn.g", 1, (int[]){8}, &r, 1.0f);
    par(n->ps, "G", "bn.b", 1, (int[]){8}, &r, 0.1f);
    state(n->ps, "G", "bn.mean", 8);
    state(n->ps, "G", "bn.var", 8);
    par(n->ps, "G", "t1.w", 4, (int[]){8, 4, 4, 4}, &r, 0.3f);
    par(n->ps, "G", "t1.b", 1, (int[]){4}, &r, 0.1f);
    par(n->ps, "G", "t2.w", 4, (int[]){4, 1, 4, 4}, &r, 0.3f);
    par(n->ps, "G", "t2.b", 1, (int[]){1}, &r, 0.1f);
    n->g = tg_graph_new(n->ps);
    tg_graph_set_seed(n->g, seed);
    n->z = tg_input(n->g, "z", 2, (int[]){B, 6});
    n->x = tg_input(n->g, "x", 4, (int[]){B, 1, 12, 12});
    n->fake = tg_keep(n->g, gen(n, n->z));
    n->loss_d = tg_add(n->g, tg_bce_logits_const(n->g, disc(n, n->x), 0.9f),
                       tg_bce_logits_const(n->g, disc(n, tg_detach(n->g, n->fake)), 0.0f));
    n->loss_g = tg_gen_loss(n->g, disc(n, n->fake));
    ck_assert_msg(tg_graph_status(n->g) == TG_OK, "%s", tg_graph_error(n->g));
    n->zb = malloc((size_t)B * 6 * sizeof(float));
    n->xb = malloc((size_t)B * 144 * sizeof(float));
    ck_assert(n->zb && n->xb);
    tg_rng_fill_normal(&r, n->zb, (size_t)B * 6, 0.0f, 1.0f);
    tg_rng_fill_uniform(&r, n->xb, (size_t)B * 144, -1.0f, 1.0f);
    tg_bind(n->g, n->z, n->zb);
    tg_bind(n->g, n->x, n->xb);
}

static void net_free(net *n)
{
    tg_graph_free(n->g);
    tg_params_free(n->ps);
    free(n->zb);
    free(n->xb);
}

/* the D step and the G step reusing the D step's G(z), as one set */
static void net_plans(net *n, tg_pool *pool, tg_plan **pd, tg_plan **pg)
{
    const tg_node outs[2] = {n->loss_d, n->loss_g};
    const tg_plan_opts o[2] = {{.groups = "D", .pool = pool},
                               {.groups = "G", .pool = pool, .reuse = &n->fake, .n_reuse = 1}};
    tg_plan *pl[2];
    ck_assert_msg(tg_plans_new(n->g, 2, outs, o, pl) == TG_OK, "%s", tg_graph_error(n->g));
    *pd = pl[0];
    *pg = pl[1];
}

/* ------------------------------------------------------------- steps */
START_TEST(test_conv_no_alloc_per_step)
{
    net n;
    net_init(&n, 16, 3);
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_ptr_nonnull(pool);
    tg_plan *pd, *pg;
    net_plans(&n, pool, &pd, &pg);
    tg_adam *ad = tg_adam_new(n.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    tg_adam *ag = tg_adam_new(n.ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    ck_assert(ad && ag);
    ck_assert_int_eq(tg_adam_count(ad), 7); /* the running statistics are not trained */
    tg_adam_set_pool(ad, pool);
    tg_adam_set_pool(ag, pool);
    for (int it = 0; it < 4; it++) { /* no ck_assert in the counted region (Check allocates) */
        uint64_t before = n_alloc;
        tg_status st[6] = {tg_plan_forward(pd), tg_plan_backward(pd), tg_adam_step(ad),
                           tg_plan_forward(pg), tg_plan_backward(pg), tg_adam_step(ag)};
        uint64_t used = n_alloc - before;
        for (int k = 0; k < 6; k++) ck_assert_int_eq(st[k], TG_OK);
        if (it > 0) ck_assert_uint_eq(used, 0);
    }
    ck_assert(isfinite(tg_plan_loss(pd)) && isfinite(tg_plan_loss(pg)));
    tg_adam_free(ad);
    tg_adam_free(ag);
    tg_plan_free(pd);
    tg_plan_free(pg);
    tg_pool_free(pool);
    net_free(&n);
}
END_TEST

/* Train 3 iterations; every parameter and running statistic afterwards */
static float *train(int threads, uint64_t seed, size_t *len)
{
    net n;
    net_init(&n, 8, seed);
    tg_pool *pool = tg_pool_new(threads, NULL);
    tg_pool_set_strict(pool, 1); /* 2 threads really run 2 threads, however busy the machine */
    tg_plan *pd, *pg;
    net_plans(&n, pool, &pd, &pg);
    tg_adam *ad = tg_adam_new(n.ps, "D", 2e-3f, 0.5f, 0.999f, 1e-8f, NULL);
    tg_adam *ag = tg_adam_new(n.ps, "G", 2e-3f, 0.5f, 0.999f, 1e-8f, NULL);
    for (int it = 0; it < 3; it++) {
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        tg_adam_step(ad);
        ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
        tg_adam_step(ag);
    }
    size_t tot = 0;
    for (int i = 0; i < tg_params_count(n.ps); i++) tot += tg_param_numel(tg_params_at(n.ps, i));
    float *out = malloc((tot + 2) * sizeof *out), *o = out;
    for (int i = 0; i < tg_params_count(n.ps); i++) {
        tg_param *p = tg_params_at(n.ps, i);
        memcpy(o, tg_param_data(p), tg_param_numel(p) * sizeof *o);
        o += tg_param_numel(p);
    }
    o[0] = (float)tg_plan_loss(pd);
    o[1] = (float)tg_plan_loss(pg);
    *len = tot + 2;
    if (threads > 1) ck_assert_int_gt(tg_pool_tasks_run(pool, 1), 0);
    tg_adam_free(ad);
    tg_adam_free(ag);
    tg_plan_free(pd);
    tg_plan_free(pg);
    tg_pool_free(pool);
    net_free(&n);
    return out;
}

START_TEST(test_conv_same_bits_threads)
{
    size_t n1, n2, n3, n4;
    float *a = train(1, 11, &n1), *b = train(1, 11, &n2), *c = train(2, 11, &n3), *d = train(1, 12, &n4);
    ck_assert(n1 == n2 && n1 == n3 && n1 == n4);
    ck_assert(isfinite(a[n1 - 1]) && isfinite(a[n1 - 2]));
    ck_assert_msg(memcmp(a, b, n1 * sizeof *a) == 0, "run to run");
    ck_assert_msg(memcmp(a, c, n1 * sizeof *a) == 0, "1 thread vs 2");
    ck_assert_msg(memcmp(a, d, n1 * sizeof *a) != 0, "the seed matters");
    free(a);
    free(b);
    free(c);
    free(d);
}
END_TEST

/* ------------------------------------------------------------ fusion */
/* y = op2(act(op(x) + b), w2), or with a dropout before op2: op's bias and
 * activation run in its epilogue (a conv2d's GEMM; after a
 * conv_transpose2d's col2im), the activation's (and the dropout's) backward
 * in op2's input gradient (conv2d: image by image after col2im;
 * conv_transpose2d: as its forward-like product's pieces are written, on
 * its every path: few or many pixels, one image or a group); or all as
 * their own nodes with tg_plan_opts.unfused: the same bits. _i: op (bit 0:
 * transposed) x activation (relu, leaky_relu, sigmoid, tanh) x pool (8) x
 * dropout (16) x op2 transposed (32) x one image (64) */
START_TEST(test_conv_fusion_same_bits)
{
    const int tr = _i & 1, act = (_i >> 1) % 4, threads = _i & 8 ? 2 : 1, drop = !!(_i & 16), tr2 = !!(_i & 32);
    const int N = _i & 64 ? 1 : 5;
    const tg_act acts[4] = {TG_ACT_RELU, TG_ACT_LEAKY_RELU, TG_ACT_SIGMOID, TG_ACT_TANH};
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 21 + (uint64_t)_i, 0);
    tg_param *w = par(ps, "M", "w", 4, tr ? (int[]){3, 7, 4, 4} : (int[]){7, 3, 5, 5}, &r, 0.3f);
    tg_param *b = par(ps, "M", "b", 1, (int[]){7}, &r, 0.5f);
    tg_param *w2 = par(ps, "M", "w2", 4, tr2 ? (int[]){7, 5, 3, 3} : (int[]){5, 7, 3, 3}, &r, 0.3f);
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 4, (int[]){N, 3, 9, 11});
    float xv[5 * 3 * 9 * 11];
    const size_t nx = (size_t)N * 3 * 9 * 11;
    tg_rng_fill_uniform(&r, xv, nx, -1.0f, 1.0f);
    tg_bind(g, x, xv);
    const tg_conv_opts o = {.stride = {2, 2}, .pad = {1, 2, 2, 1}};
    tg_node y = tr ? tg_conv_transpose2d(g, x, tg_param_ref(g, w), &o) : tg_conv2d(g, x, tg_param_ref(g, w), &o);
    y = tg_activation(g, tg_bias_add_axis(g, y, tg_param_ref(g, b), 1), acts[act], 0.2f);
    if (drop) y = tg_dropout(g, y, 0.3f);
    const tg_conv_opts o2 = {.pad = {1, 1, 1, 1}};
    tg_node y2 = tr2 ? tg_conv_transpose2d(g, y, tg_param_ref(g, w2), &o2) : tg_conv2d(g, y, tg_param_ref(g, w2), NULL);
    tg_node loss = tg_sum(g, tg_tanh(g, y2));
    tg_pool *pool = tg_pool_new(threads, NULL);
    float *gr[2][4];
    double l[2];
    int len[2], blen[2];
    for (int k = 0; k < 2; k++) {
        tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M", .input_grads = 1, .unfused = k, .pool = pool});
        ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
        tg_graph_set_dropout_step(g, 5); /* the same masks for both */
        ck_assert_int_eq(tg_plan_forward(p), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p), TG_OK);
        l[k] = tg_plan_loss(p);
        len[k] = tg_plan_forward_len(p);
        blen[k] = tg_plan_backward_len(p);
        tg_param *all[3] = {w, b, w2};
        for (int i = 0; i < 3; i++) {
            gr[k][i] = malloc(tg_param_numel(all[i]) * sizeof(float));
            memcpy(gr[k][i], tg_param_grad(all[i]), tg_param_numel(all[i]) * sizeof(float));
        }
        gr[k][3] = malloc(nx * sizeof(float));
        memcpy(gr[k][3], tg_plan_grad(p, x), nx * sizeof(float));
        tg_plan_free(p);
    }
    ck_assert_int_eq(len[0] + 2, len[1]); /* the bias and the activation ran in the op */
    /* backward: no activation (nor dropout) step of its own, nor bias (its
     * gradient aliases the op's) */
    ck_assert_int_eq(blen[0] + 1 + drop, blen[1]);
    ck_assert(isfinite(l[0]) && l[0] == l[1]);
    const size_t sz[4] = {tg_param_numel(w), tg_param_numel(b), tg_param_numel(w2), nx};
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(memcmp(gr[0][i], gr[1][i], sz[i] * sizeof(float)) == 0, "case %d: %s act %d: gradient %d differs",
                      _i, tr ? "conv_transpose2d" : "conv2d", act, i);
        free(gr[0][i]);
        free(gr[1][i]);
    }
    tg_pool_free(pool);
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

/* -------------------------------------------------- conv_core's paths */
/* The f32 passes take different paths by shape (conv_core.h): few pixels
 * per image (P < 128: one pixel-major GEMM for the group, transposed into
 * NCHW) or many (one GEMM per image in place), and accumulate into
 * gradients another node wrote first. _i: bit 0 transposed, bit 1 many
 * pixels. y1 = act(op(x, w) + b); y2 = op(0.5 x, w); L = sum tanh(y1) +
 * sum tanh(y2): w's gradient sums two nodes, x's gradient is first written
 * by the scale node (later on the tape, so its backward runs first) and
 * then added to by op's input gradient (conv_transpose2d: its forward-like
 * pass with beta = 1). Fused and unfused, 1 and 2 threads: the same bits;
 * and within 2e-5 of an f64 plan (sums of up to 1152 terms). */
START_TEST(test_conv_paths)
{
    const int tr = _i & 1, big = _i >> 1 & 1;
    const int C = 4, O = 6, N = 3, H = big ? (tr ? 12 : 16) : (tr ? 4 : 9), W = big ? (tr ? 12 : 16) : (tr ? 5 : 11);
    const int k = big ? 3 : tr ? 4 : 5;
    const tg_conv_opts o = big ? (tg_conv_opts){.pad = {1, 1, 1, 1}}
                               : tr ? (tg_conv_opts){.stride = {2, 2}, .pad = {1, 1, 1, 1}}
                                    : (tg_conv_opts){.stride = {2, 2}, .pad = {1, 2, 2, 1}};
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 40 + (uint64_t)_i, 0);
    tg_param *w = par(ps, "M", "w", 4, tr ? (int[]){C, O, k, k} : (int[]){O, C, k, k}, &r, 0.3f);
    tg_param *b = par(ps, "M", "b", 1, (int[]){O}, &r, 0.5f);
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 4, (int[]){N, C, H, W});
    const size_t nx = (size_t)N * C * H * W;
    float *xv = malloc(nx * sizeof *xv);
    ck_assert_ptr_nonnull(xv);
    tg_rng_fill_uniform(&r, xv, nx, -1.0f, 1.0f);
    tg_bind(g, x, xv);
#define OP(in) (tr ? tg_conv_transpose2d(g, (in), tg_param_ref(g, w), &o) : tg_conv2d(g, (in), tg_param_ref(g, w), &o))
    tg_node y1 = tg_leaky_relu(g, tg_bias_add_axis(g, OP(x), tg_param_ref(g, b), 1), 0.2f);
    tg_node y2 = OP(tg_scale(g, x, 0.5f));
#undef OP
    const int P = tr ? H * W : tg_node_dim(g, y2, 2) * tg_node_dim(g, y2, 3); /* the column side's pixels */
    ck_assert_int_eq(P >= 128, big);
    tg_node loss = tg_add(g, tg_sum(g, tg_tanh(g, y1)), tg_sum(g, tg_tanh(g, y2)));
    ck_assert_msg(tg_graph_status(g) == TG_OK, "%s", tg_graph_error(g));
    tg_param *all[2] = {w, b};
    const size_t sz[3] = {tg_param_numel(w), tg_param_numel(b), nx};
    float *got[4][3];
    double l[4];
    for (int m = 0; m < 4; m++) { /* unfused 1 thread, fused 1 thread, unfused 2, fused 2 */
        tg_pool *pool = tg_pool_new(m < 2 ? 1 : 2, NULL);
        tg_pool_set_strict(pool, 1);
        tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M", .input_grads = 1, .unfused = !(m & 1),
                                                          .pool = pool});
        ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
        ck_assert_int_eq(tg_plan_forward(p), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p), TG_OK);
        l[m] = tg_plan_loss(p);
        for (int i = 0; i < 3; i++) {
            got[m][i] = malloc(sz[i] * sizeof(float));
            memcpy(got[m][i], i < 2 ? tg_param_grad(all[i]) : tg_plan_grad(p, x), sz[i] * sizeof(float));
        }
        tg_plan_free(p);
        tg_pool_free(pool);
    }
    for (int m = 1; m < 4; m++) {
        ck_assert_msg(l[m] == l[0], "%s %s: loss of way %d differs", tr ? "conv_transpose2d" : "conv2d",
                      big ? "many pixels" : "few pixels", m);
        for (int i = 0; i < 3; i++)
            ck_assert_msg(memcmp(got[m][i], got[0][i], sz[i] * sizeof(float)) == 0, "%s %s: gradient %d of way %d differs",
                          tr ? "conv_transpose2d" : "conv2d", big ? "many pixels" : "few pixels", i, m);
    }
    /* the values: against an f64 plan */
    tg_plan *p64 = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M", .input_grads = 1, .precision = TG_F64});
    ck_assert_msg(p64 != NULL, "%s", tg_graph_error(g));
    ck_assert_int_eq(tg_plan_forward(p64), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p64), TG_OK);
    ck_assert_msg(fabs(tg_plan_loss(p64) - l[0]) <= 2e-5 * fabs(tg_plan_loss(p64)) + 1e-6, "loss %.9g, f64 %.9g", l[0],
                  tg_plan_loss(p64));
    for (int i = 0; i < 3; i++) {
        const double *want = tg_plan_grad64(p64, i < 2 ? tg_param_ref(g, all[i]) : x);
        ck_assert_ptr_nonnull(want);
        double scale = 0, err = 0;
        for (size_t e = 0; e < sz[i]; e++) scale = fmax(scale, fabs(want[e]));
        for (size_t e = 0; e < sz[i]; e++) err = fmax(err, fabs(got[0][i][e] - want[e]));
        ck_assert_msg(err <= 2e-5 * scale, "%s %s: gradient %d off by %g of %g", tr ? "conv_transpose2d" : "conv2d",
                      big ? "many pixels" : "few pixels", i, err, scale);
    }
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 3; i++) free(got[m][i]);
    tg_plan_free(p64);
    tg_graph_free(g);
    tg_params_free(ps);
    free(xv);
}
END_TEST

/* ------------------------------------------------------------- views */
/* A reshape's value is its input's memory, in the arena (an op node), in
 * the caller's data (an input) and in the set's kept memory; the input's
 * buffer lives until the view's last reader even when other buffers could
 * reuse it; the arena is exactly that of the same graph without the views
 * (their values and, being their inputs' only consumers, their gradients
 * take no memory of their own). */
START_TEST(test_view_aliases_input)
{
    enum { R = 64, C = 48 };
    static float xv[R * C], wv[R * C];
    tg_rng r;
    tg_rng_seed(&r, 4, 0);
    tg_rng_fill_uniform(&r, xv, R * C, -1.0f, 1.0f);
    tg_rng_fill_uniform(&r, wv, R * C, -1.0f, 1.0f);
    double loss[3];
    size_t arena[3];
    for (int k = 0; k < 3; k++) { /* 0: no views; 1: views; 2: views, f64 */
        tg_graph *g = tg_graph_new(NULL);
        tg_node x = tg_input(g, "x", 2, (int[]){R, C}), wt = tg_input(g, "w", 2, (int[]){R, C});
        tg_bind(g, x, xv);
        tg_bind(g, wt, wv);
        tg_node t = tg_scale(g, x, 0.7f), v = t; /* (whose backward reads neither x nor t) */
        if (k) v = tg_reshape(g, tg_reshape(g, t, 3, (int[]){8, 8, C}), 2, (int[]){R, C});
        /* intermediates of t's size after t's last direct reader (the first
         * reshape): were t's buffer to end there, theirs would take its memory */
        tg_node a = tg_sigmoid(g, tg_sigmoid(g, tg_sigmoid(g, x)));
        tg_node l = tg_sum(g, tg_mul(g, tg_mul(g, a, wt), v));
        tg_node outs[1] = {v};
        tg_plan *p = tg_plan_new(g, l, &(tg_plan_opts){.input_grads = 1, .outputs = outs, .n_outputs = 1,
                                                       .precision = k == 2 ? TG_F64 : TG_F32});
        ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
        ck_assert_int_eq(tg_plan_forward(p), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p), TG_OK);
        loss[k] = tg_plan_loss(p);
        arena[k] = tg_plan_arena_bytes(p);
        if (k == 1) { /* t is not readable itself (not an output): its gradient proves the alias */
            tg_plan *q = tg_plan_new(g, v, &(tg_plan_opts){.forward_only = 1, .outputs = &t, .n_outputs = 1});
            tg_node vx = tg_reshape(g, x, 1, (int[]){R * C});
            tg_plan *qx = tg_plan_new(g, vx, &(tg_plan_opts){.forward_only = 1});
            ck_assert(q && qx);
            ck_assert_int_eq(tg_plan_forward(q), TG_OK);
            ck_assert_int_eq(tg_plan_forward(qx), TG_OK);
            ck_assert_ptr_nonnull(tg_plan_value(q, v));
            ck_assert_ptr_eq(tg_plan_value(q, v), tg_plan_value(q, t));
            ck_assert_ptr_eq(tg_plan_value(qx, vx), xv); /* the caller's data itself */
            tg_plan_free(q);
            tg_plan_free(qx);
        }
        tg_plan_free(p);
        tg_graph_free(g);
    }
    ck_assert(isfinite(loss[0]) && loss[0] == loss[1]);
    ck_assert_msg(fabs(loss[1] - loss[2]) <= 1e-5 * fabs(loss[2]), "f32 %.9g vs f64 %.9g", loss[1], loss[2]);
    ck_assert_uint_eq(arena[0], arena[1]); /* the views took no memory of their own */

    /* kept: the D step computes fake = reshape(...) in G; the G step reuses it */
    net n;
    net_init(&n, 4, 9);
    tg_plan *pd, *pg;
    net_plans(&n, NULL, &pd, &pg);
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
    ck_assert(isfinite(tg_plan_loss(pg)));
    tg_plan_free(pd);
    tg_plan_free(pg);
    net_free(&n);
}
END_TEST

/* ------------------------------------------------------ running stats */
/* batch_norm's running statistics move once per training forward of an f32
 * plan that computes the node: two nodes sharing them (D on real and fake
 * images) update twice, in tape order; a plan of the set that reuses a
 * kept batch_norm (the G step reusing G(z)) updates nothing, and its
 * backward (which recomputes the batch statistics) equals that of a plan
 * recomputing the node. */
START_TEST(test_running_stats_per_forward)
{
    net n;
    net_init(&n, 4, 5);
    tg_param *dm = S(&n, "D", "bn.mean"), *gm = S(&n, "G", "bn.mean"), *gv = S(&n, "G", "bn.var");
    tg_plan *pd, *pg;
    net_plans(&n, NULL, &pd, &pg);
    tg_plan *pf = tg_plan_new(n.g, n.loss_g, &(tg_plan_opts){.groups = "G"}); /* recomputes G(z) */
    ck_assert_ptr_nonnull(pf);
    float d0[8], g1[8], v1[8];
    memcpy(d0, tg_param_data(dm), sizeof d0);
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK); /* G once (G(z)), D twice (real, detached fake) */
    memcpy(g1, tg_param_data(gm), sizeof g1);
    memcpy(v1, tg_param_data(gv), sizeof v1);
    ck_assert(memcmp(g1, d0, sizeof g1) != 0); /* G's moved (they started at 0) */
    /* D's mean after two updates from 0: m (1-m) mean_real + m mean_fake, so
     * not a single update's m mean: check it moved and stays finite */
    for (int c = 0; c < 8; c++) ck_assert(isfinite(tg_param_data(dm)[c]) && tg_param_data(dm)[c] != d0[c]);
    ck_assert_int_eq(tg_plan_forward(pg), TG_OK); /* reuses G(z): G's statistics stay */
    ck_assert(memcmp(g1, tg_param_data(gm), sizeof g1) == 0 && memcmp(v1, tg_param_data(gv), sizeof v1) == 0);
    ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
    const int np = 7;
    float *grads[7];
    int k = 0;
    for (int i = 0; i < tg_params_count(n.ps); i++) {
        tg_param *q = tg_params_at(n.ps, i);
        if (strcmp(tg_param_group(q), "G") || tg_param_is_state(q)) continue;
        grads[k] = malloc(tg_param_numel(q) * sizeof(float));
        memcpy(grads[k++], tg_param_grad(q), tg_param_numel(q) * sizeof(float));
    }
    ck_assert_int_eq(k, np);
    ck_assert_int_eq(tg_plan_forward(pf), TG_OK); /* recomputes G(z): one more update */
    ck_assert(memcmp(g1, tg_param_data(gm), sizeof g1) != 0);
    ck_assert_int_eq(tg_plan_backward(pf), TG_OK);
    k = 0;
    for (int i = 0; i < tg_params_count(n.ps); i++) {
        tg_param *q = tg_params_at(n.ps, i);
        if (strcmp(tg_param_group(q), "G") || tg_param_is_state(q)) continue;
        ck_assert_msg(memcmp(grads[k], tg_param_grad(q), tg_param_numel(q) * sizeof(float)) == 0, "%s differs",
                      tg_param_name(q));
        free(grads[k++]);
    }
    tg_plan_free(pd);
    tg_plan_free(pg);
    tg_plan_free(pf);
    net_free(&n);
}
END_TEST

/* Two nodes sharing the statistics, by hand: after one training forward,
 * rm = (1-m)^2 rm0 + (1-m) m mean_a + m mean_b (node a first, tape order). */
START_TEST(test_running_stats_two_nodes)
{
    tg_params *ps = tg_params_new();
    tg_param *rm = tg_param_new_state(ps, "B", "rm", 1, (int[]){1}), *rv = tg_param_new_state(ps, "B", "rv", 1, (int[]){1});
    tg_param_data(rm)[0] = 0.5f;
    tg_param_data(rv)[0] = 2.0f;
    tg_graph *g = tg_graph_new(ps);
    float a[4] = {1, 2, 3, 6}, b[4] = {-1, 0, 0, 5}, one = 1.0f, zero = 0.0f;
    tg_node xa = tg_input(g, "a", 2, (int[]){4, 1}), xb = tg_input(g, "b", 2, (int[]){4, 1});
    tg_node ga = tg_input(g, "g", 1, (int[]){1}), be = tg_input(g, "be", 1, (int[]){1});
    tg_bind(g, xa, a), tg_bind(g, xb, b), tg_bind(g, ga, &one), tg_bind(g, be, &zero);
    tg_node na = tg_batch_norm(g, xa, ga, be, rm, rv, 1e-5f, 0.25f); /* first on the tape */
    tg_node nb = tg_batch_norm(g, xb, ga, be, rm, rv, 1e-5f, 0.25f);
    tg_node l = tg_add(g, tg_sum(g, na), tg_sum(g, nb));
    tg_plan *p = tg_plan_new(g, l, &(tg_plan_opts){.forward_only = 1});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    /* mean_a = 3, unbiased var_a = (4+1+0+9)/3 = 14/3; mean_b = 1, var_b = (4+1+1+16)/3 = 22/3;
     * all exact steps in double, then one rounding to float */
    const double m = 0.25, rm_a = 0.75 * 0.5 + m * 3.0, rv_a = 0.75 * 2.0 + m * 14.0 / 3.0;
    ck_assert_float_eq(tg_param_data(rm)[0], (float)(0.75 * (double)(float)rm_a + m * 1.0));
    ck_assert_float_eq(tg_param_data(rv)[0], (float)(0.75 * (double)(float)rv_a + m * 22.0 / 3.0));
    tg_plan_free(p);
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv_plan");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_loop_test(core, test_conv_fusion_same_bits, 0, 128);
    tcase_add_loop_test(core, test_conv_paths, 0, 4);
    tcase_add_test(core, test_view_aliases_input);
    tcase_add_test(core, test_running_stats_per_forward);
    tcase_add_test(core, test_running_stats_two_nodes);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 120);
    tcase_add_test(lim, test_conv_no_alloc_per_step);
    tcase_add_test(lim, test_conv_same_bits_threads);
    suite_add_tcase(s, lim);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("conv_plan");
    if (gate >= 0) return gate;
    return tg_run_suite(suite());
}
