/* checkpoint.c - GAN checkpoints as safetensors files (see checkpoint.h). */
#include "checkpoint.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "tapegrad-gan/1"
#define MAXT 256   /* tensors */

typedef struct kvbuf {
    ckpt_meta m;
    st_tensor t[MAXT];
    char names[MAXT][96];
} kvbuf;

static void put(ckpt_meta *b, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void put(ckpt_meta *b, const char *key, const char *fmt, ...)
{
    if (b->n >= CKPT_MAX_META) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->val[b->n], sizeof b->val[b->n], fmt, ap);
    va_end(ap);
    b->kv[b->n].key = key;
    b->kv[b->n].value = b->val[b->n];
    b->n++;
}

/* a value kept by the caller (a path, longer than val's 160 bytes) */
static void put_ref(ckpt_meta *b, const char *key, const char *value)
{
    if (b->n >= CKPT_MAX_META) return;
    b->kv[b->n].key = key;
    b->kv[b->n].value = value;
    b->n++;
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

static void widths_str(char *out, size_t len, const tg_mlp_spec *s)
{
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k <= s->n_layers && o < len; k++) {
        int w = snprintf(out + o, len - o, k ? ",%d" : "%d", s->widths[k]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

static const char *init_name(tg_init i)
{
    return i == TG_INIT_XAVIER ? "xavier" : i == TG_INIT_NORMAL ? "normal" : i == TG_INIT_PYTORCH ? "pytorch" : "zeros";
}

static void rng_str(char *out, size_t len, const tg_rng *r)
{
    snprintf(out, len, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64, r->s[0], r->s[1], r->s[2],
             r->s[3]);
}

void ckpt_config_meta(const gan_cfg *c, ckpt_meta *m)
{
    char gw[128], dw[128];
    widths_str(gw, sizeof gw, &c->spec.G);
    widths_str(dw, sizeof dw, &c->spec.D);
    m->n = 0;
    put(m, "format", CKPT_FORMAT);
    put(m, "model", "%s", c->model);
    put(m, "g_widths", "%s", gw);
    put(m, "d_widths", "%s", dw);
    put(m, "g_act", "%s", tg_act_name(c->spec.G.hidden));
    put(m, "d_act", "%s", tg_act_name(c->spec.D.hidden));
    put(m, "g_slope", "%.9g", (double)c->spec.G.slope);
    put(m, "d_slope", "%.9g", (double)c->spec.D.slope);
    put(m, "g_dropout", "%.9g", (double)c->spec.G.dropout);
    put(m, "d_dropout", "%.9g", (double)c->spec.D.dropout);
    put(m, "g_out", "%s", tg_act_name(c->spec.G.output));
    put(m, "init", "%s", init_name(c->spec.init));
    put(m, "sigma", "%.9g", (double)c->spec.sigma);
    put(m, "batch", "%d", c->batch);
    put(m, "epochs", "%d", c->epochs);
    put(m, "seed", "%" PRIu64, c->seed);
    put(m, "lr_g", "%.9g", (double)c->lr_g);
    put(m, "lr_d", "%.9g", (double)c->lr_d);
    put(m, "beta1", "%.9g", (double)c->beta1);
    put(m, "beta2", "%.9g", (double)c->beta2);
    put(m, "eps", "%.9g", (double)c->eps);
    put(m, "real_label", "%.9g", (double)c->real_label);
    put(m, "g_loss", "%s", c->saturating ? "saturating" : "nonsaturating");
    put(m, "fresh_z", "%d", c->fresh_z);
}

void ckpt_run_meta(const gan_cfg *c, const ckpt_run *run, ckpt_meta *m)
{
    put(m, "log_every", "%d", c->log_every);
    if (!run) return;
    if (run->data[0] && st_utf8_valid(run->data)) put_ref(m, "data", run->data);
    if (run->classifier[0] && st_utf8_valid(run->classifier)) put_ref(m, "classifier", run->classifier);
    put(m, "eval_every", "%d", run->eval_every);
    put(m, "limit", "%d", run->limit);
}

int ckpt_save(const char *path, gan_run *r, const ckpt_run *run, char *err, size_t len)
{
    kvbuf *b = calloc(1, sizeof *b);
    if (!b) return snprintf(err, len, "checkpoint: out of memory"), -1;
    st_tensor *t = b->t;
    char(*names)[96] = b->names;
    int nt = 0;
    for (int i = 0; i < tg_params_count(r->ps) && nt < MAXT; i++) {
        tg_param *p = tg_params_at(r->ps, i);
        snprintf(names[nt], sizeof names[nt], "%s/%s", tg_param_group(p), tg_param_name(p));
        t[nt] = (st_tensor){names[nt], ST_F32, tg_param_ndim(p), tg_param_dims(p), tg_param_data(p)};
        nt++;
    }
    tg_adam *opt[2] = {r->ad, r->ag};
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < tg_adam_count(opt[o]) && nt + 2 <= MAXT; i++) {
            tg_param *p = tg_adam_param(opt[o], i);
            for (int mv = 0; mv < 2; mv++) {
                snprintf(names[nt], sizeof names[nt], "adam/%s/%c/%s", tg_param_group(p), mv ? 'v' : 'm',
                         tg_param_name(p));
                t[nt] = (st_tensor){names[nt], ST_F32, tg_param_ndim(p), tg_param_dims(p),
                                    mv ? tg_adam_v(opt[o], i) : tg_adam_m(opt[o], i)};
                nt++;
            }
        }
    char rn[80], rs[80];
    rng_str(rn, sizeof rn, &r->noise);
    rng_str(rs, sizeof rs, &r->shuffle);
    ckpt_meta *m = &b->m;
    ckpt_config_meta(&r->cfg, m);
    put(m, "step", "%" PRId64, r->step);
    put(m, "epoch", "%d", r->epoch);
    put(m, "adam_t_D", "%" PRId64, tg_adam_steps(r->ad));
    put(m, "adam_t_G", "%" PRId64, tg_adam_steps(r->ag));
    put(m, "dropout_step", "%" PRIu64, tg_graph_dropout_step(r->g));
    put(m, "rng_noise", "%s", rn);
    put(m, "rng_shuffle", "%s", rs);
    ckpt_run_meta(&r->cfg, run, m);
    /* the same settings as one JSON object, for other readers */
    const int room = m->n < CKPT_MAX_META; /* for "config" */
    char *json = room ? json_object(m->kv, m->n) : NULL;
    if (!json) {
        free(b);
        return snprintf(err, len, "checkpoint: %s", room ? "out of memory" : "too many metadata pairs"), -1;
    }
    m->kv[m->n++] = (st_kv){"config", json};
    int rc = st_write(path, t, (size_t)nt, m->kv, (size_t)m->n, err, len);
    free(json);
    free(b);
    return rc == ST_OK ? 0 : -1;
}

/* ---- reading ---- */
static const char *need(const st_file *f, const char *key, char *err, size_t len)
{
    return st_meta_need(f, key, "checkpoint:", err, len);
}

static int num(const st_file *f, const char *key, double lo, double hi, double *out, char *err, size_t len)
{
    return st_meta_num(f, key, lo, hi, out, "checkpoint:", err, len) == ST_OK ? 0 : -1;
}

static int whole(const st_file *f, const char *key, uint64_t hi, uint64_t *out, char *err, size_t len)
{
    return st_meta_uint(f, key, 0, hi, out, "checkpoint:", err, len) == ST_OK ? 0 : -1;
}

/* the index of key's value in names[n], or -1 with a message */
static int choice(const st_file *f, const char *key, const char *const *names, int n, char *err, size_t len)
{
    const char *v = need(f, key, err, len);
    if (!v) return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return i;
    snprintf(err, len, "checkpoint: metadata '%s' = '%s' is not one of", key, v);
    for (int i = 0; i < n; i++) snprintf(err + strlen(err), len - strlen(err), "%s %s", i ? "," : "", names[i]);
    return -1;
}

static int widths(const st_file *f, const char *key, tg_mlp_spec *s, char *err, size_t len)
{
    const char *v = need(f, key, err, len);
    if (!v) return -1;
    int n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || w < 1 || w > (1 << 20) || n > TG_MLP_MAX_LAYERS || (*end && *end != ',')) {
            snprintf(err, len, "checkpoint: metadata '%s' = '%s' is not a list of widths", key, v);
            return -1;
        }
        s->widths[n++] = (int)w;
        p = *end ? end + 1 : end;
    }
    if (n < 2) return snprintf(err, len, "checkpoint: metadata '%s' has fewer than 2 widths", key), -1;
    s->n_layers = n - 1;
    return 0;
}

