/* gemm_portable.c - f32 GEMM in plain C11 (any architecture, no intrinsics).
 *
 * Blocked for auto-vectorization: op(B) is packed one NR-column sliver of one
 * K block at a time into ws (kc x NR, zero-padded past the last column), and
 * an MR x NR tile of accumulators is updated with a fixed-width inner loop
 * over NR. op(A) is read in place.
 *
 * Determinism: each C element is acc = acc + a_k * b_k for k = 0..K-1, with
 * acc starting at 0 (beta=0) or C (beta=1) and kept in C between K blocks;
 * tail tiles run the same loop over zero-padded columns, so the column range
 * never changes a result.
 */
#include <math.h>

#include "kern_gemm.h"

#define MR TG_GEMM_MR_PORTABLE
#define NR TG_GEMM_NR_PORTABLE
#define KC_MAX 256

static int kc_of(int K)
{
    int nb = (K + KC_MAX - 1) / KC_MAX;
    return nb > 0 ? (K + nb - 1) / nb : 1;
}

size_t tg_sgemm_ws_portable(const tg_gemm_desc *d)
{
    return (size_t)kc_of(d->K) * NR;
}

/* op(B) rows [p0, p0+kc) x columns [j0, j0+nc) -> bp[k*NR + j], zero-padded */
static void pack_b(const tg_gemm_desc *d, int j0, int nc, int p0, int kc, float *bp)
{
    for (int k = 0; k < kc; k++) {
        float *dst = bp + (size_t)k * NR;
        for (int j = 0; j < NR; j++) {
            float b = 0.0f;
            if (j < nc)
                b = d->transB ? d->B[(size_t)(j0 + j) * d->ldb + p0 + k]
                              : d->B[(size_t)(p0 + k) * d->ldb + j0 + j];
            dst[j] = b;
        }
    }
}

static float act_scalar(tg_act act, float slope, float x)
{
    switch (act) {
    case TG_ACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case TG_ACT_LEAKY_RELU:
        return x > 0.0f ? x : slope * x;
    case TG_ACT_SIGMOID: { /* e = exp(-|x|) <= 1: x >= 0: 1/(1+e), x < 0: e/(1+e) */
        float e = expf(-fabsf(x));
        return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
    case TG_ACT_TANH:
        return tanhf(x);
    case TG_ACT_SOFTPLUS:
        return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
    case TG_ACT_NONE:
    case TG_ACT_COUNT:
        break;
    }
    return x;
}

/* One mr x NR tile (mr <= MR) over kc; nc valid columns written to c. */
static inline void tile(int mr, const tg_gemm_desc *d, int i0, int p0, int kc,
                        const float *bp, float *c, int nc, int load_c)
{
    float acc[MR][NR];
    const size_t ldc = (size_t)d->ldc, lda = (size_t)d->lda;
    /* op(A)(i0+i, p0+k) = a0[i*si + k*sk] */
    const size_t si = d->transA ? 1 : lda, sk = d->transA ? lda : 1;
    const float *a0 = d->A + i0 * si + p0 * sk;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < NR; j++)
            acc[i][j] = load_c && j < nc ? c[i * ldc + j] : 0.0f;
    for (int k = 0; k < kc; k++) {
        const float *b = bp + (size_t)k * NR;
        for (int i = 0; i < mr; i++) {
            float a = a0[i * si + k * sk];
            for (int j = 0; j < NR; j++)
                acc[i][j] += a * b[j];
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nc; j++)
            c[i * ldc + j] = acc[i][j];
}

void tg_sgemm_portable(const tg_gemm_desc *d, int n0, int n1, float *ws)
{
    const int M = d->M, K = d->K;
    const size_t ldc = (size_t)d->ldc;
    if (n0 >= n1 || M <= 0)
        return;
    if (K <= 0 && !d->beta) /* empty sum */
        for (int i = 0; i < M; i++)
            for (int j = n0; j < n1; j++)
                d->C[i * ldc + j] = 0.0f;

    const int kc_nom = kc_of(K);
    for (int p0 = 0; p0 < K; p0 += kc_nom) {
        const int kc = K - p0 < kc_nom ? K - p0 : kc_nom;
        const int load_c = p0 > 0 || d->beta;
        for (int j0 = n0; j0 < n1; j0 += NR) {
            const int nc = n1 - j0 < NR ? n1 - j0 : NR;
            pack_b(d, j0, nc, p0, kc, ws);
            for (int i0 = 0; i0 < M; i0 += MR) {
                float *c = d->C + i0 * ldc + j0;
                if (M - i0 >= MR) /* constant trip counts for the full tiles */
                    tile(MR, d, i0, p0, kc, ws, c, nc, load_c);
                else
                    tile(M - i0, d, i0, p0, kc, ws, c, nc, load_c);
            }
        }
    }

    if (d->bias || d->bias_row || d->act != TG_ACT_NONE)
        for (int i = 0; i < M; i++)
            for (int j = n0; j < n1; j++) {
                float *c = &d->C[i * ldc + j];
                float x = d->bias ? *c + d->bias[j] : *c;
                if (d->bias_row) x += d->bias_row[i];
                *c = act_scalar(d->act, d->slope, x);
            }
    if (d->drop_on || d->dact_y) { /* backward epilogue (kernels.h): portable.c's own kernels, in place */
        const tg_kern *k = tg_kern_portable();
        const size_t n = (size_t)(n1 - n0);
        for (int i = 0; i < M; i++) {
            const size_t e0 = (size_t)i * ldc + (size_t)n0; /* the dropout mask's flat index */
            if (d->drop_on) k->dropout(d->C, d->C, e0, e0 + n, d->drop_key, d->drop_thr, d->drop_scale, 0);
            if (d->dact_y) k->act_bwd(d->dact, d->dslope, d->dact_y + e0, d->dact_y + e0, d->C + e0, d->C + e0, n, 0);
        }
    }
}
