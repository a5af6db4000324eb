/* test_gemm.c - the f32 GEMM kernels (kern_gemm.h) against tg_ref_gemm (f64).
 *
 * Each variant is called directly. meson runs the suite once per variant
 * (gemm-portable, gemm-avx2, gemm-avx512, gemm-neon: TG_KERNEL names it, and the suite
 * reports itself skipped when the CPU or build lacks it; see kernel_gate.h);
 * run by hand without TG_KERNEL it tests every variant the CPU runs. Each
 * loop test runs once per variant index.
 *
 * Tolerance per element: |c - ref| <= 1e-5 * (sum_k |a_ik b_kj| + |c0| + |bias| + |bias_row|)
 * + 2e-6 |ref| + 1e-6, with ref computed in double (then act in double).
 * f32 accumulation error is about K * 2^-24 * sum|ab|; K <= ~800 here keeps
 * that under 5e-5 relative in the worst case, typically far less; the
 * activations used have |act'| <= 1, so the bound carries through them.
 */
#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern_gemm.h"
#include "kernels.h"

typedef struct {
    const char *name;
    size_t (*ws)(const tg_gemm_desc *d);
    void (*gemm)(const tg_gemm_desc *d, int n0, int n1, float *ws);
    int mr, nr;
} variant;

#define NVAR 4

/* The variant with index vi, or NULL if this CPU (or build) lacks it or
 * TG_KERNEL names another one (main() has checked that the CPU runs the
 * one it names). */
static const variant *get_variant(int vi)
{
    static const variant vars[NVAR] = {
        [0] = {"portable", tg_sgemm_ws_portable, tg_sgemm_portable, TG_GEMM_MR_PORTABLE, TG_GEMM_NR_PORTABLE},
#if defined(TG_HAVE_X86_VARIANTS) && defined(__x86_64__)
        [1] = {"avx2", tg_sgemm_ws_avx2, tg_sgemm_avx2, TG_GEMM_MR_AVX2, TG_GEMM_NR_AVX2},
        [2] = {"avx512", tg_sgemm_ws_avx512, tg_sgemm_avx512, TG_GEMM_MR_AVX512, TG_GEMM_NR_AVX512},
#endif
#if defined(TG_HAVE_NEON_VARIANT) && defined(__aarch64__)
        [3] = {"neon", tg_sgemm_ws_neon, tg_sgemm_neon, TG_GEMM_MR_NEON, TG_GEMM_NR_NEON},
#endif
    };
    if (vi < 0 || vi >= NVAR || !vars[vi].name) return NULL; /* not built (another architecture, -Dsimd=false) */
    const char *want = tg_kernel_wanted();
    if (want && strcmp(want, vars[vi].name) != 0) return NULL;
    const tg_kern *av[3];
    const int n = tg_kern_available(av);
    for (int i = 0; i < n; i++)
        if (!strcmp(av[i]->name, vars[vi].name)) return &vars[vi];
    return NULL;
}

/* ---- deterministic test data ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15u + 1; }

static float urand(void) /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---- one GEMM problem ---- */

typedef struct {
    int M, N, K, transA, transB;
    int pad_a, pad_b, pad_c; /* extra row stride beyond the width */
    int beta, use_bias;
    int use_row_bias;  /* a bias per row (bias_row, M values) */
    tg_act act;
    float slope;
    float scale; /* magnitude of A and B entries */
} problem;

typedef struct {
    problem p;
    int lda, ldb, ldc;
    float *A, *B, *C0, *bias, *brow; /* C0: C before the call (random, also in the padding) */
    double *ref, *bound;           /* (M,N) */
} fixture;

