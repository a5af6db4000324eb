/* sample.c - images from a GAN's generator (sample.h). */
#include "sample.h"

#include "checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sampler {
    tg_params *ps;
    tg_graph *g;
    tg_pool *pool;
    tg_plan *plan[2]; /* full chunks, the remainder */
    tg_node out[2];
    int size[2];
    float *z;
} sampler;

static void sampler_free(sampler *s)
{
    for (int k = 0; k < 2; k++) tg_plan_free(s->plan[k]);
    tg_graph_free(s->g);
    tg_pool_free(s->pool);
    tg_params_free(s->ps);
    free(s->z);
}

/* G's parameters from f, one graph with two batch sizes */
static tg_status sampler_init(sampler *s, const tg_gan_spec *spec, const st_file *f, int ema, int n, int threads,
                              int zd, tg_error *err)
{
    tg_rng rng;
    tg_rng_seed(&rng, 0, 0);
    if (!(s->ps = tg_params_new())) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    tg_status st = tg_seq_params(s->ps, &spec->G, TG_INIT_ZEROS, 0, &rng, err);
    if (st == TG_OK) st = ema ? ckpt_load_ema(f, s->ps, "G", err) : ckpt_load_group(f, s->ps, "G", err);
    if (st != TG_OK) return st;
    const int chunk = n < SAMPLE_CHUNK ? n : SAMPLE_CHUNK;
    s->size[0] = chunk;
    s->size[1] = n % chunk;
    s->g = tg_graph_new(s->ps);
    s->pool = tg_pool_new(threads, err);
    s->z = malloc((size_t)chunk * zd * sizeof *s->z);
    if (!s->g || !s->pool || !s->z) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    for (int k = 0; k < 2 && s->size[k]; k++) {
        tg_node z = tg_input(s->g, k ? "z_rest" : "z", 2, (int[]){s->size[k], zd});
        s->out[k] = tg_generator(s->g, spec, z);
        tg_bind(s->g, z, s->z);
        s->plan[k] = tg_plan_new(s->g, s->out[k], &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = s->pool});
        if (!s->plan[k]) return tg_error_set(err, tg_graph_status(s->g), "%s", tg_graph_error(s->g));
    }
    return TG_OK;
}

tg_status gan_sample(const tg_gan_spec *spec, const st_file *f, int ema, int n, uint64_t seed, int threads,
                     float **images, tg_error *err)
{
    *images = NULL;
    int zd, xd;
    tg_status st = tg_gan_check(spec, &zd, &xd, err);
    if (st != TG_OK) return st;
    if (n < 1) return tg_error_set(err, TG_ERR_ARG, "no samples asked for");
    sampler s;
    memset(&s, 0, sizeof s);
    float *imgs = malloc((size_t)n * xd * sizeof *imgs);
    if (!imgs) st = tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    if (st == TG_OK) st = sampler_init(&s, spec, f, ema, n, threads, zd, err);
    tg_rng rng;
    tg_rng_seed(&rng, seed, SAMPLE_STREAM);
    for (int done = 0; st == TG_OK && done < n;) {
        int k = n - done >= s.size[0] ? 0 : 1, b = s.size[k];
        tg_rng_fill_normal(&rng, s.z, (size_t)b * zd, 0, 1);
        if ((st = tg_plan_forward(s.plan[k])) != TG_OK)
            tg_error_set(err, st, "generator failed: %s", tg_graph_error(s.g));
        else memcpy(imgs + (size_t)done * xd, tg_plan_value(s.plan[k], s.out[k]), (size_t)b * xd * sizeof *imgs);
        done += b;
    }
    sampler_free(&s);
    if (st != TG_OK) free(imgs);
    else *images = imgs;
    return st;
}

void images_to_u8(const float *x, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        double p = floor(((double)x[i] + 1.0) * 127.5 + 0.5);
        out[i] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p);
    }
}
