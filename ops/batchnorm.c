/* batchnorm.c - batch normalization over axis 1 (PyTorch's BatchNorm1d on
 * (N, C) and BatchNorm2d on (N, C, H, W)).
 * Legend: x seen as (N, C, S), S = H W (1 for (N, C)); M = N S values per
 * channel c; inputs x, gamma (C), beta (C), running mean rm (C), running
 * variance rv (C) (state parameters).
 * Training:  mean = sum x / M,  var = sum (x - mean)^2 / M  (biased),
 *            istd = 1 / sqrt(var + eps),  xhat = (x - mean) istd,
 *            y = gamma xhat + beta;
 *            dbeta += sum dy,  dgamma += sum dy xhat,
 *            dx += gamma istd (dy - sum dy / M - xhat sum(dy xhat) / M).
 *   An f32 training forward then updates rm = (1 - m) rm + m mean and
 *   rv = (1 - m) rv + m var M / (M - 1) (tapegrad.h says when).
 * Eval:      istd = 1 / sqrt(rv + eps), xhat = (x - rm) istd,
 *            y = gamma xhat + beta;  dx += gamma istd dy;  dgamma, dbeta as above.
 * Backward recomputes the batch statistics from x instead of saving them
 * from forward, so a plan that reuses this node's kept value (it did not
 * run the forward) can still run its backward. Channels are independent:
 * the f32 path runs them as tasks on the pool, each in a fixed order, with
 * sums in double (below).
 * Synchronized (a plan with a batch-sum hook, tg_plan_on_batch_sums; f32
 * training only): the batch is the global batch of every process. A
 * training forward or backward first sums over its own rows, per channel,
 * into the plan's buffer (a pool job), hands the sums and M to the hook on
 * the calling thread, which sums them over the processes, then runs the
 * formulas above with the global sums and M (a second pool job). dbeta and
 * dgamma stay this process's sums over its rows (the global mean and istd in
 * xhat): the gradient averaging that follows makes them the global batch's. */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct bn { size_t N, C, S, M; double eps, mom; } bn;

static bn geom_of(const tg_run *r)
{
    const tg_nrec *x = r->in[0];
    bn b = {(size_t)x->d[0], (size_t)x->d[1], 1, 0, tg_attr(r->n)->eps, tg_attr(r->n)->momentum};
    for (int k = 2; k < x->ndim; k++) b.S *= (size_t)x->d[k];
    b.M = b.N * b.S;
    return b;
}

#define IDX(b, n, c, s) (((n) * (b).C + (c)) * (b).S + (s))

/* ---- f64: the formulas as written (the oracle), with a fault-injection
 * build's wrong terms (fault.h) ---- */
static void stats64(const bn *b, const double *x, size_t c, double *mean, double *var)
{
    double s = 0.0, v = 0.0;
    for (size_t n = 0; n < b->N; n++)
        for (size_t i = 0; i < b->S; i++) s += x[IDX(*b, n, c, i)];
    *mean = s / (double)b->M;
    for (size_t n = 0; n < b->N; n++)
        for (size_t i = 0; i < b->S; i++) {
            const double d = x[IDX(*b, n, c, i)] - *mean;
            v += d * d;
        }
    *var = v / (double)b->M;
}

static void fwd64(tg_run *r, const bn *b)
{
    const double *x = r->x[0], *gamma = r->x[1], *beta = r->x[2], *rm = r->x[3], *rv = r->x[4];
    double *y = r->y;
    for (size_t c = 0; c < b->C; c++) {
        double mean = rm[c], var = rv[c];
        if (!r->eval) stats64(b, x, c, &mean, &var);
        const double istd = 1.0 / sqrt(var + b->eps);
        for (size_t n = 0; n < b->N; n++)
            for (size_t i = 0; i < b->S; i++)
                y[IDX(*b, n, c, i)] = gamma[c] * ((x[IDX(*b, n, c, i)] - mean) * istd) + beta[c];
    }
}

