/* test_io.c - the CLI's file I/O: IDX files and the MNIST loader (tools/formats/idx.c),
 * PNG images, grids and plots (tools/formats/png_out.c, plot.c).
 *
 * Fixtures come from $TG_FIXTURES (tests/meson.build points it at
 * tests/fixtures/idx; tests/fixtures/make_idx_fixtures.py writes them and
 * documents each one). Written files go to a fresh temporary directory per
 * test; PNGs are read back with libpng's simplified API.
 *
 * core:   good fixtures (raw and gzip identical, exact pixel scaling), the
 *         MNIST loader, writer round trip, PNG gray/RGB/grid/plot read back
 * limits: size cap, 64-bit overflow, ndim 0 and 5, zero dims, plot extremes
 *         (no points, NaN/Inf, one point, constant, huge values, log y)
 * errors: every corrupt fixture gives its code and a specific message;
 *         missing files, bad MNIST sets, failed writes leave no temp file;
 *         metrics.csv as --resume reads it back (tools/formats/runlog.c) */
#include "idx.h"
#include "png_out.h"
#include "files.h"
#include "plot.h"
#include "runlog.h"

#include "check_main.h"
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static tg_error err;
static char tmpdir[64];

/* tests/meson.build links this suite with -Wl,--wrap=malloc,--wrap=realloc:
 * while `watching`, the largest request made by idx.c (and the rest of the
 * suite's own code) is kept in `largest`. */
void *__real_malloc(size_t);
void *__real_realloc(void *, size_t);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
static int watching;
static size_t largest;
void *__wrap_malloc(size_t n)
{
    if (watching && n > largest) largest = n;
    return __real_malloc(n);
}
void *__wrap_realloc(void *p, size_t n)
{
    if (watching && n > largest) largest = n;
    return __real_realloc(p, n);
}

static void mk_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tg_test_io.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    err.msg[0] = 0;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0) rm_tree(p);
    }
    closedir(d);
    rmdir(dir);
}

static void rm_tmpdir(void) { rm_tree(tmpdir); }

/* Entries of dir whose name contains ".tmp." (cli_write_atomic's temp files). */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static const char *fx(const char *name)
{
    static char p[1024];
    const char *dir = getenv("TG_FIXTURES");
    ck_assert_msg(dir && *dir, "TG_FIXTURES is not set (by hand: TG_FIXTURES=<repo>/tests/fixtures/idx)");
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static const char *tmp(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* The fixture's pixel formula (make_idx_fixtures.py). */
static int fixture_pixel(int i, int r, int c)
{
    if (i == 0 && r == 0 && c == 0) return 0;
    if (i == 0 && r == 0 && c == 1) return 255;
    return (i * 31 + r * 7 + c * 3) % 256;
}

/* Read a PNG in the given simplified-API format; checks the file's format. */
static uint8_t *read_png(const char *path, png_uint_32 fmt, int *w, int *h)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&im, path), "%s: %s", path, im.message);
    ck_assert_uint_eq(im.format, fmt);
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(im));
    ck_assert_ptr_nonnull(buf);
    ck_assert_msg(png_image_finish_read(&im, NULL, buf, 0, NULL), "%s: %s", path, im.message);
    *w = (int)im.width;
    *h = (int)im.height;
    return buf;
}

#define ASSERT_ERR(rc, code, substr)                                                              \
    do {                                                                                          \
        ck_assert_int_eq((rc), (code));                                                           \
        ck_assert_msg(strstr(err.msg, (substr)) != NULL, "message '%s' lacks '%s'", err.msg, (substr));   \
    } while (0)

/* ======================================================================== core */

START_TEST(test_read_raw)
{
    idx_array a;
    ck_assert_int_eq(idx_read(fx("train-images-idx3-ubyte"), &a, &err), TG_OK);
    ck_assert_int_eq(a.type, IDX_UBYTE);
    ck_assert_int_eq(a.ndim, 3);
    ck_assert_int_eq(a.dims[0], 10);
    ck_assert_int_eq(a.dims[1], 28);
    ck_assert_int_eq(a.dims[2], 28);
    ck_assert_uint_eq(a.count, 7840);
    for (int i = 0; i < 10; i++)
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++) ck_assert_int_eq(a.data[(i * 28 + r) * 28 + c], fixture_pixel(i, r, c));
    idx_free(&a);
    ck_assert_ptr_null(a.data);
    ck_assert_int_eq(idx_read(fx("train-labels-idx1-ubyte"), &a, &err), TG_OK);
    ck_assert_int_eq(a.ndim, 1);
    ck_assert_uint_eq(a.count, 10);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(a.data[i], i % 10);
    idx_free(&a);
}
END_TEST

