/* tg_models.h - graph builders on top of tapegrad.h: a generic MLP, and the
 * GAN's generator and discriminator with their presets.
 *
 * A model is two steps: create its parameters in a store once
 * (tg_mlp_params), then build it into any number of graphs (tg_mlp) - a
 * batch-64 training graph and a batch-10,000 sampling graph share weights. */
#ifndef TG_MODELS_H
#define TG_MODELS_H

#include "tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_MLP_MAX_LAYERS 8


typedef struct tg_mlp_spec {
    int n_layers;                        /* linear layers, 1..TG_MLP_MAX_LAYERS */
    int widths[TG_MLP_MAX_LAYERS + 1];   /* widths[0] input ... widths[n_layers] output */
    tg_act hidden;                   /* after every layer but the last */
    float slope;                         /* for TG_ACT_LEAKY_RELU */
    float dropout;                       /* after each hidden activation; 0: none */
    tg_act output;                   /* after the last layer */
    char group[32];                      /* parameter group, e.g. "G" */
    char prefix[32];                     /* parameter names "<prefix>l0.w", "<prefix>l0.b" ... */
} tg_mlp_spec;

/* Check a spec; on error writes a message to msg and returns TG_ERR_ARG. */
tg_status tg_mlp_check(const tg_mlp_spec *s, char *msg, size_t len);
/* Create the spec's parameters in ps ("<prefix>l<k>.w" (in,out) and
 * "<prefix>l<k>.b" (out)) and initialize them: weights by `init` (sigma for
 * TG_INIT_NORMAL), biases zero except for TG_INIT_PYTORCH, which draws them
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like nn.Linear. */
tg_status tg_mlp_params(tg_params *ps, const tg_mlp_spec *s, tg_init init, float sigma, tg_rng *r);
/* y = mlp(x), x:(B, widths[0]) -> (B, widths[n_layers]); the parameters must
 * exist in the graph's store. Errors go to the graph. */
tg_node tg_mlp(tg_graph *g, const tg_mlp_spec *s, tg_node x);

/* ---- GAN presets ---- */
typedef struct tg_gan_spec {
    tg_mlp_spec G, D;
    tg_init init;
    float sigma;
} tg_gan_spec;

/* "reference": G 100-128-256-512-784 LeakyReLU(0.2) + tanh, D 784-512-256-128-1
 * LeakyReLU(0.2) + Dropout(0.3), Xavier init.  "documents": G with ReLU,
 * D LeakyReLU(0.2) without dropout, PyTorch's default init.  "tiny": a small
 * G 4-6-8-12 / D 12-8-6-1 for tests and gradient checks. Returns TG_ERR_ARG
 * for an unknown name. */
tg_status tg_gan_preset(const char *name, tg_gan_spec *out);
const char *const *tg_gan_preset_names(void); /* NULL-terminated */

/* Create and initialize G's and D's parameters (spec->init, spec->sigma). */
tg_status tg_gan_params(tg_params *ps, const tg_gan_spec *s, tg_rng *r);
/* fake = G(z), z:(B, zdim) -> (B, xdim);  logit = D(x), x:(B, xdim) -> (B, 1) */
tg_node tg_generator(tg_graph *g, const tg_gan_spec *s, tg_node z);
tg_node tg_discriminator(tg_graph *g, const tg_gan_spec *s, tg_node x);

/* The standard GAN training graph:
 *   fake   = keep(G(z))
 *   loss_d = BCE(D(x), real_label) + BCE(D(detach(fake)), 0)
 *   loss_g = gen_loss(D(fake))             non-saturating (flipped labels), or
 *            gen_loss_saturating(D(fake))  the minimax form
 * D is applied three times with one set of weights. Compile loss_d with
 * groups "D", and loss_g with groups "G" reusing `fake` (tg_plan_opts.reuse)
 * to skip recomputing G in the G step. */
typedef struct tg_gan_graph {
    tg_node z, x, fake;
    tg_node d_real, d_fake_det, d_fake;  /* D's logits on x, detach(fake), fake */
    tg_node loss_d, loss_g;
} tg_gan_graph;
tg_status tg_gan_build(tg_graph *g, const tg_gan_spec *s, int batch, float real_label,
                       int saturating, tg_gan_graph *out);

#ifdef __cplusplus
}
#endif
#endif
