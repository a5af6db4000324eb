/* plot.c - line plots as RGB PNG files (plot.h): a canvas, a built-in 5x7
 * font, nice axis ticks, anti-aliased lines, a legend. */
#include "plot.h"

#include "png_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- canvas and text ---------------------------------------------------- */

typedef struct canvas {
    int w, h;
    uint8_t *rgb;   /* (h, w, 3) */
} canvas;

typedef struct rgb3 {
    uint8_t r, g, b;
} rgb3;

static void blend(canvas *c, int x, int y, rgb3 col, float a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || !(a > 0)) return;
    uint8_t *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    if (a >= 1) {
        p[0] = col.r;
        p[1] = col.g;
        p[2] = col.b;
        return;
    }
    p[0] = (uint8_t)(p[0] + (col.r - p[0]) * a + 0.5f);
    p[1] = (uint8_t)(p[1] + (col.g - p[1]) * a + 0.5f);
    p[2] = (uint8_t)(p[2] + (col.b - p[2]) * a + 0.5f);
}

static void fill(canvas *c, int x0, int y0, int x1, int y1, rgb3 col) /* inclusive */
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) blend(c, x, y, col, 1);
}

/* 5x7 glyphs for ASCII 32..126, one byte per row (bit 4 = leftmost column),
 * drawn for this file. Cells are 6x8 (one column and one row of spacing);
 * g p q y are drawn two rows lower (descenders). */
