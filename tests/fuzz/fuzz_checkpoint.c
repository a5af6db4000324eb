/* fuzz_checkpoint.c - the configuration stored in checkpoints: train-gan's
 * (ckpt_config, tools/train/checkpoint.c, its keys from train-gan's table in
 * gan_opts.c; format 1's model keys too) and the classifier's
 * (clf_ckpt_config, tools/train/classifier.c), read from a checkpoint's
 * "__metadata__".
 *
 * Input: one byte (bit 0: 0 train-gan, 1 classifier), then "key=value"
 * lines ("\\n" in a value stands for a newline), written as the metadata of a checkpoint without tensors
 * (st_write_mem; inputs the writer refuses, such as a repeated key, are
 * skipped) and read back. Invariants of an accepted configuration: it is
 * valid (tg_gan_check, tg_mlp_check and the ranges the readers state); names
 * (model, g_loss, the model's text; a format-1 model's activations and init)
 * are spelled as the writer spells them; numbers
 * that must be integers (batch, epochs, seed, fresh_z) are used as stated,
 * not truncated; train-gan's configuration writes and reads back to itself
 * (fuzz_gan_cfg.h). A refusal comes with a message. */
#include "classifier.h"
#include "fuzz_gan_cfg.h"

#include <math.h>

#define MAXKV 64

typedef struct kvs {
    st_kv kv[MAXKV];
    int n;
} kvs;

static const char *get(const kvs *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->kv[i].key, key)) return m->kv[i].value;
    return NULL;
}

/* the stated value of an integer key agrees with the value used */
static void check_int(const kvs *in, const char *key, double used)
{
    const char *v = get(in, key);
    if (!v) return;
    double stated = strtod(v, NULL);
    if (fabs(stated) < 9007199254740992.0) /* 2^53: exact in a double */
        FUZZ_CHECK(stated == used, "metadata %s = '%s' was used as %.17g", key, v, used);
}

/* a value as the writer spells it: the input's must be the same */
static void check_name(const kvs *in, const char *key, const char *written)
{
    const char *v = get(in, key);
    FUZZ_CHECK(v && !strcmp(v, written), "metadata %s = '%s' was read as '%s'", key, v ? v : "(none)", written);
}

static void check_gan(const kvs *in, const st_file *f, const gan_cfg *c, const ckpt_run *run)
{
    tg_error e = {0};
    FUZZ_CHECK(tg_gan_check(&c->spec, NULL, NULL, &e) == TG_OK, "an accepted spec fails tg_gan_check: %s", e.msg);
    FUZZ_CHECK(c->batch >= 1 && c->epochs >= 0, "batch %d, epochs %d", c->batch, c->epochs);
    FUZZ_CHECK(c->lr_g > 0 && c->lr_d > 0 && isfinite(c->lr_g) && isfinite(c->lr_d), "lr_g %g, lr_d %g",
               (double)c->lr_g, (double)c->lr_d);
    FUZZ_CHECK(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1, "beta1 %.9g, beta2 %.9g",
               (double)c->beta1, (double)c->beta2);
    FUZZ_CHECK(c->eps > 0 && isfinite(c->eps) && c->spec.sigma >= 0 && isfinite(c->spec.sigma) &&
                   isfinite(c->real_label),
               "eps %g, sigma %g, real_label %g", (double)c->eps, (double)c->spec.sigma, (double)c->real_label);
    FUZZ_CHECK((c->fresh_z == 0 || c->fresh_z == 1) && (c->saturating == 0 || c->saturating == 1), "flags");
    FUZZ_CHECK(c->ema >= 0 && c->ema < 1, "ema %.9g", (double)c->ema);
    /* names as the writer spells them: the stored rows of train-gan's table
     * (model, model_spec, g_loss); a format-1 model's names as that format's
     * writer spelled them */
    static ckpt_meta out;
    ckpt_config_meta(c, run, &out);
    static const char *const names[] = {"model", "g_loss", "model_spec"};
    const int v1 = !strcmp(get(in, "format"), CKPT_FORMAT_V1);
    for (size_t k = 0; k < sizeof names / sizeof names[0] - (size_t)v1; k++)
        for (int i = 0; i < out.n; i++)
            if (!strcmp(out.kv[i].key, names[k])) check_name(in, names[k], out.kv[i].value);
    if (v1) {
        tg_gan_mlp m;
        FUZZ_CHECK(ckpt_model_v1(f, &m, &e) == TG_OK, "an accepted format-1 model does not read: %s", e.msg);
        check_name(in, "g_act", tg_act_name(m.G.hidden));
        check_name(in, "d_act", tg_act_name(m.D.hidden));
        check_name(in, "g_out", tg_act_name(m.G.output));
        check_name(in, "init", tg_init_name(m.init));
    }
    check_int(in, "batch", c->batch);
    check_int(in, "epochs", c->epochs);
    check_int(in, "fresh_z", c->fresh_z);
    check_int(in, "seed", (double)c->seed);
    /* the run's part */
    FUZZ_CHECK(c->log_every >= 1 && c->log_every <= 1000000, "log_every %d", c->log_every);
    FUZZ_CHECK(run->eval_every >= 0 && run->eval_every <= 100000 && run->limit >= 0 && run->limit <= 100000000,
               "eval_every %d, limit %d", run->eval_every, run->limit);
    check_int(in, "log_every", c->log_every);
    check_int(in, "eval_every", run->eval_every);
    check_int(in, "limit", run->limit);
    static const char *const paths[] = {"data", "classifier"};
    const char *got[] = {run->data, run->classifier};
    for (int k = 0; k < 2; k++) {
        const char *v = get(in, paths[k]);
        FUZZ_CHECK(!strcmp(v ? v : "", got[k]), "metadata %s = '%s' was read as '%s'", paths[k], v ? v : "(none)",
                   got[k]);
        FUZZ_CHECK(!v || (v[0] && strlen(v) < CKPT_PATH_MAX), "metadata %s of %zu bytes accepted", paths[k], strlen(v));
    }
    fuzz_gan_cfg_round_trip(c, run, "checkpoint");
}

