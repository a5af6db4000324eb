/* test_plan.c - plans: schedules, gradients only where asked, value reuse
 * between plans, the arena, zero allocations per step, determinism. */
#include "tiny_gan.h"
#include "internal.h" /* tg_pool_run, tg_pool_solo_windows */

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* ---- allocation counting: every allocation the engine makes */
#include "alloc_count.h"

static tiny_gan T;

static void setup_tiny(void) { ck_assert_int_eq(tiny_gan_init(&T, "tiny", 5, 7, 0), 0); }
static void teardown(void) { tiny_gan_free(&T); }

/* the D step and the G step (reusing G(z)) of T, as one set */
static void dgplans(tg_pool *pool, int eval, tg_plan **pd, tg_plan **pg)
{
    const tg_plan_opts o = {.pool = pool, .eval = eval};
    ck_assert_msg(tiny_gan_plans(&T, &o, &o, pd, pg) == TG_OK, "%s", tg_graph_error(T.g));
}

static void fill_grads(const char *group, float v)
{
    for (int i = 0; i < tg_params_count(T.ps); i++) {
        tg_param *p = tg_params_at(T.ps, i);
        if (strcmp(tg_param_group(p), group)) continue;
        for (size_t e = 0; e < tg_param_numel(p); e++) tg_param_grad(p)[e] = v;
    }
}
static int grads_all(const char *group, float v)
{
    for (int i = 0; i < tg_params_count(T.ps); i++) {
        tg_param *p = tg_params_at(T.ps, i);
        if (strcmp(tg_param_group(p), group)) continue;
        for (size_t e = 0; e < tg_param_numel(p); e++)
            if (tg_param_grad(p)[e] != v) return 0;
    }
    return 1;
}

START_TEST(test_groups_only)
{
    /* D step: D's weights get gradients, G's are untouched (the fake is
     * detached); G step: G's weights get gradients through D, D's stay. */
    tg_plan *pd, *pg;
    dgplans(NULL, 0, &pd, &pg);
    for (int i = 0; i < tg_params_count(T.ps); i++) {
        tg_param *p = tg_params_at(T.ps, i);
        int isd = !strcmp(tg_param_group(p), "D");
        ck_assert_int_eq(tg_plan_has_param_grad(pd, p), isd);
        ck_assert_int_eq(tg_plan_has_param_grad(pg, p), !isd);
    }
    fill_grads("G", 12345.0f);
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
    ck_assert(grads_all("G", 12345.0f));
    ck_assert(!grads_all("D", 0.0f));
    fill_grads("D", -777.0f);
    ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
    ck_assert(grads_all("D", -777.0f));
    ck_assert(!grads_all("G", 12345.0f));
    /* the G plan reuses G(z): its forward runs only D on the fake and the loss */
    ck_assert_int_lt(tg_plan_forward_len(pg), tg_plan_forward_len(pd));
    tg_plan_free(pd);
    tg_plan_free(pg);
}
END_TEST

START_TEST(test_reuse_equals_recompute)
{
    /* A G plan that reuses the kept fake gives the same loss and G gradients
     * as one that recomputes it (eval mode: no dropout masks differ). */
    tg_plan *pd, *pr;
    dgplans(NULL, 1, &pd, &pr);
    tg_plan *pf = tg_plan_new(T.g, T.loss_g, &(tg_plan_opts){.groups = "G", .eval = 1});
    ck_assert(pf);
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pr), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pr), TG_OK);
    tg_param *w0 = tg_param_find(T.ps, "G", "l0.w");
    size_t n = tg_param_numel(w0);
    float *a = malloc(n * sizeof *a);
    memcpy(a, tg_param_grad(w0), n * sizeof *a);
    double lr = tg_plan_loss(pr);
    ck_assert_int_eq(tg_plan_forward(pf), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pf), TG_OK);
    ck_assert(tg_plan_loss(pf) == lr);
    ck_assert(memcmp(a, tg_param_grad(w0), n * sizeof *a) == 0);
    free(a);
    tg_plan_free(pd);
    tg_plan_free(pr);
    tg_plan_free(pf);
}
END_TEST

START_TEST(test_reuse_needs_keep)
{
    /* reusing a node that is not kept is refused with a message */
    tg_node h = tg_seq(T.g, &T.spec.G, T.z); /* a second, unkept copy of G */
    tg_node l = tg_gen_loss(T.g, tg_seq(T.g, &T.spec.D, h));
    tg_plan *p = tg_plan_new(T.g, l, &(tg_plan_opts){.groups = "G", .reuse = &h, .n_reuse = 1});
    ck_assert_ptr_null(p);
    ck_assert_int_eq(tg_graph_status(T.g), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_graph_error(T.g), "not a kept"));
}
END_TEST

START_TEST(test_detach_blocks)
{
    /* loss on detach(fake) only: no G gradient is scheduled at all */
    tg_node l = tg_mean(T.g, tg_detach(T.g, T.fake));
    tg_plan *p = tg_plan_new(T.g, l, &(tg_plan_opts){.groups = "G"});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_backward_len(p), 0);
    for (int i = 0; i < tg_params_count(T.ps); i++) ck_assert(!tg_plan_has_param_grad(p, tg_params_at(T.ps, i)));
    tg_plan_free(p);
}
END_TEST

START_TEST(test_values_readable)
{
    tg_plan *p = tg_plan_new(T.g, T.loss_d, &(tg_plan_opts){.groups = "D", .outputs = &T.dreal, .n_outputs = 1});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    ck_assert_ptr_nonnull(tg_plan_value(p, T.dreal));   /* asked for */
    ck_assert_ptr_nonnull(tg_plan_value(p, T.fake));    /* kept */
    ck_assert_ptr_nonnull(tg_plan_value(p, T.loss_d));  /* out */
    ck_assert_ptr_null(tg_plan_value(p, (tg_node){T.dreal.id - 1})); /* an intermediate: may be reused */
    ck_assert_ptr_null(tg_plan_value(p, (tg_node){-3}));
    tg_plan_free(p);
}
END_TEST

/* ---- arena ---- */
START_TEST(test_arena_reuses)
{
    tiny_gan R;
    ck_assert_int_eq(tiny_gan_init(&R, "reference", 64, 1, 0), 0);
    tg_plan *pd, *pg;
    ck_assert_int_eq(tiny_gan_plans(&R, NULL, NULL, &pd, &pg), TG_OK);
    /* buffers with disjoint lifetimes share memory: the arena is well below
     * the sum of all buffers */
    ck_assert_uint_lt(tg_plan_arena_bytes(pd), tg_plan_naive_bytes(pd) * 3 / 4);
    ck_assert_uint_lt(tg_plan_arena_bytes(pg), tg_plan_naive_bytes(pg) * 3 / 4);
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
    tg_plan_free(pd);
    tg_plan_free(pg);
    tiny_gan_free(&R);
}
END_TEST

START_TEST(test_arena_matches_f64)
{
    /* the packed arena computes what the f64 reference computes */
    tg_plan *p32 = tg_plan_new(T.g, T.loss_g, &(tg_plan_opts){.groups = "G,D", .eval = 1});
    tg_plan *p64 = tg_plan_new(T.g, T.loss_g, &(tg_plan_opts){.groups = "G,D", .eval = 1, .precision = TG_F64});
    ck_assert(p32 && p64);
    ck_assert_int_eq(tg_plan_forward(p64), TG_OK);
    ck_assert_int_eq(tg_plan_forward(p32), TG_OK);
    ck_assert_double_eq_tol(tg_plan_loss(p32), tg_plan_loss(p64), 1e-5 * fabs(tg_plan_loss(p64)) + 1e-6);
    tg_plan_free(p32);
    tg_plan_free(p64);
}
END_TEST

