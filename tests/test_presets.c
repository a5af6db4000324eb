/* test_presets.c - the presets of layer lists (dcgan, keras-d, tiny-conv),
 * their training defaults, eval-mode sampling and train-gan --ema: through
 * the models' and recipes' C API, and `tapegrad` end to end on the 10-image
 * IDX fixture ($TG_FIXTURES) with dcgan at batch 4 (2 iterations per epoch). */
#include "check_main.h"
#include "checkpoint.h"
#include "commands.h"
#include "gan_opts.h"
#include "run_bin.h"
#include "sample.h"

#include <math.h>
#include <stdint.h>

/* the design bench/dcgan_step.c builds by hand */
static const char *const DCGAN_G = "in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7, "
                                   "conv_t 64 4 s2 p1 nobias, batch_norm, relu, conv_t 1 4 s2 p1, tanh";
static const char *const KERAS_D = "in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, conv 128 5 s2, leaky_relu 0.2, "
                                   "flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1";

static void setup(void) { tmp_make("tg_presets"); }
static void teardown(void) { tmp_remove(); }

/* ------------------------------------------------------------- models */
START_TEST(test_dcgan_layers)
{
    tg_gan_spec s, ref;
    tg_error e;
    char buf[1024];
    ck_assert_msg(tg_gan_preset("dcgan", &s, &e) == TG_OK, "%s", e.msg);
    ck_assert_int_eq(tg_seq_format(&s.G, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, DCGAN_G);
    ck_assert_int_eq(tg_seq_format(&s.D, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, KERAS_D);
    ck_assert_int_eq(s.init, TG_INIT_NORMAL);
    ck_assert(s.sigma == 0.02f);
    /* batch_norm with PyTorch's eps and momentum; conv_t and the first dense without bias */
    ck_assert_int_eq(s.G.l[1].kind, TG_LAYER_BATCH_NORM);
    ck_assert(s.G.l[1].eps == 1e-5f && s.G.l[1].momentum == 0.1f);
    ck_assert(s.G.l[0].no_bias && s.G.l[4].no_bias && !s.G.l[7].no_bias);
    int zd, xd, nd, sh[3];
    ck_assert_int_eq(tg_gan_check(&s, &zd, &xd, &e), TG_OK);
    ck_assert_int_eq(zd, 100);
    ck_assert_int_eq(xd, 784);
    ck_assert_int_eq(tg_seq_shape(&s.G, TG_SEQ_MAX_LAYERS, &nd, sh, &e), TG_OK);
    ck_assert(nd == 3 && sh[0] == 1 && sh[1] == 28 && sh[2] == 28);
    ck_assert_int_eq(tg_seq_shape(&s.D, 1, &nd, sh, &e), TG_OK); /* 'same' 28 -> 14 */
    ck_assert(nd == 3 && sh[0] == 64 && sh[1] == 14 && sh[2] == 14);
    ck_assert_int_eq(tg_seq_shape(&s.D, 3, &nd, sh, &e), TG_OK); /* 'valid' 14 -> 5 */
    ck_assert(nd == 3 && sh[0] == 128 && sh[1] == 5 && sh[2] == 5);
    ck_assert_int_eq(tg_gan_preset_mlp_nets("dcgan"), 0);
    tg_gan_mlp m;
    ck_assert_int_eq(tg_gan_mlp_preset("dcgan", &m, &e), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "layer lists"));
    /* keras-d: the reference generator, the Keras discriminator, Glorot uniform */
    ck_assert_int_eq(tg_gan_preset("keras-d", &s, &e), TG_OK);
    ck_assert_int_eq(tg_gan_preset("reference", &ref, &e), TG_OK);
    char a[1024];
    ck_assert_int_eq(tg_seq_format(&s.G, buf, sizeof buf), TG_OK);
    ck_assert_int_eq(tg_seq_format(&ref.G, a, sizeof a), TG_OK);
    ck_assert_str_eq(buf, a);
    ck_assert_int_eq(tg_seq_format(&s.D, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, KERAS_D);
    ck_assert_int_eq(s.init, TG_INIT_XAVIER);
    ck_assert_int_eq(tg_gan_preset_mlp_nets("keras-d"), TG_GAN_NET_G);
    ck_assert_int_eq(tg_gan_preset_mlp_nets("reference"), TG_GAN_NET_G | TG_GAN_NET_D);
    ck_assert_int_eq(tg_gan_preset_mlp_nets("nope"), -1);
    /* dcgan-tuned: dcgan with G twice as wide and dropout after D's convolutions */
    ck_assert_msg(tg_gan_preset("dcgan-tuned", &s, &e) == TG_OK, "%s", e.msg);
    ck_assert_int_eq(tg_seq_format(&s.G, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "in 100, dense 12544 nobias, batch_norm, relu, reshape 256x7x7, conv_t 128 4 s2 p1 nobias, "
                          "batch_norm, relu, conv_t 1 4 s2 p1, tanh");
    ck_assert_int_eq(tg_seq_format(&s.D, buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, dropout 0.3, conv 128 5 s2, leaky_relu 0.2, "
                          "dropout 0.3, flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1");
    ck_assert(s.init == TG_INIT_NORMAL && s.sigma == 0.02f);
    ck_assert_int_eq(tg_gan_check(&s, &zd, &xd, &e), TG_OK);
    ck_assert(zd == 100 && xd == 784);
    ck_assert_int_eq(tg_gan_preset_mlp_nets("dcgan-tuned"), 0);
    ck_assert_int_eq(tg_gan_preset("nope", &s, &e), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "known: reference, documents, tiny, dcgan, dcgan-tuned, keras-d, tiny-conv"));
}
END_TEST

static double mean_of(const float *x, size_t n, double *sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    *sd = sqrt(s2 / n - (s / n) * (s / n));
    return s / n;
}

/* The preset's parameters are bench/dcgan_step.c's, bit for bit (its layer
 * lists through tg_seq_params, normal 0.02, G then D from one stream), and
 * have DCGAN's statistics. */
START_TEST(test_dcgan_init)
{
    tg_gan_spec s;
    tg_seq_spec G = {.group = "G"}, D = {.group = "D"};
    tg_error e;
    ck_assert_int_eq(tg_gan_preset("dcgan", &s, &e), TG_OK);
    ck_assert_int_eq(tg_seq_parse(DCGAN_G, "G", &G, &e), TG_OK);
    ck_assert_int_eq(tg_seq_parse(KERAS_D, "D", &D, &e), TG_OK);
    tg_params *pa = tg_params_new(), *pb = tg_params_new();
    tg_rng ra, rb;
    tg_rng_seed(&ra, 1, 0);
    tg_rng_seed(&rb, 1, 0);
    ck_assert_int_eq(tg_gan_params(pa, &s, &ra, &e), TG_OK);
    ck_assert_int_eq(tg_seq_params(pb, &G, TG_INIT_NORMAL, 0.02f, &rb, &e), TG_OK);
    ck_assert_int_eq(tg_seq_params(pb, &D, TG_INIT_NORMAL, 0.02f, &rb, &e), TG_OK);
    ck_assert_int_eq(tg_params_count(pa), tg_params_count(pb));
    for (int i = 0; i < tg_params_count(pa); i++) {
        tg_param *a = tg_params_at(pa, i), *b = tg_params_at(pb, i);
        ck_assert_str_eq(tg_param_name(a), tg_param_name(b));
        ck_assert_int_eq(tg_param_is_state(a), tg_param_is_state(b));
        ck_assert_int_eq(memcmp(tg_param_data(a), tg_param_data(b), tg_param_numel(a) * sizeof(float)), 0);
    }
    /* weights N(0, 0.02), biases 0; gamma N(1, 0.02), beta 0; running mean 0, variance 1 */
    double sd, mu;
    tg_param *p = tg_param_find(pa, "G", "l0.w");
    ck_assert_uint_eq(tg_param_numel(p), 100 * 6272);
    mu = mean_of(tg_param_data(p), tg_param_numel(p), &sd);
    ck_assert_msg(fabs(mu) < 1e-3 && fabs(sd - 0.02) < 5e-4, "G/l0.w mean %g sd %g", mu, sd);
    p = tg_param_find(pa, "D", "l1.w"); /* conv 64 -> 128, 5x5: (Cout, Cin, kh, kw) */
    ck_assert(tg_param_dims(p)[0] == 128 && tg_param_dims(p)[1] == 64 && tg_param_dims(p)[2] == 5);
    mu = mean_of(tg_param_data(p), tg_param_numel(p), &sd);
    ck_assert_msg(fabs(mu) < 1e-3 && fabs(sd - 0.02) < 5e-4, "D/l1.w mean %g sd %g", mu, sd);
    p = tg_param_find(pa, "G", "l2.w"); /* conv_t 128 -> 64: (Cin, Cout, kh, kw) */
    ck_assert(tg_param_dims(p)[0] == 128 && tg_param_dims(p)[1] == 64 && tg_param_dims(p)[3] == 4);
    ck_assert_ptr_null(tg_param_find(pa, "G", "l0.b"));
    ck_assert_ptr_null(tg_param_find(pa, "G", "l2.b"));
    const char *zero[] = {"G/l4.b", "D/l0.b", "D/l1.b", "D/l2.b", "D/l3.b", "G/l1.beta", "G/l3.beta", "G/l1.mean"};
    for (size_t k = 0; k < sizeof zero / sizeof *zero; k++) {
        char grp[2] = {zero[k][0], 0};
        p = tg_param_find(pa, grp, zero[k] + 2);
        ck_assert_msg(p != NULL, "%s", zero[k]);
        for (size_t i = 0; i < tg_param_numel(p); i++) ck_assert_msg(tg_param_data(p)[i] == 0, "%s", zero[k]);
    }
    p = tg_param_find(pa, "G", "l1.var");
    ck_assert(tg_param_is_state(p) && tg_param_numel(p) == 6272 && tg_param_data(p)[17] == 1.0f);
    p = tg_param_find(pa, "G", "l1.gamma");
    mu = mean_of(tg_param_data(p), tg_param_numel(p), &sd);
    ck_assert_msg(fabs(mu - 1) < 1e-3 && fabs(sd - 0.02) < 1e-3, "G/l1.gamma mean %g sd %g", mu, sd);
    tg_params_free(pa);
    tg_params_free(pb);
}
END_TEST

/* D reads the (B, 784) data and G's (B, 1, 28, 28) output through a view:
 * the same logits either way; the GAN graph builds and trains one step. */
START_TEST(test_dcgan_views)
{
    tg_gan_spec s;
    tg_error e;
    ck_assert_int_eq(tg_gan_preset("dcgan", &s, &e), TG_OK);
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 3, 0);
    ck_assert_int_eq(tg_gan_params(ps, &s, &r, &e), TG_OK);
    enum { B = 2 };
    static float x[B * 784];
    tg_rng_fill_uniform(&r, x, B * 784, -1, 1);
    tg_graph *g = tg_graph_new(ps);
    tg_node flat = tg_input(g, "flat", 2, (int[]){B, 784}), img = tg_input(g, "img", 4, (int[]){B, 1, 28, 28});
    tg_node a = tg_discriminator(g, &s, flat), b = tg_discriminator(g, &s, img);
    tg_bind(g, flat, x);
    tg_bind(g, img, x);
    ck_assert_msg(tg_graph_status(g) == TG_OK, "%s", tg_graph_error(g));
    ck_assert_str_eq(tg_node_op(g, (tg_node){img.id + 1}), "reshape"); /* the flat input's view */
    tg_node outs[2] = {a, b};
    tg_plan *p = tg_plan_new(g, tg_add(g, tg_sum(g, a), tg_sum(g, b)),
                             &(tg_plan_opts){.forward_only = 1, .eval = 1, .outputs = outs, .n_outputs = 2});
    ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(memcmp(tg_plan_value(p, a), tg_plan_value(p, b), B * sizeof(float)), 0);
    tg_plan_free(p);
    tg_graph_free(g);
    /* G's 4-D output into an MLP's "in 784" (flattened), and the training graph */
    tg_gan_spec k;
    ck_assert_int_eq(tg_gan_preset("reference", &k, &e), TG_OK);
    s.D = k.D;
    tg_params_free(ps);
    ps = tg_params_new();
    ck_assert_int_eq(tg_gan_params(ps, &s, &r, &e), TG_OK);
    g = tg_graph_new(ps);
    tg_gan_graph gg;
    ck_assert_msg(tg_gan_build(g, &s, B, 0.9f, 0, &gg) == TG_OK, "%s", tg_graph_error(g));
    ck_assert_int_eq(tg_node_ndim(g, gg.fake), 4);
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

START_TEST(test_shape_mismatch)
{
    tg_gan_spec s;
    tg_error e;
    ck_assert_int_eq(tg_gan_preset("dcgan", &s, &e), TG_OK);
    ck_assert_int_eq(tg_seq_parse("in 100, dense 1024, reshape 1x32x32, tanh", "G", &s.G, &e), TG_OK);
    ck_assert_int_eq(tg_gan_check(&s, NULL, NULL, &e), TG_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "G makes 1024 values but D takes 784: G's output is 1x32x32 (1024 values), D's input "
                                "1x28x28 (784 values)"), "%s", e.msg);
    ck_assert_int_eq(tg_seq_parse("in 100, dense 700, tanh", "G", &s.G, &e), TG_OK);
    ck_assert_int_eq(tg_gan_check(&s, NULL, NULL, &e), TG_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "G's output is 700 values, D's input 1x28x28 (784 values)"), "%s", e.msg);
    /* the same numbers in another shape are fine */
    ck_assert_int_eq(tg_seq_parse("in 100, dense 784, reshape 4x14x14, tanh", "G", &s.G, &e), TG_OK);
    ck_assert_int_eq(tg_gan_check(&s, NULL, NULL, &e), TG_OK);
}
END_TEST

/* ------------------------------------------------------ eval sampling */
/* forward-only G at batch n on z, into out; eval or training mode */
static void run_g(tg_params *ps, const tg_gan_spec *s, const float *z, int n, int eval, float *out)
{
    tg_graph *g = tg_graph_new(ps);
    tg_node zi = tg_input(g, "z", 2, (int[]){n, s->G.in_features});
    tg_node y = tg_generator(g, s, zi);
    tg_bind(g, zi, z);
    tg_plan *p = tg_plan_new(g, y, &(tg_plan_opts){.forward_only = 1, .eval = eval});
    ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    memcpy(out, tg_plan_value(p, y), tg_node_numel(g, y) * sizeof(float));
    tg_plan_free(p);
    tg_graph_free(g);
}

/* A G with batch_norm: training mode normalizes with the batch's
 * statistics (a sample depends on its batch, and the running statistics
 * move), eval mode with the running ones (a sample of batch 1 is the same
 * z's sample inside a larger batch). */
START_TEST(test_bn_eval_mode)
{
    tg_gan_spec s;
    tg_error e;
    ck_assert_int_eq(tg_gan_preset("tiny-conv", &s, &e), TG_OK);
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 4, 0);
    ck_assert_int_eq(tg_gan_params(ps, &s, &r, &e), TG_OK);
    tg_param *rm = tg_param_find(ps, "G", "l1.mean"), *rv = tg_param_find(ps, "G", "l1.var");
    tg_rng_fill_uniform(&r, tg_param_data(rm), 8, -0.5f, 0.5f);
    tg_rng_fill_uniform(&r, tg_param_data(rv), 8, 0.5f, 2.0f);
    float rm0[8];
    memcpy(rm0, tg_param_data(rm), sizeof rm0);
    enum { N = 5, X = 64 };
    float z[N * 4], ev[N * X], ev1[X], tr[N * X], tr1[2 * X];
    tg_rng_fill_normal(&r, z, N * 4, 0, 1);
    run_g(ps, &s, z, N, 1, ev);
    run_g(ps, &s, z, 1, 1, ev1);
    ck_assert_int_eq(memcmp(ev, ev1, sizeof ev1), 0);
    ck_assert_int_eq(memcmp(tg_param_data(rm), rm0, sizeof rm0), 0); /* eval leaves them */
    run_g(ps, &s, z, N, 0, tr);
    ck_assert(memcmp(tg_param_data(rm), rm0, sizeof rm0) != 0); /* training moves them */
    memcpy(tg_param_data(rm), rm0, sizeof rm0);
    run_g(ps, &s, z + 4, 2, 0, tr1); /* z[1] in another batch: another sample */
    ck_assert(memcmp(tr + X, tr1, sizeof tr1) != 0);
    ck_assert(memcmp(tr, ev, sizeof tr) != 0);
    tg_params_free(ps);
}
END_TEST

