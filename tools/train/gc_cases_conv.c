/* gc_cases_conv.c - the gradient-check registry's cases for conv2d,
 * conv_transpose2d, the bias over an axis, reshape / flatten and
 * batch_norm (see gc_cases.h; listed after gc_cases.c's own).
 *
 * Convolutions run on a table of geometries covering what the ops' tests
 * cover against PyTorch: stride 1-3, per-side padding (Keras 'same' 28 -> 14
 * with a 5x5 kernel and stride 2, pad 1 before and 2 after), dilation 2,
 * kernels 1, 3, 4 and 5, batch 1, one channel, prime channel counts, and
 * for conv_transpose2d the DCGAN generator's 7 -> 14 -> 28 (4x4, stride 2,
 * padding 1) and output_padding. Unequal top and left paddings, dilation,
 * output_padding rows that receive contributions, strides of 2 and more:
 * each is there because a plausible wrong backward (ops/fault.h) is wrong
 * only then. A case whose input has a second consumer read after the op
 * makes the op's backward add to a gradient it did not start.
 *
 * batch_norm runs in training mode (batch statistics: the gradient has the
 * mean and variance terms) and in eval mode (case.eval: the running
 * statistics, state parameters in group "S" that get no gradient), on
 * (N,C,H,W) and (N,F). Two small networks chain the ops as models will.
 * Labels: "x+" marks the second-consumer cases. */
#include "gc_build.h"

#include <string.h>

/* N C H W Cout kh kw sh sw dh dw pt pb pl pr oph opw */
typedef struct geo { int N, C, H, W, O, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oph, opw; } geo;

enum { G_K3, G_SAME28, G_K4S3, G_DIL2, G_S2X3, G_K1, G_K5, G_N5, G_T7, G_T14, G_TOP, G_TASYM, G_T1 };

