/* conv_core.c - geometry, im2col / col2im and the f32 GEMM passes that
 * conv2d and conv_transpose2d share (conv_core.h). Legend as there: image
 * side (N, C, H, W), column side (N, R, OH, OW), Wm (R, K), K = C kh kw,
 * P = OH OW, groups of G images; colT (G P, K) pixel-major (row stride KS),
 * the gathered column side (R, G P) (ld = G P).
 *
 * Every piece of work is split so that each output element is computed by
 * one task with a fixed sequence of operations: im2col pixel rows, col2im
 * images (contributions added in (i, j, u, v) order), gathers and
 * transposes by rows of the column side, GEMM column or row blocks
 * (engine/exec.c). Results do not depend on the thread count. */
#include "conv_core.h"

#include <stdio.h>
#include <string.h>

/* floats of colT + gathered column side per group (4 MiB): a group's colT
 * is still in cache when its GEMM reads it (D's second layer: 3 groups of
 * 22, 22 and 20 images at batch 64, not one of 64 and 11 MB) */
#define CONV_SCRATCH_BUDGET (1u << 20)
#define CONV_ROW_CHUNKS 8              /* at most this many row blocks of a product with few columns */
#define CONV_ROW_MIN 16                /* rows per row block, at least */
#define CONV_DIRECT_P 128              /* forward: per-image GEMMs in place from this many pixels */

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
    g.KS = g.K % 128 == 0 ? g.K + 16 : g.K;
    /* as many images per group as the budget holds, then groups of even size */
    const size_t per = (size_t)(g.KS + g.R) * (size_t)g.P;
    int G = per > 0 && (size_t)g.N * per > CONV_SCRATCH_BUDGET ? (int)(CONV_SCRATCH_BUDGET / per) : g.N;
    if (G < 1) G = 1;
    const int ng = G > 0 ? (g.N + G - 1) / G : 1;
    g.G = g.N > 0 ? (g.N + ng - 1) / ng : 1;
    return g;
}

static size_t a16(size_t n) { return (n + 15) & ~(size_t)15; } /* 64-byte multiples */

size_t tg_conv_scratch_floats(const tg_cgeom *g)
{
    const size_t gp = (size_t)g->G * (size_t)g->P;
    return a16((size_t)g->KS * gp) + a16((size_t)g->R * gp) + a16((size_t)g->K * (size_t)g->R);
}

tg_cscr tg_conv_scratch(const tg_cgeom *g, void *scratch)
{
    tg_cscr s;
    s.col = scratch;
    s.gath = s.col + a16((size_t)g->KS * (size_t)g->G * (size_t)g->P);
    s.wt = s.gath + a16((size_t)g->R * (size_t)g->G * (size_t)g->P);
    return s;
}

/* descriptors of the passes' GEMMs for a group of gc images (pointers may
 * be NULL when only the workspace size is wanted) */
/* cT (gc P, R) (+)= colT Wt, Wt = Wm^T (K, R): the column side pixel-major
 * (B read in place: no packing per call) */
static tg_gemm_desc gemm_cols(const tg_cgeom *g, int gc, const float *wt, const float *colT, float *cT, int beta)
{
    return TG_GEMM(gc * g->P, g->R, g->K, colT, g->KS, 0, wt, g->R, 0, cT, g->R, beta);
}
/* colT (gc P, K) = src^T Wm, src (R, gc P) with row stride ld */
static tg_gemm_desc gemm_data(const tg_cgeom *g, int gc, const float *wm, const float *src, int ld, float *colT)
{
    return TG_GEMM(gc * g->P, g->K, g->R, src, ld, 1, wm, g->K, 0, colT, g->KS, 0);
}
/* dWm (R, K) (+)= a colT, a (R, gc P) with row stride lda */
static tg_gemm_desc gemm_dw(const tg_cgeom *g, int gc, const float *a, int lda, const float *colT, float *dw,
                            int beta)
{
    return TG_GEMM(g->R, g->K, gc * g->P, a, lda, 0, colT, g->KS, 0, dw, g->K, beta);
}