/* train-gan's samples: eval mode (the running statistics do not move), the
 * same z's sample whatever the batch */
START_TEST(test_run_samples_eval)
{
    gan_cfg c;
    gan_run r;
    tg_error e;
    ck_assert_int_eq(gan_cfg_defaults(&c, "tiny-conv", &e), TG_OK);
    c.threads = 1;
    ck_assert_msg(gan_init(&r, &c, &e) == TG_OK, "%s", e.msg);
    tg_rng rng;
    tg_rng_seed(&rng, 9, 0);
    tg_rng_fill_uniform(&rng, r.x, (size_t)c.batch * 64, -1, 1);
    gan_stats st;
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gan_step(&r, &st, &e), TG_OK);
    tg_param *rm = tg_param_find(r.ps, "G", "l3.mean");
    float rm0[2], one[64];
    memcpy(rm0, tg_param_data(rm), sizeof rm0);
    const float *x = gan_fixed_samples(&r);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(memcmp(tg_param_data(rm), rm0, sizeof rm0), 0);
    run_g(r.ps, &c.spec, r.fixed_z + 7 * 4, 1, 1, one);
    ck_assert_int_eq(memcmp(x + 7 * 64, one, sizeof one), 0);
    gan_free(&r);
}
END_TEST

/* ------------------------------------------------- training defaults */
static int parse(gan_cfg *c, const char *const *args)
{
    static train_gan_opts o;
    char *argv[16];
    int argc = 0;
    argv[argc++] = "train-gan";
    for (; args[argc - 1]; argc++) argv[argc] = (char *)args[argc - 1];
    return cmd_train_gan_parse(argc, argv, c, &o);
}
#define PARSE(c, ...) parse(c, (const char *const[]){__VA_ARGS__, NULL})

