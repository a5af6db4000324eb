/* test_classifier.c - the MLP classifier (tools/train/classifier.c, linked here)
 * and the commands train-classifier and activations (run as a binary) on
 * the 10-image IDX fixture ($TG_FIXTURES: ten distinct images labelled 0..9,
 * the same in the train and t10k splits):
 *   core    training loss decreases on a tiny net; a checkpoint round-trips
 *           exactly (same logits); feature shapes; probabilities sum to 1
 *   limits  evaluation at sizes around the eval batch (graph per size);
 *           each activation's engine derivative matches a finite difference
 *   errors  missing / corrupt / foreign checkpoints, bad flags (exit 2) */
#include "check_main.h"
#include "run_bin.h"

#include "classifier.h"
#include "idx.h"
#include "safetensors.h"

#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

static void setup(void) { tmp_make("tg_clf"); }
static void teardown(void) { tmp_remove(); }

/* a tiny classifier 784-16-12-10 at batch 5 (2 iterations per epoch), Adam 1e-2 */
static clf_cfg tiny(const char *act)
{
    clf_cfg c;
    ck_assert_int_eq(clf_cfg_defaults(&c, act), 0);
    tg_error err;
    ck_assert_msg(clf_parse_hidden(&c, "16,12", &err) == 0, "%s", err.msg);
    c.batch = 5;
    c.threads = 1;
    c.seed = 7;
    c.lr = 1e-2f;
    return c;
}

static void load(mnist_set *s)
{
    tg_error err;
    ck_assert_msg(mnist_load(fixtures(), "train", s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s->n, 10);
}

START_TEST(test_defaults)
{
    clf_cfg c;
    ck_assert_int_eq(clf_cfg_defaults(&c, NULL), 0);
    char w[64];
    clf_widths_str(&c.spec, '-', w, sizeof w);
    ck_assert_str_eq(w, "784-512-256-128-10");
    ck_assert_int_eq(c.spec.hidden, TG_ACT_RELU);
    ck_assert_int_eq(c.batch, 64);
    ck_assert_int_eq(c.epochs, 10);
    ck_assert(c.lr == 1e-3f);
    ck_assert_str_eq(c.spec.group, "C");
    ck_assert_int_eq(clf_cfg_defaults(&c, "tanh"), 0);
    ck_assert_int_eq(c.spec.hidden, TG_ACT_TANH);
    ck_assert_int_eq(clf_cfg_defaults(&c, "softmax"), -1);
    ck_assert_int_eq(clf_cfg_defaults(&c, "none"), -1);
    tg_error err;
    ck_assert_int_eq(clf_parse_hidden(&c, "", &err), TG_ERR_ARG);
    ck_assert_int_eq(clf_parse_hidden(&c, "12,x", &err), TG_ERR_ARG);
    ck_assert_int_eq(clf_parse_hidden(&c, "1,2,3,4,5,6,7,8", &err), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "at most 7 hidden layers"));
    ck_assert_int_eq(clf_parse_hidden(&c, "7", &err), 0);
    clf_widths_str(&c.spec, ',', w, sizeof w);
    ck_assert_str_eq(w, "784,7,10");
}
END_TEST

START_TEST(test_loss_decreases)
{
    mnist_set s = {0};
    load(&s);
    clf_cfg c = tiny("relu");
    tg_error err;
    clf *m = clf_new(&c, &err);
    ck_assert_msg(m, "%s", err.msg);
    double first = clf_train_epoch(m, s.images, s.labels, s.n, &err), last = first;
    ck_assert_msg(isfinite(first), "%s", err.msg);
    for (int e = 0; e < 60; e++) {
        last = clf_train_epoch(m, s.images, s.labels, s.n, &err);
        ck_assert_msg(isfinite(last), "%s", err.msg);
    }
    ck_assert_int_eq(clf_epochs_done(m), 61);
    /* 10 classes at init: about log 10 = 2.30; after 60 epochs far lower */
    ck_assert_msg(first > 1.5 && last < 0.5 * first, "loss %g -> %g", first, last);
    double loss, acc;
    ck_assert_int_eq(clf_evaluate(m, s.images, s.labels, s.n, &loss, &acc, &err), 0);
    ck_assert_msg(acc >= 0.9, "accuracy %g after 61 epochs on 10 images", acc);
    ck_assert(loss < first);
    /* a batch larger than the data is an error, not a crash */
    ck_assert(isnan(clf_train_epoch(m, s.images, s.labels, 4, &err)));
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than the 4 training images"));
    clf_free(m);
    mnist_free(&s);
}
END_TEST

