/* opts.c - command lines and --help from a table of settings (opts.h). */
#include "opts.h"

#include "cli.h"

#include <stdlib.h>
#include <string.h>

void opts_list(const set_table *t, const unsigned char *which, unsigned flags, char *buf, size_t len)
{
    int idx[SET_MAX_ROWS], n = 0;
    for (int i = 0; i < t->n; i++)
        if ((!which || which[i]) && t->rows[i].flag && (t->rows[i].flags & flags) == flags) idx[n++] = i;
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < n && o < len; k++) {
        int w = snprintf(buf + o, len - o, "%s%s", !k ? "" : k + 1 < n ? ", " : " and ", t->rows[idx[k]].flag);
        if (w < 0) break;
        o += (size_t)w;
    }
}

/* the row argv[*i] names ("--flag" or "--flag=value"); *val its value (NULL:
 * in the next argument); -1 if none */
static int match(const set_table *t, const char *a, const char **val)
{
    *val = NULL;
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        const char *names[2] = {r->flag, r->alias};
        if (r->flags & SET_POSITIONAL) continue;
        for (int k = 0; k < 2; k++) {
            if (!names[k]) continue;
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n)) continue;
            if (a[n] == '=' && r->type->takes_value) *val = a + n + 1;
            else if (a[n]) continue;
            return i;
        }
    }
    return -1;
}

static int bad_value(const set_table *t, const char *name, const tg_error *e)
{
    cli_err("%s: %s: %s", t->name, name, e->msg);
    return CLI_USAGE;
}

/* the rules across rows: required, --resume, exclusive */
static int check_rows(const set_table *t, const unsigned char *given)
{
    char list[512];
    unsigned char missing[SET_MAX_ROWS] = {0};
    int n_missing = 0, resume = -1;
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        if ((r->flags & SET_REQUIRED) && !given[i]) missing[i] = 1, n_missing++;
        if ((r->flags & SET_IS_RESUME) && given[i]) resume = i;
    }
    if (n_missing) {
        opts_list(t, missing, 0, list, sizeof list);
        for (int i = 0; i < t->n; i++)
            if (missing[i] && (t->rows[i].flags & SET_POSITIONAL)) {
                char range[256] = "";
                if (t->rows[i].type->range) t->rows[i].type->range(&t->rows[i], range, sizeof range);
                snprintf(list, sizeof list, "%s%s%s%s", t->rows[i].arg, *range ? " (" : "", range, *range ? ")" : "");
            }
        cli_err("%s: %s %s required (see 'tapegrad %s --help')", t->name, list, n_missing > 1 ? "are" : "is", t->name);
        return CLI_USAGE;
    }
    if (resume >= 0)
        for (int i = 0; i < t->n; i++)
            if (given[i] && !(t->rows[i].flags & SET_RESUME)) {
                unsigned char others[SET_MAX_ROWS] = {0};
                for (int j = 0; j < t->n; j++) others[j] = !(t->rows[j].flags & SET_IS_RESUME);
                opts_list(t, others, SET_RESUME, list, sizeof list);
                cli_err("%s: --resume continues a run with its own settings: only %s may be given with it, not %s",
                        t->name, list, t->rows[i].flag);
                return CLI_USAGE;
            }
    for (int i = 0; i < t->n; i++) {
        if (!given[i] || !(t->rows[i].flags & SET_EXCLUSIVE)) continue;
        for (int j = 0; j < t->n; j++)
            if (j != i && given[j] && (t->rows[i].conflicts & t->rows[j].conflicts)) {
                cli_err("%s: %s and %s cannot be given together: %s replaces what %s edits", t->name,
                        t->rows[i].flag, t->rows[j].flag, t->rows[i].flag, t->rows[j].flag);
                return CLI_USAGE;
            }
    }
    return 0;
}

