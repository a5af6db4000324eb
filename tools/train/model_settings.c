/* model_settings.c - setting types over the engine's and the models' names
 * (model_settings.h). */
#include "model_settings.h"

#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(char *buf, size_t len, const char *s)
{
    int n = snprintf(buf, len, "%s", s);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* "a, b or c" from n names */
static void list(char *buf, size_t len, const char *const *names, int n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s", !i ? "" : i + 1 < n ? ", " : " or ", names[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

/* ------------------------------------------------------- activations */
static const tg_act hidden_acts[] = {TG_ACT_RELU, TG_ACT_LEAKY_RELU, TG_ACT_SIGMOID, TG_ACT_TANH};
#define N_ACTS ((int)(sizeof hidden_acts / sizeof hidden_acts[0]))

static void act_range(const set_row *r, char *buf, size_t len)
{
    (void)r;
    const char *names[N_ACTS];
    for (int i = 0; i < N_ACTS; i++) names[i] = tg_act_name(hidden_acts[i]);
    list(buf, len, names, N_ACTS);
}

static tg_status act_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)strict;
    tg_act a;
    if (tg_act_parse(s, &a))
        for (int i = 0; i < N_ACTS; i++)
            if (a == hidden_acts[i]) {
                *(tg_act *)field = a;
                return TG_OK;
            }
    char names[128];
    act_range(r, names, sizeof names);
    return tg_error_set(err, TG_ERR_ARG, "'%s' is not %s", s, names);
}

static int act_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    return put(buf, len, tg_act_name(*(const tg_act *)field));
}

const set_type set_act = {1, sizeof(tg_act), 0, act_parse, act_format, act_range};

/* ------------------------------------------------------ initializers */
static const tg_init cli_inits[] = {TG_INIT_PYTORCH, TG_INIT_XAVIER, TG_INIT_NORMAL};
#define N_INITS ((int)(sizeof cli_inits / sizeof cli_inits[0]))

static void init_range(const set_row *r, char *buf, size_t len)
{
    (void)r;
    const char *names[N_INITS];
    for (int i = 0; i < N_INITS; i++) names[i] = tg_init_name(cli_inits[i]);
    list(buf, len, names, N_INITS);
}

static tg_status init_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)strict;
    tg_init v;
    if (tg_init_parse(s, &v))
        for (int i = 0; i < N_INITS; i++)
            if (v == cli_inits[i]) {
                *(tg_init *)field = v;
                return TG_OK;
            }
    char names[128];
    init_range(r, names, sizeof names);
    return tg_error_set(err, TG_ERR_ARG, "'%s' is not %s", s, names);
}

static int init_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    return put(buf, len, tg_init_name(*(const tg_init *)field));
}

const set_type set_init = {1, sizeof(tg_init), 0, init_parse, init_format, init_range};

/* ----------------------------------------------------------- presets */
static void preset_range(const set_row *r, char *buf, size_t len)
{
    (void)r;
    const char *const *names = tg_gan_preset_names();
    int n = 0;
    while (names[n]) n++;
    list(buf, len, names, n);
}

static tg_status preset_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)strict;
    for (const char *const *n = tg_gan_preset_names(); *n; n++)
        if (!strcmp(s, *n)) {
            snprintf(field, SET_PRESET_LEN, "%s", s);
            return TG_OK;
        }
    char names[128];
    preset_range(r, names, sizeof names);
    return tg_error_set(err, TG_ERR_ARG, "'%s' is not %s", s, names);
}

static int preset_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    return put(buf, len, field);
}

const set_type set_preset = {1, SET_PRESET_LEN, 0, preset_parse, preset_format, preset_range};

/* ------------------------------------------------------- layer lists */
static tg_status arch_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)strict;
    char *text = NULL;
    if (s[0] == '@') {
        tg_status st = file_read_text(s + 1, SET_ARCH_MAX, &text, NULL, err);
        if (st != TG_OK) return st;
        s = text;
    }
    tg_seq_spec spec;
    memset(&spec, 0, sizeof spec); /* no name prefix: "l0.w", as the presets */
    tg_status st = tg_seq_parse(s, r->aux, &spec, err);
    free(text);
    if (st == TG_OK) *(tg_seq_spec *)field = spec;
    return st;
}

static int arch_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    return tg_seq_format(field, buf, len) == TG_OK ? 0 : -1;
}

const set_type set_arch = {1, sizeof(tg_seq_spec), 0, arch_parse, arch_format, NULL};

/* ------------------------------------------------------- GAN specs */
static tg_status spec_parse(const set_row *r, const char *s, void *field, int strict, tg_error *err)
{
    (void)r;
    (void)strict;
    return tg_gan_spec_parse(s, field, err);
}

static int spec_format(const set_row *r, const void *field, char *buf, size_t len)
{
    (void)r;
    return tg_gan_spec_format(field, buf, len) == TG_OK ? 0 : -1;
}

const set_type set_gan_spec = {1, sizeof(tg_gan_spec), 0, spec_parse, spec_format, NULL};
