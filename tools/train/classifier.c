/* classifier.c - the MNIST MLP classifier (see classifier.h).
 *
 * Graphs have static shapes, so a classifier holds up to three: the training
 * graph at the batch size (built on the first epoch; the last partial batch
 * of an epoch is dropped), an evaluation graph at CLF_EVAL_BATCH images and
 * one at the size of the last remainder (n % CLF_EVAL_BATCH), rebuilt when
 * that size changes. Evaluation graphs are forward-only eval plans whose
 * inputs are bound straight to the caller's images; they keep two values
 * readable: the last hidden activation (the features) and the logits. The
 * loss, probabilities and accuracy are computed from the logits in double.
 *
 * Input scaling. Callers pass pixels in [-1, 1] (mnist_load); the network
 * sees them as (x + 1) / 2 in [0, 1], what torchvision's ToTensor gives.
 * With [-1, 1] the ~600 background pixels of a digit are a constant -1, so
 * Adam moves their weights in lockstep like one large extra bias: measured
 * on MNIST, 784-512-256-128-10 relu, seed 1, 10 epochs, the test accuracy is
 * 97.38% fed [-1, 1] and 98.01% fed [0, 1] (93.3% against 96.2% after the
 * first epoch). The checkpoint records it ("input" = "(x+1)/2"). */
#include "classifier.h"

#include "model_settings.h"
#include "safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLF_FORMAT "tapegrad-classifier/1"
#define PROGRESS_EVERY 20   /* iterations between progress callbacks */

/* rng streams derived from the seed */
enum { STREAM_INIT = 0, STREAM_SHUFFLE = 1 };

typedef struct evg {
    int n;                  /* batch; 0: not built */
    tg_graph *g;
    tg_plan *p;
    tg_node x, feat, logits;
} evg;

struct clf {
    clf_cfg cfg;
    tg_params *ps;
    tg_pool *pool;
    int feat_dim;
    /* training (built on the first epoch) */
    tg_graph *tg;
    tg_plan *tp;
    tg_node tx, ty;
    tg_adam *adam;
    float *bx;              /* (batch, in), bound to tx */
    float *ex;              /* (CLF_EVAL_BATCH, in): scaled eval inputs */
    int32_t *by;            /* (batch), bound to ty */
    int *perm;
    int perm_n;
    tg_rng shuffle;
    int epochs_done;
    clf_progress_fn progress;
    void *progress_ctx;
    /* evaluation: [0] at CLF_EVAL_BATCH, [1] at another size */
    evg ev[2];
    /* data parallel (dp.h): rank of size, rows = batch / size per rank */
    dp *dp;
    int rank, size, rows;
    dp_avg *avg;
    dp_fault_kind fault;
    int64_t fault_step, steps;
};

const clf_cfg *clf_config(const clf *m) { return &m->cfg; }
int clf_epochs_done(const clf *m) { return m->epochs_done; }
int clf_feat_dim(const clf *m) { return m->feat_dim; }
int clf_in_dim(const clf *m) { return m->cfg.spec.widths[0]; }

void clf_set_progress(clf *m, clf_progress_fn fn, void *ctx)
{
    m->progress = fn;
    m->progress_ctx = ctx;
}

/* logits = mlp(x); *feat = the last hidden activation. The hidden part is
 * the generic MLP builder on the first n_layers-1 layers (with the hidden
 * activation as its output), the last layer is added here by name. */
static tg_node build_net(tg_graph *g, const tg_mlp_spec *s, tg_node x, tg_node *feat)
{
    tg_mlp_spec h = *s;
    h.n_layers = s->n_layers - 1;
    h.output = s->hidden;
    tg_node f = tg_mlp(g, &h, x);
    if (s->dropout > 0) f = tg_dropout(g, f, s->dropout);
    *feat = f;
    char name[80];
    snprintf(name, sizeof name, "%sl%d.w", s->prefix, s->n_layers - 1);
    tg_param *w = tg_param_find(tg_graph_params(g), s->group, name);
    snprintf(name, sizeof name, "%sl%d.b", s->prefix, s->n_layers - 1);
    tg_param *b = tg_param_find(tg_graph_params(g), s->group, name);
    if (!w || !b) return tg_graph_fail(g, TG_ERR_ARG, "classifier: last layer's parameters are missing");
    return tg_bias_add(g, tg_matmul(g, f, tg_param_ref(g, w)), tg_param_ref(g, b));
}

