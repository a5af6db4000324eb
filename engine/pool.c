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
 * nothing when the cores are busy elsewhere.
 *
 * When another process competes for the cores, a worker can be preempted
 * in the middle of a task it claimed, and the caller then waits for a whole
 * scheduler slice (milliseconds) at the end of a job that took microseconds.
 * The caller measures, per job, how long it waited for others after running
 * out of tasks, against how long it worked itself - for jobs that follow the
 * previous one closely (a worker idle longer than its spin is asleep, and a
 * slow wake-up of a sleeping virtual CPU is not contention). When the
 * waiting exceeds a quarter of the work over a window of jobs (or three
 * waits in a window exceed 2 ms each; one alone can be a page fault or a
 * daemon),
 * the pool runs the next SOLO_JOBS jobs on the caller alone (the workers
 * sleep, leaving their core to the other process), then tries again, with
 * twice as long a solo period each time the cores are still contended. The
 * tasks are the same either way, so the results are too. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define SPIN_ITERS 4000 /* ~10-40 us of pause instructions */
#define WINDOW_JOBS 256  /* jobs per measurement window */
#define SOLO_JOBS 8192   /* jobs run on the caller alone after a bad window, */
#define SOLO_JOBS_MAX (1 << 20) /* doubling while windows stay bad, up to this */
#define WAIT_SHARE 0.25  /* waiting / own work above which a window is bad */
#define WAIT_MAX 2e-3    /* waits this long (s)... */
#define WAIT_MAX_N 3     /* ...this many times in a window make it bad at once */
#define IDLE_GAP 500e-6  /* a job starting this long after the last one is not measured */

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
    /* contention detection (caller's thread only) */
    int solo_left;            /* jobs still to run alone */
    int solo_len;             /* length of the last solo period (0: last window was good) */
    int win_jobs;             /* jobs in the current window */
    double win_wait, win_own; /* seconds waited for others / worked, this window */
    int win_long;             /* waits longer than WAIT_MAX, this window */
    long solo_windows;        /* times the pool went solo (for tests) */
    double last_end;          /* when the last pooled job finished */
    /* for tests (tg_pool_set_strict): never go solo, and every thread runs
     * a fixed share of each job (tasks idx, idx + n, ...) instead of claiming */
    int strict;
    long *ran;                /* tasks run per thread, one cache line each */
};

#define RAN_STRIDE (64 / sizeof(long))

typedef struct worker_arg { tg_pool *p; int idx; } worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The claim word: (generation << 32) | (claimed from the back << 16) |
 * claimed from the front. Even-numbered threads take tasks from the front,
 * odd-numbered ones from the back, until the two meet: on two threads the
 * caller keeps the low column blocks of every GEMM and the worker the high
 * ones, job after job, so each core finds its share of a weight matrix (and
 * of the gradient it wrote) in its own cache the next time round; a thread
 * that falls behind simply leaves more of the tasks to the other. */
#define CLAIM_SIDE_MASK 0xffffu

/* Claim and run tasks of job `gen` until none are left. */
static void task_done(tg_pool *p, int ntasks)
{
    if (atomic_fetch_add(&p->finished, 1) + 1 == ntasks) {
        pthread_mutex_lock(&p->mu); /* the caller checks `finished` under the mutex */
        pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void run_tasks(tg_pool *p, uint64_t gen, tg_task_fn fn, void *ctx, int ntasks, int idx)
{
    const int back = idx & 1;
    if (p->strict) { /* tests: this thread's fixed share */
        for (int t = idx; t < ntasks; t += p->n) {
            fn(ctx, t, idx);
            p->ran[(size_t)idx * RAN_STRIDE]++;
            task_done(p, ntasks);
        }
        return;
    }
    for (;;) {
        uint64_t c = atomic_load(&p->claim);
        if ((c >> 32) != (gen & 0xffffffffu)) return;
        const int nf = (int)(c & CLAIM_SIDE_MASK), nb = (int)((c >> 16) & CLAIM_SIDE_MASK);
        if (nf + nb >= ntasks) return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + (back ? (uint64_t)1 << 16 : 1u))) continue;
        fn(ctx, back ? ntasks - 1 - nb : nf, idx);
        p->ran[(size_t)idx * RAN_STRIDE]++;
        task_done(p, ntasks);
    }
}

