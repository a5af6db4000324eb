/* cmd_gradcheck.c - `tapegrad gradcheck`: run the gradient-check registry
 * (gc_cases.h) and print one line per case. */
#include "cli.h"
#include "commands.h"
#include "gc_cases.h"

#include <stdlib.h>
#include <string.h>

void cmd_gradcheck_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad gradcheck (--all | --op NAME | --list) [--tol T] [--h H]\n"
            "\n"
            "Compare every op's analytic gradients with central finite differences,\n"
            "in double precision through the reference kernels, on small graphs.\n"
            "\n"
            "  --all      run every case\n"
            "  --op NAME  run the cases of one op (e.g. matmul), or one case as\n"
            "             op:label (e.g. model:tiny-D)\n"
            "  --list     list the cases without running them\n"
            "  --tol T    pass threshold on the max relative error (default 1e-5)\n"
            "  --h H      finite-difference step (default 1e-6)\n"
            "\n"
            "One line per case: op, case, max relative error, worst tensor, PASS/FAIL;\n"
            "then \"N passed, M failed\". Exit status 1 if any case fails.\n");
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

static void print_result(const tg_gc_case *c, const tg_gc_report *rep, const char *err)
{
    const tg_gc_entry *w = NULL;
    for (int k = 0; k < rep->n; k++)
        if (!w || rep->e[k].max_rel > w->max_rel) w = &rep->e[k];
    printf("%-20s %-24s max_rel %9.3e  worst %-18s %s", c->op, c->label, rep->max_rel, w ? w->name : "-",
           rep->pass ? "PASS" : "FAIL");
    if (!rep->pass && w) printf("  (at [%zu]: analytic %.9g, numeric %.9g)", w->worst, w->analytic, w->numeric);
    if (err && *err) printf("  %s", err);
    printf("\n");
}

int cmd_gradcheck_parse(int argc, char **argv, gradcheck_opts *o)
{
    const char *cmd = "gradcheck", *v;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            cmd_gradcheck_help(stdout);
            return -1;
        }
        if (!strcmp(argv[i], "--all")) o->all = 1;
        else if (!strcmp(argv[i], "--list")) o->list = 1;
        else if ((r = cli_opt(cmd, argc, argv, &i, "--op", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->op = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--tol", &v)) != 0) {
            if (r < 0 || cli_pos_double(cmd, "--tol", v, 1.0, &o->gc.tol)) return CLI_USAGE;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--h", &v)) != 0) {
            if (r < 0 || cli_pos_double(cmd, "--h", v, 0.1, &o->gc.h)) return CLI_USAGE;
        } else {
            return cli_bad_arg(cmd, argv[i]);
        }
    }
    if (o->all + o->list + (o->op != NULL) != 1) {
        cli_err("gradcheck: give exactly one of --all, --op NAME, --list (see 'tapegrad gradcheck --help')");
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

    int passed = 0, failed = 0;
    for (int i = 0; i < tg_gc_case_count(); i++) {
        const tg_gc_case *c = tg_gc_case_at(i);
        if (op && !tg_gc_case_matches(c, op)) continue;
        tg_gc_report rep;
        char err[256];
        tg_status st = tg_gc_case_run(c, &opts, &rep, err, sizeof err);
        if (st != TG_OK) {
            printf("%-20s %-24s ERROR: %s\n", c->op, c->label, err);
            failed++;
            continue;
        }
        print_result(c, &rep, err);
        if (rep.pass) passed++;
        else failed++;
        tg_gc_report_free(&rep);
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? CLI_FAIL : CLI_OK;
}
