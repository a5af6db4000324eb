/* evaluate.h - sample-quality statistics of a set of images against the
 * MNIST test set, on the classifier's features (fid.h has the math):
 * Frechet distance on its last hidden layer, inception-style score,
 * predicted-label histogram with its entropy in bits, mean confidence.
 * Used by `tapegrad evaluate` and by `train-gan --eval-every`
 * (gan_eval below). Nothing here prints or exits. */
#ifndef TG_EVALUATE_H
#define TG_EVALUATE_H

#include "gan_train.h"

#include <stddef.h>

#define EVAL_CLASSES 10

typedef struct eval_result {
    int n;                     /* images evaluated */
    double fid;                /* against the test set's features */
    double is;                 /* exp(E[KL(p(y|x) || p(y))]) */
    double entropy_bits;       /* of the predicted-label histogram */
    double confidence;         /* mean max_k p(k|x) */
    long hist[EVAL_CLASSES];   /* predicted labels */
} eval_result;

/* The classifier and the test set's feature mean and covariance. */
typedef struct eval_ref eval_ref;

/* The classifier to use when none is given: $TAPEGRAD_CLASSIFIER, else
 * data/classifier/classifier.safetensors. */
const char *eval_default_classifier(void);

/* Load the classifier (clf_path: NULL for the default) and the test split
 * of data_dir (NULL: run_data_dir's default), and fit the reference
 * statistics. A missing classifier gets a message saying how to make one. */
eval_ref *eval_ref_new(const char *clf_path, const char *data_dir, int threads, tg_error *err);
void eval_ref_free(eval_ref *e);
/* The test set's own statistics (fid is 0), its pixel count (h * w), and
 * the classifier's feature width. */
const eval_result *eval_ref_self(const eval_ref *e);
int eval_ref_pixels(const eval_ref *e, int *h, int *w);
int eval_ref_feat_dim(const eval_ref *e);

/* Evaluate n images (n, h*w) with pixels in [-1, 1]. */
tg_status eval_images(eval_ref *e, const float *images, int n, eval_result *res, tg_error *err);

/* train-gan --eval-every: GAN_EVAL_SAMPLES images G draws from fixed noise
 * (a stream of its own, the same at every evaluation), scored against ref
 * (which must outlive it). The run's store and pool are borrowed. */
#define GAN_EVAL_SAMPLES 2000
#define GAN_EVAL_STREAM 0x6576616cu
typedef struct gan_eval gan_eval;
gan_eval *gan_eval_new(const gan_run *r, eval_ref *ref, tg_error *err);
tg_status gan_eval_run(gan_eval *ev, eval_result *res, tg_error *err);
void gan_eval_free(gan_eval *ev);

#endif
