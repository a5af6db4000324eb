/* vec_portable.h - 4-float vectors for the "portable" variant, in GCC/Clang
 * vector extensions (__attribute__((vector_size(16)))), no intrinsics: SSE2
 * on baseline x86-64, AdvSIMD on aarch64, VSX, RVV or plain scalar code
 * elsewhere, as the compiler lowers them. Shared by gemm_portable.c and
 * portable.c, so the GEMM epilogues and the element-wise kernels run the
 * same operations (fused = unfused, bit for bit).
 *
 * The portable library is compiled with -ffp-contract=off: a*b + c is a
 * rounded product then a rounded sum on every compiler and target, never a
 * fused multiply-add the build happened to choose.
 *
 * exp, tanh and log1p are Cephes' single-precision algorithms (S. L.
 * Moshier), lane-wise, with the same polynomials as the scalar Cephes
 * functions. Largest errors against double-precision libm over every 97th
 * float (a sweep of 44 million): exp 0.98 ULP, tanh 1.33 ULP, log1p 1.25 ULP
 * on [0, 1] (all it is used for: log1p(exp(-|x|))). NaN stays NaN;
 * exp(-inf) and exp(x < -104) are 0, exp(x > 88.72) is +inf; tanh(+-inf) =
 * +-1, tanh(-0) = -0.
 * The results are the same on every architecture (IEEE single precision,
 * round to nearest, no fused operations).
 */
#ifndef TG_VEC_PORTABLE_H
#define TG_VEC_PORTABLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h" /* the dropout hash's constants */

typedef float pv_f __attribute__((vector_size(16)));
typedef int32_t pv_i __attribute__((vector_size(16)));
typedef uint32_t pv_u __attribute__((vector_size(16)));
typedef double pv_d __attribute__((vector_size(16)));

#define PV_INL static inline __attribute__((always_inline))

/* lanes of two vectors by index (0-3 a, 4-7 b); GCC has
 * __builtin_shufflevector since 12, __builtin_shuffle before */
#if defined(__clang__) || __GNUC__ >= 12
#define PV_SHUF(a, b, i0, i1, i2, i3) __builtin_shufflevector((a), (b), i0, i1, i2, i3)
#else
#define PV_SHUF(a, b, i0, i1, i2, i3) __builtin_shuffle((a), (b), (pv_i){i0, i1, i2, i3})
#endif

PV_INL pv_f pv_set1(float s) { return (pv_f){s, s, s, s}; }
PV_INL pv_f pv_zero(void) { return (pv_f){0.0f, 0.0f, 0.0f, 0.0f}; }
/* unaligned loads and stores (memcpy: no alignment or aliasing assumptions) */
PV_INL pv_f pv_loadu(const float *p)
{
    pv_f v;
    memcpy(&v, p, sizeof v);
    return v;
}
PV_INL void pv_storeu(float *p, pv_f v) { memcpy(p, &v, sizeof v); }
/* the first n (0 <= n <= 4) lanes; the others fill. Lane by lane (no
 * stack buffer: a vector passed through memory would keep the micro-kernel's
 * accumulators out of registers). */
PV_INL pv_f pv_loadn(const float *p, size_t n, float fill)
{
    return (pv_f){n > 0 ? p[0] : fill, n > 1 ? p[1] : fill, n > 2 ? p[2] : fill, n > 3 ? p[3] : fill};
}
PV_INL void pv_storen(float *p, pv_f v, size_t n)
{
    if (n > 0) p[0] = v[0];
    if (n > 1) p[1] = v[1];
    if (n > 2) p[2] = v[2];
    if (n > 3) p[3] = v[3];
}

/* lane masks: all ones where true (the comparisons' result type) */
PV_INL pv_f pv_sel(pv_i m, pv_f t, pv_f f) { return (pv_f)(((pv_i)t & m) | ((pv_i)f & ~m)); }
PV_INL pv_f pv_abs(pv_f x) { return (pv_f)((pv_i)x & 0x7fffffff); }
/* max(x, y) as x86's maxps: y unless x > y (so max(NaN, 0) = 0) */
PV_INL pv_f pv_max(pv_f x, pv_f y) { return pv_sel(x > y, x, y); }
PV_INL float pv_hsum(pv_f v) { return (v[0] + v[1]) + (v[2] + v[3]); }
PV_INL float pv_hmax(pv_f v)
{
    float a = v[0] > v[1] ? v[0] : v[1], b = v[2] > v[3] ? v[2] : v[3];
    return a > b ? a : b;
}
PV_INL pv_f pv_sqrt(pv_f v) { return (pv_f){sqrtf(v[0]), sqrtf(v[1]), sqrtf(v[2]), sqrtf(v[3])}; }
PV_INL pv_d pv_lo(pv_f v) { return (pv_d){v[0], v[1]}; }
PV_INL pv_d pv_hi(pv_f v) { return (pv_d){v[2], v[3]}; }

