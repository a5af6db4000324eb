/* seq.c - sequential models: a layer list, checked for shapes, turned into
 * parameters and graph nodes, and written to and read from a short text form
 * (what checkpoints store and what --g-arch / --d-arch take).
 *
 * Text form: layers separated by commas or newlines ('#' starts a comment
 * that runs to the end of the line); the first is the input shape:
 *     in 100, dense 128, leaky_relu 0.2, dropout 0.3, dense 784, tanh
 * Layers: "in F", "dense N" (a bias unless "dense N nobias"), an activation
 * by name ("relu", "leaky_relu S", "sigmoid", "tanh", "softplus", "none"),
 * "dropout P". Dense layers are numbered in order: parameters
 * "<prefix>l<k>.w" (IN, OUT) and "<prefix>l<k>.b" (OUT). */
#include "models_text.h"
#include "tg_models.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ shapes */
tg_status tg_seq_check(const tg_seq_spec *s, int *out_features, tg_error *err)
{
    if (!s) return tg_error_set(err, TG_ERR_ARG, "model: no spec");
    if (!s->group[0]) return tg_error_set(err, TG_ERR_ARG, "model: no parameter group");
    if (s->n < 0 || s->n > TG_SEQ_MAX_LAYERS)
        return tg_error_set(err, TG_ERR_ARG, "model: %d layers (0..%d allowed)", s->n, TG_SEQ_MAX_LAYERS);
    if (s->in_features < 1 || s->in_features > (1 << 24))
        return tg_error_set(err, TG_ERR_ARG, "model %s: input width %d (1..%d allowed)", s->group, s->in_features,
                            1 << 24);
    int f = s->in_features;
    for (int i = 0; i < s->n; i++) {
        const tg_layer *l = &s->l[i];
        char what[64];
        tg_layer_format(l, what, sizeof what);
        switch (l->kind) {
        case TG_LAYER_DENSE:
            if (l->units < 1 || l->units > (1 << 24))
                return tg_error_set(err, TG_ERR_ARG, "model %s: layer %d '%s': %d units (1..%d allowed)", s->group,
                                    i + 1, what, l->units, 1 << 24);
            f = l->units;
            break;
        case TG_LAYER_ACT:
            if (l->act < TG_ACT_NONE || l->act >= TG_ACT_COUNT || !isfinite(l->slope))
                return tg_error_set(err, TG_ERR_ARG, "model %s: layer %d '%s': unknown activation or bad slope",
                                    s->group, i + 1, what);
            break;
        case TG_LAYER_DROPOUT:
            if (!(l->p >= 0 && l->p < 1))
                return tg_error_set(err, TG_ERR_ARG, "model %s: layer %d '%s': p = %g is outside [0, 1)", s->group,
                                    i + 1, what, (double)l->p);
            break;
        default:
            return tg_error_set(err, TG_ERR_ARG, "model %s: layer %d: unknown kind %d", s->group, i + 1, (int)l->kind);
        }
    }
    if (out_features) *out_features = f;
    return TG_OK;
}

/* ------------------------------------------------------ parameters, graph */
static void pname(char *buf, size_t len, const tg_seq_spec *s, int k, char what)
{
    snprintf(buf, len, "%sl%d.%c", s->prefix, k, what);
}

tg_status tg_seq_params(tg_params *ps, const tg_seq_spec *s, tg_init init, float sigma, tg_rng *r, tg_error *err)
{
    if (!ps) return tg_error_set(err, TG_ERR_ARG, "model: no parameter store");
    tg_status st = tg_seq_check(s, NULL, err);
    if (st != TG_OK) return st;
    char name[64];
    int in = s->in_features, k = 0;
    for (int i = 0; i < s->n; i++) {
        const tg_layer *l = &s->l[i];
        if (l->kind != TG_LAYER_DENSE) continue;
        const int out = l->units;
        pname(name, sizeof name, s, k, 'w');
        tg_param *w = tg_param_new(ps, s->group, name, 2, (int[]){in, out});
        tg_param *b = NULL;
        if (w && !l->no_bias) {
            pname(name, sizeof name, s, k, 'b');
            b = tg_param_new(ps, s->group, name, 1, (int[]){out});
        }
        if (!w || (!l->no_bias && !b)) return tg_error_set(err, TG_ERR_ARG, "model %s: %s", s->group, tg_params_error(ps));
        st = tg_param_init(w, init, in, out, sigma, r);
        /* biases start at zero, except nn.Linear's default init */
        if (st == TG_OK && b && init == TG_INIT_PYTORCH) st = tg_param_init(b, init, in, out, sigma, r);
        if (st != TG_OK) return tg_error_set(err, st, "model %s: cannot initialize layer %d", s->group, i + 1);
        in = out;
        k++;
    }
    return TG_OK;
}

