/* conv_core.h - what conv2d and conv_transpose2d share (internal to ops/):
 * the geometry, im2col / col2im, and the f32 passes over the packed GEMM.
 *
 * Both ops relate an IMAGE-side tensor (N, C, H, W) and a COLUMN-side
 * tensor (N, R, OH, OW) through a weight Wm (R, K), K = C kh kw, stored
 * row-major as PyTorch stores it: conv2d's (Cout, Cin, kh, kw) and
 * conv_transpose2d's (Cin, Cout, kh, kw) are both (R, K).
 *   conv2d:            image = x, column side = y, R = Cout
 *   conv_transpose2d:  image = y, column side = x, R = Cin
 * col(img_n) (K, P), P = OH OW, is the im2col of one image:
 *   col[(c kh + u) kw + v][i OW + j] = img_n[c][i sh + u dh - pt][j sw + v dw - pl]
 * (0 outside the image; bottom and right padding are implied by OH, OW).
 * Then
 *   conv2d forward, conv_transpose2d dx:  colside_n (+)= Wm col(img_n)
 *   conv2d dx, conv_transpose2d forward:  img_n (+)= col2im(Wm^T colside_n)
 *   both weight gradients:                dWm (+)= sum_n colside_n col(img_n)^T
 * GEMMs are laid out so the big dimension, P per image, is the columns N
 * (which the pool splits by column blocks). Images run in groups of G (at
 * most TG_GEMMS_MAX = 16, fewer when the group's scratch would pass 16 MiB):
 * a group's columns sit side by side, col (K, G P) and the
 * gathered column side (R, G P), so the data GEMM is one GEMM over G P
 * columns, the forward G GEMMs in one pool job. A weight gradient narrower
 * than CONV_SPLIT_K columns (conv2d's first layer: 25) is split into S = G
 * GEMMs of one image each (reading that image's column side in place), into
 * S partial sums added in a fixed order at the end: S, like G, depends on
 * the shapes alone, never on the thread count, so results are
 * bit-identical across thread counts.
 *
 * Scratch (floats, in the plan's arena): col K G P, then the gathered
 * column side R G P (backward and conv_transpose2d's forward), then S
 * partial weight gradients R K (backward, when S > 1). */
#ifndef TG_CONV_CORE_H
#define TG_CONV_CORE_H

#include "ops.h"

typedef struct tg_cgeom {
    int N;
    int C, H, W;     /* image side */
    int R, OH, OW;   /* column side */
    int kh, kw, sh, sw, dh, dw, pt, pl;
    int K, P;        /* C kh kw;  OH OW */
    int G, S;        /* images per group; weight-gradient GEMMs per group */
} tg_cgeom;

/* The geometry of node n (attributes: kernel, stride, dilation, pad) with
 * image-side tensor img and column-side tensor col, both (N, ., ., .). */
tg_cgeom tg_cgeom_of(const tg_nrec *n, const tg_nrec *img, const tg_nrec *col);

/* Output size of a convolution along one axis: (in + pads - d (k-1) - 1) / s + 1,
 * or <= 0 when the (dilated) kernel does not fit the padded input. */
int tg_conv_out_size(int in, int pad_sum, int k, int s, int d);

/* f32 scratch floats: with_gath adds the gathered column side, with_part
 * the partial weight gradients */
size_t tg_conv_scratch_floats(const tg_cgeom *g, int with_gath, int with_part);
/* f32 GEMM workspace floats per thread for every GEMM the passes run */
size_t tg_conv_ws_floats(const tg_cgeom *g, const tg_kern *k);

/* Pointers into the scratch. */
typedef struct tg_cscr { float *col, *gath, *part; } tg_cscr;
tg_cscr tg_conv_scratch(const tg_cgeom *g, void *scratch);

/* ---- the f32 passes (run on the plan's pool and kernels) ---- */
/* colside (N, R, P) = Wm col(img) (+ bias_row[r], then act, when bias_row)
 * when beta = 0; colside += Wm col(img) when beta = 1 (no epilogue). */
void tg_conv_pass_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, float *colside,
                       int beta, const float *bias_row, tg_act act, float slope, tg_cscr s);
/* img (N, C, H, W) = col2im(Wm^T colside), or += when acc. */
void tg_conv_pass_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside, float *img, int acc,
                       tg_cscr s);
/* The backward of the column-side relation colside = Wm col(img) given
 * dcol = d colside: dimg (+)= col2im(Wm^T dcol) when dimg, and
 * dwm (+)= sum_n dcol_n col(img_n)^T when dwm (acc_*: add, else write). */
void tg_conv_pass_bwd_cols(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *img, const float *dcol,
                           float *dimg, int acc_img, float *dwm, int acc_w, tg_cscr s);
/* The backward of img = col2im(Wm^T colside) given dimg = d img:
 * dcolside (+)= Wm col(dimg) when dcolside, and
 * dwm (+)= sum_n colside_n col(dimg_n)^T when dwm. */
void tg_conv_pass_bwd_data(tg_exec *ex, const tg_cgeom *g, const float *wm, const float *colside,
                           const float *dimg, float *dcolside, int acc_col, float *dwm, int acc_w, tg_cscr s);

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
