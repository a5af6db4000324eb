/* ema.c - an exponential moving average of a parameter group's values
 * (generator EMA): shadow = decay * shadow + (1 - decay) * value after
 * every optimizer step, state parameters (batch normalization's running
 * statistics) included. Sampling with the average: swap it in, run, swap
 * it back. */
#include "internal.h"

#include <string.h>

struct tg_ema {
    float decay;
    int np;
    tg_param **p;
    float **s; /* shadow values, one buffer per parameter */
};

tg_ema *tg_ema_new(tg_params *ps, const char *group, float decay, tg_error *err)
{
    if (!ps || !group) {
        tg_error_set(err, TG_ERR_ARG, "ema: no parameter store or group");
        return NULL;
    }
    if (!(decay >= 0 && decay < 1)) {
        tg_error_set(err, TG_ERR_ARG, "ema: decay %g must be in [0, 1)", (double)decay);
        return NULL;
    }
    int np = 0;
    for (int i = 0; i < tg_params_count(ps); i++) np += !strcmp(tg_param_group(tg_params_at(ps, i)), group);
    if (!np) {
        tg_error_set(err, TG_ERR_ARG, "ema: group '%s' has no parameters", group);
        return NULL;
    }
    tg_ema *e = tg_zalloc(sizeof *e);
    if (e) e->p = tg_zalloc((size_t)np * sizeof *e->p), e->s = tg_zalloc((size_t)np * sizeof *e->s);
    if (!e || !e->p || !e->s) {
        tg_ema_free(e);
        tg_error_set(err, TG_ERR_NOMEM, "ema: out of memory");
        return NULL;
    }
    e->decay = decay;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (strcmp(tg_param_group(p), group)) continue;
        e->p[e->np] = p;
        e->s[e->np] = tg_zalloc(tg_param_numel(p) * sizeof(float));
        if (!e->s[e->np++]) {
            tg_ema_free(e);
            tg_error_set(err, TG_ERR_NOMEM, "ema: out of memory");
            return NULL;
        }
        memcpy(e->s[e->np - 1], tg_param_data(p), tg_param_numel(p) * sizeof(float)); /* starts at the values */
    }
    return e;
}

void tg_ema_free(tg_ema *e)
{
    if (!e) return;
    for (int i = 0; i < e->np; i++) tg_free(e->s[i]);
    tg_free(e->s);
    tg_free(e->p);
    tg_free(e);
}

tg_status tg_ema_update(tg_ema *e)
{
    if (!e) return TG_ERR_ARG;
    const float d = e->decay, w = 1.0f - e->decay;
    for (int i = 0; i < e->np; i++) {
        const float *v = tg_param_data(e->p[i]);
        float *s = e->s[i];
        const size_t n = tg_param_numel(e->p[i]);
        for (size_t k = 0; k < n; k++) s[k] = d * s[k] + w * v[k];
    }
    return TG_OK;
}

tg_status tg_ema_swap(tg_ema *e)
{
    if (!e) return TG_ERR_ARG;
    for (int i = 0; i < e->np; i++) {
        float *v = tg_param_data(e->p[i]), *s = e->s[i];
        const size_t n = tg_param_numel(e->p[i]);
        for (size_t k = 0; k < n; k++) {
            const float t = v[k];
            v[k] = s[k];
            s[k] = t;
        }
    }
    return TG_OK;
}

int tg_ema_count(const tg_ema *e) { return e ? e->np : 0; }
tg_param *tg_ema_param(const tg_ema *e, int i) { return e && i >= 0 && i < e->np ? e->p[i] : NULL; }
float *tg_ema_shadow(tg_ema *e, int i) { return e && i >= 0 && i < e->np ? e->s[i] : NULL; }
float tg_ema_decay(const tg_ema *e) { return e ? e->decay : 0.0f; }
