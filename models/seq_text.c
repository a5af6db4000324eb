/* seq_text.c - a layer list's text form (grammar in tg_models.h):
 *   in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, flatten, dense 1
 * tg_seq_format writes the canonical form, tg_seq_parse reads any spelling
 * of it, and formatting what was parsed gives the same spec back. */
#include "models_text.h"
#include "seq_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ write */
/* the shortest decimal that reads back as the same float */
const char *tgm_float_str(float v, char *buf, size_t len)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* " sA" or " sAxB" for a pair, left out when equal to dflt */
static int pair(char *buf, size_t len, const char *key, const int *v, int dflt)
{
    if (v[0] == dflt && v[1] == dflt) return 0;
    return v[0] == v[1] ? snprintf(buf, len, " %s%d", key, v[0]) : snprintf(buf, len, " %s%dx%d", key, v[0], v[1]);
}

static int conv_format(const tg_layer *l, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf, len, "%s %d", l->kind == TG_LAYER_CONV ? "conv" : "conv_t", l->units);
    o += (size_t)(l->kernel[0] == l->kernel[1] ? snprintf(buf + o, len > o ? len - o : 0, " %d", l->kernel[0])
                                               : snprintf(buf + o, len > o ? len - o : 0, " %dx%d", l->kernel[0], l->kernel[1]));
    o += (size_t)pair(buf + o, len > o ? len - o : 0, "s", l->stride, 1);
    o += (size_t)pair(buf + o, len > o ? len - o : 0, "d", l->dilation, 1);
    const int *p = l->pad;
    if (l->same) o += (size_t)snprintf(buf + o, len > o ? len - o : 0, " same");
    else if (p[0] == p[1] && p[1] == p[2] && p[2] == p[3] && p[0])
        o += (size_t)snprintf(buf + o, len > o ? len - o : 0, " p%d", p[0]);
    else if (p[0] || p[1] || p[2] || p[3])
        o += (size_t)snprintf(buf + o, len > o ? len - o : 0, " p%d:%d:%d:%d", p[0], p[1], p[2], p[3]);
    o += (size_t)pair(buf + o, len > o ? len - o : 0, "op", l->out_pad, 0);
    if (l->no_bias) o += (size_t)snprintf(buf + o, len > o ? len - o : 0, " nobias");
    return (int)o;
}

int tg_layer_format(const tg_layer *l, char *buf, size_t len)
{
    char n[32], m[32];
    switch (l->kind) {
    case TG_LAYER_DENSE: return snprintf(buf, len, "dense %d%s", l->units, l->no_bias ? " nobias" : "");
    case TG_LAYER_ACT:
        if (l->act == TG_ACT_LEAKY_RELU) return snprintf(buf, len, "leaky_relu %s", tgm_float_str(l->slope, n, sizeof n));
        return snprintf(buf, len, "%s", tg_act_name(l->act));
    case TG_LAYER_DROPOUT: return snprintf(buf, len, "dropout %s", tgm_float_str(l->p, n, sizeof n));
    case TG_LAYER_CONV:
    case TG_LAYER_CONV_T: return conv_format(l, buf, len);
    case TG_LAYER_BATCH_NORM:
        if (l->eps == 1e-5f && l->momentum == 0.1f) return snprintf(buf, len, "batch_norm");
        return snprintf(buf, len, "batch_norm eps=%s momentum=%s", tgm_float_str(l->eps, n, sizeof n), tgm_float_str(l->momentum, m, sizeof m));
    case TG_LAYER_RESHAPE:
        if (l->shape_ndim == 3) return snprintf(buf, len, "reshape %dx%dx%d", l->shape[0], l->shape[1], l->shape[2]);
        return snprintf(buf, len, "reshape %d", l->shape[0]);
    case TG_LAYER_FLATTEN: return snprintf(buf, len, "flatten");
    }
    return snprintf(buf, len, "?");
}

tg_status tg_seq_format(const tg_seq_spec *s, char *buf, size_t len)
{
    if (!s || !buf || !len) return TG_ERR_ARG;
    int w = s->in_ndim == 3 ? snprintf(buf, len, "in %dx%dx%d", s->in_shape[0], s->in_shape[1], s->in_shape[2])
                            : snprintf(buf, len, "in %d", s->in_features);
    if (w < 0 || (size_t)w >= len) return TG_ERR_ARG;
    size_t o = (size_t)w;
    for (int i = 0; i < s->n; i++) {
        char one[160];
        tg_layer_format(&s->l[i], one, sizeof one);
        w = snprintf(buf + o, len - o, ", %s", one);
        if (w < 0 || (size_t)w >= len - o) return TG_ERR_ARG;
        o += (size_t)w;
    }
    return TG_OK;
}

