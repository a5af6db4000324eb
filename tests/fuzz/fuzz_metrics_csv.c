/* fuzz_metrics_csv.c - metrics.csv as `train-gan --resume` reads it back
 * (run_metrics_read, tools/formats/runlog.c).
 *
 * The input is the file. It is checked against a reference reading of the
 * format run_metrics_row writes: the header line, then rows of exactly nine
 * finite numbers separated by commas, each line ending in '\n' (the last
 * one may end the file instead) and no longer than 510 bytes. Invariants:
 * the reader accepts exactly the files the reference accepts, with one row
 * per line, holding the numbers of the line's columns 1, 3-6 and 9. */
#include "fuzz.h"
#include "runlog.h"

#include <math.h>

#define HEADER "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s"
#define MAX_LINE 510

/* The reference: the number of rows (>= 0), or -1 if the file is not valid;
 * rows[r][k] the numbers (at most max rows stored). */
static long reference(const char *s, size_t n, double (*rows)[9], long max)
{
    long nrows = 0;
    size_t pos = 0;
    for (long ln = 0; pos < n; ln++) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n, len = end - pos;
        if (len > MAX_LINE || memchr(s + pos, 0, len)) return -1;
        char line[MAX_LINE + 1];
        memcpy(line, s + pos, len);
        line[len] = 0;
        pos = nl ? end + 1 : n;
        if (ln == 0) {
            if (strcmp(line, HEADER)) return -1;
            continue;
        }
        char *field = line;
        for (int k = 0; k < 9; k++) {
            char *comma = strchr(field, ',');
            if ((k < 8) != (comma != NULL)) return -1;
            if (comma) *comma = 0;
            char *e;
            double v = strtod(field, &e);
            if (e == field || *e || !isfinite(v)) return -1;
            if (nrows < max) rows[nrows][k] = v;
            field = comma ? comma + 1 : NULL;
        }
        nrows++;
    }
    return nrows;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static double rows[4096][9];
    const long want = reference((const char *)data, size, rows, 4096);
    FILE *f = size ? fmemopen((void *)(uintptr_t)data, size, "r") : fopen("/dev/null", "r");
    FUZZ_CHECK(f != NULL, "fmemopen");
    run_metrics m = {0};
    tg_error err = {0};
    int rc = run_metrics_read(f, "metrics.csv", &m, &err);
    fclose(f);
    if (want < 0) {
        FUZZ_CHECK(rc != 0, "accepted a file that is not valid (%d rows read)", m.n);
        FUZZ_CHECK_MSG(err);
    } else {
        FUZZ_CHECK(rc == 0, "refused a valid file of %ld rows: %s", want, err.msg);
        FUZZ_CHECK(m.n == want, "%d rows read from %ld lines", m.n, want);
        static const int col[6] = {0, 2, 3, 4, 5, 8};
        for (long r = 0; r < want && r < 4096; r++) {
            const double got[6] = {m.step[r], m.loss_d[r], m.loss_g[r], m.d_real[r], m.d_fake[r], m.elapsed[r]};
            for (int k = 0; k < 6; k++)
                FUZZ_CHECK(!memcmp(&got[k], &rows[r][col[k]], sizeof(double)), "row %ld column %d: %.17g, not %.17g",
                           r + 1, col[k] + 1, got[k], rows[r][col[k]]);
        }
    }
    run_metrics_free(&m);
    return 0;
}
