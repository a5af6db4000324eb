/* models_text.h - number spelling shared by the text forms of models/
 * (seq.c: layer lists, gan_spec.c: GAN specs). Internal to models/. */
#ifndef TG_MODELS_TEXT_H
#define TG_MODELS_TEXT_H

#include <stddef.h>

/* v in its shortest decimal form that reads back as the same float (6 to 9
 * significant digits), into buf; returns buf */
const char *tgm_float_str(float v, char *buf, size_t len);
/* t as a whole int / a finite float, nothing else; 1 on success */
int tgm_parse_int(const char *t, int *v);
int tgm_parse_float(const char *t, float *v);

#endif