static const uint8_t font[95][7] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00}, /* ' ' */
    {0x04,0x04,0x04,0x04,0x04,0x00,0x04}, /* '!' */
    {0x0a,0x0a,0x0a,0x00,0x00,0x00,0x00}, /* '"' */
    {0x0a,0x0a,0x1f,0x0a,0x1f,0x0a,0x0a}, /* '#' */
    {0x04,0x0f,0x14,0x0e,0x05,0x1e,0x04}, /* '$' */
    {0x18,0x19,0x02,0x04,0x08,0x13,0x03}, /* '%' */
    {0x0c,0x12,0x14,0x08,0x15,0x12,0x0d}, /* '&' */
    {0x04,0x04,0x08,0x00,0x00,0x00,0x00}, /* ''' */
    {0x02,0x04,0x08,0x08,0x08,0x04,0x02}, /* '(' */
    {0x08,0x04,0x02,0x02,0x02,0x04,0x08}, /* ')' */
    {0x00,0x04,0x15,0x0e,0x15,0x04,0x00}, /* star */
    {0x00,0x04,0x04,0x1f,0x04,0x04,0x00}, /* '+' */
    {0x00,0x00,0x00,0x00,0x0c,0x04,0x08}, /* ',' */
    {0x00,0x00,0x00,0x1f,0x00,0x00,0x00}, /* '-' */
    {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c}, /* '.' */
    {0x00,0x01,0x02,0x04,0x08,0x10,0x00}, /* slash */
    {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e}, /* '0' */
    {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e}, /* '1' */
    {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f}, /* '2' */
    {0x1f,0x02,0x04,0x02,0x01,0x11,0x0e}, /* '3' */
    {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02}, /* '4' */
    {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e}, /* '5' */
    {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e}, /* '6' */
    {0x1f,0x01,0x02,0x04,0x08,0x08,0x08}, /* '7' */
    {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e}, /* '8' */
    {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c}, /* '9' */
    {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00}, /* ':' */
    {0x00,0x0c,0x0c,0x00,0x0c,0x04,0x08}, /* ';' */
    {0x02,0x04,0x08,0x10,0x08,0x04,0x02}, /* '<' */
    {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00}, /* '=' */
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08}, /* '>' */
    {0x0e,0x11,0x01,0x02,0x04,0x00,0x04}, /* '?' */
    {0x0e,0x11,0x01,0x0d,0x15,0x15,0x0e}, /* '@' */
    {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11}, /* 'A' */
    {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e}, /* 'B' */
    {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e}, /* 'C' */
    {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c}, /* 'D' */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f}, /* 'E' */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10}, /* 'F' */
    {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f}, /* 'G' */
    {0x11,0x11,0x11,0x1f,0x11,0x11,0x11}, /* 'H' */
    {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e}, /* 'I' */
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0c}, /* 'J' */
    {0x11,0x12,0x14,0x18,0x14,0x12,0x11}, /* 'K' */
    {0x10,0x10,0x10,0x10,0x10,0x10,0x1f}, /* 'L' */
    {0x11,0x1b,0x15,0x15,0x11,0x11,0x11}, /* 'M' */
    {0x11,0x11,0x19,0x15,0x13,0x11,0x11}, /* 'N' */
    {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e}, /* 'O' */
    {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10}, /* 'P' */
    {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d}, /* 'Q' */
    {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11}, /* 'R' */
    {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e}, /* 'S' */
    {0x1f,0x04,0x04,0x04,0x04,0x04,0x04}, /* 'T' */
    {0x11,0x11,0x11,0x11,0x11,0x11,0x0e}, /* 'U' */
    {0x11,0x11,0x11,0x11,0x11,0x0a,0x04}, /* 'V' */
    {0x11,0x11,0x11,0x15,0x15,0x15,0x0a}, /* 'W' */
    {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11}, /* 'X' */
    {0x11,0x11,0x0a,0x04,0x04,0x04,0x04}, /* 'Y' */
    {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f}, /* 'Z' */
    {0x0e,0x08,0x08,0x08,0x08,0x08,0x0e}, /* '[' */
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00}, /* backslash */
    {0x0e,0x02,0x02,0x02,0x02,0x02,0x0e}, /* ']' */
    {0x04,0x0a,0x11,0x00,0x00,0x00,0x00}, /* '^' */
    {0x00,0x00,0x00,0x00,0x00,0x00,0x1f}, /* '_' */
    {0x08,0x04,0x02,0x00,0x00,0x00,0x00}, /* '`' */
    {0x00,0x00,0x0e,0x01,0x0f,0x11,0x0f}, /* 'a' */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1e}, /* 'b' */
    {0x00,0x00,0x0e,0x10,0x10,0x11,0x0e}, /* 'c' */
    {0x01,0x01,0x0d,0x13,0x11,0x11,0x0f}, /* 'd' */
    {0x00,0x00,0x0e,0x11,0x1f,0x10,0x0e}, /* 'e' */
    {0x06,0x09,0x08,0x1c,0x08,0x08,0x08}, /* 'f' */
    {0x0f,0x11,0x11,0x11,0x0f,0x01,0x0e}, /* 'g' */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11}, /* 'h' */
    {0x04,0x00,0x0c,0x04,0x04,0x04,0x0e}, /* 'i' */
    {0x02,0x00,0x06,0x02,0x02,0x12,0x0c}, /* 'j' */
    {0x10,0x10,0x12,0x14,0x18,0x14,0x12}, /* 'k' */
    {0x0c,0x04,0x04,0x04,0x04,0x04,0x0e}, /* 'l' */
    {0x00,0x00,0x1a,0x15,0x15,0x11,0x11}, /* 'm' */
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11}, /* 'n' */
    {0x00,0x00,0x0e,0x11,0x11,0x11,0x0e}, /* 'o' */
    {0x1e,0x11,0x11,0x11,0x1e,0x10,0x10}, /* 'p' */
    {0x0f,0x11,0x11,0x11,0x0f,0x01,0x01}, /* 'q' */
    {0x00,0x00,0x16,0x19,0x10,0x10,0x10}, /* 'r' */
    {0x00,0x00,0x0e,0x10,0x0e,0x01,0x1e}, /* 's' */
    {0x08,0x08,0x1c,0x08,0x08,0x09,0x06}, /* 't' */
    {0x00,0x00,0x11,0x11,0x11,0x13,0x0d}, /* 'u' */
    {0x00,0x00,0x11,0x11,0x11,0x0a,0x04}, /* 'v' */
    {0x00,0x00,0x11,0x11,0x15,0x15,0x0a}, /* 'w' */
    {0x00,0x00,0x11,0x0a,0x04,0x0a,0x11}, /* 'x' */
    {0x11,0x11,0x11,0x11,0x0f,0x01,0x0e}, /* 'y' */
    {0x00,0x00,0x1f,0x02,0x04,0x08,0x1f}, /* 'z' */
    {0x02,0x04,0x04,0x08,0x04,0x04,0x02}, /* '{' */
    {0x04,0x04,0x04,0x04,0x04,0x04,0x04}, /* '|' */
    {0x08,0x04,0x04,0x02,0x04,0x04,0x08}, /* '}' */
    {0x00,0x00,0x08,0x15,0x02,0x00,0x00}, /* '~' */
};

