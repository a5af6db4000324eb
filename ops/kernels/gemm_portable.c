/* gemm_portable.c - f32 GEMM, the "portable" variant: any architecture, no
 * intrinsics, 4-float GCC/Clang vectors (vec_portable.h), built without any
 * -m flag (SSE2 on x86-64) and with -ffp-contract=off.
 *
 * Micro-kernel MR x NR = 4 x 8 (two 4-float vectors per row): 8 accumulators,
 * 2 B vectors, and per row and k one A vector that pack_a has already
 * broadcast (A_PACK 2: the A block is packed [k][MR][4], so the loop has no
 * shuffles and the A loads fold into the multiplies on x86). A multiply then
 * an add per accumulator and k (no FMA at the baseline ISA): 16 vector
 * operations per k against 6 loads; on 16 registers (SSE2) the tile, the B
 * vectors and the products fit without spills. Each accumulator is updated
 * once every 16 operations, far more than an add's latency.
 *
 * Determinism: every C element is acc = acc + a_k * b_k (product rounded,
 * then the sum) for k = 0..K-1 from 0 or C, then + bias, + bias_row, act; the
 * column range never changes that chain (gemm_simd.inc). The epilogues use
 * vec_portable.h's functions, the same as portable.c's element-wise kernels.
 */
#include <math.h>

#include "kern_gemm.h"
#include "vec_portable.h"

typedef pv_f vf;
#define VL 4
#define MR TG_GEMM_MR_PORTABLE
#define NV (TG_GEMM_NR_PORTABLE / VL)
#define A_PACK 2
#ifndef KC_MAX
#define KC_MAX 256
#endif
#ifndef NC_MAX
#define NC_MAX 256
#endif
#ifndef DIRECT_B_BYTES
#define DIRECT_B_BYTES (256 * 1024)
#endif
#ifndef DIRECT_B_ROWS
#define DIRECT_B_ROWS 320
#endif
#ifndef A_BLOCK_FLOATS
#define A_BLOCK_FLOATS (64 * 1024) /* 256 KiB of packed (broadcast) A: a batch of 64 x 256 */
#endif

#define V_ZERO() pv_zero()
#define V_SET1(s) pv_set1(s)
#define V_LOAD(p) pv_loadu(p)
#define V_LOADU(p) pv_loadu(p)
#define V_STORE(p, v) pv_storeu((p), (v))
#define V_STOREU(p, v) pv_storeu((p), (v))
#define V_LOADN(p, n) pv_loadn((p), (size_t)(n), 0.0f)
#define V_STOREN(p, v, n) pv_storen((p), (v), (size_t)(n))
#define V_BCAST(p) pv_set1(*(p))
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define S_FMA(a, b, c) ((a) * (b) + (c))
#define V_ADD(a, b) ((a) + (b))
#define V_SUB(a, b) ((a) - (b))
#define V_MUL(a, b) ((a) * (b))
#define V_DIV(a, b) ((a) / (b))
#define V_MAX(a, b) pv_max((a), (b))
#define V_ABS(x) pv_abs(x)
#define V_NEG(x) (pv_zero() - (x))
#define V_HSUM(v) pv_hsum(v)
#define V_SEL_GT0(x, a, b) pv_sel((x) > 0.0f, (a), (b))
#define V_SEL_GE0(x, a, b) pv_sel((x) >= 0.0f, (a), (b))
#define V_EXP(x) pv_exp(x)
#define V_TANH(x) pv_tanh(x)
#define V_LOG1P(x) pv_log1p(x)
#define V_DROP_KEEP(key, e0, thr, scale) pv_drop_keep((key), (e0), (thr), (scale))

#define SGEMM_WS tg_sgemm_ws_portable
#define SGEMM tg_sgemm_portable
#include "gemm_simd.inc"

/* dst[k*ldd + r] = r < nrows ? src[r*lds + k] : 0 for k < kcnt, r < nst
 * (all <= 4): a 4x4 transpose in registers. */
static inline __attribute__((always_inline)) void
transpose_block(const float *src, size_t lds, int nrows, int kcnt, float *dst, size_t ldd, int nst)
{
    pv_f r[4];
UNROLL_FULL
    for (int i = 0; i < 4; i++)
        r[i] = i >= nrows ? pv_zero() : kcnt == 4 ? pv_loadu(src + (size_t)i * lds)
                                                 : pv_loadn(src + (size_t)i * lds, (size_t)kcnt, 0.0f);
    const pv_f t0 = PV_SHUF(r[0], r[1], 0, 4, 1, 5), t1 = PV_SHUF(r[0], r[1], 2, 6, 3, 7);
    const pv_f t2 = PV_SHUF(r[2], r[3], 0, 4, 1, 5), t3 = PV_SHUF(r[2], r[3], 2, 6, 3, 7);
    const pv_f o[4] = {PV_SHUF(t0, t2, 0, 1, 4, 5), PV_SHUF(t0, t2, 2, 3, 6, 7),
                       PV_SHUF(t1, t3, 0, 1, 4, 5), PV_SHUF(t1, t3, 2, 3, 6, 7)};
UNROLL_FULL
    for (int k = 0; k < 4; k++)
        if (k < kcnt) {
            if (nst == 4)
                pv_storeu(dst + (size_t)k * ldd, o[k]);
            else
                pv_storen(dst + (size_t)k * ldd, o[k], (size_t)nst);
        }
}
