/* cmd_evaluate.c - `tapegrad evaluate`: how close a file of generated digits
 * is to MNIST, seen through the classifier (evaluate.h, fid.h). */
#include "cli.h"
#include "commands.h"
#include "evaluate.h"
#include "idx.h"
#include "opts.h"
#include "run_dir.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CMD "evaluate"
#define O(member) offsetof(evaluate_opts, member)

static const set_row rows[] = {
    {.arg = "SAMPLES.idx", .type = &set_text, .off = O(samples), .help = "the images to score",
     .flags = SET_POSITIONAL | SET_REQUIRED},
    {.flag = "--classifier", .type = &set_text, .off = O(classifier), .arg = "FILE",
     .help = "tapegrad-classifier checkpoint (default $TAPEGRAD_CLASSIFIER, else "
             "data/classifier/classifier.safetensors, made by `tapegrad train-classifier` / `bash tools/run.sh main`)"},
    {.flag = "--data", .type = &set_text, .off = O(data), .arg = "DIR",
     .help = "MNIST folder with the test set (default $TAPEGRAD_DATA, else data/mnist)"},
    {.flag = "--json", .type = &set_switch, .off = O(json), .help = "one JSON line instead of the text block"},
    {.flag = "--threads", .type = &set_int, .off = O(threads), .lo = 1, .hi = 64, .def = "2", .arg = "T",
     .help = "worker threads"},
};

static const set_table table = {
    .name = CMD,
    .usage = "tapegrad evaluate SAMPLES.idx [--classifier FILE] [--data DIR] [--json] [--threads T]",
    .about = "Score generated digits (IDX ubyte, N x 28 x 28, pixels 0..255: what `tapegrad sample --out FILE.idx` "
             "writes) against the MNIST test set, through a trained classifier:\n"
             "  Frechet distance  between Gaussians fitted to the classifier's last hidden\n"
             "                    layer on the samples and on the test set (0: the same)\n"
             "  inception score   exp(E[KL(p(y|x) || p(y))]): 1..10, high when each digit is\n"
             "                    recognizable and the classes are varied\n"
             "  label histogram   predicted classes, and its entropy in bits: log2(10) = 3.32\n"
             "                    when every digit appears equally often, 0 for one class\n"
             "  mean confidence   mean of the top class probability",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
};

static void defaults(evaluate_opts *o)
{
    memset(o, 0, sizeof *o);
    set_defaults(&table, o);
}

void cmd_evaluate_help(FILE *out)
{
    evaluate_opts d;
    defaults(&d);
    opts_help(&table, &d, out);
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
    defaults(o);
    return opts_parse(&table, argc, argv, o, o->given, NULL);
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
    tg_error e;
    idx_array a = {0};
    eval_ref *ref = NULL;
    float *x = NULL;
    int status = CLI_FAIL;
    if (idx_read(samples, &a, &e) != TG_OK || !(ref = eval_ref_new(cp, data, threads, &e))) {
        cli_report(CMD, &e);
        goto done;
    }
    int h, w;
    eval_ref_pixels(ref, &h, &w);
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
    if (eval_images(ref, x, n, &r, &e) != TG_OK) {
        cli_report(CMD, &e);
        goto done;
    }
    if (json) print_json(samples, cp, data, ref, &r);
    else print_text(samples, cp, data, ref, &r);
    status = CLI_OK;
done:
    idx_free(&a);
    eval_ref_free(ref);
    free(x);
    return status;
}
