/* cmd_evaluate.c - `tapegrad evaluate`: how close a file of generated digits
 * is to MNIST, seen through the classifier (evaluate.h, fid.h). */
#include "classifier.h"
#include "cli.h"
#include "commands.h"
#include "evaluate.h"
#include "fid.h"
#include "idx.h"
#include "run_files.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "evaluate"
#define CHUNK 1000 /* images per classifier call */
#define DEFAULT_CLASSIFIER "data/classifier/classifier.safetensors"

struct eval_ref {
    clf *m;
    int d, h, w;           /* feature width, image size */
    double *mu, *cov;      /* test set: (d), (d, d) */
    eval_result self;      /* the test set's own statistics */
};

static void msg(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

const char *eval_default_classifier(void)
{
    const char *e = getenv("TAPEGRAD_CLASSIFIER");
    return e && *e ? e : DEFAULT_CLASSIFIER;
}

/* features (n, d) and probabilities (n, 10) of n images, CHUNK at a time */
static int features(eval_ref *e, const float *x, int n, float *f, float *p, char *err, size_t len)
{
    const size_t px = (size_t)e->h * e->w;
    for (int i = 0; i < n; i += CHUNK) {
        int b = n - i < CHUNK ? n - i : CHUNK;
        if (clf_features(e->m, x + (size_t)i * px, b, f + (size_t)i * e->d, p + (size_t)i * EVAL_CLASSES, err, len))
            return -1;
    }
    return 0;
}

/* everything but the distance: IS, histogram, entropy, confidence */
static void label_stats(const float *p, int n, eval_result *r)
{
    r->n = n;
    r->is = fid_inception_score(p, n, EVAL_CLASSES);
    r->confidence = fid_label_hist(p, n, EVAL_CLASSES, r->hist);
    r->entropy_bits = fid_entropy_bits(r->hist, EVAL_CLASSES);
}

eval_ref *eval_ref_new(const char *clf_path, const char *data_dir, int threads, char *err, size_t len)
{
    const char *cp = clf_path ? clf_path : eval_default_classifier();
    data_dir = run_data_dir(data_dir);
    if (access(cp, F_OK) != 0) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s", cp);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else strcpy(dir, ".");
        msg(err, len,
            "classifier %s not found: train one with 'tapegrad train-classifier --data %s --out %s' "
            "(bash tools/run.sh main does), or pass --classifier FILE or set $TAPEGRAD_CLASSIFIER",
            cp, data_dir, dir);
        return NULL;
    }
    eval_ref *e = calloc(1, sizeof *e);
    mnist_set t = {0};
    float *f = NULL, *p = NULL;
    char sub[512];
    if (!e) goto nomem;
    if (!(e->m = clf_load(cp, threads, sub, sizeof sub))) {
        msg(err, len, "classifier %s: %s", cp, sub);
        goto fail;
    }
    e->d = clf_feat_dim(e->m);
    if (mnist_load(data_dir, "test", &t, sub, sizeof sub)) {
        msg(err, len, "%s (the test set is the reference; fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)",
            sub);
        goto fail;
    }
    /* features() steps through the images by h*w pixels and the classifier
     * reads in_dim floats of each: they must agree (a wider classifier
     * would read past the images) */
    if (clf_in_dim(e->m) != t.h * t.w) {
        msg(err, len,
            "classifier %s takes %d inputs per image, but the test set's images in %s are %dx%d = %d pixels "
            "(train a classifier on these images with 'tapegrad train-classifier --data %s')",
            cp, clf_in_dim(e->m), data_dir, t.h, t.w, t.h * t.w, data_dir);
        goto fail;
    }
    e->h = t.h;
    e->w = t.w;
    e->mu = malloc((size_t)e->d * sizeof *e->mu);
    e->cov = malloc((size_t)e->d * e->d * sizeof *e->cov);
    f = malloc((size_t)t.n * e->d * sizeof *f);
    p = malloc((size_t)t.n * EVAL_CLASSES * sizeof *p);
    if (!e->mu || !e->cov || !f || !p) goto nomem;
    if (features(e, t.images, t.n, f, p, sub, sizeof sub)) {
        msg(err, len, "classifier %s on the test set: %s", cp, sub);
        goto fail;
    }
    if (fid_stats(f, t.n, e->d, e->mu, e->cov)) goto nomem;
    label_stats(p, t.n, &e->self);
    e->self.fid = 0;
    free(f);
    free(p);
    mnist_free(&t);
    return e;
nomem:
    msg(err, len, "out of memory");
fail:
    free(f);
    free(p);
    mnist_free(&t);
    eval_ref_free(e);
    return NULL;
}