static void bwd64(tg_run *r, const bn *b)
{
    const double *x = r->x[0], *gamma = r->x[1], *rm = r->x[3], *rv = r->x[4], *dy = r->dy;
    double *dx = r->dx[0], *dg = r->dx[1], *db = r->dx[2];
    const tg_nrec *nd = r->n;
    for (size_t c = 0; c < b->C; c++) {
        double mean = rm[c], var = rv[c], bmean, bvar;
        stats64(b, x, c, &bmean, &bvar);
        if (!r->eval) mean = bmean, var = bvar;
        if (!r->eval && TG_FAULT(nd, BATCH_NORM, backward_unbiased)) var = bvar * (double)b->M / (double)(b->M - 1);
        const double istd = 1.0 / sqrt(var + b->eps);
        double sdy = 0.0, sdyx = 0.0;
        for (size_t n = 0; n < b->N; n++)
            for (size_t i = 0; i < b->S; i++) {
                const size_t e = IDX(*b, n, c, i);
                sdy += dy[e];
                sdyx += dy[e] * (x[e] - mean) * istd;
            }
        if (db) db[c] = r->fresh[2] ? sdy : db[c] + sdy;
        if (dg) {
            const double v = TG_FAULT(nd, BATCH_NORM, dgamma_drops_xhat) ? sdy : sdyx;
            dg[c] = r->fresh[1] ? v : dg[c] + v;
        }
        if (!dx) continue;
        /* eval: the batch's statistics where the running ones belong (a fault) */
        const double eistd = TG_FAULT(nd, BATCH_NORM, eval_batch_stats) ? 1.0 / sqrt(bvar + b->eps) : istd;
        const double m1 = TG_FAULT(nd, BATCH_NORM, mean_term_dropped) ? 0.0 : sdy / (double)b->M;
        for (size_t n = 0; n < b->N; n++)
            for (size_t i = 0; i < b->S; i++) {
                const size_t e = IDX(*b, n, c, i);
                const double xhat = (x[e] - mean) * istd;
                const double v = r->eval ? gamma[c] * eistd * dy[e]
                                         : gamma[c] * istd * (dy[e] - m1 - xhat * sdyx / (double)b->M);
                dx[e] = r->fresh[0] ? v : dx[e] + v;
            }
    }
}

/* ---- f32: one task per range of channels ----
 * Sums run in double over fixed lanes: a channel's values (N runs of S
 * contiguous floats) go to lane i mod BN_L of a run's position i, the
 * lanes are added in order at the end; with S = 1 (BatchNorm1d) the lanes
 * are BN_L neighbouring channels instead and each channel sums over n in
 * order. Written so the compiler vectorizes both (independent lanes, no
 * reduction inside the loop), with results that depend on the shapes only,
 * never on how the pool splits the channels. Forward: one pass for the
 * statistics (sum x and sum x^2), one for y. Backward: one pass for the
 * statistics and the two sums of dy, one for dx. */
#define BN_L 8

/* s: the batch-sum buffer when synchronized (layout below), else NULL */
typedef struct bjob { tg_run *r; bn b; double *s; } bjob;

/* the sums of channels [c, c + nc) (nc <= BN_L; S = 1 only when nc > 1):
 * q[0] sum x, q[1] sum x^2, and when dy: q[2] sum dy, q[3] sum dy x;
 * q[k][l] is channel c + l's */
