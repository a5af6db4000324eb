/* dropout.c - inverted dropout with a counter-based mask.
 * keep_i = tg_dropout_hash(key, i + off) >= p * 2^32, key = mix(seed, node, step);
 * y_i = keep_i ? x_i / (1-p) : 0.
 * The mask is a pure function of (graph seed, node id, dropout step, index),
 * so backward recomputes it instead of storing it, any plan can run the
 * backward of a forward another plan ran, and resuming from a saved step
 * reproduces the same masks. The index is the element's index in the global
 * batch: off = row0 * (numel / d[0]) for a plan whose tensors hold rows
 * row0.. of it (tg_plan_set_row_offset; 0 by default), so processes that
 * each run a slice of a batch draw the masks one process running the whole
 * batch would. */
#include "ops.h"

#include <math.h>
#include <stdio.h>

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct drop_job {
    const tg_kern *k;
    const float *in;
    float *out;
    uint32_t key, off, thr;
    float scale;
    int acc;
} drop_job;

/* the mask of element i depends on i alone, so pieces can run anywhere */
static void drop_range(void *c, size_t i0, size_t i1)
{
    drop_job *j = c;
    j->k->dropout(j->in, j->out, i0, i1, j->key, j->off, j->thr, j->scale, j->acc);
}

/* keep element e when tg_dropout_hash(key, e + off) >= thr, scale kept
 * elements by 1/(1-p); eval: keep everything, unscaled. off: the global
 * index of this tensor's element 0 (row0 rows of numel / d[0] elements
 * before it), modulo 2^32 as the hash reads indices. */
static void mask_of(const tg_graph *g, const tg_nrec *n, uint64_t step, int64_t row0, int eval, uint32_t *key,
                    uint32_t *off, uint32_t *thr, double *inv)
{
    double p = tg_attr(n)->p;
    *inv = 1.0 / (1.0 - p);
    *key = (uint32_t)mix(g->seed ^ mix((uint64_t)(n - g->n) * 0x9E3779B97F4A7C15ull ^ (step << 20)));
    *off = (uint32_t)((uint64_t)row0 * (uint64_t)(n->numel / (size_t)n->d[0]));
    *thr = (uint32_t)(p * 4294967296.0);
    if (eval) *thr = 0, *inv = 1.0;
}

/* the trait the plan's fusion pass reads: a consumer's input-gradient
 * epilogue can apply this mask */
static int dropout_mask(const tg_graph *g, const tg_nrec *n, uint64_t step, int64_t row0, int eval, tg_mask *m)
{
    double inv;
    mask_of(g, n, step, row0, eval, &m->key, &m->off, &m->thr, &inv);
    m->scale = (float)inv;
    return 1;
}

/* out (=, or += when acc) in * mask / (1-p); eval plans: in. bwd: this is
 * the backward (where a fault-injection build's faults act, fault.h). */
static void mask_apply(const tg_run *r, const void *in, void *out, int acc, int bwd)
{
    size_t n = r->n->numel;
    uint32_t key, off, thr;
    double inv;
    uint64_t step = r->step + (bwd && TG_FAULT(r->n, DROPOUT, next_step_mask));
    mask_of(r->g, r->n, step, r->row0, r->eval, &key, &off, &thr, &inv);
    if (!r->f64) {
        drop_job j = {r->ex->k, in, out, key, off, thr, (float)inv, acc};
        tg_exec_range(r->ex, n, 64, 2, drop_range, &j);
        return;
    }
    const int all = bwd && TG_FAULT(r->n, DROPOUT, mask_ignored);
    if (bwd && TG_FAULT(r->n, DROPOUT, scale_dropped)) inv = 1.0;
    if (bwd && TG_FAULT(r->n, DROPOUT, dx_overwrites)) acc = 0;
    const double *x = in;
    double *y = out;
    for (size_t i = 0; i < n; i++) {
        double v = all || tg_dropout_hash(key, i + off) >= thr ? x[i] * inv : 0.0;
        y[i] = acc ? y[i] + v : v;
    }
}

static void dropout_fwd(tg_run *r) { mask_apply(r, r->x[0], r->y, 0, 0); }
static void dropout_bwd(tg_run *r) { mask_apply(r, r->dy, r->dx[0], !r->fresh[0], 1); }

static void dropout_describe(const tg_nrec *n, char *buf, size_t len)
{
    snprintf(buf, len, "(p=%g)", (double)tg_attr(n)->p);
}

const tg_opdesc tg_op_dropout = {.name = "dropout",
                                 .fwd = dropout_fwd,
                                 .bwd = dropout_bwd,
                                 .fresh_ok = 1,
                                 .describe = dropout_describe,
                                 .mask = dropout_mask};

tg_node tg_dropout(tg_graph *g, tg_node x, float p)
{
    if (!tg_check_inputs(g, "dropout", &x, 1)) return (tg_node){-1};
    if (!(p >= 0.0f && p < 1.0f)) return tg_fail(g, TG_ERR_ARG, "dropout: p = %g is outside [0, 1)", (double)p);
    const tg_nrec *a = tg_rec(g, x);
    return tg_push(g, &tg_op_dropout, &x, 1, a->ndim, a->d, &(tg_attrs){.p = p});
}
