/* safetensors_read.c - the strict safetensors reader (safetensors.h).
 *
 * Reading is three steps over a private copy of the whole file:
 *   1. the 8-byte header length, checked against the limits and the file size;
 *   2. the strict JSON parser (safetensors_json.c) decodes the header in
 *      place into a flat node array;
 *   3. validation of the node tree against the format: one entry per tensor
 *      with exactly dtype / shape / data_offsets, sizes that agree, and
 *      tensors that tile the data buffer exactly.
 * Names, metadata and data then point into the copy, which st_close frees. */
#include "st_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct st_file {
    unsigned char *buf; /* the whole file; the header is decoded in place */
    size_t len;
    st_entry *e;        /* sorted by name */
    size_t ne;
    uint64_t *dims;     /* every entry's dims */
    st_kv *meta;        /* sorted by key */
    size_t nmeta;
};

void st_close(st_file *f)
{
    if (!f) return;
    free(f->buf);
    free(f->e);
    free(f->dims);
    free(f->meta);
    free(f);
}

static int entry_name_cmp(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}
static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const st_kv *)a)->key, ((const st_kv *)b)->key);
}
static int entry_off_cmp(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Check the 8-byte header length n of a file of total bytes. */
static tg_status check_header_len(uint64_t n, uint64_t total, tg_error *err)
{
    if (n > ST_MAX_HEADER)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: header length %" PRIu64 " exceeds the limit of %llu bytes", n, ST_MAX_HEADER);
    if (n == 0) return tg_error_set(err, TG_ERR_FORMAT, "safetensors: header length is 0");
    if (n > total - 8)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: header length %" PRIu64 " but only %" PRIu64 " bytes follow it", n, total - 8);
    return TG_OK;
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* The length of the "shape" array of the tensor whose value is node vi (0
 * if there is none): to size the dims pool. */
static size_t shape_len(const jparser *p, size_t vi)
{
    const jnode *nd = p->nodes;
    if (nd[vi].type != J_OBJ) return 0;
    size_t n = 0;
    for (size_t k = vi + 1, m = 0; m < nd[vi].n; m++, k = stx_jnext(p, k + 1))
        if (!strcmp(p->s + nd[k].v, "shape") && nd[k + 1].type == J_ARR) n += nd[k + 1].n;
    return n;
}

/* Fill entry e (name already set) from the tensor's value node vi; its dims
 * go to f->dims at *ndims. */
static tg_status read_entry(const jparser *p, size_t vi, st_entry *e, st_file *f, size_t *ndims, uint64_t buflen,
                      tg_error *err)
{
    char nm[100], sh[200], fld[100];
    stx_qname(nm, sizeof nm, e->name);
    const jnode *nd = p->nodes;
    if (nd[vi].type != J_OBJ)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s is not an object", nm);
    size_t idt = 0, ish = 0, iof = 0; /* value nodes; 0 = absent (node 0 is the root) */
    size_t k = vi + 1;
    for (uint32_t m = 0; m < nd[vi].n; m++) {
        const char *key = p->s + nd[k].v;
        size_t *slot = !strcmp(key, "dtype") ? &idt : !strcmp(key, "shape") ? &ish
                     : !strcmp(key, "data_offsets") ? &iof : NULL;
        if (!slot)
            return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s has an unknown field %s", nm,
                        stx_qname(fld, sizeof fld, key));
        *slot = k + 1;
        k = stx_jnext(p, k + 1);
    }
    if (!idt || !ish || !iof)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s has no \"%s\"", nm,
                    !idt ? "dtype" : !ish ? "shape" : "data_offsets");
    /* dtype */
    if (nd[idt].type != J_STR)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s: dtype is not a string", nm);
    const char *dts = p->s + nd[idt].v;
    int dt = -1;
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(dts, stx_dtypes[i].name)) dt = i;
    if (dt < 0)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s has an unknown dtype %s", nm,
                    stx_qname(fld, sizeof fld, dts));
    e->dtype = (st_dtype)dt;
    /* shape */
    if (nd[ish].type != J_ARR)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s: shape is not an array", nm);
    e->ndim = (int)nd[ish].n;
    uint64_t numel = 1;
    int overflow = 0;
    for (uint32_t i = 0; i < nd[ish].n; i++) {
        const jnode *d = &nd[ish + 1 + i];
        if (d->type != J_NUM || d->neg)
            return tg_error_set(err, TG_ERR_FORMAT,
                        "safetensors: tensor %s: shape must be an array of non-negative integers", nm);
        f->dims[*ndims + i] = d->v;
        if (d->v && numel > UINT64_MAX / d->v) overflow = 1;
        numel *= d->v;
    }
    const uint64_t *dims = e->dims = f->dims + *ndims;
    *ndims += nd[ish].n;
    uint64_t need = 0;
    int r = overflow ? -1 : stx_shape_bytes(stx_dtypes[dt].bits, numel, &need);
    if (r == -1 || (r == 0 && need > SIZE_MAX))
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s: %s %s overflows", nm, stx_dtypes[dt].name,
                    stx_fmt_shape(sh, sizeof sh, e->ndim, dims, NULL));
    if (r == -2)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: tensor %s: %s %s is not a whole number of bytes",
                    nm, stx_dtypes[dt].name, stx_fmt_shape(sh, sizeof sh, e->ndim, dims, NULL));
    e->numel = numel;
    /* data_offsets */
    const jnode *o = &nd[iof];
    if (o->type != J_ARR || o->n != 2 || o[1].type != J_NUM || o[1].neg || o[2].type != J_NUM || o[2].neg)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: tensor %s: data_offsets must be two non-negative integers [begin, end]", nm);
    uint64_t b = o[1].v, en = o[2].v;
    if (en < b)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: tensor %s data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin", nm, b,
                    en);
    if (en - b != need)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: tensor %s data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                    " bytes but %s %s needs %" PRIu64,
                    nm, b, en, en - b, stx_dtypes[dt].name, stx_fmt_shape(sh, sizeof sh, e->ndim, dims, NULL), need);
    if (en > buflen)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: tensor %s data_offsets [%" PRIu64 ", %" PRIu64
                    "] lie outside the %" PRIu64 "-byte data buffer",
                    nm, b, en, buflen);
    e->begin = b;
    e->end = en;
    e->nbytes = (size_t)need;
    return TG_OK;
}