static void fixture_init(fixture *f, const problem *p, uint64_t seed)
{
    f->p = *p;
    const int M = p->M, N = p->N, K = p->K;
    f->lda = (p->transA ? M : K) + p->pad_a;
    f->ldb = (p->transB ? K : N) + p->pad_b;
    f->ldc = N + p->pad_c;
    size_t na = (size_t)(p->transA ? K : M) * f->lda;
    size_t nb = (size_t)(p->transB ? N : K) * f->ldb;
    size_t nc = (size_t)M * f->ldc;
    float scale = p->scale > 0.0f ? p->scale : 1.0f;
    rng_seed(seed);
    f->A = malloc(na * sizeof *f->A);
    f->B = malloc(nb * sizeof *f->B);
    f->C0 = malloc(nc * sizeof *f->C0);
    f->bias = malloc((size_t)N * sizeof *f->bias);
    f->brow = malloc((size_t)M * sizeof *f->brow);
    f->ref = malloc((size_t)M * N * sizeof *f->ref);
    f->bound = malloc((size_t)M * N * sizeof *f->bound);
    ck_assert(f->A && f->B && f->C0 && f->bias && f->brow && f->ref && f->bound);
    for (size_t i = 0; i < na; i++) f->A[i] = scale * urand();
    for (size_t i = 0; i < nb; i++) f->B[i] = scale * urand();
    for (size_t i = 0; i < nc; i++) f->C0[i] = urand();
    for (int j = 0; j < N; j++) f->bias[j] = urand();
    for (int i = 0; i < M; i++) f->brow[i] = urand();

    /* reference in double, and the per-element error scale sum_k |a b| */
    double *Ad = malloc(na * sizeof *Ad), *Bd = malloc(nb * sizeof *Bd);
    double *Aa = malloc(na * sizeof *Aa), *Ba = malloc(nb * sizeof *Ba);
    ck_assert(Ad && Bd && Aa && Ba);
    for (size_t i = 0; i < na; i++) { Ad[i] = f->A[i]; Aa[i] = fabs(Ad[i]); }
    for (size_t i = 0; i < nb; i++) { Bd[i] = f->B[i]; Ba[i] = fabs(Bd[i]); }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            f->ref[(size_t)i * N + j] = p->beta ? f->C0[(size_t)i * f->ldc + j] : 0.0;
            f->bound[(size_t)i * N + j] = p->beta ? fabs(f->C0[(size_t)i * f->ldc + j]) : 0.0;
        }
    tg_ref_gemm(M, N, K, Ad, f->lda, p->transA, Bd, f->ldb, p->transB, f->ref, N, 1);
    tg_ref_gemm(M, N, K, Aa, f->lda, p->transA, Ba, f->ldb, p->transB, f->bound, N, 1);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double *r = &f->ref[(size_t)i * N + j];
            if (p->use_bias) {
                *r += f->bias[j];
                f->bound[(size_t)i * N + j] += fabs(f->bias[j]);
            }
            if (p->use_row_bias) {
                *r += f->brow[i];
                f->bound[(size_t)i * N + j] += fabs(f->brow[i]);
            }
            *r = tg_ref_act(p->act, p->slope, *r);
        }
    free(Ad); free(Bd); free(Aa); free(Ba);
}

static void fixture_free(fixture *f)
{
    free(f->A); free(f->B); free(f->C0); free(f->bias); free(f->brow); free(f->ref); free(f->bound);
}

static tg_gemm_desc fixture_desc(const fixture *f, float *C)
{
    tg_gemm_desc d = {
        .M = f->p.M, .N = f->p.N, .K = f->p.K,
        .A = f->A, .lda = f->lda, .transA = f->p.transA,
        .B = f->B, .ldb = f->ldb, .transB = f->p.transB,
        .C = C, .ldc = f->ldc, .beta = f->p.beta,
        .bias = f->p.use_bias ? f->bias : NULL,
        .bias_row = f->p.use_row_bias ? f->brow : NULL,
        .act = f->p.act, .slope = f->p.slope,
    };
    return d;
}

/* Workspace of exactly ws(d) floats (64-byte aligned), poisoned with NaN so
 * that a kernel reading unpacked workspace shows up in the results. */
static float *ws_alloc(const variant *v, const tg_gemm_desc *d)
{
    size_t n = v->ws(d);
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *ws = aligned_alloc(64, bytes ? bytes : 64);
    ck_assert_ptr_nonnull(ws);
    for (size_t i = 0; i < n; i++) ws[i] = NAN;
    return ws;
}

/* Run the kernel on column ranges split at cuts[0..ncuts) (ascending, inside
 * (0,N)), one workspace for all pieces; returns a fresh copy of C. */
static float *run_split(const variant *v, const fixture *f, const int *cuts, int ncuts)
{
    size_t nc = (size_t)f->p.M * f->ldc;
    float *C = malloc(nc * sizeof *C);
    ck_assert_ptr_nonnull(C);
    memcpy(C, f->C0, nc * sizeof *C);
    tg_gemm_desc d = fixture_desc(f, C);
    float *ws = ws_alloc(v, &d);
    int n0 = 0;
    for (int c = 0; c <= ncuts; c++) {
        int n1 = c < ncuts ? cuts[c] : f->p.N;
        v->gemm(&d, n0, n1, ws);
        n0 = n1;
    }
    free(ws);
    return C;
}

