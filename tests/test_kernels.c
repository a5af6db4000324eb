/* test_kernels.c - element-wise kernels, kernel tables and dispatch.
 *
 * Every variant tg_kern_available() returns is compared with an f64
 * computation built from the tg_ref_* functions, on odd lengths (tails) and
 * odd row shapes, with inputs that include 0, +-1e-7, +-0.5, +-3, +-20, +-88
 * and +-1000. Output buffers carry a guard zone after the last element that
 * must come back untouched, and start one float past a malloc'd pointer so
 * nothing is 64-byte aligned.
 *
 * Tolerances: "exact" ops (a few correctly rounded float operations)
 * 1e-6 relative to the magnitude of the terms involved; transcendental ops
 * (SLEEF u10 / libm, <= 1 ULP each, a few of them chained) 4e-6 relative,
 * plus 1e-37 absolute for results in float's subnormal range.
 */
#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define RTOL_EXACT 1e-6
#define RTOL_TRANS 4e-6
#define ATOL_TINY 1e-37
#define GUARD 19
#define SENTINEL 12345.0f

static const size_t LENS[] = {0, 1, 3, 7, 15, 16, 17, 31, 33, 64, 1000, 1003};
#define NLENS (sizeof LENS / sizeof LENS[0])
static const float SPECIAL[] = {0.0f, 1e-7f, -1e-7f, 0.5f, -0.5f, 3.0f, -3.0f,
                                20.0f, -20.0f, 88.0f, -88.0f, 1000.0f, -1000.0f};
#define NSPECIAL (sizeof SPECIAL / sizeof SPECIAL[0])
static const tg_act ACTS[] = {TG_ACT_NONE, TG_ACT_RELU, TG_ACT_LEAKY_RELU, TG_ACT_SIGMOID,
                              TG_ACT_TANH, TG_ACT_SOFTPLUS};
#define NACTS (sizeof ACTS / sizeof ACTS[0])
static const char *const ACT_NAME[] = {"none", "relu", "leaky", "sigmoid", "tanh", "softplus"};
static const int SHAPES[][2] = {{1, 1}, {3, 5}, {7, 33}, {64, 784}, {13, 17}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])
#define SLOPE 0.2f

static int is_trans(tg_act a)
{
    return a == TG_ACT_SIGMOID || a == TG_ACT_TANH || a == TG_ACT_SOFTPLUS;
}

/* ---- helpers: deterministic inputs, guarded buffers, error recording ---- */

typedef struct { uint64_t s; } rng;

static float urand(rng *r, float lo, float hi)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((double)(r->s >> 40) / 16777216.0);
}

/* every other element a special value (rotating with seed), the rest uniform */
static void fill_x(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    rng r = {seed * 7919u + 1u};
    for (size_t i = 0; i < n; i++)
        x[i] = (i + seed) % 2 ? urand(&r, lo, hi) : SPECIAL[((i + seed) / 2) % NSPECIAL];
}

static void fill_u(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    rng r = {seed * 104729u + 3u};
    for (size_t i = 0; i < n; i++) x[i] = urand(&r, lo, hi);
}

static float *buf(size_t n)
{
    float *b = malloc((n + GUARD + 1) * sizeof *b);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n + GUARD + 1; i++) b[i] = SENTINEL;
    return b + 1;
}

static void buf_free(float *p) { free(p - 1); }

static int guard_ok(const float *p, size_t n)
{
    if (p[-1] != SENTINEL) return 0;
    for (size_t i = n; i < n + GUARD; i++)
        if (p[i] != SENTINEL) return 0;
    return 1;
}

typedef struct { int bad; char msg[320]; } errs;

__attribute__((format(printf, 3, 4)))
static void expect(errs *e, int ok, const char *fmt, ...)
{
    if (ok) return;
    if (e->bad++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
}

static int close_to(double got, double ref, double scale, double rtol, double atol)
{
    return fabs(got - ref) <= rtol * scale + atol; /* false for NaN */
}

#define CHECK_ERRS(e) ck_assert_msg((e).bad == 0, "%d mismatches; first: %s", (e).bad, (e).msg)

/* The variants under test: every one this CPU runs, or only the one
 * TG_KERNEL names (main() has checked that the CPU runs it). */
static int variants(const tg_kern **v)
{
    int n = tg_kern_available(v);
    ck_assert_int_ge(n, 1);
    const char *want = tg_kernel_wanted();
    if (!want) return n;
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i]->name, want)) {
            v[0] = v[i];
            return 1;
        }
    ck_abort_msg("TG_KERNEL=%s is not among the available variants", want);
    return 0;
}

/* ---- reference functions: hand-derived constants ---- */

