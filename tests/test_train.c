/* test_train.c - `tapegrad train-gan` and `tapegrad sample` end to end on the
 * 10-image IDX fixture (tests/fixtures/idx, $TG_FIXTURES): the run folder's
 * files, bit-exact --resume, checkpoints that are corrupt or truncated, and
 * bad flags; checkpoints of the previous format (tests/fixtures/legacy) and
 * models given as layer lists (--g-arch, --d-arch). The reference model at
 * batch 4: 2 iterations per epoch. */
#include "check_main.h"
#include "run_bin.h"
#include "safetensors.h"

#include <stdint.h>
#include <sys/stat.h>

static void setup(void) { tmp_make("tg_train"); }
static void teardown(void) { tmp_remove(); }

/* TRAIN(out folder, epochs, more args...) */
#define TRAIN(...) RUN("train-gan", "--data", fixtures(), "--batch", "4", "--threads", "1", "--quiet", __VA_ARGS__)

START_TEST(test_run_files)
{
    result r = TRAIN("--out", path("a"), "--epochs", "2", "--log-every", "1");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert(exists(path("a/checkpoint.safetensors")));
    ck_assert(exists(path("a/samples/epoch-001.png")));
    ck_assert(exists(path("a/samples/epoch-002.png")));
    ck_assert(exists(path("a/losses.png")));
    ck_assert(exists(path("a/d_outputs.png")));
    size_t n;
    char *csv = (char *)slurp_file(path("a/metrics.csv"), &n);
    csv = realloc(csv, n + 1);
    csv[n] = 0;
    ck_assert_ptr_nonnull(strstr(csv, "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s\n"));
    ck_assert_ptr_nonnull(strstr(csv, "\n4,2,")); /* 2 iterations per epoch, a row each */
    free(csv);
    result_free(&r);
    /* a second run into the same folder is refused, not overwritten */
    r = TRAIN("--out", path("a"), "--epochs", "1");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "already holds a run"));
    result_free(&r);
}
END_TEST

