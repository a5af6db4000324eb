/* conv_core.c - geometry, im2col / col2im and the f32 GEMM passes that
 * conv2d and conv_transpose2d share (conv_core.h). Legend as there: image
 * side (N, C, H, W), column side (N, R, OH, OW), Wm (R, K), K = C kh kw,
 * P = OH OW, groups of G images whose columns sit side by side (ld = G P).
 *
 * Every piece of work is split so that each output element is computed by
 * one task with a fixed sequence of operations: im2col rows, col2im planes
 * (one image channel each, contributions added in (u, v, i, j) order), GEMM
 * column blocks (engine/exec.c). Results do not depend on the thread count. */
#include "conv_core.h"

#include <stdio.h>
#include <string.h>

#define CONV_GROUP_MAX TG_GEMMS_MAX     /* tg_exec_gemms runs a group's GEMMs as one job */
#define CONV_SCRATCH_BUDGET (1u << 22)  /* floats of col + gathered column side per group */
#define CONV_SPLIT_K 128                /* weight gradients narrower than this: one GEMM per image */

int tg_conv_out_size(int in, int pad_sum, int k, int s, int d)
{
    const long span = (long)d * (k - 1) + 1, room = (long)in + pad_sum - span;
    return room < 0 ? 0 : (int)(room / s + 1);
}

tg_cgeom tg_cgeom_of(const tg_nrec *n, const tg_nrec *img, const tg_nrec *col)
{
    const tg_attrs *a = tg_attr(n);
    tg_cgeom g = {.N = img->d[0], .C = img->d[1], .H = img->d[2], .W = img->d[3],
                  .R = col->d[1], .OH = col->d[2], .OW = col->d[3],
                  .kh = a->kernel[0], .kw = a->kernel[1], .sh = a->stride[0], .sw = a->stride[1],
                  .dh = a->dilation[0], .dw = a->dilation[1], .pt = a->pad[0], .pl = a->pad[2]};
    g.K = g.C * g.kh * g.kw;
    g.P = g.OH * g.OW;
    g.G = g.N < CONV_GROUP_MAX ? g.N : CONV_GROUP_MAX;
    while (g.G > 1 && (size_t)g.G * (size_t)(g.K + g.R) * (size_t)g.P > CONV_SCRATCH_BUDGET) g.G--;
    g.S = g.G > 1 && g.K < CONV_SPLIT_K ? g.G : 1;
    return g;
}

static size_t a16(size_t n) { return (n + 15) & ~(size_t)15; } /* 64-byte multiples */

size_t tg_conv_scratch_floats(const tg_cgeom *g, int with_gath, int with_part)
{
    const size_t gp = (size_t)g->G * (size_t)g->P;
    return a16((size_t)g->K * gp) + (with_gath || with_part ? a16((size_t)g->R * gp) : 0) +
           (with_part && g->S > 1 ? a16((size_t)g->S * (size_t)g->R * (size_t)g->K) : 0);
}

tg_cscr tg_conv_scratch(const tg_cgeom *g, void *scratch)
{
    const size_t gp = (size_t)g->G * (size_t)g->P;
    tg_cscr s;
    s.col = scratch;
    s.gath = s.col + a16((size_t)g->K * gp);
    s.part = s.gath + a16((size_t)g->R * gp);
    return s;
}

/* descriptors of the passes' GEMMs for a group of gc images (pointers may
 * be NULL when only the workspace size is wanted) */
static tg_gemm_desc gemm_cols(const tg_cgeom *g, const float *wm, const float *col, float *out, int beta)
{
    return TG_GEMM(g->R, g->P, g->K, wm, g->K, 0, col, g->G * g->P, 0, out, g->P, beta);
}
static tg_gemm_desc gemm_data(const tg_cgeom *g, int gc, const float *wm, const float *src, float *col)
{
    return TG_GEMM(g->K, gc * g->P, g->R, wm, g->K, 1, src, g->G * g->P, 0, col, g->G * g->P, 0);
}
static tg_gemm_desc gemm_dw(const tg_cgeom *g, int cols, const float *a, const float *col, float *dw, int beta)
{
    return TG_GEMM(g->R, g->K, cols, a, g->G * g->P, 0, col, g->G * g->P, 1, dw, g->K, beta);
}