START_TEST(test_ref_constants)
{
    const double ln2 = 0.6931471805599453; /* log(2) */
    /* softplus(0) = max(0,0) + log1p(e^0) = log(2) */
    ck_assert_double_eq_tol(tg_ref_softplus(0.0), ln2, 1e-16);
    /* sigmoid(0) = 1/(1+e^0) = 1/2 exactly */
    ck_assert_double_eq(tg_ref_sigmoid(0.0), 0.5);
    /* sigmoid(ln 3) = 1/(1 + 1/3) = 3/4; sigmoid(-ln 3) = (1/3)/(4/3) = 1/4 */
    ck_assert_double_eq_tol(tg_ref_sigmoid(log(3.0)), 0.75, 1e-16);
    ck_assert_double_eq_tol(tg_ref_sigmoid(-log(3.0)), 0.25, 1e-16);
    /* bce(0, t) = 0 - 0 + log1p(1) = log 2 for any t, e.g. the smoothed label 0.9 */
    ck_assert_double_eq_tol(tg_ref_bce(0.0, 0.9), ln2, 1e-16);
    /* tanh(1/2) = (e - 1)/(e + 1) with e = e^1 = 2.718281828459045... */
    ck_assert_double_eq_tol(tg_ref_act(TG_ACT_TANH, 0, 0.5), 0.46211715726000974, 1e-16);
    ck_assert_double_eq_tol((exp(1.0) - 1.0) / (exp(1.0) + 1.0), 0.46211715726000974, 1e-16);
    /* extremes: e^-1000 underflows to 0, so these are exact */
    ck_assert_double_eq(tg_ref_sigmoid(1000.0), 1.0);
    ck_assert_double_eq(tg_ref_sigmoid(-1000.0), 0.0);
    ck_assert_double_eq(tg_ref_softplus(1000.0), 1000.0);
    ck_assert_double_eq(tg_ref_softplus(-1000.0), 0.0);
    ck_assert_double_eq(tg_ref_bce(1000.0, 1.0), 0.0);   /* 1000 - 1000 + 0 */
    ck_assert_double_eq(tg_ref_bce(-1000.0, 0.0), 0.0);  /* 0 - 0 + 0 */
    ck_assert_double_eq(tg_ref_bce(-1000.0, 1.0), 1000.0); /* 0 + 1000 + 0 */
    /* activations and derivatives */
    ck_assert_double_eq(tg_ref_act(TG_ACT_LEAKY_RELU, 0.2, -2.0), -0.4);
    ck_assert_double_eq(tg_ref_act(TG_ACT_RELU, 0, -2.0), 0.0);
    ck_assert_double_eq(tg_ref_act(TG_ACT_NONE, 0, -2.0), -2.0);
    ck_assert_double_eq(tg_ref_dact(TG_ACT_RELU, 0, 0.0, 0.0), 0.0);  /* x > 0 only */
    ck_assert_double_eq(tg_ref_dact(TG_ACT_LEAKY_RELU, 0.2, -1.0, -0.2), 0.2);
    ck_assert_double_eq(tg_ref_dact(TG_ACT_SIGMOID, 0, 0.0, 0.5), 0.25); /* s(1-s) */
    ck_assert_double_eq(tg_ref_dact(TG_ACT_TANH, 0, 0.0, 0.0), 1.0);     /* 1 - 0^2 */
    ck_assert_double_eq(tg_ref_dact(TG_ACT_SOFTPLUS, 0, 0.0, ln2), 0.5); /* sigmoid(0) */
}
END_TEST

/* ---- the same constants through every variant ---- */

START_TEST(test_kernel_constants)
{
    const tg_kern *v[3];
    int nv = variants(v);
    for (int k = 0; k < nv; k++) {
        const tg_kern *K = v[k];
        float x0 = 0.0f, xh = 0.5f, y;
        /* sigmoid(0) = 1/(1+exp(0)) = 1/2: exp(0) = 1 exactly, so exact */
        K->act_fwd(TG_ACT_SIGMOID, 0, &x0, &y, 1);
        ck_assert_msg(y == 0.5f, "%s sigmoid(0) = %.9g", K->name, (double)y);
        /* softplus(0) = log 2 to float precision (1 ULP = 6e-8) */
        K->act_fwd(TG_ACT_SOFTPLUS, 0, &x0, &y, 1);
        ck_assert_msg(fabs(y - 0.6931471805599453) < 6e-8, "%s softplus(0) = %.9g", K->name,
                      (double)y);
        /* tanh(0.5) = (e-1)/(e+1) */
        K->act_fwd(TG_ACT_TANH, 0, &xh, &y, 1);
        ck_assert_msg(fabs(y - 0.46211715726000974) < 6e-8, "%s tanh(0.5) = %.9g", K->name,
                      (double)y);
        /* bce(0, 0.9) = log 2 */
        double l = K->bce_sum(&x0, NULL, 0.9f, 1);
        ck_assert_msg(fabs(l - 0.6931471805599453) < 1e-7, "%s bce(0,.9) = %.17g", K->name, l);
        /* bce(1000, 1) = 1000 - 1000 + log1p(0) = 0 exactly; bce(-1000, 0) = 0 */
        float big = 1000.0f, nbig = -1000.0f;
        ck_assert_double_eq(K->bce_sum(&big, NULL, 1.0f, 1), 0.0);
        ck_assert_double_eq(K->bce_sum(&nbig, NULL, 0.0f, 1), 0.0);
        /* softmax of two equal logits: p = (1/2, 1/2), loss = log 2 */
        float lg[2] = {3.0f, 3.0f}, p[2];
        int32_t lab = 1;
        l = K->softmax_xent(lg, &lab, p, 1, 2);
        ck_assert_msg(p[0] == 0.5f && p[1] == 0.5f, "%s softmax p = %g %g", K->name,
                      (double)p[0], (double)p[1]);
        ck_assert_msg(fabs(l - 0.6931471805599453) < 1e-12, "%s xent = %.17g", K->name, l);
        /* 1 + 2 + ... + 1003 = 1003 * 1004 / 2 = 503506, exact in double */
        float *s = buf(1003);
        for (int i = 0; i < 1003; i++) s[i] = (float)(i + 1);
        ck_assert_double_eq(K->sum(s, 1003), 503506.0);
        buf_free(s);
    }
}
END_TEST

/* ---- act_fwd / act_bwd ---- */

