/* test_settings.c - configuration as data: the typed settings of
 * tools/train/settings.c (conversions, the width-list parser, defaults, the
 * stored form read as strictly as it is written) and the command line and
 * help they give (tools/cli/opts.c), on a small table of their own and on
 * train-gan's. */
#include "check_main.h"
#include "cli.h"
#include "gan_opts.h"
#include "opts.h"
#include "settings.h"

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct toy {
    int n, on;
    float x, p;
    const char *name;
    int pick;
    set_width_list w;
    unsigned char given[SET_MAX_ROWS];
} toy;

static const char *const picks[] = {"red", "green", "blue", NULL};

#define O(m) offsetof(toy, m)
static const set_row rows[] = {
    {.flag = "--n", .key = "n", .type = &set_int, .off = O(n), .lo = 1, .hi = 10, .def = "3", .arg = "N",
     .help = "a count"},
    {.flag = "--on", .key = "on", .type = &set_switch, .off = O(on), .def = "0", .help = "a switch"},
    {.flag = "--x", .key = "x", .type = &set_pos_float, .off = O(x), .hi = 10, .def = "0.5", .arg = "X", .help = "x"},
    {.flag = "--p", .key = "p", .type = &set_unit_float, .off = O(p), .def = "0", .arg = "P", .help = "p",
     .flags = SET_RESUME},
    {.flag = "--name", .key = "name", .type = &set_text, .off = O(name), .hi = 8, .arg = "S", .help = "a name",
     .flags = SET_OPTIONAL_KEY},
    {.flag = "--pick", .key = "pick", .type = &set_choice, .off = O(pick), .aux = picks, .def = "green", .arg = "C",
     .help = "a color", .flags = SET_EXCLUSIVE, .conflicts = 1},
    {.flag = "--w", .alias = "-w", .key = "w", .type = &set_widths, .off = O(w), .lo = 1, .hi = 100, .max_n = 3,
     .aux = "layers", .def = "4,5", .arg = "W,W", .help = "widths", .conflicts = 1},
};
static const set_table table = {.name = "toy", .usage = "tapegrad toy [options]", .about = "A toy.", .rows = rows,
                                .n = (int)(sizeof rows / sizeof rows[0])};

static toy fresh(void)
{
    toy t;
    memset(&t, 0, sizeof t);
    set_defaults(&table, &t);
    return t;
}

START_TEST(test_defaults_and_types)
{
    toy t = fresh();
    ck_assert_int_eq(t.n, 3);
    ck_assert(t.x == 0.5f && t.p == 0 && !t.on && t.pick == 1 && !t.name);
    ck_assert_int_eq(t.w.n, 2);
    ck_assert(t.w.w[0] == 4 && t.w.w[1] == 5);
    tg_error e;
    const set_row *n = &rows[0], *x = &rows[2], *p = &rows[3], *c = &rows[5];
    int v;
    ck_assert_int_eq(n->type->parse(n, "11", &v, 1, &e), TG_ERR_ARG);
    ck_assert_str_eq(e.msg, "11 is out of range (1..10)");
    ck_assert_int_eq(n->type->parse(n, "1.5", &v, 1, &e), TG_ERR_ARG);
    ck_assert_str_eq(e.msg, "'1.5' is not an integer");
    float f;
    ck_assert_int_eq(x->type->parse(x, "1e-39", &f, 1, &e), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "too small"));
    ck_assert_int_eq(p->type->parse(p, "0.99999999", &f, 1, &e), TG_ERR_ARG); /* 1 as a float */
    ck_assert_ptr_nonnull(strstr(e.msg, "as a float"));
    ck_assert_int_eq(c->type->parse(c, "pink", &v, 1, &e), TG_ERR_ARG);
    ck_assert_str_eq(e.msg, "'pink' is not red, green or blue");
}
END_TEST