size_t tg_conv_ws_floats(const tg_cgeom *g, const tg_kern *k)
{
    size_t w = 0;
    const int gcs[2] = {g->G, g->N % g->G};
    for (int q = 0; q < 2; q++) {
        const int gc = gcs[q];
        if (gc <= 0) continue;
        tg_gemm_desc d[3] = {gemm_cols(g, NULL, NULL, NULL, 0), gemm_data(g, gc, NULL, NULL, NULL),
                             gemm_dw(g, g->S > 1 ? g->P : gc * g->P, NULL, NULL, NULL, 0)};
        for (int i = 0; i < 3; i++) {
            const size_t x = tg_exec_gemm_ws(k, &d[i]);
            if (x > w) w = x;
        }
    }
    return w;
}

/* ---- im2col, col2im, gather: split over the pool ---- */
typedef struct cjob {
    const tg_cgeom *g;
    const float *src;
    float *dst;
    int n0, acc;
} cjob;

/* output positions j in [lo, hi) read inside the input: 0 <= j s + off < in */
static void span(int off, int s, int in, int out, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + s - 1) / s;
    int b = in - 1 - off < 0 ? 0 : (in - 1 - off) / s + 1;
    a = a < out ? a : out;
    b = b < out ? b : out;
    *lo = a;
    *hi = b > a ? b : a;
}

/* dst[j] = src[j s + off] for j in [lo, hi) (s = 2 spelled out: the
 * compiler vectorizes the constant stride with shuffles) */
static void gather_row(float *restrict dst, const float *restrict src, int lo, int hi, int s, int off)
{
    if (s == 1) {
        if (hi > lo) memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof *dst);
    } else if (s == 2) {
        for (int j = lo; j < hi; j++) dst[j] = src[2 * j + off];
    } else {
        for (int j = lo; j < hi; j++) dst[j] = src[j * s + off];
    }
}

/* rows [r0, r1) of the group's col, row r = gi K + k: col[k][gi P + i OW + j] */
static void im2col_rows(void *ctx, size_t r0, size_t r1)
{
    const cjob *jb = ctx;
    const tg_cgeom *g = jb->g;
    const size_t ld = (size_t)g->G * (size_t)g->P;
    for (size_t r = r0; r < r1; r++) {
        const int gi = (int)(r / (size_t)g->K), k = (int)(r % (size_t)g->K);
        const int c = k / (g->kh * g->kw), u = k / g->kw % g->kh, v = k % g->kw;
        const float *img = jb->src + ((size_t)(jb->n0 + gi) * g->C + (size_t)c) * g->H * g->W;
        float *dst = jb->dst + (size_t)k * ld + (size_t)gi * g->P;
        const int offx = v * g->dw - g->pl;
        int lo, hi;
        span(offx, g->sw, g->W, g->OW, &lo, &hi);
        for (int i = 0; i < g->OH; i++, dst += g->OW) {
            const int iy = i * g->sh + u * g->dh - g->pt;
            if (iy < 0 || iy >= g->H) {
                memset(dst, 0, (size_t)g->OW * sizeof *dst);
                continue;
            }
            for (int j = 0; j < lo; j++) dst[j] = 0.0f;
            gather_row(dst, img + (size_t)iy * g->W, lo, hi, g->sw, offx);
            for (int j = hi; j < g->OW; j++) dst[j] = 0.0f;
        }
    }
}

static void im2col(tg_exec *ex, const tg_cgeom *g, const float *img, int n0, int gc, float *col)
{
    cjob jb = {g, img, col, n0, 0};
    tg_exec_range(ex, (size_t)gc * (size_t)g->K, 1, (size_t)g->P, im2col_rows, &jb);
}

/* image planes [p0, p1) of the group, plane p = gi C + c: the sum of every
 * col entry that im2col would read from it (acc: added to what is there) */
static void col2im_planes(void *ctx, size_t p0, size_t p1)
{
    const cjob *jb = ctx;
    const tg_cgeom *g = jb->g;
    const size_t ld = (size_t)g->G * (size_t)g->P, hw = (size_t)g->H * (size_t)g->W;
    for (size_t p = p0; p < p1; p++) {
        const int gi = (int)(p / (size_t)g->C), c = (int)(p % (size_t)g->C);
        float *img = jb->dst + ((size_t)(jb->n0 + gi) * g->C + (size_t)c) * hw;
        if (!jb->acc) memset(img, 0, hw * sizeof *img);
        for (int u = 0; u < g->kh; u++)
            for (int v = 0; v < g->kw; v++) {
                const size_t k = ((size_t)c * g->kh + (size_t)u) * g->kw + (size_t)v;
                const float *src = jb->src + k * ld + (size_t)gi * g->P;
                const int offx = v * g->dw - g->pl;
                int lo, hi;
                span(offx, g->sw, g->W, g->OW, &lo, &hi);
                for (int i = 0; i < g->OH; i++) {
                    const int iy = i * g->sh + u * g->dh - g->pt;
                    if (iy < 0 || iy >= g->H) continue;
                    float *row = img + (size_t)iy * g->W;
                    const float *s = src + (size_t)i * g->OW;
                    for (int j = lo; j < hi; j++) row[j * g->sw + offx] += s[j];
                }
            }
    }
}

