/* gan_train.c - the GAN training iteration (see gan_train.h). */
#include "gan_train.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rng streams derived from the seed */
enum { STREAM_INIT = 0, STREAM_NOISE = 1, STREAM_SHUFFLE = 2, STREAM_FIXED = 3 };

int gan_cfg_defaults(gan_cfg *c, const char *preset)
{
    memset(c, 0, sizeof *c);
    if (tg_gan_mlp_preset(preset, &c->spec, NULL) != TG_OK) return -1;
    snprintf(c->model, sizeof c->model, "%s", preset);
    c->spec.sigma = 0.02f;
    c->batch = 64;
    c->epochs = 30;
    c->threads = 2;
    c->log_every = 50;
    c->seed = 1;
    c->lr_g = c->lr_d = 2e-4f;
    c->beta1 = 0.5f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->real_label = 0.9f;
    return 0;
}

int gan_cfg_check(const gan_cfg *c, char *err, size_t len)
{
    tg_error e;
    const tg_mlp_spec *G = &c->spec.G, *D = &c->spec.D;
    if (tg_mlp_check(G, &e) != TG_OK || tg_mlp_check(D, &e) != TG_OK) return snprintf(err, len, "%s", e.msg), -1;
    if (G->widths[G->n_layers] != D->widths[0] || D->widths[D->n_layers] != 1)
        return snprintf(err, len, "G makes %d values but D takes %d and must give 1, not %d", G->widths[G->n_layers],
                        D->widths[0], D->widths[D->n_layers]), -1;
    const struct {
        const char *name;
        float v;
        int ok;
    } f[] = {
        {"lr_g", c->lr_g, c->lr_g >= FLT_MIN && isfinite(c->lr_g)},
        {"lr_d", c->lr_d, c->lr_d >= FLT_MIN && isfinite(c->lr_d)},
        {"eps", c->eps, c->eps >= FLT_MIN && isfinite(c->eps)},
        {"beta1", c->beta1, c->beta1 >= 0 && c->beta1 < 1},
        {"beta2", c->beta2, c->beta2 >= 0 && c->beta2 < 1},
        {"sigma", c->spec.sigma, c->spec.sigma >= 0 && isfinite(c->spec.sigma)},
        {"real_label", c->real_label, isfinite(c->real_label)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!f[i].ok) return snprintf(err, len, "%s %.9g is out of range", f[i].name, (double)f[i].v), -1;
    if (c->batch < 1 || c->epochs < 0)
        return snprintf(err, len, "batch %d and epochs %d must be >= 1 and >= 0", c->batch, c->epochs), -1;
    return 0;
}

static int fail(char *err, size_t len, const char *what, const char *why)
{
    snprintf(err, len, "%s: %s", what, why);
    return -1;
}

int gan_init(gan_run *r, const gan_cfg *c, char *err, size_t len)
{
    memset(r, 0, sizeof *r);
    if (gan_cfg_check(c, err, len)) return -1;
    r->cfg = *c;
    tg_error e;
    if (tg_gan_from_mlp(&r->cfg.spec, &r->net, &e) != TG_OK) return fail(err, len, "model", e.msg);
    const tg_gan_spec *s = &r->net;
    const int B = c->batch, zd = s->G.in_features, xd = s->D.in_features;
    tg_rng init;
    tg_rng_seed(&init, c->seed, STREAM_INIT);
    tg_rng_seed(&r->noise, c->seed, STREAM_NOISE);
    tg_rng_seed(&r->shuffle, c->seed, STREAM_SHUFFLE);
    r->ps = tg_params_new();
    if (!r->ps) return fail(err, len, "init", "out of memory");
    if (tg_gan_params(r->ps, s, &init, &e) != TG_OK) return fail(err, len, "parameters", e.msg);
    r->g = tg_graph_new(r->ps);
    r->pool = tg_pool_new(c->threads, NULL);
    r->z = calloc((size_t)B * zd, sizeof(float));
    r->x = calloc((size_t)B * xd, sizeof(float));
    r->fixed_z = calloc((size_t)GAN_FIXED * zd, sizeof(float));
    if (!r->g || !r->pool || !r->z || !r->x || !r->fixed_z) return fail(err, len, "init", "out of memory");
    tg_graph_set_seed(r->g, c->seed);
    if (tg_gan_build(r->g, s, B, c->real_label, c->saturating, &r->gg) != TG_OK)
        return fail(err, len, "graph", tg_graph_error(r->g));
    tg_bind(r->g, r->gg.z, r->z);
    tg_bind(r->g, r->gg.x, r->x);
    tg_node dout[2] = {r->gg.d_real, r->gg.d_fake_det};
    /* the D step computes G(z); the G step reuses it (one set of plans) */
    const tg_node losses[2] = {r->gg.loss_d, r->gg.loss_g};
    const tg_plan_opts po[2] = {
        {.groups = "D", .pool = r->pool, .outputs = dout, .n_outputs = 2},
        {.groups = "G", .pool = r->pool, .reuse = &r->gg.fake, .n_reuse = c->fresh_z ? 0 : 1},
    };
    tg_plan *pl[2];
    if (tg_plans_new(r->g, 2, losses, po, pl) != TG_OK) return fail(err, len, "plan", tg_graph_error(r->g));
    r->pd = pl[0];
    r->pg = pl[1];
    r->ad = tg_adam_new(r->ps, "D", c->lr_d, c->beta1, c->beta2, c->eps, NULL);
    r->ag = tg_adam_new(r->ps, "G", c->lr_g, c->beta1, c->beta2, c->eps, NULL);
    if (!r->ad || !r->ag) return fail(err, len, "adam", "bad learning rate or betas");
    if (tg_adam_set_pool(r->ad, r->pool) != TG_OK || tg_adam_set_pool(r->ag, r->pool) != TG_OK)
        return fail(err, len, "adam", "out of memory");

    /* the sampler: G alone, eval mode, on fixed noise */
    tg_rng fixed;
    tg_rng_seed(&fixed, c->seed, STREAM_FIXED);
    tg_rng_fill_normal(&fixed, r->fixed_z, (size_t)GAN_FIXED * zd, 0, 1);
    r->sg = tg_graph_new(r->ps);
    if (!r->sg) return fail(err, len, "init", "out of memory");
    r->sz = tg_input(r->sg, "z", 2, (int[]){GAN_FIXED, zd});
    r->sout = tg_generator(r->sg, s, r->sz);
    tg_bind(r->sg, r->sz, r->fixed_z);
    r->sp = tg_plan_new(r->sg, r->sout, &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = r->pool});
    if (!r->sp) return fail(err, len, "sampler", tg_graph_error(r->sg));
    return 0;
}

