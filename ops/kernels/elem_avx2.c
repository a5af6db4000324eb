/* elem_avx2.c - AVX2+FMA element-wise kernels (8 floats per vector) and the
 * "avx2" tg_kern table. Built with -mavx2 -mfma -mf16c; the template is
 * elem_simd.inc. Tails go through a padded 8-float stack copy (no masked
 * loads), which valgrind understands exactly. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include <sleef.h>

#include "kernels.h"
#include "kern_gemm.h"

static inline __m256 avx2_loadn(const float *p, size_t r, float fill)
{
    float b[8];
    for (int k = 0; k < 8; k++) b[k] = fill;
    memcpy(b, p, r * sizeof *p);
    return _mm256_loadu_ps(b);
}

static inline void avx2_storen(float *p, __m256 v, size_t r)
{
    float b[8];
    _mm256_storeu_ps(b, v);
    memcpy(p, b, r * sizeof *p);
}

/* lanes >= r set to +0 */
static inline __m256 avx2_keep(__m256 v, size_t r)
{
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r), lane);
    return _mm256_and_ps(v, _mm256_castsi256_ps(m));
}

static inline float avx2_hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

#define V __m256
#define W 8
#define VD __m256d
#define DW 4
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VLOADN(p, r, fill) avx2_loadn(p, r, fill)
#define VSTOREN(p, v, r) avx2_storen(p, v, r)
#define VKEEP(v, r) avx2_keep(v, r)
#define VSET1(f) _mm256_set1_ps(f)
#define VZERO _mm256_setzero_ps()
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VDIV(a, b) _mm256_div_ps(a, b)
#define VSQRT(a) _mm256_sqrt_ps(a)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VABS(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)
#define VFMADD(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VCMPGT(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define VCMPGE(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define VSEL(m, t, f) _mm256_blendv_ps(f, t, m)
#define VHMAX(v) avx2_hmax(v)
#define VEXP(v) Sleef_expf8_u10avx2(v)
#define VTANH(v) Sleef_tanhf8_u35avx2(v)
#define VLOG1P(v) Sleef_log1pf8_u10avx2(v)
#define VD_LO(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define VD_HI(v) _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))
#define VDZERO _mm256_setzero_pd()
#define VDADD(a, b) _mm256_add_pd(a, b)
#define VDMAX(a, b) _mm256_max_pd(a, b)
#define VDFNMADD(a, b, c) _mm256_fnmadd_pd(a, b, c)
#define VDSTOREU(p, v) _mm256_storeu_pd(p, v)
#define KERN_NAME "avx2"
#define KERN_FN tg_kern_avx2
#define KERN_NR TG_GEMM_NR_AVX2
#define KERN_SGEMM tg_sgemm_avx2
#define KERN_SGEMM_WS tg_sgemm_ws_avx2

#include "elem_simd.inc"
