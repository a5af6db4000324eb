/* test_cli.c - the `tapegrad` binary, run as a child process.
 *
 * The binary's path comes from the environment variable TAPEGRAD_BIN (set
 * by tests/meson.build). Each case runs one command line and checks its exit
 * status, standard output and standard error: listing and running the
 * gradient checks, usage errors (exit status 2 with a message), the dot
 * export, and atomic file output. */
#include "check_main.h"
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_bin.h"

/* 1 if some line of s starts with word followed by a blank */
static int has_line_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *l = s; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (!strncmp(l, word, n) && (l[n] == ' ' || l[n] == '\t')) return 1;
    return 0;
}

static void expect_usage_error(const char *const *args)
{
    result r = run(args);
    ck_assert_msg(r.status == 2, "'%s ...' exited %d, expected 2", args[0], r.status);
    ck_assert_msg(strlen(r.err) > 0, "no message on stderr for '%s'", args[0]);
    ck_assert_msg(strstr(r.err, "tapegrad") != NULL, "message lacks the program name: %s", r.err);
    result_free(&r);
}
#define USAGE_ERROR(...) expect_usage_error((const char *const[]){__VA_ARGS__, NULL})

/* every op builder of tapegrad.h, by op name */
static const char *const ops[] = {
    "matmul", "bias_add", "concat", "add", "sub", "mul", "scale", "relu", "leaky_relu", "sigmoid",
    "tanh", "softplus", "dropout", "sum", "mean", "bce_logits", "gen_loss", "gen_loss_saturating",
    "softmax_xent", "detach",
};

/* ------------------------------------------------------------ gradcheck */
START_TEST(list_every_op)
{
    result r = RUN("gradcheck", "--list");
    ck_assert_int_eq(r.status, 0);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ck_assert_msg(has_line_word(r.out, ops[i]), "--list has no case for op %s", ops[i]);
    ck_assert_ptr_nonnull(strstr(r.out, "tiny-D"));
    ck_assert_ptr_nonnull(strstr(r.out, "tiny-G"));
    ck_assert_ptr_nonnull(strstr(r.out, "mlp-classifier"));
    result_free(&r);
}
END_TEST

START_TEST(all_pass)
{
    result r = RUN("gradcheck", "--all");
    ck_assert_msg(r.status == 0, "exit %d; output:\n%s\n%s", r.status, r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, " passed, 0 failed\n"));
    ck_assert_ptr_null(strstr(r.out, "FAIL"));
    ck_assert_ptr_null(strstr(r.out, "ERROR"));
    /* one line per case plus the summary; every op appears */
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) ck_assert(has_line_word(r.out, ops[i]));
    result_free(&r);
}
END_TEST

START_TEST(one_op_and_one_case)
{
    result r = RUN("gradcheck", "--op", "leaky_relu");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "PASS"));
    ck_assert_ptr_null(strstr(r.out, "matmul"));
    ck_assert_ptr_nonnull(strstr(r.out, " passed, 0 failed\n"));
    result_free(&r);
    r = RUN("gradcheck", "--op=model:tiny-D", "--tol", "1e-5", "--h=1e-6");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "1 passed, 0 failed\n"));
    result_free(&r);
}
END_TEST

START_TEST(impossible_tolerance_fails)
{
    /* no finite-difference estimate matches to 1e-15: exit status 1, FAIL lines */
    result r = RUN("gradcheck", "--op", "tanh", "--tol", "1e-15");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "FAIL"));
    ck_assert_ptr_nonnull(strstr(r.out, "0 passed, "));
    result_free(&r);
}
END_TEST

START_TEST(unknown_op)
{
    result r = RUN("gradcheck", "--op", "nosuchop");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "nosuchop"));
    ck_assert_ptr_nonnull(strstr(r.err, "matmul")); /* lists the valid names */
    ck_assert_ptr_nonnull(strstr(r.err, "softmax_xent"));
    result_free(&r);
}
END_TEST

