/* mlp.c - the generic MLP builder. */
#include "tg_models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

tg_status tg_mlp_check(const tg_mlp_spec *s, tg_error *err)
{
    if (!s) return tg_error_set(err, TG_ERR_ARG, "mlp: no spec");
    if (s->n_layers < 1 || s->n_layers > TG_MLP_MAX_LAYERS)
        return tg_error_set(err, TG_ERR_ARG, "mlp: %d layers (1..%d allowed)", s->n_layers, TG_MLP_MAX_LAYERS);
    for (int k = 0; k <= s->n_layers; k++)
        if (s->widths[k] < 1 || s->widths[k] > (1 << 20))
            return tg_error_set(err, TG_ERR_ARG, "mlp: width %d is %d (1..%d allowed)", k, s->widths[k], 1 << 20);
    if (!(s->dropout >= 0 && s->dropout < 1) || !isfinite(s->slope))
        return tg_error_set(err, TG_ERR_ARG, "mlp: dropout %g must be in [0,1) and slope finite", (double)s->dropout);
    if (s->hidden < TG_ACT_NONE || s->hidden >= TG_ACT_COUNT || s->output < TG_ACT_NONE || s->output >= TG_ACT_COUNT)
        return tg_error_set(err, TG_ERR_ARG, "mlp: unknown activation");
    if (!s->group[0]) return tg_error_set(err, TG_ERR_ARG, "mlp: no parameter group");
    return TG_OK;
}

static void pname(char *buf, size_t len, const tg_mlp_spec *s, int k, char what)
{
    snprintf(buf, len, "%sl%d.%c", s->prefix, k, what);
}

tg_status tg_mlp_params(tg_params *ps, const tg_mlp_spec *s, tg_init init, float sigma, tg_rng *r)
{
    char name[64];
    if (!ps || tg_mlp_check(s, NULL) != TG_OK) return TG_ERR_ARG;
    for (int k = 0; k < s->n_layers; k++) {
        int in = s->widths[k], out = s->widths[k + 1];
        pname(name, sizeof name, s, k, 'w');
        tg_param *w = tg_param_new(ps, s->group, name, 2, (int[]){in, out});
        pname(name, sizeof name, s, k, 'b');
        tg_param *b = tg_param_new(ps, s->group, name, 1, (int[]){out});
        if (!w || !b) return TG_ERR_ARG;
        tg_status st = tg_param_init(w, init, in, out, sigma, r);
        if (st == TG_OK && init == TG_INIT_PYTORCH) st = tg_param_init(b, init, in, out, sigma, r);
        if (st != TG_OK) return st;
    }
    return TG_OK;
}

tg_node tg_mlp(tg_graph *g, const tg_mlp_spec *s, tg_node x)
{
    char msg[256], name[64];
    tg_error e;
    if (!g || tg_graph_status(g) != TG_OK) return (tg_node){-1};
    if (tg_mlp_check(s, &e) != TG_OK) return tg_graph_fail(g, TG_ERR_ARG, e.msg);
    tg_node h = x;
    for (int k = 0; k < s->n_layers; k++) {
        tg_node wb[2];
        for (int j = 0; j < 2; j++) {
            pname(name, sizeof name, s, k, j ? 'b' : 'w');
            tg_param *p = tg_param_find(tg_graph_params(g), s->group, name);
            if (!p) {
                snprintf(msg, sizeof msg, "mlp: parameter %s/%s is not in the store (tg_mlp_params creates it)",
                         s->group, name);
                return tg_graph_fail(g, TG_ERR_ARG, msg);
            }
            wb[j] = tg_param_ref(g, p);
        }
        h = tg_bias_add(g, tg_matmul(g, h, wb[0]), wb[1]);
        if (k + 1 < s->n_layers) {
            h = tg_activation(g, h, s->hidden, s->slope);
            if (s->dropout > 0) h = tg_dropout(g, h, s->dropout);
        } else {
            h = tg_activation(g, h, s->output, s->slope);
        }
    }
    return h;
}