void eval_ref_free(eval_ref *e)
{
    if (!e) return;
    clf_free(e->m);
    free(e->mu);
    free(e->cov);
    free(e);
}

const eval_result *eval_ref_self(const eval_ref *e) { return &e->self; }
int eval_ref_feat_dim(const eval_ref *e) { return e->d; }
int eval_ref_pixels(const eval_ref *e, int *h, int *w)
{
    if (h) *h = e->h;
    if (w) *w = e->w;
    return e->h * e->w;
}

int eval_images(eval_ref *e, const float *images, int n, eval_result *res, char *err, size_t len)
{
    if (n < 2) {
        msg(err, len, "need at least 2 images for a covariance, got %d", n);
        return -1;
    }
    const int d = e->d;
    float *f = malloc((size_t)n * d * sizeof *f), *p = malloc((size_t)n * EVAL_CLASSES * sizeof *p);
    double *mu = malloc((size_t)d * sizeof *mu), *cov = malloc((size_t)d * d * sizeof *cov);
    int rc = -1;
    if (!f || !p || !mu || !cov) {
        msg(err, len, "out of memory");
        goto done;
    }
    if (features(e, images, n, f, p, err, len)) goto done;
    label_stats(p, n, res);
    if (fid_stats(f, n, d, mu, cov) || fid_distance(mu, cov, e->mu, e->cov, d, &res->fid)) {
        msg(err, len, "out of memory (or the eigensolver did not converge)");
        goto done;
    }
    rc = 0;
done:
    free(f);
    free(p);
    free(mu);
    free(cov);
    return rc;
}

/* ---- the command ---- */
void cmd_evaluate_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad evaluate SAMPLES.idx [--classifier FILE] [--data DIR] [--json] [--threads T]\n"
            "\n"
            "Score generated digits (IDX ubyte, N x 28 x 28, pixels 0..255: what\n"
            "`tapegrad sample --out FILE.idx` writes) against the MNIST test set, through\n"
            "a trained classifier:\n"
            "  Frechet distance  between Gaussians fitted to the classifier's last hidden\n"
            "                    layer on the samples and on the test set (0: the same)\n"
            "  inception score   exp(E[KL(p(y|x) || p(y))]): 1..10, high when each digit is\n"
            "                    recognizable and the classes are varied\n"
            "  label histogram   predicted classes, and its entropy in bits: log2(10) = 3.32\n"
            "                    when every digit appears equally often, 0 for one class\n"
            "  mean confidence   mean of the top class probability\n"
            "\n"
            "  --classifier FILE  tapegrad-classifier checkpoint (default $TAPEGRAD_CLASSIFIER,\n"
            "                     else " DEFAULT_CLASSIFIER ", made by\n"
            "                     `tapegrad train-classifier` / `bash tools/run.sh main`)\n"
            "  --data DIR         MNIST folder with the test set (default $TAPEGRAD_DATA, else data/mnist)\n"
            "  --json             one JSON line instead of the text block\n"
            "  --threads T        worker threads (default 2)\n");
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_json(const char *samples, const char *cp, const char *data, const eval_ref *e, const eval_result *r)
{
    const eval_result *t = eval_ref_self(e);
    printf("{\"samples\":");
    json_str(samples);
    printf(",\"classifier\":");
    json_str(cp);
    printf(",\"data\":");
    json_str(data);
    printf(",\"n\":%d,\"test_n\":%d,\"feat_dim\":%d,\"fid\":%.10g,\"is\":%.10g,\"entropy_bits\":%.10g,"
           "\"max_entropy_bits\":%.10g,\"mean_confidence\":%.10g,\"histogram\":[",
           r->n, t->n, eval_ref_feat_dim(e), r->fid, r->is, r->entropy_bits, log2(EVAL_CLASSES), r->confidence);
    for (int k = 0; k < EVAL_CLASSES; k++) printf(k ? ",%ld" : "%ld", r->hist[k]);
    printf("],\"test_is\":%.10g,\"test_entropy_bits\":%.10g,\"test_mean_confidence\":%.10g}\n", t->is,
           t->entropy_bits, t->confidence);
}

