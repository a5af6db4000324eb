/* avg.c - the gradient averager (tg_dist.h): buckets planned once, each
 * bucket's all-reduce started from the plan's gradient-ready hook as soon as
 * every gradient in it is final, completed and scaled by tg_dist_avg_wait.
 *
 * Per step: the hook marks a parameter ready and counts it into its bucket;
 * buckets start strictly in index order (every rank issues the same
 * collectives in the same order), each packing its gradients into its
 * buffer (a bucket of one parameter all-reduces that gradient in place) and
 * starting a persistent all-reduce where Open MPI has them (MPIX_Allreduce_init,
 * MPI 4's MPI_Allreduce_init), else MPI_Iallreduce. Open MPI progresses
 * non-blocking collectives inside MPI calls, so each hook call also tests
 * the started ones. Nothing is allocated after tg_dist_avg_new. */
#include "dist_internal.h"

#if MPI_VERSION >= 4
#define TG_ALLREDUCE_INIT MPI_Allreduce_init
#elif defined(OPEN_MPI)
#include <mpi-ext.h>
#if defined(OMPI_HAVE_MPI_EXT_PCOLLREQ) && OMPI_HAVE_MPI_EXT_PCOLLREQ
#define TG_ALLREDUCE_INIT MPIX_Allreduce_init
#endif
#endif

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BUCKET_BYTES ((size_t)2 << 20)

typedef struct bucket {
    int first, len;   /* parameters order[first .. first + len) */
    size_t numel;
    float *buf;       /* the packed gradients, or the one parameter's gradient */
    int own;          /* buf is ours */
    int ready;        /* parameters reported this step */
} bucket;

struct tg_dist_avg {
    tg_dist *d;
    int np;
    tg_param **order;   /* bucket order: reverse store order */
    int *bucket_of;     /* of order[i] */
    unsigned char *seen;/* order[i] reported this step */
    int cursor;         /* where the last lookup found its parameter */
    int nb;
    bucket *b;
    MPI_Request *req;   /* one per bucket */
    int persistent;
    int next;           /* buckets [0, next) started this step */
    tg_status err;      /* the first error inside the hook; wait reports it */
    char msg[256];
    tg_dist_stats st;
};

static void hook_fail(tg_dist_avg *a, tg_status s, const char *msg)
{
    if (a->err != TG_OK) return;
    a->err = s;
    snprintf(a->msg, sizeof a->msg, "%s", msg);
}

void tg_dist_avg_free(tg_dist_avg *a)
{
    if (!a) return;
    if (a->req) {
        if (a->next > 0) MPI_Waitall(a->next, a->req, MPI_STATUSES_IGNORE); /* never free a buffer in flight */
        for (int b = 0; b < a->nb; b++)
            if (a->req[b] != MPI_REQUEST_NULL) MPI_Request_free(&a->req[b]);
    }
    for (int b = 0; a->b && b < a->nb; b++)
        if (a->b[b].own) free(a->b[b].buf);
    free(a->b);
    free(a->req);
    free(a->order);
    free(a->bucket_of);
    free(a->seen);
    free(a);
}

/* Buckets over the parameters in reverse store order: close a bucket when
 * the next parameter would take it over `cap` bytes. */
static tg_status plan_buckets(tg_dist_avg *a, size_t cap, tg_error *err)
{
    a->b = calloc((size_t)a->np, sizeof *a->b);
    a->req = malloc((size_t)a->np * sizeof *a->req);
    if (!a->b || !a->req) return tg_error_set(err, TG_ERR_NOMEM, "dist: averager: out of memory");
    for (int i = 0; i < a->np; i++) a->req[i] = MPI_REQUEST_NULL;
    for (int i = 0; i < a->np; i++) {
        const size_t n = tg_param_numel(a->order[i]);
        bucket *cur = a->nb ? &a->b[a->nb - 1] : NULL;
        if (!cur || (cur->numel + n) * sizeof(float) > cap || cur->numel + n > INT_MAX) {
            cur = &a->b[a->nb++];
            cur->first = i;
        }
        cur->len++;
        cur->numel += n;
        a->bucket_of[i] = a->nb - 1;
    }
    for (int b = 0; b < a->nb; b++) {
        bucket *k = &a->b[b];
        if (k->len == 1) {
            k->buf = tg_param_grad(a->order[k->first]); /* in place: nothing to pack */
            continue;
        }
        const size_t bytes = (k->numel * sizeof(float) + 63) & ~(size_t)63;
        k->buf = aligned_alloc(64, bytes);
        k->own = 1;
        if (!k->buf) return tg_error_set(err, TG_ERR_NOMEM, "dist: averager: out of memory (bucket of %zu bytes)", bytes);
    }
    return TG_OK;
}

