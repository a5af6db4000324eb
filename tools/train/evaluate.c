/* evaluate.c - sample-quality statistics against the MNIST test set
 * (evaluate.h): the classifier's features, fid.h's math, and the evaluator
 * train-gan --eval-every runs on G's fixed-noise samples. */
#include "evaluate.h"

#include "classifier.h"
#include "fid.h"
#include "idx.h"
#include "run_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 1000 /* images per classifier call */
#define DEFAULT_CLASSIFIER "data/classifier/classifier.safetensors"

struct eval_ref {
    clf *m;
    int d, h, w;           /* feature width, image size */
    double *mu, *cov;      /* test set: (d), (d, d) */
    eval_result self;      /* the test set's own statistics */
};

const char *eval_default_classifier(void)
{
    const char *e = getenv("TAPEGRAD_CLASSIFIER");
    return e && *e ? e : DEFAULT_CLASSIFIER;
}

/* features (n, d) and probabilities (n, 10) of n images, CHUNK at a time */
static tg_status features(eval_ref *e, const float *x, int n, float *f, float *p, tg_error *err)
{
    const size_t px = (size_t)e->h * e->w;
    for (int i = 0; i < n; i += CHUNK) {
        int b = n - i < CHUNK ? n - i : CHUNK;
        tg_status st =
            clf_features(e->m, x + (size_t)i * px, b, f + (size_t)i * e->d, p + (size_t)i * EVAL_CLASSES, err);
        if (st != TG_OK) return st;
    }
    return TG_OK;
}

/* everything but the distance: IS, histogram, entropy, confidence */
static void label_stats(const float *p, int n, eval_result *r)
{
    r->n = n;
    r->is = fid_inception_score(p, n, EVAL_CLASSES);
    r->confidence = fid_label_hist(p, n, EVAL_CLASSES, r->hist);
    r->entropy_bits = fid_entropy_bits(r->hist, EVAL_CLASSES);
}

