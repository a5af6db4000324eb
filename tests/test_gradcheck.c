/* test_gradcheck.c - the gradient checker passes correct backwards and
 * catches wrong derivative formulas.
 *
 * This suite links a core built with TG_FAULT_INJECTION: ops/fault.h lists
 * deliberate, plausible bugs in the ops' f64 backwards (a dropped term, an
 * off-by-one index, a transposed operand, a wrong sign...), one active at a
 * time. It also links the gradient-check registry that `tapegrad gradcheck
 * --all` runs (tools/train/gc_cases.c), and shows:
 *   - every op whose descriptor has a backward has at least one fault
 *     (derived from the op table, so an op added later needs one too);
 *   - with no fault active, every case passes;
 *   - with each fault active, some case fails. The op's own cases run first,
 *     then all the others, up to the first failure: a fault no case catches
 *     is a gap in the registry, and the fix is a case that exercises it.
 * The tiny GAN cases check the report's fields and the checker's errors. */
#include "tiny_gan.h"
#include "gc_cases.h"
#include "ops.h"

#include "check_main.h"
#include <check.h>
#include <math.h>
#include <string.h>

static tiny_gan T;
static void setup(void)
{
    ck_assert_int_eq(tiny_gan_init(&T, "tiny", 4, 3, 0), 0);
    tg_fault_set(-1);
}
static void teardown(void)
{
    tiny_gan_free(&T);
    tg_fault_set(-1);
}

static void no_fault(void) { tg_fault_set(-1); }

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

/* the first registered fault of op `op` named `name`, or -1 */
static int fault_index(tg_op op, const char *name)
{
    for (int i = 0; i < tg_fault_count(); i++)
        if (tg_fault_at(i)->op == op && !strcmp(tg_fault_at(i)->name, name)) return i;
    return -1;
}

/* ------------------------------------------------------------- registry */
START_TEST(every_backward_has_a_fault)
{
    int nbwd = 0;
    for (int op = 0; op < TG_OP_COUNT; op++) {
        if (!tg_optab[op]->bwd) continue;
        nbwd++;
        int n = 0;
        for (int i = 0; i < tg_fault_count(); i++) n += tg_fault_at(i)->op == (tg_op)op;
        ck_assert_msg(n > 0, "op %s has a backward but no fault in ops/fault.h's TG_FAULTS", tg_optab[op]->name);
    }
    ck_assert_int_gt(nbwd, 0);
    ck_assert_int_ge(tg_fault_count(), nbwd);
}
END_TEST

START_TEST(fault_registry)
{
    ck_assert_ptr_null(tg_fault_at(-1));
    ck_assert_ptr_null(tg_fault_at(tg_fault_count()));
    for (int i = 0; i < tg_fault_count(); i++) {
        const tg_fault *f = tg_fault_at(i);
        ck_assert_ptr_nonnull(f);
        ck_assert_msg((int)f->op >= 0 && f->op < TG_OP_COUNT && tg_optab[f->op]->bwd,
                      "fault %s belongs to an op without a backward", f->name);
        ck_assert(f->name && *f->name && f->what && *f->what);
        ck_assert_msg(fault_index(f->op, f->name) == i, "fault %s:%s is registered twice", tg_optab[f->op]->name,
                      f->name);
    }
}
END_TEST

/* ------------------------------------------- the registry of gc cases */
/* one loop iteration per case of `tapegrad gradcheck --all`: with no fault
 * active, the fault-injection core computes correct gradients */
START_TEST(case_passes_without_fault)
{
    const tg_gc_case *c = tg_gc_case_at(_i);
    tg_gc_report rep;
    tg_error err;
    ck_assert_msg(tg_gc_case_run(c, NULL, &rep, &err) == TG_OK, "%s:%s could not run: %s", c->op,
                  c->label, err.msg);
    ck_assert_msg(rep.pass, "%s:%s fails with no fault active: max_rel %g %s", c->op, c->label, rep.max_rel, err.msg);
    tg_gc_report_free(&rep);
}
END_TEST

/* Run the registry's cases with fault `fi` active, those of the fault's op
 * first, until one fails; returns that case's index or -1, and how many ran. */
