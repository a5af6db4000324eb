/* kernels.h - the kernel layer under tapegrad's ops (internal, not installed).
 *
 * Two families:
 *   - f64 reference kernels (tg_ref_*): scalar, obviously correct, double
 *     accumulation. They are the oracle for parity tests and what gradient
 *     checking runs through. Not dispatched.
 *   - f32 optimized kernels, one table (tg_kern) per CPU variant: "avx512",
 *     "avx2" (AVX2+FMA) on x86-64, "neon" (AdvSIMD) on AArch64, and
 *     "portable" (GCC/Clang vector extensions at the baseline ISA, any
 *     architecture). Each variant is compiled as its own static library with
 *     its own flags; the variant is picked at run time from CPUID or HWCAP
 *     (tg_kern_best). SLEEF is called only in the avx512, avx2 and neon
 *     variants.
 *
 * Dimension legend: B batch rows, N columns (features), M,N,K GEMM dims.
 * All matrices are row-major. "acc" kernels accumulate (+=) into their output,
 * the others overwrite. Backward kernels always accumulate into dx.
 *
 * Determinism contract (every variant): the value written to any output
 * element depends only on the inputs, never on how the caller splits the
 * work into ranges, so results are bit-identical across thread counts.
 */
#ifndef TG_KERNELS_H
#define TG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Element-wise activations (tg_act.h), shared by the activation ops and GEMM
 * epilogues. */
#include "tg_act.h"

/* C = op(A) op(B) (+ C if beta) (+ bias) (+ bias_row) then act, on columns [n0, n1).
 *   op(A) is (M,K): A stored (M,K) with row stride lda, or if transA stored (K,M).
 *   op(B) is (K,N): B stored (K,N) with row stride ldb, or if transB stored (N,K).
 *   C is (M,N) with row stride ldc.
 * bias (N), one value per column (a linear layer's y = x W + b), and
 * bias_row (M), one per row (a convolution's per-output-channel bias on
 * (Cout, OH*OW)), may be NULL; the element is c + bias[j] + bias_row[i] in
 * that order, and act applies after them. beta != 0 with act != NONE is not
 * allowed (callers never ask for it). */
typedef struct tg_gemm_desc {
    int M, N, K;
    const float *A; int lda; int transA;
    const float *B; int ldb; int transB;
    float *C; int ldc;
    int beta;          /* 0: overwrite C, 1: accumulate into C */
    const float *bias; /* (N) or NULL */
    const float *bias_row; /* (M) or NULL */
    tg_act act; float slope;
    /* Backward epilogue (beta = 0, no bias/act): C holds a gradient dy that
     * flows back through an optional dropout and then an activation whose
     * derivative reads only its output (tg_act_y_only); the GEMM writes the
     * gradient below them instead, element (i, j) at flat index e = i*ldc + j:
     *   g = drop_on ? (tg_dropout_hash(drop_key, e + drop_off) >= drop_thr ? c * drop_scale : 0) : c
     *   C = dact_y ? g * act'(dact_y[e]) : g
     * with the same operations as the dropout and activation backward kernels
     * (bit-identical to running them after the GEMM). */
    const float *dact_y; /* the activation's output, (M,N) row stride ldc, or NULL */
    tg_act dact; float dslope;
    int drop_on; uint32_t drop_key, drop_off, drop_thr; float drop_scale;
} tg_gemm_desc;

/* A plain product C = op(A) op(B) (+ C if beta): no bias, no epilogues. */
#define TG_GEMM(m, n, k, a, lda_, ta, b, ldb_, tb, c, ldc_, beta_)                                        \
    ((tg_gemm_desc){.M = (m), .N = (n), .K = (k), .A = (a), .lda = (lda_), .transA = (ta), .B = (b),     \
                    .ldb = (ldb_), .transB = (tb), .C = (c), .ldc = (ldc_), .beta = (beta_),             \
                    .act = TG_ACT_NONE, .dact = TG_ACT_NONE})