size_t tg_conv_ws_floats(const tg_cgeom *g, const tg_kern *k)
{
    size_t w = 0;
    const int gcs[2] = {g->G, g->N % g->G};
    for (int q = 0; q < 2; q++) {
        const int gc = gcs[q];
        if (gc <= 0) continue;
        const int ld = gc * g->P;
        tg_gemm_desc d[4] = {gemm_cols(g, gc, NULL, NULL, NULL, 0), gemm_data(g, gc, NULL, NULL, ld, NULL),
                             gemm_dw(g, gc, NULL, ld, NULL, NULL, 0),
                             TG_GEMM(g->R, gc * g->P, g->K, NULL, g->K, 0, NULL, g->KS, 1, NULL, ld, 0)};
        for (int i = 0; i < 4; i++) {
            const size_t x = tg_exec_gemm_ws(k, &d[i]);
            if (x > w) w = x;
        }
    }
    return w;
}

/* One product, as one pool job, split by column blocks (tg_exec_gemm); or,
 * on a pool when the columns give each thread at most two blocks (R = 128
 * channels, a first layer's K = 25) and the rows are many (pixels), by row
 * blocks instead, each a GEMM of its own: with column blocks every task
 * would read all of A (colT: 10 MB for D's second layer) again. Either way
 * every element is the same FMA chain (kernels.h), so the split, unlike a
 * group size, may follow the thread count without changing any bit. */
static void run_gemm(tg_exec *ex, const tg_gemm_desc *d)
{
    const int T = ex->nthreads, nblk = (d->N + ex->k->nr - 1) / ex->k->nr;
    int chunks = 2 * T < CONV_ROW_CHUNKS ? 2 * T : CONV_ROW_CHUNKS;
    const int rows = (d->M + chunks - 1) / chunks;
    if (T < 2 || nblk > 2 * T || rows < CONV_ROW_MIN || d->drop_on || d->dact_y) {
        tg_exec_gemm(ex, d);
        return;
    }
    tg_gemm_desc c[CONV_ROW_CHUNKS];
    const tg_gemm_desc *cs[CONV_ROW_CHUNKS];
    int n = 0;
    for (int i0 = 0; i0 < d->M; i0 += rows, n++) {
        c[n] = *d;
        c[n].M = d->M - i0 < rows ? d->M - i0 : rows;
        c[n].A = d->transA ? d->A + i0 : d->A + (size_t)i0 * (size_t)d->lda;
        c[n].C = d->C + (size_t)i0 * (size_t)d->ldc;
        if (d->bias_row) c[n].bias_row = d->bias_row + i0;
        cs[n] = &c[n];
    }
    tg_exec_gemms(ex, cs, n);
}

/* ---- im2col, col2im, gather, scatter: split over the pool ---- */
typedef struct cjob {
    const tg_cgeom *g;
    const float *src;
    float *dst;
    int n0, acc, ld;
    const tg_bwd_epi *bepi; /* col2im: a fused mask / activation backward, or NULL */
    const tg_kern *k;
} cjob;

/* Runs of KW floats (KW a constant after inlining): copied, or added, as
 * 4-float vectors and a scalar tail (element-wise, so the same bits as a
 * scalar loop; the compiler's own vectorization of these short loops was
 * one float at a time). */
typedef float v4f __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) void run_copy(float *restrict d, const float *restrict s, const int KW)
{
    memcpy(d, s, (size_t)KW * sizeof(float));
}

static inline __attribute__((always_inline)) void run_zero(float *restrict d, const int KW)
{
    memset(d, 0, (size_t)KW * sizeof(float));
}

static inline __attribute__((always_inline)) void run_add(float *restrict d, const float *restrict s, const int KW)
{
    int v = 0;
    for (; v + 4 <= KW; v += 4) {
        v4f a, b;
        memcpy(&a, d + v, sizeof a);
        memcpy(&b, s + v, sizeof b);
        a += b;
        memcpy(d + v, &a, sizeof a);
    }
    for (; v < KW; v++) d[v] += s[v];
}

/* The rows u of a kernel that land inside the image for output row i:
 * iy = i sh + u dh - pt in [0, H) for u in [*u0, *u1). */
static void rows_in(const tg_cgeom *g, int i, int *u0, int *u1)
{
    int a = 0, b = g->kh;
    while (a < b && i * g->sh + a * g->dh - g->pt < 0) a++;
    while (b > a && i * g->sh + (b - 1) * g->dh - g->pt >= g->H) b--;
    *u0 = a;
    *u1 = b;
}

/* im2col of pixel rows [r0, r1) of the group, row r = gi OH + i: colT rows
 * (gi P + i OW + j) for every j. KW is g->kw, a constant where the callers
 * below name one (so a run is a few vector moves, not a loop or a call). */
