/* safetensors_write.c - the safetensors writer (safetensors.h): checks the
 * tensors and metadata, builds the header as the reference implementation
 * does (compact, "__metadata__" first, tensors by decreasing dtype size then
 * name, padded to 8 bytes), and writes the file atomically or into memory. */
#include "st_internal.h"

#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jbuf {
    char *b;
    size_t n, cap;
    int oom;
} jbuf;

static void jb_add(jbuf *j, const char *s, size_t n)
{
    if (j->oom) return;
    if (j->cap - j->n < n + 1) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap - j->n < n + 1) {
            if (cap > SIZE_MAX / 2) {
                j->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *b = realloc(j->b, cap);
        if (!b) {
            j->oom = 1;
            return;
        }
        j->b = b;
        j->cap = cap;
    }
    memcpy(j->b + j->n, s, n);
    j->n += n;
    j->b[j->n] = 0;
}
static void jb_puts(jbuf *j, const char *s) { jb_add(j, s, strlen(s)); }
static void jb_u64(jbuf *j, uint64_t v)
{
    char d[24], *e = d + sizeof d, *q = e;
    do *--q = (char)('0' + v % 10);
    while (v /= 10);
    jb_add(j, q, (size_t)(e - q));
}
/* A JSON string, escaped as serde_json does (control characters, quote,
 * backslash; UTF-8 kept as is). */
static void jb_str(jbuf *j, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    jb_add(j, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (esc) jb_puts(j, esc);
        else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jb_add(j, u, 6);
        } else jb_add(j, s, 1);
    }
    jb_add(j, "\"", 1);
}

typedef struct wtensor {
    const st_tensor *t;
    uint64_t nbytes;
} wtensor;

static int wt_name_cmp(const void *a, const void *b)
{
    return strcmp(((const wtensor *)a)->t->name, ((const wtensor *)b)->t->name);
}
/* The reference layout: decreasing dtype (alignment), then name. */
static int wt_layout_cmp(const void *a, const void *b)
{
    const st_tensor *x = ((const wtensor *)a)->t, *y = ((const wtensor *)b)->t;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}
static int kvp_cmp(const void *a, const void *b)
{
    return strcmp((*(const st_kv *const *)a)->key, (*(const st_kv *const *)b)->key);
}

typedef struct wctx {
    const jbuf *hdr;
    const wtensor *wt;
    size_t n;
} wctx;

static int write_body(FILE *out, void *vctx)
{
    const wctx *c = vctx;
    unsigned char len[8];
    uint64_t n = c->hdr->n;
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    if (fwrite(len, 1, 8, out) != 8 || fwrite(c->hdr->b, 1, c->hdr->n, out) != c->hdr->n) return -1;
    int le = stx_host_is_le();
    for (size_t i = 0; i < c->n; i++) {
        const unsigned char *d = c->wt[i].t->data;
        size_t nb = (size_t)c->wt[i].nbytes, unit = stx_swap_unit(c->wt[i].t->dtype);
        if (le || unit < 2) {
            if (nb && fwrite(d, 1, nb, out) != nb) return -1;
            continue;
        }
        unsigned char tmp[4096];
        for (size_t o = 0; o < nb; o += sizeof tmp) {
            size_t k = nb - o < sizeof tmp ? nb - o : sizeof tmp;
            memcpy(tmp, d + o, k);
            stx_swap_elems(tmp, k, unit);
            if (fwrite(tmp, 1, k, out) != k) return -1;
        }
    }
    return 0; /* file_write_atomic flushes and syncs before the rename */
}

