/* settings.c - typed settings: conversions, width lists, defaults, and the
 * stored form (settings.h). */
#include "settings.h"

#include "safetensors.h" /* st_utf8_valid: what metadata may hold */

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *set_field(const set_row *r, void *opts) { return (char *)opts + r->off; }
const void *set_cfield(const set_row *r, const void *opts) { return (const char *)opts + r->off; }

/* ------------------------------------------------------------- integers */
/* a whole decimal number as strtol reads it; 0, or -1 */
static int whole(const char *s, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return !*s || *end || errno == ERANGE || end == s ? -1 : 0;
}

static tg_status int_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    long long v;
    if (whole(s, &v) || (!strict && (v < INT32_MIN || v > INT32_MAX)))
        return tg_error_set(err, TG_ERR_ARG, "'%s' is not an integer", s);
    if (strict && (v < (long long)r->lo || v > (long long)r->hi))
        return tg_error_set(err, TG_ERR_ARG, "%lld is out of range (%lld..%lld)", v, (long long)r->lo,
                            (long long)r->hi);
    *(int *)field = (int)v;
    return TG_OK;
}

static int int_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    int n = snprintf(buf, len, "%d", *(const int *)field);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void int_range(const set_row *r, char *buf, size_t len)
{
    snprintf(buf, len, "%lld..%lld", (long long)r->lo, (long long)r->hi);
}

const set_type set_int = {1, sizeof(int), 0, int_parse, int_format, int_range};

static tg_status u64_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    long long v;
    if (whole(s, &v)) return tg_error_set(err, TG_ERR_ARG, "'%s' is not an integer", s);
    if ((strict && (v < (long long)r->lo || v > (long long)r->hi)) || v < 0)
        return tg_error_set(err, TG_ERR_ARG, "%lld is out of range (%lld..%lld)", v, (long long)r->lo,
                            (long long)r->hi);
    *(uint64_t *)field = (uint64_t)v;
    return TG_OK;
}

static int u64_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    int n = snprintf(buf, len, "%" PRIu64, *(const uint64_t *)field);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

const set_type set_u64 = {1, sizeof(uint64_t), 0, u64_parse, u64_format, int_range};

/* --------------------------------------------------------------- floats */
/* a whole finite number as strtod reads it; 0, or -1 */
static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return !*s || *end || end == s || !isfinite(*v) ? -1 : 0;
}

/* floats are stored with 9 significant digits: they read back exactly */
static int float_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    int n = snprintf(buf, len, "%.9g", (double)*(const float *)field);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static tg_status float_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    double v;
    if (number(s, &v) || (strict && !(v >= r->lo && v <= r->hi)) || fabs(v) > FLT_MAX)
        return tg_error_set(err, TG_ERR_ARG, "'%s' is not a number in [%g, %g]", s, r->lo, r->hi);
    *(float *)field = (float)v;
    return TG_OK;
}

static void float_range(const set_row *r, char *buf, size_t len) { snprintf(buf, len, "%g..%g", r->lo, r->hi); }

const set_type set_float = {1, sizeof(float), 1, float_parse, float_format, float_range};

static tg_status pos_double_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    double v;
    int bad = number(s, &v); /* sets errno: ERANGE for an underflow too */
    if (bad || errno == ERANGE) return tg_error_set(err, TG_ERR_ARG, "'%s' is not a finite number", s);
    if (strict && !(v > 0 && v <= r->hi))
        return tg_error_set(err, TG_ERR_ARG, "%g is out of range (0 < x <= %g)", v, r->hi);
    *(double *)field = v;
    return TG_OK;
}

static int double_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    int n = snprintf(buf, len, "%.17g", *(const double *)field);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void pos_range(const set_row *r, char *buf, size_t len) { snprintf(buf, len, "0 < x <= %g", r->hi); }

const set_type set_pos_double = {1, sizeof(double), 1, pos_double_parse, double_format, pos_range};

static tg_status pos_float_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    double v = 0;
    tg_status st = pos_double_parse(r, s, &v, strict, err);
    if (st != TG_OK) return st;
    if (strict && v < FLT_MIN)
        return tg_error_set(err, TG_ERR_ARG, "%g is too small (the smallest accepted is %g)", v, (double)FLT_MIN);
    *(float *)field = (float)v;
    return TG_OK;
}

