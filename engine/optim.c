/* optim.c - Adam and SGD over one parameter group, PyTorch semantics. State
 * parameters (tg_param_new_state: running statistics) are not trained: the
 * optimizers skip them. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* a piece of one parameter: elements [i0, i1) of parameter k */
typedef struct adam_chunk { int k; size_t i0, i1; } adam_chunk;
#define ADAM_CHUNK 32768 /* elements per task when a pool splits the step */

struct tg_adam {
    tg_params *ps;
    char group[TG_NAME_LEN];
    float lr, b1, b2, eps;
    int64_t t;
    int np;
    tg_param **p;   /* the group's parameters */
    float **m, **v; /* moments, one buffer per parameter */
    tg_pool *pool;  /* optional: split the step over its threads */
    adam_chunk *chunks;
    int nchunks;
    float bc1, bc2; /* this step's bias corrections, for the tasks */
};

/* parameter p is one the optimizer of `group` updates: of that group and
 * not state (running statistics, tg_param_new_state) */
static int trains(const tg_param *p, const char *group)
{
    return !strcmp(tg_param_group(p), group) && !tg_param_is_state(p);
}

/* the group's trainable parameter count, or 0 with the reason in *err */
static int group_size(const char *who, tg_params *ps, const char *group, tg_error *err)
{
    int np = 0, all = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        np += trains(tg_params_at(ps, i), group);
        all += !strcmp(tg_param_group(tg_params_at(ps, i)), group);
    }
    if (!all) tg_error_set(err, TG_ERR_ARG, "%s: group '%s' has no parameters", who, group);
    else if (!np) tg_error_set(err, TG_ERR_ARG, "%s: group '%s' holds only state parameters", who, group);
    return np;
}

tg_adam *tg_adam_new(tg_params *ps, const char *group, float lr, float b1, float b2, float eps, tg_error *err)
{
    if (!ps || !group || strlen(group) >= TG_NAME_LEN) {
        tg_error_set(err, TG_ERR_ARG, "adam: no parameter store or group");
        return NULL;
    }
    if (!(lr > 0) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(eps > 0)) {
        tg_error_set(err, TG_ERR_ARG, "adam: lr %g must be > 0, betas %g and %g in [0, 1), eps %g > 0", (double)lr,
                     (double)b1, (double)b2, (double)eps);
        return NULL;
    }
    const int np = group_size("adam", ps, group, err);
    if (!np) return NULL;
    tg_adam *a = tg_zalloc(sizeof *a);
    if (!a) {
        tg_error_set(err, TG_ERR_NOMEM, "adam: out of memory");
        return NULL;
    }
    a->p = tg_zalloc((size_t)np * sizeof *a->p);
    a->m = tg_zalloc((size_t)np * sizeof *a->m);
    a->v = tg_zalloc((size_t)np * sizeof *a->v);
    if (!a->p || !a->m || !a->v) {
        tg_adam_free(a);
        tg_error_set(err, TG_ERR_NOMEM, "adam: out of memory");
        return NULL;
    }
    a->ps = ps;
    strcpy(a->group, group);
    a->lr = lr;
    a->b1 = b1;
    a->b2 = b2;
    a->eps = eps;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (!trains(p, group)) continue;
        a->p[a->np] = p;
        a->m[a->np] = tg_zalloc(tg_param_numel(p) * sizeof(float));
        a->v[a->np] = tg_zalloc(tg_param_numel(p) * sizeof(float));
        a->np++;
        if (!a->m[a->np - 1] || !a->v[a->np - 1]) {
            tg_adam_free(a);
            tg_error_set(err, TG_ERR_NOMEM, "adam: out of memory for the moments of '%s'", tg_param_name(p));
            return NULL;
        }
    }
    return a;
}

void tg_adam_free(tg_adam *a)
{
    if (!a) return;
    for (int i = 0; i < a->np; i++) {
        tg_free(a->m[i]);
        tg_free(a->v[i]);
    }
    tg_free(a->p);
    tg_free(a->m);
    tg_free(a->v);
    tg_free(a->chunks);
    tg_free(a);
}

tg_status tg_adam_set_pool(tg_adam *a, tg_pool *pool)
{
    if (!a) return TG_ERR_ARG;
    tg_free(a->chunks);
    a->chunks = NULL;
    a->nchunks = 0;
    a->pool = NULL;
    if (!pool || tg_pool_threads(pool) < 2) return TG_OK;
    int n = 0;
    for (int k = 0; k < a->np; k++) n += (int)((tg_param_numel(a->p[k]) + ADAM_CHUNK - 1) / ADAM_CHUNK);
    a->chunks = tg_zalloc((size_t)n * sizeof *a->chunks);
    if (!a->chunks) return TG_ERR_NOMEM;
    for (int k = 0; k < a->np; k++)
        for (size_t i = 0; i < tg_param_numel(a->p[k]); i += ADAM_CHUNK) {
            size_t e = i + ADAM_CHUNK < tg_param_numel(a->p[k]) ? i + ADAM_CHUNK : tg_param_numel(a->p[k]);
            a->chunks[a->nchunks++] = (adam_chunk){k, i, e};
        }
    a->pool = pool;
    return TG_OK;
}

