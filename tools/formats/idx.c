/* idx.c - IDX reader/writer (raw or gzip) and the MNIST loader (idx.h). */
#include "idx.h"

#include "files.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *type_name(int t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return NULL;
    }
}

#define GZ_FIRST_BYTES ((size_t)1 << 20)

/* ---- a byte source: a plain file or a gzip stream ---------------------- */

typedef struct src {
    const char *path;
    FILE *f;      /* raw */
    gzFile gz;    /* gzip */
    off_t size;   /* raw: file size */
    int failed;   /* a read error has been reported into err */
} src;

/* Read up to n bytes; returns how many were read (short at end of data). On
 * a read or gzip error sets s->failed and writes the message. */
static size_t src_read(src *s, void *buf, size_t n, tg_error *err, tg_status *code)
{
    size_t got = 0;
    unsigned char *p = buf;
    if (s->f) {
        got = fread(p, 1, n, s->f);
        if (got < n && ferror(s->f)) {
            s->failed = 1;
            *code = tg_error_set(err, TG_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
        }
        return got;
    }
    while (got < n) {
        size_t want = n - got;
        if (want > (1u << 24)) want = 1u << 24;
        int r = gzread(s->gz, p + got, (unsigned)want);
        int errnum = Z_OK;
        const char *msg = gzerror(s->gz, &errnum);
        if (r < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            s->failed = 1;
            if (errnum == Z_ERRNO)
                *code = tg_error_set(err, TG_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
            else {
                /* zlib's message is "<path>: <what>"; keep <what> */
                size_t pl = strlen(s->path);
                if (msg && !strncmp(msg, s->path, pl) && !strncmp(msg + pl, ": ", 2)) msg += pl + 2;
                *code = tg_error_set(err, TG_ERR_FORMAT, "%s: corrupt gzip data: %s", s->path,
                             msg && *msg ? msg : "decompression failed");
            }
            return got;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return got;
}

static tg_status src_open(src *s, const char *path, tg_error *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) return tg_error_set(err, TG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return tg_error_set(err, TG_ERR_IO, "cannot read '%s': not a regular file", path);
    }
    unsigned char magic[2] = {0, 0};
    size_t m = fread(magic, 1, 2, f);
    if (m == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(f);
        s->gz = gzopen(path, "rb");
        if (!s->gz)
            return tg_error_set(err, TG_ERR_IO, "cannot open '%s': %s", path,
                        errno ? strerror(errno) : "out of memory");
        gzbuffer(s->gz, 1u << 17);
        return TG_OK;
    }
    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(f);
        return tg_error_set(err, TG_ERR_IO, "%s: read error: %s", path, strerror(e));
    }
    s->f = f;
    s->size = st.st_size;
    return TG_OK;
}

static void src_close(src *s)
{
    if (s->f) fclose(s->f);
    if (s->gz) gzclose(s->gz);
    s->f = NULL;
    s->gz = NULL;
}

/* ---- reader ------------------------------------------------------------- */

static tg_status read_body(src *s, idx_array *out, tg_error *err)
{
    const char *path = s->path;
    const char *what = s->gz ? " (decompressed)" : "";
    tg_status code = TG_OK;
    unsigned char h[4 + 4 * IDX_MAX_DIMS];
    size_t got = src_read(s, h, 4, err, &code);
    if (s->failed) return code;
    if (got < 4)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "%s: too short for an IDX header: %zu bytes%s", path, got, what);
    if (h[0] != 0 || h[1] != 0)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "%s: bad magic: first bytes are 0x%02x 0x%02x, an IDX file starts with 0x00 0x00",
                    path, h[0], h[1]);
    const char *tn = type_name(h[2]);
    if (!tn) return tg_error_set(err, TG_ERR_FORMAT, "%s: bad element type 0x%02x", path, h[2]);
    if (h[2] != IDX_UBYTE)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "%s: unsupported element type 0x%02x (%s); only 0x08 (unsigned byte) is supported",
                    path, h[2], tn);
    int ndim = h[3];
    if (ndim < 1 || ndim > IDX_MAX_DIMS)
        return tg_error_set(err, TG_ERR_FORMAT, "%s: ndim %d is out of range (1..%d)", path, ndim,
                    IDX_MAX_DIMS);
    size_t hlen = 4 + 4 * (size_t)ndim;
    got = src_read(s, h + 4, hlen - 4, err, &code);
    if (s->failed) return code;
    if (got < hlen - 4)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "%s: truncated header: %d dims need %zu bytes, file has %zu%s", path, ndim, hlen,
                    4 + got, what);
    uint64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = h + 4 + 4 * i;
        uint64_t v = (uint64_t)d[0] << 24 | (uint64_t)d[1] << 16 | (uint64_t)d[2] << 8 | d[3];
        if (v == 0) return tg_error_set(err, TG_ERR_FORMAT, "%s: dimension %d is 0", path, i);
        /* total <= 1 GiB and v < 2^32, so the product cannot overflow 64 bits */
        total *= v;
        if (total > IDX_MAX_BYTES)
            return tg_error_set(err, TG_ERR_FORMAT,
                        "%s: data would exceed the size limit of %llu bytes (1 GiB)", path,
                        (unsigned long long)IDX_MAX_BYTES);
        out->dims[i] = (int)v;
    }
    out->type = h[2];
    out->ndim = ndim;
    out->count = (size_t)total;
    if (s->f) { /* raw: the file size tells it all before reading */
        unsigned long long have = (unsigned long long)s->size - hlen;
        if (have < total)
            return tg_error_set(err, TG_ERR_FORMAT, "%s: truncated: expected %llu bytes of data, file has %llu",
                        path, (unsigned long long)total, have);
        if (have > total)
            return tg_error_set(err, TG_ERR_FORMAT,
                        "%s: trailing bytes: expected %llu bytes of data, file has %llu (%llu extra)", path,
                        (unsigned long long)total, have, have - total);
    }
    /* A gzip file's size says nothing about its data: a few bytes can claim
     * 1 GiB. Its buffer grows as data arrives, from GZ_FIRST_BYTES. */
    size_t cap = s->gz && out->count > GZ_FIRST_BYTES ? GZ_FIRST_BYTES : out->count;
    got = 0;
    for (;;) {
        uint8_t *p = realloc(out->data, cap);
        if (!p) return tg_error_set(err, TG_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
        out->data = p;
        size_t r = src_read(s, out->data + got, cap - got, err, &code);
        if (s->failed) return code;
        got += r;
        if (got < cap || cap == out->count) break; /* the data ended, or is all there */
        cap = cap < out->count / 2 ? 2 * cap : out->count;
    }
    if (got < out->count)
        return tg_error_set(err, TG_ERR_FORMAT, "%s: truncated: expected %zu bytes of data, file has %zu%s", path,
                    out->count, got, what);
    /* trailing bytes: count them (up to the size cap) for the message */
    unsigned char buf[4096];
    uint64_t extra = 0;
    for (;;) {
        size_t r = src_read(s, buf, sizeof buf, err, &code);
        if (s->failed) return code;
        extra += r;
        if (r < sizeof buf || extra > IDX_MAX_BYTES) break;
    }
    if (extra)
        return tg_error_set(err, TG_ERR_FORMAT,
                    "%s: trailing bytes: expected %zu bytes of data, file has %s%llu%s (%s%llu extra)", path,
                    out->count, extra > IDX_MAX_BYTES ? "over " : "",
                    (unsigned long long)(out->count + extra), what, extra > IDX_MAX_BYTES ? "over " : "",
                    (unsigned long long)extra);
    return TG_OK;
}

