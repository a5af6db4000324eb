/* gan.c - generator and discriminator presets. */
#include "tg_models.h"

#include <string.h>

static void layers(tg_mlp_spec *s, const int *w, int n)
{
    s->n_layers = n - 1;
    for (int k = 0; k < n; k++) s->widths[k] = w[k];
}

static const char *const names[] = {"reference", "documents", "tiny", NULL};

const char *const *tg_gan_preset_names(void) { return names; }

tg_status tg_gan_preset(const char *name, tg_gan_spec *o)
{
    if (!name || !o) return TG_ERR_ARG;
    memset(o, 0, sizeof *o);
    strcpy(o->G.group, "G");
    strcpy(o->D.group, "D");
    o->G.output = TG_MLP_TANH;  /* data are scaled to [-1, 1] */
    o->D.output = TG_MLP_NONE;  /* D emits a logit; the loss applies the sigmoid */
    o->G.slope = o->D.slope = 0.2f;
    o->G.hidden = o->D.hidden = TG_MLP_LEAKY_RELU;
    if (!strcmp(name, "reference") || !strcmp(name, "documents")) {
        layers(&o->G, (const int[]){100, 128, 256, 512, 784}, 5);
        layers(&o->D, (const int[]){784, 512, 256, 128, 1}, 5);
        if (!strcmp(name, "reference")) {
            o->D.dropout = 0.3f;
            o->init = TG_INIT_XAVIER;
        } else {
            o->G.hidden = TG_MLP_RELU;
            o->init = TG_INIT_PYTORCH;
        }
        return TG_OK;
    }
    if (!strcmp(name, "tiny")) {
        layers(&o->G, (const int[]){4, 6, 8, 12}, 4);
        layers(&o->D, (const int[]){12, 8, 6, 1}, 4);
        o->D.dropout = 0.25f;
        o->init = TG_INIT_XAVIER;
        return TG_OK;
    }
    return TG_ERR_ARG;
}
