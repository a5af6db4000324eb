/* checkpoint.c - GAN checkpoints as safetensors files (checkpoint.h). The
 * configuration's keys and how their values are spelled come from
 * train-gan's table (gan_opts.c); this file adds the training state, the
 * tensors, and the reading of the older format's model keys. */
#include "checkpoint.h"

#include "gan_opts.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 256 /* tensors */
#define WHAT "checkpoint:"

/* ------------------------------------------------------------ writing */
static void put(void *ctx, const char *key, const char *value)
{
    ckpt_meta *m = ctx;
    size_t n = strlen(value) + 1;
    if (m->n >= CKPT_MAX_META || n > sizeof m->buf - m->used) {
        m->full = 1;
        return;
    }
    memcpy(m->buf + m->used, value, n);
    m->kv[m->n++] = (st_kv){key, m->buf + m->used};
    m->used += n;
}

static void putf(ckpt_meta *m, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void putf(ckpt_meta *m, const char *key, const char *fmt, ...)
{
    char v[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    put(m, key, v);
}

/* a value kept by the caller (a path) */
static void put_ref(void *ctx, const char *key, const char *value)
{
    ckpt_meta *m = ctx;
    if (m->n >= CKPT_MAX_META) {
        m->full = 1;
        return;
    }
    m->kv[m->n++] = (st_kv){key, value};
}

/* set_write_meta's put: paths by reference, the rest copied */
static void put_row(void *ctx, const char *key, const char *value)
{
    if (!strcmp(key, "data") || !strcmp(key, "classifier")) put_ref(ctx, key, value);
    else put(ctx, key, value);
}

void ckpt_config_meta(const gan_cfg *c, const ckpt_run *run, ckpt_meta *m)
{
    m->n = 0;
    m->used = 0;
    m->full = 0;
    train_gan_opts o;
    memset(&o, 0, sizeof o);
    o.cfg = *c;
    if (run) {
        o.data = run->data;
        o.classifier = run->classifier;
        o.eval_every = run->eval_every;
        o.limit = run->limit;
    }
    put(m, "format", CKPT_FORMAT);
    if (set_write_meta(&gan_opts_table, &o, 0, put_row, m)) m->full = 1;
}

/* the pairs as one JSON object (malloc'ed): {"key": "value", ...} */
static char *json_object(const st_kv *kv, int n)
{
    size_t cap = 3;
    for (int i = 0; i < n; i++) cap += strlen(kv[i].key) + 6 * strlen(kv[i].value) + 8;
    char *j = malloc(cap), *o = j;
    if (!j) return NULL;
    *o++ = '{';
    for (int i = 0; i < n; i++) {
        o += sprintf(o, "%s\"%s\": \"", i ? ", " : "", kv[i].key); /* keys are ours: plain ASCII */
        for (const unsigned char *v = (const unsigned char *)kv[i].value; *v; v++) {
            if (*v == '"' || *v == '\\') {
                *o++ = '\\';
                *o++ = (char)*v;
            } else if (*v < 0x20) o += sprintf(o, "\\u%04x", *v);
            else *o++ = (char)*v;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = 0;
    return j;
}

static void rng_str(char *out, size_t len, const tg_rng *r)
{
    snprintf(out, len, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64, r->s[0], r->s[1], r->s[2],
             r->s[3]);
}

typedef struct tensors {
    st_tensor t[MAXT];
    char names[MAXT][96];
    int n;
} tensors;

/* every parameter, then both optimizers' moments */
static void list_tensors(gan_run *r, tensors *ts)
{
    ts->n = 0;
    for (int i = 0; i < tg_params_count(r->ps) && ts->n < MAXT; i++) {
        tg_param *p = tg_params_at(r->ps, i);
        snprintf(ts->names[ts->n], sizeof ts->names[0], "%s/%s", tg_param_group(p), tg_param_name(p));
        ts->t[ts->n] = (st_tensor){ts->names[ts->n], ST_F32, tg_param_ndim(p), tg_param_dims(p), tg_param_data(p)};
        ts->n++;
    }
    tg_adam *opt[2] = {r->ad, r->ag};
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < tg_adam_count(opt[o]) && ts->n + 2 <= MAXT; i++) {
            tg_param *p = tg_adam_param(opt[o], i);
            for (int mv = 0; mv < 2; mv++) {
                snprintf(ts->names[ts->n], sizeof ts->names[0], "adam/%s/%c/%s", tg_param_group(p), mv ? 'v' : 'm',
                         tg_param_name(p));
                ts->t[ts->n] = (st_tensor){ts->names[ts->n], ST_F32, tg_param_ndim(p), tg_param_dims(p),
                                           mv ? tg_adam_v(opt[o], i) : tg_adam_m(opt[o], i)};
                ts->n++;
            }
        }
    for (int i = 0; r->ema && i < tg_ema_count(r->ema) && ts->n < MAXT; i++) {
        tg_param *p = tg_ema_param(r->ema, i);
        snprintf(ts->names[ts->n], sizeof ts->names[0], "ema/%s/%s", tg_param_group(p), tg_param_name(p));
        ts->t[ts->n] = (st_tensor){ts->names[ts->n], ST_F32, tg_param_ndim(p), tg_param_dims(p),
                                   tg_ema_shadow(r->ema, i)};
        ts->n++;
    }
}

tg_status ckpt_save(const char *path, gan_run *r, const ckpt_run *run, tg_error *err)
{
    typedef struct bufs {
        ckpt_meta m;
        tensors ts;
    } bufs;
    bufs *b = calloc(1, sizeof *b);
    if (!b) return tg_error_set(err, TG_ERR_NOMEM, "checkpoint: out of memory");
    list_tensors(r, &b->ts);
    ckpt_meta *m = &b->m;
    char rn[80], rs[80];
    rng_str(rn, sizeof rn, &r->noise);
    rng_str(rs, sizeof rs, &r->shuffle);
    ckpt_config_meta(&r->cfg, run, m);
    putf(m, "step", "%" PRId64, r->step);
    putf(m, "epoch", "%d", r->epoch);
    putf(m, "adam_t_D", "%" PRId64, tg_adam_steps(r->ad));
    putf(m, "adam_t_G", "%" PRId64, tg_adam_steps(r->ag));
    putf(m, "dropout_step", "%" PRIu64, tg_graph_dropout_step(r->g));
    put(m, "rng_noise", rn);
    put(m, "rng_shuffle", rs);
    /* the same settings as one JSON object, for other readers */
    char *json = m->full || m->n >= CKPT_MAX_META ? NULL : json_object(m->kv, m->n);
    if (!json) {
        int full = m->full || m->n >= CKPT_MAX_META;
        free(b);
        return tg_error_set(err, full ? TG_ERR_ARG : TG_ERR_NOMEM, "checkpoint: %s",
                            full ? "too much metadata" : "out of memory");
    }
    m->kv[m->n++] = (st_kv){"config", json};
    tg_status st = st_write(path, b->ts.t, (size_t)b->ts.n, m->kv, (size_t)m->n, err);
    free(json);
    free(b);
    return st;
}

/* ------------------------------------------------------------ reading */
static const char *get(void *ctx, const char *key) { return st_meta(ctx, key); }

/* The model as format 1 stored it: an MLP per network, one key per field,
 * read as that format's reader read them. */
static tg_status mlp_keys(const st_file *f, const char *net, tg_mlp_spec *s, tg_error *err)
{
    char key[16];
    snprintf(key, sizeof key, "%s_widths", net);
    const char *v = st_meta_need(f, key, WHAT, err);
    int w[TG_MLP_MAX_LAYERS + 2], n;
    tg_error e;
    if (!v) return TG_ERR_FORMAT;
    if (set_parse_widths(v, TG_MLP_MAX_LAYERS + 1, 1, 1 << 20, "widths", w, &n, &e) != TG_OK || n < 2)
        return tg_error_set(err, TG_ERR_FORMAT, WHAT " metadata '%s' = '%.60s' is not a list of 2 to %d widths",
                            key, v, TG_MLP_MAX_LAYERS + 1);
    s->n_layers = n - 1;
    memcpy(s->widths, w, (size_t)n * sizeof *w);
    snprintf(key, sizeof key, "%s_act", net);
    if (!(v = st_meta_need(f, key, WHAT, err))) return TG_ERR_FORMAT;
    if (!tg_act_parse(v, &s->hidden)) return tg_error_set(err, TG_ERR_FORMAT, WHAT " unknown activation '%s'", v);
    double d;
    tg_status st;
    snprintf(key, sizeof key, "%s_slope", net);
    if ((st = st_meta_num(f, key, -1e6, 1e6, &d, WHAT, err)) != TG_OK) return st;
    s->slope = (float)d;
    snprintf(key, sizeof key, "%s_dropout", net);
    if ((st = st_meta_num(f, key, 0, 1, &d, WHAT, err)) != TG_OK) return st;
    s->dropout = (float)d;
    return TG_OK;
}

tg_status ckpt_model_v1(const st_file *f, tg_gan_mlp *m, tg_error *err)
{
    const char *preset = st_meta_need(f, "model", WHAT, err);
    if (!preset) return TG_ERR_FORMAT;
    tg_error e;
    if (tg_gan_mlp_preset(preset, m, &e) != TG_OK) /* groups, D's output */
        return tg_error_set(err, TG_ERR_FORMAT, WHAT " %s", e.msg);
    const char *v = st_meta_need(f, "init", WHAT, err), *out;
    if (!v) return TG_ERR_FORMAT;
    if (!tg_init_parse(v, &m->init) || m->init == TG_INIT_ONES) /* format 1 wrote the other four */
        return tg_error_set(err, TG_ERR_FORMAT, WHAT " metadata 'init' = '%.60s' is not one of xavier, normal, "
                            "pytorch, zeros", v);
    double sigma;
    tg_status st;
    if ((st = mlp_keys(f, "g", &m->G, err)) != TG_OK || (st = mlp_keys(f, "d", &m->D, err)) != TG_OK ||
        (st = st_meta_num(f, "sigma", 0, 1e6, &sigma, WHAT, err)) != TG_OK)
        return st;
    m->sigma = (float)sigma;
    if (!(out = st_meta_need(f, "g_out", WHAT, err))) return TG_ERR_FORMAT;
    if (!tg_act_parse(out, &m->G.output)) return tg_error_set(err, TG_ERR_FORMAT, WHAT " unknown activation '%s'", out);
    return TG_OK;
}

static tg_status model_v1(const st_file *f, tg_gan_spec *spec, tg_error *err)
{
    tg_gan_mlp m;
    tg_status st = ckpt_model_v1(f, &m, err);
    if (st != TG_OK) return st;
    tg_error e;
    if (tg_gan_from_mlp(&m, spec, &e) != TG_OK) return tg_error_set(err, TG_ERR_FORMAT, WHAT " %s", e.msg);
    return TG_OK;
}

tg_status ckpt_config(const st_file *f, gan_cfg *c, ckpt_run *run, tg_error *err)
{
    const char *fmt = st_meta_need(f, "format", WHAT, err);
    if (!fmt) return TG_ERR_FORMAT;
    const int v1 = !strcmp(fmt, CKPT_FORMAT_V1);
    if (!v1 && strcmp(fmt, CKPT_FORMAT))
        return tg_error_set(err, TG_ERR_FORMAT, WHAT " format '%.60s', expected '" CKPT_FORMAT "' (or '"
                            CKPT_FORMAT_V1 "')", fmt);
    train_gan_opts o;
    gan_opts_defaults(&o);
    tg_status st = set_read_meta(&gan_opts_table, &o, v1 ? SET_NEWER : 0, get, (void *)f, WHAT, err);
    if (st == TG_OK && v1) st = model_v1(f, &o.cfg.spec, err);
    if (st != TG_OK) return st;
    tg_error e;
    if (gan_cfg_check(&o.cfg, &e) != TG_OK) return tg_error_set(err, TG_ERR_FORMAT, WHAT " %s", e.msg);
    *c = o.cfg;
    if (run) {
        memset(run, 0, sizeof *run);
        if (o.data) snprintf(run->data, sizeof run->data, "%s", o.data); /* the table keeps them shorter */
        if (o.classifier) snprintf(run->classifier, sizeof run->classifier, "%s", o.classifier);
        run->eval_every = o.eval_every;
        run->limit = o.limit;
    }
    return TG_OK;
}

static tg_status load_group(const st_file *f, tg_params *ps, const char *prefix, const char *group, tg_error *err)
{
    char name[160];
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (group && strcmp(tg_param_group(p), group)) continue;
        snprintf(name, sizeof name, "%s%s/%s", prefix, tg_param_group(p), tg_param_name(p));
        tg_status st = st_get_f32(f, name, tg_param_ndim(p), tg_param_dims(p), tg_param_data(p), err);
        if (st != TG_OK) return st;
    }
    return TG_OK;
}

static tg_status rng_parse(const st_file *f, const char *key, tg_rng *r, tg_error *err)
{
    const char *v = st_meta_need(f, key, WHAT, err);
    if (!v) return TG_ERR_FORMAT;
    for (int i = 0; i < 4; i++) {
        const char *p = v + 17 * i;
        if (strspn(p, "0123456789abcdefABCDEF") != 16 || p[16] != (i < 3 ? ',' : '\0'))
            return tg_error_set(err, TG_ERR_FORMAT, WHAT " metadata '%s' is not 4 hex words", key);
        r->s[i] = (uint64_t)strtoull(p, NULL, 16);
    }
    return TG_OK;
}

tg_status ckpt_load_group(const st_file *f, tg_params *ps, const char *group, tg_error *err)
{
    return load_group(f, ps, "", group, err);
}

tg_status ckpt_load_ema(const st_file *f, tg_params *ps, const char *group, tg_error *err)
{
    return load_group(f, ps, "ema/", group, err);
}

tg_status ckpt_restore(const st_file *f, gan_run *r, int training, tg_error *err)
{
    tg_status st = ckpt_load_group(f, r->ps, NULL, err);
    if (st != TG_OK || !training) return st;
    char name[160];
    tg_adam *opt[2] = {r->ad, r->ag};
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < tg_adam_count(opt[o]); i++) {
            tg_param *p = tg_adam_param(opt[o], i);
            for (int mv = 0; mv < 2; mv++) {
                snprintf(name, sizeof name, "adam/%s/%c/%s", tg_param_group(p), mv ? 'v' : 'm', tg_param_name(p));
                st = st_get_f32(f, name, tg_param_ndim(p), tg_param_dims(p),
                                mv ? tg_adam_v(opt[o], i) : tg_adam_m(opt[o], i), err);
                if (st != TG_OK) return st;
            }
        }
    for (int i = 0; r->ema && i < tg_ema_count(r->ema); i++) {
        tg_param *p = tg_ema_param(r->ema, i);
        snprintf(name, sizeof name, "ema/%s/%s", tg_param_group(p), tg_param_name(p));
        if ((st = st_get_f32(f, name, tg_param_ndim(p), tg_param_dims(p), tg_ema_shadow(r->ema, i), err)) != TG_OK)
            return st;
    }
    uint64_t u[5];
    if ((st = st_meta_uint(f, "step", 0, INT64_MAX, &u[0], WHAT, err)) != TG_OK ||
        (st = st_meta_uint(f, "epoch", 0, 1000000000, &u[1], WHAT, err)) != TG_OK ||
        (st = st_meta_uint(f, "adam_t_D", 0, INT64_MAX, &u[2], WHAT, err)) != TG_OK ||
        (st = st_meta_uint(f, "adam_t_G", 0, INT64_MAX, &u[3], WHAT, err)) != TG_OK ||
        (st = st_meta_uint(f, "dropout_step", 0, UINT64_MAX, &u[4], WHAT, err)) != TG_OK ||
        (st = rng_parse(f, "rng_noise", &r->noise, err)) != TG_OK ||
        (st = rng_parse(f, "rng_shuffle", &r->shuffle, err)) != TG_OK)
        return st;
    r->step = (int64_t)u[0];
    r->epoch = (int)u[1];
    tg_adam_set_steps(r->ad, (int64_t)u[2]);
    tg_adam_set_steps(r->ag, (int64_t)u[3]);
    tg_graph_set_dropout_step(r->g, u[4]);
    return TG_OK;
}
