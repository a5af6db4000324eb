/* gan_train.c - the GAN training iteration (see gan_train.h). */
#include "gan_train.h"

#include <float.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rng streams derived from the seed */
enum { STREAM_INIT = 0, STREAM_NOISE = 1, STREAM_SHUFFLE = 2, STREAM_FIXED = 3 };

tg_status gan_cfg_check(const gan_cfg *c, tg_error *err)
{
    int zd;
    tg_status st = tg_gan_check(&c->spec, &zd, NULL, err);
    if (st != TG_OK) return st;
    if (zd > GAN_Z_MAX)
        return tg_error_set(err, TG_ERR_ARG, "G's input (the noise width) is %d; train-gan draws at most %d", zd,
                            GAN_Z_MAX);
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
        {"ema", c->ema, c->ema >= 0 && c->ema < 1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!f[i].ok) return tg_error_set(err, TG_ERR_ARG, "%s %.9g is out of range", f[i].name, (double)f[i].v);
    if (c->batch < 1 || c->epochs < 0)
        return tg_error_set(err, TG_ERR_ARG, "batch %d and epochs %d must be >= 1 and >= 0", c->batch, c->epochs);
    return TG_OK;
}

static tg_status fail(tg_error *err, tg_status code, const char *what, const char *why)
{
    return tg_error_set(err, code, "%s: %s", what, why);
}

tg_status gan_init(gan_run *r, const gan_cfg *c, tg_error *err) { return gan_init_dp(r, c, NULL, err); }

tg_status gan_init_dp(gan_run *r, const gan_cfg *c, dp *d, tg_error *err)
{
    memset(r, 0, sizeof *r);
    tg_status st = gan_cfg_check(c, err);
    if (st != TG_OK) return st;
    r->cfg = *c;
    r->dp = d;
    r->rank = dp_rank(d);
    r->size = dp_size(d);
    if (c->batch % r->size)
        return tg_error_set(err, TG_ERR_ARG,
                            "--batch %d is the global batch, split evenly over the %d processes, and %d does not "
                            "divide by %d: give a multiple of %d",
                            c->batch, r->size, c->batch, r->size, r->size);
    r->rows = c->batch / r->size;
    r->fault = dp_fault(r->rank, &r->fault_step);
    tg_error e;
    const tg_gan_spec *s = &r->cfg.spec;
    const int B = r->rows, zd = s->G.in_features, xd = s->D.in_features;
    tg_rng init;
    tg_rng_seed(&init, c->seed, STREAM_INIT);
    tg_rng_seed(&r->noise, c->seed, STREAM_NOISE);
    tg_rng_seed(&r->shuffle, c->seed, STREAM_SHUFFLE);
    r->ps = tg_params_new();
    if (!r->ps) return fail(err, TG_ERR_NOMEM, "init", "out of memory");
    if ((st = tg_gan_params(r->ps, s, &init, &e)) != TG_OK) return fail(err, st, "parameters", e.msg);
    r->g = tg_graph_new(r->ps);
    r->pool = tg_pool_new(c->threads, NULL);
    r->zg = calloc((size_t)c->batch * zd, sizeof(float));
    r->x = calloc((size_t)B * xd, sizeof(float));
    r->fixed_z = calloc((size_t)GAN_FIXED * zd, sizeof(float));
    if (!r->g || !r->pool || !r->zg || !r->x || !r->fixed_z) return fail(err, TG_ERR_NOMEM, "init", "out of memory");
    r->z = r->zg + (size_t)r->rank * B * zd;
    tg_graph_set_seed(r->g, c->seed);
    if (tg_gan_build(r->g, s, B, c->real_label, c->saturating, &r->gg) != TG_OK)
        return fail(err, tg_graph_status(r->g), "graph", tg_graph_error(r->g));
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
    if ((st = tg_plans_new(r->g, 2, losses, po, pl)) != TG_OK) return fail(err, st, "plan", tg_graph_error(r->g));
    r->pd = pl[0];
    r->pg = pl[1];
    if (!(r->ad = tg_adam_new(r->ps, "D", c->lr_d, c->beta1, c->beta2, c->eps, &e)) ||
        !(r->ag = tg_adam_new(r->ps, "G", c->lr_g, c->beta1, c->beta2, c->eps, &e)))
        return tg_error_set(err, e.code, "%s", e.msg);
    if (tg_adam_set_pool(r->ad, r->pool) != TG_OK || tg_adam_set_pool(r->ag, r->pool) != TG_OK)
        return fail(err, TG_ERR_NOMEM, "adam", "out of memory");

    if (c->ema > 0 && !(r->ema = tg_ema_new(r->ps, "G", c->ema, &e))) return tg_error_set(err, e.code, "ema: %s", e.msg);

    /* the sampler: G alone, eval mode, on fixed noise */
    tg_rng fixed;
    tg_rng_seed(&fixed, c->seed, STREAM_FIXED);
    tg_rng_fill_normal(&fixed, r->fixed_z, (size_t)GAN_FIXED * zd, 0, 1);
    r->sg = tg_graph_new(r->ps);
    if (!r->sg) return fail(err, TG_ERR_NOMEM, "init", "out of memory");
    r->sz = tg_input(r->sg, "z", 2, (int[]){GAN_FIXED, zd});
    r->sout = tg_generator(r->sg, s, r->sz);
    tg_bind(r->sg, r->sz, r->fixed_z);
    r->sp = tg_plan_new(r->sg, r->sout, &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = r->pool});
    if (!r->sp) return fail(err, tg_graph_status(r->sg), "sampler", tg_graph_error(r->sg));
    return TG_OK;
}