#define CELL_W 6
#define CELL_H 8

static int text_w(const char *s, int sc) { return s && *s ? ((int)strlen(s) * CELL_W - 1) * sc : 0; }

/* Draw s with its top-left corner at (x, y); vertical: rotated 90 degrees
 * counter-clockwise, reading upwards from its bottom-left corner at (x, y). */
static void text(canvas *c, int x, int y, const char *s, int sc, rgb3 col, int vertical)
{
    for (int k = 0; s && s[k]; k++) {
        unsigned ch = (unsigned char)s[k];
        const uint8_t *g = font[(ch >= 32 && ch < 127 ? ch : '?') - 32];
        int low = ch == 'g' || ch == 'p' || ch == 'q' || ch == 'y' ? 2 : 0;
        for (int gy = 0; gy < 7; gy++)
            for (int gx = 0; gx < 5; gx++) {
                if (!(g[gy] & (0x10 >> gx))) continue;
                for (int dy = 0; dy < sc; dy++)
                    for (int dx = 0; dx < sc; dx++) {
                        int u = (k * CELL_W + gx) * sc + dx, v = (gy + low) * sc + dy;
                        if (vertical) blend(c, x + v, y - u, col, 1);
                        else blend(c, x + u, y + v, col, 1);
                    }
            }
    }
}

/* ---- line plots --------------------------------------------------------- */

static const rgb3 palette[PLOT_NCOLORS - 1] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

static rgb3 color_of(int color, int index)
{
    int k = color >= 1 && color < PLOT_NCOLORS ? color - 1 : index;
    k %= PLOT_NCOLORS - 1;
    return palette[k < 0 ? k + PLOT_NCOLORS - 1 : k];
}

void plot_color_rgb(int color, uint8_t rgb[3])
{
    rgb3 c = color_of(color, color - 1);
    rgb[0] = c.r;
    rgb[1] = c.g;
    rgb[2] = c.b;
}

static const rgb3 C_TEXT = {30, 30, 30}, C_FRAME = {60, 60, 60}, C_GRID = {228, 228, 228},
                  C_LEGEND = {170, 170, 170}, C_WHITE = {PLOT_BACKGROUND, PLOT_BACKGROUND, PLOT_BACKGROUND};

#define MAX_TICKS 64

typedef struct axis {
    double lo, hi;            /* data range shown (log10 units for a log axis) */
    int log;
    int n, nminor;
    double t[MAX_TICKS];      /* major ticks, in axis units */
    double minor[MAX_TICKS];
    char label[MAX_TICKS][24];
} axis;

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void fmt_value(char *buf, size_t n, double v, double step)
{
    double big = fabs(v) > fabs(step) ? fabs(v) : fabs(step);
    if (fabs(v) < fabs(step) * 1e-9) v = 0;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (big >= 1e7 || dec > 6) snprintf(buf, n, "%.3g", v);
    else snprintf(buf, n, "%.*f", dec, v);
}

