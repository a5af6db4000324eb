/* exec.c - how ops' kernels run: the kernel variant in use, GEMMs split
 * over the pool by column blocks, element-wise work split into ranges. */
#include "op.h"

const tg_kern *tg_kern_current(void) { return tg_kern_best(); }
const char *tg_kernel_name(void) { return tg_kern_best()->name; }

tg_status tg_kernel_check(char *msg, size_t len)
{
    return tg_kern_request(NULL, msg, len) < 0 ? TG_ERR_ARG : TG_OK;
}

size_t tg_exec_gemm_ws(const tg_kern *k, const tg_gemm_desc *d) { return k->sgemm_ws(d); }

/* One pool job for up to TG_GEMMS_MAX (op.h) independent GEMMs: their
 * column tasks, numbered one GEMM after the other. */
typedef struct gemm_job {
    tg_exec *ex;
    int nd;
    const tg_gemm_desc *d[TG_GEMMS_MAX];
    int nblk[TG_GEMMS_MAX], per[TG_GEMMS_MAX], first[TG_GEMMS_MAX + 1]; /* first task of each */
} gemm_job;

static void gemm_task(void *ctx, int task, int thread)
{
    gemm_job *j = ctx;
    int g = 0;
    while (task >= j->first[g + 1]) g++;
    const tg_gemm_desc *d = j->d[g];
    int nr = j->ex->k->nr, t = task - j->first[g];
    int b0 = t * j->per[g], b1 = b0 + j->per[g];
    if (b1 > j->nblk[g]) b1 = j->nblk[g];
    int n0 = b0 * nr, n1 = b1 * nr;
    if (n1 > d->N) n1 = d->N;
    if (n0 < n1) j->ex->k->sgemm(d, n0, n1, j->ex->ws[thread]);
}

#define GEMM_MIN_SPLIT 131072.0 /* multiply-adds below which one thread is faster */

/* Column blocks per task. Tasks are claimed from a shared counter, so the
 * busiest thread runs about ceil(tasks / T) of them: pick the block count per
 * task that makes that makespan smallest, with at least two tasks per thread
 * when there are enough blocks (a spare lets one thread cover for another the
 * OS has descheduled), and the fewest tasks among equals. E.g. 25 blocks
 * (N = 784) on 2 threads: 4 tasks of 7, 7, 7, 4 blocks (makespan 14, as
 * with 13 tasks of 2, and fewer hand-offs); 16 blocks: 4 tasks of 4. */
static int gemm_per_task(int nblk, int T)
{
    int best_per = nblk, best_span = -1;
    int min_tasks = 2 * T < nblk ? 2 * T : nblk;
    for (int per = nblk; per >= 1; per--) {
        int tasks = (nblk + per - 1) / per;
        if (tasks < min_tasks) continue;
        int span = (tasks + T - 1) / T * per;
        if (best_span < 0 || span < best_span) {
            best_span = span;
            best_per = per;
        }
    }
    return best_per;
}

void tg_exec_gemms(tg_exec *ex, const tg_gemm_desc *const *ds, int nd)
{
    gemm_job j = {.ex = ex, .nd = nd};
    const int nr = ex->k->nr;
    int tasks = 0;
    for (int g = 0; g < nd; g++) {
        const tg_gemm_desc *d = ds[g];
        j.d[g] = d;
        j.nblk[g] = (d->N + nr - 1) / nr;
        /* too small to split: one task for all its columns */
        j.per[g] = j.nblk[g] <= 1 || (double)d->M * d->N * d->K < GEMM_MIN_SPLIT
                       ? (j.nblk[g] > 0 ? j.nblk[g] : 1)
                       : gemm_per_task(j.nblk[g], ex->nthreads);
        j.first[g] = tasks;
        tasks += (j.nblk[g] + j.per[g] - 1) / j.per[g];
    }
    j.first[nd] = tasks;
    const double t0 = tg_prof_on() ? tg_prof_now() : 0.0;
    if (tasks <= 1 || ex->nthreads < 2 || !ex->pool || tg_pool_solo(ex->pool))
        for (int g = 0; g < nd; g++) ex->k->sgemm(ds[g], 0, ds[g]->N, ex->ws[0]);
    else
        tg_pool_run(ex->pool, gemm_task, &j, tasks);
    if (tg_prof_on()) tg_prof_gemm(ds, nd, tg_prof_now() - t0);
}

void tg_exec_gemm(tg_exec *ex, const tg_gemm_desc *d) { tg_exec_gemms(ex, &d, 1); }

/* ---- element-wise work split over the pool ---- */
#define RANGE_MIN_WORK 16384 /* elements below which one thread is faster */

typedef struct range_job { tg_range_fn fn; void *ctx; size_t n, per; } range_job;

static void range_task(void *ctx, int task, int thread)
{
    range_job *j = ctx;
    (void)thread;
    size_t i0 = (size_t)task * j->per, i1 = i0 + j->per < j->n ? i0 + j->per : j->n;
    if (i0 < i1) j->fn(j->ctx, i0, i1);
}

void tg_exec_range(tg_exec *ex, size_t n, size_t align, size_t cost, tg_range_fn fn, void *ctx)
{
    int t = ex->nthreads;
    if (!ex->pool || t < 2 || n * cost < RANGE_MIN_WORK || n < (size_t)t * align || tg_pool_solo(ex->pool)) {
        fn(ctx, 0, n);
        return;
    }
    size_t per = (n + (size_t)t - 1) / (size_t)t;
    per = (per + align - 1) / align * align;
    range_job j = {fn, ctx, n, per};
    tg_pool_run(ex->pool, range_task, &j, t);
}