static inline __attribute__((always_inline)) void im2col_impl(const cjob *jb, size_t r0, size_t r1, const int KW)
{
    const tg_cgeom *g = jb->g;
    const size_t hw = (size_t)g->H * (size_t)g->W;
    const int kh = g->kh, W = g->W;
    for (size_t r = r0; r < r1; r++) {
        const int gi = (int)(r / (size_t)g->OH), i = (int)(r % (size_t)g->OH);
        const float *img = jb->src + (size_t)(jb->n0 + gi) * (size_t)g->C * hw;
        float *restrict dst = jb->dst + ((size_t)gi * g->P + (size_t)i * g->OW) * (size_t)g->KS;
        int u0, u1;
        rows_in(g, i, &u0, &u1);
        const int iy0 = i * g->sh - g->pt, dh = g->dh;
        for (int j = 0; j < g->OW; j++) {
            const int ix0 = j * g->sw - g->pl;
            const int full = g->dw == 1 && ix0 >= 0 && ix0 + KW <= W;
            for (int c = 0; c < g->C; c++) {
                const float *restrict plane = img + (size_t)c * hw;
                int u = 0;
                for (; u < u0; u++, dst += KW) run_zero(dst, KW);
                if (full) {
                    for (; u < u1; u++, dst += KW) run_copy(dst, plane + (size_t)(iy0 + u * dh) * W + ix0, KW);
                } else {
                    for (; u < u1; u++, dst += KW) {
                        const float *restrict src = plane + (size_t)(iy0 + u * dh) * W;
                        for (int v = 0; v < KW; v++) {
                            const int ix = ix0 + v * g->dw;
                            dst[v] = ix >= 0 && ix < W ? src[ix] : 0.0f;
                        }
                    }
                }
                for (; u < kh; u++, dst += KW) run_zero(dst, KW);
            }
            dst += g->KS - g->K; /* the row's padding, never read */
        }
    }
}

static void im2col_rows(void *ctx, size_t r0, size_t r1)
{
    const cjob *jb = ctx;
    switch (jb->g->kw) {
    case 3: im2col_impl(jb, r0, r1, 3); break;
    case 4: im2col_impl(jb, r0, r1, 4); break;
    case 5: im2col_impl(jb, r0, r1, 5); break;
    default: im2col_impl(jb, r0, r1, jb->g->kw);
    }
}

static void im2col(tg_exec *ex, const tg_cgeom *g, const float *img, int n0, int gc, float *colT)
{
    cjob jb = {g, img, colT, n0, 0, 0, NULL, ex->k};
    tg_exec_range(ex, (size_t)gc * (size_t)g->OH, 1, (size_t)g->OW * (size_t)g->KS, im2col_rows, &jb);
}

/* The fused backward of a mask and a y-only activation (op.h's tg_bwd_epi)
 * on elements [e0, e0 + n) of a finished gradient x, in place: the same
 * kernels, in the same order, as the dropout and activation nodes would run
 * (so fused and unfused plans give the same bits). */
static void bwd_epilogue(const tg_kern *k, const tg_bwd_epi *b, float *x, size_t e0, size_t n)
{
    if (b->mask_on) k->dropout(x, x, e0, e0 + n, b->key, b->off, b->thr, b->scale, 0);
    k->act_bwd(b->act, b->slope, b->y + e0, b->y + e0, x + e0, x + e0, n, 0);
}

/* col2im of images [i0, i1) of the group: each image (C, H, W) receives
 * every colT entry that im2col would read from it (acc: added to what is
 * there), reading colT row after row; every element adds its contributions
 * in (i, j, u, v) order. Then, when jb->bepi, the fused backward epilogue
 * while the image is in cache. KW as in im2col_impl. */
