/* leaf.c - inputs, parameters and detach. */
#include "ops.h"

#include <string.h>

const tg_opdesc tg_op_input = {.name = "input", .leaf = TG_LEAF_INPUT};
const tg_opdesc tg_op_param = {.name = "param", .leaf = TG_LEAF_PARAM};

tg_node tg_input(tg_graph *g, const char *name, int ndim, const int *dims)
{
    if (!tg_check_inputs(g, "input", NULL, 0)) return (tg_node){-1};
    if (!name || !dims) return tg_fail(g, TG_ERR_ARG, "input: name and dims are required");
    return tg_push_leaf(g, &tg_op_input, ndim, dims, TG_DT_F32, name, NULL);
}

tg_node tg_input_labels(tg_graph *g, const char *name, int n)
{
    if (!tg_check_inputs(g, "input", NULL, 0)) return (tg_node){-1};
    if (!name) return tg_fail(g, TG_ERR_ARG, "input: name and dims are required");
    return tg_push_leaf(g, &tg_op_input, 1, &n, TG_DT_I32, name, NULL);
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
        if (g->n[i].op == &tg_op_param && g->n[i].param == p) return (tg_node){i};
    return tg_push_leaf(g, &tg_op_param, tg_param_ndim(p), tg_param_dims(p), TG_DT_F32, NULL, p);
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
    return tg_push(g, &tg_op_detach, &x, 1, a->ndim, a->d, NULL);
}