START_TEST(test_checkpoint_round_trip)
{
    mnist_set s = {0};
    load(&s);
    clf_cfg c = tiny("leaky_relu");
    c.spec.slope = 0.05f;
    tg_error err;
    clf *m = clf_new(&c, &err);
    ck_assert_msg(m, "%s", err.msg);
    for (int e = 0; e < 3; e++) ck_assert_msg(isfinite(clf_train_epoch(m, s.images, s.labels, s.n, &err)), "%s", err.msg);
    const int d = clf_feat_dim(m);
    ck_assert_int_eq(d, 12);
    float *f1 = malloc(sizeof(float) * 10 * d), *f2 = malloc(sizeof(float) * 10 * d);
    float p1[100], p2[100];
    ck_assert_int_eq(clf_features(m, s.images, 10, f1, p1, &err), 0);
    ck_assert_msg(clf_save(m, path("c.safetensors"), 0.5, "fixture", &err) == 0, "%s", err.msg);
    clf *l = clf_load(path("c.safetensors"), 2, &err);
    ck_assert_msg(l, "%s", err.msg);
    ck_assert_int_eq(clf_feat_dim(l), d);
    ck_assert_int_eq(clf_epochs_done(l), 3);
    ck_assert_int_eq(clf_config(l)->spec.hidden, TG_ACT_LEAKY_RELU);
    ck_assert(clf_config(l)->spec.slope == 0.05f);
    ck_assert_int_eq(clf_features(l, s.images, 10, f2, p2, &err), 0);
    ck_assert_msg(memcmp(f1, f2, sizeof(float) * 10 * d) == 0, "features differ after a round trip");
    ck_assert_msg(memcmp(p1, p2, sizeof p1) == 0, "probabilities differ after a round trip");
    /* the metadata the header documents */
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path("c.safetensors"), &f, &err), TG_OK);
    ck_assert_str_eq(st_meta(f, "format"), "tapegrad-classifier/1");
    ck_assert_str_eq(st_meta(f, "widths"), "784,16,12,10");
    ck_assert_str_eq(st_meta(f, "act"), "leaky_relu");
    ck_assert_str_eq(st_meta(f, "seed"), "7");
    ck_assert_str_eq(st_meta(f, "dataset"), "fixture");
    ck_assert_ptr_nonnull(st_meta(f, "test_accuracy"));
    ck_assert_ptr_nonnull(st_find(f, "C/l0.w"));
    ck_assert_ptr_nonnull(st_find(f, "C/l2.b"));
    ck_assert_uint_eq(st_count(f), 6);
    st_close(f);
    clf_free(l);
    clf_free(m);
    free(f1);
    free(f2);
    mnist_free(&s);
}
END_TEST

