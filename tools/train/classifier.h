/* classifier.h - the MNIST MLP classifier: training, evaluation, checkpoints
 * and features, free of printing (the commands train-classifier, activations
 * and evaluate do the I/O; their settings are clf_opts.h).
 *
 * Model: the generic MLP (tg_mlp) in parameter group "C": input 784 ->
 * hidden widths -> 10 logits, a chosen hidden activation, no output
 * activation; trained with softmax_xent and Adam.
 *
 * Checkpoint (safetensors): tensors "C/l0.w" (IN, OUT), "C/l0.b", ...;
 * "__metadata__": "format" = "tapegrad-classifier/1", "widths" =
 * "784,512,256,128,10", "act" = "relu" | "leaky_relu" | "sigmoid" | "tanh",
 * "slope", "epochs", "seed", "test_accuracy", "dataset". */
#ifndef TG_CLASSIFIER_H
#define TG_CLASSIFIER_H

#include "dp.h"
#include "tg_models.h"

#include <stddef.h>
#include <stdint.h>

typedef struct clf_cfg {
    tg_mlp_spec spec;      /* group "C", widths[0] = pixels, last = 10 */
    int batch, epochs, threads;
    uint64_t seed;
    float lr;              /* Adam, betas (0.9, 0.999) */
} clf_cfg;

/* train-classifier's defaults (clf_opts.c's table): 784-512-256-128-10,
 * relu, slope 0.01 (leaky_relu), batch 64, 10 epochs, Adam 1e-3, seed 1, 2
 * threads; activation NULL keeps relu. 0, or -1 for a bad activation. */
int clf_cfg_defaults(clf_cfg *c, const char *activation);

typedef struct clf clf;    /* a classifier: parameters, graphs, plans */

/* Build a classifier of cfg (parameters initialized from cfg->seed). */
clf *clf_new(const clf_cfg *cfg, tg_error *err);
/* Train and evaluate as rank dp_rank(d) of dp_size(d) (dp.h), before the
 * first epoch: cfg.batch (the global batch) must divide by the size
 * (TG_ERR_ARG naming both). clf_train_epoch and clf_evaluate are then
 * collective: each rank takes its rows of every batch and its share of the
 * images evaluated, the gradients are averaged, the loss and accuracy are
 * the whole batch's and set's, and a failure on any rank ("rank R: ...")
 * is returned on every rank. */
tg_status clf_set_dp(clf *m, dp *d, tg_error *err);
void clf_free(clf *m);
/* One epoch over n images (n, 784) in [-1, 1] with labels, shuffled from the
 * classifier's own stream; returns the mean training loss, or NAN with a
 * message on failure. */
double clf_train_epoch(clf *m, const float *images, const int32_t *labels, int n, tg_error *err);
/* Mean loss and accuracy on n images (no dropout, no update). */
tg_status clf_evaluate(clf *m, const float *images, const int32_t *labels, int n, double *loss, double *acc,
                       tg_error *err);
/* For n images: the last hidden layer's activations (n, feat_dim(m)) and
 * the class probabilities (n, 10); either output may be NULL. */
tg_status clf_features(clf *m, const float *images, int n, float *feats, float *probs, tg_error *err);
int clf_feat_dim(const clf *m);
/* The input width (pixels per image: widths[0]). Every call above reads
 * (n, in_dim(m)) floats: callers pairing a loaded classifier with images
 * must check it against the images' pixel count. */
int clf_in_dim(const clf *m);

/* Save / load the checkpoint described above (atomic write). */
tg_status clf_save(clf *m, const char *path, double test_accuracy, const char *dataset, tg_error *err);
clf *clf_load(const char *path, int threads, tg_error *err);
/* The configuration stored in an open checkpoint (what clf_load builds the
 * classifier from; threads 2) and its "epochs" (if epochs_done): TG_OK, or
 * TG_ERR_FORMAT naming the key. */
struct st_file;
tg_status clf_ckpt_config(const struct st_file *f, clf_cfg *c, int *epochs_done, tg_error *err);

/* ---- additions (used by the commands and tests) ---- */

#define CLF_CLASSES 10
#define CLF_EVAL_BATCH 1000   /* images per forward in evaluate / features */

/* Called every few training iterations of clf_train_epoch (it done of
 * iters, mean loss so far), e.g. to draw a progress bar; NULL: none. */
typedef void (*clf_progress_fn)(void *ctx, int it, int iters, double loss);
void clf_set_progress(clf *m, clf_progress_fn fn, void *ctx);
const clf_cfg *clf_config(const clf *m);
int clf_epochs_done(const clf *m);
/* Parse a hidden-width list "512,256,128" (set_parse_widths) into c->spec
 * (input and output widths kept). */
tg_status clf_parse_hidden(clf_cfg *c, const char *list, tg_error *err);
/* "784-512-256-128-10" */
void clf_widths_str(const tg_mlp_spec *s, char sep, char *out, size_t len);

/* An activation and its derivative at n points, computed by the engine:
 * y = act(x) by a forward plan, dy = d sum(y) / dx by its backward. */
tg_status clf_act_curve(tg_act act, float slope, const float *x, int n, float *y, float *dy, tg_error *err);


#endif
