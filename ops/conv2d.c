/* conv2d.c - 2-D convolution, NCHW, as PyTorch's conv2d with padding given
 * per side (groups 1).
 * Legend: x (N, Cin, H, W), w (Cout, Cin, kh, kw), y (N, Cout, OH, OW); a tap
 * (c, u, v) of output (i, j) reads x at row i sh + u dh - pt, column
 * j sw + v dw - pl (0 outside x).
 *   y[n,o,i,j]   = sum_{c,u,v} x[n,c,tap] w[o,c,u,v]
 *   dx[n,c,tap] += sum_{o,i,j,u,v} dy[n,o,i,j] w[o,c,u,v]
 *   dw[o,c,u,v] += sum_{n,i,j} dy[n,o,i,j] x[n,c,tap]
 * f64: these loops as written (the oracle gradient checks run). f32: im2col
 * and the packed GEMMs over groups of images (conv_core.h): y = w colT(x)^T
 * computed pixel-major, (pixels, Cout), with the fused bias and activation
 * in the GEMM's epilogue (a bias per column: one per output channel), then
 * transposed into NCHW; dx = col2im(dy^T w); dw += dy colT(x). */
#include "conv_core.h"

#include <string.h>

static tg_cgeom geom(const tg_run *r) { return tg_cgeom_of(r->n, r->in[0], r->n); }

static void fwd64(tg_run *r)
{
    const tg_cgeom g = geom(r);
    const double *x = r->x[0], *w = r->x[1];
    double *y = r->y;
    for (int n = 0; n < g.N; n++)
        for (int o = 0; o < g.R; o++)
            for (int i = 0; i < g.OH; i++)
                for (int j = 0; j < g.OW; j++) {
                    double s = 0.0;
                    for (int c = 0; c < g.C; c++)
                        for (int u = 0; u < g.kh; u++)
                            for (int v = 0; v < g.kw; v++) {
                                const int iy = i * g.sh + u * g.dh - g.pt, ix = j * g.sw + v * g.dw - g.pl;
                                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                                s += x[(((size_t)n * g.C + c) * g.H + iy) * g.W + ix] *
                                     w[(((size_t)o * g.C + c) * g.kh + u) * g.kw + v];
                            }
                    y[(((size_t)n * g.R + o) * g.OH + i) * g.OW + j] = s;
                }
}