START_TEST(test_resume_bit_exact)
{
    /* 3 epochs straight == 1 epoch, then --resume to 3 (checkpoint bytes, so
     * weights, Adam moments, step, rng streams and dropout step) */
    result r = TRAIN("--out", path("full"), "--epochs", "3");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = TRAIN("--out", path("part"), "--epochs", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = RUN("train-gan", "--resume", path("part"), "--data", fixtures(), "--epochs", "3", "--threads", "2", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t na, nb;
    unsigned char *a = slurp_file(path("full/checkpoint.safetensors"), &na);
    unsigned char *b = slurp_file(path("part/checkpoint.safetensors"), &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "resumed checkpoint differs from the uninterrupted run's");
    free(a);
    free(b);
    /* resuming changes nothing but what may change */
    r = RUN("train-gan", "--resume", path("part"), "--data", fixtures(), "--lr-g", "0.1");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--resume continues a run with its own settings"));
    result_free(&r);
}
END_TEST

/* text appended to a file */
static void append(const char *p, const char *s)
{
    FILE *f = fopen(p, "ab");
    ck_assert_ptr_nonnull(f);
    fputs(s, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_file(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert(fwrite(b, 1, n, f) == n);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_str(const char *p, const char *s) { put_file(p, s, strlen(s)); }

static int same_file(const char *p, const void *b, size_t n)
{
    size_t m;
    unsigned char *c = slurp_file(p, &m);
    int same = m == n && !memcmp(b, c, n);
    free(c);
    return same;
}

START_TEST(test_resume_cuts_logs)
{
    /* --resume cuts metrics.csv and eval.csv back to the checkpoint's step
     * (rows a killed run logged after it, a torn last line), removes the
     * temporary files of an interrupted write, and refuses to touch a log it
     * cannot read. --epochs 1 on a checkpoint after epoch 1 trains nothing. */
#define RESUME(...) RUN("train-gan", "--resume", path("l"), "--data", fixtures(), "--epochs", "1", __VA_ARGS__)
    result r = TRAIN("--out", path("l"), "--epochs", "1", "--log-every", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t n;
    unsigned char *orig = slurp_file(path("l/metrics.csv"), &n); /* header, steps 1 and 2 */
    append(path("l/metrics.csv"), "3,2,1,1,1,1,1,1,0.5\n4,2,1,1,1,1,1,1,0.6\n5,2,0.3");
#define EVAL_ROWS "epoch,step,n,fid,is,entropy_bits,mean_confidence\n1,2,2000,1,1,1,1\n"
    put_str(path("l/eval.csv"), EVAL_ROWS "2,4,2000,1,1,1,1\n");
    put_str(path("l/checkpoint.safetensors.tmp.aB3xYz"), "x");
    put_str(path("l/samples/epoch-002.png.tmp.Qq09Zz"), "x");
    put_str(path("l/notes.tmp.abcdef"), "x"); /* not the run's: stays */
    r = RESUME("--threads", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "metrics.csv: dropped 3 lines logged after the checkpoint (step 2)"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "eval.csv: dropped 1 line logged after the checkpoint (step 2)"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "removed 2 temporary files"), "%s", r.out);
    result_free(&r);
    ck_assert(same_file(path("l/metrics.csv"), orig, n));
    ck_assert(same_file(path("l/eval.csv"), EVAL_ROWS, strlen(EVAL_ROWS)));
    ck_assert(!exists(path("l/checkpoint.safetensors.tmp.aB3xYz")));
    ck_assert(!exists(path("l/samples/epoch-002.png.tmp.Qq09Zz")));
    ck_assert(exists(path("l/notes.tmp.abcdef")));
    /* a torn header (a crash right after the file was made): an empty log, then a header */
    put_str(path("l/eval.csv"), "epoch,step,n,f");
    r = RESUME("--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    ck_assert(same_file(path("l/eval.csv"), "", 0));
    /* a row that is not a row, or another header: an error naming the line, the file untouched */
    const char *bad[][2] = {
        {"not a row\n3,2,1,1,1,1,1,1,0.5\n", "metrics.csv: line 4 is not a row of 9 fields"},
        {"3,2,1,1\n", "metrics.csv: line 4 is not a row of 9 fields"},
        {"x3,2,1,1,1,1,1,1,0.5\n", "metrics.csv: line 4 is not a row of 9 fields"},
        /* kept rows are read as strictly as metrics.csv is read back: before the cut */
        {"2,1,1,1,1,1,1,1,1e999\n3,2,1,1,1,1,1,1,0.5\n", "metrics.csv: line 4 is not 9 finite numbers"},
        {"2,1,1,1,1,1,1,1,0.5 \n", "metrics.csv: line 4 is not 9 finite numbers"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        put_file(path("l/metrics.csv"), orig, n);
        append(path("l/metrics.csv"), bad[k][0]);
        size_t m;
        unsigned char *before = slurp_file(path("l/metrics.csv"), &m);
        r = RESUME("--quiet");
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, bad[k][1]), "%s", r.err);
        result_free(&r);
        ck_assert(same_file(path("l/metrics.csv"), before, m));
        free(before);
    }
    put_str(path("l/metrics.csv"), "step,epoch\n1,1\n");
    r = RESUME("--quiet");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "metrics.csv: the first line is not the header"), "%s", r.err);
    result_free(&r);
    ck_assert(same_file(path("l/metrics.csv"), "step,epoch\n1,1\n", 15));
    put_file(path("l/metrics.csv"), orig, n);
    put_str(path("l/eval.csv"), "epoch,step\n");
    r = RESUME("--quiet");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "eval.csv: the first line is not the header"), "%s", r.err);
    result_free(&r);
    /* repaired, the run goes on: each step once */
    put_file(path("l/metrics.csv"), orig, n);
    put_str(path("l/eval.csv"), EVAL_ROWS);
    append(path("l/metrics.csv"), "3,2,1,1,1,1,1,1,0.5\n");
    r = RUN("train-gan", "--resume", path("l"), "--data", fixtures(), "--epochs", "2", "--log-every", "1", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t m;
    char *csv = (char *)slurp_file(path("l/metrics.csv"), &m);
    csv = realloc(csv, m + 1);
    csv[m] = 0;
    ck_assert_msg(!strncmp(csv, (const char *)orig, n), "%s", csv);
    ck_assert_msg(!strncmp(csv + n, "3,2,", 4) && strstr(csv + n, "\n4,2,") && !strstr(csv + n, "0.5\n"), "%s", csv);
    free(csv);
    free(orig);
#undef RESUME
#undef EVAL_ROWS
}
END_TEST

/* tmpdir/dir: a copy of the fixture's MNIST files */
static void copy_data(const char *dir)
{
    static const char *const files[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                        "t10k-labels-idx1-ubyte"};
    ck_assert_int_eq(mkdir(path(dir), 0777), 0);
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        char from[512], to[512];
        snprintf(from, sizeof from, "%s/%s", fixtures(), files[k]);
        snprintf(to, sizeof to, "%s/%s/%s", tmpdir, dir, files[k]);
        copy_file(from, to);
    }
}

START_TEST(test_resume_remembers_data)
{
    /* The checkpoint remembers the data folder as an absolute path (and
     * --log-every): `--resume RUN` alone works from any folder; --data
     * overrides it (the data moved) and is remembered from then on; a
     * remembered folder that is gone is an error naming it. */
    unsetenv("TAPEGRAD_DATA");
    copy_data("d1");
    ck_assert_int_eq(mkdir(path("elsewhere"), 0777), 0);
    char d1[300], d2[300], on[320];
    snprintf(d1, sizeof d1, "%s/d1", tmpdir);
    snprintf(d2, sizeof d2, "%s/d2", tmpdir);
    result r = RUN_IN(tmpdir, "train-gan", "--out", "run", "--data", "d1", "--epochs", "1", "--batch", "4", "--log-every",
                      "1", "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    /* from another folder, without --data: the remembered one */
    r = RUN_IN(path("elsewhere"), "train-gan", "--resume", path("run"), "--epochs", "2", "--threads", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(on, sizeof on, " GAN on %s (", d1);
    ck_assert_msg(strstr(r.out, on), "no '%s' in: %s", on, r.out);
    result_free(&r);
    /* the data moved: the remembered folder is named, with the way out */
    ck_assert_int_eq(rename(d1, d2), 0);
    r = RUN_IN(path("elsewhere"), "train-gan", "--resume", path("run"), "--epochs", "3");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, d1) && strstr(r.err, "No such file or directory") && strstr(r.err, "give --data DIR"),
                  "%s", r.err);
    result_free(&r);
    /* --data overrides it... */
    r = RUN_IN(path("elsewhere"), "train-gan", "--resume", path("run"), "--epochs", "3", "--data", d2, "--threads", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(on, sizeof on, " GAN on %s (", d2);
    ck_assert_msg(strstr(r.out, on), "no '%s' in: %s", on, r.out);
    result_free(&r);
    /* ...and is remembered */
    r = RUN_IN(path("elsewhere"), "train-gan", "--resume", path("run"), "--epochs", "4", "--threads", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, on), "no '%s' in: %s", on, r.out);
    result_free(&r);
    /* the same bytes as 4 epochs straight on d2; --log-every 1 kept throughout */
    r = TRAIN("--out", path("straight"), "--epochs", "4", "--log-every", "1", "--data", d2);
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t na, nb;
    unsigned char *a = slurp_file(path("straight/checkpoint.safetensors"), &na);
    unsigned char *b = slurp_file(path("run/checkpoint.safetensors"), &nb);
    ck_assert_msg(na == nb && !memcmp(a, b, na), "the resumed run's checkpoint differs from the straight run's");
    free(a);
    free(b);
    char *csv = slurp_text(path("run/metrics.csv"));
    ck_assert_msg(strstr(csv, "\n7,4,") && strstr(csv, "\n8,4,"), "%s", csv);
    free(csv);
}
END_TEST

START_TEST(test_sample)
{
    result r = TRAIN("--out", path("s"), "--epochs", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    r = RUN("sample", "--checkpoint", path("s/checkpoint.safetensors"), "--n", "7", "--seed", "3", "--out", path("x.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t n;
    unsigned char *b = slurp_file(path("x.idx"), &n);
    /* IDX ubyte, 3 dims: 7 x 28 x 28 */
    ck_assert_uint_eq(n, 4 + 3 * 4 + 7 * 28 * 28);
    ck_assert(b[0] == 0 && b[1] == 0 && b[2] == 0x08 && b[3] == 3);
    ck_assert_int_eq(b[7], 7);
    ck_assert_int_eq(b[11], 28);
    /* the same seed gives the same images */
    r = RUN("sample", "--checkpoint", path("s/checkpoint.safetensors"), "--n", "7", "--seed", "3", "--out", path("y.idx"));
    result_free(&r);
    size_t n2;
    unsigned char *c = slurp_file(path("y.idx"), &n2);
    ck_assert(n == n2 && memcmp(b, c, n) == 0);
    free(b);
    free(c);
    r = RUN("sample", "--checkpoint", path("s/checkpoint.safetensors"), "--n", "1001", "--out", path("g.png"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert(exists(path("g.png")));
    result_free(&r);
}
END_TEST

START_TEST(test_bad_checkpoints)
{
    result r = TRAIN("--out", path("c"), "--epochs", "1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t n;
    unsigned char *b = slurp_file(path("c/checkpoint.safetensors"), &n);
    /* truncated by one byte, and cut in half */
    size_t cuts[2] = {n - 1, n / 2};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(path("t.safetensors"), "wb");
        fwrite(b, 1, cuts[k], f);
        fclose(f);
        r = RUN("sample", "--checkpoint", path("t.safetensors"), "--n", "4", "--out", path("o.idx"));
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "safetensors"), "%s", r.err);
        ck_assert(!exists(path("o.idx")));
        result_free(&r);
    }
    /* resume from a damaged checkpoint: a clear error, the file untouched */
    FILE *f = fopen(path("c/checkpoint.safetensors"), "r+b");
    fseek(f, 3, SEEK_SET);
    fputc(0x7f, f); /* header length now enormous */
    fclose(f);
    r = RUN("train-gan", "--resume", path("c"), "--data", fixtures(), "--epochs", "2");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot resume from"));
    result_free(&r);
    r = RUN("sample", "--checkpoint", path("nope.safetensors"), "--n", "4", "--out", path("o.idx"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "nope.safetensors"));
    result_free(&r);
    free(b);
}
END_TEST

/* Settings at the edges of what train-gan accepts must survive the
 * checkpoint: --resume once refused them (the checkpoint's ranges were
 * narrower: beta2 <= 0.9999999, dropout <= 0.999, learning rates >= 1e-30). */
START_TEST(test_resume_edge_settings)
{
    result r = TRAIN("--out", path("edge"), "--epochs", "1", "--beta2", "0.99999995", "--dropout", "0.9995",
                     "--lr-g", "1e-35", "--lr-d", "2e-38");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    result_free(&r);
    r = RUN("train-gan", "--resume", path("edge"), "--data", fixtures(), "--epochs", "2", "--quiet");
    ck_assert_msg(r.status == 0, "resume: exit %d: %s", r.status, r.err);
    result_free(&r);
}
END_TEST

/* tests/fixtures/legacy/NAME */
static const char *legacy(const char *name)
{
    static char p[600];
    snprintf(p, sizeof p, "%s/../legacy/%s", fixtures(), name);
    return p;
}

/* every tensor of two checkpoints: the same names, dtypes, shapes and bytes */
static void same_tensors(const char *a, const char *b)
{
    st_file *fa = NULL, *fb = NULL;
    tg_error e;
    ck_assert_msg(st_open(a, &fa, &e) == TG_OK && st_open(b, &fb, &e) == TG_OK, "%s", e.msg);
    ck_assert_uint_eq(st_count(fa), st_count(fb));
    ck_assert_uint_gt(st_count(fa), 0);
    for (size_t i = 0; i < st_count(fa); i++) {
        const st_entry *x = st_entry_at(fa, i), *y = st_find(fb, x->name);
        ck_assert_msg(y && x->dtype == y->dtype && x->ndim == y->ndim && x->nbytes == y->nbytes &&
                          !memcmp(x->dims, y->dims, (size_t)x->ndim * sizeof *x->dims) &&
                          !memcmp(x->data, y->data, x->nbytes),
                      "tensor %s differs", x->name);
    }
    st_close(fa);
    st_close(fb);
}

START_TEST(test_legacy_checkpoint)
{
    /* A checkpoint of format tapegrad-gan/1, written by the binary of commit
     * 2533b69 (the model as MLP keys: g_widths, g_act, ...;
     * tests/fixtures/legacy/make_legacy_fixtures.sh): `sample` draws the same
     * bytes that binary drew, and `--resume` continues it to the same
     * tensors as that binary's 2 epochs straight, writing today's format. */
    result r = RUN("sample", "--checkpoint", legacy("gan-v1-epoch1.safetensors"), "--n", "3", "--seed", "5", "--out",
                   path("s.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t n;
    unsigned char *want = slurp_file(legacy("gan-v1-epoch1-sample.idx"), &n);
    ck_assert_msg(same_file(path("s.idx"), want, n), "sample differs from the old binary's");
    free(want);
    ck_assert_int_eq(mkdir(path("old"), 0777), 0);
    ck_assert_int_eq(mkdir(path("old/samples"), 0777), 0);
    copy_file(legacy("gan-v1-epoch1.safetensors"), path("old/checkpoint.safetensors"));
    r = RUN("train-gan", "--resume", path("old"), "--data", fixtures(), "--epochs", "2", "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    same_tensors(path("old/checkpoint.safetensors"), legacy("gan-v1-epoch2.safetensors"));
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path("old/checkpoint.safetensors"), &f, NULL), TG_OK);
    ck_assert_str_eq(st_meta(f, "format"), "tapegrad-gan/2");
    ck_assert_str_eq(st_meta(f, "model_spec"), "G: in 2, dense 1, leaky_relu 0.2, dense 784, tanh\n"
                                               "D: in 784, dense 1, leaky_relu 0.2, dropout 0.3, dense 1\n"
                                               "init: xavier\nsigma: 0.02");
    ck_assert_ptr_null(st_meta(f, "g_widths"));
    st_close(f);
}
END_TEST

START_TEST(test_arch)
{
    /* --g-arch / --d-arch: layer lists instead of the preset's MLPs, inline
     * or from a file; stored in the checkpoint, which sample and --resume
     * build the model from */
    put_str(path("d.arch"), "# a small D\nin 784\ndense 8\nleaky_relu 0.1\ndropout 0.2\ndense 1\n");
    char at[600];
    snprintf(at, sizeof at, "@%s", path("d.arch"));
    result r = TRAIN("--out", path("a"), "--epochs", "1", "--g-arch", "in 5, dense 16, relu, dense 784, tanh", "--d-arch",
                     at);
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    st_file *f = NULL;
    ck_assert_int_eq(st_open(path("a/checkpoint.safetensors"), &f, NULL), TG_OK);
    ck_assert_str_eq(st_meta(f, "model_spec"), "G: in 5, dense 16, relu, dense 784, tanh\n"
                                               "D: in 784, dense 8, leaky_relu 0.1, dropout 0.2, dense 1\n"
                                               "init: xavier\nsigma: 0.02");
    ck_assert_msg(st_find(f, "G/l1.w") && st_find(f, "D/l0.b") && !st_find(f, "G/l2.w"), "parameters");
    st_close(f);
    r = RUN("sample", "--checkpoint", path("a/checkpoint.safetensors"), "--n", "2", "--out", path("a.idx"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    size_t na;
    free(slurp_file(path("a.idx"), &na));
    ck_assert_uint_eq(na, 16 + 2 * 784);
    r = RUN("train-gan", "--resume", path("a"), "--data", fixtures(), "--epochs", "2", "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "%s", r.err);
    result_free(&r);
    /* an arch with an MLP flag for the same network; errors that name the layer */
    static const char *const bad[][3] = {
        {"--g-arch", "--g-hidden", "--g-arch and --g-hidden cannot be given together"},
        {"--g-arch", "--z-dim", "--g-arch and --z-dim cannot be given together"},
        {"--g-arch", "--slope", "--g-arch and --slope cannot be given together"},
        {"--d-arch", "--dropout", "--d-arch and --dropout cannot be given together"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *arch = bad[k][0][2] == 'g' ? "in 100, dense 784, tanh" : "in 784, dense 1";
        const char *val = !strcmp(bad[k][1], "--g-hidden") ? "64" : !strcmp(bad[k][1], "--z-dim") ? "10" : "0.1";
        r = TRAIN("--out", path("bad"), bad[k][0], arch, bad[k][1], val);
        ck_assert_msg(r.status == 2 && strstr(r.err, bad[k][2]), "%s %s: %d '%s'", bad[k][0], bad[k][1], r.status,
                      r.err);
        result_free(&r);
    }
    r = TRAIN("--out", path("bad"), "--g-arch", "in 5, dense 16, conv9 3, dense 784");
    ck_assert_msg(r.status == 2 && strstr(r.err, "--g-arch: model G: layer 2: unknown layer 'conv9'"), "%s", r.err);
    result_free(&r);
    r = TRAIN("--out", path("bad"), "--g-arch", "in 5, dense 100, tanh");
    ck_assert_msg(r.status == 2 && strstr(r.err, "G makes 100 values but D takes 784"), "%s", r.err);
    result_free(&r);
    r = TRAIN("--out", path("bad"), "--d-arch", "@/nonexistent/d.arch");
    ck_assert_msg(r.status == 2 && strstr(r.err, "--d-arch: cannot open '/nonexistent/d.arch'"), "%s", r.err);
    result_free(&r);
    ck_assert(!exists(path("bad")));
}
END_TEST

START_TEST(test_bad_flags)
{
    const char *bad[][3] = {
        {"--batch", "0", "out of range"},
        {"--batch", "abc", "not an integer"},
        {"--lr-g", "-1", "--lr-g"},
        {"--g-loss", "wasserstein", "not nonsaturating or saturating"},
        {"--init", "he", "not pytorch, xavier or normal"},
        {"--model", "huge", "--model: 'huge' is not reference, documents, tiny, dcgan, dcgan-tuned, keras-d or tiny-conv"},
        {"--ema", "nan", "--ema: 'nan' is not a finite number"},
        {"--ema", "1", "--ema: 1 is out of range (0 <= x < 1)"},
        {"--ema", "-0.5", "--ema: -0.5 is out of range"},
        {"--ema", "0.99999999", "as a float"},
        {"--dropout", "1", "0 <= x < 1"},
        {"--dropout", "0.99999999", "as a float"},
        {"--beta1", "0.99999999", "as a float"},
        {"--lr-d", "1e-39", "too small"},
        {"--g-hidden", "128,,512", "not a list"},
        {"--g-act", "gelu", "not relu, leaky_relu, sigmoid or tanh"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        result r = RUN("train-gan", "--out", path("bad"), "--data", fixtures(), bad[i][0], bad[i][1]);
        ck_assert_msg(r.status == 2, "%s %s: exit %d", bad[i][0], bad[i][1], r.status);
        ck_assert_msg(strstr(r.err, bad[i][2]), "%s %s: '%s'", bad[i][0], bad[i][1], r.err);
        result_free(&r);
    }
    ck_assert(!exists(path("bad")));
    /* data problems: a missing folder, a batch larger than the data */
    result r = RUN("train-gan", "--out", path("m"), "--data", path("nodata"), "--quiet");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "fetch-mnist.sh"));
    result_free(&r);
    r = RUN("train-gan", "--out", path("m2"), "--data", fixtures(), "--batch", "64", "--quiet");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "larger than the 10 training images"));
    result_free(&r);
    r = RUN("sample", "--n", "3");
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, test_run_files);
    tcase_add_test(core, test_resume_bit_exact);
    tcase_add_test(core, test_resume_cuts_logs);
    tcase_add_test(core, test_resume_remembers_data);
    tcase_add_test(core, test_sample);
    tcase_add_test(core, test_resume_edge_settings);
    tcase_add_test(core, test_legacy_checkpoint);
    tcase_add_test(core, test_arch);
    suite_add_tcase(s, core);
    TCase *err = tcase_create("errors");
    tcase_set_timeout(err, 120);
    tcase_add_checked_fixture(err, setup, teardown);
    tcase_add_test(err, test_bad_checkpoints);
    tcase_add_test(err, test_bad_flags);
    suite_add_tcase(s, err);
    return s;
}

int main(void)
{
    return tg_run_suite(suite());
}
