/* gemm_neon.c - f32 GEMM, AArch64 AdvSIMD (NEON) variant. AdvSIMD is part of
 * every AArch64 CPU, so no -m flag is needed; dispatch.c still checks HWCAP.
 *
 * Micro-kernel MR x NR = 8 x 12 on 32 128-bit registers:
 *   24 accumulators (8 rows x 3 vectors of 4 columns),
 *    3 B vectors (12 columns of one k),
 *    2 A vectors (the 8 rows of one k, from a packed [k][8] sliver),
 * 29 registers, 3 spare. Each k: 5 loads (ldr q) and 24 FMLA by element
 * (vfmaq_laneq_f32: the A value comes from a lane of a loaded vector, so
 * there is no broadcast instruction competing with the FMAs for the vector
 * pipes): 24 x 4 lanes x 2 = 192 FLOPs per 5 loads. A core with two 128-bit
 * FMA pipes (Cortex-A76/A78, Neoverse N1/N2) retires it in 12 cycles, 16
 * FLOPs per cycle, its peak; one with four (Cortex-X1..X4, Neoverse V1/V2,
 * Apple M1) in 6 cycles, 32 FLOPs per cycle, with loads at 5 per 6 cycles.
 * The 24 independent accumulators cover an FMA latency of 4 cycles at 4
 * FMAs per cycle (16 needed). 12 x 8 would balance the same way; 8 rows
 * match the batch (64 = 8 x 8) and split C into whole row tiles.
 *
 * A is packed per A block (A_PACK 1): rows of A not transposed are
 * transposed 4 x 4 in registers, A transposed is copied. Tails use lane loads
 * and stores. Algorithm and determinism: gemm_simd.inc (every element one FMA
 * chain over k; FMLA by element rounds like FMLA with a broadcast).
 */
#include <arm_neon.h>
#include <math.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <sleef.h>
#pragma GCC diagnostic pop

#include "kern_gemm.h"
#include "vec_neon.h"

typedef float32x4_t vf;
#define VL 4
#define MR TG_GEMM_MR_NEON
#define NV (TG_GEMM_NR_NEON / VL)
#define A_PACK 1
#define KC_MAX 256
#define NC_MAX 240 /* a multiple of NR = 12; kc x 240 floats = 240 KiB of B panel */
#define DIRECT_B_BYTES (256 * 1024)
#define DIRECT_B_ROWS 320
#define A_BLOCK_FLOATS (32 * 1024) /* 128 KiB of packed A */

#define V_ZERO() vdupq_n_f32(0.0f)
#define V_SET1(s) vdupq_n_f32(s)
#define V_LOAD(p) vld1q_f32(p)
#define V_LOADU(p) vld1q_f32(p)
#define V_STORE(p, v) vst1q_f32((p), (v))
#define V_STOREU(p, v) vst1q_f32((p), (v))
#define V_LOADN(p, n) nv_loadn((p), (size_t)(n), 0.0f)
#define V_STOREN(p, v, n) nv_storen((p), (v), (size_t)(n))
#define V_BCAST(p) vld1q_dup_f32(p)
#define V_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define V_FMA_LANE(acc, b, a, l) nv_fma_lane((acc), (b), (a), (l))
#define V_ADD(a, b) vaddq_f32((a), (b))
#define V_SUB(a, b) vsubq_f32((a), (b))
#define V_MUL(a, b) vmulq_f32((a), (b))
#define V_DIV(a, b) vdivq_f32((a), (b))
#define V_MAX(a, b) nv_max((a), (b))
#define V_ABS(x) vabsq_f32(x)
#define V_NEG(x) vsubq_f32(vdupq_n_f32(0.0f), (x))
#define V_HSUM(v) vaddvq_f32(v)
#define V_SEL_GT0(x, a, b) vbslq_f32(vcgtq_f32((x), vdupq_n_f32(0.0f)), (a), (b))
#define V_SEL_GE0(x, a, b) vbslq_f32(vcgeq_f32((x), vdupq_n_f32(0.0f)), (a), (b))
#define V_EXP(x) Sleef_expf4_u10advsimd(x)
#define V_TANH(x) Sleef_tanhf4_u35advsimd(x)
#define V_LOG1P(x) Sleef_log1pf4_u10advsimd(x)
#define V_DROP_KEEP(key, e0, thr, scale) nv_drop_keep((key), (e0), (thr), (scale))

#define SGEMM_WS tg_sgemm_ws_neon
#define SGEMM tg_sgemm_neon
#include "gemm_simd.inc"

/* dst[k*ldd + r] = r < nrows ? src[r*lds + k] : 0 for k < kcnt, r < nst
 * (all <= 4): a 4x4 transpose in registers (TRN1/TRN2 on 32- then 64-bit
 * elements). */
static inline __attribute__((always_inline)) void
transpose_block(const float *src, size_t lds, int nrows, int kcnt, float *dst, size_t ldd, int nst)
{
    float32x4_t r[4];
UNROLL_FULL
    for (int i = 0; i < 4; i++)
        r[i] = i >= nrows ? vdupq_n_f32(0.0f) : kcnt == 4 ? vld1q_f32(src + (size_t)i * lds)
                                                        : nv_loadn(src + (size_t)i * lds, (size_t)kcnt, 0.0f);
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    const float64x2_t d0 = vreinterpretq_f64_f32(t0), d1 = vreinterpretq_f64_f32(t1);
    const float64x2_t d2 = vreinterpretq_f64_f32(t2), d3 = vreinterpretq_f64_f32(t3);
    const float32x4_t o[4] = {
        vreinterpretq_f32_f64(vtrn1q_f64(d0, d2)), vreinterpretq_f32_f64(vtrn1q_f64(d1, d3)),
        vreinterpretq_f32_f64(vtrn2q_f64(d0, d2)), vreinterpretq_f32_f64(vtrn2q_f64(d1, d3)),
    };
UNROLL_FULL
    for (int k = 0; k < 4; k++)
        if (k < kcnt) {
            if (nst == 4)
                vst1q_f32(dst + (size_t)k * ldd, o[k]);
            else
                nv_storen(dst + (size_t)k * ldd, o[k], (size_t)nst);
        }
}
