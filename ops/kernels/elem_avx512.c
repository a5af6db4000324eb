/* elem_avx512.c - AVX-512 element-wise kernels (16 floats per vector) and the
 * "avx512" tg_kern table. Built with -mavx512f -mavx512vl -mavx512bw
 * -mavx512dq -mavx2 -mfma; the template is elem_simd.inc. Tails use masked
 * loads and stores (masked-off lanes are never touched). */
#include <immintrin.h>
#include <math.h>

#include <sleef.h>

#include "kernels.h"
#include "kern_gemm.h"

/* first r (< 16) lanes */
static inline __mmask16 tailmask(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
}

#define V __m512
#define W 16
#define VD __m512d
#define DW 8
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VLOADN(p, r, fill) _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tailmask(r), p)
#define VSTOREN(p, v, r) _mm512_mask_storeu_ps(p, tailmask(r), v)
#define VKEEP(v, r) _mm512_maskz_mov_ps(tailmask(r), v)
#define VSET1(f) _mm512_set1_ps(f)
#define VZERO _mm512_setzero_ps()
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VDIV(a, b) _mm512_div_ps(a, b)
#define VSQRT(a) _mm512_sqrt_ps(a)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VABS(a) _mm512_abs_ps(a)
#define VFMADD(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VCMPGT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define VCMPGE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)
#define VSEL(m, t, f) _mm512_mask_blend_ps(m, f, t)
#define VHMAX(v) _mm512_reduce_max_ps(v)
#define VEXP(v) Sleef_expf16_u10avx512f(v)
#define VTANH(v) Sleef_tanhf16_u35avx512f(v)
#define VLOG1P(v) Sleef_log1pf16_u10avx512f(v)
#define VD_LO(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define VD_HI(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
#define VDZERO _mm512_setzero_pd()
#define VDADD(a, b) _mm512_add_pd(a, b)
#define VDMAX(a, b) _mm512_max_pd(a, b)
#define VDFNMADD(a, b, c) _mm512_fnmadd_pd(a, b, c)
#define VDSTOREU(p, v) _mm512_storeu_pd(p, v)
#define KERN_NAME "avx512"
#define KERN_FN tg_kern_avx512
#define KERN_NR TG_GEMM_NR_AVX512
#define KERN_SGEMM tg_sgemm_avx512
#define KERN_SGEMM_WS tg_sgemm_ws_avx512

#include "elem_simd.inc"