/* Linear ticks over [lo, hi] in value space; `log` maps them to log10. */
static void linear_ticks(axis *a, double lo, double hi, int target, int log)
{
    double step = nice_step(hi - lo, target), first = ceil(lo / step - 1e-9) * step;
    a->n = 0;
    for (int i = 0; a->n < MAX_TICKS; i++) {
        double v = first + i * step;
        if (v > hi + step * 1e-9) break;
        fmt_value(a->label[a->n], sizeof a->label[0], v, step);
        a->t[a->n++] = log ? log10(v) : v;
    }
}

static void make_ticks(axis *a, int target)
{
    a->n = a->nminor = 0;
    if (!a->log) {
        linear_ticks(a, a->lo, a->hi, target, 0);
        return;
    }
    int e0 = (int)ceil(a->lo - 1e-9), e1 = (int)floor(a->hi + 1e-9);
    if (e1 - e0 < 1) { /* within about a decade: round values on a log scale */
        linear_ticks(a, pow(10, a->lo), pow(10, a->hi), target, 1);
        return;
    }
    int stride = (e1 - e0 + target - 1) / target, few = e1 - e0 < 3; /* few decades: 1, 2, 5 */
    int sub = stride == 1 && e1 - e0 <= 6; /* minor ticks at 2..9 x 10^e */
    for (int e = e0 - sub; e <= e1 && a->n < MAX_TICKS; e += stride) {
        for (int m = 1; m <= 9 && sub; m++) {
            double v = e + log10(m);
            if (v < a->lo || v > a->hi) continue;
            if (m == 1 || (few && (m == 2 || m == 5))) {
                snprintf(a->label[a->n], sizeof a->label[0], "%g", m * pow(10, e));
                a->t[a->n++] = v;
            } else if (a->nminor < MAX_TICKS) {
                a->minor[a->nminor++] = v;
            }
            if (a->n == MAX_TICKS) break;
        }
        if (!sub) {
            snprintf(a->label[a->n], sizeof a->label[0], "%g", pow(10, e));
            a->t[a->n++] = e;
        }
    }
}

typedef struct frame {
    int x0, y0, x1, y1;   /* plot area, inclusive */
    axis ax, ay;
} frame;

static double map_x(const frame *f, double x) { return f->x0 + (x - f->ax.lo) / (f->ax.hi - f->ax.lo) * (f->x1 - f->x0); }
static double map_y(const frame *f, double y) { return f->y1 - (y - f->ay.lo) / (f->ay.hi - f->ay.lo) * (f->y1 - f->y0); }

/* Point i of s in axis units (log10 for a log y axis); 0 if it is skipped. */
static int point(const plot_series *s, int i, int log_y, double *x, double *y)
{
    *x = s->x ? s->x[i] : i;
    *y = s->y[i];
    if (!(fabs(*x) <= PLOT_MAX_ABS) || !(fabs(*y) <= PLOT_MAX_ABS)) return 0; /* also NaN, Inf */
    if (log_y) {
        if (!(*y > 0)) return 0;
        *y = log10(*y);
    }
    return 1;
}

static void pad_range(double *lo, double *hi, double frac)
{
    if (*lo > *hi) { /* no points */
        *lo = 0;
        *hi = 1;
    }
    if (*hi - *lo < 1e-12 * (fabs(*lo) + 1)) {
        double d = fabs(*lo) > 1 ? fabs(*lo) * 0.05 : 0.5;
        *lo -= d;
        *hi += d;
    }
    double d = (*hi - *lo) * frac;
    *lo -= d;
    *hi += d;
}

/* Coverage of a 2r-wide capsule from a to b, max-ed into mask m (mw x mh,
 * pixel centers at integer coordinates). s0: arc length at a (dashes). */