static tg_status check_cfg(const clf_cfg *c, tg_error *err)
{
    tg_error e;
    const tg_mlp_spec *s = &c->spec;
    if (tg_mlp_check(s, &e) != TG_OK) return tg_error_set(err, TG_ERR_ARG, "classifier: %s", e.msg);
    if (s->n_layers < 2) return tg_error_set(err, TG_ERR_ARG, "classifier: needs at least one hidden layer");
    if (s->widths[s->n_layers] != CLF_CLASSES)
        return tg_error_set(err, TG_ERR_ARG, "classifier: the last width must be 10 (classes)");
    if (s->hidden == TG_ACT_NONE || s->output != TG_ACT_NONE)
        return tg_error_set(err, TG_ERR_ARG, "classifier: needs a hidden activation and linear logits");
    if (c->batch < 1 || c->threads < 1 || c->threads > 256 || !(c->lr > 0 && isfinite(c->lr)))
        return tg_error_set(err, TG_ERR_ARG, "classifier: bad batch, threads or learning rate");
    return TG_OK;
}

clf *clf_new(const clf_cfg *cfg, tg_error *err)
{
    if (!cfg || check_cfg(cfg, err)) return NULL;
    clf *m = calloc(1, sizeof *m);
    if (!m) return tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory"), NULL;
    m->cfg = *cfg;
    m->size = 1;
    m->rows = cfg->batch;
    m->fault = dp_fault(0, &m->fault_step);
    m->feat_dim = cfg->spec.widths[cfg->spec.n_layers - 1];
    tg_rng init;
    tg_rng_seed(&init, cfg->seed, STREAM_INIT);
    tg_rng_seed(&m->shuffle, cfg->seed, STREAM_SHUFFLE);
    m->ps = tg_params_new();
    m->pool = tg_pool_new(cfg->threads, NULL);
    if (!m->ps || !m->pool) {
        tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory");
        goto bad;
    }
    if (tg_mlp_params(m->ps, &m->cfg.spec, TG_INIT_PYTORCH, 0, &init) != TG_OK) {
        tg_error_set(err, TG_ERR_ARG, "classifier: parameters: %s", tg_params_error(m->ps));
        goto bad;
    }
    return m;
bad:
    clf_free(m);
    return NULL;
}

static void evg_free(evg *e)
{
    tg_plan_free(e->p);
    tg_graph_free(e->g);
    memset(e, 0, sizeof *e);
}

void clf_free(clf *m)
{
    if (!m) return;
    for (int k = 0; k < 2; k++) evg_free(&m->ev[k]);
    dp_avg_free(m->avg);
    tg_plan_free(m->tp);
    tg_adam_free(m->adam);
    tg_graph_free(m->tg);
    tg_pool_free(m->pool);
    tg_params_free(m->ps);
    free(m->perm);
    free(m->bx);
    free(m->ex);
    free(m->by);
    free(m);
}

/* pixels in [-1, 1] -> [0, 1] (see the top of the file) */
static void scale_in(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = 0.5f * src[i] + 0.5f;
}

tg_status clf_set_dp(clf *m, dp *d, tg_error *err)
{
    if (m->tp) return tg_error_set(err, TG_ERR_STATE, "classifier: processes are set before training");
    const int n = dp_size(d);
    if (m->cfg.batch % n)
        return tg_error_set(err, TG_ERR_ARG,
                            "--batch %d is the global batch, split evenly over the %d processes, and %d does not "
                            "divide by %d: give a multiple of %d",
                            m->cfg.batch, n, m->cfg.batch, n, n);
    m->dp = d;
    m->rank = dp_rank(d);
    m->size = n;
    m->rows = m->cfg.batch / n;
    m->fault = dp_fault(m->rank, &m->fault_step);
    return TG_OK;
}

