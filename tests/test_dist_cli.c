/* test_dist_cli.c - `mpirun -np 2 tapegrad train-gan` and `train-classifier`
 * end to end on the 10-image IDX fixture (tests/fixtures/idx), built only
 * with MPI (-Dmpi): two ranks against one process on the same global batch
 * (losses in metrics.csv, the final checkpoint's tensors), a run resumed on
 * another number of ranks, a rank that fails (a NaN loss, a write error on
 * rank 0, SIGKILL: the fault-injection knobs TG_FAULT_RANK, TG_FAULT_STEP,
 * TG_FAULT), a global batch that does not split, and `bench gan-step` on 2
 * ranks (its all-reduce fields, --overlap on and off). Every mpirun runs on
 * shared memory and loopback under `timeout`. The reference GAN (dropout
 * in D) and dcgan (batch_norm in G, convolutions, dropout in D) at batch 4:
 * 2 iterations per epoch, 20 in 10 epochs. */
#include "check_main.h"
#include "gan_train.h"
#include "run_bin.h"
#include "safetensors.h"

#include <math.h>
#include <time.h>

#define TIME_LIMIT "60" /* seconds for one mpirun */

static void setup(void)
{
    (void)run; /* run_bin.h's: this suite runs through mpi_run */
    tmp_make("tg_dist_cli");
}
static void teardown(void) { tmp_remove(); }

/* `timeout mpirun -np ranks [-x VAR...] tapegrad args...`: env holds
 * "VAR=value" strings to export (NULL-terminated, may be NULL); ranks 0
 * runs tapegrad alone */
static result mpi_run(int ranks, const char *const *env, const char *const *args)
{
    const char *bin = getenv("TAPEGRAD_BIN"), *mpirun = getenv("MPIRUN");
    ck_assert_msg(bin && mpirun, "TAPEGRAD_BIN and MPIRUN must be set");
    const char *a[64];
    int n = 0;
    static char np[16];
    snprintf(np, sizeof np, "%d", ranks);
    if (ranks > 0) {
        const char *pre[] = {"timeout", "-k", "10", TIME_LIMIT, mpirun, "--allow-run-as-root", "--oversubscribe",
                             "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo", "-np", np};
        for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) a[n++] = pre[i];
        for (int i = 0; env && env[i]; i++) {
            a[n++] = "-x";
            a[n++] = env[i];
        }
    }
    a[n++] = bin;
    for (int i = 0; args[i] && n < 62; i++) a[n++] = args[i];
    a[n] = NULL;
    /* the environment: mpirun exports it with -x; one process gets it directly */
    return run_argv(a, NULL, ranks == 0 ? env : NULL);
}

#define GAN_ARGS "train-gan", "--data", fixtures(), "--batch", "4", "--threads", "1", "--quiet", "--log-every", "1"
#define MPI_GAN(ranks, env, ...) mpi_run(ranks, env, (const char *const[]){GAN_ARGS, __VA_ARGS__, NULL})
#define MPI_RUN(ranks, env, ...) mpi_run(ranks, env, (const char *const[]){__VA_ARGS__, NULL})

static void ok(result *r, const char *what)
{
    ck_assert_msg(r->status == 0, "%s: exit %d\n%s", what, r->status, r->err);
    result_free(r);
}

/* the largest relative difference between two checkpoints' tensors with
 * names starting with prefix ("" for all; each tensor's largest difference
 * over its largest value), and the tensor; both hold the same names */
static double ckpt_diff(const char *a, const char *b, const char *prefix, char *worst, size_t len)
{
    st_file *fa, *fb;
    tg_error e;
    ck_assert_msg(st_open(a, &fa, &e) == TG_OK, "%s: %s", a, e.msg);
    ck_assert_msg(st_open(b, &fb, &e) == TG_OK, "%s: %s", b, e.msg);
    ck_assert_uint_eq(st_count(fa), st_count(fb));
    double dmax = 0;
    for (size_t i = 0; i < st_count(fa); i++) {
        const st_entry *x = st_entry_at(fa, i), *y = st_find(fb, x->name);
        ck_assert_msg(y && y->nbytes == x->nbytes && x->dtype == ST_F32, "tensor %s", x->name);
        if (strncmp(x->name, prefix, strlen(prefix))) continue;
        double big = 0, d = 0;
        for (uint64_t k = 0; k < x->numel; k++) {
            float u, v;
            memcpy(&u, x->data + 4 * k, 4);
            memcpy(&v, y->data + 4 * k, 4);
            ck_assert_msg(isfinite(u) && isfinite(v), "tensor %s is not finite", x->name);
            big = fmax(big, fabs(u));
            d = fmax(d, fabs((double)u - v));
        }
        const double rel = big > 0 ? d / big : d;
        if (rel >= dmax) {
            dmax = rel;
            snprintf(worst, len, "%s", x->name);
        }
    }
    st_close(fa);
    st_close(fb);
    return dmax;
}

