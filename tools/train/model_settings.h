/* model_settings.h - setting types that know the engine's and the models'
 * names (settings.h has the plain ones): a hidden activation, an
 * initializer, a GAN preset, a layer list (text or @FILE) and a whole GAN
 * spec in its text form. */
#ifndef TG_MODEL_SETTINGS_H
#define TG_MODEL_SETTINGS_H

#include "settings.h"
#include "tg_models.h"

#define SET_PRESET_LEN 32   /* a preset name's buffer */
#define SET_ARCH_MAX 65536  /* an architecture's text, inline or in a file */

/* tg_act: relu, leaky_relu, sigmoid or tanh (the hidden activations the
 * commands offer; the names are the engine's, tg_act_name / tg_act_parse) */
extern const set_type set_act;
/* tg_init: pytorch, xavier or normal (names from tg_init_name) */
extern const set_type set_init;
/* char[SET_PRESET_LEN]: one of tg_gan_preset_names() */
extern const set_type set_preset;
/* tg_seq_spec: a layer list in its text form (tg_seq_parse), or "@FILE"
 * holding it; aux is the parameter group ("G", "D"). Errors name the layer. */
extern const set_type set_arch;
/* tg_gan_spec in its text form (tg_gan_spec_format / tg_gan_spec_parse) */
extern const set_type set_gan_spec;

#endif