static const char *meta(const ckpt_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->kv[i].key, key)) return m->kv[i].value;
    return NULL;
}

START_TEST(test_preset_defaults)
{
    gan_cfg c;
    ck_assert_int_eq(PARSE(&c, "--model", "dcgan"), 0);
    ck_assert(c.lr_g == 2e-4f && c.lr_d == 2e-4f && c.beta1 == 0.5f && c.beta2 == 0.999f);
    ck_assert(c.real_label == 0.9f && c.batch == 64 && c.ema == 0);
    ck_assert_int_eq(PARSE(&c, "--model", "dcgan-tuned"), 0);
    ck_assert(c.lr_g == 2e-4f && c.lr_d == 1e-4f && c.beta1 == 0.5f && c.beta2 == 0.999f);
    ck_assert(c.real_label == 0.9f && c.batch == 64 && c.ema == 0.999f);
    ck_assert_int_eq(PARSE(&c, "--model", "dcgan-tuned", "--ema", "0"), 0);
    ck_assert(c.ema == 0 && c.lr_d == 1e-4f);
    ck_assert_int_eq(PARSE(&c, "--model", "tiny-conv"), 0);
    ck_assert(c.batch == 4 && c.lr_g == 1e-3f && c.lr_d == 1e-3f && c.beta1 == 0.5f);
    /* a flag given wins */
    ck_assert_int_eq(PARSE(&c, "--batch", "2", "--model", "tiny-conv", "--lr-g", "5e-4"), 0);
    ck_assert(c.batch == 2 && c.lr_g == 5e-4f && c.lr_d == 1e-3f);
    ck_assert_int_eq(PARSE(&c, "--model", "reference"), 0);
    ck_assert(c.batch == 64 && c.lr_g == 2e-4f);
    ck_assert_str_eq(gan_opts_preset_default("tiny-conv", "--batch"), "4");
    ck_assert_ptr_null(gan_opts_preset_default("reference", "--batch"));
    ck_assert_ptr_nonnull(strstr(gan_opts_preset_help(), "tiny-conv: --batch 4"));
    /* the checkpoint's configuration holds the values used */
    ck_assert_int_eq(PARSE(&c, "--model", "tiny-conv", "--ema", "0.5"), 0);
    static ckpt_meta m;
    ckpt_config_meta(&c, NULL, &m);
    ck_assert(!m.full);
    ck_assert_str_eq(meta(&m, "model"), "tiny-conv");
    ck_assert_str_eq(meta(&m, "batch"), "4");
    ck_assert_str_eq(meta(&m, "lr_g"), "0.00100000005");
    ck_assert_str_eq(meta(&m, "ema"), "0.5");
    ck_assert_ptr_nonnull(strstr(meta(&m, "model_spec"), "conv_t 2 4 s2 p1 nobias"));
    /* keras-d's G is an MLP the MLP flags edit */
    ck_assert_int_eq(PARSE(&c, "--model", "keras-d", "--g-hidden", "64", "--z-dim", "10"), 0);
    ck_assert(c.spec.G.in_features == 10 && c.spec.G.l[0].units == 64 && c.spec.D.in_ndim == 3);
    ck_assert_int_eq(PARSE(&c, "--model", "dcgan", "--init", "xavier", "--sigma", "0.1"), 0);
    ck_assert(c.spec.init == TG_INIT_XAVIER && c.spec.sigma == 0.1f);
}
END_TEST

