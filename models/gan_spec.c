/* gan_spec.c - a GAN spec's text form (what checkpoints store), and the
 * initializers' names. See tg_models.h:
 *     G: in 100, dense 128, leaky_relu 0.2, ..., dense 784, tanh
 *     D: in 784, dense 512, leaky_relu 0.2, dropout 0.3, ..., dense 1
 *     init: xavier
 *     sigma: 0.02 */
#include "models_text.h"
#include "tg_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX_TEXT 200000 /* two layer lists of 65536 bytes at most, and a little */

static const char *const init_names[] = {
    [TG_INIT_ZEROS] = "zeros", [TG_INIT_PYTORCH] = "pytorch", [TG_INIT_XAVIER] = "xavier",
    [TG_INIT_NORMAL] = "normal", [TG_INIT_ONES] = "ones",
};
#define N_INITS ((int)(sizeof init_names / sizeof init_names[0]))

const char *tg_init_name(tg_init i) { return i >= 0 && (int)i < N_INITS ? init_names[i] : "?"; }

int tg_init_parse(const char *s, tg_init *out)
{
    for (int i = 0; s && i < N_INITS; i++)
        if (!strcmp(s, init_names[i])) {
            *out = (tg_init)i;
            return 1;
        }
    return 0;
}

tg_status tg_gan_spec_format(const tg_gan_spec *s, char *buf, size_t len)
{
    if (!s || !buf || !len) return TG_ERR_ARG;
    char sig[32];
    int n = snprintf(buf, len, "G: ");
    if (n < 0 || (size_t)n >= len || tg_seq_format(&s->G, buf + n, len - (size_t)n) != TG_OK) return TG_ERR_ARG;
    n += (int)strlen(buf + n);
    int k = snprintf(buf + n, len - (size_t)n, "\nD: ");
    if (k < 0 || (size_t)k >= len - (size_t)n) return TG_ERR_ARG;
    n += k;
    if (tg_seq_format(&s->D, buf + n, len - (size_t)n) != TG_OK) return TG_ERR_ARG;
    n += (int)strlen(buf + n);
    k = snprintf(buf + n, len - (size_t)n, "\ninit: %s\nsigma: %s", tg_init_name(s->init),
                 tgm_float_str(s->sigma, sig, sizeof sig));
    return k < 0 || (size_t)k >= len - (size_t)n ? TG_ERR_ARG : TG_OK;
}

/* text without the blanks around it, in place */
static char *trim(char *t)
{
    while (*t == ' ' || *t == '\t' || *t == '\r') t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r')) t[--n] = 0;
    return t;
}

/* one "key: value" line into s; seen[] counts the keys */
static tg_status parse_line(char *line, int ln, tg_gan_spec *s, int seen[4], tg_error *err)
{
    static const char *const keys[4] = {"G", "D", "init", "sigma"};
    char *colon = strchr(line, ':');
    if (!colon) return tg_error_set(err, TG_ERR_ARG, "model: line %d: want 'KEY: VALUE' (G, D, init, sigma)", ln);
    *colon = 0;
    char *key = trim(line), *val = trim(colon + 1);
    int k = 0;
    while (k < 4 && strcmp(key, keys[k])) k++;
    if (k == 4) return tg_error_set(err, TG_ERR_ARG, "model: line %d: unknown key '%s' (G, D, init, sigma)", ln, key);
    if (seen[k]++) return tg_error_set(err, TG_ERR_ARG, "model: line %d: a second '%s'", ln, key);
    if (k < 2) {
        tg_seq_spec *net = k ? &s->D : &s->G;
        return tg_seq_parse(val, keys[k], net, err); /* errors name the network and layer */
    }
    if (k == 2 && !tg_init_parse(val, &s->init))
        return tg_error_set(err, TG_ERR_ARG, "model: line %d: unknown initializer '%s' (zeros, pytorch, xavier, "
                            "normal, ones)", ln, val);
    if (k == 3 && (!tgm_parse_float(val, &s->sigma) || s->sigma < 0))
        return tg_error_set(err, TG_ERR_ARG, "model: line %d: sigma '%s' is not a number >= 0", ln, val);
    return TG_OK;
}

tg_status tg_gan_spec_parse(const char *text, tg_gan_spec *out, tg_error *err)
{
    if (!text || !out) return tg_error_set(err, TG_ERR_ARG, "model: no text");
    size_t n = strlen(text);
    if (n > SPEC_MAX_TEXT) return tg_error_set(err, TG_ERR_ARG, "model: a spec of %zu bytes", n);
    char *buf = malloc(n + 1);
    if (!buf) return tg_error_set(err, TG_ERR_NOMEM, "model: out of memory");
    memcpy(buf, text, n + 1);
    tg_gan_spec s;
    memset(&s, 0, sizeof s);
    int seen[4] = {0, 0, 0, 0}, ln = 0;
    tg_status st = TG_OK;
    for (char *line = buf; line && st == TG_OK;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl++ = 0;
        ln++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        if (*trim(line)) st = parse_line(line, ln, &s, seen, err);
        line = nl;
    }
    free(buf);
    static const char *const keys[4] = {"G", "D", "init", "sigma"};
    for (int k = 0; k < 4 && st == TG_OK; k++)
        if (!seen[k]) st = tg_error_set(err, TG_ERR_ARG, "model: no '%s:' line", keys[k]);
    if (st == TG_OK) st = tg_gan_check(&s, NULL, NULL, err);
    if (st == TG_OK) *out = s;
    return st;
}