static void col2im(tg_exec *ex, const tg_cgeom *g, const float *col, int n0, int gc, float *img, int acc)
{
    cjob jb = {g, col, img, n0, acc};
    tg_exec_range(ex, (size_t)gc * (size_t)g->C, 1, (size_t)g->K / (size_t)g->C * (size_t)g->P, col2im_planes, &jb);
}

/* rows [r0, r1) of the gathered column side, row r = gi R + q */
static void gather_rows(void *ctx, size_t r0, size_t r1)
{
    const cjob *jb = ctx;
    const tg_cgeom *g = jb->g;
    const size_t ld = (size_t)g->G * (size_t)g->P;
    for (size_t r = r0; r < r1; r++) {
        const size_t gi = r / (size_t)g->R, q = r % (size_t)g->R;
        memcpy(jb->dst + q * ld + gi * (size_t)g->P, jb->src + (((size_t)jb->n0 + gi) * g->R + q) * g->P,
               (size_t)g->P * sizeof(float));
    }
}

/* the group's column side as (R, G P): gathered into gath, or the tensor
 * itself when a group is one image */
static const float *gather(tg_exec *ex, const tg_cgeom *g, const float *colside, int n0, int gc, float *gath)
{
    if (g->G == 1) return colside + (size_t)n0 * g->R * g->P;
    cjob jb = {g, colside, gath, n0, 0};
    tg_exec_range(ex, (size_t)gc * (size_t)g->R, 1, (size_t)g->P, gather_rows, &jb);
    return gath;
}

/* ---- the passes ---- */
/* colside_n (+)= Wm col_n for the group's images: gc GEMMs, one pool job */
static void cols_gemms(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *col, float *colside, int n0,
                       int gc, int beta, const float *bias_row, tg_act act, float slope)
{
    tg_gemm_desc d[CONV_GROUP_MAX];
    const tg_gemm_desc *ds[CONV_GROUP_MAX];
    for (int gi = 0; gi < gc; gi++) {
        d[gi] = gemm_cols(g, wm, col + (size_t)gi * g->P, colside + (size_t)(n0 + gi) * g->R * g->P, beta);
        if (bias_row) {
            d[gi].bias_row = bias_row;
            d[gi].act = act;
            d[gi].slope = slope;
        }
        ds[gi] = &d[gi];
    }
    tg_exec_gemms(ex, ds, gc);
}

/* dWm (+)= a col^T over the group. S = 1: one GEMM, a the gathered column
 * side (R, gc P). S > 1: one GEMM per image into the partial sums (the
 * first group starts them), a that image's (R, P) in the tensor itself
 * (colside_n: no gather). */
static void dw_gemms(tg_exec *ex, const tg_cgeom *g, const float *a, const float *colside, const float *col, int n0,
                     int gc, float *dwm, int acc, float *part)
{
    const int first = n0 == 0;
    if (g->S == 1) {
        tg_gemm_desc d = gemm_dw(g, gc * g->P, a, col, dwm, acc || !first);
        tg_exec_gemm(ex, &d);
        return;
    }
    tg_gemm_desc d[CONV_GROUP_MAX];
    const tg_gemm_desc *ds[CONV_GROUP_MAX];
    for (int s = 0; s < gc; s++) {
        d[s] = gemm_dw(g, g->P, colside + (size_t)(n0 + s) * g->R * g->P, col + (size_t)s * g->P,
                       part + (size_t)s * g->R * g->K, !first);
        d[s].lda = g->P;
        ds[s] = &d[s];
    }
    tg_exec_gemms(ex, ds, gc);
}

typedef struct djob { const tg_cgeom *g; const float *part; float *dwm; int acc; } djob;