/* ---- training ---- */
static tg_status train_build(clf *m, tg_error *err)
{
    const int B = m->rows, in = m->cfg.spec.widths[0];
    m->tg = tg_graph_new(m->ps);
    if (!m->tg) return tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory");
    tg_graph_set_seed(m->tg, m->cfg.seed);
    m->tx = tg_input(m->tg, "x", 2, (int[]){B, in});
    m->ty = tg_input_labels(m->tg, "y", B);
    m->bx = malloc((size_t)B * in * sizeof *m->bx);
    m->by = malloc((size_t)B * sizeof *m->by);
    if (!m->bx || !m->by) return tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory");
    tg_bind(m->tg, m->tx, m->bx);
    tg_bind(m->tg, m->ty, m->by);
    tg_node feat, logits = build_net(m->tg, &m->cfg.spec, m->tx, &feat);
    tg_node loss = tg_softmax_xent(m->tg, logits, m->ty);
    if (tg_graph_status(m->tg) != TG_OK)
        return tg_error_set(err, tg_graph_status(m->tg), "classifier graph: %s", tg_graph_error(m->tg));
    m->tp = tg_plan_new(m->tg, loss, &(tg_plan_opts){.groups = m->cfg.spec.group, .pool = m->pool});
    if (!m->tp) return tg_error_set(err, tg_graph_status(m->tg), "classifier plan: %s", tg_graph_error(m->tg));
    tg_error e;
    m->adam = tg_adam_new(m->ps, m->cfg.spec.group, m->cfg.lr, 0.9f, 0.999f, 1e-8f, &e);
    if (!m->adam) return tg_error_set(err, e.code, "classifier: %s", e.msg);
    if (tg_adam_set_pool(m->adam, m->pool) != TG_OK)
        return tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory");
    return TG_OK;
}

/* the training graph on every rank, then (collective) rank 0's parameters
 * everywhere and the gradient averager */
static tg_status train_init(clf *m, tg_error *err)
{
    tg_error mine;
    tg_status st = train_build(m, &mine);
    if ((st = dp_agree(m->dp, st, &mine, NULL, 0, err)) != TG_OK) return st;
    if (!m->dp) return TG_OK;
    if ((st = dp_plan_rows(m->dp, m->tp, (int64_t)m->rank * m->rows, err)) != TG_OK ||
        (st = dp_broadcast_params(m->dp, m->ps, err)) != TG_OK ||
        (st = dp_avg_new(&m->avg, m->dp, m->ps, m->cfg.spec.group, m->tp, err)) != TG_OK)
        return st;
    return TG_OK;
}

