/* pool.c - a persistent thread pool. Workers block on a condition variable
 * between jobs (no spinning), so extra threads cost nothing when the cores
 * are busy elsewhere. Task t of a job runs on thread t % nthreads: the split
 * is fixed, never work-stolen. */
#include "internal.h"

#include <pthread.h>

struct tg_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    uint64_t gen;
    int pending, stop;
    tg_task_fn fn;
    void *ctx;
    int ntasks;
};

typedef struct worker_arg { tg_pool *p; int idx; } worker_arg;

static void run_share(tg_pool *p, tg_task_fn fn, void *ctx, int ntasks, int idx)
{
    for (int t = idx; t < ntasks; t += p->n) fn(ctx, t, idx);
}

static void *worker(void *arg)
{
    tg_pool *p = ((worker_arg *)arg)->p;
    int idx = ((worker_arg *)arg)->idx;
    tg_free(arg);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->start, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        tg_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int ntasks = p->ntasks;
        pthread_mutex_unlock(&p->mu);
        run_share(p, fn, ctx, ntasks, idx);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tg_pool *tg_pool_new(int nthreads)
{
    if (nthreads < 1 || nthreads > 256) return NULL;
    tg_pool *p = tg_zalloc(sizeof *p);
    if (!p) return NULL;
    p->n = nthreads;
    p->th = tg_zalloc((size_t)nthreads * sizeof *p->th);
    if (!p->th) {
        tg_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < nthreads; i++) {
        worker_arg *a = tg_zalloc(sizeof *a);
        if (a) *a = (worker_arg){p, i};
        if (!a || pthread_create(&p->th[i], NULL, worker, a) != 0) {
            tg_free(a);
            p->n = i; /* free what started */
            tg_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void tg_pool_free(tg_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    tg_free(p->th);
    tg_free(p);
}

int tg_pool_threads(const tg_pool *p) { return p ? p->n : 1; }

void tg_pool_run(tg_pool *p, tg_task_fn fn, void *ctx, int ntasks)
{
    if (!p || p->n == 1 || ntasks <= 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_share(p, fn, ctx, ntasks, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