/* Check one tensor; set *nbytes. */
static tg_status check_tensor(const st_tensor *t, size_t i, uint64_t *nbytes, tg_error *err)
{
    char nm[100], sh[200];
    if (!t->name) return tg_error_set(err, TG_ERR_ARG, "safetensors: tensor %zu has no name", i);
    stx_qname(nm, sizeof nm, t->name);
    if (!t->name[0] || !strcmp(t->name, "__metadata__"))
        return tg_error_set(err, TG_ERR_ARG, "safetensors: %s is not a valid tensor name", nm);
    if (!stx_utf8_valid(t->name))
        return tg_error_set(err, TG_ERR_ARG, "safetensors: tensor name %s is not valid UTF-8", nm);
    if ((unsigned)t->dtype >= ST_NDTYPES)
        return tg_error_set(err, TG_ERR_ARG, "safetensors: tensor %s has an invalid dtype %d", nm, (int)t->dtype);
    if (t->ndim < 0 || (t->ndim > 0 && !t->dims))
        return tg_error_set(err, TG_ERR_ARG, "safetensors: tensor %s has an invalid ndim %d", nm, t->ndim);
    uint64_t numel = 1;
    int bad = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0) bad = 1;
        else if (t->dims[d] && numel > UINT64_MAX / (uint64_t)t->dims[d]) bad = 2;
        else numel *= (uint64_t)t->dims[d];
    }
    int r = bad ? -1 : stx_shape_bytes(stx_dtypes[t->dtype].bits, numel, nbytes);
    if (bad == 1 || r)
        return tg_error_set(err, TG_ERR_ARG, "safetensors: tensor %s has an invalid shape %s %s%s", nm,
                    st_dtype_name(t->dtype), stx_fmt_shape(sh, sizeof sh, t->ndim, NULL, t->dims),
                    r == -2 ? " (not a whole number of bytes)" : bad == 1 ? "" : " (too large)");
    if (*nbytes && !t->data) return tg_error_set(err, TG_ERR_ARG, "safetensors: tensor %s has no data", nm);
    return TG_OK;
}

/* Check the tensors and metadata and build the header: the part of writing
 * both st_write and st_write_mem share. On success c holds the header and
 * the tensors in file order (free them with wplan_free). */
typedef struct wplan {
    jbuf h;
    wtensor *wt;
    size_t n;
} wplan;

static void wplan_free(wplan *w)
{
    free(w->h.b);
    free(w->wt);
    memset(w, 0, sizeof *w);
}

