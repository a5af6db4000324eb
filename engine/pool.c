/* pool.c - a persistent thread pool.
 *
 * A job is ntasks independent tasks. Every participant - the caller and each
 * worker - claims the next unclaimed task from one atomic counter until none
 * are left, so a thread the OS has descheduled (say, another process holds
 * that core) never holds up the job: the others take its share. Which thread
 * runs a task never changes what the task computes, so results stay
 * bit-identical. The claim counter carries the job's generation in its high
 * bits, so a late worker can never claim a task of a later job.
 *
 * Between jobs a worker spins for a few microseconds (a plan runs dozens of
 * small jobs back to back, and a wake-up through the kernel costs more than
 * most of them), then blocks on a condition variable, so idle workers cost
 * nothing when the cores are busy elsewhere. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define SPIN_ITERS 4000 /* ~10-40 us of pause instructions */

struct tg_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    _Atomic uint64_t gen;     /* job counter: a new value starts a job */
    _Atomic uint64_t claim;   /* (generation << 32) | next task to claim */
    _Atomic int finished;     /* tasks of the current job completed */
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

/* Claim and run tasks of job `gen` until none are left; returns how many. */
static void run_tasks(tg_pool *p, uint64_t gen, tg_task_fn fn, void *ctx, int ntasks, int idx)
{
    for (;;) {
        uint64_t c = atomic_load(&p->claim);
        if ((c >> 32) != (gen & 0xffffffffu) || (int)(c & 0xffffffffu) >= ntasks) return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1)) continue;
        fn(ctx, (int)(c & 0xffffffffu), idx);
        if (atomic_fetch_add(&p->finished, 1) + 1 == ntasks) {
            pthread_mutex_lock(&p->mu); /* the caller checks `finished` under the mutex */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
        run_tasks(p, seen, fn, ctx, ntasks, idx);
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
    atomic_init(&p->claim, 0);
    atomic_init(&p->finished, 0);
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
    uint64_t gen = atomic_load(&p->gen) + 1;
    atomic_store(&p->finished, 0);
    atomic_store(&p->claim, (gen & 0xffffffffu) << 32);
    atomic_store_explicit(&p->gen, gen, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, gen, fn, ctx, ntasks, 0);
    /* every task was claimed; wait for those other threads are still running */
    for (int s = 0; s < SPIN_ITERS && atomic_load_explicit(&p->finished, memory_order_acquire) < ntasks; s++)
        cpu_relax();
    if (atomic_load(&p->finished) < ntasks) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->finished) < ntasks) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
