/* tiny_gan.h - a small GAN-shaped graph shared by the engine test suites:
 * z -> G -> fake (kept); loss_D = BCE(D(x), 0.9) + BCE(D(detach(fake)), 0);
 * loss_G = gen_loss(D(fake)). Header-only so each suite stays one file. */
#ifndef TG_TINY_GAN_H
#define TG_TINY_GAN_H

#include "tapegrad.h"
#include "tg_models.h"

#include <stdlib.h>

typedef struct tiny_gan {
    tg_gan_spec spec;
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
    if (tg_gan_preset(preset, &t->spec) != TG_OK) return 1;
    if (no_dropout) t->spec.D.dropout = 0;
    t->B = B;
    t->ps = tg_params_new();
    tg_rng_seed(&r, seed, 0);
    if (tg_mlp_params(t->ps, &t->spec.G, t->spec.init, 0.02f, &r) != TG_OK) return 2;
    if (tg_mlp_params(t->ps, &t->spec.D, t->spec.init, 0.02f, &r) != TG_OK) return 3;
    t->g = tg_graph_new(t->ps);
    tg_graph_set_seed(t->g, seed);
    int zd = t->spec.G.widths[0], xd = t->spec.D.widths[0];
    t->z = tg_input(t->g, "z", 2, (int[]){B, zd});
    t->x = tg_input(t->g, "x", 2, (int[]){B, xd});
    t->fake = tg_keep(t->g, tg_mlp(t->g, &t->spec.G, t->z));
    t->dreal = tg_mlp(t->g, &t->spec.D, t->x);
    tg_node dfd = tg_mlp(t->g, &t->spec.D, tg_detach(t->g, t->fake));
    t->loss_d = tg_add(t->g, tg_bce_logits_const(t->g, t->dreal, 0.9f), tg_bce_logits_const(t->g, dfd, 0.0f));
    t->dfake = tg_mlp(t->g, &t->spec.D, t->fake);
    t->loss_g = tg_gen_loss(t->g, t->dfake);
    if (tg_graph_status(t->g) != TG_OK) return 4;
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

static inline void tiny_gan_free(tiny_gan *t)
{
    tg_graph_free(t->g);
    tg_params_free(t->ps);
    free(t->zb);
    free(t->xb);
}

#endif
