/* rowwise.c - row broadcast (bias_add) and concat along the last axis.
 * Legend: x (B,N), b (N). */
#include "ops.h"

#include <string.h>

/* f32 pieces: rows [i0, i1) of the forward, columns [j0, j1) of db */
static void bias_fwd_rows(void *c, size_t i0, size_t i1)
{
    tg_run *r = c;
    int N = r->n->d[1];
    r->ex->k->bias_act((const float *)r->x[0] + i0 * N, r->x[1], TG_ACT_NONE, 0, (float *)r->y + i0 * N,
                       (int)(i1 - i0), N);
}

static void bias_db_cols(void *c, size_t j0, size_t j1)
{
    tg_run *r = c;
    r->ex->k->colsum_acc(r->dy, r->dx[1], r->n->d[0], r->n->d[1], (int)j0, (int)j1);
}

static void bias_fwd(tg_run *r)
{
    int B = r->n->d[0], N = r->n->d[1];
    if (r->f64) {
        const double *x = r->x[0], *b = r->x[1];
        double *y = r->y;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < N; j++) y[(size_t)i * N + j] = x[(size_t)i * N + j] + b[j];
    } else {
        tg_exec_range(r->ex, (size_t)B, 1, (size_t)N, bias_fwd_rows, r);
    }
}

static void bias_bwd(tg_run *r)
{
    int B = r->n->d[0], N = r->n->d[1];
    size_t es = r->f64 ? sizeof(double) : sizeof(float);
    /* first writer: dx = dy is a copy - or nothing at all when the plan
     * made x's gradient this node's own buffer (its only consumer);
     * db starts from zero */
    if (r->dx[0] && r->fresh[0]) {
        if (r->dx[0] != r->dy) memcpy(r->dx[0], r->dy, (size_t)B * N * es);
        if (!r->dx[1]) return;
    }
    if (r->dx[1] && r->fresh[1]) memset(r->dx[1], 0, (size_t)N * es);
    if (r->f64) {
        const double *dy = r->dy;
        double *dx = r->dx[0], *db = r->dx[1];
        /* a fault-injection build's wrong indices and overwrite (fault.h) */
        const int i0 = TG_FAULT(r->n, BIAS_ADD, db_skips_row0), jn = TG_FAULT(r->n, BIAS_ADD, db_next_column);
        const int over = TG_FAULT(r->n, BIAS_ADD, dx_overwrites);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < N; j++) {
                size_t e = (size_t)i * N + j;
                if (dx && !r->fresh[0]) dx[e] = over ? dy[e] : dx[e] + dy[e];
                if (db && i >= i0) db[j] += dy[jn ? (size_t)i * N + (size_t)(j + 1) % (size_t)N : e];
            }
    } else {
        if (r->dx[0] && !r->fresh[0]) r->ex->k->axpy(r->dy, 1.0f, r->dx[0], (size_t)B * N);
        if (r->dx[1]) tg_exec_range(r->ex, (size_t)N, 16, (size_t)B, bias_db_cols, r);
    }
}

/* a bias over the last axis of a (B,N) tensor */
static int bias_axis(const tg_nrec *n)
{
    (void)n;
    return 1;
}

const tg_opdesc tg_op_bias_add = {
    .name = "bias_add", .fwd = bias_fwd, .bwd = bias_bwd, .fresh_ok = 1, .bias_axis = bias_axis};

tg_node tg_bias_add(tg_graph *g, tg_node x, tg_node b)
{
    tg_node in[2] = {x, b};
    if (!tg_check_inputs(g, "bias_add", in, 2)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x), *c = tg_rec(g, b);
    char sa[64], sb[64];
    if (a->ndim != 2 || c->ndim != 1 || c->d[0] != a->d[1])
        return tg_fail(g, TG_ERR_SHAPE, "bias_add: x is %s but b is %s (want x (B,N) and b (N))",
                       tg_shape_str(a, sa, sizeof sa), tg_shape_str(c, sb, sizeof sb));
    return tg_push(g, &tg_op_bias_add, in, 2, 2, a->d, NULL);
}

/* ---- concat: y = [a b] on the last axis; a (B,Na), b (B,Nb) ---- */
static void concat_fwd(tg_run *r)
{
    size_t es = r->f64 ? sizeof(double) : sizeof(float);
    int B = r->n->d[0], Na = r->in[0]->d[1], Nb = r->in[1]->d[1], N = Na + Nb;
    char *y = r->y;
    const char *a = r->x[0], *b = r->x[1];
    for (int i = 0; i < B; i++) {
        memcpy(y + (size_t)i * N * es, a + (size_t)i * Na * es, (size_t)Na * es);
        memcpy(y + ((size_t)i * N + Na) * es, b + (size_t)i * Nb * es, (size_t)Nb * es);
    }
}

static void concat_bwd(tg_run *r)
{
    int B = r->n->d[0], Na = r->in[0]->d[1], Nb = r->in[1]->d[1], N = Na + Nb;
    for (int i = 0; i < B; i++) {
        if (r->f64) {
            const double *dy = (const double *)r->dy + (size_t)i * N;
            double *da = r->dx[0], *db = r->dx[1];
            /* a fault-injection build's wrong stride and offset (fault.h) */
            const double *dya = TG_FAULT(r->n, CONCAT, da_row_stride) ? (const double *)r->dy + (size_t)i * Na : dy;
            const int ob = Na - TG_FAULT(r->n, CONCAT, db_offset_by_one);
            for (int j = 0; da && j < Na; j++) da[(size_t)i * Na + j] += dya[j];
            for (int j = 0; db && j < Nb; j++) db[(size_t)i * Nb + j] += dy[ob + j];
        } else {
            const float *dy = (const float *)r->dy + (size_t)i * N;
            if (r->dx[0]) r->ex->k->axpy(dy, 1.0f, (float *)r->dx[0] + (size_t)i * Na, (size_t)Na);
            if (r->dx[1]) r->ex->k->axpy(dy + Na, 1.0f, (float *)r->dx[1] + (size_t)i * Nb, (size_t)Nb);
        }
    }
}

const tg_opdesc tg_op_concat = {.name = "concat", .fwd = concat_fwd, .bwd = concat_bwd};

tg_node tg_concat(tg_graph *g, tg_node a, tg_node b)
{
    tg_node in[2] = {a, b};
    if (!tg_check_inputs(g, "concat", in, 2)) return (tg_node){-1};
    const tg_nrec *x = tg_rec(g, a), *y = tg_rec(g, b);
    char sa[64], sb[64];
    if (x->ndim != 2 || y->ndim != 2 || x->d[0] != y->d[0])
        return tg_fail(g, TG_ERR_SHAPE, "concat: a is %s but b is %s (want (B,Na) and (B,Nb))",
                       tg_shape_str(x, sa, sizeof sa), tg_shape_str(y, sb, sizeof sb));
    return tg_push(g, &tg_op_concat, in, 2, 2, (int[]){x->d[0], x->d[1] + y->d[1]}, NULL);
}