static const geo GEO[] = {
    [G_K3] = {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
    [G_SAME28] = {1, 1, 28, 28, 2, 5, 5, 2, 2, 1, 1, 1, 2, 1, 2, 0, 0},
    [G_K4S3] = {2, 2, 11, 10, 3, 4, 4, 3, 3, 1, 1, 0, 2, 1, 0, 0, 0},
    [G_DIL2] = {1, 2, 7, 8, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0, 0},
    [G_S2X3] = {1, 3, 9, 11, 5, 3, 5, 2, 3, 1, 2, 1, 0, 2, 3, 0, 0},
    [G_K1] = {1, 1, 4, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
    [G_K5] = {2, 5, 7, 7, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0},
    [G_N5] = {5, 2, 4, 4, 3, 3, 3, 2, 2, 1, 1, 1, 0, 0, 1, 0, 0},
    [G_T7] = {1, 3, 7, 7, 2, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
    [G_T14] = {1, 2, 14, 14, 1, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
    [G_TOP] = {2, 2, 5, 6, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
    [G_TASYM] = {2, 3, 4, 5, 2, 3, 2, 3, 2, 2, 1, 0, 1, 2, 0, 2, 1},
    [G_T1] = {1, 4, 3, 4, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
};

static tg_conv_opts opts_of(const geo *q)
{
    return (tg_conv_opts){.stride = {q->sh, q->sw}, .dilation = {q->dh, q->dw},
                          .pad = {q->pt, q->pb, q->pl, q->pr}, .out_pad = {q->oph, q->opw}};
}

/* iarg: geometry, transposed, variant (0: weigh(conv x); 1: x also read by
 * a mul after the conv; 2: conv + channel bias, tanh) */
static tg_node b_conv(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_graph *g = c->g;
    const geo *q = &GEO[s->iarg[0]];
    const int tr = s->iarg[1], var = s->iarg[2];
    tg_node x = gc_input_nd(c, "x", 4, (int[]){q->N, q->C, q->H, q->W}, F_U1);
    const int wd[4] = {tr ? q->C : q->O, tr ? q->O : q->C, q->kh, q->kw};
    tg_node w = gc_param_nd(c, "W", "w", 4, wd, F_U1);
    const tg_conv_opts o = opts_of(q);
    tg_node y = tr ? tg_conv_transpose2d(g, x, w, &o) : tg_conv2d(g, x, w, &o);
    if (var == 2) return gc_weigh(c, tg_tanh(g, tg_bias_add_axis(g, y, gc_param_nd(c, "W", "b", 1, &q->O, F_U1), 1)));
    tg_node l = gc_weigh(c, y);
    if (var != 1) return l;
    tg_node r2 = gc_input_nd(c, "R2", 4, (int[]){q->N, q->C, q->H, q->W}, F_U1);
    return tg_add(g, l, tg_sum(g, tg_mul(g, x, r2)));
}

/* iarg: ndim, axis; x (2,3,4,5) cut to ndim axes */
static tg_node b_bias_axis(tg_gc_ctx *c, const tg_gc_case *s)
{
    static const int d[4] = {2, 3, 4, 5};
    const int nd = s->iarg[0], axis = s->iarg[1];
    tg_node x = gc_input_nd(c, "x", nd, d, F_U1);
    return gc_weigh(c, tg_bias_add_axis(c->g, x, gc_param_nd(c, "W", "b", 1, &d[axis], F_U1), axis));
}

/* iarg: variant. 0: x (2,3,4) -> (6,4); 1: flatten (2,3,2,2) -> (2,12);
 * 2: (4,6) -> (-1,3); 3: tanh(x) (2,3,4) -> (4,6) -> (3,8), views of an
 * op node whose gradients the plan aliases */
static tg_node b_reshape(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_graph *g = c->g;
    switch (s->iarg[0]) {
    case 0: return gc_weigh(c, tg_reshape(g, gc_input_nd(c, "x", 3, (int[]){2, 3, 4}, F_U1), 2, (int[]){6, 4}));
    case 1: return gc_weigh(c, tg_flatten(g, gc_input_nd(c, "x", 4, (int[]){2, 3, 2, 2}, F_U1)));
    case 2: return gc_weigh(c, tg_reshape(g, gc_input_nd(c, "x", 2, (int[]){4, 6}, F_U1), 2, (int[]){-1, 3}));
    default: {
        tg_node t = tg_tanh(g, gc_input_nd(c, "x", 3, (int[]){2, 3, 4}, F_U1));
        return gc_weigh(c, tg_reshape(g, tg_reshape(g, t, 2, (int[]){4, 6}), 2, (int[]){3, 8}));
    }
    }
}

/* gamma, beta (group W) and running statistics (state, group S) for C channels */
static tg_node bn_of(tg_gc_ctx *c, tg_node x, int C)
{
    tg_node gamma = gc_param_nd(c, "W", "gamma", 1, &C, F_U1), beta = gc_param_nd(c, "W", "beta", 1, &C, F_U1);
    tg_param *rm = tg_param_new_state(c->ps, "S", "rm", 1, &C), *rv = tg_param_new_state(c->ps, "S", "rv", 1, &C);
    if (!rm || !rv) return tg_graph_fail(c->g, TG_ERR_ARG, tg_params_error(c->ps));
    gc_fill(c, tg_param_data(rm), (size_t)C, F_U1);
    gc_fill(c, tg_param_data(rv), (size_t)C, F_U01);
    for (int k = 0; k < C; k++) tg_param_data(rv)[k] += 0.5f; /* variances in [0.5, 1.5) */
    return tg_batch_norm(c->g, x, gamma, beta, rm, rv, 1e-5f, 0.1f);
}

/* iarg: 4 (x (3,4,3,2)) or 2 (x (6,5)), residual (x also read after) */
static tg_node b_bn(tg_gc_ctx *c, const tg_gc_case *s)
{
    const int four = s->iarg[0] == 4;
    const int *d = four ? (const int[]){3, 4, 3, 2} : (const int[]){6, 5};
    tg_node x = gc_input_nd(c, "x", four ? 4 : 2, d, F_U3);
    tg_node l = gc_weigh(c, bn_of(c, x, d[1]));
    if (!s->iarg[1]) return l;
    tg_node r2 = gc_input_nd(c, "R2", four ? 4 : 2, d, F_U1);
    return tg_add(c->g, l, tg_sum(c->g, tg_mul(c->g, x, r2)));
}

/* iarg: 0: a discriminator: x (2,1,8,8) -> conv 3x3 p1 + bias -> tanh ->
 * batch_norm -> conv 4x4 s2 p1 -> flatten -> linear -> softmax cross-entropy;
 * 1: a generator: z (2,4) -> linear -> reshape (2,2,3,3) -> batch_norm ->
 * tanh -> conv_transpose 4x4 s2 p1 (+ bias) -> tanh, weighed */
static tg_node b_net(tg_gc_ctx *c, const tg_gc_case *s)
{
    tg_graph *g = c->g;
    if (s->iarg[0] == 0) {
        tg_node x = gc_input_nd(c, "x", 4, (int[]){2, 1, 8, 8}, F_U1);
        tg_node w1 = gc_param_nd(c, "W", "c1.w", 4, (int[]){3, 1, 3, 3}, F_U1);
        tg_node b1 = gc_param_nd(c, "W", "c1.b", 1, (int[]){3}, F_U1);
        tg_node w2 = gc_param_nd(c, "W", "c2.w", 4, (int[]){2, 3, 4, 4}, F_U1);
        tg_node wl = gc_param_nd(c, "W", "l.w", 2, (int[]){32, 3}, F_U1);
        tg_node h = tg_bias_add_axis(g, tg_conv2d(g, x, w1, &(tg_conv_opts){.pad = {1, 1, 1, 1}}), b1, 1);
        h = bn_of(c, tg_tanh(g, h), 3); /* (a bias right before batch_norm would get no gradient) */
        h = tg_conv2d(g, h, w2, &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 1, 1, 1}});
        tg_node logits = tg_matmul(g, tg_flatten(g, h), wl);
        tg_node lab = tg_input_labels(g, "labels", 2);
        int32_t *l = gc_mem(c, 2 * sizeof *l);
        if (!l) return tg_graph_fail(g, TG_ERR_NOMEM, "gc case: no memory for labels");
        l[0] = 2, l[1] = 0;
        if (lab.id >= 0) tg_bind(g, lab, l);
        return tg_softmax_xent(g, logits, lab);
    }
    tg_node z = gc_input_nd(c, "z", 2, (int[]){2, 4}, F_U1);
    tg_node wl = gc_param_nd(c, "W", "l.w", 2, (int[]){4, 18}, F_U1);
    tg_node wt = gc_param_nd(c, "W", "t.w", 4, (int[]){2, 1, 4, 4}, F_U1);
    tg_node bt = gc_param_nd(c, "W", "t.b", 1, (int[]){1}, F_U1);
    tg_node h = tg_reshape(g, tg_matmul(g, z, wl), 4, (int[]){2, 2, 3, 3});
    h = tg_tanh(g, bn_of(c, h, 2));
    h = tg_conv_transpose2d(g, h, wt, &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 1, 1, 1}});
    return gc_weigh(c, tg_tanh(g, tg_bias_add_axis(g, h, bt, 1)));
}

#define CONV(name, what, gi, tr, var) {.op = name, .label = what, .build = b_conv, .iarg = {gi, tr, var, 0}}
#define C2(what, gi, var) CONV("conv2d", what, gi, 0, var)
#define CT(what, gi, var) CONV("conv_transpose2d", what, gi, 1, var)

const tg_gc_case tg_gc_conv_cases[] = {
    C2("k3 s1 p1 2x3x5x6->4", G_K3, 0),
    C2("same 28->14 k5 s2", G_SAME28, 0),
    C2("k4 s3 pad 0,2,1,0", G_K4S3, 0),
    C2("dilation 2 pad 2", G_DIL2, 0),
    C2("k3x5 s2x3 d1x2 asym", G_S2X3, 0),
    C2("k1 C=1 N=1", G_K1, 0),
    C2("k5 p2 5->3 channels", G_K5, 0),
    C2("N=5 k3 s2 pad 1,0,0,1", G_N5, 0),
    C2("x+: dx accumulates", G_K3, 1),
    C2("+channel bias, tanh", G_K4S3, 2),
    CT("DCGAN 7->14 k4 s2 p1", G_T7, 0),
    CT("DCGAN 14->28 k4 s2 p1", G_T14, 0),
    CT("k3 s2 p1 out_pad 1", G_TOP, 0),
    CT("k3x2 s3x2 d2x1 op2x1", G_TASYM, 0),
    CT("k1 s1", G_T1, 0),
    CT("x+: dx accumulates", G_TOP, 1),
    CT("+channel bias, tanh", G_T7, 2),
    {.op = "bias_add", .label = "channel: axis 1 2x3x4x5", .build = b_bias_axis, .iarg = {4, 1}},
    {.op = "bias_add", .label = "axis 0 of 2x3", .build = b_bias_axis, .iarg = {2, 0}},
    {.op = "bias_add", .label = "axis 2 of 2x3x4", .build = b_bias_axis, .iarg = {3, 2}},
    {.op = "reshape", .label = "2x3x4->6x4", .build = b_reshape, .iarg = {0}},
    {.op = "reshape", .label = "flatten 2x3x2x2->2x12", .build = b_reshape, .iarg = {1}},
    {.op = "reshape", .label = "4x6->-1x3", .build = b_reshape, .iarg = {2}},
    {.op = "reshape", .label = "views of tanh: ->4x6->3x8", .build = b_reshape, .iarg = {3}},
    {.op = "batch_norm", .label = "training 3x4x3x2", .build = b_bn, .iarg = {4, 0}},
    {.op = "batch_norm", .label = "training 6x5", .build = b_bn, .iarg = {2, 0}},
    {.op = "batch_norm", .label = "training, x+", .build = b_bn, .iarg = {4, 1}},
    {.op = "batch_norm", .label = "eval 3x4x3x2", .build = b_bn, .iarg = {4, 0}, .eval = 1},
    {.op = "batch_norm", .label = "eval 6x5", .build = b_bn, .iarg = {2, 0}, .eval = 1},
    {.op = "batch_norm", .label = "eval, x+", .build = b_bn, .iarg = {2, 1}, .eval = 1},
    {.op = "model", .label = "conv-bn-D", .build = b_net, .iarg = {0}},
    {.op = "model", .label = "convT-bn-G", .build = b_net, .iarg = {1}},
};

const int tg_gc_conv_ncases = (int)(sizeof tg_gc_conv_cases / sizeof tg_gc_conv_cases[0]);
