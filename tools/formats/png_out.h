/* png_out.h - PNG files (libpng): plain images and image grids (GAN
 * samples); line plots are plot.h.
 *
 * Every file is written atomically: to a temporary file next to `path`,
 * renamed over it on success (file_write_atomic); on failure `path` is
 * untouched and no temporary file is left.
 *
 * Errors: every function returns TG_OK, TG_ERR_ARG (bad size, count or
 * pointer), TG_ERR_IO (cannot write the file) or TG_ERR_NOMEM, with a
 * message in err (may be NULL). Nothing here prints or exits. The names
 * avoid libpng's png_ prefix. */
#ifndef TG_PNG_OUT_H
#define TG_PNG_OUT_H

#include "tg_error.h"

#include <stddef.h>
#include <stdint.h>


#define PNGOUT_MAX_SIDE 16384 /* widest / tallest image written */

/* An 8-bit image, rows top to bottom: gray is w*h bytes, rgb w*h*3. */
tg_status pngout_write_gray(const char *path, int w, int h, const uint8_t *gray, tg_error *err);
tg_status pngout_write_rgb(const char *path, int w, int h, const uint8_t *rgb, tg_error *err);

/* Image grid: n images of h x w floats (row-major, one after another), with
 * values in [-1, 1] shown as gray (v+1)*127.5 rounded (-1 black, 1 white;
 * values outside are clamped, NaN is black). Each image is upscaled `scale`
 * times (pixel replication, scale >= 1) and placed row by row in a rows x cols
 * grid separated and framed by PNGOUT_GRID_BORDER pixels of gray
 * PNGOUT_GRID_GRAY; unused cells are that gray too. rows = cols = 0 picks a
 * near-square grid; otherwise rows * cols must be >= n. The PNG is
 * cols*w*scale + (cols+1)*BORDER wide and rows*h*scale + (rows+1)*BORDER tall. */
#define PNGOUT_GRID_BORDER 2
#define PNGOUT_GRID_GRAY 128
tg_status pngout_grid(const char *path, const float *images, int n, int h, int w, int rows, int cols, int scale,
                      tg_error *err);

#endif