START_TEST(test_raw_gz_identical)
{
    const char *names[2] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
    for (int k = 0; k < 2; k++) {
        idx_array raw, gz;
        char gzname[64];
        snprintf(gzname, sizeof gzname, "%s.gz", names[k]);
        ck_assert_int_eq(idx_read(fx(names[k]), &raw, &err), TG_OK);
        ck_assert_msg(idx_read(fx(gzname), &gz, &err) == TG_OK, "%s", err.msg);
        ck_assert_int_eq(raw.ndim, gz.ndim);
        ck_assert_mem_eq(raw.dims, gz.dims, sizeof raw.dims);
        ck_assert_uint_eq(raw.count, gz.count);
        ck_assert_mem_eq(raw.data, gz.data, raw.count);
        idx_free(&raw);
        idx_free(&gz);
    }
}
END_TEST

START_TEST(test_mnist_load)
{
    /* fixtures hold train-* (raw and .gz) and t10k-* (raw) */
    const char *splits[2] = {"train", "test"};
    for (int k = 0; k < 2; k++) {
        mnist_set s;
        ck_assert_msg(mnist_load(getenv("TG_FIXTURES"), splits[k], &s, &err) == TG_OK, "%s", err.msg);
        ck_assert_int_eq(s.n, 10);
        ck_assert_int_eq(s.h, 28);
        ck_assert_int_eq(s.w, 28);
        /* exact: 0 -> -1, 255 -> 255/127.5 - 1 = 2 - 1 = 1 (all exact in float) */
        ck_assert(s.images[0] == -1.0f);
        ck_assert(s.images[1] == 1.0f);
        for (int i = 0; i < 10; i++) {
            ck_assert_int_eq(s.labels[i], i % 10);
            for (int p = 0; p < 784; p++) {
                float v = s.images[i * 784 + p];
                ck_assert(v == (float)fixture_pixel(i, p / 28, p % 28) / 127.5f - 1.0f);
                ck_assert(v >= -1.0f && v <= 1.0f);
            }
        }
        mnist_free(&s);
        ck_assert_ptr_null(s.images);
    }
}
END_TEST

START_TEST(test_mnist_gz_only)
{
    /* a directory with only the .gz files loads the same data */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/gz", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    const char *names[2] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"};
    for (int k = 0; k < 2; k++) {
        char dst[256], buf[8192];
        snprintf(dst, sizeof dst, "%s/%s", dir, names[k]);
        FILE *in = fopen(fx(names[k]), "rb"), *out = fopen(dst, "wb");
        ck_assert(in && out);
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        ck_assert_int_eq(fclose(out), 0);
    }
    mnist_set a, b;
    ck_assert_msg(mnist_load(dir, "train", &a, &err) == TG_OK, "%s", err.msg);
    ck_assert_int_eq(mnist_load(getenv("TG_FIXTURES"), "train", &b, &err), TG_OK);
    ck_assert_int_eq(a.n, b.n);
    ck_assert_mem_eq(a.images, b.images, 7840 * sizeof(float));
    ck_assert_mem_eq(a.labels, b.labels, 10 * sizeof(int32_t));
    mnist_free(&a);
    mnist_free(&b);
}
END_TEST

START_TEST(test_write_roundtrip)
{
    int dims[4] = {2, 3, 4, 5};
    uint8_t data[120];
    for (int i = 0; i < 120; i++) data[i] = (uint8_t)(i * 7 + 3);
    for (int nd = 1; nd <= 4; nd++) {
        int n = 1;
        for (int k = 0; k < nd; k++) n *= dims[k];
        ck_assert_msg(idx_write_ubyte(tmp("a.idx"), nd, dims, data, &err) == TG_OK, "%s", err.msg);
        struct stat st;
        ck_assert_int_eq(stat(tmp("a.idx"), &st), 0);
        ck_assert_int_eq(st.st_size, 4 + 4 * nd + n); /* overwritten, not appended */
        idx_array a;
        ck_assert_msg(idx_read(tmp("a.idx"), &a, &err) == TG_OK, "%s", err.msg);
        ck_assert_int_eq(a.ndim, nd);
        for (int k = 0; k < nd; k++) ck_assert_int_eq(a.dims[k], dims[k]);
        ck_assert_uint_eq(a.count, (size_t)n);
        ck_assert_mem_eq(a.data, data, (size_t)n);
        idx_free(&a);
    }
    ck_assert_int_eq(count_tmp(tmpdir), 0);
}
END_TEST