/* ---- allocation-free steps ---- */
START_TEST(test_no_alloc_per_step)
{
    tiny_gan R;
    ck_assert_int_eq(tiny_gan_init(&R, "reference", 64, 3, 0), 0);
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_ptr_nonnull(pool);
    tg_plan *pd, *pg;
    ck_assert_int_eq(tiny_gan_plans(&R, &(tg_plan_opts){.pool = pool}, &(tg_plan_opts){.pool = pool}, &pd, &pg), TG_OK);
    tg_adam *ad = tg_adam_new(R.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    tg_adam *ag = tg_adam_new(R.ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    ck_assert(pd && pg && ad && ag);
    ck_assert_int_eq(tg_adam_set_pool(ad, pool), TG_OK);
    ck_assert_int_eq(tg_adam_set_pool(ag, pool), TG_OK);
    /* one warm-up iteration, then count. No ck_assert inside the counted
     * region: Check itself allocates when it records a passing assertion. */
    for (int it = 0; it < 4; it++) {
        uint64_t before = n_alloc;
        tg_status st[6];
        st[0] = tg_plan_forward(pd);
        st[1] = tg_plan_backward(pd);
        st[2] = tg_adam_step(ad);
        st[3] = tg_plan_forward(pg);
        st[4] = tg_plan_backward(pg);
        st[5] = tg_adam_step(ag);
        uint64_t used = n_alloc - before;
        for (int k = 0; k < 6; k++) ck_assert_int_eq(st[k], TG_OK);
        if (it > 0) ck_assert_uint_eq(used, 0);
    }
    /* and the counter does see engine allocations */
    uint64_t before = n_alloc;
    tg_plan *extra = tg_plan_new(R.g, R.loss_d, &(tg_plan_opts){.groups = "D"});
    ck_assert_uint_gt(n_alloc - before, 0);
    tg_plan_free(extra);
    tg_plan_free(pd);
    tg_plan_free(pg);
    tg_adam_free(ad);
    tg_adam_free(ag);
    tg_pool_free(pool);
    tiny_gan_free(&R);
}
END_TEST

/* ---- determinism ---- */
/* Train the reference GAN shapes a few iterations; return a checksum-free
 * copy of G's first weight matrix and the last losses. */
static void train(int threads, uint64_t seed, float *out, size_t n, double *ld, double *lg)
{
    tiny_gan R;
    ck_assert_int_eq(tiny_gan_init(&R, "reference", 16, seed, 0), 0);
    tg_pool *pool = tg_pool_new(threads, NULL);
    /* every job really runs on all threads: under contention the pool would
     * otherwise run on the caller alone, and 1 vs 2 threads become 1 vs 1 */
    tg_pool_set_strict(pool, 1);
    tg_plan *pd, *pg;
    ck_assert_int_eq(tiny_gan_plans(&R, &(tg_plan_opts){.pool = pool}, &(tg_plan_opts){.pool = pool}, &pd, &pg), TG_OK);
    tg_adam *ad = tg_adam_new(R.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    tg_adam *ag = tg_adam_new(R.ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    ck_assert(pool && pd && pg && ad && ag);
    for (int it = 0; it < 3; it++) {
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        tg_adam_step(ad);
        ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
        tg_adam_step(ag);
    }
    *ld = tg_plan_loss(pd);
    *lg = tg_plan_loss(pg);
    memcpy(out, tg_param_data(tg_param_find(R.ps, "G", "l1.w")), n * sizeof *out);
    /* each thread ran a share of the work (GEMM column blocks, element-wise
     * pieces, Adam), and the pool never fell back to the caller alone */
    for (int t = 0; threads > 1 && t < threads; t++)
        ck_assert_msg(tg_pool_tasks_run(pool, t) > 0, "thread %d of %d ran no task (%ld + %ld)", t, threads,
                      tg_pool_tasks_run(pool, 0), tg_pool_tasks_run(pool, 1));
    ck_assert_int_eq(tg_pool_solo_windows(pool), 0);
    if (threads > 1)
        printf("determinism: 2 threads ran %ld + %ld tasks\n", tg_pool_tasks_run(pool, 0), tg_pool_tasks_run(pool, 1));
    tg_plan_free(pd);
    tg_plan_free(pg);
    tg_adam_free(ad);
    tg_adam_free(ag);
    tg_pool_free(pool);
    tiny_gan_free(&R);
}

START_TEST(test_same_seed_same_bits)
{
    size_t n = 128 * 256;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    double ld[3], lg[3];
    train(1, 11, a, n, &ld[0], &lg[0]);
    train(1, 11, b, n, &ld[1], &lg[1]);
    train(2, 11, c, n, &ld[2], &lg[2]);
    ck_assert(memcmp(a, b, n * sizeof *a) == 0);  /* run to run */
    ck_assert(memcmp(a, c, n * sizeof *a) == 0);  /* 1 thread vs 2 */
    ck_assert(ld[0] == ld[1] && ld[0] == ld[2] && lg[0] == lg[1] && lg[0] == lg[2]);
    train(1, 12, b, n, &ld[1], &lg[1]);
    ck_assert(memcmp(a, b, n * sizeof *a) != 0);  /* and the seed matters */
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_dropout_steps)
{
    /* each training forward draws new masks; eval plans draw none */
    tg_plan *p = tg_plan_new(T.g, T.loss_d, &(tg_plan_opts){.groups = "D"});
    tg_plan *e = tg_plan_new(T.g, T.loss_d, &(tg_plan_opts){.groups = "D", .eval = 1});
    ck_assert(p && e);
    uint64_t s0 = tg_graph_dropout_step(T.g);
    tg_plan_forward(p);
    double l1 = tg_plan_loss(p);
    tg_plan_forward(p);
    double l2 = tg_plan_loss(p);
    ck_assert_uint_eq(tg_graph_dropout_step(T.g), s0 + 2);
    ck_assert(l1 != l2);
    tg_plan_forward(e);
    double e1 = tg_plan_loss(e);
    tg_plan_forward(e);
    ck_assert(e1 == tg_plan_loss(e));
    ck_assert_uint_eq(tg_graph_dropout_step(T.g), s0 + 2);
    /* rewinding the step reproduces the masks (what --resume relies on) */
    tg_graph_set_dropout_step(T.g, s0);
    tg_plan_forward(p);
    ck_assert(tg_plan_loss(p) == l1);
    tg_plan_free(p);
    tg_plan_free(e);
}
END_TEST

/* More tasks than the pool's claim word counts per side (65535) run in
 * pieces: every task exactly once, with its own index. */
static void count_task(void *ctx, int task, int thread)
{
    (void)thread;
    unsigned char *ran = ctx;
    ran[task]++;
}

START_TEST(test_pool_many_tasks)
{
    enum { NT = 150001 };
    unsigned char *ran = calloc(NT, 1);
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert(ran && pool);
    tg_pool_run(pool, count_task, ran, NT);
    for (int t = 0; t < NT; t++) ck_assert_msg(ran[t] == 1, "task %d ran %d times", t, ran[t]);
    tg_pool_free(pool);
    free(ran);
}
END_TEST

START_TEST(test_pool_reuse)
{
    /* one pool serves many plans and many runs; freeing is clean */
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_int_eq(tg_pool_threads(pool), 2);
    tg_plan *a, *b;
    dgplans(pool, 0, &a, &b);
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(tg_plan_forward(a), TG_OK);
        ck_assert_int_eq(tg_plan_backward(a), TG_OK);
        ck_assert_int_eq(tg_plan_forward(b), TG_OK);
        ck_assert_int_eq(tg_plan_backward(b), TG_OK);
    }
    tg_plan_free(a);
    tg_plan_free(b);
    tg_pool_free(pool);
    ck_assert_ptr_null(tg_pool_new(0, NULL));
    ck_assert_int_eq(tg_pool_threads(NULL), 1);
}
END_TEST

static const tg_profile_row *prof_find(const tg_profile_row *rows, int n, const char *what, const char *pass)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].what, what) && !strcmp(rows[i].pass, pass)) return &rows[i];
    return NULL;
}

/* The profiler counts every node a run executes, per op and pass, and each
 * optimizer step; nothing while disabled; reset clears it. */
START_TEST(test_profile_counts)
{
    tg_plan *p = tg_plan_new(T.g, T.loss_d, &(tg_plan_opts){.groups = "D"});
    ck_assert_msg(p, "%s", tg_graph_error(T.g));
    tg_adam *a = tg_adam_new(T.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    ck_assert_ptr_nonnull(a);
    tg_profile_reset();
    ck_assert_int_eq(tg_profile_rows(NULL, 0), 0);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK); /* disabled: not counted */
    ck_assert_int_eq(tg_profile_rows(NULL, 0), 0);
    tg_profile_enable(1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tg_plan_forward(p), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p), TG_OK);
        ck_assert_int_eq(tg_adam_step(a), TG_OK);
    }
    tg_profile_enable(0);
    tg_profile_row rows[64];
    int n = tg_profile_rows(rows, 64);
    ck_assert_int_gt(n, 3);
    ck_assert_int_le(n, 64);
    const tg_profile_row *mf = prof_find(rows, n, "matmul", "forward");
    const tg_profile_row *mb = prof_find(rows, n, "matmul", "backward");
    const tg_profile_row *ad = prof_find(rows, n, "adam", "step");
    ck_assert_ptr_nonnull(mf);
    ck_assert_ptr_nonnull(mb);
    ck_assert_ptr_nonnull(ad);
    ck_assert_int_gt(mf->calls, 0);
    ck_assert_int_eq(mf->calls % 3, 0);
    ck_assert_int_eq(mb->calls % 3, 0);
    ck_assert_int_eq(ad->calls, 3);
    long fwd_calls = 0;
    for (int i = 0; i < n; i++) {
        ck_assert(rows[i].seconds >= 0 && isfinite(rows[i].seconds));
        if (!strcmp(rows[i].pass, "forward")) fwd_calls += rows[i].calls;
    }
    ck_assert_int_eq(fwd_calls, 3 * tg_plan_forward_len(p)); /* every node of each forward, once */
    /* GEMM jobs: one per matmul forward and one per matmul backward (its
     * input and weight gradients as one job), each with its FLOPs */
    tg_profile_gemm gr[64];
    int ng = tg_profile_gemm_rows(gr, 64);
    ck_assert_int_gt(ng, 0);
    ck_assert_int_le(ng, 64);
    long gemm_calls = 0;
    for (int i = 0; i < ng; i++) {
        ck_assert_int_eq(gr[i].calls % 3, 0);
        ck_assert(gr[i].flops >= 2.0 && gr[i].seconds >= 0);
        ck_assert(strlen(gr[i].shape) >= 8);
        gemm_calls += gr[i].calls;
    }
    ck_assert_int_eq(gemm_calls, mf->calls + mb->calls);
    tg_profile_reset();
    ck_assert_int_eq(tg_profile_rows(NULL, 0), 0);
    ck_assert_int_eq(tg_profile_gemm_rows(NULL, 0), 0);
    tg_adam_free(a);
    tg_plan_free(p);
}
END_TEST

/* A worker that stalls mid-task (as one preempted by another process
 * does) makes the caller wait; the pool then runs the following jobs on the
 * caller alone, every task still run exactly once. */
typedef struct stall_ctx { int ran[8]; } stall_ctx;

static void sleep_ms(double ms)
{
    struct timespec t = {0, (long)(ms * 1e6)};
    nanosleep(&t, NULL);
}

static void stall_task(void *ctx, int task, int thread)
{
    stall_ctx *c = ctx;
    sleep_ms(thread == 0 ? 2.0 : 40.0);
    c->ran[task] = thread + 1;
}