static int act(const st_file *f, const char *key, tg_act *a, char *err, size_t len)
{
    const char *v = need(f, key, err, len);
    if (!v) return -1;
    if (!tg_act_parse(v, a)) return snprintf(err, len, "checkpoint: unknown activation '%s'", v), -1;
    return 0;
}

static int rng_parse(const st_file *f, const char *key, tg_rng *r, char *err, size_t len)
{
    const char *v = need(f, key, err, len);
    if (!v) return -1;
    for (int i = 0; i < 4; i++) {
        const char *p = v + 17 * i;
        if (strspn(p, "0123456789abcdefABCDEF") != 16 || p[16] != (i < 3 ? ',' : '\0'))
            return snprintf(err, len, "checkpoint: metadata '%s' is not 4 hex words", key), -1;
        r->s[i] = (uint64_t)strtoull(p, NULL, 16);
    }
    return 0;
}

int ckpt_config(const st_file *f, gan_cfg *c, char *err, size_t len)
{
    const char *fmt = need(f, "format", err, len), *model = need(f, "model", err, len);
    if (!fmt || !model) return -1;
    if (strcmp(fmt, CKPT_FORMAT))
        return snprintf(err, len, "checkpoint: format '%s', expected '%s'", fmt, CKPT_FORMAT), -1;
    if (gan_cfg_defaults(c, model) != 0) return snprintf(err, len, "checkpoint: unknown model preset '%s'", model), -1;
    /* what init_name and ckpt_save write */
    static const char *const inits[] = {"xavier", "normal", "pytorch", "zeros"};
    static const tg_init init_of[] = {TG_INIT_XAVIER, TG_INIT_NORMAL, TG_INIT_PYTORCH, TG_INIT_ZEROS};
    static const char *const losses[] = {"nonsaturating", "saturating"};
    /* Ranges wide enough for anything train-gan accepts; gan_cfg_check then
     * checks the values as the floats training uses. */
    double d[11];
    uint64_t u[4];
    int init = choice(f, "init", inits, 4, err, len), loss = init < 0 ? -1 : choice(f, "g_loss", losses, 2, err, len);
    if (init < 0 || loss < 0 || widths(f, "g_widths", &c->spec.G, err, len) ||
        widths(f, "d_widths", &c->spec.D, err, len) || act(f, "g_act", &c->spec.G.hidden, err, len) ||
        act(f, "d_act", &c->spec.D.hidden, err, len) || act(f, "g_out", &c->spec.G.output, err, len) ||
        num(f, "g_slope", -1e6, 1e6, &d[0], err, len) || num(f, "d_slope", -1e6, 1e6, &d[1], err, len) ||
        num(f, "g_dropout", 0, 1, &d[2], err, len) || num(f, "d_dropout", 0, 1, &d[3], err, len) ||
        num(f, "sigma", 0, 1e6, &d[4], err, len) || whole(f, "batch", 1 << 20, &u[0], err, len) ||
        whole(f, "epochs", 1000000000, &u[1], err, len) || whole(f, "seed", UINT64_MAX, &u[2], err, len) ||
        num(f, "lr_g", 0, 1e6, &d[5], err, len) || num(f, "lr_d", 0, 1e6, &d[6], err, len) ||
        num(f, "beta1", 0, 1, &d[7], err, len) || num(f, "beta2", 0, 1, &d[8], err, len) ||
        num(f, "eps", 0, 1, &d[9], err, len) || num(f, "real_label", -1e6, 1e6, &d[10], err, len) ||
        whole(f, "fresh_z", 1, &u[3], err, len))
        return -1;
    c->spec.G.slope = (float)d[0];
    c->spec.D.slope = (float)d[1];
    c->spec.G.dropout = (float)d[2];
    c->spec.D.dropout = (float)d[3];
    c->spec.sigma = (float)d[4];
    c->spec.init = init_of[init];
    c->batch = (int)u[0];
    c->epochs = (int)u[1];
    c->seed = u[2];
    c->lr_g = (float)d[5];
    c->lr_d = (float)d[6];
    c->beta1 = (float)d[7];
    c->beta2 = (float)d[8];
    c->eps = (float)d[9];
    c->real_label = (float)d[10];
    c->fresh_z = (int)u[3];
    c->saturating = loss == 1;
    if (st_meta(f, "log_every")) { /* not in older checkpoints */
        if (st_meta_uint(f, "log_every", 1, 1000000, &u[0], "checkpoint:", err, len) != ST_OK) return -1;
        c->log_every = (int)u[0];
    }
    char msg[200];
    if (gan_cfg_check(c, msg, sizeof msg)) return snprintf(err, len, "checkpoint: %s", msg), -1;
    return 0;
}