START_TEST(test_act_fwd)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    for (int k = 0; k < nv; k++)
        for (size_t a = 0; a < NACTS; a++)
            for (size_t L = 0; L < NLENS; L++)
                for (uint64_t seed = 0; seed < 2; seed++) {
                    size_t n = LENS[L];
                    float *x = buf(n), *y = buf(n);
                    fill_x(x, n, seed, seed ? -30.0f : -5.0f, seed ? 30.0f : 5.0f);
                    v[k]->act_fwd(ACTS[a], SLOPE, x, y, n);
                    double rt = is_trans(ACTS[a]) ? RTOL_TRANS : RTOL_EXACT;
                    for (size_t i = 0; i < n; i++) {
                        double r = tg_ref_act(ACTS[a], SLOPE, x[i]);
                        expect(&e, close_to(y[i], r, fabs(r), rt, ATOL_TINY),
                               "%s %s n=%zu i=%zu x=%.9g y=%.9g ref=%.17g", v[k]->name,
                               ACT_NAME[ACTS[a]], n, i, (double)x[i], (double)y[i], r);
                    }
                    expect(&e, guard_ok(y, n), "%s %s n=%zu: wrote outside [0,n)", v[k]->name,
                           ACT_NAME[ACTS[a]], n);
                    /* in place gives the same bits */
                    v[k]->act_fwd(ACTS[a], SLOPE, x, x, n);
                    expect(&e, memcmp(x, y, n * sizeof *x) == 0, "%s %s n=%zu: in-place differs",
                           v[k]->name, ACT_NAME[ACTS[a]], n);
                    buf_free(x);
                    buf_free(y);
                }
    CHECK_ERRS(e);
}
END_TEST

START_TEST(test_act_bwd)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    for (int k = 0; k < nv; k++)
        for (size_t a = 0; a < NACTS; a++)
            for (size_t L = 0; L < NLENS; L++) {
                size_t n = LENS[L];
                float *x = buf(n), *y = buf(n), *dy = buf(n), *dx = buf(n), *dx0 = buf(n);
                fill_x(x, n, L, -6.0f, 6.0f);
                fill_u(dy, n, L + 100, -2.0f, 2.0f);
                fill_u(dx0, n, L + 200, -1.0f, 1.0f);
                memcpy(dx, dx0, n * sizeof *dx);
                v[k]->act_fwd(ACTS[a], SLOPE, x, y, n);
                v[k]->act_bwd(ACTS[a], SLOPE, x, y, dy, dx, n, 1);
                double rt = is_trans(ACTS[a]) ? RTOL_TRANS : RTOL_EXACT;
                for (size_t i = 0; i < n; i++) {
                    /* the kernel is given this float y: the oracle uses it too */
                    double d = tg_ref_dact(ACTS[a], SLOPE, x[i], y[i]);
                    double r = dx0[i] + (double)dy[i] * d;
                    double sc = fabs(dx0[i]) + fabs(dy[i] * d);
                    expect(&e, close_to(dx[i], r, sc, rt, ATOL_TINY),
                           "%s %s' n=%zu i=%zu x=%.9g y=%.9g dx=%.9g ref=%.17g", v[k]->name,
                           ACT_NAME[ACTS[a]], n, i, (double)x[i], (double)y[i], (double)dx[i], r);
                }
                /* acc = 0 (first writer): dx = dy act', whatever dx held */
                memcpy(dx, dx0, n * sizeof *dx);
                v[k]->act_bwd(ACTS[a], SLOPE, x, y, dy, dx, n, 0);
                for (size_t i = 0; i < n; i++) {
                    double r = (double)dy[i] * tg_ref_dact(ACTS[a], SLOPE, x[i], y[i]);
                    expect(&e, close_to(dx[i], r, fabs(r), rt, ATOL_TINY),
                           "%s %s' (overwrite) n=%zu i=%zu dx=%.9g ref=%.17g", v[k]->name, ACT_NAME[ACTS[a]], n,
                           i, (double)dx[i], r);
                }
                expect(&e, guard_ok(dx, n), "%s %s' n=%zu: wrote outside", v[k]->name,
                       ACT_NAME[ACTS[a]], n);
                buf_free(x); buf_free(y); buf_free(dy); buf_free(dx); buf_free(dx0);
            }
    CHECK_ERRS(e);
}
END_TEST

/* ---- add, mul, scale, axpy, mul_acc ---- */

START_TEST(test_binary)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    const float svals[] = {1.0f, -1.0f, 0.37f};
    for (int k = 0; k < nv; k++)
        for (size_t L = 0; L < NLENS; L++) {
            const tg_kern *K = v[k];
            size_t n = LENS[L];
            float *a = buf(n), *b = buf(n), *y = buf(n), *d0 = buf(n);
            fill_x(a, n, L, -10.0f, 10.0f);
            fill_u(b, n, L + 7, -10.0f, 10.0f);
            fill_u(d0, n, L + 9, -10.0f, 10.0f);
            for (int si = 0; si < 3; si++) {
                float s = svals[si];
                K->add(a, b, s, y, n);
                for (size_t i = 0; i < n; i++) {
                    double r = (double)a[i] + (double)s * b[i];
                    expect(&e, close_to(y[i], r, fabs(a[i]) + fabs(s * b[i]), RTOL_EXACT, 0),
                           "%s add n=%zu i=%zu s=%g", K->name, n, i, (double)s);
                }
                K->scale(a, s, y, n);
                for (size_t i = 0; i < n; i++)
                    expect(&e, close_to(y[i], (double)s * a[i], fabs(s * a[i]), RTOL_EXACT, 0),
                           "%s scale n=%zu i=%zu", K->name, n, i);
                memcpy(y, d0, n * sizeof *y);
                K->axpy(b, s, y, n);
                for (size_t i = 0; i < n; i++) {
                    double r = (double)d0[i] + (double)s * b[i];
                    expect(&e, close_to(y[i], r, fabs(d0[i]) + fabs(s * b[i]), RTOL_EXACT, 0),
                           "%s axpy n=%zu i=%zu", K->name, n, i);
                }
                expect(&e, guard_ok(y, n), "%s add/scale/axpy n=%zu: wrote outside", K->name, n);
            }
            K->mul(a, b, y, n);
            for (size_t i = 0; i < n; i++)
                expect(&e, close_to(y[i], (double)a[i] * b[i], fabs((double)a[i] * b[i]),
                                    RTOL_EXACT, 0), "%s mul n=%zu i=%zu", K->name, n, i);
            memcpy(y, d0, n * sizeof *y);
            K->mul_acc(a, b, y, n);
            for (size_t i = 0; i < n; i++) {
                double p = (double)a[i] * b[i];
                expect(&e, close_to(y[i], d0[i] + p, fabs(d0[i]) + fabs(p), RTOL_EXACT, 0),
                       "%s mul_acc n=%zu i=%zu", K->name, n, i);
            }
            expect(&e, guard_ok(y, n), "%s mul/mul_acc n=%zu: wrote outside", K->name, n);
            /* in place: y = a + s b with y == a */
            memcpy(y, a, n * sizeof *y);
            K->add(y, b, -1.0f, y, n);
            for (size_t i = 0; i < n; i++)
                expect(&e, close_to(y[i], (double)a[i] - b[i], fabs(a[i]) + fabs(b[i]),
                                    RTOL_EXACT, 0), "%s add in place n=%zu i=%zu", K->name, n, i);
            buf_free(a); buf_free(b); buf_free(y); buf_free(d0);
        }
    CHECK_ERRS(e);
}
END_TEST