static int first_catch(int fi, int *ran)
{
    const char *op = tg_optab[tg_fault_at(fi)->op]->name;
    int caught = -1;
    *ran = 0;
    tg_fault_set(fi);
    for (int own = 1; own >= 0 && caught < 0; own--)
        for (int i = 0; i < tg_gc_case_count() && caught < 0; i++) {
            const tg_gc_case *c = tg_gc_case_at(i);
            if ((strcmp(c->op, op) == 0) != own) continue;
            tg_gc_report rep;
            tg_error err;
            tg_status st = tg_gc_case_run(c, NULL, &rep, &err);
            ck_assert_msg(st == TG_OK, "%s:%s could not run: %s", c->op, c->label, err.msg);
            (*ran)++;
            if (!rep.pass) caught = i;
            tg_gc_report_free(&rep);
        }
    tg_fault_set(-1);
    return caught;
}

/* one loop iteration per registered fault */
START_TEST(fault_is_caught)
{
    const tg_fault *f = tg_fault_at(_i);
    const char *op = tg_optab[f->op]->name;
    int ran, c = first_catch(_i, &ran);
    ck_assert_msg(c >= 0, "fault %s:%s (%s) was caught by none of the %d gradient-check cases", op, f->name, f->what,
                  ran);
}
END_TEST

/* ------------------------------------------------ the checker itself */
START_TEST(test_correct_passes)
{
    double r;
    ck_assert(check_loss(T.loss_d, &r));
    ck_assert_double_lt(r, 1e-5);
    ck_assert(check_loss(T.loss_g, &r));
    ck_assert_double_lt(r, 1e-5);
}
END_TEST

START_TEST(test_report_fields)
{
    tg_gc_report rep;
    int fi = fault_index(TG_OP_TANH, "drops_square");
    ck_assert_int_ge(fi, 0);
    tg_fault_set(fi); /* tanh' = 1 - y^2 computed as 1 - y */
    ck_assert_int_eq(tg_gradcheck(T.g, T.loss_g, &(tg_gc_opts){.groups = "G", .skip_inputs = 1}, &rep), TG_OK);
    ck_assert(!rep.pass);
    /* only G's parameters were checked */
    for (int i = 0; i < rep.n; i++) ck_assert_msg(!strncmp(rep.e[i].name, "G/", 2), "%s", rep.e[i].name);
    /* G's last layer feeds tanh directly: its worst entry is reported */
    int found = 0;
    for (int i = 0; i < rep.n; i++)
        if (!strcmp(rep.e[i].name, "G/l2.b")) {
            const tg_gc_entry *e = &rep.e[i];
            found = 1;
            ck_assert_double_gt(e->max_rel, 1e-3);
            ck_assert_double_le(e->max_rel, rep.max_rel);
            ck_assert_uint_lt(e->worst, e->numel);
            ck_assert_double_ge(e->max_abs, fabs(e->analytic - e->numeric));
            ck_assert_double_gt(fabs(e->analytic - e->numeric), 0);
        }
    ck_assert(found);
    tg_gc_report_free(&rep);
    ck_assert_int_eq(rep.n, 0);
    /* the same graph with the fault cleared passes */
    tg_fault_set(-1);
    ck_assert_int_eq(tg_gradcheck(T.g, T.loss_g, &(tg_gc_opts){.groups = "G", .skip_inputs = 1}, &rep), TG_OK);
    ck_assert(rep.pass);
    tg_gc_report_free(&rep);
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
    tcase_add_test(core, test_report_fields);
    suite_add_tcase(s, core);
    TCase *reg = tcase_create("registry");
    tcase_add_test(reg, every_backward_has_a_fault);
    tcase_add_test(reg, fault_registry);
    suite_add_tcase(s, reg);
    TCase *cases = tcase_create("cases");
    tcase_set_timeout(cases, 60);
    tcase_add_checked_fixture(cases, no_fault, no_fault);
    tcase_add_loop_test(cases, case_passes_without_fault, 0, tg_gc_case_count());
    suite_add_tcase(s, cases);
    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 60);
    tcase_add_checked_fixture(faults, no_fault, no_fault);
    tcase_add_loop_test(faults, fault_is_caught, 0, tg_fault_count());
    suite_add_tcase(s, faults);
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
