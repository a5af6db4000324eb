/* seq.c - sequential models: a layer list, checked for shapes, turned into
 * parameters and graph nodes. The text form lives in seq_text.c.
 *
 * Layers with weights (dense, conv, conv_t, batch_norm) are numbered in
 * order: parameters "<prefix>l<k>.w" and ".b"; batch_norm's "<prefix>l<k>.gamma",
 * ".beta" and the state ".mean", ".var". An MLP's names are those of tg_mlp. */
#include "seq_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DIM (1 << 24)

static const char *shape_str(const seq_shape *sh, char *buf, size_t len)
{
    if (sh->ndim == 3) snprintf(buf, len, "%dx%dx%d", sh->d[0], sh->d[1], sh->d[2]);
    else snprintf(buf, len, "%d", sh->d[0]);
    return buf;
}

static int numel(const seq_shape *sh) { return sh->ndim == 3 ? sh->d[0] * sh->d[1] * sh->d[2] : sh->d[0]; }

/* the padding a conv layer uses on an input of rows x cols */
void seq_conv_pad(const tg_layer *l, int rows, int cols, int pad[4])
{
    if (!l->same) {
        memcpy(pad, l->pad, 4 * sizeof *pad);
        return;
    }
    const int in[2] = {rows, cols};
    for (int a = 0; a < 2; a++) { /* Keras: out = ceil(in / s), the extra padding after */
        const int out = (in[a] + l->stride[a] - 1) / l->stride[a];
        int total = (out - 1) * l->stride[a] + l->dilation[a] * (l->kernel[a] - 1) + 1 - in[a];
        if (total < 0) total = 0;
        pad[2 * a] = total / 2;
        pad[2 * a + 1] = total - total / 2;
    }
}