/* The tensors must tile [0, buflen) exactly. */
static tg_status check_coverage(st_file *f, uint64_t buflen, tg_error *err)
{
    if (!f->ne) {
        if (buflen)
            return tg_error_set(err, TG_ERR_FORMAT,
                        "safetensors: %" PRIu64 " trailing bytes after the header but no tensor", buflen);
        return TG_OK;
    }
    const st_entry **by = malloc(f->ne * sizeof *by);
    if (!by) return tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < f->ne; i++) by[i] = &f->e[i];
    qsort(by, f->ne, sizeof *by, entry_off_cmp);
    uint64_t cur = 0;
    const st_entry *last = NULL; /* the tensor that ends at cur */
    tg_status rc = TG_OK;
    char n1[100], n2[100];
    for (size_t i = 0; i < f->ne && rc == TG_OK; i++) {
        const st_entry *e = by[i];
        if (e->begin < cur)
            rc = tg_error_set(err, TG_ERR_FORMAT,
                      "safetensors: tensors %s [%" PRIu64 ", %" PRIu64 "] and %s [%" PRIu64 ", %" PRIu64 "] overlap",
                      stx_qname(n1, sizeof n1, last->name), last->begin, last->end, stx_qname(n2, sizeof n2, e->name),
                      e->begin, e->end);
        else if (e->begin > cur)
            rc = tg_error_set(err, TG_ERR_FORMAT,
                      "safetensors: hole in the data buffer: bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor",
                      cur, e->begin);
        else if (e->end > cur || !last) {
            cur = e->end;
            last = e;
        }
    }
    if (rc == TG_OK && cur != buflen)
        rc = tg_error_set(err, TG_ERR_FORMAT,
                  "safetensors: %" PRIu64 " trailing bytes after the last tensor (the tensors cover %" PRIu64
                  " of %" PRIu64 " data bytes)",
                  buflen - cur, cur, buflen);
    free(by);
    return rc;
}