static void segment(float *m, int mw, int mh, double ax, double ay, double bx, double by, double r, double s0,
                    int dashed)
{
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, len = sqrt(len2);
    int steep = fabs(dy) > fabs(dx);
    double u0 = steep ? ay : ax, u1 = steep ? by : bx, du = steep ? dy : dx, dv = steep ? dx : dy;
    double v0 = steep ? ax : ay;
    int ulo = (int)floor((u0 < u1 ? u0 : u1) - r - 1), uhi = (int)ceil((u0 > u1 ? u0 : u1) + r + 1);
    int ulim = steep ? mh - 1 : mw - 1, vlim = steep ? mw - 1 : mh - 1;
    if (ulo < 0) ulo = 0;
    if (uhi > ulim) uhi = ulim;
    for (int u = ulo; u <= uhi; u++) {
        double t = du != 0 ? (u - u0) / du : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double vc = v0 + t * dv;
        int vlo = (int)floor(vc - r - 2), vhi = (int)ceil(vc + r + 2);
        if (vlo < 0) vlo = 0;
        if (vhi > vlim) vhi = vlim;
        for (int v = vlo; v <= vhi; v++) {
            double px = steep ? v : u, py = steep ? u : v;
            double tt = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
            tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
            double d = hypot(px - (ax + tt * dx), py - (ay + tt * dy));
            double cov = r + 0.5 - d;
            if (cov <= 0) continue;
            if (dashed && fmod(s0 + tt * len, 12.0) >= 7.0) continue;
            float *p = m + (size_t)py * (size_t)mw + (size_t)px;
            if (cov > *p) *p = (float)(cov > 1 ? 1 : cov);
        }
    }
}

static void draw_series(canvas *c, const frame *f, const plot_series *s, rgb3 col, int log_y, float *mask)
{
    int mw = f->x1 - f->x0 + 1, mh = f->y1 - f->y0 + 1;
    memset(mask, 0, (size_t)mw * (size_t)mh * sizeof *mask);
    double px = 0, py = 0, arc = 0;
    int have = 0;
    for (int i = 0; i < s->n; i++) {
        double x, y;
        if (!point(s, i, log_y, &x, &y)) {
            have = 0;
            continue;
        }
        double qx = map_x(f, x) - f->x0, qy = map_y(f, y) - f->y0;
        if (!have) { /* a lone point shows as a dot; a line start is redrawn below */
            segment(mask, mw, mh, qx, qy, qx, qy, 1.0, arc, 0);
        } else {
            segment(mask, mw, mh, px, py, qx, qy, 1.0, arc, s->dashed);
            arc += hypot(qx - px, qy - py);
        }
        px = qx;
        py = qy;
        have = 1;
    }
    for (int y = 0; y < mh; y++)
        for (int x = 0; x < mw; x++) blend(c, f->x0 + x, f->y0 + y, col, mask[(size_t)y * (size_t)mw + (size_t)x]);
}

