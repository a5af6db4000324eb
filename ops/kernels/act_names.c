/* act_names.c - the activations' names (tg_act.h). */
#include "tg_act.h"

#include <string.h>

static const char *const names[TG_ACT_COUNT] = {"none", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"};

const char *tg_act_name(tg_act a) { return a >= 0 && a < TG_ACT_COUNT ? names[a] : "?"; }

int tg_act_parse(const char *s, tg_act *out)
{
    for (int i = 0; s && i < TG_ACT_COUNT; i++)
        if (!strcmp(s, names[i])) {
            *out = (tg_act)i;
            return 1;
        }
    return 0;
}

const char *tg_act_names(void) { return "none, relu, leaky_relu, sigmoid, tanh, softplus"; }