typedef struct tg_kern {
    const char *name; /* "avx512", "avx2", "neon", "portable" */
    int nr;           /* column granularity callers should split GEMM work on */

    /* ---- GEMM ---- */
    /* floats of per-thread workspace needed for a call on any column range */
    size_t (*sgemm_ws)(const tg_gemm_desc *d);
    /* compute columns [n0, n1) of C; ws has sgemm_ws(d) floats, 64-byte aligned */
    void (*sgemm)(const tg_gemm_desc *d, int n0, int n1, float *ws);

    /* ---- element-wise, all over n contiguous elements ---- */
    /* y = act(x) */
    void (*act_fwd)(tg_act act, float slope, const float *x, float *y, size_t n);
    /* dx += dy * act'(x) when acc, else dx = dy * act'(x) (the first writer
     * of a gradient: no zeroing pass). Reads only y for relu, leaky with
     * slope >= 0, sigmoid and tanh (x may then be y: tg_act_y_only); softplus
     * reads x. */
    void (*act_bwd)(tg_act act, float slope, const float *x, const float *y,
                    const float *dy, float *dx, size_t n, int acc);
    /* y = a + s*b  (add: s=1, sub: s=-1) */
    void (*add)(const float *a, const float *b, float s, float *y, size_t n);
    /* y = a * b */
    void (*mul)(const float *a, const float *b, float *y, size_t n);
    /* y = s * x */
    void (*scale)(const float *x, float s, float *y, size_t n);
    /* dx += s * dy */
    void (*axpy)(const float *dy, float s, float *dx, size_t n);
    /* dx += dy * b */
    void (*mul_acc)(const float *dy, const float *b, float *dx, size_t n);

    /* ---- row broadcast (x is (B,N), b is (N)) ---- */
    /* y = x + b per row, optionally followed by act */
    void (*bias_act)(const float *x, const float *b, tg_act act, float slope,
                     float *y, int B, int N);
    /* db[j] += sum_i dy[i,j] for j in [j0, j1) (summed in row order i = 0..B-1) */
    void (*colsum_acc)(const float *dy, float *db, int B, int N, int j0, int j1);

    /* ---- fused losses ---- */
    /* sum_i [max(x,0) - x*t + log1p(exp(-|x|))], t = tv ? tv[i] : tc; double accumulation */
    double (*bce_sum)(const float *x, const float *tv, float tc, size_t n);
    /* dx += s * (sigmoid(x) - t);  dt (if non-NULL) += -s * x */
    void (*bce_bwd)(const float *x, const float *tv, float tc, float s,
                    float *dx, float *dt, size_t n);

    /* sum of x in double (fixed order, independent of any split) */
    double (*sum)(const float *x, size_t n);
    /* Softmax cross-entropy over B rows of C logits: writes p = softmax(x)
     * row-wise (B,C) and returns sum_i -log p[i, label_i] (double), computed
     * as logsumexp(x_i) - x_i[label_i] (stable for any finite logits).
     * Labels must be in [0, C): the caller validates them. */
    double (*softmax_xent)(const float *x, const int32_t *labels, float *p, int B, int C);

    /* ---- dropout ---- */
    /* for i in [i0, i1): y[i] = keep_i ? x[i] * scale : 0  (acc: y[i] += that),
     * keep_i = tg_dropout_hash(key, i + off) >= thr: a counter-based mask, the
     * same bits in every variant and for any split of the range, so backward
     * recomputes it instead of storing it. off shifts the index the mask
     * reads (not the memory): x and y hold elements off.. of a larger tensor
     * whose masks they must match (a slice of a global batch). */
    void (*dropout)(const float *x, float *y, size_t i0, size_t i1, uint32_t key, uint32_t off, uint32_t thr,
                    float scale, int acc);

    /* ---- optimizer ---- */
    /* Adam, PyTorch semantics, in place over n elements:
     *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
     *   w -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
     * bc1 = 1 - b1^t, bc2 = 1 - b2^t computed by the caller. */
    void (*adam)(float *w, const float *g, float *m, float *v, size_t n,
                 float lr, float b1, float b2, float eps, float bc1, float bc2);

    /* ---- machine peak (benchmarks only) ---- */
    /* n rounds of 12 independent vector FMA chains (enough to cover the FMA
     * latency on every x86 core we know); returns the float operations done
     * (2 per lane per FMA) and writes a checksum so nothing is optimized
     * away. Timing it gives the variant's peak FMA rate on this core. */
    double (*fma_peak)(long n, float *sink);
} tg_kern;

