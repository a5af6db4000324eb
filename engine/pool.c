/* pool.c - a persistent thread pool. Between jobs a worker spins for a few
 * microseconds (a plan runs dozens of small GEMMs back to back, and a wake-up
 * through the kernel costs more than most of them), then blocks on a
 * condition variable, so idle workers cost nothing when the cores are busy
 * elsewhere. Task t of a job always runs on thread t % nthreads: the split is
 * fixed, never work-stolen. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define SPIN_ITERS 4000 /* ~10-40 us of pause instructions */

struct tg_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    _Atomic uint64_t gen;   /* job counter: a new value starts a job */
    _Atomic int pending;    /* workers still running the current job */
    int stop;
    tg_task_fn fn;
    void *ctx;
    int ntasks;
};

typedef struct worker_arg { tg_pool *p; int idx; } worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

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
    for (;;) {
        /* spin briefly for the next job, then sleep */
        for (int s = 0; s < SPIN_ITERS && atomic_load_explicit(&p->gen, memory_order_acquire) == seen; s++)
            cpu_relax();
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->gen) == seen && !p->stop) pthread_cond_wait(&p->start, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = atomic_load(&p->gen);
        tg_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int ntasks = p->ntasks;
        pthread_mutex_unlock(&p->mu);
        run_share(p, fn, ctx, ntasks, idx);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->mu); /* the waiter checks pending under the mutex */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
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
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_share(p, fn, ctx, ntasks, 0);
    for (int s = 0; s < SPIN_ITERS && atomic_load_explicit(&p->pending, memory_order_acquire); s++) cpu_relax();
    if (atomic_load(&p->pending)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending)) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