/* Adam is element-wise: any split gives the same bits */
static void adam_range(tg_adam *a, int k, size_t i0, size_t i1)
{
    tg_kern_current()->adam(tg_param_data(a->p[k]) + i0, tg_param_grad(a->p[k]) + i0, a->m[k] + i0, a->v[k] + i0,
                            i1 - i0, a->lr, a->b1, a->b2, a->eps, a->bc1, a->bc2);
}

static void adam_task(void *ctx, int task, int thread)
{
    tg_adam *a = ctx;
    (void)thread;
    adam_range(a, a->chunks[task].k, a->chunks[task].i0, a->chunks[task].i1);
}

static void adam_run(tg_adam *a)
{
    if (a->pool && !tg_pool_solo(a->pool)) {
        tg_pool_run(a->pool, adam_task, a, a->nchunks);
        return;
    }
    for (int k = 0; k < a->np; k++) adam_range(a, k, 0, tg_param_numel(a->p[k]));
}

tg_status tg_adam_step(tg_adam *a)
{
    if (!a) return TG_ERR_ARG;
    a->t++;
    a->bc1 = (float)(1.0 - pow((double)a->b1, (double)a->t));
    a->bc2 = (float)(1.0 - pow((double)a->b2, (double)a->t));
    tg_fpmode m = tg_fp_enter(); /* moments that decay below FLT_MIN become 0 */
    if (tg_prof_on()) {
        double t0 = tg_prof_now();
        adam_run(a);
        tg_prof_add_named("adam", tg_prof_now() - t0);
    } else {
        adam_run(a);
    }
    tg_fp_leave(m);
    return TG_OK;
}

int64_t tg_adam_steps(const tg_adam *a) { return a ? a->t : 0; }
void tg_adam_set_steps(tg_adam *a, int64_t t) { if (a && t >= 0) a->t = t; }
int tg_adam_count(const tg_adam *a) { return a ? a->np : 0; }
tg_param *tg_adam_param(const tg_adam *a, int i) { return a && i >= 0 && i < a->np ? a->p[i] : NULL; }
float *tg_adam_m(tg_adam *a, int i) { return a && i >= 0 && i < a->np ? a->m[i] : NULL; }
float *tg_adam_v(tg_adam *a, int i) { return a && i >= 0 && i < a->np ? a->v[i] : NULL; }
void tg_adam_set_lr(tg_adam *a, float lr) { if (a && lr > 0) a->lr = lr; }

/* ---- SGD with momentum ---- */
struct tg_sgd {
    float lr, mom;
    int64_t t;
    int np;
    tg_param **p;
    float **b;   /* momentum buffers */
};

tg_sgd *tg_sgd_new(tg_params *ps, const char *group, float lr, float momentum, tg_error *err)
{
    if (!ps || !group) {
        tg_error_set(err, TG_ERR_ARG, "sgd: no parameter store or group");
        return NULL;
    }
    if (!(lr > 0) || !(momentum >= 0 && momentum < 1)) {
        tg_error_set(err, TG_ERR_ARG, "sgd: lr %g must be > 0 and momentum %g in [0, 1)", (double)lr,
                     (double)momentum);
        return NULL;
    }
    const int np = group_size("sgd", ps, group, err);
    if (!np) return NULL;
    tg_sgd *s = tg_zalloc(sizeof *s);
    if (s) s->p = tg_zalloc((size_t)np * sizeof *s->p), s->b = tg_zalloc((size_t)np * sizeof *s->b);
    if (!s || !s->p || !s->b) {
        tg_sgd_free(s);
        tg_error_set(err, TG_ERR_NOMEM, "sgd: out of memory");
        return NULL;
    }
    s->lr = lr;
    s->mom = momentum;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (!trains(p, group)) continue;
        s->p[s->np] = p;
        s->b[s->np] = tg_zalloc(tg_param_numel(p) * sizeof(float));
        if (!s->b[s->np++]) {
            tg_sgd_free(s);
            tg_error_set(err, TG_ERR_NOMEM, "sgd: out of memory");
            return NULL;
        }
    }
    return s;
}

void tg_sgd_free(tg_sgd *s)
{
    if (!s) return;
    for (int i = 0; i < s->np; i++) tg_free(s->b[i]);
    tg_free(s->p);
    tg_free(s->b);
    tg_free(s);
}

tg_status tg_sgd_step(tg_sgd *s)
{
    if (!s) return TG_ERR_ARG;
    const double t0 = tg_prof_on() ? tg_prof_now() : 0.0;
    const tg_kern *k = tg_kern_current();
    tg_fpmode m = tg_fp_enter();
    for (int i = 0; i < s->np; i++) {
        float *w = tg_param_data(s->p[i]), *b = s->b[i];
        const float *g = tg_param_grad(s->p[i]);
        size_t n = tg_param_numel(s->p[i]);
        if (s->t == 0) memcpy(b, g, n * sizeof *b);  /* PyTorch: b = g first */
        else {
            k->scale(b, s->mom, b, n);                /* b = momentum b + g */
            k->axpy(g, 1.0f, b, n);
        }
        k->axpy(b, -s->lr, w, n);                     /* w -= lr b */
    }
    tg_fp_leave(m);
    s->t++;
    if (tg_prof_on()) tg_prof_add_named("sgd", tg_prof_now() - t0);
    return TG_OK;
}