void gan_free(gan_run *r)
{
    tg_plan_free(r->pd);
    tg_plan_free(r->pg);
    tg_plan_free(r->sp);
    tg_adam_free(r->ad);
    tg_adam_free(r->ag);
    tg_graph_free(r->g);
    tg_graph_free(r->sg);
    tg_pool_free(r->pool);
    tg_params_free(r->ps);
    free(r->z);
    free(r->x);
    free(r->fixed_z);
    memset(r, 0, sizeof *r);
}

static double grad_norm(const gan_run *r, const char *group)
{
    if (!r->want_norms) return NAN;
    double s = 0;
    for (int i = 0; i < tg_params_count(r->ps); i++) {
        tg_param *p = tg_params_at(r->ps, i);
        if (strcmp(tg_param_group(p), group)) continue;
        const float *g = tg_param_grad(p);
        const size_t n = tg_param_numel(p);
        double acc[8] = {0}; /* independent lanes so the loop vectorizes */
        size_t e = 0;
        for (; e + 8 <= n; e += 8)
            for (int k = 0; k < 8; k++) acc[k] += (double)g[e + k] * g[e + k];
        for (; e < n; e++) acc[0] += (double)g[e] * g[e];
        for (int k = 0; k < 8; k++) s += acc[k];
    }
    return sqrt(s);
}