START_TEST(test_widths)
{
    int w[SET_MAX_WIDTHS], n;
    tg_error e;
    ck_assert_int_eq(set_parse_widths("512,256,128", 7, 1, 65536, NULL, w, &n, &e), TG_OK);
    ck_assert(n == 3 && w[0] == 512 && w[2] == 128);
    static const char *const bad[] = {"", "12,", ",12", "12,,3", "12,x", "0", "65537", " 12", "+12", "1e3"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_msg(set_parse_widths(bad[k], 7, 1, 65536, NULL, w, &n, &e) == TG_ERR_ARG, "'%s' accepted", bad[k]);
        ck_assert_ptr_nonnull(strstr(e.msg, "is not a list of whole numbers in 1..65536"));
    }
    ck_assert_int_eq(set_parse_widths("1,2,3,4", 3, 1, 9, "hidden layers", w, &n, &e), TG_ERR_ARG);
    ck_assert_str_eq(e.msg, "'1,2,3,4': at most 3 hidden layers");
    char buf[32];
    ck_assert_int_eq(set_format_widths((const int[]){784, 10}, 2, '-', buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "784-10");
    ck_assert_int_eq(set_format_widths((const int[]){784, 10}, 2, '-', buf, 4), -1);
}
END_TEST

/* ---- the command line ---- */
static int parse(toy *t, const char *const *args)
{
    int argc = 0;
    while (args[argc]) argc++;
    *t = fresh();
    return opts_parse(&table, argc, (char **)args, t, t->given, NULL);
}
#define PARSE(t, ...) parse(t, (const char *const[]){"toy", __VA_ARGS__, NULL})

START_TEST(test_parse)
{
    toy t;
    ck_assert_int_eq(PARSE(&t, "--n", "7", "--x=2.5", "--on", "-w", "1,2,3", "--name=abc"), 0);
    ck_assert(t.n == 7 && t.x == 2.5f && t.on && t.w.n == 3 && !strcmp(t.name, "abc"));
    ck_assert(t.given[0] && t.given[1] && t.given[2] && !t.given[3] && t.given[4] && !t.given[5] && t.given[6]);
    /* what is refused, with status 2 */
    ck_assert_int_eq(PARSE(&t, "--n"), CLI_USAGE);           /* no value */
    ck_assert_int_eq(PARSE(&t, "--n", "0"), CLI_USAGE);      /* out of range */
    ck_assert_int_eq(PARSE(&t, "--on=1"), CLI_USAGE);        /* a switch takes no value */
    ck_assert_int_eq(PARSE(&t, "--nope"), CLI_USAGE);        /* unknown */
    ck_assert_int_eq(PARSE(&t, "stray"), CLI_USAGE);         /* no positional argument */
    ck_assert_int_eq(PARSE(&t, "--name", ""), CLI_USAGE);    /* empty */
    ck_assert_int_eq(PARSE(&t, "--name", "123456789"), CLI_USAGE); /* longer than 8 */
    ck_assert_int_eq(PARSE(&t, "--pick", "red", "--w", "3"), CLI_USAGE); /* exclusive */
    ck_assert_int_eq(PARSE(&t, "--pick", "red", "--n", "3"), 0);
}
END_TEST

START_TEST(test_help)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    toy d = fresh();
    opts_help(&table, &d, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "usage: tapegrad toy [options]\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  --n N               a count (1..10; default 3)\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  --x X               x (0 < x <= 10; default 0.5)\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  --pick C            a color (red, green or blue; default green)\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  --w, -w W,W         widths (1 to 3 values in 1..100; default 4,5)\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  --p P               p (0 <= x < 1; default 0) [resume]\n"));
    free(buf);
}
END_TEST

/* ---- the stored form ---- */
typedef struct kv {
    const char *key[16];
    char val[16][64];
    int n;
} kv;

static void put(void *ctx, const char *key, const char *value)
{
    kv *m = ctx;
    m->key[m->n] = key;
    snprintf(m->val[m->n++], sizeof m->val[0], "%s", value);
}

static const char *get(void *ctx, const char *key)
{
    const kv *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key)) return m->val[i];
    return NULL;
}

static void set(kv *m, const char *key, const char *value)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key)) snprintf(m->val[i], sizeof m->val[0], "%s", value);
}