const set_type set_pos_float = {1, sizeof(float), 1, pos_float_parse, float_format, pos_range};

static tg_status unit_float_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)r;
    double v;
    if (number(s, &v)) /* an underflow is 0 here, an overflow is not finite */
        return tg_error_set(err, TG_ERR_ARG, "'%s' is not a finite number", s);
    if (strict && !(v >= 0 && (float)v < 1))
        return tg_error_set(err, TG_ERR_ARG, "%s is out of range (0 <= x < 1%s)", s,
                            v < 1 && v >= 0 ? ", as a float" : "");
    *(float *)field = (float)v;
    return TG_OK;
}

static void unit_range(const set_row *r, char *buf, size_t len)
{
    (void)r;
    snprintf(buf, len, "0 <= x < 1");
}

const set_type set_unit_float = {1, sizeof(float), 1, unit_float_parse, float_format, unit_range};

/* ------------------------------------------------------ switches, text */
static tg_status switch_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)r;
    (void)strict;
    if (strcmp(s, "0") && strcmp(s, "1")) return tg_error_set(err, TG_ERR_ARG, "'%s' is not 0 or 1", s);
    *(int *)field = s[0] == '1';
    return TG_OK;
}

const set_type set_switch = {0, sizeof(int), 0, switch_parse, int_format, NULL};

static tg_status text_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    size_t n = strlen(s);
    if (!n) return tg_error_set(err, TG_ERR_ARG, "an empty value");
    if (strict && r->hi > 0 && (double)n > r->hi)
        return tg_error_set(err, TG_ERR_ARG, "%zu bytes, longer than the %.0f allowed", n, r->hi);
    *(const char **)field = s;
    return TG_OK;
}

static int text_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    const char *s = *(const char *const *)field;
    int n = snprintf(buf, len, "%s", s ? s : "");
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

const set_type set_text = {1, sizeof(const char *), 0, text_parse, text_format, NULL};

/* "a, b or c" */
static void names_list(const char *const *names, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; names[i] && o < len; i++) {
        const char *sep = !i ? "" : names[i + 1] ? ", " : " or ";
        int w = snprintf(buf + o, len - o, "%s%s", sep, names[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

static tg_status choice_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)strict;
    const char *const *names = r->aux;
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) {
            *(int *)field = i;
            return TG_OK;
        }
    char list[256];
    names_list(names, list, sizeof list);
    return tg_error_set(err, TG_ERR_ARG, "'%s' is not %s", s, list);
}

static int choice_format(const set_row *r, const void *field, char *buf, size_t len)
{
    const char *const *names = r->aux;
    int v = *(const int *)field, k = 0;
    while (names[k] && k < v) k++;
    if (v < 0 || !names[k]) return -1;
    int n = snprintf(buf, len, "%s", names[k]);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void choice_range(const set_row *r, char *buf, size_t len) { names_list(r->aux, buf, len); }

const set_type set_choice = {1, sizeof(int), 0, choice_parse, choice_format, choice_range};

/* ---------------------------------------------------------- width lists */
tg_status set_parse_widths(const char *text, int max_n, int lo, int hi, const char *noun, int *w, int *n,
                           tg_error *err)
{
    int k = 0;
    const char *p = text;
    for (;;) {
        size_t d = strspn(p, "0123456789");
        long long v = -1;
        if (d && d < 11) v = strtoll(p, NULL, 10);
        if (!d || d >= 11 || v < lo || v > hi || (p[d] && p[d] != ',') || (p[d] == ',' && !p[d + 1]))
            return tg_error_set(err, TG_ERR_ARG, "'%s' is not a list of whole numbers in %d..%d separated by commas",
                                text, lo, hi);
        if (k == max_n)
            return tg_error_set(err, TG_ERR_ARG, "'%s': at most %d %s", text, max_n, noun ? noun : "widths");
        w[k++] = (int)v;
        if (!p[d]) break;
        p += d + 1;
    }
    *n = k;
    return TG_OK;
}

int set_format_widths(const int *w, int n, char sep, char *buf, size_t len)
{
    size_t o = 0;
    if (!len) return -1;
    buf[0] = 0;
    for (int k = 0; k < n; k++) {
        int c = k ? snprintf(buf + o, len - o, "%c%d", sep, w[k]) : snprintf(buf, len, "%d", w[k]);
        if (c < 0 || (size_t)c >= len - o) return -1;
        o += (size_t)c;
    }
    return 0;
}

static tg_status widths_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)strict;
    set_width_list *l = field, v;
    int max = r->max_n > 0 && r->max_n < SET_MAX_WIDTHS ? r->max_n : SET_MAX_WIDTHS;
    tg_status st = set_parse_widths(s, max, (int)r->lo, (int)r->hi, r->aux, v.w, &v.n, err);
    if (st == TG_OK) *l = v;
    return st;
}

