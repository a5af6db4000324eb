/* conv_transpose2d.c - the transpose of conv2d (PyTorch's ConvTranspose2d,
 * groups 1), with padding per side and output_padding.
 * Legend: x (N, Cin, H, W), w (Cin, Cout, kh, kw), y (N, Cout, OH, OW);
 * input (i, j) with tap (u, v) lands on y's row i sh + u dh - pt, column
 * j sw + v dw - pl (dropped outside y).
 *   y[n,o,tap]   += x[n,c,i,j] w[c,o,u,v]          (y starts at 0)
 *   dx[n,c,i,j]  += sum_{o,u,v} dy[n,o,tap] w[c,o,u,v]
 *   dw[c,o,u,v]  += sum_{n,i,j} x[n,c,i,j] dy[n,o,tap]
 * It is conv2d's input gradient with y in x's place, so the f32 path is
 * conv2d's machinery with the roles turned (conv_core.h: y is the image
 * side, x the column side, w (Cin, Cout kh kw) the weight):
 *   y = col2im(x^T w) (then the fused bias and activation),
 *   dx = w colT(dy)^T (conv2d's forward), dw += x colT(dy) (conv2d's weight
 *   gradient), over groups of images. f64: the loops above (the oracle). */
#include "conv_core.h"

#include <string.h>

/* image side y (the node), column side x */
static tg_cgeom geom(const tg_run *r) { return tg_cgeom_of(r->n, r->n, r->in[0]); }

/* index helpers over the geometry: x (N, R, OH, OW), y (N, C, H, W), w (R, C, kh, kw) */
#define XI(n, q, i, j) ((((size_t)(n) * g.R + (q)) * g.OH + (i)) * g.OW + (j))
#define YI(n, c, i, j) ((((size_t)(n) * g.C + (c)) * g.H + (i)) * g.W + (j))
#define WI(q, c, u, v) ((((size_t)(q) * g.C + (c)) * g.kh + (u)) * g.kw + (v))

static void fwd64(tg_run *r)
{
    const tg_cgeom g = geom(r);
    const double *x = r->x[0], *w = r->x[1];
    double *y = r->y;
    memset(y, 0, r->n->numel * sizeof *y);
    for (int n = 0; n < g.N; n++)
        for (int q = 0; q < g.R; q++)
            for (int i = 0; i < g.OH; i++)
                for (int j = 0; j < g.OW; j++)
                    for (int c = 0; c < g.C; c++)
                        for (int u = 0; u < g.kh; u++)
                            for (int v = 0; v < g.kw; v++) {
                                const int oy = i * g.sh + u * g.dh - g.pt, ox = j * g.sw + v * g.dw - g.pl;
                                if (oy >= 0 && oy < g.H && ox >= 0 && ox < g.W)
                                    y[YI(n, c, oy, ox)] += x[XI(n, q, i, j)] * w[WI(q, c, u, v)];
                            }
}

/* f64 backward, with a fault-injection build's wrong taps (fault.h) */
static void bwd64(tg_run *r)
{
    const tg_cgeom g = geom(r);
    const tg_attrs *a = tg_attr(r->n);
    const double *x = r->x[0], *w = r->x[1], *dy = r->dy;
    double *dx = r->dx[0], *dw = r->dx[1];
    if (dx && r->fresh[0]) memset(dx, 0, r->in[0]->numel * sizeof *dx);
    if (dw && r->fresh[1]) memset(dw, 0, r->in[1]->numel * sizeof *dw);
    /* dx's bounds: y's size, or without its output_padding rows and columns */
    const int drop = TG_FAULT(r->n, CONV_TRANSPOSE2D, dx_drops_out_pad);
    const int xh = drop ? g.H - a->out_pad[0] : g.H, xw = drop ? g.W - a->out_pad[1] : g.W;
    const int wsh = TG_FAULT(r->n, CONV_TRANSPOSE2D, dw_stride_one) ? 1 : g.sh; /* dw's row stride */
    for (int n = 0; n < g.N; n++)
        for (int q = 0; q < g.R; q++)
            for (int i = 0; i < g.OH; i++)
                for (int j = 0; j < g.OW; j++) {
                    double gx = 0.0;
                    for (int c = 0; c < g.C; c++)
                        for (int u = 0; u < g.kh; u++)
                            for (int v = 0; v < g.kw; v++) {
                                const int ox = j * g.sw + v * g.dw - g.pl;
                                int oy = i * g.sh + u * g.dh - g.pt;
                                if (dx && oy >= 0 && oy < xh && ox >= 0 && ox < xw)
                                    gx += dy[YI(n, c, oy, ox)] * w[WI(q, c, u, v)];
                                oy = i * wsh + u * g.dh - g.pt;
                                if (dw && oy >= 0 && oy < g.H && ox >= 0 && ox < g.W)
                                    dw[WI(q, c, u, v)] += x[XI(n, q, i, j)] * dy[YI(n, c, oy, ox)];
                            }
                    if (dx) dx[XI(n, q, i, j)] += gx;
                }
}

