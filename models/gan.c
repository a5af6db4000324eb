/* gan.c - GAN presets (MLP-shaped, turned into layer lists), checks,
 * parameters and the standard training graph. */
#include "tg_models.h"

#include <stdio.h>
#include <string.h>

static void layers(tg_mlp_spec *s, const int *w, int n)
{
    s->n_layers = n - 1;
    for (int k = 0; k < n; k++) s->widths[k] = w[k];
}

/* The presets whose networks are layer lists: an MLP preset they start
 * from (for the networks they leave MLPs), the layer lists replacing G and D
 * (NULL: the MLP's), and how their weights start. */
#define DCGAN_G "in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7, conv_t 64 4 s2 p1 nobias, batch_norm, " \
                "relu, conv_t 1 4 s2 p1, tanh"
#define KERAS_D "in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, conv 128 5 s2, leaky_relu 0.2, flatten, dense 256, " \
                "leaky_relu 0.2, dropout 0.5, dense 1"
/* dcgan tuned (README, "The convolutional GAN, measured"): G twice as wide
 * (256x7x7 -> 128x14x14), D with dropout 0.3 after each convolution as well */
#define TUNED_G "in 100, dense 12544 nobias, batch_norm, relu, reshape 256x7x7, conv_t 128 4 s2 p1 nobias, " \
                "batch_norm, relu, conv_t 1 4 s2 p1, tanh"
#define TUNED_D "in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, dropout 0.3, conv 128 5 s2, leaky_relu 0.2, " \
                "dropout 0.3, flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1"
static const struct layered {
    const char *name, *mlp, *g, *d;
    tg_init init;
} layered[] = {
    /* DCGAN's generator (Radford et al.; PyTorch's example at 28x28) and the
     * Keras discriminator; DCGAN init: N(0, 0.02), batch_norm gamma N(1, 0.02) */
    {"dcgan", "reference", DCGAN_G, KERAS_D, TG_INIT_NORMAL},
    /* dcgan tuned for quality per epoch on MNIST (and D's learning rate
     * halved: tools' preset defaults) */
    {"dcgan-tuned", "reference", TUNED_G, TUNED_D, TG_INIT_NORMAL},
    /* the reference generator against the Keras discriminator (Glorot uniform, Keras' default) */
    {"keras-d", "reference", NULL, KERAS_D, TG_INIT_XAVIER},
    /* the dcgan design in miniature, for tests and gradient checks: every kind
     * of layer dcgan has (dense without bias, batch_norm, reshape, conv_t
     * stride 2, conv 'same' and 'valid' stride 2, flatten, dropout) */
    {"tiny-conv", "tiny",
     "in 4, dense 8 nobias, batch_norm, relu, reshape 2x2x2, conv_t 2 4 s2 p1 nobias, batch_norm, relu, "
     "conv_t 1 4 s2 p1, tanh",
     "in 1x8x8, conv 2 5 s2 same, leaky_relu 0.2, conv 3 2 s2, leaky_relu 0.2, flatten, dense 4, leaky_relu 0.2, "
     "dropout 0.5, dense 1",
     TG_INIT_XAVIER},
};
#define N_LAYERED ((int)(sizeof layered / sizeof layered[0]))

static const char *const names[] = {"reference", "documents", "tiny", "dcgan", "dcgan-tuned", "keras-d", "tiny-conv",
                                     NULL};

const char *const *tg_gan_preset_names(void) { return names; }

static const struct layered *find_layered(const char *name)
{
    for (int i = 0; name && i < N_LAYERED; i++)
        if (!strcmp(name, layered[i].name)) return &layered[i];
    return NULL;
}

int tg_gan_preset_mlp_nets(const char *name)
{
    const struct layered *p = find_layered(name);
    if (p) return (p->g ? 0 : TG_GAN_NET_G) | (p->d ? 0 : TG_GAN_NET_D);
    for (int i = 0; names[i]; i++)
        if (name && !strcmp(name, names[i])) return TG_GAN_NET_G | TG_GAN_NET_D;
    return -1;
}

static tg_status unknown(const char *name, tg_error *err)
{
    char list[160] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return tg_error_set(err, TG_ERR_ARG, "gan: unknown preset '%s' (known: %s)", name, list);
}

