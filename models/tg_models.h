/* tg_models.h - graph builders on top of tapegrad.h: a generic MLP,
 * sequential layer lists with a text form, and GAN specs (two layer lists)
 * with their presets and their own text form.
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

/* Check a spec; on error returns TG_ERR_ARG with the reason in *err. */
tg_status tg_mlp_check(const tg_mlp_spec *s, tg_error *err);
/* Create the spec's parameters in ps ("<prefix>l<k>.w" (in,out) and
 * "<prefix>l<k>.b" (out)) and initialize them: weights by `init` (sigma for
 * TG_INIT_NORMAL), biases zero except for TG_INIT_PYTORCH, which draws them
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like nn.Linear. */
tg_status tg_mlp_params(tg_params *ps, const tg_mlp_spec *s, tg_init init, float sigma, tg_rng *r);
/* y = mlp(x), x:(B, widths[0]) -> (B, widths[n_layers]); the parameters must
 * exist in the graph's store. Errors go to the graph. */
tg_node tg_mlp(tg_graph *g, const tg_mlp_spec *s, tg_node x);

/* ---- sequential models: a layer list ---- */
#define TG_SEQ_MAX_LAYERS 48

typedef enum tg_layer_kind {
    TG_LAYER_DENSE = 1, /* y = x W (+ b): (B, IN) -> (B, units) */
    TG_LAYER_ACT,       /* y = act(x) */
    TG_LAYER_DROPOUT,   /* inverted dropout with probability p */
    TG_LAYER_CONV,      /* 2-D convolution (NCHW): (B, C, H, W) -> (B, units, OH, OW) */
    TG_LAYER_CONV_T,    /* transposed convolution: (B, C, H, W) -> (B, units, OH, OW) */
    TG_LAYER_BATCH_NORM,/* batch normalization over the channels (or features) */
    TG_LAYER_RESHAPE,   /* (B, ...) -> (B, shape) */
    TG_LAYER_FLATTEN    /* (B, C, H, W) -> (B, C H W) */
} tg_layer_kind;

typedef struct tg_layer {
    tg_layer_kind kind;
    int units;      /* dense: outputs; conv, conv_t: output channels */
    int no_bias;    /* dense, conv, conv_t: no bias */
    tg_act act;     /* activation */
    float slope;    /* leaky_relu */
    float p;        /* dropout */
    int kernel[2];  /* conv, conv_t: height, width */
    int stride[2];
    int dilation[2];
    int pad[4];     /* top, bottom, left, right (same == 0) */
    int same;       /* conv: Keras 'same' padding, computed from the input size */
    int out_pad[2]; /* conv_t: extra output rows, columns */
    float eps, momentum; /* batch_norm */
    int shape_ndim; /* reshape: 1 or 3 */
    int shape[3];
} tg_layer;

typedef struct tg_seq_spec {
    char group[32];     /* parameter group, e.g. "G" */
    char prefix[32];    /* parameter names "<prefix>l<k>.w", ".b" (dense, conv, conv_t k),
                           ".gamma", ".beta", ".mean", ".var" (batch_norm k) */
    int in_features;    /* input size per sample (C H W for an image) */
    int in_ndim;        /* 0 or 1: a vector; 3: an image (in_shape C, H, W) */
    int in_shape[3];
    int n;              /* layers */
    tg_layer l[TG_SEQ_MAX_LAYERS];
} tg_seq_spec;

/* Check a spec's layers and shapes; the output size per sample in
 * *out_features (may be NULL). Errors name the layer and the shapes:
 * "model G: layer 3 'dense 0': 0 units". */
tg_status tg_seq_check(const tg_seq_spec *s, int *out_features, tg_error *err);
/* The per-sample shape after layer i (i = -1: the input): ndim 1 or 3. */
tg_status tg_seq_shape(const tg_seq_spec *s, int i, int *ndim, int shape[3], tg_error *err);
/* Create and initialize the spec's parameters in ps (weights by `init`,
 * sigma for TG_INIT_NORMAL; biases zero except for TG_INIT_PYTORCH;
 * batch_norm: gamma 1, or N(1, sigma^2) with TG_INIT_NORMAL (DCGAN), beta 0,
 * running mean 0 and variance 1 as state parameters). */
tg_status tg_seq_params(tg_params *ps, const tg_seq_spec *s, tg_init init, float sigma, tg_rng *r, tg_error *err);
/* y = model(x), x:(B, in_features) or (B, C, H, W) for an image input;
 * errors go to the graph. Batch normalization runs in training or eval mode
 * with each plan (tg_plan_opts.eval). */
tg_node tg_seq(tg_graph *g, const tg_seq_spec *s, tg_node x);
/* The text form (what checkpoints store; --g-arch / --d-arch take it):
 *   "in 100, dense 128, leaky_relu 0.2, dropout 0.3, dense 784, tanh"
 * Items are separated by commas or newlines, '#' comments to the end of a
 * line. tg_seq_parse keeps out->prefix and sets the group; errors name the
 * layer. */
tg_status tg_seq_format(const tg_seq_spec *s, char *buf, size_t len);
tg_status tg_seq_parse(const char *text, const char *group, tg_seq_spec *out, tg_error *err);
int tg_layer_format(const tg_layer *l, char *buf, size_t len);
/* The layer list an MLP spec stands for (same parameters, same graph). */
tg_status tg_seq_from_mlp(const tg_mlp_spec *m, tg_seq_spec *out, tg_error *err);

/* ---- initializers by name ---- */
/* "zeros", "pytorch", "xavier", "normal", "ones"; "?" if out of range */
const char *tg_init_name(tg_init i);
/* The initializer named s; 1 on success, 0 (out untouched) otherwise. */
int tg_init_parse(const char *s, tg_init *out);