/* f64 backward, with a fault-injection build's wrong taps (fault.h) */
static void bwd64(tg_run *r)
{
    const tg_cgeom g = geom(r);
    const double *x = r->x[0], *w = r->x[1], *dy = r->dy;
    double *dx = r->dx[0], *dw = r->dx[1];
    if (dx && (r->fresh[0] || TG_FAULT(r->n, CONV2D, dx_overwrites))) memset(dx, 0, r->in[0]->numel * sizeof *dx);
    if (dw && r->fresh[1]) memset(dw, 0, r->in[1]->numel * sizeof *dw);
    const int nodil = TG_FAULT(r->n, CONV2D, dx_no_dilation), swap = TG_FAULT(r->n, CONV2D, dw_pad_swapped);
    const int xdh = nodil ? 1 : g.dh, xdw = nodil ? 1 : g.dw; /* dx's dilation */
    const int wpt = swap ? g.pl : g.pt, wpl = swap ? g.pt : g.pl; /* dw's padding */
    for (int n = 0; n < g.N; n++)
        for (int o = 0; o < g.R; o++)
            for (int i = 0; i < g.OH; i++)
                for (int j = 0; j < g.OW; j++) {
                    const double gy = dy[(((size_t)n * g.R + o) * g.OH + i) * g.OW + j];
                    for (int c = 0; c < g.C; c++)
                        for (int u = 0; u < g.kh; u++)
                            for (int v = 0; v < g.kw; v++) {
                                const size_t wi = (((size_t)o * g.C + c) * g.kh + u) * g.kw + v;
                                int iy = i * g.sh + u * xdh - g.pt, ix = j * g.sw + v * xdw - g.pl;
                                if (dx && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
                                    dx[(((size_t)n * g.C + c) * g.H + iy) * g.W + ix] += gy * w[wi];
                                iy = i * g.sh + u * g.dh - wpt, ix = j * g.sw + v * g.dw - wpl;
                                if (dw && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
                                    dw[wi] += gy * x[(((size_t)n * g.C + c) * g.H + iy) * g.W + ix];
                            }
                }
}

static void conv_fwd(tg_run *r)
{
    if (r->f64) {
        fwd64(r);
        return;
    }
    const tg_cgeom g = geom(r);
    /* y is the fused bias node's (or activation's) value when epi.bias */
    tg_conv_pass_cols(r->ex, &g, r->x[1], r->x[0], r->y, 0, r->epi.bias, r->epi.act, r->epi.slope,
                      tg_conv_scratch(&g, r->scratch));
}

static void conv_bwd(tg_run *r)
{
    if (r->f64) {
        bwd64(r);
        return;
    }
    const tg_cgeom g = geom(r);
    /* with a fused mask / activation backward (engine/fuse.c), dx[0] is the
     * gradient below them, written fresh */
    tg_conv_pass_bwd_cols(r->ex, &g, r->x[1], r->x[0], r->dy, r->dx[0], !r->fresh[0], r->bepi.on ? &r->bepi : NULL,
                          r->dx[1], !r->fresh[1], tg_conv_scratch(&g, r->scratch));
}

static size_t conv_scratch(const tg_graph *gr, const tg_nrec *n, int f64, int pass)
{
    if (f64) return 0; /* the direct loops need none */
    const tg_cgeom g = tg_cgeom_of(n, &gr->n[n->in[0]], n);
    (void)pass;
    return tg_conv_scratch_floats(&g) * sizeof(float);
}

static size_t conv_ws(const tg_graph *gr, const tg_nrec *n, const tg_kern *k)
{
    const tg_cgeom g = tg_cgeom_of(n, &gr->n[n->in[0]], n);
    return tg_conv_ws_floats(&g, k);
}

/* the forward GEMM's epilogue adds a bias per output channel (axis 1 of
 * (N, Cout, OH, OW): a column of the pixel-major (pixels, Cout) product),
 * then an activation */
static int conv_epi_axis(const tg_nrec *n)
{
    (void)n;
    return 1;
}

/* the input gradient (col2im) can apply a mask's and a y-only activation's
 * backward to each image as it finishes it (the leaky_relu between D's two
 * convolutions) */
static int conv_bwd_epi_ok(const tg_nrec *n)
{
    (void)n;
    return 1;
}

const tg_opdesc tg_op_conv2d = {
    .name = "conv2d",
    .bwd_needs = TG_NEED_X0 | TG_NEED_X1,
    .scratch_bytes = conv_scratch,
    .ws_floats = conv_ws,
    .fwd = conv_fwd,
    .bwd = conv_bwd,
    .fresh_ok = 1,
    .describe = tg_conv_describe,
    .epi_bias_axis = conv_epi_axis,
    .bwd_epi_ok = conv_bwd_epi_ok,
};

tg_node tg_conv2d(tg_graph *g, tg_node x, tg_node w, const tg_conv_opts *o)
{
    tg_node in[2] = {x, w};
    if (!tg_check_inputs(g, "conv2d", in, 2)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x), *b = tg_rec(g, w);
    tg_attrs at;
    if (!tg_conv_check(g, "conv2d", a, b, 1, o, 0, &at)) return (tg_node){-1};
    const int oh = tg_conv_out_size(a->d[2], at.pad[0] + at.pad[1], at.kernel[0], at.stride[0], at.dilation[0]);
    const int ow = tg_conv_out_size(a->d[3], at.pad[2] + at.pad[3], at.kernel[1], at.stride[1], at.dilation[1]);
    if (oh <= 0 || ow <= 0) {
        char sx[64];
        return tg_fail(g, TG_ERR_SHAPE,
                       "conv2d: the %dx%d kernel with dilation %dx%d spans %ldx%ld, more than x %s padded by "
                       "%d,%d,%d,%d (%ldx%ld)",
                       at.kernel[0], at.kernel[1], at.dilation[0], at.dilation[1],
                       (long)at.dilation[0] * (at.kernel[0] - 1) + 1, (long)at.dilation[1] * (at.kernel[1] - 1) + 1,
                       tg_shape_str(a, sx, sizeof sx), at.pad[0], at.pad[1], at.pad[2], at.pad[3],
                       (long)a->d[2] + at.pad[0] + at.pad[1], (long)a->d[3] + at.pad[2] + at.pad[3]);
    }
    return tg_push(g, &tg_op_conv2d, in, 2, 4, (int[]){a->d[0], b->d[0], oh, ow}, &at);
}