static void print_text(const char *samples, const char *cp, const char *data, const eval_ref *e, const eval_result *r)
{
    const eval_result *t = eval_ref_self(e);
    printf("evaluate %s: %d images\n", samples, r->n);
    printf("  reference        MNIST test set in %s (%d images)\n", data, t->n);
    printf("  classifier       %s (%d features)\n", cp, eval_ref_feat_dim(e));
    printf("                       samples   test set\n");
    printf("  Frechet distance %10.4f %10.4f\n", r->fid, 0.0);
    printf("  inception score  %10.4f %10.4f   (1..10)\n", r->is, t->is);
    printf("  label entropy    %10.4f %10.4f   bits (log2(10) = %.4f: all digits equally often)\n",
           r->entropy_bits, t->entropy_bits, log2(EVAL_CLASSES));
    printf("  mean confidence  %10.4f %10.4f\n", r->confidence, t->confidence);
    printf("  predicted labels ");
    for (int k = 0; k < EVAL_CLASSES; k++) printf(" %d:%.1f%%", k, 100.0 * (double)r->hist[k] / r->n);
    printf("\n");
}

int cmd_evaluate_parse(int argc, char **argv, evaluate_opts *o)
{
    const char *v;
    *o = (evaluate_opts){NULL, NULL, NULL, 0, 2};
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            cmd_evaluate_help(stdout);
            return -1;
        }
        if (!strcmp(argv[i], "--json")) o->json = 1;
        else if ((r = cli_opt(CMD, argc, argv, &i, "--classifier", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->classifier = v;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--data", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->data = v;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--threads", v, 1, 64, &o->threads)) return CLI_USAGE;
        } else if (argv[i][0] != '-' && !o->samples) o->samples = argv[i];
        else return cli_bad_arg(CMD, argv[i]);
    }
    if (!o->samples) {
        cli_err("%s: which images? give a SAMPLES.idx file (see 'tapegrad evaluate --help')", CMD);
        return CLI_USAGE;
    }
    return 0;
}

int cmd_evaluate(int argc, char **argv)
{
    evaluate_opts o;
    int rc = cmd_evaluate_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *samples = o.samples, *cp = o.classifier, *data = o.data;
    const int json = o.json, threads = o.threads;
    if (!cp) cp = eval_default_classifier();
    data = run_data_dir(data);
    char err[1024];
    idx_array a = {0};
    eval_ref *e = NULL;
    float *x = NULL;
    int status = CLI_FAIL;
    if (idx_read(samples, &a, err, sizeof err)) {
        cli_err("%s: %s", CMD, err);
        goto done;
    }
    if (!(e = eval_ref_new(cp, data, threads, err, sizeof err))) {
        cli_err("%s: %s", CMD, err);
        goto done;
    }
    int h, w;
    eval_ref_pixels(e, &h, &w);
    if (a.ndim != 3 || a.dims[1] != h || a.dims[2] != w) {
        char shape[64] = "";
        for (int k = 0; k < a.ndim; k++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), k ? " x %d" : "%d", a.dims[k]);
        cli_err("%s: %s holds %s values; expected N x %d x %d images like the test set", CMD, samples, shape, h, w);
        goto done;
    }
    const int n = a.dims[0];
    if (n < 2) {
        cli_err("%s: %s holds %d image; need at least 2 for a covariance", CMD, samples, n);
        goto done;
    }
    if (!(x = malloc(a.count * sizeof *x))) {
        cli_err("%s: out of memory", CMD);
        goto done;
    }
    for (size_t i = 0; i < a.count; i++) x[i] = (float)a.data[i] / 127.5f - 1.0f; /* as mnist_load */
    eval_result r;
    if (eval_images(e, x, n, &r, err, sizeof err)) {
        cli_err("%s: %s", CMD, err);
        goto done;
    }
    if (json) print_json(samples, cp, data, e, &r);
    else print_text(samples, cp, data, e, &r);
    status = CLI_OK;
done:
    idx_free(&a);
    eval_ref_free(e);
    free(x);
    return status;
}