static void convt_fwd(tg_run *r)
{
    if (r->f64) {
        fwd64(r);
        return;
    }
    const tg_cgeom g = geom(r);
    tg_conv_pass_data(r->ex, &g, r->x[1], r->x[0], r->y, 0, tg_conv_scratch(&g, r->scratch));
    /* the fused bias (and activation), image by image after col2im: the
     * same element-wise operations as the bias and activation nodes */
    if (r->epi.bias)
        tg_conv_bias_act(r->ex, r->y, r->epi.bias, g.N, g.C, (size_t)g.H * g.W, r->epi.act, r->epi.slope);
}

static void convt_bwd(tg_run *r)
{
    if (r->f64) {
        bwd64(r);
        return;
    }
    const tg_cgeom g = geom(r);
    /* with a fused mask / activation backward (engine/fuse.c), dx[0] is the
     * gradient below them, written fresh */
    tg_conv_pass_bwd_data(r->ex, &g, r->x[1], r->x[0], r->dy, r->dx[0], !r->fresh[0], r->bepi.on ? &r->bepi : NULL,
                          r->dx[1], !r->fresh[1], tg_conv_scratch(&g, r->scratch));
}

static size_t convt_scratch(const tg_graph *gr, const tg_nrec *n, int f64, int pass)
{
    if (f64) return 0;
    const tg_cgeom g = tg_cgeom_of(n, n, &gr->n[n->in[0]]);
    (void)pass;
    return tg_conv_scratch_floats(&g) * sizeof(float);
}

static size_t convt_ws(const tg_graph *gr, const tg_nrec *n, const tg_kern *k)
{
    const tg_cgeom g = tg_cgeom_of(n, n, &gr->n[n->in[0]]);
    return tg_conv_ws_floats(&g, k);
}

/* a bias per output channel (axis 1), then an activation, applied in the
 * op right after col2im */
static int convt_epi_axis(const tg_nrec *n)
{
    (void)n;
    return 1;
}

/* the input gradient (conv2d's forward product) can apply a mask's and a
 * y-only activation's backward as it writes each piece of dx (the relu
 * between G's two transposed convolutions) */
static int convt_bwd_epi_ok(const tg_nrec *n)
{
    (void)n;
    return 1;
}

const tg_opdesc tg_op_conv_transpose2d = {
    .name = "conv_transpose2d",
    .bwd_needs = TG_NEED_X0 | TG_NEED_X1,
    .scratch_bytes = convt_scratch,
    .ws_floats = convt_ws,
    .fwd = convt_fwd,
    .bwd = convt_bwd,
    .fresh_ok = 1,
    .describe = tg_conv_describe,
    .epi_bias_axis = convt_epi_axis,
    .bwd_epi_ok = convt_bwd_epi_ok,
};

tg_node tg_conv_transpose2d(tg_graph *g, tg_node x, tg_node w, const tg_conv_opts *o)
{
    tg_node in[2] = {x, w};
    if (!tg_check_inputs(g, "conv_transpose2d", in, 2)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x), *b = tg_rec(g, w);
    tg_attrs at;
    if (!tg_conv_check(g, "conv_transpose2d", a, b, 0, o, 1, &at)) return (tg_node){-1};
    long out[2];
    for (int k = 0; k < 2; k++)
        out[k] = (long)(a->d[2 + k] - 1) * at.stride[k] - at.pad[2 * k] - at.pad[2 * k + 1] +
                 (long)at.dilation[k] * (at.kernel[k] - 1) + at.out_pad[k] + 1;
    if (out[0] <= 0 || out[1] <= 0 || out[0] > INT32_MAX || out[1] > INT32_MAX) {
        char sx[64];
        return tg_fail(g, TG_ERR_SHAPE, "conv_transpose2d: the output would be %ldx%ld (x %s, padding %d,%d,%d,%d)",
                       out[0], out[1], tg_shape_str(a, sx, sizeof sx), at.pad[0], at.pad[1], at.pad[2], at.pad[3]);
    }
    return tg_push(g, &tg_op_conv_transpose2d, in, 2, 4, (int[]){a->d[0], b->d[1], (int)out[0], (int)out[1]}, &at);
}