/* metadata key of a checkpoint */
static char *ckpt_meta(const char *p, const char *key)
{
    st_file *f;
    tg_error e;
    ck_assert_msg(st_open(p, &f, &e) == TG_OK, "%s: %s", p, e.msg);
    const char *v = st_meta(f, key);
    char *s = strdup(v ? v : "");
    st_close(f);
    return s;
}

/* the largest relative difference of the numbers in two CSV files' columns
 * [c0, c1) (0-based), row by row; both must have the same rows */
static double csv_diff(const char *a, const char *b, int c0, int c1)
{
    char *x = slurp_text(a), *y = slurp_text(b);
    double dmax = 0;
    int rows = 0;
    char *sx, *sy, *lx = strtok_r(x, "\n", &sx), *ly = strtok_r(y, "\n", &sy);
    for (lx = strtok_r(NULL, "\n", &sx), ly = strtok_r(NULL, "\n", &sy); lx || ly;
         lx = strtok_r(NULL, "\n", &sx), ly = strtok_r(NULL, "\n", &sy)) {
        ck_assert_msg(lx && ly, "%s and %s have different numbers of rows", a, b);
        const char *p = lx, *q = ly;
        for (int c = 0; c < c1; c++) {
            char *ep, *eq;
            double u = strtod(p, &ep), v = strtod(q, &eq);
            if (c >= c0) {
                ck_assert_msg(ep != p && eq != q, "row %d column %d: '%s' / '%s'", rows + 1, c, lx, ly);
                const double m = fmax(fabs(u), fabs(v));
                dmax = fmax(dmax, m > 0 ? fabs(u - v) / m : 0);
            }
            p = strchr(p, ',');
            q = strchr(q, ',');
            ck_assert_msg(p && q, "row %d has fewer than %d columns", rows + 1, c1);
            p++;
            q++;
        }
        rows++;
    }
    ck_assert_int_gt(rows, 0);
    free(x);
    free(y);
    return dmax;
}

/* (a) train-gan: 2 ranks against 1 process, 20 iterations, the reference
 * GAN (_i = 0) and dcgan (_i = 1) */
static const char *const gan_model[] = {"reference", "dcgan"};

START_TEST(test_gan_two_ranks)
{
    const char *model = gan_model[_i];
    result r = MPI_GAN(0, NULL, "--model", model, "--epochs", "10", "--out", path("one"));
    ok(&r, "one process");
    r = MPI_GAN(2, NULL, "--model", model, "--epochs", "10", "--out", path("two"));
    ck_assert_msg(r.status == 0, "2 ranks: exit %d\n%s", r.status, r.err);
    ck_assert_msg(!strstr(r.err, "rank 1"), "rank 1 spoke: %s", r.err);
    result_free(&r);
    /* rank 0 alone wrote the run's files */
    ck_assert(exists(path("two/checkpoint.safetensors")));
    ck_assert(exists(path("two/samples/epoch-010.png")));
    char *step = ckpt_meta(path("two/checkpoint.safetensors"), "step");
    ck_assert_str_eq(step, "20");
    free(step);
    /* loss_d, loss_g, d_real, d_fake, gnorm_g, gnorm_d: 6 significant digits in the file */
    const double dl = csv_diff(path("one/metrics.csv"), path("two/metrics.csv"), 2, 8);
    char wt[128], wa[128];
    const double dw = ckpt_diff(path("one/checkpoint.safetensors"), path("two/checkpoint.safetensors"), "G/", wt,
                                sizeof wt);
    const double dd = ckpt_diff(path("one/checkpoint.safetensors"), path("two/checkpoint.safetensors"), "D/", wa,
                                sizeof wa);
    const double d = fmax(dw, dd);
    printf("train-gan --model %s, 2 ranks vs 1 process, 20 iterations: metrics %.2g, weights %.2g (%s)\n", model,
           dl, d, dw > dd ? wt : wa);
    ck_assert_msg(dl < 2e-5, "metrics differ by %g", dl);
    ck_assert_msg(d < 1e-4, "weights differ by %g", d);
}
END_TEST