static double mean_sigmoid(const float *logit, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += 1.0 / (1.0 + exp(-(double)logit[i]));
    return s / n;
}

static int run_fail(char *err, size_t len, tg_status st, tg_graph *g, const char *which)
{
    if (st == TG_ERR_NONFINITE)
        snprintf(err, len, "%s is not finite (NaN or Inf): training diverged", which);
    else
        snprintf(err, len, "%s: %s: %s", which, tg_status_str(st), tg_graph_error(g));
    return -1;
}

/* D step then G step; noise() fills r->z before the D step and, with
 * fresh_z, again before the G step */
static int step(gan_run *r, void (*noise)(gan_run *, const void *, int), const void *ctx, gan_stats *st, char *err,
                size_t len)
{
    const int B = r->cfg.batch;
    tg_status s;
    noise(r, ctx, 0);
    /* D step */
    if ((s = tg_plan_forward(r->pd)) != TG_OK || (s = tg_plan_backward(r->pd)) != TG_OK)
        return run_fail(err, len, s, r->g, "loss_D");
    st->loss_d = tg_plan_loss(r->pd);
    st->d_real = mean_sigmoid(tg_plan_value(r->pd, r->gg.d_real), B);
    st->d_fake = mean_sigmoid(tg_plan_value(r->pd, r->gg.d_fake_det), B);
    st->gnorm_d = grad_norm(r, "D");
    tg_adam_step(r->ad);
    /* G step, through the updated D */
    if (r->cfg.fresh_z) noise(r, ctx, 1);
    if ((s = tg_plan_forward(r->pg)) != TG_OK || (s = tg_plan_backward(r->pg)) != TG_OK)
        return run_fail(err, len, s, r->g, "loss_G");
    st->loss_g = tg_plan_loss(r->pg);
    st->gnorm_g = grad_norm(r, "G");
    if (r->want_norms && (!isfinite(st->gnorm_g) || !isfinite(st->gnorm_d))) {
        snprintf(err, len, "gradient norm is not finite: training diverged");
        return -1;
    }
    tg_adam_step(r->ag);
    r->step++;
    return 0;
}

static size_t zlen(const gan_run *r) { return (size_t)r->cfg.batch * (size_t)r->cfg.spec.G.widths[0]; }

static void noise_rng(gan_run *r, const void *ctx, int second)
{
    (void)ctx;
    (void)second;
    tg_rng_fill_normal(&r->noise, r->z, zlen(r), 0, 1);
}

static void noise_given(gan_run *r, const void *ctx, int second)
{
    const float *const *z = ctx;
    memcpy(r->z, z[second], zlen(r) * sizeof(float));
}

int gan_step(gan_run *r, gan_stats *st, char *err, size_t len) { return step(r, noise_rng, NULL, st, err, len); }

int gan_step_z(gan_run *r, const float *z, const float *z2, gan_stats *st, char *err, size_t len)
{
    const float *zz[2] = {z, z2 ? z2 : z};
    return step(r, noise_given, zz, st, err, len);
}

const float *gan_fixed_samples(gan_run *r)
{
    return tg_plan_forward(r->sp) == TG_OK ? tg_plan_value(r->sp, r->sout) : NULL;
}

double gan_sample_diversity(const float *x, int n, int dim)
{
    double tot = 0;
    for (int j = 0; j < dim; j++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++) {
            double v = x[(size_t)i * dim + j];
            s += v;
            s2 += v * v;
        }
        double var = s2 / n - (s / n) * (s / n);
        tot += var > 0 ? sqrt(var) : 0;
    }
    return tot / dim;
}

void gan_shuffle(gan_run *r, int *perm, int n)
{
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(tg_rng_u64(&r->shuffle) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