static tg_node param_node(tg_graph *g, const tg_seq_spec *s, int k, char what)
{
    char name[64];
    pname(name, sizeof name, s, k, what);
    tg_param *p = tg_param_find(tg_graph_params(g), s->group, name);
    if (!p) {
        char msg[160];
        snprintf(msg, sizeof msg, "model: parameter %s/%s is not in the store (tg_seq_params creates it)", s->group,
                 name);
        return tg_graph_fail(g, TG_ERR_ARG, msg);
    }
    return tg_param_ref(g, p);
}

tg_node tg_seq(tg_graph *g, const tg_seq_spec *s, tg_node x)
{
    tg_error e;
    if (!g || tg_graph_status(g) != TG_OK) return (tg_node){-1};
    if (tg_seq_check(s, NULL, &e) != TG_OK) return tg_graph_fail(g, e.code, e.msg);
    tg_node h = x;
    for (int i = 0, k = 0; i < s->n; i++) {
        const tg_layer *l = &s->l[i];
        switch (l->kind) {
        case TG_LAYER_DENSE: { /* parameter nodes first, then the ops (node order fixes dropout masks) */
            tg_node w = param_node(g, s, k, 'w'), b = l->no_bias ? w : param_node(g, s, k, 'b');
            h = tg_matmul(g, h, w);
            if (!l->no_bias) h = tg_bias_add(g, h, b);
            k++;
            break;
        }
        case TG_LAYER_ACT: h = tg_activation(g, h, l->act, l->slope); break;
        case TG_LAYER_DROPOUT:
            if (l->p > 0) h = tg_dropout(g, h, l->p);
            break;
        }
    }
    return h;
}

/* -------------------------------------------------------------- text form */
/* the shortest decimal that reads back as the same float */
const char *tgm_float_str(float v, char *buf, size_t len)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    return buf;
}

int tg_layer_format(const tg_layer *l, char *buf, size_t len)
{
    char n[32];
    switch (l->kind) {
    case TG_LAYER_DENSE: return snprintf(buf, len, "dense %d%s", l->units, l->no_bias ? " nobias" : "");
    case TG_LAYER_ACT:
        if (l->act == TG_ACT_LEAKY_RELU) return snprintf(buf, len, "leaky_relu %s", tgm_float_str(l->slope, n, sizeof n));
        return snprintf(buf, len, "%s", tg_act_name(l->act));
    case TG_LAYER_DROPOUT: return snprintf(buf, len, "dropout %s", tgm_float_str(l->p, n, sizeof n));
    }
    return snprintf(buf, len, "?");
}

tg_status tg_seq_format(const tg_seq_spec *s, char *buf, size_t len)
{
    if (!s || !buf || !len) return TG_ERR_ARG;
    size_t o = 0;
    int w = snprintf(buf, len, "in %d", s->in_features);
    if (w < 0 || (size_t)w >= len) return TG_ERR_ARG;
    o = (size_t)w;
    for (int i = 0; i < s->n; i++) {
        char one[64];
        tg_layer_format(&s->l[i], one, sizeof one);
        w = snprintf(buf + o, len - o, ", %s", one);
        if (w < 0 || (size_t)w >= len - o) return TG_ERR_ARG;
        o += (size_t)w;
    }
    return TG_OK;
}

/* split item in place into blank-separated words; returns their count
 * (max + 1 when there are more than max) */
static int words(char *item, char **w, int max)
{
    int n = 0;
    char *p = item;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p) return n;
        if (n == max) return max + 1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
        if (*p) *p++ = '\0';
    }
}

int tgm_parse_int(const char *t, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(t, &end, 10);
    if (errno || end == t || *end || x < -2147483647L || x > 2147483647L) return 0;
    *v = (int)x;
    return 1;
}

int tgm_parse_float(const char *t, float *v)
{
    char *end;
    errno = 0;
    double x = strtod(t, &end);
    if (errno || end == t || *end || !isfinite(x) || fabs(x) > 3e38) return 0;
    *v = (float)x;
    return 1;
}