static tg_status wplan_build(wplan *w, const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
                       tg_error *err)
{
    char nm[100];
    memset(w, 0, sizeof *w);
    if ((ntensors && !tensors) || (nmeta && !meta))
        return tg_error_set(err, TG_ERR_ARG, "safetensors: st_write: bad arguments");
    wtensor *wt = w->wt = malloc((ntensors ? ntensors : 1) * sizeof *wt);
    const st_kv **kv = malloc((nmeta ? nmeta : 1) * sizeof *kv);
    jbuf *h = &w->h;
    tg_status rc = TG_OK;
    w->n = ntensors;
    if (!wt || !kv) {
        rc = tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory");
        goto done;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < ntensors && rc == TG_OK; i++) {
        wt[i].t = &tensors[i];
        rc = check_tensor(&tensors[i], i, &wt[i].nbytes, err);
        if (rc == TG_OK && wt[i].nbytes > ST_MAX_FILE - total)
            rc = tg_error_set(err, TG_ERR_ARG, "safetensors: the tensors exceed the 4 GiB file limit");
        if (rc == TG_OK) total += wt[i].nbytes;
    }
    if (rc) goto done;
    qsort(wt, ntensors, sizeof *wt, wt_name_cmp);
    for (size_t i = 1; i < ntensors; i++)
        if (!strcmp(wt[i - 1].t->name, wt[i].t->name)) {
            rc = tg_error_set(err, TG_ERR_ARG, "safetensors: two tensors are called %s",
                      stx_qname(nm, sizeof nm, wt[i].t->name));
            goto done;
        }
    qsort(wt, ntensors, sizeof *wt, wt_layout_cmp);
    for (size_t i = 0; i < nmeta; i++) {
        kv[i] = &meta[i];
        if (!meta[i].key || !meta[i].value) {
            rc = tg_error_set(err, TG_ERR_ARG, "safetensors: metadata pair %zu has a NULL string", i);
            goto done;
        }
        if (!stx_utf8_valid(meta[i].key) || !stx_utf8_valid(meta[i].value)) {
            rc = tg_error_set(err, TG_ERR_ARG, "safetensors: metadata %s is not valid UTF-8",
                      stx_qname(nm, sizeof nm, meta[i].key));
            goto done;
        }
    }
    qsort(kv, nmeta, sizeof *kv, kvp_cmp);
    for (size_t i = 1; i < nmeta; i++)
        if (!strcmp(kv[i - 1]->key, kv[i]->key)) {
            rc = tg_error_set(err, TG_ERR_ARG, "safetensors: metadata key %s appears twice",
                      stx_qname(nm, sizeof nm, kv[i]->key));
            goto done;
        }
    /* The header, compact, as the reference implementation writes it. */
    jb_puts(h, "{");
    if (nmeta) {
        jb_puts(h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i) jb_puts(h, ",");
            jb_str(h, kv[i]->key);
            jb_puts(h, ":");
            jb_str(h, kv[i]->value);
        }
        jb_puts(h, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < ntensors; i++) {
        const st_tensor *t = wt[i].t;
        if (i || nmeta) jb_puts(h, ",");
        jb_str(h, t->name);
        jb_puts(h, ":{\"dtype\":\"");
        jb_puts(h, stx_dtypes[t->dtype].name);
        jb_puts(h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) jb_puts(h, ",");
            jb_u64(h, (uint64_t)t->dims[d]);
        }
        jb_puts(h, "],\"data_offsets\":[");
        jb_u64(h, off);
        jb_puts(h, ",");
        off += wt[i].nbytes;
        jb_u64(h, off);
        jb_puts(h, "]}");
    }
    jb_puts(h, "}");
    while (!h->oom && h->n % 8) jb_puts(h, " ");
    if (h->oom) {
        rc = tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory building the header");
        goto done;
    }
    if (h->n > ST_MAX_HEADER || 8 + (uint64_t)h->n > ST_MAX_FILE - total)
        rc = tg_error_set(err, TG_ERR_ARG, "safetensors: the header (%zu bytes) or the file exceeds its limit",
                  h->n);
done:
    free(kv);
    if (rc) wplan_free(w);
    return rc;
}

tg_status st_write(const char *path, const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
             tg_error *err)
{
    if (!path || !path[0]) return tg_error_set(err, TG_ERR_ARG, "safetensors: no output file name");
    wplan w;
    tg_status rc = wplan_build(&w, tensors, ntensors, meta, nmeta, err);
    if (rc) return rc;
    wctx c = {&w.h, w.wt, w.n};
    tg_error why;
    if (file_write_atomic(path, write_body, &c, &why) != TG_OK)
        rc = tg_error_set(err, why.code, "safetensors: %s", why.msg);
    wplan_free(&w);
    return rc;
}

tg_status st_write_mem(const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta, unsigned char **buf,
                 size_t *len, tg_error *err)
{
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!buf || !len) return tg_error_set(err, TG_ERR_ARG, "safetensors: st_write_mem: bad arguments");
    wplan w;
    tg_status rc = wplan_build(&w, tensors, ntensors, meta, nmeta, err);
    if (rc) return rc;
    char *b = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&b, &n);
    wctx c = {&w.h, w.wt, w.n};
    int ok = f != NULL;
    if (f) {
        ok = write_body(f, &c) == 0;
        if (fclose(f) != 0) ok = 0;
    }
    if (!ok) {
        free(b);
        rc = tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory writing to memory");
    } else {
        *buf = (unsigned char *)b;
        *len = n;
    }
    wplan_free(&w);
    return rc;
}
