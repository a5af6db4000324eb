/* matmul.c - y = op(a) op(b) and its backward.
 * Legend: op(a) is (M,K), op(b) is (K,N), y is (M,N). a is stored (M,K), or
 * (K,M) when ta; b is stored (K,N), or (N,K) when tb.
 *   da = dy op(b)^T            (stored transposed when ta)
 *   db = op(a)^T dy            (stored transposed when tb) */
#include "ops.h"

#include <stdio.h>

typedef struct mm { int M, N, K, ta, tb, lda, ldb; } mm;

static mm dims(const tg_nrec *y, const tg_nrec *a, const tg_nrec *b)
{
    const tg_attrs *at = tg_attr(y);
    mm m = {y->d[0], y->d[1], at->trans[0] ? a->d[0] : a->d[1], at->trans[0], at->trans[1], a->d[1], b->d[1]};
    return m;
}

/* The three products as GEMM descriptors: 0 forward, 1 da, 2 db. */
static tg_gemm_desc gemm_for(int which, const mm *m, const float *a, const float *b, const float *y,
                             const float *dy, float *da, float *db)
{
    tg_gemm_desc d = {0};
    if (which == 0) {
        d = TG_GEMM(m->M, m->N, m->K, a, m->lda, m->ta, b, m->ldb, m->tb, (float *)y, m->N, 0);
    } else if (which == 1 && !m->ta) { /* da(M,K) += dy(M,N) op(b)^T */
        d = TG_GEMM(m->M, m->K, m->N, dy, m->N, 0, b, m->ldb, !m->tb, da, m->lda, 1);
    } else if (which == 1) {            /* da^T(K,M) += op(b)(K,N) dy^T */
        d = TG_GEMM(m->K, m->M, m->N, b, m->ldb, m->tb, dy, m->N, 1, da, m->lda, 1);
    } else if (!m->tb) {                /* db(K,N) += op(a)^T dy */
        d = TG_GEMM(m->K, m->N, m->M, a, m->lda, !m->ta, dy, m->N, 0, db, m->ldb, 1);
    } else {                            /* db^T(N,K) += dy^T op(a) */
        d = TG_GEMM(m->N, m->K, m->M, dy, m->N, 1, a, m->lda, m->ta, db, m->ldb, 1);
    }
    return d;
}

static void ref(const tg_gemm_desc *d, const double *A, const double *B, double *C)
{
    tg_ref_gemm(d->M, d->N, d->K, A, d->lda, d->transA, B, d->ldb, d->transB, C, d->ldc, d->beta);
}

static void matmul_fwd(tg_run *r)
{
    mm m = dims(r->n, r->in[0], r->in[1]);
    tg_gemm_desc d = gemm_for(0, &m, r->x[0], r->x[1], r->y, NULL, NULL, NULL);
    d.bias = r->epi.bias; /* y is then the fused bias node's (or activation's) value */
    if (r->epi.bias) {
        d.act = r->epi.act;
        d.slope = r->epi.slope;
    }
    if (r->f64) ref(&d, r->x[0], r->x[1], r->y);
    else tg_exec_gemm(r->ex, &d);
}

static void matmul_bwd(tg_run *r)
{
    mm m = dims(r->n, r->in[0], r->in[1]);
    tg_gemm_desc d[2];
    const tg_gemm_desc *ds[2];
    int nd = 0;
    for (int which = 1; which <= 2; which++) {
        if (!r->dx[which - 1]) continue; /* nobody asked for this gradient */
        d[nd] = gemm_for(which, &m, r->x[0], r->x[1], r->y, r->dy, r->dx[0], r->dx[1]);
        const int swapped = which == 1 ? TG_FAULT(r->n, MATMUL, da_form_swapped)
                                       : TG_FAULT(r->n, MATMUL, db_form_swapped);
        if (r->f64 && swapped) {
            /* fault-injection builds (fault.h): the other transpose form's
             * product, written in its layout (the same size: in bounds) */
            mm f = m;
            if (which == 1) f.ta = !f.ta, f.lda = f.ta ? f.M : f.K;
            else f.tb = !f.tb, f.ldb = f.tb ? f.K : f.N;
            d[nd] = gemm_for(which, &f, r->x[0], r->x[1], r->y, r->dy, r->dx[0], r->dx[1]);
        }
        d[nd].beta = !r->fresh[which - 1]; /* first writer: C = ..., else C += ... */
        if (which == 1 && r->bepi.on) { /* the fused mask / activation backward (engine/fuse.c) */
            d[nd].dact_y = r->bepi.y;
            d[nd].dact = r->bepi.act;
            d[nd].dslope = r->bepi.slope;
            if (r->bepi.mask_on) {
                d[nd].drop_key = r->bepi.key;
                d[nd].drop_off = r->bepi.off;
                d[nd].drop_thr = r->bepi.thr;
                d[nd].drop_scale = r->bepi.scale;
                d[nd].drop_on = 1;
            }
        }
        if (r->f64) ref(&d[nd], (const double *)d[nd].A, (const double *)d[nd].B, (double *)(void *)d[nd].C);
        else ds[nd] = &d[nd], nd++;
    }
    /* da and db are independent (both read dy) - one pool job for both,
     * unless they are one buffer (the same input in both slots) */
    if (nd == 2 && r->dx[0] == r->dx[1]) {
        tg_exec_gemm(r->ex, ds[0]);
        tg_exec_gemm(r->ex, ds[1]);
    } else if (nd > 0) {
        tg_exec_gemms(r->ex, ds, nd);
    }
}

