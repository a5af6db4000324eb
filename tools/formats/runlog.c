/* runlog.c - the CSV logs of a training run (runlog.h). */
#include "runlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir/name for appending or created, with the header if it is empty */
static FILE *log_open(const char *dir, const char *name, const char *header, int append, tg_error *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, append ? "a" : "w");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        tg_error_set(err, TG_ERR_IO, "cannot open %s: %s", p, strerror(errno));
        if (f) fclose(f);
        return NULL;
    }
    if (ftell(f) == 0) fprintf(f, "%s\n", header);
    return f;
}

FILE *run_metrics_open(const char *dir, int append, tg_error *err)
{
    return log_open(dir, "metrics.csv", RUN_METRICS_HEADER, append, err);
}

FILE *run_eval_open(const char *dir, int append, tg_error *err)
{
    return log_open(dir, "eval.csv", RUN_EVAL_HEADER, append, err);
}

void run_eval_row(FILE *csv, int epoch, int64_t step, int n, const double v[4])
{
    fprintf(csv, "%d,%lld,%d,%.6g,%.6g,%.6g,%.6g\n", epoch, (long long)step, n, v[0], v[1], v[2], v[3]);
    fflush(csv);
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

tg_status run_metrics_read(FILE *f, const char *name, run_metrics *m, tg_error *err)
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
            return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
        }
    }
    free(line);
    if (bad) return tg_error_set(err, TG_ERR_FORMAT, "%s: line %d %s", name, ln, bad);
    if (ferror(f)) return tg_error_set(err, TG_ERR_IO, "%s: read error", name);
    return TG_OK;
}

tg_status run_metrics_load(const char *dir, run_metrics *m, tg_error *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    FILE *f = fopen(p, "r");
    if (!f) return TG_OK; /* nothing logged yet: the plot starts empty */
    tg_status rc = run_metrics_read(f, p, m, err);
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
                     tg_error *err)
{
    const size_t hl = strlen(header);
    const char *nl = memchr(b, '\n', n);
    if (!nl) {
        if (n <= hl && memcmp(b, header, n) == 0) return 0; /* empty, or a torn header */
        return tg_error_set(err, TG_ERR_FORMAT, "%s: the first line is not the header %s", path, header), -1;
    }
    if ((size_t)(nl - b) != hl || memcmp(b, header, hl))
        return tg_error_set(err, TG_ERR_FORMAT, "%s: the first line is not the header %s", path, header), -1;
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
            return tg_error_set(err, TG_ERR_FORMAT,
                                "%s: line %d is not a row of %d fields with a step; repair or remove the line", path,
                                ln, fields), -1;
        if (v > max) return (long)off;
        off = (size_t)(e - b) + 1;
    }
    return (long)n;
}

/* checks the part of a log a cut keeps (b[0..n), b[n] readable) before the
 * cut: 0, or -1 with a message */
typedef tg_status (*csv_check_fn)(const char *path, char *b, size_t n, void *ctx, tg_error *err);

static int csv_cut(const char *path, const char *header, int step_col, int64_t max_step, csv_check_fn check,
                   void *ctx, tg_error *err)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return tg_error_set(err, TG_ERR_IO, "cannot open %s: %s", path, strerror(errno)), -1;
    }
    size_t n = 0;
    char *b = read_all(fd, &n);
    int dropped = -1;
    long keep = b ? csv_keep(path, b, n, header, step_col, max_step, err) : -1;
    if (!b) tg_error_set(err, TG_ERR_IO, "cannot read %s: %s", path, errno ? strerror(errno) : "out of memory");
    if (keep >= 0 && check && check(path, b, (size_t)keep, ctx, err) != TG_OK) keep = -1;
    if (keep >= 0) {
        dropped = 0;
        for (size_t k = (size_t)keep; k < n; k++) dropped += b[k] == '\n';
        if (n > (size_t)keep && b[n - 1] != '\n') dropped++;
        if ((size_t)keep < n && (ftruncate(fd, (off_t)keep) != 0 || fsync(fd) != 0)) {
            tg_error_set(err, TG_ERR_IO, "cannot cut %s back to the checkpoint: %s", path, strerror(errno));
            dropped = -1;
        }
    }
    free(b);
    close(fd);
    return dropped;
}

int run_csv_cut(const char *path, const char *header, int step_col, int64_t max_step, tg_error *err)
{
    return csv_cut(path, header, step_col, max_step, NULL, NULL, err);
}

/* the rows a cut of metrics.csv keeps, read by run_metrics_read into ctx */
static tg_status metrics_check(const char *path, char *b, size_t n, void *ctx, tg_error *err)
{
    if (n == 0) return TG_OK; /* empty, or a torn header: no rows */
    FILE *f = fmemopen(b, n, "r");
    if (!f) return tg_error_set(err, TG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    tg_status rc = run_metrics_read(f, path, ctx, err);
    fclose(f);
    return rc;
}

int run_metrics_resume(const char *dir, int64_t max_step, run_metrics *m, tg_error *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    return csv_cut(p, RUN_METRICS_HEADER, 0, max_step, metrics_check, m, err);
}

tg_status run_log_sync(FILE *f, const char *name, tg_error *err)
{
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        return tg_error_set(err, TG_ERR_IO, "cannot write %s: %s", name, strerror(errno));
    return TG_OK;
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