tg_status tg_gan_mlp_preset(const char *name, tg_gan_mlp *o, tg_error *err)
{
    if (!name || !o) return tg_error_set(err, TG_ERR_ARG, "gan: no preset name");
    const struct layered *p = find_layered(name);
    if (p) {
        if (!tg_gan_preset_mlp_nets(name))
            return tg_error_set(err, TG_ERR_ARG, "gan: preset '%s' is layer lists, not an MLP", name);
        tg_status st = tg_gan_mlp_preset(p->mlp, o, err);
        if (st == TG_OK) o->init = p->init;
        return st;
    }
    memset(o, 0, sizeof *o);
    strcpy(o->G.group, "G");
    strcpy(o->D.group, "D");
    o->G.output = TG_ACT_TANH;  /* data are scaled to [-1, 1] */
    o->D.output = TG_ACT_NONE;  /* D emits a logit; the loss applies the sigmoid */
    o->G.slope = o->D.slope = 0.2f;
    o->G.hidden = o->D.hidden = TG_ACT_LEAKY_RELU;
    o->sigma = 0.02f;           /* used by TG_INIT_NORMAL only */
    if (!strcmp(name, "reference") || !strcmp(name, "documents")) {
        layers(&o->G, (const int[]){100, 128, 256, 512, 784}, 5);
        layers(&o->D, (const int[]){784, 512, 256, 128, 1}, 5);
        if (!strcmp(name, "reference")) {
            o->D.dropout = 0.3f;
            o->init = TG_INIT_XAVIER;
        } else {
            o->G.hidden = TG_ACT_RELU;
            o->init = TG_INIT_PYTORCH;
        }
        return TG_OK;
    }
    if (!strcmp(name, "tiny")) {
        layers(&o->G, (const int[]){4, 6, 8, 12}, 4);
        layers(&o->D, (const int[]){12, 8, 6, 1}, 4);
        o->D.dropout = 0.25f;
        o->init = TG_INIT_XAVIER;
        return TG_OK;
    }
    return unknown(name, err);
}

tg_status tg_gan_from_mlp(const tg_gan_mlp *m, tg_gan_spec *o, tg_error *err)
{
    if (!m || !o) return tg_error_set(err, TG_ERR_ARG, "gan: no spec");
    tg_gan_spec s;
    memset(&s, 0, sizeof s);
    tg_status st = tg_seq_from_mlp(&m->G, &s.G, err);
    if (st == TG_OK) st = tg_seq_from_mlp(&m->D, &s.D, err);
    if (st != TG_OK) return st;
    s.init = m->init;
    s.sigma = m->sigma;
    *o = s;
    return TG_OK;
}

tg_status tg_gan_preset(const char *name, tg_gan_spec *out, tg_error *err)
{
    const struct layered *p = find_layered(name);
    tg_gan_mlp m;
    tg_gan_spec s;
    tg_status st = tg_gan_mlp_preset(p ? p->mlp : name, &m, err);
    if (st == TG_OK) st = tg_gan_from_mlp(&m, &s, err);
    if (st != TG_OK || !p) {
        if (st == TG_OK) *out = s;
        return st;
    }
    s.init = p->init;
    if (p->g) st = tg_seq_parse(p->g, "G", &s.G, err);
    if (st == TG_OK && p->d) st = tg_seq_parse(p->d, "D", &s.D, err);
    if (st == TG_OK) st = tg_gan_check(&s, NULL, NULL, err);
    if (st == TG_OK) *out = s;
    return st;
}

/* "1x28x28 (784 values)" or "784 values" */
static void shape_words(const tg_seq_spec *s, int i, char *buf, size_t len)
{
    int nd, d[3];
    if (tg_seq_shape(s, i, &nd, d, NULL) != TG_OK) snprintf(buf, len, "?");
    else if (nd == 3) snprintf(buf, len, "%dx%dx%d (%d values)", d[0], d[1], d[2], d[0] * d[1] * d[2]);
    else snprintf(buf, len, "%d values", d[0]);
}