/* Check C against the reference; the padding columns must be untouched.
 * (Check's ck_assert_* talk to the parent process on every call, so elements
 * are compared with plain ifs and only a failure reaches Check.) */
static void check_result(const variant *v, const fixture *f, const float *C)
{
    const problem *p = &f->p;
    for (int i = 0; i < p->M; i++) {
        for (int j = 0; j < f->ldc; j++) {
            float c = C[(size_t)i * f->ldc + j];
            if (j >= p->N) {
                if (c != f->C0[(size_t)i * f->ldc + j])
                    ck_abort_msg("%s: padding C[%d][%d] changed", v->name, i, j);
                continue;
            }
            double r = f->ref[(size_t)i * p->N + j];
            double tol = 1e-5 * f->bound[(size_t)i * p->N + j] + 2e-6 * fabs(r) + 1e-6;
            if (isnan(c) || !(fabs(c - r) <= tol))
                ck_abort_msg("%s M=%d N=%d K=%d tA=%d tB=%d beta=%d bias=%d row bias=%d act=%d: "
                             "C[%d][%d] = %.9g, ref %.9g, tol %.3g",
                             v->name, p->M, p->N, p->K, p->transA, p->transB, p->beta,
                             p->use_bias, p->use_row_bias, (int)p->act, i, j, (double)c, r, tol);
        }
    }
}

/* Build, run in one call over all columns, check. */
static void check_problem(const variant *v, const problem *p, uint64_t seed)
{
    fixture f;
    fixture_init(&f, p, seed);
    float *C = run_split(v, &f, NULL, 0);
    check_result(v, &f, C);
    free(C);
    fixture_free(&f);
}

/* The same with all four transpose combinations. */
static void check_all_trans(const variant *v, problem p, uint64_t seed)
{
    for (int t = 0; t < 4; t++) {
        p.transA = t & 1;
        p.transB = t >> 1;
        check_problem(v, &p, seed + (uint64_t)t);
    }
}

#define VARIANT_OR_SKIP()                     \
    const variant *v = get_variant(_i);       \
    if (!v)                                   \
        return

/* ---- core ---- */

START_TEST(test_one_by_one)
{
    VARIANT_OR_SKIP();
    /* 1x1x1: C = a*b exactly */
    check_all_trans(v, (problem){.M = 1, .N = 1, .K = 1}, 1);
    float a = 3.0f, b = -2.5f, c = 7.0f;
    tg_gemm_desc d = {.M = 1, .N = 1, .K = 1, .A = &a, .lda = 1, .B = &b, .ldb = 1,
                      .C = &c, .ldc = 1};
    float *ws = ws_alloc(v, &d);
    v->gemm(&d, 0, 1, ws);
    ck_assert_float_eq(c, -7.5f);
    d.beta = 1; /* accumulate: -7.5 + -7.5 */
    v->gemm(&d, 0, 1, ws);
    ck_assert_float_eq(c, -15.0f);
    free(ws);
}
END_TEST

START_TEST(test_primes)
{
    VARIANT_OR_SKIP();
    check_all_trans(v, (problem){.M = 7, .N = 13, .K = 17}, 2);
    check_all_trans(v, (problem){.M = 31, .N = 37, .K = 41}, 3);
    check_all_trans(v, (problem){.M = 67, .N = 71, .K = 293}, 4); /* > one K block */
}
END_TEST

START_TEST(test_strides)
{
    VARIANT_OR_SKIP();
    check_all_trans(v, (problem){.M = 19, .N = 23, .K = 29, .pad_a = 3, .pad_b = 5, .pad_c = 7}, 5);
    check_all_trans(v, (problem){.M = 5, .N = 40, .K = 33, .pad_a = 16, .pad_b = 1, .pad_c = 1}, 6);
}
END_TEST

START_TEST(test_tails)
{
    VARIANT_OR_SKIP();
    const int ms[] = {v->mr - 1, v->mr + 1, 2 * v->mr - 1, 2 * v->mr + 1, 3 * v->mr};
    const int ns[] = {v->nr - 1, v->nr, v->nr + 1, 8 - 1, 8 + 1, 16 - 1, 16 + 1,
                      2 * v->nr - 1, 2 * v->nr + 1};
    uint64_t seed = 100;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
            if (ms[a] < 1)
                continue;
            problem p = {.M = ms[a], .N = ns[b], .K = 5 + (int)(a + b)};
            check_all_trans(v, p, seed);
            seed += 4;
        }
}
END_TEST

