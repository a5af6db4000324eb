/* test_models.c - models/: sequential layer lists (checks, parameters,
 * graph, text form), the MLP shorthand they replace, GAN specs (the presets
 * as layer lists, their text form), and the error
 * convention of the constructors models and optimizers share. */
#include "tapegrad.h"
#include "tg_models.h"

#include "check_main.h"
#include <check.h>
#include <math.h>
#include <string.h>

static const char *const REF_G = "in 100, dense 128, leaky_relu 0.2, dense 256, leaky_relu 0.2, dense 512, "
                                 "leaky_relu 0.2, dense 784, tanh";

START_TEST(test_parse_format_roundtrip)
{
    tg_seq_spec s = {0}, t = {0};
    tg_error e;
    ck_assert_msg(tg_seq_parse(REF_G, "G", &s, &e) == TG_OK, "%s", e.msg);
    ck_assert_str_eq(s.group, "G");
    ck_assert_int_eq(s.in_features, 100);
    ck_assert_int_eq(s.n, 8);
    ck_assert_int_eq(s.l[0].kind, TG_LAYER_DENSE);
    ck_assert_int_eq(s.l[0].units, 128);
    ck_assert_int_eq(s.l[1].kind, TG_LAYER_ACT);
    ck_assert_int_eq(s.l[1].act, TG_ACT_LEAKY_RELU);
    ck_assert(s.l[1].slope == 0.2f);
    ck_assert_int_eq(s.l[7].act, TG_ACT_TANH);
    int out;
    ck_assert_int_eq(tg_seq_check(&s, &out, &e), TG_OK);
    ck_assert_int_eq(out, 784);
    char buf[512];
    ck_assert_int_eq(tg_seq_format(&s, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, REF_G);
    /* newlines, comments, blank lines and spacing are all one form */
    ck_assert_msg(tg_seq_parse("# D\nin 784\n dense   512 \n\nleaky_relu 0.2 # hidden\ndropout 0.3,dense 1 nobias\n",
                               "D", &t, &e) == TG_OK,
                  "%s", e.msg);
    ck_assert_int_eq(tg_seq_format(&t, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "in 784, dense 512, leaky_relu 0.2, dropout 0.3, dense 1 nobias");
    ck_assert_int_eq(tg_seq_format(&t, buf, 10), TG_ERR_ARG); /* too small a buffer */
}
END_TEST

static const struct {
    const char *text, *msg;
} bad[] = {
    {"", "empty architecture"},
    {"dense 128", "the first item must be the input, 'in F' or 'in CxHxW', not 'dense 128'"},
    {"in 0, dense 3", "not 'in 0'"},
    {"in 10, dense 0", "layer 1 'dense 0' on 10: 0 units"},
    {"in 10, dense 4, conv9 3", "layer 2: unknown layer 'conv9'"},
    {"in 10, dense x", "layer 1: want 'dense N'"},
    {"in 10, dense 4 bias", "layer 1: want 'dense N'"},
    {"in 10, dropout 1.5", "layer 1 'dropout 1.5' on 10: p = 1.5 is outside [0, 1)"},
    {"in 10, relu 3", "layer 1: 'relu' takes no argument"},
    {"in 10, leaky_relu nan", "layer 1: want 'leaky_relu'"},
    {"in 10, dense 4 a b c d e f g h", "layer 1: too many words"},
    {"in 1x28x28, dense 10", "layer 1 'dense 10' on 1x28x28: input is 1x28x28: add flatten before dense"},
    {"in 100, conv 8 3", "layer 1 'conv 8 3' on 100: input is 100, not channels x height x width"},
    {"in 1x4x4, conv 8 5", "layer 1 'conv 8 5' on 1x4x4: input 1x4x4 gives an output of 0x0"},
    {"in 1x8x8, conv 8 3 s2 q1", "layer 1: unknown option 'q1'"},
    {"in 1x8x8, conv_t 8 4 s2 same", "layer 1: unknown option 'same'"},
    {"in 1x8x8, conv_t 4 4 s2 op2", "layer 1 'conv_t 4 4 s2 op2' on 1x8x8: output padding 2 must be smaller"},
    {"in 6272, reshape 128x7x8", "layer 1 'reshape 128x7x8' on 6272: cannot reshape 6272 into 128x7x8"},
    {"in 10, batch_norm eps=0", "layer 1 'batch_norm eps=0 momentum=0.1' on 10: eps must be in (0, 1)"},
    {"in 10, batch_norm foo=1", "layer 1: unknown option 'foo=1'"},
    {"in 10, flatten 3", "layer 1: 'flatten' takes no argument"},
};

START_TEST(test_parse_errors_name_the_layer)
{
    tg_seq_spec s = {0};
    tg_error e = {0};
    ck_assert_int_eq(tg_seq_parse(bad[_i].text, "G", &s, &e), TG_ERR_ARG);
    ck_assert_int_eq(e.code, TG_ERR_ARG);
    ck_assert_msg(strstr(e.msg, bad[_i].msg) && strstr(e.msg, "model G"), "'%s': got '%s'", bad[_i].text, e.msg);
    ck_assert_int_eq(s.n, 0); /* untouched */
}
END_TEST

/* The layer list an MLP spec stands for builds the same parameters (same
 * names, same initial values) and the same graph, op for op. */
START_TEST(test_mlp_equivalence)
{
    tg_gan_mlp gs;
    ck_assert_int_eq(tg_gan_mlp_preset("reference", &gs, NULL), TG_OK);
    tg_seq_spec sg, sd;
    tg_error e;
    ck_assert_int_eq(tg_seq_from_mlp(&gs.G, &sg, &e), TG_OK);
    ck_assert_int_eq(tg_seq_from_mlp(&gs.D, &sd, &e), TG_OK);
    char buf[512];
    ck_assert_int_eq(tg_seq_format(&sg, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, REF_G);
    ck_assert_int_eq(tg_seq_format(&sd, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "in 784, dense 512, leaky_relu 0.2, dropout 0.3, dense 256, leaky_relu 0.2, dropout 0.3, "
                          "dense 128, leaky_relu 0.2, dropout 0.3, dense 1");
    tg_params *pa = tg_params_new(), *pb = tg_params_new();
    tg_rng ra, rb;
    tg_rng_seed(&ra, 3, 0);
    tg_rng_seed(&rb, 3, 0);
    ck_assert_int_eq(tg_mlp_params(pa, &gs.D, TG_INIT_PYTORCH, 0, &ra), TG_OK);
    ck_assert_int_eq(tg_seq_params(pb, &sd, TG_INIT_PYTORCH, 0, &rb, &e), TG_OK);
    ck_assert_int_eq(tg_params_count(pa), tg_params_count(pb));
    for (int i = 0; i < tg_params_count(pa); i++) {
        tg_param *a = tg_params_at(pa, i), *b = tg_params_at(pb, i);
        ck_assert_str_eq(tg_param_name(a), tg_param_name(b));
        ck_assert_int_eq(memcmp(tg_param_data(a), tg_param_data(b), tg_param_numel(a) * sizeof(float)), 0);
    }
    tg_graph *ga = tg_graph_new(pa), *gb = tg_graph_new(pb);
    tg_node xa = tg_input(ga, "x", 2, (int[]){4, 784}), xb = tg_input(gb, "x", 2, (int[]){4, 784});
    tg_node ya = tg_mlp(ga, &gs.D, xa), yb = tg_seq(gb, &sd, xb);
    ck_assert_int_eq(ya.id, yb.id);
    ck_assert_int_eq(tg_graph_nodes(ga), tg_graph_nodes(gb));
    for (int i = 0; i < tg_graph_nodes(ga); i++)
        ck_assert_str_eq(tg_node_op(ga, (tg_node){i}), tg_node_op(gb, (tg_node){i}));
    tg_graph_free(ga);
    tg_graph_free(gb);
    tg_params_free(pa);
    tg_params_free(pb);
}
END_TEST

/* ---- GAN specs: the presets as layer lists, and their text form ---- */
static const char *const REF_SPEC =
    "G: in 100, dense 128, leaky_relu 0.2, dense 256, leaky_relu 0.2, dense 512, leaky_relu 0.2, dense 784, tanh\n"
    "D: in 784, dense 512, leaky_relu 0.2, dropout 0.3, dense 256, leaky_relu 0.2, dropout 0.3, dense 128, "
    "leaky_relu 0.2, dropout 0.3, dense 1\n"
    "init: xavier\n"
    "sigma: 0.02";

START_TEST(test_gan_spec_text)
{
    tg_gan_spec s, t;
    tg_error e;
    char buf[2048], again[2048];
    ck_assert_int_eq(tg_gan_preset("reference", &s, &e), TG_OK);
    ck_assert_int_eq(tg_gan_spec_format(&s, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, REF_SPEC);
    ck_assert_int_eq(tg_gan_spec_format(&s, buf, 40), TG_ERR_ARG); /* too small a buffer */
    /* every preset reads back as itself, and spells itself the same way */
    for (const char *const *n = tg_gan_preset_names(); *n; n++) {
        ck_assert_int_eq(tg_gan_preset(*n, &s, &e), TG_OK);
        ck_assert_int_eq(tg_gan_spec_format(&s, buf, sizeof buf), TG_OK);
        ck_assert_msg(tg_gan_spec_parse(buf, &t, &e) == TG_OK, "%s: %s", *n, e.msg);
        ck_assert_int_eq(tg_gan_spec_format(&t, again, sizeof again), TG_OK);
        ck_assert_str_eq(again, buf);
        ck_assert_int_eq(s.G.n, t.G.n);
        ck_assert_int_eq(s.D.n, t.D.n);
        ck_assert_str_eq(t.G.group, "G");
        ck_assert_str_eq(t.D.group, "D");
        ck_assert_str_eq(t.G.prefix, "");
        ck_assert(t.init == s.init && t.sigma == s.sigma);
    }
    /* any order, comments and blank lines; the layer lists in any of their forms */
    ck_assert_msg(tg_gan_spec_parse("# a small GAN\nsigma: 0.5\n\ninit:normal\n"
                                    "D: in 12,dense 1   # one logit\nG: in 3, dense 12, tanh\n",
                                    &t, &e) == TG_OK,
                  "%s", e.msg);
    ck_assert_int_eq(tg_gan_spec_format(&t, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "G: in 3, dense 12, tanh\nD: in 12, dense 1\ninit: normal\nsigma: 0.5");
    int zd, xd;
    ck_assert_int_eq(tg_gan_check(&t, &zd, &xd, &e), TG_OK);
    ck_assert_int_eq(zd, 3);
    ck_assert_int_eq(xd, 12);
    /* init names */
    tg_init i;
    ck_assert(tg_init_parse("pytorch", &i) && i == TG_INIT_PYTORCH);
    ck_assert(!tg_init_parse("he", &i));
    ck_assert_str_eq(tg_init_name(TG_INIT_XAVIER), "xavier");
    ck_assert_str_eq(tg_init_name((tg_init)99), "?");
}
END_TEST

static const struct {
    const char *text, *msg;
} bad_spec[] = {
    {"", "no 'G:' line"},
    {"G: in 3, dense 12\nD: in 12, dense 1\ninit: xavier", "no 'sigma:' line"},
    {"G: in 3, dense 12\nG: in 3, dense 12", "line 2: a second 'G'"},
    {"G: in 3, dense 12\nE: in 12, dense 1", "line 2: unknown key 'E'"},
    {"G in 3", "line 1: want 'KEY: VALUE'"},
    {"G: in 3, dense 12, conv9 3\nD: in 12, dense 1\ninit: xavier\nsigma: 0", "model G: layer 2: unknown layer 'conv9'"},
    {"G: in 3, dense 12\nD: in 12, dense 0\ninit: xavier\nsigma: 0", "model D: layer 1 'dense 0' on 12: 0 units"},
    {"G: in 3, dense 11\nD: in 12, dense 1\ninit: xavier\nsigma: 0", "G makes 11 values but D takes 12"},
    {"G: in 3, dense 12\nD: in 12, dense 2\ninit: xavier\nsigma: 0", "must give 1, not 2"},
    {"G: in 3, dense 12\nD: in 12, dense 1\ninit: he\nsigma: 0", "line 3: unknown initializer 'he'"},
    {"G: in 3, dense 12\nD: in 12, dense 1\ninit: xavier\nsigma: -1", "line 4: sigma '-1' is not a number >= 0"},
};

START_TEST(test_gan_spec_errors)
{
    tg_gan_spec s;
    memset(&s, 0x5a, sizeof s);
    const tg_gan_spec before = s;
    tg_error e = {0};
    ck_assert_int_eq(tg_gan_spec_parse(bad_spec[_i].text, &s, &e), TG_ERR_ARG);
    ck_assert_msg(strstr(e.msg, bad_spec[_i].msg), "'%s': got '%s'", bad_spec[_i].text, e.msg);
    ck_assert(!memcmp(&s, &before, sizeof s)); /* untouched */
}
END_TEST

/* A preset as layer lists builds the GAN the MLP builder built: the same
 * parameters with the same initial values, and the training graph op for op
 * (the presets whose networks are both MLPs). */
START_TEST(test_gan_preset_equivalence)
{
    for (const char *const *n = tg_gan_preset_names(); *n; n++) {
        if (tg_gan_preset_mlp_nets(*n) != (TG_GAN_NET_G | TG_GAN_NET_D)) continue;
        tg_gan_mlp m;
        tg_gan_spec s;
        tg_error e;
        ck_assert_int_eq(tg_gan_mlp_preset(*n, &m, &e), TG_OK);
        ck_assert_int_eq(tg_gan_preset(*n, &s, &e), TG_OK);
        tg_params *pa = tg_params_new(), *pb = tg_params_new();
        tg_rng ra, rb;
        tg_rng_seed(&ra, 5, 0);
        tg_rng_seed(&rb, 5, 0);
        ck_assert_int_eq(tg_mlp_params(pa, &m.G, m.init, m.sigma, &ra), TG_OK);
        ck_assert_int_eq(tg_mlp_params(pa, &m.D, m.init, m.sigma, &ra), TG_OK);
        ck_assert_int_eq(tg_gan_params(pb, &s, &rb, &e), TG_OK);
        ck_assert_int_eq(tg_params_count(pa), tg_params_count(pb));
        for (int i = 0; i < tg_params_count(pa); i++) {
            tg_param *a = tg_params_at(pa, i), *b = tg_params_at(pb, i);
            ck_assert_str_eq(tg_param_group(a), tg_param_group(b));
            ck_assert_str_eq(tg_param_name(a), tg_param_name(b));
            ck_assert_int_eq(memcmp(tg_param_data(a), tg_param_data(b), tg_param_numel(a) * sizeof(float)), 0);
        }
        /* the training graph, built by hand from the MLPs as tg_gan_build once did */
        tg_graph *ga = tg_graph_new(pa), *gb = tg_graph_new(pb);
        const int B = 3;
        tg_node z = tg_input(ga, "z", 2, (int[]){B, m.G.widths[0]});
        tg_node x = tg_input(ga, "x", 2, (int[]){B, m.D.widths[0]});
        tg_node fake = tg_keep(ga, tg_mlp(ga, &m.G, z));
        tg_node dreal = tg_mlp(ga, &m.D, x);
        tg_node dfake_det = tg_mlp(ga, &m.D, tg_detach(ga, fake));
        tg_node lossd = tg_add(ga, tg_bce_logits_const(ga, dreal, 0.9f), tg_bce_logits_const(ga, dfake_det, 0.0f));
        tg_node lossg = tg_gen_loss(ga, tg_mlp(ga, &m.D, fake));
        tg_gan_graph gg;
        ck_assert_int_eq(tg_gan_build(gb, &s, B, 0.9f, 0, &gg), TG_OK);
        ck_assert_int_eq(gg.loss_d.id, lossd.id);
        ck_assert_int_eq(gg.loss_g.id, lossg.id);
        ck_assert_int_eq(tg_graph_nodes(ga), tg_graph_nodes(gb));
        for (int i = 0; i < tg_graph_nodes(ga); i++)
            ck_assert_str_eq(tg_node_op(ga, (tg_node){i}), tg_node_op(gb, (tg_node){i}));
        tg_graph_free(ga);
        tg_graph_free(gb);
        tg_params_free(pa);
        tg_params_free(pb);
    }
}
END_TEST

START_TEST(test_seq_graph_errors)
{
    tg_seq_spec s = {0};
    tg_error e;
    ck_assert_int_eq(tg_seq_parse("in 6, dense 5, relu, dense 2 nobias", "M", &s, &e), TG_OK);
    tg_params *ps = tg_params_new();
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 2, (int[]){3, 6});
    /* before the parameters exist: the missing one is named */
    ck_assert_int_lt(tg_seq(g, &s, x).id, 0);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "M/l0.w is not in the store"));
    tg_graph_free(g);
    tg_rng r;
    tg_rng_seed(&r, 1, 0);
    ck_assert_int_eq(tg_seq_params(ps, &s, TG_INIT_XAVIER, 0, &r, &e), TG_OK);
    ck_assert_ptr_nonnull(tg_param_find(ps, "M", "l1.w"));
    ck_assert_ptr_null(tg_param_find(ps, "M", "l1.b")); /* nobias */
    /* twice: the duplicate is refused with the store's reason */
    ck_assert_int_eq(tg_seq_params(ps, &s, TG_INIT_XAVIER, 0, &r, &e), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "model M"));
    g = tg_graph_new(ps);
    x = tg_input(g, "x", 2, (int[]){3, 7}); /* wrong width */
    ck_assert_int_lt(tg_seq(g, &s, x).id, 0);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(g), "model M: input is 3x7, want (B, 6)"));
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

/* Constructors that can fail say why (tg_error), and NULL err is allowed. */
START_TEST(test_constructor_errors)
{
    tg_error e = {0};
    ck_assert_ptr_null(tg_pool_new(0, &e));
    ck_assert_int_eq(e.code, TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "pool: 0 threads"));
    ck_assert_ptr_null(tg_pool_new(1000, NULL));
    tg_params *ps = tg_params_new();
    tg_param_new(ps, "D", "w", 1, (int[]){3});
    ck_assert_ptr_null(tg_adam_new(ps, "Q", 1e-3f, 0.9f, 0.999f, 1e-8f, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "adam: group 'Q' has no parameters"));
    ck_assert_ptr_null(tg_adam_new(ps, "D", -1.0f, 0.9f, 0.999f, 1e-8f, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "adam: lr -1 must be > 0"));
    ck_assert_ptr_null(tg_sgd_new(ps, "D", 0.1f, 1.5f, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "sgd: lr 0.1 must be > 0 and momentum 1.5 in [0, 1)"));
    tg_adam *a = tg_adam_new(ps, "D", 1e-3f, 0.9f, 0.999f, 1e-8f, &e);
    ck_assert_ptr_nonnull(a);
    tg_adam_free(a);
    tg_params_free(ps);
}
END_TEST

