/* test_evaluate.c - `tapegrad evaluate` (and train-gan --eval-every) end to
 * end on the 10-image IDX fixture ($TG_FIXTURES: ten distinct images labelled
 * 0..9, the same in the train and test splits), with a small classifier
 * trained here by `tapegrad train-classifier` until it knows all ten:
 *   the test images themselves     -> Frechet distance 0, entropy log2(10)
 *   one image repeated (collapse)  -> entropy 0, inception score 1
 *   uniform noise                  -> a distance far from 0
 * plus the JSON line and the errors (bad file, wrong size, no classifier, a
 * classifier whose input width is not the images' pixel count). */
#include "check_main.h"
#include "run_bin.h"

#include "classifier.h"

#include <math.h>
#include <stdint.h>

#define LOG2_10 3.321928094887362

static char clf_path[128];

/* an IDX ubyte file n x h x w */
static void write_idx(const char *p, int n, int h, int w, const uint8_t *data)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    const uint8_t head[4] = {0, 0, 8, 3};
    fwrite(head, 1, 4, f);
    const int dims[3] = {n, h, w};
    for (int k = 0; k < 3; k++) {
        const uint8_t be[4] = {(uint8_t)(dims[k] >> 24), (uint8_t)(dims[k] >> 16), (uint8_t)(dims[k] >> 8),
                               (uint8_t)dims[k]};
        fwrite(be, 1, 4, f);
    }
    ck_assert(fwrite(data, 1, (size_t)n * h * w, f) == (size_t)n * h * w);
    ck_assert_int_eq(fclose(f), 0);
}

/* the fixture's image i: (i*31 + r*7 + c*3) % 256, pixels (0,0), (0,1) of
 * image 0 set to 0 and 255 (tests/fixtures/make_idx_fixtures.py) */
static uint8_t fixture_pixel(int i, int r, int c)
{
    if (i == 0 && r == 0 && c < 2) return c ? 255 : 0;
    return (uint8_t)((i * 31 + r * 7 + c * 3) % 256);
}

/* once for the suite (in the parent process): a folder and a classifier */
static void suite_setup(void)
{
    tmp_make("tg_eval");
    snprintf(clf_path, sizeof clf_path, "%s/clf/classifier.safetensors", tmpdir);
    result r = RUN("train-classifier", "--data", fixtures(), "--out", path("clf"), "--epochs", "60", "--batch", "5",
                   "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "train-classifier: exit %d: %s", r.status, r.err);
    result_free(&r);
}

static void suite_teardown(void) { tmp_remove(); }

/* the number after "key": in a JSON line */
static double json_num(const char *s, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    ck_assert_msg(p, "no %s in %s", k, s);
    return strtod(p + strlen(k), NULL);
}

#define EVAL(file) RUN("evaluate", file, "--classifier", clf_path, "--data", fixtures(), "--json", "--threads", "1")

START_TEST(test_real_is_zero)
{
    /* the test images against themselves: the same features, distance 0;
     * all ten digits recognized: entropy log2(10), IS near 10 */
    char img[256];
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte", fixtures());
    result r = EVAL(img);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strchr(r.out, '\n') == r.out + strlen(r.out) - 1, "not one line: %s", r.out);
    ck_assert_int_eq((int)json_num(r.out, "n"), 10);
    ck_assert_double_le(json_num(r.out, "fid"), 1e-6);
    ck_assert_double_eq_tol(json_num(r.out, "entropy_bits"), LOG2_10, 1e-8);
    ck_assert_double_gt(json_num(r.out, "is"), 5);
    ck_assert_ptr_nonnull(strstr(r.out, "\"histogram\":[1,1,1,1,1,1,1,1,1,1]"));
    result_free(&r);
    /* the text block has the same numbers */
    r = RUN("evaluate", img, "--classifier", clf_path, "--data", fixtures(), "--threads", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "Frechet distance"));
    ck_assert_ptr_nonnull(strstr(r.out, "label entropy        3.3219     3.3219"));
    result_free(&r);
}
END_TEST