/* 2^n for n in [-126, 127], from its bits */
PV_INL pv_f pv_pow2i(pv_i n) { return (pv_f)((n + 127) << 23); }

/* exp(x): x = n ln2 + r (ln2 in two parts), |r| <= ln2/2, Cephes' degree-5
 * polynomial for e^r, times 2^n in two factors (2^n1 2^n2 with both in range,
 * so results down to the subnormals are rounded once). */
PV_INL pv_f pv_exp(pv_f x)
{
    const pv_f hi = pv_set1(88.72283935546875f), lo = pv_set1(-104.0f);
    pv_f xc = pv_sel(x > hi, hi, pv_sel(x < lo, lo, x)); /* NaN passes */
    pv_f t = xc * 1.44269504088896341f + 0.5f;
    t = pv_sel(t == t, t, pv_zero()); /* a NaN lane converts 0, not undefined */
    pv_i n = __builtin_convertvector(t, pv_i);
    n += (pv_i)(__builtin_convertvector(n, pv_f) > t); /* trunc -> floor: -1 where it rounded up */
    pv_f fn = __builtin_convertvector(n, pv_f);
    pv_f r = xc - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    pv_f z = r * r;
    pv_f p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    pv_i n1 = n >> 1, n2 = n - n1; /* n in [-150, 128]: both in [-75, 64] */
    pv_f y = p * pv_pow2i(n1) * pv_pow2i(n2);
    return pv_sel(x > hi, pv_set1(INFINITY), y);
}

/* tanh(x): |x| < 0.625: x + x^3 P(x^2) (Cephes' degree-4 P); else
 * 1 - 2/(e^{2|x|} + 1) with x's sign (|x| capped at 10: tanh(10) rounds to 1). */
PV_INL pv_f pv_tanh(pv_f x)
{
    pv_f ax = pv_abs(x);
    pv_f z = x * x;
    pv_f p = -5.70498872745e-3f * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    pv_f small = p * z * x + x;
    pv_f axc = pv_sel(ax > 10.0f, pv_set1(10.0f), ax); /* NaN passes */
    pv_f e = pv_exp(axc + axc);
    pv_f big = 1.0f - 2.0f / (e + 1.0f);
    /* x's sign on both (big >= 0; small already has it, except tanh(-0) = -0) */
    return (pv_f)((pv_i)pv_sel(ax < 0.625f, small, big) | ((pv_i)x & INT32_MIN));
}

/* log1p(x) for x > -1: u = 1 + x, log(u) by Cephes (u = m 2^e, m in
 * [sqrt(1/2), sqrt(2)), degree-8 polynomial), plus the rounding of 1 + x
 * corrected to first order: log1p(x) = log(u) - ((u - 1) - x) / u. */
PV_INL pv_f pv_log1p(pv_f x)
{
    pv_f u = 1.0f + x;
    pv_i ui = (pv_i)u;
    pv_i e = ((ui >> 23) & 0xff) - 126;
    pv_f m = (pv_f)((ui & 0x007fffff) | 0x3f000000); /* [0.5, 1) */
    pv_i lt = m < 0.707106781186547524f;
    e += lt;                                      /* -1 where m < sqrt(1/2) */
    m = pv_sel(lt, m + m - 1.0f, m - 1.0f);
    pv_f z = m * m;
    pv_f p = 7.0376836292e-2f * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    pv_f fe = __builtin_convertvector(e, pv_f);
    pv_f y = p * m * z;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    pv_f l = m + y;
    l = l + fe * 0.693359375f;
    return l - ((u - 1.0f) - x) / u;
}

/* lane l: scale where tg_dropout_hash(key, e0 + l) >= thr (kernels.h), else 0 */
PV_INL pv_f pv_drop_keep(uint32_t key, uint32_t e0, uint32_t thr, float scale)
{
    pv_u i = (pv_u){0, 1, 2, 3} + e0;
    pv_u h = key ^ (i * TG_DROP_GOLDEN);
    h ^= h >> 16;
    h *= TG_DROP_MUL1;
    h ^= h >> 13;
    h *= TG_DROP_MUL2;
    h ^= h >> 16;
    return pv_sel((pv_i)(h >= thr), pv_set1(scale), pv_zero());
}

#endif