int ckpt_run_read(const st_file *f, ckpt_run *run, char *err, size_t len)
{
    memset(run, 0, sizeof *run);
    const char *keys[2] = {"data", "classifier"};
    char *dst[2] = {run->data, run->classifier};
    for (int k = 0; k < 2; k++) {
        const char *v = st_meta(f, keys[k]);
        if (v && (!v[0] || strlen(v) >= CKPT_PATH_MAX)) /* the writer leaves an empty path out */
            return snprintf(err, len, "checkpoint: metadata '%s' is empty or longer than %d bytes", keys[k],
                            CKPT_PATH_MAX - 1), -1;
        if (v) strcpy(dst[k], v);
    }
    /* what train-gan accepts (--eval-every 0..100000, --limit 1..100000000) and 0 */
    uint64_t u;
    if (st_meta(f, "eval_every")) {
        if (whole(f, "eval_every", 100000, &u, err, len)) return -1;
        run->eval_every = (int)u;
    }
    if (st_meta(f, "limit")) {
        if (whole(f, "limit", 100000000, &u, err, len)) return -1;
        run->limit = (int)u;
    }
    return 0;
}

static int load_tensor(const st_file *f, const char *name, tg_param *p, float *dst, char *err, size_t len)
{
    return st_get_f32(f, name, tg_param_ndim(p), tg_param_dims(p), dst, err, len) == ST_OK ? 0 : -1;
}