static inline __attribute__((always_inline)) void col2im_impl(const cjob *jb, size_t i0, size_t i1, const int KW)
{
    const tg_cgeom *g = jb->g;
    const size_t hw = (size_t)g->H * (size_t)g->W;
    const int kh = g->kh, W = g->W;
    for (size_t gi = i0; gi < i1; gi++) {
        float *img = jb->dst + ((size_t)jb->n0 + gi) * (size_t)g->C * hw;
        if (!jb->acc) memset(img, 0, (size_t)g->C * hw * sizeof *img);
        const float *restrict s = jb->src + gi * (size_t)g->P * (size_t)g->KS;
        for (int i = 0; i < g->OH; i++) {
            int u0, u1;
            rows_in(g, i, &u0, &u1);
            const int iy0 = i * g->sh - g->pt, dh = g->dh;
            for (int j = 0; j < g->OW; j++) {
                const int ix0 = j * g->sw - g->pl;
                const int full = g->dw == 1 && ix0 >= 0 && ix0 + KW <= W;
                for (int c = 0; c < g->C; c++, s += (size_t)kh * KW) {
                    float *restrict plane = img + (size_t)c * hw;
                    if (full) {
                        for (int u = u0; u < u1; u++)
                            run_add(plane + (size_t)(iy0 + u * dh) * W + ix0, s + (size_t)u * KW, KW);
                    } else {
                        for (int u = u0; u < u1; u++) {
                            float *restrict d = plane + (size_t)(iy0 + u * dh) * W;
                            const float *restrict t = s + (size_t)u * KW;
                            for (int v = 0; v < KW; v++) {
                                const int ix = ix0 + v * g->dw;
                                if (ix >= 0 && ix < W) d[ix] += t[v];
                            }
                        }
                    }
                }
                s += g->KS - g->K;
            }
        }
        if (jb->bepi)
            bwd_epilogue(jb->k, jb->bepi, jb->dst, ((size_t)jb->n0 + gi) * (size_t)g->C * hw, (size_t)g->C * hw);
    }
}

static void col2im_images(void *ctx, size_t i0, size_t i1)
{
    const cjob *jb = ctx;
    switch (jb->g->kw) {
    case 3: col2im_impl(jb, i0, i1, 3); break;
    case 4: col2im_impl(jb, i0, i1, 4); break;
    case 5: col2im_impl(jb, i0, i1, 5); break;
    default: col2im_impl(jb, i0, i1, jb->g->kw);
    }
}

static void col2im(tg_exec *ex, const tg_cgeom *g, const float *colT, int n0, int gc, float *img, int acc,
                   const tg_bwd_epi *bepi)
{
    cjob jb = {g, colT, img, n0, acc, 0, bepi, ex->k};
    tg_exec_range(ex, (size_t)gc, 1, (size_t)g->K * (size_t)g->P, col2im_images, &jb);
}

/* rows [r0, r1) of the gathered column side, row r = gi R + q:
 * gath[q][gi P ..] = colside[n0 + gi][q][..] */
static void gather_rows(void *ctx, size_t r0, size_t r1)
{
    const cjob *jb = ctx;
    const tg_cgeom *g = jb->g;
    for (size_t r = r0; r < r1; r++) {
        const size_t gi = r / (size_t)g->R, q = r % (size_t)g->R;
        memcpy(jb->dst + q * (size_t)jb->ld + gi * (size_t)g->P,
               jb->src + (((size_t)jb->n0 + gi) * g->R + q) * g->P, (size_t)g->P * sizeof(float));
    }
}

/* the group's column side as (R, gc P), row stride *ld: gathered into
 * gath, or the tensor itself when the group is one image */
static const float *gather(tg_exec *ex, const tg_cgeom *g, const float *colside, int n0, int gc, float *gath, int *ld)
{
    if (gc == 1) {
        *ld = g->P;
        return colside + (size_t)n0 * g->R * g->P;
    }
    *ld = gc * g->P;
    cjob jb = {g, colside, gath, n0, 0, *ld, NULL, ex->k};
    tg_exec_range(ex, (size_t)gc * (size_t)g->R, 1, (size_t)g->P, gather_rows, &jb);
    return gath;
}

/* the inverse: colside[n0 + gi][q][..] = gath[q][gi P ..], then the fused
 * backward epilogue on those P elements when jb->bepi */
static void scatter_rows(void *ctx, size_t r0, size_t r1)
{
    const cjob *jb = ctx;
    const tg_cgeom *g = jb->g;
    for (size_t r = r0; r < r1; r++) {
        const size_t gi = r / (size_t)g->R, q = r % (size_t)g->R, e = (((size_t)jb->n0 + gi) * g->R + q) * g->P;
        memcpy(jb->dst + e, jb->src + q * (size_t)jb->ld + gi * (size_t)g->P, (size_t)g->P * sizeof(float));
        if (jb->bepi) bwd_epilogue(jb->k, jb->bepi, jb->dst, e, (size_t)g->P);
    }
}

static void scatter(tg_exec *ex, const tg_cgeom *g, const float *gath, int ld, int n0, int gc, float *colside,
                    const tg_bwd_epi *bepi)
{
    cjob jb = {g, gath, colside, n0, 0, ld, bepi, ex->k};
    tg_exec_range(ex, (size_t)gc * (size_t)g->R, 1, (size_t)g->P, scatter_rows, &jb);
}