START_TEST(test_meta)
{
    toy t = fresh(), back;
    t.n = 9;
    t.x = 2e-4f;
    t.pick = 2;
    kv m = {.n = 0};
    ck_assert_int_eq(set_write_meta(&table, &t, 0, put, &m), 0);
    ck_assert_int_eq(m.n, 6); /* no "name": NULL */
    ck_assert_str_eq(get(&m, "x"), "0.000199999995");
    ck_assert_str_eq(get(&m, "pick"), "blue");
    ck_assert_str_eq(get(&m, "w"), "4,5");
    tg_error e;
    back = fresh();
    ck_assert_msg(set_read_meta(&table, &back, 0, get, &m, "t:", &e) == TG_OK, "%s", e.msg);
    ck_assert(back.n == 9 && back.x == t.x && back.pick == 2 && back.w.n == 2 && !back.name);
    /* numbers with a fraction in any spelling; the rest as written */
    set(&m, "x", "2e-4");
    ck_assert_int_eq(set_read_meta(&table, &back, 0, get, &m, "t:", &e), TG_OK);
    static const char *const bad[][3] = {
        {"n", "09", "not spelled as the writer spells it ('9')"}, {"n", " 9", "not spelled"},
        {"n", "11", "11 is out of range"}, {"on", "2", "'2' is not 0 or 1"}, {"pick", "Blue", "is not red"},
        {"w", "4, 5", "not a list"}, {"x", "0", "out of range"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        kv c = m;
        set(&c, bad[k][0], bad[k][1]);
        ck_assert_int_eq(set_read_meta(&table, &back, 0, get, &c, "t:", &e), TG_ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, bad[k][2]) && strstr(e.msg, bad[k][0]), "%s = %s: %s", bad[k][0], bad[k][1], e.msg);
    }
    /* a missing key: an error unless the row allows it */
    kv c = m;
    c.n = 0;
    ck_assert_int_eq(set_read_meta(&table, &back, 0, get, &c, "t:", &e), TG_ERR_FORMAT);
    ck_assert_str_eq(e.msg, "t: metadata has no 'n'");
    /* the default, even outside the command line's range */
    toy zero = fresh();
    zero.n = 0;
    const set_row r = {.key = "n", .type = &set_int, .off = O(n), .lo = 1, .hi = 10, .def = "0"};
    const set_table one = {.name = "one", .rows = &r, .n = 1};
    kv z = {.n = 0};
    ck_assert_int_eq(set_write_meta(&one, &zero, 0, put, &z), 0);
    ck_assert_int_eq(set_read_meta(&one, &back, 0, get, &z, "t:", &e), TG_OK);
    ck_assert_int_eq(back.n, 0);
}
END_TEST

/* train-gan's table: every stored row reads back what it writes, the
 * defaults are the reference preset's, and the flags allowed with --resume
 * are the ones its help marks */
START_TEST(test_gan_table)
{
    static train_gan_opts o;
    gan_opts_defaults(&o);
    ck_assert_str_eq(o.cfg.model, "reference");
    ck_assert_int_eq(o.cfg.batch, 64);
    ck_assert_int_eq(o.k.z_dim, 100);
    ck_assert_int_eq(o.k.g_hidden.n, 3);
    char list[512];
    unsigned char which[SET_MAX_ROWS];
    for (int i = 0; i < gan_opts_table.n; i++) which[i] = !(gan_opts_table.rows[i].flags & SET_IS_RESUME);
    opts_list(&gan_opts_table, which, SET_RESUME, list, sizeof list);
    ck_assert_str_eq(list, "--data, --epochs, --threads, --limit, --log-every, --eval-every, --classifier and --quiet");
    /* no flag spelled twice, no key stored twice */
    for (int i = 0; i < gan_opts_table.n; i++)
        for (int j = i + 1; j < gan_opts_table.n; j++) {
            const set_row *a = &gan_opts_table.rows[i], *b = &gan_opts_table.rows[j];
            ck_assert(!a->flag || !b->flag || strcmp(a->flag, b->flag));
            ck_assert(!a->key || !b->key || strcmp(a->key, b->key));
        }
}
END_TEST

static Suite *settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_and_types);
    tcase_add_test(tc, test_widths);
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_meta);
    tcase_add_test(tc, test_gan_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tg_run_suite(settings_suite()); }