START_TEST(test_collapse_and_noise)
{
    enum { N = 40 };
    static uint8_t px[N * 784];
    /* collapsed: image 3 forty times: one predicted class, entropy 0, IS 1 */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 784; k++) px[i * 784 + k] = fixture_pixel(3, k / 28, k % 28);
    write_idx(path("collapsed.idx"), N, 28, 28, px);
    result r = EVAL(path("collapsed.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_double_eq_tol(json_num(r.out, "entropy_bits"), 0, 1e-12);
    ck_assert_double_eq_tol(json_num(r.out, "is"), 1, 1e-4);
    ck_assert_ptr_nonnull(strstr(r.out, "\"histogram\":[0,0,0,40,0,0,0,0,0,0]"));
    double fid_collapsed = json_num(r.out, "fid");
    result_free(&r);
    /* uniform noise: far from the test set, and farther than real digits */
    uint64_t s = 12345;
    for (int k = 0; k < N * 784; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        px[k] = (uint8_t)(s >> 56);
    }
    write_idx(path("noise.idx"), N, 28, 28, px);
    r = EVAL(path("noise.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    double fid_noise = json_num(r.out, "fid");
    ck_assert_msg(fid_noise > 1, "noise: distance %g", fid_noise);
    ck_assert_msg(fid_collapsed > 0.01, "collapsed: distance %g", fid_collapsed);
    result_free(&r);
}
END_TEST

START_TEST(test_errors)
{
    char p[256];
    /* not an IDX file */
    snprintf(p, sizeof p, "%s/bad_magic.idx", fixtures());
    result r = EVAL(p);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "bad_magic.idx"));
    result_free(&r);
    /* images of the wrong size */
    static uint8_t px[3 * 27 * 29];
    write_idx(path("small.idx"), 3, 27, 29, px);
    r = EVAL(path("small.idx"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "3 x 27 x 29"));
    ck_assert_ptr_nonnull(strstr(r.err, "N x 28 x 28"));
    result_free(&r);
    /* one image: no covariance */
    write_idx(path("one.idx"), 1, 28, 28, px);
    r = EVAL(path("one.idx"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "at least 2"));
    result_free(&r);
    /* no classifier: says how to make one */
    r = RUN("evaluate", path("small.idx"), "--classifier", path("none/classifier.safetensors"), "--data", fixtures());
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not found"));
    ck_assert_ptr_nonnull(strstr(r.err, "tapegrad train-classifier"));
    result_free(&r);
    /* usage */
    r = RUN("evaluate");
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
    r = RUN("evaluate", path("small.idx"), "--bogus");
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
}
END_TEST

/* an untrained in-16-10 classifier checkpoint, written by the tools' own
 * writer (clf_save) */
static void write_clf(const char *p, int in)
{
    clf_cfg c;
    tg_error err;
    ck_assert_int_eq(clf_cfg_defaults(&c, NULL), 0);
    c.spec.widths[0] = in;
    ck_assert_msg(clf_parse_hidden(&c, "16", &err) == 0, "%s", err.msg);
    c.threads = 1;
    clf *m = clf_new(&c, &err);
    ck_assert_msg(m, "%s", err.msg);
    ck_assert_msg(clf_save(m, p, 0, "none", &err) == 0, "%s", err.msg);
    clf_free(m);
}

START_TEST(test_classifier_width)
{
    /* A classifier 1000 inputs wide on 28x28 = 784-pixel images would read
     * 216 floats past each image batch (the test set's, then the samples');
     * one 100 wide would read the images out of step. Both are refused
     * before any image goes through them, naming both sizes. */
    char img[256];
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte", fixtures());
    const int widths[2] = {1000, 100};
    for (int k = 0; k < 2; k++) {
        char name[64], want[64];
        snprintf(name, sizeof name, "wide%d.safetensors", widths[k]);
        write_clf(path(name), widths[k]);
        result r = RUN("evaluate", img, "--classifier", path(name), "--data", fixtures(), "--json", "--threads", "1");
        ck_assert_msg(r.status == 1, "width %d: exit %d: %s", widths[k], r.status, r.err);
        snprintf(want, sizeof want, "takes %d inputs per image", widths[k]);
        ck_assert_msg(strstr(r.err, want), "width %d: %s", widths[k], r.err);
        ck_assert_msg(strstr(r.err, "28x28 = 784 pixels"), "width %d: %s", widths[k], r.err);
        ck_assert_msg(!strstr(r.err, "AddressSanitizer"), "%s", r.err);
        ck_assert_str_eq(r.out, "");
        result_free(&r);
        /* train-gan --eval-every pairs the same classifier with the test set
         * (and G's samples): refused before the run folder is made */
        r = RUN("train-gan", "--data", fixtures(), "--batch", "4", "--threads", "1", "--quiet", "--epochs", "1",
                "--eval-every", "1", "--classifier", path(name), "--out", path("gan_wide"));
        ck_assert_msg(r.status == 1, "width %d: exit %d: %s", widths[k], r.status, r.err);
        ck_assert_msg(strstr(r.err, want), "width %d: %s", widths[k], r.err);
        ck_assert_msg(strstr(r.err, "28x28 = 784 pixels"), "width %d: %s", widths[k], r.err);
        ck_assert_msg(!strstr(r.err, "AddressSanitizer"), "%s", r.err);
        ck_assert_int_ne(access(path("gan_wide"), F_OK), 0);
        result_free(&r);
    }
}
END_TEST

START_TEST(test_train_gan_eval_every)
{
    /* train-gan --eval-every 2 for 3 epochs: rows after epochs 2 and 3 */
    result r = RUN("train-gan", "--data", fixtures(), "--batch", "4", "--threads", "1", "--quiet", "--epochs", "3",
                   "--eval-every", "2", "--classifier", clf_path, "--out", path("gan"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    result_free(&r);
    FILE *f = fopen(path("gan/eval.csv"), "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "epoch,step,n,fid,is,entropy_bits,mean_confidence\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert(!strncmp(line, "2,4,2000,", 9));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert(!strncmp(line, "3,6,2000,", 9));
    ck_assert_ptr_null(fgets(line, sizeof line, f));
    fclose(f);
    /* metrics.csv keeps its columns */
    f = fopen(path("gan/metrics.csv"), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s\n");
    fclose(f);
    /* --resume alone, from another folder: the checkpoint remembers
     * --eval-every, the classifier and the data folder; a row after epoch 4,
     * the last */
    ck_assert_int_eq(mkdir(path("cwd"), 0777), 0);
    r = RUN_IN(path("cwd"), "train-gan", "--resume", path("gan"), "--epochs", "4", "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    result_free(&r);
    char *csv = slurp_text(path("gan/eval.csv"));
    ck_assert_msg(strstr(csv, "\n3,6,2000,") && strstr(csv, "\n4,8,2000,"), "%s", csv);
    free(csv);
    /* --eval-every 0 turns it off (and is remembered) */
    r = RUN_IN(path("cwd"), "train-gan", "--resume", path("gan"), "--epochs", "5", "--eval-every", "0", "--quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    result_free(&r);
    r = RUN_IN(path("cwd"), "train-gan", "--resume", path("gan"), "--epochs", "6", "--quiet");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    result_free(&r);
    csv = slurp_text(path("gan/eval.csv"));
    ck_assert_msg(strstr(csv, "\n4,8,2000,") && !strstr(csv, "\n5,") && !strstr(csv, "\n6,"), "%s", csv);
    free(csv);
    /* a remembered classifier that is gone is named */
    copy_file(clf_path, path("clf2.safetensors"));
    r = RUN("train-gan", "--data", fixtures(), "--batch", "4", "--threads", "1", "--quiet", "--epochs", "1",
            "--eval-every", "1", "--classifier", path("clf2.safetensors"), "--out", path("gan3"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    result_free(&r);
    ck_assert_int_eq(unlink(path("clf2.safetensors")), 0);
    r = RUN_IN(path("cwd"), "train-gan", "--resume", path("gan3"), "--epochs", "2");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, path("clf2.safetensors")), "%s", r.err);
    result_free(&r);
    /* a missing classifier stops before the run folder is made */
    r = RUN("train-gan", "--data", fixtures(), "--epochs", "1", "--eval-every", "1", "--classifier",
            path("none.safetensors"), "--out", path("gan2"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "train-classifier"));
    ck_assert_int_ne(access(path("gan2"), F_OK), 0);
    result_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("evaluate");
    TCase *c = tcase_create("cli");
    tcase_add_unchecked_fixture(c, suite_setup, suite_teardown);
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_real_is_zero);
    tcase_add_test(c, test_collapse_and_noise);
    tcase_add_test(c, test_errors);
    tcase_add_test(c, test_classifier_width);
    tcase_add_test(c, test_train_gan_eval_every);
    suite_add_tcase(s, c);
    return s;
}

int main(void) { return tg_run_suite(suite()); }