START_TEST(test_degenerate)
{
    VARIANT_OR_SKIP();
    check_all_trans(v, (problem){.M = 37, .N = 45, .K = 1}, 7);  /* K = 1 */
    check_all_trans(v, (problem){.M = 37, .N = 1, .K = 45}, 8);  /* N = 1 */
    check_all_trans(v, (problem){.M = 37, .N = 1, .K = 70, .beta = 1, .pad_a = 2, .pad_b = 3,
                                 .pad_c = 2}, 13);
    check_all_trans(v, (problem){.M = 29, .N = 1, .K = 70, .use_bias = 1,
                                 .act = TG_ACT_SIGMOID, .scale = 2.0f}, 14);
    check_all_trans(v, (problem){.M = 1, .N = 45, .K = 37}, 9);  /* M = 1 */
    check_all_trans(v, (problem){.M = 1, .N = 1, .K = 600}, 10); /* dot product */
    check_all_trans(v, (problem){.M = 64, .N = 1, .K = 128, .use_bias = 1}, 11); /* D's output layer */
    check_all_trans(v, (problem){.M = 64, .N = 128, .K = 1, .beta = 1}, 12);     /* its dx */
    /* N = 1 with A transposed keeps 8 vectors of C in registers: full
     * blocks, a partial block and a ragged rest */
    check_all_trans(v, (problem){.M = 128, .N = 1, .K = 256}, 15);
    check_all_trans(v, (problem){.M = 301, .N = 1, .K = 50, .beta = 1}, 16);
}
END_TEST

/* ---- accumulation and epilogue ---- */

START_TEST(test_beta_bias)
{
    VARIANT_OR_SKIP();
    check_all_trans(v, (problem){.M = 29, .N = 53, .K = 31, .beta = 1}, 20);
    check_all_trans(v, (problem){.M = 29, .N = 53, .K = 300, .beta = 1, .pad_c = 2}, 21);
    check_all_trans(v, (problem){.M = 29, .N = 53, .K = 31, .use_bias = 1}, 22);
    check_all_trans(v, (problem){.M = 29, .N = 53, .K = 31, .beta = 1, .use_bias = 1}, 23);
}
END_TEST

/* A bias per row (a convolution's per-output-channel bias on (Cout, OH*OW)):
 * every transpose form, tails in both dimensions, several K blocks, with
 * an activation after it, alone and together with a column bias (added
 * first), N = 1 (the matrix-vector path) and K = 0 (bias and act only). */
START_TEST(test_row_bias)
{
    VARIANT_OR_SKIP();
    check_all_trans(v, (problem){.M = 29, .N = 53, .K = 31, .use_row_bias = 1}, 24);
    check_all_trans(v, (problem){.M = 2 * v->mr + 3, .N = 3 * v->nr + 5, .K = 300, .use_row_bias = 1,
                                 .act = TG_ACT_LEAKY_RELU, .slope = 0.2f, .pad_c = 3}, 25);
    check_all_trans(v, (problem){.M = 17, .N = 41, .K = 23, .use_bias = 1, .use_row_bias = 1,
                                 .act = TG_ACT_TANH, .scale = 2.0f}, 26);
    check_all_trans(v, (problem){.M = 37, .N = 1, .K = 45, .use_row_bias = 1, .act = TG_ACT_SIGMOID}, 27);
    check_all_trans(v, (problem){.M = 1, .N = 45, .K = 37, .use_row_bias = 1, .act = TG_ACT_RELU}, 28);
    for (int act = TG_ACT_NONE; act < TG_ACT_COUNT; act++)
        check_problem(v, &(problem){.M = 64, .N = 196, .K = 25, .use_row_bias = 1, .act = (tg_act)act,
                                    .slope = 0.2f, .scale = 2.0f}, 90 + (uint64_t)act); /* a 5x5 conv, 14x14 out */
    /* K = 0: C = act(0 + bias_row) */
    fixture f;
    fixture_init(&f, &(problem){.M = 5, .N = 2 * v->nr + 1, .K = 0, .use_row_bias = 1, .act = TG_ACT_TANH}, 29);
    float *C = run_split(v, &f, NULL, 0);
    check_result(v, &f, C);
    free(C);
    fixture_free(&f);
}
END_TEST