/* one layer's output shape; 0, or -1 with the reason in why */
static int layer_shape(const tg_layer *l, const seq_shape *in, seq_shape *out, char *why, size_t len)
{
    char s[48];
    *out = *in;
    for (int a = 0; a < 2 && (l->kind == TG_LAYER_CONV || l->kind == TG_LAYER_CONV_T); a++)
        if (l->kernel[a] < 1 || l->stride[a] < 1 || l->dilation[a] < 1 || l->kernel[a] > 64 || l->stride[a] > 64 ||
            l->dilation[a] > 64 || l->out_pad[a] < 0 || l->pad[2 * a] < 0 || l->pad[2 * a + 1] < 0 ||
            l->pad[2 * a] > 64 || l->pad[2 * a + 1] > 64)
            return snprintf(why, len, "kernel, stride and dilation must be in 1..64, padding in 0..64"), -1;
    switch (l->kind) {
    case TG_LAYER_DENSE:
        if (in->ndim != 1) return snprintf(why, len, "input is %s: add flatten before dense", shape_str(in, s, sizeof s)), -1;
        if (l->units < 1 || l->units > MAX_DIM) return snprintf(why, len, "%d units (1..%d allowed)", l->units, MAX_DIM), -1;
        out->d[0] = l->units;
        return 0;
    case TG_LAYER_CONV:
    case TG_LAYER_CONV_T: {
        if (in->ndim != 3) return snprintf(why, len, "input is %s, not channels x height x width", shape_str(in, s, sizeof s)), -1;
        if (l->units < 1 || l->units > 65536) return snprintf(why, len, "%d channels (1..65536 allowed)", l->units), -1;
        int pad[4];
        seq_conv_pad(l, in->d[1], in->d[2], pad);
        out->d[0] = l->units;
        for (int a = 0; a < 2; a++) {
            const int n = in->d[1 + a], k = l->dilation[a] * (l->kernel[a] - 1);
            if (l->kind == TG_LAYER_CONV)
                out->d[1 + a] = n + pad[2 * a] + pad[2 * a + 1] - k - 1 < 0 ? 0
                                : (n + pad[2 * a] + pad[2 * a + 1] - k - 1) / l->stride[a] + 1;
            else if (l->out_pad[a] >= l->stride[a] && l->out_pad[a] >= l->dilation[a])
                return snprintf(why, len, "output padding %d must be smaller than the stride or the dilation", l->out_pad[a]), -1;
            else
                out->d[1 + a] = (n - 1) * l->stride[a] - pad[2 * a] - pad[2 * a + 1] + k + l->out_pad[a] + 1;
        }
        if (out->d[1] < 1 || out->d[2] < 1 || out->d[1] > 16384 || out->d[2] > 16384)
            return snprintf(why, len, "input %s gives an output of %dx%d", shape_str(in, s, sizeof s), out->d[1], out->d[2]), -1;
        return 0;
    }
    case TG_LAYER_BATCH_NORM:
        if (!(l->eps > 0 && l->eps < 1) || !(l->momentum >= 0 && l->momentum <= 1))
            return snprintf(why, len, "eps must be in (0, 1) and momentum in [0, 1]"), -1;
        return 0;
    case TG_LAYER_RESHAPE: {
        seq_shape t = {l->shape_ndim, {l->shape[0], l->shape[1], l->shape[2]}};
        if ((t.ndim != 1 && t.ndim != 3) || t.d[0] < 1 || (t.ndim == 3 && (t.d[1] < 1 || t.d[2] < 1)) ||
            (double)t.d[0] * (t.ndim == 3 ? (double)t.d[1] * t.d[2] : 1.0) != numel(in))
            return snprintf(why, len, "cannot reshape %s into %s", shape_str(in, s, sizeof s), shape_str(&t, (char[48]){0}, 48)), -1;
        *out = t;
        return 0;
    }
    case TG_LAYER_FLATTEN:
        *out = (seq_shape){1, {numel(in), 0, 0}};
        return 0;
    case TG_LAYER_ACT:
        if (l->act < TG_ACT_NONE || l->act >= TG_ACT_COUNT || !isfinite(l->slope))
            return snprintf(why, len, "unknown activation or bad slope"), -1;
        return 0;
    case TG_LAYER_DROPOUT:
        if (!(l->p >= 0 && l->p < 1)) return snprintf(why, len, "p = %g is outside [0, 1)", (double)l->p), -1;
        return 0;
    }
    return snprintf(why, len, "unknown kind %d", (int)l->kind), -1;
}

seq_shape seq_input(const tg_seq_spec *s)
{
    if (s->in_ndim == 3) return (seq_shape){3, {s->in_shape[0], s->in_shape[1], s->in_shape[2]}};
    return (seq_shape){1, {s->in_features, 0, 0}};
}

tg_status seq_walk(const tg_seq_spec *s, int upto, seq_shape *sh, tg_error *err)
{
    if (!s) return tg_error_set(err, TG_ERR_ARG, "model: no spec");
    if (!s->group[0]) return tg_error_set(err, TG_ERR_ARG, "model: no parameter group");
    if (s->n < 0 || s->n > TG_SEQ_MAX_LAYERS)
        return tg_error_set(err, TG_ERR_ARG, "model %s: %d layers (0..%d allowed)", s->group, s->n, TG_SEQ_MAX_LAYERS);
    *sh = seq_input(s);
    if ((s->in_ndim != 0 && s->in_ndim != 1 && s->in_ndim != 3) || sh->d[0] < 1 ||
        (sh->ndim == 3 && (sh->d[1] < 1 || sh->d[2] < 1 || (double)sh->d[0] * sh->d[1] * sh->d[2] > MAX_DIM)) ||
        sh->d[0] > MAX_DIM || (sh->ndim == 3 && numel(sh) != s->in_features))
        return tg_error_set(err, TG_ERR_ARG, "model %s: bad input shape (in_features %d)", s->group, s->in_features);
    for (int i = 0; i < s->n && i <= upto; i++) {
        char what[96], why[160], in[48];
        seq_shape next;
        if (layer_shape(&s->l[i], sh, &next, why, sizeof why)) {
            tg_layer_format(&s->l[i], what, sizeof what);
            return tg_error_set(err, TG_ERR_ARG, "model %s: layer %d '%s' on %s: %s", s->group, i + 1, what,
                                shape_str(sh, in, sizeof in), why);
        }
        *sh = next;
    }
    return TG_OK;
}