/* ---- bias_act, colsum_acc ---- */

START_TEST(test_bias_act)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    for (int k = 0; k < nv; k++)
        for (size_t s = 0; s < NSHAPES; s++)
            for (size_t a = 0; a < NACTS; a++) {
                int B = SHAPES[s][0], N = SHAPES[s][1];
                size_t n = (size_t)B * (size_t)N;
                float *x = buf(n), *b = buf((size_t)N), *y = buf(n);
                fill_x(x, n, s, -8.0f, 8.0f);
                fill_x(b, (size_t)N, s + 1, -3.0f, 3.0f);
                v[k]->bias_act(x, b, ACTS[a], SLOPE, y, B, N);
                double rt = is_trans(ACTS[a]) ? RTOL_TRANS : RTOL_EXACT;
                for (size_t i = 0; i < (size_t)B; i++)
                    for (size_t j = 0; j < (size_t)N; j++) {
                        size_t ij = i * (size_t)N + j;
                        /* x + b is one correctly rounded float add; act in double */
                        float z = x[ij] + b[j];
                        double r = tg_ref_act(ACTS[a], SLOPE, z);
                        expect(&e, close_to(y[ij], r, fabs(r), rt, ATOL_TINY),
                               "%s bias_act %s %dx%d (%zu,%zu) z=%.9g y=%.9g ref=%.17g",
                               v[k]->name, ACT_NAME[ACTS[a]], B, N, i, j, (double)z,
                               (double)y[ij], r);
                    }
                expect(&e, guard_ok(y, n), "%s bias_act %dx%d: wrote outside", v[k]->name, B, N);
                buf_free(x); buf_free(b); buf_free(y);
            }
    CHECK_ERRS(e);
}
END_TEST

START_TEST(test_colsum)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    for (size_t s = 0; s < NSHAPES; s++) {
        int B = SHAPES[s][0], N = SHAPES[s][1];
        size_t n = (size_t)B * (size_t)N;
        /* ranges in odd places, including empty and full ones */
        int ranges[][2] = {{0, N}, {1, N}, {0, N - 1}, {N / 3, 2 * N / 3 + 1}, {N / 2, N / 2},
                           {N - 1, N}, {3, 3 + 33}, {5, N - 2}};
        float *dy = buf(n), *db0 = buf((size_t)N), *db = buf((size_t)N), *first = buf((size_t)N);
        fill_u(dy, n, s, -4.0f, 4.0f);
        fill_u(db0, (size_t)N, s + 5, -1.0f, 1.0f);
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            int j0 = ranges[r][0], j1 = ranges[r][1];
            if (j0 < 0 || j1 > N || j0 > j1) continue;
            for (int k = 0; k < nv; k++) {
                memcpy(db, db0, (size_t)N * sizeof *db);
                v[k]->colsum_acc(dy, db, B, N, j0, j1);
                for (int j = 0; j < N; j++) {
                    if (j < j0 || j >= j1) {
                        expect(&e, db[j] == db0[j], "%s colsum %dx%d [%d,%d): touched col %d",
                               v[k]->name, B, N, j0, j1, j);
                        continue;
                    }
                    double r = db0[j], sa = 0.0;
                    for (int i = 0; i < B; i++) {
                        r += dy[(size_t)i * (size_t)N + (size_t)j];
                        sa += fabs(dy[(size_t)i * (size_t)N + (size_t)j]);
                    }
                    /* float recursive summation: |err| <= (B+1) u sum|terms|, u = 2^-24 */
                    double tol = (B + 1) * 6e-8 * (sa + fabs(db0[j]));
                    expect(&e, close_to(db[j], r, 0, 0, tol),
                           "%s colsum %dx%d [%d,%d) j=%d got %.9g ref %.17g", v[k]->name, B, N,
                           j0, j1, j, (double)db[j], r);
                }
                expect(&e, guard_ok(db, (size_t)N), "%s colsum: wrote outside", v[k]->name);
                /* every variant does the same float adds in the same order */
                if (k == 0) memcpy(first, db, (size_t)N * sizeof *db);
                else
                    expect(&e, memcmp(first, db, (size_t)N * sizeof *db) == 0,
                           "%s colsum %dx%d [%d,%d): bits differ from %s", v[k]->name, B, N, j0,
                           j1, v[0]->name);
            }
        }
        /* splitting [0,N) into ranges gives the same bits as one call */
        for (int k = 0; k < nv; k++) {
            memcpy(db, db0, (size_t)N * sizeof *db);
            v[k]->colsum_acc(dy, db, B, N, 0, N);
            memcpy(first, db, (size_t)N * sizeof *db);
            memcpy(db, db0, (size_t)N * sizeof *db);
            int cut1 = N / 3, cut2 = N / 3 + (N > 1 ? 17 % N : 0);
            if (cut2 > N) cut2 = N;
            v[k]->colsum_acc(dy, db, B, N, 0, cut1);
            v[k]->colsum_acc(dy, db, B, N, cut1, cut2);
            v[k]->colsum_acc(dy, db, B, N, cut2, N);
            expect(&e, memcmp(first, db, (size_t)N * sizeof *db) == 0,
                   "%s colsum %dx%d: split result differs", v[k]->name, B, N);
        }
        buf_free(dy); buf_free(db0); buf_free(db); buf_free(first);
    }
    CHECK_ERRS(e);
}
END_TEST

