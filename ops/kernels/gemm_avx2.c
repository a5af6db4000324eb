/* gemm_avx2.c - f32 GEMM, AVX2+FMA variant (compiled with -mavx2 -mfma).
 *
 * Micro-kernel 6 x 16: 12 ymm accumulators, 2 ymm B loads and 6 broadcasts
 * per k (15 of the 16 ymm registers). Tails use vmaskmov.
 * Algorithm and determinism: gemm_simd.inc.
 */
#include <immintrin.h>
#include <math.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <sleef.h>
#pragma GCC diagnostic pop

#include "kern_gemm.h"

typedef __m256 vf;
#define VL 8
#define MR TG_GEMM_MR_AVX2
#define NV (TG_GEMM_NR_AVX2 / VL)
#define KC_MAX 256
#define NC_MAX 256
#define DIRECT_B_BYTES (256 * 1024)
#define DIRECT_B_ROWS 320
#define A_BLOCK_FLOATS (96 * 1024)

/* lanes(n): the first n of 8 lanes set (0 <= n <= 8) */
static const int32_t lane_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i lanes(int n) { return _mm256_loadu_si256((const __m256i *)(lane_tab + 8 - n)); }

#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(s) _mm256_set1_ps(s)
#define V_LOAD(p) _mm256_load_ps(p)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_store_ps((p), (v))
#define V_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define V_LOADN(p, n) _mm256_maskload_ps((p), lanes(n))
#define V_STOREN(p, v, n) _mm256_maskstore_ps((p), lanes(n), (v))
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_DIV(a, b) _mm256_div_ps((a), (b))
#define V_MAX(a, b) _mm256_max_ps((a), (b))
static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define V_HSUM(v) hsum8(v)
#define V_ABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (x))
#define V_NEG(x) _mm256_sub_ps(_mm256_setzero_ps(), (x))
#define V_SEL_GT0(x, a, b) \
    _mm256_blendv_ps((b), (a), _mm256_cmp_ps((x), _mm256_setzero_ps(), _CMP_GT_OQ))
#define V_SEL_GE0(x, a, b) \
    _mm256_blendv_ps((b), (a), _mm256_cmp_ps((x), _mm256_setzero_ps(), _CMP_GE_OQ))
#define V_EXP(x) Sleef_expf8_u10avx2(x)
#define V_TANH(x) Sleef_tanhf8_u35avx2(x)
#define V_LOG1P(x) Sleef_log1pf8_u10avx2(x)

/* scale where tg_dropout_hash(key, e0 + lane) >= thr, else 0: that hash, lane-wise (kernels.h) */
static inline __m256 drop_keep(uint32_t key, uint32_t e0, uint32_t thr, float scale)
{
    __m256i i = _mm256_add_epi32(_mm256_set1_epi32((int)e0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i h = _mm256_xor_si256(_mm256_set1_epi32((int)key), _mm256_mullo_epi32(i, _mm256_set1_epi32((int)TG_DROP_GOLDEN)));
    h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
    h = _mm256_mullo_epi32(h, _mm256_set1_epi32((int)TG_DROP_MUL1));
    h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 13));
    h = _mm256_mullo_epi32(h, _mm256_set1_epi32((int)TG_DROP_MUL2));
    h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
    /* unsigned h >= thr  <=>  max(h, thr) == h */
    __m256i keep = _mm256_cmpeq_epi32(_mm256_max_epu32(h, _mm256_set1_epi32((int)thr)), h);
    return _mm256_and_ps(_mm256_castsi256_ps(keep), _mm256_set1_ps(scale));
}
#define V_DROP_KEEP(key, e0, thr, scale) drop_keep((key), (e0), (thr), (scale))

#define SGEMM_WS tg_sgemm_ws_avx2
#define SGEMM tg_sgemm_avx2
#include "gemm_simd.inc"

/* dst[k*ldd + r] = r < nrows ? src[r*lds + k] : 0 for k < kcnt, r < nst
 * (all <= 8): an 8x8 in-register transpose. */
static inline __attribute__((always_inline)) void
transpose_block(const float *src, size_t lds, int nrows, int kcnt, float *dst, size_t ldd, int nst)
{
    __m256 r[8], t[8], u[8];
    const __m256i km = lanes(kcnt);
UNROLL_FULL
    for (int i = 0; i < 8; i++)
        r[i] = i < nrows ? _mm256_maskload_ps(src + (size_t)i * lds, km) : _mm256_setzero_ps();
UNROLL_FULL
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
UNROLL_FULL
    for (int i = 0; i < 8; i += 4) { /* u[i+c]: rows i..i+3 of cols c | c+4 */
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    const __m256i sm = lanes(nst);
UNROLL_FULL
    for (int c = 0; c < 4; c++) {
        if (c < kcnt)
            _mm256_maskstore_ps(dst + (size_t)c * ldd, sm, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
        if (c + 4 < kcnt)
            _mm256_maskstore_ps(dst + (size_t)(c + 4) * ldd, sm, _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
    }
}
