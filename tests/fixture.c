/* fixture.c - see fixture.h. */
#include "fixture.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx_rec {
    char *name;
    size_t n;
    double *v;
} fx_rec;

struct fx_file {
    char path[1024];
    fx_rec *r;
    size_t nr, cap;
};

static char fx_msg[1400];

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fx_msg, sizeof fx_msg, fmt, ap);
    va_end(ap);
}

const char *fx_error(void) { return fx_msg; }

void fx_free(fx_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nr; i++) {
        free(f->r[i].name);
        free(f->r[i].v);
    }
    free(f->r);
    free(f);
}

/* Read one whole line of any length into *buf; 0 at EOF. */
static int read_line(FILE *fp, char **buf, size_t *cap)
{
    size_t len = 0;
    int c;
    while ((c = fgetc(fp)) != EOF) {
        if (len + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            char *nb = realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb;
            *cap = nc;
        }
        if (c == '\n') break;
        (*buf)[len++] = (char)c;
    }
    if (c == EOF && len == 0) return 0;
    (*buf)[len] = 0;
    return 1;
}

static int parse_line(fx_file *f, char *s, int lineno)
{
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    if (!*s || *s == '#') return 1;
    char *name = s;
    while (*s && *s != ' ' && *s != '\t') s++;
    if (!*s) {
        fail("%s:%d: record '%s' has no count", f->path, lineno, name);
        return 0;
    }
    *s++ = 0;
    errno = 0;
    char *end;
    long long cnt = strtoll(s, &end, 10);
    if (end == s || errno || cnt < 0 || cnt > 100000000) {
        fail("%s:%d: record '%s' has a bad count", f->path, lineno, name);
        return 0;
    }
    s = end;
    for (size_t i = 0; i < f->nr; i++)
        if (!strcmp(f->r[i].name, name)) {
            fail("%s:%d: duplicate record '%s'", f->path, lineno, name);
            return 0;
        }
    if (f->nr == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        fx_rec *nr = realloc(f->r, nc * sizeof *nr);
        if (!nr) goto nomem;
        f->r = nr;
        f->cap = nc;
    }
    fx_rec *r = &f->r[f->nr];
    r->n = (size_t)cnt;
    r->name = malloc(strlen(name) + 1);
    r->v = malloc((r->n ? r->n : 1) * sizeof(double));
    if (!r->name || !r->v) {
        free(r->name);
        free(r->v);
        goto nomem;
    }
    strcpy(r->name, name);
    f->nr++;
    for (size_t i = 0; i < r->n; i++) {
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(v) ||
            (*end && *end != ' ' && *end != '\t' && *end != '\r')) {
            fail("%s:%d: record '%s' has %lld values announced but value %zu is missing or malformed",
                 f->path, lineno, name, cnt, i);
            return 0;
        }
        r->v[i] = v;
        s = end;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    if (*s) {
        fail("%s:%d: record '%s' has more than the %lld values announced", f->path, lineno, name, cnt);
        return 0;
    }
    return 1;
nomem:
    fail("%s:%d: out of memory", f->path, lineno);
    return 0;
}

fx_file *fx_load(const char *name)
{
    const char *dir = getenv("TG_FIXTURES");
    if (!dir || !*dir) {
        fail("TG_FIXTURES is not set (meson test sets it; by hand run with "
             "TG_FIXTURES=<repo>/tests/fixtures/torch)");
        return NULL;
    }
    fx_file *f = calloc(1, sizeof *f);
    if (!f) {
        fail("out of memory");
        return NULL;
    }
    snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
    FILE *fp = fopen(f->path, "r");
    if (!fp) {
        fail("cannot open fixture %s: %s (regenerate with /usr/bin/python3 "
             "tests/fixtures/make_torch_fixtures.py)", f->path, strerror(errno));
        fx_free(f);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0;
    int lineno = 0, rc, ok = 1;
    while ((rc = read_line(fp, &buf, &cap)) > 0) {
        lineno++;
        if (!parse_line(f, buf, lineno)) {
            ok = 0;
            break;
        }
    }
    if (rc < 0) {
        fail("%s: out of memory reading line %d", f->path, lineno + 1);
        ok = 0;
    }
    if (ok && ferror(fp)) {
        fail("%s: read error", f->path);
        ok = 0;
    }
    if (ok && f->nr == 0) {
        fail("%s: no records (empty or truncated file)", f->path);
        ok = 0;
    }
    free(buf);
    fclose(fp);
    if (!ok) {
        fx_free(f);
        return NULL;
    }
    return f;
}

static const fx_rec *find(const fx_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->nr; i++)
        if (!strcmp(f->r[i].name, name)) return &f->r[i];
    return NULL;
}

