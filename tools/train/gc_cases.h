/* gc_cases.h - the registry of gradient-check cases: small graphs, one or
 * more per op of tapegrad.h plus a few whole models, each checked by
 * tg_gradcheck (analytic gradients against central differences in double).
 *
 * Used by `tapegrad gradcheck` and by tests/test_gc_cases.c and
 * tests/test_gradcheck.c (with a fault-injection core), so nothing here
 * prints or exits. Every case is deterministic: its inputs and parameters
 * come from a fixed seed and live in memory the case context owns.
 *
 *   for (int i = 0; i < tg_gc_case_count(); i++) {
 *       tg_gc_report rep;
 *       tg_error err;
 *       if (tg_gc_case_run(tg_gc_case_at(i), NULL, &rep, &err) == TG_OK) {
 *           ... rep.pass, rep.max_rel, rep.e[k] ...
 *           tg_gc_report_free(&rep);
 *       }
 *   }
 */
#ifndef TG_GC_CASES_H
#define TG_GC_CASES_H

#include "tapegrad.h"

#define TG_GC_MAX_BUFS 16

/* What a case builder works in: a fresh store and graph over it, a seeded
 * random stream, and up to TG_GC_MAX_BUFS data buffers (inputs' data) freed
 * with the context. */
typedef struct tg_gc_ctx {
    tg_params *ps;
    tg_graph *g;
    tg_rng rng;
    int nbufs;
    void *bufs[TG_GC_MAX_BUFS];
} tg_gc_ctx;

typedef struct tg_gc_case tg_gc_case;

struct tg_gc_case {
    const char *op;      /* op name as tg_node_op() gives it, or "model" */
    const char *label;   /* what this case varies: shape, transposes, slope... */
    /* Build the case into c->g (inputs and parameters in c->ps, data bound)
     * and return its scalar loss; on failure the graph's error says why. */
    tg_node (*build)(tg_gc_ctx *c, const tg_gc_case *self);
    int iarg[4];         /* builder arguments (shapes, transposes...) */
    float farg[2];       /* builder arguments (slope, p, target...) */
    const char *groups;  /* parameter groups to check; NULL: all */
    int skip_inputs;     /* 1: do not check input gradients */
    /* Report-entry name prefixes that must get no gradient at all (what
     * lies behind a detach): finite differences cannot tell a detach that
     * leaks gradient from a correct graph, so this is checked separately. */
    const char *nograd[2];
    int eval;            /* 1: check the eval-mode graph (tg_gc_opts.eval) */
    const char *model;   /* GAN cases: the preset (NULL: "tiny") */
};

int tg_gc_case_count(void);
const tg_gc_case *tg_gc_case_at(int i);     /* NULL if out of range */
/* First case with this op name, or "op:label" (e.g. "model:tiny-D"); NULL if none. */
const tg_gc_case *tg_gc_case_find(const char *name);
/* 1 if `name` selects at least one case: an op name or "op:label". */
int tg_gc_case_matches(const tg_gc_case *c, const char *name);

/* The cases of a GAN preset (tg_models.h): loss_d (train mode), loss_g
 * (train mode) and loss_g (eval mode) at a small batch, labelled
 * "<preset>-D", "<preset>-G", "<preset>-G-eval" (the labels live until the
 * next call). Its parameter count in *numel: a finite-difference check runs
 * the graph twice per parameter and input value. Returns 3, or -1 with the
 * reason in err (an unknown preset). */
int tg_gc_model_cases(const char *preset, tg_gc_case out[3], size_t *numel, tg_error *err);

/* Context lifecycle (used by tg_gc_case_run; exposed for tests that want to
 * build a case themselves). */
tg_status tg_gc_ctx_init(tg_gc_ctx *c, uint64_t seed);
void tg_gc_ctx_free(tg_gc_ctx *c);

/* Build case c in a fresh context, gradient-check it with `opts` (NULL:
 * engine defaults; the case's groups and skip_inputs take precedence), and
 * free everything but the report. Returns TG_OK with *rep filled (free it
 * with tg_gc_report_free) whether or not the check passed; rep->pass is also
 * 0 when a tensor listed in c->nograd got a gradient or nothing was checked,
 * with the reason in err->msg (err->code TG_OK; msg empty otherwise). Any
 * other status: the case could not run, err says why, and *rep is empty. */
tg_status tg_gc_case_run(const tg_gc_case *c, const tg_gc_opts *opts, tg_gc_report *rep, tg_error *err);

#endif