tg_status gan_dp_start(gan_run *r, tg_error *err)
{
    if (!r->dp) return TG_OK;
    tg_status st = dp_broadcast_params(r->dp, r->ps, err);
    if (st != TG_OK) return st;
    /* the same on every rank (one configuration): no agreement needed for these */
    const int64_t row0 = (int64_t)r->rank * r->rows;
    tg_plan *plans[2] = {r->pd, r->pg};
    for (int k = 0; k < 2; k++)
        if ((st = dp_plan_rows(r->dp, plans[k], row0, err)) != TG_OK ||
            (st = dp_sync_batch_norm(r->dp, plans[k], err)) != TG_OK)
            return st;
    if ((st = dp_avg_new(&r->avg_d, r->dp, r->ps, "D", r->no_overlap ? NULL : r->pd, err)) != TG_OK ||
        (st = dp_avg_new(&r->avg_g, r->dp, r->ps, "G", r->no_overlap ? NULL : r->pg, err)) != TG_OK)
        return st;
    return TG_OK;
}

void gan_free(gan_run *r)
{
    tg_plan_free(r->pd);
    tg_plan_free(r->pg);
    tg_plan_free(r->sp);
    tg_adam_free(r->ad);
    tg_adam_free(r->ag);
    tg_ema_free(r->ema);
    dp_avg_free(r->avg_d);
    dp_avg_free(r->avg_g);
    tg_graph_free(r->g);
    tg_graph_free(r->sg);
    tg_pool_free(r->pool);
    tg_params_free(r->ps);
    free(r->zg);
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

static tg_status run_fail(tg_error *err, tg_status st, tg_graph *g, const char *which)
{
    if (st == TG_ERR_NONFINITE)
        return tg_error_set(err, st, "%s is not finite (NaN or Inf): training diverged", which);
    return tg_error_set(err, st, "%s: %s: %s", which, tg_status_str(st), tg_graph_error(g));
}

/* the first failure of a step is the one reported */
static void failed(tg_status *s, tg_error *e, tg_status st, const tg_error *why)
{
    if (*s != TG_OK || st == TG_OK) return;
    *s = st;
    *e = *why;
}

/* D step then G step; noise() fills r->z before the D step and, with
 * fresh_z, again before the G step. On several ranks every rank makes the
 * same collective calls whatever fails locally: both averagers' waits, then
 * the agreement on the step's outcome, which also sums the metrics. */
static tg_status step(gan_run *r, void (*noise)(gan_run *, const void *, int), const void *ctx, gan_stats *st,
                      tg_error *err)
{
    const int B = r->rows;
    tg_status s = TG_OK, w;
    tg_error e, we;
    memset(&e, 0, sizeof e);
    *st = (gan_stats){0, 0, 0, 0, NAN, NAN};
    noise(r, ctx, 0);
    if (r->fault != DP_FAULT_NONE && r->step == r->fault_step) {
        if (r->fault == DP_FAULT_KILL) raise(SIGKILL);
        if (r->fault == DP_FAULT_NAN) r->x[0] = NAN; /* D(x) and loss_D become NaN */
    }
    /* D step */
    if ((w = tg_plan_forward(r->pd)) != TG_OK || (w = tg_plan_backward(r->pd)) != TG_OK)
        failed(&s, &e, run_fail(&we, w, r->g, "loss_D"), &we);
    if ((w = dp_avg_wait(r->avg_d, &we)) != TG_OK) failed(&s, &e, w, &we);
    if (s == TG_OK) {
        st->loss_d = tg_plan_loss(r->pd);
        st->d_real = mean_sigmoid(tg_plan_value(r->pd, r->gg.d_real), B);
        st->d_fake = mean_sigmoid(tg_plan_value(r->pd, r->gg.d_fake_det), B);
        st->gnorm_d = grad_norm(r, "D");
        tg_adam_step(r->ad);
    }
    /* G step, through the updated D */
    if (r->cfg.fresh_z) noise(r, ctx, 1);
    if (s == TG_OK && ((w = tg_plan_forward(r->pg)) != TG_OK || (w = tg_plan_backward(r->pg)) != TG_OK))
        failed(&s, &e, run_fail(&we, w, r->g, "loss_G"), &we);
    if ((w = dp_avg_wait(r->avg_g, &we)) != TG_OK) failed(&s, &e, w, &we);
    if (s == TG_OK) {
        st->loss_g = tg_plan_loss(r->pg);
        st->gnorm_g = grad_norm(r, "G");
        if (r->want_norms && (!isfinite(st->gnorm_g) || !isfinite(st->gnorm_d)))
            failed(&s, &e, tg_error_set(&we, TG_ERR_NONFINITE, "gradient norm is not finite: training diverged"),
                   &we);
    }
    /* one process: its outcome; several: the first failing rank's, and the metrics' means */
    double m[4] = {st->loss_d, st->loss_g, st->d_real, st->d_fake};
    if ((s = dp_agree(r->dp, s, &e, m, 4, err)) != TG_OK) return s;
    st->loss_d = m[0] / r->size;
    st->loss_g = m[1] / r->size;
    st->d_real = m[2] / r->size;
    st->d_fake = m[3] / r->size;
    tg_adam_step(r->ag);
    if (r->ema) tg_ema_update(r->ema);
    r->step++;
    return TG_OK;
}

/* the whole batch's noise, from the stream every rank advances alike; r->z is this rank's rows of it */
static void noise_rng(gan_run *r, const void *ctx, int second)
{
    (void)ctx;
    (void)second;
    tg_rng_fill_normal(&r->noise, r->zg, (size_t)r->cfg.batch * (size_t)r->cfg.spec.G.in_features, 0, 1);
}

/* given noise for the global batch: this rank's rows */
static void noise_given(gan_run *r, const void *ctx, int second)
{
    const float *const *z = ctx;
    const size_t n = (size_t)r->rows * (size_t)r->cfg.spec.G.in_features;
    memcpy(r->z, z[second] + (size_t)r->rank * n, n * sizeof(float));
}

tg_status gan_step(gan_run *r, gan_stats *st, tg_error *err) { return step(r, noise_rng, NULL, st, err); }

tg_status gan_step_z(gan_run *r, const float *z, const float *z2, gan_stats *st, tg_error *err)
{
    const float *zz[2] = {z, z2 ? z2 : z};
    return step(r, noise_given, zz, st, err);
}

tg_status gan_ema_swap(gan_run *r) { return r->ema ? tg_ema_swap(r->ema) : TG_OK; }

const float *gan_fixed_samples(gan_run *r)
{
    gan_ema_swap(r);
    tg_status st = tg_plan_forward(r->sp);
    gan_ema_swap(r);
    return st == TG_OK ? tg_plan_value(r->sp, r->sout) : NULL;
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