size_t fx_count(const fx_file *f, const char *name)
{
    const fx_rec *r = find(f, name);
    return r ? r->n : 0;
}

const double *fx_get(const fx_file *f, const char *name, size_t n)
{
    if (!f) {
        fail("fx_get('%s'): no fixture file", name ? name : "(null)");
        return NULL;
    }
    const fx_rec *r = find(f, name);
    if (!r) {
        fail("%s: no record '%s'", f->path, name ? name : "(null)");
        return NULL;
    }
    if (n && r->n != n) {
        fail("%s: record '%s' has %zu values, the test expects %zu", f->path, name, r->n, n);
        return NULL;
    }
    return r->v;
}

int fx_floats(const fx_file *f, const char *name, float *dst, size_t n)
{
    const double *v = fx_get(f, name, n);
    if (!v) return 0;
    for (size_t i = 0; i < n; i++) {
        float x = (float)v[i];
        if ((double)x != v[i]) {
            fail("%s: record '%s' value %zu (%.17g) is not a float", f->path, name, i, v[i]);
            return 0;
        }
        dst[i] = x;
    }
    return 1;
}

double fx_maxabs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(v[i]) > m) m = fabs(v[i]);
    return m;
}

int fx_close(const char *what, const double *got, const double *want, size_t n, double rtol, double floor)
{
    size_t worst = 0;
    double wr = -1;
    for (size_t i = 0; i < n; i++) {
        double bound = rtol * fmax(fabs(want[i]), floor);
        double err = fabs(got[i] - want[i]);
        double r = err / (bound > 0 ? bound : 1e-300);
        if (!(err <= bound) && (!(r <= wr) || isnan(got[i]))) { /* NaN compares false: fails */
            wr = isnan(r) ? INFINITY : r;
            worst = i;
        }
    }
    if (wr < 0) return 1;
    double bound = rtol * fmax(fabs(want[worst]), floor);
    fail("%s: element %zu of %zu is %.17g, want %.17g (|diff| %.3g > bound %.3g = %.3g x max(|want|, %.3g))",
         what, worst, n, got[worst], want[worst], fabs(got[worst] - want[worst]), bound, rtol, floor);
    return 0;
}

/* ---- the same, as Check assertions ---- */
#include <check.h>

fx_file *fx_need_file(const char *name)
{
    fx_file *f = fx_load(name);
    ck_assert_msg(f != NULL, "%s", fx_error());
    return f;
}

const double *fx_need(const fx_file *f, const char *name, size_t n)
{
    const double *v = fx_get(f, name, n);
    ck_assert_msg(v != NULL, "%s", fx_error());
    return v;
}

void fx_need_floats(const fx_file *f, const char *name, float *dst, size_t n)
{
    ck_assert_msg(fx_floats(f, name, dst, n), "%s", fx_error());
}

tg_plan *fx_plan(tg_graph *g, tg_node out, const tg_plan_opts *o)
{
    ck_assert_msg(tg_graph_status(g) == TG_OK, "graph: %s", tg_graph_error(g));
    tg_plan *p = tg_plan_new(g, out, o);
    ck_assert_msg(p != NULL, "plan: %s", tg_graph_error(g));
    return p;
}