START_TEST(test_png_gray_rgb)
{
    uint8_t g[6] = {0, 50, 100, 150, 200, 255}, rgb[18];
    for (int i = 0; i < 18; i++) rgb[i] = (uint8_t)(i * 13);
    ck_assert_msg(pngout_write_gray(tmp("g.png"), 3, 2, g, &err) == TG_OK, "%s", err.msg);
    ck_assert_msg(pngout_write_rgb(tmp("c.png"), 2, 3, rgb, &err) == TG_OK, "%s", err.msg);
    int w, h;
    uint8_t *p = read_png(tmp("g.png"), PNG_FORMAT_GRAY, &w, &h);
    ck_assert_int_eq(w, 3);
    ck_assert_int_eq(h, 2);
    ck_assert_mem_eq(p, g, 6);
    free(p);
    p = read_png(tmp("c.png"), PNG_FORMAT_RGB, &w, &h);
    ck_assert_int_eq(w, 2);
    ck_assert_int_eq(h, 3);
    ck_assert_mem_eq(p, rgb, 18);
    free(p);
    ck_assert_int_eq(count_tmp(tmpdir), 0);
}
END_TEST

START_TEST(test_png_grid)
{
    /* 3 images of 4 (h) x 5 (w) in a 2 x 2 grid at scale 3: cells 15 x 12,
     * PNG (2*15 + 3*2) x (2*12 + 3*2) = 36 x 30; the 4th cell stays gray. */
    float im[3][4][5];
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 5; c++) im[k][r][c] = -1.0f + 0.1f * (float)(r * 5 + c) * (float)(k + 1) / 3.0f;
    im[0][0][0] = -1.0f;  /* -> 0 */
    im[0][0][1] = 1.0f;   /* -> 255 */
    im[0][1][0] = 0.0f;   /* -> 127.5, rounded half up: 128 */
    im[0][1][1] = 0.5f;   /* -> 191.25 -> 191 */
    im[1][0][0] = 7.0f;   /* clamped -> 255 */
    im[1][0][1] = NAN;    /* -> 0 */
    ck_assert_msg(pngout_grid(tmp("grid.png"), &im[0][0][0], 3, 4, 5, 2, 2, 3, &err) == TG_OK, "%s",
                  err.msg);
    int w, h;
    uint8_t *p = read_png(tmp("grid.png"), PNG_FORMAT_GRAY, &w, &h);
    ck_assert_int_eq(w, 36);
    ck_assert_int_eq(h, 30);
#define PX(x, y) p[(y) * w + (x)]
    const int B = PNGOUT_GRID_BORDER;
    ck_assert_int_eq(PX(0, 0), PNGOUT_GRID_GRAY);           /* outer border */
    ck_assert_int_eq(PX(B + 15, B + 3), PNGOUT_GRID_GRAY);  /* between columns */
    ck_assert_int_eq(PX(B + 3, B + 12), PNGOUT_GRID_GRAY);  /* between rows */
    ck_assert_int_eq(PX(w - 1, h - 1), PNGOUT_GRID_GRAY);
    ck_assert_int_eq(PX(B + 15 + B + 7, B + 12 + B + 6), PNGOUT_GRID_GRAY); /* unused 4th cell */
    /* image 0 at (B, B), each source pixel a 3x3 block */
    for (int dy = 0; dy < 3; dy++)
        for (int dx = 0; dx < 3; dx++) {
            ck_assert_int_eq(PX(B + dx, B + dy), 0);
            ck_assert_int_eq(PX(B + 3 + dx, B + dy), 255);
            ck_assert_int_eq(PX(B + dx, B + 3 + dy), 128);
            ck_assert_int_eq(PX(B + 3 + dx, B + 3 + dy), 191);
        }
    /* image 1 at (B + 15 + B, B) */
    ck_assert_int_eq(PX(2 * B + 15, B), 255);
    ck_assert_int_eq(PX(2 * B + 15 + 3, B), 0);
    /* image 2 at (B, 2B + 12): pixel (r=3, c=4) = -1 + 0.1*19*3/3 = 0.9 -> 242.25 -> 242 */
    ck_assert_int_eq(PX(B + 4 * 3 + 1, 2 * B + 12 + 3 * 3 + 1), 242);
#undef PX
    free(p);
    /* rows = cols = 0: a near-square grid (3 images: 2 columns, 2 rows) */
    ck_assert_int_eq(pngout_grid(tmp("auto.png"), &im[0][0][0], 3, 4, 5, 0, 0, 1, &err), TG_OK);
    p = read_png(tmp("auto.png"), PNG_FORMAT_GRAY, &w, &h);
    ck_assert_int_eq(w, 2 * 5 + 3 * B);
    ck_assert_int_eq(h, 2 * 4 + 3 * B);
    free(p);
}
END_TEST