/* (b) train-classifier: 2 ranks against 1 process, 5 epochs of 2 iterations */
START_TEST(test_classifier_two_ranks)
{
    const char *const clf[] = {"train-classifier", "--data", fixtures(), "--batch", "4", "--threads", "1",
                               "--hidden", "16,8", "--epochs", "10", "--quiet", "--out", NULL};
    const char *a[20];
    int n = 0;
    while (clf[n]) {
        a[n] = clf[n];
        n++;
    }
    a[n + 1] = NULL;
    a[n] = path("one");
    result r = mpi_run(0, NULL, a);
    ok(&r, "one process");
    a[n] = path("two");
    r = mpi_run(2, NULL, a);
    ok(&r, "2 ranks");
    /* train_loss, test_loss, test_accuracy: 6 decimals in the file */
    const double dl = csv_diff(path("one/metrics.csv"), path("two/metrics.csv"), 1, 4);
    char w[128];
    const double dw = ckpt_diff(path("one/classifier.safetensors"), path("two/classifier.safetensors"), "", w, sizeof w);
    printf("train-classifier, 2 ranks vs 1 process, 20 iterations: metrics %.2g, weights %.2g (%s)\n", dl, dw, w);
    ck_assert_msg(dl < 2e-5, "metrics differ by %g", dl);
    ck_assert_msg(dw < 1e-4, "weights differ by %g", dw);
    /* a batch that does not split over the ranks */
    const char *const bad[] = {"train-classifier", "--data", fixtures(), "--batch", "5", "--hidden", "8",
                               "--out", path("bad"), NULL};
    r = mpi_run(2, NULL, bad);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "--batch 5") && strstr(r.err, "2 processes"), "%s", r.err);
    result_free(&r);
}
END_TEST

/* (c) 10 epochs straight on one process == 5 on 2 ranks + 5 resumed on 1
 * == 5 on 1 + 5 resumed on 2 (weights and Adam moments) */
START_TEST(test_resume_other_count)
{
    result r = MPI_GAN(0, NULL, "--epochs", "10", "--out", path("full"));
    ok(&r, "uninterrupted");
    r = MPI_GAN(2, NULL, "--epochs", "5", "--out", path("a"));
    ok(&r, "a: 2 ranks");
    r = MPI_RUN(0, NULL, "train-gan", "--resume", path("a"), "--epochs", "10", "--threads", "1", "--quiet");
    ok(&r, "a: resumed on 1");
    r = MPI_GAN(0, NULL, "--epochs", "5", "--out", path("b"));
    ok(&r, "b: one process");
    r = MPI_RUN(2, NULL, "train-gan", "--resume", path("b"), "--epochs", "10", "--threads", "1", "--quiet");
    ok(&r, "b: resumed on 2 ranks");
    char full[256], p[256]; /* path()'s buffers rotate */
    snprintf(full, sizeof full, "%s", path("full/checkpoint.safetensors"));
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s", path(k ? "b/checkpoint.safetensors" : "a/checkpoint.safetensors"));
        char *s = ckpt_meta(p, "step"), *rn = ckpt_meta(p, "rng_noise"), *rf = ckpt_meta(full, "rng_noise");
        ck_assert_str_eq(s, "20");
        ck_assert_str_eq(rn, rf); /* the noise stream advanced as in one process */
        free(s);
        free(rn);
        free(rf);
        char w[128], wm[128];
        const double dg = ckpt_diff(full, p, "G/", w, sizeof w), dd = ckpt_diff(full, p, "D/", wm, sizeof wm);
        const double d = fmax(dg, dd);
        const double dm = ckpt_diff(full, p, "adam/", wm, sizeof wm);
        printf("train-gan %s: weights %.2g, Adam moments %.2g (%s) from the uninterrupted run\n",
               k ? "1 process, resumed on 2 ranks" : "2 ranks, resumed on 1 process", d, dm, wm);
        ck_assert_msg(d < 1e-4, "weights differ by %g", d);
        /* metrics.csv kept its rows across the resume */
        const double dl = csv_diff(path("full/metrics.csv"), path(k ? "b/metrics.csv" : "a/metrics.csv"), 2, 8);
        ck_assert_msg(dl < 1e-4, "metrics differ by %g", dl);
    }
}
END_TEST