START_TEST(test_activations)
{
    VARIANT_OR_SKIP();
    for (int act = TG_ACT_NONE; act < TG_ACT_COUNT; act++) {
        for (int bias = 0; bias <= 1; bias++) {
            /* scale 2 spreads pre-activations over about +-10: both tails of
             * sigmoid/tanh/softplus */
            problem p = {.M = 17, .N = 41, .K = 23, .use_bias = bias, .act = (tg_act)act,
                         .slope = 0.2f, .scale = 2.0f, .pad_c = 3};
            check_all_trans(v, p, 30 + (uint64_t)(2 * act + bias));
            p.M = v->mr + 1;
            p.N = v->nr + 3;
            p.K = 300;
            p.scale = 0.5f;
            check_problem(v, &p, 60 + (uint64_t)(2 * act + bias));
        }
    }
}
END_TEST

START_TEST(test_large_values)
{
    VARIANT_OR_SKIP();
    /* |a|,|b| < 1e17, K = 257: |C| up to ~1e36, finite; the activations must
     * neither overflow into NaN (exp of a huge argument) nor lose sign. */
    for (int act = TG_ACT_NONE; act < TG_ACT_COUNT; act++) {
        problem p = {.M = 9, .N = 35, .K = 257, .use_bias = 1, .act = (tg_act)act,
                     .slope = 0.01f, .scale = 1e17f};
        check_all_trans(v, p, 80 + (uint64_t)act);
    }
}
END_TEST

/* ---- the reference GAN's layers, batch 64 ---- */

static const int gan_layers[][2] = {
    {100, 128}, {128, 256}, {256, 512}, {512, 784}, /* G */
    {784, 512}, {512, 256}, {256, 128}, {128, 1},   /* D */
};

START_TEST(test_gan_shapes)
{
    const variant *v = get_variant(_i % NVAR); /* loop index = layer * NVAR + variant */
    if (!v)
        return;
    const int B = 64;
    const int l = _i / NVAR;
    const int IN = gan_layers[l][0], OUT = gan_layers[l][1];
    uint64_t seed = 200 + 10 * (uint64_t)l;
    /* forward y = act(x W + b): x (B,IN), W (IN,OUT) */
    check_problem(v, &(problem){.M = B, .N = OUT, .K = IN, .use_bias = 1,
                                .act = l == 3 ? TG_ACT_TANH : TG_ACT_LEAKY_RELU, .slope = 0.2f}, seed);
    /* dW += x^T dy: (IN,OUT), K = B, x stored (B,IN) */
    check_problem(v, &(problem){.M = IN, .N = OUT, .K = B, .transA = 1, .beta = 1}, seed + 1);
    /* dx += dy W^T: (B,IN), K = OUT, W stored (IN,OUT) */
    check_problem(v, &(problem){.M = B, .N = IN, .K = OUT, .transB = 1, .beta = 1}, seed + 2);
}
END_TEST

/* ---- determinism under column splits ---- */

static void check_splits(const variant *v, const problem *p, uint64_t seed)
{
    fixture f;
    fixture_init(&f, p, seed);
    const int N = p->N, nr = v->nr;
    size_t nc = (size_t)p->M * f.ldc;
    float *whole = run_split(v, &f, NULL, 0);
    check_result(v, &f, whole);

    int cuts[64] = {0};
    int ncut;
    /* two pieces, cut at every multiple of NR */
    for (int c = nr; c < N; c += nr) {
        float *C = run_split(v, &f, &c, 1);
        ck_assert_msg(memcmp(C, whole, nc * sizeof *C) == 0, "%s: split at %d differs", v->name, c);
        free(C);
    }
    /* one piece per NR tile, like many threads */
    ncut = 0;
    for (int c = nr; c < N && ncut < 64; c += nr)
        cuts[ncut++] = c;
    float *C = run_split(v, &f, cuts, ncut);
    ck_assert_msg(memcmp(C, whole, nc * sizeof *C) == 0, "%s: per-tile split differs", v->name);
    free(C);
    /* uneven pieces at NR boundaries: [0,NR) [NR,4NR) [4NR,5NR) [5NR,N) */
    ncut = 0;
    const int uneven[] = {1, 4, 5};
    for (int u = 0; u < 3; u++)
        if (uneven[u] * nr < N)
            cuts[ncut++] = uneven[u] * nr;
    C = run_split(v, &f, cuts, ncut);
    ck_assert_msg(memcmp(C, whole, nc * sizeof *C) == 0, "%s: uneven split differs", v->name);
    free(C);
    /* off-grid cuts (not multiples of NR, nor of the vector width) */
    ncut = 0;
    for (int c = 1; c < N && ncut < 64; c += 2 * c + 5)
        cuts[ncut++] = c;
    C = run_split(v, &f, cuts, ncut);
    ck_assert_msg(memcmp(C, whole, nc * sizeof *C) == 0, "%s: off-grid split differs", v->name);
    free(C);

    free(whole);
    fixture_free(&f);
}