/* ------------------------------------------------------------------- read */
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

/* a whole decimal integer in [lo, hi], ending at *end (which it sets) */
static int int_at(const char *t, const char **end, int lo, int hi, int *v)
{
    char *e;
    errno = 0;
    if (!(*t >= '0' && *t <= '9') && *t != '-') return 0;
    long x = strtol(t, &e, 10);
    if (errno || e == t || x < lo || x > hi) return 0;
    *v = (int)x;
    *end = e;
    return 1;
}

/* "A" or "AxB" (or up to n values joined by sep): every value in [lo, hi];
 * one value fills all n */
static int ints(const char *t, char sep, int n, int lo, int hi, int *v)
{
    int k = 0;
    const char *e = t;
    for (;;) {
        if (k == n || !int_at(e, &e, lo, hi, &v[k])) return 0;
        k++;
        if (!*e) break;
        if (*e != sep) return 0;
        e++;
    }
    if (k == 1)
        for (int j = 1; j < n; j++) v[j] = v[0];
    return k == 1 || k == n;
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

int tgm_parse_int(const char *t, int *v)
{
    const char *end;
    return int_at(t, &end, -2147483647, 2147483647, v) && !*end;
}

#define FAIL(...) return (snprintf(why, len, __VA_ARGS__), TG_ERR_ARG)

static tg_status parse_conv(char **w, int nw, tg_layer *l, char *why, size_t len)
{
    const int t = l->kind == TG_LAYER_CONV_T;
    l->stride[0] = l->stride[1] = l->dilation[0] = l->dilation[1] = 1;
    if (nw < 3 || !ints(w[1], 'x', 1, 1, 65536, &l->units) || !ints(w[2], 'x', 2, 1, 64, l->kernel))
        FAIL("want '%s CHANNELS KERNEL [sS] [dD] [padding] %s[nobias]'", w[0], t ? "[opP] " : "");
    for (int i = 3; i < nw; i++) {
        const char *o = w[i];
        if (!strcmp(o, "nobias")) l->no_bias = 1;
        else if (!strcmp(o, "same") && !t) l->same = 1;
        else if (!strcmp(o, "valid")) memset(l->pad, 0, sizeof l->pad);
        else if (!strncmp(o, "op", 2) && t && ints(o + 2, 'x', 2, 0, 63, l->out_pad)) continue;
        else if (o[0] == 's' && ints(o + 1, 'x', 2, 1, 64, l->stride)) continue;
        else if (o[0] == 'd' && ints(o + 1, 'x', 2, 1, 64, l->dilation)) continue;
        else if (o[0] == 'p' && ints(o + 1, ':', 4, 0, 64, l->pad)) continue;
        else FAIL("unknown option '%s' (sS, dD, pP, pT:B:L:R, %s%snobias)", o, t ? "" : "same, valid, ", t ? "opP, " : "");
    }
    return TG_OK;
}

static tg_status parse_norm(char **w, int nw, tg_layer *l, char *why, size_t len)
{
    l->eps = 1e-5f;
    l->momentum = 0.1f;
    for (int i = 1; i < nw; i++) {
        if (!strncmp(w[i], "eps=", 4) && tgm_parse_float(w[i] + 4, &l->eps)) continue;
        if (!strncmp(w[i], "momentum=", 9) && tgm_parse_float(w[i] + 9, &l->momentum)) continue;
        FAIL("unknown option '%s' (eps=E, momentum=M)", w[i]);
    }
    return TG_OK;
}

/* one layer from its words; the message names what is wrong */
static tg_status parse_layer(char **w, int nw, tg_layer *l, char *why, size_t len)
{
    memset(l, 0, sizeof *l);
    tg_act a;
    if (!strcmp(w[0], "dense")) {
        l->kind = TG_LAYER_DENSE;
        if (nw < 2 || nw > 3 || !ints(w[1], 'x', 1, 0, 1 << 24, &l->units) || (nw == 3 && strcmp(w[2], "nobias")))
            FAIL("want 'dense N' or 'dense N nobias'");
        l->no_bias = nw == 3;
    } else if (!strcmp(w[0], "conv") || !strcmp(w[0], "conv_t")) {
        l->kind = w[0][4] ? TG_LAYER_CONV_T : TG_LAYER_CONV;
        return parse_conv(w, nw, l, why, len);
    } else if (!strcmp(w[0], "batch_norm")) {
        l->kind = TG_LAYER_BATCH_NORM;
        return parse_norm(w, nw, l, why, len);
    } else if (!strcmp(w[0], "reshape")) {
        l->kind = TG_LAYER_RESHAPE;
        l->shape_ndim = nw == 2 && strchr(w[1], 'x') ? 3 : 1;
        if (nw != 2 || !ints(w[1], 'x', l->shape_ndim, 1, 1 << 24, l->shape)) FAIL("want 'reshape CxHxW' or 'reshape F'");
    } else if (!strcmp(w[0], "flatten")) {
        l->kind = TG_LAYER_FLATTEN;
        if (nw != 1) FAIL("'flatten' takes no argument");
    } else if (!strcmp(w[0], "dropout")) {
        l->kind = TG_LAYER_DROPOUT;
        if (nw != 2 || !tgm_parse_float(w[1], &l->p)) FAIL("want 'dropout P'");
    } else if (tg_act_parse(w[0], &a)) {
        l->kind = TG_LAYER_ACT;
        l->act = a;
        if (a == TG_ACT_LEAKY_RELU) {
            l->slope = 0.01f; /* PyTorch's default */
            if (nw > 2 || (nw == 2 && !tgm_parse_float(w[1], &l->slope))) FAIL("want 'leaky_relu' or 'leaky_relu SLOPE'");
        } else if (nw != 1) {
            FAIL("'%s' takes no argument", w[0]);
        }
    } else {
        FAIL("unknown layer '%s' (known: in, dense, conv, conv_t, batch_norm, reshape, flatten, dropout, %s)", w[0],
             tg_act_names());
    }
    return TG_OK;
}

/* "in F" or "in CxHxW" */
static int parse_input(char **w, int nw, tg_seq_spec *s)
{
    if (nw != 2 || strcmp(w[0], "in")) return 0;
    s->in_ndim = strchr(w[1], 'x') ? 3 : 1;
    if (s->in_ndim == 1) return ints(w[1], 'x', 1, 1, 1 << 24, &s->in_features);
    if (!ints(w[1], 'x', 3, 1, 1 << 24, s->in_shape)) return 0;
    const double f = (double)s->in_shape[0] * s->in_shape[1] * s->in_shape[2];
    if (f > (1 << 24)) return 0;
    s->in_features = (int)f;
    return 1;
}

/* the text with comments blanked and newlines as separators (malloc'ed) */
static char *normalized(const char *text, size_t n)
{
    char *buf = malloc(n + 1);
    if (!buf) return NULL;
    int skip = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        if (c == '#') skip = 1;
        if (c == '\n') skip = 0, c = ',';
        buf[i] = skip && c ? ' ' : c;
    }
    return buf;
}

