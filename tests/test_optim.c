/* test_optim.c - Adam and SGD against double-precision implementations of
 * PyTorch's update rules, over several steps with changing gradients. */
#include "tapegrad.h"

#include "check_main.h"
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 37 /* odd, covers SIMD tails */

static tg_params *ps;
static tg_param *w, *other;

static void setup(void)
{
    ps = tg_params_new();
    w = tg_param_new(ps, "G", "w", 1, (int[]){N});
    other = tg_param_new(ps, "D", "w", 1, (int[]){3});
    for (int i = 0; i < N; i++) tg_param_data(w)[i] = (float)(0.1 * (i - 18));
    for (int i = 0; i < 3; i++) tg_param_data(other)[i] = 5.0f;
}
static void teardown(void) { tg_params_free(ps); }

static float grad_at(int step, int i) { return (float)(sin(0.7 * i + step) * (1 + step) * (i % 5 == 0 ? 1e-3 : 1)); }

START_TEST(test_adam_matches_pytorch_rule)
{
    const double lr = 2e-4, b1 = 0.5, b2 = 0.999, eps = 1e-8;
    tg_adam *a = tg_adam_new(ps, "G", (float)lr, (float)b1, (float)b2, (float)eps, NULL);
    ck_assert_ptr_nonnull(a);
    double ref[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) ref[i] = tg_param_data(w)[i];
    for (int t = 1; t <= 6; t++) {
        for (int i = 0; i < N; i++) tg_param_grad(w)[i] = grad_at(t, i);
        for (int i = 0; i < 3; i++) tg_param_grad(other)[i] = 1.0f;
        ck_assert_int_eq(tg_adam_step(a), TG_OK);
        for (int i = 0; i < N; i++) {
            double g = grad_at(t, i);
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mh = m[i] / (1 - pow(b1, t)), vh = v[i] / (1 - pow(b2, t));
            ref[i] -= lr * mh / (sqrt(vh) + eps);
        }
    }
    for (int i = 0; i < N; i++) ck_assert_double_eq_tol(tg_param_data(w)[i], ref[i], 1e-6);
    /* the other group is untouched */
    for (int i = 0; i < 3; i++) ck_assert(tg_param_data(other)[i] == 5.0f);
    ck_assert_int_eq(tg_adam_steps(a), 6);
    ck_assert_int_eq(tg_adam_count(a), 1);
    ck_assert_ptr_eq(tg_adam_param(a, 0), w);
    for (int i = 0; i < N; i++) ck_assert_double_eq_tol(tg_adam_m(a, 0)[i], m[i], 1e-6 * fabs(m[i]) + 1e-9);
    tg_adam_free(a);
}
END_TEST

START_TEST(test_adam_state_restore)
{
    /* copying (t, m, v) into a fresh optimizer continues the same trajectory */
    tg_adam *a = tg_adam_new(ps, "G", 1e-3f, 0.9f, 0.999f, 1e-8f, NULL);
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < N; i++) tg_param_grad(w)[i] = grad_at(t, i);
        tg_adam_step(a);
    }
    float saved_w[N];
    memcpy(saved_w, tg_param_data(w), sizeof saved_w);
    tg_adam *b = tg_adam_new(ps, "G", 1e-3f, 0.9f, 0.999f, 1e-8f, NULL);
    tg_adam_set_steps(b, tg_adam_steps(a));
    memcpy(tg_adam_m(b, 0), tg_adam_m(a, 0), N * sizeof(float));
    memcpy(tg_adam_v(b, 0), tg_adam_v(a, 0), N * sizeof(float));
    for (int i = 0; i < N; i++) tg_param_grad(w)[i] = grad_at(4, i);
    tg_adam_step(a);
    float wa[N];
    memcpy(wa, tg_param_data(w), sizeof wa);
    memcpy(tg_param_data(w), saved_w, sizeof saved_w);
    tg_adam_step(b);
    ck_assert(memcmp(wa, tg_param_data(w), sizeof wa) == 0);
    tg_adam_free(a);
    tg_adam_free(b);
}
END_TEST