static void sums32(const bn *b, const float *x, const float *dy, size_t c, size_t nc, double q[4][BN_L])
{
    double a0[BN_L] = {0}, a1[BN_L] = {0}, a2[BN_L] = {0}, a3[BN_L] = {0};
    if (b->S == 1) { /* lanes are channels */
        for (size_t n = 0; n < b->N; n++) {
            const float *xr = x + n * b->C + c, *dr = dy ? dy + n * b->C + c : NULL;
            if (nc == BN_L) {
                for (int l = 0; l < BN_L; l++) {
                    const double v = xr[l];
                    a0[l] += v;
                    a1[l] += v * v;
                }
                if (dr)
                    for (int l = 0; l < BN_L; l++) {
                        const double g = dr[l];
                        a2[l] += g;
                        a3[l] += g * (double)xr[l];
                    }
            } else {
                for (size_t l = 0; l < nc; l++) {
                    const double v = xr[l], g = dr ? dr[l] : 0.0;
                    a0[l] += v;
                    a1[l] += v * v;
                    a2[l] += g;
                    a3[l] += g * v;
                }
            }
        }
        for (int l = 0; l < BN_L; l++) q[0][l] = a0[l], q[1][l] = a1[l], q[2][l] = a2[l], q[3][l] = a3[l];
        return;
    }
    const size_t S = b->S, body = S / BN_L * BN_L;
    for (size_t n = 0; n < b->N; n++) {
        const float *xr = x + (n * b->C + c) * S, *dr = dy ? dy + (n * b->C + c) * S : NULL;
        for (size_t i = 0; i < body; i += BN_L)
            for (int l = 0; l < BN_L; l++) {
                const double v = xr[i + (size_t)l];
                a0[l] += v;
                a1[l] += v * v;
            }
        if (dr)
            for (size_t i = 0; i < body; i += BN_L)
                for (int l = 0; l < BN_L; l++) {
                    const double g = dr[i + (size_t)l];
                    a2[l] += g;
                    a3[l] += g * (double)xr[i + (size_t)l];
                }
        for (size_t i = body; i < S; i++) {
            const double v = xr[i], g = dr ? dr[i] : 0.0;
            a0[i - body] += v;
            a1[i - body] += v * v;
            a2[i - body] += g;
            a3[i - body] += g * v;
        }
    }
    double t[4] = {0, 0, 0, 0};
    for (int l = 0; l < BN_L; l++) t[0] += a0[l], t[1] += a1[l], t[2] += a2[l], t[3] += a3[l];
    for (int k = 0; k < 4; k++) q[k][0] = t[k];
}

/* batch mean and biased variance from the sums */
static void moments(const bn *b, double s, double ss, double *mean, double *var)
{
    *mean = s / (double)b->M;
    const double v = ss / (double)b->M - *mean * *mean;
    *var = v > 0.0 ? v : 0.0;
}

/* channels [c0, c1): blocks of BN_L channels when S = 1, else one at a time */
#define FOR_BLOCKS(b, c0, c1, c, nc) \
    for (size_t c = (c0), nc; c < (c1) && (nc = (b)->S == 1 ? ((c1) - c < BN_L ? (c1) - c : BN_L) : 1, 1); c += nc)

static void fwd32_channels(void *ctx, size_t c0, size_t c1)
{
    const bjob *j = ctx;
    const tg_run *r = j->r;
    const bn *b = &j->b;
    const float *x = r->x[0], *gamma = r->x[1], *beta = r->x[2];
    /* the store's running statistics (param leaves of an f32 plan) */
    float *rm = (float *)(uintptr_t)r->x[3], *rv = (float *)(uintptr_t)r->x[4];
    float *y = r->y;
    FOR_BLOCKS(b, c0, c1, c, nc) {
        double q[4][BN_L];
        if (j->s) /* the global sums */
            for (size_t l = 0; l < nc; l++) q[0][l] = j->s[c + l], q[1][l] = j->s[b->C + c + l];
        else if (!r->eval)
            sums32(b, x, NULL, c, nc, q);
        float mf[BN_L], a[BN_L], bf[BN_L];
        for (size_t l = 0; l < nc; l++) {
            double mean = rm[c + l], var = rv[c + l];
            if (!r->eval) moments(b, q[0][l], q[1][l], &mean, &var);
            const double istd = 1.0 / sqrt(var + b->eps);
            mf[l] = (float)mean, a[l] = (float)((double)gamma[c + l] * istd), bf[l] = beta[c + l];
            if (!r->eval) { /* PyTorch's momentum update, unbiased variance */
                rm[c + l] = (float)((1.0 - b->mom) * rm[c + l] + b->mom * mean);
                rv[c + l] = (float)((1.0 - b->mom) * rv[c + l] + b->mom * var * (double)b->M / (double)(b->M - 1));
            }
        }
        for (size_t n = 0; n < b->N; n++) {
            const float *xr = x + (n * b->C + c) * b->S;
            float *yr = y + (n * b->C + c) * b->S;
            if (b->S == 1)
                for (size_t l = 0; l < nc; l++) yr[l] = (xr[l] - mf[l]) * a[l] + bf[l];
            else
                for (size_t i = 0; i < b->S; i++) yr[i] = (xr[i] - mf[0]) * a[0] + bf[0];
        }
    }
}

