/* test_gc_cases.c - the gradient-check registry (tools/train/gc_cases.c), linked
 * directly: every registered case passes tg_gradcheck at the engine's
 * default tolerance (1e-5, h = 1e-6), every op of tapegrad.h has cases, each
 * op case really contains that op, and the registry's own checks (detach
 * must block gradients; something must be checked) hold. */
#include "check_main.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_cases.h"

static const char *const ops[] = {
    "matmul", "bias_add", "concat", "add", "sub", "mul", "scale", "relu", "leaky_relu", "sigmoid",
    "tanh", "softplus", "dropout", "sum", "mean", "bce_logits", "gen_loss", "gen_loss_saturating",
    "softmax_xent", "detach",
};
#define NOPS ((int)(sizeof ops / sizeof ops[0]))

/* one loop iteration per registered case */
START_TEST(case_passes)
{
    const tg_gc_case *c = tg_gc_case_at(_i);
    ck_assert_ptr_nonnull(c);
    tg_gc_report rep;
    tg_error err;
    tg_status st = tg_gc_case_run(c, NULL, &rep, &err);
    ck_assert_msg(st == TG_OK, "%s:%s could not run: %s", c->op, c->label, err.msg);
    ck_assert_int_gt(rep.n, 0);
    const tg_gc_entry *w = &rep.e[0];
    for (int k = 1; k < rep.n; k++)
        if (rep.e[k].max_rel > w->max_rel) w = &rep.e[k];
    ck_assert_msg(rep.pass, "%s:%s failed: max_rel %g in %s at [%zu] (analytic %.10g, numeric %.10g) %s",
                  c->op, c->label, rep.max_rel, w->name, w->worst, w->analytic, w->numeric, err.msg);
    ck_assert(rep.max_rel <= 1e-5);
    tg_gc_report_free(&rep);
}
END_TEST

/* one loop iteration per registered case: the graph holds a node of the op */
START_TEST(case_contains_its_op)
{
    const tg_gc_case *c = tg_gc_case_at(_i);
    if (!strcmp(c->op, "model")) return;
    tg_gc_ctx ctx;
    ck_assert_int_eq(tg_gc_ctx_init(&ctx, 1), TG_OK);
    tg_node loss = c->build(&ctx, c);
    ck_assert_msg(loss.id >= 0, "%s:%s: %s", c->op, c->label, tg_graph_error(ctx.g));
    ck_assert_int_eq(tg_node_numel(ctx.g, loss), 1);
    int found = 0;
    for (int i = 0; i < tg_graph_nodes(ctx.g); i++) found |= !strcmp(tg_node_op(ctx.g, (tg_node){i}), c->op);
    ck_assert_msg(found, "case %s:%s has no %s node", c->op, c->label, c->op);
    tg_gc_ctx_free(&ctx);
}
END_TEST

START_TEST(every_op_has_cases)
{
    for (int k = 0; k < NOPS; k++) {
        const tg_gc_case *c = tg_gc_case_find(ops[k]);
        ck_assert_msg(c != NULL, "no gradient-check case for op %s", ops[k]);
        ck_assert_str_eq(c->op, ops[k]);
    }
    const char *models[] = {"model:tiny-D", "model:tiny-G", "model:tiny-G-saturating", "model:mlp-classifier"};
    for (int k = 0; k < 4; k++) ck_assert_msg(tg_gc_case_find(models[k]) != NULL, "no case %s", models[k]);
}
END_TEST

START_TEST(matmul_transposes)
{
    /* all four transpose forms, each with a 1x1x1 and a K=1 case */
    const char *forms[] = {"a.b", "aT.b", "a.bT", "aT.bT"};
    char name[64];
    for (int f = 0; f < 4; f++) {
        snprintf(name, sizeof name, "matmul:%s 1x1x1", forms[f]);
        ck_assert_msg(tg_gc_case_find(name) != NULL, "missing %s", name);
        snprintf(name, sizeof name, "matmul:%s K=1 4x1x3", forms[f]);
        ck_assert_msg(tg_gc_case_find(name) != NULL, "missing %s", name);
    }
}
END_TEST