START_TEST(test_features)
{
    mnist_set s = {0};
    load(&s);
    clf_cfg c = tiny("sigmoid");
    tg_error err;
    clf *m = clf_new(&c, &err);
    ck_assert_msg(m, "%s", err.msg);
    /* sizes around the eval batch: 1, 10, 1000 + 3 (two graphs) */
    const int sizes[3] = {1, 10, CLF_EVAL_BATCH + 3};
    const int n = sizes[2], d = clf_feat_dim(m);
    float *x = malloc(sizeof(float) * 784 * n), *f = malloc(sizeof(float) * d * n), *p = malloc(sizeof(float) * 10 * n);
    for (int i = 0; i < n; i++) memcpy(x + (size_t)i * 784, s.images + (size_t)(i % 10) * 784, 784 * sizeof(float));
    float ref[10 * 10];
    ck_assert_int_eq(clf_features(m, x, 10, NULL, ref, &err), 0);
    for (int k = 0; k < 3; k++) {
        for (size_t e = 0; e < (size_t)d * n; e++) f[e] = -1;
        ck_assert_msg(clf_features(m, x, sizes[k], f, p, &err) == 0, "%s", err.msg);
        for (int i = 0; i < sizes[k]; i++) {
            double sum = 0;
            for (int j = 0; j < 10; j++) {
                ck_assert(p[i * 10 + j] >= 0 && p[i * 10 + j] <= 1);
                sum += p[i * 10 + j];
                /* the same image gives the same row whatever the batch */
                ck_assert_msg(fabsf(p[i * 10 + j] - ref[(i % 10) * 10 + j]) < 1e-6f, "n=%d row %d", sizes[k], i);
            }
            ck_assert_msg(fabs(sum - 1) < 1e-5, "row %d sums to %g", i, sum);
            for (int j = 0; j < d; j++) /* sigmoid features lie in (0, 1) */
                ck_assert(f[(size_t)i * d + j] > 0 && f[(size_t)i * d + j] < 1);
        }
    }
    /* only probabilities, only features */
    ck_assert_int_eq(clf_features(m, x, 5, f, NULL, &err), 0);
    ck_assert_int_eq(clf_features(m, x, 0, f, p, &err), TG_ERR_ARG);
    double loss, acc;
    ck_assert_int_eq(clf_evaluate(m, x, s.labels, 10, &loss, &acc, &err), 0);
    ck_assert(loss > 0 && acc >= 0 && acc <= 1);
    int32_t bad[10];
    memcpy(bad, s.labels, sizeof bad);
    bad[3] = 11;
    ck_assert_int_eq(clf_evaluate(m, x, bad, 10, &loss, &acc, &err), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 11"));
    clf_free(m);
    free(x);
    free(f);
    free(p);
    mnist_free(&s);
}
END_TEST

/* each activation's derivative from the engine's backward against a central
 * difference of the engine's forward, away from the kinks at 0 */
START_TEST(test_act_derivatives)
{
    const tg_act acts[4] = {TG_ACT_RELU, TG_ACT_LEAKY_RELU, TG_ACT_SIGMOID, TG_ACT_TANH};
    const float pts[6] = {-4.1f, -1.3f, -0.2f, 0.3f, 1.7f, 4.6f};
    const float h = 1e-2f;
    float x[18], y[18], dy[18];
    tg_error err;
    for (int a = 0; a < 4; a++) {
        for (int i = 0; i < 6; i++) {
            x[3 * i] = pts[i] - h;
            x[3 * i + 1] = pts[i];
            x[3 * i + 2] = pts[i] + h;
        }
        ck_assert_msg(clf_act_curve(acts[a], 0.1f, x, 18, y, dy, &err) == 0, "%s", err.msg);
        for (int i = 0; i < 6; i++) {
            double fd = ((double)y[3 * i + 2] - y[3 * i]) / ((double)x[3 * i + 2] - x[3 * i]);
            ck_assert_msg(fabs(fd - dy[3 * i + 1]) < 2e-4, "%s'(%g): backward %g, finite difference %g",
                          tg_act_name(acts[a]), (double)pts[i], (double)dy[3 * i + 1], fd);
        }
    }
    /* hand values: relu'(-1.3) = 0, leaky_relu'(-1.3) = slope, sigmoid'(0.3) =
     * s(1-s), tanh'(1.7) = 1 - tanh^2 */
    x[0] = -1.3f;
    x[1] = 0.3f;
    x[2] = 1.7f;
    ck_assert_int_eq(clf_act_curve(TG_ACT_LEAKY_RELU, 0.1f, x, 3, y, dy, &err), 0);
    ck_assert_float_eq_tol(dy[0], 0.1f, 1e-7f);
    ck_assert_float_eq_tol(y[0], -0.13f, 1e-6f);
    ck_assert_int_eq(clf_act_curve(TG_ACT_SIGMOID, 0, x, 3, y, dy, &err), 0);
    double s = 1 / (1 + exp(-0.3));
    ck_assert_double_eq_tol(dy[1], s * (1 - s), 1e-6);
    ck_assert_int_eq(clf_act_curve(TG_ACT_TANH, 0, x, 3, y, dy, &err), 0);
    ck_assert_double_eq_tol(dy[2], 1 - tanh(1.7) * tanh(1.7), 1e-6);
    ck_assert_int_eq(clf_act_curve(TG_ACT_RELU, 0, x, 0, y, dy, &err), TG_ERR_ARG);
}
END_TEST

START_TEST(test_bad_checkpoints)
{
    tg_error err;
    /* missing */
    ck_assert_ptr_null(clf_load(path("nope.safetensors"), 1, &err));
    ck_assert_msg(strstr(err.msg, "nope.safetensors"), "%s", err.msg);
    /* not safetensors */
    FILE *f = fopen(path("junk.safetensors"), "wb");
    fputs("this is not a checkpoint", f);
    fclose(f);
    ck_assert_ptr_null(clf_load(path("junk.safetensors"), 1, &err));
    ck_assert_msg(strstr(err.msg, "safetensors"), "%s", err.msg);
    /* a good one, then truncated, then with a wrong shape, a foreign format */
    mnist_set s = {0};
    load(&s);
    clf_cfg c = tiny("tanh");
    clf *m = clf_new(&c, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(clf_save(m, path("good.safetensors"), 0, "x", &err), 0);
    clf_free(m);
    mnist_free(&s);
    f = fopen(path("good.safetensors"), "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n);
    ck_assert(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    f = fopen(path("short.safetensors"), "wb");
    fwrite(b, 1, (size_t)n - 100, f);
    fclose(f);
    ck_assert_ptr_null(clf_load(path("short.safetensors"), 1, &err));
    ck_assert_msg(err.msg[0], "no message for a truncated file");
    free(b);
    /* tensors of the wrong shape under the right names */
    float z[16 * 3] = {0};
    st_tensor t[1] = {{"C/l0.w", ST_F32, 2, (int[]){16, 3}, z}};
    st_kv kv[6] = {{"format", "tapegrad-classifier/1"}, {"widths", "784,16,12,10"}, {"act", "relu"},
                   {"slope", "0.01"}, {"epochs", "1"}, {"seed", "1"}};
    ck_assert_int_eq(st_write(path("shape.safetensors"), t, 1, kv, 6, &err), TG_OK);
    ck_assert_ptr_null(clf_load(path("shape.safetensors"), 1, &err));
    ck_assert_msg(strstr(err.msg, "C/l0.w"), "%s", err.msg);
    kv[2].value = "swish";
    ck_assert_int_eq(st_write(path("act.safetensors"), t, 1, kv, 6, &err), TG_OK);
    ck_assert_ptr_null(clf_load(path("act.safetensors"), 1, &err));
    ck_assert_msg(strstr(err.msg, "swish"), "%s", err.msg);
    kv[0].value = "tapegrad-gan/1";
    ck_assert_int_eq(st_write(path("gan.safetensors"), t, 1, kv, 6, &err), TG_OK);
    ck_assert_ptr_null(clf_load(path("gan.safetensors"), 1, &err));
    ck_assert_msg(strstr(err.msg, "tapegrad-gan/1"), "%s", err.msg);
    ck_assert_int_eq(st_write(path("nometa.safetensors"), t, 1, NULL, 0, &err), TG_OK);
    ck_assert_ptr_null(clf_load(path("nometa.safetensors"), 1, &err));
    ck_assert_msg(strstr(err.msg, "format"), "%s", err.msg);
}
END_TEST

/* ---- the commands ---- */
#define TRAIN(...) RUN("train-classifier", "--data", fixtures(), "--batch", "5", "--threads", "1", __VA_ARGS__)

START_TEST(test_cmd_train)
{
    result r = TRAIN("--out", path("run"), "--epochs", "4", "--hidden", "24,12", "--activation", "tanh");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "784-24-12-10 tanh"));
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 4/4: train loss"));
    ck_assert_ptr_nonnull(strstr(r.out, "test accuracy"));
    result_free(&r);
    FILE *f = fopen(path("run/metrics.csv"), "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "epoch,train_loss,test_loss,test_accuracy,epoch_seconds\n");
    int rows = 0;
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    ck_assert_int_eq(rows, 4);
    tg_error err;
    clf *m = clf_load(path("run/classifier.safetensors"), 1, &err);
    ck_assert_msg(m, "%s", err.msg);
    ck_assert_int_eq(clf_feat_dim(m), 12);
    ck_assert_int_eq(clf_epochs_done(m), 4);
    clf_free(m);
}
END_TEST

START_TEST(test_cmd_bad_flags)
{
    static const char *const bad[][2] = {
        {"--activation", "swish"}, {"--activation", "none"}, {"--hidden", "0"},    {"--hidden", "64,abc"},
        {"--hidden", ""},          {"--hidden", "8,"},       {"--epochs", "0"},    {"--batch", "-3"},
        {"--lr", "0"},             {"--hidden", "1,2,3,4,5,6,7,8"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        result r = TRAIN("--out", path("bad"), bad[k][0], bad[k][1]);
        ck_assert_msg(r.status == 2, "%s %s: exit %d", bad[k][0], bad[k][1], r.status);
        ck_assert_msg(strstr(r.err, bad[k][0]) && strstr(r.err, "train-classifier"), "%s %s: message '%s'",
                      bad[k][0], bad[k][1], r.err);
        result_free(&r);
    }
    ck_assert(!exists(path("bad")));
    result r = TRAIN("--frobnicate");
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
    r = TRAIN("--batch", "64", "--out", path("big"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "larger than the 10 training images"));
    result_free(&r);
    r = RUN("train-classifier", "--data", path("nowhere"), "--out", path("x"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "fetch MNIST"));
    result_free(&r);
    r = RUN("activations", "--data", fixtures(), "--activation", "relu");
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
    r = RUN("activations", "--data", fixtures(), "--hidden", "x");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--hidden"));
    result_free(&r);
}
END_TEST

START_TEST(test_cmd_activations)
{
    result r = RUN("activations", "--data", fixtures(), "--out", path("act"), "--epochs", "3", "--batch", "5",
                   "--hidden", "16", "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    /* the summary table names all four */
    const char *names[4] = {"relu", "leaky_relu", "sigmoid", "tanh"};
    for (int a = 0; a < 4; a++) {
        char p[64];
        ck_assert_msg(strstr(r.out, names[a]), "%s missing from the summary: %s", names[a], r.out);
        snprintf(p, sizeof p, "act/activation-%s.png", names[a]);
        ck_assert_msg(exists(path(p)), "no %s", p);
        snprintf(p, sizeof p, "act/classifier-%s.safetensors", names[a]);
        ck_assert_msg(exists(path(p)), "no %s", p);
    }
    ck_assert_ptr_nonnull(strstr(r.out, "s/epoch"));
    result_free(&r);
    ck_assert(exists(path("act/activations-train-loss.png")));
    ck_assert(exists(path("act/activations-test-loss.png")));
    ck_assert(exists(path("act/activations-test-accuracy.png")));
    FILE *f = fopen(path("act/activations.csv"), "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int rows = 0, per[4] = {0};
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "activation,epoch,train_loss,test_loss,test_accuracy,epoch_seconds\n");
    while (fgets(line, sizeof line, f)) {
        rows++;
        for (int a = 0; a < 4; a++)
            if (!strncmp(line, names[a], strlen(names[a])) && line[strlen(names[a])] == ',') per[a]++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 12);
    for (int a = 0; a < 4; a++) ck_assert_int_eq(per[a], 3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("classifier");
    TCase *core = tcase_create("core"), *lim = tcase_create("limits"), *errs = tcase_create("errors"),
          *cmd = tcase_create("commands");
    tcase_set_timeout(core, 60);
    tcase_set_timeout(lim, 60);
    tcase_set_timeout(errs, 60);
    tcase_set_timeout(cmd, 120);
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_checked_fixture(cmd, setup, teardown);
    tcase_add_test(core, test_defaults);
    tcase_add_test(core, test_loss_decreases);
    tcase_add_test(core, test_checkpoint_round_trip);
    tcase_add_test(lim, test_features);
    tcase_add_test(lim, test_act_derivatives);
    tcase_add_test(errs, test_bad_checkpoints);
    tcase_add_test(cmd, test_cmd_train);
    tcase_add_test(cmd, test_cmd_bad_flags);
    tcase_add_test(cmd, test_cmd_activations);
    suite_add_tcase(s, core);
    suite_add_tcase(s, lim);
    suite_add_tcase(s, errs);
    suite_add_tcase(s, cmd);
    return s;
}

int main(void)
{
    return tg_run_suite(suite());
}