/* Pixels of p (w x h RGB) equal to the palette color. */
static int count_color(const uint8_t *p, int w, int x0, int x1, int y0, int y1, int color)
{
    uint8_t c[3];
    plot_color_rgb(color, c);
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) n += !memcmp(p + ((size_t)y * (size_t)w + (size_t)x) * 3, c, 3);
    return n;
}

START_TEST(test_plot)
{
    double x[50], y1[50], y2[50], flat[2] = {0, 0}, fx2[2] = {0, 49};
    for (int i = 0; i < 50; i++) {
        x[i] = i;
        y1[i] = exp(-i / 10.0);
        y2[i] = 1 - exp(-i / 10.0);
    }
    plot_series s[3] = {
        {"loss", 50, x, y1, PLOT_AUTO, 0},
        {"accuracy", 50, x, y2, PLOT_RED, 1},
        {"zero", 2, fx2, flat, PLOT_GREEN, 0},
    };
    ck_assert_msg(plot_lines(tmp("plot.png"), "Training", "epoch", "value", s, 3, 400, 300, &err) ==
                      TG_OK, "%s", err.msg);
    int w, h;
    uint8_t *p = read_png(tmp("plot.png"), PNG_FORMAT_RGB, &w, &h);
    ck_assert_int_eq(w, 400);
    ck_assert_int_eq(h, 300);
    const uint8_t white[3] = {PLOT_BACKGROUND, PLOT_BACKGROUND, PLOT_BACKGROUND};
    ck_assert_mem_eq(p, white, 3);                                 /* top-left corner */
    ck_assert_mem_eq(p + ((size_t)h * (size_t)w - 1) * 3, white, 3); /* bottom-right */
    ck_assert_int_gt(count_color(p, w, 0, w - 1, 0, h - 1, PLOT_BLUE), 100); /* AUTO, first: blue */
    ck_assert_int_gt(count_color(p, w, 0, w - 1, 0, h - 1, PLOT_RED), 50);   /* dashed */
    /* the horizontal line y = 0 is fully covered in 1 or 2 rows of the middle column */
    int n = count_color(p, w, w / 2, w / 2, 0, h - 1, PLOT_GREEN);
    ck_assert_msg(n >= 1 && n <= 2, "%d green pixels in the middle column", n);
    ck_assert_int_eq(count_color(p, w, 0, w - 1, 0, h - 1, PLOT_PURPLE), 0);
    free(p);
    ck_assert_int_eq(count_tmp(tmpdir), 0);
}
END_TEST

/* ====================================================================== limits */

START_TEST(test_size_cap)
{
    idx_array a;
    ASSERT_ERR(idx_read(fx("huge.idx"), &a, &err), TG_ERR_FORMAT, "size limit");
    ck_assert_ptr_null(a.data);
    ASSERT_ERR(idx_read(fx("overflow.idx"), &a, &err), TG_ERR_FORMAT, "size limit");
    int big[2] = {65536, 65536};
    uint8_t one = 0;
    ASSERT_ERR(idx_write_ubyte(tmp("big.idx"), 2, big, &one, &err), TG_ERR_ARG, "1 GiB");
    ck_assert_int_eq(access(tmp("big.idx"), F_OK), -1);
}
END_TEST

/* A gzip file of a few bytes whose header claims 1 GiB: the reader reports
 * it truncated without first allocating the gigabyte (it once did; under
 * AddressSanitizer that took seconds per file). */
