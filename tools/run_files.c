/* run_files.c - the files of a training run folder (see run_files.h). */
#include "run_files.h"
#include "cli.h"
#include "png_out.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_HEADER "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s"

const char *run_data_dir(const char *given)
{
    if (given) return given;
    const char *env = getenv("TAPEGRAD_DATA");
    return env && *env ? env : "data/mnist";
}

int run_mkdirs(const char *dir, char *err, size_t len)
{
    char p[4096];
    if (strlen(dir) + 10 >= sizeof p) return snprintf(err, len, "bad run folder name"), -1;
    snprintf(p, sizeof p, "%s/samples", dir);
    return cli_mkdirs(p, err, len); /* creates dir too */
}

FILE *run_metrics_open(const char *dir, int append, char *err, size_t len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    FILE *f = fopen(p, append ? "a" : "w");
    if (!f) {
        snprintf(err, len, "cannot open %s: %s", p, strerror(errno));
        return NULL;
    }
    if (!append) fprintf(f, CSV_HEADER "\n");
    return f;
}

static int push(run_metrics *m, const double *row)
{
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 256;
        double **cols[6] = {&m->step, &m->loss_d, &m->loss_g, &m->d_real, &m->d_fake, &m->elapsed};
        for (int k = 0; k < 6; k++) {
            double *p = realloc(*cols[k], (size_t)cap * sizeof(double));
            if (!p) return -1;
            *cols[k] = p;
        }
        m->cap = cap;
    }
    m->step[m->n] = row[0];
    m->loss_d[m->n] = row[2];
    m->loss_g[m->n] = row[3];
    m->d_real[m->n] = row[4];
    m->d_fake[m->n] = row[5];
    m->elapsed[m->n] = row[8];
    m->n++;
    return 0;
}

void run_metrics_row(FILE *csv, run_metrics *m, int64_t step, int epoch, const double *v, double elapsed)
{
    double row[9] = {(double)step, epoch, v[0], v[1], v[2], v[3], v[4], v[5], elapsed};
    fprintf(csv, "%" PRId64 ",%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f\n", step, epoch, row[2], row[3], row[4], row[5],
            row[6], row[7], elapsed);
    fflush(csv);
    push(m, row); /* on no memory the plot just misses rows */
}

/* One row of run_metrics_row's output: nine finite numbers separated by
 * commas, nothing else (line without its '\n'). 0 or -1. */
static int parse_row(const char *line, double row[9])
{
    const char *s = line;
    for (int k = 0; k < 9; k++) {
        char *end;
        row[k] = strtod(s, &end);
        if (end == s || !isfinite(row[k]) || *end != (k < 8 ? ',' : '\0')) return -1;
        s = end + 1;
    }
    return 0;
}

int run_metrics_read(FILE *f, const char *name, run_metrics *m, char *err, size_t len)
{
    char *line = NULL;
    size_t cap = 0;
    const char *bad = NULL; /* what is wrong with line ln */
    int ln = 0;
    for (ssize_t n; !bad && (n = getline(&line, &cap, f)) > 0;) {
        ln++;
        if (line[n - 1] == '\n') line[--n] = 0;
        double row[9];
        if ((size_t)n != strlen(line)) bad = "holds a NUL byte";
        else if (n > RUN_METRICS_MAX_LINE) bad = "is too long";
        else if (ln == 1) bad = strcmp(line, CSV_HEADER) ? "is not the header " CSV_HEADER : NULL;
        else if (parse_row(line, row)) bad = "is not 9 finite numbers separated by commas";
        else if (push(m, row)) {
            free(line);
            return snprintf(err, len, "out of memory"), -1;
        }
    }
    free(line);
    if (bad) return snprintf(err, len, "%s: line %d %s", name, ln, bad), -1;
    if (ferror(f)) return snprintf(err, len, "%s: read error", name), -1;
    return 0;
}

int run_metrics_load(const char *dir, run_metrics *m, char *err, size_t len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0; /* nothing logged yet: the plot starts empty */
    int rc = run_metrics_read(f, p, m, err, len);
    fclose(f);
    return rc;
}

void run_metrics_free(run_metrics *m)
{
    free(m->step);
    free(m->loss_d);
    free(m->loss_g);
    free(m->d_real);
    free(m->d_fake);
    free(m->elapsed);
    memset(m, 0, sizeof *m);
}

int run_plot_losses(const char *dir, const run_metrics *m, char *err, size_t len)
{
    char p[4200];
    plot_series loss[2] = {
        {"loss_D", m->n, m->step, m->loss_d, PLOT_BLUE, 0},
        {"loss_G", m->n, m->step, m->loss_g, PLOT_ORANGE, 0},
    };
    snprintf(p, sizeof p, "%s/losses.png", dir);
    if (plot_lines(p, "GAN losses", "iteration", "loss", loss, 2, 800, 450, err, len)) return -1;
    plot_series d[2] = {
        {"mean D(x)", m->n, m->step, m->d_real, PLOT_GREEN, 0},
        {"mean D(G(z))", m->n, m->step, m->d_fake, PLOT_RED, 0},
    };
    snprintf(p, sizeof p, "%s/d_outputs.png", dir);
    return plot_lines(p, "discriminator outputs", "iteration", "probability", d, 2, 800, 450, err, len) ? -1 : 0;
}