/* Validate the parsed header p against the format; fill f. */
static tg_status read_header(st_file *f, const jparser *p, uint64_t buflen, tg_error *err)
{
    const jnode *nd = p->nodes;
    /* Count tensors and dims. */
    size_t ntens = 0, ndims = 0, imeta = 0;
    for (size_t k = 1, m = 0; m < nd[0].n; m++, k = stx_jnext(p, k + 1)) {
        if (!strcmp(p->s + nd[k].v, "__metadata__")) imeta = k + 1;
        else {
            ntens++;
            ndims += shape_len(p, k + 1);
        }
    }
    f->e = calloc(ntens ? ntens : 1, sizeof *f->e);
    f->dims = malloc((ndims ? ndims : 1) * sizeof *f->dims);
    if (!f->e || !f->dims) return tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory");
    if (imeta) {
        if (nd[imeta].type != J_OBJ)
            return tg_error_set(err, TG_ERR_FORMAT, "safetensors: __metadata__ is not an object");
        f->meta = malloc((nd[imeta].n ? nd[imeta].n : 1) * sizeof *f->meta);
        if (!f->meta) return tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory");
        for (size_t k = imeta + 1, m = 0; m < nd[imeta].n; m++, k = stx_jnext(p, k + 1)) {
            if (nd[k + 1].type != J_STR) {
                char nm[100];
                return tg_error_set(err, TG_ERR_FORMAT, "safetensors: __metadata__ value of %s is not a string",
                            stx_qname(nm, sizeof nm, p->s + nd[k].v));
            }
            f->meta[f->nmeta++] = (st_kv){p->s + nd[k].v, p->s + nd[k + 1].v};
        }
        qsort(f->meta, f->nmeta, sizeof *f->meta, kv_cmp);
    }
    size_t used = 0;
    for (size_t k = 1, m = 0; m < nd[0].n; m++, k = stx_jnext(p, k + 1)) {
        if (k + 1 == imeta) continue;
        st_entry *e = &f->e[f->ne++];
        e->name = p->s + nd[k].v;
        tg_status rc = read_entry(p, k + 1, e, f, &used, buflen, err);
        if (rc) return rc;
        e->data = f->buf + (f->len - buflen) + e->begin;
    }
    qsort(f->e, f->ne, sizeof *f->e, entry_name_cmp);
    return check_coverage(f, buflen, err);
}

/* Parse and validate f->buf (f->len bytes). */
static tg_status parse_file(st_file *f, tg_error *err)
{
    if (f->len < 8)
        return tg_error_set(err, TG_ERR_FORMAT,
                            "safetensors: file is %zu bytes, too short for the 8-byte header length", f->len);
    uint64_t n = le64(f->buf);
    tg_status rc = check_header_len(n, f->len, err);
    if (rc) return rc;
    if (f->buf[8] != '{') return tg_error_set(err, TG_ERR_FORMAT, "safetensors: header does not start with '{'");
    jparser p = {(char *)f->buf + 8, (size_t)n, 0, NULL, 0, 0, err, TG_OK};
    stx_json_parse(&p);
    rc = p.code ? p.code : read_header(f, &p, f->len - 8 - n, err);
    free(p.nodes);
    return rc;
}

static tg_status open_owned(unsigned char *buf, size_t len, st_file **out, tg_error *err)
{
    st_file *f = calloc(1, sizeof *f);
    if (!f) {
        free(buf);
        return tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory");
    }
    f->buf = buf;
    f->len = len;
    tg_status rc = parse_file(f, err);
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return TG_OK;
}

tg_status st_open_mem(const void *buf, size_t len, st_file **out, tg_error *err)
{
    if (out) *out = NULL;
    if (!out || (!buf && len)) return tg_error_set(err, TG_ERR_ARG, "safetensors: st_open_mem: bad arguments");
    if ((uint64_t)len > ST_MAX_FILE)
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: %zu bytes is over the 4 GiB limit", len);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory");
    if (len) memcpy(copy, buf, len);
    return open_owned(copy, len, out, err);
}

static int read_all(FILE *fp, unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t r = fread(b + got, 1, n - got, fp);
        if (r == 0) return -1;
        got += r;
    }
    return 0;
}