START_TEST(test_preset_flag_errors)
{
    static const char *const bad[][4] = {
        {"dcgan", "--g-hidden", "64", "--g-hidden edits an MLP, but preset dcgan's G is a layer list (give it as "
                                      "--g-arch instead)"},
        {"dcgan", "--dropout", "0.1", "--dropout edits an MLP, but preset dcgan's D is a layer list"},
        {"keras-d", "--d-act", "relu", "--d-act edits an MLP, but preset keras-d's D is a layer list"},
        {"keras-d", "--slope", "0.1", "--slope edits an MLP, but preset keras-d's D"},
        {"dcgan", "--g-arch", "in 100, dense 700, tanh", "G's output is 700 values, D's input 1x28x28 (784 values)"},
        /* the noise width --z-dim allows, whichever way G is given */
        {"dcgan", "--g-arch", "in 65537, dense 784, tanh", "G's input (the noise width) is 65537; train-gan draws at "
                                                           "most 65536"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        result r = RUN("train-gan", "--model", bad[i][0], bad[i][1], bad[i][2], "--out", path("x"));
        ck_assert_msg(r.status == 2 && strstr(r.err, bad[i][3]), "%s %s: %d '%s'", bad[i][0], bad[i][1], r.status,
                      r.err);
        result_free(&r);
    }
    /* --g-arch and the MLP flags of G: one replaces what the other edits */
    result r = RUN("train-gan", "--model", "dcgan", "--g-arch", "in 100, dense 784, tanh", "--z-dim", "10", "--out",
                   path("x"));
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
    ck_assert(!exists(path("x")));
    /* tiny-conv's images are 8x8, the fixture's 28x28 */
    r = RUN("train-gan", "--model", "tiny-conv", "--data", fixtures(), "--out", path("t"), "--quiet");
    ck_assert_msg(r.status == 1 && strstr(r.err, "images are 28x28 = 784 pixels but D takes 64"), "%s", r.err);
    result_free(&r);
    ck_assert(!exists(path("t"))); /* refused before the run's folder is made */
}
END_TEST

/* ----------------------------------------------------------------- EMA */
/* After each G step, shadow = d shadow + (1 - d) value for every value of
 * G, batch_norm's running statistics included; samples use the shadow and
 * leave the live values in place. */
START_TEST(test_ema_step)
{
    gan_cfg c;
    gan_run r;
    tg_error e;
    ck_assert_int_eq(gan_cfg_defaults(&c, "tiny-conv", &e), TG_OK);
    c.ema = 0.75f;
    ck_assert_msg(gan_init(&r, &c, &e) == TG_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(r.ema);
    tg_rng rng;
    tg_rng_seed(&rng, 2, 0);
    tg_rng_fill_uniform(&rng, r.x, (size_t)c.batch * 64, -1, 1);
    gan_stats st;
    ck_assert_int_eq(gan_step(&r, &st, &e), TG_OK);
    const int n = tg_ema_count(r.ema);
    int states = 0;
    size_t tot = 0;
    for (int i = 0; i < n; i++) tot += tg_param_numel(tg_ema_param(r.ema, i));
    float *before = malloc(tot * sizeof *before), *shadow = malloc(tot * sizeof *shadow);
    for (int i = 0, o = 0; i < n; o += (int)tg_param_numel(tg_ema_param(r.ema, i)), i++) {
        tg_param *p = tg_ema_param(r.ema, i);
        ck_assert_str_eq(tg_param_group(p), "G");
        states += tg_param_is_state(p);
        memcpy(before + o, tg_param_data(p), tg_param_numel(p) * sizeof(float));
        memcpy(shadow + o, tg_ema_shadow(r.ema, i), tg_param_numel(p) * sizeof(float));
    }
    ck_assert_int_eq(states, 4); /* two batch_norms' mean and var */
    ck_assert_int_eq(gan_step(&r, &st, &e), TG_OK);
    int moved = 0;
    for (int i = 0, o = 0; i < n; o += (int)tg_param_numel(tg_ema_param(r.ema, i)), i++) {
        tg_param *p = tg_ema_param(r.ema, i);
        for (size_t k = 0; k < tg_param_numel(p); k++) {
            const double want = 0.75 * shadow[o + k] + 0.25 * tg_param_data(p)[k];
            ck_assert_msg(fabs(tg_ema_shadow(r.ema, i)[k] - want) <= 1e-6 * (1 + fabs(want)), "%s[%zu]",
                          tg_param_name(p), k);
            moved += tg_param_data(p)[k] != before[o + k];
        }
    }
    ck_assert_int_gt(moved, 0);
    /* samples: the shadow's, then the live values are back */
    const float *x = gan_fixed_samples(&r);
    ck_assert_ptr_nonnull(x);
    float with[64 * 64], live[64 * 64];
    memcpy(with, x, sizeof with);
    ck_assert_int_eq(tg_plan_forward(r.sp), TG_OK);
    memcpy(live, tg_plan_value(r.sp, r.sout), sizeof live);
    ck_assert(memcmp(with, live, sizeof with) != 0);
    ck_assert_int_eq(gan_ema_swap(&r), TG_OK);
    ck_assert_int_eq(tg_plan_forward(r.sp), TG_OK);
    ck_assert_int_eq(memcmp(with, tg_plan_value(r.sp, r.sout), sizeof with), 0);
    ck_assert_int_eq(gan_ema_swap(&r), TG_OK);
    free(before);
    free(shadow);
    gan_free(&r);
    /* bad decays */
    c.ema = 1.0f;
    ck_assert_int_eq(gan_cfg_check(&c, &e), TG_ERR_ARG);
    c.ema = NAN;
    ck_assert_int_eq(gan_cfg_check(&c, &e), TG_ERR_ARG);
    c.ema = -0.25f;
    ck_assert_int_eq(gan_cfg_check(&c, &e), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "ema"));
}
END_TEST

/* ------------------------------------------------------- end to end */
/* train-gan with a preset on the 10-image fixture at batch 4 */
#define PRESET(model, ...) \
    RUN("train-gan", "--model", model, "--data", fixtures(), "--batch", "4", "--quiet", __VA_ARGS__)
#define DCGAN(...) PRESET("dcgan", __VA_ARGS__)

static void same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = slurp_file(a, &na), *y = slurp_file(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(x, y, na) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

/* 3 epochs straight == 1 epoch, then --resume to 3 on another thread count
 * (checkpoint bytes: weights, running statistics, Adam, the moving average,
 * step, random streams, dropout step) */
START_TEST(test_dcgan_resume)
{
    const char *ema = _i ? "0.9" : "0";
    result r = DCGAN("--out", path("full"), "--epochs", "3", "--threads", "1", "--ema", ema);
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = DCGAN("--out", path("part"), "--epochs", "1", "--threads", "1", "--ema", ema);
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = RUN("train-gan", "--resume", path("part"), "--epochs", "3", "--threads", "2", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    same_bytes(path("full/checkpoint.safetensors"), path("part/checkpoint.safetensors"));
    st_file *f;
    tg_error e;
    ck_assert_int_eq(st_open(path("full/checkpoint.safetensors"), &f, &e), TG_OK);
    ck_assert_str_eq(st_meta(f, "model"), "dcgan");
    ck_assert_str_eq(st_meta(f, "lr_g"), "0.000199999995");
    ck_assert_str_eq(st_meta(f, "beta1"), "0.5");
    ck_assert_str_eq(st_meta(f, "batch"), "4");
    ck_assert_str_eq(st_meta(f, "ema"), _i ? "0.899999976" : "0");
    ck_assert(st_find(f, "G/l1.mean") != NULL);
    ck_assert((st_find(f, "ema/G/l1.mean") != NULL) == _i);
    ck_assert((st_find(f, "ema/G/l0.w") != NULL) == _i);
    ck_assert(st_find(f, "ema/D/l0.w") == NULL);
    st_close(f);
}
END_TEST

/* dcgan-tuned end to end with its own defaults (batch aside: the fixture
 * has 10 images): the checkpoint records them, keeps G's moving average,
 * and --resume goes on with them */
START_TEST(test_tuned_run)
{
    result r = PRESET("dcgan-tuned", "--out", path("t"), "--epochs", "1", "--threads", "2");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = RUN("train-gan", "--resume", path("t"), "--epochs", "2", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    st_file *f;
    tg_error e;
    ck_assert_int_eq(st_open(path("t/checkpoint.safetensors"), &f, &e), TG_OK);
    ck_assert_str_eq(st_meta(f, "model"), "dcgan-tuned");
    ck_assert_str_eq(st_meta(f, "lr_d"), "9.99999975e-05");
    ck_assert_str_eq(st_meta(f, "ema"), "0.999000013");
    ck_assert_ptr_nonnull(strstr(st_meta(f, "model_spec"), "reshape 256x7x7"));
    ck_assert_ptr_nonnull(strstr(st_meta(f, "model_spec"), "leaky_relu 0.2, dropout 0.3, conv 128"));
    ck_assert(st_find(f, "ema/G/l0.w") != NULL && st_find(f, "ema/G/l1.mean") != NULL);
    ck_assert_str_eq(st_meta(f, "step"), "4");
    st_close(f);
    r = RUN("sample", "--checkpoint", path("t/checkpoint.safetensors"), "--n", "3", "--out", path("t.png"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
}
END_TEST

/* sample, graph, gradcheck and bench with dcgan */
START_TEST(test_dcgan_commands)
{
    result r = DCGAN("--out", path("d"), "--epochs", "1", "--threads", "2", "--ema", "0.5");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    /* a sample of batch 1 is the first of a larger batch (eval mode) */
    char ck[256]; /* path() reuses its buffers */
    snprintf(ck, sizeof ck, "%s", path("d/checkpoint.safetensors"));
    r = RUN("sample", "--checkpoint", ck, "--n", "1", "--seed", "4", "--out", path("one.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = RUN("sample", "--checkpoint", ck, "--n", "5", "--seed", "4", "--out", path("five.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t n1, n5;
    unsigned char *a = slurp_file(path("one.idx"), &n1), *b = slurp_file(path("five.idx"), &n5);
    ck_assert(n1 == 16 + 784 && n5 == 16 + 5 * 784);
    ck_assert_int_eq(memcmp(a + 16, b + 16, 784), 0);
    /* ... drawn with the moving average, not the live weights */
    st_file *f;
    tg_error e;
    gan_cfg c;
    float *img[2];
    ck_assert_int_eq(st_open(ck, &f, &e), TG_OK);
    ck_assert_int_eq(ckpt_config(f, &c, NULL, &e), TG_OK);
    for (int k = 0; k < 2; k++) ck_assert_int_eq(gan_sample(&c.spec, f, k, 5, 4, 1, &img[k], &e), TG_OK);
    st_close(f);
    uint8_t u[2][5 * 784];
    for (int k = 0; k < 2; k++) images_to_u8(img[k], 5 * 784, u[k]);
    ck_assert_int_eq(memcmp(u[1], b + 16, sizeof u[1]), 0);
    ck_assert(memcmp(u[0], u[1], sizeof u[0]) != 0);
    free(img[0]);
    free(img[1]);
    free(a);
    free(b);
    r = RUN("sample", "--checkpoint", ck, "--n", "3", "--out", path("s.png"));
    ck_assert_msg(r.status == 0 && exists(path("s.png")), "%s", r.err);
    result_free(&r);
    /* graph */
    r = RUN("graph", "--model", "dcgan", "--net", "gan", "--batch", "2");
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *ops[] = {"conv2d", "conv_transpose2d", "batch_norm", "reshape", "dropout", "2x1x28x28"};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) ck_assert_msg(strstr(r.out, ops[k]), "no %s", ops[k]);
    result_free(&r);
    /* gradcheck */
    r = RUN("gradcheck", "--model", "tiny-conv");
    ck_assert_msg(r.status == 0 && strstr(r.out, "tiny-conv-G-eval") && strstr(r.out, "3 passed, 0 failed"), "%s",
                  r.out);
    result_free(&r);
    r = RUN("gradcheck", "--model", "dcgan");
    ck_assert_msg(r.status == 2 && strstr(r.err, "preset dcgan has 1810946 parameters"), "%s", r.err);
    result_free(&r);
    /* bench: dcgan's GEMM FLOPs (bench/dcgan_step.c's formula: 9.027 GFLOP at batch 64) */
    r = RUN("bench", "gan-step", "--model", "dcgan", "--batch", "4", "--steps", "1", "--repeats", "1", "--threads",
            "1");
    ck_assert_msg(r.status == 0 && strstr(r.out, "model dcgan") && strstr(r.out, "0.5642 GFLOP of GEMM per iteration")
                  && strstr(r.out, "GFLOP/s"), "%s %s", r.out, r.err);
    result_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("presets");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dcgan_layers);
    tcase_add_test(tc, test_dcgan_init);
    tcase_add_test(tc, test_dcgan_views);
    tcase_add_test(tc, test_shape_mismatch);
    tcase_add_test(tc, test_bn_eval_mode);
    tcase_add_test(tc, test_run_samples_eval);
    tcase_add_test(tc, test_ema_step);
    suite_add_tcase(s, tc);
    tc = tcase_create("train-gan");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_preset_defaults);
    tcase_add_test(tc, test_preset_flag_errors);
    tcase_add_loop_test(tc, test_dcgan_resume, 0, 2);
    tcase_add_test(tc, test_dcgan_commands);
    tcase_add_test(tc, test_tuned_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tg_run_suite(suite());
}