/* --------------------------------------------------------- usage errors */
START_TEST(bad_flags)
{
    USAGE_ERROR("gradcheck", "--frobnicate");
    USAGE_ERROR("gradcheck");
    USAGE_ERROR("gradcheck", "--all", "--list");
    USAGE_ERROR("gradcheck", "--op");
    USAGE_ERROR("gradcheck", "--all", "--tol", "abc");
    USAGE_ERROR("gradcheck", "--all", "--tol", "-1");
    USAGE_ERROR("gradcheck", "--all", "--tol", "nan");
    USAGE_ERROR("gradcheck", "--all", "--h", "0");
    USAGE_ERROR("gradcheck", "--all", "--h", "1e-6x");
    USAGE_ERROR("graph", "--batch", "abc");
    USAGE_ERROR("graph", "--batch", "0");
    USAGE_ERROR("graph", "--batch", "-3");
    USAGE_ERROR("graph", "--batch", "");
    USAGE_ERROR("graph", "--batch", "99999999999999999999");
    USAGE_ERROR("graph", "--batch");
    USAGE_ERROR("graph", "--model", "nosuch");
    USAGE_ERROR("graph", "--net", "E");
    USAGE_ERROR("graph", "stray");
    USAGE_ERROR("demo", "--steps", "0");
    USAGE_ERROR("demo", "--steps", "1.5");
    USAGE_ERROR("nosuchcommand");
    USAGE_ERROR("--nosuchflag");
}
END_TEST

START_TEST(no_arguments)
{
    result r = run((const char *const[]){NULL});
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "usage"));
    result_free(&r);
}
END_TEST

/* TG_KERNEL naming no variant, or one this CPU lacks: exit 2 with the
 * reason, never a silent fall back to another variant */
START_TEST(forced_kernel)
{
    ck_assert_int_eq(setenv("TG_KERNEL", "avx9", 1), 0);
    result r = RUN("--version");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "TG_KERNEL=avx9: unknown kernel variant"));
    result_free(&r);
    r = RUN("gradcheck", "--op", "relu");
    ck_assert_int_eq(r.status, 2);
    result_free(&r);
    ck_assert_int_eq(setenv("TG_KERNEL", "portable", 1), 0);
    r = RUN("--version");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "(kernels: portable)"));
    result_free(&r);
    unsetenv("TG_KERNEL");
}
END_TEST

START_TEST(help_and_version)
{
    result r = RUN("--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "gradcheck"));
    ck_assert_ptr_nonnull(strstr(r.out, "graph"));
    ck_assert_ptr_nonnull(strstr(r.out, "demo"));
    result_free(&r);
    const char *cmds[] = {"gradcheck", "graph", "demo"};
    for (int i = 0; i < 3; i++) {
        r = run((const char *const[]){cmds[i], "--help", NULL});
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.out, "usage: tapegrad"));
        ck_assert_ptr_nonnull(strstr(r.out, cmds[i]));
        result_free(&r);
    }
    r = RUN("--version");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "tapegrad "));
    result_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- graph */
static void check_gan_dot(const char *s)
{
    ck_assert_msg(!strncmp(s, "digraph", 7), "not a digraph: %.60s", s);
    ck_assert_ptr_nonnull(strstr(s, "matmul"));
    ck_assert_ptr_nonnull(strstr(s, "G/l0.w"));
    ck_assert_ptr_nonnull(strstr(s, "D/l2.b"));
    ck_assert_ptr_nonnull(strstr(s, "detach"));
    ck_assert_ptr_nonnull(strstr(s, "bce_logits"));
    ck_assert_ptr_nonnull(strstr(s, "gen_loss"));
    ck_assert_ptr_nonnull(strstr(s, "->"));
    ck_assert_ptr_nonnull(strstr(s, "}\n"));
}

START_TEST(graph_tiny_gan)
{
    result r = RUN("graph", "--model", "tiny", "--net", "gan", "--batch", "5");
    ck_assert_int_eq(r.status, 0);
    check_gan_dot(r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "5x12")); /* batch 5, 12 features */
    result_free(&r);
}
END_TEST

START_TEST(graph_nets)
{
    result r = RUN("graph", "--model", "tiny", "--net", "G");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "G/l2.w"));
    ck_assert_ptr_null(strstr(r.out, "D/l0.w"));
    result_free(&r);
    r = RUN("graph", "--model=reference", "--net=D");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "D/l3.w"));
    ck_assert_ptr_nonnull(strstr(r.out, "784x512"));
    ck_assert_ptr_nonnull(strstr(r.out, "dropout"));
    ck_assert_ptr_null(strstr(r.out, "G/l0.w"));
    result_free(&r);
}
END_TEST

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