static void bwd32_channels(void *ctx, size_t c0, size_t c1)
{
    const bjob *j = ctx;
    const tg_run *r = j->r;
    const bn *b = &j->b;
    const float *x = r->x[0], *gamma = r->x[1], *rm = r->x[3], *rv = r->x[4], *dy = r->dy;
    float *dx = r->dx[0], *dg = r->dx[1], *db = r->dx[2];
    FOR_BLOCKS(b, c0, c1, c, nc) {
        double q[4][BN_L];
        if (j->s) /* the global sums */
            for (int k = 0; k < 4; k++)
                for (size_t l = 0; l < nc; l++) q[k][l] = j->s[(size_t)k * b->C + c + l];
        else
            sums32(b, x, dy, c, nc, q);
        float mf[BN_L], is[BN_L], c1f[BN_L], m1[BN_L], m2[BN_L];
        for (size_t l = 0; l < nc; l++) {
            const size_t ch = c + l;
            double mean = rm[ch], var = rv[ch];
            if (!r->eval) moments(b, q[0][l], q[1][l], &mean, &var);
            const double istd = 1.0 / sqrt(var + b->eps), sdy = q[2][l];
            const double sdyx = istd * (q[3][l] - mean * sdy); /* sum dy (x - mean) istd */
            /* the weight gradients: this process's own rows */
            double ldy = sdy, ldyx = sdyx;
            if (j->s) ldy = j->s[4 * b->C + 1 + ch], ldyx = istd * (j->s[5 * b->C + 1 + ch] - mean * ldy);
            if (db) db[ch] = r->fresh[2] ? (float)ldy : (float)((double)db[ch] + ldy);
            if (dg) dg[ch] = r->fresh[1] ? (float)ldyx : (float)((double)dg[ch] + ldyx);
            mf[l] = (float)mean, is[l] = (float)istd, c1f[l] = (float)((double)gamma[ch] * istd);
            m1[l] = r->eval ? 0.0f : (float)(sdy / (double)b->M);
            m2[l] = r->eval ? 0.0f : (float)(sdyx / (double)b->M);
        }
        if (!dx) continue;
        const int fresh = r->fresh[0];
        for (size_t n = 0; n < b->N; n++) {
            const size_t e0 = (n * b->C + c) * b->S;
            const float *xr = x + e0, *dr = dy + e0;
            float *o = dx + e0;
            if (b->S == 1) {
                for (size_t l = 0; l < nc; l++) {
                    const float xhat = (xr[l] - mf[l]) * is[l], v = c1f[l] * (dr[l] - m1[l] - xhat * m2[l]);
                    o[l] = fresh ? v : o[l] + v;
                }
            } else {
                const float mf0 = mf[0], is0 = is[0], k0 = c1f[0], m10 = m1[0], m20 = m2[0];
                if (fresh)
                    for (size_t i = 0; i < b->S; i++) o[i] = k0 * (dr[i] - m10 - (xr[i] - mf0) * is0 * m20);
                else
                    for (size_t i = 0; i < b->S; i++) o[i] += k0 * (dr[i] - m10 - (xr[i] - mf0) * is0 * m20);
            }
        }
    }
}