int ckpt_load_group(const st_file *f, tg_params *ps, const char *group, char *err, size_t len)
{
    char name[160];
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (group && strcmp(tg_param_group(p), group)) continue;
        snprintf(name, sizeof name, "%s/%s", tg_param_group(p), tg_param_name(p));
        if (load_tensor(f, name, p, tg_param_data(p), err, len)) return -1;
    }
    return 0;
}

int ckpt_restore(const st_file *f, gan_run *r, int training, char *err, size_t len)
{
    if (ckpt_load_group(f, r->ps, NULL, err, len)) return -1;
    if (!training) return 0;
    char name[160];
    tg_adam *opt[2] = {r->ad, r->ag};
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < tg_adam_count(opt[o]); i++) {
            tg_param *p = tg_adam_param(opt[o], i);
            snprintf(name, sizeof name, "adam/%s/m/%s", tg_param_group(p), tg_param_name(p));
            if (load_tensor(f, name, p, tg_adam_m(opt[o], i), err, len)) return -1;
            snprintf(name, sizeof name, "adam/%s/v/%s", tg_param_group(p), tg_param_name(p));
            if (load_tensor(f, name, p, tg_adam_v(opt[o], i), err, len)) return -1;
        }
    uint64_t u[5];
    if (whole(f, "step", INT64_MAX, &u[0], err, len) || whole(f, "epoch", 1000000000, &u[1], err, len) ||
        whole(f, "adam_t_D", INT64_MAX, &u[2], err, len) || whole(f, "adam_t_G", INT64_MAX, &u[3], err, len) ||
        whole(f, "dropout_step", UINT64_MAX, &u[4], err, len) || rng_parse(f, "rng_noise", &r->noise, err, len) ||
        rng_parse(f, "rng_shuffle", &r->shuffle, err, len))
        return -1;
    r->step = (int64_t)u[0];
    r->epoch = (int)u[1];
    tg_adam_set_steps(r->ad, (int64_t)u[2]);
    tg_adam_set_steps(r->ag, (int64_t)u[3]);
    tg_graph_set_dropout_step(r->g, u[4]);
    return 0;
}
