/* run_dir.c - a training run's folder (run_dir.h). */
#include "run_dir.h"

#include "files.h"
#include "plot.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *run_data_dir(const char *given)
{
    if (given) return given;
    const char *env = getenv("TAPEGRAD_DATA");
    return env && *env ? env : "data/mnist";
}

tg_status run_mkdirs(const char *dir, tg_error *err)
{
    char p[4096];
    if (strlen(dir) + 10 >= sizeof p) return tg_error_set(err, TG_ERR_ARG, "bad run folder name");
    snprintf(p, sizeof p, "%s/samples", dir);
    return file_mkdirs(p, err); /* creates dir too */
}

/* NAME.tmp.XXXXXX (mkstemp's six letters) with NAME one of the run's files */
static int is_run_tmp(const char *name, int samples)
{
    static const char *const files[] = {"checkpoint.safetensors", "losses.png", "d_outputs.png"};
    const char *t = strstr(name, ".tmp.");
    if (!t || strlen(t) != 11) return 0;
    for (int k = 5; k < 11; k++)
        if (!(t[k] >= '0' && t[k] <= '9') && !(t[k] >= 'a' && t[k] <= 'z') && !(t[k] >= 'A' && t[k] <= 'Z')) return 0;
    size_t base = (size_t)(t - name);
    if (samples) { /* epoch-NNN.png */
        if (base < 11 || strncmp(name, "epoch-", 6) || strncmp(t - 4, ".png", 4)) return 0;
        for (const char *q = name + 6; q < t - 4; q++)
            if (*q < '0' || *q > '9') return 0;
        return 1;
    }
    for (size_t k = 0; k < sizeof files / sizeof *files; k++)
        if (strlen(files[k]) == base && !strncmp(name, files[k], base)) return 1;
    return 0;
}

int run_clean_tmp(const char *dir)
{
    int removed = 0;
    char p[4200];
    for (int samples = 0; samples < 2; samples++) {
        snprintf(p, sizeof p, samples ? "%s/samples" : "%s", dir);
        DIR *d = opendir(p);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)))
            if (is_run_tmp(e->d_name, samples)) {
                char f[4500];
                snprintf(f, sizeof f, "%s/%s", p, e->d_name);
                removed += unlink(f) == 0;
            }
        closedir(d);
    }
    return removed;
}

tg_status run_plot_losses(const char *dir, const run_metrics *m, tg_error *err)
{
    char p[4200];
    plot_series loss[2] = {
        {"loss_D", m->n, m->step, m->loss_d, PLOT_BLUE, 0},
        {"loss_G", m->n, m->step, m->loss_g, PLOT_ORANGE, 0},
    };
    snprintf(p, sizeof p, "%s/losses.png", dir);
    tg_status st = plot_lines(p, "GAN losses", "iteration", "loss", loss, 2, 800, 450, err);
    if (st != TG_OK) return st;
    plot_series d[2] = {
        {"mean D(x)", m->n, m->step, m->d_real, PLOT_GREEN, 0},
        {"mean D(G(z))", m->n, m->step, m->d_fake, PLOT_RED, 0},
    };
    snprintf(p, sizeof p, "%s/d_outputs.png", dir);
    return plot_lines(p, "discriminator outputs", "iteration", "probability", d, 2, 800, 450, err);
}