static void noop_task(void *ctx, int task, int thread)
{
    (void)ctx;
    (void)task;
    (void)thread;
}

START_TEST(test_pool_goes_solo_when_stalled)
{
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_ptr_nonnull(pool);
    ck_assert_int_eq(tg_pool_solo_windows(pool), 0);
    stall_ctx c = {{0}};
    /* a stall right after an idle gap is not counted: the worker may have
     * been asleep (a late wake-up is not another process's doing) */
    tg_pool_run(pool, noop_task, NULL, 2);
    sleep_ms(5.0);
    tg_pool_run(pool, stall_task, &c, 8);
    ck_assert_int_eq(tg_pool_solo_windows(pool), 0);
    /* stalls in jobs that follow one another closely are; three in a
     * window switch the pool to solo (one alone could be a page fault) */
    tg_pool_run(pool, noop_task, NULL, 2);
    for (int rep = 0; rep < 3; rep++) {
        ck_assert_int_eq(tg_pool_solo_windows(pool), 0);
        memset(&c, 0, sizeof c);
        /* the worker wakes while the caller runs its 2 ms tasks and claims
         * one (it cannot claim a second: its first outlasts all the
         * caller's); the caller then waits ~25-40 ms for it */
        tg_pool_run(pool, stall_task, &c, 8);
        int on_worker = 0;
        for (int t = 0; t < 8; t++) {
            ck_assert_int_gt(c.ran[t], 0);
            on_worker += c.ran[t] == 2;
        }
        ck_assert_int_gt(on_worker, 0);
    }
    ck_assert_int_eq(tg_pool_solo_windows(pool), 1);
    memset(&c, 0, sizeof c);
    tg_pool_run(pool, stall_task, &c, 8);
    for (int t = 0; t < 8; t++) ck_assert_int_eq(c.ran[t], 1); /* all on the caller */
    tg_pool_free(pool);
}
END_TEST

/* matmul -> bias_add -> activation fused into one GEMM (bias and
 * activation in the epilogue) is bit-identical to the three passes: the
 * same plan with the products made outputs (which forbids the fusion) gives
 * the same loss and gradients bit for bit, and runs four nodes more. */
/* f32 plans run with subnormals flushed to zero: sigmoid(-88) = 6.05e-39
 * (below FLT_MIN) comes out as 0 in f32 and as itself in f64, and so does
 * its gradient; the caller's floating-point mode is left as it was. */
START_TEST(test_f32_flushes_subnormals)
{
#if defined(__SSE2__) || defined(__x86_64__)
    tg_params *ps = tg_params_new();
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 2, (int[]){1, 2});
    tg_node y = tg_sigmoid(g, x);
    tg_node loss = tg_sum(g, y);
    float xv[2] = {-88.0f, 1.0f};
    tg_bind(g, x, xv);
    tg_plan *p32 = tg_plan_new(g, loss, &(tg_plan_opts){.input_grads = 1, .outputs = &y, .n_outputs = 1});
    tg_plan *p64 = tg_plan_new(g, loss, &(tg_plan_opts){.input_grads = 1, .outputs = &y, .n_outputs = 1,
                                                        .precision = TG_F64});
    ck_assert_msg(p32 && p64, "%s", tg_graph_error(g));
    volatile float probe = 2e-38f;
    const float ieee = probe * 0.5f;
    ck_assert(ieee > 0 && ieee < FLT_MIN); /* the caller: IEEE subnormals */
    ck_assert_int_eq(tg_plan_forward(p32), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p32), TG_OK);
    ck_assert(probe * 0.5f == ieee);
    ck_assert(tg_plan_value(p32, y)[0] == 0.0f);
    ck_assert(tg_plan_grad(p32, x)[0] == 0.0f);  /* sigmoid' = y (1 - y) */
    ck_assert(tg_plan_value(p32, y)[1] > 0.73f);
    ck_assert_int_eq(tg_plan_forward(p64), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p64), TG_OK);
    ck_assert_double_eq_tol(tg_plan_value64(p64, y)[0], 6.0546018954011858e-39, 1e-45);
    ck_assert(tg_plan_grad64(p64, x)[0] > 6e-39);
    tg_plan_free(p32);
    tg_plan_free(p64);
    tg_graph_free(g);
    tg_params_free(ps);
#endif
}
END_TEST

/* the k-th node (0-based) of op `op` in graph order */
static tg_node nth_op(const tg_graph *g, const char *op, int k)
{
    for (int i = 0; i < tg_graph_nodes(g); i++)
        if (!strcmp(tg_node_op(g, (tg_node){i}), op) && k-- == 0) return (tg_node){i};
    return (tg_node){-1};
}

/* The D step's plan computes the kept G(z) that the G step reuses; G's
 * matmul + bias + activation run as fused GEMMs there too (the matmul
 * products and pre-activations are never stored), and the G step's loss and
 * G gradients are bit-identical to an unfused plan's that recomputes G. */
START_TEST(test_kept_fusion_same_bits)
{
    tiny_gan A;
    ck_assert_int_eq(tiny_gan_init(&A, "reference", 16, 5, 1), 0);
    tg_plan *pd, *pr;
    ck_assert_msg(tiny_gan_plans(&A, &(tg_plan_opts){.eval = 1}, &(tg_plan_opts){.eval = 1}, &pd, &pr) == TG_OK, "%s",
                  tg_graph_error(A.g));
    /* an unfused G in the same graph (same parameters and z): its matmuls
     * are plan outputs, which keeps them out of any GEMM epilogue */
    tg_node fake2 = tg_generator(A.g, &A.spec, A.z);
    tg_node loss2 = tg_gen_loss(A.g, tg_discriminator(A.g, &A.spec, fake2));
    tg_node outs[4];
    int first = 0;
    while (nth_op(A.g, "matmul", first).id <= A.loss_g.id) first++; /* fake2's matmuls come after */
    for (int l = 0; l < 4; l++) outs[l] = nth_op(A.g, "matmul", first + l);
    tg_plan *pu = tg_plan_new(A.g, loss2, &(tg_plan_opts){.groups = "G", .outputs = outs, .n_outputs = 4, .eval = 1});
    ck_assert_msg(pu != NULL, "%s", tg_graph_error(A.g));
    ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
    ck_assert_int_eq(tg_plan_forward(pr), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pr), TG_OK);
    ck_assert(tg_plan_value(pd, A.fake) != NULL);
    for (int l = 0; l < 4; l++) { /* G's products and pre-activations live only in pd's GEMMs */
        ck_assert_ptr_null(tg_plan_value(pd, nth_op(A.g, "matmul", l)));
        ck_assert_ptr_null(tg_plan_value(pd, nth_op(A.g, "bias_add", l)));
    }
    ck_assert_ptr_null(tg_plan_value(pr, nth_op(A.g, "bias_add", 0)));
    const double lr = tg_plan_loss(pr);
    float *gw[8];
    int np = 0;
    for (int i = 0; i < tg_params_count(A.ps); i++) {
        tg_param *q = tg_params_at(A.ps, i);
        if (strcmp(tg_param_group(q), "G")) continue;
        gw[np] = malloc(tg_param_numel(q) * sizeof(float));
        memcpy(gw[np++], tg_param_grad(q), tg_param_numel(q) * sizeof(float));
    }
    ck_assert_int_eq(np, 8);
    ck_assert_int_eq(tg_plan_forward(pu), TG_OK);
    ck_assert_int_eq(tg_plan_backward(pu), TG_OK);
    ck_assert(isfinite(lr) && tg_plan_loss(pu) == lr);
    for (int i = 0, k = 0; i < tg_params_count(A.ps); i++) {
        tg_param *q = tg_params_at(A.ps, i);
        if (strcmp(tg_param_group(q), "G")) continue;
        ck_assert_msg(memcmp(gw[k], tg_param_grad(q), tg_param_numel(q) * sizeof(float)) == 0, "%s differs",
                      tg_param_name(q));
        free(gw[k++]);
    }
    tg_plan_free(pd);
    tg_plan_free(pr);
    tg_plan_free(pu);
    tiny_gan_free(&A);
}
END_TEST

/* Plans that share kept values are compiled as a set, and the set decides
 * what is stored with every plan known: a plan that reuses G's first
 * pre-activation keeps it stored in the D step's plan (which then does not
 * fuse it away), whatever the order of the plans in the set, with the same
 * result as recomputing. A plan that reuses a value no plan of its set
 * computes is refused with a message. */
START_TEST(test_kept_fusion_respects_readers)
{
    for (int order = 0; order < 2; order++) {
        tiny_gan A;
        ck_assert_int_eq(tiny_gan_init(&A, "reference", 8, 6, 1), 0);
        tg_node m0 = nth_op(A.g, "matmul", 0), b0 = nth_op(A.g, "bias_add", 0);
        const tg_node outs[2] = {order ? A.loss_g : A.loss_d, order ? A.loss_d : A.loss_g};
        const tg_plan_opts od = {.groups = "D", .eval = 1}, ob = {.groups = "G", .reuse = &b0, .n_reuse = 1, .eval = 1};
        const tg_plan_opts o[2] = {order ? ob : od, order ? od : ob};
        tg_plan *pl[2];
        ck_assert_msg(tg_plans_new(A.g, 2, outs, o, pl) == TG_OK, "%s", tg_graph_error(A.g));
        tg_plan *pd = pl[order], *pb = pl[1 - order];
        tg_plan *pf = tg_plan_new(A.g, A.loss_g, &(tg_plan_opts){.groups = "G", .eval = 1}); /* recomputes G */
        ck_assert(pf);
        ck_assert_ptr_nonnull(tg_plan_value(pd, b0)); /* stored for pb */
        ck_assert_ptr_null(tg_plan_value(pd, m0));    /* nobody reads it: fused */
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_forward(pb), TG_OK);
        ck_assert_int_eq(tg_plan_forward(pf), TG_OK);
        ck_assert(isfinite(tg_plan_loss(pb)) && tg_plan_loss(pb) == tg_plan_loss(pf));
        tg_plan_free(pb);
        tg_plan_free(pd);
        tg_plan_free(pf);
        /* alone, the reusing plan has nobody to compute b0 */
        ck_assert_ptr_null(tg_plan_new(A.g, A.loss_g, &ob));
        ck_assert_ptr_nonnull(strstr(tg_graph_error(A.g), "no other plan of its set computes"));
        tiny_gan_free(&A);
    }
}
END_TEST