static void legend(canvas *c, const frame *f, const plot_series *ss, int ns, int log_y)
{
    int nent = 0, maxw = 0;
    for (int i = 0; i < ns; i++)
        if (ss[i].name && *ss[i].name) {
            nent++;
            if (text_w(ss[i].name, 1) > maxw) maxw = text_w(ss[i].name, 1);
        }
    if (!nent) return;
    int lw = 8 + 22 + 6 + maxw + 8, lh = 6 + nent * 12 + 2;
    int xs[4] = {f->x1 - 8 - lw, f->x0 + 8, f->x1 - 8 - lw, f->x0 + 8};
    int ys[4] = {f->y0 + 8, f->y0 + 8, f->y1 - 8 - lh, f->y1 - 8 - lh};
    int best = 0;
    long bestn = -1;
    for (int k = 0; k < 4; k++) { /* the corner that hides the fewest points */
        long cnt = 0;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ss[i].n; j++) {
                double x, y;
                if (!point(&ss[i], j, log_y, &x, &y)) continue;
                double qx = map_x(f, x), qy = map_y(f, y);
                cnt += qx >= xs[k] - 2 && qx <= xs[k] + lw + 2 && qy >= ys[k] - 2 && qy <= ys[k] + lh + 2;
            }
        if (bestn < 0 || cnt < bestn) {
            bestn = cnt;
            best = k;
        }
    }
    int lx = xs[best], ly = ys[best];
    fill(c, lx, ly, lx + lw, ly + lh, C_WHITE);
    fill(c, lx, ly, lx + lw, ly, C_LEGEND);
    fill(c, lx, ly + lh, lx + lw, ly + lh, C_LEGEND);
    fill(c, lx, ly, lx, ly + lh, C_LEGEND);
    fill(c, lx + lw, ly, lx + lw, ly + lh, C_LEGEND);
    int e = 0;
    for (int i = 0; i < ns; i++) {
        if (!ss[i].name || !*ss[i].name) continue;
        int cy = ly + 6 + e * 12 + 3;
        rgb3 col = color_of(ss[i].color, i);
        for (int x = 0; x < 22; x++)
            if (!ss[i].dashed || x % 8 < 5) fill(c, lx + 8 + x, cy, lx + 8 + x, cy + 1, col);
        text(c, lx + 8 + 22 + 6, cy - 3, ss[i].name, 1, C_TEXT, 0);
        e++;
    }
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void render(canvas *c, frame *f, const char *title, const char *xlabel, const char *ylabel,
                   const plot_series *ss, int ns, const plot_opts *o, float *mask)
{
    for (int i = 0; i < f->ax.n; i++) {
        int x = (int)lround(map_x(f, f->ax.t[i]));
        fill(c, x, f->y0, x, f->y1, C_GRID);
    }
    for (int i = 0; i < f->ay.n; i++) {
        int y = (int)lround(map_y(f, f->ay.t[i]));
        fill(c, f->x0, y, f->x1, y, C_GRID);
    }
    for (int i = 0; i < ns; i++)
        if (ss[i].n > 0) draw_series(c, f, &ss[i], color_of(ss[i].color, i), o->log_y, mask);
    fill(c, f->x0, f->y0, f->x1, f->y0, C_FRAME);
    fill(c, f->x0, f->y1, f->x1, f->y1, C_FRAME);
    fill(c, f->x0, f->y0, f->x0, f->y1, C_FRAME);
    fill(c, f->x1, f->y0, f->x1, f->y1, C_FRAME);
    for (int i = 0; i < f->ax.n; i++) {
        int x = (int)lround(map_x(f, f->ax.t[i]));
        fill(c, x, f->y1 + 1, x, f->y1 + 5, C_FRAME);
        text(c, x - text_w(f->ax.label[i], 1) / 2, f->y1 + 9, f->ax.label[i], 1, C_TEXT, 0);
    }
    for (int i = 0; i < f->ay.n; i++) {
        int y = (int)lround(map_y(f, f->ay.t[i]));
        fill(c, f->x0 - 5, y, f->x0 - 1, y, C_FRAME);
        text(c, f->x0 - 9 - text_w(f->ay.label[i], 1), y - 3, f->ay.label[i], 1, C_TEXT, 0);
    }
    for (int i = 0; i < f->ay.nminor; i++) {
        int y = (int)lround(map_y(f, f->ay.minor[i]));
        fill(c, f->x0 - 3, y, f->x0 - 1, y, C_FRAME);
    }
    if (xlabel && *xlabel)
        text(c, (f->x0 + f->x1) / 2 - text_w(xlabel, 1) / 2, f->y1 + 9 + CELL_H + 6, xlabel, 1, C_TEXT, 0);
    if (ylabel && *ylabel) text(c, 8, (f->y0 + f->y1) / 2 + text_w(ylabel, 1) / 2, ylabel, 1, C_TEXT, 1);
    if (title && *title) {
        int ts = c->w >= 480 && c->h >= 320 ? 2 : 1;
        if (text_w(title, ts) > c->w - 16) ts = 1;
        text(c, clampi(c->w / 2 - text_w(title, ts) / 2, 4, c->w), 10, title, ts, C_TEXT, 0);
    }
    if (!o->no_legend) legend(c, f, ss, ns, o->log_y);
}