/* the checkpoint after epoch 2 (step 4) is intact and a run resumes from it */
static void resumable(const char *run)
{
    char *s = ckpt_meta(path("f/checkpoint.safetensors"), "step");
    ck_assert_msg(!strcmp(s, "4"), "%s: the checkpoint is at step %s, not 4", run, s);
    free(s);
    result r = MPI_RUN(2, NULL, "train-gan", "--resume", path("f"), "--epochs", "3", "--threads", "1", "--quiet");
    ok(&r, "resume after the failure");
    s = ckpt_meta(path("f/checkpoint.safetensors"), "step");
    ck_assert_str_eq(s, "6");
    free(s);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* (d) a rank fails at step 5 (epoch 3): every rank stops, the message names
 * the rank and the reason, the last checkpoint resumes */
START_TEST(test_fault_nan)
{
    const char *const env[] = {"TG_FAULT_RANK=1", "TG_FAULT_STEP=5", NULL};
    double t = now();
    result r = MPI_GAN(2, env, "--epochs", "5", "--out", path("f"));
    t = now() - t;
    printf("a NaN loss on rank 1: the job ended in %.1f s\n", t);
    ck_assert_int_ne(r.status, 0);
    ck_assert_int_ne(r.status, 124); /* not timeout's */
    ck_assert_msg(strstr(r.err, "tapegrad: train-gan: stopped at epoch 3") && strstr(r.err, "rank 1: loss_D is not "
                                                                                    "finite"),
                  "%s", r.err);
    ck_assert_msg(strstr(r.err, "tapegrad: rank 1: train-gan:"), "%s", r.err);
    result_free(&r);
    resumable("nan");
}
END_TEST

START_TEST(test_fault_write)
{
    const char *const env[] = {"TG_FAULT_RANK=0", "TG_FAULT_STEP=4", "TG_FAULT=io", NULL};
    result r = MPI_GAN(2, env, "--epochs", "5", "--out", path("f"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_int_ne(r.status, 124);
    ck_assert_msg(strstr(r.err, "rank 1: train-gan: stopped after epoch 3 (step 6): rank 0: cannot write") &&
                      strstr(r.err, "TG_FAULT=io"),
                  "%s", r.err);
    result_free(&r);
    resumable("write error");
}
END_TEST

START_TEST(test_fault_kill)
{
    const char *const env[] = {"TG_FAULT_RANK=1", "TG_FAULT_STEP=5", "TG_FAULT=kill", NULL};
    double t = now();
    result r = MPI_GAN(2, env, "--epochs", "5", "--out", path("f"));
    t = now() - t;
    printf("rank 1 killed (SIGKILL): the job ended in %.1f s, exit %d\n", t, r.status);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(r.status != 124, "timeout ended the job (exit %d)", r.status);
    ck_assert_msg(t < 30, "the job took %.1f s to end", t);
    ck_assert_msg(strstr(r.err, "rank 1") && strstr(r.err, "signal 9"), "%s", r.err);
    result_free(&r);
    resumable("kill");
}
END_TEST

/* (e) a global batch that does not split over the ranks: a message naming both, no run folder */
START_TEST(test_batch_split)
{
    result r = MPI_RUN(2, NULL, "train-gan", "--data", fixtures(), "--batch", "5", "--dropout", "0", "--out",
                       path("b"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "--batch 5 is the global batch, split evenly over the 2 processes"), "%s", r.err);
    ck_assert(!exists(path("b")));
    result_free(&r);
}
END_TEST

/* a rank whose setup fails (its data folder is missing): every rank stops,
 * the others naming it (mpirun's MPMD form: rank 0's command : rank 1's) */
START_TEST(test_setup_fails_on_one_rank)
{
    const char *bin = getenv("TAPEGRAD_BIN");
    result r = MPI_GAN(1, NULL, "--epochs", "2", "--out", path("s"), ":", "-np", "1", bin, "train-gan", "--data",
                       path("nowhere"), "--batch", "4", "--dropout", "0", "--epochs", "2", "--out", path("s"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_int_ne(r.status, 124);
    ck_assert_msg(strstr(r.err, "tapegrad: rank 1: train-gan: no MNIST data in") &&
                      strstr(r.err, "tapegrad: train-gan: rank 1: could not start"),
                  "%s", r.err);
    ck_assert(!exists(path("s/checkpoint.safetensors")));
    result_free(&r);
}
END_TEST

/* (f) `bench gan-step` on 2 ranks: rank 0 alone prints, the data-parallel
 * fields; --overlap off starts no bucket during backward, on does */
static long gan_param_count(const char *model)
{
    gan_cfg c;
    tg_error e;
    tg_rng r;
    ck_assert_msg(gan_cfg_defaults(&c, model, &e) == TG_OK, "%s", e.msg);
    tg_params *ps = tg_params_new();
    tg_rng_seed(&r, 1, 0);
    ck_assert_msg(tg_gan_params(ps, &c.spec, &r, &e) == TG_OK, "%s", e.msg);
    long n = 0;
    for (int i = 0; i < tg_params_count(ps); i++)
        if (!tg_param_is_state(tg_params_at(ps, i))) n += (long)tg_param_numel(tg_params_at(ps, i));
    tg_params_free(ps);
    return n;
}

/* the number after "key": in line (the line must have it) */
static double json_num(const char *line, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(line, k);
    ck_assert_msg(p, "no %s in %s", key, line);
    char *end;
    const double v = strtod(p + strlen(k), &end);
    ck_assert_msg(end != p + strlen(k), "%s is not a number in %s", key, line);
    return v;
}

static const char *const bench_model[] = {"documents", "dcgan"};

START_TEST(test_bench_two_ranks)
{
    const char *model = bench_model[_i];
    const long bytes = 4 * gan_param_count(model);
    for (int off = 0; off < 2; off++) {
        result r = MPI_RUN(2, NULL, "bench", "gan-step", "--model", model, "--batch", "8", "--threads", "1", "--steps",
                           "3", "--repeats", "1", "--json", "--overlap", off ? "off" : "on");
        ck_assert_msg(r.status == 0, "bench, overlap %s: exit %d\n%s", off ? "off" : "on", r.status, r.err);
        ck_assert_msg(!strstr(r.err, "rank 1"), "rank 1 spoke: %s", r.err);
        /* a line for the repeat and the summary, from rank 0 alone */
        int lines = 0;
        const char *summary = NULL;
        for (const char *l = r.out; (l = strstr(l, "{\"bench\":\"gan-step\"")); l++) {
            lines++;
            if (strstr(l, "\"repeats\":")) summary = l;
        }
        ck_assert_msg(lines == 2 && summary, "%d lines:\n%s", lines, r.out);
        ck_assert(json_num(summary, "ranks") == 2);
        ck_assert(json_num(summary, "rows_per_rank") == 4);
        ck_assert(strstr(summary, off ? "\"overlap\":\"off\"" : "\"overlap\":\"on\""));
        const double b = json_num(summary, "allreduce_bytes_per_iter"), nb = json_num(summary, "buckets_per_iter");
        const double early = json_num(summary, "early_buckets_per_iter");
        const double wait = json_num(summary, "allreduce_wait_ms_per_iter");
        const double check = json_num(summary, "status_check_ms_per_iter");
        printf("bench gan-step --model %s on 2 ranks, overlap %s: %.0f bytes in %.0f buckets, %.2f started early, "
               "wait %.3f ms, check %.3f ms per iteration\n", model, off ? "off" : "on", b, nb, early, wait, check);
        ck_assert_msg(b == (double)bytes, "%.0f bytes per iteration, the parameters are %ld bytes", b, bytes);
        ck_assert(nb >= 2); /* D's and G's */
        if (off) ck_assert_msg(early == 0, "%g buckets started early without overlap", early);
        else ck_assert_msg(early > 0 && early <= nb, "%g buckets started early of %g", early, nb);
        ck_assert(wait > 0 && check >= 0 && json_num(summary, "samples_per_s") > 0);
        result_free(&r);
    }
    /* a batch that does not split; a benchmark that runs as one process */
    result r = MPI_RUN(2, NULL, "bench", "gan-step", "--model", model, "--batch", "7", "--threads", "1");
    ck_assert_int_ne(r.status, 0);
    ck_assert_int_ne(r.status, 124);
    ck_assert_msg(strstr(r.err, "bench gan-step: --batch 7 is the global batch, split evenly over the 2 processes"),
                  "%s", r.err);
    ck_assert(!strstr(r.out, "gan-step"));
    result_free(&r);
    r = MPI_RUN(2, NULL, "bench", "gemm", "--threads", "1", "--steps", "1");
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "bench gemm runs as one process, not under mpirun"), "%s", r.err);
    result_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dist_cli");
    TCase *t = tcase_create("mpirun");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 240);
    tcase_add_loop_test(t, test_gan_two_ranks, 0, 2);
    tcase_add_test(t, test_classifier_two_ranks);
    tcase_add_test(t, test_resume_other_count);
    tcase_add_test(t, test_fault_nan);
    tcase_add_test(t, test_fault_write);
    tcase_add_test(t, test_fault_kill);
    tcase_add_test(t, test_batch_split);
    tcase_add_test(t, test_setup_fails_on_one_rank);
    tcase_add_loop_test(t, test_bench_two_ranks, 0, 2);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tg_run_suite(suite()); }