/* Compiling does not change the graph, and a set gives the same plans in
 * any order: the same schedules, arenas and bits. */
START_TEST(test_set_order_independent)
{
    double loss[2][2];
    size_t arena[2][2];
    int len[2][2];
    for (int order = 0; order < 2; order++) {
        tiny_gan A;
        ck_assert_int_eq(tiny_gan_init(&A, "reference", 16, 5, 0), 0);
        tg_plan_opts od = {.groups = "D"}, og = {.groups = "G", .reuse = &A.fake, .n_reuse = 1};
        const tg_node outs[2] = {order ? A.loss_g : A.loss_d, order ? A.loss_d : A.loss_g};
        const tg_plan_opts o[2] = {order ? og : od, order ? od : og};
        tg_plan *pl[2];
        ck_assert_msg(tg_plans_new(A.g, 2, outs, o, pl) == TG_OK, "%s", tg_graph_error(A.g));
        tg_plan *pd = pl[order], *pg = pl[1 - order];
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
        loss[order][0] = tg_plan_loss(pd);
        loss[order][1] = tg_plan_loss(pg);
        arena[order][0] = tg_plan_arena_bytes(pd);
        arena[order][1] = tg_plan_arena_bytes(pg);
        len[order][0] = tg_plan_forward_len(pd) * 1000 + tg_plan_backward_len(pd);
        len[order][1] = tg_plan_forward_len(pg) * 1000 + tg_plan_backward_len(pg);
        tg_plan_free(pd);
        tg_plan_free(pg);
        tiny_gan_free(&A);
    }
    for (int k = 0; k < 2; k++) {
        ck_assert(isfinite(loss[0][k]) && loss[0][k] == loss[1][k]);
        ck_assert_uint_eq(arena[0][k], arena[1][k]);
        ck_assert_int_eq(len[0][k], len[1][k]);
    }
}
END_TEST

/* Backward fusion: an activation's backward (and a dropout's before it)
 * run in the epilogue of the input-gradient GEMM of the matmul that reads
 * them. Against the same graph compiled unfused: bit-identical loss, weight,
 * bias and input gradients, for each y-only activation, with and without
 * dropout, training and eval, on one thread and on a pool. */
static void fusion_case(tg_params *ps, tg_param *const *w, int act, double p_drop, int eval, tg_pool *pool,
                        const float *x, int unfused, double *loss, float **grads, float *dx, int *bwd_len)
{
    enum { B = 37, I = 45, H = 70, O = 33 };
    tg_graph *g = tg_graph_new(ps);
    tg_graph_set_seed(g, 11);
    tg_node xin = tg_input(g, "x", 2, (int[]){B, I});
    tg_bind(g, xin, x);
    tg_node h = xin;
    for (int l = 0; l < 2; l++) {
        h = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, w[2 * l])), tg_param_ref(g, w[2 * l + 1]));
        h = act == 0 ? tg_relu(g, h) : act == 1 ? tg_leaky_relu(g, h, 0.2f) : act == 2 ? tg_sigmoid(g, h) : tg_tanh(g, h);
        if (p_drop > 0) h = tg_dropout(g, h, (float)p_drop);
    }
    tg_node y = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, w[4])), tg_param_ref(g, w[5]));
    tg_node l = tg_bce_logits_const(g, y, 0.9f);
    tg_plan *p = tg_plan_new(g, l, &(tg_plan_opts){.groups = "M", .input_grads = 1, .eval = eval, .pool = pool,
                                                   .unfused = unfused});
    ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    *loss = tg_plan_loss(p);
    *bwd_len = tg_plan_backward_len(p);
    for (int i = 0; i < 6; i++) memcpy(grads[i], tg_param_grad(w[i]), tg_param_numel(w[i]) * sizeof(float));
    memcpy(dx, tg_plan_grad(p, xin), (size_t)B * I * sizeof(float));
    tg_plan_free(p);
    tg_graph_free(g);
}

START_TEST(test_backward_fusion_same_bits)
{
    enum { B = 37, I = 45, H = 70, O = 33 };
    tg_params *ps = tg_params_new();
    tg_param *w[6] = {
        tg_param_new(ps, "M", "w1", 2, (int[]){I, H}), tg_param_new(ps, "M", "b1", 1, (int[]){H}),
        tg_param_new(ps, "M", "w2", 2, (int[]){H, H}), tg_param_new(ps, "M", "b2", 1, (int[]){H}),
        tg_param_new(ps, "M", "w3", 2, (int[]){H, O}), tg_param_new(ps, "M", "b3", 1, (int[]){O}),
    };
    tg_rng r;
    tg_rng_seed(&r, 9, 0);
    for (int i = 0; i < 6; i++) tg_rng_fill_uniform(&r, tg_param_data(w[i]), tg_param_numel(w[i]), -0.5f, 0.5f);
    static float x[B * I], dx[2][B * I];
    tg_rng_fill_uniform(&r, x, B * I, -1.0f, 1.0f);
    float *gr[2][6];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 6; i++) gr[k][i] = malloc(tg_param_numel(w[i]) * sizeof(float));
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_ptr_nonnull(pool);
    for (int act = 0; act < 4; act++)
        for (int drop = 0; drop < 2; drop++)
            for (int mode = 0; mode < 3; mode++) { /* train, eval, train on the pool */
                double loss[2];
                int len[2];
                for (int k = 0; k < 2; k++)
                    fusion_case(ps, w, act, drop ? 0.3 : 0.0, mode == 1, mode == 2 ? pool : NULL, x, k, &loss[k], gr[k],
                                dx[k], &len[k]);
                ck_assert(isfinite(loss[0]) && loss[0] == loss[1]);
                /* two activations (and two dropouts) no longer run on their own */
                ck_assert_int_eq(len[0] + 2 * (1 + drop), len[1]);
                for (int i = 0; i < 6; i++)
                    ck_assert_msg(memcmp(gr[0][i], gr[1][i], tg_param_numel(w[i]) * sizeof(float)) == 0,
                                  "act %d drop %d mode %d: gradient of %s differs", act, drop, mode,
                                  tg_param_name(w[i]));
                ck_assert_msg(memcmp(dx[0], dx[1], sizeof dx[0]) == 0, "act %d drop %d mode %d: input gradient",
                              act, drop, mode);
            }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 6; i++) free(gr[k][i]);
    tg_pool_free(pool);
    tg_params_free(ps);
}
END_TEST

START_TEST(test_bias_fusion_same_bits)
{
    enum { B = 37, I = 45, H = 70, O = 33 };
    tg_params *ps = tg_params_new();
    tg_param *w1 = tg_param_new(ps, "M", "w1", 2, (int[]){I, H}), *b1 = tg_param_new(ps, "M", "b1", 1, (int[]){H});
    tg_param *w2 = tg_param_new(ps, "M", "w2", 2, (int[]){H, O}), *b2 = tg_param_new(ps, "M", "b2", 1, (int[]){O});
    tg_rng r;
    tg_rng_seed(&r, 3, 0);
    tg_param *all[4] = {w1, b1, w2, b2};
    for (int i = 0; i < 4; i++) tg_rng_fill_uniform(&r, tg_param_data(all[i]), tg_param_numel(all[i]), -0.5f, 0.5f);
    float x[B * I];
    tg_rng_fill_uniform(&r, x, B * I, -1.0f, 1.0f);
    tg_graph *g = tg_graph_new(ps);
    tg_node xin = tg_input(g, "x", 2, (int[]){B, I});
    tg_bind(g, xin, x);
    tg_node m1 = tg_matmul(g, xin, tg_param_ref(g, w1));
    tg_node h = tg_leaky_relu(g, tg_bias_add(g, m1, tg_param_ref(g, b1)), 0.2f);
    tg_node m2 = tg_matmul(g, h, tg_param_ref(g, w2));
    tg_node loss = tg_sum(g, tg_tanh(g, tg_bias_add(g, m2, tg_param_ref(g, b2))));
    ck_assert_int_ge(loss.id, 0);
    tg_node outs[2] = {m1, m2};
    tg_plan *fused = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M"});
    tg_plan *plain = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M", .outputs = outs, .n_outputs = 2});
    ck_assert_ptr_nonnull(fused);
    ck_assert_ptr_nonnull(plain);
    /* both bias_adds and both activations run inside the GEMMs */
    ck_assert_int_eq(tg_plan_forward_len(fused) + 4, tg_plan_forward_len(plain));
    float *gr[2][4];
    double l[2];
    tg_plan *pl[2] = {fused, plain};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(tg_plan_forward(pl[k]), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pl[k]), TG_OK);
        l[k] = tg_plan_loss(pl[k]);
        for (int i = 0; i < 4; i++) {
            gr[k][i] = malloc(tg_param_numel(all[i]) * sizeof(float));
            memcpy(gr[k][i], tg_param_grad(all[i]), tg_param_numel(all[i]) * sizeof(float));
        }
    }
    ck_assert(l[0] == l[1]);
    ck_assert(isfinite(l[0]) && l[0] != 0.0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(memcmp(gr[0][i], gr[1][i], tg_param_numel(all[i]) * sizeof(float)), 0);
        free(gr[0][i]);
        free(gr[1][i]);
    }
    tg_plan_free(fused);
    tg_plan_free(plain);
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