/* ---- losses ---- */

START_TEST(test_bce_sum)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    const float tcs[] = {0.0f, 1.0f, 0.9f};
    for (int k = 0; k < nv; k++)
        for (size_t L = 0; L < NLENS; L++) {
            size_t n = LENS[L];
            float *x = buf(n), *t = buf(n);
            fill_x(x, n, L, -10.0f, 10.0f);
            fill_u(t, n, L + 3, 0.0f, 1.0f);
            for (int ti = 0; ti < 4; ti++) {
                const float *tv = ti == 3 ? t : NULL;
                float tc = ti == 3 ? -7.0f : tcs[ti]; /* tc ignored with a tensor target */
                double r = 0.0, sa = 0.0;
                for (size_t i = 0; i < n; i++) {
                    double term = tg_ref_bce(x[i], tv ? tv[i] : tc);
                    r += term;
                    sa += fabs(term);
                }
                double got = v[k]->bce_sum(x, tv, tc, n);
                expect(&e, isfinite(got) && close_to(got, r, sa, RTOL_TRANS, 1e-300),
                       "%s bce_sum n=%zu target %d: %.17g vs %.17g", v[k]->name, n, ti, got, r);
            }
            buf_free(x); buf_free(t);
        }
    CHECK_ERRS(e);
}
END_TEST

START_TEST(test_bce_bwd)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    for (int k = 0; k < nv; k++) {
        const tg_kern *K = v[k];
        for (size_t L = 0; L < NLENS; L++) {
            size_t n = LENS[L];
            float *x = buf(n), *t = buf(n), *dx = buf(n), *dx0 = buf(n), *dt = buf(n),
                  *dt0 = buf(n);
            fill_x(x, n, L, -10.0f, 10.0f);
            fill_u(t, n, L + 3, 0.0f, 1.0f);
            fill_u(dx0, n, L + 4, -1.0f, 1.0f);
            fill_u(dt0, n, L + 5, -1.0f, 1.0f);
            float s = n ? 1.0f / (float)n : 1.0f;
            for (int ti = 0; ti < 2; ti++) {
                const float *tv = ti ? t : NULL;
                float tc = 0.9f;
                memcpy(dx, dx0, n * sizeof *dx);
                memcpy(dt, dt0, n * sizeof *dt);
                K->bce_bwd(x, tv, tc, s, dx, ti ? dt : NULL, n);
                for (size_t i = 0; i < n; i++) {
                    double tt = tv ? tv[i] : tc, sg = tg_ref_sigmoid(x[i]);
                    double r = dx0[i] + (double)s * (sg - tt);
                    double sc = fabs(dx0[i]) + fabs(s) * (sg + fabs(tt));
                    expect(&e, close_to(dx[i], r, sc, RTOL_TRANS, ATOL_TINY),
                           "%s bce_bwd dx n=%zu i=%zu x=%.9g got %.9g ref %.17g", K->name, n, i,
                           (double)x[i], (double)dx[i], r);
                    if (ti) {
                        double rt = dt0[i] - (double)s * x[i];
                        expect(&e, close_to(dt[i], rt, fabs(dt0[i]) + fabs(s * x[i]),
                                            RTOL_EXACT, 0),
                               "%s bce_bwd dt n=%zu i=%zu", K->name, n, i);
                    } else {
                        expect(&e, dt[i] == dt0[i], "%s bce_bwd: dt touched with dt=NULL",
                               K->name);
                    }
                }
                expect(&e, guard_ok(dx, n) && guard_ok(dt, n), "%s bce_bwd n=%zu: wrote outside",
                       K->name, n);
            }
            buf_free(x); buf_free(t); buf_free(dx); buf_free(dx0); buf_free(dt); buf_free(dt0);
        }
        /* x = +-1000, label 0.9: the loss is finite and the gradient exact:
         * sigmoid(1000) = 1/(1+0) = 1 -> 1 - 0.9f (exact: Sterbenz);
         * sigmoid(-1000) = 0/(1+0) = 0 -> -0.9f */
        float xb[3] = {1000.0f, -1000.0f, 1000.0f}, g[3] = {0, 0, 0};
        K->bce_bwd(xb, NULL, 0.9f, 1.0f, g, NULL, 3);
        ck_assert_msg(g[0] == 1.0f - 0.9f && g[1] == -0.9f && g[2] == g[0],
                      "%s bce grad at +-1000: %.9g %.9g", K->name, (double)g[0], (double)g[1]);
        /* loss with t = 0.9f: x = 1000 gives 1000 - 1000 t + log1p(0), x = -1000
         * gives 0 + 1000 t + log1p(0); twice the first plus the second is
         * 2000 - 1000 t = 1100.0000238... (0.9f = 0.89999997615814209) */
        double l = K->bce_sum(xb, NULL, 0.9f, 3);
        double r = tg_ref_bce(1000.0, 0.9f) * 2 + tg_ref_bce(-1000.0, 0.9f);
        ck_assert_msg(isfinite(l) && fabs(l - r) <= 1e-12 * r &&
                      fabs(r - (2000.0 - 1000.0 * (double)0.9f)) < 1e-9,
                      "%s bce_sum at +-1000: %.17g vs %.17g", K->name, l, r);
        /* tensor targets at the extremes: t = (1, 0, 0.25) -> grad (0, 0, 0.75) exactly */
        float tvb[3] = {1.0f, 0.0f, 0.25f};
        g[0] = g[1] = g[2] = 0.0f;
        K->bce_bwd(xb, tvb, 0.0f, 1.0f, g, NULL, 3);
        ck_assert_msg(g[0] == 0.0f && g[1] == 0.0f && g[2] == 0.75f,
                      "%s bce grad tensor target: %g %g %g", K->name, (double)g[0],
                      (double)g[1], (double)g[2]);
    }
    CHECK_ERRS(e);
}
END_TEST