tg_status plot_lines_opts(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const plot_series *ss, int ns, int w, int h, const plot_opts *opts, tg_error *err)
{
    plot_opts o = {0, 0};
    if (opts) o = *opts;
    if (w < 64 || h < 64 || w > 8192 || h > 8192)
        return tg_error_set(err, TG_ERR_ARG, "plot: size %dx%d is out of range (64..8192 per side)", w, h);
    if (ns < 0 || ns > 1000 || (ns > 0 && !ss))
        return tg_error_set(err, TG_ERR_ARG, "plot: bad series count %d", ns);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < ns; i++) {
        if (ss[i].n < 0 || (ss[i].n > 0 && !ss[i].y))
            return tg_error_set(err, TG_ERR_ARG, "plot: series %d ('%s') has %d points and %s y values", i,
                        ss[i].name ? ss[i].name : "", ss[i].n, ss[i].y ? "some" : "no");
        for (int j = 0; j < ss[i].n; j++) {
            double x, y;
            if (!point(&ss[i], j, o.log_y, &x, &y)) continue;
            xlo = fmin(xlo, x);
            xhi = fmax(xhi, x);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
        }
    }
    frame *f = calloc(1, sizeof *f);
    if (!f) return tg_error_set(err, TG_ERR_NOMEM, "plot: out of memory");
    pad_range(&xlo, &xhi, 0.02);
    pad_range(&ylo, &yhi, 0.05);
    f->ax.lo = xlo;
    f->ax.hi = xhi;
    f->ay.lo = ylo;
    f->ay.hi = yhi;
    f->ay.log = o.log_y;
    make_ticks(&f->ax, clampi((w - 100) / 90, 3, 10));
    make_ticks(&f->ay, clampi((h - 80) / 50, 3, 10));
    int maxw = 0;
    for (int i = 0; i < f->ay.n; i++)
        if (text_w(f->ay.label[i], 1) > maxw) maxw = text_w(f->ay.label[i], 1);
    int ts = w >= 480 && h >= 320 ? 2 : 1;
    int lastw = f->ax.n ? text_w(f->ax.label[f->ax.n - 1], 1) / 2 : 0;
    f->x0 = 8 + (ylabel && *ylabel ? CELL_H + 8 : 0) + maxw + 9;
    f->x1 = w - 1 - (lastw + 6 > 14 ? lastw + 6 : 14);
    f->y0 = 12 + (title && *title ? CELL_H * ts + 10 : 0);
    f->y1 = h - 1 - (9 + CELL_H + (xlabel && *xlabel ? 6 + CELL_H : 0) + 8);
    if (f->x1 - f->x0 < 24 || f->y1 - f->y0 < 24) {
        free(f);
        return tg_error_set(err, TG_ERR_ARG, "plot: %dx%d leaves no room for the plot area", w, h);
    }
    canvas c = {w, h, malloc((size_t)w * (size_t)h * 3)};
    float *mask = malloc((size_t)(f->x1 - f->x0 + 1) * (size_t)(f->y1 - f->y0 + 1) * sizeof *mask);
    tg_status rc;
    if (!c.rgb || !mask) {
        rc = tg_error_set(err, TG_ERR_NOMEM, "plot: out of memory");
    } else {
        memset(c.rgb, PLOT_BACKGROUND, (size_t)w * (size_t)h * 3);
        render(&c, f, title, xlabel, ylabel, ss, ns, &o, mask);
        rc = pngout_write_rgb(path, w, h, c.rgb, err);
    }
    free(mask);
    free(c.rgb);
    free(f);
    return rc;
}

tg_status plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                     const plot_series *series, int nseries, int w, int h, tg_error *err)
{
    return plot_lines_opts(path, title, xlabel, ylabel, series, nseries, w, h, NULL, err);
}