/* ---- GAN specs ---- */
/* A GAN whose two networks are MLPs: the form the presets are written in,
 * and what train-gan's MLP flags (--g-hidden, --z-dim, --slope...) edit. */
typedef struct tg_gan_mlp {
    tg_mlp_spec G, D;
    tg_init init;
    float sigma;                         /* for TG_INIT_NORMAL */
} tg_gan_mlp;

/* Any GAN: generator and discriminator as layer lists (groups "G" and "D"),
 * and how their weights start. G maps (B, G.in_features) noise to D's input
 * width; D ends in one logit. */
typedef struct tg_gan_spec {
    tg_seq_spec G, D;
    tg_init init;
    float sigma;                         /* for TG_INIT_NORMAL */
} tg_gan_spec;

/* "reference": G 100-128-256-512-784 LeakyReLU(0.2) + tanh, D 784-512-256-128-1
 * LeakyReLU(0.2) + Dropout(0.3), Xavier init.  "documents": G with ReLU,
 * D LeakyReLU(0.2) without dropout, PyTorch's default init.  "tiny": a small
 * G 4-6-8-12 / D 12-8-6-1 for tests and gradient checks. sigma is 0.02 in
 * every preset. Presets of layer lists:
 *   "dcgan": G = in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7,
 *            conv_t 64 4 s2 p1 nobias, batch_norm, relu, conv_t 1 4 s2 p1, tanh
 *            D = in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, conv 128 5 s2,
 *            leaky_relu 0.2, flatten, dense 256, leaky_relu 0.2, dropout 0.5,
 *            dense 1 (the Keras discriminator); init normal (DCGAN: weights
 *            N(0, 0.02), biases 0, batch_norm gamma N(1, 0.02), beta 0).
 *   "dcgan-tuned": dcgan with G twice as wide (dense 12544 nobias,
 *            batch_norm, relu, reshape 256x7x7, conv_t 128 4 s2 p1 nobias, ...)
 *            and D with dropout 0.3 after each convolution's leaky_relu too;
 *            init as dcgan. (tools/ halve D's learning rate for it.)
 *   "keras-d": reference's G (an MLP) and the Keras discriminator, Xavier.
 *   "tiny-conv": dcgan's kinds of layers in miniature (G 4 -> 2x2x2 -> 2x4x4
 *            -> 1x8x8, D 1x8x8 -> 2x4x4 ('same', 1 before, 2 after) -> 3x2x2
 *            -> 4 -> 1), Xavier, for tests and gradient checks.
 * tg_gan_mlp_preset fills the MLP form of a preset with at least one MLP
 * network (keras-d: reference's, with keras-d's init); TG_ERR_ARG for an
 * unknown name (the known ones in *err) or a preset of layer lists only. */
tg_status tg_gan_mlp_preset(const char *name, tg_gan_mlp *out, tg_error *err);
const char *const *tg_gan_preset_names(void); /* NULL-terminated */
/* Which networks of preset `name` are the MLPs of its tg_gan_mlp_preset (so
 * that MLP settings may edit them): TG_GAN_NET_G | TG_GAN_NET_D for the MLP
 * presets, TG_GAN_NET_G for keras-d, 0 for dcgan and dcgan-tuned; -1 for an unknown name. */
#define TG_GAN_NET_G 1
#define TG_GAN_NET_D 2
int tg_gan_preset_mlp_nets(const char *name);
/* The layer lists an MLP-shaped GAN stands for (tg_seq_from_mlp on each
 * network: the same parameters, initial values and graph). */
tg_status tg_gan_from_mlp(const tg_gan_mlp *m, tg_gan_spec *out, tg_error *err);
/* A preset as layer lists: tg_gan_mlp_preset, then tg_gan_from_mlp, then
 * the preset's layer lists in place of its networks that are not MLPs. */
tg_status tg_gan_preset(const char *name, tg_gan_spec *out, tg_error *err);
/* Check both networks (tg_seq_check), that G makes as many values as D
 * takes (G's (B, 1, 28, 28) output feeds D's "in 784", and the (B, 784)
 * data D's "in 1x28x28": tg_discriminator reshapes, a view), that D gives one
 * logit, and the initializer; errors name the network and layer, and both
 * shapes when they do not match. The widths in *z_dim and *x_dim (either may be NULL). */
tg_status tg_gan_check(const tg_gan_spec *s, int *z_dim, int *x_dim, tg_error *err);

/* The text form of a GAN spec, what checkpoints store: four lines,
 *   G: in 100, dense 128, leaky_relu 0.2, ..., dense 784, tanh
 *   D: in 784, dense 512, leaky_relu 0.2, dropout 0.3, ..., dense 1
 *   init: xavier
 *   sigma: 0.02
 * (the layer lists in tg_seq_format's form, numbers in their shortest form
 * that reads back as the same float). tg_gan_spec_parse reads the lines in
 * any order, each exactly once ('#' comments and blank lines allowed) and
 * checks the result (tg_gan_check); errors name the line, network and
 * layer. tg_gan_spec_format returns TG_ERR_ARG if len is too small. */
tg_status tg_gan_spec_format(const tg_gan_spec *s, char *buf, size_t len);
tg_status tg_gan_spec_parse(const char *text, tg_gan_spec *out, tg_error *err);

/* Create and initialize G's and D's parameters (spec->init, spec->sigma). */
tg_status tg_gan_params(tg_params *ps, const tg_gan_spec *s, tg_rng *r, tg_error *err);
/* fake = G(z), z:(B, zdim) -> G's output shape, (B, xdim) or (B, C, H, W);
 * logit = D(x), x:(B, xdim) or any (B, ...) of D's width, reshaped (a view)
 * to D's input shape -> (B, 1) */
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
