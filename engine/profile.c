/* profile.c - opt-in wall-time profile of plan runs and optimizer steps.
 *
 * While enabled, every node a plan runs adds its wall time to a row for its
 * op and pass (forward or backward), and every Adam/SGD step to an "adam" or
 * "sgd" row. Disabled (the default), the cost is one load of a flag per node.
 * The table is process-wide and not synchronised: enable it only while one
 * thread drives the plans (the pool's workers never touch it). */
#include "op.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* rows: one per op descriptor seen (keyed by its pointer), and the named
 * rows of the optimizers */
#define PROF_ROWS 64

#define PROF_GEMM_MAX 96 /* distinct GEMM jobs kept */

typedef struct gemm_row {
    int nd, ndall;   /* GEMMs keyed (at most TG_PROF_GEMM_JOB), GEMMs in the job */
    int key[TG_PROF_GEMM_JOB][6]; /* M, N, K, transA, transB, fused epilogue */
    double flops, sec;
    long calls;
} gemm_row;

static struct {
    int on;
    int nrows;
    const tg_opdesc *op[PROF_ROWS]; /* NULL for a named row */
    const char *name[PROF_ROWS];
    double sec[PROF_ROWS][2];
    long calls[PROF_ROWS][2];
    int ngemm;
    gemm_row gemm[PROF_GEMM_MAX];
} prof;

int tg_prof_on(void) { return prof.on; }

double tg_prof_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int row_of(const tg_opdesc *op, const char *name)
{
    for (int r = 0; r < prof.nrows; r++)
        if (prof.op[r] == op && (op || prof.name[r] == name)) return r;
    if (prof.nrows == PROF_ROWS) return -1;
    prof.op[prof.nrows] = op;
    prof.name[prof.nrows] = op ? op->name : name;
    return prof.nrows++;
}

void tg_prof_add(const tg_opdesc *op, int pass, double sec)
{
    int row = row_of(op, NULL);
    if (row < 0 || pass < 0 || pass > 1) return;
    prof.sec[row][pass] += sec;
    prof.calls[row][pass]++;
}

void tg_prof_add_named(const char *what, double sec)
{
    int row = row_of(NULL, what);
    if (row < 0) return;
    prof.sec[row][0] += sec;
    prof.calls[row][0]++;
}

void tg_profile_enable(int on) { prof.on = on != 0; }

void tg_profile_reset(void)
{
    int on = prof.on;
    memset(&prof, 0, sizeof prof);
    prof.on = on;
}

int tg_profile_rows(tg_profile_row *rows, int max)
{
    int n = 0;
    for (int r = 0; r < prof.nrows; r++)
        for (int pass = 0; pass < 2; pass++) {
            if (!prof.calls[r][pass]) continue;
            if (rows && n < max) {
                rows[n].what = prof.name[r];
                rows[n].pass = !prof.op[r] ? "step" : pass ? "backward" : "forward";
                rows[n].seconds = prof.sec[r][pass];
                rows[n].calls = prof.calls[r][pass];
            }
            n++;
        }
    return n;
}

void tg_prof_gemm(const tg_gemm_desc *const *ds, int nd, double sec)
{
    int key[TG_PROF_GEMM_JOB][6] = {{0}};
    double flops = 0;
    const int ndall = nd;
    for (int g = 0; g < ndall; g++) flops += 2.0 * ds[g]->M * ds[g]->N * ds[g]->K;
    if (nd > TG_PROF_GEMM_JOB) nd = TG_PROF_GEMM_JOB; /* jobs are keyed by their first GEMMs and their count */
    for (int g = 0; g < nd; g++) {
        const tg_gemm_desc *d = ds[g];
        int k[6] = {d->M, d->N, d->K, d->transA != 0, d->transB != 0, d->bias != NULL || d->bias_row != NULL || d->act != TG_ACT_NONE};
        memcpy(key[g], k, sizeof k);
    }
    int r = 0;
    while (r < prof.ngemm &&
           (prof.gemm[r].nd != nd || prof.gemm[r].ndall != ndall || memcmp(prof.gemm[r].key, key, sizeof key)))
        r++;
    if (r == prof.ngemm) {
        if (r == PROF_GEMM_MAX) return;
        prof.ngemm++;
        prof.gemm[r].nd = nd;
        prof.gemm[r].ndall = ndall;
        memcpy(prof.gemm[r].key, key, sizeof key);
        prof.gemm[r].flops = flops;
    }
    prof.gemm[r].sec += sec;
    prof.gemm[r].calls++;
}

int tg_profile_gemm_rows(tg_profile_gemm *rows, int max)
{
    for (int r = 0; rows && r < prof.ngemm && r < max; r++) {
        const gemm_row *g = &prof.gemm[r];
        char *o = rows[r].shape;
        size_t left = sizeof rows[r].shape;
        o[0] = 0;
        for (int j = 0; j < g->nd && left > 1; j++) {
            int w = snprintf(o, left, "%s%s%s %dx%dx%d%s", j ? " + " : "", g->key[j][3] ? "T" : "N",
                             g->key[j][4] ? "T" : "N", g->key[j][0], g->key[j][1], g->key[j][2],
                             g->key[j][5] ? " epi" : "");
            if (w < 0 || (size_t)w >= left) break;
            o += w;
            left -= (size_t)w;
        }
        if (g->ndall > g->nd && left > 1) snprintf(o, left, " + %d more", g->ndall - g->nd);
        rows[r].flops = g->flops;
        rows[r].seconds = g->sec;
        rows[r].calls = g->calls;
    }
    return prof.ngemm;
}
