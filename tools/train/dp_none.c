/* dp_none.c - dp.h in a build without MPI: one process. Started by a
 * launcher with several processes, dp_join refuses (N copies would each
 * train the whole model and write the same files). */
#include "dp.h"

int dp_available(void) { return 0; }

tg_status dp_join(dp **out, tg_error *err)
{
    *out = NULL;
    const int n = dp_launched();
    if (n > 1 || n < 0) {
        if (n > 1)
            return tg_error_set(err, TG_ERR_STATE,
                                "started by mpirun with %d processes, but this tapegrad was built without MPI: each "
                                "would run alone, as a copy of the others. Build it with Open MPI installed "
                                "(meson setup -Dmpi=enabled), or run it without mpirun",
                                n);
        return tg_error_set(err, TG_ERR_STATE,
                            "started by an MPI launcher, but this tapegrad was built without MPI: build it with "
                            "Open MPI installed (meson setup -Dmpi=enabled), or run it without the launcher");
    }
    return TG_OK;
}

void dp_free(dp *d) { (void)d; }
int dp_rank(const dp *d) { return (void)d, 0; }
int dp_size(const dp *d) { return (void)d, 1; }

tg_status dp_broadcast_params(dp *d, tg_params *ps, tg_error *err) { return (void)d, (void)ps, (void)err, TG_OK; }

tg_status dp_broadcast_blob(dp *d, void **buf, size_t *len, tg_status st0, tg_error *err)
{
    (void)d, (void)buf, (void)len, (void)err;
    return st0;
}

tg_status dp_avg_new(dp_avg **out, dp *d, tg_params *ps, const char *group, tg_plan *p, tg_error *err)
{
    (void)d, (void)ps, (void)group, (void)p, (void)err;
    *out = NULL;
    return TG_OK;
}

tg_status dp_avg_wait(dp_avg *a, tg_error *err) { return (void)a, (void)err, TG_OK; }
void dp_avg_free(dp_avg *a) { (void)a; }

void dp_avg_stats(const dp_avg *a, dp_stats *st)
{
    (void)a;
    *st = (dp_stats){0, 0, 0, 0, 0};
}

double dp_agree_seconds(const dp *d, long *calls)
{
    (void)d;
    if (calls) *calls = 0;
    return 0;
}

tg_status dp_agree(dp *d, tg_status st, const tg_error *mine, double *x, int n, tg_error *err)
{
    (void)d, (void)x, (void)n;
    if (st != TG_OK && err && mine && err != mine) *err = *mine;
    return st;
}

tg_status dp_plan_rows(dp *d, tg_plan *p, int64_t row0, tg_error *err)
{
    return (void)d, (void)p, (void)row0, (void)err, TG_OK;
}

tg_status dp_sync_batch_norm(dp *d, tg_plan *p, tg_error *err)
{
    return (void)d, (void)p, (void)err, TG_OK;
}
