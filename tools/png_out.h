/* png_out.h - PNG output for the CLI (libpng): plain images, image grids
 * (GAN samples) and line plots (training curves, activation studies).
 *
 * Every file is written atomically: to a temporary file next to `path`,
 * renamed over it on success (cli_write_atomic); on failure `path` is
 * untouched and no temporary file is left.
 *
 * Errors: every function returns PNGOUT_OK (0) or a pngout_status code and on
 * failure writes a message into err[errlen] (err may be NULL). Nothing here
 * prints or exits. The names avoid libpng's png_ prefix. */
#ifndef TG_PNG_OUT_H
#define TG_PNG_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum pngout_status {
    PNGOUT_OK = 0,
    PNGOUT_ERR_ARG,   /* bad size, count or pointer */
    PNGOUT_ERR_IO,    /* cannot write the file */
    PNGOUT_ERR_NOMEM
} pngout_status;

#define PNGOUT_MAX_SIDE 16384 /* widest / tallest image written */

/* An 8-bit image, rows top to bottom: gray is w*h bytes, rgb w*h*3. */
int pngout_write_gray(const char *path, int w, int h, const uint8_t *gray, char *err, size_t errlen);
int pngout_write_rgb(const char *path, int w, int h, const uint8_t *rgb, char *err, size_t errlen);

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
int pngout_grid(const char *path, const float *images, int n, int h, int w, int rows, int cols,
                int scale, char *err, size_t errlen);

/* ---- line plots ----------------------------------------------------------
 * Axes with nice round ticks and numeric labels, light grid lines, axis
 * labels, a title, a legend box (in the corner that hides the fewest points),
 * 2-pixel anti-aliased lines. Text uses a built-in 5x7 ASCII font. The
 * background is white (PLOT_BACKGROUND), the frame around the plot area dark
 * gray. Non-finite points, points with |x| or |y| > PLOT_MAX_ABS and, with
 * log_y, points with y <= 0 are skipped and break the line; a series with no
 * points still gets a legend entry. */
#define PLOT_BACKGROUND 255
#define PLOT_MAX_ABS 1e300

/* A fixed palette; PLOT_AUTO takes the series' position in the array. */
enum plot_color {
    PLOT_AUTO = 0,
    PLOT_BLUE, PLOT_ORANGE, PLOT_GREEN, PLOT_RED, PLOT_PURPLE,
    PLOT_BROWN, PLOT_PINK, PLOT_GRAY, PLOT_OLIVE, PLOT_CYAN,
    PLOT_NCOLORS
};

typedef struct plot_series {
    const char *name;   /* legend text; NULL or "" for none */
    int n;              /* number of points, >= 0 */
    const double *x;    /* (n) or NULL for x = 0, 1, ..., n-1 */
    const double *y;    /* (n) */
    int color;          /* enum plot_color */
    int dashed;         /* 1: dashed line */
} plot_series;

typedef struct plot_opts {
    int log_y;          /* 1: logarithmic y axis (decades) */
    int no_legend;      /* 1: no legend box */
} plot_opts;

/* Render `nseries` series into a w x h RGB PNG (64 <= w, h <= 8192). title,
 * xlabel, ylabel may be NULL. opts may be NULL (linear y, legend shown). */
int plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
               const plot_series *series, int nseries, int w, int h, char *err, size_t errlen);
int plot_lines_opts(const char *path, const char *title, const char *xlabel, const char *ylabel,
                    const plot_series *series, int nseries, int w, int h, const plot_opts *opts,
                    char *err, size_t errlen);

/* The RGB of a palette color (PLOT_AUTO and out-of-range values wrap). */
void plot_color_rgb(int color, uint8_t rgb[3]);

#endif
