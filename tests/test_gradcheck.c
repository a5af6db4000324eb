/* test_gradcheck.c - the gradient checker itself: it passes correct
 * backwards and catches a deliberately wrong one. This suite links a core
 * built with TG_FAULT_INJECTION, where the plan scales the incoming gradient
 * of every node of op tg_fault_op by tg_fault_scale before its backward:
 * a 0.1% error in one op's backward. */
#include "tiny_gan.h"
#include "oplist.h"

#include "check_main.h"
#include <check.h>
#include <string.h>

extern int tg_fault_op;
extern double tg_fault_scale;

static tiny_gan T;
static void setup(void)
{
    ck_assert_int_eq(tiny_gan_init(&T, "tiny", 4, 3, 0), 0);
    tg_fault_op = -1;
    tg_fault_scale = 1.0;
}
static void teardown(void) { tiny_gan_free(&T); }

static int check_loss(tg_node loss, double *max_rel)
{
    tg_gc_report rep;
    ck_assert_int_eq(tg_gradcheck(T.g, loss, NULL, &rep), TG_OK);
    ck_assert_int_gt(rep.n, 0);
    int pass = rep.pass;
    *max_rel = rep.max_rel;
    tg_gc_report_free(&rep);
    return pass;
}

/* ops the tiny GAN's losses go through, each broken in turn */
static const struct { tg_op op; int on_g; } broken[] = {
    {TG_OP_MATMUL, 0}, {TG_OP_BIAS_ADD, 0}, {TG_OP_LEAKY_RELU, 0}, {TG_OP_DROPOUT, 0},
    {TG_OP_BCE_LOGITS, 0}, {TG_OP_ADD, 0}, {TG_OP_TANH, 1}, {TG_OP_GEN_LOSS, 1},
};

START_TEST(test_correct_passes)
{
    double r;
    ck_assert(check_loss(T.loss_d, &r));
    ck_assert_double_lt(r, 1e-5);
    ck_assert(check_loss(T.loss_g, &r));
    ck_assert_double_lt(r, 1e-5);
}
END_TEST

START_TEST(test_wrong_backward_caught)
{
    tg_node loss = broken[_i].on_g ? T.loss_g : T.loss_d;
    double r;
    tg_fault_op = broken[_i].op;
    tg_fault_scale = 1.001; /* 0.1% too large */
    ck_assert_msg(!check_loss(loss, &r), "op %d broken by 0.1%% was not caught", (int)broken[_i].op);
    ck_assert_double_gt(r, 1e-4);
    tg_fault_scale = 0.999;
    ck_assert(!check_loss(loss, &r));
    tg_fault_scale = 1.0;
    ck_assert(check_loss(loss, &r));
}
END_TEST

START_TEST(test_report_fields)
{
    tg_gc_report rep;
    tg_fault_op = TG_OP_TANH;
    tg_fault_scale = 1.01;
    ck_assert_int_eq(tg_gradcheck(T.g, T.loss_g, &(tg_gc_opts){.groups = "G", .skip_inputs = 1}, &rep), TG_OK);
    ck_assert(!rep.pass);
    /* only G's parameters were checked */
    for (int i = 0; i < rep.n; i++) ck_assert_msg(!strncmp(rep.e[i].name, "G/", 2), "%s", rep.e[i].name);
    /* G's last layer feeds tanh directly: its gradient is off by ~1% */
    int found = 0;
    for (int i = 0; i < rep.n; i++)
        if (!strcmp(rep.e[i].name, "G/l2.b")) {
            found = 1;
            ck_assert_double_gt(rep.e[i].max_rel, 5e-3);
            ck_assert_double_lt(rep.e[i].max_rel, 2e-2);
            ck_assert_uint_lt(rep.e[i].worst, rep.e[i].numel);
            ck_assert_double_gt(rep.e[i].max_abs, 0);
        }
    ck_assert(found);
    tg_gc_report_free(&rep);
    ck_assert_int_eq(rep.n, 0);
}
END_TEST

START_TEST(test_gradcheck_errors)
{
    tg_gc_report rep;
    ck_assert_int_eq(tg_gradcheck(NULL, T.loss_d, NULL, &rep), TG_ERR_ARG);
    ck_assert_int_eq(tg_gradcheck(T.g, T.loss_d, NULL, NULL), TG_ERR_ARG);
    ck_assert_int_ne(tg_gradcheck(T.g, T.fake, NULL, &rep), TG_OK); /* not a scalar */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 30);
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, test_correct_passes);
    tcase_add_loop_test(core, test_wrong_backward_caught, 0, (int)(sizeof broken / sizeof *broken));
    tcase_add_test(core, test_report_fields);
    suite_add_tcase(s, core);
    TCase *err = tcase_create("errors");
    tcase_add_checked_fixture(err, setup, teardown);
    tcase_add_test(err, test_gradcheck_errors);
    suite_add_tcase(s, err);
    return s;
}

int main(void)
{
    return tg_run_suite(suite());
}
