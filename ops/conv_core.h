/* conv_core.h - what conv2d and conv_transpose2d share (internal to ops/):
 * the geometry, im2col / col2im, and the f32 passes over the packed GEMM.
 *
 * Both ops relate an IMAGE-side tensor (N, C, H, W) and a COLUMN-side
 * tensor (N, R, OH, OW) through a weight Wm (R, K), K = C kh kw, stored
 * row-major as PyTorch stores it: conv2d's (Cout, Cin, kh, kw) and
 * conv_transpose2d's (Cin, Cout, kh, kw) are both (R, K).
 *   conv2d:            image = x, column side = y, R = Cout
 *   conv_transpose2d:  image = y, column side = x, R = Cin
 * colT(img) is the im2col of the images, one row of K per output pixel
 * (pixel-major: P = OH OW pixels per image, N P rows):
 *   colT[n P + i OW + j][(c kh + u) kw + v] = img[n][c][i sh + u dh - pt][j sw + v dw - pl]
 * (0 outside the image; bottom and right padding are implied by OH, OW), so
 * a row is C kh runs of kw neighbouring pixels of the image (one copy each
 * when the dilation is 1), and col2im adds such runs back. With the column
 * side of a group of n images as (R, n P) (gathered image after image with
 * copies of P floats) or pixel-major as cT (n P, R) (transposed):
 *   conv2d forward, conv_transpose2d dx:  cT (+)= colT Wm^T              (nP, R)
 *   conv2d dx, conv_transpose2d forward:  img (+)= col2im(colside^T Wm)  (nP, K)
 *   both weight gradients:                dWm (+)= colside colT          (R, K)
 * The images of a group make ONE GEMM per product (D's second layer:
 * 550 x 128 x 1600 for a group of 22 images of 5x5 pixels, not 22 of 128 x 25
 * x 1600; groups are as large as 4 MiB of scratch holds, CONV_SCRATCH_BUDGET).
 * The first product is computed pixel-major, its rows the n P pixels (the
 * micro-kernel's row tiles stay full, R = 64 or 128 rows would not), with a
 * conv2d's fused bias per column, then transposed into (N, R, P); when an
 * image has many pixels (P >= CONV_DIRECT_P: 14x14) it is channel-major
 * instead, (R, n P) with the bias per row, copied into (N, R, P) by rows
 * of P. The pool splits a product by column blocks, or, when its columns
 * give each thread at most two blocks (R = 128, a first layer's K = 25), by
 * row blocks, each a GEMM of its own.
 *
 * Determinism: every element of every product is one FMA chain over its K
 * (kernels.h), whatever the column or row split; a weight gradient's chain
 * runs over the batch's pixels in order, group after group (beta = 1
 * continues it). Group sizes come from the shapes alone. So results are
 * bit-identical across thread counts, and every element of col2im adds its
 * contributions in a fixed order (pixel, u, v).
 *
 * colT's rows are KS >= K floats apart: K when that is not a multiple of
 * 128 floats, else K + 16 (the rows of a tile 4 KiB apart, as G's K = 1024
 * makes them, all fall in one set of the L1 cache: the micro-kernel reading
 * 14 of them in place ran at 2/3 of the speed of the other products).
 *
 * Scratch (floats, in the plan's arena, for one step): colT (G P, KS), the
 * column side of a group, gathered or pixel-major (R G P), and Wm^T (K, R)
 * (the pixel-major product reads it in place: no packing). */
#ifndef TG_CONV_CORE_H
#define TG_CONV_CORE_H

#include "ops.h"

typedef struct tg_cgeom {
    int N;
    int C, H, W;     /* image side */
    int R, OH, OW;   /* column side */
    int kh, kw, sh, sw, dh, dw, pt, pl;
    int K, P;        /* C kh kw;  OH OW */
    int KS;          /* colT's row stride: K, or K + 16 when K is a multiple of 128 */
    int G;           /* images per group (one GEMM per product per group) */
} tg_cgeom;

/* The geometry of node n (attributes: kernel, stride, dilation, pad) with
 * image-side tensor img and column-side tensor col, both (N, ., ., .). */
tg_cgeom tg_cgeom_of(const tg_nrec *n, const tg_nrec *img, const tg_nrec *col);

/* Output size of a convolution along one axis: (in + pads - d (k-1) - 1) / s + 1,
 * or <= 0 when the (dilated) kernel does not fit the padded input. */
int tg_conv_out_size(int in, int pad_sum, int k, int s, int d);

/* f32 scratch floats of every pass */
size_t tg_conv_scratch_floats(const tg_cgeom *g);
/* f32 GEMM workspace floats per thread for every GEMM the passes run */
size_t tg_conv_ws_floats(const tg_cgeom *g, const tg_kern *k);

/* Pointers into the scratch. */
typedef struct tg_cscr { float *col, *gath, *wt; } tg_cscr;
tg_cscr tg_conv_scratch(const tg_cgeom *g, void *scratch);

/* ---- the f32 passes (run on the plan's pool and kernels) ---- */
/* colside (N, R, P) = Wm col(img) (+ bias[r], then act, when bias) when
 * beta = 0; colside += Wm col(img) when beta = 1 (no epilogue). */
void tg_conv_pass_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, float *colside,
                       int beta, const float *bias, tg_act act, float slope, tg_cscr s);
/* img (N, C, H, W) = col2im(Wm^T colside), or += when acc. */
void tg_conv_pass_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside, float *img, int acc,
                       tg_cscr s);
/* The backward of the column-side relation colside = Wm col(img) given
 * dcol = d colside: dimg (+)= col2im(Wm^T dcol) when dimg, then, when
 * bepi, a fused mask / activation backward on it (op.h; dimg written, not
 * added to), and dwm (+)= sum_n dcol_n col(img_n)^T when dwm (acc_*: add,
 * else write). */
void tg_conv_pass_bwd_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, const float *dcol,
                           float *dimg, int acc_img, const tg_bwd_epi *bepi, float *dwm, int acc_w, tg_cscr s);
/* The backward of img = col2im(Wm^T colside) given dimg = d img:
 * dcolside (+)= Wm col(dimg) when dcolside, then, when bepi, a fused mask /
 * activation backward on it (dcolside written, not added to), and
 * dwm (+)= sum_n colside_n col(dimg_n)^T when dwm. */
void tg_conv_pass_bwd_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside,
                           const float *dimg, float *dcolside, int acc_col, const tg_bwd_epi *bepi, float *dwm,
                           int acc_w, tg_cscr s);

/* y (N, C, HW) = act(y + b[c]) in place, planes split over the pool: the
 * same element-wise operations as a bias node and an activation node. */
void tg_conv_bias_act(tg_exec *ex, float *y, const float *b, int N, int C, size_t HW, tg_act act, float slope);

/* The checks both builders share, on x (N,C,H,W) and w (4-D, kh kw in its
 * last two axes; its channel axis wc must equal x's channels): fills the
 * attributes (stride and dilation 0 -> 1) and returns 1, or records the
 * graph's error, naming op and shapes, and returns 0. */
int tg_conv_check(tg_graph *g, const char *op, const tg_nrec *x, const tg_nrec *w, int wc, const tg_conv_opts *o,
                  int transposed, tg_attrs *a);

/* "(k5x5 s2x2 p1,2,1,2)" for the dot export */
void tg_conv_describe(const tg_nrec *n, char *buf, size_t len);

#endif
