/* portable.c - the "portable" tg_kern table: plain C11 + libm, any architecture.
 *
 * Dimension legend: n elements; B rows, N columns (row-major); C classes.
 * Float math in float (expf, tanhf, log1pf), reductions in double.
 *
 * Canonical reduction order (shared with elem_simd.inc, so that tg_kern.sum
 * gives the same bits in every variant): element i is added to double lane
 * i % 16 in increasing i (a short last block adds +0.0 to its missing lanes),
 * then the 16 lanes are folded pairwise: lane[c] += lane[c + w] for
 * w = 8, 4, 2, 1 and c < w; the result is lane[0].
 */
#include <math.h>

#include "kernels.h"
#include "kern_gemm.h"

enum { LANES = 16, COLBLK = 64 };

static double fold16(double *acc)
{
    for (int w = LANES / 2; w >= 1; w /= 2)
        for (int c = 0; c < w; c++)
            acc[c] += acc[c + w];
    return acc[0];
}

/* stable sigmoid: e = e^-|x|; x >= 0: 1/(1+e), else e/(1+e) */
static float sigmoidf_(float x)
{
    float e = expf(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

static float softplusf_(float x)
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

static float act1(tg_act act, float slope, float x)
{
    switch (act) {
    case TG_ACT_NONE:     return x;
    case TG_ACT_RELU:     return x > 0.0f ? x : 0.0f;
    case TG_ACT_LEAKY_RELU:    return x > 0.0f ? x : slope * x;
    case TG_ACT_SIGMOID:  return sigmoidf_(x);
    case TG_ACT_TANH:     return tanhf(x);
    case TG_ACT_SOFTPLUS: return softplusf_(x);
    case TG_ACT_COUNT:    break;
    }
    return x;
}

static void act_fwd(tg_act act, float slope, const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = act1(act, slope, x[i]);
}

/* (1-y)(1+y) and y(1-y) rather than 1-y*y: 1-y is exact for y in [0.5, 1],
 * so the derivative keeps full relative precision where tanh/sigmoid saturate. */
static void act_bwd(tg_act act, float slope, const float *x, const float *y,
                    const float *dy, float *dx, size_t n, int acc)
{
#define DX(v) (dx[i] = acc ? dx[i] + (v) : (v))
    size_t i;
    /* relu, and leaky with slope >= 0: x > 0 exactly when y > 0, so the
     * derivative reads y (same bits); a plan may then drop x altogether */
    if (act == TG_ACT_RELU || (act == TG_ACT_LEAKY_RELU && slope >= 0.0f)) x = y;
    switch (act) {
    case TG_ACT_NONE:
        for (i = 0; i < n; i++) DX(dy[i]);
        break;
    case TG_ACT_RELU:
        for (i = 0; i < n; i++) DX(x[i] > 0.0f ? dy[i] : 0.0f);
        break;
    case TG_ACT_LEAKY_RELU:
        for (i = 0; i < n; i++) DX(x[i] > 0.0f ? dy[i] : slope * dy[i]);
        break;
    case TG_ACT_SIGMOID:
        for (i = 0; i < n; i++) DX(dy[i] * (y[i] * (1.0f - y[i])));
        break;
    case TG_ACT_TANH:
        for (i = 0; i < n; i++) DX(dy[i] * ((1.0f - y[i]) * (1.0f + y[i])));
        break;
    case TG_ACT_SOFTPLUS:
        for (i = 0; i < n; i++) DX(dy[i] * sigmoidf_(x[i]));
        break;
    case TG_ACT_COUNT:
        break;
    }
}
#undef DX

static void add(const float *a, const float *b, float s, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = a[i] + s * b[i];
}

static void mul(const float *a, const float *b, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

static void scale(const float *x, float s, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = s * x[i];
}

static void axpy(const float *dy, float s, float *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += s * dy[i];
}

static void mul_acc(const float *dy, const float *b, float *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * b[i];
}

static void bias_act(const float *x, /* (B,N) */ const float *b, /* (N) */
                     tg_act act, float slope, float *y, /* (B,N) */ int B, int N)
{
    for (size_t i = 0; i < (size_t)B; i++) {
        const float *xr = x + i * (size_t)N;
        float *yr = y + i * (size_t)N;
        for (size_t j = 0; j < (size_t)N; j++)
            yr[j] = act1(act, slope, xr[j] + b[j]);
    }
}

/* Each column is summed in float from 0 in row order, then added to db. */
static void colsum_acc(const float *dy, /* (B,N) */ float *db, /* (N) */
                       int B, int N, int j0, int j1)
{
    for (int jb = j0; jb < j1; jb += COLBLK) {
        int nj = j1 - jb < COLBLK ? j1 - jb : COLBLK;
        float s[COLBLK];
        for (int j = 0; j < nj; j++) s[j] = 0.0f;
        for (size_t i = 0; i < (size_t)B; i++) {
            const float *r = dy + i * (size_t)N + (size_t)jb;
            for (int j = 0; j < nj; j++) s[j] += r[j];
        }
        for (int j = 0; j < nj; j++) db[jb + j] += s[j];
    }
}

/* max(x,0) - x t is exact-then-rounded-once in double (x t is exact). */
static double bce_term(float x, float t)
{
    double xd = x, td = t;
    double lin = (xd > 0.0 ? xd : 0.0) - xd * td;
    return lin + (double)log1pf(expf(-fabsf(x)));
}

static double bce_sum(const float *x, const float *tv, float tc, size_t n)
{
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int c = 0; c < LANES; c++)
            acc[c] += bce_term(x[i + c], tv ? tv[i + c] : tc);
    if (i < n)
        for (int c = 0; c < LANES; c++)
            acc[c] += i + (size_t)c < n ? bce_term(x[i + c], tv ? tv[i + c] : tc) : 0.0;
    return fold16(acc);
}

static void bce_bwd(const float *x, const float *tv, float tc, float s,
                    float *dx, float *dt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float t = tv ? tv[i] : tc;
        dx[i] += s * (sigmoidf_(x[i]) - t);
    }
    if (dt)
        for (size_t i = 0; i < n; i++) dt[i] += -s * x[i];
}

static double sum(const float *x, size_t n)
{
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int c = 0; c < LANES; c++) acc[c] += (double)x[i + c];
    if (i < n)
        for (int c = 0; c < LANES; c++)
            acc[c] += i + (size_t)c < n ? (double)x[i + c] : 0.0;
    return fold16(acc);
}

