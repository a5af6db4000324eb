/* sample.h - images from a GAN's generator: G built from a spec (any layer
 * list), its parameters read from a checkpoint, run in chunks on
 * z ~ N(0, I); and pixels in [-1, 1] as bytes. */
#ifndef TG_SAMPLE_H
#define TG_SAMPLE_H

#include "safetensors.h"
#include "tg_models.h"

#include <stdint.h>

#define SAMPLE_CHUNK 1000   /* samples per forward pass */
#define SAMPLE_STREAM 7     /* the noise's stream of the seed */

/* n samples (n, x_dim) into *images (malloc'd, the caller frees it), from
 * the generator of spec with group "G" read from f (ema: its moving
 * average, "ema/G/..."), in eval mode (batch_norm on its running
 * statistics: a sample does not depend on the others of its chunk), noise
 * from seed. */
tg_status gan_sample(const tg_gan_spec *spec, const st_file *f, int ema, int n, uint64_t seed, int threads,
                     float **images, tg_error *err);
/* x in [-1, 1] as 0..255: floor((x + 1) 127.5 + 0.5), clamped */
void images_to_u8(const float *x, size_t n, uint8_t *out);

#endif