START_TEST(test_adam_pool_same_bits)
{
    /* a 100,003-element parameter (several chunks and a tail) stepped with
     * and without a 2-thread pool: identical bits */
    tg_param *big = tg_param_new(ps, "B", "w", 1, (int[]){100003});
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert(big && pool);
    float *w0 = malloc(100003 * sizeof *w0), *w1 = malloc(100003 * sizeof *w1);
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < 100003; i++) tg_param_data(big)[i] = (float)(0.001 * (i % 997) - 0.3);
        tg_adam *a = tg_adam_new(ps, "B", 1e-3f, 0.9f, 0.999f, 1e-8f, NULL);
        ck_assert_int_eq(tg_adam_set_pool(a, run ? pool : NULL), TG_OK);
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < 100003; i++) tg_param_grad(big)[i] = grad_at(t, i);
            ck_assert_int_eq(tg_adam_step(a), TG_OK);
        }
        memcpy(run ? w1 : w0, tg_param_data(big), 100003 * sizeof *w0);
        tg_adam_free(a);
    }
    ck_assert(memcmp(w0, w1, 100003 * sizeof *w0) == 0);
    ck_assert(tg_param_data(big)[5] != (float)(0.001 * 5 - 0.3)); /* it did step */
    free(w0);
    free(w1);
    tg_pool_free(pool);
}
END_TEST

/* A moment that decays below FLT_MIN is flushed to zero (FTZ/DAZ inside
 * the step, engine/internal.h), on the caller's thread and on the pool's
 * workers alike, and the caller's own floating-point mode is left as it
 * was. IEEE arithmetic would keep b1 * m = 0.5 * 2e-38 = 1e-38, a
 * subnormal; each such operation costs a microcode assist on x86. */
START_TEST(test_adam_flushes_subnormal_moments)
{
#if defined(__SSE2__) || defined(__x86_64__)
    enum { NB = 70001 }; /* a few 32K-element chunks: the worker takes some */
    tg_param *big = tg_param_new(ps, "B", "w", 1, (int[]){NB});
    tg_pool *pool = tg_pool_new(2, NULL);
    ck_assert(big && pool);
    for (int run = 0; run < 2; run++) {
        tg_adam *a = tg_adam_new(ps, "B", 1e-3f, 0.5f, 0.999f, 1e-8f, NULL);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(tg_adam_set_pool(a, run ? pool : NULL), TG_OK);
        for (int i = 0; i < NB; i++) {
            tg_param_data(big)[i] = 1.0f;
            tg_param_grad(big)[i] = 0.0f;
            tg_adam_m(a, 0)[i] = 2e-38f; /* normal, just above FLT_MIN */
            tg_adam_v(a, 0)[i] = 1.0f;
        }
        volatile float probe = 2e-38f;
        const float ieee = probe * 0.5f; /* the caller's mode: IEEE subnormals */
        ck_assert(ieee > 0 && ieee < FLT_MIN);
        ck_assert_int_eq(tg_adam_step(a), TG_OK);
        for (int i = 0; i < NB; i++) ck_assert_msg(tg_adam_m(a, 0)[i] == 0.0f, "m[%d] = %g", i, (double)tg_adam_m(a, 0)[i]);
        ck_assert(probe * 0.5f == ieee); /* the caller's mode is restored */
        tg_adam_free(a);
    }
    tg_pool_free(pool);
#endif
}
END_TEST

START_TEST(test_sgd_momentum)
{
    const double lr = 0.05, mom = 0.9;
    tg_sgd *s = tg_sgd_new(ps, "G", (float)lr, (float)mom, NULL);
    ck_assert_ptr_nonnull(s);
    double ref[N], b[N] = {0};
    for (int i = 0; i < N; i++) ref[i] = tg_param_data(w)[i];
    for (int t = 0; t < 5; t++) {
        for (int i = 0; i < N; i++) tg_param_grad(w)[i] = grad_at(t, i);
        ck_assert_int_eq(tg_sgd_step(s), TG_OK);
        for (int i = 0; i < N; i++) {
            double g = grad_at(t, i);
            b[i] = t == 0 ? g : mom * b[i] + g;
            ref[i] -= lr * b[i];
        }
    }
    for (int i = 0; i < N; i++) ck_assert_double_eq_tol(tg_param_data(w)[i], ref[i], 1e-5);
    tg_sgd_free(s);
}
END_TEST