static size_t matmul_ws(const tg_graph *g, const tg_nrec *n, const tg_kern *k)
{
    mm m = dims(n, &g->n[n->in[0]], &g->n[n->in[1]]);
    size_t w = 0;
    for (int which = 0; which <= 2; which++) {
        tg_gemm_desc d = gemm_for(which, &m, NULL, NULL, NULL, NULL, NULL, NULL);
        size_t x = tg_exec_gemm_ws(k, &d);
        if (x > w) w = x;
    }
    return w;
}

/* the forward GEMM's epilogue adds a bias over the output's columns (the
 * last axis), then an activation */
static int matmul_epi_axis(const tg_nrec *n)
{
    (void)n;
    return 1;
}

/* the input-gradient GEMM writes da directly (a not transposed), so its
 * epilogue can apply the backward of what produced a */
static int matmul_bwd_epi_ok(const tg_nrec *n) { return !tg_attr(n)->trans[0]; }

static void matmul_describe(const tg_nrec *n, char *buf, size_t len)
{
    const tg_attrs *a = tg_attr(n);
    if (a->trans[0] || a->trans[1]) snprintf(buf, len, "(%s%s)", a->trans[0] ? "aT" : "a", a->trans[1] ? ",bT" : ",b");
}

const tg_opdesc tg_op_matmul = {
    .name = "matmul",
    .bwd_needs = TG_NEED_X0 | TG_NEED_X1,
    .ws_floats = matmul_ws,
    .fwd = matmul_fwd,
    .bwd = matmul_bwd,
    .fresh_ok = 1,
    .describe = matmul_describe,
    .epi_bias_axis = matmul_epi_axis,
    .bwd_epi_ok = matmul_bwd_epi_ok,
};

tg_node tg_matmul_t(tg_graph *g, tg_node a, tg_node b, int ta, int tb)
{
    tg_node in[2] = {a, b};
    if (!tg_check_inputs(g, "matmul", in, 2)) return (tg_node){-1};
    const tg_nrec *x = tg_rec(g, a), *w = tg_rec(g, b);
    char sa[64], sb[64];
    if (x->ndim != 2 || w->ndim != 2)
        return tg_fail(g, TG_ERR_SHAPE, "matmul: x is %s and w is %s, both must be 2-D",
                       tg_shape_str(x, sa, sizeof sa), tg_shape_str(w, sb, sizeof sb));
    int M = ta ? x->d[1] : x->d[0], K = ta ? x->d[0] : x->d[1];
    int K2 = tb ? w->d[1] : w->d[0], N = tb ? w->d[0] : w->d[1];
    if (K != K2)
        return tg_fail(g, TG_ERR_SHAPE, "matmul: x is %s%s but w is %s%s", tg_shape_str(x, sa, sizeof sa),
                       ta ? " (transposed)" : "", tg_shape_str(w, sb, sizeof sb), tb ? " (transposed)" : "");
    return tg_push(g, &tg_op_matmul, in, 2, 2, (int[]){M, N}, &(tg_attrs){.trans = {ta != 0, tb != 0}});
}

tg_node tg_matmul(tg_graph *g, tg_node x, tg_node w) { return tg_matmul_t(g, x, w, 0, 0); }
