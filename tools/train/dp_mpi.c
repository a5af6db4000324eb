/* dp_mpi.c - dp.h over MPI (libtapegrad_mpi, tg_dist.h): built when the
 * build has MPI. A NULL dp is one process, as in dp_none.c; MPI starts only
 * in dp_join, and only when a launcher started more than one process.
 *
 * Besides tg_dist's gradient averaging and broadcasts, the job's agreement
 * on every step's outcome goes through a communicator of this file's own
 * (a duplicate of MPI_COMM_WORLD that returns errors): one all-reduce of a
 * few doubles per iteration (the metrics' sums and a failure count), and
 * only when a rank failed, which one and its message. */
#include "dp.h"

#include "tg_dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dp {
    tg_dist *dist;
    MPI_Comm comm;
    int rank, size;
    double agree_seconds; /* in dp_agree's all-reduce */
    long agrees;
};

struct dp_avg {
    tg_dist_avg *avg;
};

int dp_available(void) { return 1; }

static tg_status mpi_fail(tg_error *err, int rc, const char *what)
{
    char m[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, m, &len) != MPI_SUCCESS) snprintf(m, sizeof m, "MPI error %d", rc);
    return tg_error_set(err, TG_ERR_IO, "MPI: %s: %s", what, m);
}

tg_status dp_join(dp **out, tg_error *err)
{
    *out = NULL;
    const int n = dp_launched();
    if (n == 0 || n == 1) return TG_OK;
    dp *d = calloc(1, sizeof *d);
    if (!d) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    d->comm = MPI_COMM_NULL;
    tg_status st = tg_dist_new(&d->dist, NULL, NULL, err);
    if (st != TG_OK) {
        free(d);
        return st;
    }
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS) {
        st = mpi_fail(err, rc, "duplicating MPI_COMM_WORLD");
        dp_free(d);
        return st;
    }
    d->rank = tg_dist_rank(d->dist);
    d->size = tg_dist_size(d->dist);
    *out = d;
    return TG_OK;
}

void dp_free(dp *d)
{
    if (!d) return;
    if (d->comm != MPI_COMM_NULL) MPI_Comm_free(&d->comm);
    tg_dist_free(d->dist); /* MPI_Finalize */
    free(d);
}

int dp_rank(const dp *d) { return d ? d->rank : 0; }
int dp_size(const dp *d) { return d ? d->size : 1; }

tg_status dp_broadcast_params(dp *d, tg_params *ps, tg_error *err)
{
    return d ? tg_dist_broadcast(d->dist, ps, "*", err) : TG_OK;
}

tg_status dp_broadcast_blob(dp *d, void **buf, size_t *len, tg_status st0, tg_error *err)
{
    if (!d) return st0;
    /* the length first (0 with a failure on rank 0), then the bytes in pieces MPI's int counts can hold */
    unsigned long long n = d->rank == 0 && st0 == TG_OK ? (unsigned long long)*len + 1 : 0;
    int rc = MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, d->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "broadcasting the checkpoint's size");
    if (n == 0) return d->rank == 0 ? st0 : tg_error_set(err, TG_ERR_IO, "rank 0 could not read it");
    n--;
    if (d->rank != 0) {
        *len = (size_t)n;
        if (!(*buf = malloc(n ? (size_t)n : 1))) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    }
    unsigned char *b = *buf;
    for (unsigned long long off = 0; off < n;) {
        const int c = n - off > (1u << 30) ? (1 << 30) : (int)(n - off);
        if ((rc = MPI_Bcast(b + off, c, MPI_BYTE, 0, d->comm)) != MPI_SUCCESS)
            return mpi_fail(err, rc, "broadcasting the checkpoint");
        off += (unsigned long long)c;
    }
    return TG_OK;
}