/* Transposes of m matrices: dst_i (cols, rows) = src_i (rows, cols)^T,
 * src_i = src + i sstep, dst_i = dst + i dstep, by blocks of TB x TB; a
 * unit is TB rows of one dst_i (contiguous), after which, when bepi, the
 * fused backward epilogue runs on them (element indices counted from
 * ebase). */
#define TB 16
typedef struct tjob {
    const float *src;
    float *dst, *ebase;
    size_t rows, cols, sstep, dstep, nb;
    const tg_bwd_epi *bepi;
    const tg_kern *k;
} tjob;

static void transpose_units(void *ctx, size_t u0, size_t u1)
{
    const tjob *j = ctx;
    const size_t R = j->rows, C = j->cols;
    for (size_t u = u0; u < u1; u++) {
        const size_t m = u / j->nb, c0 = u % j->nb * TB, c1 = c0 + TB < C ? c0 + TB : C;
        const float *src = j->src + m * j->sstep;
        float *dst = j->dst + m * j->dstep;
        for (size_t r0 = 0; r0 < R; r0 += TB) {
            const size_t r1 = r0 + TB < R ? r0 + TB : R;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++) dst[c * R + r] = src[r * C + c];
        }
        if (j->bepi) bwd_epilogue(j->k, j->bepi, j->ebase, (size_t)(dst + c0 * R - j->ebase), (c1 - c0) * R);
    }
}

static void transpose(tg_exec *ex, const float *src, size_t sstep, float *dst, size_t dstep, size_t m, size_t rows,
                      size_t cols, const tg_bwd_epi *bepi, float *ebase)
{
    tjob j = {src, dst, ebase, rows, cols, sstep, dstep, (cols + TB - 1) / TB, bepi, ex->k};
    tg_exec_range(ex, m * j.nb, 1, (size_t)TB * rows, transpose_units, &j);
}

/* the group's column side pixel-major, cT (gc P, R), from (N, R, P) */
static void to_pixels(tg_exec *ex, const tg_cgeom *g, const float *colside, float *cT, int n0, int gc)
{
    const size_t rp = (size_t)g->R * (size_t)g->P;
    transpose(ex, colside + (size_t)n0 * rp, rp, cT, rp, (size_t)gc, (size_t)g->R, (size_t)g->P, NULL, NULL);
}

/* and back, with the fused backward epilogue when bepi */
static void from_pixels(tg_exec *ex, const tg_cgeom *g, const float *cT, float *colside, int n0, int gc,
                        const tg_bwd_epi *bepi)
{
    const size_t rp = (size_t)g->R * (size_t)g->P;
    transpose(ex, cT, rp, colside + (size_t)n0 * rp, rp, (size_t)gc, (size_t)g->P, (size_t)g->R, bepi, colside);
}

/* ---- the passes ---- */
/* colside_n (+)= Wm colT_n^T for the group's images, colT in s.col: one
 * GEMM over the group's pixels. Few pixels per image (P < CONV_DIRECT_P):
 * pixel-major (its rows are the many pixels, its columns the R channels:
 * the micro-kernel's row tiles stay full), then transposed into colside.
 * Many pixels: channel-major, (R, gc P), then copied into colside by rows
 * of P (as fast as a memcpy, where a transpose of that many pixels costs
 * more than the fuller row tiles save). */
/* the fused backward epilogue on images [i0, i1) of a group written in place */
typedef struct ejob { const tg_kern *k; const tg_bwd_epi *bepi; float *x; size_t e0; } ejob;
static void epi_range(void *ctx, size_t i0, size_t i1)
{
    const ejob *j = ctx;
    bwd_epilogue(j->k, j->bepi, j->x, j->e0 + i0, i1 - i0);
}