tg_status idx_read(const char *path, idx_array *out, tg_error *err)
{
    if (!out) return tg_error_set(err, TG_ERR_ARG, "idx_read: no output array");
    memset(out, 0, sizeof *out);
    if (!path || !*path) return tg_error_set(err, TG_ERR_ARG, "idx_read: empty file name");
    src s;
    tg_status rc = src_open(&s, path, err);
    if (rc != TG_OK) return rc;
    rc = read_body(&s, out, err);
    src_close(&s);
    if (rc != TG_OK) idx_free(out);
    return rc;
}

void idx_free(idx_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writer ------------------------------------------------------------- */

typedef struct wctx {
    int ndim;
    const int *dims;
    const uint8_t *data;
    size_t count;
} wctx;

static int write_idx(FILE *out, void *p)
{
    const wctx *c = p;
    unsigned char h[4 + 4 * IDX_MAX_DIMS] = {0, 0, IDX_UBYTE, (unsigned char)c->ndim};
    for (int i = 0; i < c->ndim; i++) {
        uint32_t v = (uint32_t)c->dims[i];
        h[4 + 4 * i] = (unsigned char)(v >> 24);
        h[5 + 4 * i] = (unsigned char)(v >> 16);
        h[6 + 4 * i] = (unsigned char)(v >> 8);
        h[7 + 4 * i] = (unsigned char)v;
    }
    size_t hlen = 4 + 4 * (size_t)c->ndim;
    if (fwrite(h, 1, hlen, out) != hlen) return -1;
    if (fwrite(c->data, 1, c->count, out) != c->count) return -1;
    return 0;
}

tg_status idx_write_ubyte(const char *path, int ndim, const int *dims, const uint8_t *data,
                    tg_error *err)
{
    if (!path || !*path) return tg_error_set(err, TG_ERR_ARG, "idx_write_ubyte: empty file name");
    if (ndim < 1 || ndim > IDX_MAX_DIMS || !dims)
        return tg_error_set(err, TG_ERR_ARG, "idx_write_ubyte: ndim %d is out of range (1..%d)", ndim,
                    IDX_MAX_DIMS);
    uint64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] <= 0)
            return tg_error_set(err, TG_ERR_ARG, "idx_write_ubyte: dimension %d is %d (must be > 0)", i,
                        dims[i]);
        total *= (uint64_t)dims[i];
        if (total > IDX_MAX_BYTES)
            return tg_error_set(err, TG_ERR_ARG, "idx_write_ubyte: data exceeds the 1 GiB size limit");
    }
    if (!data) return tg_error_set(err, TG_ERR_ARG, "idx_write_ubyte: no data");
    wctx c = {ndim, dims, data, (size_t)total};
    return file_write_atomic(path, write_idx, &c, err);
}