/* training needs two values per channel for the unbiased variance */
static int check_batch(tg_run *r, const bn *b)
{
    if (r->eval || b->M >= 2) return 1;
    char s[64];
    snprintf(r->errbuf, sizeof r->errbuf, "batch_norm: training needs 2 or more values per channel, x is %s",
             tg_shape_str(r->in[0], s, sizeof s));
    r->err = r->errbuf;
    return 0;
}

/* ---- synchronized statistics (tg_plan_on_batch_sums) ----
 * The buffer, C channels: [0, C) sum x, [C, 2C) sum x^2, then in forward
 * s[2C] = M; in backward [2C, 3C) sum dy, [3C, 4C) sum dy x, s[4C] = M, and
 * after them this process's own sum dy [4C+1, 5C+1) and sum dy x
 * [5C+1, 6C+1), which the hook does not see. The sums are sums32's, so an
 * identity hook gives the unsynchronized path's bits. */
static size_t bn_batch_sums(const tg_nrec *n) { return 6 * (size_t)n->d[1] + 1; }

static void sums_channels(void *ctx, size_t c0, size_t c1)
{
    const bjob *j = ctx;
    const bn *b = &j->b;
    const float *dy = j->r->dy; /* NULL in forward */
    FOR_BLOCKS(b, c0, c1, c, nc) {
        double q[4][BN_L];
        sums32(b, j->r->x[0], dy, c, nc, q);
        for (size_t l = 0; l < nc; l++) {
            const size_t ch = c + l;
            j->s[ch] = q[0][l], j->s[b->C + ch] = q[1][l];
            if (!dy) continue;
            j->s[2 * b->C + ch] = q[2][l], j->s[3 * b->C + ch] = q[3][l];
            j->s[4 * b->C + 1 + ch] = q[2][l], j->s[5 * b->C + 1 + ch] = q[3][l];
        }
    }
}

/* the sums over every process's rows into j->s, and j->b.M the global
 * count; 0 (r->err set) when the hook fails or the count is unusable */
static int sync_sums(bjob *j, int pass)
{
    tg_run *r = j->r;
    const size_t C = j->b.C, n = (pass ? 4 : 2) * C + 1;
    j->s = r->bsum->buf;
    tg_exec_range(r->ex, C, j->b.S == 1 ? BN_L : 1, (pass ? 2 : 1) * j->b.M, sums_channels, j);
    j->s[n - 1] = (double)j->b.M;
    const tg_status st = r->bsum->fn(r->bsum->ctx, j->s, (int)n);
    const double M = j->s[n - 1];
    if (st != TG_OK) {
        snprintf(r->errbuf, sizeof r->errbuf, "batch_norm: the batch-sum hook failed (%s)", tg_status_str(st));
        r->err = r->errbuf;
        r->err_status = st;
        return 0;
    }
    if (!(M >= (double)j->b.M && M <= 9007199254740992.0 && M == floor(M))) {
        snprintf(r->errbuf, sizeof r->errbuf,
                 "batch_norm: the batch-sum hook made the count of values per channel %g, below this "
                 "process's %zu or not a whole number",
                 M, j->b.M);
        r->err = r->errbuf;
        return 0;
    }
    j->b.M = (size_t)M;
    return check_batch(r, &j->b);
}

static void bn_fwd(tg_run *r)
{
    bjob j = {r, geom_of(r), NULL};
    const size_t M = j.b.M; /* this process's: the work */
    if (r->f64) {
        if (check_batch(r, &j.b)) fwd64(r, &j.b); /* f64 plans never write the running statistics */
        return;
    }
    if (r->bsum && !r->eval) {
        if (!sync_sums(&j, 0)) return;
    } else if (!check_batch(r, &j.b)) {
        return;
    }
    tg_exec_range(r->ex, j.b.C, j.b.S == 1 ? BN_L : 1, 2 * M, fwd32_channels, &j);
}

static void bn_bwd(tg_run *r)
{
    bjob j = {r, geom_of(r), NULL};
    const size_t M = j.b.M;
    if (r->f64) bwd64(r, &j.b);
    else if (!r->bsum || r->eval || sync_sums(&j, 1))
        tg_exec_range(r->ex, j.b.C, j.b.S == 1 ? BN_L : 1, (j.s ? 2 : 3) * M, bwd32_channels, &j);
}

