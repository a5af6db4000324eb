/* cmd_gradcheck.c - `tapegrad gradcheck`: run the gradient-check registry
 * (gc_cases.h) and print one line per case. */
#include "cli.h"
#include "commands.h"
#include "gc_cases.h"
#include "model_settings.h"
#include "opts.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define O(member) offsetof(gradcheck_opts, member)
/* a finite-difference check runs the graph twice per value: beyond this,
 * minutes to hours */
#define GC_MAX_PARAMS 100000
#define GC_MAX_TEXT "100000"

static const set_row rows[] = {
    {.flag = "--all", .type = &set_switch, .off = O(all), .help = "run every case"},
    {.flag = "--op", .type = &set_text, .off = O(op), .arg = "NAME",
     .help = "run the cases of one op (e.g. matmul), or one case as op:label (e.g. model:tiny-D)"},
    {.flag = "--model", .type = &set_preset, .off = O(model), .arg = "NAME",
     .help = "check a GAN preset: loss_D, loss_G, and loss_G in eval mode (batch norm on running statistics), at "
             "batch 3 (6 for the MLP presets); presets of more than " GC_MAX_TEXT " parameters are refused"},
    {.flag = "--list", .type = &set_switch, .off = O(list), .help = "list the cases without running them"},
    {.flag = "--tol", .type = &set_pos_double, .off = O(gc.tol), .hi = 1, .arg = "T",
     .help = "pass threshold on the max relative error (default 1e-5)"},
    {.flag = "--h", .type = &set_pos_double, .off = O(gc.h), .hi = 0.1, .arg = "H",
     .help = "finite-difference step (default 1e-6)"},
};

static const set_table table = {
    .name = "gradcheck",
    .usage = "tapegrad gradcheck (--all | --op NAME | --model NAME | --list) [--tol T] [--h H]",
    .about = "Compare every op's analytic gradients with central finite differences, in double precision through "
             "the reference kernels, on small graphs.",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
    .epilog = "One line per case: op, case, max relative error, worst tensor, PASS/FAIL; then \"N passed, M "
              "failed\". Exit status 1 if any case fails.",
};

void cmd_gradcheck_help(FILE *out)
{
    gradcheck_opts d;
    memset(&d, 0, sizeof d);
    opts_help(&table, &d, out);
}

/* the distinct op names of the registry, in order, into out (size >= count) */
static int op_names(const char **out)
{
    int n = 0;
    for (int i = 0; i < tg_gc_case_count(); i++) {
        const char *op = tg_gc_case_at(i)->op;
        int seen = 0;
        for (int k = 0; k < n; k++) seen |= !strcmp(out[k], op);
        if (!seen) out[n++] = op;
    }
    return n;
}

static int unknown_op(const char *name)
{
    const char **ops = malloc((size_t)tg_gc_case_count() * sizeof *ops);
    if (!ops) {
        cli_err("gradcheck: out of memory");
        return CLI_FAIL;
    }
    int n = op_names(ops);
    fprintf(stderr, "tapegrad: gradcheck: no case matches --op '%s'; valid names:", name);
    for (int k = 0; k < n; k++) fprintf(stderr, " %s", ops[k]);
    fprintf(stderr, "\n  (or op:label for one case; see 'tapegrad gradcheck --list')\n");
    free(ops);
    return CLI_USAGE;
}

static void print_result(const tg_gc_case *c, const tg_gc_report *rep, const char *why)
{
    const tg_gc_entry *w = NULL;
    for (int k = 0; k < rep->n; k++)
        if (!w || rep->e[k].max_rel > w->max_rel) w = &rep->e[k];
    printf("%-20s %-24s max_rel %9.3e  worst %-18s %s", c->op, c->label, rep->max_rel, w ? w->name : "-",
           rep->pass ? "PASS" : "FAIL");
    if (!rep->pass && w) printf("  (at [%zu]: analytic %.9g, numeric %.9g)", w->worst, w->analytic, w->numeric);
    if (why && *why) printf("  %s", why);
    printf("\n");
}

int cmd_gradcheck_parse(int argc, char **argv, gradcheck_opts *o)
{
    memset(o, 0, sizeof *o);
    int rc = opts_parse(&table, argc, argv, o, o->given, NULL);
    if (rc) return rc;
    if (o->all + o->list + (o->op != NULL) + (o->model[0] != 0) != 1) {
        cli_err("gradcheck: give exactly one of --all, --op NAME, --model NAME, --list (see 'tapegrad gradcheck "
                "--help')");
        return CLI_USAGE;
    }
    if (o->op && !tg_gc_case_find(o->op)) return unknown_op(o->op);
    return 0;
}

int cmd_gradcheck(int argc, char **argv)
{
    gradcheck_opts o;
    int rc = cmd_gradcheck_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *op = o.op;
    const int list = o.list;
    const tg_gc_opts opts = o.gc;

    if (list) {
        for (int i = 0; i < tg_gc_case_count(); i++) {
            const tg_gc_case *c = tg_gc_case_at(i);
            printf("%-20s %s\n", c->op, c->label);
        }
        return CLI_OK;
    }

    tg_gc_case mc[3];
    int n = tg_gc_case_count();
    if (o.model[0]) {
        tg_error e;
        size_t numel = 0;
        if ((n = tg_gc_model_cases(o.model, mc, &numel, &e)) < 0) return cli_report("gradcheck", &e);
        if (numel > GC_MAX_PARAMS) {
            cli_err("gradcheck: preset %s has %zu parameters, more than the %d a finite-difference check here "
                    "takes (it runs the graph twice per value); preset tiny-conv has dcgan's kinds of layers at a "
                    "few hundred parameters (gradcheck --model tiny-conv, or --all)", o.model, numel, GC_MAX_PARAMS);
            return CLI_USAGE;
        }
    }
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        const tg_gc_case *c = o.model[0] ? &mc[i] : tg_gc_case_at(i);
        if (op && !tg_gc_case_matches(c, op)) continue;
        tg_gc_report rep;
        tg_error err;
        tg_status st = tg_gc_case_run(c, &opts, &rep, &err);
        if (st != TG_OK) {
            printf("%-20s %-24s ERROR: %s\n", c->op, c->label, err.msg);
            failed++;
            continue;
        }
        print_result(c, &rep, err.msg);
        if (rep.pass) passed++;
        else failed++;
        tg_gc_report_free(&rep);
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? CLI_FAIL : CLI_OK;
}