/* The user's Keras discriminator and the DCGAN generator as layer lists:
 * shapes, parameters and a forward pass of the right size. */
static const char *const KERAS_D = "in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, conv 128 5 s2, leaky_relu 0.2, "
                                   "flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1";
static const char *const DCGAN_G = "in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7, "
                                   "conv_t 64 4 s2 p1 nobias, batch_norm, relu, conv_t 1 4 s2 p1, tanh";

START_TEST(test_conv_layers)
{
    tg_seq_spec d = {0}, g = {0};
    tg_error e;
    ck_assert_msg(tg_seq_parse(KERAS_D, "D", &d, &e) == TG_OK, "%s", e.msg);
    ck_assert_msg(tg_seq_parse(DCGAN_G, "G", &g, &e) == TG_OK, "%s", e.msg);
    char buf[512];
    ck_assert_int_eq(tg_seq_format(&d, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, KERAS_D);
    ck_assert_int_eq(tg_seq_format(&g, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, DCGAN_G);
    /* Keras 'same', stride 2: 28 -> 14 (pad 1 before, 2 after); 'valid' 5x5 s2: 14 -> 5 */
    int nd, sh[3];
    ck_assert_int_eq(tg_seq_shape(&d, 0, &nd, sh, &e), TG_OK);
    ck_assert(nd == 3 && sh[0] == 64 && sh[1] == 14 && sh[2] == 14);
    ck_assert_int_eq(tg_seq_shape(&d, 2, &nd, sh, &e), TG_OK);
    ck_assert(nd == 3 && sh[0] == 128 && sh[1] == 5 && sh[2] == 5);
    ck_assert_int_eq(tg_seq_shape(&d, 4, &nd, sh, &e), TG_OK);
    ck_assert(nd == 1 && sh[0] == 3200);
    int out;
    ck_assert_int_eq(tg_seq_check(&d, &out, &e), TG_OK);
    ck_assert_int_eq(out, 1);
    ck_assert_int_eq(tg_seq_check(&g, &out, &e), TG_OK);
    ck_assert_int_eq(out, 784); /* 1x28x28 */
    ck_assert_int_eq(tg_seq_shape(&g, 3, &nd, sh, &e), TG_OK);
    ck_assert(nd == 3 && sh[0] == 128 && sh[1] == 7 && sh[2] == 7);
    ck_assert_int_eq(tg_seq_shape(&g, 4, &nd, sh, &e), TG_OK);
    ck_assert(nd == 3 && sh[0] == 64 && sh[1] == 14 && sh[2] == 14);
    /* parameters: names, shapes, DCGAN init of batch norm */
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 5, 0);
    ck_assert_int_eq(tg_seq_params(ps, &d, TG_INIT_NORMAL, 0.02f, &r, &e), TG_OK);
    ck_assert_int_eq(tg_seq_params(ps, &g, TG_INIT_NORMAL, 0.02f, &r, &e), TG_OK);
    const tg_param *w0 = tg_param_find(ps, "D", "l0.w"), *w1 = tg_param_find(ps, "D", "l1.w");
    ck_assert(w0 && tg_param_ndim(w0) == 4 && tg_param_dims(w0)[0] == 64 && tg_param_dims(w0)[1] == 1 &&
              tg_param_dims(w0)[2] == 5);
    ck_assert(w1 && tg_param_dims(w1)[0] == 128 && tg_param_dims(w1)[1] == 64);
    ck_assert(tg_param_find(ps, "D", "l2.w") && tg_param_dims(tg_param_find(ps, "D", "l2.w"))[0] == 3200);
    ck_assert_ptr_null(tg_param_find(ps, "G", "l0.b"));          /* dense nobias */
    const tg_param *ct = tg_param_find(ps, "G", "l2.w");          /* conv_t: (Cin, Cout, kh, kw) */
    ck_assert(ct && tg_param_dims(ct)[0] == 128 && tg_param_dims(ct)[1] == 64 && tg_param_dims(ct)[3] == 4);
    tg_param *gamma = tg_param_find(ps, "G", "l1.gamma"), *var = tg_param_find(ps, "G", "l1.var");
    ck_assert(gamma && var && tg_param_is_state(var) && !tg_param_is_state(gamma));
    ck_assert(tg_param_data(var)[0] == 1.0f && tg_param_data(gamma)[0] != 1.0f && fabsf(tg_param_data(gamma)[0] - 1) < 0.2f);
    /* D(G(z)) forward: a (B, 1) logit */
    tg_graph *gr = tg_graph_new(ps);
    static float zb[3 * 100];
    tg_node z = tg_input(gr, "z", 2, (int[]){3, 100});
    tg_bind(gr, z, zb);
    tg_node img = tg_reshape(gr, tg_seq(gr, &g, z), 4, (int[]){3, 1, 28, 28});
    tg_node logit = tg_seq(gr, &d, img);
    ck_assert_msg(tg_graph_status(gr) == TG_OK, "%s", tg_graph_error(gr));
    ck_assert_int_eq(tg_node_dim(gr, logit, 0), 3);
    ck_assert_int_eq(tg_node_dim(gr, logit, 1), 1);
    tg_plan *p = tg_plan_new(gr, logit, &(tg_plan_opts){.forward_only = 1});
    ck_assert_msg(p != NULL, "%s", tg_graph_error(gr));
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    tg_plan_free(p);
    tg_graph_free(gr);
    tg_params_free(ps);
}
END_TEST

static Suite *models_suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_format_roundtrip);
    tcase_add_test(tc, test_mlp_equivalence);
    tcase_add_test(tc, test_conv_layers);
    tcase_add_test(tc, test_gan_spec_text);
    tcase_add_test(tc, test_gan_preset_equivalence);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_parse_errors_name_the_layer, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_loop_test(tc, test_gan_spec_errors, 0, (int)(sizeof bad_spec / sizeof bad_spec[0]));
    tcase_add_test(tc, test_seq_graph_errors);
    tcase_add_test(tc, test_constructor_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tg_run_suite(models_suite()); }
