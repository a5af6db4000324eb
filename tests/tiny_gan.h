/* tiny_gan.h - the standard GAN training graph (tg_gan_build) over a preset,
 * with seeded parameters and bound random inputs, shared by the engine test
 * suites. Header-only so each suite stays one file. */
#ifndef TG_TINY_GAN_H
#define TG_TINY_GAN_H

#include "tapegrad.h"
#include "tg_models.h"

#include <stdlib.h>

typedef struct tiny_gan {
    tg_gan_mlp mlp;   /* the preset, as MLPs */
    tg_gan_spec spec; /* the same as layer lists */
    tg_params *ps;
    tg_graph *g;
    tg_node z, x, fake, dreal, dfake, loss_d, loss_g;
    int B;
    float *zb, *xb;
} tiny_gan;

/* preset "tiny" or "reference"; dropout as given by the preset unless
 * no_dropout. Returns 0 on success. */
static inline int tiny_gan_init(tiny_gan *t, const char *preset, int B, uint64_t seed, int no_dropout)
{
    tg_rng r;
    tg_gan_graph gg;
    if (tg_gan_mlp_preset(preset, &t->mlp, NULL) != TG_OK) return 1;
    if (no_dropout) t->mlp.D.dropout = 0;
    if (tg_gan_from_mlp(&t->mlp, &t->spec, NULL) != TG_OK) return 1;
    t->B = B;
    t->ps = tg_params_new();
    tg_rng_seed(&r, seed, 0);
    if (tg_gan_params(t->ps, &t->spec, &r, NULL) != TG_OK) return 2;
    t->g = tg_graph_new(t->ps);
    tg_graph_set_seed(t->g, seed);
    if (tg_gan_build(t->g, &t->spec, B, 0.9f, 0, &gg) != TG_OK) return 4;
    t->z = gg.z;
    t->x = gg.x;
    t->fake = gg.fake;
    t->dreal = gg.d_real;
    t->dfake = gg.d_fake;
    t->loss_d = gg.loss_d;
    t->loss_g = gg.loss_g;
    int zd = t->spec.G.in_features, xd = t->spec.D.in_features;
    t->zb = malloc(sizeof(float) * (size_t)B * (size_t)zd);
    t->xb = malloc(sizeof(float) * (size_t)B * (size_t)xd);
    if (!t->zb || !t->xb) return 5;
    tg_rng_seed(&r, seed, 1);
    tg_rng_fill_normal(&r, t->zb, (size_t)B * (size_t)zd, 0, 1);
    tg_rng_fill_uniform(&r, t->xb, (size_t)B * (size_t)xd, -1, 1);
    tg_bind(t->g, t->z, t->zb);
    tg_bind(t->g, t->x, t->xb);
    return 0;
}

/* The D step (loss_d, groups "D") and the G step (loss_g, groups "G",
 * reusing fake) compiled as one set, each with the extra options given
 * (pool, eval; may be NULL). Returns TG_OK or the graph's error, with both
 * plans NULL. */
static inline tg_status tiny_gan_plans(tiny_gan *t, const tg_plan_opts *dx, const tg_plan_opts *gx, tg_plan **pd,
                                       tg_plan **pg)
{
    tg_plan_opts o[2] = {{0}, {0}};
    if (dx) o[0] = *dx;
    if (gx) o[1] = *gx;
    o[0].groups = "D";
    o[1].groups = "G";
    o[1].reuse = &t->fake;
    o[1].n_reuse = 1;
    tg_plan *p[2];
    tg_status s = tg_plans_new(t->g, 2, (tg_node[]){t->loss_d, t->loss_g}, o, p);
    *pd = p[0];
    *pg = p[1];
    return s;
}

static inline void tiny_gan_free(tiny_gan *t)
{
    tg_graph_free(t->g);
    tg_params_free(t->ps);
    free(t->zb);
    free(t->xb);
}

#endif