static void *worker(void *arg)
{
    tg_pool *p = ((worker_arg *)arg)->p;
    int idx = ((worker_arg *)arg)->idx;
    tg_free(arg);
    (void)tg_fp_enter(); /* workers run only the engine's f32 work: flush subnormals (internal.h) */
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

tg_pool *tg_pool_new(int nthreads, tg_error *err)
{
    if (nthreads < 1 || nthreads > 256) {
        tg_error_set(err, TG_ERR_ARG, "pool: %d threads (1..256 allowed)", nthreads);
        return NULL;
    }
    tg_pool *p = tg_zalloc(sizeof *p);
    if (!p) {
        tg_error_set(err, TG_ERR_NOMEM, "pool: out of memory");
        return NULL;
    }
    p->n = nthreads;
    p->th = tg_zalloc((size_t)nthreads * sizeof *p->th);
    p->ran = tg_zalloc((size_t)nthreads * RAN_STRIDE * sizeof *p->ran);
    if (!p->th || !p->ran) {
        tg_free(p->th);
        tg_free(p->ran);
        tg_free(p);
        tg_error_set(err, TG_ERR_NOMEM, "pool: out of memory");
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
            tg_error_set(err, TG_ERR_NOMEM, "pool: cannot start thread %d of %d", i + 1, nthreads);
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
    tg_free(p->ran);
    tg_free(p);
}

void tg_pool_set_strict(tg_pool *p, int strict)
{
    if (!p) return;
    p->strict = strict != 0;
    p->solo_left = 0;
}

long tg_pool_tasks_run(const tg_pool *p, int thread)
{
    return p && thread >= 0 && thread < p->n ? p->ran[(size_t)thread * RAN_STRIDE] : 0;
}

int tg_pool_threads(const tg_pool *p) { return p ? p->n : 1; }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

long tg_pool_solo_windows(const tg_pool *p) { return p ? p->solo_windows : 0; }

int tg_pool_solo(tg_pool *p)
{
    if (!p || p->n == 1) return 1;
    if (p->strict || p->solo_left <= 0) return 0;
    p->solo_left--;
    return 1;
}

typedef struct offset_job { tg_task_fn fn; void *ctx; int first; } offset_job;
static void offset_task(void *ctx, int task, int thread)
{
    offset_job *o = ctx;
    o->fn(o->ctx, o->first + task, thread);
}

void tg_pool_run(tg_pool *p, tg_task_fn fn, void *ctx, int ntasks)
{
    if (ntasks > (int)CLAIM_SIDE_MASK) { /* more than the claim word counts: in pieces */
        for (int first = 0; first < ntasks; first += (int)CLAIM_SIDE_MASK) {
            offset_job o = {fn, ctx, first};
            int n = ntasks - first < (int)CLAIM_SIDE_MASK ? ntasks - first : (int)CLAIM_SIDE_MASK;
            tg_pool_run(p, offset_task, &o, n);
        }
        return;
    }
    if (!p || p->n == 1 || ntasks <= 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        if (p) p->ran[0] += ntasks;
        return;
    }
    if (!p->strict && tg_pool_solo(p)) { /* the cores are contended: run alone for a while */
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        p->ran[0] += ntasks;
        return;
    }
    const double t0 = now_s();
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
    const double t1 = now_s();
    /* every task was claimed; wait for those other threads are still running */
    for (int s = 0; s < SPIN_ITERS && atomic_load_explicit(&p->finished, memory_order_acquire) < ntasks; s++)
        cpu_relax();
    if (atomic_load(&p->finished) < ntasks) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->finished) < ntasks) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    const double t2 = now_s(), wait = t2 - t1;
    const int after_idle = t0 - p->last_end > IDLE_GAP;
    p->last_end = t2;
    if (after_idle || p->strict) return; /* the workers may have been asleep; tests keep every job pooled */
    p->win_wait += wait;
    p->win_own += t1 - t0;
    p->win_long += wait > WAIT_MAX;
    if (p->win_long >= WAIT_MAX_N || ++p->win_jobs >= WINDOW_JOBS) {
        if (p->win_long >= WAIT_MAX_N || p->win_wait > WAIT_SHARE * p->win_own) {
            /* contended again right after a solo period: stay solo longer */
            p->solo_len = p->solo_len ? (p->solo_len < SOLO_JOBS_MAX / 2 ? 2 * p->solo_len : SOLO_JOBS_MAX)
                                      : SOLO_JOBS;
            p->solo_left = p->solo_len;
            p->solo_windows++;
        } else {
            p->solo_len = 0;
        }
        p->win_jobs = p->win_long = 0;
        p->win_wait = p->win_own = 0;
    }
}