/* State parameters (batch_norm's running statistics) live in the store with
 * the trainable ones: the store enumerates them (what checkpoints save),
 * plans give them no gradient, and Adam and SGD over their group leave them
 * untouched even when their gradient buffers hold garbage. */
START_TEST(test_state_not_trained)
{
    tg_param *rm = tg_param_new_state(ps, "G", "bn.mean", 1, (int[]){5});
    tg_param *rv = tg_param_new_state(ps, "G", "bn.var", 1, (int[]){5});
    ck_assert(rm && rv && tg_param_is_state(rm) && !tg_param_is_state(w) && !tg_param_is_state(NULL));
    ck_assert_int_eq(tg_param_init(rv, TG_INIT_ONES, 0, 0, 0, NULL), TG_OK);
    for (int i = 0; i < 5; i++) {
        tg_param_data(rm)[i] = 0.25f * (float)i;
        tg_param_grad(rm)[i] = tg_param_grad(rv)[i] = 1000.0f;
        ck_assert_float_eq(tg_param_data(rv)[i], 1.0f);
    }
    int found = 0;
    for (int i = 0; i < tg_params_count(ps); i++) found += tg_params_at(ps, i) == rm || tg_params_at(ps, i) == rv;
    ck_assert_int_eq(found, 2);
    ck_assert_ptr_eq(tg_param_find(ps, "G", "bn.var"), rv);
    /* a plan over the group computes no gradient for them */
    tg_graph *g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 2, (int[]){4, 5});
    tg_node y = tg_batch_norm(g, x, tg_input(g, "g", 1, (int[]){5}), tg_input(g, "b", 1, (int[]){5}), rm, rv, 1e-5f,
                              0.1f);
    tg_node l = tg_add(g, tg_sum(g, y), tg_sum(g, tg_param_ref(g, w)));
    tg_plan *p = tg_plan_new(g, l, &(tg_plan_opts){.groups = "*"});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(tg_plan_has_param_grad(p, w), 1);
    ck_assert_int_eq(tg_plan_has_param_grad(p, rm), 0);
    ck_assert_int_eq(tg_plan_has_param_grad(p, rv), 0);
    tg_plan_free(p);
    tg_graph_free(g);
    tg_adam *a = tg_adam_new(ps, "G", 1e-2f, 0.9f, 0.999f, 1e-8f, NULL);
    tg_sgd *sg = tg_sgd_new(ps, "G", 1e-2f, 0.9f, NULL);
    ck_assert(a && sg);
    ck_assert_int_eq(tg_adam_count(a), 1);
    ck_assert_ptr_eq(tg_adam_param(a, 0), w);
    for (int i = 0; i < N; i++) tg_param_grad(w)[i] = 1.0f;
    const float w0 = tg_param_data(w)[0];
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(tg_adam_step(a), TG_OK);
        ck_assert_int_eq(tg_sgd_step(sg), TG_OK);
    }
    ck_assert(tg_param_data(w)[0] != w0);
    for (int i = 0; i < 5; i++) {
        ck_assert_float_eq(tg_param_data(rm)[i], 0.25f * (float)i);
        ck_assert_float_eq(tg_param_data(rv)[i], 1.0f);
    }
    tg_adam_free(a);
    tg_sgd_free(sg);
    /* a group of state alone has nothing to train */
    ck_assert_ptr_nonnull(tg_param_new_state(ps, "S", "only", 1, (int[]){2}));
    tg_error e;
    ck_assert_ptr_null(tg_adam_new(ps, "S", 1e-3f, 0.9f, 0.999f, 1e-8f, &e));
    ck_assert_str_eq(e.msg, "adam: group 'S' holds only state parameters");
    ck_assert_ptr_null(tg_sgd_new(ps, "S", 1e-3f, 0.9f, &e));
    ck_assert_str_eq(e.msg, "sgd: group 'S' holds only state parameters");
}
END_TEST