static int widths_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    const set_width_list *l = field;
    return set_format_widths(l->w, l->n, ',', buf, len);
}

static void widths_range(const set_row *r, char *buf, size_t len)
{
    snprintf(buf, len, "1 to %d values in %.0f..%.0f", r->max_n, r->lo, r->hi);
}

const set_type set_widths = {1, sizeof(set_width_list), 0, widths_parse, widths_format, widths_range};

/* ----------------------------------------------------------------- rows */
void set_defaults(const set_table *t, void *opts)
{
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        if (r->def) r->type->parse(r, r->def, set_field(r, opts), 0, NULL);
    }
}

int set_find(const set_table *t, const char *flag, const char *key)
{
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        if ((flag && ((r->flag && !strcmp(flag, r->flag)) || (r->alias && !strcmp(flag, r->alias)))) ||
            (key && r->key && !strcmp(key, r->key)))
            return i;
    }
    return -1;
}

void set_copy(const set_table *t, void *dst, const void *src, const unsigned char *which, unsigned flags)
{
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        if (which[i] && (r->flags & flags) == flags) memcpy(set_field(r, dst), set_cfield(r, src), r->type->size);
    }
}

/* --------------------------------------------------------- stored form */
#define VAL_MAX 8192 /* the longest stored value but a path (a GAN spec's text) */

int set_write_meta(const set_table *t, const void *opts, unsigned skip,
                   void (*put)(void *ctx, const char *key, const char *value), void *ctx)
{
    static char buf[VAL_MAX]; /* put copies it */
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        if (!r->key || (r->flags & skip)) continue;
        if (r->type == &set_text) { /* paths: kept by the caller, not copied */
            const char *s = *(const char *const *)set_cfield(r, opts);
            if (s && *s && st_utf8_valid(s)) put(ctx, r->key, s);
            continue;
        }
        if (r->type->format(r, set_cfield(r, opts), buf, sizeof buf)) return -1;
        put(ctx, r->key, buf);
    }
    return 0;
}

tg_status set_read_meta(const set_table *t, void *opts, unsigned skip,
                        const char *(*get)(void *ctx, const char *key), void *ctx, const char *what,
                        tg_error *err)
{
    static char again[VAL_MAX];
    for (int i = 0; i < t->n; i++) {
        const set_row *r = &t->rows[i];
        if (!r->key || (r->flags & skip)) continue;
        const char *v = get(ctx, r->key);
        if (!v) {
            if (r->flags & SET_OPTIONAL_KEY) continue;
            return tg_error_set(err, TG_ERR_FORMAT, "%s metadata has no '%s'", what, r->key);
        }
        tg_error e;
        void *field = set_field(r, opts);
        if (r->def && !strcmp(v, r->def)) { /* the default, even where the command line may not give it */
            r->type->parse(r, v, field, 0, NULL);
            continue;
        }
        if (r->type->parse(r, v, field, 1, &e) != TG_OK)
            return tg_error_set(err, TG_ERR_FORMAT, "%s metadata '%s' = '%.60s': %s", what, r->key, v, e.msg);
        if (!r->type->any_spelling && (r->type->format(r, field, again, sizeof again) || strcmp(again, v)))
            return tg_error_set(err, TG_ERR_FORMAT, "%s metadata '%s' = '%.60s' is not spelled as the writer "
                                "spells it ('%.60s')", what, r->key, v, again);
    }
    return TG_OK;
}
