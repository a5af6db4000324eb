/* png_out.c - PNG files and image grids (png_out.h); line plots are plot.c. */
#include "png_out.h"

#include "files.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PNG writing -------------------------------------------------------- */

typedef struct pctx {
    int w, h, channels;
    const uint8_t *pix;
    char msg[200];   /* libpng's error message, if any */
} pctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    pctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* warnings are not errors, and this module never prints */
    (void)msg;
}

/* Rows are written by one libpng call so that nothing local changes between
 * setjmp and a longjmp. */
static int write_png(FILE *out, void *p)
{
    pctx *c = p;
    size_t stride = (size_t)c->w * (size_t)c->channels;
    png_bytep *rows = malloc((size_t)c->h * sizeof *rows);
    if (!rows) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return -1;
    }
    for (int y = 0; y < c->h; y++) rows[y] = (png_bytep)(uintptr_t)(c->pix + (size_t)y * stride);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        free(rows);
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return -1;
    }
    png_init_io(png, out);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8,
                 c->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return 0;
}

static tg_status write_image(const char *path, int w, int h, int channels, const uint8_t *pix, tg_error *err)
{
    if (!path || !*path) return tg_error_set(err, TG_ERR_ARG, "png: empty file name");
    if (w < 1 || h < 1 || w > PNGOUT_MAX_SIDE || h > PNGOUT_MAX_SIDE)
        return tg_error_set(err, TG_ERR_ARG, "png: size %dx%d is out of range (1..%d per side)", w, h,
                    PNGOUT_MAX_SIDE);
    if (!pix) return tg_error_set(err, TG_ERR_ARG, "png: no pixels");
    pctx c = {w, h, channels, pix, ""};
    tg_error why;
    if (file_write_atomic(path, write_png, &c, &why) != TG_OK) {
        if (c.msg[0]) return tg_error_set(err, TG_ERR_IO, "cannot write '%s': %s", path, c.msg);
        return tg_error_set(err, why.code, "%s", why.msg);
    }
    return TG_OK;
}

tg_status pngout_write_gray(const char *path, int w, int h, const uint8_t *gray, tg_error *err)
{
    return write_image(path, w, h, 1, gray, err);
}

tg_status pngout_write_rgb(const char *path, int w, int h, const uint8_t *rgb, tg_error *err)
{
    return write_image(path, w, h, 3, rgb, err);
}

/* ---- image grid --------------------------------------------------------- */

static uint8_t to_gray(float v)
{
    if (!(v > -1.0f)) return 0; /* also NaN */
    if (v >= 1.0f) return 255;
    return (uint8_t)floorf((v + 1.0f) * 127.5f + 0.5f);
}

tg_status pngout_grid(const char *path, const float *images, int n, int h, int w, int rows, int cols, int scale,
                      tg_error *err)
{
    const int B = PNGOUT_GRID_BORDER;
    if (n < 1 || h < 1 || w < 1 || !images)
        return tg_error_set(err, TG_ERR_ARG, "grid: need at least one image of at least 1x1 (got %d of %dx%d)",
                    n, h, w);
    if (scale < 1 || scale > 64) return tg_error_set(err, TG_ERR_ARG, "grid: scale %d is out of range (1..64)", scale);
    if (rows == 0 && cols == 0) {
        cols = (int)ceil(sqrt((double)n));
        rows = (n + cols - 1) / cols;
    }
    if (rows < 1 || cols < 1 || (long long)rows * cols < n)
        return tg_error_set(err, TG_ERR_ARG, "grid: %d x %d cells cannot hold %d images", rows, cols, n);
    long long cw = (long long)w * scale, ch = (long long)h * scale;
    long long W = cols * cw + (long long)(cols + 1) * B, H = rows * ch + (long long)(rows + 1) * B;
    if (W > PNGOUT_MAX_SIDE || H > PNGOUT_MAX_SIDE)
        return tg_error_set(err, TG_ERR_ARG, "grid: image would be %lldx%lld, over the limit of %d per side", W, H,
                    PNGOUT_MAX_SIDE);
    uint8_t *pix = malloc((size_t)W * (size_t)H);
    if (!pix) return tg_error_set(err, TG_ERR_NOMEM, "grid: out of memory");
    memset(pix, PNGOUT_GRID_GRAY, (size_t)W * (size_t)H);
    for (int k = 0; k < n; k++) {
        const float *img = images + (size_t)k * (size_t)h * (size_t)w;
        size_t x0 = (size_t)(B + (k % cols) * (cw + B)), y0 = (size_t)(B + (k / cols) * (ch + B));
        for (long long y = 0; y < ch; y++) {
            uint8_t *row = pix + (y0 + (size_t)y) * (size_t)W + x0;
            const float *src = img + (size_t)(y / scale) * (size_t)w;
            for (long long x = 0; x < cw; x++) row[x] = to_gray(src[x / scale]);
        }
    }
    tg_status rc = write_image(path, (int)W, (int)H, 1, pix, err);
    free(pix);
    return rc;
}

