/* graph.c - the tape: node records, the sticky error, queries. */
#include "op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tg_graph *tg_graph_new(tg_params *ps)
{
    tg_graph *g = tg_zalloc(sizeof *g);
    if (!g) return NULL;
    g->ps = ps;
    g->seed = 0x7467u; /* "tg"; tg_graph_set_seed changes it */
    return g;
}

void tg_graph_free(tg_graph *g)
{
    if (!g) return;
    tg_free(g->n);
    tg_free(g);
}

tg_status tg_graph_status(const tg_graph *g) { return g ? g->err : TG_ERR_ARG; }
const char *tg_graph_error(const tg_graph *g) { return g ? g->msg : "no graph"; }
int tg_graph_nodes(const tg_graph *g) { return g ? g->count : 0; }
tg_params *tg_graph_params(const tg_graph *g) { return g ? g->ps : NULL; }

tg_node tg_graph_fail(tg_graph *g, tg_status code, const char *msg)
{
    if (!g) return (tg_node){-1};
    return tg_fail(g, code == TG_OK ? TG_ERR_ARG : code, "%s", msg ? msg : "error");
}

void tg_graph_set_seed(tg_graph *g, uint64_t seed)
{
    if (!g) return;
    g->seed = seed;
    g->dstep = 0;
}
uint64_t tg_graph_dropout_step(const tg_graph *g) { return g ? g->dstep : 0; }
void tg_graph_set_dropout_step(tg_graph *g, uint64_t step) { if (g) g->dstep = step; }

void tg_graph_failv(tg_graph *g, tg_status code, const char *fmt, va_list ap)
{
    if (g->err != TG_OK) return; /* the first error sticks */
    g->err = code;
    vsnprintf(g->msg, sizeof g->msg, fmt, ap);
}

tg_node tg_fail(tg_graph *g, tg_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tg_graph_failv(g, code, fmt, ap);
    va_end(ap);
    return (tg_node){-1};
}

int tg_node_valid(const tg_graph *g, tg_node n)
{
    return g && n.id >= 0 && n.id < g->count;
}

int tg_check_inputs(tg_graph *g, const char *op, const tg_node *in, int nin)
{
    if (!g || g->err != TG_OK) return 0;
    for (int k = 0; k < nin; k++) {
        if (!tg_node_valid(g, in[k])) {
            tg_fail(g, TG_ERR_NODE, "%s: input %d is not a valid node of this graph", op, k);
            return 0;
        }
        if (g->n[in[k].id].dtype != TG_DT_F32) {
            tg_fail(g, TG_ERR_ARG, "%s: input %d holds integer labels, not floats", op, k);
            return 0;
        }
    }
    return 1;
}

const char *tg_shape_str(const tg_nrec *n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < n->ndim && o < len; k++) {
        int w = snprintf(buf + o, len - o, k ? "x%d" : "%d", n->d[k]);
        if (w < 0) break;
        o += (size_t)w;
    }
    return buf;
}

tg_node tg_push(tg_graph *g, const tg_opdesc *op, const tg_node *in, int nin, int ndim, const int *dims_in,
                const tg_attrs *attrs)
{
    if (g->err != TG_OK) return (tg_node){-1};
    /* dims_in often points into g->n (an input's shape), which growing the
     * node array below frees: copy it first */
    int dims[TG_MAX_DIMS] = {0};
    for (int k = 0; k < ndim && k < TG_MAX_DIMS; k++) dims[k] = dims_in[k];
    if (ndim < 1 || ndim > TG_MAX_DIMS)
        return tg_fail(g, TG_ERR_SHAPE, "%s: %d dimensions (1..%d allowed)", op->name, ndim, TG_MAX_DIMS);
    if (nin < 0 || nin > TG_MAX_IN) return tg_fail(g, TG_ERR_ARG, "%s: %d inputs", op->name, nin);
    size_t numel = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] <= 0)
            return tg_fail(g, TG_ERR_SHAPE, "%s: dimension %d is %d (must be > 0)", op->name, k, dims[k]);
        if (numel > ((size_t)1 << 40) / (size_t)dims[k]) return tg_fail(g, TG_ERR_SHAPE, "%s: tensor too large", op->name);
        numel *= (size_t)dims[k];
    }
    if (g->count == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        tg_nrec *nn = tg_zalloc((size_t)cap * sizeof *nn);
        if (!nn) return tg_fail(g, TG_ERR_NOMEM, "%s: out of memory", op->name);
        if (g->count) memcpy(nn, g->n, (size_t)g->count * sizeof *nn);
        tg_free(g->n);
        g->n = nn;
        g->cap = cap;
    }
    tg_nrec *r = &g->n[g->count];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->dtype = TG_DT_F32;
    r->ndim = ndim;
    for (int k = 0; k < ndim; k++) r->d[k] = dims[k];
    r->numel = numel;
    r->nin = nin;
    for (int k = 0; k < nin; k++) r->in[k] = in[k].id;
    if (attrs) r->a = *attrs;
    return (tg_node){g->count++};
}

tg_node tg_push_leaf(tg_graph *g, const tg_opdesc *d, int ndim, const int *dims, tg_dtype dtype, const char *name,
                     tg_param *param)
{
    tg_node y = tg_push(g, d, NULL, 0, ndim, dims, NULL);
    if (y.id < 0) return y;
    tg_nrec *r = &g->n[y.id];
    r->dtype = dtype;
    r->param = param;
    if (name) snprintf(r->name, sizeof r->name, "%s", name);
    return y;
}

/* ---- what the caller declares about nodes ---- */
tg_status tg_bind(tg_graph *g, tg_node x, const void *data)
{
    if (!g) return TG_ERR_ARG;
    if (!tg_node_valid(g, x) || g->n[x.id].op->leaf != TG_LEAF_INPUT) {
        tg_fail(g, TG_ERR_NODE, "bind: node %d is not an input", x.id);
        return TG_ERR_NODE;
    }
    if (!data) {
        tg_fail(g, TG_ERR_ARG, "bind: NULL data for input '%s'", g->n[x.id].name);
        return TG_ERR_ARG;
    }
    g->n[x.id].bound = data;
    return TG_OK;
}

tg_node tg_keep(tg_graph *g, tg_node x)
{
    if (!tg_check_inputs(g, "keep", &x, 1)) return (tg_node){-1};
    /* mark x and every op node behind it (the tape is topological, so one
     * backward sweep over ids <= x finds them all) */
    g->n[x.id].flags |= TG_NF_KEPT;
    for (int i = x.id; i >= 0; i--) {
        tg_nrec *r = &g->n[i];
        if (!(r->flags & TG_NF_KEPT)) continue;
        for (int k = 0; k < r->nin; k++) g->n[r->in[k]].flags |= TG_NF_KEPT;
    }
    return x;
}

int tg_node_ndim(const tg_graph *g, tg_node n)
{
    return tg_node_valid(g, n) ? g->n[n.id].ndim : 0;
}
int tg_node_dim(const tg_graph *g, tg_node n, int axis)
{
    if (!tg_node_valid(g, n) || axis < 0 || axis >= g->n[n.id].ndim) return 0;
    return g->n[n.id].d[axis];
}
size_t tg_node_numel(const tg_graph *g, tg_node n)
{
    return tg_node_valid(g, n) ? g->n[n.id].numel : 0;
}
const char *tg_node_op(const tg_graph *g, tg_node n)
{
    return tg_node_valid(g, n) ? g->n[n.id].op->name : NULL;
}