static void bn_describe(const tg_nrec *n, char *buf, size_t len)
{
    snprintf(buf, len, "(eps=%g, m=%g)", (double)tg_attr(n)->eps, (double)tg_attr(n)->momentum);
}

const tg_opdesc tg_op_batch_norm = {.name = "batch_norm",
                                    .bwd_needs = TG_NEED_X0 | TG_NEED_X1 | TG_NEED_X3 | TG_NEED_X4,
                                    .fwd = bn_fwd,
                                    .bwd = bn_bwd,
                                    .fresh_ok = 1,
                                    .describe = bn_describe,
                                    .batch_sums = bn_batch_sums};

static const char *pshape(const tg_param *p, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < tg_param_ndim(p) && o < len; k++) {
        int w = snprintf(buf + o, len - o, k ? "x%d" : "%d", tg_param_dims(p)[k]);
        if (w < 0) break;
        o += (size_t)w;
    }
    return buf;
}

tg_node tg_batch_norm(tg_graph *g, tg_node x, tg_node gamma, tg_node beta, tg_param *running_mean,
                      tg_param *running_var, float eps, float momentum)
{
    tg_node in[5] = {x, gamma, beta};
    if (!tg_check_inputs(g, "batch_norm", in, 3)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x), *ga = tg_rec(g, gamma), *be = tg_rec(g, beta);
    char sx[64], s1[64], s2[64];
    tg_shape_str(a, sx, sizeof sx);
    if (a->ndim != 2 && a->ndim != 4)
        return tg_fail(g, TG_ERR_SHAPE, "batch_norm: x is %s; want (N,C,H,W) or (N,C)", sx);
    const int C = a->d[1];
    if (ga->ndim != 1 || be->ndim != 1 || ga->d[0] != C || be->d[0] != C)
        return tg_fail(g, TG_ERR_SHAPE, "batch_norm: x is %s (%d channels) but gamma is %s and beta is %s; want (%d)",
                       sx, C, tg_shape_str(ga, s1, sizeof s1), tg_shape_str(be, s2, sizeof s2), C);
    tg_param *rs[2] = {running_mean, running_var};
    const char *what[2] = {"running_mean", "running_var"};
    for (int k = 0; k < 2; k++) {
        if (!rs[k]) return tg_fail(g, TG_ERR_ARG, "batch_norm: %s is NULL (a state parameter is required)", what[k]);
        if (!tg_param_is_state(rs[k]))
            return tg_fail(g, TG_ERR_ARG, "batch_norm: %s '%s/%s' is not a state parameter (tg_param_new_state)",
                           what[k], tg_param_group(rs[k]), tg_param_name(rs[k]));
        if (tg_param_ndim(rs[k]) != 1 || tg_param_dims(rs[k])[0] != C)
            return tg_fail(g, TG_ERR_SHAPE, "batch_norm: x is %s (%d channels) but %s '%s/%s' is %s; want (%d)", sx,
                           C, what[k], tg_param_group(rs[k]), tg_param_name(rs[k]), pshape(rs[k], s1, sizeof s1), C);
    }
    if (!(eps > 0.0f) || !isfinite(eps))
        return tg_fail(g, TG_ERR_ARG, "batch_norm: eps %g must be finite and > 0", (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return tg_fail(g, TG_ERR_ARG, "batch_norm: momentum %g must be in [0, 1]", (double)momentum);
    const int nd = a->ndim, d[4] = {a->d[0], a->d[1], a->d[2], a->d[3]}; /* a moves when leaves are added */
    in[3] = tg_param_ref(g, running_mean);
    in[4] = tg_param_ref(g, running_var);
    if (in[3].id < 0 || in[4].id < 0) return (tg_node){-1};
    return tg_push(g, &tg_op_batch_norm, in, 5, nd, d, &(tg_attrs){.eps = eps, .momentum = momentum});
}
