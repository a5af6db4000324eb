/* elem_neon.c - AArch64 AdvSIMD (NEON) element-wise kernels (4 floats per
 * vector) and the "neon" tg_kern table; the template is elem_simd.inc.
 * exp, tanh and log1p are SLEEF's AdvSIMD functions (Sleef_expf4_u10advsimd,
 * Sleef_tanhf4_u35advsimd, Sleef_log1pf4_u10advsimd), the ones the GEMM's
 * epilogues call. Tails use lane loads and stores. */
#include <arm_neon.h>
#include <math.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <sleef.h>
#pragma GCC diagnostic pop

#include "kernels.h"
#include "kern_gemm.h"
#include "vec_neon.h"

/* lanes >= r set to +0 */
static inline float32x4_t neon_keep(float32x4_t v, size_t r)
{
    static const uint32_t iota[4] = {0, 1, 2, 3};
    uint32x4_t m = vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)r));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m));
}

/* max over lanes with nv_max's semantics, in a fixed order */
static inline float neon_hmax(float32x4_t v)
{
    float32x2_t lo = vget_low_f32(v), hi = vget_high_f32(v);
    float32x2_t m = vbsl_f32(vcgt_f32(lo, hi), lo, hi);
    float a = vget_lane_f32(m, 0), b = vget_lane_f32(m, 1);
    return a > b ? a : b;
}

#define V float32x4_t
#define W 4
#define VD float64x2_t
#define DW 2
#define VLOADU(p) vld1q_f32(p)
#define VSTOREU(p, v) vst1q_f32((p), (v))
#define VLOADN(p, r, fill) nv_loadn((p), (r), (fill))
#define VSTOREN(p, v, r) nv_storen((p), (v), (r))
#define VKEEP(v, r) neon_keep((v), (r))
#define VSET1(f) vdupq_n_f32(f)
#define VZERO vdupq_n_f32(0.0f)
#define VADD(a, b) vaddq_f32((a), (b))
#define VSUB(a, b) vsubq_f32((a), (b))
#define VMUL(a, b) vmulq_f32((a), (b))
#define VDIV(a, b) vdivq_f32((a), (b))
#define VSQRT(a) vsqrtq_f32(a)
#define VMAX(a, b) nv_max((a), (b))
#define VABS(a) vabsq_f32(a)
#define VFMADD(a, b, c) vfmaq_f32((c), (a), (b))
#define VCMPGT(a, b) vcgtq_f32((a), (b))
#define VCMPGE(a, b) vcgeq_f32((a), (b))
#define VSEL(m, t, f) vbslq_f32((m), (t), (f))
#define VHMAX(v) neon_hmax(v)
#define VEXP(v) Sleef_expf4_u10advsimd(v)
#define VTANH(v) Sleef_tanhf4_u35advsimd(v)
#define VLOG1P(v) Sleef_log1pf4_u10advsimd(v)
#define VD_LO(v) vcvt_f64_f32(vget_low_f32(v))
#define VD_HI(v) vcvt_high_f64_f32(v)
#define VDZERO vdupq_n_f64(0.0)
#define VDADD(a, b) vaddq_f64((a), (b))
#define VDMAX(a, b) nv_dmax((a), (b))
#define VDFNMADD(a, b, c) vfmsq_f64((c), (a), (b))
#define VDSTOREU(p, v) vst1q_f64((p), (v))
#define VDROP_KEEP(key, i, thr, scale) nv_drop_keep((key), (i), (thr), (scale))
#define KERN_NAME "neon"
#define KERN_FN tg_kern_neon
#define KERN_NR TG_GEMM_NR_NEON
#define KERN_SGEMM tg_sgemm_neon
#define KERN_SGEMM_WS tg_sgemm_ws_neon

#include "elem_simd.inc"