START_TEST(graph_to_file)
{
    char dir[] = "/tmp/tg_cli_dirXXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gan.dot", dir);
    result r = RUN("graph", "--model", "tiny", "-o", path);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    result_free(&r);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    check_gan_dot(buf);
    ck_assert_int_eq(count_entries(dir), 1); /* no temporary file left */
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(graph_to_unwritable)
{
    /* a directory that does not exist: fails for every user, even root */
    result r = RUN("graph", "--model", "tiny", "-o", "/nonexistent-tapegrad-dir/gan.dot");
    ck_assert_int_ne(r.status, 0);
    ck_assert_int_ne(r.status, -1); /* exited, did not crash */
    ck_assert_ptr_nonnull(strstr(r.err, "gan.dot"));
    ck_assert_str_eq(r.out, "");
    result_free(&r);

    /* a read-only directory (root ignores permissions: skip that part) */
    char dir[] = "/tmp/tg_cli_roXXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gan.dot", dir);
    chmod(dir, 0500);
    if (geteuid() != 0) {
        r = RUN("graph", "--model", "tiny", "-o", path);
        ck_assert_int_eq(r.status, 1);
        ck_assert(strlen(r.err) > 0);
        result_free(&r);
        ck_assert_int_eq(count_entries(dir), 0);
    }
    chmod(dir, 0700);
    rmdir(dir);
}
END_TEST

/* ----------------------------------------------------------------- demo */
START_TEST(demo_short)
{
    result r = RUN("demo", "--steps", "20", "--every", "10");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "loss_D"));
    ck_assert_ptr_null(strstr(r.out, "FAIL"));
    ck_assert_ptr_nonnull(strstr(r.out, "arena"));
    ck_assert_ptr_nonnull(strstr(r.out, "naive"));
    result_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- bench
 * Output format only (speed is never asserted in a test): the profile rows
 * name the ops that ran and account for the repeat's time; peak reports a
 * positive rate per thread count; bad options fail with status 2. */
START_TEST(bench_profile_and_peak)
{
    result r = RUN("bench", "gan-step", "--batch", "8", "--threads", "2", "--steps", "3", "--repeats", "1",
                   "--profile", "--json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"profile\":\"matmul\",\"pass\":\"forward\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"profile\":\"matmul\",\"pass\":\"backward\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"profile\":\"adam\",\"pass\":\"step\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"profile\":\"outside\""));
    /* shares of the rows sum to 1 (the outside row is the remainder) */
    double sum = 0;
    for (const char *p = r.out; (p = strstr(p, "\"share\":")); p++) sum += atof(p + 8);
    ck_assert_double_eq_tol(sum, 1.0, 1e-3);
    ck_assert_ptr_nonnull(strstr(r.out, "\"samples_per_s\""));
    result_free(&r);

    r = RUN("bench", "peak", "--threads", "2", "--repeats", "1", "--steps", "10000", "--json");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    const char *t2 = strstr(r.out, "\"threads\":2,\"gflops\":");
    ck_assert_ptr_nonnull(strstr(r.out, "\"threads\":1,\"gflops\":"));
    ck_assert_ptr_nonnull(t2);
    ck_assert_double_gt(atof(t2 + strlen("\"threads\":2,\"gflops\":")), 0.0);
    result_free(&r);

    r = RUN("bench", "peak", "--threads", "0");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--threads"));
    result_free(&r);
    r = RUN("bench", "nosuch");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "peak"));
    result_free(&r);
}
END_TEST

/* ------------------------------------------------- option values
 * Each of these once got past the parser: a value missing at the end of the
 * line crashed train-gan (--beta1, --beta2 read an uninitialized pointer),
 * and values in range as doubles left it once stored as floats (1 for a
 * beta or a dropout, 0 for a learning rate). The run folder and data are
 * given so that a parser that lets them through fails later with status 1. */