/* The dropout mask's hash: murmur3's 32-bit finalizer over key ^ (i * golden
 * ratio); keep element i when the result is >= p * 2^32. It reads the low 32
 * bits of i: index arithmetic (an offset added to i) is modulo 2^32. */
#define TG_DROP_GOLDEN 0x9E3779B1u /* the hash's constants, shared with the SIMD GEMM epilogues */
#define TG_DROP_MUL1 0x85EBCA6Bu
#define TG_DROP_MUL2 0xC2B2AE35u
static inline uint32_t tg_dropout_hash(uint32_t key, size_t i)
{
    uint32_t h = key ^ ((uint32_t)i * TG_DROP_GOLDEN);
    h ^= h >> 16;
    h *= TG_DROP_MUL1;
    h ^= h >> 13;
    h *= TG_DROP_MUL2;
    h ^= h >> 16;
    return h;
}

/* Variants. Those not compiled for this architecture are NULL-returning stubs. */
const tg_kern *tg_kern_portable(void);
const tg_kern *tg_kern_avx2(void);   /* NULL if not built (non-x86) */
const tg_kern *tg_kern_avx512(void); /* NULL if not built (non-x86) */
const tg_kern *tg_kern_neon(void);   /* NULL if not built (non-AArch64) */
/* What this CPU supports, best first; fills out[] (at most 3), returns count. */
int tg_kern_available(const tg_kern **out);
/* What TG_KERNEL=portable|avx2|avx512|neon in the environment asks for. Sets
 * *chosen (may be NULL) to the variant tg_kern_best returns: the one named
 * when the CPU runs it, else the best. Returns TG_KREQ_NONE (unset or empty),
 * TG_KREQ_OK (names a variant this CPU runs), TG_KREQ_UNKNOWN (no such
 * variant) or TG_KREQ_UNAVAILABLE (this CPU or build lacks it); for the last
 * two, msg (may be NULL) says so: a forced variant never falls back silently
 * (the engine refuses to compile f32 plans, the CLI exits, a test suite
 * reports itself skipped). */
enum { TG_KREQ_NONE = 0, TG_KREQ_OK = 1, TG_KREQ_UNKNOWN = -1, TG_KREQ_UNAVAILABLE = -2 };
int tg_kern_request(const tg_kern **chosen, char *msg, size_t len);
/* The variant f32 work uses: the TG_KERNEL choice when valid, else the best
 * for this CPU; computed once. */
const tg_kern *tg_kern_best(void);

/* ---- f64 reference kernels (the oracle) ---- */
void tg_ref_gemm(int M, int N, int K, const double *A, int lda, int transA,
                 const double *B, int ldb, int transB, double *C, int ldc, int beta);
double tg_ref_act(tg_act act, double slope, double x);
/* derivative of act at x, given y = act(x) */
double tg_ref_dact(tg_act act, double slope, double x, double y);
double tg_ref_softplus(double x);            /* log(1+e^x), stable */
double tg_ref_sigmoid(double x);             /* stable for any finite x */
double tg_ref_bce(double x, double t);       /* max(x,0) - x t + log1p(exp(-|x|)) */

#endif