static void check_clf(const kvs *in, const clf_cfg *c, int epochs)
{
    tg_error e = {0};
    const tg_mlp_spec *s = &c->spec;
    FUZZ_CHECK(tg_mlp_check(s, &e) == TG_OK, "an accepted spec fails tg_mlp_check: %s", e.msg);
    FUZZ_CHECK(s->n_layers >= 2 && s->widths[s->n_layers] == CLF_CLASSES, "%d layers, %d outputs", s->n_layers,
               s->widths[s->n_layers]);
    FUZZ_CHECK(s->hidden != TG_ACT_NONE && s->output == TG_ACT_NONE && isfinite(s->slope), "activations");
    FUZZ_CHECK(!strcmp(get(in, "act"), tg_act_name(s->hidden)), "act '%s' was read as '%s'", get(in, "act"),
               tg_act_name(s->hidden));
    FUZZ_CHECK(c->batch >= 1 && epochs >= 0, "batch %d, epochs %d", c->batch, epochs);
    check_int(in, "batch", c->batch);
    check_int(in, "epochs", epochs);
    check_int(in, "seed", (double)c->seed);
}

/* "\\n" in a value is a newline (a model's text has several lines) */
static void unescape(char *v)
{
    char *o = v;
    for (; *v; v++) *o++ = v[0] == '\\' && v[1] == 'n' ? (v++, '\n') : *v;
    *o = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const int classifier = data[0] & 1;
    char *text = malloc(size);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    kvs in = {.n = 0};
    for (char *line = text; line && *line && in.n < MAXKV;) {
        char *nl = strchr(line, '\n'), *eq = strchr(line, '=');
        if (nl) *nl = 0;
        if (eq && (!nl || eq < nl)) {
            *eq = 0;
            unescape(eq + 1);
            in.kv[in.n++] = (st_kv){line, eq + 1};
        }
        line = nl ? nl + 1 : NULL;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    tg_error err = {0};
    if (st_write_mem(NULL, 0, in.kv, (size_t)in.n, &buf, &len, &err) != TG_OK) {
        free(text);
        return 0;
    }
    st_file *f = NULL;
    FUZZ_CHECK(st_open_mem(buf, len, &f, &err) == TG_OK, "written metadata does not read: %s", err.msg);
    err.msg[0] = 0;
    if (classifier) {
        clf_cfg c;
        int epochs = -1;
        if (clf_ckpt_config(f, &c, &epochs, &err) == TG_OK) check_clf(&in, &c, epochs);
        else FUZZ_CHECK_MSG(err);
    } else {
        gan_cfg c;
        static ckpt_run run; /* 8 KB: off the stack */
        if (ckpt_config(f, &c, &run, &err) == TG_OK) check_gan(&in, f, &c, &run);
        else FUZZ_CHECK_MSG(err);
    }
    st_close(f);
    free(buf);
    free(text);
    return 0;
}