tg_status tg_seq_check(const tg_seq_spec *s, int *out_features, tg_error *err)
{
    seq_shape sh;
    tg_status st = seq_walk(s, TG_SEQ_MAX_LAYERS, &sh, err);
    if (st == TG_OK && out_features) *out_features = numel(&sh);
    return st;
}

tg_status tg_seq_shape(const tg_seq_spec *s, int i, int *ndim, int shape[3], tg_error *err)
{
    seq_shape sh;
    tg_status st = seq_walk(s, i, &sh, err);
    if (st != TG_OK) return st;
    *ndim = sh.ndim;
    memcpy(shape, sh.d, sizeof sh.d);
    return TG_OK;
}

/* ------------------------------------------------------------- parameters */
static void pname(char *buf, size_t len, const tg_seq_spec *s, int k, const char *what)
{
    snprintf(buf, len, "%sl%d.%s", s->prefix, k, what);
}

static int has_weights(tg_layer_kind k)
{
    return k == TG_LAYER_DENSE || k == TG_LAYER_CONV || k == TG_LAYER_CONV_T || k == TG_LAYER_BATCH_NORM;
}

/* weight and bias of a dense/conv/conv_t layer on an input of shape in */
static tg_status weight_params(tg_params *ps, const tg_seq_spec *s, const tg_layer *l, int k, const seq_shape *in,
                               tg_init init, float sigma, tg_rng *r, tg_error *err)
{
    char name[64];
    int dims[4], nd, fan_in, fan_out, nout = l->units;
    if (l->kind == TG_LAYER_DENSE) {
        nd = 2, dims[0] = in->d[0], dims[1] = l->units, fan_in = in->d[0], fan_out = l->units;
    } else { /* PyTorch's fans: dims 1 and 0 times the window */
        const int cin = in->d[0], rf = l->kernel[0] * l->kernel[1], conv = l->kind == TG_LAYER_CONV;
        nd = 4, dims[0] = conv ? l->units : cin, dims[1] = conv ? cin : l->units;
        dims[2] = l->kernel[0], dims[3] = l->kernel[1];
        fan_in = dims[1] * rf, fan_out = dims[0] * rf;
    }
    pname(name, sizeof name, s, k, "w");
    tg_param *w = tg_param_new(ps, s->group, name, nd, dims);
    tg_param *b = NULL;
    if (w && !l->no_bias) {
        pname(name, sizeof name, s, k, "b");
        b = tg_param_new(ps, s->group, name, 1, &nout);
    }
    if (!w || (!l->no_bias && !b)) return tg_error_set(err, TG_ERR_ARG, "model %s: %s", s->group, tg_params_error(ps));
    tg_status st = tg_param_init(w, init, fan_in, fan_out, sigma, r);
    /* biases start at zero, except for PyTorch's default init */
    if (st == TG_OK && b && init == TG_INIT_PYTORCH) st = tg_param_init(b, init, fan_in, fan_out, sigma, r);
    return st == TG_OK ? TG_OK : tg_error_set(err, st, "model %s: cannot initialize %s", s->group, tg_param_name(w));
}