START_TEST(test_sum)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    for (size_t L = 0; L < NLENS; L++) {
        size_t n = LENS[L];
        float *x = buf(n);
        fill_x(x, n, L, -1e4f, 1e4f);
        double r = 0.0, sa = 0.0;
        for (size_t i = 0; i < n; i++) {
            r += x[i];
            sa += fabs(x[i]);
        }
        double first = 0.0;
        for (int k = 0; k < nv; k++) {
            double got = v[k]->sum(x, n);
            expect(&e, close_to(got, r, sa, 1e-13, 0), "%s sum n=%zu: %.17g vs %.17g",
                   v[k]->name, n, got, r);
            /* the canonical 16-lane order makes the bits variant-independent */
            if (k == 0) first = got;
            else
                expect(&e, memcmp(&first, &got, sizeof got) == 0,
                       "%s sum n=%zu: %.17g differs from %s's %.17g", v[k]->name, n, got,
                       v[0]->name, first);
        }
        buf_free(x);
    }
    CHECK_ERRS(e);
}
END_TEST

/* oracle: per row in double, p = exp(x - max) / sum, loss = max + log(sum) - x[label] */
static double ref_softmax_xent(const float *x, const int32_t *lab, double *p, int B, int C)
{
    double loss = 0.0;
    for (int i = 0; i < B; i++) {
        const float *xr = x + (size_t)i * (size_t)C;
        double m = xr[0], s = 0.0;
        for (int j = 1; j < C; j++) m = fmax(m, xr[j]);
        for (int j = 0; j < C; j++) s += exp(xr[j] - m);
        for (int j = 0; j < C; j++) p[(size_t)i * (size_t)C + (size_t)j] = exp(xr[j] - m) / s;
        loss += m + log(s) - xr[lab[i]];
    }
    return loss;
}

START_TEST(test_softmax_xent)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    const int shp[][2] = {{1, 1}, {3, 5}, {7, 33}, {13, 17}, {64, 10}, {2, 1003}, {5, 16}};
    for (size_t s = 0; s < sizeof shp / sizeof shp[0]; s++) {
        int B = shp[s][0], C = shp[s][1];
        size_t n = (size_t)B * (size_t)C;
        float *x = buf(n), *p = buf(n);
        double *pr = malloc((n ? n : 1) * sizeof *pr);
        int32_t *lab = malloc((size_t)B * sizeof *lab);
        ck_assert_ptr_nonnull(pr);
        ck_assert_ptr_nonnull(lab);
        fill_x(x, n, s, -12.0f, 12.0f);
        for (int i = 0; i < B; i++) lab[i] = (int32_t)((i * 7 + 3) % C);
        double r = ref_softmax_xent(x, lab, pr, B, C);
        for (int k = 0; k < nv; k++) {
            double got = v[k]->softmax_xent(x, lab, p, B, C);
            /* per row: log(sum) is off by at most ~4e-6 (float exp of float x - max) */
            expect(&e, isfinite(got) && close_to(got, r, fabs(r), 1e-6, B * 5e-6),
                   "%s xent %dx%d: %.17g vs %.17g", v[k]->name, B, C, got, r);
            for (int i = 0; i < B; i++) {
                double ps = 0.0;
                for (int j = 0; j < C; j++) {
                    size_t ij = (size_t)i * (size_t)C + (size_t)j;
                    ps += p[ij];
                    expect(&e, close_to(p[ij], pr[ij], pr[ij], RTOL_TRANS, 1e-7),
                           "%s softmax %dx%d (%d,%d) x=%.9g p=%.9g ref=%.17g", v[k]->name, B,
                           C, i, j, (double)x[ij], (double)p[ij], pr[ij]);
                }
                expect(&e, fabs(ps - 1.0) <= 1e-6 + C * 1.2e-7, "%s softmax %dx%d row %d sums to %.17g",
                       v[k]->name, B, C, i, ps);
            }
            expect(&e, guard_ok(p, n), "%s softmax %dx%d: wrote outside", v[k]->name, B, C);
        }
        free(pr); free(lab); buf_free(x); buf_free(p);
    }
    /* logits +-1000: row (1000, -1000, 0, 1000, -1000): two equal maxima, the
     * rest e^-1000 = 0 and e^-2000 = 0 -> p = (1/2, 0, 0, 1/2, 0);
     * label 0: loss = 1000 + log 2 - 1000 = log 2; label 1: 2000 + log 2. */
    for (int k = 0; k < nv; k++) {
        float xb[10] = {1000, -1000, 0, 1000, -1000, 1000, -1000, 0, 1000, -1000};
        float pb[10];
        int32_t lb[2] = {0, 1};
        double got = v[k]->softmax_xent(xb, lb, pb, 2, 5);
        double want = 2000.0 + 2.0 * 0.6931471805599453;
        ck_assert_msg(isfinite(got) && fabs(got - want) < 1e-9, "%s xent +-1000: %.17g",
                      v[k]->name, got);
        for (int j = 0; j < 10; j++)
            ck_assert_msg(pb[j] == ((j % 5 == 0 || j % 5 == 3) ? 0.5f : 0.0f),
                          "%s softmax +-1000 p[%d] = %g", v[k]->name, j, (double)pb[j]);
        /* all logits -1000 (and one +1000 row of 17): uniform probabilities */
        float xc[17];
        for (int j = 0; j < 17; j++) xc[j] = -1000.0f;
        float pc[17];
        int32_t lc = 16;
        got = v[k]->softmax_xent(xc, &lc, pc, 1, 17);
        ck_assert_msg(fabs(got - log(17.0)) < 1e-9, "%s xent uniform: %.17g", v[k]->name, got);
        for (int j = 0; j < 17; j++)
            ck_assert_msg(fabs(pc[j] - 1.0 / 17.0) < 1e-8, "%s uniform p[%d]=%g", v[k]->name, j,
                          (double)pc[j]);
    }
    CHECK_ERRS(e);
}
END_TEST