/* ---- the gradient-ready hook (tg_plan_on_grad_ready) ---- */
#define RDY_MAX 16
#define RDY_SENTINEL 1.0e30f
/* What the hook saw: the parameters in the order reported, a copy of each
 * one's gradient at that moment, and whether `watch` (a parameter whose
 * gradient a later step writes) still held the sentinel then. */
typedef struct rdy_log {
    tg_params *ps;
    int n, count[RDY_MAX];
    tg_param *order[RDY_MAX];
    float *seen[RDY_MAX];
    int watch_untouched[RDY_MAX];
    tg_param *watch;
} rdy_log;

static int store_index(const tg_params *ps, const tg_param *p)
{
    for (int i = 0; i < tg_params_count(ps); i++)
        if (tg_params_at(ps, i) == p) return i;
    return -1;
}

/* the hook itself: no allocation, no Check assertion (they allocate) */
static void rdy_hook(void *ctx, tg_param *p)
{
    rdy_log *l = ctx;
    const int i = store_index(l->ps, p);
    if (i < 0 || l->n >= RDY_MAX) return;
    l->count[i]++;
    l->order[l->n] = p;
    l->watch_untouched[l->n] = l->watch && tg_param_grad(l->watch)[0] == RDY_SENTINEL;
    l->n++;
    memcpy(l->seen[i], tg_param_grad(p), tg_param_numel(p) * sizeof(float));
}

static void rdy_init(rdy_log *l, tg_params *ps)
{
    memset(l, 0, sizeof *l);
    l->ps = ps;
    ck_assert_int_le(tg_params_count(ps), RDY_MAX);
    for (int i = 0; i < tg_params_count(ps); i++) {
        l->seen[i] = malloc(tg_param_numel(tg_params_at(ps, i)) * sizeof(float));
        ck_assert_ptr_nonnull(l->seen[i]);
    }
}

static void rdy_reset(rdy_log *l)
{
    l->n = 0;
    memset(l->count, 0, sizeof l->count);
    for (int i = 0; i < tg_params_count(l->ps); i++) {
        tg_param *p = tg_params_at(l->ps, i);
        for (size_t e = 0; e < tg_param_numel(p); e++) tg_param_grad(p)[e] = RDY_SENTINEL;
    }
}

/* every parameter with a gradient in plan p reported exactly once, others
 * never, each with the gradient it ends the backward with */
static void rdy_check(const rdy_log *l, tg_plan *p)
{
    int want = 0;
    for (int i = 0; i < tg_params_count(l->ps); i++) {
        tg_param *q = tg_params_at(l->ps, i);
        const int has = tg_plan_has_param_grad(p, q);
        want += has;
        ck_assert_msg(l->count[i] == has, "%s/%s reported %d times", tg_param_group(q), tg_param_name(q), l->count[i]);
        if (has)
            ck_assert_msg(!memcmp(l->seen[i], tg_param_grad(q), tg_param_numel(q) * sizeof(float)),
                          "%s/%s changed after it was reported", tg_param_group(q), tg_param_name(q));
    }
    ck_assert_int_eq(l->n, want);
}

static void rdy_free(rdy_log *l)
{
    for (int i = 0; i < RDY_MAX; i++) free(l->seen[i]);
}

/* layer k of a parameter named "l<k>.w" / "l<k>.b" */
static int layer_of(const tg_param *p) { return atoi(tg_param_name(p) + 1); }

START_TEST(test_grad_ready_mlp)
{
    /* an MLP x -> 3 layers -> BCE: fused and unfused, with and without a
     * pool, the last layer's parameters are reported first, while the first
     * layer's gradient is still unwritten; no allocation per step */
    enum { B = 9, I = 5 };
    tg_params *ps = tg_params_new();
    tg_mlp_spec m = {.n_layers = 3, .widths = {I, 7, 6, 1}, .hidden = TG_ACT_LEAKY_RELU, .slope = 0.2f,
                     .output = TG_ACT_NONE, .group = "M"};
    tg_rng r;
    tg_rng_seed(&r, 5, 0);
    ck_assert_int_eq(tg_mlp_params(ps, &m, TG_INIT_PYTORCH, 0, &r), TG_OK);
    float x[B * I];
    tg_rng_fill_uniform(&r, x, B * I, -1.0f, 1.0f);
    tg_graph *g = tg_graph_new(ps);
    tg_node xin = tg_input(g, "x", 2, (int[]){B, I});
    tg_bind(g, xin, x);
    tg_node loss = tg_bce_logits_const(g, tg_mlp(g, &m, xin), 0.9f);
    ck_assert_msg(loss.id >= 0, "%s", tg_graph_error(g));
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_ptr_nonnull(pool);
    rdy_log l;
    rdy_init(&l, ps);
    l.watch = tg_param_find(ps, "M", "l0.w");
    float *ref[RDY_MAX] = {0};
    for (int v = 0; v < 4; v++) {
        tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M", .unfused = v & 1, .pool = v & 2 ? pool : NULL});
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(tg_plan_on_grad_ready(p, rdy_hook, &l), TG_OK);
        for (int it = 0; it < 2; it++) {
            rdy_reset(&l);
            ck_assert_int_eq(tg_plan_forward(p), TG_OK);
            const uint64_t before = n_alloc;
            const tg_status s = tg_plan_backward(p);
            const uint64_t used = n_alloc - before;
            ck_assert_int_eq(s, TG_OK);
            if (it > 0) ck_assert_uint_eq(used, 0);
            rdy_check(&l, p);
        }
        ck_assert_int_eq(l.n, 6);
        for (int k = 1; k < l.n; k++) ck_assert_int_le(layer_of(l.order[k]), layer_of(l.order[k - 1]));
        ck_assert_int_eq(layer_of(l.order[0]), 2);
        ck_assert(l.watch_untouched[0] && l.watch_untouched[1]); /* both of layer 2, before layer 0's backward */
        ck_assert(!l.watch_untouched[l.n - 1]);
        /* the same gradients whatever the variant (fusion gives the same bits) */
        for (int i = 0; i < tg_params_count(ps); i++) {
            tg_param *q = tg_params_at(ps, i);
            const size_t bytes = tg_param_numel(q) * sizeof(float);
            if (!ref[i]) {
                ref[i] = malloc(bytes);
                memcpy(ref[i], tg_param_grad(q), bytes);
            }
            ck_assert(!memcmp(ref[i], tg_param_grad(q), bytes));
        }
        /* removed: backward runs without it */
        ck_assert_int_eq(tg_plan_on_grad_ready(p, NULL, NULL), TG_OK);
        rdy_reset(&l);
        ck_assert_int_eq(tg_plan_forward(p), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p), TG_OK);
        ck_assert_int_eq(l.n, 0);
        tg_plan_free(p);
    }
    for (int i = 0; i < RDY_MAX; i++) free(ref[i]);
    rdy_free(&l);
    tg_pool_free(pool);
    tg_graph_free(g);
    tg_params_free(ps);
}
END_TEST

START_TEST(test_grad_ready_gan)
{
    /* the GAN's D step: D runs on the real batch and on the detached fake,
     * so each D parameter is final only after the real branch's backward
     * (the earliest on the tape): reported once, with its final gradient,
     * last layer first; G gets nothing. The G step reports G only. */
    tg_plan *pd, *pg;
    dgplans(NULL, 0, &pd, &pg);
    rdy_log l;
    rdy_init(&l, T.ps);
    ck_assert_int_eq(tg_plan_on_grad_ready(pd, rdy_hook, &l), TG_OK);
    ck_assert_int_eq(tg_plan_on_grad_ready(pg, rdy_hook, &l), TG_OK);
    for (int it = 0; it < 2; it++) {
        rdy_reset(&l);
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        rdy_check(&l, pd);
        ck_assert_int_eq(l.n, 6);
        for (int k = 0; k < l.n; k++) ck_assert_str_eq(tg_param_group(l.order[k]), "D");
        for (int k = 1; k < l.n; k++) ck_assert_int_le(layer_of(l.order[k]), layer_of(l.order[k - 1]));
        rdy_reset(&l);
        ck_assert_int_eq(tg_plan_forward(pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pg), TG_OK);
        rdy_check(&l, pg);
        ck_assert_int_eq(l.n, 6);
        for (int k = 0; k < l.n; k++) ck_assert_str_eq(tg_param_group(l.order[k]), "G");
        for (int k = 1; k < l.n; k++) ck_assert_int_le(layer_of(l.order[k]), layer_of(l.order[k - 1]));
    }
    rdy_free(&l);
    tg_plan_free(pd);
    tg_plan_free(pg);
}
END_TEST

START_TEST(test_grad_ready_refused)
{
    /* f64 and forward-only plans write no tg_param_grad: refused, and the
     * graph keeps working */
    tg_plan *p64 = tg_plan_new(T.g, T.loss_d, &(tg_plan_opts){.groups = "D", .precision = TG_F64});
    tg_plan *pf = tg_plan_new(T.g, T.fake, &(tg_plan_opts){.forward_only = 1});
    ck_assert(p64 && pf);
    rdy_log l;
    ck_assert_int_eq(tg_plan_on_grad_ready(p64, rdy_hook, &l), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_on_grad_ready(pf, rdy_hook, &l), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_on_grad_ready(NULL, rdy_hook, &l), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_on_grad_ready(pf, NULL, NULL), TG_OK);
    ck_assert_int_eq(tg_graph_status(T.g), TG_OK);
    ck_assert_int_eq(tg_plan_forward(p64), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p64), TG_OK);
    tg_plan_free(p64);
    tg_plan_free(pf);
}
END_TEST