static tg_status norm_params(tg_params *ps, const tg_seq_spec *s, int k, const seq_shape *in, tg_init init,
                             float sigma, tg_rng *r, tg_error *err)
{
    static const char *const names[4] = {"gamma", "beta", "mean", "var"};
    tg_param *p[4];
    int c = in->d[0];
    for (int j = 0; j < 4; j++) {
        char name[64];
        pname(name, sizeof name, s, k, names[j]);
        p[j] = j < 2 ? tg_param_new(ps, s->group, name, 1, &c) : tg_param_new_state(ps, s->group, name, 1, &c);
        if (!p[j]) return tg_error_set(err, TG_ERR_ARG, "model %s: %s", s->group, tg_params_error(ps));
    }
    tg_status st = tg_param_init(p[3], TG_INIT_ONES, c, c, 0, r);
    if (st == TG_OK && init == TG_INIT_NORMAL) { /* DCGAN: gamma ~ N(1, sigma^2) */
        st = tg_param_init(p[0], TG_INIT_NORMAL, c, c, sigma, r);
        for (int e = 0; e < c; e++) tg_param_data(p[0])[e] += 1.0f;
    } else if (st == TG_OK) {
        st = tg_param_init(p[0], TG_INIT_ONES, c, c, 0, r);
    }
    return st == TG_OK ? TG_OK : tg_error_set(err, st, "model %s: cannot initialize layer %d", s->group, k);
}

tg_status tg_seq_params(tg_params *ps, const tg_seq_spec *s, tg_init init, float sigma, tg_rng *r, tg_error *err)
{
    if (!ps) return tg_error_set(err, TG_ERR_ARG, "model: no parameter store");
    tg_status st = tg_seq_check(s, NULL, err);
    seq_shape sh = seq_input(s);
    for (int i = 0, k = 0; i < s->n && st == TG_OK; i++) {
        const tg_layer *l = &s->l[i];
        if (l->kind == TG_LAYER_BATCH_NORM) st = norm_params(ps, s, k++, &sh, init, sigma, r, err);
        else if (has_weights(l->kind)) st = weight_params(ps, s, l, k++, &sh, init, sigma, r, err);
        char why[160];
        seq_shape next;
        if (st == TG_OK && layer_shape(l, &sh, &next, why, sizeof why) == 0) sh = next;
    }
    return st;
}

/* ------------------------------------------------------------------ graph */
static tg_node param_node(tg_graph *g, const tg_seq_spec *s, int k, const char *what, tg_param **out)
{
    char name[64];
    pname(name, sizeof name, s, k, what);
    tg_param *p = tg_param_find(tg_graph_params(g), s->group, name);
    if (out) *out = p;
    if (!p) {
        char msg[160];
        snprintf(msg, sizeof msg, "model: parameter %s/%s is not in the store (tg_seq_params creates it)", s->group,
                 name);
        return tg_graph_fail(g, TG_ERR_ARG, msg);
    }
    return tg_param_ref(g, p);
}

static tg_node conv_layer(tg_graph *g, const tg_seq_spec *s, const tg_layer *l, int k, const seq_shape *in, tg_node h)
{
    /* parameter nodes first, then the ops (node order fixes dropout masks) */
    tg_node w = param_node(g, s, k, "w", NULL), b = l->no_bias ? w : param_node(g, s, k, "b", NULL);
    tg_conv_opts o = {.stride = {l->stride[0], l->stride[1]},
                      .dilation = {l->dilation[0], l->dilation[1]},
                      .out_pad = {l->out_pad[0], l->out_pad[1]}};
    seq_conv_pad(l, in->d[1], in->d[2], o.pad);
    h = l->kind == TG_LAYER_CONV ? tg_conv2d(g, h, w, &o) : tg_conv_transpose2d(g, h, w, &o);
    return l->no_bias ? h : tg_bias_add_axis(g, h, b, 1);
}