tg_status dp_avg_new(dp_avg **out, dp *d, tg_params *ps, const char *group, tg_plan *p, tg_error *err)
{
    *out = NULL;
    if (!d) return TG_OK;
    dp_avg *a = calloc(1, sizeof *a);
    if (!a) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    tg_status st = tg_dist_avg_new(&a->avg, d->dist, ps, group, NULL, err);
    if (st == TG_OK && p) st = tg_dist_avg_attach(a->avg, p, err);
    if (st != TG_OK) {
        dp_avg_free(a);
        return st;
    }
    *out = a;
    return TG_OK;
}

tg_status dp_avg_wait(dp_avg *a, tg_error *err) { return a ? tg_dist_avg_wait(a->avg, err) : TG_OK; }

void dp_avg_free(dp_avg *a)
{
    if (!a) return;
    tg_dist_avg_free(a->avg);
    free(a);
}

void dp_avg_stats(const dp_avg *a, dp_stats *st)
{
    tg_dist_stats t;
    if (!a || tg_dist_avg_stats(a->avg, &t) != TG_OK) {
        *st = (dp_stats){0, 0, 0, 0, 0};
        return;
    }
    *st = (dp_stats){t.buckets, t.bytes_per_step, t.steps, t.early_buckets, t.wait_seconds};
}

double dp_agree_seconds(const dp *d, long *calls)
{
    if (calls) *calls = d ? d->agrees : 0;
    return d ? d->agree_seconds : 0;
}

tg_status dp_agree(dp *d, tg_status st, const tg_error *mine, double *x, int n, tg_error *err)
{
    if (!d) {
        if (st != TG_OK && err && mine && err != mine) *err = *mine;
        return st;
    }
    if (n < 0 || n > DP_AGREE_MAX) return tg_error_set(err, TG_ERR_ARG, "dp_agree: %d values", n);
    double v[DP_AGREE_MAX + 1];
    for (int i = 0; i < n; i++) v[i] = st == TG_OK ? x[i] : 0;
    v[n] = st != TG_OK;
    const double t0 = MPI_Wtime();
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n + 1, MPI_DOUBLE, MPI_SUM, d->comm);
    d->agree_seconds += MPI_Wtime() - t0;
    d->agrees++;
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "checking the ranks' status");
    for (int i = 0; i < n; i++) x[i] = v[i];
    if (v[n] == 0) return TG_OK;
    /* some rank failed (rare): the first one's status and message, to every rank */
    int first = st != TG_OK ? d->rank : d->size;
    if ((rc = MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, d->comm)) != MPI_SUCCESS)
        return mpi_fail(err, rc, "finding the rank that failed");
    struct {
        int code;
        char msg[sizeof err->msg];
    } m;
    memset(&m, 0, sizeof m);
    if (d->rank == first) {
        m.code = st;
        snprintf(m.msg, sizeof m.msg, "%s", mine && mine->msg[0] ? mine->msg : tg_status_str(st));
    }
    if ((rc = MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, d->comm)) != MPI_SUCCESS)
        return mpi_fail(err, rc, "sharing the failure's message");
    m.msg[sizeof m.msg - 1] = 0;
    const tg_status code = m.code > TG_OK && m.code <= TG_ERR_FORMAT ? (tg_status)m.code : TG_ERR_STATE;
    return tg_error_set(err, code, "rank %d: %s", first, m.msg);
}

/* ------------------------------------------------------------------
 * The global batch: dropout masks and batch normalization. */

tg_status dp_plan_rows(dp *d, tg_plan *p, int64_t row0, tg_error *err)
{
    if (!d || d->size == 1) return TG_OK;
    tg_status st = tg_plan_set_row_offset(p, row0);
    return st == TG_OK ? TG_OK : tg_error_set(err, st, "row offset %lld refused", (long long)row0);
}

tg_status dp_sync_batch_norm(dp *d, tg_plan *p, tg_error *err)
{
    if (!d || d->size == 1) return TG_OK;
    return tg_dist_sync_batch_norm(d->dist, p, err);
}
