/* leaf.c - inputs, parameters, detach and keep. */
#include "ops.h"

#include <string.h>

const tg_opdesc tg_op_input = {.name = "input"};
const tg_opdesc tg_op_param = {.name = "param"};

static void copy_name(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= TG_NAME_LEN) n = TG_NAME_LEN - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

tg_node tg_input(tg_graph *g, const char *name, int ndim, const int *dims)
{
    if (!tg_check_inputs(g, "input", NULL, 0)) return (tg_node){-1};
    if (!name || !dims) return tg_fail(g, TG_ERR_ARG, "input: name and dims are required");
    tg_node y = tg_push(g, TG_OP_INPUT, NULL, 0, ndim, dims);
    if (y.id >= 0) copy_name(g->n[y.id].name, name);
    return y;
}

tg_node tg_input_labels(tg_graph *g, const char *name, int n)
{
    tg_node y = tg_input(g, name, 1, &n);
    if (y.id >= 0) g->n[y.id].dtype = TG_DT_I32;
    return y;
}

tg_status tg_bind(tg_graph *g, tg_node x, const void *data)
{
    if (!g) return TG_ERR_ARG;
    if (!tg_node_valid(g, x) || g->n[x.id].op != TG_OP_INPUT) {
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

tg_node tg_param_ref(tg_graph *g, tg_param *p)
{
    if (!tg_check_inputs(g, "param", NULL, 0)) return (tg_node){-1};
    if (!p) return tg_fail(g, TG_ERR_ARG, "param: NULL parameter");
    int found = 0;
    for (int k = 0; k < tg_params_count(g->ps); k++) found |= tg_params_at(g->ps, k) == p;
    if (!found)
        return tg_fail(g, TG_ERR_ARG, "param: '%s/%s' is not in this graph's store",
                       tg_param_group(p), tg_param_name(p));
    for (int i = 0; i < g->count; i++)
        if (g->n[i].op == TG_OP_PARAM && g->n[i].param == p) return (tg_node){i};
    tg_node y = tg_push(g, TG_OP_PARAM, NULL, 0, tg_param_ndim(p), tg_param_dims(p));
    if (y.id >= 0) g->n[y.id].param = p;
    return y;
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

/* ---- detach: forward copies, backward does nothing ---- */
static void detach_fwd(tg_run *r)
{
    size_t bytes = r->n->numel * (r->f64 ? sizeof(double) : sizeof(float));
    memcpy(r->y, r->x[0], bytes);
}

const tg_opdesc tg_op_detach = {.name = "detach", .fwd = detach_fwd};

tg_node tg_detach(tg_graph *g, tg_node x)
{
    if (!tg_check_inputs(g, "detach", &x, 1)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x);
    if (a->dtype != TG_DT_F32) return tg_fail(g, TG_ERR_ARG, "detach: input is not a float tensor");
    return tg_push(g, TG_OP_DETACH, &x, 1, a->ndim, a->d);
}