/* ---- Adam vs a double implementation fed the same float hyper-parameters ---- */

START_TEST(test_adam)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (int k = 0; k < nv; k++)
        for (size_t L = 0; L < NLENS; L++) {
            size_t n = LENS[L];
            float *w = buf(n), *g = buf(n), *m = buf(n), *vv = buf(n);
            double *wd = malloc(3 * 1004 * sizeof *wd); /* n <= 1003 */
            ck_assert_ptr_nonnull(wd);
            double *md = wd + 1004, *vd = md + 1004;
            fill_u(w, n, L, -1.0f, 1.0f);
            for (size_t i = 0; i < n; i++) {
                m[i] = vv[i] = 0.0f;
                wd[i] = w[i];
                md[i] = vd[i] = 0.0;
            }
            double gmax = 0.0;
            for (int t = 1; t <= 5; t++) {
                fill_x(g, n, L * 5 + (size_t)t, -2.0f, 2.0f);
                for (size_t i = 0; i < n; i++) if (fabs(g[i]) > 100) g[i] *= 0.01f;
                /* the caller computes the bias corrections in float */
                float bc1 = (float)(1.0 - pow(b1, t)), bc2 = (float)(1.0 - pow(b2, t));
                v[k]->adam(w, g, m, vv, n, lr, b1, b2, eps, bc1, bc2);
                for (size_t i = 0; i < n; i++) {
                    double gi = g[i];
                    gmax = fmax(gmax, fabs(gi));
                    md[i] = (double)b1 * md[i] + (1.0 - (double)b1) * gi;
                    vd[i] = (double)b2 * vd[i] + (1.0 - (double)b2) * gi * gi;
                    wd[i] -= (double)lr * (md[i] / bc1) / (sqrt(vd[i] / bc2) + (double)eps);
                }
                for (size_t i = 0; i < n; i++) {
                    expect(&e, close_to(m[i], md[i], gmax, 1e-6, 0),
                           "%s adam m t=%d n=%zu i=%zu: %.9g vs %.17g", v[k]->name, t, n, i,
                           (double)m[i], md[i]);
                    expect(&e, close_to(vv[i], vd[i], fabs(vd[i]), 2e-6, 1e-12),
                           "%s adam v t=%d n=%zu i=%zu: %.9g vs %.17g", v[k]->name, t, n, i,
                           (double)vv[i], vd[i]);
                    /* w: float rounding of w per step plus ~1e-5 relative error per update */
                    expect(&e, close_to(w[i], wd[i], fabs(wd[i]), 6e-8 * t, 1e-5 * lr * t),
                           "%s adam w t=%d n=%zu i=%zu: %.9g vs %.17g", v[k]->name, t, n, i,
                           (double)w[i], wd[i]);
                }
            }
            expect(&e, guard_ok(w, n) && guard_ok(m, n) && guard_ok(vv, n),
                   "%s adam n=%zu: wrote outside", v[k]->name, n);
            free(wd); buf_free(w); buf_free(g); buf_free(m); buf_free(vv);
        }
    CHECK_ERRS(e);
}
END_TEST

/* ---- dropout: every variant draws the scalar reference mask, bit for bit,
 * with the mask index offset (a slice of a global batch) or not, an offset
 * that wraps around 2^32 included ---- */
START_TEST(test_dropout)
{
    const tg_kern *v[3];
    int nv = variants(v);
    errs e = {0};
    const float ps[3] = {0.3f, 0.5f, 0.0f};
    const uint32_t offs[3] = {0, 4096, 0xFFFFFFF5u};
    for (int k = 0; k < nv; k++)
        for (size_t L = 0; L < NLENS; L++)
            for (int q = 0; q < 3; q++) {
                size_t n = LENS[L];
                const uint32_t off = offs[(L + (size_t)q) % 3];
                uint32_t key = 0x12345u + (uint32_t)(L * 977 + (size_t)q), thr = (uint32_t)(ps[q] * 4294967296.0);
                float scale = 1.0f / (1.0f - ps[q]);
                float *x = buf(n), *y = buf(n), *acc = buf(n);
                fill_u(x, n, L, -2.0f, 2.0f);
                for (size_t i = 0; i < n; i++) acc[i] = 1.0f;
                v[k]->dropout(x, y, 0, n, key, off, thr, scale, 0);
                /* the accumulating form in two pieces: the same mask */
                v[k]->dropout(x, acc, 0, n / 3, key, off, thr, scale, 1);
                v[k]->dropout(x, acc, n / 3, n, key, off, thr, scale, 1);
                size_t kept = 0;
                for (size_t i = 0; i < n; i++) {
                    int keep = tg_dropout_hash(key, (uint32_t)i + off) >= thr;
                    float want = keep ? x[i] * scale : 0.0f;
                    kept += (size_t)keep;
                    expect(&e, y[i] == want && acc[i] == 1.0f + want,
                           "%s dropout p=%g n=%zu off=%u i=%zu: %g vs %g", v[k]->name, (double)ps[q], n,
                           (unsigned)off, i, (double)y[i], (double)want);
                }
                /* the kept fraction is 1-p (binomial: within 5 sigma for n >= 1000) */
                if (n >= 1000) {
                    double sd = sqrt(n * ps[q] * (1 - ps[q])) + 1e-9;
                    expect(&e, fabs((double)kept - n * (1.0 - ps[q])) <= 5 * sd + 1e-9,
                           "%s dropout p=%g n=%zu kept %zu", v[k]->name, (double)ps[q], n, kept);
                }
                expect(&e, guard_ok(y, n) && guard_ok(acc, n), "%s dropout n=%zu: wrote outside", v[k]->name, n);
                buf_free(x); buf_free(y); buf_free(acc);
            }
    CHECK_ERRS(e);
}
END_TEST

