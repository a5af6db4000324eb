/* gemm_avx512.c - f32 GEMM, AVX-512 variant (compiled with -mavx512f/vl/bw/dq).
 *
 * Micro-kernel 14 x 32: 28 zmm accumulators (>= 12 needed to cover the FMA
 * latency of 4 at 2 FMA/cycle), 2 zmm B loads and 14 broadcasts per k.
 * Tails use AVX-512 masks. Algorithm and determinism: gemm_simd.inc.
 */
#include <immintrin.h>
#include <math.h>

/* sleef.h is clean under -Wpedantic today; the guard keeps -Werror builds
 * safe against other SLEEF versions. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <sleef.h>
#pragma GCC diagnostic pop

#include "kern_gemm.h"

typedef __m512 vf;
#define VL 16
#define MR TG_GEMM_MR_AVX512
#define NV (TG_GEMM_NR_AVX512 / VL)
#define KC_MAX 256
#define NC_MAX 256
#define DIRECT_B_BYTES (1024 * 1024)
#define DIRECT_B_ROWS 448 /* the 384-row A blocks of the batch-256 weight gradients read dy in place: +4-12% in a harness */
#define A_BLOCK_FLOATS (96 * 1024) /* 384 KiB of the 1 MiB L2 */

static inline __mmask16 lanes(int n) { return (__mmask16)((1u << n) - 1u); }

#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(s) _mm512_set1_ps(s)
#define V_LOAD(p) _mm512_load_ps(p)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_store_ps((p), (v))
#define V_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define V_LOADN(p, n) _mm512_maskz_loadu_ps(lanes(n), (p))
#define V_STOREN(p, v, n) _mm512_mask_storeu_ps((p), lanes(n), (v))
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_DIV(a, b) _mm512_div_ps((a), (b))
#define V_MAX(a, b) _mm512_max_ps((a), (b))
#define V_ABS(x) _mm512_abs_ps(x)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_NEG(x) _mm512_sub_ps(_mm512_setzero_ps(), (x))
#define V_SEL_GT0(x, a, b) \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask((x), _mm512_setzero_ps(), _CMP_GT_OQ), (b), (a))
#define V_SEL_GE0(x, a, b) \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask((x), _mm512_setzero_ps(), _CMP_GE_OQ), (b), (a))
#define V_EXP(x) Sleef_expf16_u10avx512f(x)
#define V_TANH(x) Sleef_tanhf16_u35avx512f(x)
#define V_LOG1P(x) Sleef_log1pf16_u10avx512f(x)

/* scale where tg_dropout_hash(key, e0 + lane) >= thr, else 0: that hash, lane-wise (kernels.h) */
static inline __m512 drop_keep(uint32_t key, uint32_t e0, uint32_t thr, float scale)
{
    __m512i i = _mm512_add_epi32(_mm512_set1_epi32((int)e0),
                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i h = _mm512_xor_si512(_mm512_set1_epi32((int)key), _mm512_mullo_epi32(i, _mm512_set1_epi32((int)TG_DROP_GOLDEN)));
    h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
    h = _mm512_mullo_epi32(h, _mm512_set1_epi32((int)TG_DROP_MUL1));
    h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
    h = _mm512_mullo_epi32(h, _mm512_set1_epi32((int)TG_DROP_MUL2));
    h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
    __mmask16 keep = _mm512_cmpge_epu32_mask(h, _mm512_set1_epi32((int)thr));
    return _mm512_maskz_mov_ps(keep, _mm512_set1_ps(scale));
}
#define V_DROP_KEEP(key, e0, thr, scale) drop_keep((key), (e0), (thr), (scale))

#define SGEMM_WS tg_sgemm_ws_avx512
#define SGEMM tg_sgemm_avx512
#include "gemm_simd.inc"

/* dst[k*ldd + r] = r < nrows ? src[r*lds + k] : 0 for k < kcnt, r < nst
 * (all <= 16): a 16x16 in-register transpose (unpack ps, unpack pd, two
 * rounds of 128-bit lane shuffles). */
static inline __attribute__((always_inline)) void
transpose_block(const float *src, size_t lds, int nrows, int kcnt, float *dst, size_t ldd, int nst)
{
    __m512 r[16], t[16], u[16];
    const __mmask16 km = lanes(kcnt);
UNROLL_FULL
    for (int i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_maskz_loadu_ps(km, src + (size_t)i * lds) : _mm512_setzero_ps();
UNROLL_FULL
    for (int i = 0; i < 16; i += 2) { /* t[i] rows i,i+1 interleaved: cols 0,1|4,5|.. and 2,3|6,7|.. */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
UNROLL_FULL
    for (int i = 0; i < 16; i += 4) { /* u[i+c]: rows i..i+3 of cols c, c+4, c+8, c+12 */
        __m512d a0 = _mm512_castps_pd(t[i]), a1 = _mm512_castps_pd(t[i + 1]);
        __m512d a2 = _mm512_castps_pd(t[i + 2]), a3 = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    const __mmask16 sm = lanes(nst);
UNROLL_FULL
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);  /* cols c, c+4 of rows 0-7 */
        __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);  /* cols c+8, c+12 */
        __m512 w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        __m512 o[4] = {
            _mm512_shuffle_f32x4(v0, w0, 0x88), _mm512_shuffle_f32x4(v0, w0, 0xDD),
            _mm512_shuffle_f32x4(v1, w1, 0x88), _mm512_shuffle_f32x4(v1, w1, 0xDD),
        };
UNROLL_FULL
        for (int q = 0; q < 4; q++) {
            int k = c + 4 * q;
            if (k < kcnt)
                _mm512_mask_storeu_ps(dst + (size_t)k * ldd, sm, o[q]);
        }
    }
}
