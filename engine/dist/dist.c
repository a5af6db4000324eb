/* dist.c - joining the MPI job, broadcasting parameters, means of metrics
 * (tg_dist.h). */
#include "dist_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tg_status tg_dist_mpi_fail(tg_error *err, int rc, const char *fmt, ...)
{
    char what[160], mpi[MPI_MAX_ERROR_STRING];
    int len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (MPI_Error_string(rc, mpi, &len) != MPI_SUCCESS) snprintf(mpi, sizeof mpi, "MPI error %d", rc);
    return tg_error_set(err, TG_ERR_IO, "dist: %s: %s", what, mpi);
}

int tg_dist_group_match(const char *groups, const char *group)
{
    if (!groups || !*groups) return 0;
    if (!strcmp(groups, "*")) return 1;
    const size_t n = strlen(group);
    for (const char *s = groups; *s;) {
        const char *e = strchr(s, ',');
        const size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && !strncmp(s, group, n)) return 1;
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

int tg_dist_select(tg_params *ps, const char *groups, int with_state, tg_param **out)
{
    int n = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (!tg_dist_group_match(groups, tg_param_group(p)) || (!with_state && tg_param_is_state(p))) continue;
        if (out) out[n] = p;
        n++;
    }
    return n;
}

/* FNV-1a over the bytes of x */
static uint64_t fnv(uint64_t h, const void *x, size_t n)
{
    const unsigned char *b = x;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211u;
    return h;
}

tg_status tg_dist_check_same(tg_dist *d, tg_param *const *p, int n, const char *what, tg_error *err)
{
    uint64_t h = fnv(14695981039346656037u, &n, sizeof n);
    for (int i = 0; i < n; i++) {
        const int nd = tg_param_ndim(p[i]), st = tg_param_is_state(p[i]);
        h = fnv(h, tg_param_group(p[i]), strlen(tg_param_group(p[i])) + 1);
        h = fnv(h, tg_param_name(p[i]), strlen(tg_param_name(p[i])) + 1);
        h = fnv(h, &nd, sizeof nd);
        h = fnv(h, tg_param_dims(p[i]), (size_t)nd * sizeof(int));
        h = fnv(h, &st, sizeof st);
    }
    /* max(h) == min(h) on every rank iff all agree: max of {h, ~h} */
    uint64_t v[2] = {h, ~h};
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, d->comm);
    if (rc != MPI_SUCCESS) return tg_dist_mpi_fail(err, rc, "%s: comparing the ranks' parameters", what);
    if (v[0] != ~v[1])
        return tg_error_set(err, TG_ERR_ARG,
                            "dist: %s: the ranks' parameters differ (rank %d has %d, names or shapes differ "
                            "on some rank): every rank must build the same model",
                            what, d->rank, n);
    return TG_OK;
}

tg_status tg_dist_new(tg_dist **out, int *argc, char ***argv, tg_error *err)
{
    if (!out) return tg_error_set(err, TG_ERR_ARG, "dist: no place for the result");
    *out = NULL;
    int inited = 0, finalized = 0, provided = MPI_THREAD_SINGLE, rc;
    MPI_Finalized(&finalized);
    if (finalized) return tg_error_set(err, TG_ERR_STATE, "dist: MPI is finalized already");
    MPI_Initialized(&inited);
    if (!inited) {
        rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return tg_dist_mpi_fail(err, rc, "MPI_Init_thread");
    } else {
        MPI_Query_thread(&provided);
    }
    tg_dist *d = calloc(1, sizeof *d);
    tg_status s = TG_OK;
    if (!d) s = tg_error_set(err, TG_ERR_NOMEM, "dist: out of memory");
    else if (provided < MPI_THREAD_FUNNELED)
        s = tg_error_set(err, TG_ERR_STATE,
                         "dist: MPI provides thread level %d, below MPI_THREAD_FUNNELED (tapegrad's pool runs "
                         "threads; initialize MPI with MPI_Init_thread)",
                         provided);
    if (s == TG_OK) {
        d->finalize = !inited;
        d->comm = MPI_COMM_NULL;
        rc = MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
        if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
        if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(d->comm, &d->rank);
        if (rc == MPI_SUCCESS) rc = MPI_Comm_size(d->comm, &d->size);
        if (rc != MPI_SUCCESS) s = tg_dist_mpi_fail(err, rc, "duplicating MPI_COMM_WORLD");
    }
    if (s != TG_OK) {
        if (d && d->comm != MPI_COMM_NULL) MPI_Comm_free(&d->comm);
        free(d);
        if (!inited) MPI_Finalize();
        return s;
    }
    *out = d;
    return TG_OK;
}

void tg_dist_free(tg_dist *d)
{
    if (!d) return;
    MPI_Comm_free(&d->comm);
    if (d->finalize) MPI_Finalize();
    free(d);
}

int tg_dist_rank(const tg_dist *d) { return d ? d->rank : 0; }
int tg_dist_size(const tg_dist *d) { return d ? d->size : 1; }

tg_status tg_dist_broadcast(tg_dist *d, tg_params *ps, const char *groups, tg_error *err)
{
    if (!d || !ps) return tg_error_set(err, TG_ERR_ARG, "dist: broadcast: no communicator or store");
    const int n = tg_dist_select(ps, groups, 1, NULL);
    tg_param **p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) return tg_error_set(err, TG_ERR_NOMEM, "dist: broadcast: out of memory");
    tg_dist_select(ps, groups, 1, p);
    tg_status s = tg_dist_check_same(d, p, n, "broadcast", err);
    for (int i = 0; i < n && s == TG_OK; i++) {
        float *x = tg_param_data(p[i]);
        for (size_t off = 0, left = tg_param_numel(p[i]); left > 0 && s == TG_OK;) {
            const int c = left > INT_MAX ? INT_MAX : (int)left;
            const int rc = MPI_Bcast(x + off, c, MPI_FLOAT, 0, d->comm);
            if (rc != MPI_SUCCESS)
                s = tg_dist_mpi_fail(err, rc, "broadcast of '%s/%s'", tg_param_group(p[i]), tg_param_name(p[i]));
            off += (size_t)c;
            left -= (size_t)c;
        }
    }
    free(p);
    return s;
}

tg_status tg_dist_mean(tg_dist *d, double *x, int n, tg_error *err)
{
    if (!d || n < 0 || (n && !x)) return tg_error_set(err, TG_ERR_ARG, "dist: mean: bad arguments");
    if (!n) return TG_OK;
    const int rc = MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, d->comm);
    if (rc != MPI_SUCCESS) return tg_dist_mpi_fail(err, rc, "mean of %d values", n);
    for (int i = 0; i < n; i++) x[i] /= d->size;
    return TG_OK;
}

/* the batch-sum hook: sums over the ranks, in place */
static tg_status batch_sums(void *ctx, double *x, int n)
{
    tg_dist *d = ctx;
    return MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, d->comm) == MPI_SUCCESS ? TG_OK : TG_ERR_IO;
}

tg_status tg_dist_sync_batch_norm(tg_dist *d, tg_plan *p, tg_error *err)
{
    if (!d || !p) return tg_error_set(err, TG_ERR_ARG, "dist: sync_batch_norm: no communicator or plan");
    const tg_status s = tg_plan_on_batch_sums(p, batch_sums, d);
    if (s == TG_ERR_ARG)
        return tg_error_set(err, s, "dist: sync_batch_norm: the plan is an f64 plan (or its widest batch_norm's "
                                    "sums overflow an int count)");
    if (s != TG_OK) return tg_error_set(err, s, "dist: sync_batch_norm: %s", tg_status_str(s));
    return TG_OK;
}
