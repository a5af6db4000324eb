/* vec_neon.h - helpers shared by the NEON variant's GEMM (gemm_neon.c) and
 * element-wise kernels (elem_neon.c): partial loads and stores, a max with
 * x86's maxps semantics (the other variants'), the lane FMA and the dropout
 * mask. AArch64 only. */
#ifndef TG_VEC_NEON_H
#define TG_VEC_NEON_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define NV_INL static inline __attribute__((always_inline))

/* the first n (0 <= n <= 4) lanes, the others fill; lane by lane (no stack
 * buffer that would keep a micro-kernel's accumulators in memory) */
NV_INL float32x4_t nv_loadn(const float *p, size_t n, float fill)
{
    float32x4_t v = vdupq_n_f32(fill);
    if (n > 0) v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    if (n > 3) v = vld1q_lane_f32(p + 3, v, 3);
    return v;
}

NV_INL void nv_storen(float *p, float32x4_t v, size_t n)
{
    if (n > 0) vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
    if (n > 3) vst1q_lane_f32(p + 3, v, 3);
}

/* a > b ? a : b lane-wise: x86 maxps (FMAX would return NaN for a NaN
 * operand; relu(NaN) is 0 in every variant) */
NV_INL float32x4_t nv_max(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
NV_INL float64x2_t nv_dmax(float64x2_t a, float64x2_t b) { return vbslq_f64(vcgtq_f64(a, b), a, b); }

/* acc + b * a[l], one rounding: FMLA (by element). The lane must be a
 * constant: the switch folds away once the micro-kernel's loops unroll, and
 * keeps unoptimized builds compiling. */
NV_INL float32x4_t nv_fma_lane(float32x4_t acc, float32x4_t b, float32x4_t a, int l)
{
    switch (l) {
    case 0: return vfmaq_laneq_f32(acc, b, a, 0);
    case 1: return vfmaq_laneq_f32(acc, b, a, 1);
    case 2: return vfmaq_laneq_f32(acc, b, a, 2);
    default: return vfmaq_laneq_f32(acc, b, a, 3);
    }
}

/* lane l: scale where tg_dropout_hash(key, e0 + l) >= thr (kernels.h), else 0 */
NV_INL float32x4_t nv_drop_keep(uint32_t key, uint32_t e0, uint32_t thr, float scale)
{
    static const uint32_t iota[4] = {0, 1, 2, 3};
    uint32x4_t i = vaddq_u32(vdupq_n_u32(e0), vld1q_u32(iota));
    uint32x4_t h = veorq_u32(vdupq_n_u32(key), vmulq_n_u32(i, TG_DROP_GOLDEN));
    h = veorq_u32(h, vshrq_n_u32(h, 16));
    h = vmulq_n_u32(h, TG_DROP_MUL1);
    h = veorq_u32(h, vshrq_n_u32(h, 13));
    h = vmulq_n_u32(h, TG_DROP_MUL2);
    h = veorq_u32(h, vshrq_n_u32(h, 16));
    uint32x4_t keep = vcgeq_u32(h, vdupq_n_u32(thr));
    return vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(vdupq_n_f32(scale))));
}

#endif
