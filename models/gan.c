/* gan.c - GAN presets (MLP-shaped, turned into layer lists), checks,
 * parameters and the standard training graph. */
#include "tg_models.h"

#include <string.h>

static void layers(tg_mlp_spec *s, const int *w, int n)
{
    s->n_layers = n - 1;
    for (int k = 0; k < n; k++) s->widths[k] = w[k];
}

static const char *const names[] = {"reference", "documents", "tiny", NULL};

const char *const *tg_gan_preset_names(void) { return names; }

tg_status tg_gan_mlp_preset(const char *name, tg_gan_mlp *o, tg_error *err)
{
    if (!name || !o) return tg_error_set(err, TG_ERR_ARG, "gan: no preset name");
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
    return tg_error_set(err, TG_ERR_ARG, "gan: unknown preset '%s' (known: reference, documents, tiny)", name);
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
    tg_gan_mlp m;
    tg_status st = tg_gan_mlp_preset(name, &m, err);
    return st != TG_OK ? st : tg_gan_from_mlp(&m, out, err);
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
    if (g_out != s->D.in_features || d_out != 1)
        return tg_error_set(err, TG_ERR_ARG, "gan: G makes %d values but D takes %d and must give 1, not %d", g_out,
                            s->D.in_features, d_out);
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
tg_node tg_discriminator(tg_graph *g, const tg_gan_spec *s, tg_node x) { return tg_seq(g, &s->D, x); }

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