/* dWm (+)= part_0 + part_1 + ... + part_{S-1}, left to right */
static void dw_finish_range(void *ctx, size_t e0, size_t e1)
{
    const djob *j = ctx;
    const size_t n = (size_t)j->g->R * (size_t)j->g->K;
    for (size_t e = e0; e < e1; e++) {
        float v = j->part[e];
        for (int s = 1; s < j->g->S; s++) v += j->part[(size_t)s * n + e];
        j->dwm[e] = j->acc ? j->dwm[e] + v : v;
    }
}

static void dw_finish(tg_exec *ex, const tg_cgeom *g, const float *part, float *dwm, int acc)
{
    if (g->S == 1) return;
    djob j = {g, part, dwm, acc};
    tg_exec_range(ex, (size_t)g->R * (size_t)g->K, 16, (size_t)g->S, dw_finish_range, &j);
}

void tg_conv_pass_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, float *colside,
                       int beta, const float *bias_row, tg_act act, float slope, tg_cscr s)
{
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        im2col(ex, g, img, n0, gc, s.col);
        cols_gemms(ex, g, wm, s.col, colside, n0, gc, beta, bias_row, act, slope);
    }
}

void tg_conv_pass_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside, float *img, int acc,
                       tg_cscr s)
{
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        tg_gemm_desc d = gemm_data(g, gc, wm, gather(ex, g, colside, n0, gc, s.gath), s.col);
        tg_exec_gemm(ex, &d);
        col2im(ex, g, s.col, n0, gc, img, acc);
    }
}

void tg_conv_pass_bwd_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, const float *dcol,
                           float *dimg, int acc_img, float *dwm, int acc_w, tg_cscr s)
{
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        /* the gathered dcol: for the data GEMM, and a weight gradient in one GEMM */
        const float *a = dimg || g->S == 1 ? gather(ex, g, dcol, n0, gc, s.gath) : NULL;
        if (dwm) {
            im2col(ex, g, img, n0, gc, s.col);
            dw_gemms(ex, g, a, dcol, s.col, n0, gc, dwm, acc_w, s.part);
        }
        if (dimg) { /* col (K, gc P) = Wm^T dcol, then into the images */
            tg_gemm_desc d = gemm_data(g, gc, wm, a, s.col);
            tg_exec_gemm(ex, &d);
            col2im(ex, g, s.col, n0, gc, dimg, acc_img);
        }
    }
    if (dwm) dw_finish(ex, g, s.part, dwm, acc_w);
}

void tg_conv_pass_bwd_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside,
                           const float *dimg, float *dcolside, int acc_col, float *dwm, int acc_w, tg_cscr s)
{
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        im2col(ex, g, dimg, n0, gc, s.col);
        if (dcolside) cols_gemms(ex, g, wm, s.col, dcolside, n0, gc, acc_col, NULL, TG_ACT_NONE, 0.0f);
        if (dwm)
            dw_gemms(ex, g, g->S == 1 ? gather(ex, g, colside, n0, gc, s.gath) : NULL, colside, s.col, n0, gc, dwm,
                     acc_w, s.part);
    }
    if (dwm) dw_finish(ex, g, s.part, dwm, acc_w);
}

/* ---- bias and activation after col2im ---- */
typedef struct bjob {
    const tg_kern *k;
    float *y;
    const float *b;
    int C;
    size_t hw;
    tg_act act;
    float slope;
} bjob;

static void bias_act_planes(void *ctx, size_t p0, size_t p1)
{
    const bjob *j = ctx;
    for (size_t p = p0; p < p1; p++) {
        float *y = j->y + p * j->hw;
        const float b = j->b[p % (size_t)j->C];
        for (size_t i = 0; i < j->hw; i++) y[i] = y[i] + b;
        if (j->act != TG_ACT_NONE) j->k->act_fwd(j->act, j->slope, y, y, j->hw);
    }
}

void tg_conv_bias_act(tg_exec *ex, float *y, const float *b, int N, int C, size_t HW, tg_act act, float slope)
{
    bjob j = {ex->k, y, b, C, HW, act, slope};
    tg_exec_range(ex, (size_t)N * (size_t)C, 1, HW * (act == TG_ACT_NONE ? 1 : 4), bias_act_planes, &j);
}

#define CONV_ARG_MAX 65536 /* strides, dilations, paddings: far beyond any real layer */

static int bad2(const int *v, int lo) { return v[0] < lo || v[1] < lo || v[0] > CONV_ARG_MAX || v[1] > CONV_ARG_MAX; }