/* ---- MNIST -------------------------------------------------------------- */

/* "<dir>/<prefix>-<kind>-ubyte", or with ".gz" if only that exists; NULL on
 * failure (message written). */
static char *find_file(const char *dir, const char *prefix, const char *kind, tg_error *err)
{
    size_t n = strlen(dir) + strlen(prefix) + strlen(kind) + 16;
    char *p = malloc(n);
    if (!p) {
        tg_error_set(err, TG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%s-%s-ubyte", dir, prefix, kind);
    if (access(p, F_OK) == 0) return p;
    size_t len = strlen(p);
    memcpy(p + len, ".gz", 4);
    if (access(p, F_OK) == 0) return p;
    p[len] = 0;
    tg_error_set(err, TG_ERR_IO, "no MNIST data in '%s': neither '%s' nor '%s.gz' exists", dir, p, p);
    free(p);
    return NULL;
}

static tg_status load_pair(const char *dir, const char *prefix, idx_array *im, idx_array *lb, char **impath,
                     char **lbpath, tg_error *err)
{
    *impath = find_file(dir, prefix, "images-idx3", err);
    if (!*impath) return TG_ERR_IO;
    *lbpath = find_file(dir, prefix, "labels-idx1", err);
    if (!*lbpath) return TG_ERR_IO;
    tg_status rc = idx_read(*impath, im, err);
    if (rc != TG_OK) return rc;
    rc = idx_read(*lbpath, lb, err);
    if (rc != TG_OK) return rc;
    if (im->ndim != 3)
        return tg_error_set(err, TG_ERR_FORMAT, "%s: expected N x H x W images (3 dims), got %d dims", *impath,
                    im->ndim);
    if (lb->ndim != 1)
        return tg_error_set(err, TG_ERR_FORMAT, "%s: expected N labels (1 dim), got %d dims", *lbpath,
                    lb->ndim);
    if (im->dims[0] != lb->dims[0])
        return tg_error_set(err, TG_ERR_FORMAT, "count mismatch: %s has %d images of %dx%d, %s has %d labels",
                    *impath, im->dims[0], im->dims[1], im->dims[2], *lbpath, lb->dims[0]);
    for (size_t i = 0; i < lb->count; i++)
        if (lb->data[i] > 9)
            return tg_error_set(err, TG_ERR_FORMAT, "%s: label %d at index %zu is out of range (0..9)", *lbpath,
                        lb->data[i], i);
    return TG_OK;
}

tg_status mnist_load(const char *dir, const char *split, mnist_set *set, tg_error *err)
{
    if (!set) return tg_error_set(err, TG_ERR_ARG, "mnist_load: no output set");
    memset(set, 0, sizeof *set);
    if (!dir || !*dir) return tg_error_set(err, TG_ERR_ARG, "mnist_load: empty directory name");
    const char *prefix;
    if (split && !strcmp(split, "train")) prefix = "train";
    else if (split && !strcmp(split, "test")) prefix = "t10k";
    else
        return tg_error_set(err, TG_ERR_ARG, "mnist_load: split '%s' is neither 'train' nor 'test'",
                    split ? split : "(null)");
    idx_array im, lb;
    memset(&im, 0, sizeof im);
    memset(&lb, 0, sizeof lb);
    char *impath = NULL, *lbpath = NULL;
    tg_status rc = load_pair(dir, prefix, &im, &lb, &impath, &lbpath, err);
    if (rc == TG_OK) {
        set->images = malloc(im.count * sizeof *set->images);
        set->labels = malloc(lb.count * sizeof *set->labels);
        if (!set->images || !set->labels) {
            rc = tg_error_set(err, TG_ERR_NOMEM, "%s: out of memory", impath);
            mnist_free(set);
        } else {
            for (size_t i = 0; i < im.count; i++) set->images[i] = (float)im.data[i] / 127.5f - 1.0f;
            for (size_t i = 0; i < lb.count; i++) set->labels[i] = lb.data[i];
            set->n = im.dims[0];
            set->h = im.dims[1];
            set->w = im.dims[2];
        }
    }
    idx_free(&im);
    idx_free(&lb);
    free(impath);
    free(lbpath);
    return rc;
}

void mnist_free(mnist_set *set)
{
    if (!set) return;
    free(set->images);
    free(set->labels);
    memset(set, 0, sizeof *set);
}