/* ---- slices of a global batch: dropout masks keyed by the global row ----
 * A net with dropout after matmul + bias + activation (an MLP
 * discriminator's layers) or after conv + bias + activation, loss
 * sum(y * t) (so each row's gradient is its own: dy = t), run on a global
 * batch of B rows, and as two plans of B/2 rows over the two halves with
 * row offsets 0 and B/2: the same outputs and input gradients bit for bit,
 * the weight gradients the sum of the halves' (another summation order).
 * Fused (the masks recomputed in the input-gradient GEMM's or col2im's
 * epilogue), unfused (the dropout kernels) and f64 (the reference loops). */
enum { RB = 8, RI = 2 * 6 * 6, RH = 40, RNW = 9 };

/* parameter i takes part in net `kind` */
static int rused(int kind, int i) { return kind ? i != 0 : i < 4; }

typedef struct rnet {
    tg_params *ps;
    tg_param *w[RNW];
} rnet;

static void rnet_init(rnet *n)
{
    n->ps = tg_params_new();
    const int shapes[RNW][4] = {{RI, RH}, {RH}, {RH, RH}, {RH}, {4, 2, 3, 3}, {4}, {3, 4, 3, 3}, {3}, {27, RH}};
    const int nd[RNW] = {2, 1, 2, 1, 4, 1, 4, 1, 2};
    tg_rng r;
    tg_rng_seed(&r, 21, 0);
    for (int i = 0; i < RNW; i++) {
        char name[8];
        snprintf(name, sizeof name, "w%d", i);
        n->w[i] = tg_param_new(n->ps, "M", name, nd[i], shapes[i]);
        ck_assert_ptr_nonnull(n->w[i]);
        tg_rng_fill_uniform(&r, tg_param_data(n->w[i]), tg_param_numel(n->w[i]), -0.4f, 0.4f);
    }
}

/* results of one run over B rows */
typedef struct rres {
    double loss;
    float y[RB * RH], dx[RB * RI];
    float *gw[RNW]; /* NULL: no gradient in this net */
} rres;

/* kind 0: x (B, 72) -> [matmul, bias, leaky_relu, dropout] -> [matmul, bias,
 * relu, dropout 0.5] -> y (B, RH). kind 1: x (B, 2, 6, 6) -> [conv 4 3x3
 * pad 1, bias, leaky_relu, dropout] -> [conv 3 3x3 s2 pad 1, bias, tanh,
 * dropout 0.25] -> flatten (B, 27) -> [matmul, bias, sigmoid, dropout] -> y.
 * prec: 0 fused f32, 1 unfused f32, 2 f64. */
static void rnet_run(rnet *n, int kind, int prec, int B, int64_t row0, int set_row, const float *x, const float *t,
                     rres *out)
{
    tg_graph *g = tg_graph_new(n->ps);
    tg_graph_set_seed(g, 77);
    tg_node xin = kind ? tg_input(g, "x", 4, (int[]){B, 2, 6, 6}) : tg_input(g, "x", 2, (int[]){B, RI});
    tg_node tin = tg_input(g, "t", 2, (int[]){B, RH});
    tg_bind(g, xin, x);
    tg_bind(g, tin, t);
    tg_node h = xin;
    tg_param *const *w = n->w;
    if (kind == 0) {
        h = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, w[0])), tg_param_ref(g, w[1]));
        h = tg_dropout(g, tg_leaky_relu(g, h, 0.2f), 0.3f);
    } else {
        h = tg_conv2d(g, h, tg_param_ref(g, w[4]), &(tg_conv_opts){.pad = {1, 1, 1, 1}});
        h = tg_dropout(g, tg_leaky_relu(g, tg_bias_add_axis(g, h, tg_param_ref(g, w[5]), 1), 0.2f), 0.3f);
        h = tg_conv2d(g, h, tg_param_ref(g, w[6]), &(tg_conv_opts){.stride = {2, 2}, .pad = {1, 1, 1, 1}});
        h = tg_dropout(g, tg_tanh(g, tg_bias_add_axis(g, h, tg_param_ref(g, w[7]), 1)), 0.25f);
        h = tg_flatten(g, h);
        h = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, w[8])), tg_param_ref(g, w[1]));
        h = tg_dropout(g, tg_sigmoid(g, h), 0.3f);
    }
    h = tg_bias_add(g, tg_matmul(g, h, tg_param_ref(g, w[2])), tg_param_ref(g, w[3]));
    tg_node y = tg_dropout(g, tg_relu(g, h), 0.5f);
    tg_node loss = tg_sum(g, tg_mul(g, y, tin));
    ck_assert_msg(tg_graph_status(g) == TG_OK, "%s", tg_graph_error(g));
    tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "M", .input_grads = 1, .unfused = prec == 1,
                                                      .precision = prec == 2 ? TG_F64 : TG_F32,
                                                      .outputs = &y, .n_outputs = 1});
    ck_assert_msg(p != NULL, "%s", tg_graph_error(g));
    ck_assert_int_eq(tg_plan_row_offset(p), 0);
    if (set_row) ck_assert_int_eq(tg_plan_set_row_offset(p, row0), TG_OK);
    ck_assert_int_eq(tg_plan_row_offset(p), set_row ? row0 : 0);
    ck_assert_int_eq(tg_plan_forward(p), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p), TG_OK);
    out->loss = tg_plan_loss(p);
    const size_t ny = (size_t)B * RH, nx = (size_t)B * RI;
    if (prec == 2) {
        const double *yv = tg_plan_value64(p, y), *dx = tg_plan_grad64(p, xin);
        for (size_t e = 0; e < ny; e++) out->y[e] = (float)yv[e];
        for (size_t e = 0; e < nx; e++) out->dx[e] = (float)dx[e];
        for (int i = 0; i < RNW; i++) {
            out->gw[i] = NULL;
            if (!rused(kind, i)) continue;
            const double *gw = tg_plan_grad64(p, tg_param_ref(g, w[i]));
            ck_assert_ptr_nonnull(gw);
            out->gw[i] = malloc(tg_param_numel(w[i]) * sizeof(float));
            for (size_t e = 0; e < tg_param_numel(w[i]); e++) out->gw[i][e] = (float)gw[e];
        }
    } else {
        memcpy(out->y, tg_plan_value(p, y), ny * sizeof(float));
        memcpy(out->dx, tg_plan_grad(p, xin), nx * sizeof(float));
        for (int i = 0; i < RNW; i++) {
            out->gw[i] = NULL;
            if (!rused(kind, i)) continue;
            out->gw[i] = malloc(tg_param_numel(w[i]) * sizeof(float));
            memcpy(out->gw[i], tg_param_grad(w[i]), tg_param_numel(w[i]) * sizeof(float));
        }
    }
    tg_plan_free(p);
    tg_graph_free(g);
}

static void rres_free(rres *r)
{
    for (int i = 0; i < RNW; i++) free(r->gw[i]);
}

START_TEST(test_row_offset_slices)
{
    rnet n;
    rnet_init(&n);
    static float x[RB * RI], t[RB * RH];
    tg_rng r;
    tg_rng_seed(&r, 5, 1);
    tg_rng_fill_uniform(&r, x, RB * RI, -1.0f, 1.0f);
    tg_rng_fill_uniform(&r, t, RB * RH, -1.0f, 1.0f);
    const int H = RB / 2;
    for (int kind = 0; kind < 2; kind++)
        for (int prec = 0; prec < 3; prec++) {
            static rres full, half[2], plain;
            rnet_run(&n, kind, prec, RB, 0, 0, x, t, &full);
            for (int s = 0; s < 2; s++)
                rnet_run(&n, kind, prec, H, (int64_t)H * s, 1, x + (size_t)H * s * RI, t + (size_t)H * s * RH,
                         &half[s]);
            /* element-wise parts: the same bits */
            for (int s = 0; s < 2; s++) {
                ck_assert_msg(!memcmp(full.y + (size_t)H * s * RH, half[s].y, (size_t)H * RH * sizeof(float)),
                              "kind %d prec %d: outputs of half %d differ", kind, prec, s);
                ck_assert_msg(!memcmp(full.dx + (size_t)H * s * RI, half[s].dx, (size_t)H * RI * sizeof(float)),
                              "kind %d prec %d: input gradients of half %d differ", kind, prec, s);
            }
            /* sums over the rows: the halves' sums, up to rounding */
            const double tol = prec == 2 ? 1e-6 : 1e-4;
            ck_assert_double_eq_tol(full.loss, half[0].loss + half[1].loss, tol * (1 + fabs(full.loss)));
            for (int i = 0; i < RNW; i++) {
                if (!full.gw[i]) continue;
                double d = 0, m = 1e-30;
                for (size_t e = 0; e < tg_param_numel(n.w[i]); e++) {
                    d = fmax(d, fabs((double)full.gw[i][e] - ((double)half[0].gw[i][e] + half[1].gw[i][e])));
                    m = fmax(m, fabs((double)full.gw[i][e]));
                }
                ck_assert_msg(d <= tol * m, "kind %d prec %d: gradient of w%d: %g of %g", kind, prec, i, d, m);
            }
            /* the second half without its offset draws the first rows'
             * masks: other outputs (the control that the check can fail) */
            rnet_run(&n, kind, prec, H, 0, 0, x + (size_t)H * RI, t + (size_t)H * RH, &plain);
            ck_assert_msg(memcmp(full.y + (size_t)H * RH, plain.y, (size_t)H * RH * sizeof(float)),
                          "kind %d prec %d: the offset changed nothing", kind, prec);
            rres_free(&full);
            rres_free(&plain);
            for (int s = 0; s < 2; s++) rres_free(&half[s]);
        }
    tg_params_free(n.ps);
}
END_TEST