static tg_status make_requests(tg_dist_avg *a, int nonblocking, tg_error *err)
{
    a->persistent = 0;
    if (nonblocking) return TG_OK;
#ifdef TG_ALLREDUCE_INIT
    a->persistent = 1;
    for (int b = 0; b < a->nb; b++) {
        const int rc = TG_ALLREDUCE_INIT(MPI_IN_PLACE, a->b[b].buf, (int)a->b[b].numel, MPI_FLOAT, MPI_SUM, a->d->comm,
                                         MPI_INFO_NULL, &a->req[b]);
        if (rc != MPI_SUCCESS) return tg_dist_mpi_fail(err, rc, "averager: persistent all-reduce of bucket %d", b);
    }
#else
    (void)err;
#endif
    return TG_OK;
}

tg_status tg_dist_avg_new(tg_dist_avg **out, tg_dist *d, tg_params *ps, const char *groups,
                          const tg_dist_avg_opts *opts, tg_error *err)
{
    if (!out) return tg_error_set(err, TG_ERR_ARG, "dist: averager: no place for the result");
    *out = NULL;
    if (!d || !ps) return tg_error_set(err, TG_ERR_ARG, "dist: averager: no communicator or store");
    const size_t cap = opts && opts->bucket_bytes ? opts->bucket_bytes : DEFAULT_BUCKET_BYTES;
    tg_dist_avg *a = calloc(1, sizeof *a);
    if (!a) return tg_error_set(err, TG_ERR_NOMEM, "dist: averager: out of memory");
    a->d = d;
    a->np = tg_dist_select(ps, groups, 0, NULL);
    tg_param **store = malloc((size_t)(a->np ? a->np : 1) * sizeof *store);
    a->order = malloc((size_t)(a->np ? a->np : 1) * sizeof *a->order);
    a->bucket_of = calloc((size_t)(a->np ? a->np : 1), sizeof *a->bucket_of);
    a->seen = calloc((size_t)(a->np ? a->np : 1), 1);
    tg_status s = store && a->order && a->bucket_of && a->seen
                      ? TG_OK
                      : tg_error_set(err, TG_ERR_NOMEM, "dist: averager: out of memory");
    if (s == TG_OK) {
        tg_dist_select(ps, groups, 0, store);
        s = tg_dist_check_same(d, store, a->np, "averager", err);
    }
    if (s == TG_OK && a->np == 0)
        s = tg_error_set(err, TG_ERR_ARG, "dist: averager: no trainable parameter matches groups '%s'",
                         groups ? groups : "");
    for (int i = 0; s == TG_OK && i < a->np; i++) {
        a->order[i] = store[a->np - 1 - i];
        if (tg_param_numel(a->order[i]) > INT_MAX)
            s = tg_error_set(err, TG_ERR_ARG, "dist: averager: '%s/%s' has more than %d elements",
                             tg_param_group(a->order[i]), tg_param_name(a->order[i]), INT_MAX);
    }
    free(store);
    if (s == TG_OK) s = plan_buckets(a, cap, err);
    if (s == TG_OK) s = make_requests(a, opts && opts->nonblocking, err);
    if (s != TG_OK) {
        tg_dist_avg_free(a);
        return s;
    }
    a->st.buckets = a->nb;
    a->st.persistent = a->persistent;
    for (int b = 0; b < a->nb; b++) a->st.bytes_per_step += a->b[b].numel * sizeof(float);
    *out = a;
    return TG_OK;
}

/* pack bucket b's gradients and start its all-reduce */
static tg_status start(tg_dist_avg *a, int b, tg_error *err)
{
    bucket *k = &a->b[b];
    if (k->own) {
        float *dst = k->buf;
        for (int i = k->first; i < k->first + k->len; i++) {
            const size_t n = tg_param_numel(a->order[i]);
            memcpy(dst, tg_param_grad(a->order[i]), n * sizeof(float));
            dst += n;
        }
    }
    const int rc = a->persistent ? MPI_Start(&a->req[b])
                                 : MPI_Iallreduce(MPI_IN_PLACE, k->buf, (int)k->numel, MPI_FLOAT, MPI_SUM,
                                                  a->d->comm, &a->req[b]);
    if (rc != MPI_SUCCESS) return tg_dist_mpi_fail(err, rc, "all-reduce of bucket %d of %d", b, a->nb);
    return TG_OK;
}

/* index of q in order[], searching from where the last one was found (the
 * hook reports parameters in about the order of the buckets), or -1 */