int opts_parse(const set_table *t, int argc, char **argv, void *dst, unsigned char *given, const void *defaults)
{
    memset(given, 0, SET_MAX_ROWS);
    int pos = -1;
    for (int i = 0; i < t->n; i++)
        if (t->rows[i].flags & SET_POSITIONAL) pos = i;
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            opts_help(t, defaults ? defaults : dst, stdout);
            return -1;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        tg_error e;
        if (a[0] != '-' && pos >= 0 && !given[pos]) { /* the positional argument */
            const set_row *r = &t->rows[pos];
            if (r->type->parse(r, a, set_field(r, dst), 1, &e) != TG_OK) return bad_value(t, r->arg, &e);
            given[pos] = 1;
            continue;
        }
        int k = match(t, a, &val);
        if (k < 0) {
            cli_err("%s: %s '%s' (see 'tapegrad %s --help')", t->name, a[0] == '-' ? "unknown option"
                    : "unexpected argument", a, t->name);
            return CLI_USAGE;
        }
        const set_row *r = &t->rows[k];
        if (!r->type->takes_value) val = "1";
        else if (!val) {
            if (i + 1 >= argc) {
                cli_err("%s: option %s needs a value (see 'tapegrad %s --help')", t->name, r->flag, t->name);
                return CLI_USAGE;
            }
            val = argv[++i];
        }
        if (r->type->parse(r, val, set_field(r, dst), 1, &e) != TG_OK) return bad_value(t, r->flag, &e);
        given[k] = 1;
    }
    return check_rows(t, given);
}

/* ------------------------------------------------------------------ help */
#define HELP_COL 22  /* where the help text starts */
#define HELP_WIDTH 79

/* text from column `at` (the cursor is there), words wrapped at HELP_WIDTH
 * to column `indent`; '\n' starts a new line at `indent`, and a line that
 * starts with a blank is printed as it is (a table) */
static void wrap(FILE *out, const char *text, int at, int indent)
{
    int col = at;
    for (const char *p = text; *p;) {
        if (*p == '\n') {
            p++;
            if (*p == ' ') { /* preformatted */
                size_t w = strcspn(p, "\n");
                fprintf(out, "\n%*s%.*s", indent, "", (int)w, p);
                p += w;
                col = HELP_WIDTH; /* what follows starts a new line */
                continue;
            }
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            continue;
        }
        size_t w = strcspn(p, " \n");
        if (col > indent && col + 1 + (int)w > HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
        while (*p == ' ') p++;
    }
    fputc('\n', out);
}

/* a row's default as help shows it: numbers with a fraction in their short
 * form (2e-4, not the stored 0.000199999995) */
static void default_text(const set_row *r, const void *defaults, char *buf, size_t len)
{
    const void *v = set_cfield(r, defaults);
    if (r->type->any_spelling)
        snprintf(buf, len, "%g", r->type->size == sizeof(double) ? *(const double *)v : (double)*(const float *)v);
    else if (r->type->format(r, v, buf, len))
        buf[0] = 0;
}

static void row_help(const set_row *r, const void *defaults, FILE *out)
{
    char head[64], range[256] = "", def[256] = "", text[2048];
    if (r->flags & SET_POSITIONAL) snprintf(head, sizeof head, "%s", r->arg);
    else snprintf(head, sizeof head, "%s%s%s%s%s", r->flag, r->alias ? ", " : "", r->alias ? r->alias : "",
                  r->arg ? " " : "", r->arg ? r->arg : "");
    if (r->type->range && r->type != &set_text) r->type->range(r, range, sizeof range);
    const int says_default = r->help && strstr(r->help, "(default"); /* in its own words */
    if ((r->def || (r->flags & SET_PRESET)) && r->type->takes_value && !says_default)
        default_text(r, defaults, def, sizeof def);
    const char *dlabel = r->flags & SET_PRESET ? "reference preset: " : "default ";
    int o = snprintf(text, sizeof text, "%s", r->help ? r->help : "");
    if (*range || *def)
        snprintf(text + o, sizeof text - (size_t)o, " (%s%s%s%s)", range, *range && *def ? "; " : "",
                 *def ? dlabel : "", def);
    if (r->flags & SET_RESUME && !(r->flags & SET_IS_RESUME) && r->flag)
        snprintf(text + strlen(text), sizeof text - strlen(text), " [resume]");
    fprintf(out, "  %s", head);
    int col = 2 + (int)strlen(head);
    if (col < HELP_COL - 1) fprintf(out, "%*s", HELP_COL - col, "");
    else fprintf(out, "\n%*s", HELP_COL, "");
    wrap(out, text, HELP_COL, HELP_COL);
}

void opts_help(const set_table *t, const void *defaults, FILE *out)
{
    fprintf(out, "usage: %s\n\n", t->usage);
    if (t->about) {
        wrap(out, t->about, 0, 0);
        fputc('\n', out);
    }
    for (int i = 0; i < t->n; i++)
        if (t->rows[i].flag || (t->rows[i].flags & SET_POSITIONAL)) row_help(&t->rows[i], defaults, out);
    if (t->epilog) {
        fputc('\n', out);
        wrap(out, t->epilog, 0, 0);
    }
}