/* one layer from its words; the message names what is wrong */
static tg_status parse_layer(char **w, int nw, tg_layer *l, char *why, size_t len)
{
    memset(l, 0, sizeof *l);
    tg_act a;
    if (!strcmp(w[0], "dense")) {
        l->kind = TG_LAYER_DENSE;
        if (nw < 2 || nw > 3 || !tgm_parse_int(w[1], &l->units) || (nw == 3 && strcmp(w[2], "nobias")))
            return snprintf(why, len, "want 'dense N' or 'dense N nobias'"), TG_ERR_ARG;
        l->no_bias = nw == 3;
    } else if (!strcmp(w[0], "dropout")) {
        l->kind = TG_LAYER_DROPOUT;
        if (nw != 2 || !tgm_parse_float(w[1], &l->p)) return snprintf(why, len, "want 'dropout P'"), TG_ERR_ARG;
    } else if (tg_act_parse(w[0], &a)) {
        l->kind = TG_LAYER_ACT;
        l->act = a;
        if (a == TG_ACT_LEAKY_RELU) {
            l->slope = 0.01f; /* PyTorch's default */
            if (nw > 2 || (nw == 2 && !tgm_parse_float(w[1], &l->slope)))
                return snprintf(why, len, "want 'leaky_relu' or 'leaky_relu SLOPE'"), TG_ERR_ARG;
        } else if (nw != 1) {
            return snprintf(why, len, "'%s' takes no argument", w[0]), TG_ERR_ARG;
        }
    } else {
        return snprintf(why, len, "unknown layer '%s' (known: in, dense, dropout, %s)", w[0], tg_act_names()),
               TG_ERR_ARG;
    }
    return TG_OK;
}

tg_status tg_seq_parse(const char *text, const char *group, tg_seq_spec *out, tg_error *err)
{
    if (!text || !out) return tg_error_set(err, TG_ERR_ARG, "model: no text");
    tg_seq_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.group, sizeof s.group, "%s", group && *group ? group : "M");
    size_t n = strlen(text);
    if (n > 65536) return tg_error_set(err, TG_ERR_ARG, "model %s: architecture text of %zu bytes", s.group, n);
    char *buf = malloc(n + 1);
    if (!buf) return tg_error_set(err, TG_ERR_NOMEM, "model: out of memory");
    /* comments out, newlines as separators */
    for (size_t i = 0, skip = 0; i <= n; i++) {
        char c = text[i];
        if (c == '#') skip = 1;
        if (c == '\n') skip = 0, c = ',';
        buf[i] = skip && c ? ' ' : c;
    }
    tg_status st = TG_OK;
    int item = 0, have_in = 0;
    for (char *it = buf; it && st == TG_OK; item++) {
        char *next = strchr(it, ',');
        if (next) *next++ = '\0';
        char *w[5];
        char why[160] = "";
        int nw = words(it, w, 4);
        if (nw == 0) { /* empty item: blank line or trailing comma */
            it = next;
            item--;
            continue;
        }
        if (nw > 4) {
            st = tg_error_set(err, TG_ERR_ARG, "model %s: layer %d: too many words", s.group, item);
        } else if (!have_in) {
            if (strcmp(w[0], "in") || nw != 2 || !tgm_parse_int(w[1], &s.in_features))
                st = tg_error_set(err, TG_ERR_ARG, "model %s: the first item must be 'in F' (the input width), not '%s'",
                                  s.group, w[0]);
            have_in = 1;
            item = 0;
        } else if (s.n == TG_SEQ_MAX_LAYERS) {
            st = tg_error_set(err, TG_ERR_ARG, "model %s: more than %d layers", s.group, TG_SEQ_MAX_LAYERS);
        } else if (parse_layer(w, nw, &s.l[s.n], why, sizeof why) != TG_OK) {
            st = tg_error_set(err, TG_ERR_ARG, "model %s: layer %d: %s", s.group, item, why);
        } else {
            s.n++;
        }
        it = next;
    }
    free(buf);
    if (st == TG_OK && !have_in) st = tg_error_set(err, TG_ERR_ARG, "model %s: empty architecture", s.group);
    if (st == TG_OK) st = tg_seq_check(&s, NULL, err);
    if (st == TG_OK) {
        snprintf(s.prefix, sizeof s.prefix, "%s", out->prefix);
        *out = s;
    }
    return st;
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
        s.l[s.n++] = (tg_layer){.kind = TG_LAYER_DENSE, .units = m->widths[k + 1]};
        const int last = k + 1 == m->n_layers;
        const tg_act a = last ? m->output : m->hidden;
        if (s.n + 2 > TG_SEQ_MAX_LAYERS)
            return tg_error_set(err, TG_ERR_ARG, "model %s: more than %d layers", m->group, TG_SEQ_MAX_LAYERS);
        if (a != TG_ACT_NONE) s.l[s.n++] = (tg_layer){.kind = TG_LAYER_ACT, .act = a, .slope = m->slope};
        if (!last && m->dropout > 0) s.l[s.n++] = (tg_layer){.kind = TG_LAYER_DROPOUT, .p = m->dropout};
    }
    *out = s;
    return TG_OK;
}