static double softmax_xent(const float *x, /* (B,C) */ const int32_t *labels, /* (B) */
                           float *p, /* (B,C) */ int B, int C)
{
    double loss = 0.0;
    for (size_t i = 0; i < (size_t)B; i++) {
        const float *xr = x + i * (size_t)C;
        float *pr = p + i * (size_t)C;
        float m = xr[0];
        for (int j = 1; j < C; j++) m = xr[j] > m ? xr[j] : m;
        double s = 0.0;
        for (int j = 0; j < C; j++) {
            pr[j] = expf(xr[j] - m);
            s += pr[j];
        }
        float inv = (float)(1.0 / s);
        for (int j = 0; j < C; j++) pr[j] *= inv;
        /* -log p[label] = logsumexp - x[label] = m + log(s) - x[label] */
        loss += ((double)m + log(s)) - (double)xr[labels[i]];
    }
    return loss;
}

static void adam(float *w, const float *g, float *m, float *v, size_t n,
                 float lr, float b1, float b2, float eps, float bc1, float bc2)
{
    /* PyTorch's order: denom = sqrt(v)/sqrt(bc2) + eps; w -= (lr/bc1) m / denom */
    const float c1 = 1.0f - b1, c2 = 1.0f - b2, step = lr / bc1, rsbc2 = 1.0f / sqrtf(bc2);
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + c1 * g[i];
        float vi = b2 * v[i] + c2 * (g[i] * g[i]);
        m[i] = mi;
        v[i] = vi;
        w[i] -= step * mi / (sqrtf(vi) * rsbc2 + eps);
    }
}

/* see tg_kern.fma_peak: 12 independent multiply-add chains (what the
 * portable kernels can reach: they rely on the compiler's vectorizer) */
static double fma_peak(long n, float *sink)
{
    float a[12];
    for (int j = 0; j < 12; j++) a[j] = 0.5f + 0.1f * (float)j;
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 12; j++) a[j] = a[j] * 0.999999f + 1e-7f;
    float s = 0.0f;
    for (int j = 0; j < 12; j++) s += a[j];
    *sink = s;
    return (double)n * 12.0 * 2.0;
}

#include "dropout.inc"

static const tg_kern kern_portable = {
    .name = "portable",
    .nr = TG_GEMM_NR_PORTABLE,
    .sgemm_ws = tg_sgemm_ws_portable,
    .sgemm = tg_sgemm_portable,
    .act_fwd = act_fwd,
    .act_bwd = act_bwd,
    .add = add,
    .mul = mul,
    .scale = scale,
    .axpy = axpy,
    .mul_acc = mul_acc,
    .bias_act = bias_act,
    .colsum_acc = colsum_acc,
    .bce_sum = bce_sum,
    .bce_bwd = bce_bwd,
    .sum = sum,
    .softmax_xent = softmax_xent,
    .dropout = dropout,
    .adam = adam,
    .fma_peak = fma_peak,
};

const tg_kern *tg_kern_portable(void)
{
    return &kern_portable;
}
