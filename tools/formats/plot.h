/* plot.h - line plots as RGB PNG files (plot.c), written atomically like
 * every PNG (png_out.h); errors as there.
 *
 * Axes with nice round ticks and numeric labels, light grid lines, axis
 * labels, a title, a legend box (in the corner that hides the fewest points),
 * 2-pixel anti-aliased lines. Text uses a built-in 5x7 ASCII font. The
 * background is white (PLOT_BACKGROUND), the frame around the plot area dark
 * gray. Non-finite points, points with |x| or |y| > PLOT_MAX_ABS and, with
 * log_y, points with y <= 0 are skipped and break the line; a series with no
 * points still gets a legend entry. */
#ifndef TG_PLOT_H
#define TG_PLOT_H

#include "tg_error.h"

#include <stdint.h>

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
tg_status plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                     const plot_series *series, int nseries, int w, int h, tg_error *err);
tg_status plot_lines_opts(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const plot_series *series, int nseries, int w, int h, const plot_opts *opts,
                          tg_error *err);

/* The RGB of a palette color (PLOT_AUTO and out-of-range values wrap). */
void plot_color_rgb(int color, uint8_t rgb[3]);

#endif