START_TEST(test_gz_claims_huge)
{
    const unsigned char h[] = {0, 0, IDX_UBYTE, 2, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 1, 2, 3}; /* 32768 x 32768 */
    gzFile g = gzopen(tmp("claims.idx.gz"), "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, h, sizeof h), (int)sizeof h);
    ck_assert_int_eq(gzclose(g), Z_OK);
    idx_array a;
    largest = 0;
    watching = 1;
    int rc = idx_read(tmp("claims.idx.gz"), &a, &err);
    watching = 0;
    ASSERT_ERR(rc, TG_ERR_FORMAT, "truncated: expected 1073741824 bytes of data, file has 3 (decompressed)");
    ck_assert_msg(largest <= ((size_t)4 << 20), "the reader asked for %zu bytes at once", largest);
    ck_assert_ptr_null(a.data);
}
END_TEST

START_TEST(test_ndim_range)
{
    idx_array a;
    ASSERT_ERR(idx_read(fx("ndim0.idx"), &a, &err), TG_ERR_FORMAT, "ndim 0 is out of range (1..4)");
    ASSERT_ERR(idx_read(fx("ndim5.idx"), &a, &err), TG_ERR_FORMAT, "ndim 5 is out of range (1..4)");
    ASSERT_ERR(idx_read(fx("zero_dim.idx"), &a, &err), TG_ERR_FORMAT, "dimension 1 is 0");
    int d[5] = {1, 1, 1, 1, 1};
    uint8_t v = 1;
    ASSERT_ERR(idx_write_ubyte(tmp("x.idx"), 0, d, &v, &err), TG_ERR_ARG, "ndim 0");
    ASSERT_ERR(idx_write_ubyte(tmp("x.idx"), 5, d, &v, &err), TG_ERR_ARG, "ndim 5");
    d[1] = 0;
    ASSERT_ERR(idx_write_ubyte(tmp("x.idx"), 2, d, &v, &err), TG_ERR_ARG, "dimension 1 is 0");
    d[1] = 1;
    ASSERT_ERR(idx_write_ubyte(tmp("x.idx"), 2, d, NULL, &err), TG_ERR_ARG, "no data");
    /* one element, 4 dims: the smallest and the deepest file */
    ck_assert_int_eq(idx_write_ubyte(tmp("x.idx"), 4, d, &v, &err), TG_OK);
    idx_array a4;
    ck_assert_int_eq(idx_read(tmp("x.idx"), &a4, &err), TG_OK);
    ck_assert_int_eq(a4.ndim, 4);
    ck_assert_int_eq(a4.data[0], 1);
    idx_free(&a4);
}
END_TEST

START_TEST(test_small_err_buffer)
{
    /* err may be NULL; a long message is cut to tg_error's buffer, terminated */
    idx_array a;
    ck_assert_int_eq(idx_read(fx("bad_magic.idx"), &a, NULL), TG_ERR_FORMAT);
    ck_assert_int_eq(pngout_grid(tmp("g.png"), NULL, 0, 1, 1, 1, 1, 1, NULL), TG_ERR_ARG);
    char name[600];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    memset(&err, 'x', sizeof err);
    ck_assert_int_eq(idx_read(name, &a, &err), TG_ERR_IO);
    ck_assert_uint_eq(strlen(err.msg), sizeof err.msg - 1);
}
END_TEST

START_TEST(test_plot_extremes)
{
    double x[6] = {0, 1, 2, 3, 4, 5}, y[6] = {1, NAN, 3, INFINITY, -INFINITY, 2};
    double big[2] = {-1e299, 1e299}, tiny[2] = {1e-300, 2e-300}, c5[2] = {5, 5}, huge[2] = {1e308, -1e308};
    double neg[3] = {-1, 0, 10};
    int w, h;
    plot_series cases[][2] = {
        {{"nan", 6, x, y, 0, 0}, {"empty", 0, NULL, NULL, 0, 1}},
        {{"one point", 1, NULL, c5, 0, 0}, {NULL, 0, NULL, NULL, 0, 0}},
        {{"constant", 2, NULL, c5, 0, 0}, {"", 2, big, c5, 0, 0}},
        {{"huge", 2, NULL, big, 0, 0}, {"tiny", 2, NULL, tiny, 0, 1}},
        {{"over the limit", 2, NULL, huge, 0, 0}, {"neg", 3, NULL, neg, 0, 0}},
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int k = 0; k < ncases; k++)
        for (int log_y = 0; log_y < 2; log_y++) {
            plot_opts o = {log_y, k == 1};
            ck_assert_msg(plot_lines_opts(tmp("e.png"), "t", "x", "y", cases[k], 2, 160, 120, &o, &err) ==
                              TG_OK, "case %d log %d: %s", k, log_y, err.msg);
            free(read_png(tmp("e.png"), PNG_FORMAT_RGB, &w, &h));
            ck_assert_int_eq(w, 160);
        }
    /* no series at all, no texts */
    ck_assert_int_eq(plot_lines(tmp("none.png"), NULL, NULL, NULL, NULL, 0, 200, 100, &err), TG_OK);
    /* log y over many decades and within one decade */
    double dec[3] = {1e-30, 1, 1e30}, one[2] = {2, 3};
    plot_series ld[2] = {{"decades", 3, NULL, dec, 0, 0}, {"within", 2, NULL, one, 0, 0}};
    plot_opts lo = {1, 0};
    ck_assert_int_eq(plot_lines_opts(tmp("l1.png"), NULL, NULL, NULL, ld, 1, 300, 200, &lo, &err),
                     TG_OK);
    ck_assert_int_eq(plot_lines_opts(tmp("l2.png"), NULL, NULL, NULL, ld + 1, 1, 300, 200, &lo, &err),
                     TG_OK);
    /* characters outside ASCII show as '?', long titles are clipped */
    char title[300];
    memset(title, 'W', sizeof title - 1);
    title[sizeof title - 1] = 0;
    title[0] = (char)0xE9;
    ck_assert_int_eq(plot_lines(tmp("t.png"), title, title, title, ld + 1, 1, 100, 100, &err), TG_OK);
}
END_TEST

/* ====================================================================== errors */

START_TEST(test_corrupt_fixtures)
{
    static const struct {
        const char *file;
        int code;
        const char *msg;
    } cases[] = {
        {"bad_magic.idx", TG_ERR_FORMAT, "bad magic: first bytes are 0x01 0x00"},
        {"bad_type.idx", TG_ERR_FORMAT, "bad element type 0x07"},
        {"float_type.idx", TG_ERR_FORMAT, "unsupported element type 0x0d (float)"},
        {"ndim0.idx", TG_ERR_FORMAT, "ndim 0 is out of range"},
        {"ndim5.idx", TG_ERR_FORMAT, "ndim 5 is out of range"},
        {"zero_dim.idx", TG_ERR_FORMAT, "dimension 1 is 0"},
        {"short_header.idx", TG_ERR_FORMAT, "truncated header: 3 dims need 16 bytes, file has 12"},
        {"truncated.idx", TG_ERR_FORMAT, "truncated: expected 7840 bytes of data, file has 7000"},
        {"truncated_data.idx.gz", TG_ERR_FORMAT, "truncated: expected 7840 bytes of data, file has 7000 (decompressed)"},
        {"trailing.idx", TG_ERR_FORMAT, "trailing bytes: expected 10 bytes of data, file has 13 (3 extra)"},
        {"truncated.idx.gz", TG_ERR_FORMAT, "corrupt gzip data: unexpected end of file"},
        {"garbage.idx.gz", TG_ERR_FORMAT, "corrupt gzip data"},
        {"badcrc.idx.gz", TG_ERR_FORMAT, "corrupt gzip data: incorrect data check"},
        {"empty.idx", TG_ERR_FORMAT, "too short for an IDX header: 0 bytes"},
        {"huge.idx", TG_ERR_FORMAT, "exceed the size limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        idx_array a;
        memset(&a, 0xAB, sizeof a);
        err.msg[0] = 0;
        int rc = idx_read(fx(cases[i].file), &a, &err);
        ck_assert_msg(rc == cases[i].code, "%s: code %d, expected %d (%s)", cases[i].file, rc, cases[i].code, err.msg);
        ck_assert_msg(strstr(err.msg, cases[i].msg), "%s: message '%s' lacks '%s'", cases[i].file, err.msg, cases[i].msg);
        ck_assert_msg(strstr(err.msg, cases[i].file), "%s: message '%s' does not name the file", cases[i].file, err.msg);
        ck_assert_ptr_null(a.data);
        ck_assert_int_eq(a.ndim, 0);
    }
}
END_TEST

START_TEST(test_missing_file)
{
    idx_array a;
    ASSERT_ERR(idx_read(tmp("nope-idx3-ubyte"), &a, &err), TG_ERR_IO, "cannot open '");
    ck_assert_msg(strstr(err.msg, tmp("nope-idx3-ubyte")) && strstr(err.msg, "No such file"), "%s", err.msg);
    ASSERT_ERR(idx_read(tmpdir, &a, &err), TG_ERR_IO, "not a regular file");
    ASSERT_ERR(idx_read("", &a, &err), TG_ERR_ARG, "empty file name");
}
END_TEST

START_TEST(test_mnist_errors)
{
    char dir[1024];
    mnist_set s;
    const char *base = getenv("TG_FIXTURES");
    snprintf(dir, sizeof dir, "%s/badlabel", base);
    ASSERT_ERR(mnist_load(dir, "train", &s, &err), TG_ERR_FORMAT, "label 12 at index 3 is out of range (0..9)");
    ck_assert_ptr_null(s.images);
    snprintf(dir, sizeof dir, "%s/mismatch", base);
    ASSERT_ERR(mnist_load(dir, "train", &s, &err), TG_ERR_FORMAT, "count mismatch");
    ck_assert_msg(strstr(err.msg, "has 10 images of 28x28") && strstr(err.msg, "has 9 labels"), "%s", err.msg);
    snprintf(dir, sizeof dir, "%s/flat", base);
    ASSERT_ERR(mnist_load(dir, "train", &s, &err), TG_ERR_FORMAT, "expected N x H x W images (3 dims), got 2");
    snprintf(dir, sizeof dir, "%s/badlabel", base); /* has no t10k-* files */
    ASSERT_ERR(mnist_load(dir, "test", &s, &err), TG_ERR_IO, "t10k-images-idx3-ubyte.gz' exists");
    ASSERT_ERR(mnist_load(tmpdir, "train", &s, &err), TG_ERR_IO, "no MNIST data in '");
    ck_assert_msg(strstr(err.msg, tmpdir), "%s", err.msg);
    ASSERT_ERR(mnist_load(base, "valid", &s, &err), TG_ERR_ARG, "neither 'train' nor 'test'");
    ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(test_write_failures)
{
    int d[1] = {4};
    uint8_t v[4] = {1, 2, 3, 4};
    /* into a directory that does not exist */
    ASSERT_ERR(idx_write_ubyte(tmp("no/such/dir/a.idx"), 1, d, v, &err), TG_ERR_IO,
               "cannot create a temporary file next to '");
    ck_assert_msg(strstr(err.msg, "no/such/dir/a.idx': No such file or directory"), "%s", err.msg);
    ASSERT_ERR(pngout_write_gray(tmp("no/such/dir/a.png"), 2, 2, v, &err), TG_ERR_IO,
               "cannot create a temporary file next to '");
    /* onto a directory: the temp file is written, the rename fails, the temp file goes */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/adir", tmpdir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ASSERT_ERR(idx_write_ubyte(sub, 1, d, v, &err), TG_ERR_IO, "cannot write '");
    ASSERT_ERR(pngout_write_gray(sub, 2, 2, v, &err), TG_ERR_IO, "cannot write '");
    ck_assert_int_eq(count_tmp(tmpdir), 0);
    /* an existing file is untouched by a failed write */
    ck_assert_int_eq(idx_write_ubyte(tmp("keep.idx"), 1, d, v, &err), TG_OK);
    ck_assert_int_eq(idx_write_ubyte(tmp("keep.idx"), 0, d, v, &err), TG_ERR_ARG);
    idx_array a;
    ck_assert_int_eq(idx_read(tmp("keep.idx"), &a, &err), TG_OK);
    ck_assert_mem_eq(a.data, v, 4);
    idx_free(&a);
    ck_assert_int_eq(count_tmp(tmpdir), 0);
}
END_TEST

START_TEST(test_png_arg_errors)
{
    float im[4] = {0, 0, 0, 0};
    uint8_t px[4] = {0};
    ASSERT_ERR(pngout_grid(tmp("g.png"), im, 5, 1, 1, 2, 2, 1, &err), TG_ERR_ARG,
               "2 x 2 cells cannot hold 5 images");
    ASSERT_ERR(pngout_grid(tmp("g.png"), im, 1, 2, 2, 1, 1, 0, &err), TG_ERR_ARG, "scale 0");
    ASSERT_ERR(pngout_grid(tmp("g.png"), im, 1, 10000, 10000, 1, 1, 2, &err), TG_ERR_ARG,
               "over the limit");
    ASSERT_ERR(pngout_write_gray(tmp("g.png"), 0, 2, px, &err), TG_ERR_ARG, "out of range");
    ASSERT_ERR(pngout_write_rgb(tmp("g.png"), 2, 2, NULL, &err), TG_ERR_ARG, "no pixels");
    ASSERT_ERR(plot_lines(tmp("p.png"), NULL, NULL, NULL, NULL, 0, 63, 100, &err), TG_ERR_ARG,
               "63x100 is out of range");
    plot_series s = {"bad", 3, NULL, NULL, 0, 0};
    ASSERT_ERR(plot_lines(tmp("p.png"), NULL, NULL, NULL, &s, 1, 100, 100, &err), TG_ERR_ARG,
               "series 0 ('bad') has 3 points and no y values");
    /* a long y label on a tiny plot: no room left for the plot area */
    double y[2] = {123456789.0, -123456789.0};
    plot_series t = {NULL, 2, NULL, y, 0, 0};
    ASSERT_ERR(plot_lines(tmp("p.png"), "title", "x", "y", &t, 1, 64, 64, &err), TG_ERR_ARG,
               "no room");
    ck_assert_int_eq(access(tmp("g.png"), F_OK), -1);
    ck_assert_int_eq(access(tmp("p.png"), F_OK), -1);
}
END_TEST

/* metrics.csv from a string, through run_metrics_read */
static int read_metrics(const char *text, run_metrics *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    err.msg[0] = 0;
    int rc = run_metrics_read(f, "metrics.csv", m, &err);
    fclose(f);
    return rc;
}

#define METRICS_HEADER "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s\n"

START_TEST(test_metrics_csv)
{
    run_metrics m;
    /* what run_metrics_row writes (the last newline may be missing) */
    ck_assert_int_eq(read_metrics(METRICS_HEADER "2,1,1.42465,0.639931,0.539696,0.53618,2.10017,4.55686,0.015\n"
                                  "50,1,1.2,-0.69,0.47,0.49,0.13,1.67,3.5", &m), 0);
    ck_assert_int_eq(m.n, 2);
    ck_assert(m.step[1] == 50 && m.loss_d[0] == 1.42465 && m.loss_g[1] == -0.69 && m.d_real[0] == 0.539696 &&
              m.d_fake[1] == 0.49 && m.elapsed[1] == 3.5);
    run_metrics_free(&m);
    ck_assert_int_eq(read_metrics("", &m), 0);
    ck_assert_int_eq(m.n, 0);
    ck_assert_int_eq(read_metrics(METRICS_HEADER, &m), 0);
    ck_assert_int_eq(m.n, 0);
    /* The reader once took any prefix of a number and ignored the rest of the
     * line: an infinite or NaN value, text after the ninth number, a tenth
     * column and a header with a suffix were all accepted, and a line longer
     * than its buffer was read as two rows. */
    char longline[700]; /* 528 bytes: the old 512-byte buffer split it after the spaces */
    snprintf(longline, sizeof longline, "%s1,1,1,1,1,1,1,1,1%494s2,2,2,2,2,2,2,2,2\n", METRICS_HEADER, "");
    const struct {
        const char *text, *msg;
    } bad[] = {
        {METRICS_HEADER "1,1,1e999,1,1,1,1,1,1\n", "line 2 is not 9 finite numbers"},
        {METRICS_HEADER "1,1,nan,1,1,1,1,1,1\n", "line 2 is not 9 finite numbers"},
        {METRICS_HEADER "1,1,1,1,1,1,1,1,1xyz\n", "line 2 is not 9 finite numbers"},
        {METRICS_HEADER "1,1,1,1,1,1,1,1,1,1\n", "line 2 is not 9 finite numbers"},
        {METRICS_HEADER "1,1,1,1,1,1,1,1\n", "line 2 is not 9 finite numbers"},
        {METRICS_HEADER "1,1,1,1,1,1,1,1,1\n\n", "line 3 is not 9 finite numbers"},
        {"step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s,extra\n", "line 1 is not the header"},
        {"step,epoch\n", "line 1 is not the header"},
        {longline, "line 2 is too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = read_metrics(bad[i].text, &m);
        ck_assert_msg(rc == TG_ERR_FORMAT, "case %zu accepted (%d rows)", i, m.n);
        ck_assert_msg(strstr(err.msg, bad[i].msg) && strstr(err.msg, "metrics.csv"), "case %zu: '%s'", i, err.msg);
        run_metrics_free(&m);
    }
    /* a NUL byte inside a line */
    const char nul[] = METRICS_HEADER "1,1,1,1,1,1,1,1,1\0junk\n";
    FILE *f = fmemopen((void *)nul, sizeof nul - 1, "r");
    ck_assert_ptr_nonnull(f);
    memset(&m, 0, sizeof m);
    ck_assert_int_eq(run_metrics_read(f, "metrics.csv", &m, &err), TG_ERR_FORMAT);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 2 holds a NUL byte"));
    run_metrics_free(&m);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"), *errors = tcase_create("errors");
    TCase *all[3] = {core, limits, errors};
    for (int i = 0; i < 3; i++) {
        tcase_add_checked_fixture(all[i], mk_tmpdir, rm_tmpdir);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(core, test_read_raw);
    tcase_add_test(core, test_raw_gz_identical);
    tcase_add_test(core, test_mnist_load);
    tcase_add_test(core, test_mnist_gz_only);
    tcase_add_test(core, test_write_roundtrip);
    tcase_add_test(core, test_png_gray_rgb);
    tcase_add_test(core, test_png_grid);
    tcase_add_test(core, test_plot);
    tcase_add_test(limits, test_size_cap);
    tcase_add_test(limits, test_gz_claims_huge);
    tcase_add_test(limits, test_ndim_range);
    tcase_add_test(limits, test_small_err_buffer);
    tcase_add_test(limits, test_plot_extremes);
    tcase_add_test(errors, test_corrupt_fixtures);
    tcase_add_test(errors, test_missing_file);
    tcase_add_test(errors, test_mnist_errors);
    tcase_add_test(errors, test_write_failures);
    tcase_add_test(errors, test_png_arg_errors);
    tcase_add_test(errors, test_metrics_csv);
    return s;
}

int main(void)
{
    return tg_run_suite(io_suite());
}