START_TEST(option_values)
{
    const char *const no_dir = "/dev/null/tapegrad-run"; /* no one can create it, not even root */
    USAGE_ERROR("train-gan", "--beta1");
    USAGE_ERROR("train-gan", "--beta2");
    USAGE_ERROR("train-gan", "--out", no_dir, "--beta2", "0.99999999");
    USAGE_ERROR("train-gan", "--out", no_dir, "--dropout", "0.99999999");
    USAGE_ERROR("train-gan", "--out", no_dir, "--lr-g", "1e-50");
    USAGE_ERROR("train-gan", "--out", no_dir, "--lr-d", "1e-40");
    USAGE_ERROR("train-gan", "--out", no_dir, "--sigma", "1e-50");
    USAGE_ERROR("train-classifier", "--data", no_dir, "--out", no_dir, "--lr", "1e-50");
    USAGE_ERROR("activations", "--data", no_dir, "--out", no_dir, "--lr", "1e-50");
    /* a missing --model value is reported once */
    result r = RUN("train-gan", "--model");
    ck_assert_int_eq(r.status, 2);
    const char *m = strstr(r.err, "needs a value");
    ck_assert_msg(m && !strstr(m + 1, "needs a value"), "stderr: %s", r.err);
    result_free(&r);
}
END_TEST

/* -------------------------------------------------- checkpoint metadata
 * A checkpoint holding only "__metadata__" (written here byte by byte): its
 * configuration is read first, so a valid one fails only later, on the
 * missing weights; an invalid value must be refused by name. */
static void write_meta_checkpoint(const char *file, const char *const (*kv)[2], size_t n, const char *key,
                                  const char *value)
{
    char json[4096];
    size_t o = (size_t)snprintf(json, sizeof json, "{\"__metadata__\":{");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "%s\"%s\":\"%s\"", i ? "," : "", kv[i][0],
                              !strcmp(kv[i][0], key) ? value : kv[i][1]);
    o += (size_t)snprintf(json + o, sizeof json - o, "}}");
    ck_assert_uint_lt(o, sizeof json);
    FILE *f = fopen(file, "wb");
    ck_assert_ptr_nonnull(f);
    for (int b = 0; b < 8; b++) fputc((int)((uint64_t)o >> (8 * b) & 0xff), f);
    fwrite(json, 1, o, f);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *const gan_meta[][2] = {
    {"format", "tapegrad-gan/1"}, {"model", "reference"},   {"g_widths", "100,128,256,512,784"},
    {"d_widths", "784,512,256,128,1"}, {"g_act", "leaky_relu"}, {"d_act", "leaky_relu"},
    {"g_slope", "0.200000003"},   {"d_slope", "0.200000003"}, {"g_dropout", "0"},
    {"d_dropout", "0.300000012"}, {"g_out", "tanh"},        {"init", "xavier"},
    {"sigma", "0.0199999996"},    {"batch", "64"},          {"epochs", "30"},
    {"seed", "1"},                {"lr_g", "0.000199999995"}, {"lr_d", "0.000199999995"},
    {"beta1", "0.5"},             {"beta2", "0.999000013"}, {"eps", "9.99999994e-09"},
    {"real_label", "0.899999976"}, {"g_loss", "nonsaturating"}, {"fresh_z", "0"},
};

START_TEST(checkpoint_metadata)
{
    tmp_make("tg_cli_ckpt");
    const size_t n = sizeof gan_meta / sizeof gan_meta[0];
    /* accepted: the values ckpt_save writes, and the edges train-gan accepts */
    static const char *const ok[][2] = {
        {"seed", "1"}, {"beta2", "0.99999994"}, {"d_dropout", "0.99949998"}, {"lr_g", "9.99999935e-36"},
        {"init", "zeros"}, {"g_loss", "saturating"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        write_meta_checkpoint(path("c.safetensors"), gan_meta, n, ok[i][0], ok[i][1]);
        result r = RUN("sample", "--checkpoint", path("c.safetensors"), "--n", "1", "--out", path("o.idx"));
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "no tensor 'G/l0.w'"), "%s = %s: %s", ok[i][0], ok[i][1], r.err);
        result_free(&r);
    }
    /* refused, by name: words the reader once mapped to a default, numbers
     * it once truncated or read differently from the range check */
    static const char *const bad[][2] = {
        {"g_loss", "noisaturating"}, {"init", "he"}, {"seed", "1e3"}, {"seed", "-1"}, {"batch", "64.5"},
        {"epochs", "0x10"}, {"fresh_z", "0.5"}, {"beta1", "1"}, {"lr_d", "0"}, {"d_widths", "784,512,2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_meta_checkpoint(path("c.safetensors"), gan_meta, n, bad[i][0], bad[i][1]);
        result r = RUN("sample", "--checkpoint", path("c.safetensors"), "--n", "1", "--out", path("o.idx"));
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(!strstr(r.err, "no tensor"), "%s = %s was accepted: %s", bad[i][0], bad[i][1], r.err);
        result_free(&r);
    }
    tmp_remove();
}
END_TEST

