/* params.c - the parameter store and its initializers. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct tg_param {
    char group[TG_NAME_LEN];
    char name[TG_NAME_LEN];
    int ndim;
    int d[TG_MAX_DIMS];
    size_t numel;
    float *data, *grad;
    int state;  /* non-trainable state (tg_param_new_state) */
};

struct tg_params {
    tg_param **p;
    int count, cap;
    char msg[TG_MSG_LEN];
};

tg_params *tg_params_new(void) { return tg_zalloc(sizeof(tg_params)); }

void tg_params_free(tg_params *ps)
{
    if (!ps) return;
    for (int i = 0; i < ps->count; i++) {
        tg_free(ps->p[i]->data);
        tg_free(ps->p[i]->grad);
        tg_free(ps->p[i]);
    }
    tg_free(ps->p);
    tg_free(ps);
}

static tg_param *fail(tg_params *ps, const char *msg, const char *group, const char *name)
{
    snprintf(ps->msg, sizeof ps->msg, "param '%s/%s': %s", group ? group : "(null)",
             name ? name : "(null)", msg);
    return NULL;
}

static int good_name(const char *s)
{
    if (!s || !*s || strlen(s) >= TG_NAME_LEN) return 0;
    for (; *s; s++)
        if (*s == ',' || *s == '/' || *s == '"' || *s == '\\' || (unsigned char)*s < 32) return 0;
    return 1;
}

tg_param *tg_param_new(tg_params *ps, const char *group, const char *name, int ndim, const int *dims)
{
    if (!ps) return NULL;
    if (!good_name(group) || !good_name(name))
        return fail(ps, "names must be 1..63 characters without , / \" \\ or control characters",
                    group, name);
    if (tg_param_find(ps, group, name)) return fail(ps, "already exists", group, name);
    if (ndim < 1 || ndim > TG_MAX_DIMS || !dims) return fail(ps, "needs 1..4 dimensions", group, name);
    size_t numel = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] <= 0 || numel > ((size_t)1 << 34) / (size_t)dims[k])
            return fail(ps, "bad dimension", group, name);
        numel *= (size_t)dims[k];
    }
    if (ps->count == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 16;
        tg_param **np = tg_zalloc((size_t)cap * sizeof *np);
        if (!np) return fail(ps, "out of memory", group, name);
        if (ps->count) memcpy(np, ps->p, (size_t)ps->count * sizeof *np);
        tg_free(ps->p);
        ps->p = np;
        ps->cap = cap;
    }
    tg_param *p = tg_zalloc(sizeof *p);
    if (!p) return fail(ps, "out of memory", group, name);
    p->data = tg_zalloc(numel * sizeof(float));
    p->grad = tg_zalloc(numel * sizeof(float));
    if (!p->data || !p->grad) {
        tg_free(p->data);
        tg_free(p->grad);
        tg_free(p);
        return fail(ps, "out of memory", group, name);
    }
    strcpy(p->group, group);
    strcpy(p->name, name);
    p->ndim = ndim;
    memcpy(p->d, dims, (size_t)ndim * sizeof *dims);
    p->numel = numel;
    ps->p[ps->count++] = p;
    return p;
}

tg_param *tg_param_new_state(tg_params *ps, const char *group, const char *name, int ndim, const int *dims)
{
    tg_param *p = tg_param_new(ps, group, name, ndim, dims);
    if (p) p->state = 1;
    return p;
}

int tg_param_is_state(const tg_param *p) { return p && p->state; }

tg_param *tg_param_find(const tg_params *ps, const char *group, const char *name)
{
    if (!ps || !group || !name) return NULL;
    for (int i = 0; i < ps->count; i++)
        if (!strcmp(ps->p[i]->group, group) && !strcmp(ps->p[i]->name, name)) return ps->p[i];
    return NULL;
}

int tg_params_count(const tg_params *ps) { return ps ? ps->count : 0; }
tg_param *tg_params_at(const tg_params *ps, int i)
{
    return ps && i >= 0 && i < ps->count ? ps->p[i] : NULL;
}
const char *tg_params_error(const tg_params *ps) { return ps ? ps->msg : "no store"; }

size_t tg_params_numel(const tg_params *ps, const char *group)
{
    size_t n = 0;
    for (int i = 0; ps && i < ps->count; i++)
        if (!group || !strcmp(group, ps->p[i]->group)) n += ps->p[i]->numel;
    return n;
}

const char *tg_param_name(const tg_param *p) { return p->name; }
const char *tg_param_group(const tg_param *p) { return p->group; }
int tg_param_ndim(const tg_param *p) { return p->ndim; }
const int *tg_param_dims(const tg_param *p) { return p->d; }
size_t tg_param_numel(const tg_param *p) { return p->numel; }
float *tg_param_data(tg_param *p) { return p->data; }
float *tg_param_grad(tg_param *p) { return p->grad; }

/* 1 if `group` is listed in the comma-separated `groups` ("*" = all). */
int tg_group_match(const char *groups, const char *group)
{
    if (!groups || !*groups) return 0;
    if (!strcmp(groups, "*")) return 1;
    size_t len = strlen(group);
    for (const char *s = groups; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == len && !strncmp(s, group, n)) return 1;
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

tg_status tg_param_init(tg_param *p, tg_init kind, int fan_in, int fan_out, float sigma, tg_rng *r)
{
    if (!p || (kind != TG_INIT_ZEROS && kind != TG_INIT_ONES && !r)) return TG_ERR_ARG;
    switch (kind) {
    case TG_INIT_ZEROS:
        memset(p->data, 0, p->numel * sizeof(float));
        return TG_OK;
    case TG_INIT_PYTORCH: {
        if (fan_in <= 0) return TG_ERR_ARG;
        float a = (float)(1.0 / sqrt((double)fan_in));
        tg_rng_fill_uniform(r, p->data, p->numel, -a, a);
        return TG_OK;
    }
    case TG_INIT_XAVIER: {
        if (fan_in <= 0 || fan_out <= 0) return TG_ERR_ARG;
        float a = (float)sqrt(6.0 / (double)(fan_in + fan_out));
        tg_rng_fill_uniform(r, p->data, p->numel, -a, a);
        return TG_OK;
    }
    case TG_INIT_NORMAL:
        if (!(sigma >= 0.0f)) return TG_ERR_ARG;
        tg_rng_fill_normal(r, p->data, p->numel, 0.0f, sigma);
        return TG_OK;
    case TG_INIT_ONES:
        for (size_t i = 0; i < p->numel; i++) p->data[i] = 1.0f;
        return TG_OK;
    }
    return TG_ERR_ARG;
}