tg_status st_open(const char *path, st_file **out, tg_error *err)
{
    if (out) *out = NULL;
    if (!path || !out) return tg_error_set(err, TG_ERR_ARG, "safetensors: st_open: bad arguments");
    char nm[100];
    stx_qname(nm, sizeof nm, path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return tg_error_set(err, TG_ERR_IO, "safetensors: cannot open %s: %s", nm, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return tg_error_set(err, TG_ERR_IO, "safetensors: cannot read %s: %s", nm, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return tg_error_set(err, TG_ERR_IO, "safetensors: %s is not a regular file", nm);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (st.st_size < 0 || size > ST_MAX_FILE || size > SIZE_MAX) {
        fclose(fp);
        return tg_error_set(err, TG_ERR_FORMAT, "safetensors: %s is %jd bytes, over the 4 GiB limit", nm,
                    (intmax_t)st.st_size);
    }
    if (size < 8) {
        fclose(fp);
        return tg_error_set(err, TG_ERR_FORMAT,
                    "safetensors: %s is %" PRIu64 " bytes, too short for the 8-byte header length", nm, size);
    }
    unsigned char *buf = malloc((size_t)size);
    if (!buf) {
        fclose(fp);
        return tg_error_set(err, TG_ERR_NOMEM, "safetensors: out of memory reading %s", nm);
    }
    /* Check the header length before reading a large file. */
    tg_status rc = read_all(fp, buf, 8) ? TG_ERR_IO : check_header_len(le64(buf), size, err);
    if (rc == TG_OK && read_all(fp, buf + 8, (size_t)size - 8)) rc = TG_ERR_IO;
    if (rc == TG_ERR_IO)
        tg_error_set(err, TG_ERR_IO, "safetensors: cannot read %s: %s", nm,
             ferror(fp) ? strerror(errno) : "the file shrank while being read");
    fclose(fp);
    if (rc) {
        free(buf);
        return rc;
    }
    return open_owned(buf, (size_t)size, out, err);
}

size_t st_count(const st_file *f) { return f ? f->ne : 0; }
const st_entry *st_entry_at(const st_file *f, size_t i) { return f && i < f->ne ? &f->e[i] : NULL; }
size_t st_meta_count(const st_file *f) { return f ? f->nmeta : 0; }
const st_kv *st_meta_at(const st_file *f, size_t i) { return f && i < f->nmeta ? &f->meta[i] : NULL; }

const st_entry *st_find(const st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->ne;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->e[mid].name);
        if (!c) return &f->e[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    size_t lo = 0, hi = f->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, f->meta[mid].key);
        if (!c) return f->meta[mid].value;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

tg_status st_get_f32(const st_file *f, const char *name, int ndim, const int *dims, float *dst, tg_error *err)
{
    char nm[100], have[200], want[200];
    if (!name) return tg_error_set(err, TG_ERR_ARG, "st_get_f32: no tensor name");
    const st_entry *e = st_find(f, name);
    if (!e) return tg_error_set(err, TG_ERR_FORMAT, "checkpoint has no tensor %s", stx_qname(nm, sizeof nm, name));
    int same = e->dtype == ST_F32 && e->ndim == ndim && ndim >= 0 && (dims || !ndim);
    for (int i = 0; same && i < ndim; i++) same = dims[i] >= 0 && e->dims[i] == (uint64_t)dims[i];
    if (!same)
        return tg_error_set(err, TG_ERR_SHAPE, "checkpoint tensor %s is %s %s, model expects %s%s",
                    stx_qname(nm, sizeof nm, name), st_dtype_name(e->dtype),
                    stx_fmt_shape(have, sizeof have, e->ndim, e->dims, NULL), e->dtype == ST_F32 ? "" : "F32 ",
                    stx_fmt_shape(want, sizeof want, ndim > 0 && dims ? ndim : 0, NULL, dims));
    if (e->nbytes) {
        if (!dst) return tg_error_set(err, TG_ERR_ARG, "st_get_f32: no destination");
        memcpy(dst, e->data, e->nbytes);
        if (!stx_host_is_le()) stx_swap_elems((unsigned char *)dst, e->nbytes, 4);
    }
    return TG_OK;
}

const char *st_meta_need(const st_file *f, const char *key, const char *what, tg_error *err)
{
    const char *v = st_meta(f, key);
    if (!v) tg_error_set(err, TG_ERR_FORMAT, "%s metadata has no '%s'", what, key);
    return v;
}

tg_status st_meta_num(const st_file *f, const char *key, double lo, double hi, double *out, const char *what,
                tg_error *err)
{
    const char *v = st_meta_need(f, key, what, err);
    if (!v) return TG_ERR_FORMAT;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi))
        return tg_error_set(err, TG_ERR_FORMAT, "%s metadata '%s' = '%s' is not a number in [%g, %g]", what, key,
                    v, lo, hi);
    *out = d;
    return TG_OK;
}

tg_status st_meta_uint(const st_file *f, const char *key, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
                 tg_error *err)
{
    const char *v = st_meta_need(f, key, what, err);
    if (!v) return TG_ERR_FORMAT;
    size_t n = strspn(v, "0123456789");
    errno = 0;
    unsigned long long d = n && !v[n] ? strtoull(v, NULL, 10) : 0;
    if (!n || v[n] || errno || d < lo || d > hi)
        return tg_error_set(err, TG_ERR_FORMAT, "%s metadata '%s' = '%s' is not an integer in [%" PRIu64
                        ", %" PRIu64 "]", what, key, v, lo, hi);
    *out = d;
    return TG_OK;
}