START_TEST(test_row_offset_zero)
{
    /* offset 0 is the default, bit for bit: set explicitly, or set to
     * another value and back, a plan draws the masks it draws untouched;
     * negative offsets are refused */
    tg_plan *pd, *pg;
    dgplans(NULL, 0, &pd, &pg);
    tg_param *w = tg_param_find(T.ps, "D", "l0.w");
    ck_assert_ptr_nonnull(w);
    const size_t n = tg_param_numel(w);
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    double loss[3];
    for (int k = 0; k < 3; k++) {
        tg_graph_set_dropout_step(T.g, 4);
        if (k == 1) ck_assert_int_eq(tg_plan_set_row_offset(pd, 0), TG_OK);
        if (k == 2) {
            ck_assert_int_eq(tg_plan_set_row_offset(pd, 3), TG_OK);
            ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
            ck_assert_int_eq(tg_plan_set_row_offset(pd, 0), TG_OK);
            tg_graph_set_dropout_step(T.g, 4);
        }
        ck_assert_int_eq(tg_plan_forward(pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(pd), TG_OK);
        loss[k] = tg_plan_loss(pd);
        memcpy(k ? got : ref, tg_param_grad(w), n * sizeof(float));
        ck_assert(loss[k] == loss[0]);
        if (k) ck_assert(!memcmp(ref, got, n * sizeof(float)));
    }
    free(ref);
    free(got);
    ck_assert_int_eq(tg_plan_set_row_offset(pd, -1), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_set_row_offset(NULL, 0), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_row_offset(pd), 0);
    tg_plan_free(pd);
    tg_plan_free(pg);
}
END_TEST

/* ---- the batch-sum hook (synchronized batch normalization) ----
 * A net with a BatchNorm2d and a BatchNorm1d of 20 channels (two blocks of
 * 8 and a ragged 4): x (B, 3, 4, 4) -> conv 5 3x3 pad 1 -> batch_norm ->
 * relu -> flatten -> matmul (80, 20) -> batch_norm -> leaky_relu -> matmul
 * (20, 1) -> BCE. */
enum { BB = 6, BNP = 8 };

typedef struct bnet {
    tg_params *ps;
    tg_param *p[BNP];
    tg_graph *g;
    tg_node x, loss;
    tg_plan *plan;
} bnet;

static void bnet_new(bnet *n, int B, const float *x, int eval, tg_pool *pool)
{
    n->ps = tg_params_new();
    const int shapes[6][4] = {{5, 3, 3, 3}, {5}, {5}, {80, 20}, {20}, {20}};
    tg_rng r;
    tg_rng_seed(&r, 8, 0);
    for (int i = 0; i < 6; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", i);
        n->p[i] = tg_param_new(n->ps, "M", name, i == 0 ? 4 : i == 3 ? 2 : 1, shapes[i]);
        tg_rng_fill_uniform(&r, tg_param_data(n->p[i]), tg_param_numel(n->p[i]), i == 1 || i == 4 ? 0.5f : -0.5f,
                            i == 1 || i == 4 ? 1.5f : 0.5f);
    }
    n->p[6] = tg_param_new(n->ps, "M", "p6", 2, (int[]){20, 1});
    tg_rng_fill_uniform(&r, tg_param_data(n->p[6]), 20, -0.5f, 0.5f);
    tg_param *rs[4];
    for (int k = 0; k < 4; k++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", k);
        rs[k] = tg_param_new_state(n->ps, "M", name, 1, (int[]){k < 2 ? 5 : 20});
        ck_assert_int_eq(tg_param_init(rs[k], k % 2 ? TG_INIT_ONES : TG_INIT_ZEROS, 0, 0, 0, NULL), TG_OK);
    }
    n->p[7] = NULL;
    tg_graph *g = n->g = tg_graph_new(n->ps);
    n->x = tg_input(g, "x", 4, (int[]){B, 3, 4, 4});
    tg_bind(g, n->x, x);
    tg_node h = tg_conv2d(g, n->x, tg_param_ref(g, n->p[0]), &(tg_conv_opts){.pad = {1, 1, 1, 1}});
    h = tg_batch_norm(g, h, tg_param_ref(g, n->p[1]), tg_param_ref(g, n->p[2]), rs[0], rs[1], 1e-5f, 0.1f);
    h = tg_flatten(g, tg_relu(g, h));
    h = tg_matmul(g, h, tg_param_ref(g, n->p[3]));
    h = tg_batch_norm(g, h, tg_param_ref(g, n->p[4]), tg_param_ref(g, n->p[5]), rs[2], rs[3], 1e-5f, 0.1f);
    h = tg_matmul(g, tg_leaky_relu(g, h, 0.2f), tg_param_ref(g, n->p[6]));
    n->loss = tg_bce_logits_const(g, h, 0.9f);
    n->plan = tg_plan_new(g, n->loss, &(tg_plan_opts){.groups = "M", .input_grads = 1, .eval = eval, .pool = pool});
    ck_assert_msg(n->plan != NULL, "%s", tg_graph_error(g));
}

static void bnet_free(bnet *n)
{
    tg_plan_free(n->plan);
    tg_graph_free(n->g);
    tg_params_free(n->ps);
}

/* max over the store's tensors (values, and gradients of trainable ones)
 * of max|a - b| / max|b| */
static double bnet_diff(const bnet *a, const bnet *b, int grads)
{
    double worst = 0;
    for (int i = 0; i < tg_params_count(a->ps); i++) {
        tg_param *p = tg_params_at(a->ps, i), *q = tg_params_at(b->ps, i);
        if (grads && tg_param_is_state(p)) continue;
        const float *u = grads ? tg_param_grad(p) : tg_param_data(p), *v = grads ? tg_param_grad(q) : tg_param_data(q);
        double d = 0, m = 1e-30;
        for (size_t e = 0; e < tg_param_numel(p); e++) {
            d = fmax(d, fabs((double)u[e] - v[e]));
            m = fmax(m, fabs((double)v[e]));
        }
        worst = fmax(worst, d / m);
    }
    return worst;
}

static int bnet_same(const bnet *a, const bnet *b)
{
    for (int i = 0; i < tg_params_count(a->ps); i++) {
        tg_param *p = tg_params_at(a->ps, i), *q = tg_params_at(b->ps, i);
        const size_t bytes = tg_param_numel(p) * sizeof(float);
        if (memcmp(tg_param_data(p), tg_param_data(q), bytes)) return 0;
        if (!tg_param_is_state(p) && memcmp(tg_param_grad(p), tg_param_grad(q), bytes)) return 0;
    }
    return 1;
}

/* a hook's log: the n of every call, on which thread; what it does to x */
typedef struct bsum_log {
    int calls, n[16], off_thread;
    pthread_t caller;
    double mul;        /* x *= mul (1: one process, 2: two processes with the same rows) */
    int fail_at;       /* the call (1..) that fails, or 0 */
    tg_status fail;
    int bad_count;     /* 1: make the count 0.5 */
    int keep_count;    /* 1: multiply the sums only, not the count */
} bsum_log;

static tg_status bsum_hook(void *ctx, double *x, int n)
{
    bsum_log *l = ctx;
    if (l->calls < 16) l->n[l->calls] = n;
    l->calls++;
    if (!pthread_equal(pthread_self(), l->caller)) l->off_thread++;
    if (l->fail_at && l->calls == l->fail_at) return l->fail;
    if (l->mul != 1.0)
        for (int i = 0; i < n - l->keep_count; i++) x[i] *= l->mul;
    if (l->bad_count) x[n - 1] = 0.5;
    return TG_OK;
}

START_TEST(test_batch_sums_identity)
{
    /* a hook that leaves the sums as they are (one process): the same bits
     * as no hook, three training steps (forward, backward, SGD) on a pool
     * of two threads: losses, gradients, running statistics. The calls: one
     * per batch_norm in forward (2 C + 1 doubles) and one in backward
     * (4 C + 1), in schedule order, on the caller's thread; a step then
     * allocates nothing. Eval plans never call it. */
    static float x[BB * 48];
    tg_rng r;
    tg_rng_seed(&r, 2, 2);
    tg_rng_fill_normal(&r, x, BB * 48, 0.5f, 2.0f);
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert_ptr_nonnull(pool);
    tg_pool_set_strict(pool, 1);
    bnet a, b;
    bnet_new(&a, BB, x, 0, pool);
    bnet_new(&b, BB, x, 0, pool);
    bsum_log l = {.caller = pthread_self(), .mul = 1.0};
    ck_assert_int_eq(tg_plan_on_batch_sums(b.plan, bsum_hook, &l), TG_OK);
    tg_sgd *sa = tg_sgd_new(a.ps, "M", 0.05f, 0.9f, NULL), *sb = tg_sgd_new(b.ps, "M", 0.05f, 0.9f, NULL);
    ck_assert(sa && sb);
    for (int it = 0; it < 3; it++) {
        l.calls = 0;
        const uint64_t before = n_alloc;
        tg_status st[6] = {tg_plan_forward(a.plan), tg_plan_forward(b.plan), tg_plan_backward(a.plan),
                           tg_plan_backward(b.plan), tg_sgd_step(sa), tg_sgd_step(sb)};
        const uint64_t used = n_alloc - before;
        for (int k = 0; k < 6; k++) ck_assert_int_eq(st[k], TG_OK);
        ck_assert_uint_eq(used, 0);
        ck_assert(tg_plan_loss(a.plan) == tg_plan_loss(b.plan));
        ck_assert_msg(!memcmp(tg_plan_grad(a.plan, a.x), tg_plan_grad(b.plan, b.x), sizeof x),
                      "iteration %d: input gradients differ", it);
        ck_assert_msg(bnet_same(&a, &b), "iteration %d: parameters, gradients or running statistics differ", it);
        ck_assert_int_eq(l.calls, 4);
        const int want[4] = {2 * 5 + 1, 2 * 20 + 1, 4 * 20 + 1, 4 * 5 + 1};
        for (int k = 0; k < 4; k++) ck_assert_int_eq(l.n[k], want[k]);
    }
    ck_assert_int_eq(l.off_thread, 0);
    /* removed: no calls */
    ck_assert_int_eq(tg_plan_on_batch_sums(b.plan, NULL, NULL), TG_OK);
    l.calls = 0;
    ck_assert_int_eq(tg_plan_forward(b.plan), TG_OK);
    ck_assert_int_eq(tg_plan_backward(b.plan), TG_OK);
    ck_assert_int_eq(l.calls, 0);
    tg_sgd_free(sa);
    tg_sgd_free(sb);
    bnet_free(&a);
    bnet_free(&b);
    /* eval plans use the running statistics: no calls */
    bnet_new(&a, BB, x, 1, NULL);
    ck_assert_int_eq(tg_plan_on_batch_sums(a.plan, bsum_hook, &l), TG_OK);
    ck_assert_int_eq(tg_plan_forward(a.plan), TG_OK);
    ck_assert_int_eq(tg_plan_backward(a.plan), TG_OK);
    ck_assert_int_eq(l.calls, 0);
    bnet_free(&a);
    tg_pool_free(pool);
}
END_TEST

START_TEST(test_batch_sums_global_batch)
{
    /* Two processes with the same B rows, emulated: a hook that doubles
     * every sum (and the count). The global batch is then the B rows twice,
     * which one plan of 2 B rows runs on [x; x]: the same loss, weight
     * gradients (dbeta, dgamma included: the mean loss halves each row's
     * dy) and running statistics (the unbiased factor 2M / (2M - 1)), up to
     * rounding, and half the input gradient. The count matters: with the
     * sums doubled but not the count, or with no hook, they differ. */
    static float x[BB * 48], x2[2 * BB * 48];
    tg_rng r;
    tg_rng_seed(&r, 3, 2);
    tg_rng_fill_normal(&r, x, BB * 48, 0.5f, 2.0f);
    memcpy(x2, x, sizeof x);
    memcpy(x2 + BB * 48, x, sizeof x);
    double worst[3] = {0, 0, 0};
    for (int v = 0; v < 3; v++) { /* hook doubling, no hook, hook doubling the sums only */
        bnet one, two;
        bnet_new(&one, BB, x, 0, NULL);
        bnet_new(&two, 2 * BB, x2, 0, NULL);
        bsum_log l = {.caller = pthread_self(), .mul = 2.0, .keep_count = v == 2};
        if (v != 1) ck_assert_int_eq(tg_plan_on_batch_sums(one.plan, bsum_hook, &l), TG_OK);
        for (int it = 0; it < 3; it++) {
            ck_assert_int_eq(tg_plan_forward(one.plan), TG_OK);
            ck_assert_int_eq(tg_plan_forward(two.plan), TG_OK);
            ck_assert_int_eq(tg_plan_backward(one.plan), TG_OK);
            ck_assert_int_eq(tg_plan_backward(two.plan), TG_OK);
            double d = fabs(tg_plan_loss(one.plan) - tg_plan_loss(two.plan)) / fabs(tg_plan_loss(two.plan));
            d = fmax(d, bnet_diff(&one, &two, 0));
            d = fmax(d, bnet_diff(&one, &two, 1));
            const float *g1 = tg_plan_grad(one.plan, one.x), *g2 = tg_plan_grad(two.plan, two.x);
            double dd = 0, m = 1e-30;
            for (int h = 0; h < 2; h++)
                for (size_t e = 0; e < BB * 48; e++) {
                    dd = fmax(dd, fabs(0.5 * g1[e] - g2[(size_t)h * BB * 48 + e]));
                    m = fmax(m, fabs((double)g2[e]));
                }
            worst[v] = fmax(worst[v], fmax(d, dd / m));
        }
        bnet_free(&one);
        bnet_free(&two);
    }
    printf("batch sums: a hook doubling the sums vs one plan on the batch twice: max relative difference %.3g "
           "(no hook %.3g, the count not doubled %.3g)\n", worst[0], worst[1], worst[2]);
    ck_assert_msg(worst[0] < 1e-5, "doubling hook vs the batch twice: %g", worst[0]);
    ck_assert_msg(worst[1] > 1e-3, "no hook vs the batch twice: only %g", worst[1]);
    ck_assert_msg(worst[2] > 1e-3, "the count not doubled vs the batch twice: only %g", worst[2]);
}
END_TEST

START_TEST(test_batch_sums_errors)
{
    static float x[BB * 48];
    tg_rng r;
    tg_rng_seed(&r, 4, 2);
    tg_rng_fill_normal(&r, x, BB * 48, 0.0f, 1.0f);
    /* a hook that fails in forward: forward returns its status, and the
     * graph's error names the node */
    bnet n;
    bnet_new(&n, BB, x, 0, NULL);
    bsum_log l = {.caller = pthread_self(), .mul = 1.0, .fail_at = 2, .fail = TG_ERR_IO};
    ck_assert_int_eq(tg_plan_on_batch_sums(n.plan, bsum_hook, &l), TG_OK);
    ck_assert_int_eq(tg_plan_forward(n.plan), TG_ERR_IO);
    ck_assert_str_eq(tg_graph_error(n.g), "batch_norm: the batch-sum hook failed (i/o error)");
    ck_assert_int_eq(tg_plan_forward(n.plan), TG_ERR_STATE);
    bnet_free(&n);
    /* in backward: backward returns it */
    bnet_new(&n, BB, x, 0, NULL);
    l = (bsum_log){.caller = pthread_self(), .mul = 1.0, .fail_at = 3, .fail = TG_ERR_NOMEM};
    ck_assert_int_eq(tg_plan_on_batch_sums(n.plan, bsum_hook, &l), TG_OK);
    ck_assert_int_eq(tg_plan_forward(n.plan), TG_OK);
    ck_assert_int_eq(tg_plan_backward(n.plan), TG_ERR_NOMEM);
    ck_assert_str_eq(tg_graph_error(n.g), "batch_norm: the batch-sum hook failed (out of memory)");
    bnet_free(&n);
    /* a hook that breaks the count */
    bnet_new(&n, BB, x, 0, NULL);
    l = (bsum_log){.caller = pthread_self(), .mul = 1.0, .bad_count = 1};
    ck_assert_int_eq(tg_plan_on_batch_sums(n.plan, bsum_hook, &l), TG_OK);
    ck_assert_int_eq(tg_plan_forward(n.plan), TG_ERR_ARG);
    ck_assert_msg(strstr(tg_graph_error(n.g), "batch_norm: the batch-sum hook made the count of values per channel 0.5"),
                  "%s", tg_graph_error(n.g));
    bnet_free(&n);
    /* f64 plans are refused and keep working */
    bnet_new(&n, BB, x, 0, NULL);
    tg_plan *p64 = tg_plan_new(n.g, n.loss, &(tg_plan_opts){.groups = "M", .precision = TG_F64});
    ck_assert_ptr_nonnull(p64);
    ck_assert_int_eq(tg_plan_on_batch_sums(p64, bsum_hook, &l), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_on_batch_sums(NULL, bsum_hook, &l), TG_ERR_ARG);
    ck_assert_int_eq(tg_plan_on_batch_sums(p64, NULL, NULL), TG_OK);
    ck_assert_int_eq(tg_plan_forward(p64), TG_OK);
    ck_assert_int_eq(tg_plan_backward(p64), TG_OK);
    tg_plan_free(p64);
    bnet_free(&n);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plan");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup_tiny, teardown);
    tcase_add_test(core, test_groups_only);
    tcase_add_test(core, test_profile_counts);
    tcase_add_test(core, test_bias_fusion_same_bits);
    tcase_add_test(core, test_f32_flushes_subnormals);
    tcase_add_test(core, test_kept_fusion_same_bits);
    tcase_add_test(core, test_backward_fusion_same_bits);
    tcase_add_test(core, test_kept_fusion_respects_readers);
    tcase_add_test(core, test_set_order_independent);
    tcase_add_test(core, test_pool_goes_solo_when_stalled);
    tcase_add_test(core, test_reuse_equals_recompute);
    tcase_add_test(core, test_detach_blocks);
    tcase_add_test(core, test_values_readable);
    tcase_add_test(core, test_arena_matches_f64);
    tcase_add_test(core, test_dropout_steps);
    tcase_add_test(core, test_pool_reuse);
    tcase_add_test(core, test_pool_many_tasks);
    tcase_add_test(core, test_grad_ready_mlp);
    tcase_add_test(core, test_grad_ready_gan);
    tcase_add_test(core, test_row_offset_slices);
    tcase_add_test(core, test_row_offset_zero);
    tcase_add_test(core, test_batch_sums_identity);
    tcase_add_test(core, test_batch_sums_global_batch);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 60);
    tcase_add_test(lim, test_arena_reuses);
    tcase_add_test(lim, test_no_alloc_per_step);
    tcase_add_test(lim, test_same_seed_same_bits);
    suite_add_tcase(s, lim);
    TCase *err = tcase_create("errors");
    tcase_add_checked_fixture(err, setup_tiny, teardown);
    tcase_add_test(err, test_reuse_needs_keep);
    tcase_add_test(err, test_grad_ready_refused);
    tcase_add_test(err, test_batch_sums_errors);
    suite_add_tcase(s, err);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("plan");
    if (gate >= 0) return gate;
    return tg_run_suite(suite());
}