START_TEST(test_bad_args)
{
    ck_assert_ptr_null(tg_adam_new(ps, "nope", 1e-3f, 0.9f, 0.999f, 1e-8f, NULL)); /* empty group */
    ck_assert_ptr_null(tg_adam_new(ps, "G", 0.0f, 0.9f, 0.999f, 1e-8f, NULL));
    ck_assert_ptr_null(tg_adam_new(ps, "G", NAN, 0.9f, 0.999f, 1e-8f, NULL));
    ck_assert_ptr_null(tg_adam_new(ps, "G", 1e-3f, 1.0f, 0.999f, 1e-8f, NULL));
    ck_assert_ptr_null(tg_adam_new(ps, "G", 1e-3f, 0.9f, -0.1f, 1e-8f, NULL));
    ck_assert_ptr_null(tg_adam_new(ps, "G", 1e-3f, 0.9f, 0.999f, 0.0f, NULL));
    ck_assert_ptr_null(tg_adam_new(NULL, "G", 1e-3f, 0.9f, 0.999f, 1e-8f, NULL));
    ck_assert_ptr_null(tg_sgd_new(ps, "G", 1e-3f, 1.0f, NULL));
    ck_assert_ptr_null(tg_sgd_new(ps, "G", -1.0f, 0.5f, NULL));
    ck_assert_int_eq(tg_adam_step(NULL), TG_ERR_ARG);
    ck_assert_int_eq(tg_sgd_step(NULL), TG_ERR_ARG);
    ck_assert_ptr_null(tg_adam_m(NULL, 0));
}
END_TEST

/* EMA: shadow = d shadow + (1-d) value, hand-computed over three updates;
 * state parameters are averaged too; two swaps restore the values. */
START_TEST(test_ema)
{
    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "G", "w", 1, (int[]){2});
    tg_param *rv = tg_param_new_state(ps, "G", "var", 1, (int[]){1});
    tg_param_new(ps, "D", "w", 1, (int[]){3});
    float *v = tg_param_data(w), *r = tg_param_data(rv);
    v[0] = 1.0f, v[1] = -2.0f, r[0] = 4.0f;
    tg_error e;
    tg_ema *ema = tg_ema_new(ps, "G", 0.5f, &e);
    ck_assert_ptr_nonnull(ema);
    ck_assert_int_eq(tg_ema_count(ema), 2); /* G's two, D's none */
    /* values 3, 5, 7 in turn: shadow 1 -> 2 -> 3.5 -> 5.25 */
    for (int k = 0; k < 3; k++) {
        v[0] = (float)(3 + 2 * k);
        v[1] = 0.0f;
        r[0] = 0.0f;
        ck_assert_int_eq(tg_ema_update(ema), TG_OK);
    }
    ck_assert(tg_ema_shadow(ema, 0)[0] == 5.25f);
    ck_assert(tg_ema_shadow(ema, 0)[1] == -0.25f); /* -2 halved three times */
    ck_assert(tg_ema_shadow(ema, 1)[0] == 0.5f);   /* the state too */
    ck_assert_int_eq(tg_ema_swap(ema), TG_OK);
    ck_assert(v[0] == 5.25f && v[1] == -0.25f && r[0] == 0.5f);
    ck_assert(tg_ema_shadow(ema, 0)[0] == 7.0f);
    ck_assert_int_eq(tg_ema_swap(ema), TG_OK);
    ck_assert(v[0] == 7.0f && v[1] == 0.0f && r[0] == 0.0f);
    ck_assert_ptr_eq(tg_ema_param(ema, 0), w);
    ck_assert(tg_ema_decay(ema) == 0.5f);
    tg_ema_free(ema);
    ck_assert_ptr_null(tg_ema_new(ps, "G", 1.0f, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "ema: decay 1 must be in [0, 1)"));
    ck_assert_ptr_null(tg_ema_new(ps, "Q", 0.9f, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "ema: group 'Q' has no parameters"));
    tg_params_free(ps);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, test_adam_matches_pytorch_rule);
    tcase_add_test(core, test_adam_state_restore);
    tcase_add_test(core, test_adam_pool_same_bits);
    tcase_add_test(core, test_adam_flushes_subnormal_moments);
    tcase_add_test(core, test_sgd_momentum);
    tcase_add_test(core, test_state_not_trained);
    tcase_add_test(core, test_ema);
    suite_add_tcase(s, core);
    TCase *err = tcase_create("errors");
    tcase_add_checked_fixture(err, setup, teardown);
    tcase_add_test(err, test_bad_args);
    suite_add_tcase(s, err);
    return s;
}

int main(void)
{
    return tg_run_suite(suite());
}