START_TEST(registry_lookup)
{
    ck_assert_ptr_null(tg_gc_case_find("nosuchop"));
    ck_assert_ptr_null(tg_gc_case_find("matmul:no such label"));
    ck_assert_ptr_null(tg_gc_case_find("model:"));
    ck_assert_ptr_null(tg_gc_case_find(""));
    ck_assert_ptr_null(tg_gc_case_at(-1));
    ck_assert_ptr_null(tg_gc_case_at(tg_gc_case_count()));
    const tg_gc_case *c = tg_gc_case_find("model:tiny-D");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->label, "tiny-D");
    ck_assert(tg_gc_case_matches(c, "model"));
    ck_assert(!tg_gc_case_matches(c, "mode"));
    ck_assert(!tg_gc_case_matches(c, "model:tiny"));
    /* labels are unique within an op */
    for (int i = 0; i < tg_gc_case_count(); i++)
        for (int j = i + 1; j < tg_gc_case_count(); j++) {
            const tg_gc_case *a = tg_gc_case_at(i), *b = tg_gc_case_at(j);
            ck_assert_msg(strcmp(a->op, b->op) || strcmp(a->label, b->label), "duplicate case %s:%s", a->op,
                          a->label);
        }
}
END_TEST

START_TEST(run_errors)
{
    tg_gc_report rep;
    tg_error err;
    ck_assert_int_eq(tg_gc_case_run(NULL, NULL, &rep, &err), TG_ERR_ARG);
    ck_assert(strlen(err.msg) > 0);
    ck_assert_int_eq(tg_gc_case_run(tg_gc_case_at(0), NULL, NULL, &err), TG_ERR_ARG);
    /* no tg_error is fine */
    ck_assert_int_eq(tg_gc_case_run(tg_gc_case_at(0), NULL, &rep, NULL), TG_OK);
    ck_assert(rep.pass);
    tg_gc_report_free(&rep);
}
END_TEST

/* A case whose builder fails reports the graph's error instead of running. */
static tg_node bad_build(tg_gc_ctx *c, const tg_gc_case *self)
{
    (void)self;
    tg_node a = tg_input(c->g, "a", 2, (int[]){2, 3});
    tg_node b = tg_input(c->g, "b", 2, (int[]){4, 5});
    return tg_sum(c->g, tg_matmul(c->g, a, b));
}

START_TEST(build_failure)
{
    tg_gc_case c = {.op = "matmul", .label = "bad shapes", .build = bad_build};
    tg_gc_report rep;
    tg_error err;
    ck_assert_int_eq(tg_gc_case_run(&c, NULL, &rep, &err), TG_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "matmul") != NULL, "message: %s", err.msg);
    ck_assert_int_eq(rep.n, 0);
}
END_TEST

/* A "detach" that leaks gradient would pass finite differences; the
 * registry's nograd list catches it. Simulated with a case that claims the
 * directly used input must get no gradient. */
static tg_node leak_build(tg_gc_ctx *c, const tg_gc_case *self)
{
    (void)self;
    static const float xv[4] = {0.3f, -0.2f, 0.5f, 0.9f};
    tg_node x = tg_input(c->g, "x", 1, (int[]){4});
    tg_bind(c->g, x, xv);
    return tg_sum(c->g, tg_tanh(c->g, x));
}

START_TEST(nograd_is_enforced)
{
    tg_gc_case c = {.op = "detach", .label = "leak", .build = leak_build, .nograd = {"input:x", NULL}};
    tg_gc_report rep;
    tg_error err;
    ck_assert_int_eq(tg_gc_case_run(&c, NULL, &rep, &err), TG_OK);
    ck_assert(!rep.pass);
    ck_assert_msg(strstr(err.msg, "input:x") != NULL, "message: %s", err.msg);
    tg_gc_report_free(&rep);
    /* the same case without the claim passes */
    c.nograd[0] = NULL;
    ck_assert_int_eq(tg_gc_case_run(&c, NULL, &rep, &err), TG_OK);
    ck_assert(rep.pass);
    tg_gc_report_free(&rep);
}
END_TEST

START_TEST(tight_tolerance_fails)
{
    /* options reach the check: nothing matches finite differences to 1e-15 */
    tg_gc_report rep;
    tg_error err;
    tg_gc_opts o = {.tol = 1e-15};
    ck_assert_int_eq(tg_gc_case_run(tg_gc_case_find("tanh"), &o, &rep, &err), TG_OK);
    ck_assert(!rep.pass);
    tg_gc_report_free(&rep);
}
END_TEST

static Suite *gc_suite(void)
{
    Suite *s = suite_create("gc_cases");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, case_passes, 0, tg_gc_case_count());
    tcase_add_loop_test(tc, case_contains_its_op, 0, tg_gc_case_count());
    suite_add_tcase(s, tc);
    tc = tcase_create("registry");
    tcase_add_test(tc, every_op_has_cases);
    tcase_add_test(tc, matmul_transposes);
    tcase_add_test(tc, registry_lookup);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, run_errors);
    tcase_add_test(tc, build_failure);
    tcase_add_test(tc, nograd_is_enforced);
    tcase_add_test(tc, tight_tolerance_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tg_run_suite(gc_suite());
}