tg_status tg_gan_check(const tg_gan_spec *s, int *z_dim, int *x_dim, tg_error *err)
{
    if (!s) return tg_error_set(err, TG_ERR_ARG, "gan: no spec");
    if (strcmp(s->G.group, "G") || strcmp(s->D.group, "D"))
        return tg_error_set(err, TG_ERR_ARG, "gan: the networks' parameter groups are '%s' and '%s', not G and D",
                            s->G.group, s->D.group);
    int g_out, d_out;
    tg_status st = tg_seq_check(&s->G, &g_out, err);
    if (st == TG_OK) st = tg_seq_check(&s->D, &d_out, err);
    if (st != TG_OK) return st;
    if (g_out != s->D.in_features) {
        char gs[64], ds[64];
        shape_words(&s->G, TG_SEQ_MAX_LAYERS, gs, sizeof gs);
        shape_words(&s->D, -1, ds, sizeof ds);
        return tg_error_set(err, TG_ERR_ARG, "gan: G makes %d values but D takes %d: G's output is %s, D's input %s",
                            g_out, s->D.in_features, gs, ds);
    }
    if (d_out != 1) return tg_error_set(err, TG_ERR_ARG, "gan: D must give 1, not %d (one logit)", d_out);
    if (s->init < TG_INIT_ZEROS || s->init > TG_INIT_ONES || !(s->sigma >= 0 && s->sigma <= 3e38f))
        return tg_error_set(err, TG_ERR_ARG, "gan: unknown initializer %d or sigma %g", (int)s->init,
                            (double)s->sigma);
    if (z_dim) *z_dim = s->G.in_features;
    if (x_dim) *x_dim = s->D.in_features;
    return TG_OK;
}

tg_status tg_gan_params(tg_params *ps, const tg_gan_spec *s, tg_rng *r, tg_error *err)
{
    if (!ps || !s) return tg_error_set(err, TG_ERR_ARG, "gan: no parameter store or spec");
    tg_status st = tg_seq_params(ps, &s->G, s->init, s->sigma, r, err);
    return st != TG_OK ? st : tg_seq_params(ps, &s->D, s->init, s->sigma, r, err);
}

tg_node tg_generator(tg_graph *g, const tg_gan_spec *s, tg_node z) { return tg_seq(g, &s->G, z); }
/* x as D's input shape: the data (B, 784) or G's (B, 1, 28, 28) output
 * into D's "in 1x28x28" (or back), a view, no copy */
tg_node tg_discriminator(tg_graph *g, const tg_gan_spec *s, tg_node x)
{
    const tg_seq_spec *d = &s->D;
    const int want = d->in_ndim == 3 ? 4 : 2;
    if (tg_node_ndim(g, x) >= 2 && tg_node_ndim(g, x) != want &&
        tg_node_numel(g, x) == (size_t)tg_node_dim(g, x, 0) * (size_t)d->in_features) {
        const int B = tg_node_dim(g, x, 0);
        x = want == 4 ? tg_reshape(g, x, 4, (int[]){B, d->in_shape[0], d->in_shape[1], d->in_shape[2]})
                      : tg_flatten(g, x);
    }
    return tg_seq(g, d, x);
}

tg_status tg_gan_build(tg_graph *g, const tg_gan_spec *s, int batch, float real_label, int saturating,
                       tg_gan_graph *o)
{
    if (!g || !s || !o) return TG_ERR_ARG;
    tg_error e;
    int zd, xd;
    if (tg_gan_check(s, &zd, &xd, &e) != TG_OK) {
        tg_graph_fail(g, TG_ERR_SHAPE, e.msg);
        return TG_ERR_SHAPE;
    }
    o->z = tg_input(g, "z", 2, (int[]){batch, zd});
    o->x = tg_input(g, "x", 2, (int[]){batch, xd});
    o->fake = tg_keep(g, tg_generator(g, s, o->z));
    o->d_real = tg_discriminator(g, s, o->x);
    o->d_fake_det = tg_discriminator(g, s, tg_detach(g, o->fake));
    o->loss_d = tg_add(g, tg_bce_logits_const(g, o->d_real, real_label), tg_bce_logits_const(g, o->d_fake_det, 0.0f));
    o->d_fake = tg_discriminator(g, s, o->fake);
    o->loss_g = saturating ? tg_gen_loss_saturating(g, o->d_fake) : tg_gen_loss(g, o->d_fake);
    return tg_graph_status(g);
}