int tg_conv_check(tg_graph *g, const char *op, const tg_nrec *x, const tg_nrec *w, int wc, const tg_conv_opts *o,
                  int transposed, tg_attrs *a)
{
    static const tg_conv_opts defaults = {{1, 1}, {1, 1}, {0, 0, 0, 0}, {0, 0}, 1};
    char sx[64], sw[64];
    if (!o) o = &defaults;
    tg_shape_str(x, sx, sizeof sx);
    tg_shape_str(w, sw, sizeof sw);
    if (x->ndim != 4 || w->ndim != 4) {
        tg_fail(g, TG_ERR_SHAPE, "%s: x is %s and w is %s; want x (N,C,H,W) and w (%s,kh,kw)", op, sx, sw,
                transposed ? "Cin,Cout" : "Cout,Cin");
        return 0;
    }
    if (w->d[wc] != x->d[1]) {
        tg_fail(g, TG_ERR_SHAPE, "%s: x is %s but w is %s (x has %d channels, w takes %d)", op, sx, sw, x->d[1],
                w->d[wc]);
        return 0;
    }
    if (o->groups != 0 && o->groups != 1) {
        tg_fail(g, TG_ERR_ARG, "%s: groups = %d is not supported (only 1)", op, o->groups);
        return 0;
    }
    *a = (tg_attrs){.kernel = {w->d[2], w->d[3]}, .groups = 1};
    for (int k = 0; k < 2; k++) {
        a->stride[k] = o->stride[k] ? o->stride[k] : 1;
        a->dilation[k] = o->dilation[k] ? o->dilation[k] : 1;
        a->out_pad[k] = o->out_pad[k];
    }
    for (int k = 0; k < 4; k++) a->pad[k] = o->pad[k];
    if (bad2(a->stride, 1) || bad2(a->dilation, 1)) {
        tg_fail(g, TG_ERR_ARG, "%s: stride %dx%d and dilation %dx%d must be in 1..%d (0 means 1)", op, o->stride[0],
                o->stride[1], o->dilation[0], o->dilation[1], CONV_ARG_MAX);
        return 0;
    }
    if (bad2(a->pad, 0) || bad2(a->pad + 2, 0)) {
        tg_fail(g, TG_ERR_ARG, "%s: padding %d,%d,%d,%d (top, bottom, left, right) must be in 0..%d", op, a->pad[0],
                a->pad[1], a->pad[2], a->pad[3], CONV_ARG_MAX);
        return 0;
    }
    if (!transposed && (a->out_pad[0] || a->out_pad[1])) {
        tg_fail(g, TG_ERR_ARG, "%s: output_padding %dx%d is for conv_transpose2d only", op, a->out_pad[0],
                a->out_pad[1]);
        return 0;
    }
    for (int k = 0; transposed && k < 2; k++)
        if (a->out_pad[k] < 0 || (a->out_pad[k] >= a->stride[k] && a->out_pad[k] >= a->dilation[k])) {
            tg_fail(g, TG_ERR_ARG,
                    "%s: output_padding %dx%d must be >= 0 and smaller than the stride (%dx%d) or the dilation "
                    "(%dx%d) of its axis",
                    op, a->out_pad[0], a->out_pad[1], a->stride[0], a->stride[1], a->dilation[0], a->dilation[1]);
            return 0;
        }
    return 1;
}

void tg_conv_describe(const tg_nrec *n, char *buf, size_t len)
{
    const tg_attrs *a = tg_attr(n);
    int o = snprintf(buf, len, "(k%dx%d s%dx%d", a->kernel[0], a->kernel[1], a->stride[0], a->stride[1]);
    if (o > 0 && (size_t)o < len && (a->dilation[0] != 1 || a->dilation[1] != 1))
        o += snprintf(buf + o, len - (size_t)o, " d%dx%d", a->dilation[0], a->dilation[1]);
    if (o > 0 && (size_t)o < len && (a->pad[0] || a->pad[1] || a->pad[2] || a->pad[3]))
        o += snprintf(buf + o, len - (size_t)o, " p%d,%d,%d,%d", a->pad[0], a->pad[1], a->pad[2], a->pad[3]);
    if (o > 0 && (size_t)o < len && (a->out_pad[0] || a->out_pad[1]))
        o += snprintf(buf + o, len - (size_t)o, " op%dx%d", a->out_pad[0], a->out_pad[1]);
    if (o > 0 && (size_t)o < len) snprintf(buf + o, len - (size_t)o, ")");
}