START_TEST(test_split_determinism)
{
    VARIANT_OR_SKIP();
    /* G's last layer: tanh epilogue, K over several blocks, N = 784 */
    check_splits(v, &(problem){.M = 64, .N = 784, .K = 512, .use_bias = 1, .act = TG_ACT_TANH}, 300);
    /* dx with a transposed B and tails in every dimension */
    check_splits(v, &(problem){.M = 37, .N = 7 * v->nr + 5, .K = 301, .transB = 1, .beta = 1,
                               .pad_c = 3}, 301);
    /* dW with a transposed A */
    check_splits(v, &(problem){.M = 2 * v->mr + 3, .N = 3 * v->nr + 1, .K = 64, .transA = 1,
                               .use_bias = 1, .act = TG_ACT_SOFTPLUS}, 302);
    check_splits(v, &(problem){.M = 5, .N = 5 * v->nr - 1, .K = 33, .transA = 1, .transB = 1,
                               .act = TG_ACT_SIGMOID}, 303);
    /* a convolution's forward: per-row bias and an activation */
    check_splits(v, &(problem){.M = 2 * v->mr + 1, .N = 196, .K = 75, .use_row_bias = 1,
                               .act = TG_ACT_LEAKY_RELU, .slope = 0.2f}, 304);
}
END_TEST

/* Columns outside [n0, n1) are never written. */
START_TEST(test_range_only)
{
    VARIANT_OR_SKIP();
    fixture f;
    problem p = {.M = 21, .N = 5 * v->nr + 3, .K = 40, .use_bias = 1, .act = TG_ACT_RELU};
    fixture_init(&f, &p, 400);
    size_t nc = (size_t)p.M * f.ldc;
    float *C = malloc(nc * sizeof *C);
    ck_assert_ptr_nonnull(C);
    memcpy(C, f.C0, nc * sizeof *C);
    tg_gemm_desc d = fixture_desc(&f, C);
    float *ws = ws_alloc(v, &d);
    const int n0 = v->nr, n1 = 3 * v->nr + 1;
    v->gemm(&d, n0, n1, ws);
    v->gemm(&d, n1, n1, ws); /* empty range: no-op */
    for (int i = 0; i < p.M; i++)
        for (int j = 0; j < p.N; j++)
            if ((j < n0 || j >= n1) && C[(size_t)i * f.ldc + j] != f.C0[(size_t)i * f.ldc + j])
                ck_abort_msg("%s: C[%d][%d] outside [%d,%d) written", v->name, i, j, n0, n1);
    free(ws);
    free(C);
    fixture_free(&f);
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");

    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_one_by_one, 0, NVAR);
    tcase_add_loop_test(tc, test_primes, 0, NVAR);
    tcase_add_loop_test(tc, test_strides, 0, NVAR);
    tcase_add_loop_test(tc, test_tails, 0, NVAR);
    tcase_add_loop_test(tc, test_beta_bias, 0, NVAR);
    tcase_add_loop_test(tc, test_activations, 0, NVAR);
    tcase_add_loop_test(tc, test_row_bias, 0, NVAR);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_degenerate, 0, NVAR);
    tcase_add_loop_test(tc, test_large_values, 0, NVAR);
    tcase_add_loop_test(tc, test_range_only, 0, NVAR);
    suite_add_tcase(s, tc);

    tc = tcase_create("gan");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_gan_shapes, 0,
                        NVAR * (int)(sizeof gan_layers / sizeof gan_layers[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("determinism");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_split_determinism, 0, NVAR);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("gemm");
    if (gate >= 0) return gate;
    return tg_run_suite(gemm_suite());
}