/* Format 2: the model as its text form ("model_spec"; "\\n" is a JSON
 * newline). Accepted as the writer writes it, whatever the layers; refused
 * spelled another way, with a bad layer (named), or without it. */
static const char *const gan_v2_meta[][2] = {
    {"format", "tapegrad-gan/2"}, {"model", "reference"},
    {"model_spec", "G: in 100, dense 128, leaky_relu 0.2, dense 256, leaky_relu 0.2, dense 512, leaky_relu 0.2, "
                   "dense 784, tanh\\nD: in 784, dense 512, leaky_relu 0.2, dropout 0.3, dense 256, leaky_relu 0.2, "
                   "dropout 0.3, dense 128, leaky_relu 0.2, dropout 0.3, dense 1\\ninit: xavier\\nsigma: 0.02"},
    {"batch", "64"}, {"epochs", "30"}, {"seed", "1"}, {"lr_g", "0.000199999995"}, {"lr_d", "0.000199999995"},
    {"beta1", "0.5"}, {"beta2", "0.999000013"}, {"eps", "9.99999994e-09"}, {"real_label", "0.899999976"},
    {"g_loss", "nonsaturating"}, {"fresh_z", "0"},
};

START_TEST(checkpoint_metadata_v2)
{
    tmp_make("tg_cli_v2");
    const size_t n = sizeof gan_v2_meta / sizeof gan_v2_meta[0];
    static const char *const cases[][3] = {
        {"seed", "1", NULL},
        {"model_spec", "G: in 8, dense 784 nobias, tanh\\nD: in 784, dense 4, relu, dense 1\\ninit: normal\\nsigma: 0.5",
         NULL},
        {"model_spec", "G: in 100, dense 784, tanh\\nD: in 784, dense 1\\ninit: xavier\\nsigma: 0.020",
         "not spelled as the writer spells it"},
        {"model_spec", "G: in 100, conv9 3, dense 784\\nD: in 784, dense 1\\ninit: xavier\\nsigma: 0.02",
         "model G: layer 1: unknown layer 'conv9'"},
        {"model_spec", "G: in 100, dense 700\\nD: in 784, dense 1\\ninit: xavier\\nsigma: 0.02",
         "G makes 700 values but D takes 784"},
        {"format", "tapegrad-gan/3", "format 'tapegrad-gan/3'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_meta_checkpoint(path("c.safetensors"), gan_v2_meta, n, cases[i][0], cases[i][1]);
        result r = RUN("sample", "--checkpoint", path("c.safetensors"), "--n", "1", "--out", path("o.idx"));
        ck_assert_int_eq(r.status, 1);
        const char *want = cases[i][2] ? cases[i][2] : "no tensor 'G/l0.w'";
        ck_assert_msg(strstr(r.err, want), "%s = %s: '%s' lacks %s", cases[i][0], cases[i][1], r.err, want);
        result_free(&r);
    }
    /* without the model: format 1's keys do not stand in for it */
    const char *kv[sizeof gan_v2_meta / sizeof gan_v2_meta[0]][2];
    memcpy(kv, gan_v2_meta, sizeof kv);
    kv[2][0] = "g_widths";
    kv[2][1] = "100,784";
    write_meta_checkpoint(path("c.safetensors"), (const char *const(*)[2])kv, n, "", "");
    result r = RUN("sample", "--checkpoint", path("c.safetensors"), "--n", "1", "--out", path("o.idx"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "metadata has no 'model_spec'"), "%s", r.err);
    result_free(&r);
    tmp_remove();
}
END_TEST

/* The run's part of the checkpoint ("log_every", "data", "classifier",
 * "eval_every", "limit"), read by train-gan --resume, is as strict as the
 * configuration: whole numbers in the ranges train-gan accepts, no empty
 * path. A valid one fails only later, on the data: the 10-image fixture
 * is read and is smaller than the stored batch of 64. */
START_TEST(checkpoint_run_metadata)
{
    tmp_make("tg_cli_run");
    ck_assert_int_eq(mkdir(path("run"), 0755), 0);
    const char *data = fixtures();
    const size_t n0 = sizeof gan_meta / sizeof gan_meta[0];
    const char *kv[sizeof gan_meta / sizeof gan_meta[0] + 5][2];
    memcpy(kv, gan_meta, sizeof gan_meta);
    const char *const run_keys[5][2] = {
        {"log_every", "50"}, {"data", data}, {"classifier", "/nowhere/classifier.safetensors"},
        {"eval_every", "0"}, {"limit", "0"},
    };
    memcpy(kv + n0, run_keys, sizeof run_keys);
    const size_t n = n0 + 5;
    static const char *const cases[][3] = {
        {"limit", "100000000", NULL}, {"eval_every", "0", NULL}, {"log_every", "1000000", NULL},
        {"log_every", "1e3", "'log_every'"}, {"log_every", "0", "'log_every'"}, {"limit", "64.5", "'limit'"},
        {"limit", "100000001", "'limit'"}, {"eval_every", "-1", "'eval_every'"}, {"eval_every", " 1", "'eval_every'"},
        {"data", "", "'data'"}, {"classifier", "", "'classifier'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_meta_checkpoint(path("run/checkpoint.safetensors"), (const char *const(*)[2])kv, n, cases[i][0],
                              cases[i][1]);
        result r = RUN("train-gan", "--resume", path("run"), "--quiet");
        ck_assert_int_eq(r.status, 1);
        const char *want = cases[i][2] ? cases[i][2] : "--batch 64 is larger than the 10 training images";
        ck_assert_msg(strstr(r.err, want), "%s = %s: '%s' lacks %s", cases[i][0], cases[i][1], r.err, want);
        result_free(&r);
    }
    tmp_remove();
}
END_TEST

static const char *const clf_meta[][2] = {
    {"format", "tapegrad-classifier/1"}, {"widths", "784,32,16,10"}, {"act", "tanh"}, {"slope", "0.00999999978"},
    {"epochs", "1"}, {"seed", "1"}, {"batch", "5"},
};

START_TEST(classifier_metadata)
{
    tmp_make("tg_cli_clf");
    /* two 28x28 images for `evaluate` to read before the classifier */
    FILE *f = fopen(path("s.idx"), "wb");
    ck_assert_ptr_nonnull(f);
    const unsigned char h[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
    fwrite(h, 1, sizeof h, f);
    for (int i = 0; i < 2 * 28 * 28; i++) fputc(i & 0xff, f);
    ck_assert_int_eq(fclose(f), 0);
    const size_t n = sizeof clf_meta / sizeof clf_meta[0];
    static const char *const cases[][3] = {
        {"seed", "7", NULL}, {"batch", "abc", "'batch'"}, {"batch", "0", "'batch'"},
        {"seed", "1e3", "'seed'"}, {"epochs", "1.5", "'epochs'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_meta_checkpoint(path("c.safetensors"), clf_meta, n, cases[i][0], cases[i][1]);
        result r = RUN("evaluate", path("s.idx"), "--classifier", path("c.safetensors"), "--data", path("none"));
        ck_assert_int_eq(r.status, 1);
        const char *want = cases[i][2] ? cases[i][2] : "no tensor 'C/l0.w'";
        ck_assert_msg(strstr(r.err, want), "%s = %s: '%s' lacks %s", cases[i][0], cases[i][1], r.err, want);
        result_free(&r);
    }
    tmp_remove();
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, list_every_op);
    tcase_add_test(tc, all_pass);
    tcase_add_test(tc, one_op_and_one_case);
    tcase_add_test(tc, graph_tiny_gan);
    tcase_add_test(tc, graph_nets);
    tcase_add_test(tc, graph_to_file);
    tcase_add_test(tc, demo_short);
    tcase_add_test(tc, bench_profile_and_peak);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, impossible_tolerance_fails);
    tcase_add_test(tc, unknown_op);
    tcase_add_test(tc, bad_flags);
    tcase_add_test(tc, no_arguments);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, forced_kernel);
    tcase_add_test(tc, graph_to_unwritable);
    tcase_add_test(tc, option_values);
    tcase_add_test(tc, checkpoint_metadata);
    tcase_add_test(tc, checkpoint_metadata_v2);
    tcase_add_test(tc, checkpoint_run_metadata);
    tcase_add_test(tc, classifier_metadata);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tg_run_suite(cli_suite());
}