eval_ref *eval_ref_new(const char *clf_path, const char *data_dir, int threads, tg_error *err)
{
    const char *cp = clf_path ? clf_path : eval_default_classifier();
    data_dir = run_data_dir(data_dir);
    if (access(cp, F_OK) != 0) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s", cp);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else strcpy(dir, ".");
        tg_error_set(err, TG_ERR_IO,
            "classifier %s not found: train one with 'tapegrad train-classifier --data %s --out %s' "
            "(bash tools/run.sh main does), or pass --classifier FILE or set $TAPEGRAD_CLASSIFIER",
            cp, data_dir, dir);
        return NULL;
    }
    eval_ref *e = calloc(1, sizeof *e);
    mnist_set t = {0};
    float *f = NULL, *p = NULL;
    tg_error sub;
    if (!e) goto nomem;
    if (!(e->m = clf_load(cp, threads, &sub))) {
        tg_error_set(err, sub.code, "classifier %s: %s", cp, sub.msg);
        goto fail;
    }
    e->d = clf_feat_dim(e->m);
    if (mnist_load(data_dir, "test", &t, &sub) != TG_OK) {
        tg_error_set(err, sub.code,
                     "%s (the test set is the reference; fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)",
                     sub.msg);
        goto fail;
    }
    /* features() steps through the images by h*w pixels and the classifier
     * reads in_dim floats of each: they must agree (a wider classifier
     * would read past the images) */
    if (clf_in_dim(e->m) != t.h * t.w) {
        tg_error_set(err, TG_ERR_ARG,
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
    if (features(e, t.images, t.n, f, p, &sub) != TG_OK) {
        tg_error_set(err, sub.code, "classifier %s on the test set: %s", cp, sub.msg);
        goto fail;
    }
    if (fid_stats(f, t.n, e->d, e->mu, e->cov) != TG_OK) goto nomem;
    label_stats(p, t.n, &e->self);
    e->self.fid = 0;
    free(f);
    free(p);
    mnist_free(&t);
    return e;
nomem:
    tg_error_set(err, TG_ERR_NOMEM, "out of memory");
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

tg_status eval_images(eval_ref *e, const float *images, int n, eval_result *res, tg_error *err)
{
    if (n < 2) return tg_error_set(err, TG_ERR_ARG, "need at least 2 images for a covariance, got %d", n);
    const int d = e->d;
    float *f = malloc((size_t)n * d * sizeof *f), *p = malloc((size_t)n * EVAL_CLASSES * sizeof *p);
    double *mu = malloc((size_t)d * sizeof *mu), *cov = malloc((size_t)d * d * sizeof *cov);
    tg_status rc;
    if (!f || !p || !mu || !cov) {
        rc = tg_error_set(err, TG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = features(e, images, n, f, p, err)) != TG_OK) goto done;
    label_stats(p, n, res);
    if ((rc = fid_stats(f, n, d, mu, cov)) != TG_OK ||
        (rc = fid_distance(mu, cov, e->mu, e->cov, d, &res->fid)) != TG_OK)
        tg_error_set(err, rc, "%s", rc == TG_ERR_NOMEM ? "out of memory" : "the eigensolver did not converge");
done:
    free(f);
    free(p);
    free(mu);
    free(cov);
    return rc;
}


/* ---- train-gan --eval-every: G on fixed noise, scored ---- */
struct gan_eval {
    eval_ref *ref;
    tg_graph *g;
    tg_plan *p;
    tg_node out;
    float *z;
    tg_ema *ema; /* the run's moving average of G, if any: swapped in to sample */
};

gan_eval *gan_eval_new(const gan_run *r, eval_ref *ref, tg_error *err)
{
    int zd, xd;
    if (tg_gan_check(&r->cfg.spec, &zd, &xd, err) != TG_OK) return NULL;
    if (eval_ref_pixels(ref, NULL, NULL) != xd) {
        tg_error_set(err, TG_ERR_ARG, "the test set's images have %d pixels but G makes %d",
                     eval_ref_pixels(ref, NULL, NULL), xd);
        return NULL;
    }
    gan_eval *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->g = tg_graph_new(r->ps)) || !(ev->z = malloc((size_t)GAN_EVAL_SAMPLES * zd * sizeof *ev->z))) {
        tg_error_set(err, TG_ERR_NOMEM, "out of memory");
        gan_eval_free(ev);
        return NULL;
    }
    ev->ref = ref;
    ev->ema = r->ema;
    tg_node z = tg_input(ev->g, "z", 2, (int[]){GAN_EVAL_SAMPLES, zd});
    ev->out = tg_generator(ev->g, &r->cfg.spec, z);
    tg_bind(ev->g, z, ev->z);
    ev->p = tg_plan_new(ev->g, ev->out, &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = r->pool});
    if (!ev->p) {
        tg_error_set(err, tg_graph_status(ev->g), "evaluation sampler: %s", tg_graph_error(ev->g));
        gan_eval_free(ev);
        return NULL;
    }
    tg_rng rng;
    tg_rng_seed(&rng, r->cfg.seed, GAN_EVAL_STREAM);
    tg_rng_fill_normal(&rng, ev->z, (size_t)GAN_EVAL_SAMPLES * zd, 0, 1);
    return ev;
}

tg_status gan_eval_run(gan_eval *ev, eval_result *res, tg_error *err)
{
    if (ev->ema) tg_ema_swap(ev->ema);
    tg_status st = tg_plan_forward(ev->p);
    if (ev->ema) tg_ema_swap(ev->ema);
    if (st != TG_OK) return tg_error_set(err, st, "generator failed: %s", tg_graph_error(ev->g));
    return eval_images(ev->ref, tg_plan_value(ev->p, ev->out), GAN_EVAL_SAMPLES, res, err);
}

void gan_eval_free(gan_eval *ev)
{
    if (!ev) return;
    tg_plan_free(ev->p);
    tg_graph_free(ev->g);
    free(ev->z);
    free(ev);
}