tg_status tg_seq_parse(const char *text, const char *group, tg_seq_spec *out, tg_error *err)
{
    if (!text || !out) return tg_error_set(err, TG_ERR_ARG, "model: no text");
    tg_seq_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.group, sizeof s.group, "%s", group && *group ? group : "M");
    const size_t n = strlen(text);
    if (n > 65536) return tg_error_set(err, TG_ERR_ARG, "model %s: architecture text of %zu bytes", s.group, n);
    char *buf = normalized(text, n);
    if (!buf) return tg_error_set(err, TG_ERR_NOMEM, "model: out of memory");
    tg_status st = TG_OK;
    int item = 0, have_in = 0;
    for (char *it = buf; it && st == TG_OK;) {
        char *next = strchr(it, ',');
        if (next) *next++ = '\0';
        char *w[9], why[200] = "";
        const int nw = words(it, w, 8);
        it = next;
        if (nw == 0) continue; /* a blank line or a trailing comma */
        if (nw > 8) {
            st = tg_error_set(err, TG_ERR_ARG, "model %s: layer %d: too many words", s.group, item + 1);
        } else if (!have_in) {
            if (!parse_input(w, nw, &s))
                st = tg_error_set(err, TG_ERR_ARG,
                                  "model %s: the first item must be the input, 'in F' or 'in CxHxW', not '%s%s%s'",
                                  s.group, w[0], nw > 1 ? " " : "", nw > 1 ? w[1] : "");
            have_in = 1;
        } else if (s.n == TG_SEQ_MAX_LAYERS) {
            st = tg_error_set(err, TG_ERR_ARG, "model %s: more than %d layers", s.group, TG_SEQ_MAX_LAYERS);
        } else if (parse_layer(w, nw, &s.l[s.n], why, sizeof why) != TG_OK) {
            st = tg_error_set(err, TG_ERR_ARG, "model %s: layer %d: %s", s.group, item + 1, why);
        } else {
            s.n++;
            item++;
        }
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