/* ---- determinism: repeated calls give identical bits ---- */

START_TEST(test_determinism)
{
    const tg_kern *v[3];
    int nv = variants(v);
    const size_t n = 1003;
    float *x = buf(n), *t = buf(n), *y1 = buf(n), *y2 = buf(n);
    int32_t lab[59];
    fill_x(x, n, 11, -20.0f, 20.0f);
    fill_u(t, n, 12, 0.0f, 1.0f);
    for (int i = 0; i < 59; i++) lab[i] = i % 17;
    for (int k = 0; k < nv; k++) {
        const tg_kern *K = v[k];
        for (size_t a = 0; a < NACTS; a++) {
            K->act_fwd(ACTS[a], SLOPE, x, y1, n);
            K->act_fwd(ACTS[a], SLOPE, x, y2, n);
            ck_assert_msg(memcmp(y1, y2, n * sizeof *y1) == 0, "%s act_fwd not repeatable",
                          K->name);
        }
        double s1 = K->sum(x, n), s2 = K->sum(x, n);
        ck_assert_msg(memcmp(&s1, &s2, sizeof s1) == 0, "%s sum not repeatable", K->name);
        s1 = K->bce_sum(x, t, 0, n);
        s2 = K->bce_sum(x, t, 0, n);
        ck_assert_msg(memcmp(&s1, &s2, sizeof s1) == 0, "%s bce_sum not repeatable", K->name);
        s1 = K->softmax_xent(x, lab, y1, 59, 17);
        s2 = K->softmax_xent(x, lab, y2, 59, 17);
        ck_assert_msg(memcmp(&s1, &s2, sizeof s1) == 0 &&
                      memcmp(y1, y2, 59 * 17 * sizeof *y1) == 0,
                      "%s softmax_xent not repeatable", K->name);
        /* element-wise kernels: a split call gives the same bits as one call */
        K->act_fwd(TG_ACT_TANH, 0, x, y1, n);
        K->act_fwd(TG_ACT_TANH, 0, x, y2, 333);
        K->act_fwd(TG_ACT_TANH, 0, x + 333, y2 + 333, n - 333);
        ck_assert_msg(memcmp(y1, y2, n * sizeof *y1) == 0, "%s act_fwd split differs", K->name);
    }
    buf_free(x); buf_free(t); buf_free(y1); buf_free(y2);
}
END_TEST

/* ---- tables and dispatch ---- */

START_TEST(test_dispatch)
{
    const tg_kern *v[3];
    int nv = tg_kern_available(v);
    ck_assert_int_le(nv, 3);
    ck_assert_ptr_eq(v[nv - 1], tg_kern_portable());
    ck_assert_str_eq(tg_kern_portable()->name, "portable");
    for (int k = 0; k < nv; k++) {
        const tg_kern *K = v[k];
        ck_assert_int_gt(K->nr, 0);
        ck_assert_msg(K->sgemm && K->sgemm_ws && K->act_fwd && K->act_bwd && K->add && K->mul &&
                      K->scale && K->axpy && K->mul_acc && K->bias_act && K->colsum_acc &&
                      K->bce_sum && K->bce_bwd && K->sum && K->softmax_xent && K->adam,
                      "%s: NULL member", K->name);
        for (int j = 0; j < k; j++) ck_assert_str_ne(K->name, v[j]->name);
    }
    /* best first: avx512 > avx2 > portable on x86-64, neon > portable on AArch64 */
    if (nv > 1) ck_assert_str_ne(v[0]->name, "portable");
    if (nv == 3) {
        ck_assert_str_eq(v[0]->name, "avx512");
        ck_assert_str_eq(v[1]->name, "avx2");
    }
    if (tg_kern_avx512() == NULL) ck_assert_ptr_null(tg_kern_avx2()); /* built together */
    if (tg_kern_neon()) { /* AArch64 builds: never an x86 variant; AdvSIMD is architectural */
        ck_assert_ptr_null(tg_kern_avx2());
        ck_assert_int_eq(nv, 2);
        ck_assert_ptr_eq(v[0], tg_kern_neon());
        ck_assert_str_eq(v[0]->name, "neon");
    }
#if defined(__aarch64__) && defined(TG_HAVE_NEON_VARIANT)
    ck_assert_ptr_nonnull(tg_kern_neon());
#else
    ck_assert_ptr_null(tg_kern_neon());
#endif
    /* tg_kern_best: the TG_KERNEL choice if available, else the best; cached */
    const char *want = getenv("TG_KERNEL");
    const tg_kern *expect_k = v[0];
    for (int k = 0; want && k < nv; k++)
        if (strcmp(want, v[k]->name) == 0) expect_k = v[k];
    ck_assert_ptr_eq(tg_kern_best(), expect_k);
    ck_assert_ptr_eq(tg_kern_best(), tg_kern_best());
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_ref_constants);
    tcase_add_test(core, test_kernel_constants);
    tcase_add_test(core, test_act_fwd);
    tcase_add_test(core, test_act_bwd);
    tcase_add_test(core, test_binary);
    tcase_add_test(core, test_bias_act);
    tcase_add_test(core, test_colsum);
    tcase_add_test(core, test_sum);
    tcase_add_test(core, test_dropout);
    suite_add_tcase(s, core);
    TCase *loss = tcase_create("losses");
    tcase_add_test(loss, test_bce_sum);
    tcase_add_test(loss, test_bce_bwd);
    tcase_add_test(loss, test_softmax_xent);
    tcase_add_test(loss, test_adam);
    suite_add_tcase(s, loss);
    TCase *lim = tcase_create("limits");
    tcase_add_test(lim, test_determinism);
    tcase_add_test(lim, test_dispatch);
    suite_add_tcase(s, lim);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("kernels");
    if (gate >= 0) return gate;
    return tg_run_suite(kernels_suite());
}