static void shuffle(clf *m, int *perm, int n)
{
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(tg_rng_u64(&m->shuffle) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

double clf_train_epoch(clf *m, const float *images, const int32_t *labels, int n, tg_error *err)
{
    const int B = m->cfg.batch, in = m->cfg.spec.widths[0], rows = m->rows, row0 = m->rank * rows;
    if (!images || !labels || n < 1) return tg_error_set(err, TG_ERR_ARG, "train: no images"), NAN;
    if (n < B) {
        tg_error_set(err, TG_ERR_ARG, "train: batch %d is larger than the %d training images", B, n);
        return NAN;
    }
    if (!m->tp && train_init(m, err) != TG_OK) return NAN;
    if (m->perm_n < n) {
        int *p = realloc(m->perm, (size_t)n * sizeof *p);
        if (!p) return tg_error_set(err, TG_ERR_NOMEM, "train: out of memory"), NAN;
        m->perm = p;
        m->perm_n = n;
    }
    float *bx = m->bx;
    int32_t *by = m->by;
    shuffle(m, m->perm, n); /* every rank alike; each takes its rows of every batch */
    const int iters = n / B;
    double sum = 0;
    for (int it = 0; it < iters; it++) {
        for (int b = 0; b < rows; b++) {
            int i = m->perm[it * B + row0 + b];
            scale_in(bx + (size_t)b * in, images + (size_t)i * in, (size_t)in);
            by[b] = labels[i];
        }
        if (m->fault != DP_FAULT_NONE && m->steps == m->fault_step) {
            if (m->fault == DP_FAULT_KILL) raise(SIGKILL);
            if (m->fault == DP_FAULT_NAN) bx[0] = NAN;
        }
        tg_error e, we;
        tg_status st = tg_plan_forward(m->tp);
        if (st == TG_OK) st = tg_plan_backward(m->tp);
        if (st == TG_ERR_NONFINITE)
            tg_error_set(&e, st, "train: the loss is not finite (NaN or Inf) at iteration %d: training diverged",
                         it + 1);
        else if (st != TG_OK)
            tg_error_set(&e, st, "train: %s: %s", tg_status_str(st), tg_graph_error(m->tg));
        /* several ranks: the average gradient, and every rank's outcome with the loss's sum */
        tg_status w = dp_avg_wait(m->avg, &we);
        if (st == TG_OK && w != TG_OK) {
            st = w;
            e = we;
        }
        double loss = st == TG_OK ? tg_plan_loss(m->tp) : 0;
        if (dp_agree(m->dp, st, &e, &loss, 1, err) != TG_OK) {
            sum = NAN;
            break;
        }
        sum += loss / m->size;
        m->steps++;
        tg_adam_step(m->adam);
        if (m->progress && ((it + 1) % PROGRESS_EVERY == 0 || it + 1 == iters))
            m->progress(m->progress_ctx, it + 1, iters, sum / (it + 1));
    }
    if (isnan(sum)) return NAN;
    m->epochs_done++;
    return sum / iters;
}

/* ---- evaluation ---- */
static evg *eval_graph(clf *m, int b, tg_error *err)
{
    evg *e = &m->ev[b == CLF_EVAL_BATCH ? 0 : 1];
    if (e->n == b) return e;
    evg_free(e);
    e->g = tg_graph_new(m->ps);
    if (!e->g) return tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory"), NULL;
    e->x = tg_input(e->g, "x", 2, (int[]){b, m->cfg.spec.widths[0]});
    e->logits = build_net(e->g, &m->cfg.spec, e->x, &e->feat);
    tg_node outs[1] = {e->feat};
    if (tg_graph_status(e->g) == TG_OK)
        e->p = tg_plan_new(e->g, e->logits,
                           &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = m->pool, .outputs = outs,
                                           .n_outputs = 1});
    if (!e->p) {
        tg_error_set(err, tg_graph_status(e->g), "classifier eval graph: %s", tg_graph_error(e->g));
        evg_free(e);
        return NULL;
    }
    e->n = b;
    return e;
}

/* run images [0, b) through an eval graph; logits (b, 10) and features */
static tg_status forward(clf *m, const float *x, int b, const float **logits, const float **feat, tg_error *err)
{
    evg *e = eval_graph(m, b, err);
    if (!e) return err ? err->code : TG_ERR_ARG;
    const size_t in = (size_t)m->cfg.spec.widths[0];
    if (!m->ex && !(m->ex = malloc((size_t)CLF_EVAL_BATCH * in * sizeof *m->ex)))
        return tg_error_set(err, TG_ERR_NOMEM, "classifier: out of memory");
    scale_in(m->ex, x, (size_t)b * in);
    tg_bind(e->g, e->x, m->ex);
    tg_status st = tg_plan_forward(e->p);
    if (st != TG_OK) {
        return tg_error_set(err, st, "classifier forward: %s: %s", tg_status_str(st), tg_graph_error(e->g));
    }
    *logits = tg_plan_value(e->p, e->logits);
    if (feat) *feat = tg_plan_value(e->p, e->feat);
    if (!*logits || (feat && !*feat)) return tg_error_set(err, TG_ERR_STATE, "classifier forward: no output");
    return TG_OK;
}

/* softmax of one row in double; returns log-sum-exp */
static double softmax_row(const float *z, int c, double *p)
{
    double mx = z[0];
    for (int k = 1; k < c; k++) mx = z[k] > mx ? z[k] : mx;
    double s = 0;
    for (int k = 0; k < c; k++) s += (p[k] = exp((double)z[k] - mx));
    for (int k = 0; k < c; k++) p[k] /= s;
    return mx + log(s);
}

/* images [lo, hi): the loss's sum and the number right */
static tg_status eval_range(clf *m, const float *images, const int32_t *labels, int lo, int hi, double *sl,
                            long *correct, tg_error *err)
{
    const int in = m->cfg.spec.widths[0];
    for (int i = lo; i < hi; i += CLF_EVAL_BATCH) {
        int b = hi - i < CLF_EVAL_BATCH ? hi - i : CLF_EVAL_BATCH;
        const float *z;
        tg_status st = forward(m, images + (size_t)i * in, b, &z, NULL, err);
        if (st != TG_OK) return st;
        for (int r = 0; r < b; r++) {
            const float *zr = z + (size_t)r * CLF_CLASSES;
            int y = labels[i + r], best = 0;
            if (y < 0 || y >= CLF_CLASSES) {
                return tg_error_set(err, TG_ERR_ARG, "evaluate: label %d of image %d is not in 0..9", y, i + r);
            }
            double p[CLF_CLASSES];
            *sl += softmax_row(zr, CLF_CLASSES, p) - zr[y];
            for (int k = 1; k < CLF_CLASSES; k++)
                if (zr[k] > zr[best]) best = k;
            *correct += best == y;
        }
    }
    return TG_OK;
}

tg_status clf_evaluate(clf *m, const float *images, const int32_t *labels, int n, double *loss, double *acc,
                       tg_error *err)
{
    if (!images || !labels || n < 1) return tg_error_set(err, TG_ERR_ARG, "evaluate: no images");
    double sl = 0;
    long correct = 0;
    /* several ranks: each its share of the images, then the sums (collective) */
    const int lo = (int)((int64_t)n * m->rank / m->size), hi = (int)((int64_t)n * (m->rank + 1) / m->size);
    tg_error mine;
    tg_status st = lo < hi ? eval_range(m, images, labels, lo, hi, &sl, &correct, &mine) : TG_OK;
    double v[2] = {sl, (double)correct};
    if ((st = dp_agree(m->dp, st, &mine, v, 2, err)) != TG_OK) return st;
    sl = v[0];
    correct = (long)v[1];
    if (!isfinite(sl)) return tg_error_set(err, TG_ERR_NONFINITE, "evaluate: the loss is not finite (NaN or Inf)");
    if (loss) *loss = sl / n;
    if (acc) *acc = (double)correct / n;
    return TG_OK;
}

tg_status clf_features(clf *m, const float *images, int n, float *feats, float *probs, tg_error *err)
{
    if (!images || n < 1) return tg_error_set(err, TG_ERR_ARG, "features: no images");
    const int in = m->cfg.spec.widths[0], d = m->feat_dim;
    for (int i = 0; i < n; i += CLF_EVAL_BATCH) {
        int b = n - i < CLF_EVAL_BATCH ? n - i : CLF_EVAL_BATCH;
        const float *z, *f;
        tg_status st = forward(m, images + (size_t)i * in, b, &z, &f, err);
        if (st != TG_OK) return st;
        if (feats) memcpy(feats + (size_t)i * d, f, (size_t)b * d * sizeof(float));
        if (probs)
            for (int r = 0; r < b; r++) {
                double p[CLF_CLASSES];
                softmax_row(z + (size_t)r * CLF_CLASSES, CLF_CLASSES, p);
                for (int k = 0; k < CLF_CLASSES; k++) probs[(size_t)(i + r) * CLF_CLASSES + k] = (float)p[k];
            }
    }
    return TG_OK;
}

/* ---- checkpoints ---- */
#define MAXT (2 * TG_MLP_MAX_LAYERS)

tg_status clf_save(clf *m, const char *path, double test_accuracy, const char *dataset, tg_error *err)
{
    st_tensor t[MAXT];
    char names[MAXT][80];
    int nt = 0;
    for (int i = 0; i < tg_params_count(m->ps) && nt < MAXT; i++) {
        tg_param *p = tg_params_at(m->ps, i);
        snprintf(names[nt], sizeof names[nt], "%s/%s", tg_param_group(p), tg_param_name(p));
        t[nt] = (st_tensor){names[nt], ST_F32, tg_param_ndim(p), tg_param_dims(p), tg_param_data(p)};
        nt++;
    }
    const clf_cfg *c = &m->cfg;
    char widths[128], slope[32], epochs[32], seed[32], acc[32], batch[32], lr[32];
    set_format_widths(c->spec.widths, c->spec.n_layers + 1, ',', widths, sizeof widths);
    snprintf(slope, sizeof slope, "%.9g", (double)c->spec.slope);
    snprintf(epochs, sizeof epochs, "%d", m->epochs_done);
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    snprintf(acc, sizeof acc, "%.6f", test_accuracy);
    snprintf(batch, sizeof batch, "%d", c->batch);
    snprintf(lr, sizeof lr, "%.9g", (double)c->lr);
    const st_kv kv[] = {
        {"format", CLF_FORMAT}, {"widths", widths}, {"act", tg_act_name(c->spec.hidden)},
        {"slope", slope}, {"epochs", epochs}, {"seed", seed}, {"test_accuracy", acc},
        {"dataset", dataset ? dataset : ""}, {"batch", batch}, {"lr", lr}, {"optimizer", "adam(0.9,0.999,1e-8)"},
        {"input", "(x+1)/2"},
    };
    return st_write(path, t, (size_t)nt, kv, sizeof kv / sizeof kv[0], err);
}

tg_status clf_ckpt_config(const st_file *f, clf_cfg *c, int *epochs_done, tg_error *err)
{
    clf_cfg_defaults(c, NULL);
    double d;
    const char *fmt = st_meta_need(f, "format", "not a tapegrad classifier checkpoint:", err), *w, *a;
    if (!fmt) return TG_ERR_FORMAT;
    if (strcmp(fmt, CLF_FORMAT))
        return tg_error_set(err, TG_ERR_FORMAT, "checkpoint format is '%.60s', expected '" CLF_FORMAT
                            "' (a train-classifier checkpoint)", fmt);
    const char *what = "classifier checkpoint:";
    int n;
    if (!(w = st_meta_need(f, "widths", what, err))) return TG_ERR_FORMAT;
    if (set_parse_widths(w, TG_MLP_MAX_LAYERS + 1, 1, 1 << 20, "widths", c->spec.widths, &n, NULL) != TG_OK)
        return tg_error_set(err, TG_ERR_FORMAT, "checkpoint metadata 'widths' = '%.60s' is not a list of widths", w);
    if (n < 3) return tg_error_set(err, TG_ERR_FORMAT, "checkpoint metadata 'widths' = '%.60s' has no hidden layer", w);
    c->spec.n_layers = n - 1;
    tg_error e;
    if (!(a = st_meta_need(f, "act", what, err))) return TG_ERR_FORMAT;
    if (set_act.parse(NULL, a, &c->spec.hidden, 1, &e) != TG_OK)
        return tg_error_set(err, TG_ERR_FORMAT, "checkpoint metadata 'act': %s", e.msg);
    uint64_t u[3] = {0, 0, (uint64_t)c->batch}; /* "batch" is optional */
    tg_status st;
    if ((st = st_meta_num(f, "slope", -1e6, 1e6, &d, what, err)) != TG_OK ||
        (st = st_meta_uint(f, "epochs", 0, 1000000000, &u[0], what, err)) != TG_OK ||
        (st = st_meta_uint(f, "seed", 0, UINT64_MAX, &u[1], what, err)) != TG_OK ||
        (st_meta(f, "batch") && (st = st_meta_uint(f, "batch", 1, 65536, &u[2], what, err)) != TG_OK))
        return st;
    c->spec.slope = (float)d;
    c->seed = u[1];
    c->batch = (int)u[2];
    if (epochs_done) *epochs_done = (int)u[0];
    if (check_cfg(c, &e) != TG_OK) return tg_error_set(err, TG_ERR_FORMAT, "%s", e.msg);
    return TG_OK;
}

/* every parameter from the checkpoint, all finite */
static tg_status load_params(const st_file *f, clf *m, tg_error *err)
{
    for (int i = 0; i < tg_params_count(m->ps); i++) {
        tg_param *p = tg_params_at(m->ps, i);
        char name[160];
        snprintf(name, sizeof name, "%s/%s", tg_param_group(p), tg_param_name(p));
        tg_status st = st_get_f32(f, name, tg_param_ndim(p), tg_param_dims(p), tg_param_data(p), err);
        if (st != TG_OK) return st;
        const float *v = tg_param_data(p);
        for (size_t e = 0; e < tg_param_numel(p); e++)
            if (!isfinite(v[e]))
                return tg_error_set(err, TG_ERR_FORMAT, "checkpoint tensor '%s' holds a NaN or Inf", name);
    }
    return TG_OK;
}

clf *clf_load(const char *path, int threads, tg_error *err)
{
    st_file *f = NULL;
    if (st_open(path, &f, err) != TG_OK) return NULL;
    clf *m = NULL;
    clf_cfg c;
    int epochs;
    if (clf_ckpt_config(f, &c, &epochs, err) == TG_OK) {
        c.threads = threads < 1 ? 1 : threads;
        if ((m = clf_new(&c, err))) {
            m->epochs_done = epochs;
            if (load_params(f, m, err) != TG_OK) {
                clf_free(m);
                m = NULL;
            }
        }
    }
    st_close(f);
    return m;
}

/* ---- activation curves ---- */
tg_status clf_act_curve(tg_act act, float slope, const float *x, int n, float *y, float *dy, tg_error *err)
{
    if (!x || n < 1 || !y || !dy) return tg_error_set(err, TG_ERR_ARG, "act_curve: bad arguments");
    tg_graph *g = tg_graph_new(NULL);
    if (!g) return tg_error_set(err, TG_ERR_NOMEM, "act_curve: out of memory");
    tg_node in = tg_input(g, "x", 1, (int[]){n}), out;
    switch (act) {
    case TG_ACT_RELU: out = tg_relu(g, in); break;
    case TG_ACT_LEAKY_RELU: out = tg_leaky_relu(g, in, slope); break;
    case TG_ACT_SIGMOID: out = tg_sigmoid(g, in); break;
    case TG_ACT_TANH: out = tg_tanh(g, in); break;
    default: out = tg_scale(g, in, 1); break;
    }
    tg_node loss = tg_sum(g, out);
    tg_bind(g, in, x);
    tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.input_grads = 1, .outputs = &out, .n_outputs = 1});
    tg_status rc = TG_OK, st = p ? tg_plan_forward(p) : TG_ERR_STATE;
    if (st == TG_OK) st = tg_plan_backward(p);
    const float *v = st == TG_OK ? tg_plan_value(p, out) : NULL, *gr = st == TG_OK ? tg_plan_grad(p, in) : NULL;
    if (v && gr) {
        memcpy(y, v, (size_t)n * sizeof(float));
        memcpy(dy, gr, (size_t)n * sizeof(float));
    } else {
        rc = tg_error_set(err, st != TG_OK ? st : TG_ERR_STATE, "act_curve: %s",
                          tg_graph_error(g)[0] ? tg_graph_error(g) : tg_status_str(st));
    }
    tg_plan_free(p);
    tg_graph_free(g);
    return rc;
}