static void cols_gemms(tg_exec *ex, const tg_cgeom *g, float *colside, int n0, int gc, int beta, const float *bias,
                       tg_act act, float slope, const tg_bwd_epi *bepi, const float *wm, tg_cscr s)
{
    if (g->P < CONV_DIRECT_P) {
        if (beta) /* the chains start from colside's values */
            to_pixels(ex, g, colside, s.gath, n0, gc);
        tg_gemm_desc d = gemm_cols(g, gc, s.wt, s.col, s.gath, beta);
        if (bias) { /* a bias per output channel: per column here */
            d.bias = bias;
            d.act = act;
            d.slope = slope;
        }
        run_gemm(ex, &d);
        from_pixels(ex, g, s.gath, colside, n0, gc, bepi);
        return;
    }
    /* (R, gc P) = Wm colT^T, a bias per output channel per row: in place
     * for one image, else into s.gath and scattered */
    const int one = gc == 1;
    float *out = one ? colside + (size_t)n0 * g->R * g->P : s.gath;
    int ld = gc * g->P;
    if (beta && !one) gather(ex, g, colside, n0, gc, s.gath, &ld);
    tg_gemm_desc d = TG_GEMM(g->R, gc * g->P, g->K, wm, g->K, 0, s.col, g->KS, 1, out, ld, beta);
    if (bias) {
        d.bias_row = bias;
        d.act = act;
        d.slope = slope;
    }
    run_gemm(ex, &d);
    if (!one) {
        scatter(ex, g, s.gath, ld, n0, gc, colside, bepi);
    } else if (bepi) {
        ejob j = {ex->k, bepi, colside, (size_t)n0 * g->R * g->P};
        tg_exec_range(ex, (size_t)g->R * g->P, 64, 4, epi_range, &j);
    }
}

/* Wt = Wm^T into s.wt, for the pixel-major products of cols_gemms */
static void prepare_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, tg_cscr s)
{
    if (g->P < CONV_DIRECT_P)
        transpose(ex, wm, 0, s.wt, 0, 1, (size_t)g->R, (size_t)g->K, NULL, NULL);
}

void tg_conv_pass_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, float *colside,
                       int beta, const float *bias, tg_act act, float slope, tg_cscr s)
{
    prepare_cols(ex, g, wm, s);
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        im2col(ex, g, img, n0, gc, s.col);
        cols_gemms(ex, g, colside, n0, gc, beta, bias, act, slope, NULL, wm, s);
    }
}

/* colT (gc P, K) = src^T Wm, then added into the images */
static void data_gemm(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *src, int ld, int n0, int gc,
                      float *img, int acc, const tg_bwd_epi *bepi, tg_cscr s)
{
    tg_gemm_desc d = gemm_data(g, gc, wm, src, ld, s.col);
    run_gemm(ex, &d);
    col2im(ex, g, s.col, n0, gc, img, acc, bepi);
}

void tg_conv_pass_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside, float *img, int acc,
                       tg_cscr s)
{
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        int ld;
        const float *src = gather(ex, g, colside, n0, gc, s.gath, &ld);
        data_gemm(ex, g, wm, src, ld, n0, gc, img, acc, NULL, s);
    }
}

/* dWm (+)= a colT over the group; the first group starts the chain (from 0,
 * or from dWm's values when acc), the others continue it */
static void dw_gemm(tg_exec *ex, const tg_cgeom *g, const float *a, int lda, int n0, int gc, float *dwm, int acc,
                    tg_cscr s)
{
    tg_gemm_desc d = gemm_dw(g, gc, a, lda, s.col, dwm, acc || n0 > 0);
    run_gemm(ex, &d);
}

void tg_conv_pass_bwd_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, const float *dcol,
                           float *dimg, int acc_img, const tg_bwd_epi *bepi, float *dwm, int acc_w, tg_cscr s)
{
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        int ld;
        const float *a = gather(ex, g, dcol, n0, gc, s.gath, &ld); /* dcol as (R, gc P) */
        if (dwm) {
            im2col(ex, g, img, n0, gc, s.col);
            dw_gemm(ex, g, a, ld, n0, gc, dwm, acc_w, s);
        }
        if (dimg) data_gemm(ex, g, wm, a, ld, n0, gc, dimg, acc_img, bepi, s); /* colT is free again */
    }
}

void tg_conv_pass_bwd_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside,
                           const float *dimg, float *dcolside, int acc_col, const tg_bwd_epi *bepi, float *dwm,
                           int acc_w, tg_cscr s)
{
    if (dcolside) prepare_cols(ex, g, wm, s);
    for (int n0 = 0; n0 < g->N; n0 += g->G) {
        const int gc = g->N - n0 < g->G ? g->N - n0 : g->G;
        im2col(ex, g, dimg, n0, gc, s.col);
        if (dwm) { /* first: its gathered colside uses the buffer cols_gemms writes next */
            int ld;
            const float *a = gather(ex, g, colside, n0, gc, s.gath, &ld);
            dw_gemm(ex, g, a, ld, n0, gc, dwm, acc_w, s);
        }
        if (dcolside) cols_gemms(ex, g, dcolside, n0, gc, acc_col, NULL, TG_ACT_NONE, 0.0f, bepi, wm, s);
    }
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