static int find(tg_dist_avg *a, const tg_param *q)
{
    for (int k = 0; k < a->np; k++) {
        const int i = (a->cursor + k) % a->np;
        if (a->order[i] == q) {
            a->cursor = i + 1 == a->np ? 0 : i + 1;
            return i;
        }
    }
    return -1;
}

void tg_dist_avg_grad_ready(void *ctx, tg_param *q)
{
    tg_dist_avg *a = ctx;
    if (!a || a->err != TG_OK) return;
    const int i = find(a, q);
    if (i < 0) return;
    if (a->seen[i]) {
        char m[200];
        snprintf(m, sizeof m, "dist: the gradient of '%s/%s' was reported twice before tg_dist_avg_wait (one "
                 "backward per wait)", tg_param_group(q), tg_param_name(q));
        hook_fail(a, TG_ERR_STATE, m);
        return;
    }
    a->seen[i] = 1;
    a->b[a->bucket_of[i]].ready++;
    while (a->next < a->nb && a->b[a->next].ready == a->b[a->next].len) {
        tg_error e;
        if (start(a, a->next, &e) != TG_OK) {
            hook_fail(a, e.code, e.msg);
            return;
        }
        a->next++;
        a->st.early_buckets++;
    }
    int done;
    if (a->next > 0) MPI_Testall(a->next, a->req, &done, MPI_STATUSES_IGNORE); /* progress */
}

tg_status tg_dist_avg_attach(tg_dist_avg *a, tg_plan *p, tg_error *err)
{
    if (!a || !p) return tg_error_set(err, TG_ERR_ARG, "dist: attach: no averager or plan");
    for (int i = 0; i < a->np; i++)
        if (!tg_plan_has_param_grad(p, a->order[i]))
            return tg_error_set(err, TG_ERR_ARG,
                                "dist: attach: the plan computes no gradient for '%s/%s' (compile it with its "
                                "group in tg_plan_opts.groups)",
                                tg_param_group(a->order[i]), tg_param_name(a->order[i]));
    if (tg_plan_on_grad_ready(p, tg_dist_avg_grad_ready, a) != TG_OK)
        return tg_error_set(err, TG_ERR_ARG, "dist: attach: the plan has no f32 backward (f64 or forward-only)");
    return TG_OK;
}

tg_status tg_dist_avg_wait(tg_dist_avg *a, tg_error *err)
{
    if (!a) return tg_error_set(err, TG_ERR_ARG, "dist: wait: no averager");
    const double t0 = MPI_Wtime();
    tg_status s = a->err;
    if (s != TG_OK) tg_error_set(err, s, "%s", a->msg);
    /* buckets the hook did not start (no hook, or gradients it never saw) */
    for (; s == TG_OK && a->next < a->nb; a->next++) s = start(a, a->next, err);
    const int rc = a->next > 0 ? MPI_Waitall(a->next, a->req, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    if (s == TG_OK && rc != MPI_SUCCESS) s = tg_dist_mpi_fail(err, rc, "waiting for %d all-reduces", a->next);
    const float inv = 1.0f / (float)a->d->size;
    for (int b = 0; s == TG_OK && b < a->nb; b++) {
        const bucket *k = &a->b[b];
        const float *src = k->buf;
        for (int i = k->first; i < k->first + k->len; i++) {
            float *g = tg_param_grad(a->order[i]);
            const size_t n = tg_param_numel(a->order[i]);
            for (size_t e = 0; e < n; e++) g[e] = src[e] * inv;
            src += n;
        }
    }
    a->next = 0;
    a->err = TG_OK;
    memset(a->seen, 0, (size_t)a->np);
    for (int b = 0; b < a->nb; b++) a->b[b].ready = 0;
    const double dt = MPI_Wtime() - t0;
    a->st.last_wait_seconds = dt;
    a->st.wait_seconds += dt;
    if (s == TG_OK) a->st.steps++;
    return s;
}

tg_status tg_dist_avg_stats(const tg_dist_avg *a, tg_dist_stats *st)
{
    if (!a || !st) return TG_ERR_ARG;
    *st = a->st;
    return TG_OK;
}

int tg_dist_avg_bucket_len(const tg_dist_avg *a, int b) { return a && b >= 0 && b < a->nb ? a->b[b].len : 0; }

tg_param *tg_dist_avg_bucket_param(const tg_dist_avg *a, int b, int i)
{
    if (!a || b < 0 || b >= a->nb || i < 0 || i >= a->b[b].len) return NULL;
    return a->order[a->b[b].first + i];
}