static tg_node layer(tg_graph *g, const tg_seq_spec *s, const tg_layer *l, int k, const seq_shape *in, tg_node h)
{
    switch (l->kind) {
    case TG_LAYER_DENSE: {
        tg_node w = param_node(g, s, k, "w", NULL), b = l->no_bias ? w : param_node(g, s, k, "b", NULL);
        h = tg_matmul(g, h, w);
        return l->no_bias ? h : tg_bias_add(g, h, b);
    }
    case TG_LAYER_CONV:
    case TG_LAYER_CONV_T: return conv_layer(g, s, l, k, in, h);
    case TG_LAYER_BATCH_NORM: {
        tg_param *rm, *rv;
        tg_node gamma = param_node(g, s, k, "gamma", NULL), beta = param_node(g, s, k, "beta", NULL);
        param_node(g, s, k, "mean", &rm);
        param_node(g, s, k, "var", &rv);
        if (tg_graph_status(g) != TG_OK) return (tg_node){-1};
        return tg_batch_norm(g, h, gamma, beta, rm, rv, l->eps, l->momentum);
    }
    case TG_LAYER_RESHAPE: return tg_reshape(g, h, 1 + l->shape_ndim, (int[]){-1, l->shape[0], l->shape[1], l->shape[2]});
    case TG_LAYER_FLATTEN: return tg_flatten(g, h);
    case TG_LAYER_ACT: return tg_activation(g, h, l->act, l->slope);
    case TG_LAYER_DROPOUT: return l->p > 0 ? tg_dropout(g, h, l->p) : h;
    }
    return tg_graph_fail(g, TG_ERR_ARG, "model: unknown layer kind");
}

tg_node tg_seq(tg_graph *g, const tg_seq_spec *s, tg_node x)
{
    tg_error e;
    if (!g || tg_graph_status(g) != TG_OK) return (tg_node){-1};
    if (tg_seq_check(s, NULL, &e) != TG_OK) return tg_graph_fail(g, e.code, e.msg);
    seq_shape sh = seq_input(s);
    int fits = tg_node_ndim(g, x) == 1 + sh.ndim;
    for (int a = 0; fits && a < sh.ndim; a++) fits = tg_node_dim(g, x, 1 + a) == sh.d[a];
    if (!fits) {
        char msg[160], in[48], got[64] = "";
        for (int a = 0; a < tg_node_ndim(g, x); a++)
            snprintf(got + strlen(got), sizeof got - strlen(got), a ? "x%d" : "%d", tg_node_dim(g, x, a));
        snprintf(msg, sizeof msg, "model %s: input is %s, want (B, %s)", s->group, got, shape_str(&sh, in, sizeof in));
        return tg_graph_fail(g, TG_ERR_SHAPE, msg);
    }
    tg_node h = x;
    for (int i = 0, k = 0; i < s->n; i++) {
        const tg_layer *l = &s->l[i];
        h = layer(g, s, l, k, &sh, h);
        k += has_weights(l->kind);
        char why[160];
        seq_shape next;
        if (layer_shape(l, &sh, &next, why, sizeof why) == 0) sh = next;
    }
    return h;
}

/* ------------------------------------------------------------ from an MLP */
tg_status tg_seq_from_mlp(const tg_mlp_spec *m, tg_seq_spec *out, tg_error *err)
{
    tg_status st = tg_mlp_check(m, err);
    if (st != TG_OK) return st;
    tg_seq_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.group, sizeof s.group, "%s", m->group);
    snprintf(s.prefix, sizeof s.prefix, "%s", m->prefix);
    s.in_features = m->widths[0];
    for (int k = 0; k < m->n_layers; k++) {
        const int last = k + 1 == m->n_layers;
        const tg_act a = last ? m->output : m->hidden;
        if (s.n + 3 > TG_SEQ_MAX_LAYERS)
            return tg_error_set(err, TG_ERR_ARG, "model %s: more than %d layers", m->group, TG_SEQ_MAX_LAYERS);
        s.l[s.n++] = (tg_layer){.kind = TG_LAYER_DENSE, .units = m->widths[k + 1]};
        if (a != TG_ACT_NONE) s.l[s.n++] = (tg_layer){.kind = TG_LAYER_ACT, .act = a, .slope = m->slope};
        if (!last && m->dropout > 0) s.l[s.n++] = (tg_layer){.kind = TG_LAYER_DROPOUT, .p = m->dropout};
    }
    *out = s;
    return TG_OK;
}
