/* run_files.c - the files of a training run folder (see run_files.h). */
#include "run_files.h"
#include "cli.h"
#include "png_out.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *run_data_dir(const char *given)
{
    if (given) return given;
    const char *env = getenv("TAPEGRAD_DATA");
    return env && *env ? env : "data/mnist";
}

int run_abs_path(const char *p, char *out, size_t len, char *err, size_t errlen)
{
    char cwd[4096];
    int n;
    if (p[0] == '/') n = snprintf(out, len, "%s", p);
    else if (!getcwd(cwd, sizeof cwd))
        return snprintf(err, errlen, "cannot tell the current folder (for %s): %s", p, strerror(errno)), -1;
    else {
        while (p[0] == '.' && p[1] == '/') p += 2;
        n = snprintf(out, len, "%s/%s", strcmp(cwd, "/") ? cwd : "", p);
    }
    if (n < 0 || (size_t)n >= len) return snprintf(err, errlen, "the path of %s is too long", p), -1;
    return 0;
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
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        snprintf(err, len, "cannot open %s: %s", p, strerror(errno));
        if (f) fclose(f);
        return NULL;
    }
    if (ftell(f) == 0) fprintf(f, RUN_METRICS_HEADER "\n");
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
        else if (ln == 1) bad = strcmp(line, RUN_METRICS_HEADER) ? "is not the header " RUN_METRICS_HEADER : NULL;
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

/* the whole file into a malloc'ed buffer (NUL after the end); *n its size */
static char *read_all(int fd, size_t *n)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return NULL;
    size_t cap = (size_t)st.st_size, got = 0;
    char *b = malloc(cap + 1);
    while (b && got < cap) {
        ssize_t k = read(fd, b + got, cap - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            free(b);
            return NULL;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    if (b) b[got] = 0;
    *n = got;
    return b;
}

/* Where a run's CSV log ends up consistent with step max: the offset of the
 * first line to drop (n if none), or -1 with a message. */
static long csv_keep(const char *path, const char *b, size_t n, const char *header, int step_col, int64_t max,
                     char *err, size_t len)
{
    const size_t hl = strlen(header);
    const char *nl = memchr(b, '\n', n);
    if (!nl) {
        if (n <= hl && memcmp(b, header, n) == 0) return 0; /* empty, or a torn header */
        return snprintf(err, len, "%s: the first line is not the header %s", path, header), -1;
    }
    if ((size_t)(nl - b) != hl || memcmp(b, header, hl))
        return snprintf(err, len, "%s: the first line is not the header %s", path, header), -1;
    int fields = 1;
    for (size_t k = 0; k < hl; k++) fields += header[k] == ',';
    size_t off = hl + 1;
    for (int ln = 2; off < n; ln++) {
        const char *s = b + off, *e = memchr(s, '\n', n - off);
        if (!e) return (long)off; /* a torn last line */
        int nf = 1;
        const char *step = step_col == 0 ? s : NULL;
        for (const char *q = s; q < e; q++)
            if (*q == ',' && nf++ == step_col) step = q + 1;
        char *end = NULL;
        long long v = -1;
        if (step && !memchr(s, 0, (size_t)(e - s))) {
            errno = 0;
            v = strtoll(step, &end, 10);
            if (errno || end == step || (*end != ',' && end != e)) v = -1;
        }
        if (nf != fields || v < 0)
            return snprintf(err, len, "%s: line %d is not a row of %d fields with a step; repair or remove the line",
                            path, ln, fields), -1;
        if (v > max) return (long)off;
        off = (size_t)(e - b) + 1;
    }
    return (long)n;
}

/* checks the part of a log a cut keeps (b[0..n), b[n] readable) before the
 * cut: 0, or -1 with a message */
typedef int (*csv_check_fn)(const char *path, char *b, size_t n, void *ctx, char *err, size_t len);

static int csv_cut(const char *path, const char *header, int step_col, int64_t max_step, csv_check_fn check,
                   void *ctx, char *err, size_t len)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return snprintf(err, len, "cannot open %s: %s", path, strerror(errno)), -1;
    }
    size_t n = 0;
    char *b = read_all(fd, &n);
    int dropped = -1;
    long keep = b ? csv_keep(path, b, n, header, step_col, max_step, err, len) : -1;
    if (!b) snprintf(err, len, "cannot read %s: %s", path, errno ? strerror(errno) : "out of memory");
    if (keep >= 0 && check && check(path, b, (size_t)keep, ctx, err, len)) keep = -1;
    if (keep >= 0) {
        dropped = 0;
        for (size_t k = (size_t)keep; k < n; k++) dropped += b[k] == '\n';
        if (n > (size_t)keep && b[n - 1] != '\n') dropped++;
        if ((size_t)keep < n && (ftruncate(fd, (off_t)keep) != 0 || fsync(fd) != 0)) {
            snprintf(err, len, "cannot cut %s back to the checkpoint: %s", path, strerror(errno));
            dropped = -1;
        }
    }
    free(b);
    close(fd);
    return dropped;
}

int run_csv_cut(const char *path, const char *header, int step_col, int64_t max_step, char *err, size_t len)
{
    return csv_cut(path, header, step_col, max_step, NULL, NULL, err, len);
}

/* the rows a cut of metrics.csv keeps, read by run_metrics_read into ctx */
static int metrics_check(const char *path, char *b, size_t n, void *ctx, char *err, size_t len)
{
    if (n == 0) return 0; /* empty, or a torn header: no rows */
    FILE *f = fmemopen(b, n, "r");
    if (!f) return snprintf(err, len, "cannot read %s: %s", path, strerror(errno)), -1;
    int rc = run_metrics_read(f, path, ctx, err, len);
    fclose(f);
    return rc;
}

int run_metrics_resume(const char *dir, int64_t max_step, run_metrics *m, char *err, size_t len)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    return csv_cut(p, RUN_METRICS_HEADER, 0, max_step, metrics_check, m, err, len);
}

int run_log_sync(FILE *f, const char *name, char *err, size_t len)
{
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        return snprintf(err, len, "cannot write %s: %s", name, strerror(errno)), -1;
    return 0;
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
