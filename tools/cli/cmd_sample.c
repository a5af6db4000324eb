/* cmd_sample.c - `tapegrad sample`: draw images from a trained generator,
 * whatever its layers: the model is the one the checkpoint describes. */
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "idx.h"
#include "opts.h"
#include "png_out.h"
#include "sample.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CMD "sample"
#define O(member) offsetof(sample_opts, member)

static const set_row rows[] = {
    {.flag = "--checkpoint", .type = &set_text, .off = O(checkpoint), .arg = "FILE",
     .help = "a train-gan checkpoint", .flags = SET_REQUIRED},
    {.flag = "--n", .type = &set_int, .off = O(n), .lo = 1, .hi = 1000000, .arg = "N", .help = "how many images",
     .flags = SET_REQUIRED},
    {.flag = "--out", .type = &set_text, .off = O(out), .arg = "FILE",
     .help = "FILE.png: a grid (ceil(sqrt(N)) columns); any other name: IDX ubyte, N x 28 x 28, pixels 0..255 (the "
             "MNIST format, what `tapegrad evaluate` reads)",
     .flags = SET_REQUIRED},
    {.flag = "--seed", .type = &set_int, .off = O(seed), .lo = 0, .hi = 2147483647, .def = "0", .arg = "S",
     .help = "seed of the noise"},
    {.flag = "--threads", .type = &set_int, .off = O(threads), .lo = 1, .hi = 64, .def = "2", .arg = "T",
     .help = "worker threads"},
};

static const set_table table = {
    .name = CMD,
    .usage = "tapegrad sample --checkpoint FILE --n N --out FILE [--seed S] [--threads T]",
    .about = "Generate N images with the generator of a train-gan checkpoint (the model it describes, whatever its "
             "layers; batch normalization in eval mode, on its running statistics; the moving average of G's weights "
             "when the run kept one, --ema), from z ~ N(0, I) drawn with seed S.",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
};

static void defaults(sample_opts *o)
{
    memset(o, 0, sizeof *o);
    set_defaults(&table, o);
}

void cmd_sample_help(FILE *out)
{
    sample_opts d;
    defaults(&d);
    opts_help(&table, &d, out);
}

int cmd_sample_parse(int argc, char **argv, sample_opts *o)
{
    defaults(o);
    return opts_parse(&table, argc, argv, o, o->given, NULL);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* the images as a PNG grid or an IDX file of bytes */
static tg_status write_images(const char *out, const float *imgs, int n, int side, tg_error *err)
{
    if (ends_with(out, ".png")) {
        int cols = (int)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
        return pngout_grid(out, imgs, n, side, side, rows, cols, n <= 256 ? 2 : 1, err);
    }
    const size_t count = (size_t)n * side * side;
    uint8_t *bytes = malloc(count);
    if (!bytes) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    images_to_u8(imgs, count, bytes);
    tg_status st = idx_write_ubyte(out, 3, (int[]){n, side, side}, bytes, err);
    free(bytes);
    return st;
}

int cmd_sample(int argc, char **argv)
{
    sample_opts o;
    int rc = cmd_sample_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    tg_error e;
    gan_cfg cfg;
    st_file *f = NULL;
    float *imgs = NULL;
    int status = CLI_FAIL, xd = 0;
    if (st_open(o.checkpoint, &f, &e) != TG_OK || ckpt_config(f, &cfg, NULL, &e) != TG_OK ||
        tg_gan_check(&cfg.spec, NULL, &xd, &e) != TG_OK) {
        cli_report(CMD, &e);
        goto done;
    }
    const int side = (int)lround(sqrt((double)xd));
    if (side * side != xd) {
        cli_err("%s: the generator makes %d values per sample, not a square image", CMD, xd);
        goto done;
    }
    if (gan_sample(&cfg.spec, f, cfg.ema > 0, o.n, (uint64_t)o.seed, o.threads, &imgs, &e) != TG_OK) {
        cli_err("%s: %s: %s", CMD, o.checkpoint, e.msg);
        goto done;
    }
    if (write_images(o.out, imgs, o.n, side, &e) != TG_OK) {
        cli_report(CMD, &e);
        goto done;
    }
    printf("wrote %d samples to %s\n", o.n, o.out);
    status = CLI_OK;
done:
    st_close(f);
    free(imgs);
    return status;
}
